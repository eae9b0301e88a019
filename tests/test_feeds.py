"""Tests for feeds and URLs: retrieval/feeds.py (pure), retrieval/fetch.py (httpx) and
`Factdesk.ingest_sources` against a local news site (tests/feedserver.py) on a free port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import make_settings
from feedserver import FURNITURE, STORIES, Site, _handler, article_page, atom, gzip_bomb, rss, serve_site

from factdesk.service import Factdesk
from retrieval.errors import InvalidInput
from retrieval.feeds import is_feed, page_document, parse_feed, url_id

RSS_DATES = {
    "harbour": ("Sun, 02 Mar 2025 08:30:00 GMT", "2025-03-02T08:30:00+00:00"),
    "budget": ("Tue, 04 Mar 2025 18:00:00 +0100", "2025-03-04T17:00:00+00:00"),
    "ferry": ("Wed, 05 Mar 2025 07:15:00 GMT", "2025-03-05T07:15:00+00:00"),
}
FAILING = {  # path -> the reason on its `rejected:` line
    "/gone": "HTTP 404 Not Found",
    "/photo.jpg": "unsupported content type image/jpeg",
    "/huge": "larger than 65536 bytes",
    "/loop-a": "more than 3 redirects",
    "/slow": "timed out after 1 s",
    # the timeout is the whole response's, headers included (a header line a fraction of a second
    # was never timed out); a body is decompressed in bounded steps, one layer only
    "/slow-headers": "timed out after 1 s",
    "/gzip-bomb": "larger than 65536 bytes",
    "/gzip-twice": "unsupported content encoding gzip, gzip",
}


# --------------------------------------------------------------------------- pure parts


def test_parse_rss_items_in_order_with_titles_dates_and_links() -> None:
    body = rss("http://news.test", [(STORIES[k][0], f"/a/{k}", RSS_DATES[k][0]) for k in RSS_DATES])
    feed = parse_feed(body, "http://news.test/feed.xml")
    assert feed.title == "The Coast Gazette"
    assert [i.url for i in feed.items] == [f"http://news.test/a/{k}" for k in RSS_DATES]
    assert [i.title for i in feed.items] == [STORIES[k][0] for k in RSS_DATES]
    assert [i.published_at for i in feed.items] == [iso for _, iso in RSS_DATES.values()]


def test_parse_atom_resolves_relative_links_and_markup_in_titles() -> None:
    body = atom(
        "http://news.test/site",
        [("AT&amp;amp;T &lt;em&gt;cuts&lt;/em&gt; jobs", "/a/x", "2025-03-01T10:00:00Z")],
    )
    (item,) = parse_feed(body, "http://news.test/atom.xml").items
    assert item.url == "http://news.test/site/a/x"
    assert item.title == "AT&T cuts jobs"
    assert item.published_at == "2025-03-01T10:00:00+00:00"


def test_cdata_titles_keep_their_bare_angle_brackets_and_ampersands() -> None:
    body = rss(
        "http://news.test",
        [
            ("<![CDATA[Rates: 3 < 4 & 5 > 2]]>", "/a/rates", RSS_DATES["harbour"][0]),
            ("<![CDATA[Profits <b>beat</b> forecast]]>", "/a/profits", RSS_DATES["budget"][0]),
        ],
    )
    titles = [i.title for i in parse_feed(body, "http://news.test/feed.xml").items]
    assert titles == ["Rates: 3 < 4 & 5 > 2", "Profits beat forecast"]


def test_not_a_feed_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        parse_feed(b"<html><body><p>Hello</p></body></html>", "http://news.test/")


def test_feed_is_recognised_by_type_or_by_its_root_element() -> None:
    assert is_feed("application/rss+xml; charset=utf-8", b"")
    assert is_feed("text/html", b'<?xml version="1.0"?>\n<!-- generator --><rss version="2.0">')
    assert is_feed(None, b"<feed xmlns='http://www.w3.org/2005/Atom'>")
    assert not is_feed("text/html", b"<!doctype html><html>")


def test_url_ids_are_valid_stable_and_distinct() -> None:
    assert url_id("https://news.test/2025/03/harbour-reopens/") == "news.test-2025-03-harbour-reopens"
    long_a, long_b = "https://news.test/" + "a" * 300, "https://news.test/" + "a" * 299 + "b"
    assert url_id(long_a) != url_id(long_b) and len(url_id(long_a)) <= 128
    assert url_id("https://news.test/story?id=1") != url_id("https://news.test/story?id=2")


def test_item_dates_are_read_strictly_and_a_date_that_is_none_is_said() -> None:
    """A pubDate that is no date (month 13, an offset of +2400, 31 February, "yesterday") is left out
    with a warning, never rolled over into another date; RFC 822 (zone names, two-digit years, no
    time) and ISO 8601 are read."""
    dates = {
        "2025-13-45T99:00:00Z": None,
        "Tue, 04 Mar 2025 09:15:00 +2400": None,
        "Mon, 31 Feb 2025 10:00:00 GMT": None,
        "yesterday afternoon": None,
        "12/03/2025": None,
        "Tue, 04 Mar 2025 18:00:00 EST": "2025-03-04T23:00:00+00:00",
        "04 Mar 25 18:00 PST": "2025-03-05T02:00:00+00:00",
        "Tue, 04 Mar 2025": "2025-03-04T00:00:00+00:00",
        "2025-03-04T10:00:00+02:00": "2025-03-04T08:00:00+00:00",
    }
    feed = parse_feed(
        rss("http://news.test", [(f"t{i}", f"/a/{i}", d) for i, d in enumerate(dates)]), "http://news.test/f"
    )
    for item, (raw, iso) in zip(feed.items, dates.items()):
        assert item.published_at == iso, raw
        assert item.warnings == (() if iso else (f"published_at ignored: {raw!r} is not a date",)), raw
    page = page_document("http://news.test/a/0", "text/html", article_page("harbour"), feed.items[0])
    assert page.published_at is None and page.warnings == feed.items[0].warnings


def test_an_item_without_a_link_is_not_fetched_at_its_id() -> None:
    """An item with no <link> whose <id> or <guid> is no URL ("a3") has no page: feedparser's guess
    (the id resolved against the feed's address) is not fetched. A permalink id is the page."""
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:x</id>'
        b"<entry><title>no link</title><id>a3</id></entry>"
        b"<entry><title>urn</title><id>urn:uuid:1234</id></entry>"
        b"<entry><title>permalink</title><id>http://x.test/story</id></entry>"
        b'<entry><title>linked</title><id>a4</id><link href="/news/a4.html"/></entry></feed>'
    )
    urls = [i.url for i in parse_feed(body, "http://news.test/atom.xml").items]
    assert urls == [None, None, "http://x.test/story", "http://news.test/news/a4.html"]
    rss_body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>R</title><item><title>g</title><guid>g3</guid></item></channel></rss>'
    assert [i.url for i in parse_feed(rss_body, "http://news.test/feed.xml").items] == [None]


