"""The lexical side of hybrid search: BM25 over SQLite FTS5 (chromadb's local mode has no sparse index).

Query building is pure; the index itself lives in the catalog so that a document's chunks and its
lexical rows are written in the same SQLite transaction.
"""

from __future__ import annotations

import re

STOPWORDS = frozenset("""
a about above after again against all am an and any are aren't as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having
he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
nor not now of off on once only or other our ours ourselves out over own same she should so some such than
that the their theirs them themselves then there these they this those through to too under until up very
was we were what when where which while who whom why will with would you your yours yourself yourselves
did does say said says tell told according many much whose
""".split())

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def query_terms(text: str) -> list[str]:
    """Content words of a query, lower-cased, stopwords dropped, order kept, no repeats."""
    seen: dict[str, None] = {}
    for t in _TOKEN.findall(text.lower()):
        if t not in STOPWORDS and (len(t) > 1 or t.isdigit()):
            seen.setdefault(t, None)
    return list(seen)


def build_match_query(text: str) -> str | None:
    """An FTS5 MATCH expression: any of the query's content words (BM25 ranks those with more)."""
    terms = query_terms(text)
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
