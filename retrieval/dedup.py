"""Exact and near-duplicate detection (pure).

Exact: a hash of the cleaned text. Near: MinHash over word-bigram shingles, so a lightly edited or
reworded republication is recognised without comparing it to every stored document; LSH bands give
the candidates, and the exact overlap coefficient of their shingle sets decides (>= 0.8 by default).
A copy that names someone or something, or gives a figure, that the earlier text never mentions says
something of its own (a templated brief about another town), so it is no copy.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Set as AbstractSet
from functools import lru_cache

import numpy as np

NUM_PERM = 128
BANDS = 32  # 32 bands x 4 rows: pairs with Jaccard >= ~0.5 share a band with high probability
ROWS = NUM_PERM // BANDS
_MERSENNE = np.uint64((1 << 61) - 1)
_rng = np.random.RandomState(1)  # fixed seed: signatures must be stable across processes
# multipliers over the full 61 bits (as datasketch): with small ones, a*x hardly wraps modulo p, every
# "permutation" orders the shingles alike, and the signature estimates Jaccard badly
_A = _rng.randint(1, (1 << 61) - 1, size=NUM_PERM, dtype=np.int64).astype(np.uint64)
_B = _rng.randint(0, (1 << 61) - 1, size=NUM_PERM, dtype=np.int64).astype(np.uint64)
_WORD = re.compile(r"\w+", re.UNICODE)


def content_hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


@lru_cache(maxsize=64)
def text_hash(text: str) -> str:
    """content_hash of a document text that citations point into: one question cites the same few
    texts again and again."""
    return content_hash(text)


def shingles(text: str, size: int = 2) -> set[str]:
    words = _WORD.findall(text.lower())
    if len(words) < size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def minhash(shingle_set: set[str]) -> np.ndarray:
    if not shingle_set:
        return np.full(NUM_PERM, np.iinfo(np.uint64).max, dtype=np.uint64)
    hv = np.array(
        [int.from_bytes(hashlib.blake2b(s.encode(), digest_size=4).digest(), "little") for s in shingle_set],
        dtype=np.uint64,
    )
    # (a*x + b) mod p, the product wrapping modulo 2^64 (numpy does not raise on array overflow)
    perm = (np.outer(hv, _A) + _B) % _MERSENNE
    return perm.min(axis=0).astype(np.uint64)


def band_keys(signature: np.ndarray) -> list[str]:
    return [
        f"{b}:" + hashlib.blake2b(signature[b * ROWS : (b + 1) * ROWS].tobytes(), digest_size=8).hexdigest()
        for b in range(BANDS)
    ]


# figures written as words: "eight weeks" for "six weeks" is another figure, as "8" for "6" is
_NUMBER_WORDS = frozenset(
    """zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred
    thousand million billion trillion dozen""".split()
)


def adds_names(text: str, earlier: str) -> bool:
    """Whether text holds a capitalised word or a figure (in digits or in words) that earlier never
    uses, in any case."""
    known = {w.lower() for w in _WORD.findall(earlier)}
    return any(
        (w[0].isupper() or w[0].isdigit() or w.lower() in _NUMBER_WORDS) and w.lower() not in known
        for w in _WORD.findall(text)
    )


def overlap(a: AbstractSet[str], b: AbstractSet[str]) -> float:
    """Overlap coefficient |A∩B| / min(|A|,|B|): a republication with a cut or an added paragraph
    still scores high, which Jaccard would not."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))
