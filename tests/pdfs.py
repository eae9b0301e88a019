"""Minimal PDF files built in the test, byte by byte (no binary fixtures): text pages in Helvetica,
or a page that is one image and no text, as a scanner makes."""

from __future__ import annotations

import zlib


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _assemble(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 2 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    packed = zlib.compress(data)
    return (
        b"<< /Length %d /Filter /FlateDecode %s>>\nstream\n" % (len(packed), extra) + packed + b"\nendstream"
    )


def text_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A PDF whose pages show these lines of text (Latin-1 characters only)."""
    n_pages = len(pages)
    page_ids = [4 + 2 * i for i in range(n_pages)]
    objects = [
        b"<< /Type /Catalog /Pages 3 0 R >>",
        b"<< /Title (%s) /Producer (factdesk tests) >>" % _escape(title).encode("latin-1")
        if title
        else b"<< >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % i for i in page_ids), n_pages),
    ]
    font_id = 4 + 2 * n_pages
    for i, lines in enumerate(pages):
        ops = [b"BT /F1 12 Tf 72 740 Td 16 TL"]
        ops += [b"(%s) Tj T*" % _escape(line).encode("latin-1") for line in lines]
        ops.append(b"ET")
        objects.append(
            b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 612 792] /Contents %d 0 R"
            b" /Resources << /Font << /F1 %d 0 R >> >> >>" % (page_ids[i] + 1, font_id)
        )
        objects.append(_stream(b"\n".join(ops)))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    return _assemble(objects)


def scanned_pdf() -> bytes:
    """One page that is a grey image and nothing else: no text layer."""
    width = height = 8
    pixels = bytes(range(0, 256, 4))[: width * height]
    image = _stream(
        pixels,
        b"/Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray /BitsPerComponent 8 ",
    )
    return _assemble(
        [
            b"<< /Type /Catalog /Pages 3 0 R >>",
            b"<< >>",
            b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 612 792] /Contents 5 0 R"
            b" /Resources << /XObject << /Im1 6 0 R >> >> >>",
            _stream(b"q 540 0 0 720 36 36 cm /Im1 Do Q"),
            image,
        ]
    )
