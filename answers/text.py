"""Small pure helpers shared by the engines: term stems, numbers, question types."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from retrieval.lexical import query_terms

_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_NUMERIC_QUESTION = re.compile(r"\bhow (many|much|old|long)\b|\bnumber of\b|\bwhat (year|date|month|day|age)\b|"
                               r"\bwhen\b|\bfigures?\b|\bcasualt|\bestimate", re.I)
_SUFFIXES = ("ations", "ation", "ings", "ing", "edly", "ed", "ies", "es", "s", "ly")


def stem(word: str) -> str:
    w = word.lower()
    for suf in _SUFFIXES:
        if len(w) > len(suf) + 3 and w.endswith(suf):
            return w[: -len(suf)] + ("y" if suf == "ies" else "")
    return w


def stems(text: str) -> set[str]:
    return {stem(t) for t in query_terms(text)}


def numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}


def wants_number(question: str) -> bool:
    return bool(_NUMERIC_QUESTION.search(question))


def idf_weights(docs: Iterable[set[str]]) -> dict[str, float]:
    docs = list(docs)
    n = len(docs)
    df: dict[str, int] = {}
    for d in docs:
        for t in d:
            df[t] = df.get(t, 0) + 1
    return {t: math.log(1.0 + (n + 1) / (c + 0.5)) for t, c in df.items()}


def coverage(query: set[str], sentence: set[str], idf: dict[str, float]) -> float:
    """Share of the question's (IDF-weighted) content stems that the sentence contains."""
    if not query:
        return 0.0
    default = max(idf.values(), default=1.0)
    total = sum(idf.get(t, default) for t in query)
    return sum(idf.get(t, default) for t in query & sentence) / total if total else 0.0
