"""Nothing leaks (issue 19, item 3): no credential or query string in an error body or a log line, no
terminal escape from the CLI, quoted markup kept in plain text but inert in chat replies, security
headers on every response, an optional Host allow-list, and access logs without query strings.

Real parts: the ASGI app through httpx (TestClient), the `factdesk` CLI and `factdesk serve` as
subprocesses, the chat page and /docs in Chromium.
"""

from __future__ import annotations

import json
import logging
import random
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import make_settings
from fastapi.testclient import TestClient
from faultkit import run_cli
from live_server import LiveServer

from api.app import STATIC, create_app
from api.inert import InertStream, inert
from api.security import API_CSP, DOCS_CSP, page_csp
from factdesk.cli import terminal_text
from factdesk.logs import DropQueryString, RedactSecrets
from factdesk.service import Factdesk
from retrieval.clean import clean_article
from retrieval.errors import StoreUnavailable
from retrieval.models import DocumentIn
from retrieval.redact import error_reason, redact_text, redact_url, url_secrets
from retrieval.store import VectorStore

SECRETS = ("admin", "S3CRET", "QSECRET")


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chroma_url_with_secrets(port: int) -> str:
    return f"http://admin:S3CRET@127.0.0.1:{port}/chroma?token=QSECRET"


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked: {text[:500]}"


# --------------------------------------------------------------------------- 1. redaction


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://admin:S3CRET@chroma:8001", "http://***@chroma:8001"),
        ("https://admin@chroma/v2?token=QSECRET#frag", "https://***@chroma/v2?***#***"),
        ("http://chroma:8000/api", "http://chroma:8000/api"),
        ("http://admin:S3CRET@[::1]:8001/?a=QSECRET", "http://***@[::1]:8001/?***"),
        ("http://admin:S3CRET@chroma:notaport/x", "http://***@chroma:notaport/x"),
    ],
)
def test_redact_url_keeps_where_and_drops_secrets(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_finds_urls_in_prose_and_paths_on_request() -> None:
    text = (
        "connect to 'http://admin:S3CRET@10.0.0.1:8001/api/v2/heartbeat?tenant=QSECRET' failed; "
        "unable to open /home/ann/.factdesk/chroma/chroma.sqlite3"
    )
    assert_no_secret(redact_text(text))
    assert "/home/ann" in redact_text(text)  # logs keep paths: they are the operator's own machine
    assert "/home/ann" not in redact_text(text, paths=True)
    assert "http://***@10.0.0.1:8001/api/v2/heartbeat?***" in redact_text(text, paths=True)


def test_error_reason_is_the_first_line_without_any_piece_of_the_password() -> None:
    url = "postgresql://ann:p@ss@word@db:5432/factdesk"
    secrets = url_secrets(url)
    assert secrets[0] == "p@ss@word" and "word" in secrets and "ss" not in secrets  # pieces < 3 kept
    assert "ss@word" in secrets and "p@ss" in secrets  # runs of pieces: the short one goes with its neighbour
    err = OSError('could not translate host name "ss@word@db" to address\nunable to open /var/lib/x/y')
    reason = error_reason(err, secrets)
    # libpq named "ss@word@db" as the host: "ss" was shown beside the hidden "word" (a tester's find)
    assert reason == 'OSError: could not translate host name "***@db" to address'
    assert error_reason(ValueError("")) == "ValueError"
    assert url_secrets("postgresql://db/factdesk") == [] and url_secrets("http://[::1") == []


def test_a_failing_chroma_server_is_named_without_its_secrets(tmp_path: Path) -> None:
    """The path where a connected server fails mid-call, and the driver's error quotes the URL."""
    store = VectorStore(
        data_dir=tmp_path, chroma_url=chroma_url_with_secrets(8001), collection="c", space="s"
    )

    class Failing:
        def count(self) -> int:
            raise ConnectionError(f"lost {chroma_url_with_secrets(8001)}/api/v2/count")

    store._collection = Failing()  # as if connected before the server went away
    with pytest.raises(StoreUnavailable) as info:
        store.count()
    assert_no_secret(info.value.message)
    assert "http://***@127.0.0.1:8001/chroma?***" in info.value.message


def test_store_errors_leave_no_secret_in_503_bodies_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, warm_model: None
) -> None:
    settings = make_settings(tmp_path / "data", chroma_url=chroma_url_with_secrets(dead_port()))
    caplog.set_level(logging.INFO)
    with TestClient(create_app(settings, ingest_on_start=False), raise_server_exceptions=False) as c:
        bodies = [
            c.get("/readyz"),
            c.post("/v1/search", json={"query": "harbour"}),
            c.post("/v1/documents", json={"documents": [{"text": "The harbour reopened on Monday."}]}),
        ]
    for r in bodies:
        assert r.status_code == 503, r.text
        assert set(r.json()["error"]) == {"code", "message"}
        assert_no_secret(r.text)
    assert "http://***@127.0.0.1:" in bodies[1].json()["error"]["message"]  # still says which server
    assert caplog.records, "the 503s were logged"
    assert_no_secret(caplog.text)


