"""Helpers for the fault, bad-input and security tests: generated corpora, pre-filled embedding caches,
the `factdesk` command in a subprocess, and the one consistency check every fault test ends with.

Fault tests are about what a crash or a race leaves in the stores, not about the model; so the
vectors of generated articles are put in the content-addressed embedding cache up front (deterministic
pseudo-random unit vectors), and the processes under test spend their time writing, the phase a kill
can tear, instead of embedding on a shared 2-core machine.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from conftest import ARTICLES, make_settings
from live_server import factdesk_command

from factdesk.settings import Settings
from retrieval.embed import EmbeddingCache
from retrieval.ingest import prepare
from retrieval.models import DocumentIn, chunk_key
from retrieval.sentences import split_sentences

LOCAL_SPACE = "local:all-MiniLM-L6-v2"
DIM = 384


# ---------------------------------------------------------------- generated articles


def seed_sentences() -> list[str]:
    """Every sentence of the seed articles (raw text, one line per paragraph)."""
    out = []
    for p in sorted(ARTICLES.glob("*.txt")):
        text = p.read_text(encoding="utf-8")
        out += [" ".join(text[s.start : s.end].split()) for s in split_sentences(text)]
    return [s for s in out if len(s.split()) >= 5]


def article_text(i: int, sentences: Sequence[str], n_sentences: int = 24) -> str:
    """A distinct article: a numbered lead, then seed sentences picked and ordered by seed i."""
    rng = random.Random(i)
    picked = rng.sample(list(sentences), min(n_sentences, len(sentences)))
    paragraphs = [f"Dispatch number {i} from the desk, filed as report {i * 7 + 3}."]
    for j in range(0, len(picked), 3):
        paragraphs.append(" ".join(picked[j : j + 3]))
    return "\n\n".join(paragraphs) + "\n"


def write_articles(folder: Path, n: int, start: int = 0, n_sentences: int = 24) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    sentences = seed_sentences()
    paths = []
    for i in range(start, start + n):
        p = folder / f"gen-{i:04d}.txt"
        p.write_text(article_text(i, sentences, n_sentences), encoding="utf-8")
        paths.append(p)
    return paths


# ---------------------------------------------------------------- embedding cache


def fake_vector(text: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def texts_to_embed(settings: Settings, items: Iterable[DocumentIn]) -> list[str]:
    """The chunk and sentence texts the ingest pipeline will ask the embedder for."""
    out: list[str] = []
    for item in items:
        p = prepare(
            item,
            max_tokens=settings.chunk_tokens,
            overlap_tokens=settings.chunk_overlap_tokens,
            max_chars=settings.max_document_chars,
        )
        out += [c.text for c in p.chunks]
        out += [p.doc.text[s.start : s.end] for s in split_sentences(p.doc.text)]
    return out


def prefill_cache(data_dir: Path, texts: Iterable[str]) -> int:
    """Put deterministic vectors for `texts` into data_dir's embedding cache (nothing is embedded)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    cache = EmbeddingCache(data_dir / "embeddings.sqlite")
    try:
        items = {EmbeddingCache.key(LOCAL_SPACE, t): fake_vector(t) for t in texts}
        cache.put_many(items)
        return len(items)
    finally:
        cache.close()


def prefill_for_files(data_dir: Path, paths: Iterable[Path]) -> int:
    """Cache vectors for article files exactly as `factdesk ingest` will load them (.txt only)."""
    settings = make_settings(data_dir)
    items = [DocumentIn(text=p.read_text(encoding="utf-8"), id=p.stem, source=p.name) for p in paths]
    return prefill_cache(data_dir, texts_to_embed(settings, items))


# ---------------------------------------------------------------- the CLI in a subprocess


def isolated_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without OPENAI_*/FACTDESK_* settings, pointed at data_dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "FACTDESK_"))}
    env["FACTDESK_DATA_DIR"] = str(data_dir)
    env["FACTDESK_TORCH_THREADS"] = "1"  # share the 2 cores with the test process
    env.update(extra)
    return env


