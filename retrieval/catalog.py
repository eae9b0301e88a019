"""The SQLite catalog: documents, their chunks, near-duplicate bands, and the lexical index.

It is the commit point of every write. A document's row names its current revision, and the chunk
rows and keyword rows are those of that revision only; Chroma, which cannot join a SQLite commit,
holds vectors under per-revision keys (models.chunk_key). A write goes in three steps:

1. reserve: one commit records a `revisions` row (the new revision's id and chunk count), so that a
   crash after it leaves a name for what may have reached Chroma;
2. the new revision's vectors go to Chroma, beside the current revision's, under their own keys;
3. switch: ONE commit replaces the document's row, chunk rows, keyword rows and bands, moves the old
   revision's keys to `stale_vectors` and drops the `revisions` row. Readers resolve every key they
   get from Chroma through the catalog, so they see the old revision or the new one, never neither.

The stale vectors are deleted from Chroma after the switch. A delete is the same switch to nothing.
A crash leaves at most a reserved revision (rolled back) and stale keys (collected), both of which
`Ingestor.recover()` finishes at the next open; rows in state 'pending' or 'deleting' are what the
protocol before revisions left behind, and are rolled back the same way.
"""

from __future__ import annotations

import builtins  # the catalog's list() method hides the builtin in its class
import fcntl
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from retrieval.errors import CorruptStore, StoreUnavailable
from retrieval.faults import classify, connect_sqlite, data_dir_gone, refusal
from retrieval.lexical import analyze, match_terms
from retrieval.models import Chunk, Document, chunk_key, revision_keys

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    source TEXT,
    url TEXT,
    published_at TEXT,
    published_ts REAL,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    duplicate_of TEXT,
    chunk_count INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    revision INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS documents_hash ON documents(content_hash);
