"""A request id on every request and log line, and (for JSON logs) factdesk's own access lines.

The id is taken from the client's `X-Request-ID` when it is a plausible id (a proxy or a caller
tracing a call through several services sets one), else made here; either way it is sent back in
`X-Request-ID` and set in factdesk/logs.py's REQUEST_ID for every line logged while serving it.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from factdesk.logs import FACTDESK_ACCESS_LOGGER, REQUEST_ID

HEADER = "X-Request-ID"
# long enough for a UUID, a W3C trace id or an AWS "Root=1-...-..." id; short and plain enough that
# a client cannot put a new line, markup or a megabyte into every log line of its request
_PLAUSIBLE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=+/-]{0,127}")

access_log = logging.getLogger(FACTDESK_ACCESS_LOGGER)


def accepted_request_id(supplied: str | None) -> str | None:
    """The client's id if it is 1-128 characters of letters, digits and ._:=+/- ; else None."""
    if supplied is None or not _PLAUSIBLE_ID.fullmatch(supplied):
        return None
    return supplied


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_of(scope: Scope) -> str:
    supplied = next((v for k, v in scope.get("headers", []) if k.lower() == b"x-request-id"), None)
    return (
        accepted_request_id(supplied.decode("latin-1") if supplied is not None else None) or new_request_id()
    )


class RequestContext:
    """Outermost middleware: the request id in and out; with `log_access`, one access line a request,
    written when the last byte has been sent (so a stream's duration is the whole stream)."""

    def __init__(self, app: ASGIApp, log_access: bool = False) -> None:
        self.app = app
        self.log_access = log_access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        token = REQUEST_ID.set(request_id)
        status = 500  # what the client gets when the app raised before it answered
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.log_access:
                method, path = scope.get("method", ""), scope.get("path", "")  # the path: no query string
                duration_ms = round((time.perf_counter() - start) * 1000, 3)
                access_log.info(
                    "%s %s %d",
                    method,
                    path,
                    status,
                    extra={"method": method, "path": path, "status": status, "duration_ms": duration_ms},
                )
            REQUEST_ID.reset(token)
