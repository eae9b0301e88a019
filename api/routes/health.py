"""Liveness, readiness and metrics: open even when API keys are configured."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import call, service_of
from api.errors import NotReady
from api.schemas import ErrorResponse, Health, Ready
from factdesk import __version__

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="Liveness: answers as soon as the server runs")
async def healthz(request: Request) -> dict:
    svc = getattr(request.app.state, "service", None)
    return {
        "status": "ok",
        "version": __version__,
        "model_loaded": bool(svc is not None and svc.embedder.loaded),
        "startup": request.app.state.startup.status(),
        "recovered": svc.recovery_counts() if svc is not None else {},
    }


@router.get(
    "/readyz",
    response_model=Ready,
    responses={503: {"model": ErrorResponse}},
    summary="Readiness: the store is reachable, the embedding model loaded and the startup ingest over",
)
async def readyz(request: Request) -> dict:
    svc = service_of(request.app)  # NotReady while there is none, with the reason
    problems, degraded = await call(svc.readiness)
    if not svc.embedder.loaded:
        error = request.app.state.startup.model_error
        problems.append(
            f"the embedding model failed to load: {error}" if error else "the embedding model is loading"
        )
    # an answer now would decline for want of the articles, as if they lacked the answer
    if (pending := request.app.state.startup.ingest_pending()) is not None:
        problems.append(pending)
    if problems:
        raise NotReady("; ".join(problems))
    return {
        "status": "ready",
        "store": svc.vectors.mode,
        "model": svc.embedder.name,
        "startup": request.app.state.startup.status(),
        "degraded": degraded,
    }


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics (text exposition format)",
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    # off the event loop: a scrape counts the catalog's documents (a query to SQLite or PostgreSQL)
    body, content_type = await call(request.app.state.metrics.render)
    return Response(body, media_type=content_type)
