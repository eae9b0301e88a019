"""The trained engines' cost: offline ask with FACTDESK_ANSWERER=reader (the default) and =ranker,
and the reader alone, on the seed articles; plus `factdesk ask` cold start with each.

    python -m benchmarks.reader [--out FILE]
    python -m benchmarks.reader --data DIR [--queries N] [--offset K] [--pools 24,12] [--out FILE]

The reader reads a fixed number of candidate sentences whatever the corpus size, so its time adds to
search's at any scale. With --data, the same engines ask over a data dir that `benchmarks.scale`
built (e.g. 100k chunks), with wordings no earlier run on it asked (each question is embedded), and
the time of each part of an ask is recorded: search, the sentences and candidates, the reader, the
candidate vectors (embedding cache), compose.
"""

from __future__ import annotations

import os

# one BLAS thread, as the `factdesk` command sets it before numpy loads (factdesk/cli.py)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from factdesk.settings import PROJECT_ROOT, isolated_settings


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p * len(xs)))], 1)


def ask_latency(data: Path, answerer: str, questions: list[str], pool: int | None = None) -> dict:
    from answers.engine import ReaderEngine
    from factdesk.service import Factdesk

    svc = Factdesk(isolated_settings(data, answerer=answerer))
    svc.ingest_paths([svc.settings.articles_path])
    if pool is not None and isinstance(svc.engine, ReaderEngine):
        svc.engine.config.reader_pool = pool
    svc.engine.warm()
    for q in questions[:5]:  # warm caches and the graph's shapes
        svc.ask(q)
    times, reader = [], []
    for q in questions:
        if isinstance(svc.engine, ReaderEngine):
            svc.engine.reader.forget()  # time reads, not the memory of the warm-up's (SCORE_CACHE)
        t0 = time.perf_counter()
        svc.ask(q)
        times.append((time.perf_counter() - t0) * 1000)
        if isinstance(svc.engine, ReaderEngine):
            from answers.candidates import candidates

            hits = svc.search(q, 12)
            cands = candidates(
                svc.searcher.sentence_hits(q, hits, svc.engine.config.reader_pool),
                {h.document_id: svc.get_document(h.document_id).text for h in hits},
            )
            svc.engine.reader.forget()
            t1 = time.perf_counter()
            svc.engine.reader.score(q, [c.passage for c in cands])
            reader.append((time.perf_counter() - t1) * 1000)
    svc.close()
    out = {
        "answerer": answerer,
        "questions": len(questions),
        "ask_p50_ms": _pct(times, 0.5),
        "ask_p95_ms": _pct(times, 0.95),
    }
    if reader:
        out |= {"pool": pool, "reader_p50_ms": _pct(reader, 0.5), "reader_p95_ms": _pct(reader, 0.95)}
    return out


def ask_at_scale(
    data: Path, answerer: str, questions: list[str], pool: int | None = None, threads: int = 0
) -> dict:
    """ask p50/p95 over an existing data dir, and where each ask's time goes (ms per question)."""
    import answers.engine as engine_mod
    from answers.engine import RankerEngine, ReaderEngine
    from benchmarks.common import count_word_pieces, latency_summary
    from benchmarks.scale import Stopwatch
    from factdesk.service import Factdesk

    svc = Factdesk(isolated_settings(data, answerer=answerer, torch_threads=threads))
    engine = svc.engine
    if pool is not None and isinstance(engine, ReaderEngine | RankerEngine):
        engine.config.reader_pool = pool
    svc.embedder.load()
    engine.warm()
    t0 = time.perf_counter()
    svc.search("warm-up: what happened to the soldiers?")  # the HNSW index and the BM25 index
    first_search_s = time.perf_counter() - t0
    for q in questions[:5]:  # the graphs' first shapes
        svc.ask(q)
    questions = questions[5:]
    watch = Stopwatch()
    watch.wrap(engine, "retrieve", "search (retrieve)")
    watch.wrap(svc.searcher, "sentence_hits", "sentence pool (sentence_hits)")
    watch.wrap(engine_mod, "candidates", "candidates (neighbour sentences)")
    watch.wrap(svc.embedder, "embed", "candidate vectors (embedding cache)")
    watch.wrap(engine_mod, "compose", "compose")
    watch.wrap(svc.searcher, "chunk_sentences", "every sentence of the hits (chunk_sentences)")
    watch.wrap(engine_mod, "features", "features")
    if isinstance(engine, ReaderEngine):
        watch.wrap(engine.reader, "score", "reader (cross-encoder)")
        tokens = count_word_pieces(engine.reader)
    if isinstance(engine, RankerEngine):
        watch.wrap(engine.ranker, "probabilities", "ranker (MLP)")
    times, abstained = [], 0
    load_before, cpu0, wall0 = os.getloadavg()[0], time.process_time(), time.perf_counter()
    for q in questions:
        t = time.perf_counter()
        abstained += svc.ask(q).abstained
        times.append(1000 * (time.perf_counter() - t))
    # CPU seconds of every thread of this process (the model's, BM25's) per ask: on a shared machine
    # the wall time also holds the waits for a core, CPU time much less so
    cpu_ms = 1000 * (time.process_time() - cpu0) / len(times)
    wall_ms = 1000 * (time.perf_counter() - wall0) / len(times)
    svc.close()
    out = {
        "answerer": answerer,
        "pool": pool,
        "model_threads": threads,
        "chunks": None,
        "questions": len(times),
        "abstained": abstained,
        "first_search_s": round(first_search_s, 2),
        "ask": latency_summary(times),
        "cpu_ms_per_ask": round(cpu_ms, 1),
        "cpu_per_wall": round(cpu_ms / wall_ms, 2),
        "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "parts_mean_ms": {k: round(sum(v) / len(times), 2) for k, v in watch.calls.items()},
        "parts_p95_ms": {k: latency_summary(v)["p95_ms"] for k, v in watch.calls.items()},
    }
    if isinstance(engine, ReaderEngine) and tokens:
        out["reader_padded_word_pieces_per_question"] = round(sum(tokens) / len(times))
    return out


