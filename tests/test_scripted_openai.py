"""Tests for the scripted OpenAI-compatible server (tests/scripted_openai.py).

These prove that the scripted server looks like a real OpenAI endpoint to the
real ``openai`` Python client, so that tests of factdesk's LLM code path can
rely on it. No real LLM is contacted anywhere in this file.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import math
import socket
import struct
import sys
import time
from pathlib import Path

import openai
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from scripted_openai import (  # noqa: E402
    DEFAULT_MODEL,
    ScriptedOpenAI,
    cut_stream,
    delay,
    dynamic,
    embeddings,
    fake_embedding,
    malformed,
    reply,
    reply_json,
    split_content,
    status,
)

MESSAGES = [
    {"role": "system", "content": "Answer from the passages."},
    {"role": "user", "content": "What is the capital of France?"},
]


@pytest.fixture
def srv():
    with ScriptedOpenAI() as server:
        yield server
        assert server.errors == [], server.errors


def make_client(server: ScriptedOpenAI, **kwargs) -> openai.OpenAI:
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("timeout", 5.0)
    return openai.OpenAI(base_url=server.base_url, api_key="test", **kwargs)


def chat(client: openai.OpenAI, **kwargs):
    kwargs.setdefault("model", "gpt-test")
    kwargs.setdefault("messages", MESSAGES)
    return client.chat.completions.create(**kwargs)


# --------------------------------------------------------------------------- #
# Normal and streamed completions
# --------------------------------------------------------------------------- #


def test_normal_completion(srv):
    """Runs against the scripted server, not a real LLM: a plain chat completion."""
    srv.script(reply("Paris is the capital of France."))
    with make_client(srv) as client:
        resp = chat(client)

    assert resp.object == "chat.completion"
    assert resp.id.startswith("chatcmpl-")
    assert resp.model == "gpt-test"  # echoes the request's model
    choice = resp.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "Paris is the capital of France."
    assert choice.finish_reason == "stop"
    assert resp.usage is not None and resp.usage.total_tokens == (
        resp.usage.prompt_tokens + resp.usage.completion_tokens
    )

    (req,) = srv.requests
    assert req.method == "POST" and req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == "Bearer test"
    assert req.json["messages"] == MESSAGES
    assert req.model == "gpt-test"
    assert "capital of France" in req.prompt_text
    assert srv.pending == 0


def test_streamed_completion_assembled_from_chunks(srv):
    """Runs against the scripted server, not a real LLM: SSE chunks reassemble to the reply."""
    text = "Paris is the capital and largest city of France."
    srv.script(reply(text))
    with make_client(srv) as client:
        chunks = list(chat(client, stream=True))

    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert len(chunks) >= 5  # role chunk + several content pieces + final chunk
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == text
    assert srv.requests[0].stream is True


def test_stream_include_usage(srv):
    """Runs against the scripted server, not a real LLM: stream_options.include_usage adds a usage chunk."""
    srv.script(reply("a b c d"))
    with make_client(srv) as client:
        chunks = list(chat(client, stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 4
    assert chunks[-2].choices[0].finish_reason == "stop"


def test_async_client_stream(srv):
    """Runs against the scripted server, not a real LLM: the AsyncOpenAI client streams too."""
    srv.script(reply("one two three"), reply("plain"))

    async def go():
        client = openai.AsyncOpenAI(base_url=srv.base_url, api_key="test", max_retries=0, timeout=5)
        async with client:
            stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
            parts = [c.choices[0].delta.content or "" async for c in stream]
            plain = await client.chat.completions.create(model="m", messages=MESSAGES)
            return "".join(parts), plain.choices[0].message.content

    assert asyncio.run(go()) == ("one two three", "plain")


def test_queue_order_and_default(srv):
    """Runs against the scripted server, not a real LLM: steps are consumed in order, then the default."""
    srv.queue("first", reply_json({"answer": 2}))
    with make_client(srv) as client:
        assert chat(client).choices[0].message.content == "first"
        assert json.loads(chat(client).choices[0].message.content) == {"answer": 2}
        assert chat(client).choices[0].message.content == "OK"  # built-in default
        srv.default = reply("fallback")
        assert chat(client).choices[0].message.content == "fallback"
        assert chat(client).choices[0].message.content == "fallback"
    assert len(srv.chat_requests) == 5


def test_dynamic_builds_reply_from_prompt(srv):
    """Runs against the scripted server, not a real LLM: dynamic() answers from the prompt's passages."""

    def cite_passages(body):
        prompt = body["messages"][-1]["content"]
        ids = [line.split("]")[0].strip("[") for line in prompt.splitlines() if line.startswith("[")]
        return reply_json({"answer": "Paris", "citations": ids})

    srv.script(dynamic(cite_passages), dynamic(lambda body: f"model was {body['model']}"))
    prompt = "Passages:\n[p1] Paris is in France.\n[p7] France is in Europe.\nQuestion: capital?"
    with make_client(srv) as client:
        first = chat(client, messages=[{"role": "user", "content": prompt}])
        second = chat(client, model="other")
    assert json.loads(first.choices[0].message.content) == {"answer": "Paris", "citations": ["p1", "p7"]}
    assert second.choices[0].message.content == "model was other"


