"""The Model Context Protocol server at /mcp (streamable HTTP): ask, search, summarize, get_document.

Stateless, with JSON replies: each POST is answered on its own and no session lives in this process,
so any replica behind a load balancer can answer any request, and a plain JSON-RPC client reads the
reply as one JSON object. The tools call the same service methods as the /v1 routes, under the same
limits and API keys. A tool's text is what a chat reply shows ([n] markers, then the sources); its
structured content is the /v1 object, with each citation's exact offsets.

No `from __future__ import annotations` here: the SDK reads the tools' signatures (the input
schemas) with eval_str, which cannot see the settings-dependent types made inside `build_server`.
"""

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi.security.utils import get_authorization_scheme_param
from jsonschema import Draft202012Validator
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    CallToolResult,
    GetPromptResult,
    InputRequiredResult,
    TextContent,
    Tool,
    ToolAnnotations,
)
from pydantic import Field, ValidationError
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.routing import Match, Route
from starlette.types import Message, Receive, Scope, Send

from api.cited_text import cited_text, one_line
from api.deps import authorize, build_filters, call
from api.errors import NotReady
from api.inert import inert
from api.schemas import AnswerOut, DocumentId, DocumentOut, SearchResponse, SummaryOut
from factdesk import __version__
from factdesk.service import Factdesk
from factdesk.settings import Settings
from retrieval.errors import FactdeskError

MCP_PATH = "/mcp"
INSTRUCTIONS = (
    "factdesk answers questions about a collection of news articles with exact cited passages. "
    "Use `ask` for a question, `summarize` for an overview, `search` for raw passages and "
    "`get_document` for an article's full text. Keep the [n] markers and the sources when you "
    "quote an answer."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)

T = TypeVar("T")


def build_server(settings: Settings, service: Callable[[], Factdesk]) -> MCPServer:
    """The four tools over `service()` (the app's service, which exists only once the app has started)."""
    # emptiness and length checked by the service, worded as /v1 words them; the schema states them
    length = {"minLength": 1, "maxLength": settings.max_question_chars}
    Question = Annotated[str, Field(json_schema_extra=length, description="the question, in words")]
    Query = Annotated[str, Field(json_schema_extra=length)]
    DocumentIds = Annotated[
        list[DocumentId] | None,
        Field(max_length=1000, description="only these documents (ids from search or get_document)"),
    ]
    # range checked by the service, which words it as /v1 does; the schema states it
    TopK = Annotated[
        Annotated[int, Field(json_schema_extra={"minimum": 1, "maximum": settings.max_top_k})] | None,
        Field(description="passages to return"),
    ]
    MaxWords = Annotated[int | None, Field(ge=10, le=2000, description="summary length limit")]

    async def run(fn: Callable[[Factdesk], T]) -> T:
        """fn(service) in the thread pool; the service's own errors become tool errors with its message."""
        try:
            return await call(lambda: fn(service()))
        except FactdeskError as e:
            # a ToolError reaches the client as an is_error result carrying this message; anything
            # else is a crash, reported without details
            raise ToolError(e.message) from e

    server = _quiet_mcp_server(
        name="factdesk", title="factdesk", version=__version__, instructions=INSTRUCTIONS
    )

    @server.tool(annotations=READ_ONLY)
    async def ask(
        question: Question, document_ids: DocumentIds = None
    ) -> Annotated[CallToolResult, AnswerOut]:
        """Answer a question from the news articles. The answer refers to its sources with [n]
        markers; each citation's quote is exactly text[start:end] of its document. When the
        articles do not answer the question, `abstained` is true."""

        def answer(svc: Factdesk) -> dict[str, Any]:
            return svc.ask(question, None, build_filters(svc, document_ids)).to_dict()

        result = await run(answer)
        return _result(cited_text(result["answer"], result["citations"]), result)

    @server.tool(annotations=READ_ONLY)
    async def search(query: Query, top_k: TopK = None) -> Annotated[CallToolResult, SearchResponse]:
        """Passages of the articles that match a query (hybrid keyword and semantic search), best first,
        each with its document id and offsets."""

        def hits(svc: Factdesk) -> list[dict[str, Any]]:
            return [hit.public() for hit in svc.search(query, top_k)]

        results = await run(hits)
        lines = [
            f'[{i}] {one_line(h["title"])} ({h["document_id"]}, {h["start"]}-{h["end"]}) — "{one_line(h["text"])}"'
            for i, h in enumerate(results, 1)
        ]
        # markup made inert as in ask's text (a client that renders Markdown loads no article's image);
        # the structured results keep the exact text
        return _result(inert("\n".join(lines)) or "No passage matches the query.", {"results": results})

    @server.tool(annotations=READ_ONLY)
    async def summarize(
        document_ids: DocumentIds = None, query: Query | None = None, max_words: MaxWords = None
    ) -> Annotated[CallToolResult, SummaryOut]:
        """A cited summary of the given documents, of those matching `query`, or of the most recent
        articles, with [n] markers and its sources."""

        def summary(svc: Factdesk) -> dict[str, Any]:
            return svc.summarize(document_ids=document_ids, query=query, max_words=max_words).to_dict()

        result = await run(summary)
        return _result(cited_text(result["summary"], result["citations"]), result)

    @server.tool(annotations=READ_ONLY)
    async def get_document(id: DocumentId) -> Annotated[CallToolResult, DocumentOut]:
        """An article's cleaned text and details; citation offsets (start, end) refer to this text."""
        found = await run(lambda svc: svc.get_document(id))
        doc = {**found.summary(), "text": found.text}  # the object GET /v1/documents/{id} answers
        header = [
            one_line(doc["title"]),
            *(f"{k}: {doc[k]}" for k in ("id", "source", "url", "published_at") if doc[k]),
        ]
        return _result(inert("\n".join(header) + "\n\n" + doc["text"]), doc)

    return server


