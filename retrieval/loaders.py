"""Reading article files and URLs into DocumentIn records (thin I/O around the pure pipeline)."""

from __future__ import annotations

import itertools
import logging
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from retrieval.encoding import declared_charset, decode_text
from retrieval.file_ids import file_key
from retrieval.errors import InvalidInput
from retrieval.feeds import (
    ACCEPTED_TYPES,
    PAGE_TYPES,
    Feed,
    FeedItem,
    is_feed,
    page_document,
    page_key,
    parse_feed,
    stated_address,
    url_id,
)
from retrieval.clean import published_date
from retrieval.ingest import accepted_date, ignored_date, parse_published, slug_id, validate_id
from retrieval.markdown import markdown_document
from retrieval.models import Document, DocumentIn
from retrieval.pdf import pdf_text

if TYPE_CHECKING:  # the HTTP client (httpx) loads only when a URL is fetched: `ask` never needs it
    from retrieval.fetch import Fetcher, Validators, ValidatorStore

SUPPORTED = {".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl", ".pdf"}
# a feed saved to disk and named on its own (`factdesk ingest news.rss`): its items' pages are fetched
FEED_SUFFIXES = frozenset((".rss", ".atom", ".xml"))


log = logging.getLogger("factdesk.ingest")


@dataclass(frozen=True)
class Loaded:
    """One document read from a file, or the reason it could not be."""

    label: str
    document: DocumentIn | None = None
    error: str | None = None
    unchanged: str | None = None  # a page the server says is unchanged (304): the id it is stored under
    validators: Validators | None = None  # a fetched page's, to keep once its document is stored
    named: tuple[Path, str] | None = None  # a file's document: the file, and the stem file_id gave it


def iter_files(root: Path) -> Iterator[tuple[Path, str | None]]:
    """Files under root, sorted; symlinks that lead out of root are refused, not followed, and so is
    anything that is not a regular file (a FIFO would block the read forever, /dev/zero never end)."""
    if not root.is_dir():
        yield root, None if root.is_file() else "not a regular file"
        return
    base = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        # hidden folders (.git, .factdesk) are never articles
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for d in list(dirnames):
            p = Path(dirpath) / d
            if p.is_symlink() and not p.resolve().is_relative_to(base):
                dirnames.remove(d)
                yield p, "symlink leads outside the folder"
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            p = Path(dirpath) / name
            if p.is_symlink() and not p.resolve().is_relative_to(base):
                yield p, "symlink leads outside the folder"
            else:
                # a dangling link is not a FIFO: reading it says what is missing
                yield p, None if p.is_file() or not p.exists() else "not a regular file"


_RECORD_STRINGS = ("title", "id", "source", "url", "published_at")


def _record(obj: object, fallback_id: str, label: str, file_source: str) -> Loaded:
    """One JSON record as an article; without its own `source`, the file's name is its source, as a
    .txt file's is."""
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        return Loaded(label, error='each JSON record needs a "text" string')
    # the API's types: a list or a number where a string belongs is refused, not stored as its repr
    wrong = [k for k in _RECORD_STRINGS if obj.get(k) is not None and not isinstance(obj[k], str)]
    if wrong:
        return Loaded(
            label, error=f'"{wrong[0]}" must be a string or null, not {type(obj[wrong[0]]).__name__}'
        )
    fields: dict[str, str | None] = {k: obj.get(k) for k in _RECORD_STRINGS}
    try:  # refused here, as the ingest would refuse them, named by the record's file and line
        parse_published(fields["published_at"])
        if fields["id"]:
            validate_id(fields["id"])
    except InvalidInput as e:
        return Loaded(label, error=e.message)
    return Loaded(
        label,
        DocumentIn(
            text=obj["text"],
            title=fields["title"],
            id=fields["id"] or fallback_id,
            source=fields["source"] or file_source,
            url=fields["url"],
            published_at=fields["published_at"],
            is_html=bool(obj.get("is_html", obj.get("html"))),
        ),
    )


