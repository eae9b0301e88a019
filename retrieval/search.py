"""Hybrid search: dense (Chroma) + lexical (BM25 over the catalog's keyword index) + sentences (every
sentence vector, retrieval/sentence_index.py), fused by weighted RRF, re-ranked by each chunk's best
sentence, optionally diversified by MMR."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from retrieval.bm25 import LexicalIndex
from retrieval.catalogs import AnyCatalog
from retrieval.embed import CachedEmbedder
from retrieval.errors import InsufficientStorage, ReadOnlyStore
from retrieval.fusion import fuse_reciprocal_rank, maximal_marginal_relevance, rerank_scores
from retrieval.lexical import (
    POSTINGS_BUDGET,
    coverage_scorer,
    idf_weights,
    prune_terms,
    query_terms,
    stem,
    stems,
)
from retrieval.models import SearchHit, chunk_key
from retrieval.sentence_index import SentenceIndex
from retrieval.store import VectorStore

log = logging.getLogger("factdesk.search")

# reads of the candidates when a write landed during one (Searcher.search); each retry needs another
# revision switch within a few milliseconds, so a second read almost always settles it
READ_ATTEMPTS = 3


@dataclass(frozen=True)
class Filters:
    document_ids: tuple[str, ...] | None = None
    sources: tuple[str, ...] | None = None
    published_after: float | None = None
    published_before: float | None = None

    def chroma_where(self) -> dict | None:
        conds: list[dict] = []
        if self.document_ids is not None:
            conds.append({"document_id": {"$in": list(self.document_ids)}})
        if self.sources is not None:
            conds.append({"source": {"$in": list(self.sources)}})
        if self.published_after is not None:
            conds.append({"published_ts": {"$gte": self.published_after}})
        if self.published_before is not None:
            conds.append({"published_ts": {"$lte": self.published_before}})
        if not conds:
            return None
        return conds[0] if len(conds) == 1 else {"$and": conds}

    def sql(self, mark: str = "?") -> tuple[str, list]:
        """A WHERE fragment over the catalog's documents (alias d), with `mark` (the backend's
        parameter marker: "?" for SQLite, "%s" for PostgreSQL) for each value."""
        parts: list[str] = []
        params: list[object] = []
        if self.document_ids is not None:
            parts.append(f"AND d.id IN ({','.join([mark] * len(self.document_ids))})")
            params += list(self.document_ids)
        if self.sources is not None:
            parts.append(f"AND d.source IN ({','.join([mark] * len(self.sources))})")
            params += list(self.sources)
        if self.published_after is not None:
            parts.append(f"AND d.published_ts >= {mark}")
            params.append(self.published_after)
        if self.published_before is not None:
            parts.append(f"AND d.published_ts <= {mark}")
            params.append(self.published_before)
        return " ".join(parts), params


@dataclass
class SearchConfig:
    # Measured on evals/questions.yaml (79 answerable questions; 200-token chunks): chunk-level RRF
    # alone reached hit@1 0.66 / hit@5 0.94 (dense-only 0.57 / 0.86); re-ranking the fused pool by
    # each chunk's best sentence, dense and lexical, gave 0.77 / 0.97.
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    rrf_k: float = 5.0
    candidates: int = 30
    rerank: bool = True
    rerank_pool: int = 25
    rerank_dense: float = 0.6
    rerank_lexical: float = 0.4
    rerank_prior: float = 0.1
    use_mmr: bool = False  # measured: no gain after re-ranking; kept for corpora full of copies
    mmr_lambda: float = 0.8
    use_lexical: bool = True
    lexical_budget: int = POSTINGS_BUDGET  # postings BM25 may score per query (retrieval/lexical.py)
    use_dense: bool = True
    # chunks whose sentence vectors stay in memory for the re-ranker: ~12 KB each (7 sentences), so at
    # most ~190 MB. Measured at 100k chunks: 1,200 questions touched 5,351 chunks; the last 400 took
    # p50/p95 10.5/13.7 ms when all stayed in memory, 12.0/14.9 ms with room for 4,096 (reading the
    # others back from the embedding cache file also slows the next question's embedding)
    sentence_cache_chunks: int = 16384
    # the third ranked list: the chunks of the sentences nearest the question (of the kept documents).
    # Measured over 921 articles (evals/distractors, docs/evals.md): the answer sentence reached the
    # reader's 12 for 4 more of 75 news-val questions and 2 more of 129 h18 ones.
    use_sentences: bool = True
    sentence_weight: float = 1.0
    sentence_candidates: int = 36  # sentences, not chunks: a chunk can hold several of them
    # past this many chunks the in-memory sentence search is off: on a larger corpus its time (it
    # passes over every sentence's bits) would take a search past 10x the raw Chroma query
    # (BENCHMARKS.md, "The sentence side of search")
    sentence_index_chunks: int = 16384


@dataclass(frozen=True)
class SentenceHit:
    """One sentence of a retrieved chunk: offsets into its document's text."""

    hit: SearchHit
    start: int
    end: int
    score: float
    dense: float
    chunk_rank: int  # 0-based rank of its chunk


