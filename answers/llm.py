"""The LLM engine: a model writes the answer, factdesk checks every citation before anyone sees it.

Retrieval is the extractive engine's (same hybrid search and follow-up rewriting). The retrieved
chunks go to the model as numbered, delimited passages, one sentence a line after its id ("2.3");
the model replies with JSON sentences, each citing sentence ids (a schema enum, so a grammar-bound
model can only name ids it was shown). An id's citation is that sentence's exact span; the older
(passage number, quote) form still counts when the quote occurs inside the passage it names. Either
way a citation's quote is always document.text[start:end], never the model's copy, and the
sentence's own text must still be about what it cites. A sentence left without a verified citation
is dropped. Any failure of the endpoint (after retries) or of its output falls back to the extractive
engine with a warning: a caller never gets an exception because a model is down or confused.
"""

from __future__ import annotations

import html
import json
import logging
import random
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import openai

from answers import dialects
from answers.engine import OfflineEngine, answer_summary_request, recent_documents, stream_text
from answers.intent import summary_request
from answers.models import ABSTAIN_TEXT, Answer, Citation, Summary
from answers.telemetry import token_usage
from answers.verify import CITATION_MARKS, locate_quote, strip_citation_marks, unsupported_numbers
from prompts import PromptSet
from retrieval.lexical import stems
from retrieval.models import SearchHit, hit_texts
from retrieval.redact import redact_text
from retrieval.search import Filters
from retrieval.sentences import split_sentences
from retrieval.tokens import count_tokens

if TYPE_CHECKING:
    from factdesk.service import Factdesk
    from factdesk.settings import Settings

log = logging.getLogger("factdesk.llm")

BACKOFF_BASE_S = 0.5  # first retry waits ~0.5 s, then ~1 s, ~2 s ... (tests lower it)
BACKOFF_MAX_S = 8.0
RETRY_AFTER_CAP_S = 20.0  # a server asking for longer is not worth keeping a user waiting for
MESSAGE_OVERHEAD_TOKENS = 12  # chat framing per request (role tags, separators)
REWRITE_MAX_TOKENS = 120
MIN_QUOTE_WORDS = 2  # a one-word "quote" matches almost any passage and supports nothing
SUMMARY_QUERY_K = 20
MAX_REDUCE_ROUNDS = 3

# limits where the schema becomes a grammar: a small model otherwise repeats ids or sentences until
# max_tokens cuts its JSON (SmolLM2-135M did, BENCHMARKS.md)
MAX_ANSWER_SENTENCES = 4
MAX_SENTENCE_CITATIONS = 3


def sentences_schema(ids: list[str], max_items: int | None = None) -> dict[str, Any]:
    """The reply's sentences, each citing at least one of the given sentence ids. Where the server
    turns the schema into a grammar (llama.cpp and its kin, vLLM, Ollama) the model cannot write an
    id that was not given, nor leave a sentence uncited."""
    cite: dict[str, Any] = {"type": "string", "enum": ids} if ids else {"type": "string"}
    out: dict[str, Any] = {
        "type": "array",
        "items": {
            "type": "object",
            "additionalProperties": False,
            "required": ["text", "citations"],
            "properties": {
                "text": {"type": "string"},
                "citations": {
                    "type": "array",
                    "items": cite,
                    "minItems": 1,
                    "maxItems": MAX_SENTENCE_CITATIONS,
                },
            },
        },
    }
    if max_items:
        out["maxItems"] = max_items
    return out


def answer_schema(ids: list[str]) -> dict[str, Any]:
    return {
        "name": "cited_answer",
        "strict": True,
        "schema": {
            "type": "object",
            "additionalProperties": False,
            # sentences first: a grammar-bound model writes its answer before its verdict, and a stream
            # shows the first sentence sooner
            "required": ["sentences", "abstained"],
            "properties": {
                "sentences": sentences_schema(ids, MAX_ANSWER_SENTENCES),
                "abstained": {"type": "boolean"},
            },
        },
    }


def summary_schema(ids: list[str]) -> dict[str, Any]:
    return {
        "name": "cited_summary",
        "strict": True,
        "schema": {
            "type": "object",
            "additionalProperties": False,
            "required": ["sentences"],
            "properties": {"sentences": sentences_schema(ids)},
        },
    }


