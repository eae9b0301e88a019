"""The MCP server at /mcp (api/mcp_server.py), spoken to by the official `mcp` client over streamable
HTTP against a real `factdesk serve` (tests/live_server.py).

Every citation a tool returns is checked against the document text the API serves.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import anyio
import httpx
import httpx2
import pytest
from conftest import SEED_IDS, MakeService
from fastapi.testclient import TestClient
from live_server import LiveServer
from mcp import ClientSession, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from api.app import create_app

QUESTION = "When were the two soldiers captured?"
KEY = "mcp-test-key"
ACCEPT = {"Accept": "application/json, text/event-stream"}  # what a streamable-HTTP client sends
T = TypeVar("T")


def with_session(
    server: LiveServer, work: Callable[[ClientSession], Awaitable[T]], headers: dict[str, str] | None = None
) -> T:
    """work(session) in an initialized MCP client session with the server's /mcp."""

    async def main() -> T:
        async with httpx2.AsyncClient(headers=headers, timeout=300) as http:
            async with streamable_http_client(server.base_url + "/mcp", http_client=http) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    return await work(session)

    return anyio.run(main)


def call_tool(server: LiveServer, name: str, arguments: dict[str, Any]) -> CallToolResult:
    return with_session(server, lambda session: session.call_tool(name, arguments))


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


def document_texts(server: LiveServer) -> dict[str, str]:
    with server.client() as client:
        return {d: client.get(f"/v1/documents/{d}").json()["text"] for d in SEED_IDS}


def check_citations(server: LiveServer, citations: list[dict[str, Any]]) -> None:
    assert citations
    texts = document_texts(server)
    for c in citations:
        assert c["quote"] == texts[c["document_id"]][c["start"] : c["end"]]


def check_cited_text(text: str, citations: list[dict[str, Any]]) -> None:
    """[n] markers in the text, then a "Sources:" list with one line per citation."""
    body, _, sources = text.partition("\n\nSources:\n")
    assert re.search(r"\[\d+\]", body), text
    assert [int(m) for m in re.findall(r"^\[(\d+)\] ", sources, re.MULTILINE)] == [
        c["marker"] for c in citations
    ]


# ---------------------------------------------------------------- tools


def test_lists_the_four_tools_with_typed_input_schemas(live_server: LiveServer) -> None:
    tools = {t.name: t for t in with_session(live_server, lambda s: s.list_tools()).tools}
    assert set(tools) == {"ask", "search", "summarize", "get_document"}
    ask = tools["ask"].input_schema
    assert ask["required"] == ["question"] and set(ask["properties"]) == {"question", "document_ids"}
    assert ask["properties"]["question"]["type"] == "string"
    search = tools["search"].input_schema
    assert search["required"] == ["query"] and set(search["properties"]) == {"query", "top_k"}
    top_k = next(s for s in search["properties"]["top_k"]["anyOf"] if s["type"] == "integer")
    assert top_k["minimum"] == 1 and top_k["maximum"] == 50  # the server's max_top_k
    assert set(tools["summarize"].input_schema["properties"]) == {"document_ids", "query", "max_words"}
    assert "required" not in tools["summarize"].input_schema
    assert tools["get_document"].input_schema["required"] == ["id"]
    assert "citations" in tools["ask"].output_schema["properties"]
    assert all(t.annotations is not None and t.annotations.read_only_hint for t in tools.values())
    # an argument a tool does not list is refused (call_tool), and the schemas say so
    assert all(t.input_schema["additionalProperties"] is False for t in tools.values())


def test_ask_gives_the_chat_reply_with_exact_citations(live_server: LiveServer) -> None:
    result = call_tool(live_server, "ask", {"question": QUESTION})
    assert not result.is_error, text_of(result)
    answer = result.structured_content
    assert {"answer", "abstained", "citations", "generator", "prompt_version"} <= set(answer)
    assert not answer["abstained"]
    check_citations(live_server, answer["citations"])
    check_cited_text(text_of(result), answer["citations"])
    with live_server.client() as client:
        reply = client.post(
            "/v1/chat/completions",
            json={"model": "factdesk", "messages": [{"role": "user", "content": QUESTION}]},
        ).json()
    assert text_of(result) == reply["choices"][0]["message"]["content"]  # the same text as the chat reply


def test_ask_within_documents_cites_only_those(live_server: LiveServer) -> None:
    asked = call_tool(live_server, "ask", {"question": QUESTION}).structured_content
    cited = asked["citations"][0]["document_id"]
    others = [d for d in SEED_IDS if d != cited]
    result = call_tool(live_server, "ask", {"question": QUESTION, "document_ids": others})
    assert not result.is_error, text_of(result)
    assert {c["document_id"] for c in result.structured_content["citations"]} <= set(others)


