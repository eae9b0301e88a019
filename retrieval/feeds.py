"""Feeds and fetched pages -> DocumentIn records. Pure: bytes and headers in, records out.

RSS 2.0, RSS 1.0 and Atom are read by feedparser (from bytes already fetched: it never fetches
anything itself here). A page is turned into a document by what its Content-Type says it is: HTML is
cleaned as HTML (retrieval/clean.py, the same path as .html files), a PDF is extracted, plain text is
taken as it is. A feed item's title and date win over what the page says: the feed is the
publisher's own record of them, the page's <title> usually carries the site's name as well.
"""

from __future__ import annotations

import hashlib
import html
import html.parser
import io
import re
import xml.sax
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urldefrag, urlsplit

from retrieval.encoding import declared_charset, decode_text
from retrieval.errors import InvalidInput
from retrieval.ingest import ID_PATTERN, slug_id
from retrieval.models import DocumentIn
from retrieval.pdf import pdf_text

__all__ = [
    "FEED_TYPES",
    "PAGE_TYPES",
    "UNLABELLED_TYPES",
    "Feed",
    "FeedItem",
    "is_feed",
    "sniffed_type",
    "stated_address",
    "media_type",
    "page_document",
    "parse_feed",
    "page_key",
    "url_id",
]

FEED_TYPES = frozenset(
    (
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/xml",
        "text/xml",
        # the pre-registration names some servers still send (Python's http.server for .rss)
        "application/x-rss+xml",
        "application/x-atom+xml",
    )
)
# what says nothing of the body: its first bytes are read to tell (sniffed_type)
UNLABELLED_TYPES = frozenset(("", "application/octet-stream", "binary/octet-stream", "application/unknown"))
HTML_TYPES = frozenset(("text/html", "application/xhtml+xml"))
PAGE_TYPES = HTML_TYPES | frozenset(("text/plain", "application/pdf"))
# what a URL given to `factdesk ingest` may answer with: a feed, or one article page
ACCEPTED_TYPES = FEED_TYPES | PAGE_TYPES
_FEED_ROOT_RE = re.compile(rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:rss|feed|rdf:RDF)\b", re.DOTALL)
_SPACES_RE = re.compile(r"\s+")
URL_ID_MAX = 100  # longer slugs are cut and given a hash of the whole URL, so two never collide


@dataclass(frozen=True)
class FeedItem:
    url: str | None  # the item's link, absolute; None when the item has none
    title: str | None
    published_at: str | None  # ISO 8601, UTC
    warnings: tuple[str, ...] = ()  # what was left out of it (a date that is none), for its result line


@dataclass(frozen=True)
class Feed:
    title: str | None
    items: tuple[FeedItem, ...]


def media_type(content_type: str | None) -> str:
    """ "text/html; charset=utf-8" -> "text/html"."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def sniffed_type(body: bytes) -> str | None:
    """An unlabelled body's media type by its first bytes: a feed, a PDF, an HTML page; None when
    they say none of these."""
    head = body[:2048].lstrip()
    if _FEED_ROOT_RE.match(head):
        return "application/xml"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    lowered = head.lower()
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<html" in lowered[:512]:
        return "text/html"
    return None


def is_feed(content_type: str | None, body: bytes) -> bool:
    """A feed by its type, or by its root element (servers label feeds text/html or text/plain too)."""
    return media_type(content_type) in FEED_TYPES or bool(_FEED_ROOT_RE.match(body[:2048]))


class _TextOf(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _plain(value: str | None) -> str | None:
    """Feed titles may carry markup and entities ("AT&amp;T <em>cuts</em>"): the text of it. Read
    by an HTML parser, not a tag pattern, so that a CDATA title's bare "3 < 4 & 5 > 2" stays text."""
    if not value:
        return None
    parser = _TextOf()
    parser.feed(value)
    parser.close()
    text = _SPACES_RE.sub(" ", "".join(parser.parts)).strip()
    return text or None


def feed_date(raw: str | None) -> datetime | None:
    """An item's date as the feed writes it: RFC 822 (RSS: "Tue, 04 Mar 2025 09:15:00 +0100", zone
    names too) or ISO 8601 (Atom, RSS 1.0's dc:date), read strictly; None for anything else. feedparser's
    own parse rolls a month 13 or an offset of +2400 over into another date, so it is not trusted."""
    from email.utils import parsedate_to_datetime

    text = (raw or "").strip()
    if not text:
        return None
    parsers = (
        parsedate_to_datetime,
        lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")),
        lambda s: datetime.strptime(s.split(", ")[-1], "%d %b %Y"),  # RFC 822's date without a time
    )
    for parse in parsers:
        try:
            dt = parse(text)
            return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)
        except (TypeError, ValueError, IndexError, OverflowError):
            continue
    return None


def _item_date(entry) -> tuple[str | None, tuple[str, ...]]:  # type: ignore[no-untyped-def]
    """(an item's date in ISO 8601 UTC, or None; the warning when it states one that is no date)."""
    raw = entry.get("published") or entry.get("updated")
    dt = feed_date(raw)
    if dt is not None:
        return dt.replace(microsecond=0).isoformat(), ()
    return None, (
        (f"published_at ignored: {str(raw)[:40]!r} is not a date",) if raw and str(raw).strip() else ()
    )


