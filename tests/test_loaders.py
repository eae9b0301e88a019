"""Tests for retrieval.loaders: article files on disk -> DocumentIn records, or a reason why not."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import ARTICLES, SEED_IDS, MakeService

from retrieval.pdf import page_text
from retrieval.loaders import Loaded, iter_files, load_file, load_paths
from retrieval.models import DocumentIn, IngestResult

MAX = 1024 * 1024


def load_one(path: Path, max_bytes: int = MAX) -> Loaded:
    (loaded,) = load_file(path, max_bytes)
    return loaded


def ok(loaded: list[Loaded]) -> list[Loaded]:
    assert all(x.error is None and x.document is not None for x in loaded), [x.error for x in loaded]
    return loaded


# --------------------------------------------------------------------------- #
# Formats
# --------------------------------------------------------------------------- #


def test_txt_and_md(tmp_path: Path) -> None:
    (tmp_path / "Story One.txt").write_text("Line one.\nLine two.", encoding="utf-8")
    (tmp_path / "notes.md").write_text("# Title\n\nBody text.", encoding="utf-8")
    txt = load_one(tmp_path / "Story One.txt")
    assert txt.document is not None and txt.error is None
    assert txt.document.text == "Line one.\nLine two."
    assert txt.document.id == "Story-One"  # a valid id made from the file name
    assert txt.document.source == "Story One.txt"
    assert not txt.document.is_html
    md = load_one(tmp_path / "notes.md")
    assert md.document is not None and md.document.id == "notes" and not md.document.is_html


def test_markdown_front_matter_and_heading_marks_are_not_text(tmp_path: Path) -> None:
    (tmp_path / "quarry.md").write_text(
        '---\ntitle: "Quarry expansion approved"\nauthor: A. Writer\ndate: 2025-05-12\n---\n'
        "# Quarry expansion approved\n\nThe council approved the expansion.\n\n## Reaction ##\nC# users wrote #2.",
        encoding="utf-8",
    )
    doc = load_one(tmp_path / "quarry.md").document
    assert doc is not None
    assert doc.title == "Quarry expansion approved" and doc.published_at == "2025-05-12"
    assert doc.text == (
        "Quarry expansion approved\n\nThe council approved the expansion.\n\nReaction\nC# users wrote #2."
    )
    # a rule line is not front matter, and a date the API would refuse is dropped, not the article
    (tmp_path / "rule.md").write_text("---\n\nJust a rule line.", encoding="utf-8")
    assert load_one(tmp_path / "rule.md").document.text == "---\n\nJust a rule line."  # type: ignore[union-attr]
    (tmp_path / "bad.md").write_text("---\ntitle: T\ndate: yesterday\n---\nBody.", encoding="utf-8")
    bad = load_one(tmp_path / "bad.md").document
    assert bad is not None and (bad.title, bad.published_at, bad.text) == ("T", None, "Body.")
    # front matter YAML refuses is still front matter when every line is a "key: value" line
    (tmp_path / "broken.md").write_text(
        "---\ntitle: [unclosed\ndate: 2025-05-12\ntags:\n  - a\n---\nBody.", encoding="utf-8"
    )
    broken = load_one(tmp_path / "broken.md").document
    assert broken is not None
    assert (broken.title, broken.published_at, broken.text) == ("[unclosed", "2025-05-12", "Body.")
    (tmp_path / "prose.md").write_text(
        "---\nNot: front matter, [this is\nprose.\n---\nBody.", encoding="utf-8"
    )
    assert load_one(tmp_path / "prose.md").document.text.startswith("---\nNot: front")  # type: ignore[union-attr]


def test_markdown_inline_marks_and_link_addresses_are_not_text(tmp_path: Path) -> None:
    """What a reader of the rendered page sees: emphasis without its marks, a link's text without its
    address, a quotation without its ">"; a snake_case name and a product of numbers stay as written."""
    (tmp_path / "library.md").write_text(
        "The library holds **12,000 books**, said *Maria Lopez*, the head_librarian's deputy.\n"
        "See [the council site](https://example.org/library) for hours. ![A photo](img.png)\n"
        '> "We are thrilled," she said. Use `pip`, __this__ and _that_; 2 * 3 * 4 = 24.\n'
        "[ref]: https://example.org\nA [link][ref] here.\n",
        encoding="utf-8",
    )
    doc = load_one(tmp_path / "library.md").document
    assert doc is not None and doc.text == (
        "The library holds 12,000 books, said Maria Lopez, the head_librarian's deputy.\n"
        "See the council site for hours. A photo\n"
        '"We are thrilled," she said. Use pip, this and that; 2 * 3 * 4 = 24.\n'
        "A link here.\n"
    )


def test_an_html_page_dated_in_its_metadata_keeps_that_date(
    tmp_path: Path, make_service: MakeService
) -> None:
    """A page's <meta property="article:published_time"> (or JSON-LD datePublished) dates it when
    nothing else does; a date sent with the document wins, and one the API would refuse is left out."""
    pages = tmp_path / "pages"
    pages.mkdir()
    body = "<p>The Castlegate Museum reopened on Tuesday, eleven months after a fire.</p>"
    (pages / "meta.html").write_text(
        '<html><head><title>Museum reopens</title><meta content="2025-03-03T09:00:00Z" '
        f'property="article:published_time"></head><body><article>{body}</article></body></html>'
    )
    (pages / "ld.html").write_text(
        '<html><head><script type="application/ld+json">{"@type": "NewsArticle", "datePublished": '
        '"2025-03-02"}</script></head><body><article><p>The tram line to the harbour carried its first passengers on Monday morning.</p></article></body></html>'
    )
    (pages / "odd.html").write_text(
        '<html><head><meta name="date" content="last Tuesday"></head><body><p>Ferry fares on the island route will rise by a tenth from April, the operator said.</p></body></html>'
    )
    svc = make_service("dated")
    results = svc.ingest_paths([pages])
    assert all(r.status == "created" for r in results), results
    # the one it leaves out is said, as front matter's is
    assert {r.id: r.warnings for r in results} == {
        "ld": (),
        "meta": (),
        "odd": ("published_at ignored: 'last Tuesday' is not an ISO 8601 date",),
    }
    assert svc.get_document("meta").published_at == "2025-03-03T09:00:00+00:00"
    assert svc.get_document("ld").published_at == "2025-03-02T00:00:00+00:00"
    assert svc.get_document("odd").published_at is None
    (r,) = svc.ingest_documents(
        [
            DocumentIn(
                text=(pages / "meta.html")
                .read_text()
                .replace(body, "<p>Council tax in the borough will rise by four per cent next year.</p>"),
                is_html=True,
                id="given",
                published_at="2025-04-01",
            )
        ]
    )
    assert r.status == "created" and svc.get_document("given").published_at == "2025-04-01T00:00:00+00:00"


def test_a_front_matter_date_the_api_refuses_is_reported_not_dropped_silently(
    tmp_path: Path, make_service: MakeService, caplog: pytest.LogCaptureFixture
) -> None:
    """The article is stored undated, and its result says which date was ignored, as the API would say
    why it refused it (once: the log does not repeat it). A date YAML reads but no calendar has is
    ignored the same way, not a traceback that stops the whole ingest."""
    (tmp_path / "bad-date.md").write_text(
        "---\ntitle: Harbour works\npublished_at: not-a-date\n---\nThe harbour works begin in May, the port said.",
        encoding="utf-8",
    )
    (tmp_path / "good-date.md").write_text(
        "---\ntitle: Ferry fares\ndate: 2025-05-12\n---\nFerry fares on the island route rise in April.",
        encoding="utf-8",
    )
    for name, impossible, n in (("feb-30", "2025-02-30", 80), ("hour-25", "2025-01-01T25:00:00Z", 95)):
        (tmp_path / f"{name}.md").write_text(
            f"---\ntitle: Wave contest\ndate: {impossible}\n---\nThe Tiree wave contest drew {n} surfers.",
            encoding="utf-8",
        )
    svc = make_service("front-matter-dates")
    warning = "published_at ignored: 'not-a-date' is not an ISO 8601 date"
    with caplog.at_level("WARNING", logger="factdesk.ingest"):
        bad, good = svc.ingest_paths([tmp_path / "bad-date.md", tmp_path / "good-date.md"])
    assert (bad.id, bad.status, bad.warnings) == ("bad-date", "created", (warning,))
    assert (good.status, good.warnings) == ("created", ())
    assert svc.get_document("bad-date").published_at is None
    assert not any("not-a-date" in r.getMessage() for r in caplog.records)
    feb, hour = svc.ingest_paths([tmp_path / "feb-30.md", tmp_path / "hour-25.md"])
    assert (feb.status, feb.warnings) == (
        "created",
        ("published_at ignored: '2025-02-30' is not an ISO 8601 date",),
    )
    assert hour.status == "created" and hour.warnings[0].startswith(
        "published_at ignored: '2025-01-01T25:00:00Z'"
    )
    # the date is ignored again each time the file is read, so the warning comes again
    (again,) = svc.ingest_sources([str(tmp_path / "bad-date.md")])
    assert (again.status, again.warnings) == ("unchanged", (warning,))


@pytest.mark.parametrize(
    "block",
    ["updated: 2025-13-01", "x: !!timestamp nope", "x: !!int nope", "x: " + "[" * 5000, "n: " + "9" * 5000],
)
def test_front_matter_yaml_cannot_read_is_read_as_key_lines_not_raised(block: str) -> None:
    """Front matter is the writer's, as untrusted as the text: whatever YAML's readers raise on it
    (a tester's batch of three was a 500, all three lost), its lines are read as `key: value`."""
    from retrieval.markdown import front_matter

    text, title, published, warnings = front_matter(f"---\ntitle: Ferry\n{block}\n---\nThe ferry sailed.")
    assert (text, title, published, warnings) == ("The ferry sailed.", "Ferry", None, ())


def test_a_front_matter_title_yaml_reads_as_a_number_or_a_yes_is_kept_as_written() -> None:
    from retrieval.markdown import front_matter

    for written in ("2024", "No", "1.5", "yes"):
        assert front_matter(f"---\ntitle: {written}\n---\nThe ferry sailed.")[1] == written


def test_front_matter_date_is_stored_in_utc_and_reingesting_is_unchanged(
    tmp_path: Path, make_service: MakeService
) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "tram.md").write_text(
        "---\ntitle: Tram line opens\npublished_at: 2025-05-12T09:30:00+02:00\n---\n"
        "The tram line to the harbour carried its first passengers on Monday morning.",
        encoding="utf-8",
    )
    svc = make_service("front-matter-utc")
    assert [r.status for r in svc.ingest_paths([articles])] == ["created"]
    stored = svc.get_document("tram")
    assert stored.published_at == "2025-05-12T07:30:00+00:00"
    assert [r.status for r in svc.ingest_paths([articles])] == ["unchanged"]
    assert svc.get_document("tram") == stored


