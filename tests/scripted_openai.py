"""A scripted, OpenAI-compatible HTTP server for tests.

No real LLM can be reached from the test machines, so the LLM code path is
exercised against this server through the real ``openai`` client::

    from scripted_openai import ScriptedOpenAI, reply, status

    with ScriptedOpenAI() as srv:
        srv.script(status(429, headers={"Retry-After": "0.1"}), reply("hi"))
        client = openai.OpenAI(base_url=srv.base_url, api_key="test", max_retries=2)
        client.chat.completions.create(model="m", messages=[...])
        assert len(srv.chat_requests) == 2

The server is the standard library's ``http.server.ThreadingHTTPServer``
(deliberately not FastAPI, so it is independent of the app under test),
bound to 127.0.0.1 on a free port and run in a background thread.

Endpoints
---------
``POST /v1/chat/completions``
    Answered by the next queued *step* (see :meth:`ScriptedOpenAI.script`), or
    by :attr:`ScriptedOpenAI.default` once the queue is empty.
``POST /v1/embeddings``
    Deterministic fake embeddings (:func:`fake_embedding`), float or base64.
    Steps queued with :meth:`ScriptedOpenAI.queue_embeddings` take precedence.
``GET /v1/models``
    One model, ``"scripted-model"``.

Anything else answers 404 with an OpenAI-style error body.

Steps
-----
``reply(content)``, ``reply_json(obj)``, ``status(code, body, headers)``,
``delay(seconds, then)``, ``cut_stream(content, after_chunks)``,
``malformed(body)``, ``dynamic(fn)`` and ``embeddings()``.

Dialects
--------
Real servers differ in the ``response_format`` they take. ``srv.dialect = LLAMA_CPP_PYTHON`` (or
``REFUSES_JSON_SCHEMA``, ``PROMPT_JSON_ONLY``) makes the server refuse the others the way such a
server does, before any queued step is used; ``None`` (the default) takes every format, like OpenAI.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import socket
import struct
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping

__all__ = [
    "DEFAULT_MODEL",
    "RecordedRequest",
    "ScriptedOpenAI",
    "Step",
    "Reply",
    "Status",
    "Delay",
    "CutStream",
    "Malformed",
    "Drip",
    "Dynamic",
    "Embeddings",
    "reply",
    "reply_json",
    "status",
    "delay",
    "cut_stream",
    "malformed",
    "dynamic",
    "quoting",
    "embeddings",
    "fake_embedding",
    "split_content",
    "Dialect",
    "format_kind",
    "REFUSES_JSON_SCHEMA",
    "LLAMA_CPP_PYTHON",
    "PROMPT_JSON_ONLY",
]

DEFAULT_MODEL = "scripted-model"
DEFAULT_EMBEDDING_DIM = 8

_ERROR_TYPES: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("not_found_error", "not_found"),
    408: ("timeout", "timeout"),
    409: ("conflict_error", None),
    422: ("invalid_request_error", None),
    429: ("rate_limit_error", "rate_limit_exceeded"),
    500: ("server_error", "internal_error"),
    502: ("server_error", "bad_gateway"),
    503: ("server_error", "service_unavailable"),
    504: ("server_error", "gateway_timeout"),
}


# --------------------------------------------------------------------------- #
# Recorded requests
# --------------------------------------------------------------------------- #


@dataclass
class RecordedRequest:
    """One request received by the server (recorded before it is answered)."""

    method: str
    path: str
    headers: dict[str, str]  # header names lower-cased
    body: bytes
    json: Any  # parsed body, or None when the body is empty / not JSON
    received_at: float = field(default_factory=time.monotonic)

    @property
    def model(self) -> str | None:
        return self.json.get("model") if isinstance(self.json, dict) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        if isinstance(self.json, dict):
            return list(self.json.get("messages") or [])
        return []

    @property
    def prompt_text(self) -> str:
        """All message contents joined with newlines (text parts only)."""
        return "\n".join(_message_text(m) for m in self.messages)

    @property
    def stream(self) -> bool:
        return isinstance(self.json, dict) and bool(self.json.get("stream"))


def _message_text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(part.get("text", "") for part in content if isinstance(part, Mapping))
    return ""


# --------------------------------------------------------------------------- #
# Response context handed to steps
# --------------------------------------------------------------------------- #


class _Ctx:
    """What a step needs to answer one request."""

    def __init__(self, handler: "_Handler", request: RecordedRequest, server: "ScriptedOpenAI"):
        self.handler = handler
        self.request = request
        self.server = server

    # -- request facts --------------------------------------------------- #
    @property
    def body(self) -> dict[str, Any]:
        return self.request.json if isinstance(self.request.json, dict) else {}

    @property
    def model(self) -> str:
        return str(self.body.get("model") or DEFAULT_MODEL)

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def include_usage(self) -> bool:
        opts = self.body.get("stream_options")
        return isinstance(opts, Mapping) and bool(opts.get("include_usage"))

    # -- writing --------------------------------------------------------- #
    def send_bytes(
        self,
        code: int,
        payload: bytes,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        h = self.handler
        h.send_response(code)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(payload)))
        h.send_header("x-request-id", f"req_{uuid.uuid4().hex[:16]}")
        for k, v in (headers or {}).items():
            h.send_header(k, str(v))
        h.end_headers()
        h.wfile.write(payload)
        h.wfile.flush()

    def send_json(self, code: int, obj: Any, headers: Mapping[str, str] | None = None) -> None:
        self.send_bytes(code, json.dumps(obj).encode("utf-8"), headers=headers)

    def start_stream(self, headers: Mapping[str, str] | None = None) -> None:
        """Send 200 headers for an SSE stream (chunked, connection closed at end)."""
        h = self.handler
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream; charset=utf-8")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Connection", "close")
        h.send_header("x-request-id", f"req_{uuid.uuid4().hex[:16]}")
        for k, v in (headers or {}).items():
            h.send_header(k, str(v))
        h.end_headers()
        h.close_connection = True
        h.wfile.flush()

    def write_chunk(self, data: bytes) -> None:
        """Write one HTTP/1.1 chunk (Transfer-Encoding: chunked)."""
        if not data:
            return
        w = self.handler.wfile
        w.write(b"%x\r\n" % len(data) + data + b"\r\n")
        w.flush()

    def write_event(self, data: Any) -> None:
        text = data if isinstance(data, str) else json.dumps(data)
        self.write_chunk(f"data: {text}\n\n".encode("utf-8"))

    def end_stream(self) -> None:
        self.write_event("[DONE]")
        self.handler.wfile.write(b"0\r\n\r\n")  # last chunk
        self.handler.wfile.flush()

    def abort(self) -> None:
        """Drop the connection at once, without finishing the response."""
        h = self.handler
        h.close_connection = True
        try:
            h.wfile.flush()
        except OSError:
            pass
        # A plain FIN (not an RST) so the bytes already sent are reliably
        # delivered; the response is still incomplete (chunked body without
        # its last chunk, or fewer bytes than Content-Length), so clients fail.
        try:
            h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def sleep(self, seconds: float) -> bool:
        """Sleep, waking early when the server stops. True if not interrupted."""
        return not self.server._stopping.wait(seconds)


# --------------------------------------------------------------------------- #
# Steps
# --------------------------------------------------------------------------- #


class Step:
    """Base class: one scripted answer to one request."""

    def send(self, ctx: _Ctx) -> None:  # pragma: no cover - interface
        raise NotImplementedError


def split_content(content: str, chunk_size: int | None = None) -> list[str]:
    """Split ``content`` into small streaming pieces.

    Default: roughly word-sized pieces (a word plus following whitespace),
    further split so that there are at least 3 pieces when the text allows.
    With ``chunk_size`` the text is cut every ``chunk_size`` characters.
    """
    if not content:
        return []
    if chunk_size:
        return [content[i : i + chunk_size] for i in range(0, len(content), chunk_size)]
    pieces = re.findall(r"\S+\s*|\s+", content)
    if len(pieces) < 3 and len(content) >= 3:
        size = max(1, math.ceil(len(content) / 3))
        pieces = [content[i : i + size] for i in range(0, len(content), size)]
    return pieces


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def _count_tokens(text: str) -> int:
    return len(text.split())


def _usage(ctx: _Ctx, content: str) -> dict[str, int]:
    prompt = _count_tokens(ctx.request.prompt_text)
    completion = _count_tokens(content)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion_head(ctx: "_Ctx", cid: str, created: int, model: str, content: str) -> bytes:
    """Send a 200's headers for a whole chat completion of `content`; its body, for the caller to
    send as it will (in part, slowly)."""
    payload = json.dumps(
        {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
        }
    ).encode("utf-8")
    h = ctx.handler
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(payload)))
    h.end_headers()
    return payload


def _chunk(cid: str, created: int, model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_scripted",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


@dataclass
class Reply(Step):
    """A successful chat completion (or SSE stream when the request streams)."""

    content: str
    finish_reason: str = "stop"
    model: str | None = None  # None: echo the request's model
    chunk_size: int | None = None  # streaming piece size; None: word-ish pieces
    headers: Mapping[str, str] | None = None
    # more message fields, as servers add them (e.g. {"reasoning_content": "..."}); streamed in
    # the first delta
    extra: Mapping[str, Any] | None = None

    def send(self, ctx: _Ctx) -> None:
        model = self.model or ctx.model
        extra = dict(self.extra or {})
        cid = _completion_id()
        created = int(time.time())
        if not ctx.stream:
            ctx.send_json(
                200,
                {
                    "id": cid,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "system_fingerprint": "fp_scripted",
                    "choices": [
                        {
                            "index": 0,
                            "message": {
                                "role": "assistant",
                                "content": self.content,
                                "refusal": None,
                                **extra,
                            },
                            "logprobs": None,
                            "finish_reason": self.finish_reason,
                        }
                    ],
                    "usage": _usage(ctx, self.content),
                },
                headers=self.headers,
            )
            return
        ctx.start_stream(self.headers)
        ctx.write_event(_chunk(cid, created, model, {"role": "assistant", "content": "", **extra}, None))
        for piece in split_content(self.content, self.chunk_size):
            ctx.write_event(_chunk(cid, created, model, {"content": piece}, None))
        ctx.write_event(_chunk(cid, created, model, {}, self.finish_reason))
        if ctx.include_usage:
            ctx.write_event(
                {
                    "id": cid,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": _usage(ctx, self.content),
                }
            )
        ctx.end_stream()


@dataclass
class Status(Step):
    """An HTTP error (or any status) with an OpenAI-style error body."""

    code: int
    body: Any = None  # None: OpenAI-style error JSON; dict/list: JSON; str/bytes: raw
    headers: Mapping[str, str] | None = None
    message: str | None = None

    def error_body(self) -> dict[str, Any]:
        etype, ecode = _ERROR_TYPES.get(
            self.code, ("server_error" if self.code >= 500 else "invalid_request_error", None)
        )
        return {
            "error": {
                "message": self.message or f"Scripted error {self.code}",
                "type": etype,
                "param": None,
                "code": ecode,
            }
        }

    def send(self, ctx: _Ctx) -> None:
        body = self.error_body() if self.body is None else self.body
        if isinstance(body, bytes):
            ctx.send_bytes(self.code, body, headers=self.headers)
        elif isinstance(body, str):
            ctx.send_bytes(self.code, body.encode("utf-8"), content_type="text/plain", headers=self.headers)
        else:
            ctx.send_json(self.code, body, headers=self.headers)


@dataclass
class Delay(Step):
    """Sleep ``seconds`` and then answer with ``then`` (None: the default)."""

    seconds: float
    then: Step | None = None

    def send(self, ctx: _Ctx) -> None:
        if not ctx.sleep(self.seconds):
            ctx.abort()  # server stopping
            return
        step = self.then if self.then is not None else ctx.server._default_for(ctx.request.path)
        step.send(ctx)


@dataclass
class CutStream(Step):
    """Start a reply, then drop the connection mid-way (no ``[DONE]``).

    Streaming request: the role chunk and the first ``after_chunks`` content
    pieces are sent, then the connection is reset.  With ``chunked=True``
    (default, like the real API) the client sees an incomplete chunked body
    and raises; with ``chunked=False`` the body is close-delimited, so the
    client sees a clean end of stream without any ``finish_reason``.

    Non-streaming request: headers with the full Content-Length and half of
    the JSON body are sent, then the connection is reset.
    """

    content: str
    after_chunks: int = 1
    chunk_size: int | None = None
    chunked: bool = True

    def send(self, ctx: _Ctx) -> None:
        model = ctx.model
        cid = _completion_id()
        created = int(time.time())
        if not ctx.stream:
            payload = _completion_head(ctx, cid, created, model, self.content)
            ctx.handler.wfile.write(payload[: len(payload) // 2])
            ctx.abort()
            return

        events = [_chunk(cid, created, model, {"role": "assistant", "content": ""}, None)]
        pieces = split_content(self.content, self.chunk_size)
        events += [
            _chunk(cid, created, model, {"content": p}, None) for p in pieces[: max(0, self.after_chunks)]
        ]
        if self.chunked:
            ctx.start_stream()
            for ev in events:
                ctx.write_event(ev)
            ctx.abort()
            return
        # Close-delimited body (HTTP/1.1 allows it with Connection: close).
        h = ctx.handler
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream; charset=utf-8")
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        for ev in events:
            h.wfile.write(f"data: {json.dumps(ev)}\n\n".encode("utf-8"))
        h.wfile.flush()
        try:
            h.connection.shutdown(socket.SHUT_WR)  # FIN: looks like a normal end
        except OSError:
            pass


@dataclass
class Drip(Step):
    """A reply that keeps the connection busy without getting on: without streaming, its JSON body
    `size` bytes every `every` seconds (a proxy or a server trickling it); streamed, `pauses` events
    with empty content `every` seconds apart before the content. Each wait is shorter than a read
    timeout, so only a deadline for the whole call, or for the next token, ends it."""

    content: str
    every: float = 0.3
    size: int = 4
    pauses: int = 20
    comments: bool = False  # streamed pauses as SSE comment lines (llama-cpp-python's ": ping")

    def send(self, ctx: _Ctx) -> None:
        cid, created, model = _completion_id(), int(time.time()), ctx.model
        if not ctx.stream:
            payload = _completion_head(ctx, cid, created, model, self.content)
            h = ctx.handler
            try:
                for i in range(0, len(payload), self.size):
                    if not ctx.sleep(self.every):
                        return
                    h.wfile.write(payload[i : i + self.size])
                    h.wfile.flush()
            except OSError:  # the client gave up
                return
            return
        try:
            ctx.start_stream()
            ctx.write_event(_chunk(cid, created, model, {"role": "assistant", "content": ""}, None))
            for _ in range(self.pauses):
                if not ctx.sleep(self.every):
                    return
                if self.comments:
                    ctx.write_chunk(b": ping\n\n")
                else:
                    ctx.write_event(_chunk(cid, created, model, {"content": ""}, None))
            for piece in split_content(self.content):
                ctx.write_event(_chunk(cid, created, model, {"content": piece}, None))
            ctx.write_event(_chunk(cid, created, model, {}, "stop"))
            ctx.end_stream()
        except OSError:  # the client gave up
            return


@dataclass
class Malformed(Step):
    """HTTP 200, ``Content-Type: application/json``, body that is not JSON.

    For a streaming request the body is a broken SSE data line followed by
    ``[DONE]`` (the SSE framing is fine, the JSON in it is not).
    """

    body: str = '{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [{"message": '
    content_type: str = "application/json"

    def send(self, ctx: _Ctx) -> None:
        if ctx.stream and ctx.request.path.endswith("/chat/completions"):
            ctx.start_stream()
            ctx.write_chunk(f"data: {self.body}\n\n".encode("utf-8"))
            ctx.end_stream()
            return
        ctx.send_bytes(200, self.body.encode("utf-8"), content_type=self.content_type)


@dataclass
class Dynamic(Step):
    """``fn(request_json)`` decides the answer.

    It may return a :class:`Step`, a ``str`` (sent as :func:`reply`) or a
    ``dict``/``list`` (sent as :func:`reply_json`).
    """

    fn: Callable[[Any], Any]

    def send(self, ctx: _Ctx) -> None:
        _as_step(self.fn(ctx.request.json)).send(ctx)


def _as_step(obj: Any) -> Step:
    if isinstance(obj, Step):
        return obj
    if isinstance(obj, str):
        return Reply(obj)
    if isinstance(obj, (dict, list)):
        return Reply(json.dumps(obj))
    raise TypeError(f"not a step: {obj!r}")


def fake_embedding(text: str, dim: int = DEFAULT_EMBEDDING_DIM) -> list[float]:
    """Deterministic unit-length vector for ``text`` (sha256 based)."""
    raw = b""
    counter = 0
    while len(raw) < dim * 4:
        raw += hashlib.sha256(f"{counter}:{text}".encode("utf-8")).digest()
        counter += 1
    values = [int.from_bytes(raw[i * 4 : i * 4 + 4], "little") / 0xFFFFFFFF * 2.0 - 1.0 for i in range(dim)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


@dataclass
class Embeddings(Step):
    """The normal ``/v1/embeddings`` answer (float or base64 encoding)."""

    dim: int | None = None  # None: request's ``dimensions`` or 8

    def send(self, ctx: _Ctx) -> None:
        body = ctx.body
        inputs = body.get("input")
        if isinstance(inputs, str) or (isinstance(inputs, list) and inputs and isinstance(inputs[0], int)):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs:
            Status(400, message="'input' must be a non-empty string or array").send(ctx)
            return
        dim = self.dim or int(body.get("dimensions") or DEFAULT_EMBEDDING_DIM)
        b64 = body.get("encoding_format") == "base64"
        data = []
        total = 0
        for i, item in enumerate(inputs):
            text = item if isinstance(item, str) else json.dumps(item)
            total += max(1, _count_tokens(text))
            vec = fake_embedding(text, dim)
            emb: Any = base64.b64encode(struct.pack(f"<{dim}f", *vec)).decode("ascii") if b64 else vec
            data.append({"object": "embedding", "index": i, "embedding": emb})
        ctx.send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": str(body.get("model") or DEFAULT_MODEL),
                "usage": {"prompt_tokens": total, "total_tokens": total},
            },
        )


# -- factory functions ------------------------------------------------------ #


def reply(
    content: str,
    *,
    finish_reason: str = "stop",
    model: str | None = None,
    chunk_size: int | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Reply:
    """A normal completion with ``content`` (streamed when the request streams); ``extra`` adds
    message fields such as ``reasoning_content``."""
    return Reply(
        content, finish_reason=finish_reason, model=model, chunk_size=chunk_size, headers=headers, extra=extra
    )


def reply_json(obj: Any, **kwargs: Any) -> Reply:
    """``reply(json.dumps(obj))``."""
    return reply(json.dumps(obj), **kwargs)


def status(
    code: int,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    *,
    message: str | None = None,
) -> Status:
    """HTTP ``code`` with an OpenAI-style error body (or ``body``) and ``headers``."""
    return Status(code, body=body, headers=headers, message=message)


def delay(seconds: float, then: Step | str | None = None) -> Delay:
    """Wait ``seconds`` before answering with ``then`` (None: the default step)."""
    return Delay(seconds, None if then is None else _as_step(then))


def cut_stream(
    content: str, after_chunks: int = 1, *, chunk_size: int | None = None, chunked: bool = True
) -> CutStream:
    """Start streaming ``content`` and drop the connection after ``after_chunks`` pieces."""
    return CutStream(content, after_chunks=after_chunks, chunk_size=chunk_size, chunked=chunked)


def malformed(body: str | None = None) -> Malformed:
    """HTTP 200 whose body is not valid JSON."""
    return Malformed() if body is None else Malformed(body)


def dynamic(fn: Callable[[Any], Any]) -> Dynamic:
    """Let ``fn(request_json)`` return the step (or str / dict) to answer with."""
    return Dynamic(fn)


_PASSAGE = re.compile(r'<passage n="(\d+)" title="[^"]*">\n(.*?)\n</passage>', re.DOTALL)


def quoting(body: Any, words: int = 8) -> dict[str, Any]:
    """A factdesk answer that verifies: one sentence citing the request's first sentence id, its text
    that sentence's first words (for ``dynamic(quoting)``)."""
    content = _message_text((body.get("messages") or [{}])[-1])
    _, text = _PASSAGE.findall(content)[0]
    first = text.splitlines()[0]
    sid = SENTENCE_ID.match(first)
    assert sid is not None, first
    quote = " ".join(first[sid.end() :].split()[:words])
    return {
        "abstained": False,
        "sentences": [{"text": f"The article says {quote}.", "citations": [sid.group(1)]}],
    }