# --------------------------------------------------------------------------- #
# Errors, retries, timeouts
# --------------------------------------------------------------------------- #


def test_429_raises_rate_limit_error(srv):
    """Runs against the scripted server, not a real LLM: 429 maps to openai.RateLimitError."""
    srv.script(status(429, headers={"Retry-After": "1"}))
    with make_client(srv) as client, pytest.raises(openai.RateLimitError) as info:
        chat(client)
    err = info.value
    assert err.status_code == 429
    assert err.code == "rate_limit_exceeded"
    assert err.type == "rate_limit_error"
    assert err.response.headers["retry-after"] == "1"
    assert len(srv.requests) == 1  # max_retries=0: no retry


@pytest.mark.parametrize("code", [500, 503])
def test_5xx_raises_internal_server_error(srv, code):
    """Runs against the scripted server, not a real LLM: 5xx maps to openai.InternalServerError."""
    srv.script(status(code, message="boom"))
    with make_client(srv) as client, pytest.raises(openai.InternalServerError) as info:
        chat(client)
    assert info.value.status_code == code
    assert info.value.type == "server_error"
    assert "boom" in str(info.value)


def test_client_retry_honours_retry_after(srv):
    """Runs against the scripted server, not a real LLM: the client's own retry waits for Retry-After."""
    srv.script(status(429, headers={"Retry-After": "1"}), reply("after retry"))
    with make_client(srv, max_retries=2) as client:
        start = time.monotonic()
        resp = chat(client)
        elapsed = time.monotonic() - start
    assert resp.choices[0].message.content == "after retry"
    assert len(srv.requests) == 2
    gap = srv.requests[1].received_at - srv.requests[0].received_at
    assert gap >= 0.9  # default backoff would be <= 0.5 s
    assert elapsed >= 0.9
    assert srv.requests[1].headers.get("x-stainless-retry-count") in (None, "1")


def test_delay_triggers_client_timeout(srv):
    """Runs against the scripted server, not a real LLM: a slow answer raises openai.APITimeoutError."""
    srv.script(delay(3, then=reply("too late")), reply("on time"))
    with make_client(srv, timeout=0.3) as client:
        start = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            chat(client)
        assert time.monotonic() - start < 2
        # The server is still usable afterwards (the slow step was consumed).
        assert chat(client).choices[0].message.content == "on time"


def test_delay_then_answers_within_timeout(srv):
    """Runs against the scripted server, not a real LLM: a short delay still answers."""
    srv.script(delay(0.2, then="late but fine"))
    with make_client(srv, timeout=5) as client:
        start = time.monotonic()
        assert chat(client).choices[0].message.content == "late but fine"
        assert time.monotonic() - start >= 0.2