def test_page_document_takes_the_feed_items_title_and_date() -> None:
    from retrieval.feeds import FeedItem

    item = FeedItem("http://news.test/a/harbour", "Feed headline", "2025-03-02T08:30:00+00:00")
    doc = page_document("http://news.test/a/harbour", "text/html", article_page("harbour"), item)
    assert (doc.title, doc.published_at, doc.source, doc.is_html) == (
        "Feed headline",
        "2025-03-02T08:30:00+00:00",
        "news.test",
        True,
    )
    with pytest.raises(InvalidInput, match="not an article page"):
        page_document("http://news.test/x.zip", "application/zip", b"PK")


def test_page_document_honours_the_declared_charset() -> None:
    page = "<html><body><article><h1>Zürich café</h1><p>Le café de Zürich a rouvert lundi matin.</p></article></body></html>"
    doc = page_document("http://news.test/z", "text/html; charset=iso-8859-1", page.encode("latin-1"))
    assert "Le café de Zürich a rouvert lundi matin." in doc.text


# --------------------------------------------------------------------------- against a live site


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with serve_site() as s:
        for key in STORIES:
            s.add(f"/news/{key}.html", article_page(key))
        s.redirect("/short/ferry", "/news/ferry.html")  # one hop: followed
        s.add("/photo.jpg", b"\xff\xd8\xff\xe0 not really a jpeg", "image/jpeg")
        s.redirect("/loop-a", "/loop-b")
        s.redirect("/loop-b", "/loop-a")
        items = [(STORIES["harbour"][0], "/news/harbour.html", RSS_DATES["harbour"][0])]
        items.append((STORIES["budget"][0], "/news/budget.html", RSS_DATES["budget"][0]))
        items.append((STORIES["ferry"][0], "/short/ferry", RSS_DATES["ferry"][0]))
        items += [(f"Broken item {p}", p, RSS_DATES["ferry"][0]) for p in FAILING]
        s.add("/feed.xml", rss(s.base, items), "application/rss+xml")
        s.add(
            "/atom.xml",
            atom(s.base, [(STORIES["school"][0], "/news/school.html", "2025-03-06T12:00:00Z")]),
            "application/atom+xml",
        )
        yield s


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory, warm_model: None) -> Iterator[Factdesk]:
    settings = make_settings(
        tmp_path_factory.mktemp("feeds") / "data",
        fetch_timeout_s=1.0,
        fetch_max_bytes=65536,
        fetch_max_redirects=3,
    )
    service = Factdesk(settings)
    yield service
    service.close()


