"""Focused summaries: what the reader's reading of the query costs (BENCHMARKS.md, "Focused summaries
with the reader").

    python -m benchmarks.summaries [--files h6,h7] [--out FILE]

Over the focused requests of evals/summaries_news.yaml, each file's articles in a fresh data dir:
`summarize()` timed as shipped (ReaderEngine.summary_relevance: the reader's and the cosine ranks
fused) and as before (no relevance: centrality blended with cosine), alternating request by
request after one warm-up call a file; p50, p95 and max seconds of each.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


from evals import metrics as m
from evals.summary_facts import DEFAULT_SET, entries_by_file, file_service


def time_file(name: str, entries: list[dict]) -> dict[str, list[float]]:
    from answers.engine import ReaderEngine

    times: dict[str, list[float]] = {"before": [], "shipped": []}
    with file_service(name) as svc:
        engine = svc.engine
        assert isinstance(engine, ReaderEngine), "the reader engine (the default) is what is timed"
        shipped = engine.summary_relevance
        svc.summarize(document_ids=[f"{name}-0"], query="warm up", max_words=60)
        for e in entries:
            ids = [f"{name}-{i}" for i in e["articles"]]
            for way, relevance in (("before", lambda *_: (None, True)), ("shipped", shipped)):
                engine.summary_relevance = relevance  # type: ignore[method-assign]
                t0 = time.perf_counter()
                svc.summarize(document_ids=ids, query=e["query"], max_words=e["max_words"])
                times[way].append(time.perf_counter() - t0)
        engine.summary_relevance = shipped  # type: ignore[method-assign]
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", help="only these files of the set, comma-separated (e.g. h6,h7)")
    ap.add_argument("--out", type=Path, help="write the result as JSON here")
    args = ap.parse_args(argv)
    by_file = entries_by_file(DEFAULT_SET, args.files, focused_only=True)
    times: dict[str, list[float]] = {"before": [], "shipped": []}
    for name, entries in by_file.items():
        for way, xs in time_file(name, entries).items():
            times[way] += xs
    result = {
        way: {
            "requests": len(xs),
            "p50_s": round(m.percentile(xs, 50), 3),
            "p95_s": round(m.percentile(xs, 95), 3),
            "max_s": round(max(xs), 3) if xs else 0.0,
        }
        for way, xs in times.items()
    }
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