def test_cut_stream_raises_connection_error(srv):
    """Runs against the scripted server, not a real LLM: a chunked stream dropped mid-way.

    What actually happens: the chunks sent before the cut are delivered, then
    iterating the stream raises ``openai.APIConnectionError`` (the chunked
    body is incomplete); no chunk ever carries a finish_reason.
    """
    srv.script(cut_stream("one two three four five", after_chunks=2))
    got = []
    with make_client(srv) as client, pytest.raises(openai.APIConnectionError):
        for chunk in chat(client, stream=True):
            got.append(chunk)
    assert "".join(c.choices[0].delta.content or "" for c in got) == "one two "
    assert all(c.choices[0].finish_reason is None for c in got)


def test_cut_stream_close_delimited_ends_without_finish_reason(srv):
    """Runs against the scripted server, not a real LLM: a close-delimited stream cut short.

    What actually happens: the client cannot tell the close from a normal end,
    so iteration simply stops -- without ``[DONE]`` and without a finish_reason.
    Code under test must treat a missing finish_reason as a truncated answer.
    """
    srv.script(cut_stream("one two three four five", after_chunks=3, chunked=False))
    with make_client(srv) as client:
        chunks = list(chat(client, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "one two three "
    assert all(c.choices[0].finish_reason is None for c in chunks)


def test_cut_non_streaming_body_raises_connection_error(srv):
    """Runs against the scripted server, not a real LLM: a non-streamed body cut short."""
    srv.script(cut_stream("whole answer"))
    with make_client(srv) as client, pytest.raises(openai.APIConnectionError):
        chat(client)


def test_malformed_body(srv):
    """Runs against the scripted server, not a real LLM: a 200 whose body is not JSON.

    What actually happens: the client raises json.JSONDecodeError (a ValueError),
    not an openai.APIError -- callers must catch ValueError too.
    """
    srv.script(malformed(), malformed())
    with make_client(srv) as client:
        with pytest.raises(ValueError):
            chat(client)
        with pytest.raises(ValueError):
            list(chat(client, stream=True))


def test_json_mode_reply_with_invalid_json_content(srv):
    """Runs against the scripted server, not a real LLM: JSON mode answered with non-JSON content."""
    srv.script(reply("this is {not json"))
    with make_client(srv) as client:
        resp = chat(client, response_format={"type": "json_object"})
    content = resp.choices[0].message.content
    assert content == "this is {not json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)
    assert srv.requests[0].json["response_format"] == {"type": "json_object"}


def test_unknown_endpoint_is_404(srv):
    """Runs against the scripted server, not a real LLM: unknown paths give an OpenAI-style 404."""
    with make_client(srv) as client, pytest.raises(openai.NotFoundError) as info:
        client.completions.create(model="m", prompt="hi")  # legacy endpoint, not scripted
    assert info.value.type == "not_found_error"


# --------------------------------------------------------------------------- #
# Models and embeddings
# --------------------------------------------------------------------------- #


def test_models_list(srv):
    """Runs against the scripted server, not a real LLM: GET /v1/models lists one model."""
    with make_client(srv) as client:
        models = client.models.list()
    assert [m.id for m in models.data] == [DEFAULT_MODEL] == ["scripted-model"]
    assert srv.requests[0].method == "GET" and srv.requests[0].path == "/v1/models"


def test_embeddings_default_encoding(srv):
    """Runs against the scripted server, not a real LLM: deterministic, normalised fake embeddings.

    This client asks for ``encoding_format="base64"`` by default and decodes
    the float32 vectors itself, so values match fake_embedding() to ~1e-7.
    """
    with make_client(srv) as client:
        first = client.embeddings.create(model="embed-test", input=["alpha", "beta", "alpha"])
        again = client.embeddings.create(model="embed-test", input="alpha")
        wide = client.embeddings.create(model="embed-test", input="alpha", dimensions=16)

    assert first.model == "embed-test"
    assert [d.index for d in first.data] == [0, 1, 2]
    vecs = [d.embedding for d in first.data]
    assert all(len(v) == 8 for v in vecs)
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-6) for v in vecs)
    assert vecs[0] == vecs[2] == again.data[0].embedding
    assert vecs[0] == pytest.approx(fake_embedding("alpha"), abs=1e-6)
    assert vecs[0] != vecs[1]
    assert len(wide.data[0].embedding) == 16
    assert first.usage.total_tokens >= 3
    assert len(srv.embedding_requests) == 3
    assert srv.embedding_requests[2].json["dimensions"] == 16


