"""The HTTP API through the real ASGI app (Starlette's TestClient over httpx), over a real service.

One service per module (a fresh data dir, the seeds posted through POST /v1/documents); the auth
tests put a second app, with API keys, in front of the same service.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import ARTICLES, SEED_IDS, make_settings
from fastapi.testclient import TestClient
from live_server import seed_documents

from answers.summarize import leans_back
from api.app import create_app
from factdesk.service import Factdesk
from retrieval.dedup import content_hash
from retrieval.errors import StoreUnavailable

QUESTION = "When were the two soldiers captured?"
MAX_BODY = 64 * 1024
MAX_QUESTION = 300


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, warm_model: None) -> Iterator[Factdesk]:
    data = tmp_path_factory.mktemp("api")
    svc = Factdesk(make_settings(data, max_body_bytes=MAX_BODY, max_question_chars=MAX_QUESTION))
    yield svc
    svc.close()  # the dir stays: chromadb keeps a client per path for the process (see conftest.seeded)


@pytest.fixture(scope="module")
def client(service: Factdesk) -> Iterator[TestClient]:
    with TestClient(create_app(service.settings, ingest_on_start=False, service=service)) as c:
        r = c.post("/v1/documents", json={"documents": seed_documents()})
        assert r.status_code == 200, r.text
        assert [x["status"] for x in r.json()["results"]] == ["created"] * len(SEED_IDS)
        yield c


@pytest.fixture(scope="module")
def texts(client: TestClient) -> dict[str, str]:
    return {d: client.get(f"/v1/documents/{d}").json()["text"] for d in SEED_IDS}


def assert_error(r, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]  # type: ignore[no-any-return]


def assert_citations(citations: list[dict], texts: dict[str, str]) -> None:
    for c in citations:
        assert {"marker", "document_id", "chunk_id", "title", "quote", "start", "end", "content_hash"} <= set(
            c
        )
        assert texts[c["document_id"]][c["start"] : c["end"]] == c["quote"]
        assert c["content_hash"] == content_hash(texts[c["document_id"]])


def sse_events(text: str) -> list[str]:
    return [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]


# ---- operations ----
def test_healthz_and_readyz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["store"] == "embedded" and r.json()["model"]


def test_probes_answer_head_as_get(client: TestClient) -> None:
    """Every GET route answers HEAD with the GET's status and headers and no body (a tester's
    `HEAD /v1/documents` and `/metrics` were 405s); a POST-only route is still a 405."""
    for path in (
        "/healthz",
        "/readyz",
        "/v1/documents",
        f"/v1/documents/{SEED_IDS[0]}",
        "/v1/models",
        "/metrics",
    ):
        r, got = client.head(path), client.get(path)
        assert r.status_code == got.status_code == 200 and r.content == b"", path
        assert r.headers["content-type"] == got.headers["content-type"], path
    assert client.head("/v1/documents/no-such-doc").status_code == 404
    assert client.head("/v1/ask").status_code == 405
    page = client.head("/")  # the chat page, as an uptime monitor asks for it
    assert (
        page.status_code == 200
        and page.content == b""
        and page.headers["content-type"].startswith("text/html")
    )


def test_readyz_is_503_while_the_store_is_unreachable(
    client: TestClient, service: Factdesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service.vectors, "ping", lambda: False)
    err = assert_error(client.get("/readyz"), 503, "not_ready")
    assert "unreachable" in err["message"]
    assert client.get("/healthz").status_code == 200  # liveness does not depend on the store


def test_chat_page_docs_and_openapi(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'id="question"' in r.text
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/docs-static/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()  # offline: Swagger UI comes from the app itself
    assert client.get("/docs-static/swagger-ui-bundle.js").status_code == 200
    schema = client.get("/openapi.json").json()
    assert {
        "/v1/ask",
        "/v1/search",
        "/v1/documents",
        "/v1/documents/{doc_id}",
        "/v1/summarize",
        "/v1/models",
        "/v1/chat/completions",
    } <= set(schema["paths"])
    responses = schema["paths"]["/v1/ask"]["post"]["responses"]
    assert "422" not in responses and "400" in responses  # every invalid request is a 400 error object
    assert "security" not in schema["paths"]["/v1/ask"]["post"]  # no API keys configured here
    question = schema["components"]["schemas"]["AskRequest"]["properties"]["question"]
    assert question["maxLength"] == MAX_QUESTION  # this server's limit, not a default
    # what the server refuses or takes beyond the models: a gzip body (415), is_html's "html" spelling
    assert "415" in responses and "415" not in schema["paths"]["/v1/documents"]["get"]["responses"]
    new_document = schema["components"]["schemas"]["NewDocument"]
    assert (
        new_document["properties"]["html"]["type"] == "boolean"
        and new_document["additionalProperties"] is False
    )


# ---- documents ----
def test_reposting_the_same_text_is_unchanged(client: TestClient) -> None:
    before = client.get("/metrics").text
    r = client.post("/v1/documents", json={"documents": seed_documents()})
    assert r.status_code == 200
    assert [x["status"] for x in r.json()["results"]] == ["unchanged"] * len(SEED_IDS)
    assert all(set(x) >= {"id", "status", "chunks"} and x["chunks"] > 0 for x in r.json()["results"])
    assert before  # the counters are checked in test_metrics


def test_list_and_get_documents(client: TestClient) -> None:
    docs = client.get("/v1/documents").json()["documents"]
    by_id = {d["id"]: d for d in docs}
    assert set(SEED_IDS) <= set(by_id)
    assert all({"id", "title", "source", "chunks"} <= set(d) and "text" not in d for d in docs)
    doc = client.get(f"/v1/documents/{SEED_IDS[0]}").json()
    assert doc["id"] == SEED_IDS[0] and doc["text"] and doc["title"] == by_id[SEED_IDS[0]]["title"]


def test_rejected_document_is_reported_not_raised(client: TestClient) -> None:
    r = client.post("/v1/documents", json={"documents": [{"text": "   "}]})
    assert r.status_code == 200
    assert r.json()["results"][0]["status"].startswith("rejected")


def test_delete_document(client: TestClient) -> None:
    text = (
        "The Lighthouse Trust said on Monday that the Ballycroy lamp, dark since 1987, will shine again "
        "after volunteers raised forty thousand pounds to restore its Fresnel lens."
    )
    r = client.post(
        "/v1/documents", json={"documents": [{"id": "lighthouse", "text": text, "title": "Lamp"}]}
    )
    assert r.json()["results"][0]["status"] == "created"
    hits = client.post("/v1/search", json={"query": "Ballycroy lighthouse Fresnel lens", "top_k": 3}).json()
    assert hits["results"][0]["document_id"] == "lighthouse"

    r = client.delete("/v1/documents/lighthouse")
    assert r.status_code == 204 and r.content == b""
    assert_error(client.get("/v1/documents/lighthouse"), 404, "not_found")
    assert_error(client.delete("/v1/documents/lighthouse"), 404, "not_found")
    hits = client.post("/v1/search", json={"query": "Ballycroy lighthouse Fresnel lens", "top_k": 10}).json()
    assert all(h["document_id"] != "lighthouse" for h in hits["results"])
    assert "lighthouse" not in {d["id"] for d in client.get("/v1/documents").json()["documents"]}


# ---- search ----
def test_search(client: TestClient, texts: dict[str, str]) -> None:
    r = client.post("/v1/search", json={"query": "suicide orders", "top_k": 3})
    results = r.json()["results"]
    assert r.status_code == 200 and 0 < len(results) <= 3
    for h in results:
        assert {"chunk_id", "document_id", "title", "text", "start", "end", "score"} <= set(h)
        assert texts[h["document_id"]][h["start"] : h["end"]] == h["text"]


def test_search_filters(client: TestClient) -> None:
    only = SEED_IDS[2]
    r = client.post("/v1/search", json={"query": "North Korean soldiers", "top_k": 5, "document_ids": [only]})
    assert r.status_code == 200 and r.json()["results"]
    assert {h["document_id"] for h in r.json()["results"]} == {only}
    r = client.post("/v1/search", json={"query": "North Korean soldiers", "sources": ["nowhere.txt"]})
    assert r.status_code == 200 and r.json()["results"] == []
    for empty in ({"sources": []}, {"document_ids": []}):  # restricted to nothing: no results, no error
        assert client.post("/v1/search", json={"query": "soldiers", **empty}).json()["results"] == []
        assert client.post("/v1/ask", json={"question": QUESTION, **empty}).json()["abstained"] is True
    r = client.post("/v1/search", json={"query": "soldiers", "published_after": "2999-01-01"})
    assert r.status_code == 200 and r.json()["results"] == []
    assert_error(client.post("/v1/search", json={"query": "x", "published_before": "last tuesday"}), 400)
    # a decline for want of documents the filters keep says so (the seed articles are undated)
    dated = client.post("/v1/ask", json={"question": QUESTION, "published_after": "2020-01-01"}).json()
    assert (
        dated["abstained"]
        and (
            "no stored document matches the filters; a date filter keeps only dated documents, and "
            f"{len(SEED_IDS)} of {len(SEED_IDS)} have no published_at"
        )
        in dated["warnings"]
    )
    nowhere = client.post("/v1/ask", json={"question": QUESTION, "sources": ["nowhere.txt"]}).json()
    assert nowhere["abstained"] and "no stored document matches the filters" in nowhere["warnings"]
    kept = client.post("/v1/ask", json={"question": QUESTION, "document_ids": [only]}).json()
    assert not any("filters" in w for w in kept["warnings"])


# ---- ask ----
def test_ask(client: TestClient, texts: dict[str, str]) -> None:
    r = client.post("/v1/ask", json={"question": QUESTION})
    body = r.json()
    assert r.status_code == 200
    assert {"answer", "abstained", "citations", "generator", "prompt_version"} <= set(body)
    assert body["abstained"] is False and body["generator"] == "extractive" and body["citations"]
    assert_citations(body["citations"], texts)
    for c in body["citations"]:
        assert f"[{c['marker']}]" in body["answer"]


def test_a_citation_tells_whether_its_document_was_replaced_since(client: TestClient) -> None:
    """A citation carries the content_hash of the text it was read in: equal to the document's while
    start/end refer to it, different once the document is replaced."""
    first = "The Harlow ferry carried 212 passengers on its first day. Tickets cost four crowns each."
    second = "The Harlow ferry was cancelled after one day. The operator blamed a broken ramp."
    body = {"documents": [{"id": "ferry-rev", "title": "Harlow ferry", "text": first}]}
    assert client.post("/v1/documents", json=body).json()["results"][0]["status"] == "created"
    try:
        ask = {"document_ids": ["ferry-rev"], "max_words": 60}
        before = client.post("/v1/summarize", json=ask).json()["citations"]
        stored = client.get("/v1/documents/ferry-rev").json()
        assert before and {c["content_hash"] for c in before} == {stored["content_hash"]}
        body["documents"][0]["text"] = second
        assert client.post("/v1/documents", json=body).json()["results"][0]["status"] == "updated"
        replaced = client.get("/v1/documents/ferry-rev").json()
        assert replaced["content_hash"] != stored["content_hash"]  # the old citations no longer fit
        after = client.post("/v1/summarize", json=ask).json()["citations"]
        assert after and {c["content_hash"] for c in after} == {replaced["content_hash"]}
        assert all(replaced["text"][c["start"] : c["end"]] == c["quote"] for c in after)
    finally:
        assert client.delete("/v1/documents/ferry-rev").status_code == 204


def test_front_matter_posted_as_text_gives_the_title_and_date(client: TestClient) -> None:
    """A Markdown export posted as text: its front matter names the document, it is not the article."""
    text = (
        "---\ntitle: Lantern festival draws record crowd\ndate: 2026-11-20\n---\n"
        "The Pellaro lantern festival drew 40,000 visitors on Saturday, the organisers said.\n"
    )
    body = {"documents": [{"id": "fm-post", "text": text}]}
    assert client.post("/v1/documents", json=body).json()["results"][0]["status"] == "created"
    try:
        doc = client.get("/v1/documents/fm-post").json()
        assert doc["title"] == "Lantern festival draws record crowd"
        assert doc["published_at"] == "2026-11-20T00:00:00+00:00"
        assert doc["text"].startswith("The Pellaro lantern festival") and "title:" not in doc["text"]
        given = {"documents": [{"id": "fm-post", "text": text, "title": "Given"}]}
        assert client.post("/v1/documents", json=given).json()["results"][0]["status"] == "unchanged"
    finally:
        assert client.delete("/v1/documents/fm-post").status_code == 204


def test_a_front_matter_date_the_api_would_refuse_is_a_warning(client: TestClient) -> None:
    """A date sent as a field is refused (400); one in the text's front matter leaves the article
    undated, and its result says so."""
    text = "---\ndate: not-a-date\n---\nThe Pellaro ferry will run hourly from June, the operator said.\n"
    r = client.post("/v1/documents", json={"documents": [{"id": "fm-bad-date", "text": text}]})
    try:
        (result,) = r.json()["results"]
        assert result["status"] == "created"
        assert result["warnings"] == ["published_at ignored: 'not-a-date' is not an ISO 8601 date"]
        assert client.get("/v1/documents/fm-bad-date").json()["published_at"] is None
    finally:
        assert client.delete("/v1/documents/fm-bad-date").status_code == 204


def test_published_at_is_stored_in_one_utc_form(client: TestClient) -> None:
    """A date, or a date-time with an offset, is stored as the feeds' form (UTC, to the second), so
    listings show one form; sending the same text again in either form stays unchanged."""
    sent = {  # id: (text, published_at sent, published_at stored)
        "utc-day": (
            "The Pellaro ferry sails at noon from the north pier.",
            "2025-03-04",
            "2025-03-04T00:00:00+00:00",
        ),
        "utc-offset": (
            "Harbour dues for Pellaro fishing boats rise by a fifth in May.",
            "2025-03-04T10:00:00+02:00",
            "2025-03-04T08:00:00+00:00",
        ),
        "utc-zulu": (
            "A Pellaro ferry ran aground on a sandbank, its 40 passengers unhurt.",
            "2025-03-04T10:00:00.250Z",
            "2025-03-04T10:00:00+00:00",
        ),
    }
    docs = [{"id": doc_id, "text": text, "published_at": given} for doc_id, (text, given, _) in sent.items()]
    assert [
        r["status"] for r in client.post("/v1/documents", json={"documents": docs}).json()["results"]
    ] == ["created"] * 3
    try:
        for doc_id, (_, _, stored) in sent.items():
            assert client.get(f"/v1/documents/{doc_id}").json()["published_at"] == stored
        listed = {d["id"]: d["published_at"] for d in client.get("/v1/documents").json()["documents"]}
        assert {k: listed[k] for k in sent} == {k: v[2] for k, v in sent.items()}
        again = [{**d, "published_at": sent[d["id"]][2]} for d in docs]
        for body in (docs, again):
            results = client.post("/v1/documents", json={"documents": body}).json()["results"]
            assert [r["status"] for r in results] == ["unchanged"] * 3
        # the filters compare the instant, not the text: 10:00+02:00 is before 09:00Z
        found = client.post(
            "/v1/search", json={"query": "Pellaro ferry harbour", "published_after": "2025-03-04T09:00:00Z"}
        ).json()["results"]
        assert {h["document_id"] for h in found} & set(sent) == {"utc-zulu"}
    finally:
        for doc_id in sent:
            assert client.delete(f"/v1/documents/{doc_id}").status_code == 204


def test_ask_within_documents(client: TestClient) -> None:
    only = SEED_IDS[0]
    body = client.post("/v1/ask", json={"question": QUESTION, "document_ids": [only], "top_k": 2}).json()
    assert body["citations"] and all(c["document_id"] == only for c in body["citations"])


def test_ask_with_history_rewrites_the_follow_up(client: TestClient) -> None:
    body = client.post(
        "/v1/ask",
        json={
            "question": "What did they say about it?",
            "history": ["When were the two soldiers captured?"],
        },
    ).json()
    assert "captured" in body.get("question", "") and body["citations"]


def body_of(client: TestClient, question: str) -> dict:
    return client.post("/v1/ask", json={"question": question}).json()


def test_a_question_not_in_english_is_declined_with_the_reason(client: TestClient) -> None:
    question = "¿Cuántos soldados norcoreanos han muerto en Ucrania?"
    body = client.post("/v1/ask", json={"question": question}).json()
    assert body["abstained"] and "reads questions in English" in " ".join(body["warnings"])
    r = client.post("/v1/ask", json={"question": question, "stream": True})
    done = [json.loads(e) for e in sse_events(r.text) if '"done"' in e]
    assert done[-1]["abstained"] and "reads questions in English" in " ".join(done[-1]["warnings"])
    # another script: declined before reading, though an article holds a line in that script (a
    # Ukrainian name in a post's credit, which the reader once took for the answer)
    for other in ("Кто взял в плен солдат?", "Кто взял в плен солдат"):
        body = client.post("/v1/ask", json={"question": other}).json()
        assert body["abstained"] and body["citations"] == []
        assert "reads questions in English" in " ".join(body["warnings"])
    english = client.post("/v1/ask", json={"question": "How do you make kimchi at home?"}).json()
    assert english["abstained"] and not any("English" in w for w in english["warnings"])
    # a chat client hears it too, and which engine answered: in the reply and in the stream's last chunk
    messages = [{"role": "user", "content": question}]
    reply = chat(client, messages).json()
    assert reply["warnings"] == body_of(client, question)["warnings"] and reply["generator"] == "extractive"
    last = [json.loads(d) for d in sse_events(chat(client, messages, stream=True).text)[:-1]][-1]
    assert last["warnings"] == reply["warnings"] and last["generator"] == "extractive"


def test_ask_stream(client: TestClient, texts: dict[str, str]) -> None:
    r = client.post("/v1/ask", json={"question": QUESTION, "stream": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(e) for e in sse_events(r.text)]
    deltas = [e["delta"] for e in events if "delta" in e]
    done = [e for e in events if e.get("done")]
    assert len(deltas) > 1 and len(done) == 1 and events[-1] is done[0]
    assert "".join(deltas) == done[0]["answer"]
    assert_citations(done[0]["citations"], texts)
    plain = client.post("/v1/ask", json={"question": QUESTION}).json()
    assert done[0]["answer"] == plain["answer"]


def test_stream_error_after_headers_is_an_event(
    client: TestClient, service: Factdesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        yield {"delta": "The "}
        raise StoreUnavailable("the Chroma server went away")

    monkeypatch.setattr(service, "ask_stream", failing)
    r = client.post("/v1/ask", json={"question": QUESTION, "stream": True})
    assert r.status_code == 200
    events = [json.loads(e) for e in sse_events(r.text)]
    assert events == [
        {"delta": "The "},
        {"error": {"code": "store_unavailable", "message": "the Chroma server went away"}},
    ]
    r = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}], "stream": True}
    )
    data = sse_events(r.text)
    assert r.status_code == 200 and data[-1] == "[DONE]"
    assert json.loads(data[-2])["error"]["code"] == "store_unavailable"


def test_stream_error_before_the_first_event_is_an_http_error(
    client: TestClient, service: Factdesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise StoreUnavailable("the Chroma server is unreachable")
        yield {}

    monkeypatch.setattr(service, "ask_stream", failing)
    r = client.post("/v1/ask", json={"question": QUESTION, "stream": True})
    assert_error(r, 503, "store_unavailable")


def test_unexpected_error_is_a_generic_500(
    client: TestClient, service: Factdesk, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(service, "search", boom)
    with caplog.at_level(logging.ERROR, logger="factdesk.api"):
        r = client.post("/v1/search", json={"query": "soldiers"})
    err = assert_error(r, 500, "internal_error")
    assert "secret" not in r.text and err["message"] == "internal server error"
    assert "secret internals" in caplog.text  # the traceback goes to the log


# ---- summarize ----
def test_summarize(client: TestClient, texts: dict[str, str]) -> None:
    r = client.post("/v1/summarize", json={"document_ids": [SEED_IDS[1]], "max_words": 60})
    body = r.json()
    assert r.status_code == 200 and body["summary"]
    assert {"citations", "generator", "prompt_version"} <= set(body)
    assert len(body["summary"].split()) <= 80
    assert body["citations"] and all(c["document_id"] == SEED_IDS[1] for c in body["citations"])
    assert_citations(body["citations"], texts)
    r = client.post("/v1/summarize", json={"query": "suicide orders"})
    assert r.status_code == 200 and r.json()["citations"]
    for path, body in (
        ("/v1/summarize", {}),
        ("/v1/ask", {"question": QUESTION}),
        ("/v1/search", {"query": "soldiers"}),
    ):  # an unknown id is a 404 on every route that takes document_ids
        r = client.post(path, json={**body, "document_ids": [SEED_IDS[0], "no-such-doc"]})
        assert_error(r, 404, "not_found")
        assert "no-such-doc" in r.json()["error"]["message"]
    assert_error(client.post("/v1/summarize", json={"max_words": 5}), 400)


@pytest.mark.parametrize("max_words", [10, 15, 20])
def test_a_short_summary_does_not_open_with_a_word_that_points_back(
    client: TestClient, texts: dict[str, str], max_words: int
) -> None:
    """A tester's 10-word summary of the seed articles was "They are fighting alongside the
    Russians. [1]": "they" names no one when nothing comes before it."""
    body = client.post("/v1/summarize", json={"max_words": max_words}).json()
    assert body["citations"] and not leans_back(body["summary"]), body["summary"]
    assert_citations(body["citations"], texts)
    # an empty document_ids restricts to nothing here as on /v1/ask and /v1/search, focused or not
    for body in ({"document_ids": []}, {"document_ids": [], "query": "suicide orders"}):
        empty = client.post("/v1/summarize", json=body).json()
        assert empty["citations"] == [] and "nothing to summarise" in empty["summary"]
    asked = client.post("/v1/ask", json={"question": "Summarize the articles", "document_ids": []}).json()
    assert asked["abstained"] and asked["citations"] == []


