"""The documentation's examples, executed: README.md and docs/*.md are kept true by running them.

Marking convention (an HTML comment on the line right before a fenced block; invisible on GitHub):

    <!-- doctest: run -->      the next ```bash or ```python block is executed
    <!-- doctest: skip -->     the next block is shown only (`factdesk serve`, `pip install`, endpoints
                               that are not here); every ```bash / ```python block needs one of the two
    <!-- doctest: output -->   the next ```json or ```text block is what the last `run` block prints:
                               json: every key shown must be in the real reply (values are not compared,
                               so a long text may be shortened to "..."; an empty object in the reply
                               matches any object); several JSON values are compared one by one. text: every line shown must be printed (in any order); a line
                               "..." stands for lines left out.

bash blocks run with `bash -euo pipefail`, python blocks with this interpreter, both offline: OPENAI_*,
FACTDESK_* and the API keys are removed from the environment, FACTDESK_DATA_DIR points to a temp data
dir that holds the five seed articles, FACTDESK_URL to the session's live server (tests/live_server.py),
and every "127.0.0.1:8000" in a block is rewritten to that server's address. The blocks of one file run
in order in one working folder (with `data/` and `evals/` linked from the checkout), like a reader's
terminal, so a block may use files an earlier block of the same file wrote. Blocks that write to the
shared live server must leave it as they found it (delete what they add).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import ARTICLES, ROOT, make_settings

from factdesk.settings import Settings

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = re.compile(r"^<!--\s*doctest:\s*(run|skip|output)\b.*-->\s*$")
FENCE = re.compile(r"^(`{3,})\s*([\w+-]*)\s*$")
EXECUTABLE = {"bash": "bash", "sh": "bash", "shell": "bash", "python": "python", "py": "python"}
DOC_PORT = "127.0.0.1:8000"
BLOCK_TIMEOUT_S = 300


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    mark: str | None  # run | skip | output | None
    code: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def parse_blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang, start = m.group(1), m.group(2).lower(), i
        j = i + 1
        while j < len(lines) and not lines[j].startswith(fence):
            j += 1
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        mark = MARKER.match(lines[k].strip()) if k >= 0 else None
        blocks.append(
            Block(
                path, start + 1, lang, mark.group(1) if mark else None, "\n".join(lines[start + 1 : j]) + "\n"
            )
        )
        i = j + 1
    return blocks


ALL_BLOCKS = [b for p in DOCS if p.exists() for b in parse_blocks(p)]
RUN_BLOCKS = [b for b in ALL_BLOCKS if b.mark == "run"]


def expected_output(block: Block) -> Block | None:
    """The `output` block documenting what `block` prints, if the next block of its file is one."""
    same_file = [b for b in ALL_BLOCKS if b.path == block.path]
    i = same_file.index(block)
    nxt = same_file[i + 1] if i + 1 < len(same_file) else None
    return nxt if nxt is not None and nxt.mark == "output" else None


# ---------------------------------------------------------------- comparing documented output


def json_values(text: str) -> list[Any]:
    decoder, values, pos = json.JSONDecoder(), [], 0
    text = text.strip()
    while pos < len(text):
        value, end = decoder.raw_decode(text, pos)
        values.append(value)
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return values


def shape_errors(shown: Any, real: Any, where: str = "$") -> list[str]:
    """Keys the documentation shows that the real value lacks (values themselves are not compared)."""
    if isinstance(shown, dict):
        if not isinstance(real, dict):
            return [f"{where}: documented an object, got {type(real).__name__}"]
        if (
            not real
        ):  # an empty map of counts (e.g. /healthz's "ingested" on a server started with --no-ingest)
            return []
        errors = [f"{where}.{k}: documented, missing in the real reply" for k in shown if k not in real]
        return errors + [
            e for k in shown if k in real for e in shape_errors(shown[k], real[k], f"{where}.{k}")
        ]
    if isinstance(shown, list):
        if not isinstance(real, list):
            return [f"{where}: documented a list, got {type(real).__name__}"]
        if shown and not real:
            return [f"{where}: documented a non-empty list, got []"]
        return [e for i, (s, r) in enumerate(zip(shown, real)) for e in shape_errors(s, r, f"{where}[{i}]")]
    return []


def check_output(doc: Block, stdout: str) -> None:
    if doc.lang == "json":
        shown, real = json_values(doc.code), json_values(stdout)
        assert len(real) >= len(shown), f"{doc.where}: documents {len(shown)} JSON values, got {len(real)}"
        errors = [e for s, r in zip(shown, real) for e in shape_errors(s, r)]
        assert not errors, f"{doc.where}: the documented reply no longer matches:\n" + "\n".join(errors)
    else:
        printed = [ln.rstrip() for ln in stdout.splitlines()]
        missing = [
            ln.rstrip()
            for ln in doc.code.splitlines()
            if ln.strip() and ln.strip() != "..." and ln.rstrip() not in printed
        ]
        assert not missing, (
            f"{doc.where}: documented lines not printed:\n"
            + "\n".join(missing)
            + "\n--- printed:\n"
            + stdout[-4000:]
        )


# ---------------------------------------------------------------- running blocks


@pytest.fixture(scope="module")
def doc_data_dir(tmp_path_factory: pytest.TempPathFactory, warm_model: None) -> Path:
    """A data dir holding the seed articles, as `factdesk serve` leaves ./.factdesk on first start."""
    from factdesk.service import Factdesk

    data = tmp_path_factory.mktemp("docs-data") / "store"
    settings = make_settings(data)
    svc = Factdesk(settings)
    try:
        svc.ingest_paths([ARTICLES])
    finally:
        svc.close()
    # `factdesk eval` builds its own store under the data dir: give it these vectors (the cache is
    # content-addressed), so the documented eval run does not embed the articles again
    eval_store = data / f"eval-c{settings.chunk_tokens}-o{settings.chunk_overlap_tokens}"
    eval_store.mkdir()
    shutil.copyfile(data / "embeddings.sqlite", eval_store / "embeddings.sqlite")
    return data


@pytest.fixture(scope="module")
def workdirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[Path, Path]]:
    """One working folder per documentation file, shared by its blocks in order."""
    made: dict[Path, Path] = {}
    for path in DOCS:
        work = tmp_path_factory.mktemp("docs-" + path.stem.lower())
        for name in ("data", "evals"):
            (work / name).symlink_to(ROOT / name, target_is_directory=True)
        made[path] = work
    yield made


def block_env(data_dir: Path, base_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "FACTDESK_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(FACTDESK_DATA_DIR=str(data_dir), FACTDESK_URL=base_url, PYTHONUNBUFFERED="1")
    return env


@pytest.mark.parametrize("block", RUN_BLOCKS, ids=[b.where for b in RUN_BLOCKS])
def test_documented_example_runs(
    block: Block, live_server: Any, doc_data_dir: Path, workdirs: dict[Path, Path]
) -> None:
    runner = EXECUTABLE.get(block.lang)
    assert runner, f"{block.where}: `doctest: run` on a ```{block.lang} block (only bash and python run)"
    address = live_server.base_url.removeprefix("http://")
    code = block.code.replace(DOC_PORT, address)
    cwd = workdirs[block.path]
    if runner == "bash":
        command = ["bash", "-euo", "pipefail", "-c", code]
    else:
        script = cwd / f"doc_block_{block.line}.py"
        script.write_text(code, encoding="utf-8")
        command = [sys.executable, str(script)]
    result = subprocess.run(
        command,
        cwd=cwd,
        env=block_env(doc_data_dir, live_server.base_url),
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, (
        f"{block.where} exited with {result.returncode}\n--- block:\n{code}\n--- stdout:\n"
        f"{result.stdout[-4000:]}\n--- stderr:\n{result.stderr[-4000:]}"
    )
    doc = expected_output(block)
    if doc is not None:
        check_output(doc, result.stdout)


# ---------------------------------------------------------------- static checks (no server)


def test_every_shell_and_python_block_is_marked() -> None:
    unmarked = [b.where for b in ALL_BLOCKS if b.lang in EXECUTABLE and b.mark not in ("run", "skip")]
    assert not unmarked, "mark these blocks <!-- doctest: run --> or <!-- doctest: skip -->: " + ", ".join(
        unmarked
    )


def test_output_marks_follow_a_run_block() -> None:
    for path in DOCS:
        blocks = parse_blocks(path) if path.exists() else []
        for prev, b in zip([None, *blocks], blocks):
            if b.mark == "output":
                assert prev is not None and prev.mark == "run", f"{b.where}: output block after no run block"
                assert b.lang in ("json", "text", ""), f"{b.where}: output blocks are ```json or ```text"


def test_readme_starts_with_the_contract_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first = next(b for b in parse_blocks(ROOT / "README.md") if b.lang in EXECUTABLE)
    assert first.code.split() == ["pip", "install", "-e", ".", "factdesk", "serve"]
    assert "pip install -e '.[test]' && pytest" in readme


def test_readme_configuration_table_lists_every_setting_with_its_default() -> None:
    rows = {
        m.group(1): line
        for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
        if (m := re.match(r"^\|\s*`([A-Z][A-Z0-9_]+)`", line))
    }
    for name, field in Settings.model_fields.items():
        alias = field.alias or name.upper()
        assert alias in rows, f"README's configuration table has no row for {alias}"
        default = field.default
        # a flag as it is written in the environment: `false`, not Python's False
        shown = (
            "unset"
            if default is None
            else str(default).lower()
            if isinstance(default, bool)
            else str(default)
        )
        assert shown in rows[alias], f"README: {alias}'s row does not show its default {shown!r}"


def test_api_reference_covers_every_route(tmp_path: Path) -> None:
    from api.app import create_app

    api_md = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    paths = create_app(make_settings(tmp_path / "data"), ingest_on_start=False).openapi()["paths"]
    for path, operations in paths.items():
        for method in operations:
            assert f"{method.upper()} {path}" in api_md, (
                f"docs/api.md does not document {method.upper()} {path}"
            )


def test_readme_example_citations_are_exact_spans(live_server: Any) -> None:
    """The example answer at the top of README.md quotes the articles at the offsets it shows, and
    is the answer the service gives to the question it shows, sentence for sentence and source for
    source (a reader or composing change that alters it must show the new answer)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sources = re.findall(r'^\[(\d+)\] .*? \(([\w.:-]+), (\d+)-(\d+)\): "(.*)"$', readme, re.MULTILINE)
    assert sources, "README.md shows no example citations"
    question = re.search(r'`factdesk ask "([^"]+)"` prints:', readme)
    shown = re.search(r"prints:\n\n```text\n(.*?)\n\nSources:\n", readme, re.DOTALL)
    assert question and shown, "README.md shows no example answer"
    with live_server.client() as client:
        for _marker, doc_id, start, end, quote in sources:
            text = client.get(f"/v1/documents/{doc_id}").json()["text"]
            assert text[int(start) : int(end)] == quote, f"README's example citation of {doc_id}"
        answer = client.post("/v1/ask", json={"question": question.group(1)}).json()
    assert answer["answer"] == shown.group(1), "README's example answer is not the service's"
    assert [(c["document_id"], c["start"], c["end"]) for c in answer["citations"]] == [
        (doc_id, int(start), int(end)) for _marker, doc_id, start, end, _quote in sources
    ]


def test_output_checks_catch_a_renamed_field_or_line() -> None:
    shown = {"answer": "...", "citations": [{"marker": 1, "quote": "..."}]}
    assert shape_errors(shown, {"answer": "x", "citations": [{"marker": 1, "quote": "q", "start": 0}]}) == []
    assert shape_errors(shown, {"answer": "x", "citations": [{"marker": 1, "text": "q"}]}) == [
        "$.citations[0].quote: documented, missing in the real reply"
    ]
    assert shape_errors(shown, {"answer": "x", "citations": []})
    doc = Block(ROOT / "README.md", 1, "text", "output", "harbour: created (1 chunks)\n...\n")
    check_output(doc, "a: created (1 chunks)\nharbour: created (1 chunks)\n")
    with pytest.raises(AssertionError):
        check_output(doc, "harbour: added (1 chunks)\n")
