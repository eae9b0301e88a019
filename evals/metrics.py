"""Eval metrics (pure): retrieval hits against gold evidence, answer facts, citations, abstention."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from answers.verify import locate_quote

# What a reader would never call the article; a summary or chunk containing one has leaked boilerplate.
BOILERPLATE = (
    "We need your help now",
    "Readers like you",
    "Support from readers like you",
    "Do you like this article",
    "Captcha",
    "PREV ",
    "NEXT ",
    "Advertisement",
    "JournalTv",
    "News in 60 seconds",
    "contribute what you can",
    "keep paywalls away",
)


@dataclass(frozen=True)
class Span:
    document_id: str
    start: int
    end: int


def evidence_spans(evidence: Sequence[dict], texts: dict[str, str]) -> list[Span | None]:
    """Gold evidence quotes located in the cleaned texts (None when cleaning removed or changed it)."""
    out: list[Span | None] = []
    for ev in evidence:
        text = texts.get(ev["document_id"])
        loc = locate_quote(ev["quote"], text) if text else None
        out.append(Span(ev["document_id"], *loc) if loc else None)
    return out


def covers(chunk: Span, ev: Span) -> bool:
    """A retrieved chunk holds the evidence when it contains at least half of the quote."""
    if chunk.document_id != ev.document_id:
        return False
    inter = min(chunk.end, ev.end) - max(chunk.start, ev.start)
    return inter >= 0.5 * (ev.end - ev.start)


def retrieval_metrics(hits: Sequence[Span], gold: Sequence[Span | None]) -> dict[str, float]:
    gold_spans = [g for g in gold if g is not None]
    first = next((i for i, h in enumerate(hits, 1) if any(covers(h, g) for g in gold_spans)), None)
    recalled = sum(any(covers(h, g) for h in hits[:5]) for g in gold_spans)
    return {
        "hit@1": float(first == 1),
        "hit@3": float(first is not None and first <= 3),
        "hit@5": float(first is not None and first <= 5),
        "mrr": 1.0 / first if first else 0.0,
        "evidence_recall": recalled / len(gold_spans) if gold_spans else 0.0,
    }


def fact_recall(answer: str, expected: Sequence[Sequence[str]]) -> tuple[float, list[list[str]]]:
    """(share of fact groups found, the groups missed); a group is found if any variant occurs."""
    low = answer.lower()
    missed = [list(g) for g in expected if not any(v.lower() in low for v in g)]
    return (1.0 - len(missed) / len(expected) if expected else 1.0), missed


def cited_fact_recall(
    answer: str, quotes: Sequence[str], expected: Sequence[Sequence[str]]
) -> tuple[float, list[list[str]]]:
    """fact_recall over the answer and the quotes it cites. An answer shows each statement once, in
    its cleanest wording, and cites every article's sentence that restates it; a set whose facts
    were taken from a machine-reworded copy ("185 million kilos") misses the clean wording shown
    ("185 million pounds") though the answer cites the copy's sentence too."""
    return fact_recall("\n".join([answer, *quotes]), expected)


def citation_checks(
    citations: Sequence[dict], texts: dict[str, str], gold: Sequence[Span | None]
) -> dict[str, float | int]:
    valid = sum(texts.get(c["document_id"], "")[c["start"] : c["end"]] == c["quote"] for c in citations)
    gold_spans = [g for g in gold if g is not None]
    supported = sum(
        any(
            covers(Span(c["document_id"], c["start"], c["end"]), g)
            or covers(g, Span(c["document_id"], c["start"], c["end"]))
            for g in gold_spans
        )
        for c in citations
    )
    return {"citations": len(citations), "valid": valid, "supported": supported}


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def leaked_boilerplate(text: str) -> list[str]:
    return [b for b in BOILERPLATE if b.lower() in text.lower()]
