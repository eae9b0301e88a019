"""Browser-facing protections: security headers on every response, and an optional Host allow-list.

The chat page gets a Content-Security-Policy that allows its own inline script and style by their
hashes, computed from the page at start (so an edit to the page cannot be forgotten here), and
nothing else but calls back to this server. /docs (Swagger UI) builds its page with an inline
script and inline styles of its own, so it gets a looser policy limited to this server's assets.
Everything else is JSON, which needs no resources at all. No page may be framed (clickjacking).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence

from starlette.datastructures import MutableHeaders
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response

_COMMON = "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
API_CSP = f"default-src 'none'; {_COMMON}"
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    f"img-src 'self' data:; connect-src 'self'; {_COMMON}"
)
# always sent; a response that sets one of these itself keeps its own
BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors' equivalent for browsers that predate CSP 2
    "Referrer-Policy": "no-referrer",
}

_INLINE_RE = re.compile(r"<(script|style)(\s[^>]*)?>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)


def _source_hash(text: str) -> str:
    # an HTML parser turns CRLF and CR into LF before the browser hashes an inline block
    body = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + "'"


def page_csp(html: str) -> str:
    """The chat page's policy: its inline <script> and <style> blocks by hash, calls to this origin,
    the data: favicon; no plugins, no framing, no other origin."""
    hashes: dict[str, list[str]] = {"script": [], "style": []}
    for tag, attrs, body in _INLINE_RE.findall(html):
        if tag.lower() == "script" and "src=" in (attrs or "").lower():
            continue  # an external script is covered by 'self'
        hashes[tag.lower()].append(_source_hash(body))
    script = " ".join(["'self'", *hashes["script"]])
    style = " ".join(["'self'", *hashes["style"]])
    return (
        f"default-src 'none'; script-src {script}; style-src {style}; img-src 'self' data:; "
        f"connect-src 'self'; {_COMMON}"
    )


class SecurityHeaders:
    """Adds the headers above to every HTTP response; the CSP by exact path, API_CSP elsewhere."""

    def __init__(self, app: ASGIApp, policies: Mapping[str, str]) -> None:
        self.app = app
        self.policies = dict(policies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.policies.get(scope.get("path", ""), API_CSP)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in {**BASE_HEADERS, "Content-Security-Policy": policy}.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


_PASSED = "factdesk.host_allowed"


class _MarkPassed:
    """The app behind the host check: reaching it means the Host header was allowed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[_PASSED] = True
        await self.app(scope, receive, send)


class AllowedHosts:
    """Starlette's TrustedHostMiddleware (against DNS rebinding: a page on evil.example whose name
    comes to point at 127.0.0.1 can read a local server that answers any Host), with the contract's
    JSON error for a refused Host instead of its plain-text body."""

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.check = TrustedHostMiddleware(
            _MarkPassed(app), allowed_hosts=list(allowed_hosts), www_redirect=False
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.check(scope, receive, send)
            return
        if sum(name == b"host" for name, _ in scope.get("headers", ())) > 1:
            # the check reads the first; a server or proxy behind may read another
            await error_response(400, "invalid_host", "more than one Host header")(scope, receive, send)
            return
        replaced = False

        async def send_json_refusal(message: Message) -> None:
            nonlocal replaced
            if scope.get(_PASSED):
                await send(message)
            elif not replaced:  # the check's own plain-text 400: answer in the error shape instead
                replaced = True
                await error_response(
                    400, "invalid_host", "the Host header names a host this server does not serve"
                )(scope, receive, send)

        await self.check(scope, receive, send_json_refusal)
