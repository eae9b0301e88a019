"""Small pure helpers for the engines: figures in text, and questions that ask for one."""

from __future__ import annotations

import re

_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_NUMERIC_QUESTION = re.compile(
    r"\bhow (many|much|old|long)\b|\bnumber of\b|\bwhat (year|date|month|day|age)\b|"
    r"\bwhen\b|\bfigures?\b",
    re.I,
)


def numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}


def wants_number(question: str) -> bool:
    return bool(_NUMERIC_QUESTION.search(question))
