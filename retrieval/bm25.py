"""BM25 over chunk texts, in memory: the lexical side of unfiltered search.

FTS5 scores every posting of every query term through its auxiliary-function API, ~0.4 us each here:
on a 100k-chunk corpus where a question's words occur in most chunks that was ~100 ms a query
(BENCHMARKS.md). The same sums in numpy take a few milliseconds. The index is a cache of the catalog
(which keeps FTS5 too: filtered search, and doctor's checks), built from committed chunk texts and
brought up to date before a search whenever the catalog has changed.
"""

from __future__ import annotations

import math
import os
import re
import threading
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from retrieval.catalogs import AnyCatalog
from retrieval.lexical import is_content_word, stem

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


class Analyzer:
    """Lower-cased word tokens, stopwords dropped, stemmed (the stems the re-ranker and engine use).
    Stems are memoised: a corpus repeats its vocabulary."""

    def __init__(self) -> None:
        self._stems: dict[str, str | None] = {}

    def term(self, word: str) -> str | None:
        t = self._stems.get(word)
        if t is None and word not in self._stems:
            t = stem(word) if is_content_word(word) else None
            self._stems[word] = t
        return t

    def tokens(
        self, text: str, start: int = 0, end: int | None = None
    ) -> tuple[list[str | None], np.ndarray]:
        """(terms, their start offsets in text) of text[start:end]; None for a dropped word."""
        end = len(text) if end is None else end
        terms, starts = [], []
        for m in _TOKEN.finditer(text.lower(), start, end):
            terms.append(self.term(m.group()))
            starts.append(m.start())
        return terms, np.asarray(starts, dtype=np.int64)

    def query(self, words: Iterable[str]) -> list[str]:
        out: dict[str, None] = {}
        for w in words:
            t = self.term(w.lower())
            if t is not None:
                out.setdefault(t, None)
        return list(out)