class LLMFailure(Exception):
    """The model could not be used; `reason` is short, safe to show, and never holds the API key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------- passages (pure)


@dataclass(frozen=True)
class Passage:
    n: int
    document_id: str
    chunk_id: str
    title: str
    start: int
    end: int
    doc_text: str = field(repr=False)  # the whole cleaned document text: offsets refer to it

    @property
    def text(self) -> str:
        return self.doc_text[self.start : self.end]


_DELIMITER = re.compile(r"<(?=\s*/?\s*passage)", re.IGNORECASE)
# article text that looks like a sentence id ("[2.3]") could pass for one: it is shown as "(2.3]"
_ID_LIKE = re.compile(r"\[(?=\s*\d+\s*\.\s*\d+\s*\])")


def passage_sentences(p: Passage) -> list[tuple[str, int, int]]:
    """(id, start, end) of each sentence of the passage, id "n.k" for its k-th sentence."""
    return [
        (f"{p.n}.{k}", s.start, s.end) for k, s in enumerate(split_sentences(p.doc_text, p.start, p.end), 1)
    ]


def render_passage(p: Passage) -> str:
    """One delimited passage, a sentence a line, each after its id; article text cannot open or close
    a passage tag, nor write an id."""
    title = html.escape(" ".join(p.title.split()), quote=True)
    lines = (
        f"[{i}] " + _ID_LIKE.sub("(", _DELIMITER.sub("&lt;", " ".join(p.doc_text[a:b].split())))
        for i, a, b in passage_sentences(p)
    )
    return f'<passage n="{p.n}" title="{title}">\n' + "\n".join(lines) + "\n</passage>"


def render_passages(passages: list[Passage]) -> str:
    return "\n".join(render_passage(p) for p in passages)


def sentence_spans(passages: list[Passage]) -> dict[str, Span]:
    """Each rendered sentence id to its span: citing an id cites that sentence's exact text."""
    return {i: Span(p, a, b) for p in passages for i, a, b in passage_sentences(p)}


def fit_passages(passages: list[Passage], budget: int) -> list[Passage]:
    """The highest-ranked passages whose rendering fits in `budget` tokens (lower ranks are dropped)."""
    out, used = [], 0
    for p in passages:
        cost = count_tokens(render_passage(p)) + 1
        if used + cost > budget:
            break
        out.append(p)
        used += cost
    return out


def group_passages(passages: list[Passage], budget: int) -> list[list[Passage]]:
    """Consecutive groups, each fitting in `budget` tokens (for map-reduce summaries)."""
    groups: list[list[Passage]] = [[]]
    used = 0
    for p in passages:
        cost = count_tokens(render_passage(p)) + 1
        if groups[-1] and used + cost > budget:
            groups.append([])
            used = 0
        groups[-1].append(p)
        used += cost
    return [g for g in groups if g]


def renumber(passages: list[Passage]) -> list[Passage]:
    return [
        Passage(i, p.document_id, p.chunk_id, p.title, p.start, p.end, p.doc_text)
        for i, p in enumerate(passages, start=1)
    ]


# ---------------------------------------------------------------- the model's reply (pure)


class BadReply(ValueError):
    """The model's reply is not the JSON object asked for."""


_FENCE = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.DOTALL)
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
# reasoning models (DeepSeek-R1, Qwen3 ...) served without a reasoning parser write their thinking
# into the content before the answer; an unclosed block is all thinking (the reply was cut inside it)
_THINK = re.compile(f"^\\s*{THINK_OPEN}.*?(?:{re.escape(THINK_CLOSE)}|$)", re.DOTALL)


def parse_reply(content: str | None) -> dict:
    """The reply's JSON object, tolerating <think> blocks, ```json fences and prose around it;
    ValueError otherwise."""
    text = _THINK.sub("", content or "", count=1).strip()
    m = _FENCE.match(text)
    if m:
        text = m.group(1)
    try:
        obj = json.loads(text)
    except ValueError:
        a, b = text.find("{"), text.rfind("}")
        if a < 0 or b <= a:
            raise BadReply("no JSON object in the reply") from None
        obj = json.loads(text[a : b + 1])
    if not isinstance(obj, dict):
        raise BadReply("the reply is not a JSON object")
    return obj


