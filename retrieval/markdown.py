"""A Markdown article's own metadata and plain text. Pure: text in, (text, title, published_at,
warnings) out.

Static-site and CMS exports start with YAML front matter (`---` ... `---`) naming the title and date;
left in, it was the article's title line ("title: ...") and its first cited "sentence". Heading marks
("# Quarry expansion approved") are Markdown syntax, not words of the article: an answer quoting
"# ..." reads as noise, and so do emphasis marks ("**12,000 books**") and a link's address
("[the council site](https://...)": its text stays). The cleaned text is then stored, and every
offset refers to it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

import yaml

from retrieval.ingest import accepted_date, ignored_date
from retrieval.models import DocumentIn

__all__ = ["front_matter", "markdown_document", "without_front_matter"]

_FRONT = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.M)
# inline markup a reader does not see: emphasis marks, a link's address, code ticks, quote marks
_INLINE = (
    (re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)"), r"\1"),  # an image: its alt text
    (re.compile(r"\[([^\]\n]+)\]\((?:[^()\n]|\([^()\n]*\))*\)"), r"\1"),  # [text](address)
    (re.compile(r"\[([^\]\n]+)\]\[[^\]\n]*\]"), r"\1"),  # [text][reference]
    (re.compile(r"^[ \t]{0,3}\[[^\]\n]+\]:[ \t]+\S+.*$\n?", re.M), ""),  # a reference's address
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # **strong**, __strong__
    (re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![\w*])"), r"\1"),  # *emphasis*
    (re.compile(r"(?<!\w)_(?=[^\s_])([^_\n]+?)(?<=[^\s_])_(?!\w)"), r"\1"),  # _emphasis_, not snake_case
    (re.compile(r"`([^`\n]+)`"), r"\1"),  # `code`
    (re.compile(r"^[ \t]{0,3}>[ \t]?", re.M), ""),  # > a block quote
)
_DATE_KEYS = ("published_at", "published", "date", "pubdate", "pubDate")


def _date(value: object) -> str | None:
    """YAML reads an unquoted date as a date: the API's form of it; a date it would refuse is dropped
    (front_matter says so in a warning)."""
    if isinstance(value, dt.datetime | dt.date):
        value = value.isoformat()
    return accepted_date(value.strip()) if isinstance(value, str) else None


_KEY_LINE = re.compile(r"^([A-Za-z_][\w-]*):(?:[ \t]+(.*))?$")


def _key_lines(block: str) -> dict[str, str] | None:
    """Front matter YAML refuses ("title: [unclosed"), read as `key: value` lines, each value as
    written; None unless every line is one (or indented under one): then it was not front matter."""
    meta: dict[str, str] = {}
    for line in block.splitlines():
        if not line.strip() or line.startswith((" ", "\t", "#")):
            continue
        m = _KEY_LINE.match(line.rstrip())
        if m is None:
            return None
        meta[m.group(1)] = (m.group(2) or "").strip()
    return meta or None


FrontMatter = tuple[str, str | None, str | None, tuple[str, ...]]


def front_matter(text: str) -> FrontMatter:
    """(text without its YAML front matter, the front matter's title, its date, warnings); the text as
    it is when it opens with none. A stated date the API would refuse leaves the article undated, and
    a warning says so (the API's 400 would have)."""
    title = published = None
    warnings: tuple[str, ...] = ()
    front = _FRONT.match(text)
    if front:
        try:
            meta = yaml.safe_load(front.group(1))
        except Exception:  # noqa: BLE001 - YAML's readers fail in many ways ("2025-02-30", "!!timestamp x", 5,000 "[")
            meta = _key_lines(front.group(1))
        if isinstance(meta, dict):  # else it was a rule line, not front matter: kept as text
            text = text[front.end() :]
            stated_title = meta.get("title")
            if stated_title is not None and not isinstance(stated_title, str):
                # "title: 2024", "title: No": YAML reads a number or a yes/no, the writer meant words
                stated_title = (_key_lines(front.group(1)) or {}).get("title")
            if isinstance(stated_title, str) and stated_title.strip():
                title = " ".join(stated_title.split())
            stated = [v for v in (meta.get(k) for k in _DATE_KEYS) if v is not None and str(v).strip()]
            published = next((d for d in map(_date, stated) if d), None)
            if published is None and stated:
                warnings = (ignored_date(str(stated[0]).strip()),)
    return text, title, published, warnings


def markdown_document(text: str) -> FrontMatter:
    """(text without front matter or heading marks, the front matter's title, its date, warnings)."""
    text, title, published, warnings = front_matter(text)
    text = _HEADING.sub(r"\1", text)
    for pattern, keep in _INLINE:
        text = pattern.sub(keep, text)
    return text, title, published, warnings


def without_front_matter(item: DocumentIn) -> DocumentIn:
    """A plain-text article sent with front matter (a Markdown export posted as text): its title and
    date fill those the request left out, and the rest is the article. HTML is the cleaner's."""
    if item.is_html or not _FRONT.match(item.text):
        return item
    text, title, published, warnings = front_matter(item.text)
    if item.published_at:  # the request's own date: the front matter's is not used, right or wrong
        published, warnings = item.published_at, ()
    return replace(
        item, text=text, title=item.title or title, published_at=published, warnings=item.warnings + warnings
    )