def stated_address(body: bytes) -> str | None:
    """The http(s) address a feed gives for itself (Atom's or atom:link's rel="self"), else its
    site's (the channel's <link>): what a saved copy's relative links were written against."""
    import feedparser

    feed = feedparser.parse(io.BytesIO(body)).feed
    links = [link.get("href") for link in feed.get("links", []) if link.get("rel") == "self"]
    for address in (*links, feed.get("link")):
        if address and urlsplit(address).scheme in ("http", "https") and urlsplit(address).netloc:
            return str(address)
    return None


def parse_feed(body: bytes, url: str) -> Feed:
    """The feed's items in feed order; raises InvalidInput when body is not a feed."""
    import feedparser  # imported lazily: only URL ingests need it

    # a stream, not bytes or str: feedparser treats a str as a URL or a file name to open
    parsed = feedparser.parse(io.BytesIO(body), response_headers={"content-location": url})
    broken = isinstance(parsed.get("bozo_exception"), xml.sax.SAXException)  # not a header's complaint
    if not parsed.entries and (not parsed.get("version") or broken):
        reason = getattr(parsed.get("bozo_exception"), "getMessage", lambda: "")() or "no feed found"
        raise InvalidInput(f"not a readable RSS or Atom feed ({str(reason)[:80]})")
    items = []
    bare = None  # the feed read without its address, for items that have no <link>
    for n, entry in enumerate(parsed.entries):
        link = entry.get("link")
        if link and not entry.get("links"):
            # no <link>: feedparser took the item's <guid> or <id>, resolved against the feed's
            # address, so an id "a3" became a page of the site that the feed never named. Only an id
            # that is a whole http(s) URL by itself (a permalink) is the item's page.
            bare = bare if bare is not None else feedparser.parse(io.BytesIO(body))
            own = bare.entries[n].get("link") if n < len(bare.entries) else None
            link = own if own and urlsplit(own).scheme in ("http", "https") and urlsplit(own).netloc else None
        published_at, warnings = _item_date(entry)
        items.append(
            FeedItem(
                url=urldefrag(link)[0] if link else None,
                title=_plain(entry.get("title")),
                published_at=published_at,
                warnings=warnings,
            )
        )
    return Feed(title=_plain(parsed.feed.get("title")), items=tuple(items))


_DEFAULT_PORTS = {"http": 80, "https": 443}


def page_key(url: str) -> tuple[str, int | None, str, str]:
    """What makes two URLs one page: host, port (None for the scheme's own), path and query. http and
    https of one address are one page; the same path on two ports of a host is two sites' pages."""
    parts = urlsplit(url)
    port = parts.port if parts.port != _DEFAULT_PORTS.get(parts.scheme.lower()) else None
    return (parts.hostname or "", port, parts.path.rstrip("/"), parts.query)


def url_id(url: str, port: bool = False) -> str:
    """A stable document id from a URL: host and path as a slug ("example.org-2025-03-harbour");
    port=True puts a port the URL names after the host ("127.0.0.1-8151-news-a.html"), for a page
    whose plain id another site's page holds (loaders.PageIds)."""
    parts = urlsplit(url)
    host = f"{parts.hostname or ''}-{parts.port}" if port and parts.port is not None else parts.hostname
    readable = slug_id(f"{host or ''}{parts.path}".rstrip("/") + (f"-{parts.query}" if parts.query else ""))
    if len(readable) <= URL_ID_MAX and readable != "doc":
        return readable
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    base = readable[:URL_ID_MAX].rstrip("-.")
    candidate = f"{base}-{digest}"
    return candidate if ID_PATTERN.fullmatch(candidate) else f"url-{digest}"


def page_document(
    url: str, content_type: str | None, body: bytes, item: FeedItem | None = None
) -> DocumentIn:
    """One fetched page as a document (raises InvalidInput with the reason it cannot be one)."""
    kind = media_type(content_type)
    source = urlsplit(url).hostname or None
    title = item.title if item else None
    published_at = item.published_at if item else None
    warnings = item.warnings if item else ()
    if kind == "application/pdf":
        text, pdf_title = pdf_text(body)
        return DocumentIn(
            text=text,
            title=title or pdf_title,
            id=url_id(url),
            source=source,
            url=url,
            published_at=published_at,
            warnings=warnings,
        )
    if kind not in PAGE_TYPES:
        raise InvalidInput(f"not an article page (Content-Type {kind or 'missing'})")
    is_html = kind in HTML_TYPES
    decoded = decode_text(body, declared_charset(body, content_type) if is_html else _charset(content_type))
    if decoded is None or "\x00" in decoded:
        raise InvalidInput("page is not text (undecodable bytes)")
    text = decoded
    return DocumentIn(
        text=text,
        title=title,
        id=url_id(url),
        source=source,
        url=url,
        published_at=published_at,
        is_html=is_html,
        warnings=warnings,
    )


def _charset(content_type: str | None) -> str | None:
    return declared_charset(b"", content_type)
