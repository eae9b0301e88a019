"""The lexical side of hybrid search: BM25 over SQLite FTS5 (chromadb's local mode has no sparse index).

Query building is pure; the index itself lives in the catalog so that a document's chunks and its
lexical rows are written in the same SQLite transaction.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from itertools import chain

import Stemmer

STOPWORDS = frozenset(
    """
a about above after again against all am an and any are aren't as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having
he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
nor not now of off on once only or other our ours ourselves out over own same she should so some such than
that the their theirs them themselves then there these they this those through to too under until up very
was we were what when where which while who whom why will with would you your yours yourself yourselves
did does say said says tell told according many much whose
""".split()
)

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def is_content_word(word: str) -> bool:
    """A lower-cased token worth matching: not a stopword, not a lone letter (digits count)."""
    return word not in STOPWORDS and (len(word) > 1 or word.isdigit())


def query_terms(text: str) -> list[str]:
    """Content words of a query, lower-cased, stopwords dropped, order kept, no repeats."""
    return list(dict.fromkeys(t for t in _TOKEN.findall(text.lower()) if is_content_word(t)))


def build_match_query(text: str) -> str | None:
    """An FTS5 MATCH expression: any of the query's content-word stems (BM25 ranks those with more)."""
    return match_terms(list(dict.fromkeys(stem(t) for t in query_terms(text))))


def match_terms(terms: Sequence[str]) -> str | None:
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


# BM25 in FTS5 scores every posting of every query term (~0.4 us each here). Above this many postings
# the commonest terms are left out. Measured at 100k chunks (BENCHMARKS.md): a 25k budget halved the
# eval's hit@5 against the corpus's near-copies of the evidence (0.27 -> 0.14); 200k keeps it. The
# in-memory index (retrieval.bm25) spends the same budget on each term's highest-weighted postings.
POSTINGS_BUDGET = 200_000


def prune_terms(
    terms: Sequence[str], rows: dict[str, int], total: int, budget: int = POSTINGS_BUDGET
) -> list[str]:
    """The terms worth scoring, in query order: rarest first while their postings fit the budget.

    Exact where it matters: a term in more than half of the rows has zero weight in FTS5's BM25 (its
    IDF is clamped), so dropping it changes no score. Beyond that it is an approximation that only
    large corpora meet: the terms dropped are the commonest, the ones BM25 weighs least. The rarest
    matching term is always kept; terms no row contains cost nothing and are dropped.
    """
    present = [t for t in terms if rows.get(t, 0) > 0]
    if not present:
        return []
    useful = [t for t in present if 2 * rows[t] <= total] or [min(present, key=lambda t: rows[t])]
    kept: set[str] = set()
    spent = 0
    for t in sorted(useful, key=lambda t: rows[t]):
        if kept and spent + rows[t] > budget:
            break
        kept.add(t)
        spent += rows[t]
    return [t for t in terms if t in kept]


_SNOWBALL = Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)  # a corpus repeats its words: the re-ranker stems ~2,000 words a query
def stem(word: str) -> str:
    """The Snowball (Porter2) English stem: "captured"/"capture", "soldiers"/"soldier" meet."""
    return _SNOWBALL.stemWord(word.lower())


def analyze(text: str) -> str:
    """text as the keyword index stores it: content-word stems, space-separated. Both keyword paths
    (the in-memory BM25 and the catalog's FTS5, which filtered search uses) index and query exactly
    these terms, so a word matches the same way with or without a filter."""
    return " ".join(t for t in map(_content_stem, _TOKEN.findall(text.lower())) if t)


@lru_cache(maxsize=200_000)
def _content_stem(token: str) -> str:
    """The stem of a lower-cased token, or "" for a word not worth matching."""
    return stem(token) if is_content_word(token) else ""


def article_stems(text: str) -> frozenset[str]:
    """stems() of a whole article, not cached: articles would crowd out the sentences there."""
    return frozenset(analyze(text).split())


@lru_cache(maxsize=50_000)  # the same sentences come back in the candidates of related questions
def stems(text: str) -> frozenset[str]:
    # one cached lookup a token: the re-ranker stems ~120 new sentences a search when its chunks
    # are not in memory yet (measured 5.8 against 8.1 us a sentence for query_terms + stem)
    out = set(map(_content_stem, _TOKEN.findall(text.lower())))
    out.discard("")
    return frozenset(out)


def idf(count: int, n: int) -> float:
    """The weight of a stem held by count of n texts."""
    return math.log(1.0 + (n + 1) / (count + 0.5))


def idf_weights(docs: Iterable[frozenset[str]]) -> dict[str, float]:
    docs = list(docs)
    df = Counter(chain.from_iterable(docs))
    return {t: idf(c, len(docs)) for t, c in df.items()}


def coverage_scorer(query: frozenset[str], idf: dict[str, float]) -> Callable[[frozenset[str]], float]:
    """Share of the question's IDF-weighted content stems that a sentence contains, as a function of
    the sentence's stems; weights computed once per question and pool (a stem the pool lacks weighs
    as its rarest)."""
    default = max(idf.values(), default=1.0)
    weights = {t: idf.get(t, default) for t in query}
    total = sum(weights.values())
    if not total:
        return lambda sentence: 0.0
    return lambda sentence: sum(weights[t] for t in query & sentence) / total


# FTS5's bm25() parameters (its defaults, which the catalog's FTS5 queries use)
BM25_K1 = 1.2
BM25_B = 0.75


def bm25_idf(rows_with_term: int, rows: int) -> float:
    """FTS5's IDF: a term in more than half of the rows is clamped to ~0 rather than going negative."""
    return max(math.log((rows - rows_with_term + 0.5) / (rows_with_term + 0.5)), 1e-6)


def bm25_scores(
    postings: Iterable[tuple[str, str, int, int]], df: dict[str, int], rows: int, avg_length: float
) -> dict[str, float]:
    """{row: BM25} as FTS5's bm25() computes it (sign flipped: higher is better), from postings
    (row, term, term frequency in the row, the row's length in terms) and the whole index's
    statistics (rows with each term, rows, mean length): a filter narrows the rows scored, not the
    statistics, as in FTS5."""
    avg = avg_length or 1.0
    out: dict[str, float] = {}
    for row, term, tf, length in postings:
        norm = BM25_K1 * (1.0 - BM25_B + BM25_B * length / avg)
        out[row] = out.get(row, 0.0) + bm25_idf(df.get(term, 0), rows) * (tf * (BM25_K1 + 1.0)) / (tf + norm)
    return out