def test_utf8_bom_is_dropped(tmp_path: Path) -> None:
    (tmp_path / "bom.txt").write_bytes("\ufeffHello.".encode())
    assert load_one(tmp_path / "bom.txt").document.text == "Hello."  # type: ignore[union-attr]


def test_a_utf16_mark_before_8_bit_text_is_not_read_as_utf16(tmp_path: Path) -> None:
    """A stray \\xff\\xfe before plain text once gave CJK characters; UTF-16 text holds NUL bytes
    (its ASCII) or bytes UTF-8 never has, so without them the mark is dropped and the rest read."""
    text = "Ferry fares on the island route will rise by a tenth from April. Café owners object."
    (tmp_path / "fake.txt").write_bytes(b"\xff\xfe" + text.encode())
    (tmp_path / "real.txt").write_bytes(text.encode("utf-16"))
    (tmp_path / "real-be.txt").write_bytes(b"\xfe\xff" + text.encode("utf-16-be"))
    for name in ("fake.txt", "real.txt", "real-be.txt"):
        assert load_one(tmp_path / name).document.text == text, name  # type: ignore[union-attr]
    chinese = "港口渡轮票价将从四月起上涨一成。"  # no ASCII at all: still read as UTF-16
    (tmp_path / "zh.txt").write_bytes(chinese.encode("utf-16"))
    assert load_one(tmp_path / "zh.txt").document.text == chinese  # type: ignore[union-attr]


