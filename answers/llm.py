"""The LLM engine: a model writes the answer, factdesk checks every citation before anyone sees it.

Retrieval is the offline engine's (same hybrid search and follow-up rewriting). The data's path:
the retrieved chunks become numbered, delimited passages, one sentence a line after its id ("2.3")
(answers/passages.py); the endpoint is asked for JSON sentences citing sentence ids, a schema enum so
that a grammar-bound model can only name ids it was shown, in the best mode the server takes
(answers/llm_client.py, answers/dialects.py); the reply is read whole or as it streams
(answers/llm_reply.py); every sentence is verified against the passages and numbered
(answers/cited.py): an id's citation is that sentence's exact span (the older passage-and-quote
form still counts when the quote occurs inside the passage it names), and the sentence's own text
must be about what it cites. Any failure of the endpoint (after the SDK's retries) or of its output
falls back to the offline engine (the reader) with a warning: a caller never gets an exception
because a model is down or confused.
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Iterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

import httpx
import openai

from answers import dialects
from answers.cited import (
    MIN_QUOTE_WORDS,
    Assembler,
    Cited,
    Span,
    assemble,
    dropped_warnings,
    evidence_passages,
    sentence_spans,
    trim_to_words,
    verify_sentence,
    verify_sentences,
)
from answers.engine import OfflineEngine, answer_summary_request, recent_documents, stream_text
from answers.intent import SummaryRequest, summary_request
from answers.llm_client import CUT_REPLY, CutReply, LLMClient, LLMFailure, describe_failure
from answers.llm_reply import (
    BadReply,
    DeltaText,
    SentenceStream,
    ThinkFilter,
    parse_reply,
    raw_sentences,
    answer_schema,
    said_abstain,
    summary_schema,
)
from answers.models import ABSTAIN_TEXT, Answer, Summary
from answers.passages import (
    Passage,
    fit_passages,
    group_passages,
    render_passage,
    render_passages,
    renumber,
)
from answers.telemetry import token_usage
from prompts import PromptSet
from retrieval.lexical import query_terms
from retrieval.models import SearchHit, hit_texts
from retrieval.search import Filters
from retrieval.tokens import count_tokens

if TYPE_CHECKING:
    from factdesk.service import Factdesk
    from factdesk.settings import Settings

# what other modules imported from here before the parts had modules of their own
__all__ = [
    "MIN_QUOTE_WORDS",
    "Assembler",
    "BadReply",
    "Cited",
    "DeltaText",
    "LLMEngine",
    "LLMFailure",
    "Passage",
    "SentenceStream",
    "Span",
    "ThinkFilter",
    "describe_failure",
    "fit_passages",
    "parse_reply",
    "answer_schema",
    "render_passage",
    "sentence_spans",
    "summary_schema",
    "verify_sentence",
]

MESSAGE_OVERHEAD_TOKENS = 12  # chat framing per request (role tags, separators)
REWRITE_MAX_TOKENS = 120
SUMMARY_QUERY_K = 20
MAX_REDUCE_ROUNDS = 3
# a stream that stalled or was cut before any sentence reached the client is asked again (up to
# llm_max_retries times); an invalid reply would come back the same
RETRIED_STREAM_FAILURES = ("timed out", "stream interrupted")
# reasons of an endpoint that answered, but with no reply an answer could come from
UNUSABLE_REPLIES = ("empty reply", "reply was not valid JSON", "invalid response", CUT_REPLY)
NO_ROOM = "the passages do not fit the LLM context"


class _StallWatch:
    """Closes a model's stream once no token came for stall_s: what arrives between tokens (events
    with empty content, SSE comment lines the SDK reads and drops) does not count."""

    def __init__(self, stream: Any, stall_s: float) -> None:
        self.stream, self.stall_s = stream, stall_s
        self.last_token, self.paused = time.monotonic(), False
        self.stalled, self._done = threading.Event(), threading.Event()
        threading.Thread(target=self._watch, name="factdesk-llm-stall", daemon=True).start()

    def token(self) -> None:
        self.last_token, self.paused = time.monotonic(), False

    def pause(self) -> None:
        """While the caller has a piece and has not asked for the next: a slow client is no stall."""
        self.paused = True

    def overdue(self) -> bool:
        return not self.paused and time.monotonic() - self.last_token > self.stall_s

    def stop(self) -> None:
        self._done.set()

    def _watch(self) -> None:
        while not self._done.wait(max(0.05, self.last_token + self.stall_s - time.monotonic())):
            if self.overdue():
                self.stalled.set()
                self.stream.close()  # the blocked read fails, at the latest when the next bytes come
                return


class _Attempt:
    """One streamed reply of the model: its raw content, whether it finished, and the markers its
    verified sentences were sent with."""

    def __init__(self) -> None:
        self.assembler = Assembler()
        self.content: list[str] = []
        self.finished = False
        self.finish_reason: str | None = None

    def verified_deltas(
        self,
        stream: Any,
        by_n: Mapping[int, Passage],
        by_id: Mapping[str, Span],
        streamed: list[str],
        stall_s: float,
    ) -> Iterator[str]:
        """Each sentence's text and markers, as pieces, once its citations verify; a sentence said
        before, or whose citations fail, is never sent. streamed: what the client has had so far.
        Events with no text (empty deltas a server sends to keep the connection busy) do not count
        as tokens: none for stall_s is a stall, as a silent connection is."""
        thinking, reader, deltas = ThinkFilter(), SentenceStream(), DeltaText()
        held: list[str] = []  # the current sentence's text, held back until its citations verify
        said: set[str] = set()
        # SSE comment lines (": ping") never reach this loop as events: a watch closes the stream
        # when no token came for stall_s, whatever else arrives
        watch = _StallWatch(stream, stall_s)
        try:
            for chunk in stream:
                if any(choice.delta and choice.delta.content for choice in chunk.choices or []):
                    watch.token()
                elif watch.overdue():
                    raise LLMFailure("timed out")
                for choice in chunk.choices or []:
                    piece = choice.delta.content if choice.delta else None
                    visible = thinking.feed(piece) if piece else ""
                    for kind, i, value in reader.feed(visible) if visible else []:
                        if kind == "text":
                            held.append(deltas.feed(i, value))
                            continue
                        text = "".join(held) + deltas.end()
                        held.clear()
                        cited = verify_sentence(value, by_n, by_id)
                        if cited is None or cited.text in said:
                            continue
                        said.add(cited.text)
                        # as the verified sentence reads (character references read as characters)
                        out = html.unescape(text) + " " + self.assembler.markers(cited)
                        watch.pause()
                        yield from stream_text(out if streamed else out.lstrip())
                        watch.token()
                    self.content.append(piece or "")
                    self.finished = self.finished or bool(choice.finish_reason)
                    self.finish_reason = choice.finish_reason or self.finish_reason
        except Exception:
            if watch.stalled.is_set():  # the watch closed the stream under the read
                raise LLMFailure("timed out") from None
            raise
        finally:
            watch.stop()
        if watch.stalled.is_set():  # closed under the read, which then saw the events end
            raise LLMFailure("timed out")


class LLMEngine:
    def __init__(
        self, service: Factdesk, settings: Settings, prompts: PromptSet, fallback: OfflineEngine
    ) -> None:
        self.service = service
        self.settings = settings
        self.prompts = prompts
        self.fallback = fallback
        self.model = settings.llm_model
        self.generator = settings.llm_model
        self.llm = LLMClient(settings, service.telemetry)
        self.telemetry = service.telemetry

    @property
    def endpoint(self) -> dialects.Endpoint:
        return self.llm.endpoint

    # ---- the AnswerEngine protocol

    def warm(self) -> None:
        self.fallback.warm()

    def degraded(self) -> list[str]:
        return [p] if (p := self.llm.problem()) else []

    def ask(self, question: str, *, top_k: int, filters: Filters | None, history: list[str]) -> Answer:
        if (req := summary_request(question, history)) is not None:
            return self._summary_answer(req, top_k, filters, history)
        query, hits = self._retrieve(question, top_k, filters, history)
        answer = self._ask(question, query, hits)
        answer.retrieved = hits
        return answer

    def _summary_answer(
        self, req: SummaryRequest, top_k: int, filters: Filters | None, history: list[str]
    ) -> Answer:
        # "Summarize it": the articles the offline answer cites, without a model call for a question
        # only asked to find them
        cited = partial(self.fallback.cited_documents, top_k=top_k, filters=filters, history=history)
        return answer_summary_request(self, req, filters, self.settings.summary_max_words, cited)

    def _ask(self, question: str, query: str, hits: list[SearchHit]) -> Answer:
        passages = self._answer_passages(query, hits)
        if not passages:
            return self._extractive(question, query, hits, _no_room(hits))
        try:
            reply = self.llm.complete_json(
                self._answer_messages(query, passages), answer_schema(list(sentence_spans(passages)))
            )
        except CutReply as cut:  # the sentences whole before the cut, as a stream would have sent them
            if not verify_sentences(cut.sentences, {p.n: p for p in passages}, sentence_spans(passages))[0]:
                return self._extractive(question, query, hits, [self._unavailable(cut)])
            answer = self._answer_from_reply({"sentences": cut.sentences}, passages, question, query, hits)
            answer.warnings.append(self._cut_warning())
            return answer
        except Exception as exc:  # noqa: BLE001 - a model failure must never reach the caller
            return self._extractive(question, query, hits, [self._unavailable(exc)])
        return self._answer_from_reply(reply, passages, question, query, hits)

    def _cut_warning(self) -> str:
        return (
            f"LLM reply cut at FACTDESK_LLM_ANSWER_TOKENS ({self.settings.llm_answer_tokens}): the "
            "sentences before the cut are kept; the answer may be incomplete"
        )

    def ask_stream(
        self, question: str, *, top_k: int, filters: Filters | None, history: list[str]
    ) -> Iterator[dict]:
        """Each sentence's text and markers once its citations verify (a sentence that fails the checks
        is never sent, not even provisionally: a chat client keeps what it was streamed), then the
        verified answer in the done event. A stream that stalls or is cut before its first sentence
        is sent is asked again, as a call without streaming is retried."""
        if (req := summary_request(question, history)) is not None:
            yield from _events(self._summary_answer(req, top_k, filters, history), [])
            return
        query, hits = self._retrieve(question, top_k, filters, history)
        passages = self._answer_passages(query, hits)
        if not passages:
            yield from _events(self._extractive(question, query, hits, _no_room(hits)), [])
            return
        by_n, by_id = {p.n: p for p in passages}, sentence_spans(passages)
        streamed: list[str] = []
        messages = self._answer_messages(query, passages)
        # an empty piece before the model is asked: the HTTP stream starts on it, so that keep-alive
        # pings flow while the model thinks (api/sse.py); retrieval errors still come before it
        yield {"delta": ""}
        retries = self.settings.llm_max_retries
        while True:
            started = time.perf_counter()  # the whole stream is one "llm" observation, as a call is
            try:
                stream = self.llm.create_json(messages, answer_schema(list(by_id)), stream=True)
            except Exception as exc:  # noqa: BLE001
                self.telemetry.observe("llm", time.perf_counter() - started)
                yield from _events(
                    self._extractive(question, query, hits, [self._unavailable(exc)]), streamed
                )
                return
            attempt = _Attempt()
            try:
                for delta in attempt.verified_deltas(
                    stream, by_n, by_id, streamed, self.settings.llm_timeout_s
                ):
                    streamed.append(delta)
                    yield {"delta": delta}
                if not attempt.finished:
                    raise LLMFailure("stream interrupted")
            except Exception as exc:  # noqa: BLE001 - a cut stream, a malformed event
                self._stream_ended(stream, started, messages, attempt.content)
                self.llm.log_failure("stream", exc)
                if not isinstance(exc, LLMFailure):
                    exc = LLMFailure(_stream_failure(exc))
                if not streamed and retries > 0 and exc.reason in RETRIED_STREAM_FAILURES:
                    # nothing reached the client yet: asked again, as the SDK retries a plain call
                    retries -= 1
                    continue
                if streamed:
                    answer = self._streamed_answer(streamed, attempt.assembler, question, query, exc)
                    yield {"done": True, **answer.to_dict()}
                    return
                yield from _events(
                    self._extractive(question, query, hits, [self._unavailable(exc)]), streamed
                )
                return
            except BaseException:  # the client went away (GeneratorExit): still close and count it
                self._stream_ended(stream, started, messages, attempt.content)
                raise
            break
        self._stream_ended(stream, started, messages, attempt.content)
        try:
            reply = parse_reply("".join(attempt.content))
        except ValueError:  # named as a call without streaming names it
            content = "".join(attempt.content).strip()
            failure = LLMFailure("reply was not valid JSON" if content else "empty reply")
            if attempt.finish_reason == "length":
                failure = LLMFailure(CUT_REPLY)
            if streamed:
                answer = self._streamed_answer(streamed, attempt.assembler, question, query, failure)
                yield {"done": True, **answer.to_dict()}
                return
            yield from _events(
                self._extractive(question, query, hits, [self._unavailable(failure)]), streamed
            )
            return
        answer = self._answer_from_reply(reply, passages, question, query, hits)
        if streamed and " ".join("".join(streamed).split()) != " ".join(answer.answer.split()):
            answer.warnings.append("the streamed text was provisional: the verified answer replaces it")
        yield from _events(answer, streamed)

    def _streamed_answer(
        self, streamed: list[str], assembler: Assembler, question: str, query: str, exc: LLMFailure
    ) -> Answer:
        """The answer a stream that failed after some verified sentences ends with: those sentences,
        with the citations their markers were sent with. A chat client keeps what it was streamed, so
        an answer from the fallback would put other sources behind markers already shown."""
        answer = Answer(
            answer="".join(streamed).strip(),
            abstained=False,
            citations=list(assembler.citations),
            generator=self.generator,
            prompt_version=self.prompts.version,
            warnings=[
                self._cut_warning()
                if exc.reason == CUT_REPLY
                else f"LLM stream failed ({self.llm.redact(exc.reason)}) after {len(assembler.citations)} "
                "verified citation(s): the answer may be incomplete"
            ],
        )
        if query != question:
            answer.question = query
        return answer

    def _stream_ended(self, stream: Any, started: float, messages: list[dict], content: list[str]) -> None:
        """Close the model's stream; its wall time and tokens (a stream reports no usage) are counted."""
        stream.close()
        self.telemetry.observe("llm", time.perf_counter() - started)
        self.telemetry.add_tokens(*token_usage(None, [m["content"] for m in messages], "".join(content)))

    def summarize(self, *, document_ids: list[str] | None, query: str | None, max_words: int) -> Summary:
        try:
            passages, warnings = self._summary_passages(document_ids, query)
            if not passages:
                return self.fallback.summarize(document_ids=document_ids, query=query, max_words=max_words)
            cited, dropped = self._summarize_rounds(passages, query, max_words)
        except Exception as exc:  # noqa: BLE001
            return self._extractive_summary(
                document_ids, query, max_words, self._unavailable(exc, "summarised")
            )
        if not cited:
            return self._extractive_summary(
                document_ids,
                query,
                max_words,
                "LLM summary could not be verified against the articles; summarised extractively",
            )
        warnings += dropped_warnings(dropped)
        kept = trim_to_words(cited, max_words)
        if len(kept) < len(cited):
            warnings.append(f"left out {len(cited) - len(kept)} sentence(s) to stay within {max_words} words")
        if not kept:
            return self._extractive_summary(
                document_ids,
                query,
                max_words,
                f"LLM summary sentences were longer than {max_words} words; summarised extractively",
            )
        text, citations = assemble(kept)
        return Summary(
            summary=text,
            citations=citations,
            generator=self.generator,
            prompt_version=self.prompts.version,
            warnings=warnings,
        )

    # ---- retrieval and prompts

    def _retrieve(
        self, question: str, top_k: int, filters: Filters | None, history: list[str]
    ) -> tuple[str, list[SearchHit]]:
        if history:
            rewritten = self._rewrite(question, history)
            if rewritten:
                return rewritten, self.fallback.retrieve(rewritten, top_k, filters, []).hits
        r = self.fallback.retrieve(question, top_k, filters, history)
        return r.query, r.hits

    def _rewrite(self, question: str, history: list[str]) -> str | None:
        """The follow-up as a self-contained question, or None (then the heuristic rewrite is used)."""
        prompt = self.prompts["chat_rewrite"].format(
            history="\n".join(f"User: {h}" for h in history[-6:]), question=question
        )
        try:
            resp = self.llm.create(  # not retried: the heuristic rewrite is there when it fails
                {
                    "messages": [{"role": "user", "content": prompt}],
                    "max_tokens": REWRITE_MAX_TOKENS,
                    "temperature": 0,  # the same conversation is read the same way, streamed or not
                },
                retry=False,
            )
            text = resp.choices[0].message.content or ""
        except Exception as exc:  # noqa: BLE001
            self.llm.log_failure("rewrite", exc)
            return None
        line = next((ln.strip() for ln in text.strip().splitlines() if ln.strip()), "")
        # a label before it ("Question:", "Rewritten question:", "Last message:") is not the question
        line = re.sub(r"^(?:[A-Za-z]+\s+){0,2}[A-Za-z]+\s*:\s*", "", line).strip().strip('"“”').strip()
        return line if usable_rewrite(line, question) else None

    def _budget(self, *texts: str) -> int:
        s = self.settings
        return (
            s.llm_context_tokens
            - s.llm_answer_tokens
            - MESSAGE_OVERHEAD_TOKENS
            - sum(map(count_tokens, texts))
        )

    def _answer_passages(self, query: str, hits: list[SearchHit]) -> list[Passage]:
        texts = hit_texts(hits)
        passages = [
            Passage(0, h.document_id, h.chunk_id, h.title, h.start, h.end, texts[h.document_id])
            for h in hits
            if h.document_id in texts
        ]
        budget = self._budget(
            self.prompts["system"], self.prompts["answer"].format(question=query, passages="")
        )
        return renumber(fit_passages(passages, budget))

    def _answer_messages(self, query: str, passages: list[Passage]) -> list[dict]:
        return [
            {"role": "system", "content": self.prompts["system"]},
            {
                "role": "user",
                "content": self.prompts["answer"].format(question=query, passages=render_passages(passages)),
            },
        ]

    def _answer_from_reply(
        self, reply: dict, passages: list[Passage], question: str, query: str, hits: list[SearchHit]
    ) -> Answer:
        cited, dropped = verify_sentences(
            raw_sentences(reply), {p.n: p for p in passages}, sentence_spans(passages)
        )
        # verified sentences are an answer even beside "abstained": true (a small model writes both);
        # the flag alone is an abstention
        if not cited and said_abstain(reply):
            answer = Answer(
                answer=ABSTAIN_TEXT,
                abstained=True,
                citations=[],
                generator=self.generator,
                prompt_version=self.prompts.version,
                warnings=dropped_warnings(dropped),
            )
        elif not cited:
            return self._extractive(
                question,
                query,
                hits,
                dropped_warnings(dropped)
                + ["LLM answer could not be verified against the articles; answered extractively"],
            )
        else:
            text, citations = assemble(cited)
            answer = Answer(
                answer=text,
                abstained=False,
                citations=citations,
                generator=self.generator,
                prompt_version=self.prompts.version,
                warnings=dropped_warnings(dropped),
            )
        if query != question:
            answer.question = query
        return answer

    def _extractive(self, question: str, query: str, hits: list[SearchHit], warnings: list[str]) -> Answer:
        if warnings:  # with none, there was nothing to ask the model about (no hits): no fallback
            self.telemetry.add_fallback("answer")
        answer = self.fallback.answer_hits(query, hits, question)
        if query != question:
            answer.question = query
        answer.warnings = [*answer.warnings, *warnings]
        return answer

    # ---- summaries

    def _summary_passages(
        self, document_ids: list[str] | None, query: str | None
    ) -> tuple[list[Passage], list[str]]:
        catalog = self.service.catalog
        warnings: list[str] = []
        if query:
            filters = Filters(document_ids=tuple(document_ids)) if document_ids is not None else None
            with self.telemetry.stage("retrieve"):
                hits = self.service.searcher.search(query, SUMMARY_QUERY_K, filters)
            texts = hit_texts(hits)
            return renumber(
                [
                    Passage(0, h.document_id, h.chunk_id, h.title, h.start, h.end, texts[h.document_id])
                    for h in hits
                    if h.document_id in texts
                ]
            ), warnings
        if document_ids is not None:  # [] restricts to nothing, as it does a question
            ids = list(dict.fromkeys(document_ids))
        else:
            ids, warnings = recent_documents(catalog)
        passages = []
        for doc_id in ids:
            with catalog.snapshot():  # the text and the chunk spans of one revision
                doc, chunks = catalog.get(doc_id), catalog.chunks_of(doc_id)
            if doc is not None:
                passages += [Passage(0, doc.id, c.id, doc.title, c.start, c.end, doc.text) for c in chunks]
        return renumber(passages), warnings

    def _summary_messages(self, passages: list[Passage], query: str | None, max_words: int) -> list[dict]:
        return [
            {"role": "system", "content": self.prompts["system"]},
            {"role": "user", "content": self._summary_prompt(render_passages(passages), query, max_words)},
        ]

    def _summary_prompt(self, passages: str, query: str | None, max_words: int) -> str:
        focus = f" about: {query}" if query else ""
        return self.prompts["summarize"].format(focus=focus, max_words=max_words, passages=passages)

    def _summarize_rounds(
        self, passages: list[Passage], query: str | None, max_words: int
    ) -> tuple[list[Cited], int]:
        """Map-reduce when the passages do not fit: summarise groups that fit, then summarise the
        sentences around the partial summaries' verified quotes (still spans of the original documents)."""
        budget = self._budget(self.prompts["system"], self._summary_prompt("", query, max_words))
        if not fit_passages(passages[:1], budget):  # not even one passage: no round could help
            raise LLMFailure(NO_ROOM)
        for _ in range(MAX_REDUCE_ROUNDS):
            groups = group_passages(passages, budget)
            if len(groups) <= 1:
                break
            partial: list[Cited] = []
            for group in groups:
                partial += self._summarize_once(renumber(group), query, max_words)[0]
            reduced = evidence_passages(partial)
            if not reduced:
                return [], 0
            if [(p.document_id, p.start, p.end) for p in reduced] == [
                (p.document_id, p.start, p.end) for p in passages
            ]:
                raise LLMFailure(NO_ROOM)  # a round that changed nothing: the next would repeat it
            passages = reduced
        passages = renumber(fit_passages(passages, budget))
        if not passages:
            raise LLMFailure(NO_ROOM)
        return self._summarize_once(passages, query, max_words)

    def _summarize_once(
        self, passages: list[Passage], query: str | None, max_words: int
    ) -> tuple[list[Cited], int]:
        spans = sentence_spans(passages)
        reply = self.llm.complete_json(
            self._summary_messages(passages, query, max_words), summary_schema(list(spans))
        )
        return verify_sentences(raw_sentences(reply), {p.n: p for p in passages}, spans)

    def _extractive_summary(
        self, document_ids: list[str] | None, query: str | None, max_words: int, warning: str
    ) -> Summary:
        self.telemetry.add_fallback("summary")
        summary = self.fallback.summarize(document_ids=document_ids, query=query, max_words=max_words)
        summary.warnings = [*summary.warnings, warning]
        return summary

    # ---- failures

    def _unavailable(self, exc: BaseException, done: str = "answered") -> str:
        reason, _ = describe_failure(exc)
        if not isinstance(exc, LLMFailure):
            self.llm.log_failure("call", exc)
        if reason == NO_ROOM:  # nothing failed: the model was not asked (again), as for an answer
            return f"{NO_ROOM}; {done} extractively"
        if reason not in UNUSABLE_REPLIES:  # a stream that stalled or was cut: the endpoint failed
            self.llm.note(reason)
        # the model answered, but with nothing usable, or it did not answer at all
        state = "reply unusable" if reason in UNUSABLE_REPLIES else "unavailable"
        return f"LLM {state} ({self.llm.redact(reason)}); {done} extractively"


