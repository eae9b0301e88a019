"""Candidate sentences for the reader: the retrieved sentences, each with its neighbours and title.

The reader judges a sentence in context ("He said ..." needs the sentence before it to say who),
so each candidate carries the sentences right before and after it in its article.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from answers.reader import Passage
from answers.wording import TermRows, find_copies
from retrieval.search import SentenceHit
from retrieval.dedup import text_hash
from retrieval.sentences import is_headline, split_sentences, whole_text

MIN_WORDS = 4  # a heading or a dateline is no answer
NEIGHBOUR_CHARS = 600  # how far around a sentence its neighbours are looked for


@dataclass
class Candidate:
    document_id: str
    chunk_id: str
    title: str
    start: int
    end: int
    text: str  # always the document's text[start:end]
    duplicate_of: str | None
    passage: Passage
    retrieval_score: float
    content_hash: str  # of the document text it was read in
    probability: float = 0.0  # the reader's


def _neighbours(text: str, start: int, end: int) -> tuple[str, str]:
    """The sentence before and the sentence after text[start:end]."""
    lo = max(0, start - NEIGHBOUR_CHARS)
    before = [s for s in split_sentences(text, lo, start) if s.end <= start]
    hi = min(len(text), end + NEIGHBOUR_CHARS)
    after = [s for s in split_sentences(text, end, hi) if s.start >= end]
    return (
        text[before[-1].start : before[-1].end] if before else "",
        text[after[0].start : after[0].end] if after else "",
    )


def candidates(sentences: list[SentenceHit], texts: dict[str, str]) -> list[Candidate]:
    """One candidate a distinct sentence, in the order given (best retrieval score first)."""
    seen: set[tuple[str, int]] = set()
    out = []
    for s in sentences:
        h = s.hit
        text = texts.get(h.document_id)
        if text is None or (h.document_id, s.start) in seen:
            continue
        sentence = text[s.start : s.end]
        if len(sentence.split()) < MIN_WORDS or (
            is_headline(sentence, h.title) and not whole_text(text, s.start, s.end)
        ):
            continue
        seen.add((h.document_id, s.start))
        out.append(
            Candidate(
                h.document_id,
                h.chunk_id,
                h.title,
                s.start,
                s.end,
                sentence,
                h.duplicate_of,
                reader_passage(text, s.start, s.end, h.title),
                s.score,
                text_hash(text),
            )
        )
    return out


def reader_passage(text: str, start: int, end: int, title: str) -> Passage:
    """text[start:end] as the reader reads a sentence: with its neighbours and its article's title
    (none when the title is that sentence, an untitled one-line article's: repeated, it tells the
    reader nothing and lowers its score)."""
    before, after = _neighbours(text, start, end)
    sentence = text[start:end]
    return Passage(sentence, before, after, "" if is_headline(sentence, title) else title)


def mark_reworded_copies(
    cands: list[Candidate], vecs: np.ndarray, same_above: float, texts: dict[str, str], term_rows: TermRows
) -> np.ndarray:
    """Which candidates say the same thing (compose's grouping): their vectors' cosine reaches
    same_above and their figures agree, or one is a machine-reworded copy's sentence and the other
    the source sentence it rewords (answers/wording.py). A candidate from a copy is also marked a copy of its source
    (`duplicate_of`), as a near-duplicate is, so the answer shows the source's wording."""
    same, copy_of = find_copies(
        [(c.document_id, c.start) for c in cands], vecs, same_above, texts, term_rows, [c.text for c in cands]
    )
    for c in cands:
        if c.duplicate_of is None and c.document_id in copy_of:
            c.duplicate_of = copy_of[c.document_id]
    return same
