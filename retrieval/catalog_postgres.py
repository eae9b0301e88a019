"""The catalog in PostgreSQL (FACTDESK_DATABASE_URL): what retrieval/catalog.py keeps in SQLite, shared
by several `factdesk serve` replicas, whose vectors live in one Chroma server.

The same interface and the same write protocol as the SQLite catalog (reserve, vectors to Chroma,
one switch commit, stale vectors collected; see catalog.py). What sharing adds:

- One writer at a time across replicas: `exclusive()` holds a session-level advisory lock, and every
  statement of the thread holding it runs on that same connection. A replica that dies (kill -9)
  drops its connection and so its lock; a lost connection (PostgreSQL restarted) fails the write
  instead of committing it without the lock. Recovery runs under the same lock, so two replicas
  never roll back the same reserved revision.
- A generation counter (`catalog_generation`), bumped by every write transaction in the transaction
  itself: `version()` reads it, and every per-process cache keyed on it (the in-memory BM25 index,
  term counts) notices another replica's commit at the next search.
- Keyword rows are a tsvector column on the chunk rows, written from the project's own analyzer
  (retrieval.lexical.analyze: Snowball stems, stopwords dropped) as a tsvector literal, so
  PostgreSQL's parser and dictionaries never touch a term; ranking is FTS5's BM25, computed from the
  terms' positions (retrieval.lexical.bm25_scores).
- Numbered migrations, applied at open inside one transaction under an advisory lock: two replicas
  starting at once apply them once.
"""

from __future__ import annotations

import builtins  # the catalog's list() method hides the builtin in its class
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.errors import _WaitTimeout  # what psycopg's wait raises when its timeout ends
from psycopg_pool import ConnectionPool

from retrieval.catalog import DOCUMENT_INSERT, CatalogReads, document_row
from retrieval.errors import StoreUnavailable
from retrieval.lexical import analyze, bm25_scores
from retrieval.models import Chunk, Document, chunk_key, revision_keys
from retrieval.redact import error_reason, redact_url, url_secrets


class _AnsweringConnection(psycopg.Connection):
    """A connection whose every wait for the server's answer ends after `answer_within_s`: a server
    that stops answering on a connection already open (a stalled host, `kill -STOP`) keeps the TCP
    session alive, since its kernel still acknowledges, so neither the pool's timeout nor TCP ever ends
    the wait. The connection is closed (its state is unknown) and the statement fails."""

    answer_within_s: float | None = None

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        limit = timeout if timeout is not None else self.answer_within_s
        try:
            return super().wait(gen, interval, limit)
        except _WaitTimeout:
            if timeout is not None:  # psycopg's own limit (a cancel, a notify): its handling
                raise
            self.pgconn.finish()  # no I/O: the socket is closed, and the pool drops the connection
            raise psycopg.OperationalError(f"PostgreSQL did not answer within {limit:g} s") from None


@contextmanager
def _answer_within(conn: psycopg.Connection, seconds: float | None) -> Iterator[None]:
    """Another limit (None: none) for the statements of this block on this connection."""
    before = getattr(conn, "answer_within_s", None)
    conn.answer_within_s = seconds  # type: ignore[attr-defined]
    try:
        yield
    finally:
        conn.answer_within_s = before  # type: ignore[attr-defined]


# advisory lock keys (one bigint namespace per database): fixed, so every replica agrees
WRITER_LOCK = 0x66616374_64657331  # "factdes1": one writer at a time, recovery included
MIGRATION_LOCK = 0x66616374_64657332  # "factdes2": one replica applies the migrations

