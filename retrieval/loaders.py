"""Reading article files from disk into DocumentIn records (thin I/O around the pure pipeline)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from retrieval.ingest import slug_id
from retrieval.models import DocumentIn

SUPPORTED = {".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl"}


@dataclass(frozen=True)
class Loaded:
    """One document read from a file, or the reason it could not be."""

    label: str
    document: DocumentIn | None = None
    error: str | None = None


def iter_files(root: Path) -> Iterator[tuple[Path, str | None]]:
    """Files under root, sorted; symlinks that lead out of root are refused, not followed."""
    if root.is_file():
        yield root, None
        return
    base = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        # hidden folders (.git, .factdesk) are never articles
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for d in list(dirnames):
            p = Path(dirpath) / d
            if p.is_symlink() and not p.resolve().is_relative_to(base):
                dirnames.remove(d)
                yield p, "symlink leads outside the folder"
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            p = Path(dirpath) / name
            if p.is_symlink() and not p.resolve().is_relative_to(base):
                yield p, "symlink leads outside the folder"
            else:
                yield p, None


def _record(obj: object, fallback_id: str, label: str) -> Loaded:
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        return Loaded(label, error='each JSON record needs a "text" string')
    fields = {
        k: (str(obj[k]) if obj.get(k) is not None else None)
        for k in ("title", "id", "source", "url", "published_at")
    }
    return Loaded(
        label,
        DocumentIn(
            text=obj["text"],
            title=fields["title"],
            id=fields["id"] or fallback_id,
            source=fields["source"],
            url=fields["url"],
            published_at=fields["published_at"],
            is_html=bool(obj.get("is_html", obj.get("html"))),
        ),
    )


def load_file(path: Path, max_bytes: int) -> list[Loaded]:
    label = str(path)
    ext = path.suffix.lower()
    if ext not in SUPPORTED:
        return [Loaded(label, error=f"unsupported file type {ext or '(none)'}")]
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return [Loaded(label, error=f"file is larger than {max_bytes} bytes")]
        raw = path.read_bytes()
    except OSError as e:
        return [Loaded(label, error=f"cannot read file: {e.strerror or e}")]
    if b"\x00" in raw[:8192]:
        return [Loaded(label, error="binary file")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [Loaded(label, error="not valid UTF-8")]
    stem = slug_id(path.stem)
    if ext == ".json":
        try:
            data = json.loads(text)
        except ValueError as e:
            return [Loaded(label, error=f"invalid JSON: {e}")]
        items = data.get("documents", [data]) if isinstance(data, dict) else data
        if not isinstance(items, list):
            return [Loaded(label, error='JSON must be an object, a list, or {"documents": [...]}')]
        return [
            _record(o, stem if len(items) == 1 else f"{stem}-{i}", f"{label}[{i}]")
            for i, o in enumerate(items)
        ]
    if ext == ".jsonl":
        out = []
        for i, line in enumerate(text.splitlines()):
            if not line.strip():
                continue
            try:
                out.append(_record(json.loads(line), f"{stem}-{i}", f"{label}:{i + 1}"))
            except ValueError as e:
                out.append(Loaded(f"{label}:{i + 1}", error=f"invalid JSON: {e}"))
        return out
    # a file name that is not UTF-8 (its bytes arrive as lone surrogates) is still a usable source label
    source = path.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return [Loaded(label, DocumentIn(text=text, id=stem, source=source, is_html=ext in (".html", ".htm")))]


def load_paths(paths: list[Path], max_bytes: int) -> Iterator[Loaded]:
    for root in paths:
        if not root.exists():
            yield Loaded(str(root), error="no such file or folder")
            continue
        for path, refused in iter_files(root):
            if refused:
                yield Loaded(str(path), error=refused)
            else:
                yield from load_file(path, max_bytes)
