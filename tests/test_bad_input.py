"""Bad input: every malformed, mistyped, oversized or hostile request is a 4xx with the contract's error
object, and nothing is stored half-way (the documents, chunks, vectors and lexical rows are counted
before and after each request). The CLI's side: bad files are `rejected: <reason>` lines, the exit
status says so, and nothing is stored.

The vectors of every valid text posted here are put in the embedding cache up front (faultkit), so the
module needs no model: all it checks is what reaches the stores.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ARTICLES, SEED_IDS, make_settings
from fastapi.testclient import TestClient
from faultkit import assert_stores_consistent, prefill_cache, prefill_for_files, run_cli, texts_to_embed

from api.app import create_app
from factdesk.service import Factdesk
from retrieval.loaders import load_paths
from retrieval.models import DocumentIn

MAX_BODY = 64 * 1024
MAX_QUESTION = 300
MAX_DOCUMENT = 20_000

GOOD = [
    {"id": f"good-{i}", "text": text}
    for i, text in enumerate(
        [
            "Troops exchanged fire near the border on Tuesday, officials said, as talks stalled again in the capital.",
            "The harbour reopened after the storm, and fishing boats returned with a record catch of herring on Friday.",
            "A new railway line between the two northern cities will open next spring, the transport ministry announced.",
        ]
    )
]
HTML = """<!DOCTYPE html><html><head><title>War report</title><style>body{color:red} .STYLE_MARKER_1{}</style>
<script>var SCRIPT_MARKER_1 = 1;</script><script type="module">import "SCRIPT_MARKER_2";</script></head>
<body><nav>Home | World</nav><article><h1>Fighting continues near the border</h1>
<p>Troops exchanged fire near the border on Tuesday, officials said, as talks stalled again in the capital.</p>
<SCRIPT>document.write('SCRIPT_MARKER_3')</SCRIPT>
<p>The ministry said at least 40 soldiers were wounded in the clashes, which lasted several hours overnight.</p>
<style media="print">.STYLE_MARKER_2{display:none}</style>
<noscript>NOSCRIPT_MARKER enable javascript</noscript><!-- COMMENT_MARKER -->
<img src=x onerror="alert('ONERROR_MARKER')"><template>TEMPLATE_MARKER</template>
<p>Residents were told to stay indoors until further notice, according to a statement from the governor.</p>
<script>unclosed SCRIPT_MARKER_4
</article></body></html>"""
MARKERS = (
    "SCRIPT_MARKER",
    "STYLE_MARKER",
    "NOSCRIPT_MARKER",
    "COMMENT_MARKER",
    "ONERROR_MARKER",
    "TEMPLATE_MARKER",
    "color:red",
    "document.write",
    "<script",
    "<style",
)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Factdesk]:
    data = tmp_path_factory.mktemp("bad-input")
    settings = make_settings(
        data, max_body_bytes=MAX_BODY, max_question_chars=MAX_QUESTION, max_document_chars=MAX_DOCUMENT
    )
    prefill_for_files(data, sorted(ARTICLES.glob("*.txt")))
    prefill_cache(
        data,
        texts_to_embed(
            settings, [DocumentIn(text=d["text"]) for d in GOOD] + [DocumentIn(text=HTML, is_html=True)]
        ),
    )
    svc = Factdesk(settings)
    assert [r.status for r in svc.ingest_paths([ARTICLES])] == ["created"] * len(SEED_IDS)
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def client(service: Factdesk) -> Iterator[TestClient]:
    # raise_server_exceptions=False: a bug must show up as the 500 a real client would get
    with TestClient(
        create_app(service.settings, ingest_on_start=False, service=service), raise_server_exceptions=False
    ) as c:
        yield c


def snapshot(client: TestClient, svc: Factdesk) -> tuple:
    listed = sorted(d["id"] for d in client.get("/v1/documents").json()["documents"])
    return (
        listed,
        svc.catalog.count(),
        svc.vectors.count(),
        svc.catalog.lexical_row_count(),
        svc.catalog.unfinished(),
    )


@pytest.fixture
def unchanged(client: TestClient, service: Factdesk) -> Iterator[None]:
    """The test's requests store nothing: the same documents, chunks, vectors and lexical rows after."""
    before = snapshot(client, service)
    yield
    assert snapshot(client, service) == before


