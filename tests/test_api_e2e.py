"""End to end: a real `factdesk serve` (uvicorn, a subprocess) on a free port, driven over HTTP by
httpx and by the official `openai` client. The server is the session's `live_server` (conftest.py).
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from conftest import SEED_IDS
from live_server import LiveServer

QUESTION = "When were the two soldiers captured?"


@pytest.fixture(scope="module")
def client(live_server: LiveServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{live_server.base_url}/v1", api_key="x", max_retries=0, timeout=300) as c:
        yield c


@pytest.fixture(scope="module")
def texts(live_server: LiveServer) -> dict[str, str]:
    with live_server.client() as c:
        return {d: c.get(f"/v1/documents/{d}").json()["text"] for d in SEED_IDS}


def test_seeds_were_ingested_over_http(live_server: LiveServer) -> None:
    with live_server.client() as c:
        assert {d["id"] for d in c.get("/v1/documents").json()["documents"]} >= set(SEED_IDS)
        assert c.get("/readyz").status_code == 200
        r = c.post("/v1/documents", json={"documents": [{"text": "x"}], "extra": 1})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request"


def test_openai_client_lists_models(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["factdesk"]
    assert client.models.retrieve("factdesk").id == "factdesk"


def test_openai_client_gets_a_cited_answer(client: openai.OpenAI, texts: dict[str, str]) -> None:
    reply = client.chat.completions.create(
        model="factdesk", temperature=0, messages=[{"role": "user", "content": QUESTION}]
    )
    content = reply.choices[0].message.content or ""
    assert reply.model == "factdesk" and reply.choices[0].finish_reason == "stop"
    assert re.search(r"\[\d+\]", content) and "\n\nSources:\n[1] " in content
    citations = (reply.model_extra or {})["citations"]
    assert citations
    for c in citations:
        assert f"[{c['marker']}]" in content
        assert texts[c["document_id"]][c["start"] : c["end"]] == c["quote"]


def test_openai_client_streams_the_same_answer(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": QUESTION}]
    whole = client.chat.completions.create(model="factdesk", messages=messages).choices[0].message.content
    chunks = list(client.chat.completions.create(model="factdesk", messages=messages, stream=True))
    assert len(chunks) > 3
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == whole
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert (chunks[-1].model_extra or {})["citations"]


def test_openai_client_sees_errors_as_api_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="factdesk", messages=[{"role": "system", "content": "no question"}]
        )
    assert info.value.status_code == 400


def filler_articles(n: int, words: int, seed: int) -> list[dict[str, str]]:
    """Articles no seed question is about, unique per run (so the embedding cache cannot skip them)."""
    rng = random.Random(seed)
    vocab = [
        "allotment",
        "beetroot",
        "compost",
        "trellis",
        "seedling",
        "greenhouse",
        "marrow",
        "parsnip",
        "cloche",
        "dibber",
        "rhubarb",
        "courgette",
        "bramble",
        "mulch",
        "loam",
        "espalier",
        "quince",
    ]
    docs = []
    for i in range(n):
        sentences = [
            " ".join(rng.choice(vocab) for _ in range(12)).capitalize() + f" {rng.random():.6f}."
            for _ in range(words // 12)
        ]
        docs.append(
            {"id": f"filler-{seed}-{i}", "title": f"Gardening notes {i}", "text": " ".join(sentences)}
        )
    return docs


def test_requests_are_served_while_a_large_ingest_embeds(live_server: LiveServer) -> None:
    done: list[str] = []
    errors: list[BaseException] = []
    docs = filler_articles(n=4, words=540, seed=int(time.time()))

    def post_documents() -> None:
        try:
            with live_server.client() as c:
                r = c.post("/v1/documents", json={"documents": docs})
                assert r.status_code == 200 and {x["status"] for x in r.json()["results"]} == {"created"}
            done.append("documents")
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    with live_server.client() as c:
        query = {"query": "suicide orders", "top_k": 3}
        assert c.post("/v1/search", json=query).status_code == 200  # the query's vector is cached now
        ingest = threading.Thread(target=post_documents)
        ingest.start()
        try:
            # wait until the server is inside the POST (this /metrics call is the other request in flight)
            in_flight = re.compile(r"^factdesk_http_requests_in_flight [2-9]", re.MULTILINE)
            while not in_flight.search(c.get("/metrics").text):
                assert ingest.is_alive() and not done, "the ingest ended before it could be observed"
                time.sleep(0.02)
            assert c.get("/healthz").json()["status"] == "ok"
            done.append("healthz")
            assert c.post("/v1/search", json=query).json()["results"]
            done.append("search")
        finally:
            ingest.join(timeout=600)
        assert not errors, errors
        assert done == ["healthz", "search", "documents"]
        for d in docs:  # the session's server is shared with the chat-page test: leave it as found
            assert c.delete(f"/v1/documents/{d['id']}").status_code == 204


def test_server_answers_404_and_405_as_json(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.base_url) as c:
        r = c.get("/nope")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = c.delete("/v1/search")
        assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
        assert "factdesk_http_requests_total" in c.get("/metrics").text
