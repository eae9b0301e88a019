"""Answer and summary records, shaped as the contract's JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Citation:
    marker: int
    document_id: str
    chunk_id: str
    title: str
    quote: str  # always document.text[start:end]
    start: int
    end: int
    # the cited text's hash, as the document listing gives it: while the two agree, start/end refer to
    # the document's current text; once it is replaced they no longer do
    content_hash: str


class CitationNumbers:
    """Numbers citations 1..M in reading order; a span cited twice (by two sentences, or beside two
    statements) keeps its one number. Both engines number their answers here."""

    def __init__(self) -> None:
        self.citations: list[Citation] = []
        self._numbers: dict[tuple[str, int, int], int] = {}

    def number(
        self, document_id: str, chunk_id: str, title: str, quote: str, start: int, end: int, content_hash: str
    ) -> int:
        key = (document_id, start, end)
        if key not in self._numbers:
            self._numbers[key] = len(self.citations) + 1
            self.citations.append(
                Citation(self._numbers[key], document_id, chunk_id, title, quote, start, end, content_hash)
            )
        return self._numbers[key]


@dataclass
class Answer:
    answer: str
    abstained: bool
    citations: list[Citation]
    generator: str
    prompt_version: str
    warnings: list[str] = field(default_factory=list)
    question: str | None = None  # the retrieval question after follow-up rewriting
    # the search hits the answer was read from (evals score these); not part of the JSON answer
    retrieved: list[Any] = field(default_factory=list, repr=False, compare=False)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("retrieved")
        if d.get("question") is None:
            d.pop("question")
        return d


@dataclass
class Summary:
    summary: str
    citations: list[Citation]
    generator: str
    prompt_version: str
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


ABSTAIN_TEXT = "The articles do not cover this question."