def test_log_filters_redact_urls_and_drop_query_strings() -> None:
    def record(name: str, msg: str, args: tuple) -> logging.LogRecord:
        return logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)

    access = record(
        "uvicorn.access",
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/v1/models?api_key=QSECRET", "1.1", 200),
    )
    assert DropQueryString().filter(access) and RedactSecrets().filter(access)
    assert access.getMessage() == '127.0.0.1:5000 - "GET /v1/models HTTP/1.1" 200'

    error = record("factdesk.store", "store %s failed", (chroma_url_with_secrets(1),))
    assert RedactSecrets().filter(error)
    assert_no_secret(error.getMessage())


def test_served_logs_and_bodies_hold_no_credentials_and_no_query_strings(tmp_path: Path) -> None:
    """`factdesk serve` as a user runs it, with a credentialed Chroma URL that cannot be reached."""
    env = {"FACTDESK_CHROMA_URL": chroma_url_with_secrets(dead_port())}
    with LiveServer(tmp_path, env=env) as server, server.client() as c:
        assert c.get("/v1/models", params={"api_key": "QSECRET"}).status_code == 200
        ready = c.get("/readyz")
        stored = c.post("/v1/documents", json={"documents": [{"text": "The harbour reopened on Monday."}]})
        log = server.log()
    assert ready.status_code == 503 and stored.status_code == 503
    assert_no_secret(ready.text + stored.text)
    assert '"GET /v1/models HTTP/1.1" 200' in log  # the access line is there, without its query
    assert "api_key" not in log
    assert_no_secret(log)


# --------------------------------------------------------------------------- 2. CLI output


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\x1b[31mred\x1b[0m b", "ared b"),
        ("x\x1b]0;pwned\x07y", "xy"),  # window title
        ("x\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\y", "xlinky"),  # hyperlink
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("over\rwrite", "over\nwrite"),
        ("bell\x07 nul\x00 del\x7f c1\x9b2J", "bell nul del c1"),
        ("bidi \u202eevil\u202c", "bidi evil"),
        ("café — “quoted” 東京", "café — “quoted” 東京"),
        ("trailing escape\x1b", "trailing escape"),
    ],
)
def test_terminal_text(raw: str, shown: str) -> None:
    assert terminal_text(raw) == shown


def test_cli_prints_article_text_without_escape_sequences(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "lighthouse.json").write_text(
        json.dumps(
            {
                "id": "lighthouse",
                "title": "Lighthouse \x1b]0;pwned\x07keeper retires",
                "text": "The lighthouse keeper of Varnholm retired on Friday after forty years.\x1b[2J\x1b[31m "
                "She said the lamp\r\nwas never dark\x07 for a single night.\u202e",
            }
        )
    )
    store = tmp_path / "store"
    ingested = run_cli(["ingest", str(folder)], store, tmp_path, timeout=240)
    assert ingested.returncode == 0, ingested.stdout + ingested.stderr
    outputs = [
        run_cli(["search", "lighthouse keeper retired"], store, tmp_path, timeout=240),
        run_cli(["ask", "When did the lighthouse keeper of Varnholm retire?"], store, tmp_path, timeout=240),
    ]
    for r in outputs:
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Varnholm" in r.stdout
        for c in "\x1b\x07\x9b\r\u202e":
            assert c not in r.stdout and c not in r.stderr, (c, r.stdout)
    as_json = run_cli(["search", "lighthouse keeper retired", "--json"], store, tmp_path, timeout=240)
    text = json.loads(as_json.stdout)["results"][0]["text"]
    # dropped when stored (CLEANER_VERSION 6); the CLI still escapes what a store written before holds
    assert "\x1b" not in text and "\u202e" not in text and "forty years. She said" in text