MIGRATIONS: Sequence[str] = (
    # 1: the schema as of revisions (catalog.py's, plus the keyword terms on the chunk rows)
    """
    CREATE TABLE documents (
        id TEXT COLLATE "C" PRIMARY KEY,  -- ids sort by code point, as in SQLite (pages of /v1/documents)
        title TEXT NOT NULL,
        source TEXT,
        url TEXT,
        published_at TEXT,
        published_ts DOUBLE PRECISION,
        text TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        duplicate_of TEXT,
        chunk_count INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        revision BIGINT NOT NULL DEFAULT 0
    );
    CREATE INDEX documents_hash ON documents (content_hash);
    CREATE INDEX documents_created ON documents (created_at);
    CREATE INDEX documents_duplicate_of ON documents (duplicate_of);
    -- a sequence never hands out an id twice, so a revision's keys are never reused
    CREATE TABLE revisions (
        id BIGSERIAL PRIMARY KEY,
        document_id TEXT NOT NULL,
        chunk_count INTEGER NOT NULL,
        created_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE stale_vectors (key TEXT COLLATE "C" PRIMARY KEY);
    CREATE TABLE chunks (
        id TEXT PRIMARY KEY,
        document_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        start INTEGER NOT NULL,
        "end" INTEGER NOT NULL,
        tokens INTEGER NOT NULL,
        terms TSVECTOR NOT NULL,
        length INTEGER NOT NULL
    );
    CREATE INDEX chunks_document ON chunks (document_id);
    CREATE INDEX chunks_terms ON chunks USING GIN (terms);
    CREATE TABLE bands (band TEXT NOT NULL, document_id TEXT NOT NULL);
    CREATE INDEX bands_band ON bands (band);
    CREATE INDEX bands_document ON bands (document_id);
    CREATE TABLE raw_inputs (raw_hash TEXT PRIMARY KEY, content_hash TEXT NOT NULL);
    CREATE TABLE catalog_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n BIGINT NOT NULL);
    INSERT INTO catalog_generation VALUES (1, 0);
    """,
    # 2: the catalog's identity (CatalogReads.identity)
    """
    CREATE TABLE catalog_identity (id INTEGER PRIMARY KEY CHECK (id = 1), uuid TEXT NOT NULL);
    INSERT INTO catalog_identity VALUES (1, replace(gen_random_uuid()::text, '-', ''));
    """,
)

TSVECTOR_MAX_POSITION = 16383  # PostgreSQL's largest position; later ones are stored as it


def tsvector_literal(analyzed: str) -> str:
    """A tsvector's text form for analyzed text (lexical.analyze): each term with its positions, so
    that PostgreSQL stores exactly these terms and a term's frequency is its count of positions."""
    positions: dict[str, list[int]] = {}
    for i, term in enumerate(analyzed.split(), start=1):
        positions.setdefault(term, []).append(min(i, TSVECTOR_MAX_POSITION))
    return " ".join(f"{_quote(t)}:{','.join(map(str, p))}" for t, p in positions.items())


def tsquery_any(terms: Iterable[str]) -> str:
    """A tsquery's text form matching rows with any of the (analyzed) terms."""
    return " | ".join(_quote(t) for t in terms)


