"""Secrets out of rendered text: the one place a URL or a store error is made safe to show.

`FACTDESK_CHROMA_URL` and `OPENAI_BASE_URL` may carry `user:password@` or a `?key=` query, and a
driver's error text may quote them or a file under the data dir. Everything that reaches an error
body, a log line or a terminal passes through here first. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["error_reason", "redact_text", "redact_url", "url_secrets"]

HIDDEN = "***"
PATH_PLACEHOLDER = "<path>"

# scheme://rest-of-url, up to whitespace or a character that closes a quoted or bracketed URL
_URL_RE = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>()\[\]{}`]+")
# An absolute filesystem path (POSIX with two or more parts, or Windows drive): not after a word,
# a dot, a colon or a slash, so a URL's own path ("host:8001/api/v2") is left to redact_url.
_PATH_RE = re.compile(r"(?<![\w.:/\\-])(?:/[\w.+~@-]+){2,}/?|\b[A-Za-z]:\\[^\s'\"<>|]+")


def redact_url(url: str) -> str:
    """`url` without its password, user name and query string (and fragment): `***` in their place.

    Scheme, host, port and path stay: they are what an operator needs to tell which server failed.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port  # ValueError for a port that is not a number
    except ValueError:
        return _hide_userinfo(url.split("?", 1)[0].split("#", 1)[0])
    if not parts.netloc:
        return _hide_userinfo(url.split("?", 1)[0].split("#", 1)[0])
    netloc = host or ""
    if host and ":" in host:  # an IPv6 literal keeps its brackets
        netloc = f"[{host}]"
    if port is not None:
        netloc += f":{port}"
    if "@" in parts.netloc:
        netloc = f"{HIDDEN}@{netloc}"
    query = HIDDEN if parts.query else ""
    fragment = HIDDEN if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def _hide_userinfo(text: str) -> str:
    # last resort for text that urlsplit refuses: anything between "//" and the last "@" of the netloc
    return re.sub(r"//[^/@\s]*@", f"//{HIDDEN}@", text)


def redact_text(text: str, *, paths: bool = False) -> str:
    """Every URL in `text` through redact_url; with `paths`, absolute file paths too (for callers
    outside the machine, who have no use for the server's layout)."""
    out = _URL_RE.sub(lambda m: redact_url(m.group(0)), text)
    if paths:
        out = _PATH_RE.sub(PATH_PLACEHOLDER, out)
    return out


def url_secrets(url: str) -> list[str]:
    """The URL's password and, split at each "@", its runs of pieces ("b@c" of "a@b@c") of three or
    more characters, longest first: libpq splits a password holding an unescaped "@" there and may
    name what follows a split as the host ("PG@SECRET@db" of "pw@PG@SECRET": the run hides "PG" too)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return []
    if not password:
        return []
    parts = password.split("@")
    runs = {"@".join(parts[i:j]) for i in range(len(parts)) for j in range(i + 1, len(parts) + 1)}
    pieces = {password, unquote(password), *(r for r in runs if len(r) >= 3)}
    return sorted(pieces, key=len, reverse=True)


def error_reason(e: BaseException, secrets: Sequence[str] = ()) -> str:
    """The first line of a driver's error, fit for a 503 body or a log: no piece of `secrets`
    (url_secrets), its URLs without credentials and queries, its file paths (the data dir's layout)
    left out."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    for secret in secrets:
        text = text.replace(secret, HIDDEN)
    text = redact_text(text, paths=True)
    return f"{type(e).__name__}: {text[:200]}" if text else type(e).__name__