@pytest.fixture(scope="module")
def two_runs(svc: Factdesk, site: Site) -> tuple[list, list]:
    first = svc.ingest_sources([f"{site.base}/feed.xml"])
    mark = len(site.log)
    second = svc.ingest_sources([f"{site.base}/feed.xml"])
    site.second_run_log = site.log[mark:]  # type: ignore[attr-defined]
    return first, second


def test_feed_items_are_stored_with_the_feeds_titles_and_dates(svc: Factdesk, site: Site, two_runs) -> None:
    first, _ = two_runs
    created = {r.id: r for r in first if r.status == "created"}
    assert len(created) == 3, [(r.id, r.status) for r in first]
    for key, (_, iso) in RSS_DATES.items():
        path = "/short/ferry" if key == "ferry" else f"/news/{key}.html"
        doc = svc.get_document(url_id(site.base + path))
        assert doc.title == STORIES[key][0]  # the feed's, not the page's "... | The Coast Gazette"
        assert doc.published_at == iso and doc.published_ts is not None
        assert doc.url == site.base + path and doc.source == "127.0.0.1"
        for paragraph in STORIES[key][2]:
            assert paragraph in doc.text


def test_no_page_furniture_in_the_stored_text(svc: Factdesk, two_runs) -> None:
    for doc in svc.list_documents():
        for junk in FURNITURE:
            assert junk not in doc.text, (doc.id, junk, doc.text)


def test_each_failing_item_is_rejected_with_its_reason_and_the_others_land(site: Site, two_runs) -> None:
    first, _ = two_runs
    rejected = {r.id: r.status for r in first if r.status.startswith("rejected")}
    assert rejected == {site.base + path: f"rejected: {reason}" for path, reason in FAILING.items()}


def test_second_run_adds_nothing_and_the_server_answers_304(svc: Factdesk, site: Site, two_runs) -> None:
    first, second = two_runs
    good = {r.id for r in first if not r.status.startswith("rejected")}
    assert {r.id: r.status for r in second if r.id in good} == dict.fromkeys(good, "unchanged")
    assert len(svc.list_documents()) == 3
    log = dict(site.second_run_log)  # type: ignore[attr-defined]
    assert log["/feed.xml"] == 304
    assert log["/news/harbour.html"] == log["/news/budget.html"] == log["/news/ferry.html"] == 304
    # the failed items are tried again, and fail again, each on its own line
    assert {r.id for r in second if r.status.startswith("rejected")} == {site.base + p for p in FAILING}


def test_atom_feed(svc: Factdesk, site: Site, two_runs) -> None:
    (r,) = svc.ingest_sources([f"{site.base}/atom.xml"])
    assert r.status == "created"
    doc = svc.get_document(r.id)
    assert doc.title == STORIES["school"][0] and doc.published_at == "2025-03-06T12:00:00+00:00"


