"""What the ranker reads about each candidate sentence: a few measurements, none of them tied to a corpus.

Pure. The same function builds the features at serve time (the sentences of the retrieved chunks) and
in training (the sentences of a SQuAD article's best paragraphs), so the model sees at serve time
exactly what it learned from. A candidate is judged against its whole pool: a sentence that covers
the question well is worth less when another covers it better, and a question whose rare words
appear nowhere in the pool is likely unanswered by every sentence in it.

Word weights come from general English frequencies (wordfreq), not from the pool, so "hospital"
weighs the same whether or not the pool mentions it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from retrieval.lexical import STOPWORDS, stem, stems

# a word's Zipf frequency at or above this carries no weight ("the" is 7.7, "hospital" 5.1)
COMMON_ZIPF = 7.0

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|hundreds|thousand|thousands|million|millions|billion|billions|dozen|dozens|half|percent)\b",
    re.I,
)
_TIME = re.compile(
    r"\b(?:1[0-9]{3}|20[0-9]{2})\b|\b(?:january|february|march|april|may|june|july|august|september|"
    r"october|november|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|"
    r"yesterday|tomorrow|tonight|ago|century|decade|week|weeks|month|months|year|years|morning|"
    r"evening|night|earlier|later|since|until|during|before|after)\b|\d{1,2}:\d{2}",
    re.I,
)
_REASON = re.compile(
    r"\b(?:because|since|due|so|therefore|reason|reasons|caused|cause|led|result|order|amid|after|"
    r"aim|aimed|purpose|intended|meant|following|thanks|owing|response)\b",
    re.I,
)

# question type: the wh-word (and what follows it) says what kind of fact answers
QUESTION_TYPES = ("time", "number", "person", "place", "reason", "manner", "other")
_TYPE_OF = (
    (
        re.compile(r"\b(?:when|what (?:year|date|day|month|time)|which (?:year|date|day|month))\b", re.I),
        "time",
    ),
    (
        re.compile(
            r"\bhow (?:many|much|long|old|far|big|large|often)\b|\bwhat (?:percentage|number)\b", re.I
        ),
        "number",
    ),
    (re.compile(r"\b(?:who|whom|whose)\b", re.I), "person"),
    (re.compile(r"\bwhere\b", re.I), "place"),
    (re.compile(r"\bwhy\b", re.I), "reason"),
    (re.compile(r"\bhow\b", re.I), "manner"),
)

FEATURE_NAMES = (
    "dense",  # cosine of the question's and the sentence's vectors
    "dense_window",  # ... of the sentence with its neighbours (their mean vector)
    "dense_gap",  # dense minus the pool's best
    "dense_rank",  # 1 / (rank of dense in the pool + 1)
    "cover",  # share of the question's word weight the sentence holds
    "cover_window",  # ... the sentence with its neighbours
    "cover_gap",  # cover_window minus the pool's best
    "missing_window",  # weight of the rarest question word absent from the window (0..1)
    "missing_pool",  # weight of the rarest question word absent from the whole pool (0..1)
    "pool_dense_max",  # the pool's best dense
    "pool_cover_max",  # the pool's best cover_window
    "novel",  # share of the sentence's content words the question lacks
    "new_names",  # capitalised words or numbers the question lacks (capped, scaled)
    "type_found",  # the sentence holds the kind of fact the question asks for
    "type_found_window",
    "unit_rank",  # 1 / (rank of its chunk + 1)
    "first_in_unit",  # it opens its chunk
    "words",  # length, log-scaled
) + tuple(f"type_{t}" for t in QUESTION_TYPES)


@dataclass(frozen=True)
class Unit:
    """A retrieved chunk (or, in training, a paragraph): its sentences and their unit vectors."""

    sentences: Sequence[str]
    vectors: np.ndarray  # (sentences, dim)


@dataclass(frozen=True)
class QuestionTerms:
    kind: str
    weights: dict[str, float]  # content stem -> weight in 0..1


# one load of wordfreq's table: a warm-up thread (warm_word_weights) and a question may both ask first
_WORDFREQ_LOCK = threading.Lock()


@lru_cache(maxsize=100_000)
def _weight(word: str) -> float:
    """Rarer English words weigh more; a word wordfreq has never seen (a name) weighs most."""
    with _WORDFREQ_LOCK:
        # imported on first use: only the ranker needs it, and it costs every CLI call a third of a second
        from wordfreq import zipf_frequency

        zipf = zipf_frequency(word, "en")
    return max(0.0, COMMON_ZIPF - zipf) / COMMON_ZIPF


def warm_word_weights() -> None:
    """Load wordfreq's English table now (RankerEngine.warm), not when the first question needs it."""
    _weight("the")