def _quote(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


class PostgresCatalog(CatalogReads):
    param_mark = "%s"  # psycopg's parameter marker (search.Filters.sql)

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 8,
        timeout_s: float = 5.0,
        write_wait_s: float = 300.0,
        answer_within_s: float = 60.0,
    ) -> None:
        self.where = redact_url(url)
        self.write_wait_s = write_wait_s
        self.answer_within_s = answer_within_s
        self._secrets = url_secrets(url)
        self.read_only: str | None = None  # the SQLite catalog's read-only data dir has no counterpart
        self.problem: str | None = None  # likewise its damaged pages
        self._local = threading.local()  # the connection of a transaction, snapshot or writer lock
        self._terms_lock = threading.Lock()
        self._terms: tuple[int, dict[str, int], int] | None = None  # (generation, {term: rows}, rows)
        self._stats: tuple[int, int, float] | None = None  # (generation, rows, mean length)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            timeout=timeout_s,
            # a connection a restarted server dropped is replaced when taken, not handed to a query
            check=ConnectionPool.check_connection,
            # the pool retries a failed connect with growing pauses until this, then leaves the next
            # request to try at once: a replica reconnects within seconds of PostgreSQL's return,
            # whatever the outage's length
            reconnect_timeout=timeout_s,
            kwargs={"autocommit": True, "connect_timeout": max(1, round(timeout_s))},
            connection_class=_AnsweringConnection,
            configure=self._configure,
            open=False,
            name="factdesk-catalog",
        )
        self._first_connect(url, timeout_s)  # before the pool, whose log lines would name the cause less well
        self._pool.open(wait=False)
        try:
            self._migrate()
        except BaseException:
            self._pool.close()
            raise

    def close(self) -> None:
        self._pool.close()

    def _configure(self, conn: psycopg.Connection) -> None:
        conn.answer_within_s = self.answer_within_s  # type: ignore[attr-defined]

    def _first_connect(self, url: str, timeout_s: float) -> None:
        """One connection of its own at start: a pool that cannot connect says only "PoolTimeout", and
        a wrong password or a database that does not exist would read as an outage."""
        try:
            psycopg.connect(url, autocommit=True, connect_timeout=max(1, round(timeout_s))).close()
        except psycopg.OperationalError as e:
            raise StoreUnavailable(
                f"the PostgreSQL catalog at {self.where} is unreachable: {error_reason(e, self._secrets)}"
            ) from None

    # ---- connections ----
    @contextmanager
    def _guard(self) -> Iterator[None]:
        """PostgreSQL unreachable, restarted or shut down: the project's 503, its reason redacted."""
        try:
            yield
        except (psycopg.OperationalError, psycopg.InterfaceError) as e:
            raise StoreUnavailable(
                f"the PostgreSQL catalog at {self.where} is unreachable: {error_reason(e, self._secrets)}"
            ) from e

    @contextmanager
    def _session(self) -> Iterator[psycopg.Connection]:
        """The connection this thread's statements use: the one its transaction, snapshot or writer
        lock holds, else one from the pool for the statement."""
        conn = getattr(self._local, "conn", None) or getattr(self._local, "lock_conn", None)
        if conn is not None:
            yield conn
            return
        with self._pool.connection() as pooled:
            yield pooled

    def _query(self, sql: str, params: Iterable = ()) -> builtins.list[tuple]:
        """sql with `?` markers (CatalogReads') or psycopg's own `%s`."""
        with self._guard(), self._session() as conn:
            return conn.execute(sql.replace("?", "%s"), tuple(params)).fetchall()  # type: ignore[arg-type]

    def _in(self, column: str, values: builtins.list[str]) -> tuple[str, builtins.list]:
        return f"{column} = ANY(?)", [list(values)]

    def unavailable(self) -> str | None:
        """Why the catalog cannot answer now (a redacted sentence), or None (for /readyz)."""
        try:
            self._query("SELECT 1")
        except StoreUnavailable as e:
            return e.message
        return None

    def check(self) -> str | None:
        """Damage doctor should report: none to look for (PostgreSQL checks its own pages), and an
        unreachable server fails doctor's reads themselves with a 503."""
        return None

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """One write, all or nothing; the generation counter moves in the same commit."""
        if getattr(self._local, "conn", None) is not None:
            raise RuntimeError("a catalog transaction inside another transaction or snapshot")
        with self._guard(), self._session() as conn:
            self._local.conn = conn
            try:
                with conn.transaction():
                    yield conn
                    conn.execute("UPDATE catalog_generation SET n = n + 1 WHERE id = 1")
            finally:
                self._local.conn = None

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one state of the catalog (a REPEATABLE READ transaction)."""
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        with self._guard(), self._session() as conn:
            self._local.conn = conn
            try:
                with conn.transaction():
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    yield
            finally:
                self._local.conn = None

    @contextmanager
    def exclusive(self, lock_path: Path | None = None) -> Iterator[None]:
        """One writer at a time across every replica (lock_path, the SQLite catalog's flock file, has
        no use here). The lock is held by this connection's session, and the thread's statements run
        on it until the block ends."""
        if getattr(self._local, "lock_conn", None) is not None:  # re-entered by the same thread
            yield
            return
        with self._guard(), self._pool.connection() as conn:
            self._take_writer_lock(conn)
            self._local.lock_conn = conn
            try:
                yield
            finally:
                self._local.lock_conn = None
                try:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (WRITER_LOCK,))
                except psycopg.Error:
                    pass  # the session is gone, and its lock with it

    def _take_writer_lock(self, conn: psycopg.Connection) -> None:
        """Writes queue; but one whose holder is stopped (not dead: PostgreSQL ends a dead one's
        session, and its lock) would queue every replica's writes for ever: after write_wait_s, 503."""
        conn.execute(f"SET lock_timeout = {int(self.write_wait_s * 1000)}")  # a number of ours: no quoting
        try:
            with _answer_within(conn, self.write_wait_s + self.answer_within_s):
                conn.execute("SELECT pg_advisory_lock(%s)", (WRITER_LOCK,))
        except psycopg.errors.LockNotAvailable:
            raise StoreUnavailable(
                f"another write has held the PostgreSQL catalog's write lock for more than {self.write_wait_s:g} s "
                "(FACTDESK_DATABASE_WRITE_WAIT_S): a long ingest, or a replica that stopped mid-write; nothing "
                "was written, try again"
            ) from None
        finally:
            if not conn.closed:  # closed: the server did not answer, and that error is the one to tell
                conn.execute("SET lock_timeout = 0")

    def _migrate(self) -> None:
        """Apply the migrations the database lacks, each recorded in schema_migrations, in one
        transaction under an advisory lock: a second replica starting at once waits, then finds
        them applied."""
        with (
            self._guard(),
            self._pool.connection() as conn,
            _answer_within(conn, None),  # a migration may rebuild a large table: no limit, once at start
            conn.transaction(),
        ):
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            found = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
            if found is None or found[0] is None:  # CREATE only when needed: a migrated database
                # is served by a role that may only read and write (docs/postgres.md)
                self._create(
                    "CREATE TABLE schema_migrations "
                    "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                    conn,
                    0,
                )
            row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
            applied = row[0] if row else 0
            if applied > len(MIGRATIONS):  # a newer factdesk's tables: writing them could break them
                raise StoreUnavailable(
                    f"the PostgreSQL catalog at {self.where} is at schema step {applied}, and this factdesk "
                    f"knows steps 1-{len(MIGRATIONS)}: a newer factdesk migrated it; upgrade this one"
                )
            for number, sql in enumerate(MIGRATIONS[applied:], start=applied + 1):
                self._create(sql, conn, number)
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (number,))

    def _create(self, sql: str, conn: psycopg.Connection, step: int) -> None:
        """One migration statement; a role without CREATE is told what it needs, not a traceback."""
        try:
            conn.execute(sql)  # type: ignore[arg-type]
        except psycopg.errors.InsufficientPrivilege as e:
            raise StoreUnavailable(
                f"the PostgreSQL catalog at {self.where} needs migration step {max(step, 1)}, and its "
                f"role may not create tables ({error_reason(e, self._secrets)}): grant it CREATE on the schema for one "
                "start (docs/postgres.md)"
            ) from None

    def version(self) -> tuple[int, int]:
        """The catalog's generation: moves with every commit, of any replica."""
        return int(self._query("SELECT n FROM catalog_generation WHERE id = 1")[0][0]), 0

    # ---- reads (committed documents only) ----
    def count(self) -> tuple[int, int]:
        with self.snapshot():
            docs = self._query("SELECT COUNT(*) FROM documents WHERE state = 'committed'")[0][0]
            chunks = self._query(
                "SELECT COUNT(*) FROM chunks c JOIN documents d ON d.id = c.document_id "
                "WHERE d.state = 'committed'"
            )[0][0]
        return int(docs), int(chunks)

    def unfinished(self) -> builtins.list[tuple[str, str]]:
        """(document id, 'pending') of reserved revisions not switched to (no legacy rows here)."""
        return [(r[0], "pending") for r in self._query("SELECT document_id FROM revisions ORDER BY id")]

    def uncommitted_rows(self) -> builtins.list[str]:
        return []  # the protocol before revisions never wrote to PostgreSQL

    def reserved(self) -> builtins.list[tuple[int, str, int]]:
        rows = self._query("SELECT id, document_id, chunk_count FROM revisions ORDER BY id")
        return [(int(r[0]), r[1], r[2]) for r in rows]

    def unfinished_keys(self) -> set[str]:
        return {k for rev, doc, n in self.reserved() for k in revision_keys(doc, rev, n)}

    # ---- writes (the ingest pipeline's, each in the caller's transaction) ----
    # `db` is the psycopg connection transaction() yields (Any: see catalog.Catalog's writes)
    @staticmethod
    def reserve(db: Any, doc_id: str, chunks: int) -> int:
        row = db.execute(
            "INSERT INTO revisions (document_id, chunk_count, created_at) VALUES (%s, %s, %s) RETURNING id",
            (doc_id, chunks, time.time()),
        ).fetchone()
        assert row is not None
        return int(row[0])

    @staticmethod
    def switch_revision(
        db: Any,
        doc: Document,
        chunks: builtins.list[Chunk],
        bands: builtins.list[str],
        raw_hash: str | None = None,
    ) -> None:
        """As catalog.Catalog.switch_revision: the document's rows replaced by its reserved revision's
        in the caller's one commit; the chunk rows carry their analyzed terms."""
        if raw_hash:
            db.execute(
                "INSERT INTO raw_inputs VALUES (%s, %s) ON CONFLICT (raw_hash) "
                "DO UPDATE SET content_hash = EXCLUDED.content_hash",
                (raw_hash, doc.content_hash),
            )
        PostgresCatalog.retire(db, doc.id)
        db.execute(
            DOCUMENT_INSERT,
            document_row(doc, len(chunks)),
        )
        rows = []
        for c in chunks:
            analyzed = analyze(doc.text[c.start : c.end])
            rows.append(
                (
                    c.id,
                    c.document_id,
                    c.index,
                    c.start,
                    c.end,
                    c.tokens,
                    tsvector_literal(analyzed),
                    _length(analyzed),
                )
            )
        with db.cursor() as cur:
            cur.executemany(
                'INSERT INTO chunks (id, document_id, idx, start, "end", tokens, terms, length) '
                "VALUES (%s,%s,%s,%s,%s,%s,%s::tsvector,%s)",
                rows,
            )
            cur.executemany(
                "INSERT INTO bands (band, document_id) VALUES (%s, %s)", [(b, doc.id) for b in bands]
            )
        db.execute("DELETE FROM revisions WHERE id = %s", (doc.revision,))

    @staticmethod
    def retire(db: Any, doc_id: str) -> bool:
        row = db.execute("SELECT revision FROM documents WHERE id = %s FOR UPDATE", (doc_id,)).fetchone()
        if row is None:
            return False
        keys = [
            chunk_key(cid, row[0])
            for (cid,) in db.execute("SELECT id FROM chunks WHERE document_id = %s", (doc_id,))
        ]
        with db.cursor() as cur:
            cur.executemany(
                "INSERT INTO stale_vectors (key) VALUES (%s) ON CONFLICT DO NOTHING", [(k,) for k in keys]
            )
        PostgresCatalog.remove(db, doc_id)
        return True

    @staticmethod
    def forget_revision(db: Any, revision: int) -> None:
        db.execute("DELETE FROM revisions WHERE id = %s", (revision,))

    @staticmethod
    def forget_stale(db: Any, keys: builtins.list[str]) -> None:
        db.execute("DELETE FROM stale_vectors WHERE key = ANY(%s)", (list(keys),))

    @staticmethod
    def remove(db: Any, doc_id: str) -> None:
        db.execute("DELETE FROM chunks WHERE document_id = %s", (doc_id,))
        db.execute("DELETE FROM bands WHERE document_id = %s", (doc_id,))
        db.execute("DELETE FROM documents WHERE id = %s", (doc_id,))
        # a near-duplicate pointing at the removed original now stands on its own
        db.execute("UPDATE documents SET duplicate_of = NULL WHERE duplicate_of = %s", (doc_id,))

    # ---- keyword side ----
    def keyword_search(
        self, terms: Sequence[str], limit: int, where_sql: str = "", params: Iterable = ()
    ) -> builtins.list[tuple]:
        """(chunk id, document id, start, end, BM25 score; higher is better, revision) of the current
        revisions' chunks with any of the analyzed terms that pass the filter (where_sql over the
        documents as d, with %s markers), best first: the GIN index finds the rows, their terms'
        positions give the frequencies, and the scores are FTS5's (retrieval.lexical.bm25_scores)."""
        terms = list(dict.fromkeys(terms))
        if not terms:
            return []
        with self.snapshot():  # the statistics and the rows of one state
            df, rows = self.term_rows(terms)
            avg_length = self._mean_length()
            found = self._query(
                'SELECT c.id, c.document_id, c.start, c."end", d.revision, c.length, t.lexeme, '
                "cardinality(t.positions) FROM chunks c JOIN documents d ON d.id = c.document_id "
                "CROSS JOIN LATERAL unnest(c.terms) AS t "
                f"WHERE c.terms @@ %s::tsquery AND d.state = 'committed' {where_sql} AND t.lexeme = ANY(%s)",
                [tsquery_any(terms), *params, terms],
            )
        meta = {r[0]: (r[1], r[2], r[3], r[4]) for r in found}
        scores = bm25_scores(((r[0], r[6], r[7], r[5]) for r in found), df, rows, avg_length)
        best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        return [(cid, meta[cid][0], meta[cid][1], meta[cid][2], score, meta[cid][3]) for cid, score in best]

    def term_rows(self, terms: Iterable[str]) -> tuple[dict[str, int], int]:
        """({term: rows with it}, rows in the index), counted through the GIN index; kept while the
        generation stands (a commit of any replica starts afresh, so no new word is pruned as absent)."""
        terms = list(terms)
        generation = self.version()[0]
        with self._terms_lock:
            if self._terms is None or self._terms[0] != generation:
                total = int(self._query("SELECT COUNT(*) FROM chunks")[0][0])
                self._terms = (generation, {}, total)
            known = dict(self._terms[1])
        for t in terms:
            if t not in known:
                known[t] = int(
                    self._query("SELECT COUNT(*) FROM chunks WHERE terms @@ %s::tsquery", [_quote(t)])[0][0]
                )
        with self._terms_lock:
            if self._terms[0] == generation:
                self._terms[1].update(known)
            return {t: known[t] for t in known}, self._terms[2]

    def _mean_length(self) -> float:
        generation = self.version()[0]
        if self._stats is None or self._stats[0] != generation:
            rows, avg = self._query("SELECT COUNT(*), COALESCE(AVG(length), 0) FROM chunks")[0]
            self._stats = (generation, int(rows), float(avg))
        return self._stats[2]

    def lexical_row_count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM chunks")[0][0])

    def chunks_missing_lexical(self) -> builtins.list[str]:
        return []  # the terms are a NOT NULL column of the chunk row: written in the same INSERT

    def orphan_lexical_rows(self) -> int:
        return 0  # likewise: they go with the chunk row

    def reindex_lexical(self, doc_ids: builtins.list[str]) -> None:
        """Rewrite the documents' keyword terms (after an analyzer change)."""
        with self.transaction() as db:
            for doc_id in doc_ids:
                for cid, text in db.execute(
                    'SELECT c.id, substr(d.text, c.start + 1, c."end" - c.start) FROM chunks c '
                    "JOIN documents d ON d.id = c.document_id WHERE c.document_id = %s",
                    (doc_id,),
                ).fetchall():
                    analyzed = analyze(text)
                    db.execute(
                        "UPDATE chunks SET terms = %s::tsvector, length = %s WHERE id = %s",
                        (tsvector_literal(analyzed), _length(analyzed), cid),
                    )


def _length(analyzed: str) -> int:
    """A chunk's length as FTS5 counts it for BM25: the terms of its analyzed text."""
    return len(analyzed.split())