def assert_error(r, status: int | tuple[int, ...], code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    statuses = (status,) if isinstance(status, int) else status
    assert r.status_code in statuses, (r.status_code, r.text[:500])
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- malformed bodies

POST_ROUTES = ["/v1/documents", "/v1/search", "/v1/ask", "/v1/summarize", "/v1/chat/completions"]
MALFORMED = [
    b"{",
    b"{not json",
    b'{"query": "x",}',
    b"{'question': 'x'}",
    b'{"documents": [}',
    b"[1, 2",
    b"nul",
    b'"unterminated',
    b"\xff\xfe\x00{",
    b'{"question": "\xff\xfe"}',
    b'{"documents": [{"text": "caf\xe9"}]}',
    b'{"query": "a"} trailing',
    b'{"question": "x" "y"}',
    b"NaN",
]


@pytest.mark.parametrize("path", POST_ROUTES)
@pytest.mark.parametrize("raw", MALFORMED, ids=[f"m{i}" for i in range(len(MALFORMED))])
def test_malformed_json_is_400(client: TestClient, unchanged: None, path: str, raw: bytes) -> None:
    r = client.post(path, content=raw, headers={"content-type": "application/json"})
    assert_error(r, 400)


@pytest.mark.parametrize("path", POST_ROUTES)
def test_empty_and_non_json_bodies_are_400(client: TestClient, unchanged: None, path: str) -> None:
    assert_error(client.post(path), 400)
    assert_error(client.post(path, content=b"", headers={"content-type": "application/json"}), 400)
    assert_error(
        client.post(
            path, content=b"question=x", headers={"content-type": "application/x-www-form-urlencoded"}
        ),
        400,
    )
    assert_error(client.post(path, content=b"null", headers={"content-type": "application/json"}), 400)


# --------------------------------------------------------------------------- wrong types, missing fields, empty values

INVALID = [
    # documents
    ("/v1/documents", {}),
    ("/v1/documents", {"documents": "x"}),
    ("/v1/documents", {"documents": []}),
    ("/v1/documents", {"documents": [{}]}),
    ("/v1/documents", {"documents": [{"title": "no text"}]}),
    ("/v1/documents", {"documents": [{"text": 5}]}),
    ("/v1/documents", {"documents": [{"text": ["a"]}]}),
    ("/v1/documents", {"documents": [{"text": None}]}),
    ("/v1/documents", {"documents": [{"text": "ok", "title": 5}]}),
    ("/v1/documents", {"documents": [{"text": "ok", "is_html": "yes"}]}),
    ("/v1/documents", {"documents": [{"text": "ok", "published_at": 20240101}]}),
    ("/v1/documents", {"documents": [{"text": "ok", "published_at": "yesterday"}]}),
    ("/v1/documents", {"documents": [{"text": "ok", "url": ["http://x"]}]}),
    ("/v1/documents", {"documents": [{"text": "ok", "title": "t" * 1001}]}),
    ("/v1/documents", {"documents": [GOOD[0]], "extra": 1}),
    ("/v1/documents", {"documents": [{**GOOD[0], "unknown_field": 1}]}),
    ("/v1/documents", [GOOD[0]]),
    # search
    ("/v1/search", {}),
    ("/v1/search", {"query": None}),
    ("/v1/search", {"query": ""}),
    ("/v1/search", {"query": "  \n"}),
    ("/v1/search", {"query": 5}),
    ("/v1/search", {"query": ["a"]}),
    ("/v1/search", {"query": "x", "document_ids": "abc"}),
    ("/v1/search", {"query": "x", "document_ids": ["../x"]}),
    ("/v1/search", {"query": "x", "published_after": "soon"}),
    ("/v1/search", {"query": "x", "sources": "a"}),
    ("/v1/search", {"query": "x" * (MAX_QUESTION + 1)}),
    # ask
    ("/v1/ask", {}),
    ("/v1/ask", {"question": ""}),
    ("/v1/ask", {"question": "   "}),
    ("/v1/ask", {"question": 42}),
    ("/v1/ask", {"question": {"q": 1}}),
    ("/v1/ask", {"question": "x", "stream": "yes"}),
    ("/v1/ask", {"question": "x", "history": "earlier"}),
    ("/v1/ask", {"question": "x", "history": [1]}),
    ("/v1/ask", {"question": "x", "history": ["y" * (MAX_QUESTION + 1)]}),
    ("/v1/ask", {"question": "x" * (MAX_QUESTION + 1)}),
    ("/v1/ask", {"question": "x" * (MAX_QUESTION + 1), "stream": True}),
    ("/v1/ask", {"question": "x", "document_ids": ["a/b"]}),
    ("/v1/ask", {"question": "x", "topk": 3}),
    # summarize
    ("/v1/summarize", {"max_words": 0}),
    ("/v1/summarize", {"max_words": 9}),
    ("/v1/summarize", {"max_words": 2001}),
    ("/v1/summarize", {"max_words": "100"}),
    ("/v1/summarize", {"query": ""}),
    ("/v1/summarize", {"document_ids": [""]}),
    ("/v1/summarize", {"query": "q" * (MAX_QUESTION + 1)}),
    ("/v1/summarize", {"document_ids": "x"}),
    # chat
    ("/v1/chat/completions", {}),
    ("/v1/chat/completions", {"messages": []}),
    ("/v1/chat/completions", {"messages": "hi"}),
    ("/v1/chat/completions", {"messages": [{"role": "system", "content": "hi"}]}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": ""}]}),
    ("/v1/chat/completions", {"messages": [{"role": "user"}]}),
    ("/v1/chat/completions", {"messages": [{"content": "no role"}]}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "q" * (MAX_QUESTION + 1)}]}),
]


