"""Which file each id was given to: `file-ids.sqlite` in the data dir (one small table).

A file's id is its name's stem, but that stem is shared: `monday/strike.txt` and `tuesday/strike.txt`,
`page.html` in one folder and `page.txt` in another, a document posted with the id `page`. Ids were
once decided per call, so ingesting one folder later gave its `strike.txt` the id another folder's
file holds, and replaced that article. Remembering the file each stem was given to lets a file keep
its id in every later call, and keeps another file of the same call off it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from retrieval.models import Document

__all__ = ["FileIds", "file_key"]


def file_key(path: Path) -> str:
    """A file as the table knows it: its absolute path, links not followed (two names, two files)."""
    return os.path.abspath(path)


class FileIds:
    """`get` reads a stored document (the catalog's): a stem's holder is asked there."""

    def __init__(self, path: Path, get: Callable[[str], Document | None]) -> None:
        self._get = get
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS file_ids (path TEXT PRIMARY KEY, stem TEXT NOT NULL)"
            )
            self._db.execute("CREATE INDEX IF NOT EXISTS file_ids_stem ON file_ids(stem)")

    def stem_of(self, path: Path) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT stem FROM file_ids WHERE path = ?", (file_key(path),)).fetchone()
        return row[0] if row else None

    def held(self, stem: str, path: Path, call: set[str]) -> bool:
        """Whether `stem` is another article's for the file at `path`: another file of this call
        was given it before (`monday/strike.txt` beside the `tuesday/strike.txt` stored as
        `strike`), or the document stored under it came from a file of another name (`page.html`
        for `page.txt`) or was posted. A file of the same name that is not in this call (a folder
        of new versions, `v2/strike.txt` after `v1/strike.txt`) is the same article: the id rule."""
        me = file_key(path)
        with self._lock:
            rows = self._db.execute("SELECT path FROM file_ids WHERE stem = ?", (stem,)).fetchall()
        if any(r[0] != me and r[0] in call for r in rows):
            return True
        stored = self._get(stem)
        return stored is not None and stored.source != path.name

    def remember(self, named: Iterable[tuple[Path, str]]) -> None:
        rows = {file_key(path): stem for path, stem in named}
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO file_ids VALUES (?, ?)", rows.items())

    def close(self) -> None:
        self._db.close()
