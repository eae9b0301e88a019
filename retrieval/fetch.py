"""Fetching feeds and pages over HTTP (httpx): the thin I/O shell around retrieval/feeds.py.

Every limit is a setting (factdesk/settings.py): a timeout for the whole response, headers included,
not only for each read (a server that trickles one byte, or one header line, a second never trips a
per-read timeout), a size limit checked on Content-Length and again on the decompressed bytes while
reading (gzip or deflate, one layer, decoded here in bounded steps), a bound on redirects (a loop ends
there), and the media types the caller accepts, checked before the body is read. Validators (ETag,
Last-Modified) are kept per URL in the data dir, so a second run asks "changed since?" and an
unchanged page costs a 304.

What a feed links to is not the operator's choice: a public feed's item, or a redirect from a public
page, may not reach a private, loopback or link-local address (the cloud metadata service at
169.254.169.254, an admin port on localhost). The addresses a fetch may reach are those of the URL the
operator named (a feed on the office network may link within it), checked on every connection, after
every redirect, against the address the name resolves to then (FACTDESK_FETCH_ANY_ADDRESS lifts this).
"""

from __future__ import annotations

import ipaddress
import socket
import sqlite3
import threading
import time
import zlib
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from retrieval.feeds import UNLABELLED_TYPES, media_type, sniffed_type

__all__ = ["FetchError", "Fetched", "Fetcher", "Validators", "ValidatorStore"]


def status_phrase(status: int, given: str) -> str:
    """The standard phrase of an HTTP status ("Not Found"), not the server's own wording ("File not found")."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return given


class FetchError(Exception):
    """A URL that gave no usable response; the message is the reason shown on its `rejected:` line."""


@dataclass(frozen=True)
class Validators:
    etag: str | None = None
    last_modified: str | None = None
    document_id: str | None = None  # what the page was stored as (pages only)
    body: bytes | None = None  # a feed's last body: a 304 for the feed still lists its items


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    status: int  # 200, or 304 when the validators sent still hold
    content_type: str | None
    body: bytes
    etag: str | None
    last_modified: str | None


def address_class(ip: str) -> str:
    """'public', 'private' (RFC 1918, unique local, shared, reserved), 'loopback' or 'link-local'."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if addr.is_link_local:
        return "link-local"
    if addr.is_loopback:
        return "loopback"
    if addr.is_private or addr.is_reserved or addr.is_multicast or addr.is_unspecified or not addr.is_global:
        return "private"
    return "public"


# what a fetch may reach, by the class of the address the operator's URL is on
_REACH = {
    "public": frozenset({"public"}),
    "private": frozenset({"public", "private", "loopback"}),
    "loopback": frozenset({"public", "private", "loopback"}),
    "link-local": frozenset({"public", "private", "loopback", "link-local"}),
}


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise httpcore.ConnectError(f"cannot resolve {host}: {e}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _Guard(threading.local):
    """The fetch in progress on this thread: when it must end, and which address classes it may
    reach (None: any)."""

    deadline: float = float("inf")
    reach: frozenset[str] | None = None
    named: str = ""

    def left(self, timeout: float | None, error: type[Exception]) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise error("the whole response took too long")
        return remaining if timeout is None else min(timeout, remaining)


class _Stream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, guard: _Guard) -> None:
        self._inner, self._guard = inner, guard

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._guard.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._guard.left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        left = self._guard.left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, left), self._guard)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class BlockedAddress(Exception):
    """A connection the fetch may not make (raised through httpx untouched)."""


class _Backend(httpcore.NetworkBackend):
    """Connections checked against the fetch's reach, to the address checked, and bound by its deadline."""

    def __init__(self, guard: _Guard) -> None:
        self._inner, self._guard = httpcore.SyncBackend(), guard

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = self._guard.left(timeout, httpcore.ConnectTimeout)
        addresses = resolve(host, port)
        reach = self._guard.reach
        if reach is not None:
            refused = [a for a in addresses if address_class(a) not in reach]
            addresses = [a for a in addresses if a not in refused]
            if not addresses:
                raise BlockedAddress(
                    f"refused: {host} is a {address_class(refused[0])} address, not reached from "
                    f"{self._guard.named} (FACTDESK_FETCH_ANY_ADDRESS=true allows it)"
                )
        error: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in addresses:  # the address checked, not the name again (it may resolve anew)
            try:
                stream = self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as e:
                error = e
                continue
            return _Stream(stream, self._guard)
        raise error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("no unix sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _Transport(httpx.HTTPTransport):
    def __init__(self, guard: _Guard) -> None:
        super().__init__()
        # no connection kept for the next fetch: each is checked against its own fetch's reach (a
        # connection a named URL opened to a private address must not serve a public feed's item)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            network_backend=_Backend(guard),
            max_keepalive_connections=0,
        )


# what the response may be compressed with: one layer, decoded here in bounded steps
ENCODINGS = "gzip, deflate"


def _decoded(raw: Iterator[bytes], encoding: str, step: int) -> Iterator[bytes]:
    """The body's bytes, decompressed at most `step` bytes at a time (a few kilobytes of gzip can
    hold gigabytes: they are never held at once)."""
    if encoding in ("", "identity"):
        yield from raw
        return
    d = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS)
    first = True
    for chunk in raw:
        try:
            data = d.decompress(chunk, step)
        except zlib.error:
            if not (first and encoding == "deflate"):
                raise
            d = zlib.decompressobj(-zlib.MAX_WBITS)  # deflate without its zlib header, as some send it
            data = d.decompress(chunk, step)
        first = False
        yield data
        while d.unconsumed_tail:
            yield d.decompress(d.unconsumed_tail, step)
    yield d.flush()


