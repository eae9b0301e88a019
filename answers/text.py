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


# Questions whose answer is a kind of statement their words do not name: "What did Doe predict
# about ...?" is answered by "there will undoubtedly be more", "Was the prisoner aware that ...?" by
# "he did not know he was in Freedonia". Each cue: (the question asks for it, a sentence states it).
ANSWER_CUES: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (  # a prediction: "what did X predict/expect ..."
        re.compile(
            r"^\W*what (?:did|does|do|has|have|had) [^?,]*?\b(?:predict|forecast|foresee|anticipate|expect)\b",
            re.I,
        ),
        re.compile(
            r"\b(?:will|won't|shall|going to|matter of time|bound to|(?:is|are) (?:expected|likely|set) to)\b"
            r"|\w'll\b",
            re.I,
        ),
    ),
    (  # what someone knew: "was X aware / did X know / realise that ..."
        re.compile(r"^\W*(?:was|were|did|had) [^?,]*?\b(?:aware|know|knew|reali[sz]e|understand)\b", re.I),
        re.compile(
            r"\b(?:knew|know|knows|known|aware|unaware|realis|realiz|understood|believed|thought|no idea)\w*",
            re.I,
        ),
    ),
)


def wanted_cues(question: str) -> list[re.Pattern[str]]:
    """The kinds of statement (ANSWER_CUES) that answer this question."""
    return [says for asks, says in ANSWER_CUES if asks.search(question)]


def states(cues: list[re.Pattern[str]], text: str) -> bool:
    return any(c.search(text) for c in cues)
