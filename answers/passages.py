"""The retrieved text as the model sees it: numbered, delimited passages within a token budget.

A passage is a span of a cleaned document (offsets into its whole text), so whatever the model
quotes from it can be located in the document itself. Pure functions; no model is called here.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from retrieval.sentences import split_sentences
from retrieval.tokens import count_tokens


@dataclass(frozen=True)
class Passage:
    n: int
    document_id: str
    chunk_id: str
    title: str
    start: int
    end: int
    doc_text: str = field(repr=False)  # the whole cleaned document text: offsets refer to it

    @property
    def text(self) -> str:
        return self.doc_text[self.start : self.end]


_DELIMITER = re.compile(r"<(?=\s*/?\s*passage)", re.IGNORECASE)
# article text that looks like a sentence id ("[2.3]") could pass for one: it is shown as "(2.3]"
_ID_LIKE = re.compile(r"\[(?=\s*\d+\s*\.\s*\d+\s*\])")


def passage_sentences(p: Passage) -> list[tuple[str, int, int]]:
    """(id, start, end) of each sentence of the passage, id "n.k" for its k-th sentence."""
    return [
        (f"{p.n}.{k}", s.start, s.end) for k, s in enumerate(split_sentences(p.doc_text, p.start, p.end), 1)
    ]


def render_passage(p: Passage) -> str:
    """One delimited passage, a sentence a line, each after its id; article text cannot open or close
    a passage tag, nor write an id."""
    title = html.escape(" ".join(p.title.split()), quote=True)
    lines = (
        f"[{i}] " + _ID_LIKE.sub("(", _DELIMITER.sub("&lt;", " ".join(p.doc_text[a:b].split())))
        for i, a, b in passage_sentences(p)
    )
    return f'<passage n="{p.n}" title="{title}">\n' + "\n".join(lines) + "\n</passage>"


def render_passages(passages: list[Passage]) -> str:
    return "\n".join(render_passage(p) for p in passages)


def fit_passages(passages: list[Passage], budget: int) -> list[Passage]:
    """The highest-ranked passages whose rendering fits in `budget` tokens (lower ranks are dropped)."""
    out, used = [], 0
    for p in passages:
        cost = count_tokens(render_passage(p)) + 1
        if used + cost > budget:
            break
        out.append(p)
        used += cost
    return out


def group_passages(passages: list[Passage], budget: int) -> list[list[Passage]]:
    """Consecutive groups, each fitting in `budget` tokens (for map-reduce summaries)."""
    groups: list[list[Passage]] = [[]]
    used = 0
    for p in passages:
        cost = count_tokens(render_passage(p)) + 1
        if groups[-1] and used + cost > budget:
            groups.append([])
            used = 0
        groups[-1].append(p)
        used += cost
    return [g for g in groups if g]


def renumber(passages: list[Passage]) -> list[Passage]:
    return [
        Passage(i, p.document_id, p.chunk_id, p.title, p.start, p.end, p.doc_text)
        for i, p in enumerate(passages, start=1)
    ]