# ---- OpenAI-compatible ----
def test_models(client: TestClient) -> None:
    body = client.get("/v1/models").json()
    assert body["object"] == "list" and [m["id"] for m in body["data"]] == ["factdesk"]
    assert client.get("/v1/models/factdesk").json()["id"] == "factdesk"
    assert_error(client.get("/v1/models/gpt-4"), 404, "not_found")


def chat(client: TestClient, messages: list[dict], **extra: object):  # type: ignore[no-untyped-def]
    return client.post("/v1/chat/completions", json={"model": "factdesk", "messages": messages, **extra})


def test_chat_completion(client: TestClient, texts: dict[str, str]) -> None:
    r = chat(
        client,
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}],
        temperature=0.2,
        n=1,
        max_tokens=50,
        user="someone",
    )  # OpenAI knobs that mean nothing here
    body = r.json()
    assert r.status_code == 200 and body["object"] == "chat.completion" and body["model"] == "factdesk"
    message = body["choices"][0]["message"]
    assert message["role"] == "assistant" and body["choices"][0]["finish_reason"] == "stop"
    answer = client.post("/v1/ask", json={"question": QUESTION}).json()
    assert message["content"].startswith(answer["answer"] + "\n\nSources:\n")
    assert body["citations"] == answer["citations"]
    assert_citations(body["citations"], texts)
    for c in body["citations"]:
        assert f"[{c['marker']}]" in message["content"]
        assert f'[{c["marker"]}] {c["title"]} — "' in message["content"]
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_chat_content_parts_and_history(client: TestClient) -> None:
    parts = [{"type": "text", "text": QUESTION}, {"type": "image_url", "image_url": {"url": "data:,"}}]
    by_parts = chat(client, [{"role": "user", "content": parts}]).json()
    by_text = chat(client, [{"role": "user", "content": QUESTION}]).json()
    assert by_parts["choices"][0]["message"]["content"] == by_text["choices"][0]["message"]["content"]
    # the earlier user turn makes the follow-up answerable, exactly as /v1/ask with history
    follow_up = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "..."},
        {"role": "user", "content": "What did they say about it?"},
    ]
    asked = client.post(
        "/v1/ask", json={"question": "What did they say about it?", "history": [QUESTION]}
    ).json()
    assert chat(client, follow_up).json()["citations"] == asked["citations"]


