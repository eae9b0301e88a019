"""Search and offline ask latency at 1k / 10k / 100k / 1M chunks, next to raw Chroma query time.

Four modes, each its own process (so the orchestrator reads each one's peak RSS):
- `build`: grow one data dir to at least N chunks through the real Ingestor path. The five seed
  articles are ingested with the real model; the synthetic articles (benchmarks/corpus.py) get
  vectors from `OriginEmbedder`: the real vectors of the seed sentences they were made from,
  averaged over the text's sentences, plus noise, renormalised. No model call per synthetic text.
- `fill`: grow a data dir that `build` made to N chunks without the ingest pipeline (1M chunks
  through it would take hours here): copies of its synthetic documents, each copy with its own
  same-length word swaps (so every chunk and sentence span stays valid and every text is new), are
  written in bulk through the ingest's own write protocol (Catalog.reserve, VectorStore.upsert,
  Catalog.switch_revision) and the embedding cache's put_chunks/put_many. Vectors: the source
  sentence's cached vector plus noise, renormalised; a chunk's vector is the mean of its sentences',
  as ingest computes it. No cleaning, chunking or near-duplicate check runs for the copies.
  `--param max_seconds=S` stops it between batches: the store stays consistent and says its size.
- `measure`: open the data dir like `factdesk` does, load the real model, and time `search` and
  `ask` with distinct query wordings (so every query is embedded: no cache hit), and
  `collection.query` with precomputed query vectors (raw Chroma, the same n_results as search).
  `--param sentences=off` leaves the sentence side of search out (retrieval/sentence_index.py);
  `sentences=all` keeps it on past its size limit.
- `bm25`: the in-memory keyword index alone, from the snapshot `measure` leaves in the data dir:
  postings per question and the time to score them.

Every mode opens the data dir with `make_settings`, isolated from the shell's environment, except
that FACTDESK_CHROMA_URL and FACTDESK_DATABASE_URL (or `--param chroma_url=` / `database_url=`) are
passed on when set: server mode, where `fill` writes through the PostgreSQL catalog and the Chroma
server (`--param chroma_path=` names the server's folder, for its size on disk).
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
from dataclasses import replace
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


def scale_settings(args: argparse.Namespace, **overrides: object):  # type: ignore[no-untyped-def]
    """make_settings over the data dir, plus a Chroma server and a PostgreSQL catalog when named
    (`--param chroma_url=...` / `database_url=...`, else the same FACTDESK_* variables)."""
    from factdesk.settings import Settings

    for field, var in (("chroma_url", "FACTDESK_CHROMA_URL"), ("database_url", "FACTDESK_DATABASE_URL")):
        value = args.params.get(field) or os.environ.get(var)
        if value:
            if field not in Settings.model_fields:
                raise SystemExit(f"{var}: this checkout's settings have no {field}")
            overrides[field] = value
    return make_settings(Path(args.params["data"]), **overrides)


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
    state: dict = json.loads(state_path.read_text()) if state_path.exists() else {"next": 0, "seconds": 0.0}
    svc = Factdesk(scale_settings(args))
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
        **store_sizes(svc, data, args.params.get("chroma_path")),
    }
    svc.close()
    return out


def swap_words(rng: np.random.Generator, vocab: Sequence[str], rate: float = 0.5) -> dict[str, str]:
    """One copy's word swaps: about `rate` of the words get another word of the same length, so a
    copy's text has its source's length, chunk spans and sentence breaks (lower-case words only)."""
    by_len: dict[int, list[str]] = {}
    for w in vocab:
        by_len.setdefault(len(w), []).append(w)
    out = {}
    for w in vocab:
        same = by_len[len(w)]
        if len(same) > 1 and rng.random() < rate:
            out[w] = same[int(rng.integers(len(same)))]
    return out


def fill(args: argparse.Namespace) -> dict:
    """Grow a built data dir to `chunks` with word-swapped copies of its synthetic documents."""
    import re

    from benchmarks.corpus import seed_vocabulary
    from factdesk.service import Factdesk
    from retrieval import dedup
    from retrieval.embed import EmbeddingCache
    from retrieval.ingest import chunk_metadata
    from retrieval.models import Chunk, Document, chunk_id

    data = Path(args.params["data"])
    target = int(args.params["chunks"])
    batch_docs = int(args.params.get("batch_docs", 400))
    # stop between batches after this many seconds: a fill that cannot reach `chunks` in the time
    # there is still ends with a consistent store and its figures
    max_seconds = float(args.params.get("max_seconds", "inf"))
    svc = Factdesk(scale_settings(args))
    # the catalog the settings select (SQLite or PostgreSQL) and its own write statements
    cat, cache, name = svc.catalog, svc.embedder.cache, svc.embedder.name
    writes = type(cat)
    synthetic = [
        r[0] for r in cat._query(f"SELECT id FROM documents WHERE id LIKE {cat.param_mark}", ["syn-%"])
    ]
    sources = sorted(i for i in synthetic if ".c" not in i)
    word = re.compile(r"\b[a-z]{4,}\b")
    vocab = seed_vocabulary()
    start_chunks = cat.count()[1]
    written = {"documents": 0, "chunks": 0, "sentences": 0, "span_mismatch_chunks": 0}
    t_parts = {"read sources": 0.0, "make copies": 0.0, "Chroma upsert": 0.0, "catalog": 0.0, "cache": 0.0}
    copy = 1 + max([int(i.rsplit(".c", 1)[1]) for i in synthetic if ".c" in i] or [0])
    started = time.perf_counter()
    with Timer() as t:
        count = start_chunks
        while count < target:
            rng = np.random.default_rng(1000 + copy)
            swaps = swap_words(rng, vocab)

            def swap(m: re.Match, swaps: dict[str, str] = swaps) -> str:
                return swaps.get(m.group(0), m.group(0))

            for lo in range(0, len(sources), batch_docs):
                if count >= target or time.perf_counter() - started > max_seconds:
                    break
                t0 = time.perf_counter()
                part = sources[lo : lo + batch_docs]
                docs = {d: cat.get(d) for d in part}
                src_chunks = {d: cat.chunks_of(d) for d in part}
                src_keys = {
                    c.id: EmbeddingCache.key(f"{name}\0chunk", c.text)
                    for cs in src_chunks.values()
                    for c in cs
                }
                src_vecs = cache.get_chunks(list(src_keys.values()))
                t1 = time.perf_counter()
                t_parts["read sources"] += t1 - t0
                staged, chunk_rows, sentence_rows = [], {}, {}
                for d in part:
                    src = docs[d]
                    if src is None:
                        continue
                    text = word.sub(swap, src.text)
                    title = word.sub(swap, src.title)
                    new_id = f"{d}.c{copy}"  # a document id the API accepts
                    chunks, vecs = [], []
                    for c in src_chunks[d]:
                        pairs = [
                            (s.start - c.start, s.end - c.start)
                            for s in split_sentences(text, c.start, c.end)
                        ]
                        spans = np.array(pairs or [(0, c.end - c.start)], dtype=np.int32).reshape(-1, 2)
                        got = src_vecs.get(src_keys[c.id])
                        if got is not None and got[0].shape == spans.shape and (got[0] == spans).all():
                            base = got[1]
                        else:  # a swap moved a sentence break (rare): every sentence gets the chunk's mean
                            written["span_mismatch_chunks"] += 1
                            mean = got[1].mean(axis=0) if got is not None else rng.standard_normal(384)
                            base = np.repeat(mean[None, :].astype(np.float32), len(spans), axis=0)
                        noise = rng.standard_normal(base.shape).astype(np.float32)
                        noise *= (
                            NOISE
                            * np.linalg.norm(base, axis=1, keepdims=True)
                            / np.linalg.norm(noise, axis=1, keepdims=True)
                        )
                        sv = base + noise
                        sv /= np.linalg.norm(sv, axis=1, keepdims=True)
                        chunk_text_ = text[c.start : c.end]
                        chunk_rows[EmbeddingCache.key(f"{name}\0chunk", chunk_text_)] = (spans, sv)
                        for (a, b), v in zip(spans, sv):
                            sentence_rows[EmbeddingCache.key(name, chunk_text_[a:b])] = v
                        m = sv.mean(axis=0)
                        vecs.append(m / max(float(np.linalg.norm(m)), 1e-12))
                        chunks.append(
                            Chunk(
                                id=chunk_id(new_id, c.index),
                                document_id=new_id,
                                index=c.index,
                                start=c.start,
                                end=c.end,
                                tokens=c.tokens,
                                text=chunk_text_,
                            )
                        )
                    doc = Document(
                        id=new_id,
                        title=title,
                        text=text,
                        content_hash=dedup.content_hash(text),
                        source=src.source,
                    )
                    staged.append((doc, chunks, np.stack(vecs).astype(np.float32)))
                t2 = time.perf_counter()
                t_parts["make copies"] += t2 - t1
                # the ingest's write protocol (Ingestor._land), one batch of documents at a time
                with svc.ingestor.writing():
                    with cat.transaction() as db:
                        revisions = [writes.reserve(db, d.id, len(cs)) for d, cs, _ in staged]
                    staged = [
                        (replace(d, revision=r), [replace(c, revision=r) for c in cs], v)
                        for (d, cs, v), r in zip(staged, revisions)
                    ]
                    t3 = time.perf_counter()
                    svc.vectors.upsert(
                        [c.key for _, cs, _ in staged for c in cs],
                        np.concatenate([v for _, _, v in staged]),
                        [chunk_metadata(d, c) for d, cs, _ in staged for c in cs],
                    )
                    t4 = time.perf_counter()
                    t_parts["Chroma upsert"] += t4 - t3
                    with cat.transaction() as db:
                        for d, cs, _ in staged:
                            writes.switch_revision(db, d, cs, [])
                    t5 = time.perf_counter()
                    t_parts["catalog"] += t5 - t4 + t3 - t2
                cache.put_chunks(chunk_rows)
                cache.put_many(sentence_rows)
                t_parts["cache"] += time.perf_counter() - t5
                written["documents"] += len(staged)
                n = sum(len(cs) for _, cs, _ in staged)
                written["chunks"] += n
                written["sentences"] += len(sentence_rows)
                count += n
                print(
                    f"[fill] copy {copy}: {count:,} chunks, {time.perf_counter() - started:.0f} s",
                    flush=True,
                )
            copy += 1
            if time.perf_counter() - started > max_seconds:
                break
    n_docs, n_chunks = cat.count()
    out = {
        "target_chunks": target,
        "stopped_by_max_seconds": count < target,
        "documents": n_docs,
        "chunks": n_chunks,
        "chroma_count": svc.vectors.count(),
        "added": written,
        "fill_seconds": round(t.wall, 1),
        "fill_chunks_per_s": round(written["chunks"] / t.wall, 1) if t.wall else None,
        "cpu_per_wall": round(t.cpu / t.wall, 2) if t.wall else None,
        "parts_s": {k: round(v, 1) for k, v in t_parts.items()},
        **store_sizes(svc, data, args.params.get("chroma_path")),
    }
    svc.close()
    return out


def store_sizes(svc, data: Path, chroma_path: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    """MiB on disk of the embedding cache, the catalog (its SQLite file, or its PostgreSQL database)
    and Chroma (the data dir's, or the server's folder when `chroma_path` names it)."""

    def folder_mb(path: Path) -> float | None:
        files = [f for f in path.rglob("*") if f.is_file()] if path.exists() else []
        return round(sum(f.stat().st_size for f in files) / 2**20, 1) if files else None

    if getattr(svc.settings, "database_url", None):
        catalog = svc.catalog._query("SELECT pg_database_size(current_database())")[0][0] / 2**20
    else:
        catalog = (data / "catalog.sqlite").stat().st_size / 2**20
    return {
        "embedding_cache_mb": round((data / "embeddings.sqlite").stat().st_size / 2**20, 1),
        "catalog_mb": round(catalog, 1),
        "chroma_mb": folder_mb(Path(chroma_path) if chroma_path else data / "chroma"),
    }


class Stopwatch:
    """Accumulated seconds of wrapped methods (where a search spends its time), and each call's."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, list[float]] = {}

    def wrap(self, obj: object, attr: str, label: str) -> None:
        fn = getattr(obj, attr, None)
        if fn is None:  # a part this catalog does not have (PostgreSQL: no FTS5)
            return

        def timed(*a, **k):  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                dt = time.perf_counter() - t0
                self.seconds[label] = self.seconds.get(label, 0.0) + dt
                self.calls.setdefault(label, []).append(1000 * dt)

        setattr(obj, attr, timed)