def embeddings(dim: int | None = None) -> Embeddings:
    """The normal fake-embeddings answer (for :meth:`ScriptedOpenAI.queue_embeddings`)."""
    return Embeddings(dim)


# --------------------------------------------------------------------------- #
# Dialects: which response_format a server takes
# --------------------------------------------------------------------------- #


def format_kind(body: Any) -> str:
    """``"none"``, ``"text"``, ``"json_schema"``, ``"json_object"`` or ``"json_object+schema"``."""
    fmt = body.get("response_format") if isinstance(body, dict) else None
    if not isinstance(fmt, dict):
        return "none"
    kind = str(fmt.get("type"))
    return f"{kind}+schema" if kind == "json_object" and "schema" in fmt else kind


@dataclass(frozen=True)
class Dialect:
    """A server that takes only the response_format kinds in ``accepts`` and answers any other
    chat completion with ``refusal`` (``"none"`` and ``"text"`` are always taken)."""

    name: str
    accepts: frozenset[str]
    refusal: Step

    def refuses(self, body: Any) -> bool:
        kind = format_kind(body)
        return kind not in self.accepts and kind not in ("none", "text")


# e.g. LM Studio-like servers and proxies: a 400 that names the parameter
REFUSES_JSON_SCHEMA = Dialect(
    "refuses-json-schema",
    frozenset({"json_object", "json_object+schema"}),
    Status(400, message="'response_format.type' must be one of 'text', 'json_object'"),
)
# llama-cpp-python's server (0.3.x): its request model takes type "text" or "json_object" (with an
# optional "schema"); anything else fails validation, which its error handler reports as a 500
LLAMA_CPP_PYTHON = Dialect(
    "llama-cpp-python",
    frozenset({"json_object", "json_object+schema"}),
    Status(
        500,
        body={
            "error": {
                "message": "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', "
                "'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\", "
                "'input': 'json_schema', 'ctx': {'expected': \"'text' or 'json_object'\"}}",
                "type": "internal_server_error",
                "param": None,
                "code": None,
            }
        },
    ),
)
# servers without any JSON mode: the prompt alone has to ask for JSON
PROMPT_JSON_ONLY = Dialect(
    "prompt-json-only", frozenset(), Status(400, message="response_format is not supported")
)


