"""Keep-alive on the answer streams (api/sse.py), through a real uvicorn (`factdesk serve`) whose
model is the scripted OpenAI-compatible server, made slow on purpose.

While the model has not yet written a sentence, the stream carries `: ping` comment lines; the
events themselves are unchanged, so the official `openai` client still reads the chat stream.
"""

from __future__ import annotations

import json
import time

import openai
from scripted_openai import DEFAULT_MODEL, delay, dynamic, quoting

QUESTION = "How many North Korean soldiers were killed?"
SLOW_S = 1.5  # the model's wait before its first byte: several of conftest.SCRIPTED_PING_S


def timed_lines(server, path: str, body: dict) -> list[tuple[float, str]]:  # type: ignore[no-untyped-def]
    """The non-empty lines of a streamed reply, each with the seconds since the request was sent."""
    t0 = time.monotonic()
    with server.client() as c, c.stream("POST", path, json=body) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        return [(time.monotonic() - t0, line) for line in r.iter_lines() if line]


def test_pings_arrive_while_the_model_is_slow(scripted_live_server) -> None:  # type: ignore[no-untyped-def]
    server, model = scripted_live_server
    model.reset()
    model.script(delay(SLOW_S, dynamic(quoting)))
    lines = timed_lines(server, "/v1/ask", {"question": QUESTION, "stream": True})

    data = [(t, json.loads(line[len("data: ") :])) for t, line in lines if line.startswith("data: ")]
    pings = [t for t, line in lines if line == ": ping"]
    first_delta = next(t for t, event in data if event.get("delta"))
    assert [line for _, line in lines if not line.startswith("data: ")] == [": ping"] * len(pings)
    assert len([t for t in pings if t < first_delta]) >= 3, lines  # ~SLOW_S / SCRIPTED_PING_S of them
    assert all("delta" in event for _, event in data[:-1]) and all(e["delta"] for _, e in data[:-1])
    done = data[-1][1]
    assert done["done"] is True and done["generator"] == DEFAULT_MODEL and done["warnings"] == []
    assert "".join(e["delta"] for _, e in data[:-1]) == done["answer"]


def test_chat_stream_keeps_its_shape_with_pings(scripted_live_server) -> None:  # type: ignore[no-untyped-def]
    server, model = scripted_live_server
    chat = {"model": "factdesk", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}

    model.reset()
    model.script(delay(SLOW_S, dynamic(quoting)))
    lines = [line for _, line in timed_lines(server, "/v1/chat/completions", chat)]
    assert ": ping" in lines and lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[len("data: ") :]) for line in lines[:-1] if line.startswith("data: ")]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["citations"]

    model.reset()
    model.script(delay(SLOW_S, dynamic(quoting)))
    with openai.OpenAI(base_url=server.base_url + "/v1", api_key="x", max_retries=0, timeout=120) as client:
        stream = client.chat.completions.create(
            model="factdesk", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
        parts = list(stream)
    text = "".join(p.choices[0].delta.content or "" for p in parts if p.choices)
    assert text.startswith("The article says") and "[1]" in text
    assert parts[-1].choices[0].finish_reason == "stop"
