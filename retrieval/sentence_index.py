"""Every sentence vector of the corpus, in memory: the sentence side of search.

A chunk's vector blurs its facts; a one-line answer inside a long chunk can miss the dense top
candidates and the keyword ones alike. Searching the sentence vectors (computed at ingest, read from
the embedding cache) finds the chunk by that sentence. Kept in step with the catalog as the BM25
index is (bm25.LexicalIndex): before a search, a changed catalog's committed chunk keys are diffed
against the rows held; a snapshot spares a new process reading them all again. Held as sign bits
and int8 numbers, ~440 bytes a sentence against 1,536 as float32: a search passes over every row's
bits and rescores a few thousand (SentenceMatrix). Its time still grows with the corpus, so past
`max_chunks` chunks the side is left out. A filtered search reads only the rows of the documents
its filter keeps.
"""

from __future__ import annotations

import logging
import threading
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path

import numpy as np

from retrieval.catalogs import AnyCatalog
from retrieval.embed import CachedEmbedder
from retrieval.npz import NpzArchive, save_arrays

log = logging.getLogger("factdesk.search")

# rows whose int8 numbers a search reads (SentenceMatrix): RESCORE_ROWS, or one in RESCORE_SHARE of the
# rows when that is more; past it the sign bits choose which (recall against exact search and cost:
# BENCHMARKS.md, "The sentence side of search")
RESCORE_ROWS = 4096
RESCORE_SHARE = 64
SNAPSHOT_VERSION = 3  # 2: stamped with the catalog's identity; 3: caseless scripts' and CJK sentences
SNAPSHOT_AFTER = 2000  # chunks added or removed by a sync before the snapshot is rewritten

SpanBatches = Iterable[tuple[str, str, Sequence[tuple[str, int, int]]]]