def test_search_returns_exact_passages(live_server: LiveServer) -> None:
    result = call_tool(live_server, "search", {"query": "suicide orders", "top_k": 2})
    assert not result.is_error, text_of(result)
    hits = result.structured_content["results"]
    assert len(hits) == 2
    texts = document_texts(live_server)
    for hit in hits:
        assert hit["text"] == texts[hit["document_id"]][hit["start"] : hit["end"]]
    lines = text_of(result).splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["[1]", "[2]"]
    assert all(hit["document_id"] in line for hit, line in zip(hits, lines, strict=True))


def test_summarize_is_cited(live_server: LiveServer) -> None:
    result = call_tool(live_server, "summarize", {"document_ids": [SEED_IDS[0]], "max_words": 60})
    assert not result.is_error, text_of(result)
    summary = result.structured_content
    assert {c["document_id"] for c in summary["citations"]} == {SEED_IDS[0]}
    check_citations(live_server, summary["citations"])
    check_cited_text(text_of(result), summary["citations"])


def test_get_document_returns_the_cleaned_text(live_server: LiveServer) -> None:
    result = call_tool(live_server, "get_document", {"id": SEED_IDS[1]})
    assert not result.is_error, text_of(result)
    with live_server.client() as client:
        served = client.get(f"/v1/documents/{SEED_IDS[1]}").json()
    assert result.structured_content == served  # the same object, no more and no fewer fields
    assert text_of(result).endswith("\n\n" + served["text"])


def test_article_markup_is_inert_in_every_tools_text(live_server: LiveServer) -> None:
    """search and get_document quote an article as ask does: its HTML and Markdown links and images
    inert in the text (a Markdown-rendering client loads no tracking image), exact in the structure."""
    text = (
        "Ferry news from Calloway\n\nThe Calloway ferry <img src=x onerror=alert(3)> carried 9,300 passengers "
        "in March, the port authority said. A link [click](javascript:alert(4)) and "
        "![img](http://example.invalid/track.png) were in the notice."
    )
    with live_server.client() as client:
        r = client.post("/v1/documents", json={"documents": [{"id": "mcp-markup", "text": text}]})
        assert r.status_code == 200, r.text
    try:
        found = call_tool(live_server, "search", {"query": "Calloway ferry notice link", "top_k": 1})
        document = call_tool(live_server, "get_document", {"id": "mcp-markup"})
        for result in (found, document):
            shown = text_of(result)
            assert "Calloway" in shown and "<img" not in shown and "](" not in shown, shown
            assert "&lt;img" in shown and "javascript[:]" in shown and "]\\(http://example.invalid" in shown
        assert found.structured_content["results"][0]["document_id"] == "mcp-markup"
        assert "<img src=x" in found.structured_content["results"][0]["text"]
        assert document.structured_content["text"] == text
    finally:
        with live_server.client() as client:
            client.delete("/v1/documents/mcp-markup")


@pytest.mark.parametrize(
    ("tool", "arguments", "says"),
    [
        ("ask", {"question": ""}, "question is empty"),  # as /v1 says it
        ("ask", {"question": "   "}, "question is empty"),
        ("ask", {"question": 42}, "question"),
        ("ask", {}, "question"),
        ("ask", {"question": "x" * 2001}, "question is longer than 2000 characters"),
        ("ask", {"question": QUESTION, "document_ids": ["../etc"]}, "document_ids"),
        ("search", {"query": "x", "top_k": 0}, "top_k must be between 1 and 50"),  # as /v1 says it
        ("search", {"query": "x", "top_k": 51}, "top_k must be between 1 and 50"),
        ("summarize", {"max_words": 5}, "max_words"),
        ("summarize", {"document_ids": ["no-such-doc"]}, "no-such-doc"),
        ("ask", {"question": "Who was captured?", "document_ids": ["no-such-doc"]}, "no-such-doc"),
        ("get_document", {"id": "no-such-doc"}, "no document with id 'no-such-doc'"),
        ("no_such_tool", {}, "no_such_tool"),
        (
            "ask",
            {"question": "Who won?", "history": ["the final"]},
            "history: Extra inputs are not permitted",
        ),
        ("search", {"query": "x", "topk": 3}, "topk: Extra inputs are not permitted"),
        ("search", {"query": "x", "top_k": "3"}, "top_k: Input should be a valid integer"),
        ("summarize", {"max_words": 60.5}, "max_words: Input should be a valid integer"),
    ],
)
def test_bad_input_is_a_tool_error_naming_the_problem(
    live_server: LiveServer, tool: str, arguments: dict[str, Any], says: str
) -> None:
    async def bad_then_good(session: ClientSession) -> tuple[CallToolResult, CallToolResult]:
        return await session.call_tool(tool, arguments), await session.call_tool(
            "get_document", {"id": SEED_IDS[0]}
        )

    bad, good = with_session(live_server, bad_then_good)
    assert bad.is_error and says in text_of(bad), text_of(bad)
    assert "internal" not in text_of(bad).lower() and "errors.pydantic.dev" not in text_of(bad)
    assert "Error executing tool" not in text_of(bad)  # a mistake in the call, not a fault of the server
    assert not good.is_error  # the server goes on answering


