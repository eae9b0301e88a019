"""Every failure leaves the API as {"error": {"code", "message"}} with a 4xx/5xx status.

Exception handlers cover FactdeskError (the pipeline's own errors), FastAPI's validation errors and
Starlette's HTTPException (404 unknown route, 405, ...). Two small ASGI middlewares cover the rest:
`BodySizeLimit` (413 before a byte of an oversized body is parsed) and `CatchUnexpected` (a generic
500, traceback to the log, never to the client).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from retrieval.errors import FactdeskError
from retrieval.faults import classify
from retrieval.redact import redact_text

log = logging.getLogger("factdesk.api")

INTERNAL_MESSAGE = "internal server error"
MAX_MESSAGE_CHARS = 1000

# codes for errors that do not come from a FactdeskError
_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
    507: "insufficient_storage",
}


class NotReady(FactdeskError):
    code = "not_ready"
    status = 503


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a body without (or with a lying) Content-Length grows past the limit.

    An HTTPException on purpose: FastAPI re-raises those from its body reader unchanged (anything
    else becomes a 400 "error parsing the body").
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than {limit} bytes")


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    # the last gate before a client: no URL leaves with its credentials or query string
    return {"error": {"code": code, "message": redact_text(message)[:MAX_MESSAGE_CHARS]}}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def error_event(exc: BaseException) -> dict[str, dict[str, str]]:
    """The payload of the last SSE event when a stream fails after its headers were sent."""
    fault = classify(exc)
    if fault is not None:
        return error_body(fault.code, redact_text(fault.message, paths=True))
    log.error("error while streaming", exc_info=exc)
    return error_body("internal_error", INTERNAL_MESSAGE)


def _code_for(status: int) -> str:
    return _CODES.get(status, "internal_error" if status >= 500 else "invalid_request")


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] if parts[0] == "body" else parts
    return ".".join(parts) or "request body"


def validation_message(request: Request, errors: list[dict[str, Any]]) -> tuple[str, str]:
    """(code, message) for a RequestValidationError; the rejected values are never echoed."""
    for e in errors:
        if e.get("type") == "json_invalid":
            reason = (e.get("ctx") or {}).get("error", "malformed JSON")
            return "invalid_json", f"the request body is not valid JSON ({reason})"
    parts = []
    for e in errors[:5]:
        loc = tuple(e.get("loc", ()))
        msg = str(e.get("msg", "invalid value"))
        if e.get("type") == "missing" and loc == ("body",):
            parts.append("a JSON request body is required")
            continue
        if loc == ("body",) and e.get("type") in ("model_attributes_type", "dict_type", "model_type"):
            if not _read_as_json(request.headers.get("content-type", "")):
                parts.append("the body must be a JSON object sent with Content-Type: application/json")
                continue
        if e.get("type") == "string_unicode":  # pydantic's "unable to parse raw data as a unicode string"
            msg = "is not valid Unicode text (it contains a lone surrogate)"
        parts.append(f"{_location(loc)}: {msg}")
    if len(errors) > 5:
        parts.append(f"and {len(errors) - 5} more")
    return "invalid_request", "; ".join(parts)


def _read_as_json(content_type: str) -> bool:
    """Whether FastAPI parses a body of this type as JSON: application/json or application/*+json
    ("text/json" is read as bytes, and then is no object)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def _factdesk_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FactdeskError)
    if exc.status >= 500:
        message = redact_text(exc.message)
        log.warning("%s %s -> %d %s: %s", request.method, request.url.path, exc.status, exc.code, message)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return error_response(exc.status, exc.code, exc.message, headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    code, message = validation_message(request, list(exc.errors()))
    # One status for every invalid request, like the service's own InvalidInput (400).
    return error_response(400, code, message)


async def _unauthorized(request: Request) -> JSONResponse | None:
    """The 401 a route's key check would give this request (when keys are configured), else None."""
    from api.deps import bearer, require_api_key  # api.deps imports this module

    try:
        await require_api_key(request, await bearer(request))
    except FactdeskError as e:
        return await _factdesk_error(request, e)
    return None


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    default = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "error"
    message = exc.detail if isinstance(exc.detail, str) and exc.detail else default
    from api.mcp_server import MCP_PATH  # it imports this module

    keyed = request.url.path.startswith("/v1/") or request.url.path == MCP_PATH
    # FastAPI reads a body that is not UTF-8, or nested past Python's recursion limit, as a bare 400
    # "There was an error parsing the body": it is as much malformed JSON as a missing brace
    if status == 400 and isinstance(exc.__cause__, UnicodeDecodeError | RecursionError):
        reason = "not UTF-8" if isinstance(exc.__cause__, UnicodeDecodeError) else "nested too deeply"
        return error_response(400, "invalid_json", f"the request body is not valid JSON ({reason})")
    if status in (404, 405) and keyed and (refused := await _unauthorized(request)) is not None:
        return refused  # with API keys, every /v1/* and /mcp call needs one: an unknown path or method too
    if status == 404 and message == "Not Found":
        message = f"no route for {request.method} {request.url.path}"
    headers = dict(exc.headers or {})
    if status == 405:
        # Starlette's Allow names only the first route that matched the path; list every method
        allowed = sorted(
            {
                m
                for route in getattr(request.app.state, "api_routes", [])
                if route.path_regex.match(request.scope["path"])
                for m in route.methods or ()
            }
        )
        if allowed:
            headers["Allow"] = ", ".join(allowed)
        if message == "Method Not Allowed":
            message = f"{request.method} is not allowed on {request.url.path}" + (
                f" (allowed: {headers['Allow']})" if "Allow" in headers else ""
            )
    return error_response(status, _code_for(status), message, headers or None)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FactdeskError, _factdesk_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)


class BodySizeLimit:
    """413 for bodies over `max_bytes`: from Content-Length before a byte is read, else while it streams in.

    The error is raised when the route reads its body, so that routing (and the metrics' route
    label) has happened; a route that reads no body is not affected.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        too_large = declared.strip().isdigit() and int(declared) > self.max_bytes
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            if too_large:
                raise BodyTooLarge(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted_receive, send)


class UncompressedBodies:
    """415 for a body sent with a Content-Encoding (gzip, br, ...): nothing here decompresses one, and
    read as it comes it was reported as JSON that is "not UTF-8"."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        encoding = (
            Headers(scope=scope).get("content-encoding", "").strip().lower()
            if scope["type"] == "http"
            else ""
        )
        if encoding in ("", "identity"):
            await self.app(scope, receive, send)
            return
        message = f"Content-Encoding {encoding[:40]} is not supported: send the body uncompressed"
        await error_response(415, "unsupported_media_type", message)(scope, receive, send)


class CatchUnexpected:
    """Any exception no handler claimed: log the traceback, answer a generic JSON 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if isinstance(exc, BodyTooLarge) and not started:  # raised outside a FastAPI route
                await error_response(413, "payload_too_large", str(exc.detail))(scope, receive, send)
                return
            # a driver's storage fault that no layer named (a full disk, a read-only or damaged file)
            fault = classify(exc)
            if fault is not None and not started:
                log.warning(
                    "%s %s -> %d %s: %s",
                    scope.get("method"),
                    scope.get("path"),
                    fault.status,
                    fault.code,
                    redact_text(fault.message, paths=True),
                )
                await error_response(fault.status, fault.code, redact_text(fault.message, paths=True))(
                    scope, receive, send
                )
                return
            log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await error_response(500, "internal_error", INTERNAL_MESSAGE)(scope, receive, send)
