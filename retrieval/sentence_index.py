"""Every sentence vector of the corpus, in memory: the sentence side of search.

A chunk's vector blurs its facts; a one-line answer inside a long chunk can miss the dense top
candidates and the keyword ones alike. Searching the sentence vectors (computed at ingest, read from
the embedding cache) finds the chunk by that sentence. Kept in step with the catalog as the BM25
index is (bm25.LexicalIndex): before a search, a changed catalog's committed chunk keys are diffed
against the rows held. Exact search (one matrix product); its cost grows with the corpus
(BENCHMARKS.md), so past `max_chunks` chunks the side is left out rather than slowing every search.
A filtered search reads only the rows of the documents its filter keeps.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet

import numpy as np

from retrieval.catalogs import AnyCatalog
from retrieval.embed import CachedEmbedder

log = logging.getLogger("factdesk.search")

SpanBatches = Iterable[tuple[str, str, Sequence[tuple[str, int, int]]]]


class SentenceMatrix:
    """Unit sentence vectors, each row labelled with its chunk's key and document (pure: no catalog)."""

    def __init__(self, dim: int | None = None) -> None:
        self._vectors = np.zeros((0, dim or 0), dtype=np.float32)
        self._keys: list[str] = []
        self._alive = np.zeros(0, dtype=bool)
        self._rows: dict[str, list[int]] = {}  # chunk key -> its rows
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

    def add(self, items: Iterable[tuple[str, str, np.ndarray]]) -> None:
        """(chunk key, its document's id, its sentences' unit vectors); a key already held is replaced."""
        keys, blocks, docs = [], [], []
        for key, doc, vectors in items:
            if key in self._rows:
                self.remove([key])
            keys.append((key, len(vectors)))
            blocks.append(np.asarray(vectors, dtype=np.float32))
            code = self._doc_codes.setdefault(doc, len(self._doc_codes))
            docs.append(np.full(len(vectors), code, dtype=np.int32))
        if not blocks:
            return
        new = np.concatenate(blocks)
        if self._vectors.shape[1] != new.shape[1]:
            if len(self._keys):
                raise ValueError("sentence vectors of another dimension")
            self._vectors = np.zeros((0, new.shape[1]), dtype=np.float32)
        first = len(self._keys)
        self._vectors = np.concatenate([self._vectors, new])
        self._alive = np.concatenate([self._alive, np.ones(len(new), dtype=bool)])
        self._doc_of_row = np.concatenate([self._doc_of_row, *docs])
        for key, n in keys:
            self._rows[key] = list(range(first, first + n))
            self._keys.extend([key] * n)
            first += n

    def remove(self, keys: Iterable[str]) -> None:
        for key in keys:
            rows = self._rows.pop(key, None)
            if rows:
                self._alive[rows] = False
        if len(self._alive) > 1024 and self._alive.sum() < len(self._alive) // 2:
            self._compact()

    def _compact(self) -> None:
        keep = np.flatnonzero(self._alive)
        self._vectors = self._vectors[keep]
        self._keys = [self._keys[i] for i in keep]
        self._doc_of_row = self._doc_of_row[keep]
        self._alive = np.ones(len(keep), dtype=bool)
        self._rows = {}
        for i, key in enumerate(self._keys):
            self._rows.setdefault(key, []).append(i)

    def search(
        self, query: np.ndarray, n: int, documents: AbstractSet[str] | None = None
    ) -> list[tuple[str, float]]:
        """[(chunk key, its best sentence's cosine)] for the chunks of the n sentences nearest the
        query, best first; only sentences of `documents` when given (a filtered search)."""
        if not self._rows or n <= 0:
            return []
        eligible = self._alive
        if documents is not None:
            codes = [self._doc_codes[d] for d in documents if d in self._doc_codes]
            eligible = eligible & np.isin(self._doc_of_row, np.asarray(codes, dtype=np.int32))
        n = min(n, int(eligible.sum()))
        if n == 0:
            return []
        sims = self._vectors @ np.asarray(query, dtype=np.float32)
        sims[~eligible] = -np.inf
        # ties (one sentence in several articles) are broken by key, not by row: rows are in the order
        # this process happened to add chunks, and replicas over the same stores must rank alike
        nth = np.partition(sims, len(sims) - n)[len(sims) - n]
        top = sorted(np.flatnonzero(sims >= nth), key=lambda i: (-sims[i], self._keys[i], i))[:n]
        out: dict[str, float] = {}
        for i in top:
            out.setdefault(self._keys[i], float(sims[i]))
        return list(out.items())


class SentenceIndex:
    """A SentenceMatrix kept in step with the catalog, for one process (module docstring)."""

    def __init__(self, catalog: AnyCatalog, embedder: CachedEmbedder, max_chunks: int) -> None:
        self.catalog = catalog
        self.embedder = embedder
        self.max_chunks = max_chunks
        self._matrix = SentenceMatrix()
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
            live = self.catalog.committed_chunk_keys()
            matrix = self._matrix
            have = matrix.ids
            matrix.remove(have - live.keys())
            new = live.keys() - have
            if new:
                matrix.add(self._vectors(self.catalog.chunk_spans({live[k] for k in new}), new))
        self._version, self._too_large = version, too_large
        return None if too_large else self._matrix

    def _vectors(self, batches: SpanBatches, wanted: set[str]) -> Iterator[tuple[str, str, np.ndarray]]:
        for doc, text, spans in batches:
            spans = [s for s in spans if s[0] in wanted]
            found = self.embedder.chunk_sentences([(text, a, b) for _, a, b in spans])
            for (key, _a, _b), (_pairs, vectors) in zip(spans, found):
                yield key, doc, vectors
