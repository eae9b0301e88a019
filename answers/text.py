"""Small pure helpers for the engines: figures in text, and questions that ask for one."""

from __future__ import annotations

import re

_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_NUMERIC_QUESTION = re.compile(
    r"\bhow (many|much|old|long)\b|\bnumber of\b|\bwhat (year|date|month|day|age)\b|"
    r"\bwhen\b|\bfigures?\b",
    re.I,
)


_COUNT_QUESTION = re.compile(
    r"\bhow (many|much|old|long)\b|\b(what|which) (number|percentage|share|amount|age)\b", re.I
)
_DATE_QUESTION = re.compile(
    r"^\W*(since )?when\b|\bwhen (did|was|were|will|is|are|do|does|had|has)\b|"
    r"\b(what|which) (date|day|year|month)\b",
    re.I,
)
_NUMBER_WORDS = re.compile(
    r"\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|hundreds?|"
    r"thousands?|millions?|billions?|several|half|first|second|third)\b",
    re.I,
)
_DATE_WORDS = re.compile(
    r"\b(january|february|march|april|may|june|july|august|september|october|november|"
    r"december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|monday|tuesday|wednesday|"
    r"thursday|friday|saturday|sunday|today|yesterday|tomorrow|week|month|year|spring|summer|"
    r"autumn|fall|winter|earlier|later|ago|since)\b",
    re.I,
)


def answer_type(question: str) -> str | None:
    """ "count" or "date" when the question asks for one (answer-type checking, as classic QA does)."""
    if _COUNT_QUESTION.search(question):
        return "count"
    if _DATE_QUESTION.search(question):
        return "date"
    return None


def has_answer_type(sentence: str, kind: str | None) -> bool:
    if kind is None:
        return True
    if kind == "count":
        return bool(_NUMBER.search(sentence) or _NUMBER_WORDS.search(sentence))
    return bool(_NUMBER.search(sentence) or _DATE_WORDS.search(sentence))


def numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}


def wants_number(question: str) -> bool:
    return bool(_NUMERIC_QUESTION.search(question))
