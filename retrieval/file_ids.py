"""Which file each id was given to: `file-ids.sqlite` in the data dir (one small table).

A file's id is its name's stem, but that stem is shared: `monday/strike.txt` and `tuesday/strike.txt`,
`page.html` in one folder and `page.txt` in another, a document posted with the id `page`. Ids were
once decided per call, so ingesting one folder later gave its `strike.txt` the id another folder's
file holds, and replaced that article. Remembering the file each stem was given to lets a file keep
its id in every later call, and keeps another file of the same call off it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

from retrieval.models import Document

__all__ = ["FileIds", "file_key"]

log = logging.getLogger("factdesk.ingest")


def file_key(path: Path) -> str:
    """A file as the table knows it: its absolute path through its folder's real path (a folder
    reached through a link is the same folder), the file's own link not followed (a link beside a
    file is another name, another file)."""
    absolute = os.path.abspath(path)
    return os.path.join(os.path.realpath(os.path.dirname(absolute)), os.path.basename(absolute))


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
            # what each file held when it was last stored (ingest.input_fingerprint), and in which
            # archive (the catalog's identity): `serve`'s start reads again only the files that changed
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS file_reads "
                "(path TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, catalog TEXT NOT NULL)"
            )

    def _rows(self, sql: str, value: str) -> list[tuple]:
        """A lookup; none when the table cannot be read (locked past the timeout, damaged): the ids
        are then decided from the files' names, as before the table existed."""
        try:
            with self._lock:
                return self._db.execute(sql, (value,)).fetchall()
        except sqlite3.Error as e:
            log.warning("file-ids.sqlite could not be read (%s); ids follow the files' names", e)
            return []

    def stem_of(self, path: Path) -> str | None:
        rows = self._rows("SELECT stem FROM file_ids WHERE path = ?", file_key(path))
        return rows[0][0] if rows else None

    def held(self, stem: str, path: Path, call: set[str]) -> bool:
        """Whether `stem` is another article's for the file at `path`: another file of this call
        was given it before (`monday/strike.txt` beside the `tuesday/strike.txt` stored as
        `strike`), or the document stored under it came from a file of another name (`page.html`
        for `page.txt`) or was posted. A file of the same name that is not in this call (a folder
        of new versions, `v2/strike.txt` after `v1/strike.txt`) is the same article: the id rule."""
        me = file_key(path)
        rows = self._rows("SELECT path FROM file_ids WHERE stem = ?", stem)
        if any(r[0] != me and r[0] in call for r in rows):
            return True
        stored = self._get(stem)
        if stored is None:
            return False
        # a file's source is its path inside the folder ingested ("monday/strike.txt"); a URL is a page's
        source = stored.source or ""
        return "://" in source or PurePosixPath(source).name != path.name

    def other_file(self, stem: str, path: Path) -> str | None:
        """Another file that was given `stem` before (whose article this file's replaces), if any."""
        me = file_key(path)
        rows = self._rows("SELECT path FROM file_ids WHERE stem = ?", stem)
        return next((r[0] for r in rows if r[0] != me), None)

    def read_before(self, path: Path, fingerprint: str, catalog: str | None) -> bool:
        """Whether the file held exactly this when it was last stored in this archive."""
        rows = self._rows("SELECT fingerprint, catalog FROM file_reads WHERE path = ?", file_key(path))
        return catalog is not None and bool(rows) and rows[0] == (fingerprint, catalog)

    def remember(self, named: Iterable[tuple[Path, str, str]], catalog: str | None) -> None:
        """(file, stem, input fingerprint) of the files whose documents landed, in the archive
        `catalog`. A table that cannot be written (a full disk) loses only these hints, never the
        ingest's result: the next start reads the files again."""
        named = list(named)
        try:
            with self._lock, self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO file_ids VALUES (?, ?)",
                    {file_key(path): stem for path, stem, _ in named}.items(),
                )
                if catalog is not None:
                    self._db.executemany(
                        "INSERT OR REPLACE INTO file_reads VALUES (?, ?, ?)",
                        [(file_key(path), fingerprint, catalog) for path, _, fingerprint in named],
                    )
        except sqlite3.Error as e:
            log.warning("file-ids.sqlite could not be written (%s): these files' ids are not kept", e)

    def close(self) -> None:
        self._db.close()
