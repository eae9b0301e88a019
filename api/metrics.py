"""Prometheus metrics on a per-app registry: HTTP traffic by route template; the ingestor's counters,
the answer engines' stage times, LLM tokens and fallbacks, the embedding cache, documents and chunks.

A per-app `CollectorRegistry` (not the process-global default) so that several apps in one process,
as in the tests, each count only their own requests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from answers.telemetry import Snapshot

if TYPE_CHECKING:
    from factdesk.service import Factdesk

log = logging.getLogger("factdesk.metrics")

# answers take from milliseconds (cached search) to tens of seconds (an LLM behind a slow endpoint)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
UNMATCHED = "unmatched"  # one label for every unknown path, so scanners cannot blow up the label set
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class ServiceCollector:
    """Reads the service's own counters at scrape time (no double bookkeeping)."""

    def __init__(self, get_service: Callable[[], Factdesk | None]) -> None:
        self.get_service = get_service

    def collect(self) -> Iterator[Metric]:
        svc = self.get_service()
        if svc is None:
            return
        ingested = CounterMetricFamily(
            "factdesk_ingest_documents",
            "Documents processed by the ingestor since start, by outcome",
            labels=["status"],
        )
        for status, n in sorted(svc.ingestor.counters.items()):
            ingested.add_metric([status], n)
        yield ingested
        yield GaugeMetricFamily(
            "factdesk_embedding_model_loaded",
            "1 once the embedding model is loaded",
            value=1.0 if svc.embedder.loaded else 0.0,
        )
        yield from telemetry_metrics(svc.telemetry.snapshot())
        yield from embedding_cache_metrics(svc.embedder)
        try:
            documents, chunks = svc.counts()
        except Exception:  # noqa: BLE001 - a scrape must not fail with the catalog; the gauges are left out
            log.warning("metrics: could not count documents and chunks", exc_info=True)
            return
        yield GaugeMetricFamily("factdesk_documents", "Documents in the catalog", value=documents)
        yield GaugeMetricFamily("factdesk_chunks", "Chunks of the catalog's documents", value=chunks)


def telemetry_metrics(snap: Snapshot) -> Iterator[Metric]:
    """The answer engines' tallies (answers/telemetry.py) as metric families; labels from fixed sets."""
    stages = HistogramMetricFamily(
        "factdesk_stage_duration_seconds",
        "Time per answer stage: retrieve, read (hits to scored candidates), compose, llm (one model call)",
        labels=["stage"],
    )
    for stage, hist in snap.stages.items():
        stages.add_metric([stage], hist.cumulative(), sum_value=hist.total)
    yield stages
    tokens = CounterMetricFamily(
        "factdesk_llm_tokens", "LLM tokens, as the endpoint reported them or counted here", labels=["kind"]
    )
    for kind, n in snap.tokens.items():
        tokens.add_metric([kind], n)
    yield tokens
    fallbacks = CounterMetricFamily(
        "factdesk_llm_fallbacks",
        "Answers and summaries made extractively because the LLM failed or could not be verified",
        labels=["kind"],
    )
    for kind, n in snap.fallbacks.items():
        fallbacks.add_metric([kind], n)
    yield fallbacks


def embedding_cache_metrics(embedder: object) -> Iterator[Metric]:
    """Texts whose vectors came from the embedding cache (hits) or had to be embedded (misses)."""
    for outcome in ("hits", "misses"):
        n = getattr(embedder, outcome, None)
        if isinstance(n, int):
            yield CounterMetricFamily(
                f"factdesk_embedding_cache_{outcome}",
                f"Embedding cache {outcome} since start (texts)",
                value=n,
            )


class Metrics:
    def __init__(self, get_service: Callable[[], Factdesk | None]) -> None:
        self.registry = CollectorRegistry()
        labels = ["method", "route", "status"]
        self.requests = Counter(
            "factdesk_http_requests",
            "HTTP requests by method, route template, status",
            labels,
            registry=self.registry,
        )
        self.latency = Histogram(
            "factdesk_http_request_duration_seconds",
            "HTTP latency to the last byte sent, by method, route template, status",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "factdesk_http_requests_in_flight", "HTTP requests being served", registry=self.registry
        )
        self.registry.register(ServiceCollector(get_service))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def route_template(scope: Scope) -> str:
    """The matched route's path template ("/v1/documents/{doc_id}"), never the raw path."""
    route = scope.get("route")
    if route is None:  # only FastAPI's own routes name themselves; Starlette's leave their endpoint
        route = _starlette_route(scope)
        if route is not None and not hasattr(route, "endpoint"):  # a mount: its files under one label
            return f"{getattr(route, 'path', '')}/{{path}}"
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else UNMATCHED


def _starlette_route(scope: Scope) -> object | None:
    """The app's plain route (/openapi.json) or mount (/docs-static) whose endpoint served scope."""
    endpoint = scope.get("endpoint")
    routes = getattr(getattr(scope.get("app"), "router", None), "routes", ())
    if endpoint is None:
        return None
    return next((r for r in routes if getattr(r, "endpoint", getattr(r, "app", None)) is endpoint), None)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.metrics.in_flight.dec()
            method = scope.get("method", "")
            self.metrics.observe(
                method if method in METHODS else "other",
                route_template(scope),
                status,
                time.perf_counter() - start,
            )
