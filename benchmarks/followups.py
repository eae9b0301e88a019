"""What a follow-up costs: offline ask time for the follow-up set's questions, by how each is read.

    python -m benchmarks.followups [--rounds N] [--out FILE]

evals/followups/followups.yaml over its own articles. Each question is asked with its history, as
the eval asks it, `rounds` times after one warm-up pass; its median time is its time. Before each
timed ask the reader forgets what it read and the previous turn is asked untimed, as the user asked
it a moment before (`--forget` drops that turn's reads too: the cost without the reader's memory of
recent pairs, answers/reader.py SCORE_CACHE). The kinds:
- standalone: no history;
- follow-up: a history, rewritten from the previous question alone (answers/rewrite.py);
- follow-up, answer named: "he" or "she" after a who/which question, for which the previous
  question is answered again to find the person (asks_for_person), so two reads.
"""

from __future__ import annotations

import os

# one BLAS thread, as the `factdesk` command sets it before numpy loads (factdesk/cli.py)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from factdesk.settings import PROJECT_ROOT, isolated_settings

SET = PROJECT_ROOT / "evals" / "followups"


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p * len(xs)))], 1)


def kind(question: str, history: list[str]) -> str:
    from answers.rewrite import asks_for_person

    if not history:
        return "standalone"
    return "follow-up, answer named" if asks_for_person(question, history[-1]) else "follow-up"


def measure(data: Path, rounds: int, forget: bool = False) -> list[dict]:
    from factdesk.service import Factdesk

    questions = yaml.safe_load((SET / "followups.yaml").read_text(encoding="utf-8"))["questions"]
    svc = Factdesk(isolated_settings(data, articles_dir=str(SET / "articles")))
    svc.ingest_paths([svc.settings.articles_path])
    svc.engine.warm()
    for q in questions:  # warm caches and the graph's shapes
        svc.ask(q["question"], history=q.get("history") or [])
    reader = getattr(svc.engine, "reader", None)  # the offline reader; the ranker has none
    times: dict[str, list[float]] = {}
    for q in questions:
        history = q.get("history") or []
        runs = []
        for _ in range(rounds):
            if reader is not None:
                reader.forget()
            if history:
                svc.ask(history[-1], history=history[:-1])
            if forget and reader is not None:
                reader.forget()
            t0 = time.perf_counter()
            svc.ask(q["question"], history=history)
            runs.append((time.perf_counter() - t0) * 1000)
        times.setdefault(kind(q["question"], history), []).append(statistics.median(runs))
    svc.close()
    return [
        {"kind": k, "questions": len(v), "ask_p50_ms": _pct(v, 0.5), "ask_p95_ms": _pct(v, 0.95)}
        for k, v in sorted(times.items())
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--forget", action="store_true", help="no reads remembered from the turn before")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(Path(tmp), args.rounds, args.forget)
    text = json.dumps(rows, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