def said_abstain(reply: dict) -> bool:
    v = reply.get("abstained")
    return v is True or (isinstance(v, str) and v.strip().lower() == "true")


def raw_sentences(reply: dict) -> list:
    s = reply.get("sentences")
    return s if isinstance(s, list) else []


def _passage_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        m = re.fullmatch(r"\s*\[?\s*(?:passage\s*)?(\d+)\s*\]?\s*", value, re.IGNORECASE)
        return int(m.group(1)) if m else None
    return None


class ThinkFilter:
    """Removes <think>...</think> blocks before the JSON of a streamed reply, piece by piece (a tag
    may be split across pieces, so a possible start of one is held back until the next piece shows
    what it is). Once the JSON has begun everything passes: an article may quote a "<think>"."""

    def __init__(self) -> None:
        self.buf = ""
        self.inside = False
        self.passing = False

    def feed(self, piece: str) -> str:
        if self.passing:
            return piece
        self.buf += piece
        out: list[str] = []
        while True:
            tag = THINK_CLOSE if self.inside else THINK_OPEN
            i = self.buf.find(tag)
            if i >= 0 and (self.inside or "{" not in self.buf[:i]):
                if not self.inside:
                    out.append(self.buf[:i])
                self.buf = self.buf[i + len(tag) :]
                self.inside = not self.inside
                continue
            if not self.inside and "{" in self.buf:
                self.passing = True
                out.append(self.buf)
                self.buf = ""
                return "".join(out)
            held = _partial_tag(self.buf, tag)
            if not self.inside:
                out.append(self.buf[: len(self.buf) - held])
            self.buf = self.buf[len(self.buf) - held :]
            return "".join(out)


def _partial_tag(text: str, tag: str) -> int:
    """The length of the longest end of `text` that begins `tag`."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


# ---------------------------------------------------------------- verification (pure)


@dataclass(frozen=True)
class Span:
    passage: Passage
    start: int
    end: int

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.passage.document_id, self.start, self.end)


@dataclass(frozen=True)
class Cited:
    """A sentence of the model's that survived verification, with its verified spans."""

    text: str
    spans: tuple[Span, ...]


