"""The model's reply: the JSON shape asked for, and reading it whole or as it streams.

Servers wrap the JSON in reasoning (<think> blocks), ```json fences or prose; all of it is tolerated.
A streamed reply is parsed with jiter's partial mode, so each sentence object is handed on as soon as
it is complete and its text can be shown as it arrives. Pure functions; no model is called here.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jiter

from answers.verify import CITATION_MARKS, strip_citation_marks

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


def complete_sentences(content: str) -> list:
    """The sentences of a reply cut short (a token limit) that were whole before the cut: read as a
    stream reads them, so an answer keeps the same sentences whether it was streamed or not."""
    reader = SentenceStream()
    return [value for kind, _, value in reader.feed(ThinkFilter().feed(content)) if kind == "sentence"]


def said_abstain(reply: dict) -> bool:
    v = reply.get("abstained")
    return v is True or (isinstance(v, str) and v.strip().lower() == "true")


def raw_sentences(reply: dict) -> list:
    s = reply.get("sentences")
    return s if isinstance(s, list) else []


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


# ---------------------------------------------------------------- streaming


_SENTENCES_OPEN = re.compile(rb'"sentences"\s*:\s*\[\s*(?=\{)')
_TAIL_HEAD = b'{"sentences": ['  # stands for everything before the sentences still open


class SentenceStream:
    """Reads a streamed {"sentences": [{"text": ..., "citations": [...]}, ...]} reply incrementally.

    feed(piece) returns events: ("text", i, chars) for new characters of sentences[i].text, and
    ("sentence", i, obj) once sentences[i] is complete. Anything before the first "{" (a ```json
    fence, prose) is skipped; input that stops being JSON yields no more events.

    The reply is re-parsed with jiter in partial mode when a piece holds a brace (a sentence can
    complete only then: the next sentence's "{" or the reply's closing "}"), and only from the
    first sentence not yet handed on, so a long reply costs about as much as one parse of it. A
    partial parse cannot tell a closed last object from an open one: a sentence counts as complete
    once the next one has begun, a key follows "sentences", or the whole object parses strictly.
    """

    def __init__(self) -> None:
        self.buf = bytearray()
        self.started = False
        self.finished = False
        self.closed = 0  # sentences handed on
        self.shown = ""  # the text of sentences[closed] reported so far
        self.base: int | None = None  # where sentences[closed] begins in buf, once found

    def feed(self, piece: str) -> list[tuple[str, int, Any]]:
        if self.finished or not piece:
            return []
        if not self.started:
            at = piece.find("{")
            if at < 0:
                return []
            piece, self.started = piece[at:], True
        self.buf += piece.encode("utf-8", "surrogatepass")
        if "{" not in piece and "}" not in piece:
            return []
        reply = self._parse("}" in piece)
        sentences = reply.get("sentences") if isinstance(reply, dict) else None
        if not isinstance(sentences, list):
            return []
        first = 0 if self.base is None else self.closed  # the index of sentences[0] in the reply
        array_closed = self.finished or list(reply)[-1] != "sentences"
        events: list[tuple[str, int, Any]] = []
        for j in range(self.closed - first, len(sentences)):
            s, i = sentences[j], first + j
            text = s.get("text") if isinstance(s, dict) else None
            if isinstance(text, str) and text.startswith(self.shown) and len(text) > len(self.shown):
                events.append(("text", i, text[len(self.shown) :]))
                self.shown = text
            if j + 1 < len(sentences) or array_closed:
                events.append(("sentence", i, s))
                self.closed, self.shown = i + 1, ""
                if not array_closed:
                    self._skip(s)
            else:
                break
        return events

    def _parse(self, may_end: bool) -> Any:
        text = bytes(self.buf) if self.base is None else _TAIL_HEAD + self.buf[self.base :]
        if may_end:  # the reply may end at its last "}" (a fence or prose can follow it)
            try:
                whole = jiter.from_json(text[: text.rindex(b"}") + 1], cache_mode="keys")
                self.finished = True
                return whole
            except ValueError:
                pass
        try:
            return jiter.from_json(text, partial_mode="trailing-strings", cache_mode="keys")
        except ValueError:  # not JSON (a lone surrogate included): nothing more to show
            return None

    def _skip(self, done: Any) -> None:
        """Move `base` past the sentence just handed on (`done`) to the next one's "{"; where that
        cannot be told for sure, later parses start from the top again."""
        if self.base is not None:
            start = self.base
        elif self.closed == 1 and (m := _SENTENCES_OPEN.search(self.buf)):
            start = m.end()
        else:
            return
        self.base, end = None, start
        while (end := self.buf.find(b"}", end) + 1) > 0:  # the sentence ends at one of its "}"
            try:
                parsed = jiter.from_json(bytes(self.buf[start:end]), cache_mode="keys")
            except ValueError:
                continue
            if parsed == done and (after := self.buf.find(b"{", end)) >= 0:
                self.base = after
            return


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
