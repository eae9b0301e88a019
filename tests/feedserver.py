"""A local news site for feed tests: RSS and Atom feeds, article pages dressed in site navigation,
cookie banners and newsletter boxes, and pages that fail in each way a fetch can fail. Served by
http.server on a free port; it honours If-None-Match / If-Modified-Since and logs every reply."""

from __future__ import annotations

import functools
import gzip
import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LAST_MODIFIED = "Tue, 04 Mar 2025 18:00:00 GMT"

STORIES = {
    "harbour": (
        "Harbour reopens after three-day storm closure",
        "Harbour reopens | The Coast Gazette",
        [
            "The harbour of Port Ellen reopened on Sunday after a three-day closure caused by the storm.",
            "The harbour master said fourteen boats had been damaged and that the ferry service would "
            "resume on Monday.",
            "Fishermen waited on the quay for most of the morning before the first trawlers left.",
        ],
    ),
    "budget": (
        "Council approves sea wall budget",
        "Budget news - The Coast Gazette",
        [
            "The town council approved a budget of 2.4 million pounds on Tuesday evening.",
            "Most of the money will go to repairing the sea wall that the winter storms broke in two places.",
            "Opposition councillors asked for a public inquiry into the cost of the original wall.",
        ],
    ),
    "ferry": (
        "Ferry company adds summer sailings",
        "Ferry | The Coast Gazette",
        [
            "The ferry company said its winter timetable would run until the end of April.",
            "Two extra sailings a day will be added from the first of May, the operator announced.",
            "Islanders had campaigned for a later evening crossing for more than three years.",
        ],
    ),
    "school": (
        "New school opens on the island",
        "School | The Coast Gazette",
        [
            "A new primary school with room for ninety pupils opened its doors on the island on Monday.",
            "Teachers moved in from the old building, which had been closed since the roof collapsed.",
            "Parents said the children would no longer need to take the early ferry to the mainland.",
        ],
    ),
}

NAV = (
    '<header class="site-header"><a href="/">The Coast Gazette</a><nav><ul><li><a href="/">Home</a></li>'
    '<li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li><li><a href="/weather">Weather</a></li>'
    "</ul></nav></header>"
)
COOKIES = (
    '<div class="cookie-banner"><p>We use cookies to improve your experience on our site and to show you '
    "personalised advertising.</p><button>Accept all</button><button>Manage cookies</button></div>"
)
NEWSLETTER = (
    '<div class="newsletter-box"><h3>Morning briefing</h3><p>Sign up for our morning briefing newsletter, '
    "delivered to your inbox every weekday.</p><p>Enter your email address</p></div>"
)
FOOTER = "<footer><p>© 2025 The Coast Gazette. All rights reserved.</p><p>Privacy policy</p></footer>"
FURNITURE = (
    "The Coast Gazette",
    "Sport",
    "Weather",
    "cookies",
    "Accept all",
    "newsletter",
    "inbox",
    "All rights reserved",
    "Privacy policy",
)


def article_page(key: str) -> bytes:
    headline, page_title, paragraphs = STORIES[key]
    first = f"<p>{paragraphs[0]}</p>"
    rest = "".join(f"<p>{p}</p>" for p in paragraphs[1:])
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{page_title}</title></head><body>'
        f"{COOKIES}{NAV}<main><article><h1>{headline}</h1>{first}{NEWSLETTER}{rest}</article></main>"
        f"{FOOTER}</body></html>"
    ).encode()


def rss(base: str, items: list[tuple[str, str, str]]) -> bytes:
    """items: (title, path, RFC 822 date)."""
    entries = "".join(
        f"<item><title>{t}</title><link>{base}{p}</link><guid>{base}{p}</guid><pubDate>{d}</pubDate></item>"
        for t, p, d in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>The Coast Gazette</title>'
        f"<link>{base}/</link><description>Local news</description>{entries}</channel></rss>"
    ).encode()


def atom(base: str, items: list[tuple[str, str, str]]) -> bytes:
    """items: (title, relative path, ISO date): links are resolved against xml:base."""
    entries = "".join(
        f'<entry><title type="html">{t}</title><link rel="alternate" href="{p.lstrip("/")}"/>'
        f"<id>tag:gazette,{p}</id><updated>{d}</updated></entry>"
        for t, p, d in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="{base}/">'
        f"<title>The Coast Gazette (Atom)</title><id>tag:gazette</id><updated>2025-03-05T09:00:00Z</updated>"
        f"{entries}</feed>"
    ).encode()


@dataclass
class Site:
    base: str = ""
    routes: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    log: list[tuple[str, int]] = field(default_factory=list)  # (path, status) of every reply
    slow_s: float = 3.0

    def add(
        self, path: str, body: bytes, content_type: str = "text/html; charset=utf-8", status: int = 200
    ) -> None:
        """content_type "": no Content-Type header at all."""
        self.routes[path] = (status, {"Content-Type": content_type} if content_type else {}, body)

    def redirect(self, path: str, to: str) -> None:
        self.routes[path] = (302, {"Location": to}, b"")

    def statuses(self, path: str) -> list[int]:
        return [s for p, s in self.log if p == path]


@functools.cache
def gzip_bomb(twice: bool) -> tuple[bytes, str]:
    """50 MB of zeros gzipped (twice: gzipped again), and its Content-Encoding."""
    body = gzip.compress(b"\0" * 50_000_000, compresslevel=9)
    return (gzip.compress(body, compresslevel=9), "gzip, gzip") if twice else (body, "gzip")


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet test output
            pass

        def _reply(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
            site.log.append((self.path, status))
            # a 404 in http.server's own words, as `python -m http.server` sends it: reported as "Not Found"
            self.send_response(status, "File not found" if status == 404 else None)
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
                pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path == "/slow":  # answers after the client's timeout
                time.sleep(site.slow_s)
                return self._reply(200, {"Content-Type": "text/html"}, article_page("harbour"))
            if self.path == "/huge":  # no Content-Length: the size limit must hold while reading
                site.log.append((self.path, 200))
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                try:
                    for _ in range(64):
                        self.wfile.write(b"<p>" + b"filler words " * 1000 + b"</p>")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                return
            if (
                self.path == "/slow-headers"
            ):  # a header line a fraction of a second, for long after the timeout
                site.log.append((self.path, 200))
                try:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                    for i in range(int(site.slow_s / 0.2) + 10):
                        self.wfile.write(f"X-Drip-{i}: x\r\n".encode())
                        self.wfile.flush()
                        time.sleep(0.2)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                return
            if self.path in ("/gzip-bomb", "/gzip-twice"):  # 50 MB of zeros in a few kilobytes
                body, encoding = gzip_bomb(self.path == "/gzip-twice")
                headers = {"Content-Type": "text/html", "Content-Encoding": encoding}
                return self._reply(200, {**headers, "Content-Length": str(len(body))}, body)
            route = site.routes.get(self.path)
            if route is None:
                return self._reply(404, {"Content-Type": "text/plain"}, b"not found")
            status, headers, body = route
            if status != 200:
                return self._reply(status, headers, body)
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag or (
                self.headers.get("If-None-Match") is None
                and self.headers.get("If-Modified-Since") == LAST_MODIFIED
            ):
                return self._reply(304, {"ETag": etag})
            full = {**headers, "ETag": etag, "Last-Modified": LAST_MODIFIED, "Content-Length": str(len(body))}
            return self._reply(200, full, body)

    return Handler


@contextmanager
def serve_site() -> Iterator[Site]:
    site = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    server.daemon_threads = True
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
