"""BM25 over chunk texts, in memory: the lexical side of unfiltered search.

FTS5 scores every posting of every query term through its auxiliary-function API, ~0.4 us each here:
on a 100k-chunk corpus where a question's words occur in most chunks that was ~100 ms a query
(BENCHMARKS.md). The same sums in numpy take a few milliseconds; past a postings budget, each common
term's highest-weighted postings are read (BM25Index). The index is a cache of the catalog
(which keeps FTS5 too: filtered search, and doctor's checks), built from committed chunk texts and
brought up to date before a search whenever the catalog has changed.
"""

from __future__ import annotations

import ctypes
import math
import re
import threading
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from retrieval.catalogs import AnyCatalog
from retrieval.lexical import is_content_word, stem
from retrieval.npz import NpzArchive, save_arrays

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


class _Segment:
    """Postings as CSR by term id: slots and term frequencies, each term's postings ordered by
    impact (their BM25 term weight, best first), so a query may read just a term's best ones."""

    __slots__ = ("offsets", "slot", "tf")

    def __init__(self, offsets: np.ndarray, slot: np.ndarray, tf: np.ndarray) -> None:
        self.offsets, self.slot, self.tf = offsets, slot, tf

    @property
    def size(self) -> int:
        return len(self.slot)

    def span(self, term: int) -> tuple[int, int]:
        if term + 1 >= len(self.offsets):  # a term newer than this segment
            return 0, 0
        return int(self.offsets[term]), int(self.offsets[term + 1])


class _Batch:
    """New postings not yet in a segment, grouped by chunk: a chunk's slot is stored once, not once
    per posting (indexing an archive holds every batch until the build)."""

    __slots__ = ("terms", "tf", "first", "sizes")

    def __init__(self, terms: np.ndarray, tf: np.ndarray, first: int, sizes: np.ndarray) -> None:
        self.terms, self.tf, self.first, self.sizes = terms, tf, first, sizes  # sizes: postings a chunk

    @property
    def size(self) -> int:
        return len(self.terms)

    def slots(self) -> np.ndarray:
        return np.repeat(np.arange(self.first, self.first + len(self.sizes), dtype=np.int32), self.sizes)


_EMPTY = _Segment(np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.uint16))
_ORDER_BLOCK = 4_000_000  # postings ordered by impact at a time: bounds the sort's temporary arrays
_TF_MAX = np.iinfo(np.uint16).max  # term frequencies are stored as uint16 (a chunk is far shorter)


def _live_counts(seg: _Segment, alive: np.ndarray) -> np.ndarray:
    """Each of the segment's terms' postings of live chunks. Counted from the dead postings (few: a
    rebuild drops them past a quarter), never with an array as long as the segment."""
    counts = np.diff(seg.offsets)
    dead = np.flatnonzero(~alive[seg.slot])
    if dead.size:
        counts -= np.bincount(np.searchsorted(seg.offsets, dead, side="right") - 1, minlength=counts.size)
    return counts