@pytest.mark.parametrize(
    "path,body", INVALID, ids=[f"{p.rsplit('/', 1)[1]}-{i}" for i, (p, _) in enumerate(INVALID)]
)
def test_invalid_body_is_400(client: TestClient, unchanged: None, path: str, body: object) -> None:
    err = assert_error(client.post(path, json=body), 400, "invalid_request")
    if isinstance(body, dict) and "x" * (MAX_QUESTION + 1) in json.dumps(body):
        assert "x" * 50 not in err["message"]  # the rejected value is not echoed back


TOP_K = [0, -1, 10**9, 51, "5", 5.5, True, [], {}, "ten"]


@pytest.mark.parametrize("top_k", TOP_K, ids=[repr(k) for k in TOP_K])
def test_top_k_out_of_range_or_mistyped_is_400(client: TestClient, unchanged: None, top_k: object) -> None:
    assert_error(
        client.post("/v1/search", json={"query": "soldiers", "top_k": top_k}), 400, "invalid_request"
    )
    assert_error(
        client.post("/v1/ask", json={"question": "soldiers", "top_k": top_k}), 400, "invalid_request"
    )
    assert_error(client.post("/v1/ask", json={"question": "soldiers", "top_k": top_k, "stream": True}), 400)
    if isinstance(top_k, int) and not isinstance(
        top_k, bool
    ):  # the OpenAI-compatible route coerces "5" and true
        chat = {"messages": [{"role": "user", "content": "soldiers"}], "top_k": top_k}
        assert_error(client.post("/v1/chat/completions", json=chat), 400)


# --------------------------------------------------------------------------- document ids

BAD_IDS = [
    "../x",
    "a/b",
    "a\\b",
    "a\nb",
    "\x00",
    "abc\n",
    "a\tb",
    "..",
    ".",
    "-lead",
    "x" * 129,
    " ",
    "a b",
    "../../etc/passwd",
    "/etc/passwd",
    "C:\\Windows",
    "a\rb",
    "a\u2028b",
    "é",
]