# --------------------------------------------------------------------------- #
# HTTP plumbing
# --------------------------------------------------------------------------- #


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: "ScriptedOpenAI"

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return  # client went away (timeouts, cut streams): expected in tests
        if exc is not None and exc not in self.owner.errors:
            self.owner.errors.append(exc)
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ScriptedOpenAI/1.0"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # keep test output quiet

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def _record(self) -> RecordedRequest:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        req = RecordedRequest(
            method=self.command,
            path=self.path.split("?", 1)[0],
            headers={k.lower(): v for k, v in self.headers.items()},
            body=raw,
            json=parsed,
        )
        self.server.owner._add_request(req)
        return req

    def _dispatch(self) -> None:
        self._responded = False
        req = self._record()
        owner = self.server.owner
        ctx = _Ctx(self, req, owner)
        path = req.path.rstrip("/")
        if req.method == "POST" and path.endswith("/chat/completions"):
            dialect = owner.dialect
            step = dialect.refusal if dialect and dialect.refuses(req.json) else owner._next_step("chat")
        elif req.method == "POST" and path.endswith("/embeddings"):
            step = owner._next_step("embeddings")
        elif req.method == "GET" and path.endswith("/models"):
            step = _ModelsStep()
        else:
            step = Status(404, message=f"Unknown endpoint {req.method} {req.path}")
        try:
            step.send(ctx)
        except OSError:
            raise  # client went away; handled (silently) by the server
        except Exception as exc:  # a bug in a test's dynamic() fn, say
            owner.errors.append(exc)
            if self._responded:
                raise
            Status(500, message=f"scripted step failed: {exc!r}").send(ctx)

    def send_response(self, code: int, message: str | None = None) -> None:
        self._responded = True
        super().send_response(code, message)

    do_GET = _dispatch
    do_POST = _dispatch
    do_PUT = _dispatch
    do_DELETE = _dispatch


