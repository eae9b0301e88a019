"""Search and offline ask latency at 1k / 10k / 100k chunks, next to raw Chroma query time.

Two modes, each its own process (so the orchestrator reads each one's peak RSS):
- `build`: grow one data dir to at least N chunks through the real Ingestor path. The five seed
  articles are ingested with the real model; the synthetic articles (benchmarks/corpus.py) get
  vectors from `OriginEmbedder`: the real vectors of the seed sentences they were made from,
  averaged over the text's sentences, plus noise, renormalised. No model call per synthetic text.
- `measure`: open the data dir like `factdesk` does, load the real model, and time `search` and
  `ask` with distinct query wordings (so every query is embedded: no cache hit), and
  `collection.query` with precomputed query vectors (raw Chroma, the same n_results as search).
"""

from __future__ import annotations

import os

# one BLAS thread, as the `factdesk` command sets it before numpy loads (factdesk/cli.py): this
# process stands in for `factdesk serve`, and two OpenBLAS threads that spin between the search's
# small matrix products took the cores the query encoder and BM25 need (p95 ~22 vs ~17 ms here)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import time
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.common import Timer, latency_summary, loadavg, make_settings, query_stream, run_section
from benchmarks.corpus import SyntheticCorpus, seed_documents, seed_sentences
from retrieval.sentences import split_sentences

NOISE = 0.3  # noise norm relative to the mean vector's: cosine ~0.96 to the noiseless vector
CORPUS_SEED = 11


class OriginEmbedder:
    """Vectors for synthetic text without the model: each sentence maps to the seed sentence it was
    made from (corpus.origin; unknown ones by hash), whose real vector is known."""

    name = "local:all-MiniLM-L6-v2"  # the real model's vector space: search embeds queries with it
    loaded = True

    def __init__(self, seed_vectors: np.ndarray, origin: dict[str, int]) -> None:
        self.seed_vectors = seed_vectors
        self.origin = origin

    def load(self) -> None:
        pass

    def _one(self, text: str) -> np.ndarray:
        idx = [
            self.origin.get(
                text[s.start : s.end], zlib.crc32(text[s.start : s.end].encode()) % len(self.seed_vectors)
            )
            for s in split_sentences(text)
        ] or [zlib.crc32(text.encode()) % len(self.seed_vectors)]
        mean = self.seed_vectors[idx].mean(axis=0)
        rng = np.random.default_rng(zlib.crc32(text.encode()))
        noise = rng.standard_normal(mean.shape[0]).astype(np.float32)
        v = mean + noise * (NOISE * np.linalg.norm(mean) / np.linalg.norm(noise))
        return v / np.linalg.norm(v)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return (
            np.stack([self._one(t) for t in texts]).astype(np.float32)
            if texts
            else np.zeros((0, 384), dtype=np.float32)
        )


def seed_sentence_vectors(work: Path) -> np.ndarray:
    path = work / "seed-sentence-vectors.npy"
    if path.exists():
        return np.load(path)
    from retrieval.embed import LocalEmbedder

    v = LocalEmbedder().embed(list(seed_sentences()))
    np.save(path, v)
    return v


