"""One retrieval step, handed to either engine: the question made standalone, then hybrid search."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from answers.rewrite import as_question, rewrite_follow_up
from retrieval.models import SearchHit
from retrieval.search import Filters, Searcher


@dataclass
class Retrieval:
    asked: str  # the message as typed
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
    """person: whom the previous turn's answer named, for a "he" or "she" (answers/rewrite.py)."""
    query = rewrite_follow_up(question, history, person, partial(cosines, searcher))
    return Retrieval(question, query, searcher.search(as_question(query), k, filters))