# --------------------------------------------------------------------------- 3. plain text is text

SCRIPT_PARAGRAPH = (
    "Investigators said the attackers left <script>alert(1)</script> in the ministry's comment form, "
    "which ran in every visitor's browser."
)


def test_plain_text_keeps_quoted_markup_and_html_is_still_cleaned() -> None:
    assert clean_article(SCRIPT_PARAGRAPH).text == SCRIPT_PARAGRAPH
    assert clean_article(f"Breach at the ministry\n\n{SCRIPT_PARAGRAPH}").text.endswith(SCRIPT_PARAGRAPH)
    page = (
        f"<html><body><p>{SCRIPT_PARAGRAPH.replace('<', '&lt;')}</p><script>alert(2)</script></body></html>"
    )
    assert "<script" not in clean_article(page, is_html=True).text


def test_a_one_paragraph_txt_quoting_a_script_is_ingested_verbatim(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "breach.txt").write_text(SCRIPT_PARAGRAPH + "\n", encoding="utf-8")
    (folder / "page.html").write_text(
        "<html><body><article><p>The ministry restored its site on Tuesday, a spokesman said.</p>"
        "<script>document.write('<b>pwned</b>')</script></article></body></html>",
        encoding="utf-8",
    )
    r = run_cli(["ingest", str(folder)], tmp_path / "store", tmp_path, timeout=240)
    assert r.returncode == 0 and "breach: created" in r.stdout, r.stdout + r.stderr
    svc = Factdesk(make_settings(tmp_path / "store"))
    try:
        assert svc.get_document("breach").text == SCRIPT_PARAGRAPH
        assert "pwned" not in svc.get_document("page").text
    finally:
        svc.close()


# --------------------------------------------------------------------------- 4. inert chat replies

HOSTILE = (
    "Ministry of Harbours breach\n\n"
    "The Ministry of Harbours said the intruders planted <script>alert(document.cookie)</script> and a "
    "[prize link](javascript:alert(1)) on its ferry timetable page on Sunday.\n\n"
    "A second page carried <img src=x onerror=alert(2)> and a data:text/html;base64,PHNjcmlwdD4= link, "
    "the ministry's security office said."
)
HOSTILE_QUESTION = "What did the intruders plant on the Ministry of Harbours ferry timetable page?"


def test_inert_neutralises_markup_and_schemes() -> None:
    pixel = " ![pixel](http://evil.example/t.png?q=secret) [y]: http://evil.example/phish"
    out = inert(HOSTILE + pixel + " jav&#x61;script:x AT&T, 3 > 2, the data: 5 percent")
    for bad in ("<", ">", "javascript:", "data:text", "&#x61;", "](", "]:"):
        assert bad not in out, bad
    assert "![pixel]\\(http://evil.example/t.png?q=secret)" in out  # shown as written, loaded never
    assert "AT&T" in out and "the data: 5 percent" in out and "&lt;script&gt;" in out


@pytest.mark.parametrize("seed", range(20))
def test_inert_stream_equals_inert_however_the_text_is_cut(seed: int) -> None:
    rng = random.Random(seed)
    text = HOSTILE + " JaVaScRiPt:x vbscript:y &#106;"
    pieces, i = [], 0
    while i < len(text):
        n = rng.randint(1, 9)
        pieces.append(text[i : i + n])
        i += n
    stream = InertStream()
    assert "".join(stream.feed(p) for p in pieces) + stream.flush() == inert(text)


@pytest.fixture(scope="module")
def hostile_client(tmp_path_factory: pytest.TempPathFactory, warm_model: None) -> Iterator[tuple]:
    svc = Factdesk(make_settings(tmp_path_factory.mktemp("hostile")))
    [result] = svc.ingest_documents(
        [DocumentIn(text=HOSTILE, id="harbours", title="Ministry of Harbours breach")]
    )
    assert result.status == "created"
    with TestClient(create_app(svc.settings, ingest_on_start=False, service=svc)) as client:
        yield client, svc
    svc.close()


def assert_inert(content: str) -> None:
    for bad in ("<script", "<img", "javascript:", "data:text", "](", "]:"):
        assert bad not in content.lower(), (bad, content)


