"""One retrieval step, handed to either engine: the question made standalone, then hybrid search."""

from __future__ import annotations

from dataclasses import dataclass

from answers.rewrite import rewrite_follow_up
from retrieval.models import SearchHit
from retrieval.search import Filters, Searcher


@dataclass
class Retrieval:
    asked: str  # the message as typed
    query: str  # the standalone question (a follow-up resolved against the conversation)
    hits: list[SearchHit]


def retrieve(
    searcher: Searcher,
    question: str,
    history: list[str],
    k: int,
    filters: Filters | None,
    person: str | None = None,
) -> Retrieval:
    """person: whom the previous turn's answer named, for a "he" or "she" (answers/rewrite.py)."""
    query = rewrite_follow_up(question, history, person)
    return Retrieval(question, query, searcher.search(query, k, filters))