@pytest.mark.parametrize("doc_id", BAD_IDS, ids=[f"id{i}" for i in range(len(BAD_IDS))])
def test_bad_document_id_is_400_in_the_body(client: TestClient, unchanged: None, doc_id: str) -> None:
    body = {"documents": [{"id": doc_id, "text": GOOD[0]["text"]}]}
    assert_error(client.post("/v1/documents", json=body), 400, "invalid_request")
    assert_error(client.post("/v1/summarize", json={"document_ids": [doc_id]}), 400, "invalid_request")
    assert_error(
        client.post("/v1/search", json={"query": "x", "document_ids": [doc_id]}), 400, "invalid_request"
    )


@pytest.mark.parametrize("doc_id", BAD_IDS, ids=[f"id{i}" for i in range(len(BAD_IDS))])
def test_bad_document_id_is_400_in_the_path(client: TestClient, unchanged: None, doc_id: str) -> None:
    from urllib.parse import quote

    path = "/v1/documents/" + quote(doc_id, safe="")
    if doc_id in ("..", "."):
        # a dot segment is resolved by the client before it is sent: another route answers, never a 5xx
        assert client.get(path).status_code < 500
        assert client.delete(path).status_code < 500
        return
    assert_error(client.get(path), 400, "invalid_request")
    assert_error(client.delete(path), 400, "invalid_request")


@pytest.mark.parametrize("doc_id", ["no-such-doc", "x" * 128, "good-99"])
def test_unknown_document_is_404(client: TestClient, unchanged: None, doc_id: str) -> None:
    assert_error(client.get(f"/v1/documents/{doc_id}"), 404, "not_found")
    assert_error(client.delete(f"/v1/documents/{doc_id}"), 404, "not_found")
    assert_error(client.post("/v1/summarize", json={"document_ids": [doc_id]}), 404, "not_found")


# --------------------------------------------------------------------------- sizes