class _ModelsStep(Step):
    def send(self, ctx: _Ctx) -> None:
        ctx.send_json(
            200,
            {
                "object": "list",
                "data": [
                    {"id": DEFAULT_MODEL, "object": "model", "created": 0, "owned_by": "factdesk-tests"}
                ],
            },
        )


class ScriptedOpenAI:
    """Context manager running the scripted OpenAI-compatible server.

    Attributes:
        base_url: ``"http://127.0.0.1:PORT/v1"`` (valid inside the ``with``).
        requests: every :class:`RecordedRequest`, in arrival order.
        default: step used for chat completions once the queue is empty
            (initially ``reply("OK")``).
        default_embeddings: step for embeddings once that queue is empty.
        errors: unexpected exceptions raised while answering (should stay empty).
        dialect: the response_format kinds taken (:class:`Dialect`); None takes all.
    """

    def __init__(self, default: Step | str | None = None, *, host: str = "127.0.0.1") -> None:
        self.host = host
        self._default: Step = _as_step(default) if default is not None else Reply("OK")
        self._default_embeddings: Step = Embeddings()
        self.requests: list[RecordedRequest] = []
        self.errors: list[BaseException] = []
        self.dialect: Dialect | None = None
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Step]] = {"chat": deque(), "embeddings": deque()}
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- defaults ----------------------------------------------------------- #
    @property
    def default(self) -> Step:
        """Step for chat completions once the queue is empty (a str means reply(str))."""
        return self._default

    @default.setter
    def default(self, step: Step | str) -> None:
        self._default = _as_step(step)

    @property
    def default_embeddings(self) -> Step:
        """Step for embeddings once their queue is empty (initially ``embeddings()``)."""
        return self._default_embeddings

    @default_embeddings.setter
    def default_embeddings(self, step: Step) -> None:
        self._default_embeddings = _as_step(step)

    # -- lifecycle ---------------------------------------------------------- #
    def start(self) -> "ScriptedOpenAI":
        if self._server is not None:
            raise RuntimeError("already started")
        self._stopping.clear()
        server = _Server((self.host, 0), _Handler)
        server.owner = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="scripted-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wake sleeping Delay steps
        server.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:  # unblock keep-alive handler threads
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> "ScriptedOpenAI":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------- #
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not running")
        return int(self._server.server_address[1])

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    # -- scripting ---------------------------------------------------------- #
    def script(self, *steps: Step | str) -> "ScriptedOpenAI":
        """Append steps for ``POST /v1/chat/completions``, consumed in order.

        A plain ``str`` is shorthand for ``reply(str)``. Returns ``self``.
        """
        with self._lock:
            self._queues["chat"].extend(_as_step(s) for s in steps)
        return self

    def queue(self, *steps: Step | str) -> "ScriptedOpenAI":
        """Alias of :meth:`script`."""
        return self.script(*steps)

    def queue_embeddings(self, *steps: Step) -> "ScriptedOpenAI":
        """Append steps for ``POST /v1/embeddings`` (e.g. ``status(429)``, ``embeddings()``)."""
        with self._lock:
            self._queues["embeddings"].extend(steps)
        return self

    @property
    def pending(self) -> int:
        """Chat steps not consumed yet."""
        with self._lock:
            return len(self._queues["chat"])

    def reset(self) -> None:
        """Forget received requests and queued steps (defaults are kept)."""
        with self._lock:
            self.requests.clear()
            for q in self._queues.values():
                q.clear()

    # -- inspection --------------------------------------------------------- #
    def requests_to(self, suffix: str, method: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [
                r
                for r in self.requests
                if r.path.rstrip("/").endswith(suffix) and (method is None or r.method == method)
            ]

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return self.requests_to("/chat/completions", "POST")

    @property
    def embedding_requests(self) -> list[RecordedRequest]:
        return self.requests_to("/embeddings", "POST")

    @property
    def last_request(self) -> RecordedRequest | None:
        with self._lock:
            return self.requests[-1] if self.requests else None

    # -- internals ---------------------------------------------------------- #
    def _add_request(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)

    def _next_step(self, kind: str) -> Step:
        with self._lock:
            q = self._queues[kind]
            if q:
                return q.popleft()
        return self.default if kind == "chat" else self.default_embeddings

    def _default_for(self, path: str) -> Step:
        return self.default_embeddings if path.rstrip("/").endswith("/embeddings") else self.default

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)


# ---------------------------------------------------------------- reading factdesk's prompt (for scripted replies)

PROMPT_PASSAGE = re.compile(r'<passage n="(\d+)" title="[^"]*">\n(.*?)\n</passage>', re.DOTALL)
SENTENCE_ID = re.compile(r"^\[(\d+\.\d+)\] ", re.MULTILINE)


def prompt_passages(body: dict) -> dict[int, str]:
    """Each passage of the request's last message as factdesk renders it, less its sentence ids
    (one sentence a line after "[n.k] "): the text a scripted model quotes from."""
    return {
        int(n): " ".join(SENTENCE_ID.sub("", text).splitlines())
        for n, text in PROMPT_PASSAGE.findall(body["messages"][-1]["content"])
    }
