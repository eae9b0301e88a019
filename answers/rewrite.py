"""Follow-up questions made self-contained before retrieval (offline heuristic; pure)."""

from __future__ import annotations

import re

from retrieval.lexical import query_terms

_REFERENCE = re.compile(
    r"\b(he|she|they|him|her|them|his|hers|their|theirs|it|its|that|this|those|these|"
    r"there|the same|the other|the two|the men|the soldier|the soldiers)\b",
    re.I,
)
_ELLIPTIC_START = re.compile(r"^\s*(and|but|so|also|what about|how about|then)\b", re.I)
_ENTITY = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][A-Za-z-]+|\b[A-Z]{2,}\b")


def is_follow_up(question: str) -> bool:
    has_entity = bool(_ENTITY.search(question.strip()))
    refers = bool(_REFERENCE.search(question))
    elliptic = bool(_ELLIPTIC_START.match(question))
    few_words = len(query_terms(question)) <= 3
    return (refers or elliptic or few_words) and not (has_entity and not refers)


def rewrite_follow_up(question: str, history: list[str]) -> str:
    """Append the previous question's content words the follow-up leaves implicit."""
    if not history or not is_follow_up(question):
        return question
    have = set(query_terms(question))
    carried = [t for t in query_terms(history[-1]) if t not in have]
    return f"{question} ({' '.join(carried)})" if carried else question
