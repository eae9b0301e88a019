"""The chat page (api/static/index.html) in headless Chromium against the real server.

Ask, wait for the streamed answer to finish, click a citation, and check that the highlighted
passage is exactly the citation's quote as the API reports it.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from live_server import LiveServer

QUESTION = "What did the NIS say about suicide orders?"


@pytest.fixture
def page(browser, live_server: LiveServer) -> Iterator:  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(live_server.base_url + "/")
    yield page
    context.close()


def test_citation_click_highlights_the_exact_quote(page, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    page.fill("textarea#question", QUESTION)
    page.click("button#ask")
    turn = page.locator(".turn.assistant[data-state=done]").last
    turn.wait_for()
    answer_text = turn.locator(".answer").inner_text()
    cites = turn.locator(".answer a.cite")
    assert cites.count() > 0, answer_text

    api = httpx.post(live_server.base_url + "/v1/ask", json={"question": QUESTION}, timeout=300).json()
    quotes = {c["marker"]: c["quote"] for c in api["citations"]}
    for marker_text in (cites.nth(i).get_attribute("data-marker") for i in range(cites.count())):
        assert int(marker_text) in quotes  # every link on the page is a citation the API reports

    first = cites.first
    marker = int(first.get_attribute("data-marker"))
    first.click()
    panel = page.locator("aside#source-panel")
    panel.wait_for(state="visible")
    highlight = panel.locator("mark#highlight")
    highlight.wait_for()
    assert highlight.text_content() == quotes[marker]
    highlight_in_view = highlight.evaluate("""el => { const r = el.getBoundingClientRect(),
        p = document.getElementById('source-body').getBoundingClientRect();
        return r.bottom > p.top && r.top < p.bottom; }""")
    assert highlight_in_view


def test_a_rejected_question_shows_the_servers_message(page) -> None:  # type: ignore[no-untyped-def]
    page.fill("textarea#question", "why " * 1000)  # over max_question_chars (2000)
    page.click("button#ask")
    turn = page.locator(".turn.assistant[data-state=error]").last
    turn.wait_for()
    assert "2000 characters" in turn.inner_text()