def usable_rewrite(line: str, question: str) -> bool:
    """Whether the model's rewrite of a follow-up can stand for it: a question when it was asked as
    one (not an answer, "The people are being treated at the hospital."), holding a content word of
    it (not an apology, "Can you please provide more specifics?"), of a sensible length."""
    if not line or len(line) > max(4 * len(question), 600):
        return False
    if question.rstrip().endswith("?") and not line.endswith("?"):
        return False
    asked = set(query_terms(question))
    return not asked or bool(asked & set(query_terms(line)))


def _stream_failure(exc: BaseException) -> str:
    """Why a stream that had started ended early: a model that sends no token within the timeout has
    timed out, as a call without streaming would have."""
    if isinstance(exc, (httpx.TimeoutException, openai.APITimeoutError)):
        return "timed out"
    return "invalid response" if isinstance(exc, ValueError) else "stream interrupted"


def _no_room(hits: list[SearchHit]) -> list[str]:
    return [f"{NO_ROOM}; answered extractively"] if hits else []


def _events(answer: Answer, streamed: list[str]) -> Iterator[dict]:
    """The rest of a stream: the answer's text as deltas unless some were sent already, then done."""
    if not streamed:
        for piece in stream_text(answer.answer):
            yield {"delta": piece}
    yield {"done": True, **answer.to_dict()}