@dataclass(frozen=True)
class _View:
    """Search candidates as the catalog saw them in one snapshot (Searcher._read)."""

    complete: bool  # every candidate key was of a current revision
    dense: list[tuple[str, float]]  # (key, cosine similarity), current revisions only
    lexical: list[tuple[str, float]]  # (key, BM25 score)
    sentences: list[tuple[str, float]]  # (key, its best sentence's cosine)
    fused: list[tuple[str, float]]  # (key, fused score), best first
    visible: dict[str, tuple[str, str, int, int]]  # key -> (chunk id, document id, start, end)
    texts: dict[str, str]  # document id -> text, for the documents the ranking can return
    titles: dict[str, tuple[str, str | None]]  # document id -> (title, duplicate_of)


@dataclass
class _Sentences:
    vectors: np.ndarray  # (sentences, dim), unit rows
    stems: list[frozenset[str]]
    spans: np.ndarray  # (sentences, 2): start, end relative to the chunk


class Searcher:
    def __init__(
        self,
        catalog: AnyCatalog,
        vectors: VectorStore,
        embedder: CachedEmbedder,
        config: SearchConfig | None = None,
        lexical_index: LexicalIndex | None = None,
        sentence_index: SentenceIndex | None = None,
    ) -> None:
        self.catalog = catalog
        self.vectors = vectors
        self.embedder = embedder
        self.config = config or SearchConfig()
        self.lexical_index = lexical_index
        self.sentence_index = sentence_index
        self._embed_query = lru_cache(maxsize=1024)(self._embed_query_uncached)
        self._side_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="factdesk-search")
        self._sentences: OrderedDict[str, _Sentences] = OrderedDict()
        self._sentence_lock = threading.Lock()

    def _embed_query_uncached(self, query: str) -> np.ndarray:
        return self.embedder.embed_query(query)

    def embed_query(self, query: str) -> np.ndarray:
        return self._embed_query(query)

    def search(self, query: str, top_k: int = 5, filters: Filters | None = None) -> list[SearchHit]:
        cfg = self.config
        filters = filters or Filters()
        if any(ids is not None and not ids for ids in (filters.document_ids, filters.sources)):
            return []  # restricted to nothing ("$in []" is an error in Chroma, "IN ()" in SQLite)
        n = max(cfg.candidates, top_k * 3)
        views: list[_View] = []
        for _ in range(READ_ATTEMPTS):
            before = self.catalog.version()
            dense, lexical, sentences = self._candidates(query, n, filters)
            with self.catalog.snapshot():
                views.append(self._read(dense, lexical, sentences, top_k))
            # Keys the catalog did not know, while a write landed: Chroma was read before a revision
            # switch and the catalog after it, so the new revision's vectors were not asked for; a
            # second read sees them. (Unknown keys with no write between are leftovers of a crash or
            # of a write still in flight: reading again would gain nothing.)
            if views[-1].complete or self.catalog.version() == before:
                break
        else:
            # every read raced a switch (a document revised again and again): the one that kept the
            # most candidates, not the last, which may have kept none
            views.append(max(reversed(views), key=lambda v: len(v.fused)))
        return self._rank(query, views[-1], top_k)

    def _candidates(
        self, query: str, n: int, filters: Filters
    ) -> tuple[list[tuple[str, float]], list[tuple[str, float]], list[tuple[str, float]]]:
        """(dense, lexical, sentence) candidates as (key, score), best first; keys as in
        models.chunk_key. A filtered search's sentence side reads only the rows of the documents the
        filter keeps."""
        cfg = self.config
        # BM25 needs no query vector: it runs on the second core while the question is embedded
        lexical_job = self._side_pool.submit(self._lexical, query, n, filters) if cfg.use_lexical else None
        dense: list[tuple[str, float]] = []
        sentence_job = None
        try:
            if cfg.use_dense:
                where = filters.chroma_where()
                q_vec = self.embed_query(query)
                if cfg.use_sentences and self.sentence_index is not None:
                    # numpy passes that release the GIL: beside Chroma's query, on the other core
                    sentence_job = self._side_pool.submit(self._sentence_side, q_vec, filters)
                dense = self.vectors.query(q_vec, n, where=where)
        except (ReadOnlyStore, InsufficientStorage) as e:
            # embedded Chroma will not open a data dir it cannot write (read-only, or a full disk): the
            # keyword side still answers
            log.warning("dense search skipped: %s", e.message)
        finally:
            lexical = lexical_job.result() if lexical_job is not None else []
            sentences = sentence_job.result() if sentence_job is not None else []
        return dense, lexical, sentences

    def _sentence_side(self, q_vec: np.ndarray, filters: Filters) -> list[tuple[str, float]]:
        """The sentence side's candidates; a filter's documents are read here, off the request thread."""
        assert self.sentence_index is not None
        return self.sentence_index.search(q_vec, self.config.sentence_candidates, self._kept(filters))

    def _kept(self, filters: Filters) -> set[str] | None:
        """The documents a filter keeps (None: no filter): named ones need no catalog read."""
        if filters == Filters():
            return None
        if filters == Filters(document_ids=filters.document_ids):
            return set(filters.document_ids or ())
        return self.catalog.filtered_ids(*filters.sql("?"))

    def _read(
        self,
        dense: list[tuple[str, float]],
        lexical: list[tuple[str, float]],
        sentences: list[tuple[str, float]],
        top_k: int,
    ) -> _View:
        """What the candidates are in the catalog, read in the caller's snapshot: only keys of current
        revisions count, and the spans, texts and titles are those of one revision of each document."""
        cfg = self.config
        found = [*dense, *lexical, *sentences]
        visible = self.catalog.visible_chunks([k for k, _ in found])
        complete = all(k in visible for k, _ in found)
        dense = [(k, s) for k, s in dense if k in visible]
        lexical = [(k, s) for k, s in lexical if k in visible]
        sentences = [(k, s) for k, s in sentences if k in visible]
        fused = fuse_reciprocal_rank(
            [[k for k, _ in dense], [k for k, _ in lexical], [k for k, _ in sentences]],
            [cfg.dense_weight, cfg.lexical_weight, cfg.sentence_weight],
            k=cfg.rrf_k,
        )
        # the texts of the chunks that can reach the answer: the re-ranked pool or the MMR pool
        head = [k for k, _ in fused][: max(cfg.rerank_pool, top_k, max(top_k * 3, 10) if cfg.use_mmr else 0)]
        docs = {visible[k][1] for k in head}
        return _View(
            complete,
            dense,
            lexical,
            sentences,
            fused,
            visible,
            self.catalog.texts(docs),
            self.catalog.titles(docs),
        )

    def _rank(self, query: str, view: _View, top_k: int) -> list[SearchHit]:
        cfg = self.config
        if not view.fused:
            return []
        visible, texts = view.visible, view.texts
        ids = [k for k, _ in view.fused]
        score = dict(view.fused)
        if cfg.rerank and cfg.use_dense and len(ids) > 1:
            pool = ids[: max(cfg.rerank_pool, top_k)]
            score = self._rerank(query, pool, {k: visible[k][1:] for k in pool}, texts)
            ids = sorted(pool, key=lambda c: -score[c]) + [c for c in ids if c not in score]
        if cfg.use_mmr and len(ids) > 1:
            pool = ids[: max(top_k * 3, 10)]
            vecs = self.vectors.vectors(pool)
            pool = [k for k in pool if k in vecs]
            ids = (
                maximal_marginal_relevance(
                    pool,
                    [score[c] for c in pool],
                    np.stack([vecs[c] for c in pool]),
                    top_k,
                    lam=cfg.mmr_lambda,
                )
                if pool
                else []
            )
        dense_sim = dict(view.dense)
        dense_rank = {k: i + 1 for i, (k, _) in enumerate(view.dense)}
        lex_score = dict(view.lexical)
        lex_rank = {k: i + 1 for i, (k, _) in enumerate(view.lexical)}
        sent_rank = {k: i + 1 for i, (k, _) in enumerate(view.sentences)}
        hits = []
        for key in ids[:top_k]:
            cid, doc_id, start, end = visible[key]
            title, dup = view.titles[doc_id]
            hits.append(
                SearchHit(
                    chunk_id=cid,
                    document_id=doc_id,
                    title=title,
                    text=texts[doc_id][start:end],
                    start=start,
                    end=end,
                    score=round(score.get(key, 0.0), 6),
                    dense_similarity=dense_sim.get(key),
                    lexical_score=lex_score.get(key),
                    dense_rank=dense_rank.get(key),
                    lexical_rank=lex_rank.get(key),
                    sentence_rank=sent_rank.get(key),
                    duplicate_of=dup,
                    document_text=texts[doc_id],
                )
            )
        return hits

    def sentence_hits(self, query: str, hits: list[SearchHit], n: int) -> list[SentenceHit]:
        """The n best sentences of the retrieved chunks, each scored on its own (its vector, computed at
        ingest, and its words): a one-line answer inside a long chunk competes as a sentence, not as a
        fraction of its chunk's vector. Ranked by the re-ranker's blend; the chunk's rank as a prior."""
        if not hits:
            return []
        cfg = self.config
        chunks = self._chunk_sentences([(h.text, 0, len(h.text)) for h in hits])
        q_vec = self.embed_query(query)
        score = coverage_scorer(stems(query), idf_weights(st for c in chunks for st in c.stems))
        out: list[SentenceHit] = []
        for rank, (h, c) in enumerate(zip(hits, chunks)):
            dense = c.vectors @ q_vec
            for (a, b), d, st in zip(c.spans, dense, c.stems):
                blend = (
                    cfg.rerank_dense * float(d)
                    + cfg.rerank_lexical * score(st)
                    + cfg.rerank_prior / (rank + 1)
                )
                out.append(
                    SentenceHit(h, h.start + int(a), h.start + int(b), round(blend, 6), float(d), rank)
                )
        out.sort(key=lambda s: -s.score)
        return out[:n]

    def chunk_sentences(self, hits: list[SearchHit]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each hit's sentences: (start, end) pairs relative to its chunk, and their unit vectors
        (computed at ingest), in the hits' order."""
        chunks = self._chunk_sentences([(h.text, 0, len(h.text)) for h in hits])
        return [(c.spans, c.vectors) for c in chunks]

    def sentence_vectors(self, hits: list[SearchHit]) -> dict[tuple[str, int, int], np.ndarray]:
        """{(document id, start, end): unit vector} of the hits' sentences, document offsets: the
        re-ranker has just read them into memory, so an engine need not read the cache file again."""
        out: dict[tuple[str, int, int], np.ndarray] = {}
        for h, (spans, vectors) in zip(hits, self.chunk_sentences(hits)):
            for (a, b), v in zip(spans, vectors):
                out[(h.document_id, h.start + int(a), h.start + int(b))] = v
        return out

    def term_rows(self, terms: Iterable[str]) -> tuple[dict[str, int], int]:
        """({stem: chunks that hold it}, chunks): the in-memory index's counts when there is one."""
        if self.lexical_index is not None:
            return self.lexical_index.term_rows(terms)
        return self.catalog.term_rows(terms)

    def warm(self) -> None:
        if self.lexical_index is not None and self.config.use_lexical:
            self.lexical_index.warm()
        if self.sentence_index is not None and self.config.use_dense and self.config.use_sentences:
            self.sentence_index.warm()

    def _lexical(self, query: str, n: int, filters: Filters) -> list[tuple[str, float]]:
        """BM25: in memory when unfiltered (milliseconds at 100k chunks), else FTS5 with the filter."""
        terms = query_terms(query)
        if not terms:
            return []
        where_sql, params = filters.sql(self.catalog.param_mark)
        if self.lexical_index is not None and not where_sql:
            return self.lexical_index.search(terms, n, self.config.lexical_budget)
        terms = list(dict.fromkeys(stem(t) for t in terms))  # the index holds analyzed stems
        rows, total = self.catalog.term_rows(terms)
        kept = prune_terms(terms, rows, total, self.config.lexical_budget)
        if not kept:
            return []
        found = self.catalog.keyword_search(kept, n, where_sql, params)
        return [(chunk_key(r[0], r[5]), float(r[4])) for r in found]

    def _rerank(
        self, query: str, pool: list[str], visible: dict[str, tuple[str, int, int]], texts: dict[str, str]
    ) -> dict[str, float]:
        """Score each pooled chunk by its best sentence: a chunk mixes several facts, and its one
        vector blurs them; the sentence vectors were computed at ingest (cache hits here)."""
        cfg = self.config
        chunks = self._chunk_sentences([(texts[visible[cid][0]], *visible[cid][1:]) for cid in pool])
        q_vec = self.embed_query(query)
        score = coverage_scorer(stems(query), idf_weights(st for c in chunks for st in c.stems))
        best_dense = [float((c.vectors @ q_vec).max()) for c in chunks]
        best_lexical = [max(score(st) for st in c.stems) for c in chunks]
        combined = rerank_scores(
            best_dense, best_lexical, cfg.rerank_dense, cfg.rerank_lexical, cfg.rerank_prior
        )
        return dict(zip(pool, combined))

    def _chunk_sentences(self, spans: list[tuple[str, int, int]]) -> list[_Sentences]:
        """Each chunk's sentences' vectors and stems (chunk = (document text, start, end)). Kept in
        memory for the chunks searches keep returning, keyed by the chunk's text: a document
        re-ingested with new text misses, it never reads stale vectors. Misses are read from the
        embedding cache in one call."""
        keys = [text[start:end] for text, start, end in spans]
        with self._sentence_lock:
            found = {k: self._sentences[k] for k in keys if k in self._sentences}
            for k in found:
                self._sentences.move_to_end(k)
        todo = {k: span for k, span in zip(keys, spans) if k not in found}
        if todo:
            # one row a chunk in the embedding cache (ingest wrote it): spans and vectors together
            for k, (pairs, vectors) in zip(todo, self.embedder.chunk_sentences(list(todo.values()))):
                found[k] = _Sentences(vectors, [stems(k[a:b]) for a, b in pairs], pairs)
            with self._sentence_lock:
                for k in todo:
                    self._sentences[k] = found[k]
                while len(self._sentences) > self.config.sentence_cache_chunks:
                    self._sentences.popitem(last=False)
        return [found[k] for k in keys]
