"""The app factory: `create_app(settings)` builds a FastAPI app over one Factdesk service.

On start (a lifespan), the service is built (unless the caller passed one, as the tests do), and a
background thread loads the embedding model and then ingests `settings.articles_dir`, so `/healthz`
answers at once and `/readyz` turns 200 when the store is reachable and the model is loaded.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from api.deps import require_api_key, service_of
from api.head import HeadAsGet
from api.errors import BodySizeLimit, CatchUnexpected, UncompressedBodies, install_error_handlers
from api.mcp_server import McpEndpoint, McpRoute, build_server
from api.metrics import Metrics, MetricsMiddleware
from api.request_context import RequestContext
from api.routes import ask, chat, documents, health, search, summarize
from api.schemas import ErrorResponse
from api.security import DOCS_CSP, AllowedHosts, SecurityHeaders, page_csp
from factdesk import __version__
from factdesk.logs import configure_logging
from factdesk.service import Factdesk
from factdesk.settings import Settings, load_settings
from retrieval.errors import StoreUnavailable
from retrieval.models import IngestResult
from retrieval.redact import redact_text

log = logging.getLogger("factdesk.api")

STATIC = Path(__file__).resolve().parent / "static"
SWAGGER_UI = Path(fastapi_offline.__file__).resolve().parent / "static"  # swagger-ui-bundle.js, .css
SHUTDOWN_WAIT_S = 10.0  # how long a stopping server waits for the startup thread before leaving it


class _Stopped(Exception):
    pass


class Startup:
    """Warm the embedding model, then (optionally) ingest the articles folder, in one background thread."""

    def __init__(self, settings: Settings, ingest: bool) -> None:
        self.settings = settings
        self.ingest = ingest
        self.model_error: str | None = None
        self.opening_problem: str | None = None  # why the service could not be opened yet (its store)
        self.ingest_state = "pending" if ingest else "off"
        self.counts: dict[str, int] = {}
        self._counts_lock = threading.Lock()  # written by the start-up thread, read by /healthz
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._recovery: threading.Thread | None = None

    def status(self) -> dict[str, Any]:
        with self._counts_lock:
            return {"ingest": self.ingest_state, "ingested": dict(self.counts)}

    def ingest_pending(self) -> str | None:
        """Why the articles folder may not all be searchable yet (/readyz's reason), or None."""
        status = self.status()
        if status["ingest"] not in ("pending", "running", "waiting"):
            return None
        done = sum(n for kind, n in status["ingested"].items() if kind != "rejected")  # stored ones
        return f"the startup ingest of the articles folder is {status['ingest']} ({done} documents so far)"

    def incomplete(self) -> str | None:
        """What an answer given now should warn of (Factdesk.incomplete)."""
        pending = self.ingest_pending()
        return None if pending is None else f"{pending}: this answer may miss articles not yet ingested"

    def start(self, service: Factdesk) -> None:
        service.incomplete = self.incomplete
        self._thread = threading.Thread(
            target=self._run, args=(service,), name="factdesk-startup", daemon=True
        )
        self._thread.start()
        if service.recovery_problem or self.settings.recovery_sweep_s:
            self._recovery = threading.Thread(
                target=self._recover, args=(service,), name="factdesk-recovery", daemon=True
            )
            self._recovery.start()

    def _recover(self, svc: Factdesk) -> None:
        """Finish unfinished writes while the server runs. Readers never see them, so it answers
        meanwhile.
        - What the open could not roll back (the vector store was down) is retried every
          recovery_retry_s; /readyz says why it is not ready and turns 200 once this succeeds.
        - Every recovery_sweep_s, what a dead writer left since (another replica killed mid-write
          over the same PostgreSQL and Chroma) is rolled back without waiting for this replica's
          next write. Recovery takes the writer lock first, so a live writer's revision is never
          taken for a leftover."""
        retries = 0
        while svc.recovery_problem is not None or self.settings.recovery_sweep_s:
            pending = svc.recovery_problem is not None
            if self._stop.wait(self.settings.recovery_retry_s if pending else self.settings.recovery_sweep_s):
                return
            retries += pending
            try:
                if svc.retry_recovery() and pending:
                    log.info("recovery finished after %d retries: %s", retries, svc.recovery_counts())
            except Exception as e:  # noqa: BLE001 - logged; the next attempt may succeed
                log.warning("recovery attempt failed: %s", redact_text(str(e)))

    def stop(self, timeout: float) -> bool:
        """Ask the thread to stop after the document in hand; True once it has ended."""
        self._stop.set()
        threads = [t for t in (self._thread, self._recovery) if t is not None]
        for t in threads:
            t.join(timeout)
        return not any(t.is_alive() for t in threads)

    def _run(self, svc: Factdesk) -> None:
        t0 = time.monotonic()
        try:
            svc.embedder.load()
            log.info("embedding model %s ready in %.1f s", svc.embedder.name, time.monotonic() - t0)
            svc.searcher.warm()  # the in-memory lexical index, so the first question does not build it
            svc.engine.warm()  # the reader's graph
        except Exception as e:  # noqa: BLE001 - /readyz reports it; the ingest below would fail the same way
            self.model_error = redact_text(str(e), paths=True)[:300]  # /readyz shows it to anyone
            log.error("embedding model %s failed to load: %s", svc.embedder.name, redact_text(str(e)))
        if self.ingest and not self._stop.is_set():
            self._ingest(svc)

    def _ingest(self, svc: Factdesk) -> None:
        folder = self.settings.articles_path
        if not folder.exists():
            log.warning("articles folder %s does not exist: nothing ingested on start", folder)
            self.ingest_state = "skipped"
            return
        if svc.catalog.read_only is not None:  # served for reading: an ingest could only fail
            log.warning("the data dir is read-only (%s): nothing ingested on start", svc.catalog.read_only)
            self.ingest_state = "skipped"
            return
        t0 = time.monotonic()

        def progress(r: IngestResult) -> None:
            key = r.status.split(":")[0].split(" of ")[0]
            with self._counts_lock:
                self.counts[key] = self.counts.get(key, 0) + 1
            chunks = f" ({r.chunks} chunks)" if r.status == "created" else ""
            notes = "".join(f"; warning: {w}" for w in r.warnings)
            log.info("ingest %s: %s%s%s", r.id, r.status, chunks, notes)
            if self._stop.is_set():
                raise _Stopped

        waited = False
        while True:
            self.ingest_state = "running"
            with self._counts_lock:
                self.counts.clear()  # a try after a failed one counts its documents again
            try:
                svc.ingest_paths([folder], progress=progress, changed_only=True)
                break
            except _Stopped:
                self.ingest_state = "stopped"
                return
            except StoreUnavailable as e:
                # a Chroma server or PostgreSQL that starts after factdesk (compose's usual order):
                # tried again until it answers (one log line, not one a try); /readyz says the
                # ingest is waiting meanwhile
                if not waited:
                    log.warning(
                        "ingest of %s waits for the store (%s); trying again every %.0f s",
                        folder,
                        redact_text(e.message),
                        self.settings.recovery_retry_s,
                    )
                self.ingest_state, waited = "waiting", True
                if self._stop.wait(self.settings.recovery_retry_s):
                    self.ingest_state = "stopped"
                    return
            except Exception:
                self.ingest_state = "failed"
                log.exception("ingest of %s failed", folder)
                return
        try:  # the new chunks into the in-memory indexes, before /readyz turns 200
            svc.searcher.warm()
        except Exception as e:  # noqa: BLE001 - the first search builds them instead
            log.warning("warming the search indexes failed: %s", redact_text(str(e)))
        self.ingest_state = "done"
        summary = ", ".join(f"{n} {k}" for k, n in sorted(self.counts.items())) or "no documents"
        log.info("ingest of %s done in %.1f s: %s", folder, time.monotonic() - t0, summary)


REMOTE_OPEN_WAIT_S = 1.0  # how long serving waits for PostgreSQL or a Chroma server at start


def _write_limits(schemas: dict[str, Any], settings: Settings) -> None:
    """This server's settings-dependent limits, into the OpenAPI document it serves."""

    def limit(model: str, field: str, kind: str, **constraints: object) -> None:
        prop = schemas.get(model, {}).get("properties", {}).get(field, {})
        for schema in prop.get("anyOf", [prop]):
            if schema.get("type") == kind:
                (schema["items"] if kind == "array" else schema).update(constraints)

    for model, field in [
        ("AskRequest", "question"),
        ("SearchRequest", "query"),
        ("SummarizeRequest", "query"),
    ]:
        limit(model, field, "string", maxLength=settings.max_question_chars)
    limit("AskRequest", "history", "array", maxLength=settings.max_question_chars)
    for model in ("AskRequest", "SearchRequest", "ChatRequest"):
        limit(model, "top_k", "integer", maximum=settings.max_top_k)


def create_app(
    settings: Settings | None = None, ingest_on_start: bool = True, service: Factdesk | None = None
) -> FastAPI:
    """`settings` govern the API (keys, limits, start-up ingest); a given `service` is used, not closed."""
    settings = settings or (service.settings if service is not None else load_settings())
    configure_logging(settings.log_format)
    startup = Startup(settings, ingest=ingest_on_start)

    async def try_open(app: FastAPI) -> bool:
        """Open the service; False while its store does not answer (PostgreSQL down at start), with
        the reason kept for the 503s the server answers meanwhile (docs/postgres.md)."""
        try:
            app.state.service = await run_in_threadpool(Factdesk, settings)
        except StoreUnavailable as e:
            startup.opening_problem = e.message
            return False
        startup.opening_problem = None
        return True

    async def open_when_reachable(app: FastAPI, first: asyncio.Task[bool] | None = None) -> None:
        if first is not None and await first:  # the first try, still running when serving began
            startup.start(app.state.service)
            return
        log.warning("%s; retrying every %s s", startup.opening_problem, settings.recovery_retry_s)
        await asyncio.sleep(settings.recovery_retry_s)
        while not await try_open(app):
            await asyncio.sleep(settings.recovery_retry_s)
        log.info("the store answers: service opened")
        startup.start(app.state.service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = app.state.service is None
        opener = None
        if owned:
            first = asyncio.create_task(try_open(app))
            # a store over the network that does not answer takes its timeouts to say so: /healthz
            # answers meanwhile (the embedded store is local and opens at once, or fails at once)
            remote = bool(settings.database_url or settings.chroma_url)
            await asyncio.wait({first}, timeout=REMOTE_OPEN_WAIT_S if remote else None)
            if not first.done() or not first.result():
                opener = asyncio.create_task(open_when_reachable(app, first))
        if app.state.service is not None:
            startup.start(app.state.service)
        try:
            async with mcp.running():
                yield
        finally:
            if opener is not None:
                opener.cancel()
            stopped = await run_in_threadpool(startup.stop, SHUTDOWN_WAIT_S)
            if owned and app.state.service is not None:
                if stopped:
                    app.state.service.close()
                else:
                    log.warning("start-up work still running at shutdown; leaving the store to the OS")

    app = FastAPI(
        title="factdesk",
        version=__version__,
        lifespan=lifespan,
        redoc_url=None,
        docs_url=None,
        # no 307 from /v1/models/ to /v1/models: a redirect answers before the API key is asked for,
        # and every route has exactly one path
        redirect_slashes=False,
        description="Cited answers and summaries over news articles. Errors are "
        '`{"error": {"code": str, "message": str}}`.',
    )
    app.state.settings = settings
    app.state.service = service
    app.state.startup = startup
    app.state.metrics = metrics = Metrics(lambda: app.state.service)

    install_error_handlers(app)
    # added innermost first: Metrics sees the final status of everything, 413s and 500s included
    app.add_middleware(CatchUnexpected)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(UncompressedBodies)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    if settings.allowed_hosts:
        app.add_middleware(AllowedHosts, allowed_hosts=settings.allowed_hosts)
    # outermost: every response gets the headers, refusals and 500s included
    page_policy = page_csp((STATIC / "index.html").read_text(encoding="utf-8"))
    app.add_middleware(SecurityHeaders, policies={"/": page_policy, "/docs": DOCS_CSP})
    # outside that: a request id for every response and log line; JSON logs get factdesk's access lines
    app.add_middleware(HeadAsGet)  # inside the request context: the access log says HEAD
    app.add_middleware(RequestContext, log_access=settings.log_format == "json")

    app.include_router(health.router)
    errors: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorResponse, "description": description}
        for status, description in [
            (400, "Invalid request"),
            (401, "Missing or invalid API key"),
            (404, "Unknown document or model"),
            (413, "Body too large"),
            (500, "Internal error"),
            (503, "Store or model unavailable, a read-only data dir, or a corrupted store file"),
            (507, "No space left in the data dir: nothing was written"),
        ]
    }
    for module in (documents, search, ask, summarize, chat):
        app.include_router(module.router, dependencies=[Depends(require_api_key)], responses=errors)

    # MCP tools over the same service; a plain route (not a mount) so that exactly /mcp answers, with
    # no redirect to /mcp/ that a client might not follow with its POST
    mcp = McpEndpoint(build_server(settings, lambda: service_of(app)), settings.api_keys)
    app.router.routes.append(McpRoute(mcp))

    # HEAD too: uptime monitors and link checkers ask with it
    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def chat_page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    # Swagger UI 5 from the fastapi-offline package: FastAPI's default /docs loads it from a CDN, which
    # an offline machine cannot reach, and Swagger UI 4 (swagger-ui-bundle) cannot read OpenAPI 3.1
    app.mount("/docs-static", StaticFiles(directory=SWAGGER_UI), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="factdesk API",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="data:,",
        )

    # every route with its full path (included routers keep their own), for the Allow header of a 405
    modules = (health, documents, search, ask, summarize, chat)
    app.state.api_routes = [r for r in app.router.routes if getattr(r, "path_regex", None)] + [
        r for module in modules for r in module.router.routes
    ]

    def openapi() -> dict[str, Any]:
        # Every invalid request is a 400 with the error shape: drop FastAPI's generic 422 entries.
        # Without API keys nothing needs a bearer token: drop the security requirement too.
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = FastAPI.openapi(app)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                operation.get("responses", {}).pop("422", None)
                if "requestBody" in operation:  # api/errors.py UncompressedBodies
                    operation["responses"]["415"] = {
                        "description": "A compressed body (Content-Encoding): none is decompressed",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
                        },
                    }
                if not settings.api_keys:
                    operation.pop("security", None)
                    operation.get("responses", {}).pop("401", None)
        components = schema.get("components", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.get("schemas", {}).pop(name, None)
        if not settings.api_keys:
            components.pop("securitySchemes", None)
        _write_limits(components.get("schemas", {}), settings)
        return schema  # FastAPI.openapi keeps it in app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
