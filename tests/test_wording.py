"""A machine-reworded copy is told from its source (answers/wording.py), and an answer shows the
source's wording while citing both. The articles are invented for this test."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from answers.wording import aligned_pairs, article_sentences, reworded_copy, words
from conftest import check_citations

SOURCE = """Ferry strikes pier in Port Wenlow, injuring nine

PORT WENLOW (Reuters) - A passenger ferry struck a pier in Port Wenlow on Tuesday morning, injuring nine people, the harbour authority said.
The ferry was carrying 212 passengers and 14 crew when it hit the pier at about 8:40 a.m., according to the authority.
Officials said the vessel lost power to one of its engines as it approached the terminal.
Three of the injured were taken to Wenlow General Hospital, and the rest were treated at the scene.
The operator, Bayline Ferries, said it had suspended the route while engineers inspect the ship.
"Our first thought is for the people who were hurt," the company's chief executive, Marta Oduya, said in a statement.
The harbour authority said the pier would stay closed until divers had checked its supports.
Investigators from the marine accident board were expected to arrive on Wednesday.
"""

COPY = """Ferry moves pier in Port Wenlow, injuring 9

PORT WENLOW (Reuters) - A traveller ferry struck a pier in Port Wenlow on Tuesday morning, injuring 9 folks, the harbour authority stated.
The ferry was once transporting 212 travellers and 14 team when it hit the pier at about 8:40 a.m., in step with the authority.
Officers stated the vessel misplaced energy to one in every of its engines because it approached the terminal.
3 of the injured have been taken to Wenlow General Health facility, and the remainder had been handled on the scene.
The operator, Bayline Ferries, stated it had suspended the direction whilst engineers check up on the send.
"Our first idea is for the folks who have been harm," the corporate's leader government, Marta Oduya, stated in a remark.
The harbour authority stated the pier would keep closed till divers had checked its helps.
Investigators from the marine twist of fate board have been anticipated to reach on Wednesday.
"""

OTHER = """Ferry operator faces questions after Port Wenlow collision

By a staff reporter

