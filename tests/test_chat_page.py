"""The chat page (api/static/index.html) in headless Chromium against the real server.

Ask, wait for the streamed answer to finish, click a citation, and check that the highlighted
passage is exactly the citation's quote as the API reports it; with a (scripted) model, see which
generator answered and why it fell back.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from live_server import LiveServer, seed_documents
from scripted_openai import DEFAULT_MODEL, delay, dynamic, quoting, status

QUESTION = "When were the two soldiers captured?"


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

    # Escape closes the panel and gives focus back to the citation that opened it (not the page top)
    page.keyboard.press("Escape")
    panel.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.dataset.marker") == str(marker)


def test_the_top_bar_buttons_keep_their_words_on_one_line(page) -> None:  # type: ignore[no-untyped-def]
    """On a phone and beside the open source panel, "New chat" and "API key" are not broken in two:
    the tagline gives way first."""
    lines = """() => Array.from(document.querySelectorAll('.topbar button')).map(b => {
        const r = document.createRange(); r.selectNodeContents(b);
        return new Set(Array.from(r.getClientRects()).map(x => Math.round(x.top))).size; })"""
    for width in (390, 700, 1280):
        page.set_viewport_size({"width": width, "height": 800})
        assert page.evaluate(lines) == [1, 1, 1], width


def test_a_question_refused_for_its_key_is_asked_again_once_a_key_is_saved(browser, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """With keys set, a question sent without one (or with a wrong one) leaves no turn behind: the key
    prompt opens, the question waits in the box, and the right key asks it once."""
    with LiveServer(tmp_path, env={"FACTDESK_API_KEYS": "page-key"}) as server:
        seeded = httpx.post(
            server.base_url + "/v1/documents",
            json={"documents": seed_documents()},
            headers={"Authorization": "Bearer page-key"},
            timeout=300,
        )
        assert seeded.status_code == 200
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.goto(server.base_url + "/")
        page.fill("#question", QUESTION)
        page.keyboard.press("Enter")
        for key in ("wrong-key", "page-key"):
            page.locator("#api-key-panel").wait_for(state="visible")
            assert page.locator(".turn").count() == 0 and page.input_value("#question") == QUESTION
            page.fill("#api-key", key)
            page.click("#api-key-save")
        page.locator(".turn.assistant[data-state=done]").wait_for()
        assert page.locator(".turn.user").count() == 1 and page.locator(".turn.assistant").count() == 1
        assert page.input_value("#question") == ""
        assert page.locator(".turn.assistant .answer a.cite").count() > 0
        context.close()


def test_a_question_the_server_never_got_stays_in_the_box(page) -> None:  # type: ignore[no-untyped-def]
    page.route("**/v1/ask", lambda route: route.abort())  # as when the server is down
    page.fill("textarea#question", QUESTION)
    page.click("button#ask")
    turn = page.locator(".turn.assistant[data-state=error]").last
    turn.wait_for()
    assert "Could not reach the server" in turn.inner_text()
    assert page.input_value("textarea#question") == QUESTION  # ready to resend


def test_a_rejected_question_shows_the_servers_message(page) -> None:  # type: ignore[no-untyped-def]
    page.fill("textarea#question", "why " * 1000)  # over max_question_chars (2000)
    page.click("button#ask")
    turn = page.locator(".turn.assistant[data-state=error]").last
    turn.wait_for()
    assert "2000 characters" in turn.inner_text()


# ---------------------------------------------------------------- conversation, summaries, documents

FIRST, FOLLOW_UP = QUESTION, "What did they say about it?"  # alone, the follow-up is unanswerable


def ask_on_page(page, question: str):  # type: ignore[no-untyped-def]
    """Type and send a question; the finished assistant turn it produced."""
    done_before = page.locator(".turn.assistant[data-state=done]").count()
    page.fill("textarea#question", question)
    page.click("button#ask")
    turn = page.locator(".turn.assistant[data-state=done]").nth(done_before)
    turn.wait_for()
    return turn


def test_a_follow_up_carries_the_conversation(page, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    sent: list[dict] = []
    page.on("request", lambda r: sent.append(r.post_data_json) if r.url.endswith("/v1/ask") else None)
    ask_on_page(page, FIRST)
    second = ask_on_page(page, FOLLOW_UP)

    assert [body["history"] for body in sent] == [[], [FIRST]]
    api = httpx.post(
        live_server.base_url + "/v1/ask", json={"question": FOLLOW_UP, "history": [FIRST]}, timeout=300
    ).json()
    alone = httpx.post(live_server.base_url + "/v1/ask", json={"question": FOLLOW_UP}, timeout=300).json()
    assert alone["abstained"] and not api["abstained"]  # the second answer depends on the first turn
    assert second.locator(".answer").inner_text() == api["answer"]
    assert second.locator(".answered-as").inner_text() == "Answered as: " + api["question"]
    assert second.locator(".answer-meta .generator").inner_text() == api["generator"] == "extractive"


def test_a_reload_keeps_the_conversation_and_new_chat_clears_it(page, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    first = ask_on_page(page, FIRST)
    shown = first.locator(".answer").inner_text()
    sources = first.locator(".sources").inner_text()
    page.reload()
    restored = page.locator(".turn.assistant[data-state=done]")
    assert restored.count() == 1
    assert restored.first.locator(".answer").inner_text() == shown
    assert restored.first.locator(".sources").inner_text() == sources
    assert page.locator(".turn.user .question-text").first.inner_text() == FIRST

    sent: list[dict] = []
    page.on("request", lambda r: sent.append(r.post_data_json) if r.url.endswith("/v1/ask") else None)
    ask_on_page(page, FOLLOW_UP)
    assert sent[-1]["history"] == [FIRST]  # the follow-up after a reload still has its history

    page.click("button#new-chat")
    page.reload()
    assert page.locator(".turn").count() == 0


def test_a_passage_is_shown_as_it_is_quoted_without_added_quotation_marks(
    page, live_server: LiveServer
) -> None:  # type: ignore[no-untyped-def]
    question = "What did the Kremlin say about the captured soldiers?"
    turn = ask_on_page(page, question)
    api = httpx.post(live_server.base_url + "/v1/ask", json={"question": question}, timeout=300).json()
    quotes = [" ".join(c["quote"].split()) for c in api["citations"]]
    assert any(q.startswith(('"', "“")) for q in quotes), quotes  # a remark that opens with its own mark
    shown = [
        turn.locator(".source-quote").nth(i).inner_text()
        for i in range(turn.locator(".source-quote").count())
    ]
    assert len(shown) == len(quotes)
    for q, s in zip(quotes, shown):  # the quote as it is, or its first 220 characters and "…"
        assert s == q or (s.endswith("…") and q.startswith(s.removesuffix("…"))), (s, q)


def test_the_summarize_button_asks_for_a_cited_summary(page, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    sent: list[dict] = []
    page.on("request", lambda r: sent.append(r.post_data_json) if r.url.endswith("/v1/ask") else None)
    page.fill("textarea#question", "the North Korean soldiers")
    page.click("button#summarize")
    turn = page.locator(".turn.assistant[data-state=done]").last
    turn.wait_for()
    assert sent[-1]["question"] == "Summarize the North Korean soldiers"
    assert page.locator(".turn.user .question-text").last.inner_text() == sent[-1]["question"]
    assert turn.locator(".answer a.cite").count() > 0
    assert turn.locator(".sources li").count() > 0
    assert turn.locator(".answer-meta .generator").inner_text() == "extractive"


def test_upload_by_file_picker_then_list_by_title_then_delete(
    page, live_server: LiveServer, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    title = "Lighthouse keeper retires after forty years"
    article = tmp_path / "lighthouse.txt"
    article.write_text(
        f"{title}\n\nThe keeper of the Point Reyes lighthouse retired on Friday after forty years of service. "
        "She said the fog horn was the sound she would miss most.\n",
        encoding="utf-8",
    )
    rejected = tmp_path / "scan.pdf"
    rejected.write_bytes(b"%PDF-1.4")
    picture = tmp_path / "picture.txt"  # a picture renamed: not an article of replacement characters
    picture.write_bytes(b"\x89PNG\r\n\x1a\n")
    latin = tmp_path / "kiosk.txt"  # an older Western file: read as Windows-1252, as the CLI reads it
    latin.write_bytes("The café kiosk on the pier reopened on Saturday after the storm.".encode("cp1252"))
    page.click("button#documents-toggle")
    page.locator("#document-list li.document").first.wait_for()  # the seeds are listed
    page.set_input_files("input#file-input", [str(article), str(rejected), str(picture), str(latin)])

    results = page.locator("#upload-results li")
    results.nth(3).wait_for()
    assert (
        results.nth(0).inner_text().startswith("lighthouse.txt") and "created" in results.nth(0).inner_text()
    )
    assert "rejected:" in results.nth(1).inner_text()
    assert (
        "picture.txt" in results.nth(2).inner_text()
        and "rejected: binary file" in results.nth(2).inner_text()
    )
    assert "kiosk.txt" in results.nth(3).inner_text() and "created" in results.nth(3).inner_text()
    listed = httpx.get(live_server.base_url + "/v1/documents", timeout=60).json()["documents"]
    (kiosk,) = [d for d in listed if d["source"] == "kiosk.txt"]
    assert (
        "café kiosk"
        in httpx.get(live_server.base_url + f"/v1/documents/{kiosk['id']}", timeout=60).json()["text"]
    )
    assert not [d for d in listed if d["source"] == "picture.txt"]
    httpx.delete(live_server.base_url + f"/v1/documents/{kiosk['id']}", timeout=60)
    item = page.locator("#document-list li.document", has_text=title)
    item.wait_for()
    doc_id = item.get_attribute("data-id")
    assert doc_id and doc_id not in item.locator(".document-title").inner_text()  # titles, not ids
    listed = httpx.get(live_server.base_url + "/v1/documents", timeout=60).json()["documents"]
    assert title in {d["title"] for d in listed}

    page.once("dialog", lambda dialog: dialog.accept())
    item.locator("button.document-delete").click()
    item.wait_for(state="detached")
    assert httpx.get(live_server.base_url + f"/v1/documents/{doc_id}", timeout=60).status_code == 404


def test_a_dropped_file_is_uploaded(page, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    title = "Tram line extension opens to passengers"
    page.click("button#documents-toggle")
    # what a browser's drop carries: a DataTransfer holding the file
    page.evaluate(
        """title => { const dt = new DataTransfer();
        dt.items.add(new File([title + "\\n\\nThe new tram line carried its first passengers on Sunday morning."],
                              "tram.md", {type: "text/markdown"}));
        document.getElementById("dropzone").dispatchEvent(
            new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true})); }""",
        title,
    )
    result = page.locator("#upload-results li").first
    result.wait_for()
    assert "tram.md" in result.inner_text() and "created" in result.inner_text()
    item = page.locator("#document-list li.document", has_text=title)
    item.wait_for()
    httpx.delete(live_server.base_url + f"/v1/documents/{item.get_attribute('data-id')}", timeout=60)


# ---------------------------------------------------------------- which generator answered


def test_the_generator_and_a_fallback_warning_are_shown(browser, scripted_live_server) -> None:  # type: ignore[no-untyped-def]
    """Against a server whose model is the scripted OpenAI-compatible server: a failing model gives
    the extractive answer with the warning that says why; a working one is named as the generator."""
    server, model = scripted_live_server
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(120_000)
    try:
        model.reset()
        model.default = status(500)
        page.goto(server.base_url + "/")
        fallback = ask_on_page(page, QUESTION)
        assert fallback.locator(".answer-meta .generator").inner_text() == "extractive"
        assert fallback.locator(".warnings li").all_inner_texts() == [
            "LLM unavailable (server error 500); answered extractively"
        ]

        model.reset()
        model.default = delay(0.5, dynamic(quoting))  # slow enough for keep-alive pings on the way
        page.goto(server.base_url + "/")  # a new conversation: no follow-up rewriting call
        answered = ask_on_page(page, QUESTION)
        assert answered.locator(".answer-meta .generator").inner_text() == DEFAULT_MODEL
        assert answered.locator(".warnings").count() == 0
        assert answered.locator(".answer").inner_text().startswith("The article says")
        assert answered.locator(".answer a.cite").count() == 1
    finally:
        model.default = status(500)
        context.close()
