"""The dense side: chunk vectors in Chroma (embedded PersistentClient, or a `chroma run` server).

Vectors are always computed by factdesk (no Chroma embedding function: its default downloads a
model). Each vector's metadata carries the document id, the span and filterable fields. A process
that only reads the embedded store (`factdesk ask`, `search`) queries it without the chromadb client
(retrieval/chroma_read.py), which it would otherwise spend about a second importing.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from retrieval.chroma_read import ChromaReader
from retrieval.errors import CorruptStore, CorruptVectors, FactdeskError, StoreUnavailable
from retrieval.faults import classify
from retrieval.redact import error_reason, redact_url


QUERY_ATTEMPTS = 3  # a search's Chroma read, when a concurrent delete hid an id (VectorStore.query)

log = logging.getLogger("factdesk.store")
EMBEDDED = "the embedded vector store (chroma/)"
# the embedded stores (chroma/ folders) whose chromadb client this process has opened, by any VectorStore:
# from then on every read of that store goes through the client (retrieval/chroma_read.py says why)
_CLIENT_PATHS: set[str] = set()


def _collection_name(base: str, space: str) -> str:
    # one collection per vector space, so switching embedders never mixes dimensions
    slug = re.sub(r"[^a-zA-Z0-9_-]+", "-", f"{base}-{space}").strip("-_")[:60]
    return slug if len(slug) >= 3 else f"{slug}-fd"


class VectorStore:
    def __init__(self, *, data_dir: Path, chroma_url: str | None, collection: str, space: str) -> None:
        self.data_dir = data_dir
        self.chroma_url = chroma_url
        self.name = _collection_name(collection, space)
        self._collection = None
        self._client = None
        # the direct read path (retrieval/chroma_read.py), tried once, and only before the client opens
        self._reader: ChromaReader | None = None
        self._reader_tried = False
        self._lock = threading.Lock()
        self.last_fault: FactdeskError | None = (
            None  # what the last ping() met (CorruptVectors: doctor rebuilds)
        )
        self.last_count = 0  # the vectors the last ping() counted

    def _chroma_path(self) -> str:
        """The embedded store's folder, one spelling per folder (a relative and an absolute data dir)."""
        return str((self.data_dir / "chroma").resolve())

    @property
    def mode(self) -> str:
        return "http" if self.chroma_url else "embedded"

    def _connect(self):  # type: ignore[no-untyped-def]
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if self.chroma_url:
            u = urlparse(self.chroma_url)
            client = chromadb.HttpClient(
                host=u.hostname or "127.0.0.1",
                port=u.port or 8000,
                ssl=u.scheme == "https",
                settings=settings,
            )
        else:
            client = chromadb.PersistentClient(path=str(self.data_dir / "chroma"), settings=settings)
        return client, client.get_or_create_collection(
            self.name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )

    def collection(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._collection is None:
                self._reader, self._reader_tried = None, True
                if not self.chroma_url:
                    _CLIENT_PATHS.add(self._chroma_path())
                try:
                    self._client, self._collection = self._connect()
                except Exception as e:
                    where = f" at {redact_url(self.chroma_url)}" if self.chroma_url else ""
                    if not self.chroma_url:  # embedded: a read-only or full data dir, a damaged file
                        self._forget_failed_client()
                        fault = _embedded_fault(e)
                        if fault is not None:
                            raise fault from e
                    raise StoreUnavailable(
                        f"the Chroma store{where} is unreachable: {error_reason(e)}"
                    ) from e
            return self._collection

    def _forget_failed_client(self) -> None:
        forget_client(self.data_dir / "chroma")

    def _call(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        """Run a Chroma call; a dead server becomes StoreUnavailable, and the next call reconnects. A
        collection deleted under us (another client, a server reset) is made anew and asked again:
        readiness and doctor's missing_vectors say what `doctor --repair` restores."""
        try:
            return self._attempt(fn, *args, **kwargs)
        except CollectionGone:
            return self._attempt(fn, *args, **kwargs)

    def _attempt(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        col = self.collection()
        try:
            return fn(col, *args, **kwargs)
        except Exception as e:
            if _collection_gone(e):
                log.warning(
                    "the Chroma collection %s no longer exists: created anew; `factdesk doctor --repair` "
                    "restores its vectors",
                    self.name,
                )
                with self._lock:
                    if self._collection is col:
                        self._collection = None
                raise CollectionGone(f"the Chroma collection {self.name} was deleted while in use") from e
            if self.chroma_url:
                with self._lock:
                    self._collection = None
                where = redact_url(self.chroma_url)
                raise StoreUnavailable(f"the Chroma server at {where} failed: {error_reason(e)}") from e
            fault = _embedded_fault(e)  # Chroma passes SQLite's "database or disk is full" on as text
            if fault is not None:
                raise fault from e
            raise

    def ping(self) -> bool:
        return self.problem() is None

    def problem(self) -> str | None:
        """Why the store cannot answer now (a redacted sentence), or None when it answers."""
        try:
            self.last_count = int(self._call(lambda col: col.count()))
            self.last_fault = None
        except FactdeskError as e:
            self.last_fault = e
        return self.last_problem

    @property
    def last_problem(self) -> str | None:
        """The last ping()'s problem as a (redacted) sentence, or None."""
        return self.last_fault.message if self.last_fault is not None else None

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict]) -> None:
        for i in range(0, len(ids), 1000):
            self._call(
                lambda col, a=i: col.upsert(
                    ids=list(ids[a : a + 1000]),
                    embeddings=vectors[a : a + 1000],
                    metadatas=list(metadatas[a : a + 1000]),
                )
            )

    def delete_ids(self, ids: Sequence[str]) -> None:
        for i in range(0, len(ids), 1000):
            self._call(lambda col, a=i: col.delete(ids=list(ids[a : a + 1000])))

    def all_ids(self) -> set[str]:
        out: set[str] = set()
        offset = 0
        while True:
            got = self._call(lambda col, at=offset: col.get(include=[], limit=5000, offset=at))
            out.update(got["ids"])
            if len(got["ids"]) < 5000:
                return out
            offset += 5000

    def count(self) -> int:
        return int(self._call(lambda col: col.count()))

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        if not ids:
            return {}
        got = self._call(lambda col: col.get(ids=list(ids), include=["embeddings"]))
        return {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"])}

    def _direct_reader(self) -> ChromaReader | None:
        """The embedded store's engine without the chromadb client, while this process has not
        opened the client on this store (retrieval/chroma_read.py); None: use the client."""
        with self._lock:
            if self._chroma_path() in _CLIENT_PATHS:
                self._reader, self._reader_tried = None, True
            if not self._reader_tried:
                self._reader_tried = True
                if not self.chroma_url and self._collection is None:
                    try:
                        self._reader = ChromaReader(self.data_dir / "chroma", self.name)
                    except Exception as e:  # the client opens it, and reports what is wrong
                        log.debug("direct Chroma read unavailable: %s", error_reason(e))
            return self._reader

    def query(self, vector: np.ndarray, n: int, where: dict | None = None) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), best first."""
        reader = self._direct_reader()
        if reader is not None:
            try:
                return [(i, 1.0 - float(d)) for i, d in reader.query(vector, n, where)]
            except Exception as e:  # the client repeats the read: its failures are the ones handled below
                log.debug("direct Chroma read failed, the client reads instead: %s", error_reason(e))
                with self._lock:
                    self._reader = None

        def run(col):  # type: ignore[no-untyped-def]
            # no count() first: Chroma 1.x returns what it has when n exceeds it, and the extra round
            # trip cost ~5 ms at 100k chunks (BENCHMARKS.md)
            return col.query(query_embeddings=[vector], n_results=n, where=where, include=["distances"])

        for attempt in range(QUERY_ATTEMPTS):
            try:
                res = self._call(run)
                break
            except Exception as e:
                failure = _read_failure(e)
                if failure == "unflushed" and not self.chroma_url:
                    log.warning("dense search skipped: another process's vectors are not on disk yet")
                    return []
                if failure == "retry" and attempt + 1 == QUERY_ATTEMPTS and not self.chroma_url:
                    # not a delete in flight: ids another process added (`factdesk ingest` beside a
                    # running server), which a filter finds and this process's index lacks until it
                    # restarts. The keyword side still answers, as for unflushed vectors.
                    log.warning(
                        "dense search skipped: the store holds vectors another process wrote, which "
                        "this one sees after a restart"
                    )
                    return []
                if failure != "retry" or attempt + 1 == QUERY_ATTEMPTS:
                    raise
                time.sleep(0.005 * (attempt + 1))
        return [(i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0])]


def _read_failure(e: Exception) -> str:
    """What a failed read of embedded Chroma means, while another process writes the same store.

    "unflushed": vectors another process wrote and has not flushed (Chroma writes the index files every
    1,000 vectors): this process cannot open the index until they are on disk, and repeating does not
    help (reproduced: another process upserts 5 vectors, every query here fails until it has written
    2,000). The search goes on with the lexical side alone. "retry": another process deleting, so the
    plan can list an id whose record is already gone; a read is safe to repeat, and the next one sees
    the delete. Each was seen once in the concurrent fault test. "raise": anything else."""
    message = str(e).lower()
    if "nothing found on disk" in message:
        return "unflushed"
    return "retry" if "error finding id" in message else "raise"


class CollectionGone(StoreUnavailable):
    """The collection was deleted while in use (asked again once, on a new one)."""


def _collection_gone(e: Exception) -> bool:
    from chromadb.errors import NotFoundError

    return isinstance(e, NotFoundError) and "collection" in str(e).lower()


def forget_client(path: Path) -> None:
    """chromadb keeps one client system per path for the process, even one whose start failed;
    the next attempt would get that broken one ("no attribute 'bindings'") instead of trying the
    files again once the disk has room, the folder is writable, or a damaged one was set aside."""
    try:
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient._identifier_to_system.pop(str(path), None)
        SharedSystemClient._identifier_to_refcount.pop(str(path), None)
    except (ImportError, AttributeError):  # another chromadb layout: the plain retry stands
        pass


def _embedded_fault(exc: BaseException) -> FactdeskError | None:
    """classify() for the embedded store; damage is CorruptVectors, which doctor --repair rebuilds."""
    fault = classify(exc, EMBEDDED)
    if isinstance(fault, CorruptStore) and not isinstance(fault, CorruptVectors):
        return CorruptVectors(fault.message)
    return fault