def test_a_single_article_url_uses_the_pages_headline(tmp_path: Path, site: Site, warm_model: None) -> None:
    svc = Factdesk(make_settings(tmp_path / "data"))
    try:
        (r,) = svc.ingest_sources([f"{site.base}/news/budget.html"])
        assert r.status == "created", r.status
        doc = svc.get_document(r.id)
        assert "Council approves sea wall budget" in doc.title and doc.published_at is None

        # (another test's timed-out /slow request may finish and be logged meanwhile)
        def requests_since(mark: int) -> list[tuple[str, int]]:
            return [e for e in site.log[mark:] if e[0] != "/slow"]

        mark = len(site.log)
        (again,) = svc.ingest_sources([f"{site.base}/news/budget.html"])
        assert again.status == "unchanged" and requests_since(mark) == [("/news/budget.html", 304)]
        # a page whose document was deleted is fetched whole again, not taken for unchanged
        svc.delete_document(r.id)
        mark = len(site.log)
        (back,) = svc.ingest_sources([f"{site.base}/news/budget.html"])
        assert back.status == "created" and requests_since(mark) == [("/news/budget.html", 200)]
    finally:
        svc.close()


def test_a_pdf_url_and_files_mixed_with_urls(tmp_path: Path, site: Site, warm_model: None) -> None:
    from pdfs import text_pdf

    site.add(
        "/reports/harbour.pdf",
        text_pdf([["Harbour annual report", "Tonnage through the harbour rose by a tenth last year."]]),
        "application/pdf",
    )
    (tmp_path / "note.txt").write_text("Lifeboat crew honoured\n\nThe crew were given medals on Friday.\n")
    svc = Factdesk(make_settings(tmp_path / "data"))
    try:
        results = svc.ingest_sources(
            [str(tmp_path / "note.txt"), f"{site.base}/reports/harbour.pdf", f"{site.base}/gone"]
        )
        # rejections are decided before the batch lands, so they are reported first
        assert [r.status for r in results] == ["rejected: HTTP 404 Not Found", "created", "created"]
        assert [r.id for r in results][1:] == ["note", url_id(f"{site.base}/reports/harbour.pdf")]
        assert "Tonnage through the harbour rose by a tenth" in svc.get_document(results[2].id).text
    finally:
        svc.close()


def test_the_same_path_on_two_ports_is_two_articles(tmp_path: Path, site: Site, warm_model: None) -> None:
    """Two local servers' /news/a.html: each keeps its own article, in one call and in later ones; the
    first keeps the plain id, the second's holds its port."""
    with serve_site() as other:
        site.add("/news/a.html", article_page("harbour"))
        other.add("/news/a.html", article_page("school"))
        first, second = f"{site.base}/news/a.html", f"{other.base}/news/a.html"
        svc = Factdesk(make_settings(tmp_path / "data"))
        try:
            results = svc.ingest_sources([first, second])
            assert [r.status for r in results] == ["created", "created"]
            assert results[0].id == url_id(first)
            assert results[1].id == url_id(second, port=True) != results[0].id
            assert "harbour of Port Ellen" in svc.get_document(results[0].id).text
            assert "harbour of Port Ellen" not in svc.get_document(results[1].id).text
            # a later call, in the other order: each page finds its own article, nothing replaced
            other.add("/news/a.html", article_page("ferry"))
            again = svc.ingest_sources([second, first])
            # (an unchanged page is reported before the batch lands)
            assert sorted((r.id, r.status) for r in again) == sorted(
                [(results[1].id, "updated"), (results[0].id, "unchanged")]
            )
            assert "harbour of Port Ellen" in svc.get_document(results[0].id).text
            assert len(svc.list_documents()) == 2
        finally:
            svc.close()