def test_a_plain_json_rpc_post_gets_a_json_reply(live_server: LiveServer) -> None:
    """What a client without an MCP library (or behind a load balancer) does: one POST, one JSON reply."""
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "get_document", "arguments": {"id": SEED_IDS[0]}},
    }
    r = httpx.post(live_server.base_url + "/mcp", json=message, headers=ACCEPT, timeout=300)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json()["result"]["structuredContent"]["id"] == SEED_IDS[0]


def test_a_prompt_asked_for_is_invalid_params_without_a_traceback(live_server: LiveServer) -> None:
    """The server has no prompts: the SDK answered error code 0 and logged a traceback."""
    message = {"jsonrpc": "2.0", "id": 3, "method": "prompts/get", "params": {"name": "nope"}}
    r = httpx.post(live_server.base_url + "/mcp", json=message, headers=ACCEPT, timeout=60)
    assert r.json()["error"] == {"code": -32602, "message": "unknown prompt: 'nope' (this server has none)"}


BAD_ID = "Invalid Request: id must be a string or an integer"


@pytest.mark.parametrize(
    ("message", "code", "says"),
    [
        (
            {"jsonrpc": "2.0", "id": 10, "method": "tools/call", "params": "bad"},
            -32602,
            "Invalid params: params must be a JSON object",
        ),
        (
            {"jsonrpc": "2.0", "id": "a", "method": "tools/list", "params": [1]},
            -32602,
            "Invalid params: params must be a JSON object",
        ),
        ({"jsonrpc": "2.0", "id": 11, "method": 5}, -32600, "Invalid Request: method must be a string"),
        (
            {"jsonrpc": "2.0", "id": 13, "method": "tools/call", "params": {"name": "ask", "arguments": "x"}},
            -32602,
            "Invalid params: arguments must be a JSON object",
        ),
        (
            {"jsonrpc": "2.0", "id": 14, "method": "tools/call", "params": {"name": 7}},
            -32602,
            "Invalid params: name must be the tool's name, a string",
        ),
        (
            {"jsonrpc": "1.0", "id": 15, "method": "tools/list"},
            -32600,
            'Invalid Request: jsonrpc must be "2.0"',
        ),
        ({"jsonrpc": "2.0", "id": 16}, -32600, "Invalid Request: a request needs a method"),
        ({}, -32600, 'Invalid Request: jsonrpc must be "2.0"'),
        (
            [{"jsonrpc": "2.0", "id": 17, "method": "tools/list"}],
            -32600,
            "Invalid Request: batches are not supported; send one message a request",
        ),
        ("tools/list", -32600, "Invalid Request: a message is a JSON object"),
        # an id that is no id would be taken for a notification's and answered with nothing (202)
        ({"jsonrpc": "2.0", "id": {"a": 1}, "method": "tools/list"}, -32600, BAD_ID),
        ({"jsonrpc": "2.0", "id": None, "method": "tools/list"}, -32600, BAD_ID),
        ({"jsonrpc": "2.0", "id": True, "method": "tools/list"}, -32600, BAD_ID),
    ],
)
def test_a_message_of_the_wrong_shape_gets_a_short_json_rpc_error(
    live_server: LiveServer, message: Any, code: int, says: str
) -> None:
    r = httpx.post(live_server.base_url + "/mcp", json=message, headers=ACCEPT, timeout=60)
    assert r.status_code == 400
    sent = message.get("id") if isinstance(message, dict) else None
    assert r.json() == {
        "jsonrpc": "2.0",
        "id": sent if isinstance(sent, str | int) and not isinstance(sent, bool) else None,
        "error": {"code": code, "message": says},
    }
    good = {"jsonrpc": "2.0", "id": 12, "method": "tools/list", "params": {}}
    assert httpx.post(live_server.base_url + "/mcp", json=good, headers=ACCEPT, timeout=60).status_code == 200


def test_a_message_nested_past_the_parsers_limit_is_a_parse_error(live_server: LiveServer) -> None:
    """An argument nested 1,000 deep was a 500 (RecursionError in the JSON parser), where /v1/*
    answers 400 at any depth."""
    for depth in (500, 1_000, 100_000):
        nested = "[" * depth + "]" * depth
        body = f'{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"ask","arguments":{{"question":{nested}}}}}}}'
        r = httpx.post(
            live_server.base_url + "/mcp",
            content=body,
            headers={**ACCEPT, "content-type": "application/json"},
            timeout=60,
        )
        assert r.status_code in (200, 400) and r.json()["jsonrpc"] == "2.0", (
            depth,
            r.status_code,
            r.text[:200],
        )
        assert "error" in r.json() or r.json()["result"]["isError"], (depth, r.text[:200])