def test_a_message_of_only_an_image_says_so(client: TestClient) -> None:
    image = [{"type": "image_url", "image_url": {"url": "data:,"}}]
    r = chat(client, [{"role": "user", "content": image}])
    assert r.status_code == 400 and "no text part" in r.json()["error"]["message"]


def test_a_long_conversation_keeps_working(client: TestClient) -> None:
    # 1,201 messages: past the old cap of 1,000, within the test app's 64 KiB body limit
    earlier = [{"role": r, "content": f"t{i}"} for i in range(600) for r in ("user", "assistant")]
    last = [{"role": "user", "content": QUESTION}]
    long_chat = chat(client, earlier + last)
    assert long_chat.status_code == 200, long_chat.text
    assert long_chat.json()["choices"][0]["message"]["content"]


def test_chat_completion_stream(client: TestClient) -> None:
    messages = [{"role": "user", "content": QUESTION}]
    r = chat(client, messages, stream=True, stream_options={"include_usage": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    data = sse_events(r.text)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert len(chunks) > 3 and all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    *answer, usage = chunks  # include_usage: a last chunk with no choices, only the counts (as OpenAI's)
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in answer)
    final = answer[-1]
    assert final["choices"][0]["finish_reason"] == "stop" and final["citations"]
    whole = chat(client, messages).json()
    assert content == whole["choices"][0]["message"]["content"]
    assert usage["choices"] == [] and usage["usage"] == whole["usage"]
    plain = [json.loads(d) for d in sse_events(chat(client, messages, stream=True).text)[:-1]]
    assert all(c["choices"] and "usage" not in c for c in plain)  # no usage chunk unless asked for


def test_chat_needs_a_user_message(client: TestClient) -> None:
    assert_error(chat(client, [{"role": "system", "content": "hi"}]), 400, "invalid_request")
    assert_error(chat(client, []), 400, "invalid_request")
    assert_error(chat(client, [{"role": "user", "content": "   "}]), 400, "invalid_request")


# ---- errors ----
@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/v1/ask", b"{not json"),
        ("/v1/search", b'{"query": "x",}'),
        ("/v1/documents", b'{"documents": [{"text": "a"'),
        ("/v1/chat/completions", b"\xff\xfe"),
        ("/v1/ask", b'{"question": "\xff"}'),  # not UTF-8
        ("/v1/summarize", b'{"query": "x", "document_ids": ' + b"[" * 10000 + b"]" * 10000 + b"}"),
    ],
)
def test_malformed_json(client: TestClient, path: str, raw: bytes) -> None:
    r = client.post(path, content=raw, headers={"content-type": "application/json"})
    assert_error(r, 400, "invalid_json")
    assert r.json()["error"]["message"].startswith("the request body is not valid JSON ("), r.text


