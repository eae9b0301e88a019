"""Fetching feeds and pages over HTTP (httpx): the thin I/O shell around retrieval/feeds.py.

Every limit is a setting (factdesk/settings.py): a timeout for the whole response, not only for each
read (a server that trickles one byte a second never trips a per-read timeout), a size limit checked
on Content-Length and again while reading, a bound on redirects (a loop ends there), and the media
types the caller accepts, checked before the body is read. Validators (ETag, Last-Modified) are kept
per URL in the data dir, so a second run asks "changed since?" and an unchanged page costs a 304.
"""

from __future__ import annotations

from http import HTTPStatus

import sqlite3
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

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


class Fetcher:
    def __init__(
        self,
        *,
        timeout_s: float,
        max_bytes: int,
        max_redirects: int,
        user_agent: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self._client = httpx.Client(
            follow_redirects=True,
            max_redirects=max_redirects,
            timeout=timeout_s,
            headers={"User-Agent": user_agent},
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def get(self, url: str, accept: Collection[str], validators: Validators | None = None) -> Fetched:
        """The body of url, if its media type is in `accept`; raises FetchError with the reason."""
        headers = {}
        if validators is not None and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators is not None and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        deadline = time.monotonic() + self.timeout_s
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
                parts, size = [], 0
                for part in r.iter_bytes():
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
        except httpx.TooManyRedirects:
            raise FetchError(f"more than {self.max_redirects} redirects") from None
        except httpx.TimeoutException:
            raise FetchError(f"timed out after {self.timeout_s:g} s") from None
        except httpx.InvalidURL as e:
            raise FetchError(f"invalid URL ({e})") from None
        except httpx.HTTPError as e:  # connection refused, DNS, TLS, a redirect to ftp://
            raise FetchError(f"cannot fetch ({type(e).__name__}: {str(e)[:100]})") from None


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