@pytest.mark.parametrize("ext", [".html", ".htm", ".HTML"])
def test_html_is_marked_for_html_cleaning(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"page{ext}"
    path.write_text("<html><body><p>Hi.</p></body></html>", encoding="utf-8")
    doc = load_one(path).document
    assert doc is not None and doc.is_html and doc.text.startswith("<html>")


def test_json_object(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(
        json.dumps(
            {
                "text": "Body.",
                "title": "T",
                "id": "given-id",
                "source": "wire",
                "url": "https://example.com/a",
                "published_at": "2025-01-13",
            }
        )
    )
    doc = load_one(path).document
    assert doc is not None
    assert (doc.text, doc.title, doc.id, doc.source, doc.url, doc.published_at) == (
        "Body.",
        "T",
        "given-id",
        "wire",
        "https://example.com/a",
        "2025-01-13",
    )


def test_json_object_without_id_uses_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "lonely.json"
    path.write_text(json.dumps({"text": "Body.", "html": True}))
    doc = load_one(path).document
    assert doc is not None and doc.id == "lonely" and doc.is_html


def test_a_refused_file_takes_no_id_from_the_next(tmp_path: Path) -> None:
    """A .json record whose date the ingest would refuse is refused as it is read, and a file refused
    whole leaves its name's id to the next file of that name (baddate.md is `baddate`, not `baddate-2`)."""
    (tmp_path / "baddate.json").write_text(
        json.dumps({"text": "A note about the quay.", "published_at": "yesterday"})
    )
    (tmp_path / "baddate.md").write_text("Quay\n\nThe quay reopened.\n")
    loaded = list(load_paths([tmp_path], MAX))
    assert [(x.error, x.document.id if x.document else None) for x in loaded] == [
        ("published_at must be an ISO 8601 date, not 'yesterday'", None),
        (None, "baddate"),
    ]


def test_json_list_and_documents_wrapper(tmp_path: Path) -> None:
    records = [{"text": "First."}, {"text": "Second.", "id": "b"}, {"text": "Third.", "title": "3"}]
    (tmp_path / "list.json").write_text(json.dumps(records))
    (tmp_path / "wrapped.json").write_text(json.dumps({"documents": records}))
    for name, stem in (("list.json", "list"), ("wrapped.json", "wrapped")):
        loaded = ok(load_file(tmp_path / name, MAX))
        docs = [x.document for x in loaded if x.document is not None]
        assert [d.text for d in docs] == ["First.", "Second.", "Third."]
        assert [d.id for d in docs] == [f"{stem}-0", "b", f"{stem}-2"]
        assert docs[2].title == "3"
        assert {d.source for d in docs} == {name}  # a record without a source: the file's name, as a .txt
        assert len({x.label for x in loaded}) == 3


def test_json_records_without_text_are_rejected_one_by_one(tmp_path: Path) -> None:
    (tmp_path / "mixed.json").write_text(json.dumps([{"text": "Fine."}, {"title": "no text"}, "a string"]))
    loaded = load_file(tmp_path / "mixed.json", MAX)
    assert loaded[0].document is not None
    assert loaded[1].document is None and "text" in (loaded[1].error or "")
    assert loaded[2].document is None and "text" in (loaded[2].error or "")


@pytest.mark.parametrize(
    "content, reason",
    [
        ("{not json", "invalid JSON"),
        ("42", "JSON must be"),
        ('{"documents": 5}', "JSON must be"),
    ],
)
def test_bad_json_is_rejected(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    loaded = load_one(path)
    assert loaded.document is None and reason in (loaded.error or "")


def test_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_text(
        "\n".join([json.dumps({"text": "One.", "id": "one"}), "", "{broken", json.dumps({"text": "Three."})])
        + "\n"
    )
    loaded = load_file(path, MAX)
    assert len(loaded) == 3  # the blank line is skipped
    assert loaded[0].document is not None and loaded[0].document.id == "one"
    assert loaded[1].document is None and "invalid JSON" in (loaded[1].error or "")
    assert loaded[1].label.endswith(":3")  # the line number, for the user
    assert loaded[2].document is not None and loaded[2].document.id == "feed-3"


# --------------------------------------------------------------------------- #
# Rejections
# --------------------------------------------------------------------------- #


def test_unsupported_extension(tmp_path: Path) -> None:
    for name in ("report.docx", "Makefile"):
        (tmp_path / name).write_bytes(b"whatever")
        loaded = load_one(tmp_path / name)
        assert loaded.document is None and "unsupported file type" in (loaded.error or "")


# Real bytes in each legacy encoding: what a newsroom's older tools write. Each is read back exactly.
ENCODED = [
    ("latin-1", "Café in Kyiv reopens.\n\nThe owner, José Núñez, said the naïve plan had worked."),
    ("latin-1", "Président: la réunion à Genève a été reportée."),
    ("cp1252", "Minister’s “plan” costs €2m — critics say it’s naïve.\n\nThe café in Zürich reopened."),
    # short, with only cp1252's own punctuation to go by: not cp850's "Ç5" (a tester's files)
    ("cp1252", "The firm signed a €5 million export deal on Monday."),
    (
        "cp1252",
        "Museum “doubles” visitors\n\nThe Tilbury museum drew 81,000 – a record — after the €2 million refit.",
    ),
    ("cp1251", "Президент заявил, что переговоры продолжатся на следующей неделе."),
    ("cp1251", "Президент — «переговоры продолжатся» на следующей неделе, сказал он."),
    ("cp1250", "Prezydent powiedział, że rozmowy będą kontynuowane w przyszłym tygodniu."),
    ("utf-16", "Harbour reopens — café owners relieved.\n\nΑθήνα, Київ and 東京 joined the call."),
    ("utf-16-be", "Big-endian with its mark: Zürich, Kraków."),
    ("utf-8-sig", "UTF-8 with a mark: Zürich, Kraków."),
]


@pytest.mark.parametrize(("encoding", "text"), ENCODED, ids=[e for e, _ in ENCODED])
def test_encodings_are_detected_not_rejected(tmp_path: Path, encoding: str, text: str) -> None:
    raw = text.encode(encoding)
    if encoding == "utf-16-be":
        raw = b"\xfe\xff" + raw
    (tmp_path / "story.txt").write_bytes(raw)
    loaded = load_one(tmp_path / "story.txt")
    assert loaded.error is None and loaded.document is not None
    assert loaded.document.text == text


def test_html_charset_declaration_is_honoured(tmp_path: Path) -> None:
    page = '<html><head><meta charset="windows-1251"><title>Новости</title></head><body><p>Київ, Москва.</p></body></html>'
    (tmp_path / "page.html").write_bytes(page.encode("cp1251"))
    loaded = load_one(tmp_path / "page.html")
    assert loaded.document is not None and "Київ, Москва." in loaded.document.text


def test_utf16_without_a_mark_is_binary(tmp_path: Path) -> None:
    """NUL bytes and no byte-order mark: nothing says it is text, so it is not guessed at."""
    (tmp_path / "odd.txt").write_bytes("Plain words here.".encode("utf-16-le"))
    assert load_one(tmp_path / "odd.txt").error == "binary file"


def test_pdf_text_is_extracted(tmp_path: Path) -> None:
    from pdfs import text_pdf

    (tmp_path / "Harbour Report.pdf").write_bytes(
        text_pdf(
            [
                ["Harbour reopens after storm", "The harbour of Port Ellen reopened on Sunday."],
                ["Fourteen boats (mostly trawlers) were damaged, the harbour master said."],
            ],
            title="Harbour reopens after storm",
        )
    )
    loaded = load_one(tmp_path / "Harbour Report.pdf")
    assert loaded.error is None and loaded.document is not None
    doc = loaded.document
    assert doc.id == "Harbour-Report" and doc.title == "Harbour reopens after storm" and not doc.is_html
    assert "The harbour of Port Ellen reopened on Sunday." in doc.text
    # pages are apart by a blank line: no paragraph runs across a page break
    assert "on Sunday.\n\nFourteen boats (mostly trawlers) were damaged" in doc.text


def test_pdf_page_numbers_are_not_text(tmp_path: Path) -> None:
    from pdfs import text_pdf

    (tmp_path / "terminal.pdf").write_bytes(
        text_pdf(
            [
                ["- 1 -", "The ferry terminal was approved on Monday.", "Page 1 of 2"],
                ["Two hundred jobs will be created.", "Page 2 of 2"],
            ]
        )
    )
    doc = load_one(tmp_path / "terminal.pdf").document
    assert doc is not None and "Page" not in doc.text and "-" not in doc.text, doc and doc.text
    assert "approved on Monday.\n\nTwo hundred jobs will be created." in doc.text


def test_a_browser_printed_pdf_loses_its_margins_and_ligatures(tmp_path: Path) -> None:
    """What Chromium prints around a page (the date and time with the title, the address with the page
    count) is not the article; nor is "ﬁ" two letters short of "fi"."""
    from pdfs import text_pdf

    title = "Hospital opens new cancer unit"
    (tmp_path / "printed.pdf").write_bytes(
        text_pdf(
            [
                [
                    "12/5/26, 2:06 PM " + title,
                    "The unit opened on Thursday.",
                    "file:///tmp/page.html 1/2",
                ],
                ["It cost 12 million pounds.", "12/5/26, 2:06 PM " + title, "file:///tmp/page.html 2/2"],
            ],
            title=title,
        )
    )
    doc = load_one(tmp_path / "printed.pdf").document
    assert doc is not None and doc.text == "The unit opened on Thursday.\n\nIt cost 12 million pounds."
    assert (
        page_text("The ﬁrst ﬂoor was staﬀed.\nhttps://example.org/a 1/1", title)
        == "The first floor was staffed."
    )
    # a line that only starts like a time stamp is the article's
    kept = "12/5/26, 2:06 PM was when the fire started."
    assert page_text(kept, title) == kept


def test_a_sentence_over_a_page_break_is_read_whole(tmp_path: Path) -> None:
    from pdfs import text_pdf

    pages = [
        ["Dredging contract awarded", "Peterhead will remove 40,000 tonnes of silt over the"],
        ["next four months, the port authority said on Monday.", "Work starts in June."],
    ]
    (tmp_path / "dredge.pdf").write_bytes(text_pdf(pages))
    (tmp_path / "numbered.pdf").write_bytes(
        text_pdf(pages, title="12345").replace(b"/Title (12345)", b"/Title 12345  ")
    )
    doc = load_one(tmp_path / "dredge.pdf").document
    assert doc is not None
    assert "silt over the next four months, the port authority said on Monday." in doc.text
    assert "said on Monday.\nWork starts" in doc.text or "said on Monday. Work starts" in doc.text
    numbered = load_one(tmp_path / "numbered.pdf")
    assert numbered.error is None and numbered.document is not None  # a number for a title: no title
    assert numbered.document.title != "12345"


def test_a_pdf_saved_under_a_text_name_is_read_as_a_pdf(tmp_path: Path) -> None:
    """Not its syntax ("%PDF-1.4 ... obj") stored as the article's text."""
    from pdfs import text_pdf

    (tmp_path / "report.txt").write_bytes(
        text_pdf([["Pier repairs", "The pier in Tolworth closes from 3 April."]])
    )
    doc = load_one(tmp_path / "report.txt").document
    assert (
        doc is not None and "The pier in Tolworth closes from 3 April." in doc.text and "obj" not in doc.text
    )


def test_pdf_without_title_metadata_has_none(tmp_path: Path) -> None:
    from pdfs import text_pdf

    (tmp_path / "x.pdf").write_bytes(text_pdf([["Ferry timetable changes", "Two extra sailings a day."]]))
    loaded = load_one(tmp_path / "x.pdf")
    assert loaded.document is not None and loaded.document.title is None


def test_a_placeholder_pdf_title_is_no_title(tmp_path: Path) -> None:
    """What a tool writes when the author gave no title ("untitled", "Microsoft Word - x.docx", a
    file's name) is not the article's title: none is given, so the stored title is the headline, as
    for a PDF without one (test_pdf_without_title_metadata_has_none)."""
    from pdfs import text_pdf

    for placeholder in ("untitled", "Untitled document", "Microsoft Word - pool.docx", "pool-report.pdf"):
        page = ["Swimming pool reopens", "The town pool reopened on Saturday after a refit."]
        (tmp_path / "pool.pdf").write_bytes(text_pdf([page], title=placeholder))
        (loaded,) = load_file(tmp_path / "pool.pdf", MAX)
        assert loaded.document is not None and loaded.document.title is None, placeholder
    (tmp_path / "pool.pdf").write_bytes(text_pdf([page], title="Pool reopens after refit"))
    (loaded,) = load_file(tmp_path / "pool.pdf", MAX)
    assert loaded.document is not None and loaded.document.title == "Pool reopens after refit"


def test_a_short_wrapped_pdf_paragraph_is_read_whole(tmp_path: Path) -> None:
    """A PDF line cut mid-sentence goes on in lower case on the next: one sentence again, however
    short the paragraph (too short to show a wrap width)."""
    from pdfs import text_pdf

    from retrieval.clean import clean_article

    page = [
        "Swimming pool reopens",
        "The pool reopened after a 2.1 million pound refit,",
        "with a new learner pool.",
    ]
    (tmp_path / "pool.pdf").write_bytes(text_pdf([page]))
    (loaded,) = load_file(tmp_path / "pool.pdf", MAX)
    assert loaded.document is not None
    assert clean_article(loaded.document.text).text == (
        "Swimming pool reopens\nThe pool reopened after a 2.1 million pound refit, with a new learner pool."
    )


def test_scanned_pdf_is_rejected_with_a_reason(tmp_path: Path) -> None:
    from pdfs import scanned_pdf

    (tmp_path / "scan.pdf").write_bytes(scanned_pdf())
    loaded = load_one(tmp_path / "scan.pdf")
    assert loaded.document is None and loaded.error == "PDF has no text layer (a scan? it needs OCR first)"


def test_broken_pdf_is_rejected_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really")
    loaded = load_one(tmp_path / "broken.pdf")
    assert loaded.document is None and (loaded.error or "").startswith("not a readable PDF")


@pytest.mark.parametrize(
    "raw",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"\x89PNG\r\n\x1a\n",  # a signature alone: no NUL, and no UTF-8 either
        b"\xff\xd8\xff\xe0JFIF",
        b"PK\x03\x04\x14\x06",
        b"\x1f\x8b\x08\x08",
    ],
)
def test_binary_file(tmp_path: Path, raw: bytes) -> None:
    """An image or an archive saved under a text name is binary, not a guess at some code page."""
    (tmp_path / "image.txt").write_bytes(raw)
    loaded = load_one(tmp_path / "image.txt")
    assert loaded.document is None and loaded.error == "binary file"


def test_oversize_file(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("word " * 1000)
    loaded = load_one(tmp_path / "big.txt", max_bytes=1024)
    assert loaded.document is None and "larger than 1024 bytes" in (loaded.error or "")
    assert load_one(tmp_path / "big.txt", max_bytes=5000).document is not None


def test_missing_path(tmp_path: Path) -> None:
    (loaded,) = load_paths([tmp_path / "nope"], MAX)
    assert loaded.document is None and loaded.error == "no such file or folder"


def test_unreadable_file_is_rejected_not_raised(tmp_path: Path) -> None:
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "missing-target.txt")
    (loaded,) = load_paths([tmp_path], MAX)
    assert loaded.document is None and "cannot read file" in (loaded.error or "")


# --------------------------------------------------------------------------- #
# Folders and symlinks
# --------------------------------------------------------------------------- #


def test_folder_walk_is_sorted_recursive_and_skips_hidden_files(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("B.")
    (tmp_path / "a.txt").write_text("A.")
    (tmp_path / ".hidden.txt").write_text("secret")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.md").write_text("C.")
    files = [p.relative_to(tmp_path).as_posix() for p, refused in iter_files(tmp_path) if refused is None]
    assert files == ["a.txt", "b.txt", "sub/c.md"]


def test_seed_folder_loads_every_article() -> None:
    loaded = ok(list(load_paths([ARTICLES], MAX)))
    assert [x.document.id for x in loaded] == SEED_IDS  # type: ignore[union-attr]


def test_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("Not for ingest.")
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "real.txt").write_text("Real article.")
    (folder / "leak.txt").symlink_to(outside / "secret.txt")
    (folder / "leakdir").symlink_to(outside, target_is_directory=True)
    (folder / "passwd.txt").symlink_to("/etc/passwd")
    loaded = {Path(x.label).name: x for x in load_paths([folder], MAX)}
    assert loaded["real.txt"].document is not None
    for name in ("leak.txt", "leakdir", "passwd.txt"):
        assert loaded[name].document is None
        assert loaded[name].error == "symlink leads outside the folder"
    texts = [x.document.text for x in loaded.values() if x.document]
    assert texts == ["Real article."]


def test_what_is_not_a_regular_file_is_refused_not_read(tmp_path: Path) -> None:
    """A FIFO would block the read forever and a device never end: both are refused, in a folder and
    named directly, and the folder's real files still load."""
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "real.txt").write_text("Real article.")
    os.mkfifo(folder / "fifo.txt")
    loaded = {
        Path(x.label).name: x for x in load_paths([folder, folder / "fifo.txt", Path("/dev/zero")], MAX)
    }
    assert loaded["real.txt"].document is not None
    for name in ("fifo.txt", "zero"):
        assert loaded[name].document is None and loaded[name].error == "not a regular file"


def test_symlink_inside_the_folder_is_followed(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    (folder / "archive").mkdir(parents=True)
    (folder / "archive" / "story.txt").write_text("Archived story.")
    (folder / "latest.txt").symlink_to(folder / "archive" / "story.txt")
    (folder / "relative.txt").symlink_to(Path("archive") / "story.txt")
    loaded = {Path(x.label).name: x for x in load_paths([folder], MAX)}
    for name in ("latest.txt", "relative.txt", "story.txt"):
        doc = loaded[name].document
        assert doc is not None and doc.text == "Archived story."
    assert loaded["latest.txt"].document.id == "latest"  # type: ignore[union-attr]


def test_two_folders_named_in_one_call_tell_their_files_apart_by_folder(tmp_path: Path) -> None:
    """`factdesk ingest monday tuesday`: Tuesday's strike.txt is `tuesday-strike`, as when their
    parent folder is named; two names of one folder that slug alike still get a number."""
    for day in ("monday", "tuesday"):
        (tmp_path / day).mkdir()
        (tmp_path / day / "strike.txt").write_text(f"Workers struck on {day}.")
    (tmp_path / "tuesday" / "Strike.md").write_text("Dockers walked out.")
    loaded = list(load_paths([tmp_path / "monday", tmp_path / "tuesday"], MAX))
    assert sorted(x.document.id for x in loaded if x.document) == ["Strike", "strike", "tuesday-strike"]
    (tmp_path / "tuesday" / "strike.md").write_text("Bakers walked out.")
    loaded = list(load_paths([tmp_path / "tuesday"], MAX))
    assert sorted(x.document.id for x in loaded if x.document) == ["Strike", "strike", "strike-2"]


def test_files_of_one_call_never_share_an_id(tmp_path: Path, make_service: MakeService) -> None:
    """strike.txt in two dated folders are two articles: the second is not an update of the first."""
    for day, text in (
        ("monday", "Bus drivers in Hull walked out."),
        ("tuesday", "Nurses in Sheffield struck."),
    ):
        (tmp_path / "news" / day).mkdir(parents=True)
        (tmp_path / "news" / day / "strike.txt").write_text(text)
    (tmp_path / "news" / "strike.docx").write_text("refused, so it takes no id")
    (tmp_path / "news" / "Ferry fares.txt").write_text("Fares rose by a tenth.")
    (tmp_path / "news" / "Ferry-fares.txt").write_text("Fares fell by a fifth.")
    (tmp_path / "news" / "bibliothèque.txt").write_text("The library opened.")
    loaded = list(load_paths([tmp_path / "news", tmp_path / "news" / "monday" / "strike.txt"], MAX))
    assert [x.document.id for x in loaded if x.document] == [
        "Ferry-fares",
        "Ferry-fares-2",
        "bibliotheque",
        "strike",
        "tuesday-strike",  # monday/strike.txt, named again on its own, is read once
    ]
    svc = make_service("ids")
    results = svc.ingest_paths([tmp_path / "news", tmp_path / "news" / "monday" / "strike.txt"])
    assert [(r.id, r.status) for r in results if r.id in ("strike", "tuesday-strike")] == [
        ("strike", "created"),
        ("tuesday-strike", "created"),
    ]
    assert "Hull" in svc.get_document("strike").text
    assert "Sheffield" in svc.get_document("tuesday-strike").text
    # each names its own file: its path from the folder that holds what the call named
    assert [x.document.source for x in loaded if x.document and "strike" in x.document.id] == [
        "news/monday/strike.txt",
        "news/tuesday/strike.txt",
    ]
    (alone,) = load_paths([tmp_path / "news" / "monday" / "strike.txt"], MAX)
    assert alone.document is not None and alone.document.source == "monday/strike.txt"  # with its folder
    assert svc.get_document("strike").source == "news/monday/strike.txt"
    assert svc.get_document("tuesday-strike").source == "news/tuesday/strike.txt"
    # the folders named, not their parent: still told apart
    assert [
        x.document.source
        for x in load_paths([tmp_path / "news" / "monday", tmp_path / "news" / "tuesday"], MAX)
    ] == [
        "monday/strike.txt",
        "tuesday/strike.txt",
    ]


def test_a_file_joining_its_namesake_later_loses_no_article(
    tmp_path: Path, make_service: MakeService
) -> None:
    """tuesday/strike.txt was stored as "strike"; a later call also finds monday/strike.txt, which
    takes "strike" (the first in order): Tuesday's article moves to "tuesday-strike", a new document,
    not "unchanged" under the id whose text Monday's replaces, nor a copy of that text."""
    (tmp_path / "news" / "tuesday").mkdir(parents=True)
    (tmp_path / "news" / "tuesday" / "strike.txt").write_text("Bus drivers in Calder walked out over pay.")
    svc = make_service("later")
    assert [(r.id, r.status) for r in svc.ingest_paths([tmp_path / "news"])] == [("strike", "created")]
    (tmp_path / "news" / "monday").mkdir()
    (tmp_path / "news" / "monday" / "strike.txt").write_text("Teachers in Calder will strike over workloads.")
    results = svc.ingest_paths([tmp_path / "news"])
    # Tuesday's file keeps the id it was given; Monday's, new, takes its folder's name
    assert [(r.id, r.status) for r in results] == [("monday-strike", "created"), ("strike", "unchanged")]
    assert "Teachers" in svc.get_document("monday-strike").text
    assert "Bus drivers" in svc.get_document("strike").text
    assert svc.get_document("monday-strike").duplicate_of is None
    again = svc.ingest_paths([tmp_path / "news"])
    assert [(r.id, r.status) for r in again] == [("monday-strike", "unchanged"), ("strike", "unchanged")]


def test_an_update_from_another_file_of_the_same_name_says_so(
    tmp_path: Path, make_service: MakeService
) -> None:
    """By the id rule a file of the same name in another folder is the same article's new version;
    when it replaces another file's text, its line names that file (an unrelated story under a
    common name would otherwise be lost with only "updated" to show). The same file named through
    another folder is no other file."""
    (tmp_path / "news" / "monday").mkdir(parents=True)
    (tmp_path / "news" / "monday" / "strike.txt").write_text("Nurses in Larkford went on strike on Monday.")
    (tmp_path / "slug").mkdir()
    (tmp_path / "slug" / "strike.txt").write_text("Schools in Amberly closed for a teachers' strike.")
    svc = make_service("same-name")
    assert [(r.id, r.status, r.warnings) for r in svc.ingest_paths([tmp_path / "news"])] == [
        ("strike", "created", ())
    ]
    (tmp_path / "news" / "monday" / "strike.txt").write_text("Nurses in Larkford ended their strike.")
    (again,) = svc.ingest_paths([tmp_path / "news" / "monday"])  # the same file, through its folder
    assert (again.id, again.status, again.warnings) == ("strike", "updated", ())
    (tmp_path / "linked").symlink_to(tmp_path / "news")
    (linked,) = svc.ingest_paths([tmp_path / "linked" / "monday"])  # through a link to its folder
    assert (linked.id, linked.status, linked.warnings) == ("strike", "unchanged", ())
    lines: list[IngestResult] = []
    (r,) = svc.ingest_paths([tmp_path / "slug"], progress=lines.append)
    assert (r.id, r.status) == ("strike", "updated") and lines == [r]
    assert r.warnings == (
        f"replaced the text from {tmp_path / 'news' / 'monday' / 'strike.txt'} (another file of this name)",
    )


def test_an_id_given_twice_in_one_call_is_refused_the_second_time(
    tmp_path: Path, make_service: MakeService
) -> None:
    """A JSON record's own id that a file (or a record) before it in the same call has would undo
    that article at every run; it is refused, named by its file and record. A file named twice (on
    its own and in its folder) is read once. A run again changes nothing."""
    col = tmp_path / "col"
    col.mkdir()
    (col / "harbour.txt").write_text("Harbour file\n\nThe Lerwick harbour handled 600 ships last year.")
    (col / "zz.json").write_text(
        json.dumps(
            [
                {"id": "harbour", "text": "The Scalloway harbour was dredged to 9 metres, contractors said."},
                {"id": "mill", "text": "The Brora mill reopened in May after a fire, its owners said."},
                {"id": "mill", "text": "The Golspie pier will be rebuilt next year, the council said."},
            ]
        )
    )
    svc = make_service("ids-twice")
    for status in ("created", "unchanged"):
        results = svc.ingest_paths([col, col / "harbour.txt"])
        assert [(r.id, r.status) for r in results] == [
            (
                f"{col / 'zz.json'}[0]",
                f"rejected: id 'harbour' is given to {col / 'harbour.txt'} in this call",
            ),
            (f"{col / 'zz.json'}[2]", f"rejected: id 'mill' is given to {col / 'zz.json'}[1] in this call"),
            ("harbour", status),
            ("mill", status),
        ]
    assert "Lerwick" in svc.get_document("harbour").text and "Brora" in svc.get_document("mill").text


def test_a_file_that_fails_in_a_way_no_reader_foresaw_is_rejected_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import retrieval.loaders as loaders

    def fails(text: str) -> None:
        raise RuntimeError("unforeseen")

    (tmp_path / "a.md").write_text("The Wick harbour got a new crane.")
    (tmp_path / "b.txt").write_text("The Thurso pier reopened.")
    monkeypatch.setattr(loaders, "markdown_document", fails)
    a, b = load_paths([tmp_path], MAX)
    assert (a.label, a.error) == (str(tmp_path / "a.md"), "could not be read (RuntimeError: unforeseen)")
    assert b.document is not None and b.document.text == "The Thurso pier reopened."


def test_json_records_of_wrong_types_or_ids_are_rejected_by_file_and_record(tmp_path: Path) -> None:
    """The API's types: a list or a number where a string belongs is refused, not stored as its repr;
    a bad id is named by the record's file and line, as the ingest would refuse it."""
    path = tmp_path / "batch.jsonl"
    lines = [
        {"id": "ok", "text": "The Dornoch bridge closed on Friday."},
        {"id": "s", "source": ["a"], "text": "The Dornoch bridge reopened."},
        {"id": "d", "published_at": 20250101, "text": "The Dornoch bridge was painted."},
        {"id": "bad id!", "text": "The Dornoch bridge was sold."},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines))
    ok_, source, date, bad = load_file(path, MAX)
    assert ok_.document is not None and ok_.document.id == "ok"
    assert (source.label, source.error) == (f"{path}:2", '"source" must be a string or null, not list')
    assert (date.label, date.error) == (f"{path}:3", '"published_at" must be a string or null, not int')
    assert bad.label == f"{path}:4" and (bad.error or "").startswith("document id must be")


def test_a_file_keeps_its_id_in_later_calls(tmp_path: Path, make_service: MakeService) -> None:
    """Ids were decided per call: ingesting one folder later gave its ferry.txt the id the other
    folder's ferry.txt held, and replaced that article; a page.txt elsewhere replaced page.html's
    article, and a file replaced a posted document of the same name. Each file now keeps its id, and
    no file takes another's or a posted document's."""
    news = tmp_path / "news"
    for day, text in (
        ("monday", "The Isle ferry company raised fares by 9 percent on Monday."),
        ("tuesday", "Ferry crews voted 77 to 12 on Tuesday to strike next month."),
    ):
        (news / day).mkdir(parents=True)
        (news / day / "ferry.txt").write_text(text)
    svc = make_service("file-ids")
    assert [(r.id, r.status) for r in svc.ingest_paths([news])] == [
        ("ferry", "created"),
        ("tuesday-ferry", "created"),
    ]
    (news / "tuesday" / "ferry.txt").write_text("Ferry crews voted 80 to 9 on Tuesday to strike next month.")
    assert [(r.id, r.status) for r in svc.ingest_paths([news / "tuesday"])] == [("tuesday-ferry", "updated")]
    assert [(r.id, r.status) for r in svc.ingest_paths([news / "monday" / "ferry.txt"])] == [
        ("ferry", "unchanged")
    ]
    assert "9 percent" in svc.get_document("ferry").text
    assert "80 to 9" in svc.get_document("tuesday-ferry").text

    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "ferry.html").write_text("<p>The Velden tram will run every ten minutes.</p>")
    (r,) = svc.ingest_paths([tmp_path / "other"])
    assert (r.id, r.status) == ("ferry-2", "created")
    assert "9 percent" in svc.get_document("ferry").text

    svc.ingest_documents([DocumentIn(id="notes", text="The council approved the harbour budget.")])
    (tmp_path / "notes.txt").write_text("The library will open on Sundays from March.")
    (r,) = svc.ingest_paths([tmp_path / "notes.txt"])
    assert r.status == "created" and r.id != "notes"
    assert "harbour budget" in svc.get_document("notes").text

    # a data dir written before files' ids were kept: a stored document whose source is the file's
    # name is that file's
    (Path(svc.settings.data_dir) / "file-ids.sqlite").unlink()
    results = svc.ingest_paths([news])
    assert [(r.id, r.status) for r in results] == [("ferry", "unchanged"), ("tuesday-ferry", "unchanged")]
    # a file of the same name in a folder of new versions, alone in its call, is the same article
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "ferry.txt").write_text("The Isle ferry company raised fares by 12 percent on Monday.")
    (r,) = svc.ingest_paths([tmp_path / "v2"])
    assert (r.id, r.status) == ("ferry", "updated")