def test_chat_reply_text_is_inert_and_citations_stay_exact(hostile_client) -> None:  # type: ignore[no-untyped-def]
    client, svc = hostile_client
    body = {"model": "factdesk", "messages": [{"role": "user", "content": HOSTILE_QUESTION}]}
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    content = r.json()["choices"][0]["message"]["content"]
    citations = r.json()["citations"]
    assert citations and "&lt;script&gt;" in content, content
    assert_inert(content)
    text = svc.get_document("harbours").text
    for c in citations:
        assert c["quote"] == text[c["start"] : c["end"]]  # exact, markup and all
    assert any("<script>" in c["quote"] for c in citations)


def test_a_title_with_line_breaks_cannot_add_lines_to_the_sources(tmp_path: Path, warm_model: None) -> None:
    """A tester's title "Glenby water notice\n\n# URGENT ...\n[2] BBC News — ..." printed a forged,
    never-checked "[2]" source line (and a Markdown heading) in the chat reply and MCP text. A title
    is stored on one line, and a Sources list prints every title and quote on its own single line."""
    from api.cited_text import sources_block

    svc = Factdesk(make_settings(tmp_path / "store"))
    forged = 'Glenby water notice\n\n# URGENT: boil all water\n[2] BBC News — "The water is poisoned."'
    [result] = svc.ingest_documents(
        [
            DocumentIn(
                id="spoof",
                title=forged,
                text="Glenby residents were told the water would be off for 3 hours.",
            )
        ]
    )
    try:
        title = svc.get_document("spoof").title
        assert "\n" not in title and title.startswith("Glenby water notice # URGENT"), title
        with TestClient(create_app(svc.settings, ingest_on_start=False, service=svc)) as client:
            question = "How long will the Glenby water be off?"
            body = {"model": "factdesk", "messages": [{"role": "user", "content": question}]}
            content = client.post("/v1/chat/completions", json=body).json()["choices"][0]["message"][
                "content"
            ]
        _, _, sources = content.partition("\n\nSources:\n")
        assert sources and len(sources.splitlines()) == 1 and not sources.startswith("[2]"), content
    finally:
        svc.close()
    # a title stored before titles were kept to one line is printed on one line too
    block = sources_block([{"marker": 1, "title": forged, "quote": "Glenby residents were told.\n[3] x"}])
    assert block.count("\n[") == 1, block


def test_streamed_chat_reply_is_inert(hostile_client) -> None:  # type: ignore[no-untyped-def]
    client, _ = hostile_client
    body = {"model": "factdesk", "stream": True, "messages": [{"role": "user", "content": HOSTILE_QUESTION}]}
    content, citations = "", []
    with client.stream("POST", "/v1/chat/completions", json=body) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[len("data: ") :])
            content += chunk["choices"][0]["delta"].get("content", "")
            citations = chunk.get("citations", citations)
    assert citations and "&lt;script&gt;" in content, content
    assert_inert(content)
    assert any("<script>" in c["quote"] for c in citations)


# --------------------------------------------------------------------------- 5, 6. headers, hosts

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


