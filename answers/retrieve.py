"""One retrieval step, handed to either engine: the question made standalone, then hybrid search."""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import numpy as np

from answers.rewrite import as_question, rewrite_follow_up
from answers.people import holder_named
from retrieval.models import SearchHit, best_scores, hit_texts
from retrieval.search import Filters, Searcher


class Retrieval(NamedTuple):
    asked: str  # the message as typed, read with its "?" (as_question)
    query: str  # the standalone question (a follow-up resolved against the conversation)
    hits: list[SearchHit]


def cosines(searcher: Searcher, phrase: str, others: list[str]) -> list[float]:
    """The embedder's cosine of a phrase to each of others (answers/rewrite.py `swap`)."""
    vecs = [searcher.embed_query(t) for t in (phrase, *others)]
    unit = np.array([v / (np.linalg.norm(v) or 1.0) for v in vecs])
    return [float(c) for c in unit[1:] @ unit[0]]


def retrieve(
    searcher: Searcher,
    question: str,
    history: list[str],
    k: int,
    filters: Filters | None,
    person: str | None = None,
) -> Retrieval:
    """person: whom the previous turn's answer named, for a "he" or "she" (answers/rewrite.py).
    Every step reads the question as if typed with its "?" (docs/api.md: the punctuation changes no
    answer); a follow-up resolved to an earlier turn's words gets one too. A statement asked of a
    role ("What did the interior minister say ...?") is asked again of the name the retrieved
    articles give its holder (answers/people.py)."""
    asked = as_question(question)
    query = as_question(rewrite_follow_up(asked, history, person, partial(cosines, searcher)))
    hits = searcher.search(query, k, filters)
    named = holder_named(query, hit_texts(hits), best_scores(hits))
    if named != query:
        query, hits = named, searcher.search(named, k, filters)
    return Retrieval(asked, query, hits)