class SentenceMatrix:
    """Sentence vectors held compactly, each row labelled with its chunk's key and document (pure: no
    catalog). A row is kept twice over, both small: its sign bits (48 bytes for MiniLM's 384 numbers)
    for a coarse pass by Hamming distance, and its numbers as int8 with one scale (384 bytes) to
    rescore the rows that pass; float32 rows would take 3.5 times the memory. A search reads the bits
    of every row but the numbers of only a few thousand (rescored_rows)."""

    def __init__(self, dim: int | None = None, rescore: int = RESCORE_ROWS) -> None:
        self.rescore = rescore
        self._dim = dim or 0
        self._codes = np.zeros((_words(self._dim), 0), dtype=np.uint64)  # column-major: a word of every row
        self._numbers = np.zeros((0, self._dim), dtype=np.int8)
        self._scale = np.zeros(0, dtype=np.float32)
        self._keys: list[str] = []
        self._alive = np.zeros(0, dtype=bool)
        self._rows: dict[str, range] = {}  # chunk key -> its rows (a chunk's rows are consecutive)
        self._doc_codes: dict[str, int] = {}  # document id -> a number, for filtering rows by document
        self._doc_of_row = np.zeros(0, dtype=np.int32)

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def rows(self) -> int:
        return int(self._alive.sum())

    @property
    def ids(self) -> set[str]:
        return set(self._rows)

    @property
    def nbytes(self) -> int:
        """Memory held by the rows' arrays (not the keys)."""
        arrays = (self._codes, self._numbers, self._scale, self._alive, self._doc_of_row)
        return sum(a.nbytes for a in arrays)

    def add(self, items: Iterable[tuple[str, str, np.ndarray]]) -> None:
        """(chunk key, its document's id, its sentences' unit vectors); a key already held is replaced.
        Each chunk is packed as it arrives: float32 rows are never all held at once."""
        keys, codes, numbers, scales, docs = [], [], [], [], []
        for key, doc, vectors in items:
            if key in self._rows:
                self.remove([key])
            v = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
            if not self._dim:
                self._dim = v.shape[1]
                self._codes = np.zeros((_words(self._dim), 0), dtype=np.uint64)
                self._numbers = np.zeros((0, self._dim), dtype=np.int8)
            if v.shape[1] != self._dim:
                raise ValueError("sentence vectors of another dimension")
            keys.append((key, len(v)))
            codes.append(_sign_codes(v))
            n, s = _int8_rows(v)
            numbers.append(n)
            scales.append(s)
            code = self._doc_codes.setdefault(doc, len(self._doc_codes))
            docs.append(np.full(len(v), code, dtype=np.int32))
        if not keys:
            return
        first = len(self._keys)
        self._codes = np.concatenate([self._codes, *codes], axis=1)
        self._numbers = np.concatenate([self._numbers, *numbers])
        self._scale = np.concatenate([self._scale, *scales])
        self._alive = np.concatenate([self._alive, np.ones(len(self._scale) - first, dtype=bool)])
        self._doc_of_row = np.concatenate([self._doc_of_row, *docs])
        for key, n_rows in keys:
            self._rows[key] = range(first, first + n_rows)
            self._keys.extend([key] * n_rows)
            first += n_rows

    def remove(self, keys: Iterable[str]) -> None:
        for key in keys:
            rows = self._rows.pop(key, None)
            if rows:
                self._alive[rows.start : rows.stop] = False
        if len(self._alive) > 1024 and self._alive.sum() < len(self._alive) // 2:
            self._compact()

    def _compact(self) -> None:
        keep = np.flatnonzero(self._alive)
        self._codes = np.ascontiguousarray(self._codes[:, keep])
        self._numbers = self._numbers[keep]
        self._scale = self._scale[keep]
        self._keys = [self._keys[i] for i in keep]
        self._doc_of_row = self._doc_of_row[keep]
        self._alive = np.ones(len(keep), dtype=bool)
        self._rows = _ranges(self._keys)

    def search(
        self, query: np.ndarray, n: int, documents: AbstractSet[str] | None = None
    ) -> list[tuple[str, float]]:
        """[(chunk key, its best sentence's cosine)] for the chunks of the n sentences nearest the
        query, best first; only sentences of `documents` when given (a filtered search). Exact up to
        int8 rounding while every eligible row is rescored; past that, the rows rescored are those
        nearest by Hamming distance of the sign bits."""
        if not self._rows or n <= 0:
            return []
        eligible = self._alive
        if documents is not None:
            codes = [self._doc_codes[d] for d in documents if d in self._doc_codes]
            eligible = eligible & np.isin(self._doc_of_row, np.asarray(codes, dtype=np.int32))
        q = np.asarray(query, dtype=np.float32)
        rows = self.rescored_rows(q, eligible)
        n = min(n, len(rows))
        if n == 0:
            return []
        sims = (self._numbers[rows].astype(np.float32) @ q) * self._scale[rows]
        # ties (one sentence in several articles) are broken by key, not by row: rows are in the order
        # this process happened to add chunks, and replicas over the same stores must rank alike
        nth = np.partition(sims, len(sims) - n)[len(sims) - n]
        top = sorted(np.flatnonzero(sims >= nth), key=lambda i: (-sims[i], self._keys[rows[i]], rows[i]))[:n]
        out: dict[str, float] = {}
        for i in top:
            out.setdefault(self._keys[rows[i]], float(sims[i]))
        return list(out.items())

    # ---- snapshot: a new process loads this instead of reading every sentence vector again ----
    def save(self, path: Path, model: str, catalog: str) -> None:
        """Write the live rows to `path` (atomically), stamped with the embedding model's name and
        the identity of the catalog they were read from (Catalog.identity)."""
        if not self._alive.all():
            self._compact()
        docs = {code: doc for doc, code in self._doc_codes.items()}
        firsts = [rows.start for rows in self._rows.values()]
        save_arrays(
            path,
            version=np.array([SNAPSHOT_VERSION]),
            model=np.array([model]),
            catalog=np.array([catalog]),
            keys=np.array(list(self._rows), dtype=str),
            counts=np.array([len(rows) for rows in self._rows.values()], dtype=np.int32),
            docs=np.array([docs[int(self._doc_of_row[i])] for i in firsts], dtype=str),
            codes=self._codes,
            numbers=self._numbers,
            scale=self._scale,
        )

    @classmethod
    def load(cls, path: Path, model: str, catalog: str) -> SentenceMatrix | None:
        """The saved rows, or None when there are none usable (another model's, another catalog's,
        another format, or a damaged file): the caller reads the vectors from the embedding cache
        instead."""
        try:
            with NpzArchive(path) as z:
                stamp = (z["model"].tolist(), z["catalog"].tolist())
                if int(z["version"][0]) != SNAPSHOT_VERSION or stamp != ([model], [catalog]):
                    return None
                keys, docs, counts = z["keys"].tolist(), z["docs"].tolist(), z["counts"]
                codes, numbers, scale = z["codes"], z["numbers"], z["scale"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            return None
        rows = len(scale)
        fits = (
            len(keys) == len(docs) == len(counts) == len(set(keys))
            and (counts > 0).all()
            and int(counts.sum()) == rows
            and numbers.dtype == np.int8
            and numbers.ndim == 2
            and numbers.shape[0] == rows
            and codes.dtype == np.uint64
            and codes.shape == (_words(numbers.shape[1]), rows)
        )
        if not fits:
            return None
        m = cls(dim=numbers.shape[1])
        m._codes, m._numbers, m._scale = codes, numbers, scale.astype(np.float32)
        m._alive = np.ones(rows, dtype=bool)
        m._keys = [key for key, n in zip(keys, counts.tolist()) for _ in range(n)]
        m._rows = _ranges(m._keys)
        codes_of = [m._doc_codes.setdefault(doc, len(m._doc_codes)) for doc in docs]
        m._doc_of_row = np.repeat(np.asarray(codes_of, dtype=np.int32), counts)
        return m

    def rescored_rows(self, query: np.ndarray, eligible: np.ndarray) -> np.ndarray:
        """The eligible rows a search rescores: all of them up to the budget, else the budget's worth
        nearest by Hamming distance (with any tied at the cutoff distance). The budget is `rescore`
        rows or one in RESCORE_SHARE of the eligible ones, the larger: the rows that beat a true
        neighbour on sign bits alone grow with the rows there are."""
        count = int(eligible.sum())
        budget = max(self.rescore, count // RESCORE_SHARE)
        if count <= budget:
            return np.flatnonzero(eligible)
        far = self._dim + 1
        dist = np.where(eligible, _hamming(self._codes, _sign_codes(query[None, :])[:, 0]), far)
        # the smallest distance that admits the budget: a count of each distance, not a sort
        cutoff = int(np.searchsorted(np.cumsum(np.bincount(dist, minlength=far + 1)), budget))
        return np.flatnonzero(dist <= min(cutoff, far - 1))


def _ranges(keys: list[str]) -> dict[str, range]:
    """{key: its rows} of a row-per-sentence key list whose chunks' rows are consecutive."""
    out: dict[str, range] = {}
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            out[keys[start]] = range(start, i)
            start = i
    return out


def _words(dim: int) -> int:
    return (dim + 63) // 64


def _sign_codes(vectors: np.ndarray) -> np.ndarray:
    """(words, rows) uint64: each row's sign bits, a word of every row together (column-major)."""
    bits = np.packbits(vectors > 0, axis=1)
    pad = _words(vectors.shape[1]) * 8 - bits.shape[1]
    if pad:
        bits = np.pad(bits, ((0, 0), (0, pad)))
    return np.ascontiguousarray(bits.view(np.uint64).T)


def _hamming(codes: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Bits differing between each row's code and the query's, one word at a time (no row-sized
    temporaries beyond two)."""
    dist = np.bitwise_count(codes[0] ^ query[0]).astype(np.uint16)
    for word, q in zip(codes[1:], query[1:]):
        dist += np.bitwise_count(word ^ q)
    return dist


def _int8_rows(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row as int8 and the scale that brings it back (row ~= int8 * scale)."""
    scale = np.abs(vectors).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    return np.round(vectors / scale[:, None]).astype(np.int8), scale.astype(np.float32)


class SentenceIndex:
    """A SentenceMatrix kept in step with the catalog, for one process (module docstring)."""

    def __init__(
        self, catalog: AnyCatalog, embedder: CachedEmbedder, max_chunks: int, snapshot: Path | None = None
    ) -> None:
        self.catalog = catalog
        self.embedder = embedder
        self.max_chunks = max_chunks
        self.snapshot = snapshot
        self._matrix = SentenceMatrix()
        self._loaded = False  # the snapshot was tried (once a process, while the side is on)
        self._version: tuple[int, int] | None = None
        self._too_large = False
        self._lock = threading.Lock()

    def search(
        self, query: np.ndarray, n: int, documents: AbstractSet[str] | None = None
    ) -> list[tuple[str, float]]:
        """As SentenceMatrix.search; [] while the corpus holds more than max_chunks chunks."""
        with self._lock:
            matrix = self._sync()
            return [] if matrix is None else matrix.search(query, n, documents)

    def warm(self) -> None:
        with self._lock:
            self._sync()

    @property
    def chunks(self) -> int:
        """Chunks whose sentences are held now (as of the last search or warm; none while off)."""
        return len(self._matrix)

    @property
    def sentences(self) -> int:
        """Sentences held now, as `chunks` counts."""
        return self._matrix.rows

    def _sync(self) -> SentenceMatrix | None:
        version = self.catalog.version()
        if version == self._version:
            return None if self._too_large else self._matrix
        chunks = self.catalog.count()[1]  # a count first: past max_chunks no key is read
        too_large = chunks > self.max_chunks
        if too_large:
            if not self._too_large:
                log.warning(
                    "sentence search is off: %d chunks, more than the %d whose sentences it searches in memory",
                    chunks,
                    self.max_chunks,
                )
            self._matrix = SentenceMatrix()
        else:
            catalog = self.catalog.identity()
            if not self._loaded and self.snapshot is not None and catalog:
                self._matrix = SentenceMatrix.load(self.snapshot, self.embedder.name, catalog) or self._matrix
            self._loaded = True
            live = self.catalog.committed_chunk_keys()
            matrix = self._matrix
            have = matrix.ids
            gone, new = have - live.keys(), live.keys() - have
            matrix.remove(gone)
            if new:
                matrix.add(self._vectors(self.catalog.chunk_spans({live[k] for k in new}), new))
            if self.snapshot is not None and catalog and len(gone) + len(new) >= SNAPSHOT_AFTER:
                try:
                    matrix.save(self.snapshot, self.embedder.name, catalog)
                except OSError:
                    pass  # a cache: a read-only data dir still answers, it just rebuilds next time
        self._version, self._too_large = version, too_large
        return None if too_large else self._matrix

    def _vectors(self, batches: SpanBatches, wanted: set[str]) -> Iterator[tuple[str, str, np.ndarray]]:
        for doc, text, spans in batches:
            spans = [s for s in spans if s[0] in wanted]
            found = self.embedder.chunk_sentences([(text, a, b) for _, a, b in spans])
            for (key, _a, _b), (_pairs, vectors) in zip(spans, found):
                yield key, doc, vectors