def load_file(path: Path, max_bytes: int, stem: str | None = None, source: str | None = None) -> list[Loaded]:
    """The documents of one file; stem (file_id's) names them, else the file name's stem does. source
    (`file_source`) labels them, else the file's name does."""
    label = str(path)
    ext = path.suffix.lower()
    if ext not in SUPPORTED and is_feed_file(path):
        return [Loaded(label, error="a feed file is read when named on its own, not in a folder")]
    if ext not in SUPPORTED:
        return [Loaded(label, error=f"unsupported file type {ext or '(none)'}")]
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return [Loaded(label, error=f"file is larger than {max_bytes} bytes")]
        raw = path.read_bytes()
    except OSError as e:
        return [Loaded(label, error=f"cannot read file: {e.strerror or e}")]
    stem = stem or slug_id(path.stem)
    source = readable_name(source or path.name)
    if ext == ".pdf" or raw.startswith(b"%PDF-"):  # a PDF saved under a text name is still a PDF
        try:
            text, title = pdf_text(raw)
        except InvalidInput as e:
            return [Loaded(label, error=e.message)]
        return [Loaded(label, DocumentIn(text=text, title=title, id=stem, source=source))]
    # Latin-1, cp1252 and UTF-16 files are articles too: the encoding is detected, not assumed
    is_html = ext in (".html", ".htm")
    decoded = decode_text(raw, declared_charset(raw) if is_html else None)
    if decoded is None or "\x00" in decoded[:8192]:
        return [Loaded(label, error="binary file")]
    text = decoded
    if ext == ".json":
        try:
            data = json.loads(text)
        except ValueError as e:
            return [Loaded(label, error=f"invalid JSON: {e}")]
        items = data.get("documents", [data]) if isinstance(data, dict) else data
        if not isinstance(items, list):
            return [Loaded(label, error='JSON must be an object, a list, or {"documents": [...]}')]
        return [
            _record(o, stem if len(items) == 1 else f"{stem}-{i}", f"{label}[{i}]", source)
            for i, o in enumerate(items)
        ]
    if ext == ".jsonl":
        out = []
        for i, line in enumerate(text.splitlines()):
            if not line.strip():
                continue
            try:
                out.append(_record(json.loads(line), f"{stem}-{i}", f"{label}:{i + 1}", source))
            except ValueError as e:
                out.append(Loaded(f"{label}:{i + 1}", error=f"invalid JSON: {e}"))
        return out
    if ext in (".md", ".markdown"):
        text, title, published, warnings = markdown_document(text)
        document = DocumentIn(
            text=text, title=title, id=stem, source=source, published_at=published, warnings=warnings
        )
        return [Loaded(label, document)]
    return [
        Loaded(
            label,
            DocumentIn(
                text=text, id=stem, source=source, is_html=is_html, warnings=_page_date_notes(text, is_html)
            ),
        )
    ]


def _page_date_notes(text: str, is_html: bool) -> tuple[str, ...]:
    """A page that states a date the API would refuse ("2025-02-30") is stored undated: said, as
    front matter's is."""
    stated = published_date(text) if is_html else None
    return (ignored_date(stated),) if stated and accepted_date(stated) is None else ()


class FileNames(Protocol):
    """What ids files were given before (retrieval/file_ids.py FileIds); without it, ids are decided
    per call from the files' names alone."""

    def stem_of(self, path: Path) -> str | None: ...

    def held(self, stem: str, path: Path, call: set[str]) -> bool: ...


def readable_name(name: str) -> str:
    # a file name that is not UTF-8 (its bytes arrive as lone surrogates) is still a usable source label
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def file_source(path: Path, root: Path) -> str:
    """A file's source label: its path from the folder that holds what was named in the call, so that
    it starts with the folder the file is in: "local/news.txt" and "business/news.txt", whether the
    folders or the files were named."""
    top = Path(os.path.abspath(root if root.is_dir() else root.parent)).parent
    return Path(os.path.abspath(path)).relative_to(top).as_posix()


def load_paths(paths: list[Path], max_bytes: int, names: FileNames | None = None) -> Iterator[Loaded]:
    found = [(root, list(iter_files(root)) if root.exists() else None) for root in paths]
    call = {file_key(path) for _, files in found for path, refused in files or () if not refused}
    taken: dict[str, str] = {}
    given: dict[str, str] = {}  # id -> the item of this call that has it
    read: set[str] = set()  # a file named twice in one call (itself and its folder) is read once
    for root, files in found:
        if files is None:
            yield Loaded(str(root), error="no such file or folder")
            continue
        for path, refused in files:
            if refused:
                yield Loaded(str(path), error=refused)
                continue
            if (key := file_key(path)) in read:
                continue
            read.add(key)
            if path.suffix.lower() not in SUPPORTED:  # a refused file takes no id
                yield from load_file(path, max_bytes)
            else:
                stem = file_id(path, root, taken, names, call)
                try:
                    loaded_items = load_file(path, max_bytes, stem, file_source(path, root))
                except Exception as e:  # noqa: BLE001 - a file no reader foresaw must not stop the rest
                    log.warning("reading %s failed", path, exc_info=True)
                    loaded_items = [
                        Loaded(str(path), error=f"could not be read ({type(e).__name__}: {e})"[:300])
                    ]
                if not any(loaded.document for loaded in loaded_items):
                    del taken[stem]  # a file refused whole takes no id from the files after it
                for loaded in loaded_items:
                    if loaded.document is None:
                        yield loaded
                    elif (holder := given.setdefault(loaded.document.id or "", loaded.label)) != loaded.label:
                        # a JSON record's own id that an item before it has: one would undo the other
                        # at every run of the same call
                        yield Loaded(
                            loaded.label, error=f"id {loaded.document.id!r} is given to {holder} in this call"
                        )
                    else:
                        yield replace(loaded, named=(path, stem))