def _result(text: str, structured: dict[str, Any]) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


# JSON Schema's types in pydantic's words, the words of /v1's 400s ("Input should be a valid integer")
_TYPE_NAMES = {"array": "list", "object": "dictionary"}


def argument_problems(schema: dict[str, Any], arguments: dict[str, Any]) -> list[str]:
    """The arguments a tool does not take, as /v1 refuses an unknown field; else the values not of
    the type its schema states, read strictly as /v1 reads JSON ("3" is not a top_k, which
    pydantic's lax mode would take). The other constraints are left to pydantic."""
    unknown = sorted(set(arguments) - set(schema.get("properties", {})))
    if unknown:
        return [f"{k}: Extra inputs are not permitted" for k in unknown]
    return [
        f"{'.'.join(map(str, e.absolute_path)) or 'arguments'}: Input should be "
        + " or ".join(
            f"a valid {_TYPE_NAMES.get(str(t.validator_value), t.validator_value)}"
            for t in (e.context or [e])
            if t.validator_value != "null"
        )
        for e in Draft202012Validator(schema).iter_errors(arguments)
        if all(t.validator == "type" for t in (e.context or [e]))  # an optional field: anyOf [type, null]
    ]


class _Tools(MCPServer):
    async def list_tools(self) -> list[Tool]:
        """Each input schema says what call_tool enforces: no argument it does not list."""
        return [
            t.model_copy(update={"input_schema": {**t.input_schema, "additionalProperties": False}})
            for t in await super().list_tools()
        ]

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[Any, Any] | None = None
    ) -> GetPromptResult | InputRequiredResult:
        """factdesk serves no prompts: a name asked for is invalid params (-32602), not the SDK's
        error code 0 with a traceback in the log."""
        if self._prompt_manager.get_prompt(name) is None:
            raise MCPError(code=INVALID_PARAMS, message=f"unknown prompt: {name!r} (this server has none)")
        return await super().get_prompt(name, arguments, context)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        """Arguments that fail the input schema: one line per field, as the API's 400 says it, without
        pydantic's echo of the rejected value and its help URL. An argument the tool does not take is
        refused too, as /v1 refuses an unknown field: a client that thinks it passed context (a
        misspelt `document_ids`, a `history`) learns that it did not."""
        tool = next((t for t in await self.list_tools() if t.name == name), None)
        problems = argument_problems(tool.input_schema, arguments or {}) if tool is not None else []
        if problems:
            raise ToolError(f"invalid arguments for {name}: " + "; ".join(problems[:5]))
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as e:
            if isinstance(e.__cause__, ToolError) and isinstance(e.__cause__.__cause__, FactdeskError):
                # the service's own message, as /v1 sends it, without the SDK's "Error executing tool"
                raise e.__cause__ from e.__cause__.__cause__
            if not isinstance(e.__cause__, ValidationError):
                raise
            problems = [
                f"{'.'.join(map(str, err['loc'])) or 'arguments'}: {err['msg']}"
                for err in e.__cause__.errors()[:5]
            ]
            # the cause stays a ValidationError: the SDK then logs the field names only
            raise ToolError(f"invalid arguments for {name}: " + "; ".join(problems)) from e.__cause__