def test_a_compressed_body_is_415_not_malformed_json(client: TestClient) -> None:
    import gzip

    body = gzip.compress(json.dumps({"question": "Who was captured?"}).encode())
    for path in ("/v1/ask", "/v1/documents", "/mcp"):
        r = client.post(
            path, content=body, headers={"content-type": "application/json", "content-encoding": "gzip"}
        )
        assert_error(r, 415, "unsupported_media_type")
        assert (
            r.json()["error"]["message"]
            == "Content-Encoding gzip is not supported: send the body uncompressed"
        )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/ask", {"question": 42}),
        ("/v1/ask", {"question": "x", "top_k": "5"}),
        ("/v1/ask", {"question": "x", "stream": "yes"}),
        ("/v1/ask", {"question": "x", "document_ids": "abc"}),
        ("/v1/ask", {"question": "x", "history": "earlier"}),
        ("/v1/ask", {"question": "x", "topk": 3}),  # a typo is an error, not silently ignored
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "stream": "yes"}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "top_k": "5"}),
        ("/v1/ask", {}),
        ("/v1/ask", []),
        ("/v1/search", {"top_k": 3}),
        ("/v1/search", {"query": ["a"]}),
        ("/v1/documents", {}),
        ("/v1/documents", {"documents": []}),
        ("/v1/documents", {"documents": [{"title": "no text"}]}),
        ("/v1/documents", {"documents": [{"text": 1}]}),
        ("/v1/documents", {"documents": [{"text": "t", "published_at": "yesterday"}]}),
        ("/v1/search", {"query": "x", "published_after": ""}),
        ("/v1/summarize", {"max_words": "many"}),
        ("/v1/chat/completions", {"model": "factdesk"}),
        ("/v1/chat/completions", {"messages": "hi"}),
    ],
)
def test_invalid_bodies(client: TestClient, path: str, body: object) -> None:
    err = assert_error(client.post(path, json=body), 400, "invalid_request")
    assert err["message"]