def test_feeds_and_pages_labelled_loosely_or_not_at_all_are_told_by_their_first_bytes(
    tmp_path: Path, site: Site, warm_model: None
) -> None:
    """application/x-rss+xml (Python's http.server for .rss), application/octet-stream and no
    Content-Type at all: a feed, an HTML page and a PDF are read; bytes that are none of them are
    still refused, and a feed is no article page."""
    from pdfs import text_pdf

    items = [(STORIES["school"][0], "/news/school.html", RSS_DATES["ferry"][0])]
    site.add("/loose.rss", rss(site.base, items), "application/x-rss+xml")
    site.add("/octet.xml", rss(site.base, items), "application/octet-stream")
    site.add("/bare-page", article_page("ferry"), "")
    site.add("/bare.pdf", text_pdf([["Pier repairs", "The pier in Tolworth closes from 3 April."]]), "")
    site.add("/bare.bin", b"\x00\x01 not a page", "")
    svc = Factdesk(make_settings(tmp_path / "data"))
    try:
        results = svc.ingest_sources(
            [f"{site.base}{p}" for p in ("/loose.rss", "/octet.xml", "/bare-page", "/bare.pdf", "/bare.bin")]
        )
    finally:
        svc.close()
    host = site.base.split("//")[1].split(":")[0]
    assert sorted((r.id, r.status) for r in results) == [
        (f"{host}-bare-page", "created"),
        (f"{host}-bare.pdf", "created"),
        (f"{host}-news-school.html", "created"),  # the one item, read through each feed
        (f"{host}-news-school.html", "unchanged"),
        (f"{site.base}/bare.bin", "rejected: unsupported content type (none)"),
    ]


def test_every_url_that_gives_nothing_gets_its_own_line(tmp_path: Path, site: Site, warm_model: None) -> None:
    """A broken feed, an empty one, another scheme, a URL without a host: each is one `rejected`
    result under the URL as given, with its reason; nothing is looked up as a file."""
    site.add(
        "/broken.xml", b"<?xml version='1.0'?><rss version='2.0'><channel><title>Broken", "application/xml"
    )
    site.add("/empty.xml", rss(site.base, []), "application/rss+xml")
    twice = [(STORIES["harbour"][0], "/news/harbour.html", RSS_DATES["harbour"][0])] * 2
    site.add("/twice.xml", rss(site.base, twice), "application/rss+xml")
    sources = [
        f"{site.base}/broken.xml",
        f"{site.base}/empty.xml",
        "ftp://example.org/feed.xml",
        "http://",
        "http://[::1/feed",
        "http://example.org:99999999999999999999/",
    ]
    svc = Factdesk(make_settings(tmp_path / "data"))
    try:
        results = svc.ingest_sources(sources)
        # a feed that lists one page twice: the page is read once, and the second item has its line
        repeated = svc.ingest_sources([f"{site.base}/twice.xml"])
    finally:
        svc.close()
    assert sorted(r.status for r in repeated) == [
        "created",
        f"rejected: the feed lists {site.base}/news/harbour.html already (item 1)",
    ]
    status = {r.id: r.status for r in results}
    assert len(results) == len(status) == len(sources)
    assert status[sources[0]].startswith("rejected: not a readable RSS or Atom feed ("), status
    assert status[sources[1]] == "rejected: the feed lists no items"
    assert (
        status[sources[2]] == "rejected: unsupported URL scheme 'ftp': only http and https URLs are fetched"
    )
    assert status[sources[3]] == "rejected: not a URL: it names no host"
    assert status[sources[4]] == "rejected: invalid URL (Invalid IPv6 URL)"
    assert status[sources[5]].startswith("rejected: invalid URL (Port"), status[sources[5]]