class Fetcher:
    def __init__(
        self,
        *,
        timeout_s: float,
        max_bytes: int,
        max_redirects: int,
        user_agent: str,
        any_address: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.any_address = any_address
        self._guard = _Guard()
        self._reaches: dict[tuple[str, int], frozenset[str]] = {}  # (host, port) named -> its reach
        self._client = httpx.Client(
            follow_redirects=True,
            max_redirects=max_redirects,
            timeout=timeout_s,
            headers={"User-Agent": user_agent, "Accept-Encoding": ENCODINGS},
            transport=transport if transport is not None else _Transport(self._guard),
            # no HTTP(S)_PROXY from the environment (httpx already skips it beside a transport of
            # our own): a proxy's transport would connect for us, past the address check and deadline
            trust_env=False,
        )

    def close(self) -> None:
        self._client.close()

    def _reach(self, named: str) -> frozenset[str] | None:
        """The address classes a fetch under the operator's URL `named` may connect to. Its host is
        resolved once per fetcher (one ingest): each item of a feed is fetched under the feed's URL,
        and neither a lookup per item nor a reach that changes between items is wanted."""
        if self.any_address:
            return None
        parts = urlsplit(named)
        host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
        if (host, port) not in self._reaches:
            try:
                addresses = resolve(host, port)
            except httpcore.ConnectError:
                # it cannot be fetched either; its links reach only public addresses
                self._reaches[host, port] = _REACH["public"]
            else:
                self._reaches[host, port] = frozenset().union(*(_REACH[address_class(a)] for a in addresses))
        return self._reaches[host, port]

    def get(
        self,
        url: str,
        accept: Collection[str],
        validators: Validators | None = None,
        named: str | None = None,
    ) -> Fetched:
        """The body of url, if its media type is in `accept`; raises FetchError with the reason.
        named: the URL the operator named that led here (a feed whose item url is); url itself when
        None. The fetch reaches only the kinds of address that one is on."""
        headers = {}
        if validators is not None and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators is not None and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        deadline = time.monotonic() + self.timeout_s
        self._guard.deadline = deadline
        self._guard.named = urlsplit(named or url).netloc
        self._guard.reach = self._reach(named or url)
        try:
            with self._client.stream("GET", url, headers=headers) as r:
                content_type = r.headers.get("content-type")
                if r.status_code == 304 and validators is not None:
                    return Fetched(
                        str(r.url), 304, content_type, b"", validators.etag, validators.last_modified
                    )
                if r.status_code != 200:
                    raise FetchError(
                        f"HTTP {r.status_code} {status_phrase(r.status_code, r.reason_phrase)}".rstrip()
                    )
                kind = media_type(content_type)
                # checked before the body is read: a video is never downloaded; an unlabelled body
                # (no type, octet-stream) is read, then told by its first bytes
                if kind not in accept and kind not in UNLABELLED_TYPES:
                    raise FetchError(f"unsupported content type {kind or '(none)'}")
                length = r.headers.get("content-length")
                if length and length.isdigit() and int(length) > self.max_bytes:
                    raise FetchError(f"larger than {self.max_bytes} bytes")
                encoding = r.headers.get("content-encoding", "").strip().lower()
                if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
                    raise FetchError(f"unsupported content encoding {encoding[:40]}")
                parts, size = [], 0
                for part in _decoded(r.iter_raw(), encoding, self.max_bytes + 1):
                    size += len(part)
                    if size > self.max_bytes:
                        raise FetchError(f"larger than {self.max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise FetchError(f"timed out after {self.timeout_s:g} s")
                    parts.append(part)
                if kind in UNLABELLED_TYPES and kind not in accept:
                    content_type = sniffed_type(b"".join(parts))
                    if content_type not in accept:
                        raise FetchError(f"unsupported content type {kind or '(none)'}")
                return Fetched(
                    str(r.url),
                    200,
                    content_type,
                    b"".join(parts),
                    r.headers.get("etag"),
                    r.headers.get("last-modified"),
                )
        except BlockedAddress as e:
            raise FetchError(str(e)) from None
        except zlib.error as e:
            raise FetchError(f"cannot decompress the body ({e})") from None
        except httpx.TooManyRedirects:
            raise FetchError(f"more than {self.max_redirects} redirects") from None
        except httpx.TimeoutException:
            raise FetchError(f"timed out after {self.timeout_s:g} s") from None
        except httpx.InvalidURL as e:
            raise FetchError(f"invalid URL ({e})") from None
        except httpx.HTTPError as e:  # connection refused, DNS, TLS, a redirect to ftp://
            raise FetchError(f"cannot fetch ({type(e).__name__}: {str(e)[:100]})") from None
        finally:
            self._guard.deadline, self._guard.reach = float("inf"), None


class ValidatorStore:
    """ETag / Last-Modified per URL, in `fetch.sqlite` in the data dir (one small table)."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS validators (url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT,"
                " document_id TEXT, body BLOB, fetched_at REAL)"
            )

    def get(self, url: str) -> Validators | None:
        with self._lock:
            row = self._db.execute(
                "SELECT etag, last_modified, document_id, body FROM validators WHERE url = ?", (url,)
            ).fetchone()
        return Validators(*row) if row else None

    def put(self, url: str, v: Validators) -> None:
        if not (v.etag or v.last_modified):  # nothing to ask "changed since?" with next time
            self.forget(url)
            return
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO validators VALUES (?, ?, ?, ?, ?, ?)",
                (url, v.etag, v.last_modified, v.document_id, v.body, time.time()),
            )

    def forget(self, url: str) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM validators WHERE url = ?", (url,))

    def close(self) -> None:
        self._db.close()