CREATE INDEX IF NOT EXISTS documents_created ON documents(created_at);
CREATE TABLE IF NOT EXISTS revisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: an id is never reused, nor are its keys
    document_id TEXT NOT NULL,
    chunk_count INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS stale_vectors (
    key TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    id TEXT UNIQUE NOT NULL,
    document_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    tokens INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_document ON chunks(document_id);
CREATE TABLE IF NOT EXISTS bands (
    band TEXT NOT NULL,
    document_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bands_band ON bands(band);
CREATE INDEX IF NOT EXISTS bands_document ON bands(document_id);
CREATE TABLE IF NOT EXISTS raw_inputs (
    raw_hash TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, tokenize = 'unicode61 remove_diacritics 0'
);
"""

CATALOG = "the catalog (catalog.sqlite)"  # how messages name this file (no path: it is redacted anyway)
TERM_ROWS_TTL = 120.0  # seconds a term's row count is trusted (new articles shift counts slowly)

# the row shapes both catalogs read (this one and catalog_postgres.PostgresCatalog)
# how many of the documents sharing a MinHash band with a new one are compared with it, those
# sharing the most first
NEAR_DUPLICATE_CANDIDATES = 64
DOC_COLUMNS = (
    "id, title, source, url, published_at, text, content_hash, duplicate_of, chunk_count, created_at, "
    "published_ts, revision"
)
CHUNK_COLUMNS = 'c.id, c.document_id, c.idx, c.start, c."end", c.tokens, d.text, d.revision'


def doc_from_row(row: Sequence[Any]) -> Document:
    """A Document from a row of DOC_COLUMNS."""
    (id_, title, source, url, published_at, text, content_hash, dup, chunks, created, ts, rev) = row
    return Document(
        id=id_,
        title=title,
        text=text,
        content_hash=content_hash,
        source=source,
        url=url,
        published_at=published_at,
        duplicate_of=dup,
        chunks=chunks,
        created_at=created,
        published_ts=ts,
        revision=rev,
    )


def chunk_from_row(r: Sequence[Any]) -> Chunk:
    """A Chunk from a row of CHUNK_COLUMNS (chunks c joined to their documents d)."""
    return Chunk(
        id=r[0],
        document_id=r[1],
        index=r[2],
        start=r[3],
        end=r[4],
        tokens=r[5],
        text=r[6][r[3] : r[4]],
        revision=r[7],
    )


# a document's row as switch_revision writes it (psycopg's markers; SQLite's replace them)
DOCUMENT_INSERT = (
    "INSERT INTO documents (id, title, source, url, published_at, published_ts, text, content_hash, "
    "duplicate_of, chunk_count, state, created_at, revision) "
    "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s, 'committed', %s, %s)"
)


def document_row(doc: Document, chunk_count: int) -> tuple:
    return (
        doc.id,
        doc.title,
        doc.source,
        doc.url,
        doc.published_at,
        doc.published_ts,
        doc.text,
        doc.content_hash,
        doc.duplicate_of,
        chunk_count,
        doc.created_at or time.time(),
        doc.revision,
    )


def _marks(n: int) -> str:
    return ",".join("?" * n)


class CatalogReads:
    """The reads both catalogs answer with the same SQL (committed documents only). SQL here is
    written with `?` markers; a catalog's `_query` runs it in its own dialect, and `_in` writes a
    column's membership test its own way."""

    NO_LIMIT: int | None = None  # what LIMIT takes for "all rows"

    def _query(self, sql: str, params: Iterable = ()) -> builtins.list[tuple]:
        raise NotImplementedError

    def _in(self, column: str, values: builtins.list[str]) -> tuple[str, builtins.list]:
        """(SQL, params): column is one of values."""
        raise NotImplementedError

    def snapshot(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    _identity: str | None = None

    def identity(self) -> str | None:
        """A random id written once, when the catalog is created (or first opened by a version that
        has it). The in-memory indexes' snapshots carry it: one built from another catalog (a data
        dir whose catalog was deleted and written afresh reuses chunk keys) is never read. Read once:
        it never changes under an open catalog."""
        if self._identity is None:
            rows = self._identity_rows()
            self._identity = str(rows[0][0]) if rows else None
        return self._identity

    def _identity_rows(self) -> builtins.list[tuple]:
        return self._query("SELECT uuid FROM catalog_identity WHERE id = 1")

    def get(self, doc_id: str) -> Document | None:
        rows = self._query(
            f"SELECT {DOC_COLUMNS} FROM documents WHERE id = ? AND state = 'committed'", [doc_id]
        )
        return doc_from_row(rows[0]) if rows else None

    def heading(self, doc_id: str) -> tuple[str, str | None, int] | None:
        """A committed document's title, source and chunk count, without its text (a start's check of
        every unchanged file asks for these)."""
        rows = self._query(
            "SELECT title, source, chunk_count FROM documents WHERE id = ? AND state = 'committed'", [doc_id]
        )
        return (rows[0][0], rows[0][1], int(rows[0][2])) if rows else None

    def content_hash_of_raw(self, raw_hash: str) -> str | None:
        rows = self._query("SELECT content_hash FROM raw_inputs WHERE raw_hash = ?", [raw_hash])
        return rows[0][0] if rows else None

    def find_by_hash(self, content_hash: str) -> Document | None:
        rows = self._query(
            f"SELECT {DOC_COLUMNS} FROM documents WHERE content_hash = ? AND state = 'committed' "
            "ORDER BY created_at LIMIT 1",
            [content_hash],
        )
        return doc_from_row(rows[0]) if rows else None

    def list(self, limit: int | None = None, after: str | None = None) -> builtins.list[Document]:
        """Committed documents by id, those after `after` (a page's last id), at most `limit` (None:
        all of them)."""
        rows = self._query(
            f"SELECT {DOC_COLUMNS} FROM documents WHERE state = 'committed' AND id > ? ORDER BY id LIMIT ?",
            [after or "", self.NO_LIMIT if limit is None else limit],
        )
        return [doc_from_row(r) for r in rows]

    def recent(self, n: int) -> builtins.list[Document]:
        """The n most recently written committed documents, newest first."""
        rows = self._query(
            f"SELECT {DOC_COLUMNS} FROM documents WHERE state = 'committed' "
            "ORDER BY created_at DESC, id LIMIT ?",
            [n],
        )
        return [doc_from_row(r) for r in rows]

    def _committed(self, select: str, column: str, values: Iterable[str]) -> builtins.list[tuple]:
        """Rows of `select ... WHERE <committed> AND column IN values`, 500 values a query."""
        ids = sorted(set(values))
        rows: builtins.list[tuple] = []
        for i in range(0, len(ids), 500):
            where, params = self._in(column, ids[i : i + 500])
            rows += self._query(f"{select} AND {where}", params)
        return rows

    def filtered_ids(self, where_sql: str, params: builtins.list) -> set[str]:
        """Ids of the committed documents a search filter keeps (search.Filters.sql with "?" marks)."""
        rows = self._query(f"SELECT d.id FROM documents d WHERE d.state = 'committed' {where_sql}", params)
        return {r[0] for r in rows}

    def titles(self, doc_ids: Iterable[str]) -> dict[str, tuple[str, str | None]]:
        rows = self._committed(
            "SELECT id, title, duplicate_of FROM documents WHERE state = 'committed'", "id", doc_ids
        )
        return {r[0]: (r[1], r[2]) for r in rows}

    def texts(self, doc_ids: Iterable[str]) -> dict[str, str]:
        rows = self._committed("SELECT id, text FROM documents WHERE state = 'committed'", "id", doc_ids)
        return {r[0]: r[1] for r in rows}

    def chunks_of(self, doc_id: str) -> builtins.list[Chunk]:
        # the document's text once, on chunk 0's row (a document's chunks are numbered from 0), in the
        # same statement (one snapshot): on every row, a 2,000,000-character text was copied out 3,000
        # times (a window's MIN(idx) instead of 0 makes SQLite copy it into its window table as often)
        columns = CHUNK_COLUMNS.replace("d.text", "CASE WHEN c.idx = 0 THEN d.text END")
        rows = self._query(
            f"SELECT {columns} FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE c.document_id = ? ORDER BY c.idx",
            [doc_id],
        )
        return [chunk_from_row((*r[:6], rows[0][6], r[7])) for r in rows]

    def visible_chunks(self, keys: Iterable[str]) -> dict[str, tuple[str, str, int, int]]:
        """key -> (chunk id, document id, start, end), for the keys of committed documents' current
        revisions. A key of a replaced, reserved or deleted revision is left out: Chroma holds those
        for a moment around each write, and readers must not see them."""
        wanted = {k: k.split("@", 1)[0] for k in set(keys)}
        current: dict[str, tuple[str, str, int, int]] = {}
        for cid, doc, start, end, revision in self._committed(
            'SELECT c.id, c.document_id, c.start, c."end", d.revision FROM chunks c JOIN documents d '
            "ON d.id = c.document_id WHERE d.state = 'committed'",
            "c.id",
            wanted.values(),
        ):
            current[chunk_key(cid, revision)] = (cid, doc, start, end)
        return {k: current[k] for k in wanted if k in current}

    def candidates_by_bands(
        self, bands: builtins.list[str], exclude: str | None = None, limit: int = NEAR_DUPLICATE_CANDIDATES
    ) -> builtins.list[str]:
        """The committed documents sharing a band with `bands`, those sharing the most first (the
        closest by MinHash), at most `limit`: templated briefs share a band with every brief stored
        before them, and comparing each with all of them made an ingest of 10,000 take 13 minutes."""
        if not bands:
            return []
        where, params = self._in("b.band", sorted(set(bands)))  # a signature's 32 bands: one statement
        rows = self._query(
            "SELECT b.document_id FROM bands b JOIN documents d ON d.id = b.document_id "
            f"WHERE d.state = 'committed' AND b.document_id <> ? AND {where} "
            "GROUP BY b.document_id ORDER BY COUNT(*) DESC, b.document_id LIMIT ?",
            [exclude or "", *params, limit],
        )
        return [r[0] for r in rows]

    def stale_keys(self) -> builtins.list[str]:
        """Keys of replaced or deleted revisions whose vectors may still be in Chroma."""
        return [r[0] for r in self._query("SELECT key FROM stale_vectors ORDER BY key")]

    def committed_chunk_keys(self) -> dict[str, str]:
        """{key: document id} of every chunk of a committed document's current revision. An updated
        document gets new keys (models.chunk_key), so a key names one text."""
        rows = self._query(
            "SELECT c.id, d.revision, d.id FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE d.state = 'committed'"
        )
        return {chunk_key(cid, rev): doc for cid, rev, doc in rows}

    def chunk_spans(
        self, doc_ids: Iterable[str]
    ) -> Iterator[tuple[str, str, builtins.list[tuple[str, int, int]]]]:
        """(document id, text, [(key, start, end)]) of committed documents, read 500 documents at a
        time (a caller indexing 100k chunks never holds every text at once)."""
        ids = sorted(set(doc_ids))
        for i in range(0, len(ids), 500):
            where, params = self._in("d.id", ids[i : i + 500])
            spans: dict[str, builtins.list[tuple[str, int, int]]] = {}
            with self.snapshot():  # the spans and the text they index, of one revision
                for doc, cid, rev, start, end in self._query(
                    'SELECT c.document_id, c.id, d.revision, c.start, c."end" FROM chunks c JOIN documents d '
                    f"ON d.id = c.document_id WHERE d.state = 'committed' AND {where} "
                    "ORDER BY c.document_id, c.idx",
                    params,
                ):
                    spans.setdefault(doc, []).append((chunk_key(cid, rev), start, end))
                texts = self.texts(spans)
            yield from ((doc, texts[doc], spans[doc]) for doc in spans if doc in texts)

    def current_keys(self) -> set[str]:
        """The keys Chroma must hold: every chunk of a committed document's current revision."""
        return set(self.committed_chunk_keys())

    def state_of(self, doc_id: str) -> str | None:
        """'committed', 'pending' (a revision reserved, none committed), a legacy row's state, or None."""
        rows = self._query("SELECT state FROM documents WHERE id = ?", [doc_id])
        if rows:
            return str(rows[0][0])
        pending = self._query("SELECT 1 FROM revisions WHERE document_id = ? LIMIT 1", [doc_id])
        return "pending" if pending else None


class Catalog(CatalogReads):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.problem: str | None = None  # a damaged page met by a read (for /readyz)
        try:
            self._db, self.read_only = connect_sqlite(path, timeout=60)
            self._db.execute("PRAGMA busy_timeout=60000")
            if self.read_only is None:  # a read-only catalog is read as it is: no schema changes
                self._migrate()
        except sqlite3.DatabaseError as e:
            raise classify(e, CATALOG) or CorruptStore(f"{CATALOG} cannot be opened: {e}") from e
        self._lock = threading.RLock()
        self._writes = 0
        self._term_rows: dict[str, int] = {}
        self._terms_at = float("-inf")
        self._terms_version: tuple[int, int] | None = None
        self._total_rows = 0

    param_mark = "?"  # how this backend's SQL marks a parameter (search.Filters.sql)

    def unavailable(self) -> str | None:
        """Why the catalog cannot answer now; a file on the local disk always answers (damage is
        `problem`)."""
        return None

    @contextmanager
    def exclusive(self, lock_path: Path) -> Iterator[None]:
        """One writer at a time across the processes sharing this data dir: a flock on lock_path."""
        if not lock_path.parent.is_dir():  # deleted under a running server: no write can land
            raise data_dir_gone(lock_path.parent)
        with open(lock_path, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write, all or nothing. A full disk or a read-only file is the project's error (507,
        503), raised before anything changed or after SQLite rolled the write back."""
        if self.read_only is not None:
            raise refusal(self.read_only, "the data dir")
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    # SQLite ends the transaction itself on some errors (SQLITE_FULL during COMMIT):
                    # a ROLLBACK then would raise "no transaction is active" over the real error
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as e:
                fault = classify(e, CATALOG)
                if fault is None:
                    raise
                raise fault from e
            self._writes += 1

    NO_LIMIT = -1

    def _in(self, column: str, values: builtins.list[str]) -> tuple[str, builtins.list]:
        return f"{column} IN ({_marks(len(values))})", values

    def _query(self, sql: str, params: Iterable = ()) -> builtins.list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, tuple(params)).fetchall()
            except sqlite3.DatabaseError as e:  # a damaged page: name the file, not a traceback
                if isinstance(e, sqlite3.OperationalError) and classify(e) is None:
                    raise
                fault = classify(e, CATALOG) or CorruptStore(f"{CATALOG} is corrupted ({e})")
                if isinstance(fault, CorruptStore):
                    self.problem = str(e)[:200]
                raise fault from e

    def _identity_rows(self) -> builtins.list[tuple]:
        """No row for a read-only file from before identities (it is read as it is, so it never gets
        one): its snapshots are rebuilt, not trusted."""
        with self._lock:
            found = self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'catalog_identity'").fetchone()
        return super()._identity_rows() if found else []

    def check(self) -> str | None:
        """What is wrong with the file (SQLite's quick_check, which reads every page), or None."""
        try:
            rows = self._db.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as e:
            return str(e)
        problems = [r[0] for r in rows if r[0] != "ok"]
        return "; ".join(problems[:3]) or None

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one state of the catalog: no commit lands between them."""
        with self._lock:
            if self._db.in_transaction:  # already inside one (a caller's snapshot or transaction)
                yield
                return
            self._db.execute("BEGIN")
            try:
                yield
            finally:
                self._db.execute("COMMIT")

    # ---- reads (committed documents only) ----
    def count(self) -> tuple[int, int]:
        docs = self._query("SELECT COUNT(*) FROM documents WHERE state = 'committed'")[0][0]
        chunks = self._query(
            "SELECT COUNT(*) FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE d.state = 'committed'"
        )[0][0]
        return docs, chunks

    def unfinished(self) -> builtins.list[tuple[str, str]]:
        """(document id, state) of writes a crash or a failed store left unfinished: reserved revisions
        ('pending'), and rows the protocol before revisions left ('pending' or 'deleting')."""
        legacy = self._query("SELECT id, state FROM documents WHERE state != 'committed'")
        reserved = self._query("SELECT document_id, 'pending' FROM revisions ORDER BY id")
        return [(r[0], r[1]) for r in [*legacy, *reserved]]

    def uncommitted_rows(self) -> builtins.list[str]:
        """Ids of document rows the protocol before revisions left 'pending' or 'deleting'."""
        return [r[0] for r in self._query("SELECT id FROM documents WHERE state != 'committed' ORDER BY id")]

    def reserved(self) -> builtins.list[tuple[int, str, int]]:
        """(revision, document id, chunk count) of revisions reserved and not switched to."""
        return [(r[0], r[1], r[2]) for r in self._query("SELECT id, document_id, chunk_count FROM revisions")]

    def unfinished_keys(self) -> set[str]:
        """Keys that unfinished writes may have put in Chroma (recover() removes them)."""
        keys = {k for rev, doc, n in self.reserved() for k in revision_keys(doc, rev, n)}
        keys.update(
            chunk_key(cid, rev)
            for cid, rev in self._query(
                "SELECT c.id, d.revision FROM chunks c JOIN documents d ON d.id = c.document_id "
                "WHERE d.state != 'committed'"
            )
        )
        return keys

    def version(self) -> tuple[int, int]:
        """Changes whenever committed data may have: another connection committed (SQLite's
        data_version), or this one did."""
        with self._lock:
            return self._db.execute("PRAGMA data_version").fetchone()[0], self._writes

    # ---- writes (called by the ingest pipeline only, each in the caller's transaction) ----
    # `db` is what transaction() yields (here a sqlite3.Connection): typed Any because the pipeline
    # holds either catalog and passes its transaction's connection back to the same one
    @staticmethod
    def reserve(db: Any, doc_id: str, chunks: int) -> int:
        """A new revision id for doc_id, recorded before any of its vectors reach Chroma."""
        cur = db.execute(
            "INSERT INTO revisions (document_id, chunk_count, created_at) VALUES (?, ?, ?)",
            (doc_id, chunks, time.time()),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    @staticmethod
    def switch_revision(
        db: Any,
        doc: Document,
        chunks: builtins.list[Chunk],
        bands: builtins.list[str],
        raw_hash: str | None = None,
    ) -> None:
        """Make doc.revision (reserved, its vectors in Chroma) the document's current revision: the
        row, the chunk and keyword rows and the bands are replaced, and the old revision's keys are
        left in stale_vectors for Chroma to drop. Readers see the old revision up to this commit and
        the new one after it."""
        if raw_hash:  # this input cleans to this text: a later re-ingest of it need not clean it again
            db.execute("INSERT OR REPLACE INTO raw_inputs VALUES (?, ?)", (raw_hash, doc.content_hash))
        Catalog.retire(db, doc.id)
        db.execute(
            DOCUMENT_INSERT.replace("%s", "?"),
            document_row(doc, len(chunks)),
        )
        db.executemany(
            'INSERT INTO chunks (id, document_id, idx, start, "end", tokens) VALUES (?,?,?,?,?,?)',
            [(c.id, c.document_id, c.index, c.start, c.end, c.tokens) for c in chunks],
        )
        db.executemany("INSERT INTO bands (band, document_id) VALUES (?, ?)", [(b, doc.id) for b in bands])
        Catalog._index_lexical(db, doc.id)
        db.execute("DELETE FROM revisions WHERE id = ?", (doc.revision,))

    @staticmethod
    def retire(db: Any, doc_id: str) -> bool:
        """Remove the document (committed, or a row left by the protocol before revisions) from the
        catalog and leave its keys in stale_vectors; False when there is none."""
        row = db.execute("SELECT revision FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if row is None:
            return False
        db.executemany(
            "INSERT OR IGNORE INTO stale_vectors (key) VALUES (?)",
            [
                (chunk_key(cid, row[0]),)
                for (cid,) in db.execute("SELECT id FROM chunks WHERE document_id = ?", (doc_id,))
            ],
        )
        Catalog.remove(db, doc_id)
        return True

    @staticmethod
    def forget_revision(db: Any, revision: int) -> None:
        """A reserved revision abandoned: its vectors are gone from Chroma (or were never there)."""
        db.execute("DELETE FROM revisions WHERE id = ?", (revision,))

    @staticmethod
    def forget_stale(db: Any, keys: builtins.list[str]) -> None:
        """Stale keys whose vectors Chroma no longer holds."""
        db.executemany("DELETE FROM stale_vectors WHERE key = ?", [(k,) for k in keys])

    def _migrate(self) -> None:
        """Apply the numbered migrations this file lacks (PRAGMA user_version counts the applied ones),
        in one IMMEDIATE transaction: a second process opening the file at once waits, then finds
        them applied. A file still in a layout from before numbering counts as version 0; one that
        a newer factdesk migrated is not written (its tables may mean more than this code knows)."""
        if self._applied() > len(MIGRATIONS):
            raise StoreUnavailable(
                f"the catalog (catalog.sqlite) is at schema step {self._applied()}, and this factdesk "
                f"knows steps 1-{len(MIGRATIONS)}: a newer factdesk migrated it; upgrade this one"
            )
        if self._applied() == len(MIGRATIONS):
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for step in MIGRATIONS[self._applied() :]:
                step(self._db)
            # user_version takes no parameter; the number is ours
            self._db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _applied(self) -> int:
        if _predates_numbering(self._db):
            return 0
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @staticmethod
    def _index_lexical(db: sqlite3.Connection, doc_id: str) -> None:
        rows = db.execute(
            'SELECT c.rowid, substr(d.text, c.start + 1, c."end" - c.start) '
            "FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.document_id = ?",
            (doc_id,),
        ).fetchall()
        db.executemany(
            "INSERT INTO chunks_fts (rowid, text) VALUES (?, ?)", [(r, analyze(t)) for r, t in rows]
        )

    @staticmethod
    def remove(db: Any, doc_id: str) -> None:
        """The document's rows, everywhere in the catalog (Chroma is the caller's business)."""
        db.execute(
            "DELETE FROM chunks_fts WHERE rowid IN (SELECT rowid FROM chunks WHERE document_id = ?)",
            (doc_id,),
        )
        db.execute("DELETE FROM chunks WHERE document_id = ?", (doc_id,))
        db.execute("DELETE FROM bands WHERE document_id = ?", (doc_id,))
        db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        # a near-duplicate pointing at the removed original now stands on its own
        db.execute("UPDATE documents SET duplicate_of = NULL WHERE duplicate_of = ?", (doc_id,))

    # ---- lexical side ----
    def lexical_search(
        self, match: str, limit: int, where_sql: str = "", params: Iterable = ()
    ) -> builtins.list[tuple]:
        """(chunk id, document id, start, end, bm25 score; higher is better, revision) for an FTS5 MATCH
        expression. The keyword rows are the current revision's only (they switch in its commit)."""
        if where_sql:  # filtered: rank only rows that pass (a filter is selective; joins per row are cheap)
            sql = (
                'SELECT c.id, c.document_id, c.start, c."end", -bm25(chunks_fts) AS s, d.revision FROM chunks_fts '
                "JOIN chunks c ON c.rowid = chunks_fts.rowid JOIN documents d ON d.id = c.document_id "
                f"WHERE chunks_fts MATCH ? AND d.state = 'committed' {where_sql} ORDER BY s DESC LIMIT ?"
            )
            return self._query(sql, [match, *params, limit])
        # Unfiltered: rank in FTS5 alone, join the top rows only. Joining every matched row before the
        # sort cost more than BM25 itself on large corpora. The slack covers rows of documents that a
        # crash left in a state before revisions (recovered at open, but present until then).
        sql = (
            'SELECT c.id, c.document_id, c.start, c."end", -f.r, d.revision FROM '
            "(SELECT rowid, bm25(chunks_fts) AS r FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY r LIMIT ?) f "
            "JOIN chunks c ON c.rowid = f.rowid JOIN documents d ON d.id = c.document_id "
            "WHERE d.state = 'committed' ORDER BY f.r LIMIT ?"
        )
        return self._query(sql, [match, 2 * limit + 10, limit])

    def keyword_search(
        self, terms: Sequence[str], limit: int, where_sql: str = "", params: Iterable = ()
    ) -> builtins.list[tuple]:
        """lexical_search for analyzed terms (any of them), as the backend-neutral call search uses."""
        match = match_terms(terms)
        return self.lexical_search(match, limit, where_sql, params) if match else []

    def term_rows(self, terms: Iterable[str]) -> tuple[dict[str, int], int]:
        """({term: rows whose text has it}, rows in the index), cached for a while: counting a common
        term's rows costs milliseconds, and the counts only steer which terms a query scores."""
        now = time.monotonic()
        version = self.version()
        with self._lock:
            # a count of 0 would prune a word that a write just brought in: any commit starts afresh
            if now - self._terms_at > TERM_ROWS_TTL or version != self._terms_version:
                self._term_rows.clear()
                self._terms_at = now
                self._terms_version = version
                self._total_rows = self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            for t in terms:
                if t not in self._term_rows:
                    self._term_rows[t] = self._db.execute(
                        "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH ?",
                        ('"' + t.replace('"', '""') + '"',),
                    ).fetchone()[0]
            return dict(self._term_rows), self._total_rows

    def lexical_row_count(self) -> int:
        return self._query("SELECT COUNT(*) FROM chunks_fts")[0][0]

    def chunks_missing_lexical(self) -> builtins.list[str]:
        rows = self._query(
            "SELECT c.document_id FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE d.state = 'committed' AND c.rowid NOT IN (SELECT rowid FROM chunks_fts)"
        )
        return sorted({r[0] for r in rows})

    def orphan_lexical_rows(self) -> int:
        return self._query(
            "SELECT COUNT(*) FROM chunks_fts WHERE rowid NOT IN "
            "(SELECT c.rowid FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE d.state = 'committed')"
        )[0][0]

    def reindex_lexical(self, doc_ids: builtins.list[str]) -> None:
        with self.transaction() as db:
            db.execute(
                "DELETE FROM chunks_fts WHERE rowid NOT IN (SELECT c.rowid FROM chunks c JOIN documents d "
                "ON d.id = c.document_id WHERE d.state = 'committed')"
            )
            for doc_id in doc_ids:
                db.execute(
                    "DELETE FROM chunks_fts WHERE rowid IN (SELECT rowid FROM chunks WHERE document_id = ?)",
                    (doc_id,),
                )
                self._index_lexical(db, doc_id)


def _predates_numbering(db: sqlite3.Connection) -> bool:
    """A layout migration 1 brings up: keyword rows of FTS5's porter stemmer, or no revisions."""
    fts = db.execute("SELECT sql FROM sqlite_master WHERE name = 'chunks_fts'").fetchone()
    if fts is not None and "porter" in fts[0]:
        return True
    columns = {r[1] for r in db.execute("PRAGMA table_info(documents)")}
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return bool(columns) and ("revision" not in columns or not {"revisions", "stale_vectors"} <= tables)


def _migration_1_schema(db: sqlite3.Connection) -> None:
    """The schema as of revisions. A catalog written before the shared analyzer indexed raw text with
    FTS5's porter stemmer: its keyword rows are rebuilt as analyzed terms (retrieval.lexical.analyze).
    A catalog written before revisions: its documents get revision 0, whose keys are the bare chunk
    ids their vectors already have in Chroma (models.chunk_key), so nothing is re-keyed."""
    row = db.execute("SELECT sql FROM sqlite_master WHERE name = 'chunks_fts'").fetchone()
    rebuild_lexical = row is not None and "porter" in row[0]
    if rebuild_lexical:
        db.execute("DROP TABLE chunks_fts")
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "documents" in tables:
        columns = {r[1] for r in db.execute("PRAGMA table_info(documents)")}
        if "revision" not in columns:
            db.execute("ALTER TABLE documents ADD COLUMN revision INTEGER NOT NULL DEFAULT 0")
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    if rebuild_lexical:
        for (doc_id,) in db.execute("SELECT id FROM documents WHERE state = 'committed'").fetchall():
            Catalog._index_lexical(db, doc_id)


def _migration_2_identity(db: sqlite3.Connection) -> None:
    """The catalog's identity (CatalogReads.identity). Kept if already there: a file in a layout from
    before numbering runs every step again."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS catalog_identity (id INTEGER PRIMARY KEY CHECK (id = 1), uuid TEXT NOT NULL)"
    )
    db.execute("INSERT OR IGNORE INTO catalog_identity VALUES (1, ?)", (uuid.uuid4().hex,))


# the catalog's schema history, oldest first; a new step is appended, never edited (files in the
# field have run the old ones)
MIGRATIONS: Sequence[Callable[[sqlite3.Connection], None]] = (_migration_1_schema, _migration_2_identity)
