"""The API reference at /docs in headless Chromium against the real server.

Swagger UI 4 loaded this page but showed "Unable to render this definition" for FastAPI's OpenAPI
3.1, so the checks are on what the browser renders: every operation, and the examples inside one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from live_server import LiveServer

ASK_OPERATION = "#operations-answers-ask_v1_ask_post"  # Swagger UI's id: tag, then operationId
RENDERED = f"{ASK_OPERATION}, .version-pragma"  # .version-pragma: "Unable to render this definition"


@pytest.fixture
def docs_page(browser, live_server: LiveServer) -> Iterator:  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(120_000)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(live_server.base_url + "/docs")
    page.locator(RENDERED).first.wait_for()
    page.requested = requested
    yield page
    context.close()


def test_every_operation_is_listed(docs_page, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    schema = httpx.get(live_server.base_url + "/openapi.json", timeout=60).json()
    operations = {
        f"{method.upper()} {path}" for path, methods in schema["paths"].items() for method in methods
    }
    blocks = docs_page.locator(".opblock")
    shown = {
        f"{blocks.nth(i).locator('.opblock-summary-method').inner_text()} "
        f"{blocks.nth(i).locator('.opblock-summary-path').get_attribute('data-path')}"
        for i in range(blocks.count())
    }
    assert shown == operations
    assert docs_page.locator(ASK_OPERATION).is_visible()
    assert "Unable to render" not in docs_page.locator("body").inner_text()


def test_an_operation_shows_its_request_and_response_examples(docs_page) -> None:  # type: ignore[no-untyped-def]
    ask = docs_page.locator(ASK_OPERATION)
    ask.locator(".opblock-summary-control").click()
    request_example = ask.locator(".body-param__example")
    request_example.wait_for()
    assert "question" in json.loads(request_example.inner_text())
    answer_example = ask.locator(".responses-table tr.response[data-code='200'] .example").first
    assert {"answer", "citations"} <= set(json.loads(answer_example.inner_text()))


def test_the_page_loads_nothing_from_outside(docs_page, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    outside = [u for u in docs_page.requested if not u.startswith((live_server.base_url, "data:"))]
    assert outside == []
    assert any(u.endswith("/docs-static/swagger-ui-bundle.js") for u in docs_page.requested)