def test_a_feed_saved_to_a_file_is_read_as_its_url_would_be(
    tmp_path: Path, site: Site, warm_model: None
) -> None:
    """`factdesk ingest news.rss` (or .atom, or a .xml whose root is a feed's): the items' pages are
    fetched and stored with the feed's titles; in a folder a feed file is refused with the reason, and
    a .xml that is no feed is still just an unsupported file."""
    items = [(STORIES["harbour"][0], "/news/harbour.html", RSS_DATES["harbour"][0])]
    (tmp_path / "news.rss").write_bytes(rss(site.base, items))
    atom_items = [(STORIES["school"][0], "/news/school.html", "2025-03-06T12:00:00Z")]
    (tmp_path / "school.xml").write_bytes(atom(site.base, atom_items))
    (tmp_path / "empty.atom").write_bytes(rss(site.base, []))
    # root-relative item links: resolved against the address the feed gives (its channel's), as they
    # are when the feed is fetched, not against the file
    budget = [(STORIES["budget"][0], "/news/budget.html", RSS_DATES["budget"][0])]
    relative = rss(site.base, budget).replace(f"{site.base}/news/budget.html".encode(), b"/news/budget.html")
    (tmp_path / "relative.rss").write_bytes(relative)
    svc = Factdesk(make_settings(tmp_path / "data"))
    try:
        saved = svc.ingest_sources([str(tmp_path / "relative.rss")])
        assert [(r.id, r.status) for r in saved] == [(url_id(f"{site.base}/news/budget.html"), "created")]
        results = svc.ingest_sources([str(tmp_path / p) for p in ("news.rss", "school.xml", "empty.atom")])
        status = {r.id: r.status for r in results}
        assert status[str(tmp_path / "empty.atom")] == "rejected: the feed lists no items"
        harbour = svc.get_document(url_id(f"{site.base}/news/harbour.html"))
        school = svc.get_document(url_id(f"{site.base}/news/school.html"))
        assert harbour is not None and harbour.title == STORIES["harbour"][0]
        assert school is not None and school.title == STORIES["school"][0]
        assert status[harbour.id] == status[school.id] == "created"
        folder = tmp_path / "folder"
        folder.mkdir()
        (folder / "news.rss").write_bytes(rss(site.base, items))
        (folder / "sitemap.xml").write_text("<urlset></urlset>")
        in_folder = {Path(r.id).name: r.status for r in svc.ingest_sources([str(folder)])}
        assert in_folder == {
            "news.rss": "rejected: a feed file is read when named on its own, not in a folder",
            "sitemap.xml": "rejected: unsupported file type .xml",
        }
    finally:
        svc.close()