def test_a_text_renamed_before_its_holder_is_replaced_is_kept(make_service: MakeService) -> None:
    """One call renames "strike" to "strike-2025" and sends a new "strike" after it: the old text
    is stored under its new id, not reported unchanged under the id that the next item replaces."""
    old, new = "Bus drivers in Calder walked out over pay.", "Teachers in Calder will strike over workloads."
    svc = make_service("renamed")
    assert [(r.id, r.status) for r in svc.ingest_documents([DocumentIn(id="strike", text=old)])] == [
        ("strike", "created")
    ]
    results = svc.ingest_documents(
        [DocumentIn(id="strike-2025", text=old), DocumentIn(id="strike", text=new)]
    )
    assert [(r.id, r.status) for r in results] == [("strike-2025", "created"), ("strike", "updated")]
    assert "Bus drivers" in svc.get_document("strike-2025").text
    assert "Teachers" in svc.get_document("strike").text
    # a rename alone is still the text unchanged where it is stored, and a later item with the
    # renamed id is still the last word on it
    alone = svc.ingest_documents([DocumentIn(id="walkout", text=new)])
    assert [(r.id, r.status) for r in alone] == [("strike", "unchanged")]
    twice = svc.ingest_documents(
        [DocumentIn(id="drivers", text=old), DocumentIn(id="drivers", text="Drivers in Leeds voted.")]
    )
    assert [(r.id, r.status) for r in twice] == [("strike-2025", "unchanged"), ("drivers", "created")]
    assert "Leeds" in svc.get_document("drivers").text


