"""A question of several parts, as its parts (pure).

"How many phones received the alert, and how many people work at the factory?" asks two things. Read
against the whole question, the reader scores the second part's sentence far below the first's (it
sees one question, mostly answered), so the answer keeps one part. Each part is read as a question of
its own as well (answers/engine.py), and a sentence counts by its best reading.
"""

from __future__ import annotations

import re

from answers.rewrite import WH_WORDS, resolve

# what a question (or one of its parts) opens with: a question word or an auxiliary
_WH = rf"(?:{'|'.join(sorted(WH_WORDS))})\b"
_OPENER = rf"(?:{_WH}|(?:did|does|do|is|are|was|were|has|have|had|will|would|can|could|should)\b)"
# a break before a new question: ", and how many ...", "; who ...", "? When ..."; after a bare comma
# only a question word ("Why, according to the union, is the plant ...?" is one question)
_BREAK = re.compile(rf"(?:,?\s+(?:and|but)\s+|\s*[;?]\s+)(?={_OPENER})|,\s+(?={_WH})", re.I)
_OPENS = re.compile(rf"^\s*{_OPENER}", re.I)
MIN_WORDS = 3  # "and why?", "and how?" are no part of their own: they ask about the same sentence


def question_parts(question: str) -> list[str]:
    """The question's parts, each a question of its own, the later ones made standalone against the
    first ("... and how many customers had paid to fly them?": "them" is the first part's subject);
    [question] when it has one part."""
    pieces = [p.strip(" ,;?") for p in _BREAK.split(question.strip())]
    if len(pieces) < 2 or any(len(p.split()) < MIN_WORDS or not _OPENS.match(p) for p in pieces):
        return [question]
    first = pieces[0] + "?"
    return [first] + [resolve(p + "?", first) or p + "?" for p in pieces[1:]]