Bayline Ferries faced questions on Wednesday about the maintenance of its fleet, a day after one of its ships hit a pier in Port Wenlow.
Nine people were hurt in Tuesday's collision, which the company blamed on an engine failure.
A union representing ferry crews said it had raised concerns about the ship's engines last year.
The marine accident board said two of its inspectors had begun interviewing the crew.
Passengers described a loud bang and people falling as the ship came to a sudden stop.
The company said it expected to restore the route by the weekend.
"""

BACKGROUND = [
    "The city council said on Monday that it would spend more on roads. The mayor said the plan would be voted on next month.",
    "People in the region said the new bus route had cut their journey times. The transport company said passengers had doubled.",
    "The hospital said it had treated more people than usual this winter. Officials said the number of beds would rise.",
]


def _rows(texts: list[str]):  # type: ignore[no-untyped-def]
    """Searcher.term_rows over these texts, one text a chunk."""
    df = Counter(w for t in texts for w in words(t))
    return lambda terms: ({t: df.get(t, 0) for t in terms}, len(texts))


def test_a_reworded_copy_is_told_from_its_source() -> None:
    rows = _rows([SOURCE, COPY, OTHER, *BACKGROUND])
    source, copy = article_sentences(SOURCE), article_sentences(COPY)
    pairs = aligned_pairs(source.words, copy.words)
    assert len(pairs) >= 8 and all(i == j for i, j in pairs)  # one for one, in order
    assert reworded_copy(copy, source, rows) == (0, aligned_pairs(copy.words, source.words))
    assert reworded_copy(source, copy, rows) == (1, pairs)


def test_another_outlets_report_of_the_same_event_is_not_a_copy() -> None:
    rows = _rows([SOURCE, COPY, OTHER, *BACKGROUND])
    assert reworded_copy(article_sentences(OTHER), article_sentences(SOURCE), rows) is None
    assert reworded_copy(article_sentences(OTHER), article_sentences(COPY), rows) is None
    assert reworded_copy(article_sentences(SOURCE), article_sentences(""), rows) is None


def test_briefs_from_one_template_about_other_towns_are_not_copies() -> None:
    """Aligned sentence for sentence, but each names its own town and month: two reports, however
    the rarer-words vote falls."""
    towns = [
        " ".join(f"Police in {town} recorded {n} {kind} cases in {month}." for n, kind, month in rows)
        for town, rows in (
            ("Ashford", [(6345, "theft", "April"), (120, "fraud", "May"), (881, "assault", "March")]),
            ("Brixham", [(9622, "theft", "April"), (415, "fraud", "June"), (37, "assault", "March")]),
        )
    ]
    rows = _rows(towns)
    a, b = article_sentences(towns[0]), article_sentences(towns[1])
    assert len(aligned_pairs(a.words, b.words)) == 3
    assert reworded_copy(a, b, rows) is None and reworded_copy(b, a, rows) is None


def test_pages_of_one_template_with_other_figures_are_not_copies() -> None:
    """Seven pages of one template, one per section, that differ only in its number and cost: no
    names tell them apart, and the rarer-words vote fell on their digits, so they were taken for
    copies of one another and an answer about one section cited all seven. A copy keeps its source's
    figures, even spelled out ("sixty-two million" for "62 million")."""
    pages = [
        f"The renovation plan covers the old school. Section {s} covers the roof and costs ${3 * s}.5 "
        f"million. Work on section {s} starts in spring. The council approved section {s} on Monday."
        for s in range(1, 8)
    ]
    rows = _rows(pages)
    for a in pages[1:]:
        assert reworded_copy(article_sentences(a), article_sentences(pages[0]), rows) is None
        assert reworded_copy(article_sentences(pages[0]), article_sentences(a), rows) is None
    source = "The company owes about 62 million crowns to grid operators. It said talks had failed. It said so again on Monday. The firm declined to comment."
    copy = "The enterprise owes round sixty-two million crowns to grid operators. It stated talks had collapsed. It stated so again on Monday. The agency declined to remark."
    rows = _rows([source, copy, *BACKGROUND])
    found = reworded_copy(article_sentences(copy), article_sentences(source), rows)
    assert found is not None and found[0] == 0 and (0, 0) in found[1]  # the figure's sentences are joined


@pytest.fixture
def ferry(make_service, tmp_path):  # type: ignore[no-untyped-def]
    articles = tmp_path / "articles"
    articles.mkdir()
    # the copy is ingested first and its file sorts first: neither order nor name makes it the source
    for name, text in [("a-copy.txt", COPY), ("b-source.txt", SOURCE), ("c-other.txt", OTHER)]:
        (articles / name).write_text(text)
    svc = make_service()
    svc.ingest_paths([articles])
    return svc


def test_the_answer_shows_the_sources_wording_and_cites_the_copy(ferry) -> None:  # type: ignore[no-untyped-def]
    svc = ferry
    # the reader scores the copy's sentence highest here, and its vector is not within the cosine
    # that groups restatements: without the copy found, both wordings were shown, the copy's first
    answer = svc.ask("Why did the vessel lose control?")
    assert not answer.abstained
    check_citations(svc, answer.citations)
    first = answer.citations[0]
    assert first.document_id.startswith("b-source") and answer.answer.startswith(first.quote)
    assert answer.citations[1].document_id.startswith("a-copy")  # cited beside it
    assert answer.answer.startswith(f"{first.quote} [1][2]")
    assert "misplaced energy" not in answer.answer


def test_a_summary_shows_no_sentence_of_the_copy_but_cites_it(ferry) -> None:  # type: ignore[no-untyped-def]
    summary = ferry.summarize(max_words=200)
    check_citations(ferry, summary.citations)
    assert any(c.document_id.startswith("b-source") for c in summary.citations)
    shown = re.sub(r"\[\d+\]", "", summary.summary)
    copy_only = [c.quote for c in summary.citations if c.document_id.startswith("a-copy")]
    assert copy_only and not any(q in shown for q in copy_only)
    assert "folks" not in summary.summary and "misplaced" not in summary.summary
