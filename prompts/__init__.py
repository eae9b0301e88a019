"""Prompts are files; their content hash is the `prompt_version` stamped on every answer and report."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parent
NAMES = ("system", "answer", "summarize", "chat_rewrite", "judge")


@dataclass(frozen=True)
class PromptSet:
    texts: dict[str, str]
    version: str

    def __getitem__(self, name: str) -> str:
        return self.texts[name]


def load_prompts(directory: Path | None = None) -> PromptSet:
    directory = Path(directory) if directory else PROMPTS_DIR
    texts = {name: (directory / f"{name}.md").read_text(encoding="utf-8") for name in NAMES}
    h = hashlib.sha256()
    for name in NAMES:  # fixed order: the version depends on content only
        h.update(name.encode() + b"\0" + texts[name].encode() + b"\0")
    return PromptSet(texts=texts, version=h.hexdigest()[:12])
