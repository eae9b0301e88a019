"""Storage faults as answers: what a driver's exception means (disk full, read-only, corrupted), and
how a SQLite file is opened when it cannot be written.

`classify` is pure: it maps sqlite3 errors, OSErrors and Chroma's wrapped SQLite errors (which only
carry SQLite's message text) to the project's errors, so the API answers 507/503 with the JSON error
and the CLI one line and exit 2 instead of a traceback. `connect_sqlite` is the one I/O shell.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
from pathlib import Path

from retrieval.errors import CorruptStore, FactdeskError, InsufficientStorage, ReadOnlyStore, StoreUnavailable
from retrieval.redact import redact_text

log = logging.getLogger("factdesk.faults")

# SQLite's own wording (sqlite3.c sqlite3ErrStr), which Chroma's Rust client passes through as text
_FULL = ("database or disk is full", "no space left on device", "disk quota exceeded")
_READ_ONLY = ("attempt to write a readonly database", "read-only file system", "readonly database")
_CORRUPT = (
    "database disk image is malformed",
    "file is not a database",
    "file is encrypted or is not a database",
    # Chroma's HNSW index files, cut short (a full disk while it compacts): every later open fails
    "error deserializing pickle file",
    "failed to apply logs to the hnsw segment writer",
    "error creating hnsw segment reader",
)
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_READ_ONLY_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM}


def kind_of(exc: BaseException) -> str | None:
    """'full', 'read_only', 'corrupt' or None (not a storage fault this module knows)."""
    if isinstance(exc, OSError) and exc.errno is not None:
        if exc.errno in _FULL_ERRNOS:
            return "full"
        if exc.errno in _READ_ONLY_ERRNOS:
            return "read_only"
    text = str(exc).lower()
    for kind, phrases in (("full", _FULL), ("read_only", _READ_ONLY), ("corrupt", _CORRUPT)):
        if any(p in text for p in phrases):
            return kind
    return None


def classify(exc: BaseException, what: str = "the data dir") -> FactdeskError | None:
    """The project's error for a storage fault, its message naming `what` failed; None for anything
    else (the caller re-raises it). Paths in the driver's text are left out (redact)."""
    if isinstance(exc, FactdeskError):
        return exc
    kind = kind_of(exc)
    reason = redact_text(
        str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, paths=True
    )
    if kind == "full":
        return InsufficientStorage(
            f"no space left for {what}: writes are refused and nothing was half-written ({reason[:200]})"
        )
    if kind == "read_only":
        return ReadOnlyStore(f"{what} is read-only: writes are refused, reads still answer ({reason[:200]})")
    if kind == "corrupt":
        return CorruptStore(f"{what} is corrupted ({reason[:200]}); run `factdesk doctor --repair`")
    return None


def writable(path: Path) -> bool:
    """Whether this process may write `path` (a file, or the folder it would be created in)."""
    import os

    target = path if path.exists() else path.parent
    return os.access(target, os.W_OK) and os.access(path.parent, os.W_OK)


def connect_sqlite(path: Path, timeout: float) -> tuple[sqlite3.Connection, str | None]:
    """(connection, None) read-write in WAL mode; or, when the file or its folder cannot be written
    (permissions, a read-only mount, a full disk where SQLite cannot create the -shm file),
    (read-only connection, why). Corruption raises sqlite3.DatabaseError for the caller to name.

    Read-only: `mode=ro` first, which sees a live writer's WAL if one has the files open; failing
    that (a cleanly closed WAL database needs to create its -shm file), `immutable=1`, which reads the
    main file as it is: no writer can be changing a file this process's folder will not let it touch."""
    reason: str | None = None
    if writable(path):
        db = sqlite3.connect(path, check_same_thread=False, timeout=timeout, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            return db, None
        except sqlite3.OperationalError as e:
            db.close()
            if kind_of(e) == "corrupt":
                raise
            reason = _why_not_writable(path, e)
    else:
        reason = "read_only"
    if not path.exists():
        raise sqlite3.OperationalError(f"unable to open database file {path.name} (read-only data dir)")
    last: sqlite3.Error | None = None
    for query in ("mode=ro", "mode=ro&immutable=1"):
        db = sqlite3.connect(
            f"{path.resolve().as_uri()}?{query}",
            uri=True,
            check_same_thread=False,
            timeout=timeout,
            isolation_level=None,
        )
        try:
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return db, reason
        except sqlite3.DatabaseError as e:
            db.close()
            if kind_of(e) == "corrupt":
                raise
            last = e
    assert last is not None
    raise last


def _why_not_writable(path: Path, e: sqlite3.Error) -> str:
    """'full' or 'read_only': a full disk shows as a generic "disk I/O error" when SQLite maps its
    -shm file, so the free space decides."""
    kind = kind_of(e)
    if kind in ("full", "read_only"):
        return kind
    return "full" if disk_full(path.parent) else "read_only"


# free space under which a disk counts as full: SQLite cannot map its -shm file or write a journal
FULL_BELOW_BYTES = 64 * 1024


def disk_full(folder: Path) -> bool:
    import shutil

    try:
        return shutil.disk_usage(folder).free < FULL_BELOW_BYTES
    except OSError:
        return False


def unwritable(folder: Path) -> str | None:
    """'read_only' or 'full' for a data dir no write can land in now (a remount, a filled disk), else
    None: two system calls, no write."""
    if not os.access(folder, os.W_OK):
        return "read_only"
    return "full" if disk_full(folder) else None


def data_dir_gone(folder: Path) -> StoreUnavailable:
    """The error for a data dir deleted under a running server: its files are gone, no write lands."""
    return StoreUnavailable(
        f"the data dir {folder.name}/ no longer exists: writes are refused; start factdesk again to make "
        "it anew (or restore it)"
    )


def refusal(reason: str, what: str) -> FactdeskError:
    """The error a write gets on a store opened read-only for `reason` ('full' or 'read_only')."""
    if reason == "full":
        return InsufficientStorage(f"no space left for {what}: writes are refused until space is freed")
    return ReadOnlyStore(f"{what} is read-only: writes are refused, reads still answer")