def test_embeddings_float(srv):
    """Runs against the scripted server, not a real LLM: encoding_format=float returns exact floats."""
    with make_client(srv) as client:
        resp = client.embeddings.create(model="e", input=["alpha", "beta"], encoding_format="float")
    assert srv.requests[0].json["encoding_format"] == "float"
    assert [d.embedding for d in resp.data] == [fake_embedding("alpha"), fake_embedding("beta")]
    assert math.isclose(sum(x * x for x in resp.data[0].embedding), 1.0, rel_tol=1e-12)


def test_embeddings_base64(srv):
    """Runs against the scripted server, not a real LLM: encoding_format=base64 packs float32s."""
    with make_client(srv) as client:
        resp = client.embeddings.create(model="e", input="alpha", encoding_format="base64")
    emb = resp.data[0].embedding
    if isinstance(emb, str):  # this client version hands back the raw base64 string
        emb = list(struct.unpack("<8f", base64.b64decode(emb)))
    assert emb == pytest.approx(fake_embedding("alpha"), abs=1e-6)


def test_embeddings_queue_error_then_default(srv):
    """Runs against the scripted server, not a real LLM: embedding errors can be scripted."""
    srv.queue_embeddings(status(503), embeddings(dim=4))
    with make_client(srv) as client:
        with pytest.raises(openai.InternalServerError):
            client.embeddings.create(model="e", input="x")
        assert len(client.embeddings.create(model="e", input="x").data[0].embedding) == 4
        assert len(client.embeddings.create(model="e", input="x").data[0].embedding) == 8


# --------------------------------------------------------------------------- #
# HTTP-level behaviour and lifecycle
# --------------------------------------------------------------------------- #


def test_raw_http_framing(srv):
    """Runs against the scripted server, not a real LLM: Content-Length, keep-alive and SSE framing."""
    srv.script(reply("hello there"), reply("streamed words here"))
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        body = json.dumps({"model": "m", "messages": MESSAGES})
        conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
        assert resp.status == 200 and resp.version == 11
        assert resp.getheader("Content-Type") == "application/json"
        assert int(resp.getheader("Content-Length")) == len(raw)
        assert json.loads(raw)["choices"][0]["message"]["content"] == "hello there"

        # Same connection (keep-alive), now streaming.
        body = json.dumps({"model": "m", "messages": MESSAGES, "stream": True})
        conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.getheader("Content-Type").startswith("text/event-stream")
        assert resp.getheader("Connection") == "close"
        text = resp.read().decode()
    finally:
        conn.close()
    events = [block for block in text.split("\n\n") if block]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    payloads = [json.loads(e[len("data: ") :]) for e in events[:-1]]
    assert payloads[-1]["choices"][0]["finish_reason"] == "stop"
    assert "".join(p["choices"][0]["delta"].get("content", "") for p in payloads) == "streamed words here"


def test_split_content_roundtrips():
    """Pure helper test (no server, no LLM): streamed pieces join back to the content."""
    for text in ["", "a", "abc", "Hello there, world!", "  spaced  out  ", "x" * 50]:
        pieces = split_content(text)
        assert "".join(pieces) == text
        if len(text) >= 3:
            assert len(pieces) >= 3
    assert split_content("abcdefg", chunk_size=3) == ["abc", "def", "g"]


def test_clean_shutdown_with_pending_delay():
    """Runs against the scripted server, not a real LLM: quick __exit__ mid-delay; port freed."""
    with ScriptedOpenAI() as server:
        server.script(delay(30))
        port = server.port
        client = make_client(server, timeout=0.2)
        with pytest.raises(openai.APITimeoutError):
            chat(client)
        client.close()
        start = time.monotonic()
    assert time.monotonic() - start < 2
    assert server._thread is None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