def test_a_null_stream_is_not_streaming(client: TestClient) -> None:
    # OpenAI's schema allows "stream": null; chat UIs send it
    body = {"messages": [{"role": "user", "content": "When were the two soldiers captured?"}], "stream": None}
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json"), r.text
    assert r.json()["choices"][0]["message"]["content"]


def test_a_bad_date_is_named_by_its_field_and_not_echoed(client: TestClient) -> None:
    cases = [
        ("/v1/search", {"query": "x", "published_after": ""}, "published_after"),
        ("/v1/search", {"query": "x", "published_before": "soon"}, "published_before"),
        ("/v1/documents", {"documents": [{"text": "t", "published_at": "   "}]}, "published_at"),
    ]
    for path, body, field in cases:
        message = assert_error(client.post(path, json=body), 400, "invalid_request")["message"]
        assert field in message and "ISO 8601" in message, message
        assert "not a date" not in message and "soon" not in message, message


def test_the_html_flag_in_both_spellings_is_one_clear_error(client: TestClient) -> None:
    doc = {"text": "<p>The ferry ran late.</p>", "is_html": True, "html": True}
    message = assert_error(client.post("/v1/documents", json={"documents": [doc]}), 400)["message"]
    assert "give is_html or html" in message and "Extra inputs" not in message, message


def test_missing_body_and_wrong_content_type(client: TestClient) -> None:
    assert "required" in assert_error(client.post("/v1/ask"), 400)["message"]
    for ctype in ("text/plain", "text/json", "application/x-www-form-urlencoded"):
        r = client.post("/v1/ask", content=b'{"question": "x"}', headers={"content-type": ctype})
        err = assert_error(r, 400)
        assert "sent with Content-Type: application/json" in err["message"], (ctype, err)
    r = client.post(
        "/v1/ask", content=b'{"question": "x"}', headers={"content-type": "application/vnd.a+json"}
    )
    assert r.status_code != 400 or "Content-Type" not in r.text, r.text  # read as JSON by FastAPI


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "\u200b\u200b\ufeff", "\u0000\u0000", "\x07 \x1b"])
def test_empty_question(client: TestClient, question: str) -> None:
    assert_error(client.post("/v1/ask", json={"question": question}), 400, "invalid_request")
    assert_error(client.post("/v1/search", json={"query": question}), 400, "invalid_request")