def run_cli(
    args: Sequence[str], data_dir: Path, cwd: Path, timeout: float = 240, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*factdesk_command(), *args],
        cwd=cwd,
        env=isolated_env(data_dir, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# ---------------------------------------------------------------- reading the stores directly


def catalog_rows(data_dir: Path, sql: str, params: Sequence[object] = ()) -> list[tuple]:
    """A read-only look at the catalog while another process writes it (WAL readers never block)."""
    db = sqlite3.connect(f"file:{data_dir / 'catalog.sqlite'}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute(sql, tuple(params)).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def wait_for(predicate, timeout: float, interval: float = 0.005) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


# ---------------------------------------------------------------- kill -9 in the middle of a write


class LineReader:
    """Collects a subprocess's stdout lines in a thread (so the test can watch them arrive)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def join(self) -> None:
        self._thread.join(timeout=10)


def pending_ids(data_dir: Path) -> list[str]:
    """Documents with a revision reserved and not switched to (being written, or left by a crash)."""
    return [r[0] for r in catalog_rows(data_dir, "SELECT document_id FROM revisions")]


def committed_count(data_dir: Path) -> int:
    rows = catalog_rows(data_dir, "SELECT COUNT(*) FROM documents WHERE state = 'committed'")
    return rows[0][0] if rows else 0


def kill_while_writing(proc: subprocess.Popen, data_dir: Path, ready, timeout: float = 180) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """Wait for `ready()` (some documents done), then for a document caught half-written (bounded),
    then SIGKILL the process group. Returns what the catalog looked like at the kill."""
    assert wait_for(lambda: ready() or proc.poll() is not None, timeout, interval=0.05), "never got going"
    assert proc.poll() is None, "the ingest finished before it could be killed: make it larger"
    caught = wait_for(lambda: bool(pending_ids(data_dir)) or proc.poll() is not None, 20, interval=0.002)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return {
        "caught_pending": caught and proc.returncode == -signal.SIGKILL,
        "pending": pending_ids(data_dir),
        "committed": committed_count(data_dir),
    }


def store_census(svc) -> dict[str, dict[str, list[str]]]:  # type: ignore[no-untyped-def]
    """Per committed document: its chunk keys (chunk id@revision) in the catalog, in Chroma and in
    the FTS index. A chunk row without its document, or a vector of another revision, shows up as a
    difference."""
    db = svc.catalog
    committed = {r[0] for r in db._query("SELECT id FROM documents WHERE state = 'committed'")}
    census: dict[str, dict[str, list[str]]] = {d: {"chunks": [], "vectors": [], "fts": []} for d in committed}
    for cid, doc_id, rev in db._query(
        "SELECT c.id, c.document_id, d.revision FROM chunks c LEFT JOIN documents d ON d.id = c.document_id"
    ):
        census.setdefault(doc_id, {"chunks": [], "vectors": [], "fts": []})["chunks"].append(
            chunk_key(cid, rev or 0)
        )
    for cid, doc_id, rev in db._query(
        "SELECT c.id, c.document_id, d.revision FROM chunks_fts f JOIN chunks c ON c.rowid = f.rowid "
        "LEFT JOIN documents d ON d.id = c.document_id"
    ):
        census.setdefault(doc_id, {"chunks": [], "vectors": [], "fts": []})["fts"].append(
            chunk_key(cid, rev or 0)
        )
    col = svc.vectors.collection()
    offset = 0
    while True:
        got = col.get(include=["metadatas"], limit=5000, offset=offset)
        for cid, meta in zip(got["ids"], got["metadatas"]):
            doc_id = (meta or {}).get("document_id", "?")
            census.setdefault(doc_id, {"chunks": [], "vectors": [], "fts": []})["vectors"].append(cid)
        if len(got["ids"]) < 5000:
            break
        offset += 5000
    return census


def assert_stores_consistent(svc) -> dict[str, dict[str, list[str]]]:  # type: ignore[no-untyped-def]
    """Nothing half-written: every row is committed, no revision reserved, no stale vector waiting, and
    for each document the catalog's chunk keys == Chroma's ids == the FTS index's, with no key twice;
    nothing belongs to an unknown document."""
    assert svc.catalog.unfinished() == [], svc.catalog.unfinished()
    assert svc.catalog.stale_keys() == [], svc.catalog.stale_keys()[:10]
    census = store_census(svc)
    committed = {d.id for d in svc.catalog.list(limit=1_000_000)}
    assert set(census) == committed, sorted(set(census) ^ committed)[:10]
    for doc_id, where in census.items():
        for kind, ids in where.items():
            assert len(ids) == len(set(ids)), (doc_id, kind, "duplicated chunk ids")
        assert sorted(where["chunks"]) == sorted(where["vectors"]) == sorted(where["fts"]), (doc_id, where)
        doc = svc.catalog.get(doc_id)
        assert doc is not None and doc.chunks == len(where["chunks"]), doc_id
    report = svc.ingestor.doctor()
    assert report["consistent"], report
    return census