def test_a_body_that_is_not_json_by_its_type_gets_a_json_rpc_error(live_server: LiveServer) -> None:
    """Not the SDK's bare text/plain "Invalid Content-Type header": a JSON-RPC error, as every other
    refusal at /mcp."""
    message = '{"jsonrpc": "2.0", "id": 1, "method": "ping"}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        r = httpx.post(
            live_server.base_url + "/mcp",
            content=message,
            headers={**ACCEPT, "content-type": content_type},
            timeout=60,
        )
        assert r.status_code == 415 and r.headers["content-type"].startswith("application/json"), r.text
        assert r.json() == {
            "jsonrpc": "2.0",
            "id": None,
            "error": {"code": -32600, "message": "Invalid Request: Content-Type must be application/json"},
        }


def test_only_post_is_served(live_server: LiveServer) -> None:
    """Stateless: a GET stream would stay open with nothing to carry, and there is no session to DELETE."""
    for method in ("GET", "DELETE"):
        r = httpx.request(method, live_server.base_url + "/mcp", headers=ACCEPT, timeout=60)
        assert r.status_code == 405 and r.headers["allow"] == "POST"
        assert r.json()["error"]["code"] == "method_not_allowed"


def test_metrics_count_mcp_requests_under_their_route(live_server: LiveServer) -> None:
    call_tool(live_server, "get_document", {"id": SEED_IDS[0]})
    metrics = httpx.get(live_server.base_url + "/metrics", timeout=60).text
    assert re.search(
        r'factdesk_http_requests_total\{method="POST",route="/mcp",status="200"\} [1-9]', metrics
    )


def test_an_app_serves_mcp_each_time_it_is_started(make_service: MakeService) -> None:
    """The SDK's transport runs once; the app makes a fresh one per start (test clients start an app
    more than once). Before its lifespan has started, /mcp says so."""
    svc = make_service()
    app = create_app(svc.settings, ingest_on_start=False, service=svc)
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    r = TestClient(app).post("/mcp", json=listing, headers=ACCEPT)
    assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready"
    for _ in range(2):
        with TestClient(app) as client:
            r = client.post("/mcp", json=listing, headers=ACCEPT)
            assert r.status_code == 200 and len(r.json()["result"]["tools"]) == 4


# ---------------------------------------------------------------- API keys


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(
        tmp_path_factory.mktemp("mcp-keyed"), env={"FACTDESK_API_KEYS": f"other-key,{KEY}"}
    ) as server:
        yield server


def initialize_message() -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key", f"Basic {KEY}", "Bearer"])
def test_without_a_valid_key_mcp_answers_401_like_v1(
    keyed_server: LiveServer, authorization: str | None
) -> None:
    headers = dict(ACCEPT)
    if authorization is not None:
        headers["Authorization"] = authorization
    v1 = httpx.post(keyed_server.base_url + "/v1/search", json={"query": "x"}, headers=headers, timeout=60)
    for path in ("/mcp", "/mcp/"):  # with a trailing slash too: no redirect answers before the key check
        r = httpx.post(keyed_server.base_url + path, json=initialize_message(), headers=headers, timeout=60)
        assert r.status_code == 401 and v1.status_code == 401, path
        assert r.json() == v1.json() and r.json()["error"]["code"] == "unauthorized"
        assert "wrong-key" not in r.text
        assert r.headers["www-authenticate"] == "Bearer"


def test_the_official_client_needs_the_key(keyed_server: LiveServer) -> None:
    tools = with_session(keyed_server, lambda s: s.list_tools(), headers={"Authorization": f"Bearer {KEY}"})
    assert {t.name for t in tools.tools} == {"ask", "search", "summarize", "get_document"}
    # the client reports the 401 (checked above on the wire) as a failed initialize
    with pytest.raises(ExceptionGroup) as refused:
        with_session(keyed_server, lambda s: s.list_tools())
    assert refused.group_contains(MCPError, match="error response", depth=None)


def test_keys_guard_the_tools_not_only_the_handshake(keyed_server: LiveServer) -> None:
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "search", "arguments": {"query": "x"}},
    }
    r = httpx.post(keyed_server.base_url + "/mcp", json=call, headers=ACCEPT, timeout=60)
    assert r.status_code == 401
    r = httpx.post(
        keyed_server.base_url + "/mcp/",
        json=call,
        headers={**ACCEPT, "Authorization": f"Bearer {KEY}"},
        timeout=300,
    )
    assert r.status_code == 200 and "result" in r.json(), r.text
