"""Bytes -> text for article files and fetched pages: declared charset, byte-order mark, UTF-8, then a
guess (charset-normalizer). Pure."""

from __future__ import annotations

import codecs
import re
import unicodedata

__all__ = ["decode_text", "declared_charset"]

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16: its LE mark starts with UTF-16's
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# charset-normalizer scores short Latin text about the same under a dozen code pages, and its
# language coherence is no help there (it lists cp1006 first for "Café", cp775 for "Café ... José
# Núñez", cp1257 for "réunion à Genève"): a guess as clean as the best one (chaos within this margin)
# is a tie, and among ties the Western reading wins when it reads as words (_reads_as_words). Cyrillic
# and Greek bytes read as cp1252 are far messier, so that reading is no tie for them.
_CHAOS_TIE = 0.01
# Among tied guesses the one browsers assume for unlabelled Western text (WHATWG maps latin-1 to it).
_WESTERN = "cp1252"
# file formats whose first bytes no text starts with (each holds a byte text never has): an image
# or an archive saved under a text name is binary whatever a guess would make of it
_BINARY_SIGNATURES = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",  # JPEG
    b"PK\x03\x04",  # ZIP, and the office formats built on it
    b"\x1f\x8b",  # gzip
    b"\x7fELF",
    b"7z\xbc\xaf\x27\x1c",
)
_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_XML_ENCODING_RE = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._:-]+)""")


def declared_charset(raw: bytes, content_type: str | None = None) -> str | None:
    """The charset a page says it is in: the HTTP header's, else its <meta> or <?xml?> declaration."""
    if content_type:
        m = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", content_type, re.IGNORECASE)
        if m:
            return m.group(1)
    head = raw[:4096]
    declared = _XML_ENCODING_RE.match(head) or _CHARSET_RE.search(head)
    return declared.group(1).decode("ascii") if declared else None


def _reads_as_words(text: str) -> bool:
    """No symbol glued to a letter: cp1252 read from Polish cp1250 gives "powiedzia³", "¿e"."""
    for i, c in enumerate(text):
        if c.isascii() or c.isalpha() or unicodedata.category(c) in ("Pi", "Pf", "Pd", "Zs", "Cf"):
            continue
        if (i and text[i - 1].isalpha()) or (i + 1 < len(text) and text[i + 1].isalpha()):
            return False
    return True


# what cp1252 puts at 0x80-0x9F besides letters: quotes, dashes, the euro, the ellipsis, bullets, ™
_TYPOGRAPHIC = frozenset(("Pi", "Pf", "Pd", "Po", "Sc", "So"))
_C1_BYTES = re.compile(rb"[\x80-\x9f]")
# accented letters in Western text are a few in a hundred; Cyrillic or Greek bytes read as cp1252
# make nearly every letter one
_MOST_ACCENTED = 0.3


def _typographic_cp1252(raw: bytes) -> str | None:
    """Text written by a Western word processor: bytes 0x80-0x9F that cp1252 reads as its quotes,
    dashes or euro sign (control codes in ISO 8859, letters only in DOS code pages). A short text has
    too few letters for charset-normalizer to tell cp1252 from cp850 ("\x805 million": "€5" or
    "Ç5"); these bytes do. None unless every such byte is punctuation and the text reads as Western."""
    if not _C1_BYTES.search(raw):
        return None
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D: unassigned in cp1252
        return None
    if any(unicodedata.category(text[m.start()]) not in _TYPOGRAPHIC for m in _C1_BYTES.finditer(raw)):
        return None
    letters = [c for c in text if c.isalpha()]
    accented = sum(not c.isascii() for c in letters)
    if not letters or accented > _MOST_ACCENTED * len(letters) or not _reads_as_words(text):
        return None
    return text


def _stray_utf16_mark(rest: bytes) -> bool:
    """UTF-16 puts a NUL beside every ASCII character (space, newline, digit), and most other text
    has bytes UTF-8 never allows: 8-bit text with neither, after a UTF-16 mark, is not UTF-16."""
    if b"\x00" in rest:
        return False
    try:
        rest.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _known(name: str | None) -> str | None:
    try:
        return codecs.lookup(name).name if name else None
    except LookupError:
        return None


def decode_text(raw: bytes, declared: str | None = None) -> str | None:
    """The text of `raw`, or None when it is not text (binary, or no encoding fits)."""
    if raw.startswith(_BINARY_SIGNATURES):
        return None
    for bom, bom_encoding in _BOMS:  # a byte-order mark outranks any declaration
        if raw.startswith(bom):
            if bom_encoding == "utf-16" and _stray_utf16_mark(raw[len(bom) :]):
                raw = raw[len(bom) :]
                break
            try:
                return raw.decode(bom_encoding).lstrip("\ufeff")
            except UnicodeDecodeError:
                return None
    encoding = _known(declared)
    if encoding:
        if encoding in ("latin-1", "iso8859-1", "ascii"):
            encoding = _WESTERN  # what browsers do: the labels mean windows-1252 on the web
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass  # a wrong label: fall through to detection
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if b"\x00" in raw:  # NUL bytes without a UTF-16/32 mark: binary data, not a legacy code page
        return None
    if (western := _typographic_cp1252(raw)) is not None:
        return western
    import charset_normalizer  # imported lazily: UTF-8 input (almost all of it) never needs it

    # UTF-16 or -32 text without a mark still has a NUL beside each space and newline: without NULs,
    # such a guess makes letters out of binary bytes
    matches = [
        m for m in charset_normalizer.from_bytes(raw) if not m.encoding.startswith(("utf_16", "utf_32"))
    ]
    if not matches:
        return None
    best = matches[0]
    for m in matches:
        # could_be_from_charset: the code pages that decode these bytes to the very same text
        if (
            _WESTERN in m.could_be_from_charset
            and m.chaos <= best.chaos + _CHAOS_TIE
            and _reads_as_words(str(m))
        ):
            return str(m)
    return str(best)
