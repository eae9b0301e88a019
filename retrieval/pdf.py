"""Text out of a PDF (pypdf, pure Python, BSD-3-Clause). Pure: bytes in, text and title out.

The extracted text is then cleaned like any plain-text article, so offsets refer to the cleaned text
as for every other format. A PDF whose pages hold only images (a scan) has no text to cite: rejected.
"""

from __future__ import annotations

import io
import logging
import re

from retrieval.errors import InvalidInput

__all__ = ["pdf_text"]

# pypdf logs every recoverable defect of a file (wrong xref offsets, stray bytes) as a warning;
# those files still give their text, so the warnings are noise on the ingest report
logging.getLogger("pypdf").setLevel(logging.ERROR)


# a page's number printed above or below its text ("Page 2 of 2", "3", "- 3 -", "3/10") is page
# furniture: left in, it was glued to the page's last sentence and cited with it
_PAGE_NUMBER = re.compile(r"(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?|[-–]\s*\d{1,4}\s*[-–]", re.I)
# so is what a browser prints in a page's margins: the page's address with the page count
# ("file:///tmp/report.html 1/1"), and the date and time with the title ("12/5/26, 2:06 PM Title")
_ADDRESS = re.compile(r"(?:[a-z][a-z0-9+.-]*://|www\.)\S*(?:\s+\d{1,4}\s*/\s*\d{1,4})?", re.I)
_PRINTED_AT = re.compile(
    r"(?P<date>\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}),?\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AP]\.?M\.?)?(?P<rest>.*)",
    re.I,
)
# a title that tools write when the author gave none ("untitled", "Microsoft Word - report.docx", a
# file's name): no title, so the headline is taken, as for a PDF without one
_PLACEHOLDER_TITLE = re.compile(
    r"(?:untitled(?: document)?|no title|title|document|anonymous|\(anonymous\))(?:[ _-]?\d+)?"
    r"|microsoft (?:word|powerpoint|excel) - .*|\S.*\.(?:docx?|pdf|odt|rtf|txt|tex|indd|pages|html?)",
    re.I,
)
# typographic ligatures ("ﬁle" for "file"): their letters, as search and questions spell them
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})


def _furniture(line: str, title: str) -> bool:
    line = " ".join(line.split())
    if _PAGE_NUMBER.fullmatch(line) or _ADDRESS.fullmatch(line):
        return True
    printed = _PRINTED_AT.fullmatch(line)
    return printed is not None and printed.group("rest").strip() in ("", " ".join(title.split()))


def page_text(extracted: str, title: str = "") -> str:
    """A page's extracted text without the furniture in its first and last lines (page numbers, a
    browser's margins), its ligatures spelt out."""
    lines = extracted.translate(_LIGATURES).strip().split("\n")
    while lines and _furniture(lines[-1], title):
        lines.pop()
    while lines and _furniture(lines[0], title):
        lines.pop(0)
    return "\n".join(lines).strip()


_SENTENCE_END = (".", "!", "?", ":", '"', "”", "’", "'", ")")


def pdf_text(raw: bytes) -> tuple[str, str | None]:
    """(text, title from the document information, if any); raises InvalidInput with the reason."""
    from pypdf import PdfReader  # imported lazily: only PDFs need it
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):  # decrypt(""): owner-locked, readable
            raise InvalidInput("PDF is encrypted")
        meta = reader.metadata
        stated = meta.title if meta is not None else None
        title = stated.strip() if isinstance(stated, str) else ""  # a number written as a title: none
        title = "" if _PLACEHOLDER_TITLE.fullmatch(title) else title
        pages = [page_text(page.extract_text() or "", title) for page in reader.pages]
    except InvalidInput:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
        raise InvalidInput(f"not a readable PDF ({type(e).__name__}: {str(e)[:80]})") from None
    text = ""
    for page in (p for p in pages if p):
        # a page break is a paragraph break, unless a sentence runs on over it ("... silt over the" /
        # "next four months, ..."): then the page is a wrapped line
        runs_on = text and not text.rstrip().endswith(_SENTENCE_END) and page[:1].islower()
        text += (" " if runs_on else "\n\n" if text else "") + page
    if not any(c.isalnum() for c in text):
        raise InvalidInput("PDF has no text layer (a scan? it needs OCR first)")
    first, newline, rest = text.partition("\n")
    if title and newline and " ".join(first.split()) == " ".join(title.split()) and not rest.startswith("\n"):
        # the title printed as the first line: a paragraph of its own, never joined to the first
        # sentence as a hard-wrapped line would be
        text = first + "\n\n" + rest
    return text, title or None