def question_type(question: str) -> str:
    for pattern, kind in _TYPE_OF:
        if pattern.search(question):
            return kind
    return "other"


def question_terms(question: str) -> QuestionTerms:
    weights: dict[str, float] = {}
    for word in _WORD.findall(question.lower()):
        if word in STOPWORDS or (len(word) < 2 and not word.isdigit()):
            continue
        s = stem(word)
        weights[s] = max(weights.get(s, 0.0), _weight(word))
    return QuestionTerms(question_type(question), weights)


def _names_and_numbers(text: str) -> set[str]:
    """Capitalised words past the sentence's first, and numbers: the facts a sentence brings."""
    words = _WORD.findall(text)
    return {w.lower() for w in words[1:] if w[:1].isupper()} | {w for w in words if w[:1].isdigit()}


def holds_type(kind: str, text: str, question_words: frozenset[str]) -> bool:
    """Whether text holds a fact of the kind asked for (a year for "when", a count for "how many")."""
    if kind == "time":
        return bool(_TIME.search(text))
    if kind == "number":
        return bool(_NUMBER.search(text))
    if kind in ("person", "place"):
        return bool(_names_and_numbers(text) - question_words)
    if kind == "reason":
        return bool(_REASON.search(text))
    return False


def _cover(terms: QuestionTerms, held: frozenset[str]) -> tuple[float, float]:
    """(share of the question's weight held, weight of the heaviest question word not held)."""
    total = sum(terms.weights.values())
    if not total:
        return 0.0, 0.0
    got = sum(w for t, w in terms.weights.items() if t in held)
    missing = max((w for t, w in terms.weights.items() if t not in held), default=0.0)
    return got / total, missing


def features(
    question: str, q_vec: np.ndarray, units: Sequence[Unit]
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """One row of FEATURE_NAMES for every sentence of every unit (units in retrieval order), and
    (unit, sentence) for each row."""
    terms = question_terms(question)
    q_words = frozenset(w.lower() for w in _WORD.findall(question))
    q_stems = frozenset(terms.weights)
    index = [(u, i) for u, unit in enumerate(units) for i in range(len(unit.sentences))]
    if not index:
        return np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32), index
    rows = []
    pool_stems: set[str] = set()
    for u, unit in enumerate(units):
        vecs = np.asarray(unit.vectors, dtype=np.float32)
        dense = vecs @ q_vec
        sent_stems = [stems(s) for s in unit.sentences]
        n = len(unit.sentences)
        for i, sentence in enumerate(unit.sentences):
            lo, hi = max(0, i - 1), min(n, i + 2)
            window_vec = vecs[lo:hi].mean(axis=0)
            window_vec = window_vec / (np.linalg.norm(window_vec) or 1.0)
            window_stems = frozenset().union(*sent_stems[lo:hi])
            window_text = " ".join(unit.sentences[lo:hi])
            pool_stems |= sent_stems[i]
            cover, _ = _cover(terms, sent_stems[i])
            cover_w, missing_w = _cover(terms, window_stems)
            words = _WORD.findall(sentence)
            content = sent_stems[i]
            rows.append(
                [
                    float(dense[i]),
                    float(window_vec @ q_vec),
                    0.0,  # dense_gap, below
                    0.0,  # dense_rank, below
                    cover,
                    cover_w,
                    0.0,  # cover_gap, below
                    missing_w,
                    0.0,  # missing_pool, below
                    0.0,  # pool_dense_max
                    0.0,  # pool_cover_max
                    len(content - q_stems) / len(content) if content else 0.0,
                    min(len(_names_and_numbers(sentence) - q_words), 5) / 5,
                    float(holds_type(terms.kind, sentence, q_words)),
                    float(holds_type(terms.kind, window_text, q_words)),
                    1.0 / (u + 1),
                    float(i == 0),
                    float(np.log1p(len(words)) / 4),
                ]
                + [float(terms.kind == t) for t in QUESTION_TYPES]
            )
    x = np.asarray(rows, dtype=np.float32)
    _, missing_pool = _cover(terms, frozenset(pool_stems))
    dense_col, cover_w_col = x[:, 0], x[:, 5]
    order = np.argsort(-dense_col, kind="stable")
    rank = np.empty(len(order), dtype=np.float32)
    rank[order] = np.arange(len(order), dtype=np.float32)
    x[:, 2] = dense_col - dense_col.max()
    x[:, 3] = 1.0 / (rank + 1)
    x[:, 6] = cover_w_col - cover_w_col.max()
    x[:, 8] = missing_pool
    x[:, 9] = dense_col.max()
    x[:, 10] = cover_w_col.max()
    return x, index