def _quiet_mcp_server(**kwargs: Any) -> MCPServer:
    """MCPServer() calls logging.basicConfig (mcp 2.3), which would put a handler at INFO on the root
    logger of a process that has none (`factdesk serve`): every library's INFO lines would print.
    factdesk configures its own logging (api.app), so the root logger is put back as it was."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        return _Tools(**kwargs)
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers


def session_manager(server: MCPServer) -> StreamableHTTPSessionManager:
    """A transport for `server`; its run() must be entered before it answers, and can be only once."""
    server.streamable_http_app(  # only for the session manager it builds: /mcp is a route of factdesk's app
        json_response=True,
        stateless_http=True,
        # The SDK's DNS-rebinding check accepts only localhost Host headers, which would refuse a chat UI
        # reaching `--host 0.0.0.0` by name; /mcp is guarded like /v1 instead: FACTDESK_API_KEYS.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    return server.session_manager


class McpEndpoint:
    """The ASGI app at /mcp: the API-key check of /v1 (the same 401), then the MCP transport."""

    def __init__(self, server: MCPServer, keys: tuple[str, ...]) -> None:
        self.server = server
        self.keys = keys
        self._sessions: StreamableHTTPSessionManager | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """For the app's lifespan. A fresh transport each time: a session manager runs only once, and
        one app may be started again (the tests' clients, schemathesis)."""
        sessions = session_manager(self.server)
        async with sessions.run():
            self._sessions = sessions
            try:
                yield
            finally:
                self._sessions = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scheme, token = get_authorization_scheme_param(Headers(scope=scope).get("authorization"))
        # raised here, it reaches the app's FactdeskError handler like a /v1 route's
        authorize(self.keys, token if scheme.lower() == "bearer" and token else None)
        if self._sessions is None:
            raise NotReady("the MCP server is not running (the app's lifespan has not started)")
        media = Headers(scope=scope).get("content-type", "").split(";")[0].strip().lower()
        if scope.get("method") == "POST" and media != "application/json":
            # the SDK's reply is a bare "Invalid Content-Type header" in text/plain
            refused = _rpc_error(None, -32600, "Invalid Request: Content-Type must be application/json")
            await JSONResponse(refused, status_code=415)(scope, receive, send)
            return
        body = await _body(receive)
        problem = envelope_problem(body)
        if problem is not None:  # the SDK's own reply to these is a page of pydantic errors
            await JSONResponse(problem, status_code=400)(scope, receive, send)
            return
        await self._sessions.handle_request(scope, _replay(body, receive), send)


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The request's body, read once here, handed on as if it had not been read; then the server's
    own messages (a streamed reply listens for the client's disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def envelope_problem(body: bytes) -> dict[str, Any] | None:
    """A short JSON-RPC error reply for a message of the wrong shape, which the SDK would answer with a
    page of pydantic errors (or a bare "Invalid request parameters"), else None (a body that is not
    JSON, and everything else, is the SDK's to judge)."""
    try:
        message = json.loads(body)
    except ValueError:
        return None
    except RecursionError:  # the SDK would meet it too, as a 500
        return _rpc_error(None, -32700, "Parse error: the message is nested too deeply")
    if isinstance(message, list):
        return _rpc_error(
            None, -32600, "Invalid Request: batches are not supported; send one message a request"
        )
    if not isinstance(message, dict):
        return _rpc_error(None, -32600, "Invalid Request: a message is a JSON object")
    params = message.get("params")
    if message.get("jsonrpc") != "2.0":
        code, says = -32600, 'Invalid Request: jsonrpc must be "2.0"'
    elif not any(k in message for k in ("method", "result", "error")):
        code, says = -32600, "Invalid Request: a request needs a method"
    elif "method" in message and not isinstance(message["method"], str):
        code, says = -32600, "Invalid Request: method must be a string"
    elif "id" in message and not (
        isinstance(message["id"], (str, int)) and not isinstance(message["id"], bool)
    ):
        # MCP: a request's id is a string or an integer, never null; an object or a null id would be
        # taken for a notification and answered with nothing (202)
        code, says = -32600, "Invalid Request: id must be a string or an integer"
    elif params is not None and not isinstance(params, dict):
        code, says = -32602, "Invalid params: params must be a JSON object"
    elif message.get("method") == "tools/call" and not isinstance((params or {}).get("name"), str):
        code, says = -32602, "Invalid params: name must be the tool's name, a string"
    elif message.get("method") == "tools/call" and not isinstance((params or {}).get("arguments", {}), dict):
        code, says = -32602, "Invalid params: arguments must be a JSON object"
    else:
        return None
    return _rpc_error(message.get("id"), code, says)


def _rpc_error(msg_id: object, code: int, says: str) -> dict[str, Any]:
    """A JSON-RPC error reply; the message's id when it is a valid one, else null."""
    valid = isinstance(msg_id, (str, int)) and not isinstance(msg_id, bool)
    return {"jsonrpc": "2.0", "id": msg_id if valid else None, "error": {"code": code, "message": says}}


class McpRoute(Route):
    """Exactly /mcp, POST only; named in scope["route"] as FastAPI's own routes are, so that the metrics
    count its requests under route="/mcp" rather than "unmatched"."""

    def __init__(self, endpoint: McpEndpoint) -> None:
        # POST only: stateless, the server has nothing to push on a GET stream (it would stay open),
        # and no session to DELETE; other methods get the API's 405
        super().__init__(MCP_PATH, endpoint, methods=["POST"], include_in_schema=False)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get("type") == "http" and scope.get("path") == MCP_PATH + "/":
            # "/mcp/", as some clients are configured: served here, behind the key check, rather
            # than redirected (a 307 that answered before any key was asked for)
            scope = {**scope, "path": MCP_PATH}
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope
