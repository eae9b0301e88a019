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


def _without_page_numbers(page: str) -> str:
    lines = page.split("\n")
    while lines and _PAGE_NUMBER.fullmatch(lines[-1].strip()):
        lines.pop()
    while lines and _PAGE_NUMBER.fullmatch(lines[0].strip()):
        lines.pop(0)
    return "\n".join(lines).strip()


def pdf_text(raw: bytes) -> tuple[str, str | None]:
    """(text, title from the document information, if any); raises InvalidInput with the reason."""
    from pypdf import PdfReader  # imported lazily: only PDFs need it
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):  # decrypt(""): owner-locked, readable
            raise InvalidInput("PDF is encrypted")
        # pages are separated by a blank line, so that no paragraph runs across a page break
        pages = [_without_page_numbers((page.extract_text() or "").strip()) for page in reader.pages]
        meta = reader.metadata
        title = (meta.title or "").strip() if meta is not None else ""
    except InvalidInput:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
        raise InvalidInput(f"not a readable PDF ({type(e).__name__}: {str(e)[:80]})") from None
    text = "\n\n".join(p for p in pages if p)
    if not any(c.isalnum() for c in text):
        raise InvalidInput("PDF has no text layer (a scan? it needs OCR first)")
    first, newline, rest = text.partition("\n")
    if title and newline and " ".join(first.split()) == " ".join(title.split()) and not rest.startswith("\n"):
        # the title printed as the first line: a paragraph of its own, never joined to the first
        # sentence as a hard-wrapped line would be
        text = first + "\n\n" + rest
    return text, title or None