def at_scale(args: argparse.Namespace) -> dict:
    from benchmarks.common import query_stream
    from retrieval.catalog import Catalog

    cat = Catalog(args.data / "catalog.sqlite")
    docs, chunks = cat.count()
    cat.close()
    runs = []
    offset = args.offset
    engines = [("ranker", None)] + [("reader", p) for p in args.pools]
    for answerer, pool in [e for e in engines if e[0] in args.engines]:
        qs = query_stream(args.queries + 5, offset=offset)  # wordings this data dir has not seen
        offset += args.queries + 5
        r = ask_at_scale(args.data, answerer, qs, pool, args.threads)
        r["chunks"], r["documents"] = chunks, docs
        print(json.dumps(r), flush=True)
        runs.append(r)
    return {"cpu": os.cpu_count(), "data": str(args.data), "load_avg_end": os.getloadavg()[0], "runs": runs}


def cold_start(data: Path, answerer: str, runs: int = 3) -> list[float]:
    env = {**os.environ, "FACTDESK_DATA_DIR": str(data), "FACTDESK_ANSWERER": answerer}
    cmd = [sys.executable, "-m", "factdesk.cli", "ask", "Who was captured in Kursk?", "--json"]
    subprocess.run(cmd, env=env, check=True, capture_output=True, cwd=PROJECT_ROOT)  # warm the file cache
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True, cwd=PROJECT_ROOT)
        out.append(round(time.perf_counter() - t0, 2))
    return out


def main(argv: list[str] | None = None) -> int:
    import yaml

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--data", type=Path, default=None, help="a data dir benchmarks.scale built")
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("--offset", type=int, default=7000, help="first wording (benchmarks.common.query_stream)")
    ap.add_argument("--pools", default="24,12", help="reader pool sizes to run (with --data)")
    ap.add_argument("--engines", default="ranker,reader", help="which engines (with --data)")
    ap.add_argument("--threads", type=int, default=0, help="model threads (FACTDESK_TORCH_THREADS)")
    args = ap.parse_args(argv)
    if args.data is not None:
        args.pools = [int(p) for p in args.pools.split(",") if p]
        args.engines = args.engines.split(",")
        results = at_scale(args)
        if args.out:
            args.out.write_text(json.dumps(results, indent=1) + "\n")
        return 0
    qs = [
        q["question"]
        for q in yaml.safe_load((PROJECT_ROOT / "evals" / "questions.yaml").read_text())["questions"]
    ]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        results = {
            "cpu": os.cpu_count(),
            "runs": [
                ask_latency(data, "reader", qs, pool=24),
                ask_latency(data, "reader", qs, pool=12),
                ask_latency(data, "ranker", qs),
            ],
            "cold_start_s": {a: cold_start(data, a) for a in ("reader", "ranker")},
        }
    results["cold_start_median_s"] = {a: statistics.median(t) for a, t in results["cold_start_s"].items()}
    print(json.dumps(results, indent=1))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