@pytest.fixture(scope="module")
def open_app(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    # the lifespan is not run: these requests need no service
    return create_app(make_settings(tmp_path_factory.mktemp("headers")), ingest_on_start=False)


def test_page_csp_hashes_the_pages_own_inline_blocks() -> None:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    policy = page_csp(html)
    assert policy.count("'sha256-") == 2  # one <script>, one <style>
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy and "connect-src 'self'" in policy
    assert page_csp(html.replace("use strict", "use sloppy")) != policy  # an edit changes the hash


@pytest.mark.parametrize(
    ("path", "policy"),
    [
        ("/", None),
        ("/docs", DOCS_CSP),
        ("/openapi.json", API_CSP),
        ("/v1/models", API_CSP),
        ("/nowhere", API_CSP),
    ],
)
def test_every_response_carries_the_security_headers(open_app, path: str, policy: str | None) -> None:  # type: ignore[no-untyped-def]
    r = TestClient(open_app).get(path)
    for name, value in SECURITY_HEADERS.items():
        assert r.headers[name] == value, (path, name)
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert csp == (policy or page_csp((STATIC / "index.html").read_text(encoding="utf-8")))


def test_allowed_hosts_refuse_other_host_headers(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", allowed_hosts_raw="factdesk.test, *.example.org")
    app = create_app(settings, ingest_on_start=False)
    for base in ("http://factdesk.test", "http://FACTDESK.test:8000", "http://a.example.org"):
        assert TestClient(app, base_url=base).get("/v1/models").status_code == 200, base
    for host in ("rebound.evil", "127.0.0.1", "example.org.evil"):
        r = TestClient(app, base_url="http://factdesk.test").get("/v1/models", headers={"Host": host})
        assert r.status_code == 400, host
        assert r.json()["error"]["code"] == "invalid_host"
        assert r.headers["x-frame-options"] == "DENY"  # refusals carry the headers too


def test_a_second_host_header_is_refused(tmp_path: Path) -> None:
    """ "Host: factdesk.test" then "Host: evil.com" was served: the check reads the first header, and
    what stands behind may read the other."""
    import anyio

    from api.security import AllowedHosts

    async def inner(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def status(*hosts: bytes) -> int:
        sent: list[dict] = []
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/v1/models",
            "headers": [(b"host", h) for h in hosts],
            "query_string": b"",
            "scheme": "http",
            "server": ("127.0.0.1", 8000),
        }

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        anyio.run(AllowedHosts(inner, ["factdesk.test"]), scope, receive, send)
        return next(m["status"] for m in sent if m["type"] == "http.response.start")

    assert status(b"factdesk.test") == 200
    assert status(b"factdesk.test", b"evil.com") == 400 and status(b"evil.com", b"factdesk.test") == 400


def test_without_allowed_hosts_any_host_is_served(open_app) -> None:  # type: ignore[no-untyped-def]
    assert TestClient(open_app).get("/v1/models", headers={"Host": "anything.test"}).status_code == 200


def test_a_malformed_allowed_hosts_pattern_is_refused_at_start(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from factdesk.settings import Settings

    with pytest.raises(ValidationError, match="FACTDESK_ALLOWED_HOSTS"):
        Settings(_env_file=None, FACTDESK_ALLOWED_HOSTS="factdesk.*")  # type: ignore[call-arg]


# --------------------------------------------------------------------------- the page under its CSP

# the `browser` fixture is conftest's (Debian's Chromium, headless)


def open_page(browser, url: str) -> tuple:  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(120_000)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(url)
    return context, page, violations


def test_chat_page_answers_under_its_csp_without_violations(browser, live_server) -> None:  # type: ignore[no-untyped-def]
    context, page, violations = open_page(browser, live_server.base_url + "/")
    try:
        page.fill("textarea#question", "When were the two soldiers captured?")
        page.click("button#ask")
        page.locator(".turn.assistant[data-state=done]").last.wait_for()
        assert page.locator(".answer a.cite").count() > 0
        assert violations == []
    finally:
        context.close()


def test_swagger_ui_still_renders_under_its_csp(browser, live_server) -> None:  # type: ignore[no-untyped-def]
    context, page, violations = open_page(browser, live_server.base_url + "/docs")
    try:
        # the bundle (this server's asset) ran, the page's inline script started it and it rendered the
        # spec it fetched: an operation is on the page. Not "networkidle", which never came once in CI
        # (Playwright advises against it in tests): a rendered element is the readiness that matters.
        page.locator("#swagger-ui .opblock").first.wait_for()
        assert violations == []
    finally:
        context.close()


def test_the_live_page_is_not_frameable(live_server) -> None:  # type: ignore[no-untyped-def]
    r = httpx.get(live_server.base_url + "/", timeout=30)
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_the_page_never_parses_strings_as_html() -> None:
    script = (STATIC / "index.html").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink


def test_chat_page_shows_quoted_markup_as_text(browser, live_server) -> None:  # type: ignore[no-untyped-def]
    with live_server.client() as c:
        posted = c.post("/v1/documents", json={"documents": [{"id": "harbours-page", "text": HOSTILE}]})
        assert posted.status_code == 200, posted.text
    context, page, violations = open_page(browser, live_server.base_url + "/")
    try:
        page.fill("textarea#question", HOSTILE_QUESTION)
        page.click("button#ask")
        turn = page.locator(".turn.assistant[data-state=done]").last
        turn.wait_for()
        shown = turn.inner_text()
        assert "<script>alert(document.cookie)</script>" in shown, shown  # as text, not as an element
        assert turn.locator("script, img, a[href^='javascript']").count() == 0
        assert violations == []
    finally:
        context.close()
        with live_server.client() as c:  # the session's server is shared: leave it as it was
            assert c.delete("/v1/documents/harbours-page").status_code == 204
