"""The trained engines' cost: offline ask with FACTDESK_ANSWERER=reader and =ranker against the rules
engine, and the reader alone, on the seed articles; plus `factdesk ask` cold start with each.

    python -m benchmarks.reader [--out FILE]

The reader reads a fixed number of candidate sentences whatever the corpus size, so its time adds to
search's at any scale (section 3 of BENCHMARKS.md has search at 100k chunks).
"""

from __future__ import annotations

import argparse
import json
import os
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
    args = ap.parse_args(argv)
    qs = [
        q["question"]
        for q in yaml.safe_load((PROJECT_ROOT / "evals" / "questions.yaml").read_text())["questions"]
    ]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        results = {
            "cpu": os.cpu_count(),
            "runs": [
                ask_latency(data, "extractive", qs),
                ask_latency(data, "reader", qs, pool=24),
                ask_latency(data, "reader", qs, pool=12),
                ask_latency(data, "ranker", qs),
            ],
            "cold_start_s": {a: cold_start(data, a) for a in ("extractive", "reader", "ranker")},
        }
    results["cold_start_median_s"] = {a: statistics.median(t) for a, t in results["cold_start_s"].items()}
    print(json.dumps(results, indent=1))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