def test_the_schema_pattern_says_what_the_server_refuses_as_empty(client: TestClient) -> None:
    """A request the served schema calls valid is not refused as empty (a generated "\\x12" query was):
    the pattern, read as schema tools read it (ASCII classes), agrees with the server on each text."""
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    pattern = re.compile(schema["SearchRequest"]["properties"]["query"]["pattern"], re.ASCII)
    texts = [
        "\x12",
        "\x85",
        "\xa0",
        "\u3000",
        "\u2066",
        "\ufeff \u200b",
        "\U000e0001",
        "é",
        "x",
        "\u00ad\u00e9",
    ]
    for text in texts:
        status = client.post("/v1/search", json={"query": text}).status_code
        assert (status == 400) == (pattern.search(text) is None), (text, status)
    assert sum(pattern.search(t) is None for t in texts) == 6  # both kinds are among them


def test_question_length_limit(client: TestClient) -> None:
    long = "why " * (MAX_QUESTION // 4 + 1)
    err = assert_error(client.post("/v1/ask", json={"question": long}), 400, "invalid_request")
    assert str(MAX_QUESTION) in err["message"] and "why why" not in err["message"]  # not echoed
    assert_error(client.post("/v1/ask", json={"question": long, "stream": True}), 400)
    assert_error(client.post("/v1/ask", json={"question": "x", "history": [long]}), 400)
    assert_error(chat(client, [{"role": "user", "content": long}]), 400)
    ok = client.post("/v1/ask", json={"question": QUESTION, "history": ["", long[:MAX_QUESTION]]})
    assert ok.status_code == 200
    # a turn of invisible characters alone is as blank as "": dropped, not refused ("\u202e" was)
    for blank in ("", "\u202e", "\u200b\ufeff", " \t"):
        ok = client.post("/v1/ask", json={"question": QUESTION, "history": [blank]})
        assert ok.status_code == 200, (blank, ok.text)


@pytest.mark.parametrize("top_k", [0, -1, 51, 10_000])
def test_top_k_bounds(client: TestClient, top_k: int) -> None:
    """One message on every route, below the range as above it (the MCP tools say it too)."""
    for r in (
        client.post("/v1/search", json={"query": "x", "top_k": top_k}),
        client.post("/v1/ask", json={"question": "x", "top_k": top_k}),
        chat(client, [{"role": "user", "content": "x"}], top_k=top_k),
    ):
        assert_error(r, 400, "invalid_request")
        assert r.json()["error"]["message"] == "top_k must be between 1 and 50"


def test_top_k_limits_are_inclusive(client: TestClient) -> None:
    assert len(client.post("/v1/search", json={"query": "soldiers", "top_k": 1}).json()["results"]) == 1
    assert client.post("/v1/search", json={"query": "soldiers", "top_k": 50}).status_code == 200
    r = client.post("/v1/search", json={"query": "soldiers", "top_k": 2.0})  # a JSON Schema "integer"
    assert r.status_code == 200 and len(r.json()["results"]) == 2
    assert_error(client.post("/v1/search", json={"query": "soldiers", "top_k": 2.5}), 400)


def test_body_size_limit(client: TestClient) -> None:
    big = {"documents": [{"text": "word " * (MAX_BODY // 4)}]}
    err = assert_error(client.post("/v1/documents", json=big), 413, "payload_too_large")
    assert str(MAX_BODY) in err["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts what arrives
        yield b'{"documents": [{"text": "'
        for _ in range(MAX_BODY // 1024 + 1):
            yield b"x" * 1024
        yield b'"}]}'

    r = client.post("/v1/documents", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert_error(r, 413, "payload_too_large")
    small = {"documents": [{"id": "small", "text": "A short note about the harbour. " * 100}]}
    assert client.post("/v1/documents", json=small).status_code == 200
    assert client.delete("/v1/documents/small").status_code == 204


@pytest.mark.parametrize("doc_id", ["no-such-doc", "x" * 128])
def test_unknown_document(client: TestClient, doc_id: str) -> None:
    assert_error(client.get(f"/v1/documents/{doc_id}"), 404, "not_found")
    assert_error(client.delete(f"/v1/documents/{doc_id}"), 404, "not_found")


@pytest.mark.parametrize(
    "doc_id", ["a%2Fb", "a/b", "a%00b", "a%0Ab", "abc%0A", "%2E%2E%2Fetc", "x" * 129, "-lead", "a%20b"]
)
def test_bad_document_id(client: TestClient, doc_id: str) -> None:
    assert_error(client.get(f"/v1/documents/{doc_id}"), 400, "invalid_request")
    assert_error(client.delete(f"/v1/documents/{doc_id}"), 400, "invalid_request")


def test_bad_document_id_in_bodies(client: TestClient) -> None:
    err = assert_error(client.post("/v1/documents", json={"documents": [{"id": "../x", "text": "t"}]}), 400)
    assert "documents.0.id" in err["message"]
    assert_error(client.post("/v1/ask", json={"question": "x", "document_ids": ["a/b"]}), 400)
    assert_error(client.post("/v1/summarize", json={"document_ids": ["a\x00b"]}), 400)


def test_unknown_route_and_method(client: TestClient) -> None:
    assert_error(client.get("/v2/ask"), 404, "not_found")
    assert_error(client.get("/v1/nothing-here"), 404, "not_found")
    r = client.get("/v1/ask")
    err = assert_error(r, 405, "method_not_allowed")
    assert "GET" in err["message"] and r.headers["allow"] == "POST"
    r = client.put("/v1/documents")
    assert_error(r, 405)
    assert r.headers["allow"] == "GET, POST"  # every method of the path, not just the first route's
    assert_error(client.put("/v1/search", json={"query": "x"}), 405)


# ---- auth ----
@pytest.fixture(scope="module")
def keyed(service: Factdesk) -> Iterator[TestClient]:
    settings = make_settings(service.settings.data_dir, api_keys_raw="first-key, second-key")
    assert settings.api_keys == ("first-key", "second-key")
    with TestClient(create_app(settings, ingest_on_start=False, service=service)) as c:
        yield c


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/search", {"query": "soldiers"}),
        ("POST", "/v1/ask", {"question": QUESTION}),
        ("GET", "/v1/documents", None),
        ("GET", f"/v1/documents/{SEED_IDS[0]}", None),
        ("POST", "/v1/summarize", {}),
        ("GET", "/v1/models", None),
        ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": QUESTION}]}),
    ],
)
def test_v1_needs_a_key(keyed: TestClient, method: str, path: str, body: object) -> None:
    r = keyed.request(method, path, json=body)
    assert_error(r, 401, "unauthorized")
    assert r.headers["www-authenticate"] == "Bearer"
    r = keyed.request(method, path, json=body, headers={"Authorization": "Bearer second-key"})
    assert r.status_code == 200


def test_an_unknown_v1_path_needs_a_key_too(keyed: TestClient) -> None:
    """Without a key nothing under /v1/ is told apart, not even which paths exist."""
    for method in ("GET", "POST"):
        r = keyed.request(method, "/v1/nope")
        assert_error(r, 401, "unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"
        r = keyed.request(method, "/v1/nope", headers={"Authorization": "Bearer first-key"})
        assert_error(r, 404)
    assert keyed.get("/nope").status_code == 404  # outside /v1/ an unknown path is just unknown
    # nor which methods a path takes: a wrong method without a key is a 401, with one a 405
    for path in ("/v1/ask", "/mcp"):
        assert_error(keyed.get(path), 401, "unauthorized")
        assert_error(keyed.get(path, headers={"Authorization": "Bearer first-key"}), 405)
    assert keyed.post("/healthz").status_code == 405  # the open probes need no key for anything


@pytest.mark.parametrize(
    "header",
    [
        "Bearer wrong-key-123",
        "Bearer first-key2",
        "Bearer ",
        "first-key",
        "Basic Zmlyc3Qta2V5",
        "Bearer first",
        "Bearer fïrst-key",
    ],
)
def test_wrong_key(keyed: TestClient, header: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        r = keyed.post("/v1/search", json={"query": "soldiers"}, headers={"Authorization": header.encode()})
    assert_error(r, 401, "unauthorized")
    secret = header.split(" ", 1)[-1]
    if secret:
        assert secret not in r.text and secret not in caplog.text


def test_right_key(keyed: TestClient) -> None:
    r = keyed.post("/v1/search", json={"query": "soldiers"}, headers={"Authorization": "Bearer first-key"})
    assert r.status_code == 200 and r.json()["results"]
    r = keyed.post("/v1/search", json={"query": "soldiers"}, headers={"authorization": "bearer first-key"})
    assert r.status_code == 200  # the scheme is case-insensitive (RFC 7235)


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/", "/docs", "/openapi.json"])
def test_open_routes(keyed: TestClient, path: str) -> None:
    assert keyed.get(path).status_code == 200


def test_openapi_declares_the_bearer_scheme_when_keys_are_set(keyed: TestClient) -> None:
    schema = keyed.get("/openapi.json").json()
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    assert schema["paths"]["/v1/ask"]["post"]["security"] == [{"HTTPBearer": []}]


# ---- metrics ----
def test_metrics(client: TestClient) -> None:
    client.post("/v1/ask", json={"question": QUESTION})
    client.get("/v1/documents/no-such-doc")
    client.get("/definitely/not/here")
    client.get("/openapi.json")
    client.get("/docs-static/swagger-ui.css")
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert re.search(r'_requests_total\{method="POST",route="/v1/ask",status="200"\} [1-9]', text)
    assert 'factdesk_http_requests_total{method="GET",route="/v1/documents/{doc_id}",status="404"}' in text
    assert 'route="unmatched",status="404"' in text and "/definitely" not in text
    # Starlette's own routes are labelled too: the schema and the docs page's files (one label)
    assert 'factdesk_http_requests_total{method="GET",route="/openapi.json",status="200"}' in text
    assert 'factdesk_http_requests_total{method="GET",route="/docs-static/{path}",status="200"}' in text
    assert 'route="unmatched",status="200"' not in text
    assert any(
        line.startswith("factdesk_http_request_duration_seconds_bucket{") and 'route="/v1/ask"' in line
        for line in text.splitlines()
    )
    assert 'factdesk_http_request_duration_seconds_count{method="POST",route="/v1/ask",status="200"}' in text
    assert re.search(r'factdesk_ingest_documents_total\{status="created"\} [1-9]', text)
    assert re.search(r'factdesk_ingest_documents_total\{status="unchanged"\} [1-9]', text)
    assert "factdesk_embedding_model_loaded 1.0" in text


def test_metrics_are_per_app(client: TestClient, keyed: TestClient) -> None:
    assert keyed.get("/v1/models").status_code == 401
    own = client.get("/metrics").text
    other = keyed.get("/metrics").text
    assert 'status="401"' in other and 'status="401"' not in own


# ---- start-up ----
def test_the_start_up_ingests_reason_counts_the_documents_stored_not_those_refused(tmp_path: Path) -> None:
    from api.app import Startup

    startup = Startup(make_settings(tmp_path / "data"), ingest=True)
    startup.ingest_state, startup.counts = "running", {"created": 2, "unchanged": 1, "rejected": 4}
    assert (
        startup.ingest_pending()
        == "the startup ingest of the articles folder is running (3 documents so far)"
    )


def test_readyz_waits_for_the_start_up_ingest(tmp_path: Path, warm_model: None) -> None:
    """Until the articles folder is ingested, /readyz is 503 with the reason: a client that asks as
    soon as it turns 200 gets answers from the articles, not declines for want of them."""
    import threading

    articles = tmp_path / "articles"
    articles.mkdir()
    for name in sorted(p.name for p in ARTICLES.glob("*.txt")):
        shutil.copy(ARTICLES / name, articles / name)
    svc = Factdesk(make_settings(tmp_path / "data", articles_dir=articles))
    release = threading.Event()
    real_ingest = svc.ingest_paths

    def held_ingest(*args, **kwargs):  # type: ignore[no-untyped-def]
        assert release.wait(60)
        return real_ingest(*args, **kwargs)

    svc.ingest_paths = held_ingest  # type: ignore[method-assign]
    try:
        with TestClient(create_app(svc.settings, service=svc)) as c:
            for _ in range(600):
                if c.get("/healthz").json()["startup"]["ingest"] == "running" and svc.embedder.loaded:
                    break
                time.sleep(0.1)
            err = assert_error(c.get("/readyz"), 503, "not_ready")
            assert "startup ingest of the articles folder is running (0 documents so far)" in err["message"]
            # asked anyway: the decline says why it may be one
            early = c.post("/v1/ask", json={"question": QUESTION}).json()
            assert early["abstained"]
            assert any("may miss articles not yet ingested" in w for w in early["warnings"])
            summary = c.post("/v1/summarize", json={}).json()
            assert any("startup ingest" in w for w in summary["warnings"])
            streamed = c.post("/v1/ask", json={"question": QUESTION, "stream": True}).text
            done = json.loads(
                [ln for ln in streamed.splitlines() if '"done"' in ln][-1].removeprefix("data: ")
            )
            assert any("startup ingest" in w for w in done["warnings"])
            release.set()
            for _ in range(600):
                if c.get("/readyz").status_code == 200:
                    break
                time.sleep(0.1)
            ready = c.get("/readyz")
            assert ready.status_code == 200 and ready.json()["startup"]["ingest"] == "done"
            # the search indexes took the new chunks before it turned 200, not at the first question
            assert svc.searcher.sentence_index is not None
            assert svc.searcher.sentence_index.chunks == svc.catalog.count()[1] > 0
            answer = c.post("/v1/ask", json={"question": QUESTION}).json()
            assert not answer["abstained"] and answer["citations"]
            assert not any("startup ingest" in w for w in answer["warnings"])
    finally:
        release.set()
        svc.close()


def test_start_up_builds_the_service_and_ingests_in_the_background(
    tmp_path: Path, warm_model: None, caplog: pytest.LogCaptureFixture
) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    for name in sorted(p.name for p in ARTICLES.glob("*.txt"))[-2:]:  # two are enough
        shutil.copy(ARTICLES / name, articles / name)
    settings = make_settings(tmp_path / "data", articles_dir=articles)

    def run_app() -> dict:
        with TestClient(create_app(settings)) as c:
            assert c.get("/healthz").json()["status"] == "ok"  # at once, whatever the ingest is doing
            for _ in range(600):
                status = c.get("/healthz").json()["startup"]
                if status["ingest"] not in ("pending", "running"):
                    break
                time.sleep(0.1)
            assert c.get("/readyz").status_code == 200
            listed = {d["id"] for d in c.get("/v1/documents").json()["documents"]}
            assert listed == {p.stem for p in articles.glob("*.txt")}
            return status  # type: ignore[no-any-return]

    with caplog.at_level(logging.INFO, logger="factdesk"):
        assert run_app() == {"ingest": "done", "ingested": {"created": 2}}
        assert run_app() == {"ingest": "done", "ingested": {"unchanged": 2}}  # same data dir: nothing new
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ingest ")]
    assert sum(": created" in line for line in lines) == 2
    assert sum(": unchanged" in line for line in lines) == 2


def test_a_restart_keeps_what_the_api_changed_and_reads_files_that_changed(
    tmp_path: Path, warm_model: None, caplog: pytest.LogCaptureFixture
) -> None:
    """The articles folder is read at every start, but a file as it was when last stored is not
    stored again: a bundled article corrected or deleted through the API stays so after a restart.
    A file that changed since is the newer text; another archive (a new catalog beside the same
    data dir's file table) gets every file."""
    articles = tmp_path / "articles"
    articles.mkdir()
    for name, text in {
        "quay.txt": "The quay at Ardmore reopened on Friday after three weeks of repairs.",
        "ferry.txt": "The ferry to Colonsay will sail twice a day from the first of June.",
        "fair.txt": "The harvest fair at Bowmore drew four thousand visitors on Saturday.",
    }.items():
        (articles / name).write_text(text, encoding="utf-8")
    settings = make_settings(tmp_path / "data", articles_dir=articles)

    def start(edit: Callable[[TestClient], None] = lambda c: None) -> tuple[dict, dict[str, str]]:
        with TestClient(create_app(settings)) as c:
            for _ in range(600):
                status = c.get("/healthz").json()["startup"]
                if status["ingest"] not in ("pending", "running"):
                    break
                time.sleep(0.1)
            edit(c)
            listed = [d["id"] for d in c.get("/v1/documents").json()["documents"]]
            return status, {d: c.get(f"/v1/documents/{d}").json()["text"] for d in listed}

    def correct_and_delete(c: TestClient) -> None:
        fixed = {
            "id": "quay",
            "text": "The quay at Ardmore reopened on Saturday after three weeks of repairs.",
        }
        assert (
            c.post("/v1/documents", json={"documents": [fixed]}).json()["results"][0]["status"] == "updated"
        )
        assert c.delete("/v1/documents/fair").status_code == 204

    assert start(correct_and_delete)[0] == {"ingest": "done", "ingested": {"created": 3}}
    with caplog.at_level(logging.INFO, logger="factdesk"):
        status, texts = start()
    assert status == {"ingest": "done", "ingested": {"unchanged": 3}}
    assert sorted(texts) == ["ferry", "quay"] and "on Saturday" in texts["quay"]  # as the API left them
    assert any(
        "ingest fair: unchanged" in r.getMessage()
        and "deleted since the file was last ingested" in r.getMessage()
        for r in caplog.records
    ), [r.getMessage() for r in caplog.records]

    (articles / "quay.txt").write_text("The quay at Ardmore reopened on Sunday.", encoding="utf-8")
    (articles / "fair.txt").write_text(
        "The harvest fair at Bowmore drew five thousand visitors.", encoding="utf-8"
    )
    status, texts = start()
    assert status == {"ingest": "done", "ingested": {"created": 1, "unchanged": 1, "updated": 1}}
    assert texts["quay"] == "The quay at Ardmore reopened on Sunday." and "five thousand" in texts["fair"]

    other = make_settings(tmp_path / "data2", articles_dir=articles)
    (tmp_path / "data2").mkdir()
    shutil.copy(tmp_path / "data" / "file-ids.sqlite", tmp_path / "data2" / "file-ids.sqlite")
    settings = other
    assert start()[0] == {"ingest": "done", "ingested": {"created": 3}}
