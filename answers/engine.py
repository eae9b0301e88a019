"""The answer engines the service calls: offline ones, and an LLM when one is configured.

Both offline engines get the same retrieval step (answers/retrieve.py: a follow-up made standalone,
then hybrid search). `FACTDESK_ANSWERER` picks how an answer is read from the hits:
- "reader" (default): candidates (the best sentences of the hits, a copied article's read once, each in
  its context) -> reader (a trained cross-encoder's probability that the sentence answers; each part of a
  question of several parts read too, and a capital that stands for its country read as the country)
  -> compose (the accepted sentences, grouped and cited; none accepted: decline);
- "ranker": every sentence of the hits -> features (answers/features.py) -> ranker (a small trained
  model over them) -> compose, as for the reader.
The LLM engine is handed the same retrieval and falls back to the offline engine on any failure,
with a warning, so a caller never gets a 500 because a model endpoint is down. A message asking for
a summary goes to the summarizer in every engine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Protocol

import numpy as np

from answers.candidates import Candidate, candidates, mark_reworded_copies, reader_passage
from answers.capitals import as_countries
from answers.compose import ComposeConfig, abstain, compose, speakers_named, statements_in_articles
from answers.definitions import definitions_in_articles, explanations_in_articles
from answers.features import Unit, features, warm_word_weights
from answers.intent import SummaryRequest, summary_request
from answers.language import other_script
from answers.models import Answer, Summary
from answers.parts import question_parts
from answers.people import ages_in_articles, holder_answered
from answers.ranker import Ranker
from answers.reader import Reader
from answers.retrieve import Retrieval, retrieve
from answers.rewrite import asks_for_person, named_person
from answers.summarize import (
    holds_every_word,
    mentioning,
    names_held_by_one,
    on_the_numbers_asked,
    Sentence,
    SummaryConfig,
    document_sentences,
    select_sentences,
    summary_from_groups,
)
from answers.wording import find_copies
from prompts import PromptSet
from retrieval.catalogs import AnyCatalog
from retrieval.fusion import fuse_reciprocal_rank
from retrieval.lexical import query_terms, stems
from retrieval.models import SearchHit, best_scores, hit_texts
from retrieval.search import Filters, SentenceHit

if TYPE_CHECKING:
    from factdesk.service import Factdesk
    from factdesk.settings import Settings

MAX_SUMMARY_DOCUMENTS = 50
# sentences a summary weighs at most, shared out among its documents, each giving its first ones (a
# news story's lead): comparing every pair of sentences grows with their square, and a summary of a
# 2,000,000-character report, or of a thousand articles, ran for minutes
MAX_SUMMARY_SENTENCES = 3000
MIN_SENTENCES_A_DOCUMENT = 3


def recent_documents(catalog: AnyCatalog) -> tuple[list[str], list[str]]:
    """(ids, warnings) of what a summary of "the articles" covers: the MAX_SUMMARY_DOCUMENTS most
    recently written documents, newest first, chosen among all of them in SQL. A near-duplicate copy
    adds no facts of its own, so copies are left out unless nothing else is left."""
    recent = catalog.recent(MAX_SUMMARY_DOCUMENTS)
    total = catalog.count()[0] if len(recent) == MAX_SUMMARY_DOCUMENTS else len(recent)
    warnings = []
    if total > MAX_SUMMARY_DOCUMENTS:
        warnings.append(f"summarised the {MAX_SUMMARY_DOCUMENTS} most recent of {total} documents")
    return [d.id for d in recent if not d.duplicate_of] or [d.id for d in recent], warnings


@dataclass
class ReaderConfig:
    retrieve_k: int = 12  # chunks searched; their sentences compete for the reader
    reader_pool: int = 12  # sentences the reader reads, best retrieval scores first
    summary_pool: int = 24  # sentences nearest a focused summary's query that the reader ranks
    compose: ComposeConfig | None = None
    by_part: bool = True  # a question of several parts also read part by part (answers/parts.py)
    # the pool read is reader_pool sentences that are no copy of one another, from the distinct_widen
    # times as many best; a copied article's sentences join their source's unread (ReaderEngine.distinct)
    distinct_pool: bool = True
    distinct_widen: int = 2
    # a capital that stands for its country ("Ankara's troops") also read as the country
    # (answers/capitals.py)
    capitals_as_countries: bool = True


class AnswerEngine(Protocol):
    def ask(self, question: str, *, top_k: int, filters: Filters | None, history: list[str]) -> Answer: ...

    def ask_stream(
        self, question: str, *, top_k: int, filters: Filters | None, history: list[str]
    ) -> Iterator[dict]: ...

    def summarize(self, *, document_ids: list[str] | None, query: str | None, max_words: int) -> Summary: ...

    def warm(self) -> None: ...

    def degraded(self) -> list[str]:
        """What answers are made without now (/readyz's `degraded`): a failing LLM endpoint."""
        ...


def stream_text(text: str) -> Iterator[str]:
    """Word-sized pieces that add up exactly to text."""
    yield from (m.group(0) for m in re.finditer(r"\S+\s*|\s+", text))


def answer_summary_request(
    engine: AnswerEngine,
    req: SummaryRequest,
    filters: Filters | None,
    max_words: int,
    cited: Callable[[str], list[str]],
) -> Answer:
    """A message that asked for a summary, answered by the engine's own summarizer. After a question
    ("Summarize it"), the summary keeps to the articles that `cited` (the offline answer to that
    question's documents) names, when it names any."""
    ids = list(filters.document_ids) if filters and filters.document_ids is not None else None
    if req.after_question and req.query:
        ids = cited(req.query) or ids
    return summary_as_answer(engine.summarize(document_ids=ids, query=req.query, max_words=max_words))


def summary_as_answer(summary: Summary) -> Answer:
    """A summary in an answer's shape (for a summary request sent as a question)."""
    return Answer(
        answer=summary.summary,
        abstained=not summary.citations,
        citations=summary.citations,
        generator=summary.generator,
        prompt_version=summary.prompt_version,
        warnings=summary.warnings,
    )


class OfflineEngine:
    """What both offline engines share: retrieval, summary requests, streaming and summaries. A
    subclass reads the answer from the hits (`answer_hits`)."""

    generator = "extractive"  # the contract's name for an answer taken from the articles' sentences

    def __init__(
        self, service: Factdesk, prompts: PromptSet, summary_config: SummaryConfig | None = None
    ) -> None:
        self.service = service
        self.prompts = prompts
        self.summary_config = summary_config or SummaryConfig()

    retrieve_k = 8

    def warm(self) -> None:
        """Load what the first question would otherwise wait for."""

    def degraded(self) -> list[str]:
        return []

    # shared with the LLM engine
    def retrieve(
        self, question: str, top_k: int, filters: Filters | None, history: list[str], named: bool = True
    ) -> Retrieval:
        person = self.answer_named(question, top_k, filters, history) if named else None
        with self.service.telemetry.stage("retrieve"):
            return retrieve(
                self.service.searcher, question, history, max(top_k, self.retrieve_k), filters, person
            )

    def answer_named(
        self, question: str, top_k: int, filters: Filters | None, history: list[str]
    ) -> str | None:
        """Whom the answer to the previous turn named, when the question's "he" or "she" is likely
        that person ("Who is the club's sporting director?" / "How old is she?"): the previous turn
        is answered again, as it was asked (its own follow-up resolved as before, one level deep)."""
        if not history or not asks_for_person(question, history[-1]):
            return None
        _, query, hits = self.retrieve(history[-1], top_k, filters, history[:-1], named=False)
        if not query_terms(query):
            return None
        earlier = self.answer_hits(query, hits, history[-1])
        if earlier.abstained:
            return None
        quotes = [c.quote for c in earlier.citations]
        return holder_answered(quotes, query) or named_person(quotes, query)

    def answer_hits(self, query: str, hits: list[SearchHit], asked: str | None = None) -> Answer:
        """The answer read from these hits; query is the standalone question (asked: as typed)."""
        raise NotImplementedError

    def compose_scored(
        self,
        query: str,
        hits: list[SearchHit],
        cands: list[Candidate],
        vecs: np.ndarray,
        threshold: float,
        cfg: ComposeConfig | None,
    ) -> Answer:
        """The answer from candidates a model has scored (answers/compose.py), reworded copies marked."""
        cfg = cfg or ComposeConfig()
        texts = hit_texts(hits)
        with self.service.telemetry.stage("compose"):
            same = mark_reworded_copies(cands, vecs, cfg.same_above, texts, self.service.searcher.term_rows)
            return compose(
                cands,
                vecs,
                threshold,
                cfg,
                self.generator,
                self.prompts.version,
                same,
                texts,
                query,
                best_scores(hits),
            )

    def ask(self, question: str, *, top_k: int, filters: Filters | None, history: list[str]) -> Answer:
        if (req := summary_request(question, history)) is not None:
            return answer_summary_request(
                self,
                req,
                filters,
                self.service.settings.summary_max_words,
                partial(self.cited_documents, top_k=top_k, filters=filters, history=history),
            )
        if other_script(question):  # the embedder and the reader read English only: nothing to search
            return abstain(self.generator, self.prompts.version)
        asked, query, hits = self.retrieve(question, top_k, filters, history)
        if not query_terms(query):  # "x", "what is it?": nothing asked that an article could answer
            answer = abstain(self.generator, self.prompts.version)
        else:
            answer = self.answer_hits(query, hits, question)
        answer.retrieved = hits
        if query != asked:
            answer.question = query
        return answer

    def cited_documents(
        self, question: str, *, top_k: int, filters: Filters | None, history: list[str]
    ) -> list[str]:
        """The documents the answer to question (the latest turn of history that asked it) cites, in
        citation order; it is asked with the turns before it, as it was asked then."""
        asked = max((i for i, turn in enumerate(history) if turn.strip() == question), default=len(history))
        answer = self.ask(question, top_k=top_k, filters=filters, history=history[:asked])
        return list(dict.fromkeys(c.document_id for c in answer.citations))

    def ask_stream(
        self, question: str, *, top_k: int, filters: Filters | None, history: list[str]
    ) -> Iterator[dict]:
        answer = self.ask(question, top_k=top_k, filters=filters, history=history)
        for piece in stream_text(answer.answer):
            yield {"delta": piece}
        yield {"done": True, **answer.to_dict()}

    def summarize(self, *, document_ids: list[str] | None, query: str | None, max_words: int) -> Summary:
        svc = self.service
        warnings: list[str] = []
        within: dict[str, list[tuple[int, int]]] | None = None
        if query:
            filters = Filters(document_ids=tuple(document_ids)) if document_ids is not None else None
            with svc.telemetry.stage("retrieve"):
                # the passages on the query's subject, not those that only fill the ten hits
                hits = svc.searcher.search(query, 10, filters)
                hits = mentioning(query, hits, *svc.searcher.term_rows(stems(query)))
            within = {}
            for h in hits:
                within.setdefault(h.document_id, []).append((h.start, h.end))
            ids = list(within)
        elif document_ids is not None:  # [] restricts to nothing, as it does a question
            ids = list(dict.fromkeys(document_ids))
        else:
            ids, warnings = recent_documents(svc.catalog)
        sentences = []
        share = max(MAX_SUMMARY_SENTENCES // max(len(ids), 1), MIN_SENTENCES_A_DOCUMENT)
        cut = 0
        for doc_id in ids:
            with svc.catalog.snapshot():  # the text and the chunk spans of one revision
                doc, chunks = svc.catalog.get(doc_id), svc.catalog.chunks_of(doc_id)
            if doc is None:
                continue
            bounds = [(c.id, c.start, c.end) for c in chunks]
            of_doc = document_sentences(doc, bounds, within.get(doc_id) if within is not None else None)
            cut += len(of_doc) > share
            sentences += of_doc[:share]
        if cut:
            warnings.append(
                f"summarised the first {share} sentences of each document ({cut} of them have more)"
            )
        if query:
            sentences = on_the_numbers_asked(query, sentences)
        if not sentences:
            return self._nothing_to_summarise(query, warnings)
        with svc.telemetry.stage("read"):
            vecs = svc.embedder.embed([s.text for s in sentences])
            q_vec = svc.searcher.embed_query(query) if query else None
        with svc.telemetry.stage("compose"):
            same, copies = find_copies(
                [(s.document_id, s.start) for s in sentences],
                vecs,
                self.summary_config.redundant_above,
                {s.document_id: s.document.text for s in sentences},
                svc.searcher.term_rows,
                [s.text for s in sentences],
                beside=False,
            )
            relevance, found = (
                self.summary_relevance(query, sentences, vecs @ q_vec)
                if query and q_vec is not None
                else (None, True)
            )
            if not found:  # nothing in the articles speaks to the query ("kimchi recipe")
                return self._nothing_to_summarise(query, warnings)
            groups = select_sentences(
                sentences, vecs, max_words, q_vec, self.summary_config, same, copies.keys(), relevance
            )
            summary = summary_from_groups(groups, self.generator, self.prompts.version)
        if not groups:  # every sentence is longer than the budget: say so rather than answer ""
            summary.summary = f"No sentence of the articles fits in {max_words} words."
            warnings.append(
                f"every sentence to summarise is longer than {max_words} words with its citation "
                "marker (a word of the count); ask for more words"
            )
        summary.warnings = warnings
        return summary

    def _nothing_to_summarise(self, query: str | None, warnings: list[str]) -> Summary:
        return Summary(
            summary="The articles contain nothing to summarise" + (" for this query." if query else "."),
            citations=[],
            generator=self.generator,
            prompt_version=self.prompts.version,
            warnings=warnings,
        )

    def summary_relevance(
        self, query: str, sentences: list[Sentence], sims: np.ndarray
    ) -> tuple[np.ndarray | None, bool]:
        """How well each sentence serves a focused summary's query (sims: their vectors' cosine to
        it), or None for select_sentences' own blend of centrality and that cosine; and whether any
        sentence speaks to the query at all."""
        return None, True


class _Span(Protocol):
    document_id: str
    start: int
    end: int
    text: str


def candidate_vectors(service: Factdesk, hits: list[SearchHit], cands: Sequence[_Span]) -> np.ndarray:
    """The candidate sentences' vectors: those of the hits' sentences where the spans match (in memory
    after the re-ranker), the embedder (and its cache file) for the rest."""
    if not cands:
        return np.zeros((0, 1), dtype=np.float32)
    known = service.searcher.sentence_vectors(hits)
    missing = [c.text for c in cands if (c.document_id, c.start, c.end) not in known]
    fresh = iter(service.embedder.embed(missing)) if missing else iter(())
    found = (known.get((c.document_id, c.start, c.end)) for c in cands)
    return np.stack([v if v is not None else next(fresh) for v in found])


class ReaderEngine(OfflineEngine):
    """retrieve -> candidates -> reader -> compose (module docstring)."""

    def __init__(
        self,
        service: Factdesk,
        prompts: PromptSet,
        config: ReaderConfig | None = None,
        reader: Reader | None = None,
    ) -> None:
        super().__init__(service, prompts)
        self.config = config or ReaderConfig()
        self.retrieve_k = self.config.retrieve_k
        self.reader = reader or Reader(
            service.settings.reader_dir,
            precision=service.settings.reader_precision,
            threads=service.settings.torch_threads,
            cache_dir=service.model_cache_dir,
        )

    def warm(self) -> None:
        self.reader.load()

    def summary_relevance(
        self, query: str, sentences: list[Sentence], sims: np.ndarray
    ) -> tuple[np.ndarray | None, bool]:
        """For the summary_pool sentences nearest the query, the reader's ranking (each read as an
        answer candidate is, the query as its question) fused with the cosine ranking by reciprocal
        rank; the rest after them, by cosine. By cosine or centrality alone a focused summary opened
        with the articles' lead sentences, not the asked-for aspect; by the reader alone it took an
        off-topic sentence for a noun-phrase query now and then (docs/evals.md, "Summaries of
        written news"). Found: the reader accepts one of them, as it must accept a sentence to answer
        a question, or one article holds every word of the query ("apricot frost" over an article on
        frost in the apricot orchards, whose sentences answer no question the query asks), or one holds
        every name the query gives ("the Tiago Mendes transfer" in an article that never says
        "transfer"); a query on a subject the articles never mention finds nothing."""
        top = np.argsort(-sims, kind="stable")[: self.config.summary_pool]  # in cosine order
        passages = [
            reader_passage(s.document.text, s.start, s.end, s.title) for s in (sentences[i] for i in top)
        ]
        probabilities = self.reader.score(query, passages)
        by_reader = np.argsort(-probabilities, kind="stable")
        ids = [str(i) for i in top]
        out = sims - 2.0  # under every fused score
        for i, score in fuse_reciprocal_rank([ids, [ids[j] for j in by_reader]]):
            out[int(i)] = score
        accepted = bool(len(probabilities)) and float(np.max(probabilities)) >= self.reader.threshold
        documents = {s.document.id: s.document for s in sentences}.values()
        return out, accepted or holds_every_word(query, documents) or names_held_by_one(query, documents)

    def read(self, query: str, hits: list[SearchHit]) -> list[Candidate]:
        """The hits' best sentences as candidates, in search order, each with the reader's probability
        (evals/reader_check.py reads them too)."""
        return self.read_with_vectors(query, hits)[0]

    def read_with_vectors(self, query: str, hits: list[SearchHit]) -> tuple[list[Candidate], np.ndarray]:
        """`read`'s candidates and their sentence vectors (compose groups by them)."""
        cfg = self.config
        wide = cfg.reader_pool * (cfg.distinct_widen if cfg.distinct_pool else 1)
        cands = candidates(self.service.searcher.sentence_hits(query, hits, wide), hit_texts(hits))
        vecs = candidate_vectors(self.service, hits, cands)
        if not cands:
            return cands, vecs
        read, copies = (
            self.distinct(hits, cands, vecs) if cfg.distinct_pool else (list(range(len(cands))), {})
        )
        passages = [cands[i].passage for i in read]
        parts = question_parts(query) if cfg.by_part else [query]
        readings = [query, *(parts if len(parts) > 1 else [])]
        if cfg.capitals_as_countries:
            readings += [r for r in map(as_countries, readings) if r is not None]
        probabilities = np.max([self.reader.score(r, passages) for r in readings], axis=0)
        for i, p in zip(read, probabilities):
            cands[i].probability = float(p)
        for i, r in copies.items():
            cands[i].probability = cands[r].probability
        kept = sorted([*read, *copies])
        return [cands[i] for i in kept], vecs[kept]

    def with_statements_asked(
        self, query: str, hits: list[SearchHit], cands: list[Candidate], vecs: np.ndarray
    ) -> tuple[list[Candidate], np.ndarray]:
        """For "What did <name> say?", "How old is <name>?", "What does <acronym> stand for?", "What
        is <term>?" and "Who said ...?": the candidates, and every other sentence of the retrieved
        articles attributed to that person, giving their age, spelling the acronym out, explaining
        the term or naming the speaker of a statement the reader accepts, read too
        (compose.statements_in_articles, people.ages_in_articles, definitions, compose.speakers_named)."""
        texts = hit_texts(hits)
        have = {(c.document_id, c.start) for c in cands}
        found = (
            statements_in_articles(query, texts)
            or ages_in_articles(query, texts)
            or definitions_in_articles(query, texts)
            or explanations_in_articles(query, texts)
            or speakers_named(query, cands, self.reader.threshold, texts)
        )
        spans = [(d, a, b) for d, a, b in found if (d, a) not in have]
        if not spans:
            return cands, vecs
        best = {}
        for h in reversed(hits):
            best[h.document_id] = h
        chunks = {d: self.service.catalog.chunks_of(d) for d in {d for d, _, _ in spans}}

        def hit_of(doc_id: str, start: int, end: int) -> SearchHit:
            """The sentence's own chunk as a hit, so that its citation names the chunk it is in."""
            h = best[doc_id]
            for ch in chunks[doc_id]:
                if ch.start <= start and end <= ch.end and h.document_text[ch.start : ch.end] == ch.text:
                    return replace(h, chunk_id=ch.id, start=ch.start, end=ch.end, text=ch.text)
            return h

        extra = candidates(
            [SentenceHit(hit_of(d, a, b), a, b, 0.0, 0.0, len(hits)) for d, a, b in spans], texts
        )
        if not extra:
            return cands, vecs
        for c, p in zip(extra, self.reader.score(query, [c.passage for c in extra])):
            c.probability = float(p)
        more = candidate_vectors(self.service, hits, extra)
        return [*cands, *extra], (np.vstack([vecs, more]) if cands else more)

    def distinct(
        self, hits: list[SearchHit], cands: list[Candidate], vecs: np.ndarray
    ) -> tuple[list[int], dict[int, int]]:
        """(the first reader_pool candidates that are no copy of one before them, {each copy: the
        candidate it copies}). A copy is a sentence of a copied article (a near-duplicate, or a
        machine-reworded copy: answers/wording.py) that says what a sentence of its source says
        (compose's grouping), or that source sentence after its copy: it is not read again but takes
        its twin's probability, and the reader reads one more sentence of something else in its place.
        Another outlet's own wording of a statement is still read: a loose match (two speakers' "3,000")
        must not hand one sentence the other's probability."""
        cfg = self.config
        same_above = (cfg.compose or ComposeConfig()).same_above
        same = mark_reworded_copies(cands, vecs, same_above, hit_texts(hits), self.service.searcher.term_rows)

        def copies_one_another(i: int, r: int) -> bool:
            a, b = cands[i], cands[r]
            return bool(same[i, r]) and (a.duplicate_of == b.document_id or b.duplicate_of == a.document_id)

        read: list[int] = []
        copies: dict[int, int] = {}
        for i in range(len(cands)):
            twins = [r for r in read if copies_one_another(i, r)]
            if twins:
                copies[i] = max(twins, key=lambda r: float(vecs[i] @ vecs[r]))
            elif len(read) < cfg.reader_pool:
                read.append(i)
        return read, copies

    def answer_hits(self, query: str, hits: list[SearchHit], asked: str | None = None) -> Answer:
        with self.service.telemetry.stage("read"):
            cands, vecs = self.with_statements_asked(query, hits, *self.read_with_vectors(query, hits))
        if not cands:
            return abstain(self.generator, self.prompts.version)
        return self.compose_scored(query, hits, cands, vecs, self.reader.threshold, self.config.compose)


class RankerEngine(OfflineEngine):
    """retrieve -> every sentence of the retrieved chunks -> ranker (answers/ranker.py) -> compose."""

    def __init__(
        self,
        service: Factdesk,
        prompts: PromptSet,
        config: ReaderConfig | None = None,
        ranker: Ranker | None = None,
    ) -> None:
        super().__init__(service, prompts)
        self.config = config or ReaderConfig()
        self.retrieve_k = self.config.retrieve_k
        self.ranker = ranker or Ranker.load()

    def warm(self) -> None:
        warm_word_weights()

    def answer_hits(self, query: str, hits: list[SearchHit], asked: str | None = None) -> Answer:
        telemetry = self.service.telemetry
        with telemetry.stage("read"):
            ranked = self._rank(query, hits)
        if ranked is None:
            return abstain(self.generator, self.prompts.version)
        return self.compose_scored(query, hits, *ranked, self.ranker.threshold, self.config.compose)

    def _rank(self, query: str, hits: list[SearchHit]) -> tuple[list, np.ndarray] | None:
        """The candidates, with the ranker's probabilities, and their vectors; None: no candidate."""
        searcher = self.service.searcher
        per_hit = searcher.chunk_sentences(hits)
        units = [Unit([h.text[a:b] for a, b in spans], vectors) for h, (spans, vectors) in zip(hits, per_hit)]
        x, index = features(query, searcher.embed_query(query), units)
        probs = self.ranker.probabilities(x)
        order = np.argsort(-probs, kind="stable")[: self.config.reader_pool]
        sentences, vecs = [], []
        for row in order:
            u, i = index[row]
            a, b = per_hit[u][0][i]
            h = hits[u]
            sentences.append(SentenceHit(h, h.start + int(a), h.start + int(b), float(probs[row]), 0.0, u))
            vecs.append(per_hit[u][1][i])
        cands = candidates(sentences, hit_texts(hits))
        if not cands:
            return None
        by_span = {(s.hit.document_id, s.start): (s.score, v) for s, v in zip(sentences, vecs)}
        for c in cands:
            c.probability = by_span[(c.document_id, c.start)][0]
        return cands, np.stack([by_span[(c.document_id, c.start)][1] for c in cands])


def offline_engine(service: Factdesk, settings: Settings, prompts: PromptSet) -> OfflineEngine:
    if settings.answerer == "ranker":
        return RankerEngine(service, prompts)
    return ReaderEngine(service, prompts)


def build_engine(service: Factdesk, settings: Settings, prompts: PromptSet) -> AnswerEngine:
    offline = offline_engine(service, settings, prompts)
    if settings.llm_enabled:
        from answers.llm import LLMEngine

        return LLMEngine(service, settings, prompts, fallback=offline)
    return offline