def test_a_compressed_body_is_never_held_whole(site: Site) -> None:
    """50 MB of zeros in 50 KB of gzip was decompressed whole before the size limit refused it (two
    layers: gigabytes); it is decompressed a limit's worth at a time."""
    import tracemalloc

    from retrieval.fetch import FetchError, Fetcher

    gzip_bomb(False)  # made before memory is traced: the site runs in this process
    fetcher = Fetcher(timeout_s=10, max_bytes=65536, max_redirects=3, user_agent="test")
    try:
        tracemalloc.start()
        with pytest.raises(FetchError, match="larger than 65536 bytes"):
            fetcher.get(f"{site.base}/gzip-bomb", ["text/html"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        fetcher.close()
    assert peak < 5_000_000, peak  # the body on the wire is ~50 KB; 65,537 bytes decoded at a time


def test_a_public_feed_cannot_reach_private_addresses(
    tmp_path: Path, site: Site, warm_model: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tester's feed linked to an internal-only server, and a page redirected to one: both were
    fetched and stored, and the API then answered with their text. Here 127.0.0.1 plays a public
    address and 127.0.0.2 a private one: what a feed (or a redirect) on a public address links to
    is fetched only if it is public too; a URL the operator names, or a saved feed's links, are
    fetched wherever they are; FACTDESK_FETCH_ANY_ADDRESS lifts the rule."""
    import retrieval.fetch as fetch_module

    real = fetch_module.address_class
    monkeypatch.setattr(fetch_module, "address_class", lambda ip: "public" if ip == "127.0.0.1" else real(ip))
    inner = Site()
    # HTTP/1.1: the inner server keeps connections open, as most servers do
    server = ThreadingHTTPServer(
        ("127.0.0.2", 0), type("KeepAlive", (_handler(inner),), {"protocol_version": "HTTP/1.1"})
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        inner.base = f"http://127.0.0.2:{server.server_address[1]}"
        inner.add("/status.html", article_page("budget"))
        site.add(
            "/to-inside.xml",
            rss(site.base, [("Inside", "/go-inside", RSS_DATES["ferry"][0])]),
            "application/rss+xml",
        )
        site.redirect("/go-inside", f"{inner.base}/status.html")
        direct = rss(inner.base, [("Inside", "/status.html", RSS_DATES["ferry"][0])])
        site.add("/links-inside.xml", direct, "application/rss+xml")
        svc = Factdesk(make_settings(tmp_path / "data"))
        try:
            for feed in ("/to-inside.xml", "/links-inside.xml"):
                [r] = svc.ingest_sources([f"{site.base}{feed}"])
                assert r.status.startswith("rejected: refused: 127.0.0.2") and "loopback" in r.status, (
                    r.status
                )
            assert inner.statuses("/status.html") == []  # never asked
            # named by the operator: fetched; so are a saved feed's links
            [r] = svc.ingest_sources([f"{inner.base}/status.html"])
            assert r.status == "created", r.status
            # a connection the named URL opened is not kept for the public feed's item to the same host
            svc.delete_document(r.id)
            results = svc.ingest_sources([f"{inner.base}/status.html", f"{site.base}/links-inside.xml"])
            assert sorted(x.status.split(":")[0] for x in results) == ["created", "rejected"], results
            assert any(x.status.startswith("rejected: refused: 127.0.0.2") for x in results), results
            saved = tmp_path / "saved.rss"
            saved.write_bytes(direct)
            svc.delete_document(r.id)
            [r] = svc.ingest_sources([str(saved)])
            assert r.status == "created", r.status
        finally:
            svc.close()
        svc = Factdesk(make_settings(tmp_path / "data2", fetch_any_address=True))
        try:
            [r] = svc.ingest_sources([f"{site.base}/to-inside.xml"])
            assert r.status == "created", r.status
        finally:
            svc.close()
    finally:
        server.shutdown()
        server.server_close()


def test_the_named_url_is_resolved_once_per_ingest(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each item of a feed is fetched under the feed's URL: its host is looked up once, not once per
    item (a lookup per item cost time, and a reach that could change between items)."""
    import retrieval.fetch as fetch_module
    from retrieval.fetch import Fetcher

    looked_up: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        looked_up.append((host, port))
        return ["10.0.0.5"] if host == "feeds.internal" else ["93.184.216.34"]

    monkeypatch.setattr(fetch_module, "resolve", resolve)
    fetcher = Fetcher(timeout_s=5, max_bytes=1024, max_redirects=0, user_agent="test")
    try:
        reaches = [fetcher._reach(f"http://feeds.internal/feed.xml?page={n}") for n in range(3)]
        assert reaches == [frozenset({"public", "private", "loopback"})] * 3
        assert fetcher._reach("https://news.example/rss") == frozenset({"public"})
        assert fetcher._reach("http://feeds.internal:8080/feed.xml") is not None
        assert looked_up == [("feeds.internal", 80), ("news.example", 443), ("feeds.internal", 8080)]
    finally:
        fetcher.close()
    fresh = Fetcher(timeout_s=5, max_bytes=1024, max_redirects=0, user_agent="test")
    try:  # another ingest looks again
        fresh._reach("http://feeds.internal/feed.xml")
        assert looked_up[-1] == ("feeds.internal", 80) and len(looked_up) == 4
    finally:
        fresh.close()


def test_fetches_do_not_go_through_a_proxy_from_the_environment(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through a proxy from the environment the address check and the whole-response deadline would
    be the proxy's to skip (httpx hands such requests to a transport of its own): fetches connect
    directly, whatever HTTP_PROXY says."""
    from retrieval.fetch import Fetcher

    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens: through it, the fetch fails
    site.add("/direct.html", article_page("budget"))
    fetcher = Fetcher(timeout_s=10, max_bytes=1_000_000, max_redirects=3, user_agent="test")
    try:
        fetched = fetcher.get(f"{site.base}/direct.html", ["text/html"])
    finally:
        fetcher.close()
    assert fetched.status == 200 and b"budget" in fetched.body.lower(), fetched.status
    assert site.statuses("/direct.html") == [200]
