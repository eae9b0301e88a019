"""The answer engine the service calls: extractive offline, an LLM when one is configured.

Both share retrieval and sentence candidates; the LLM engine falls back to the extractive one on
any failure, with a warning, so a caller never gets a 500 because a model endpoint is down.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

import numpy as np

from answers.extractive import ExtractiveConfig, candidates_from_hits, extract_answer, named_clauses
from answers.models import Answer, Summary
from answers.rewrite import rewrite_follow_up
from answers.summarize import SummaryConfig, document_sentences, select_sentences, summary_from_groups
from prompts import PromptSet
from retrieval.models import SearchHit
from retrieval.search import Filters

if TYPE_CHECKING:
    from factdesk.service import Factdesk
    from factdesk.settings import Settings

MAX_SUMMARY_DOCUMENTS = 50


class AnswerEngine(Protocol):
    def ask(self, question: str, *, top_k: int, filters: Filters | None, history: list[str]) -> Answer: ...

    def ask_stream(
        self, question: str, *, top_k: int, filters: Filters | None, history: list[str]
    ) -> Iterator[dict]: ...

    def summarize(self, *, document_ids: list[str] | None, query: str | None, max_words: int) -> Summary: ...


def stream_text(text: str) -> Iterator[str]:
    """Word-sized pieces that add up exactly to text."""
    yield from (m.group(0) for m in re.finditer(r"\S+\s*|\s+", text))


class ExtractiveEngine:
    generator = "extractive"

    def __init__(
        self,
        service: Factdesk,
        prompts: PromptSet,
        config: ExtractiveConfig | None = None,
        summary_config: SummaryConfig | None = None,
    ) -> None:
        self.service = service
        self.prompts = prompts
        self.config = config or ExtractiveConfig()
        self.summary_config = summary_config or SummaryConfig()

    # shared with the LLM engine
    def retrieve(
        self, question: str, top_k: int, filters: Filters | None, history: list[str]
    ) -> tuple[str, list[SearchHit]]:
        query = rewrite_follow_up(question, history)
        k = max(top_k, self.config.retrieve_k)
        return query, self.service.searcher.search(query, k, filters)

    def answer_hits(self, query: str, hits: list[SearchHit], asked: str | None = None) -> Answer:
        """asked: the question as the user typed it, when query is its follow-up rewrite."""
        texts = self.service.catalog.texts({h.document_id for h in hits})
        cands = candidates_from_hits(hits, texts)
        embed = self.service.searcher.embed_query
        vecs = self.service.embedder.embed([c.text for c in cands]) if cands else np.zeros((0, 1))
        # question-sized texts: the query path (in-memory LRU), not the embedding cache file
        for i, clause in named_clauses(query, cands):
            cands[i].clause_vec = embed(clause)
        as_asked = (asked, embed(asked)) if asked and asked != query else None
        return extract_answer(query, embed(query), cands, vecs, self.config, self.prompts.version, as_asked)

    def ask(self, question: str, *, top_k: int, filters: Filters | None, history: list[str]) -> Answer:
        query, hits = self.retrieve(question, top_k, filters, history)
        answer = self.answer_hits(query, hits, question)
        if query != question:
            answer.question = query
        return answer

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
            filters = Filters(document_ids=tuple(document_ids)) if document_ids else None
            hits = svc.searcher.search(query, 10, filters)
            within = {}
            for h in hits:
                within.setdefault(h.document_id, []).append((h.start, h.end))
            ids = list(within)
        elif document_ids:
            ids = list(dict.fromkeys(document_ids))
        else:
            docs = sorted(svc.catalog.list(), key=lambda d: -d.created_at)
            if len(docs) > MAX_SUMMARY_DOCUMENTS:
                warnings.append(
                    f"summarised the {MAX_SUMMARY_DOCUMENTS} most recent of {len(docs)} documents"
                )
            # a near-duplicate copy adds no facts of its own
            ids = [d.id for d in docs[:MAX_SUMMARY_DOCUMENTS] if not d.duplicate_of] or [
                d.id for d in docs[:MAX_SUMMARY_DOCUMENTS]
            ]
        sentences = []
        for doc_id in ids:
            doc = svc.catalog.get(doc_id)
            if doc is None:
                continue
            bounds = [(c.id, c.start, c.end) for c in svc.catalog.chunks_of(doc_id)]
            sentences += document_sentences(doc, bounds, within.get(doc_id) if within is not None else None)
        if not sentences:
            return Summary(
                summary="The articles contain nothing to summarise" + (" for this query." if query else "."),
                citations=[],
                generator=self.generator,
                prompt_version=self.prompts.version,
                warnings=warnings,
            )
        vecs = svc.embedder.embed([s.text for s in sentences])
        q_vec = svc.searcher.embed_query(query) if query else None
        groups = select_sentences(sentences, vecs, max_words, q_vec, self.summary_config)
        summary = summary_from_groups(groups, self.generator, self.prompts.version)
        summary.warnings = warnings
        return summary


def build_engine(service: Factdesk, settings: Settings, prompts: PromptSet) -> AnswerEngine:
    extractive = ExtractiveEngine(service, prompts)
    if settings.llm_enabled:
        from answers.llm import LLMEngine

        return LLMEngine(service, settings, prompts, fallback=extractive)
    return extractive
