"""Server-Sent Events from the service's synchronous event generators.

The generator is advanced one event at a time in a worker thread. Its first event is taken before
the response starts, so a bad request or an unreachable store is still an ordinary HTTP error;
a failure after the headers are out becomes a last `data: {"error": {...}}` event.

The response is sse-starlette's: while the next event is being made (the model thinking, a sentence
being verified) it sends a comment line, `: ping`, every FACTDESK_SSE_PING_S seconds, so that proxies
and chat UIs do not close a quiet connection. SSE clients ignore comment lines.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator
from contextlib import aclosing
from typing import Any

import anyio
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from api.errors import error_event

_END = object()
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffering of the deltas


def encode(data: dict[str, Any] | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {payload}\n\n".encode()


class ServiceStream:
    def __init__(self, events: Iterator[dict[str, Any]], first: Any) -> None:
        self._events = events
        self._first = first

    @classmethod
    async def open(cls, start: Callable[[], Iterator[dict[str, Any]]]) -> ServiceStream:
        events = await run_in_threadpool(start)
        try:
            first = await run_in_threadpool(next, events, _END)
        except BaseException:
            await run_in_threadpool(_close, events)
            raise
        return cls(events, first)

    async def __aiter__(self) -> AsyncGenerator[dict[str, Any], None]:
        try:
            event = self._first
            while event is not _END:
                if event != {"delta": ""}:  # only marks the model being asked (answers/llm.py)
                    yield event
                event = await run_in_threadpool(next, self._events, _END)
        finally:
            with anyio.CancelScope(shield=True):  # the client may have gone: still release the generator
                await run_in_threadpool(_close, self._events)


def _close(events: Iterator[Any]) -> None:
    close = getattr(events, "close", None)
    if close is not None:
        close()


def event_response(
    stream: ServiceStream,
    render: Callable[[dict[str, Any]], Iterable[dict[str, Any] | str]],
    prefix: Iterable[dict[str, Any] | str] = (),
    suffix: Iterable[dict[str, Any] | str] = (),
    *,
    ping_s: float,
) -> EventSourceResponse:
    """`render` maps each service event to the SSE payloads to send; `suffix` is sent even after an error."""

    async def body() -> AsyncIterator[bytes]:
        for item in prefix:
            yield encode(item)
        try:
            async with aclosing(stream.__aiter__()) as events:
                async for event in events:
                    for item in render(event):
                        yield encode(item)
        except Exception as exc:  # noqa: BLE001 - headers are sent: the error can only be an event now
            yield encode(error_event(exc))
        for item in suffix:
            yield encode(item)

    return EventSourceResponse(body(), headers=HEADERS, ping=ping_s, sep="\n", ping_message_factory=_ping)


def _ping() -> ServerSentEvent:
    return ServerSentEvent(comment="ping", sep="\n")
