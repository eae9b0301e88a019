"""What the answer engines count while they work: time per stage, LLM tokens, LLM fallbacks.

Plain, thread-safe tallies with no Prometheus in them: the engines write here, and `/metrics`
(api/metrics.py) reads a snapshot at scrape time, as it reads the ingestor's counters. Every label
value comes from the fixed tuples below, so no input can grow the number of series.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from retrieval.tokens import count_tokens

# retrieve: search (and a follow-up's rewrite without an LLM); read: hits -> scored candidates;
# compose: candidates -> the cited answer or summary; llm: one model call, retries and stream included
STAGES = ("retrieve", "read", "compose", "llm")
TOKEN_KINDS = ("prompt", "completion")
FALLBACK_KINDS = ("answer", "summary")
# stages run from a millisecond (a cached search) to tens of seconds (a slow model endpoint)
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass
class Histogram:
    """Counts per bucket (not cumulative; the last one is +Inf), their sum and count."""

    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0

    def __post_init__(self) -> None:
        self.counts = self.counts or [0] * (len(self.buckets) + 1)

    def observe(self, value: float) -> None:
        # Prometheus buckets are "less than or equal": bisect_left puts a value equal to a bound in it
        self.counts[bisect_left(self.buckets, value)] += 1
        self.total += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, int]]:
        """(le, observations <= le) pairs ending with "+Inf", as an exposition writes them."""
        out, running = [], 0
        for bound, n in zip([*map(str, self.buckets), "+Inf"], self.counts):
            running += n
            out.append((bound, running))
        return out

    def copy(self) -> Histogram:
        return Histogram(self.buckets, list(self.counts), self.total)


@dataclass(frozen=True)
class Snapshot:
    stages: Mapping[str, Histogram]
    tokens: Mapping[str, int]
    fallbacks: Mapping[str, int]


def token_usage(reported: object, prompt_texts: Sequence[str], reply: str) -> tuple[int, int]:
    """(prompt, completion) tokens: the endpoint's own `usage` when it sent one, else counted here
    with the service's tokenizer (a stream without usage, an endpoint that never reports it)."""
    prompt = getattr(reported, "prompt_tokens", None)
    completion = getattr(reported, "completion_tokens", None)
    if isinstance(prompt, int) and isinstance(completion, int):
        return prompt, completion
    return sum(map(count_tokens, prompt_texts)), count_tokens(reply)


class Telemetry:
    def __init__(self, buckets: tuple[float, ...] = STAGE_BUCKETS) -> None:
        self._lock = threading.Lock()  # engines run in the API's worker threads
        self._stages = {s: Histogram(buckets) for s in STAGES}
        self._tokens = dict.fromkeys(TOKEN_KINDS, 0)
        self._fallbacks = dict.fromkeys(FALLBACK_KINDS, 0)

    def observe(self, stage: str, seconds: float) -> None:
        if stage not in self._stages:
            raise ValueError(f"unknown stage {stage!r}; one of {STAGES}")
        with self._lock:
            self._stages[stage].observe(seconds)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as one observation of stage `name`, also when it raises."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.observe(name, time.perf_counter() - start)

    def add_tokens(self, prompt: int, completion: int) -> None:
        with self._lock:
            self._tokens["prompt"] += max(prompt, 0)
            self._tokens["completion"] += max(completion, 0)

    def add_fallback(self, kind: str) -> None:
        if kind not in self._fallbacks:
            raise ValueError(f"unknown fallback kind {kind!r}; one of {FALLBACK_KINDS}")
        with self._lock:
            self._fallbacks[kind] += 1

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                {s: h.copy() for s, h in self._stages.items()}, dict(self._tokens), dict(self._fallbacks)
            )