def _trim_heap() -> None:
    """Hand the heap's free pages back to the OS. Indexing an archive frees many mid-sized arrays
    that glibc keeps for reuse, so the process would stay at its build peak (BENCHMARKS.md)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to hand back this way
        pass


def _impacts(
    tf: np.ndarray, length: np.ndarray, avgdl: float, k1: float, b: float, idf: float = 1.0
) -> np.ndarray:
    """BM25's per-posting weight, FTS5's formula in float32, times `idf` (1: the weight that orders a
    term's postings), multiplied in FTS5's order so the sums match its scores."""
    tf = tf.astype(np.float32)
    norm = k1 * (1.0 - b + b * length / avgdl)
    return idf * (tf * (k1 + 1.0)) / (tf + norm)


class BM25Index:
    """Chunks by id; add/remove in batches; `search(terms, n, budget)` -> [(chunk id, score)], best
    first.

    Postings live in a large main segment and a small delta segment that takes new chunks, so a write
    re-sorts the delta, not the archive; the delta is folded in once it reaches an eighth of the main.
    Within each term, postings are ordered by impact: with a postings budget, a query reads each
    common term's highest-weighted postings (impact-ordered static pruning, as search engines do at
    scale), and every posting when the budget covers them, which gives exactly FTS5's BM25.
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.analyzer = Analyzer()
        self._vocab: dict[str, int] = {}
        self._ids: list[str] = []
        self._slot: dict[str, int] = {}
        self._length = np.zeros(0, dtype=np.float32)
        self._alive = np.zeros(0, dtype=bool)
        self._main = _EMPTY
        self._delta = _EMPTY
        self._pending: list[_Batch] = []
        self._killed = 0  # slots gone dead since the main segment was built (their postings remain)
        self._df: np.ndarray = np.zeros(0, dtype=np.int64)
        self._avgdl = 1.0

    def __len__(self) -> int:
        return len(self._slot)

    @property
    def ids(self) -> set[str]:
        return set(self._slot)

    def add(self, items: Iterable[tuple[str, str, Sequence[tuple[str, int, int]]]]) -> None:
        """items: (document id, document text, [(chunk id, start, end)]). Each text is tokenised once
        and its chunks (which overlap) are slices of that. Postings are packed every few thousand
        chunks, so indexing a whole archive holds compact arrays, not an array per chunk."""
        term_ids: list[np.ndarray] = []
        tfs: list[np.ndarray] = []
        sizes: list[int] = []  # postings of each chunk of the batch, from slot `first` on
        lengths: list[float] = []
        first = len(self._ids)

        def pack() -> None:
            nonlocal first
            if term_ids:
                batch = _Batch(
                    np.concatenate(term_ids), np.concatenate(tfs), first, np.asarray(sizes, np.int32)
                )
                self._pending.append(batch)
            for part in (term_ids, tfs, sizes):
                part.clear()
            first = len(self._ids)

        for _doc_id, text, chunks in items:
            terms, starts = self.analyzer.tokens(text)
            ids = np.fromiter(
                (-1 if t is None else self._vocab.setdefault(t, len(self._vocab)) for t in terms),
                dtype=np.int32,
                count=len(terms),
            )
            for chunk_id, start, end in chunks:
                if chunk_id in self._slot:  # replaced: the old slot goes dead
                    self._alive[self._slot[chunk_id]] = False
                    self._killed += 1
                lo, hi = np.searchsorted(starts, [start, end])
                window = ids[lo:hi]
                lengths.append(float(hi - lo))  # words, stopwords included, as FTS5 counts length
                window = window[window >= 0]
                self._slot[chunk_id] = len(self._ids)
                self._ids.append(chunk_id)
                uniq, counts = np.unique(window, return_counts=True)
                term_ids.append(uniq)
                tfs.append(np.minimum(counts, _TF_MAX).astype(np.uint16))
                sizes.append(uniq.size)
            if len(sizes) >= 5000:
                pack()
        pack()
        if not lengths:
            return
        self._length = np.concatenate([self._length, np.asarray(lengths, dtype=np.float32)])
        self._alive = np.concatenate([self._alive, np.ones(len(lengths), dtype=bool)])
        self._df = np.zeros(0, dtype=np.int64)  # recounted at the next search

    def remove(self, chunk_ids: Iterable[str]) -> None:
        for cid in chunk_ids:
            slot = self._slot.pop(cid, None)
            if slot is not None:
                self._alive[slot] = False
                self._killed += 1
        self._df = np.zeros(0, dtype=np.int64)

    def _build(self, segments: Sequence[_Segment]) -> _Segment:
        """One segment from the given ones and the pending batches, without dead slots' postings.

        Postings are placed by term with a counting sort (one pass per part, no sort of the whole),
        then each block of terms is ordered by impact, so the temporary arrays stay a few million
        postings long however large the archive: indexing 1M chunks holds the postings about twice.
        """
        n_terms = len(self._vocab)
        alive = self._alive
        segments = [seg for seg in segments if seg.size]
        pending, self._pending = self._pending, []
        counts = np.zeros(n_terms, dtype=np.int64)
        for seg in segments:
            counts[: len(seg.offsets) - 1] += _live_counts(seg, alive)
        for batch in pending:
            counts += np.bincount(batch.terms[alive[batch.slots()]], minlength=n_terms)
        offsets = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        slot = np.empty(int(offsets[-1]), dtype=np.int32)
        tf = np.empty(int(offsets[-1]), dtype=np.uint16)
        cursor = offsets[:-1].copy()
        for seg in segments:  # already grouped by term: copied term by term
            for term in np.flatnonzero(np.diff(seg.offsets)):
                lo, hi = seg.offsets[term], seg.offsets[term + 1]
                k = alive[seg.slot[lo:hi]]
                s, f = seg.slot[lo:hi][k], seg.tf[lo:hi][k]
                at = cursor[term]
                slot[at : at + s.size], tf[at : at + s.size] = s, f
                cursor[term] += s.size
        while pending:  # new postings, by a counting sort on their terms; each batch freed once placed
            batch = pending.pop(0)
            t, s, f = batch.terms, batch.slots(), batch.tf
            keep = alive[s]
            t, s, f = t[keep], s[keep], f[keep]
            order = np.argsort(t, kind="stable")
            ts = t[order]
            c = np.bincount(ts, minlength=n_terms)
            pos = cursor[ts] + (np.arange(ts.size, dtype=np.int64) - (np.cumsum(c) - c)[ts])
            slot[pos], tf[pos] = s[order], f[order]
            cursor += c
        avgdl = float(self._length[alive].mean()) if alive.any() else 1.0
        lo_term = 0
        while lo_term < n_terms:  # each term's postings by impact, best first; ties by slot
            hi_term = max(lo_term + 1, int(np.searchsorted(offsets, offsets[lo_term] + _ORDER_BLOCK)) - 1)
            hi_term = min(hi_term, n_terms)
            lo, hi = int(offsets[lo_term]), int(offsets[hi_term])
            if hi > lo:
                terms = np.repeat(np.arange(lo_term, hi_term), np.diff(offsets[lo_term : hi_term + 1]))
                s = slot[lo:hi]
                impact = _impacts(tf[lo:hi], self._length[s], avgdl, self.k1, self.b)
                order = np.lexsort((s, -impact, terms))
                slot[lo:hi], tf[lo:hi] = s[order], tf[lo:hi][order]
            lo_term = hi_term
        return _Segment(offsets, slot, tf)

    def _prepare(self) -> None:
        pending = sum(p.size for p in self._pending)
        if self._killed * 4 > max(1, len(self._slot)) or (self._delta.size + pending) * 8 > self._main.size:
            if pending or self._killed or self._delta.size:
                self._main, self._delta, self._killed = self._build([self._main, self._delta]), _EMPTY, 0
                _trim_heap()
        elif pending:
            self._delta = self._build([self._delta])
        if self._df.size != len(self._vocab):
            # document frequency over live chunks: removals leave dead postings until the next build
            self._df = np.zeros(len(self._vocab), dtype=np.int64)
            for seg in (self._main, self._delta):
                if seg.size:
                    self._df[: len(seg.offsets) - 1] += _live_counts(seg, self._alive)
            lengths = self._length[self._alive]
            self._avgdl = float(lengths.mean()) if lengths.size else 1.0

    def term_rows(self, terms: Iterable[str]) -> tuple[dict[str, int], int]:
        """({stem: live chunks that hold it}, live chunks)."""
        self._prepare()
        return {t: int(self._df[self._vocab[t]]) if t in self._vocab else 0 for t in terms}, len(self._slot)

    def search(self, words: Sequence[str], n: int, budget: int | None = None) -> list[tuple[str, float]]:
        """The n best chunks for the words. `budget` caps the postings read: rare terms are read
        whole, and the rest of the budget is shared among the commoner terms, each reading its
        highest-impact postings. No budget (or one that covers every posting) scores exactly."""
        terms = [self._vocab[t] for t in self.analyzer.query(words) if t in self._vocab]
        if not terms or n <= 0:
            return []
        self._prepare()
        live = len(self._slot)
        avgdl, df = self._avgdl, self._df
        k1, b = self.k1, self.b
        # a term in more than half of the chunks has no weight (FTS5 clamps its IDF): left out, as
        # the FTS5 path does (lexical.prune_terms), unless the question has nothing rarer
        terms = [t for t in terms if df[t] > 0]
        terms = [t for t in terms if 2 * df[t] <= live] or sorted(terms, key=lambda t: df[t])[:1]
        spans = {t: [seg.span(t) for seg in (self._main, self._delta)] for t in terms}
        stored = {t: sum(hi - lo for lo, hi in spans[t]) for t in terms}
        allowed = dict(stored)
        if budget is not None and sum(stored.values()) > budget:
            left = budget
            rarest_first = sorted(terms, key=lambda t: stored[t])
            for i, t in enumerate(rarest_first):
                allowed[t] = min(stored[t], max(1, left // (len(rarest_first) - i)))
                left -= allowed[t]
        scores = np.zeros(len(self._ids), dtype=np.float32)
        for t in terms:
            n_t = int(df[t])
            # FTS5's BM25: IDF clamped at ~0 for terms in more than half of the chunks
            idf = max(math.log((live - n_t + 0.5) / (n_t + 0.5)), 1e-6)
            for seg, (lo, hi) in zip((self._main, self._delta), spans[t]):
                if allowed[t] < stored[t]:  # this segment's share of the term's best postings
                    hi = lo + -(-(hi - lo) * allowed[t] // stored[t])
                slots = seg.slot[lo:hi]
                scores[slots] += _impacts(seg.tf[lo:hi], self._length[slots], avgdl, k1, b, idf)
        hits = np.flatnonzero(scores > 0)
        hits = hits[self._alive[hits]]
        if hits.size > n:
            hits = hits[np.argpartition(-scores[hits], n - 1)[:n]]
        hits = hits[np.argsort(-scores[hits], kind="stable")]
        return [(self._ids[i], float(scores[i])) for i in hits]

    # ---- snapshot: a new process loads this instead of re-reading every article ----
    def save(self, path: Path, catalog: str) -> None:
        """Write the index to `path` (atomically), stamped with the identity of the catalog it
        was built from (Catalog.identity)."""
        self._prepare()
        save_arrays(
            path,
            version=np.array([SNAPSHOT_VERSION]),
            catalog=np.array([catalog]),
            ids=np.array(self._ids, dtype=object).astype(str),
            vocab=np.array(sorted(self._vocab, key=self._vocab.__getitem__), dtype=object).astype(str),
            length=self._length,
            alive=self._alive,
            offsets=self._main.offsets,
            post_slot=self._main.slot,
            post_tf=self._main.tf,
            delta_offsets=self._delta.offsets,
            delta_slot=self._delta.slot,
            delta_tf=self._delta.tf,
            params=np.array([self.k1, self.b]),
            killed=np.array([self._killed]),
        )

    @classmethod
    def load(cls, path: Path, catalog: str) -> BM25Index | None:
        """The saved index, or None when there is none usable (another format, another catalog's, a
        damaged file): the caller rebuilds it from the catalog."""
        try:
            with NpzArchive(path) as z:
                if int(z["version"][0]) != SNAPSHOT_VERSION or z["catalog"].tolist() != [catalog]:
                    return None
                k1, b = (float(x) for x in z["params"])
                index = cls(k1, b)
                index._ids = z["ids"].tolist()
                index._vocab = {t: i for i, t in enumerate(z["vocab"].tolist())}
                index._length, index._alive = z["length"], z["alive"]
                index._main = _Segment(z["offsets"], z["post_slot"], z["post_tf"])
                index._delta = _Segment(z["delta_offsets"], z["delta_slot"], z["delta_tf"])
                index._killed = int(z["killed"][0])
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            return None
        segments_fit = all(
            len(seg.offsets) <= len(index._vocab) + 1 and seg.size == seg.offsets[-1]
            for seg in (index._main, index._delta)
        )
        if len(index._ids) != len(index._alive) or not segments_fit:
            return None
        index._slot = {cid: i for i, (cid, alive) in enumerate(zip(index._ids, index._alive)) if alive}
        return index


# 2: Snowball stems (retrieval.lexical.stem); 3: keys name revisions; 4: impact-ordered segments;
# 5: term frequencies as uint16; 6: stamped with the catalog's identity (an older one is rebuilt once)
SNAPSHOT_VERSION = 6
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

    def search(self, words: Sequence[str], n: int, budget: int | None = None) -> list[tuple[str, float]]:
        """[(key, BM25 score)], best first; keys name chunks of one revision (models.chunk_key).
        `budget`: the postings a query may read (BM25Index.search)."""
        with self._lock:
            return self._sync().search(words, n, budget)

    def warm(self) -> None:
        with self._lock:
            self._sync()._prepare()

    def term_rows(self, terms: Iterable[str]) -> tuple[dict[str, int], int]:
        """({stem: live chunks that hold it}, live chunks), as the catalog's term_rows counts them."""
        with self._lock:
            return self._sync().term_rows(terms)

    def _sync(self) -> BM25Index:
        version = self.catalog.version()
        if self._index is not None and version == self._version:
            return self._index
        catalog = self.catalog.identity()
        if self._index is None:
            saved = BM25Index.load(self.snapshot, catalog) if self.snapshot and catalog else None
            self._index = saved or BM25Index()
        index = self._index
        live = self.catalog.committed_chunk_keys()
        have = index.ids
        gone = have - live.keys()
        new = live.keys() - have
        changed, docs = len(new) + len(gone), {live[k] for k in new}
        del live, have, new  # a million keys at scale: freed before the new chunks are indexed
        index.remove(gone)
        if docs:
            index.add(self.catalog.chunk_spans(docs))
        self._version = version
        if self.snapshot and catalog and changed >= SNAPSHOT_AFTER:
            try:
                index.save(self.snapshot, catalog)
            except OSError:
                pass  # a cache: a read-only data dir still answers, it just rebuilds next time
        return index
