"""What routes are handed with Depends: the service, the settings, the API-key check; and `call`.

`call` runs a (synchronous, possibly seconds-long) service method in the thread pool, so the event
loop keeps answering /healthz and other requests while a model embeds or an LLM generates.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

from api.errors import NotReady
from factdesk.service import Factdesk
from factdesk.settings import Settings
from retrieval.errors import Unauthorized
from retrieval.redact import redact_text
from retrieval.search import Filters

T = TypeVar("T")

bearer = HTTPBearer(auto_error=False, description="one of FACTDESK_API_KEYS (only when that is set)")


async def call(fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    return await run_in_threadpool(fn, *args, **kwargs)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def service_of(app: Starlette) -> Factdesk:
    svc = getattr(app.state, "service", None)
    if svc is None:
        startup = getattr(app.state, "startup", None)
        problem = getattr(startup, "opening_problem", None)  # its paths are the log's, not a client's
        raise NotReady(redact_text(problem, paths=True) if problem else "the service is starting")
    return svc  # type: ignore[no-any-return]


def get_service(request: Request) -> Factdesk:
    return service_of(request.app)


Service = Annotated[Factdesk, Depends(get_service)]


def key_matches(supplied: str, keys: tuple[str, ...]) -> bool:
    """Constant time in the supplied key: every configured key is compared, none short-circuits."""
    given = supplied.encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given, key.encode())
    return matched


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def authorize(keys: tuple[str, ...], supplied: str | None) -> None:
    """Unauthorized unless `supplied` (the bearer token, None when absent) is a key; open without keys."""
    if not keys:
        return
    # the supplied value is never logged or echoed: the message is the same for every failure
    if supplied is None or not key_matches(supplied, keys):
        raise Unauthorized("missing or invalid API key (send Authorization: Bearer <key>)")


async def require_api_key(request: Request, credentials: Credentials) -> None:
    authorize(get_settings(request).api_keys, credentials.credentials if credentials else None)


def build_filters(
    svc: Factdesk,
    document_ids: list[str] | None = None,
    sources: list[str] | None = None,
    published_after: str | None = None,
    published_before: str | None = None,
) -> Filters | None:
    """None when nothing restricts the search (the searcher's fast path)."""
    if document_ids is None and sources is None and published_after is None and published_before is None:
        return None
    return svc.filters(
        document_ids=document_ids,
        sources=sources,
        published_after=published_after,
        published_before=published_before,
    )