def verify_sentence(
    raw: object, passages: Mapping[int, Passage], sentences: Mapping[str, Span] | None = None
) -> Cited | None:
    """The sentence with its verified citations, or None when nothing it cites checks out.

    A citation is a sentence id that was given (`sentences`: its span is that sentence), or a
    (passage, quote) pair whose quote occurs inside the passage it names. The sentence must also be
    about what it cites (a shared content word) and state no figure that its cited passages lack, so
    a real citation cannot lend support to an unrelated claim.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
        return None
    text = strip_citation_marks(raw["text"])
    citations = raw.get("citations")
    if not text or not isinstance(citations, list):
        return None
    spans: list[Span] = []
    for c in citations:
        span = _cited_span(c, passages, sentences or {})
        if span is not None and all(s.key != span.key for s in spans):
            spans.append(span)
    if not spans:
        return None
    quoted = " ".join(s.passage.doc_text[s.start : s.end] for s in spans)
    if stems(text) and not stems(text) & stems(quoted):
        return None
    if unsupported_numbers(text, " ".join(s.passage.text for s in spans)):
        return None
    return Cited(text, tuple(spans))


def _cited_span(c: object, passages: Mapping[int, Passage], sentences: Mapping[str, Span]) -> Span | None:
    if isinstance(c, str):  # a sentence id, as "2.3" or "[2.3]"
        span = sentences.get(c.strip().strip("[]").strip())
        if span is None:
            return None
        text = span.passage.doc_text[span.start : span.end]
        return span if len(text.split()) >= MIN_QUOTE_WORDS else None
    if not isinstance(c, dict):
        return None
    p = passages.get(_passage_number(c.get("passage")) or 0)
    quote = c.get("quote")
    if p is None or not isinstance(quote, str) or len(quote.split()) < MIN_QUOTE_WORDS:
        return None
    found = locate_quote(quote.replace("&lt;", "<"), p.doc_text, p.start, p.end)
    return Span(p, *found) if found else None


def verify_sentences(
    raws: list, passages: Mapping[int, Passage], sentences: Mapping[str, Span] | None = None
) -> tuple[list[Cited], int]:
    """(verified sentences in order, how many were dropped)."""
    verified = [c for c in (verify_sentence(r, passages, sentences) for r in raws) if c is not None]
    kept = [c for i, c in enumerate(verified) if all(c.text != v.text for v in verified[:i])]  # said once
    return kept, len(raws) - len(verified)


def dropped_warnings(n: int) -> list[str]:
    return ["dropped an unsupported sentence"] * n


def words_of(c: Cited) -> int:
    return len(c.text.split()) + 1  # + its markers, which read as one more word


def trim_to_words(cited: list[Cited], max_words: int) -> list[Cited]:
    """Whole sentences, in order, within max_words (a sentence that would overflow is left out)."""
    out, used = [], 0
    for c in cited:
        if used + words_of(c) <= max_words:
            out.append(c)
            used += words_of(c)
    return out


class Assembler:
    """Numbers citations 1..M in reading order (a span cited twice keeps its marker)."""

    def __init__(self) -> None:
        self.citations: list[Citation] = []
        self._markers: dict[tuple[str, int, int], int] = {}

    def markers(self, c: Cited) -> str:
        out = []
        for s in c.spans:
            if s.key not in self._markers:
                marker = len(self.citations) + 1
                self._markers[s.key] = marker
                p = s.passage
                self.citations.append(
                    Citation(
                        marker=marker,
                        document_id=p.document_id,
                        chunk_id=p.chunk_id,
                        title=p.title,
                        quote=p.doc_text[s.start : s.end],
                        start=s.start,
                        end=s.end,
                    )
                )
            if f"[{self._markers[s.key]}]" not in out:
                out.append(f"[{self._markers[s.key]}]")
        return "".join(out)


def assemble(cited: list[Cited]) -> tuple[str, list[Citation]]:
    a = Assembler()
    text = " ".join(f"{c.text} {a.markers(c)}" for c in cited)
    return text, a.citations


def evidence_passages(cited: list[Cited]) -> list[Passage]:
    """The sentences around each verified quote, as passages over the original documents (reduce step)."""
    out: list[Passage] = []
    seen: set[tuple[str, int, int]] = set()
    for c in cited:
        for s in c.spans:
            p = s.passage
            around = [
                x for x in split_sentences(p.doc_text, p.start, p.end) if x.start < s.end and x.end > s.start
            ]
            a, b = (around[0].start, around[-1].end) if around else (s.start, s.end)
            a, b = min(a, s.start), max(b, s.end)
            if (p.document_id, a, b) not in seen:
                seen.add((p.document_id, a, b))
                out.append(Passage(len(out) + 1, p.document_id, p.chunk_id, p.title, a, b, p.doc_text))
    return out


# ---------------------------------------------------------------- streaming (pure)


class SentenceStream:
    """Reads a streamed {"sentences": [{"text": ..., "citations": [...]}, ...]} reply incrementally.

    feed(piece) returns events: ("text", i, chars) for decoded characters of sentences[i].text as
    they arrive, and ("sentence", i, raw_json) when sentences[i]'s object is complete. Anything
    before the first "{" (a ```json fence, prose) is skipped; malformed input yields no events.
    """

    def __init__(self) -> None:
        self.buf = ""
        self.pos = 0
        self.started = False
        self.stack: list[
            dict
        ] = []  # {"kind": "{" | "[", "key": key in parent, "cur": key, "expect_key", "start"}
        self.in_string = False
        self.string_is_key = False
        self.string_emits = False
        self.chars: list[str] = []
        self.escape = ""
        self.sentence_index = -1
        self.broken = False

    def _in_text_value(self) -> bool:
        s = self.stack
        return (
            len(s) == 3
            and s[0]["kind"] == "{"
            and s[1]["kind"] == "["
            and s[1]["key"] == "sentences"
            and s[2]["kind"] == "{"
            and s[2]["cur"] == "text"
            and not s[2]["expect_key"]
        )

    def feed(self, piece: str) -> list[tuple[str, int, str]]:
        self.buf += piece
        events: list[tuple[str, int, str]] = []
        while self.pos < len(self.buf) and not self.broken:
            ch = self.buf[self.pos]
            if not self.started:
                self.started = ch == "{"
                if not self.started:
                    self.pos += 1
                    continue
            if self.in_string:
                self._string_char(ch, events)
            else:
                self._structural(ch, events)
            self.pos += 1
        return events

    def _string_char(self, ch: str, events: list) -> None:
        if self.escape:
            if _lone_high_surrogate(self.escape) and ch != "\\":
                self._flush_escape(events)  # then ch is an ordinary character
            else:
                self.escape += ch
                if _escape_complete(self.escape):
                    self._flush_escape(events)
                return
        if ch == "\\":
            self.escape = ch
        elif ch == '"':
            self.in_string = False
            if self.string_is_key:
                self.stack[-1]["cur"] = "".join(self.chars)
                self.stack[-1]["expect_key"] = False
        else:
            self._emit(ch, events)

    def _flush_escape(self, events: list) -> None:
        try:
            decoded = json.loads(f'"{self.escape}"')
        except ValueError:
            decoded = ""
        self.escape = ""
        # a surrogate left unpaired cannot be encoded as UTF-8 later: make it a replacement character
        self._emit(decoded.encode("utf-16", "surrogatepass").decode("utf-16", "replace"), events)

    def _emit(self, s: str, events: list) -> None:
        if self.string_is_key:
            self.chars.append(s)
        elif self.string_emits and s:
            if events and events[-1][0] == "text" and events[-1][1] == self.sentence_index:
                events[-1] = ("text", self.sentence_index, events[-1][2] + s)  # one event per piece fed
            else:
                events.append(("text", self.sentence_index, s))

    def _structural(self, ch: str, events: list) -> None:
        top = self.stack[-1] if self.stack else None
        if ch == '"':
            self.in_string = True
            self.string_is_key = bool(top and top["kind"] == "{" and top["expect_key"])
            self.string_emits = not self.string_is_key and self._in_text_value()
            self.chars = []
        elif ch in "{[":
            key = (top["cur"] if top["kind"] == "{" else top["key"]) if top else None
            self.stack.append(
                {"kind": ch, "key": key, "cur": None, "expect_key": ch == "{", "start": self.pos}
            )
            if (
                ch == "{"
                and len(self.stack) == 3
                and self.stack[1]["kind"] == "["
                and self.stack[1]["key"] == "sentences"
            ):
                self.sentence_index += 1
        elif ch in "}]":
            if not top or top["kind"] != ("{" if ch == "}" else "["):
                self.broken = True
                return
            self.stack.pop()
            if (
                ch == "}"
                and len(self.stack) == 2
                and self.stack[1]["kind"] == "["
                and self.stack[1]["key"] == "sentences"
            ):
                events.append(("sentence", self.sentence_index, self.buf[top["start"] : self.pos + 1]))
        elif ch == "," and top and top["kind"] == "{":
            top["expect_key"] = True
            top["cur"] = None


def _is_high_surrogate(hex4: str) -> bool:
    try:
        return 0xD800 <= int(hex4, 16) <= 0xDBFF
    except ValueError:
        return False


def _lone_high_surrogate(escape: str) -> bool:
    """A complete \\uD8xx escape whose low half has not started."""
    return len(escape) == 6 and escape[1] == "u" and _is_high_surrogate(escape[2:6])


def _escape_complete(escape: str) -> bool:
    if escape[1] != "u":
        return len(escape) == 2
    if len(escape) < 6 or _lone_high_surrogate(escape):
        return False
    if len(escape) == 6 or (len(escape) == 8 and escape[6:8] != "\\u"):
        return True
    return len(escape) >= 12


_HELD_TAIL = re.compile(r"\s*(?:\[\s*(?:passages?\s*)?[\d.,;\s–-]*)?$", re.IGNORECASE)


class DeltaText:
    """Turns streamed sentence characters into the deltas a reader sees: the model's own [n] markers
    are removed (a possibly unfinished one is held back) and sentences are separated by one space,
    so that the deltas add up to the final answer's text when nothing is dropped."""

    def __init__(self) -> None:
        self.current = -1
        self.pending = ""
        self.sentence_started = False
        self.anything = False

    def feed(self, i: int, chars: str) -> str:
        out = ""
        if i != self.current:
            out = self.end()
            self.current = i
        self.pending += chars
        text = CITATION_MARKS.sub("", self.pending)
        m = _HELD_TAIL.search(text)
        cut = m.start() if m else len(text)
        emit, self.pending = text[:cut], text[cut:]
        return out + self._out(emit)

    def end(self) -> str:
        """The rest of the current sentence (call when its object closes)."""
        emit = strip_citation_marks(self.pending)
        self.pending = ""
        out = self._out(emit)
        self.sentence_started = False
        return out

    def _out(self, emit: str) -> str:
        if not self.sentence_started:
            emit = emit.lstrip()
            if not emit:
                return ""
            if self.anything:
                emit = " " + emit
            self.sentence_started = True
            self.anything = True
        return emit


# ---------------------------------------------------------------- failures of the endpoint


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms:
            return float(ms) / 1000
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            return float(value)
        except ValueError:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def describe_failure(exc: BaseException) -> tuple[str, bool]:
    """(a short reason safe to show, whether trying again may help)."""
    if isinstance(exc, LLMFailure):
        return exc.reason, False
    if isinstance(exc, openai.APITimeoutError):
        return "timed out", True
    if isinstance(exc, openai.APIConnectionError):
        return "connection failed", True
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        if code == 429:
            return "rate limited", True
        if code in (408, 409) or code >= 500:
            return f"server error {code}", True
        if code in (401, 403):
            return f"authentication failed ({code})", False
        return f"request rejected ({code})", False
    if isinstance(exc, (ValueError, openai.APIResponseValidationError)):  # json.JSONDecodeError included
        return "invalid response", False
    return "unexpected error", False


# ---------------------------------------------------------------- the engine (the shell)


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
        # base_url given explicitly so that the client never reads the environment itself
        self.client = openai.OpenAI(
            api_key=settings.openai_api_key or "unused",
            base_url=settings.openai_base_url or "https://api.openai.com/v1",
            timeout=settings.llm_timeout_s,
            max_retries=0,
        )
        self.telemetry = service.telemetry
        # what negotiates the structured-output mode: the same server may serve several models
        self.endpoint: dialects.Endpoint = (str(self.client.base_url), self.model)

    # ---- the AnswerEngine protocol

    def warm(self) -> None:
        self.fallback.warm()

    def ask(self, question: str, *, top_k: int, filters: Filters | None, history: list[str]) -> Answer:
        if (req := summary_request(question)) is not None:
            return self._summary_answer(req.query, filters)
        query, hits = self._retrieve(question, top_k, filters, history)
        answer = self._ask(question, query, hits)
        answer.retrieved = hits
        return answer

    def _summary_answer(self, query: str | None, filters: Filters | None) -> Answer:
        return answer_summary_request(self, query, filters, self.settings.summary_max_words)

    def _ask(self, question: str, query: str, hits: list[SearchHit]) -> Answer:
        passages = self._answer_passages(query, hits)
        if not passages:
            return self._extractive(question, query, hits, _no_room(hits))
        try:
            reply = self._complete_json(
                self._answer_messages(query, passages), answer_schema(list(sentence_spans(passages)))
            )
        except Exception as exc:  # noqa: BLE001 - a model failure must never reach the caller
            return self._extractive(question, query, hits, [self._unavailable(exc)])
        return self._answer_from_reply(reply, passages, question, query, hits)

    def ask_stream(
        self, question: str, *, top_k: int, filters: Filters | None, history: list[str]
    ) -> Iterator[dict]:
        """Each sentence's text and markers once its citations verify (a sentence that fails the checks
        is never sent, not even provisionally: a chat client keeps what it was streamed), then the
        verified answer in the done event."""
        if (req := summary_request(question)) is not None:
            yield from _events(self._summary_answer(req.query, filters), [])
            return
        query, hits = self._retrieve(question, top_k, filters, history)
        passages = self._answer_passages(query, hits)
        if not passages:
            yield from _events(self._extractive(question, query, hits, _no_room(hits)), [])
            return
        by_n, by_id = {p.n: p for p in passages}, sentence_spans(passages)
        streamed: list[str] = []
        messages = self._answer_messages(query, passages)
        started = time.perf_counter()  # the whole stream is one "llm" observation, as a call is
        try:
            stream = self._create(messages, answer_schema(list(by_id)), stream=True)
        except Exception as exc:  # noqa: BLE001
            self.telemetry.observe("llm", time.perf_counter() - started)
            yield from _events(self._extractive(question, query, hits, [self._unavailable(exc)]), streamed)
            return
        thinking, reader, deltas, assembler = ThinkFilter(), SentenceStream(), DeltaText(), Assembler()
        content: list[str] = []
        held: list[str] = []  # the current sentence's text, held back until its citations verify
        said: set[str] = set()
        try:
            finished = False
            for chunk in stream:
                for choice in chunk.choices or []:
                    piece = choice.delta.content if choice.delta else None
                    visible = thinking.feed(piece) if piece else ""
                    for kind, i, value in reader.feed(visible) if visible else []:
                        if kind == "text":
                            held.append(deltas.feed(i, value))
                            continue
                        text = "".join(held) + deltas.end()
                        held.clear()
                        cited = verify_sentence(_loads(value), by_n, by_id)
                        if cited is None or cited.text in said:
                            continue
                        said.add(cited.text)
                        out = text + " " + assembler.markers(cited)
                        for delta in stream_text(out if streamed else out.lstrip()):
                            streamed.append(delta)
                            yield {"delta": delta}
                    content.append(piece or "")
                    finished = finished or bool(choice.finish_reason)
            if not finished:
                raise LLMFailure("stream interrupted")
        except Exception as exc:  # noqa: BLE001 - a cut stream, a malformed event
            self._stream_ended(stream, started, messages, content)
            if not isinstance(exc, LLMFailure):
                self._log_failure("stream", exc)
                exc = LLMFailure("invalid response" if isinstance(exc, ValueError) else "stream interrupted")
            yield from _events(self._extractive(question, query, hits, [self._unavailable(exc)]), streamed)
            return
        except BaseException:  # the client went away (GeneratorExit): still close and count it
            self._stream_ended(stream, started, messages, content)
            raise
        self._stream_ended(stream, started, messages, content)
        try:
            reply = parse_reply("".join(content))
        except ValueError:
            failure = LLMFailure("reply was not valid JSON")
            yield from _events(
                self._extractive(question, query, hits, [self._unavailable(failure)]), streamed
            )
            return
        answer = self._answer_from_reply(reply, passages, question, query, hits)
        if streamed and " ".join("".join(streamed).split()) != " ".join(answer.answer.split()):
            answer.warnings.append("the streamed text was provisional: the verified answer replaces it")
        yield from _events(answer, streamed)

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
                return rewritten, self.fallback.retrieve(rewritten, top_k, filters, [])[1]
        return self.fallback.retrieve(question, top_k, filters, history)

    def _rewrite(self, question: str, history: list[str]) -> str | None:
        """The follow-up as a self-contained question, or None (then the heuristic rewrite is used)."""
        prompt = self.prompts["chat_rewrite"].format(
            history="\n".join(f"User: {h}" for h in history[-6:]), question=question
        )
        try:
            resp = self._call_with_retries(
                {"messages": [{"role": "user", "content": prompt}], "max_tokens": REWRITE_MAX_TOKENS},
                attempts=1,
            )
            text = resp.choices[0].message.content or ""
        except Exception as exc:  # noqa: BLE001
            self._log_failure("rewrite", exc)
            return None
        line = next((ln.strip() for ln in text.strip().splitlines() if ln.strip()), "")
        line = (
            re.sub(r"^(?:rewritten\s+)?question\s*:\s*", "", line, flags=re.IGNORECASE)
            .strip()
            .strip('"“”')
            .strip()
        )
        if not line or len(line) > max(4 * len(question), 600):
            return None
        return line

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
            filters = Filters(document_ids=tuple(document_ids)) if document_ids else None
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
        if document_ids:
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
        for _ in range(MAX_REDUCE_ROUNDS):
            groups = group_passages(passages, budget)
            if len(groups) <= 1:
                break
            partial: list[Cited] = []
            for group in groups:
                partial += self._summarize_once(renumber(group), query, max_words)[0]
            passages = evidence_passages(partial)
            if not passages:
                return [], 0
        passages = renumber(fit_passages(passages, budget))
        if not passages:
            raise LLMFailure("the passages do not fit the LLM context")
        return self._summarize_once(passages, query, max_words)

    def _summarize_once(
        self, passages: list[Passage], query: str | None, max_words: int
    ) -> tuple[list[Cited], int]:
        spans = sentence_spans(passages)
        reply = self._complete_json(
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

    # ---- calling the endpoint

    def _complete_json(self, messages: list[dict], schema: dict) -> dict:
        resp = self._create(messages, schema)
        choice = resp.choices[0] if resp.choices else None
        content = choice.message.content if choice else None
        if not content:
            raise LLMFailure("empty reply")
        try:
            return parse_reply(content)
        except ValueError:
            raise LLMFailure("reply was not valid JSON") from None

    def _create(self, messages: list[dict], schema: dict, *, stream: bool = False) -> Any:
        """A chat completion asking for JSON in the best structured-output mode the endpoint takes
        (answers/dialects.py): a refused mode is followed at once by the next one."""
        request: dict[str, Any] = {
            "messages": messages,
            "max_tokens": self.settings.llm_answer_tokens,
            "temperature": 0,
        }
        if stream:
            request["stream"] = True
        for mode in dialects.modes_for(self.endpoint):
            fmt = dialects.response_format(mode, schema)
            try:
                resp = self._call_with_retries({**request, "response_format": fmt} if fmt else request)
            except openai.APIStatusError as refused:  # _call_with_retries lets only a format refusal out
                log.info(
                    "the endpoint refused response_format %s (%s); trying the next mode",
                    mode.value,
                    refused.status_code,
                )
                continue
            dialects.remember(self.endpoint, mode)
            return resp
        raise LLMFailure("no structured-output mode left")  # not reached: the last mode sends none

    def _call_with_retries(self, request: dict, attempts: int | None = None) -> Any:
        if request.get("stream"):  # its time and tokens are counted where it is read (ask_stream)
            return self._attempts(request, attempts)
        with self.telemetry.stage("llm"):
            resp = self._attempts(request, attempts)
        choice = resp.choices[0] if getattr(resp, "choices", None) else None
        reply = (choice.message.content if choice and choice.message else None) or ""
        prompts = [str(m.get("content", "")) for m in request["messages"]]
        self.telemetry.add_tokens(*token_usage(getattr(resp, "usage", None), prompts, reply))
        return resp

    def _attempts(self, request: dict, attempts: int | None = None) -> Any:
        attempts = attempts or 1 + self.settings.llm_max_retries
        for attempt in range(attempts):
            try:
                return self.client.chat.completions.create(model=self.model, **request)
            except Exception as exc:  # noqa: BLE001
                if "response_format" in request and dialects.refuses_format(exc):
                    raise  # not an outage: the caller tries the next structured-output mode
                reason, retryable = describe_failure(exc)
                self._log_failure(f"attempt {attempt + 1}/{attempts}", exc)
                if not retryable or attempt + 1 >= attempts:
                    raise LLMFailure(reason) from None
                wait = _retry_after(exc)
                if wait is None:
                    wait = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**attempt) * random.uniform(0.5, 1.0)
                time.sleep(min(max(wait, 0.0), RETRY_AFTER_CAP_S))
        raise LLMFailure("no attempt made")  # attempts >= 1: not reached

    def _unavailable(self, exc: BaseException, done: str = "answered") -> str:
        reason, _ = describe_failure(exc)
        if not isinstance(exc, LLMFailure):
            self._log_failure("call", exc)
        return f"LLM unavailable ({self._redact(reason)}); {done} extractively"

    def _redact(self, text: str) -> str:
        key = self.settings.openai_api_key
        return redact_text(text.replace(key, "***") if key else text)

    def _log_failure(self, what: str, exc: BaseException) -> None:
        log.warning("LLM %s failed: %s: %s", what, type(exc).__name__, self._redact(str(exc))[:300])


def _no_room(hits: list[SearchHit]) -> list[str]:
    return ["the passages do not fit the LLM context; answered extractively"] if hits else []


def _loads(raw: str) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _events(answer: Answer, streamed: list[str]) -> Iterator[dict]:
    """The rest of a stream: the answer's text as deltas unless some were sent already, then done."""
    if not streamed:
        for piece in stream_text(answer.answer):
            yield {"delta": piece}
    yield {"done": True, **answer.to_dict()}
