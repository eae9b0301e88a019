"""Questions answered from the articles, with citations; optionally streamed as Server-Sent Events."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter

from api.deps import Service, build_filters, call
from api.schemas import AnswerOut, AskRequest, sse_docs
from api.sse import ServiceStream, event_response
from factdesk.service import Factdesk, blank
from retrieval.search import Filters

router = APIRouter(prefix="/v1", tags=["answers"])

STREAM_EXAMPLE = (
    'data: {"delta": "The NIS said "}\n\n'
    'data: {"done": true, "answer": "The NIS said ... [1]", "abstained": false, '
    '"citations": [...]}\n\n'
)
STREAM_DOCS = sse_docs(
    'The answer; with "stream": true, Server-Sent Events: deltas, then one done event', STREAM_EXAMPLE
)


def clean_history(svc: Factdesk, history: list[str] | None) -> list[str]:
    """Earlier questions, blanks dropped (invisible characters alone are blank, as for a question);
    each held to the same length limit as a question."""
    return [svc.check_text(h, "history item") for h in history or [] if not blank(h)]


def _query(svc: Factdesk, body: AskRequest) -> tuple[Filters | None, list[str]]:
    filters = build_filters(svc, body.document_ids, body.sources, body.published_after, body.published_before)
    return filters, clean_history(svc, body.history)


@router.post("/ask", response_model=AnswerOut, summary="A cited answer", responses=STREAM_DOCS)
async def ask(body: AskRequest, svc: Service):  # type: ignore[no-untyped-def]
    """`quote` is exactly `document.text[start:end]` of the cleaned text (`GET /v1/documents/{id}`)."""
    if body.stream:

        def start() -> Iterator[dict]:
            filters, history = _query(svc, body)
            return svc.ask_stream(body.question, body.top_k, filters, history)

        return event_response(
            await ServiceStream.open(start), render=lambda event: [event], ping_s=svc.settings.sse_ping_s
        )

    def run() -> dict:
        filters, history = _query(svc, body)
        return svc.ask(body.question, body.top_k, filters, history).to_dict()

    return await call(run)