def test_file_ids_that_cannot_be_read_or_written_never_stop_an_ingest(
    tmp_path: Path, make_service: MakeService
) -> None:
    """The table of files' ids is a hint: unreadable, ids follow the names; unwritable, the ingest
    still lands (a warning is logged)."""
    from retrieval.file_ids import FileIds

    ids = FileIds(tmp_path / "f.sqlite", lambda stem: None)
    ids.remember([(tmp_path / "a.txt", "a", "f1")], "archive")
    assert ids.stem_of(tmp_path / "a.txt") == "a"
    ids.close()
    ids.remember([(tmp_path / "b.txt", "b", "f2")], "archive")  # closed: not kept, no error
    assert ids.stem_of(tmp_path / "a.txt") is None and not ids.held("a", tmp_path / "c.txt", set())
    svc = make_service("no-file-ids")
    (Path(svc.settings.data_dir) / "file-ids.sqlite").mkdir()  # not a database at all
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "quay.txt").write_text("The quay reopened on Friday after repairs.")
    assert [(r.id, r.status) for r in svc.ingest_paths([tmp_path / "in"])] == [("quay", "created")]


def test_single_file_path(tmp_path: Path) -> None:
    (tmp_path / "one.txt").write_text("Only this.")
    (loaded,) = load_paths([tmp_path / "one.txt"], MAX)
    assert loaded.document is not None and loaded.document.text == "Only this."


