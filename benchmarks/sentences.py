"""The sentence side of search (retrieval/sentence_index.py): what it costs as the corpus grows.

    python -m benchmarks.sentences [--out FILE]
    python -m benchmarks.sentences --data DIR --questions FILE [--out FILE]

Without --data: the search alone (the sign-bit pass, the int8 rescoring and the top 36) over random
unit vectors, 7 sentences a chunk, at 1k to 131k chunks, and the memory its arrays hold. With --data:
over an ingested data dir, the first search's build of the index from the embedding cache, and
search p50/p95 with the side on and off for the questions of a set (question vectors embedded
beforehand, so search alone).
One BLAS thread, as the `factdesk` command sets it.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

SENTENCES_PER_CHUNK = 7
CANDIDATES = 36


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p * len(xs)))], 2)


def matrix_cost(sizes: list[int], queries: int = 50, dim: int = 384) -> list[dict]:
    from retrieval.sentence_index import SentenceMatrix

    rng = np.random.default_rng(0)
    out = []
    for chunks in sizes:
        v = rng.standard_normal((chunks * SENTENCES_PER_CHUNK, dim)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        m = SentenceMatrix()
        m.add(
            (f"c{i}", f"d{i // 4}", v[i * SENTENCES_PER_CHUNK : (i + 1) * SENTENCES_PER_CHUNK])
            for i in range(chunks)
        )
        times = []
        for i in range(queries):
            t = time.perf_counter()
            m.search(v[(i * 7919) % len(v)], CANDIDATES)
            times.append(1000 * (time.perf_counter() - t))
        out.append(
            {
                "chunks": chunks,
                "sentences": len(v),
                "float32_mib": round(v.nbytes / 2**20, 1),
                "held_mib": round(m.nbytes / 2**20, 1),
                "search_p50_ms": _pct(times, 0.5),
                "search_p95_ms": _pct(times, 0.95),
            }
        )
    return out


def corpus_cost(data: Path, questions: list[str]) -> dict:
    from factdesk.service import Factdesk
    from factdesk.settings import isolated_settings
    from retrieval.sentence_index import SentenceIndex

    svc = Factdesk(isolated_settings(data))
    se = svc.searcher
    index = SentenceIndex(svc.catalog, svc.embedder, se.config.sentence_index_chunks)
    t = time.perf_counter()
    index.warm()
    build_s = time.perf_counter() - t
    se.sentence_index = index
    for q in questions:  # question vectors and the BM25 index, before anything is timed
        se.embed_query(q)
    se.search(questions[0])
    base = se.config
    result: dict = {
        "chunks": svc.catalog.count()[1],
        "sentences": index.sentences,
        "build_s": round(build_s, 2),
        "questions": len(questions),
    }
    for name, on in (("off", False), ("on", True)):
        se.config = dataclasses.replace(base, use_sentences=on)
        times = []
        for q in questions:
            t = time.perf_counter()
            se.search(q, 12)
            times.append(1000 * (time.perf_counter() - t))
        result[f"search_{name}"] = {"p50_ms": _pct(times, 0.5), "p95_ms": _pct(times, 0.95)}
    svc.close()
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.sentences", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=None, help="an ingested data dir")
    p.add_argument("--questions", type=Path, default=None, help="a question set (YAML) for --data")
    p.add_argument("--out", type=Path, default=None, help="write the results here as JSON")
    args = p.parse_args(argv)
    if args.data is not None:
        import yaml

        if args.questions is None:
            p.error("--data needs --questions")
        qs = [q["question"] for q in yaml.safe_load(args.questions.read_text())["questions"]]
        results: dict = {"corpus": corpus_cost(args.data, qs)}
    else:
        results = {"matrix": matrix_cost([1024, 4096, 16384, 32768, 102400, 131072])}
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