def file_id(
    path: Path,
    root: Path,
    taken: dict[str, str],
    names: FileNames | None = None,
    call: set[str] | None = None,
) -> str:
    """The id a file's article gets: the one it was given before, else its name's stem, unless that
    is another article's (`names.held`: another file of this call was given it, or a document from
    a file of another name, or one posted, holds it), or another file of the same call already has
    it (strike.txt in two dated folders): then its folders, then a number, are put in front. taken:
    the ids given in this call, each with its file's folder."""
    folder = os.path.abspath(path.parent)
    before = names.stem_of(path) if names else None
    if before is not None and before not in taken:
        taken[before] = folder
        return before
    plain = slug_id(path.stem)
    in_folder = root.is_dir()
    if in_folder and path.parent != root:
        folders = path.parent.relative_to(root).parts
    elif not in_folder or taken.get(plain, folder) != folder:
        # named alone, or right inside a folder named beside another (`ingest monday tuesday`): the
        # folder it is in tells it apart; two files of one folder are told apart by a number
        folders = (Path(folder).name,)
    else:
        folders = ()
    qualified = slug_id("-".join([*folders, path.stem]))
    numbered = (slug_id(f"{qualified}-{n}") for n in itertools.count(2))
    chosen = next(
        t
        for t in itertools.chain([plain, qualified], numbered)
        if t not in taken and not (names and names.held(t, path, call or set()))
    )
    taken[chosen] = folder
    return chosen


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def names_url(source: str) -> bool:
    """A source written as a URL of any scheme ("ftp://..." too): fetched or refused as a URL, never
    looked up as a file path (which would fold its "//")."""
    return bool(_SCHEME_RE.match(source))