def test_a_wrapped_pdf_is_answered_in_whole_sentences(tmp_path: Path, make_service: MakeService) -> None:
    """A PDF's lines are cut at the page width; its sentences are read whole, not line by line."""
    from pdfs import text_pdf

    lines = [
        "Glacier report 2025",
        "The Vatnajokull glacier lost 3 metres of ice this summer, the",
        "Icelandic Meteorological Office said on Friday, the largest loss",
        "it has measured since its records of the ice cap began in 1995.",
    ]
    (tmp_path / "glacier.pdf").write_bytes(text_pdf([lines]))
    svc = make_service()
    (r,) = svc.ingest_paths([tmp_path / "glacier.pdf"])
    assert r.status == "created", r.status
    assert "lost 3 metres of ice this summer, the Icelandic Meteorological Office said on Friday," in (
        svc.get_document(r.id).text
    )
    answer = svc.ask("How much ice did the Vatnajokull glacier lose this summer?")
    assert any(
        c.quote.startswith("The Vatnajokull glacier lost 3 metres") and c.quote.endswith("began in 1995.")
        for c in answer.citations
    ), answer.answer


def test_a_pdfs_title_line_is_not_joined_to_its_first_sentence(tmp_path: Path) -> None:
    """The title printed as the first line, as long as a wrapped line: its own paragraph, not the
    start of the first sentence (which would then be cited with a headline glued to it)."""
    from pdfs import text_pdf

    from retrieval.clean import clean_article

    title = "Hosepipe ban announced as Yorkshire reservoirs fall to 41 percent"
    lines = [
        title,
        "Pennine Water will impose a hosepipe ban on 2.1 million customers from Friday after the",
        "driest spring in the region since 1976, the company said on Monday, as reservoirs fell",
        "to 41 percent against an average of 78 percent for the time of year across the region.",
    ]
    (tmp_path / "ban.pdf").write_bytes(text_pdf([lines], title=title))
    (loaded,) = load_file(tmp_path / "ban.pdf", MAX)
    assert loaded.document is not None and loaded.document.title == title
    cleaned = clean_article(loaded.document.text)
    assert cleaned.text.startswith(title + "\n\nPennine Water will impose a hosepipe ban")
    assert "the driest spring in the region since 1976" in cleaned.text  # the body's wraps still joined