def test_body_over_the_limit_is_413(client: TestClient, unchanged: None) -> None:
    big = {"documents": [{"text": "word " * (MAX_BODY // 4)}]}
    err = assert_error(client.post("/v1/documents", json=big), 413, "payload_too_large")
    assert str(MAX_BODY) in err["message"]
    assert_error(client.post("/v1/ask", json={"question": "q" * (MAX_BODY + 10)}), 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts what arrives
        yield b'{"documents": [{"text": "'
        for _ in range(MAX_BODY // 1024 + 2):
            yield b"x" * 1024
        yield b'"}]}'

    r = client.post("/v1/documents", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert_error(r, 413, "payload_too_large")


def test_50_mb_json_body_is_413_without_being_parsed(client: TestClient, unchanged: None) -> None:
    body = b'{"documents": [{"text": "' + b"a" * (50 * 1024 * 1024) + b'"}]}'
    t0 = time.monotonic()
    r = client.post("/v1/documents", content=body, headers={"content-type": "application/json"})
    assert_error(r, 413, "payload_too_large")
    assert time.monotonic() - t0 < 30


def test_document_longer_than_the_limit_is_rejected_and_not_stored(
    client: TestClient, unchanged: None
) -> None:
    r = client.post(
        "/v1/documents", json={"documents": [{"id": "too-long", "text": "word " * (MAX_DOCUMENT // 4)}]}
    )
    assert r.status_code == 200
    (result,) = r.json()["results"]
    assert result["status"].startswith("rejected: ") and str(MAX_DOCUMENT) in result["status"]
    assert result["chunks"] == 0


# --------------------------------------------------------------------------- per-document rejections and mixed batches

REJECTED_TEXTS = ["", "   \n\t ", "x \x00 y", "abc \ud800 def", "<script>only()</script>"]


@pytest.mark.parametrize(
    "text", REJECTED_TEXTS, ids=["empty", "blank", "nul", "lone-surrogate", "script-only-html"]
)
def test_unusable_text_is_a_rejected_result_and_stores_nothing(
    client: TestClient, unchanged: None, text: str
) -> None:
    doc = {"text": text, "is_html": text.startswith("<")}
    r = client.post(
        "/v1/documents",
        content=json.dumps({"documents": [doc]}),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 200, r.text
    (result,) = r.json()["results"]
    assert result["status"].startswith("rejected: ") and result["chunks"] == 0


@pytest.mark.parametrize("field", ["title", "source", "url"])
def test_a_lone_surrogate_in_a_field_is_said_plainly(client: TestClient, unchanged: None, field: str) -> None:
    """The field's own check (a length limit) read it first, as "unable to parse raw data as a unicode
    string"; the same words as for such a text are given, with the field's place."""
    doc = {"text": "The ferry ran late because of fog.", field: "Fog \ud800 report"}
    r = client.post(
        "/v1/documents",
        content=json.dumps({"documents": [doc]}),
        headers={"content-type": "application/json"},
    )
    message = assert_error(r, 400, "invalid_request")["message"]
    assert message == f"documents.0.{field}: is not valid Unicode text (it contains a lone surrogate)", (
        message
    )


def test_mixed_batch_with_an_unusable_document_stores_exactly_the_good_ones(
    client: TestClient, service: Factdesk
) -> None:
    """Per-document outcome: the batch is 200, the bad document is `rejected: <reason>`, the others are
    stored whole (a validation error in the batch's shape is a 400 for all of it, see the next test)."""
    before = {d["id"] for d in client.get("/v1/documents").json()["documents"]}
    batch = [GOOD[0], {"id": "empty-one", "text": "  "}, GOOD[1], {"id": "nul-one", "text": "a\x00b"}]
    r = client.post("/v1/documents", json={"documents": batch})
    assert r.status_code == 200, r.text
    statuses = [x["status"] for x in r.json()["results"]]
    assert statuses[0] == statuses[2] == "created"
    assert statuses[1].startswith("rejected: ") and statuses[3].startswith("rejected: ")
    after = {d["id"] for d in client.get("/v1/documents").json()["documents"]}
    assert after - before == {"good-0", "good-1"}
    assert_stores_consistent(service)
    for doc_id in ("good-0", "good-1"):
        assert client.delete(f"/v1/documents/{doc_id}").status_code == 204
    assert {d["id"] for d in client.get("/v1/documents").json()["documents"]} == before


BAD_IN_BATCH = [
    {"id": "../x", "text": "t"},
    {"text": 5},
    {"text": "ok", "path": "/etc/passwd"},
    {"text": "ok", "published_at": "yesterday"},
    {"text": "ok", "title": "\ud800"},
]


@pytest.mark.parametrize(
    "bad", BAD_IN_BATCH, ids=["bad-id", "wrong-type", "unknown-field", "bad-date", "bad-title"]
)
def test_mixed_batch_with_an_invalid_document_is_400_and_stores_nothing(
    client: TestClient, unchanged: None, bad: dict
) -> None:
    r = client.post(
        "/v1/documents",
        content=json.dumps({"documents": [GOOD[2], bad, GOOD[1]]}),
        headers={"content-type": "application/json"},
    )
    assert_error(r, 400, "invalid_request")


# --------------------------------------------------------------------------- HTML


def test_html_scripts_and_styles_never_reach_the_stored_text(client: TestClient, service: Factdesk) -> None:
    r = client.post("/v1/documents", json={"documents": [{"id": "html-page", "text": HTML, "is_html": True}]})
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "created", r.text
    try:
        text = client.get("/v1/documents/html-page").json()["text"]
        assert "Troops exchanged fire near the border" in text and "40 soldiers were wounded" in text
        for marker in MARKERS:
            assert marker not in text, marker
        chunks = service.catalog.chunks_of("html-page")
        fts = service.catalog._query(
            "SELECT f.text FROM chunks_fts f JOIN chunks c ON c.rowid = f.rowid "
            "WHERE c.document_id = 'html-page'"
        )
        for piece in [c.text for c in chunks] + [row[0] for row in fts]:
            assert not any(m in piece for m in MARKERS)
        assert service.catalog.lexical_search('"SCRIPT_MARKER_1" OR "STYLE_MARKER_1" OR "alert"', 10) == []
    finally:
        assert client.delete("/v1/documents/html-page").status_code == 204


def test_control_characters_and_bidi_overrides_are_not_stored(client: TestClient) -> None:
    """A right-to-left override shows a title or a cited quote reversed; a bell, a backspace and a
    terminal colour code are not text. They are dropped from titles and text; line ends stay (a page
    break mid-sentence, as a hard wrap, joins the sentence's two lines again)."""
    title = "Mayor \u202eresigns\u202c today \u0007\u001b[31mRED\u001b[0m"
    text = (
        "The mayor of Dunmore resigned on \u202eFriday\u202c after\b a vote.\x1b[0m\n\n"
        "Her deputy\x0c will act \u2067until\u2069 an election in May.\x85"
    )
    source, url = "src\u0000\u202e<img src=x>", "https://example.org/\u202emayor\u0007"
    r = client.post(
        "/v1/documents",
        json={"documents": [{"id": "ctl", "title": title, "text": text, "source": source, "url": url}]},
    )
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "created", r.text
    try:
        doc = client.get("/v1/documents/ctl").json()
        assert doc["title"] == "Mayor resigns today RED"
        assert (doc["source"], doc["url"]) == ("src<img src=x>", "https://example.org/mayor")  # labels, too
        assert doc["text"] == (
            "The mayor of Dunmore resigned on Friday after a vote.\n\nHer deputy will act until an election in May."
        )
    finally:
        assert client.delete("/v1/documents/ctl").status_code == 204


def test_html_is_also_spelt_as_the_json_files_spell_it(client: TestClient) -> None:
    """A record from a .json file ("html": true) posts as it is; the flag is as strict either way."""
    r = client.post("/v1/documents", json={"documents": [{"id": "html-alias", "text": HTML, "html": True}]})
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "created", r.text
    try:
        text = client.get("/v1/documents/html-alias").json()["text"]
        assert "Troops exchanged fire near the border" in text and not any(m in text for m in MARKERS)
    finally:
        assert client.delete("/v1/documents/html-alias").status_code == 204
    r = client.post("/v1/documents", json={"documents": [{"text": HTML, "html": "yes"}]})
    assert_error(r, 400, "invalid_request")


# --------------------------------------------------------------------------- the CLI


def make_bad_files(folder: Path) -> dict[str, str]:
    """File name -> the reason its `rejected:` line must give."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, tuple[bytes, str]] = {
        "binary.txt": (bytes(range(256)) * 4, "binary file"),
        "photo.png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "unsupported file type .png"),
        "Makefile": (b"all:\n\techo hi\n", "unsupported file type (none)"),
        "archive.tar.gz": (b"\x1f\x8b\x08\x00", "unsupported file type .gz"),
        "program.exe": (b"MZ\x90\x00", "unsupported file type .exe"),
        "empty.txt": (b"", "text is empty"),
        "blank.md": (b"   \n\n\t\n", "text is empty"),
        "broken.json": (b"{not json", "invalid JSON"),
        "notext.json": (b'{"title": "no text here"}', 'needs a "text" string'),
        "surrogate.json": (b'{"text": "abc \\ud800 def and more words here"}', "not valid Unicode"),
        "badid.json": (
            b'{"id": "../../etc/passwd", "text": "Troops fought near the border."}',
            "document id",
        ),
        "scripts.html": (
            b"<html><head><script>x()</script><style>p{}</style></head><body></body></html>",
            "nothing left after cleaning",
        ),
        "late-nul.txt": (b"word " * 2000 + b"\x00 more", "NUL"),
    }
    reasons = {}
    for name, (content, reason) in files.items():
        (folder / name).write_bytes(content)
        reasons[name] = reason
    with open(folder / "huge.txt", "wb") as f:  # 50 MB, sparse: no disk is used
        f.truncate(50 * 1024 * 1024)
    reasons["huge.txt"] = "file is larger than"
    (folder / "lines.jsonl").write_text('{"text": 5}\nnot json\n\n', encoding="utf-8")
    reasons["lines.jsonl"] = "JSON"
    return reasons


def test_cli_rejects_every_bad_file_with_a_reason_and_stores_nothing(tmp_path: Path) -> None:
    reasons = make_bad_files(tmp_path / "bad")
    data = tmp_path / "store"
    t0 = time.monotonic()
    r = run_cli(["ingest", str(tmp_path / "bad")], data, tmp_path, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr  # everything was rejected
    assert time.monotonic() - t0 < 100
    lines = [ln for ln in r.stdout.splitlines() if not ln.startswith("total:")]
    assert all(": rejected: " in ln for ln in lines), lines
    for name, reason in reasons.items():
        label = (
            "../../etc/passwd" if name == "badid.json" else Path(name).stem.replace(".", "-")
        )  # the record's id
        mine = [ln for ln in lines if f"/{name}" in ln or ln.startswith(label + ":")]
        assert mine, (name, lines)
        assert all(reason in ln for ln in mine), (name, reason, mine)
    assert len([ln for ln in lines if "lines.jsonl" in ln]) == 2
    assert r.stdout.splitlines()[-1].startswith(f"total: {len(lines)} documents ({len(lines)} rejected)")
    assert "Traceback" not in r.stderr
    doctor = json.loads(run_cli(["doctor"], data, tmp_path).stdout)
    assert doctor["documents"] == doctor["chunks"] == doctor["vectors"] == doctor["lexical_rows"] == 0


def test_cli_mixed_folder_stores_the_good_files_only_and_html_without_scripts(tmp_path: Path) -> None:
    reasons = make_bad_files(tmp_path / "mixed")
    good = tmp_path / "mixed" / "good-report.txt"
    good.write_text(GOOD[0]["text"] + "\n", encoding="utf-8")
    (tmp_path / "mixed" / "page.html").write_text(HTML, encoding="utf-8")
    data = tmp_path / "store"
    settings = make_settings(data)
    prefill_cache(
        data,
        texts_to_embed(
            settings, [DocumentIn(text=good.read_text(encoding="utf-8")), DocumentIn(text=HTML, is_html=True)]
        ),
    )
    r = run_cli(["ingest", str(tmp_path / "mixed")], data, tmp_path, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "good-report: created" in r.stdout and "page: created" in r.stdout
    assert r.stdout.count(": rejected: ") == len(reasons) + 1  # lines.jsonl has two bad lines
    svc = Factdesk(settings)
    try:
        assert sorted(d.id for d in svc.list_documents()) == ["good-report", "page"]
        text = svc.get_document("page").text
        assert "Troops exchanged fire" in text and not any(m in text for m in MARKERS)
        assert_stores_consistent(svc)
    finally:
        svc.close()


def test_oversized_file_is_rejected_by_its_size_without_being_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    huge = folder / "huge.txt"
    with open(huge, "wb") as f:
        f.truncate(50 * 1024 * 1024)
    opened: list[str] = []
    real_read_bytes, real_open = Path.read_bytes, Path.open

    def spy_read_bytes(self: Path) -> bytes:
        opened.append(self.name)
        return real_read_bytes(self)

    def spy_open(self: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(self.name)
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_bytes", spy_read_bytes)
    monkeypatch.setattr(Path, "open", spy_open)
    (loaded,) = list(load_paths([folder], max_bytes=20 * 1024 * 1024))
    assert loaded.document is None and loaded.error == f"file is larger than {20 * 1024 * 1024} bytes"
    assert "huge.txt" not in opened