def build(args: argparse.Namespace) -> dict:
    from factdesk.service import Factdesk

    data = Path(args.params["data"])
    target = int(args.params["chunks"])
    state_path = data / "bench-state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {"next": 0, "seconds": 0.0}
    svc = Factdesk(make_settings(data))
    real = svc.embedder.inner
    t0 = time.perf_counter()
    if state["next"] == 0:  # the seeds, with the real model: real questions find real evidence
        svc.ingest_documents(seed_documents())
    corpus = SyntheticCorpus(seed=CORPUS_SEED, track_origin=True)
    svc.embedder.inner = OriginEmbedder(seed_sentence_vectors(args.work), corpus.origin)
    statuses: dict[str, int] = {}
    start_chunks = svc.catalog.count()[1]
    with Timer() as t:
        while (count := svc.catalog.count()[1]) < target:
            n_docs = min(400, max(3, (target - count) // 6 + 1))
            for r in svc.ingest_documents(corpus.articles(state["next"], state["next"] + n_docs)):
                key = r.status.split(" of ")[0]
                statuses[key] = statuses.get(key, 0) + 1
            state["next"] += n_docs
            corpus.origin.clear()
    svc.embedder.inner = real
    docs, chunks = svc.catalog.count()
    state["seconds"] += time.perf_counter() - t0
    state_path.write_text(json.dumps(state))
    added = chunks - start_chunks
    out = {
        "documents": docs,
        "chunks": chunks,
        "added_chunks": added,
        "statuses": statuses,
        "build_seconds": round(t.wall, 1),
        "build_chunks_per_s": round(added / t.wall, 1) if t.wall else None,
        "cpu_per_wall": round(t.cpu / t.wall, 2) if t.wall else None,
        "embedding_cache_mb": round((data / "embeddings.sqlite").stat().st_size / 2**20, 1),
        "catalog_mb": round((data / "catalog.sqlite").stat().st_size / 2**20, 1),
        "chroma_mb": round(
            sum(f.stat().st_size for f in (data / "chroma").rglob("*") if f.is_file()) / 2**20, 1
        ),
    }
    svc.close()
    return out


class Stopwatch:
    """Accumulated seconds of wrapped methods (where a search spends its time)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, obj: object, attr: str, label: str) -> None:
        fn = getattr(obj, attr)

        def timed(*a, **k):  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - t0

        setattr(obj, attr, timed)


def measure(args: argparse.Namespace) -> dict:
    from factdesk.service import Factdesk

    data = Path(args.params["data"])
    n_queries = int(args.params.get("queries", 30 if args.quick else 100))
    offset = int(args.params.get("offset", 0))  # disjoint per run on a data dir: no cached query vectors
    threads = int(args.params.get("threads", 0))
    svc = Factdesk(make_settings(data, torch_threads=threads))
    t0 = time.perf_counter()
    svc.embedder.load()
    model_load = time.perf_counter() - t0
    col = svc.vectors.collection()
    t0 = time.perf_counter()
    count = col.count()
    first = svc.search("warm-up: what happened to the soldiers?")  # loads the HNSW index and FTS pages
    first_s = time.perf_counter() - t0
    out: dict = {
        "torch_threads": threads,
        "chunks": svc.catalog.count()[1],
        "documents": svc.catalog.count()[0],
        "chroma_count": count,
        "model_load_seconds": round(model_load, 2),
        "first_search_seconds": round(first_s, 2),
        "first_search_hits": len(first),
    }

    # raw Chroma: precomputed query vectors, the n_results search asks for
    queries = query_stream(n_queries, offset=offset + 2 * n_queries)
    vecs = svc.embedder.inner.embed(queries)
    raw = []
    for v in vecs:
        t = time.perf_counter()
        col.query(query_embeddings=[v], n_results=svc.searcher.config.candidates, include=["distances"])
        raw.append(1000 * (time.perf_counter() - t))
    out["raw_chroma_query"] = latency_summary(raw)
    # the query embedding alone (the real model, one short text)
    emb = []
    for q in queries[:40]:
        t = time.perf_counter()
        svc.embedder.inner.embed([q])
        emb.append(1000 * (time.perf_counter() - t))
    out["query_embedding"] = latency_summary(emb)

    watch = Stopwatch()
    watch.wrap(svc.embedder.inner, "embed", "model (query embedding)")
    watch.wrap(svc.vectors, "query", "Chroma query (VectorStore.query)")
    watch.wrap(svc.catalog, "lexical_search", "FTS5 BM25 (filtered searches only)")
    watch.wrap(svc.searcher.lexical_index, "search", "BM25, in-memory index")
    watch.wrap(svc.catalog, "visible_chunks", "catalog: visible chunks")
    watch.wrap(svc.catalog, "texts", "catalog: document texts")
    watch.wrap(svc.embedder.cache, "get_many", "embedding cache reads (sentence vectors)")
    watch.wrap(svc.embedder.cache, "get_chunks", "embedding cache reads (a chunk's sentences, one row)")
    watch.wrap(svc.searcher, "_rerank", "sentence re-rank (total)")
    searches = []
    with Timer() as ts:
        for q in query_stream(n_queries, offset=offset):  # unseen wordings: the query is embedded
            t = time.perf_counter()
            svc.search(q, top_k=5)
            searches.append(1000 * (time.perf_counter() - t))
    out["search"] = latency_summary(searches)
    out["search"]["cpu_per_wall"] = round(ts.cpu / ts.wall, 2)
    out["search_breakdown_ms_per_query"] = {
        k: round(1000 * v / len(searches), 2) for k, v in watch.seconds.items()
    }
    watch.seconds.clear()
    asks, abstained = [], 0
    for q in query_stream(n_queries, offset=offset + n_queries):
        t = time.perf_counter()
        a = svc.ask(q)
        asks.append(1000 * (time.perf_counter() - t))
        abstained += a.abstained
    out["ask"] = latency_summary(asks)
    out["ask"]["abstained"] = abstained
    out["ask_breakdown_ms_per_query"] = {k: round(1000 * v / len(asks), 2) for k, v in watch.seconds.items()}
    # how selective the lexical side is on this corpus: rows the FTS5 OR-query matches (BM25 scores them all)
    from retrieval.lexical import build_match_query

    matched = []
    for q in queries[:10]:
        match = build_match_query(q)
        if match:
            matched.append(
                svc.catalog._query("SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH ?", [match])[0][0]
            )
    out["fts_rows_matched_per_query_mean"] = round(sum(matched) / max(1, len(matched)))
    out["fts_share_of_chunks_matched"] = round(sum(matched) / max(1, len(matched)) / max(1, out["chunks"]), 3)
    out["search_p95_over_raw_chroma_p95"] = round(
        out["search"]["p95_ms"] / out["raw_chroma_query"]["p95_ms"], 1
    )
    out["eval_at_scale"] = eval_at_scale(svc)
    out["load_avg_end"] = loadavg()
    svc.close()
    return out


def eval_at_scale(svc) -> dict:  # type: ignore[no-untyped-def]
    """The eval's answerable questions against this corpus: does the seed evidence still come first
    among ~100k distractor chunks? With the lexical postings budget, and with BM25 over every term."""
    from answers.rewrite import rewrite_follow_up
    from evals import metrics as m
    from evals.run import DEFAULT_QUESTIONS, load_questions

    qs = [q for q in load_questions(DEFAULT_QUESTIONS) if q.get("answerable", True)]
    texts = svc.catalog.texts({e["document_id"] for q in qs for e in q.get("evidence", [])})
    out = {}
    budget = svc.searcher.config.lexical_budget
    for label, b in (("budget", budget), ("all_terms", 10**12)):
        svc.searcher.config.lexical_budget = b
        rows, times = [], []
        for q in qs:
            gold = m.evidence_spans(q.get("evidence", []), texts)
            query = rewrite_follow_up(q["question"], q.get("history") or [])
            t = time.perf_counter()
            hits = svc.search(query, top_k=5)
            times.append(1000 * (time.perf_counter() - t))
            rows.append(m.retrieval_metrics([m.Span(h.document_id, h.start, h.end) for h in hits], gold))
        out[label] = {
            "questions": len(rows),
            "hit@1": round(m.mean([r["hit@1"] for r in rows]), 3),
            "hit@5": round(m.mean([r["hit@5"] for r in rows]), 3),
            "mrr": round(m.mean([r["mrr"] for r in rows]), 3),
            "search_ms": latency_summary(times),
        }
    svc.searcher.config.lexical_budget = budget
    out["postings_budget"] = budget
    return out


def body(args: argparse.Namespace) -> dict:
    return build(args) if args.params.get("mode") == "build" else measure(args)


if __name__ == "__main__":
    run_section("scale", body)
