"""answers/definitions.py: what an acronym stands for, from the sentence that spells it out; and
through the real service."""

from __future__ import annotations

import pytest

from answers.definitions import (
    acronyms_asked,
    defining_the_acronyms_asked,
    explaining_the_term_asked,
    explains,
    spelt_out,
    term_asked,
)
from conftest import MakeService, candidate as _cand
from retrieval.models import DocumentIn


@pytest.mark.parametrize(
    "question, acronyms",
    [
        ("What does MAIU stand for?", ["MAIU"]),
        ("What is the HSB short for?", ["HSB"]),
        ("What does the MoD stand for?", ["MoD"]),
        ("What do the abbreviations KRT and HSB stand for, and which port does it serve?", ["KRT", "HSB"]),
        ("What does the abbreviation MPs mean in the reports?", ["MP"]),
        ("What is the ECE?", ["ECE"]),
        ("What is Harlow?", []),
        # not what an acronym stands for
        ("What does NATO mean for farmers?", []),
        ("What does the word Varrow refer to?", []),
        ("What does Marsh mean by that?", []),
        ("What did the HSB say?", []),
    ],
)
def test_the_acronyms_a_question_asks_the_meaning_of(question: str, acronyms: list[str]) -> None:
    assert acronyms_asked(question) == acronyms


@pytest.mark.parametrize(
    "sentence, acronym, words",
    [
        ("the Marine Accident Investigation Unit (MAIU) said", "MAIU", "Marine Accident Investigation Unit"),
        ("a vote of members of parliament (MPs) on Monday", "MP", "members of parliament"),
        (
            "the Democratic People's Republic of Tarvos (DPRT)",
            "DPRT",
            "Democratic People's Republic of Tarvos",
        ),
        ("The Rural Health Access Fund, or RHAF, set up in 2019", "RHAF", "Rural Health Access Fund"),
        ('sold under a "robot-as-a-service" (RaaS) model', "RaaS", "robot-as-a-service"),
        ("the MAIU (Marine Accident Investigation Unit) said", "MAIU", "Marine Accident Investigation Unit"),
        ("the MAIU said on Monday", "MAIU", None),  # not spelt out
        ("the Northern Shipping Union (NSU)", "MAIU", None),
    ],
)
def test_the_words_a_sentence_spells_an_acronym_with(sentence: str, acronym: str, words: str | None) -> None:
    assert spelt_out(sentence, acronym) == words


def test_the_spelling_most_articles_use_is_chosen() -> None:
    """A machine-reworded copy's "Haven Safety Board (HSB)" is not shown where the other
    articles spell it "National Intelligence Service", however the reader scores it."""
    cands = [
        _cand("The Haven Safety Board (HSB) instructed lawmakers.", 0.9, "copy"),
        _cand("Porthaven's Harbour Safety Board (HSB) told reporters it had closed the quay.", 0.6, "a"),
        _cand("The town's Harbour Safety Board (HSB) confirmed it on Sunday.", 0.7, "b"),
        _cand("The HSB said the men were unhurt.", 0.95, "c"),
    ]
    assert defining_the_acronyms_asked(cands, "What does HSB stand for?") == [2]
    assert defining_the_acronyms_asked(cands, "What does KRT stand for?") == []
    assert defining_the_acronyms_asked(cands, "Who confirmed the capture?") == []


def test_what_an_acronym_stands_for_through_the_service(make_service: MakeService) -> None:
    """Through retrieval and the reader: the sentence that spells the letters out is the answer,
    cited exactly; letters no article spells out are not answered with a sentence that uses them."""
    text = (
        "HARLOW BAY, May 4 (Coast Wire) - Investigators began examining the wreck of the ferry Aster on "
        "Tuesday. The Marine Accident Investigation Unit (MAIU) said divers had recovered the voyage data "
        "recorder.\n\nThe MAIU said its report would be published within a year. The ferry operator, "
        "Sound Link, said it was cooperating fully. The KRT said nothing."
    )
    svc = make_service()
    svc.ingest_documents([DocumentIn(id="ferry", title="Ferry wreck inquiry opens", text=text)])
    answer = svc.ask("What does MAIU stand for?")
    assert not answer.abstained, answer.answer
    cited = answer.citations[0]
    assert "Marine Accident Investigation Unit (MAIU)" in cited.quote, answer.answer
    assert text[cited.start : cited.end] == cited.quote
    unknown = svc.ask("What does KRT stand for?")
    assert not any("Marine Accident" in c.quote for c in unknown.citations), unknown.answer


@pytest.mark.parametrize(
    "question, term",
    [
        ("What is the drought surcharge mentioned in the article about the reservoirs?", "drought surcharge"),
        ("In the trial video, what does the word 'Varrow' refer to?", "Varrow"),
        ("What is meant by 'precision thermal weeding'?", "precision thermal weeding"),
        ("What are the two prisoners' demands in the latest video released by the court?", None),  # too long
        ("Who is the mayor?", None),
    ],
)
def test_the_term_a_question_asks_the_meaning_of(question: str, term: str | None) -> None:
    assert term_asked(question) == term


@pytest.mark.parametrize(
    "sentence, term, explained",
    [
        (
            'The authority announced a "drought surcharge", an extra charge of 4 crowns.',
            "drought surcharge",
            True,
        ),
        ("asked again, using “Varrow,” the name islanders use for their harbour", "Varrow", True),
        (
            'a technique called "precision thermal weeding," in which heat is aimed',
            "precision thermal weeding",
            True,
        ),
        (
            'sold under a "robot-as-a-service" (RaaS) model, in which farmers pay',
            "robot-as-a-service model",
            True,
        ),
        ("investigators had recovered the ship's voyage data recorder.", "voyage data recorder", False),
        ('"Housing decided this election," he said.', "housing", False),  # quoted speech, not a term
        ('He said "the toll" was rising.', "death toll", False),
    ],
)
def test_a_sentence_that_quotes_a_term_and_explains_it(sentence: str, term: str, explained: bool) -> None:
    assert explains(sentence, term) is explained


def test_the_explaining_sentence_answers_what_a_term_is() -> None:
    cands = [
        _cand("The surcharge will run until the reservoirs are back above 60 percent.", 0.8),
        _cand(
            'The authority announced a "drought surcharge", an extra charge of 4 crowns a cubic metre.', 0.2
        ),
    ]
    assert explaining_the_term_asked(cands, "What is the drought surcharge?") == [1]
    assert explaining_the_term_asked(cands, "What is a hosepipe ban?") == []
    assert explaining_the_term_asked(cands, "When will the surcharge end?") == []
