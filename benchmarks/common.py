"""Shared by the benchmark sections: isolated settings, timing helpers, the query set, section I/O.

Each section is a module run as its own process (`python -m benchmarks.<section> --work DIR
--json FILE [--quick]`), so its peak RSS, torch thread setting and imports are its own.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Self

import yaml

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "evals" / "questions.yaml"
ISOLATE = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "FACTDESK_API_KEYS", "FACTDESK_CHROMA_URL")


def make_settings(data_dir: Path, **overrides: Any):  # type: ignore[no-untyped-def]
    """Default settings over data_dir, isolated from the developer's environment and .env."""
    from factdesk.settings import isolated_settings

    return isolated_settings(data_dir, **overrides)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a `factdesk` subprocess: offline, no keys, no Chroma server."""
    env = {k: v for k, v in os.environ.items() if k not in ISOLATE and not k.startswith("OPENAI_")}
    env.update(extra)
    return env


def percentile(values: Sequence[float], p: float) -> float:
    from evals.metrics import percentile as pct

    return pct(list(values), p)


def latency_summary(ms: Sequence[float]) -> dict[str, float]:
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "max_ms": round(max(ms), 2),
    }


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


class Timer:
    """Wall and CPU seconds of a block, and the 1-minute load average around it."""

    def __enter__(self) -> Self:
        self.load_before = loadavg()
        self._cpu = time.process_time()
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._t
        self.cpu = time.process_time() - self._cpu
        self.load_after = loadavg()


def questions(include_unanswerable: bool = True) -> list[dict]:
    qs = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))["questions"]
    return [q for q in qs if include_unanswerable or q.get("answerable", True)]


# Distinct wordings of each eval question, so every timed query misses the query-embedding caches
# (the searcher's LRU and the SQLite cache): the latency includes embedding the query.
PREFIXES = (
    "",
    "Tell me: ",
    "According to the articles, ",
    "Quick question: ",
    "Do the reports say: ",
    "I read that; ",
    "Please answer: ",
    "Briefly, ",
    "From the news: ",
    "One more: ",
)


SUFFIXES = (
    "",
    " Thanks.",
    " Please cite.",
    " (news)",
    " Sources?",
    " Any numbers?",
    " In short.",
    " Which outlet?",
    " Details please.",
    " Asked again.",
)


def query_stream(n: int, offset: int = 0) -> list[str]:
    """n distinct wordings, from position `offset` of a fixed sequence of 95 x 10 x 10 wordings;
    sections use disjoint ranges, so no timed query is in a data dir's cache already."""
    qs = [q["question"] for q in questions()]
    out = []
    for i in range(offset, offset + n):
        prefix = PREFIXES[(i // len(qs)) % len(PREFIXES)]
        suffix = SUFFIXES[(i // (len(qs) * len(PREFIXES))) % len(SUFFIXES)]
        out.append(prefix + qs[i % len(qs)] + suffix)
    return out


def run_section(name: str, body: Callable[[argparse.Namespace], dict]) -> None:
    """Entry point of a section process: parse the common flags, run, write the JSON result."""
    p = argparse.ArgumentParser(prog=f"benchmarks.{name}")
    p.add_argument("--work", required=True, type=Path, help="scratch folder (data dirs, exported models)")
    p.add_argument("--json", required=True, type=Path, help="where to write this section's result")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--param", action="append", default=[], help="key=value for the section")
    args = p.parse_args()
    args.params = dict(kv.split("=", 1) for kv in args.param)
    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        result = body(args)
    except Exception as e:  # noqa: BLE001 -- recorded; the orchestrator carries on with the other sections
        traceback.print_exc()
        result = {"error": f"{type(e).__name__}: {e}"[:2000]}
    result.setdefault("section_seconds", round(time.perf_counter() - t0, 1))
    args.json.write_text(json.dumps(result, indent=2, default=float))
    sys.exit(0)


def count_word_pieces(reader: Any) -> list[int]:
    """The padded word pieces of each batch the reader reads from now on (appended as it reads):
    what a read costs, whatever the machine's load."""
    pieces: list[int] = []
    inner = reader._logits

    def logits(pairs: list[tuple[list[int], list[int]]]) -> Any:
        pieces.append(len(pairs) * max(len(p[0]) for p in pairs))
        return inner(pairs)

    reader._logits = logits
    return pieces