def url_problem(url: str) -> str | None:
    """Why url cannot be fetched before trying (another scheme, no host, a malformed host or port),
    or None: a bad URL is one rejected item, never the end of the run."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (reading it checks it: "http://x:99999999999999999999/")
    except ValueError as e:  # "http://[::1/feed": Invalid IPv6 URL
        return f"invalid URL ({e})"
    if parts.scheme.lower() not in ("http", "https"):
        return f"unsupported URL scheme {parts.scheme!r}: only http and https URLs are fetched"
    if not parts.hostname:
        return "not a URL: it names no host"
    return None


class PageIds:
    """The id each fetched page is stored under: the one it was stored under before (fetch.sqlite),
    else its URL's (feeds.url_id: host and path, no scheme, no port), unless another page holds that
    id, stored or given earlier in this call: the same path on another port of the host is another
    site's page (two local servers), and must not replace it. Then the port goes into the id, then a
    number. `get` reads a stored document (the catalog's)."""

    def __init__(self, get: Callable[[str], Document | None]) -> None:
        self._get = get
        self._taken: dict[str, tuple] = {}  # id -> the page (feeds.page_key) given it in this call

    def is_stored(self, doc_id: str) -> bool:
        return self._get(doc_id) is not None

    def page_id(self, url: str, before: str | None) -> str:
        key = page_key(url)
        plain, ported = url_id(url), url_id(url, port=True)
        numbered = (slug_id(f"{ported}-{n}") for n in itertools.count(2))
        chosen = next(
            i
            for i in itertools.chain([before] if before else [], [plain, ported], numbered)
            if self._free(i, key)
        )
        self._taken[chosen] = key
        return chosen

    def _free(self, doc_id: str, key: tuple) -> bool:
        if self._taken.get(doc_id, key) != key:
            return False
        stored = self._get(doc_id)
        return stored is None or (stored.url is not None and page_key(stored.url) == key)


def _load_page(
    url: str,
    item: FeedItem | None,
    fetcher: Fetcher,
    cache: ValidatorStore,
    ids: PageIds,
    named: str | None = None,
) -> Loaded:
    from retrieval.fetch import FetchError, Validators

    if (problem := url_problem(url)) is not None:  # a feed item's link is as untrusted as any URL
        return Loaded(url, error=problem)
    known = cache.get(url)
    # a 304 is only "unchanged" if the document it was stored as is still there
    ask = known if known is not None and known.document_id and ids.is_stored(known.document_id) else None
    try:
        page = fetcher.get(url, PAGE_TYPES, ask, named)
    except FetchError as e:
        return Loaded(url, error=str(e))
    if page.status == 304 and ask is not None:
        return Loaded(url, unchanged=ask.document_id)
    try:
        doc = page_document(url, page.content_type, page.body, item)
    except InvalidInput as e:
        return Loaded(url, error=e.message)
    doc = replace(doc, id=ids.page_id(url, known.document_id if known else None))
    return Loaded(url, doc, validators=Validators(page.etag, page.last_modified, doc.id))


def load_url(url: str, fetcher: Fetcher, cache: ValidatorStore, ids: PageIds) -> Iterator[Loaded]:
    """A feed's items (each page fetched), or the one article page at url."""
    from retrieval.fetch import FetchError, Validators

    if (problem := url_problem(url)) is not None:
        yield Loaded(url, error=problem)
        return
    known = cache.get(url)
    before = known.document_id if known is not None else None
    if (
        known is not None
        and known.body is None
        and not (known.document_id and ids.is_stored(known.document_id))
    ):
        known = None  # a page whose document is gone: fetch it whole
    try:
        got = fetcher.get(url, ACCEPTED_TYPES, known)
    except FetchError as e:
        yield Loaded(url, error=str(e))
        return
    if got.status == 304 and known is not None and known.body is None:
        yield Loaded(url, unchanged=known.document_id)
        return
    content_type: str | None
    if got.status == 304 and known is not None:
        body, content_type = known.body or b"", "application/xml"  # the feed as it was last read
    else:
        body, content_type = got.body, got.content_type
    if not is_feed(content_type, body):
        try:
            doc = page_document(url, content_type, body)
        except InvalidInput as e:
            yield Loaded(url, error=e.message)
            return
        doc = replace(doc, id=ids.page_id(url, before))
        yield Loaded(url, doc, validators=Validators(got.etag, got.last_modified, doc.id))
        return
    try:
        feed = parse_feed(body, str(got.url))
    except InvalidInput as e:
        yield Loaded(url, error=e.message)
        return
    if not feed.items:  # a URL that gives nothing still gets its line
        yield Loaded(url, error="the feed lists no items")
        return
    if got.status == 200:  # items keep their own validators: a feed can be saved before they land
        cache.put(url, Validators(got.etag, got.last_modified, None, body))
    yield from _feed_pages(url, feed, fetcher, cache, ids)


def _feed_pages(
    label: str, feed: Feed, fetcher: Fetcher, cache: ValidatorStore, ids: PageIds
) -> Iterator[Loaded]:
    """Each item's page, fetched; label (the feed's URL or file) names an item that has no link. A
    feed fetched from a URL reaches only the kinds of address that URL is on; a saved feed's items
    are the operator's choice, as URLs named on the command line are."""
    named = label if is_url(label) else None
    seen: dict[str, int] = {}  # each page's first item
    for n, item in enumerate(feed.items, 1):
        if item.url is None or not is_url(item.url):
            yield Loaded(f"{label}#item-{n}", error="feed item has no http(s) link")
        elif item.url in seen:  # a feed that lists one story twice: read once, and each item gets its line
            yield Loaded(
                f"{label}#item-{n}", error=f"the feed lists {item.url} already (item {seen[item.url]})"
            )
        else:
            seen[item.url] = n
            yield _load_page(item.url, item, fetcher, cache, ids, named)


def is_feed_file(path: Path) -> bool:
    """A feed saved to a file (.rss, .atom, or .xml whose root element is a feed's)."""
    ext = path.suffix.lower()
    if ext not in FEED_SUFFIXES or not path.is_file():
        return False
    try:
        with path.open("rb") as f:
            return ext != ".xml" or is_feed(None, f.read(2048))
    except OSError:
        return False


def load_feed_file(
    path: Path, max_bytes: int, fetcher: Fetcher, cache: ValidatorStore, ids: PageIds
) -> Iterator[Loaded]:
    """A feed read from a file: its items' pages are fetched, as a feed URL's are."""
    label = str(path)
    try:
        if path.stat().st_size > max_bytes:
            yield Loaded(label, error=f"file is larger than {max_bytes} bytes")
            return
        body = path.read_bytes()
    except OSError as e:
        yield Loaded(label, error=f"cannot read: {e.strerror or e}")
        return
    try:
        # read as its URL would be: its relative links against the address it gives for itself
        feed = parse_feed(body, stated_address(body) or path.resolve().as_uri())
    except InvalidInput as e:
        yield Loaded(label, error=e.message)
        return
    if not feed.items:
        yield Loaded(label, error="the feed lists no items")
        return
    yield from _feed_pages(label, feed, fetcher, cache, ids)


def keep_validators(cache: ValidatorStore, loaded: Loaded) -> Loaded:
    """Remember a stored page's validators (called once its document landed)."""
    if loaded.validators is not None and loaded.document is not None:
        cache.put(loaded.label, replace(loaded.validators, document_id=loaded.document.id))
    return loaded
