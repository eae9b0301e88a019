"""Which of two articles is a machine-reworded copy of the other (pure).

A reworded copy keeps its source's sentences one for one but swaps ordinary words for rarer
synonyms ("stated" for "said", "folks" for "people", "tribulation" for "trial"). So two articles
are source and copy when most of the shorter one's sentences have a mutual best match in the other
by word overlap; and across those matched pairs, the copy's own words (those its match does not
use) are the rarer ones in the corpus. A function word counts as held by every chunk; a content
word by as many chunks as the keyword index says hold its stem. A bag-of-words near-duplicate check
(retrieval/dedup.py) misses such copies: too many words differ.

Measured on the written clusters in training/data/news (h12-h17, h20-h31; no evaluation set), with
word counts from each file's nine articles: 36 of 36 copies found, 36 of 36 the right way round,
and none of the 552 other article pairs related (at most 16% of sentences matched).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from text_to_num import alpha2digit

from retrieval.lexical import is_content_word, stem
from retrieval.sentences import split_sentences

# (rows holding each stem, rows in all): Searcher.term_rows
TermRows = Callable[[Iterable[str]], tuple[dict[str, int], int]]

MIN_OVERLAP = 0.3  # Jaccard of two sentences' words for them to count as one sentence reworded
MIN_SHARE = 0.4  # of the shorter article's sentences matched; unrelated reports of one event: <= 0.16
MIN_PAIRS = 3

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_FIGURE = re.compile(r"\d(?:[\d,.]*\d)?")
_VAGUE = re.compile(r"\b(?:tens|dozens|hundreds|thousands|millions|billions)\b", re.IGNORECASE)
_SPELLED_FIGURE = re.compile(r"\d(?:[\d,.]*\d)?(?![^\W\d_])")  # not an ordinal text2num wrote ("2nd")
# a whole number in digits before a word of magnitude ("62 million", "3 hundred and forty"): text2num
# reads the two apart ("62 1000000"), so the digits are spelled out first and read with the words
_BEFORE_MAGNITUDE = re.compile(
    r"(?<![\d.,])(\d{1,3})(?=\s+(?:hundred|thousand|million|billion|trillion)\b)", re.IGNORECASE
)
_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen \
sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_FUNCTION = "#"  # marks a function word among the stems


def words(text: str) -> frozenset[str]:
    """The content stems of text, and its function words (marked), lower-cased."""
    return frozenset(stem(t) if is_content_word(t) else _FUNCTION + t for t in _TOKEN.findall(text.lower()))


# a sentence's names by their slot: (the word before, the word after) -> the names found there
Names = dict[tuple[str | None, str | None], frozenset[str]]


def names(text: str) -> Names:
    """A sentence's names (runs of capitalised words, lower-cased) by their slot: the words just before
    and after them. Its first word alone is left out: every sentence starts with a capital."""
    tokens = _TOKEN.findall(text)
    slots: dict[tuple[str | None, str | None], set[str]] = {}
    i = 0
    while i < len(tokens):
        if not tokens[i][0].isupper():
            i += 1
            continue
        end = i
        while end < len(tokens) and tokens[end][0].isupper():
            end += 1
        if end - i > 1 or i > 0:
            before = tokens[i - 1].lower() if i else None
            after = tokens[end].lower() if end < len(tokens) else None
            slots.setdefault((before, after), set()).add(" ".join(tokens[i:end]).lower())
        i = end
    return {slot: frozenset(found) for slot, found in slots.items()}


def other_names(a: Names, b: Names, beside: bool = True) -> bool:
    """Whether two sentences put different names in the same place: in the same slot ("in Brixham
    opened" and "in Corwen opened"), or beside the same word ("by Thursday, a" and "by Tuesday
    evening"; "spokesman, Piet Arendse, said" and "spokeswoman, Dana Kiel, said") when neither
    name is anywhere in the other sentence: then they report two facts. Names in unrelated places
    (one says "Interpol", the other "the police agency in Lyon") may still be one statement's."""

    def words_of(found: Iterable[str]) -> set[str]:
        return {w for name in found for w in name.split()}

    words_a = words_of(n for found in a.values() for n in found)
    words_b = words_of(n for found in b.values() for n in found)
    for (before, after), found in a.items():
        if (before, after) == (None, None):
            continue
        for (before_b, after_b), found_b in b.items():
            if found & found_b:
                continue
            if (before, after) == (before_b, after_b):
                return True
            # beside the same word, and sharing no word with any of the other's names ("Los Angeles
            # jury" and "Los Angeles County Superior Court jury" are one jury)
            near = (before is not None and before == before_b) or (after is not None and after == after_b)
            if beside and near and not words_of(found) & words_b and not words_of(found_b) & words_a:
                return True
    return False


def agree(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two sentences' figures can be one statement's: one's are all among the other's."""
    return a <= b or b <= a


@dataclass(frozen=True)
class Sentences:
    """An article's sentences: their starts in its text, their words(), names() and figures()."""

    starts: tuple[int, ...]
    words: tuple[frozenset[str], ...]
    names: tuple[Names, ...] = ()
    figures: tuple[frozenset[str], ...] = ()


@lru_cache(maxsize=256)  # the same articles come back for related questions
def article_sentences(text: str) -> Sentences:
    spans = split_sentences(text)
    return Sentences(
        tuple(s.start for s in spans),
        tuple(words(text[s.start : s.end]) for s in spans),
        tuple(names(text[s.start : s.end]) for s in spans),
        tuple(figures(text[s.start : s.end]) for s in spans),
    )


def commonness(own: Iterable[str], rows: dict[str, int], total: int) -> float | None:
    """Mean log chunk count of the words (None for no words)."""
    counts = [total if w.startswith(_FUNCTION) else rows.get(w, 0) for w in own]
    return sum(math.log1p(c) for c in counts) / len(counts) if counts else None


def aligned_pairs(a: Sequence[frozenset[str]], b: Sequence[frozenset[str]]) -> list[tuple[int, int]]:
    """Sentence pairs (i of a, j of b) that are each other's best match by word overlap (Jaccard;
    the first on a tie), with overlap >= MIN_OVERLAP."""
    if not a or not b:
        return []
    vocab: dict[str, int] = {}
    for sentence in (*a, *b):
        for w in sentence:
            vocab.setdefault(w, len(vocab))

    def incidence(sentences: Sequence[frozenset[str]]) -> np.ndarray:
        m = np.zeros((len(sentences), len(vocab)), dtype=np.float32)
        for i, sentence in enumerate(sentences):
            m[i, [vocab[w] for w in sentence]] = 1.0
        return m

    ma, mb = incidence(a), incidence(b)
    inter = ma @ mb.T
    union = ma.sum(axis=1)[:, None] + mb.sum(axis=1)[None, :] - inter
    jaccard = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    best_b, best_a = jaccard.argmax(axis=1), jaccard.argmax(axis=0)
    return [(i, int(j)) for i, j in enumerate(best_b) if best_a[j] == i and jaccard[i, j] >= MIN_OVERLAP]


def reworded_copy(
    a: Sentences, b: Sentences, term_rows: TermRows
) -> tuple[int, list[tuple[int, int]]] | None:
    """(0 when article a is a reworded copy of b, 1 when b is of a; their aligned sentence pairs whose
    figures agree), or None. A reworder swaps words but keeps names and figures (it may spell a
    number out, which figures() reads), so aligned sentences that put different names in one slot,
    or state other figures, do not count towards calling b a's source: briefs from one template about
    two towns, or pages of one template about seven sections and their costs, are separate reports.
    (Of a copy found, a pair with other names is still joined: a reworder mangles names; one with
    other figures is not: it states another fact.)"""
    pairs = [(i, j) for i, j in aligned_pairs(a.words, b.words) if agree(a.figures[i], b.figures[j])]
    agreeing = sum(not other_names(a.names[i], b.names[j]) for i, j in pairs)
    if agreeing < MIN_PAIRS or agreeing < MIN_SHARE * min(len(a.words), len(b.words)):
        return None
    own = [(a.words[i] - b.words[j], b.words[j] - a.words[i]) for i, j in pairs]
    stems = {w for x, y in own for w in x | y if not w.startswith(_FUNCTION)}
    rows, total = term_rows(sorted(stems))
    votes = 0
    for x, y in own:
        ca, cb = commonness(x, rows, total), commonness(y, rows, total)
        if ca is not None and cb is not None and ca != cb:
            votes += 1 if ca > cb else -1
    return None if votes == 0 else (1 if votes > 0 else 0, pairs)


def figures(text: str) -> frozenset[str]:
    """The numbers in text, thousands separators dropped ("2,700" -> "2700"), in digits or in words
    ("nine boats" -> "9", "two thousand" -> "2000"; by text2num). A lone "one" ("no one", "one of
    them"), ordinals in words ("a second soldier") and "thousands" are not counted: mostly they are
    no figure."""
    digits = _FIGURE.findall(text)
    words_for_digits = _BEFORE_MAGNITUDE.sub(lambda m: spelled_out(int(m.group(1))), _VAGUE.sub(" ", text))
    spelled = _SPELLED_FIGURE.findall(alpha2digit(words_for_digits, "en", threshold=2))
    return frozenset(m.replace(",", "") for m in (*digits, *spelled))


def spelled_out(n: int) -> str:
    """0-999 in words ("sixty-two", "three hundred forty")."""
    if n >= 100:
        rest = n % 100
        return f"{_ONES[n // 100]} hundred" + (f" {spelled_out(rest)}" if rest else "")
    if n < 20:
        return _ONES[n]
    return _TENS[n // 10 - 2] + (f"-{_ONES[n % 10]}" if n % 10 else "")


def restatements(
    vecs: np.ndarray,
    sentences: Sequence[str],
    same_above: float,
    close: np.ndarray | None = None,
    beside: bool = True,
) -> np.ndarray:
    """same[i, j]: sentences i and j (unit vectors vecs) say the same thing: their cosine reaches
    same_above (close, when the caller has it) and their figures agree, every number of one among the
    other's, and neither puts another name where the other has one (other_names). Reports of two
    bridges "after 10 months" and "after 20 months", or of the bridges in two towns, are two facts,
    however close their vectors. beside: names beside the same word count too (other_names); a
    summary, which shows one sentence of each group and cites none as support for another, leaves
    them out (measured: with them, its groups change and a key fact of evals/summaries.yaml is lost)."""
    same = (vecs @ vecs.T >= same_above) if close is None else close.copy()
    figs = [figures(t) for t in sentences]
    named = [names(t) for t in sentences]
    for i, j in zip(*np.nonzero(same)):
        if i < j and (not agree(figs[i], figs[j]) or other_names(named[i], named[j], beside)):
            same[i, j] = same[j, i] = False
    return same


def find_copies(
    keys: Sequence[tuple[str, int]],
    vecs: np.ndarray,
    same_above: float,
    texts: Mapping[str, str],
    term_rows: TermRows,
    sentences: Sequence[str],
    beside: bool = True,
) -> tuple[np.ndarray, dict[str, str]]:
    """(same, {copy's document id: its source's}) for some sentences (keys: document id, start; vecs:
    their unit vectors; sentences: their text). same[i, j]: sentences i and j say the same thing
    (restatements()), or one is a copy's sentence and the other the source sentence it rewords,
    however far apart their vectors or their figures (a copy spells numbers out). Only documents with
    a pair of sentences whose cosine reaches same_above are compared."""
    close = vecs @ vecs.T >= same_above
    same = restatements(vecs, sentences, same_above, close, beside)
    docs = [d for d, _ in keys]
    pairs = {
        (docs[i], docs[j]) if docs[i] < docs[j] else (docs[j], docs[i])
        for i, j in zip(*np.nonzero(close))
        if docs[i] != docs[j] and docs[i] in texts and docs[j] in texts
    }
    at = {key: k for k, key in enumerate(keys)}
    copy_of: dict[str, str] = {}
    for a, b in sorted(pairs):
        sa, sb = article_sentences(texts[a]), article_sentences(texts[b])
        found = reworded_copy(sa, sb, term_rows)
        if found is None:
            continue
        which, aligned = found
        copy, source = (a, b) if which == 0 else (b, a)
        copy_of.setdefault(copy, source)
        for i, j in aligned:
            x, y = at.get((a, sa.starts[i])), at.get((b, sb.starts[j]))
            if x is not None and y is not None:
                same[x, y] = same[y, x] = True
    return same, copy_of