class BM25Index:
    """Chunks by id; add/remove in batches; `search(terms, n)` -> [(chunk id, score)], best first."""

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.analyzer = Analyzer()
        self._vocab: dict[str, int] = {}
        self._ids: list[str] = []
        self._slot: dict[str, int] = {}
        self._length = np.zeros(0, dtype=np.float32)
        self._alive = np.zeros(0, dtype=bool)
        # postings, frozen as CSR by term (slots, tf) plus batches not yet merged
        self._offsets = np.zeros(1, dtype=np.int64)
        self._post_slot = np.zeros(0, dtype=np.int32)
        self._post_tf = np.zeros(0, dtype=np.float32)
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (term ids, slots, tf)
        self._df: np.ndarray = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return int(self._alive.sum())

    @property
    def ids(self) -> set[str]:
        return {i for i, alive in zip(self._ids, self._alive) if alive}

    def add(self, items: Iterable[tuple[str, str, Sequence[tuple[str, int, int]]]]) -> None:
        """items: (document id, document text, [(chunk id, start, end)]). Each text is tokenised once
        and its chunks (which overlap) are slices of that."""
        term_ids, slots, tfs = [], [], []
        lengths: list[float] = []
        for _doc_id, text, chunks in items:
            terms, starts = self.analyzer.tokens(text)
            ids = np.fromiter(
                (-1 if t is None else self._vocab.setdefault(t, len(self._vocab)) for t in terms),
                dtype=np.int64,
                count=len(terms),
            )
            for chunk_id, start, end in chunks:
                if chunk_id in self._slot:
                    self._alive[self._slot[chunk_id]] = False  # replaced: the old slot goes dead
                lo, hi = np.searchsorted(starts, [start, end])
                window = ids[lo:hi]
                lengths.append(float(hi - lo))  # words, stopwords included, as FTS5 counts length
                window = window[window >= 0]
                slot = len(self._ids)
                self._slot[chunk_id] = slot
                self._ids.append(chunk_id)
                if window.size:
                    uniq, counts = np.unique(window, return_counts=True)
                    term_ids.append(uniq)
                    slots.append(np.full(uniq.size, slot, dtype=np.int32))
                    tfs.append(counts.astype(np.float32))
        if not lengths:
            return
        self._length = np.concatenate([self._length, np.asarray(lengths, dtype=np.float32)])
        self._alive = np.concatenate([self._alive, np.ones(len(lengths), dtype=bool)])
        if term_ids:
            self._pending.append((np.concatenate(term_ids), np.concatenate(slots), np.concatenate(tfs)))
        self._df = np.zeros(0, dtype=np.int64)  # recounted at the next search

    def remove(self, chunk_ids: Iterable[str]) -> None:
        for cid in chunk_ids:
            slot = self._slot.pop(cid, None)
            if slot is not None:
                self._alive[slot] = False
        self._df = np.zeros(0, dtype=np.int64)

    def _merge(self) -> None:
        """Fold pending batches into the CSR arrays, dropping dead slots (one sort over all postings)."""
        t_old = np.repeat(np.arange(len(self._offsets) - 1, dtype=np.int64), np.diff(self._offsets))
        parts_t = [t_old] + [p[0] for p in self._pending]
        parts_s = [self._post_slot] + [p[1] for p in self._pending]
        parts_f = [self._post_tf] + [p[2] for p in self._pending]
        t, s, f = np.concatenate(parts_t), np.concatenate(parts_s), np.concatenate(parts_f)
        keep = self._alive[s]
        t, s, f = t[keep], s[keep], f[keep]
        order = np.argsort(t, kind="stable")
        t, self._post_slot, self._post_tf = t[order], s[order], f[order]
        self._offsets = np.searchsorted(t, np.arange(len(self._vocab) + 1)).astype(np.int64)
        self._pending = []

    def _prepare(self) -> None:
        dead_share = 1.0 - (len(self) / max(1, len(self._ids)))
        if self._pending or (len(self._vocab) + 1 != len(self._offsets)) or dead_share > 0.25:
            self._merge()
        if self._df.size != len(self._vocab):
            # document frequency over live chunks: removals leave dead postings until the next merge
            live = np.concatenate([[0], np.cumsum(self._alive[self._post_slot], dtype=np.int64)])
            self._df = live[self._offsets[1:]] - live[self._offsets[:-1]]

    def search(self, words: Sequence[str], n: int) -> list[tuple[str, float]]:
        terms = [self._vocab[t] for t in self.analyzer.query(words) if t in self._vocab]
        if not terms or n <= 0:
            return []
        self._prepare()
        live = len(self)
        alive_len = self._length[self._alive]
        avgdl = float(alive_len.mean()) if alive_len.size else 1.0
        scores = np.zeros(len(self._ids), dtype=np.float32)
        k1, b = self.k1, self.b
        # a term in more than half of the chunks has no weight (FTS5 clamps its IDF): left out, as
        # the FTS5 path does (lexical.prune_terms), unless the question has nothing rarer
        df = self._df
        terms = [t for t in terms if df[t] > 0]
        terms = [t for t in terms if 2 * df[t] <= live] or sorted(terms, key=lambda t: df[t])[:1]
        for t in terms:
            lo, hi = self._offsets[t], self._offsets[t + 1]
            slots, tf = self._post_slot[lo:hi], self._post_tf[lo:hi]
            n_t = int(df[t])
            # FTS5's BM25: IDF clamped at ~0 for terms in more than half of the chunks
            idf = max(math.log((live - n_t + 0.5) / (n_t + 0.5)), 1e-6)
            norm = k1 * (1.0 - b + b * self._length[slots] / avgdl)
            scores[slots] += idf * (tf * (k1 + 1.0)) / (tf + norm)
        scores[~self._alive] = 0.0
        hits = np.flatnonzero(scores > 0)
        if hits.size > n:
            hits = hits[np.argpartition(-scores[hits], n - 1)[:n]]
        hits = hits[np.argsort(-scores[hits], kind="stable")]
        return [(self._ids[i], float(scores[i])) for i in hits]

    # ---- snapshot: a new process loads this instead of re-reading every article ----
    def save(self, path: Path) -> None:
        self._prepare()
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(
                f,
                version=np.array([SNAPSHOT_VERSION]),
                ids=np.array(self._ids, dtype=object).astype(str),
                vocab=np.array(sorted(self._vocab, key=self._vocab.__getitem__), dtype=object).astype(str),
                length=self._length,
                alive=self._alive,
                offsets=self._offsets,
                post_slot=self._post_slot,
                post_tf=self._post_tf,
                params=np.array([self.k1, self.b]),
            )
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> BM25Index | None:
        """The saved index, or None when there is none usable (the caller rebuilds from the catalog)."""
        try:
            with np.load(path, allow_pickle=False) as z:
                if int(z["version"][0]) != SNAPSHOT_VERSION:
                    return None
                k1, b = (float(x) for x in z["params"])
                index = cls(k1, b)
                index._ids = z["ids"].tolist()
                index._vocab = {t: i for i, t in enumerate(z["vocab"].tolist())}
                index._length, index._alive = z["length"], z["alive"]
                index._offsets, index._post_slot, index._post_tf = z["offsets"], z["post_slot"], z["post_tf"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            return None
        if len(index._ids) != len(index._alive) or len(index._offsets) != len(index._vocab) + 1:
            return None
        index._slot = {cid: i for i, (cid, alive) in enumerate(zip(index._ids, index._alive)) if alive}
        return index


SNAPSHOT_VERSION = 3  # 2: Snowball stems (retrieval.lexical.stem); 3: keys name revisions
SNAPSHOT_AFTER = 2000  # chunks added or removed by a sync before the snapshot is rewritten


class LexicalIndex:
    """A BM25Index kept in step with the catalog, for one process.

    Before each search: if the catalog changed (this process's writes, or another's), the committed
    chunk keys are diffed against the index: new chunks are tokenised, gone ones dropped. The first
    search of a process loads the snapshot in the data dir (if any) and catches up the same way.
    """

    def __init__(self, catalog: AnyCatalog, snapshot: Path | None) -> None:
        self.catalog = catalog
        self.snapshot = snapshot
        self._index: BM25Index | None = None
        self._version: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def search(self, words: Sequence[str], n: int) -> list[tuple[str, float]]:
        """[(key, BM25 score)], best first; keys name chunks of one revision (models.chunk_key)."""
        with self._lock:
            return self._sync().search(words, n)

    def warm(self) -> None:
        with self._lock:
            self._sync()._prepare()

    def _sync(self) -> BM25Index:
        version = self.catalog.version()
        if self._index is not None and version == self._version:
            return self._index
        if self._index is None:
            self._index = (BM25Index.load(self.snapshot) if self.snapshot else None) or BM25Index()
        index = self._index
        live = self.catalog.committed_chunk_keys()
        have = index.ids
        gone = have - live.keys()
        new = live.keys() - have
        index.remove(gone)
        if new:
            index.add(self.catalog.chunk_spans({live[k] for k in new}))
        self._version = version
        if self.snapshot and len(new) + len(gone) >= SNAPSHOT_AFTER:
            try:
                index.save(self.snapshot)
            except OSError:
                pass  # a cache: a read-only data dir still answers, it just rebuilds next time
        return index