def measure(args: argparse.Namespace) -> dict:
    from factdesk.service import Factdesk

    n_queries = int(args.params.get("queries", 30 if args.quick else 100))
    offset = int(args.params.get("offset", 0))  # disjoint per run on a data dir: no cached query vectors
    threads = int(args.params.get("threads", 0))
    svc = Factdesk(scale_settings(args, torch_threads=threads))
    # `--param sentences=off`: the sentence side of search left out; `all`: on whatever the corpus's
    # size (SearchConfig.sentence_index_chunks lifted), to see what it would cost
    sentences = args.params.get("sentences", "on")
    svc.searcher.config.use_sentences = sentences != "off"
    if sentences == "all" and svc.searcher.sentence_index is not None:
        svc.searcher.sentence_index.max_chunks = 1 << 40
    t0 = time.perf_counter()
    svc.embedder.load()
    model_load = time.perf_counter() - t0
    col = svc.vectors.collection()
    t0 = time.perf_counter()
    count = col.count()
    first = svc.search("warm-up: what happened to the soldiers?")  # loads the HNSW index and FTS pages
    first_s = time.perf_counter() - t0
    index = svc.searcher.sentence_index
    out: dict = {
        "torch_threads": threads,
        "sentence_side": svc.searcher.config.use_sentences,
        "sentence_index_sentences": index.sentences if index is not None else 0,
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
    if index is not None:  # on the second core, beside the Chroma query
        watch.wrap(index, "search", "sentence side (in memory, beside Chroma)")
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
    fts5 = not getattr(svc.settings, "database_url", None)  # PostgreSQL has no chunks_fts to count
    for q in queries[:10] if fts5 else []:
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


def bm25(args: argparse.Namespace) -> dict:
    """The in-memory BM25 alone, from the snapshot a `measure` run leaves in the data dir: how many
    postings each question's terms have, and the time to score them all (exact) and within the
    search's postings budget (each common term's best postings), with how far the two top-n agree."""
    from retrieval.bm25 import BM25Index
    from retrieval.catalog import Catalog
    from retrieval.lexical import POSTINGS_BUDGET, query_terms

    data = Path(args.params["data"])
    index = BM25Index.load(data / "lexical-index.npz", Catalog(data / "catalog.sqlite").identity() or "")
    if index is None:
        raise SystemExit("no BM25 snapshot in the data dir: run mode=measure first")
    t0 = time.perf_counter()
    index._prepare()
    prepare_s = time.perf_counter() - t0
    n = int(args.params.get("n", 30))  # SearchConfig.candidates: what search asks the index for
    queries = [query_terms(q) for q in query_stream(int(args.params.get("queries", 100)))]
    live = len(index)
    shares, kept_shares, postings = [], [], []
    for words in queries:
        terms = [index._vocab[t] for t in index.analyzer.query(words) if t in index._vocab]
        shares += [float(index._df[t]) / live for t in terms]
        kept = [t for t in terms if 2 * index._df[t] <= live]  # the rest weigh nothing (FTS5's IDF)
        kept_shares += [float(index._df[t]) / live for t in kept]
        postings.append(sum(int(index._df[t]) for t in kept))
    budget = int(args.params.get("budget", POSTINGS_BUDGET))
    timed: dict[str, list[float]] = {"exact": [], "budget": []}
    overlap = []
    for words in queries:
        found = {}
        for label, b in (("exact", None), ("budget", budget)):
            t = time.perf_counter()
            found[label] = {cid for cid, _ in index.search(words, n, b)}
            timed[label].append(1000 * (time.perf_counter() - t))
        if found["exact"]:
            overlap.append(len(found["exact"] & found["budget"]) / len(found["exact"]))
    return {
        "chunks_live": live,
        "postings_total": index._main.size + index._delta.size,
        "vocabulary": len(index._vocab),
        "prepare_seconds": round(prepare_s, 2),
        "n": n,
        "queries": len(queries),
        "query_terms_share_of_chunks_mean": round(float(np.mean(shares)), 3),
        "scored_terms_share_of_chunks_mean": round(float(np.mean(kept_shares)), 3),
        "scored_postings_per_query_mean": round(float(np.mean(postings))),
        "search_ms_exact": latency_summary(timed["exact"]),
        "search_ms_budget": latency_summary(timed["budget"]),
        "postings_budget": budget,
        "top_n_overlap_budget_vs_exact_mean": round(float(np.mean(overlap)), 3) if overlap else None,
        "load_avg_end": loadavg(),
    }


def body(args: argparse.Namespace) -> dict:
    mode = args.params.get("mode")
    modes = {"build": build, "fill": fill, "bm25": bm25}
    return modes.get(mode or "", measure)(args)


if __name__ == "__main__":
    run_section("scale", body)
