"""The offline engine: pure parts (compose, follow-ups, summary requests, candidates), then the whole
pipeline on the seed articles with the shipped reader."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from answers.candidates import Candidate, candidates
from answers.capitals import as_countries, capitals
from answers.compose import (
    ComposeConfig,
    accepted,
    answer_from_groups,
    compose,
    group,
    numbered,
    on_the_number_asked,
    on_the_place_asked,
    on_the_story_asked,
    on_the_year_or_number_asked,
    said_by_whom_asked,
    statements_of_the_person_asked,
    statements_on_the_topic_asked,
)
from answers.intent import SummaryRequest, summary_request
from answers.models import ABSTAIN_TEXT, Answer
from answers.parts import question_parts
from answers.speakers import speaker
from answers.rewrite import asks_for_person, named_person, referent, rewrite_follow_up, words_as_written
from answers.summarize import by_article_rounds, document_sentences, leans_back, select_sentences
from evals.metrics import leaked_boilerplate
from conftest import ARTICLES, MakeService, ROOT, check_citations, candidate as _cand
from factdesk.service import Factdesk
from retrieval.models import Document, DocumentIn, SearchHit
from retrieval.search import SentenceHit


def _unit(*rows: list[float]) -> np.ndarray:
    v = np.array(rows, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


# ---------------------------------------------------------------- compose (pure)


TRANSFER = (
    "Manager Callum Whitaker said the club had wanted Mendes since last summer. "
    '"Tiago gives us pace," Whitaker said. "He is young and hungry."\n\n'
    'Mendes said he had spoken to Rafael Costa before signing. "Rafael told me the fans are special," '
    'he said. "I want to repay their faith."\n\n'
    '"We are delighted," the club said. It said the fee was a record.\n\n'
    '"It is a big day," said its captain, Jonas Lund. "Fans waited years. They deserve this."'
)


@pytest.mark.parametrize(
    "sentence, who",
    [
        (
            "Manager Callum Whitaker said the club had wanted Mendes since last summer.",
            {"manager", "callum", "whitaker"},
        ),
        ('"Tiago gives us pace," Whitaker said.', {"whitaker"}),
        ('"He is young and hungry."', {"whitaker"}),  # a quotation goes on with its paragraph's speaker
        ('"Rafael told me the fans are special," he said.', {"mendes"}),  # not the name inside the quote
        ('"I want to repay their faith."', {"mendes"}),
        ('"We are delighted," the club said.', None),  # a role: not a name
        ("It said the fee was a record.", None),
        # each sentence of a quotation of several that neither opens with a quote mark and closes
        # with one: the quotation's speaker
        ('"Fans waited years.', {"jonas", "lund"}),
        ('They deserve this."', {"jonas", "lund"}),
    ],
)
def test_whom_a_sentence_is_attributed_to(sentence: str, who: set[str] | None) -> None:
    start = TRANSFER.index(sentence)
    assert speaker(TRANSFER, start, start + len(sentence)) == who


@pytest.mark.parametrize(
    "text, sentence, who",
    [
        # the name between the commas, not the body it heads
        (
            "The president of the Rowing Association, Karl Weber, confirmed the ban. He said it was fair.",
            "He said it was fair.",
            {"karl", "weber"},
        ),
        # a name's affiliation after "of" is not its end
        (
            'Sara Mikkelsen of the Liberal Union said the rise was unfair. "It hurts shops," she said.',
            '"It hurts shops," she said.',
            {"sara", "mikkelsen"},
        ),
        # a name does not run on over a sentence's end or a paragraph's
        (
            'He moved to Toronto.\n\nRusk said the plan was sound. "It works," he said.',
            '"It works," he said.',
            {"rusk"},
        ),
        (
            "Dr. Peter Walsh said it would open.",
            "Dr. Peter Walsh said it would open.",
            {"dr", "peter", "walsh"},
        ),
    ],
)
def test_whom_a_statement_is_attributed_to_in_news_forms(text: str, sentence: str, who: set[str]) -> None:
    start = text.index(sentence)
    assert speaker(text, start, start + len(sentence)) == who


def test_what_a_named_person_said_keeps_to_that_person() -> None:
    def at(sentence: str, p: float) -> Candidate:
        return _cand(sentence, p, doc="t", start=TRANSFER.index(sentence))

    his = at('"Tiago gives us pace," Whitaker said.', 0.9)
    other = at('"Rafael told me the fans are special," he said.', 0.8)
    role = at('"We are delighted," the club said.', 0.7)
    groups = [[his], [other], [role]]
    texts = {"t": TRANSFER}
    assert said_by_whom_asked(groups, "What did Callum Whitaker say about Mendes?", texts) == [[his], [role]]
    assert said_by_whom_asked(groups, "What did the manager say?", texts) == groups  # no name asked
    # a role may come before the name
    assert said_by_whom_asked(groups, "What did manager Callum Whitaker say about Mendes?", texts) == [
        [his],
        [role],
    ]
    # when every sentence is someone else's, none answers (a decline)
    assert said_by_whom_asked([[other]], "What did Whitaker say?", texts) == []


def test_what_a_named_person_said_is_every_statement_of_theirs() -> None:
    """ "What did Peter Walsh say?" asks for all he said: the reader read such bare questions poorly
    (0.04 for "Dr Peter Walsh, who will run it, said ..."), so his statements are the answer, most
    probable first, however it scores them; nobody else's (another Walsh, a councillor Smith)."""
    text = (
        "A clinic opened in Harford. Dr Peter Walsh, who will run it, said it would see 200 patients a week. "
        '"We are ready," he said. The head nurse, Mary Lowe, said staff had been hired. '
        "Dr Helen Walsh said the Dunmore clinic would follow. Funding came from the council, according to "
        "Councillor Anna Smith."
    )
    sentences = [s.strip() + "." for s in text.split(". ")]
    sentences = [s.removesuffix("..") for s in sentences]
    cands = [_cand(s, 0.05 + i / 100, start=text.index(s)) for i, s in enumerate(sentences)]
    texts = {"d0": text}

    def said(question: str) -> list[str]:
        return [cands[i].text for i in statements_of_the_person_asked(cands, question, texts)]

    assert said("What did Dr Peter Walsh say?") == [sentences[2], sentences[1]]  # '"We are ready," he said.'
    assert said("What did Peter Walsh say") == said("What did Dr Peter Walsh say?")
    assert said("What did Mary Lowe say?") == [sentences[3]]
    assert said("What did Anna Smith say?") == [sentences[5]]
    assert set(said("What did Walsh say?")) == {sentences[1], sentences[2], sentences[4]}
    assert said("What did John Smith say?") == [] and said("What did Dr Smith say?") == [sentences[5]]
    # a first name of their own is another person: Helen Brandt is not Tomas Brandt
    mayor = 'Mayor Helen Brandt said the budget was sound. "We cannot pay twice," Tomas Brandt said.'
    quote = '"We cannot pay twice," Tomas Brandt said.'
    his = _cand(quote, 0.9, doc="d2", start=mayor.index(quote))
    assert statements_of_the_person_asked([his], "What did Helen Brandt say?", {"d2": mayor}) == []
    assert said_by_whom_asked([[his]], "What did Helen Brandt say about it?", {"d2": mayor}) == []
    hers = _cand("Mayor Helen Brandt said the budget was sound.", 0.8, doc="d2")
    kept = said_by_whom_asked([[his], [hers]], "What did Helen Brandt say about the budget?", {"d2": mayor})
    assert kept == [[hers]]
    assert statements_of_the_person_asked([his, hers], "What did Mayor Brandt say?", {"d2": mayor}) == [0, 1]
    told = _cand("Police told Anna Berg to leave.", 0.9, doc="d1")
    assert statements_of_the_person_asked([told], "What did Anna Berg say?", {"d1": told.text}) == []
    # narrower questions are the reader's to answer, as before
    assert said("What did Peter Walsh say about patients?") == []
    assert said("Who did Peter Walsh say would come?") == []
    answer = compose(
        cands,
        _unit(*[[1.0, i / 10] for i in range(len(cands))]),
        0.5,
        ComposeConfig(),
        "extractive",
        "v",
        texts=texts,
        question="What did Mary Lowe say?",
    )
    assert not answer.abstained and answer.citations[0].quote == sentences[3], answer.answer


def test_what_a_named_speaker_said_about_a_topic_when_the_reader_accepts_nothing() -> None:
    """ "What did <name> say about <topic>?" read by the reader below its threshold everywhere (it reads
    reported statements poorly): that speaker's sentences holding half the topic's words or more
    answer it; someone else's, another topic's, the speaker's own off-topic ones and those that
    only name the speaker do not. An agency's bracketed acronym is its name ("The National
    Intelligence Service (NIS) told ...")."""
    text = (
        "The National Intelligence Service (NIS) told lawmakers that the troops carried grenades. "
        "A soldier died before a grenade attack, according to the NIS. "
        "Lawmaker Lee Min said the grenade memos were real. "
        "The NIS also confirmed the capture of two soldiers. "
        "Grenade stocks were low at the front, in crates marked by the NIS. "
        "The NIS briefed the committee last week that grenade drills were held."
    )
    sentences = [s.strip().removesuffix(".") + "." for s in text.split(". ")]
    cands = [_cand(s, 0.3 - i / 100, start=text.index(s)) for i, s in enumerate(sentences)]
    texts = {"d0": text}

    def about(question: str) -> list[str]:
        return [cands[i].text for i in statements_on_the_topic_asked(cands, question, texts)]

    assert about("What did the NIS say about grenades?") == [sentences[0], sentences[1], sentences[5]]
    assert about("What has the NIS told lawmakers about grenade orders?") == about(
        "What did the NIS say about grenades?"
    )
    assert about("What did Lee Min say about the grenade memos?") == [sentences[2]]
    assert about("What did the NIS say about the weather?") == []  # no sentence on the topic
    assert about("What did Anna Berg say about grenades?") == []  # never named
    assert about("What did the NIS say?") == [] and about("Who did the NIS say about grenades?") == []
    opening = _cand("According to the NIS, the grenades came from Moscow.", 0.1, doc="d9")
    assert statements_on_the_topic_asked([opening], "What did the NIS say about the grenades?", {}) == [0]
    # "The National Intelligence Service (NIS) told", "according to the NIS", "The NIS also confirmed"
    assert statements_of_the_person_asked(cands, "What did the NIS say?", texts) == [0, 1, 3]
    vecs = _unit(*[[float(i == j) for j in range(len(cands))] for i in range(len(cands))])

    def answer(question: str) -> Answer:
        return compose(cands, vecs, 0.5, ComposeConfig(), "extractive", "v", texts=texts, question=question)

    quotes = [c.quote for c in answer("What did the NIS say about grenades?").citations]
    assert quotes == [sentences[0], sentences[1], sentences[5]], quotes
    for unanswerable in ("What did the NIS say about the weather?", "What is a grenade?"):
        assert answer(unanswerable).abstained, unanswerable


def test_a_statement_from_a_story_search_found_far_less_relevant_is_left_out() -> None:
    """A tester's "How much will the regional government pay to victims' families?" was answered with
    the ferry story's 10,000 euros and a council budget's "The average household will pay about 68
    pounds more a year." (0.77 from the reader, its article's best passage at 0.36 of the ferry's
    0.91 in search). Groups from an article under half the best article's search score go, unless
    every group would; a group restated in a relevant article stays."""
    ferry = _cand("The regional government would pay 10,000 euros to each family.", 0.96, doc="ferry")
    budget = _cand("The average household will pay about 68 pounds more a year.", 0.77, doc="budget")
    copy = _cand("Each family gets 10,000 euros from the regional government.", 0.5, doc="ferry2")
    relevance = {"ferry": 0.91, "budget": 0.36, "ferry2": 0.5, "other": 0.2}
    assert on_the_story_asked([[ferry], [budget]], relevance, 0.5) == [[ferry]]
    assert on_the_story_asked([[budget]], relevance, 0.5) == [[budget]]  # all would go: none does
    assert on_the_story_asked([[budget, copy]], relevance, 0.5) == [[budget, copy]]
    assert on_the_story_asked([[ferry], [budget]], relevance, 0.0) == [[ferry], [budget]]  # off
    vecs = _unit([1.0, 0.0], [0.0, 1.0])
    answer = compose([ferry, budget], vecs, 0.6, ComposeConfig(), "extractive", "v", relevance=relevance)
    assert [c.quote for c in answer.citations] == [ferry.text], answer.answer
    answer = compose([ferry, budget], vecs, 0.6, ComposeConfig(), "extractive", "v")  # no search scores
    assert len(answer.citations) == 2, answer.answer


def test_another_storys_sentence_does_not_set_the_floor_for_the_storys_own() -> None:
    """The reader gives another story's sentence of the right shape more than the asked story's own
    ("Which pool will close?": 0.95 for "The two village halls would close in May." of a story search
    found far less relevant, 0.66 for the pool's): that sentence must not set the keep ratio's floor
    and push the pool's out. When no sentence of the story clears the threshold, the others are
    read as before."""
    halls = _cand("The two village halls would close in May.", 0.95, doc="halls")
    pool = _cand("The Westfield pool, which opened in 1971, will close in June.", 0.66, doc="budget")
    moved = _cand("Its swimming club will move to the leisure centre.", 0.55, doc="budget", start=70)
    relevance = {"budget": 0.8, "halls": 0.3}
    cands = [halls, pool, moved]
    assert accepted(cands, 0.6, ComposeConfig(), relevance) == [1]
    assert accepted(cands, 0.6, ComposeConfig()) == [0]  # without search's relevance: as before
    assert accepted(cands, 0.7, ComposeConfig(), relevance) == [0]  # the story's own under the threshold
    vecs = _unit([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0])
    answer = compose(cands, vecs, 0.6, ComposeConfig(), "extractive", "v", relevance=relevance)
    assert [c.quote for c in answer.citations] == [pool.text], answer.answer


def test_she_said_is_the_person_last_introduced_saying_something() -> None:
    """'"...," she said' after "Former leader Sandra Pyke, who ..., defended the plan, saying ..." is
    Pyke's, not the last speaker's before her (the council leader quoted a paragraph earlier)."""
    text = (
        '"This is the darkest day," said its leader, Councillor Neil Brackenbury.\n\n'
        "Former leader Sandra Pyke, who oversaw the purchases, defended the strategy, saying it was "
        'meant to protect services. "Every decision was taken on advice," she said. "Nobody predicted '
        'Covid."\n\nThe council denied the claims, a spokesman replied.'
    )
    for quote in ('"Every decision was taken on advice," she said.', '"Nobody predicted Covid."'):
        start = text.index(quote)
        assert speaker(text, start, start + len(quote)) == {"sandra", "pyke"}, quote
    start = text.index('"This is')
    assert speaker(text, start, text.index("\n")) == {"councillor", "neil", "brackenbury"}
    # a day is no speaker: "Mayor Helen Brandt on Friday unveiled a plan, saying ..." was read as
    # Friday's, and her quote then as somebody else's
    plan = 'Mayor Helen Brandt on Friday unveiled a plan, saying rents rose. "Families are priced out," she said.'
    start = plan.index('"Families')
    assert speaker(plan, start, len(plan)) == {"mayor", "helen", "brandt"}


def test_a_figure_for_the_place_asked_not_another_place_beside_it() -> None:
    japan = _cand("Sales in Japan jumped 31 percent to 450 million euros.", 0.9)
    norway = _cand("Sales in Norway, the home market, grew 4 percent.", 0.8, start=60)
    germany = _cand("In Germany, revenue reached 780 million euros.", 0.75, start=120)
    both = _cand("Growth in Japan outpaced growth in Norway.", 0.7, start=180)
    question = "How much did sales in Japan grow?"
    assert on_the_place_asked([[japan], [norway], [germany], [both]], question) == [[japan], [both]]
    # no sentence names the place asked: nothing to prefer, the answer stands
    assert on_the_place_asked([[norway], [germany]], question) == [[norway], [germany]]
    assert on_the_place_asked([[japan], [norway]], "How much did sales grow?") == [[japan], [norway]]
    # a month or a day after "in" or "on" is a time, not another place
    earlier = _cand("In December, Anna Berg said sales had grown by a tenth.", 0.8, start=240)
    monday = _cand("Sales rose on Monday, a spokesman said in Oslo.", 0.75, start=300)
    kept = on_the_place_asked([[japan], [earlier], [monday]], question)
    assert kept == [[japan], [earlier]]  # "in Oslo" is another place; "In December", "on Monday" are not


def test_a_thing_named_by_its_number_is_not_answered_with_another_numbers() -> None:
    """ "district 7" is not answered with District 1317's figure, nor "section 9" with section 3's: a
    sentence that names by another number what the question names by its number is about something
    else; when every accepted sentence is, the answer is a decline."""
    assert numbered("What budget did district 7 record?") == {"district": {"7"}}
    assert numbered("How much did sections 3, 4 and 5 cost?") == {"section": {"3", "4", "5"}}
    # thousands separators and decimals are no list; amounts are no names
    assert numbered("In district 7, 1,200 homes lost power.") == {"district": {"7"}}
    assert numbered("Nearly 30 people and over 200 cars; section 9.5 of the code") == {}
    other = _cand("District 1317 recorded a budget of $62.7 million.", 0.9)
    asked = _cand("District 7 recorded a budget of $45.1 million.", 0.8, start=60)
    plain = _cand("The budgets were approved in March.", 0.75, start=120)
    question = "What budget did district 7 record?"
    assert on_the_number_asked([[other], [asked], [plain]], question) == [[asked], [plain]]
    assert on_the_number_asked([[other]], question) == []
    assert on_the_number_asked([[other], [plain]], "What budget did the district record?") == [
        [other],
        [plain],
    ]
    answer = compose(
        [other],
        _unit([1, 0]),
        0.5,
        ComposeConfig(),
        "extractive",
        "v",
        texts={"d0": other.text},
        question=question,
    )
    assert answer.abstained
    both = "How much did districts 7 and 1317 record?"
    assert on_the_number_asked([[other], [asked]], both) == [[other], [asked]]
    # by a code: "case 14-K-2307" is not answered with case 14-K-2291's judge
    assert numbered("Who was the judge in case 14-K-2307?") == {"case": {"14-K-2307"}}
    assert numbered("In case No. 14-K-2291, the judge said") == {"case": {"14-K-2291"}}
    assert numbered("What aircraft was flight NA418?") == {"flight": {"NA418"}}
    judge = _cand("In case number 14-K-2291, judge Anneli Sorvik said the evidence was thin.", 0.9)
    assert on_the_number_asked([[judge]], "Who was the judge in case 14-K-2307?") == []
    # by ordinal too: "the third quarter" is not answered with the first quarter's figure
    assert numbered("How did revenue change in the third quarter?") == {"quarter": {"3"}}
    assert numbered("Revenue in the 3rd quarter rose; he first said so.") == {"quarter": {"3"}}
    assert numbered("Its second-quarter revenue rose.") == {"quarter": {"2"}}
    first = _cand("Revenue in the first quarter changed by 3.2 percent.", 0.9)
    third = _cand("Revenue in the third quarter changed by 7.9 percent.", 0.8, start=60)
    assert on_the_number_asked([[first], [third]], "How did revenue change in the third quarter?") == [
        [third]
    ]


def test_yearly_reports_of_one_template_answer_for_the_year_asked() -> None:
    """ "Profit reached 131 million euros." is in every year's report: the year asked is told by the
    article, not the sentence. When no accepted sentence's article mentions the year and a retrieved
    one does, the answer would be another year's: a decline."""
    texts = {
        f"y{y}": f"Northwind published its results for {y}. Sales rose {s} percent in {y}. Profit reached {p} million euros."
        for y, s, p in ((2022, 5.3, 131), (2023, 2.2, 118))
    }

    def profit(y: int, p: float) -> Candidate:
        return _cand(f"Profit reached {p} million euros.", p / 200, doc=f"y{y}", start=60)

    a, b = profit(2022, 131), profit(2023, 118)
    assert on_the_year_or_number_asked([[a], [b]], "What profit did Northwind make in 2023?", texts) == [[b]]
    assert on_the_year_or_number_asked([[a], [b]], "What profit did Northwind make?", texts) == [[a], [b]]
    assert on_the_year_or_number_asked([[a], [b]], "What profit did Northwind make in 2019?", texts) == [
        [a],
        [b],
    ]
    wrong_year = _cand("Sales rose 5.3 percent in 2022.", 0.64, doc="y2022", start=30)
    assert on_the_year_or_number_asked([[wrong_year]], "By how much did sales rise in 2023?", texts) == []
    # a thing named by ordinal, the same way: each quarter's margin sentence names no quarter
    quarters = {
        f"q{n}": f"Kestrel said its {w}-quarter revenue fell. Operating margin fell to {m} percent."
        for n, w, m in ((1, "first", 11.2), (3, "third", 9.4))
    }
    q1 = _cand("Operating margin fell to 11.2 percent.", 0.8, doc="q1", start=40)
    q3 = _cand("Operating margin fell to 9.4 percent.", 0.7, doc="q3", start=40)
    asked = "How much did the operating margin fall in the third quarter?"
    assert on_the_year_or_number_asked([[q1], [q3]], asked, quarters) == [[q3]]
    # no retrieved article mentions the year: nothing to tell them apart by, the answer stands
    assert on_the_year_or_number_asked(
        [[wrong_year]], "By how much did sales rise in 2023?", {"y2022": texts["y2022"]}
    ) == [[wrong_year]]


def test_figures_in_digits_before_a_word_of_magnitude() -> None:
    """ "62 million" is 62,000,000 as "sixty-two million" is (text2num read "62 1000000"), so a copy
    that spells it out states the same figure."""
    from answers.wording import agree, figures

    assert "62000000" in figures("It owes about 62 million crowns.")
    assert figures("It owes about sixty-two million crowns.") == {"62000000"}
    assert agree(figures("It owes about 62 million crowns."), figures("It owes sixty-two million crowns."))
    assert "340" in figures("Round 3 hundred and forty patients enrolled.")
    assert "3200" in figures("Some three thousand 2 hundred residents left.")
    assert figures("It costs $6.5 million.") == {"6.5", "1000000"}  # a decimal is left as it was


def test_nothing_accepted_declines() -> None:
    cands = [_cand("A sentence about the topic.", 0.2), _cand("Another one on the topic.", 0.1, start=40)]
    answer = compose(cands, _unit([1, 0], [0, 1]), 0.5, ComposeConfig(), "extractive", "v")
    assert answer.abstained and answer.answer == ABSTAIN_TEXT and answer.citations == []


def test_every_accepted_part_is_kept_and_stragglers_dropped() -> None:
    cands = [
        _cand("Part one of the answer.", 0.9),
        _cand("Part two of the answer.", 0.8, start=30),
        _cand("Barely over the threshold.", 0.35, start=60),
    ]
    assert accepted(cands, 0.3, ComposeConfig(keep_ratio=0.5)) == [0, 1]
    assert accepted(cands, 0.3, ComposeConfig(keep_ratio=0.3)) == [0, 1, 2]
    assert accepted(cands, 0.95, ComposeConfig()) == []


def test_restatements_are_cited_together_in_the_clean_wording() -> None:
    own = _cand("The agency said 300 soldiers were killed.", 0.7, doc="a")
    copy = _cand("The company mentioned 300 troopers had been killed.", 0.9, doc="b", dup="a")
    other = _cand("An unrelated accepted statement.", 0.8, doc="c")
    same_doc_repeat = _cand("The agency said again 300 were killed.", 0.6, doc="a", start=100)
    vecs = _unit([1, 0.05, 0], [1, 0, 0.05], [0, 1, 0], [1, 0.02, 0.02])
    groups = group([own, copy, other, same_doc_repeat], [1, 2, 0, 3], vecs @ vecs.T >= 0.8, ComposeConfig())
    assert [[c.document_id for c in g] for g in groups] == [["a", "b"], ["c"]]
    answer = compose([own, copy, other, same_doc_repeat], vecs, 0.5, ComposeConfig(), "extractive", "v")
    assert answer.answer == f"{own.text} [1][2] {other.text} [3]"
    assert [c.marker for c in answer.citations] == [1, 2, 3]


def test_a_span_that_restates_two_groups_keeps_its_one_marker() -> None:
    """Cited beside two statements, one source sentence is one citation, with one number."""
    first, second = (
        _cand("The agency said 300 died.", 0.9, doc="a"),
        _cand("Officials put it at 300.", 0.8, doc="b"),
    )
    shared = _cand("About 300 soldiers have died, it said.", 0.5, doc="c")
    answer = answer_from_groups([[first, shared], [second, shared]], "extractive", "v")
    assert answer.answer == f"{first.text} [1][2] {second.text} [3][2]"
    assert [(c.marker, c.document_id) for c in answer.citations] == [(1, "a"), (2, "c"), (3, "b")]


def test_a_quoted_sentence_is_shown_and_cited_with_its_whole_quotation() -> None:
    text = 'The port reopened. "Ships are moving. Crews are back," the harbour master said. Rain fell.'
    first, second = text.index('"Ships'), text.index("Crews")
    cands = [
        _cand(text[second : text.index(" Rain")], 0.9, start=second),  # accepted
        _cand(text[first : second - 1], 0.8, start=first),  # accepted: the same quotation
        _cand("The port reopened.", 0.1),
    ]
    vecs = _unit([1, 0, 0], [0, 1, 0], [0, 0, 1])
    answer = compose(cands, vecs, 0.5, ComposeConfig(), "extractive", "v", texts={"d0": text})
    whole = '"Ships are moving. Crews are back," the harbour master said.'
    assert answer.answer == f"{whole} [1]"
    [c] = answer.citations
    assert text[c.start : c.end] == c.quote == whole
    without = compose(cands, vecs, 0.5, ComposeConfig(), "extractive", "v")
    assert [c.quote for c in without.citations] == [cands[0].text, cands[1].text]


def test_articles_that_name_nothing_the_question_names_are_left_out() -> None:
    """Briefs from one template about two ports: asked about one, the other's figure is not an answer.
    A question whose names no article holds in full, or that names nothing, keeps every group."""
    texts = {
        "lerwick": "The fleet at Lerwick landed 22,750 tonnes of herring last year.",
        "peterhead": "The fleet at Peterhead landed 41,200 tonnes of herring last year.",
    }
    cands = [_cand(t, 0.9 - 0.1 * i, doc=d) for i, (d, t) in enumerate(texts.items())]
    vecs = _unit([1, 0], [0, 1])

    def cited(question: str | None) -> list[str]:
        answer = compose(cands, vecs, 0.5, ComposeConfig(), "extractive", "v", texts=texts, question=question)
        return [c.document_id for c in answer.citations]

    assert cited("How many tonnes did the Lerwick fleet land?") == ["lerwick"]
    assert cited("How much herring did the Peterhead fleet land?") == ["peterhead"]
    assert cited("How much did the Ullapool fleet land?") == ["lerwick", "peterhead"]
    assert cited("How many tonnes of herring were landed?") == ["lerwick", "peterhead"]
    assert cited(None) == ["lerwick", "peterhead"]


def test_a_follow_up_keeps_to_the_articles_the_earlier_turn_named() -> None:
    """ "How many people does it employ?" after a question about Quayside Freight: the carried words keep
    their case, so the names stay names and other articles' employment figures are left out."""
    earlier = "How much will Harbor Logistics pay for Quayside Freight?"
    query = rewrite_follow_up("How many people does it employ?", [earlier])
    assert query == "How many people does it employ? (Harbor Logistics pay Quayside Freight)"
    # a turn's first word is capitalised as any sentence's is, not as a name
    assert words_as_written("Captured soldiers: where are they held in Kyiv?") == [
        "captured",
        "soldiers",
        "held",
        "Kyiv",
    ]
    texts = {
        "merger": "Harbor Logistics will buy Quayside Freight. Quayside Freight employs about 1,100 people.",
        "factory": "The battery factory is expected to employ 300 people when it opens.",
        "ferry": "Kellin Island has about 2,300 residents, who depend on the ferry.",
    }
    cands = [
        _cand(texts["merger"][44:], 0.9, doc="merger", start=44),
        _cand(texts["factory"], 0.8, doc="factory"),
        _cand(texts["ferry"], 0.7, doc="ferry"),
    ]
    answer = compose(
        cands,
        _unit([1, 0, 0], [0, 1, 0], [0, 0, 1]),
        0.5,
        ComposeConfig(),
        "extractive",
        "v",
        texts=texts,
        question=query,
    )
    assert [c.document_id for c in answer.citations] == ["merger"]


def test_an_answer_about_another_named_thing_is_declined() -> None:
    """Asked about Zorvathc7, the reader accepts only Zorvathc17's report: declined while Zorvathc7's
    own report was retrieved, answered as before when no retrieved article names it."""
    texts = {
        "c17": "The village of Zorvathc17 recorded 1017 millimetres of rain.",
        "c7": "The village of Zorvathc7 recorded 1007 millimetres of rain.",
    }
    cands = [_cand(texts["c17"], 0.9, doc="c17"), _cand(texts["c7"], 0.1, doc="c7")]
    vecs = _unit([1, 0], [0, 1])
    question = "How much rain did Zorvathc7 record?"
    answer = compose(cands, vecs, 0.5, ComposeConfig(), "extractive", "v", texts=texts, question=question)
    assert answer.abstained and answer.citations == []
    only = {"c17": texts["c17"]}
    answer = compose(
        cands[:1], vecs[:1], 0.5, ComposeConfig(), "extractive", "v", texts=only, question=question
    )
    assert not answer.abstained and [c.document_id for c in answer.citations] == ["c17"]


def test_a_name_counts_whole() -> None:
    """A tester's "How much profit did Norbridge Energy make last year?" was answered with Northbridge
    Energy's loss: that article shares "Energy" with the name asked, which counted as naming it. A
    name is named only with all its words: declined while Norbridge's own report was retrieved;
    Tom Marsh is not named by an article on Ellen Marsh. Among articles that each name it whole,
    nothing changes."""
    texts = {
        "north": "Northbridge Energy reported a net loss of 45 million dollars for last year.",
        "nor": "Norbridge Energy said its annual profit rose 12 percent to 340 million dollars.",
    }
    cands = [_cand(texts["north"], 0.67, doc="north"), _cand(texts["nor"], 0.61, doc="nor")]
    vecs = _unit([1, 0], [0, 1])

    def ask(question: str, texts: dict[str, str]) -> list[str]:
        answer = compose(
            cands, vecs, 0.63, ComposeConfig(), "extractive", "v", texts=texts, question=question
        )
        return [c.document_id for c in answer.citations]

    assert ask("How much profit did Norbridge Energy make last year?", texts) == []
    assert ask("How much did Northbridge Energy lose?", texts) == ["north"]
    marsh = {
        "north": "Mayor Ellen Marsh said the library would close.",
        "nor": "Tom Marsh was elected in 2023.",
    }
    assert ask("What did Tom Marsh say about the library?", marsh) == []
    assert ask("What did Marsh say about the library?", marsh) == ["north"]
    # ... and in order: "the Old Quay" is not named by an article on "an old man" and "the Kiln Quay"
    # while the festival's article names it
    quays = {
        "north": "An old man was hurt and the Kiln Quay was shut after engineers found damage.",
        "nor": "Police closed the Old Quay to pedestrians because it became too crowded.",
    }
    assert ask("Why did police close the Old Quay?", quays) == []
    assert ask("Why was the Kiln Quay shut?", quays) == ["north"]


def test_an_article_that_restates_an_answer_is_cited_even_below_the_threshold() -> None:
    a = _cand("The spy agency confirmed the capture.", 0.9, doc="a")
    b = _cand("Seoul's spy agency confirmed they were captured.", 0.2, doc="b")
    answer = compose([a, b], _unit([1, 0.1], [1, 0.12]), 0.5, ComposeConfig(), "extractive", "v")
    assert {c.document_id for c in answer.citations} == {"a", "b"} and answer.answer.count("[") == 2


# ---------------------------------------------------------------- follow-ups (pure)


@pytest.mark.parametrize(
    "previous, follow_up, standalone",
    [
        (
            "When was the first prisoner born?",
            "Where was he captured?",
            "Where was the first prisoner captured?",
        ),
        (
            "Which unit did the captured soldiers belong to?",
            "How many of their comrades died?",
            "How many of the captured soldiers' comrades died?",
        ),
        (
            "When was the first prisoner born?",
            "What about the other prisoner?",
            "When was the other prisoner born?",
        ),
        (
            "What did Ms Lagarde say on Monday?",
            "And what about Mr Powell?",
            "What did Mr Powell say on Monday?",
        ),
        ("What did the mayor promise?", "Who criticised that promise?", "Who criticised the mayor promise?"),
        ("Which unit did the two men serve in?", "How big is that unit?", "How big is the unit?"),
        (  # an object pronoun is not the subject before it ("Harbour police" caught them)
            "Where were the two smugglers arrested?",
            "And which Harbour police unit caught them?",
            "And which Harbour police unit caught the two smugglers?",
        ),
        (  # the people a nationality qualifies, not the country
            "How many Ruritanian soldiers crossed the border?",
            "Where were they stationed?",
            "Where were Ruritanian soldiers stationed?",
        ),
        (  # the preposition the follow-up repeats is not said twice
            "How much extra time were drivers on the A64 told to allow?",
            "What about on the M62?",
            "How much extra time were drivers on the M62 told to allow?",
        ),
        (  # a "with" or "of" phrase belongs to the noun it qualifies
            "What did the sailor with the broken arm tell the court?",
            "Where was he born?",
            "Where was the sailor with the broken arm born?",
        ),
        (  # ... but not the verb that do-support puts after the subject
            "Did the head of the port authority resign?",
            "When did he take office?",
            "When did the head of the port authority take office?",
        ),
        (  # "her" before a content word is a possessive, at the end the object
            "When did Maria Okafor turn professional?",
            "What was her first title?",
            "What was Maria Okafor's first title?",
        ),
        ("When did Maria Okafor turn professional?", "Who coached her?", "Who coached Maria Okafor?"),
        (
            "When did Maria Okafor turn professional?",
            "Who gave her the award?",
            "Who gave Maria Okafor the award?",
        ),
        (  # a place is not "he": the previous turn's words go with the question instead
            "Who was captured in Syldavia?",
            "What did he say in the video?",
            "What did he say in the video? (captured Syldavia)",
        ),
    ],
)
def test_follow_ups_become_standalone(previous: str, follow_up: str, standalone: str) -> None:
    assert rewrite_follow_up(follow_up, [previous]) == standalone


def _kinds(similar: dict[str, str]):  # type: ignore[no-untyped-def]
    """A stand-in for the embedder's cosines: 0.9 for the phrase named of one kind with X, else 0.2."""
    return lambda x, options: [0.9 if similar.get(x) == o else 0.2 for o in options]


@pytest.mark.parametrize(
    "previous, follow_up, kinds, standalone",
    [
        (  # the place of its kind, not the company the question is about
            "How much revenue did Nordvik make in Germany?",
            "What about Japan?",
            {"Japan": "Germany"},
            "How much revenue did Nordvik make in Japan?",
        ),
        (  # "and" with a preposition: what follows the same preposition
            "How much revenue did Nordvik make in Germany?",
            "And in Japan?",
            {},
            "How much revenue did Nordvik make in Japan?",
        ),
        ("How many homes were flooded in 2014?", "And in 2015?", {}, "How many homes were flooded in 2015?"),
        (  # a place the previous question did not name: asked there
            "What was Nordvik's revenue?",
            "And in Japan?",
            {},
            "What was Nordvik's revenue in Japan?",
        ),
        (  # nothing of X's kind: what the question was about, as before
            "What did Anna Berg say about the results on Monday?",
            "What about Marcus Lindqvist?",
            {},
            "What did Marcus Lindqvist say about the results on Monday?",
        ),
        ("What did the Times report?", "And the Herald?", {}, "What did the Herald report?"),
        (  # a preposition of two words: the other source
            "How many soldiers were killed, according to Seoul?",
            "And according to Kyiv?",
            {},
            "How many soldiers were killed, according to Kyiv?",
        ),
        (
            "How many soldiers were killed?",
            "What about according to Kyiv?",
            {},
            "How many soldiers were killed according to Kyiv?",
        ),
        (  # a question of its own is no phrase to swap in
            "How many North Korean soldiers were killed?",
            "And how many were wounded?",
            {},
            "And how many were wounded? (North Korean soldiers killed)",
        ),
    ],
)
def test_what_about_stands_for_the_phrase_of_its_kind(
    previous: str, follow_up: str, kinds: dict[str, str], standalone: str
) -> None:
    assert rewrite_follow_up(follow_up, [previous], similar=_kinds(kinds)) == standalone


@pytest.mark.parametrize(
    "question, parts",
    [
        (
            "How many phones received the alert, and how many people work at the factory?",
            ["How many phones received the alert?", "how many people work at the factory?"],
        ),
        (  # a later part's pronoun is the first part's subject
            "Who captured the soldiers? Where are they held now?",
            ["Who captured the soldiers?", "Where are the soldiers held now?"],
        ),
        ("What did Kyiv say; how did Moscow respond?", ["What did Kyiv say?", "how did Moscow respond?"]),
        # one question: "and" between two subjects, a part too short to ask on its own, a clause
        # between commas, a comma before an auxiliary
        (
            "What did the agency and the customer's boss each say?",
            ["What did the agency and the customer's boss each say?"],
        ),
        ("What did Smith say and why?", ["What did Smith say and why?"]),
        ("After the vote, what did the mayor say?", ["After the vote, what did the mayor say?"]),
        ("Why, according to Kyiv, is Russia doing this?", ["Why, according to Kyiv, is Russia doing this?"]),
    ],
)
def test_a_question_of_several_parts_is_split_into_questions(question: str, parts: list[str]) -> None:
    assert question_parts(question) == parts


@pytest.mark.parametrize(
    "question, reading",
    [
        ("How many instructors will Oslo send?", "How many instructors will Norway send?"),
        ("What did Tallinn's minister say?", "What did Estonia's minister say?"),
        ("Did Ottawa and Canberra agree?", "Did Canada and Australia agree?"),
        ("What did Abu Dhabi announce?", "What did United Arab Emirates announce?"),
        # the city itself: after a place preposition; part of another name; no capital at all
        ("Which hospital in Oslo treats them?", None),
        ("How many flew from Tallinn to Oslo?", None),
        ("Who won Paris-Roubaix?", None),
        ("What did the Washington Post report?", None),
        ("What did Singapore announce?", None),
        ("Who runs the Norwegian ministry?", None),
    ],
)
def test_a_capital_standing_for_its_country_is_read_as_the_country(
    question: str, reading: str | None
) -> None:
    assert as_countries(question) == reading


def test_every_country_with_one_capital_is_known() -> None:
    """From the gazetteer, not a list written here: every continent's capitals, none named twice."""
    known = capitals()
    assert len(known) > 190
    assert {known[c] for c in ("Oslo", "Nairobi", "Lima", "Hanoi", "Wellington")} == {
        "Norway",
        "Kenya",
        "Peru",
        "Vietnam",
        "New Zealand",
    }


def test_the_reader_also_reads_a_capital_as_its_country(
    make_service: MakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A question naming a government by its capital is read as asked and with the country's name;
    the answer is the article's sentence, cited exactly."""
    svc = make_service()
    text = (
        "Norway will send 40 more military instructors to Estonia next spring, the Norwegian defence "
        "ministry said on Tuesday. The instructors will train Estonian reservists in winter warfare at a "
        "base near Tapa. Norway already has about 120 soldiers in the Baltic state. Estonia's defence "
        "minister welcomed the decision. The deployment will cost about 90 million kroner a year, the "
        "ministry said."
    )
    svc.ingest_documents([DocumentIn(id="n", title="Norway to send more instructors to Estonia", text=text)])
    asked: list[str] = []
    score = svc.engine.reader.score  # type: ignore[attr-defined]

    def recorded(question, passages):  # type: ignore[no-untyped-def]
        asked.append(question)
        return score(question, passages)

    monkeypatch.setattr(svc.engine.reader, "score", recorded)  # type: ignore[attr-defined]
    answer = svc.ask("How much will Oslo's deployment cost each year?")
    assert asked == [
        "How much will Oslo's deployment cost each year?",
        "How much will Norway's deployment cost each year?",
    ]
    assert [c.quote for c in answer.citations] == [
        "The deployment will cost about 90 million kroner a year, the ministry said."
    ], answer.answer
    check_citations(svc, answer.citations)


def test_a_question_that_names_its_subject_is_not_rewritten() -> None:
    assert (
        rewrite_follow_up("Where was Ms Lagarde born?", ["What did Mr Powell say?"])
        == "Where was Ms Lagarde born?"
    )
    assert rewrite_follow_up("Where was he born?", []) == "Where was he born?"


def test_the_person_an_answer_names() -> None:
    asked = "Who is Harbour United's sporting director?"
    quotes = [
        "She will report to chief executive Owen Pryce and start work on 1 March.",
        "Harbour United have appointed Karen Holt as their sporting director, the club said.",
    ]
    # the sentence that repeats the question says who; a name the question holds is not the answer
    assert named_person(quotes, asked) == "Karen Holt"
    assert named_person(["Harbour United said so on Tuesday."], asked) is None
    # a name alone in brackets is a dateline's credit, not the one who won
    dateline = "TESSALY, Nov 3 (Meridian Press) - Julia Navarro won the mayoral election on Sunday."
    assert named_person([dateline], "Who won the Tessaly mayoral election?") == "Julia Navarro"
    assert (
        named_person(['"We cannot comment," Kremlin spokesman Dmitry Peskov said.'], "Who?")
        == "Dmitry Peskov"
    )
    # a name with a lowercase particle is one name, not the company the question holds
    safety = "Who is Voltra's head of safety?"
    said = "Voltra's head of safety, Henk de Vries, said repairs would be free and take about an hour."
    assert named_person([said], safety) == "Henk de Vries"
    assert asks_for_person("What did he say about repairs?", safety)
    assert (
        rewrite_follow_up("What did he say about repairs?", [safety], "Henk de Vries")
        == "What did Henk de Vries say about repairs?"
    )
    assert asks_for_person("How old is she?", asked)
    assert not asks_for_person("How old is she?", "When did the club appoint Karen Holt?")
    # a count that opens a sentence describes someone: the description, with its noun, is the referent
    hatch = "Who tried to open the hatch?"
    described = ["One Belgian diver tried to open the hatch before the police arrived."]
    assert named_person(described, hatch) == "the Belgian diver"
    assert (
        rewrite_follow_up("How old was he?", [hatch], "the Belgian diver") == "How old was the Belgian diver?"
    )
    assert not asks_for_person("When did it open?", "Who built the bridge?")
    zelenskyy = "Who did Zelenskyy offer to exchange the North Korean soldiers for?"
    assert not asks_for_person("What did he post on X?", zelenskyy)
    assert rewrite_follow_up("What did he post on X?", [zelenskyy]) == "What did Zelenskyy post on X?"
    assert not asks_for_person("What did she say?", "Who is Priya Sandhu?")
    assert asks_for_person("How old is she?", "Who did the club appoint as director?")
    assert asks_for_person("What did she say?", "Which councillor did the paper interview?")
    assert rewrite_follow_up("How old is she?", [asked], "Karen Holt") == "How old is Karen Holt?"
    assert rewrite_follow_up("When did it open?", ["What did the club build?"], "Karen Holt") == (
        "When did it open? (club build)"
    )


def test_she_after_a_who_question_is_the_person_the_answer_named(make_service: MakeService) -> None:
    """ "How old is she?" after "Who is the club's sporting director?" asks about the person the
    answer named, not the club the question named."""
    svc = make_service()
    text = (
        "Harbour United names new sporting director\n\n"
        "Harbour United have appointed Karen Holt as their sporting director, the club said on Tuesday. "
        "Holt, 44, spent eight years in charge of recruitment at Dunmore Athletic before the move. "
        "She will report to chief executive Owen Pryce and start work on 1 March."
    )
    svc.ingest_documents([DocumentIn(id="hu", text=text, title="Harbour United names new sporting director")])
    first = "Who is Harbour United's sporting director?"
    assert "Karen Holt" in svc.ask(first).answer
    assert svc.ask("How old is she?", history=[first]).question == "How old is Karen Holt?"


def test_referent() -> None:
    assert referent("What did Angela Merkel say about the vote?") == "Angela Merkel"
    assert referent("How many troops did the country send?") == "the country"
    assert referent("why?") is None
    assert referent("When did Syldavian officials meet?") == "Syldavian officials"
    assert referent("Where did Morgan go?") == "Morgan"


# ---------------------------------------------------------------- summary requests (pure)


@pytest.mark.parametrize(
    "message, query",
    [
        ("Summarize the articles", None),
        ("Summarise these stories.", None),
        ("What's the gist?", None),
        ("Give me a summary of the prisoner swap", "the prisoner swap"),
        ("Can you give me a brief overview of the election results?", "the election results"),
        ("tl;dr", None),
        ("Summarize the articles about herring", "herring"),
        ("Summarize what the articles say about the lighthouse", "the lighthouse"),
        ("Give me a summary of the stories on the strike", "the strike"),
        ("Summarize the news", None),
        ("Summarize the latest news", None),
        ("Summarize the Zorbia bridge article", "the Zorbia bridge"),
        ("Give me a summary of the strike coverage", "the strike"),
        ("Give me a summary of the news about the strike", "the strike"),
    ],
)
def test_summary_requests(message: str, query: str | None) -> None:
    req = summary_request(message)
    assert req is not None and req.query == query


def test_a_summary_request_that_points_back_is_about_the_last_turn() -> None:
    """ "Summarize it" after a question is a summary focused on that question; after a summary request,
    that request's subject; with nothing before it, everything."""
    assert summary_request("Summarize it", ["Tell me about the prisoner swap"]) == SummaryRequest(
        "Tell me about the prisoner swap", after_question=True
    )
    assert summary_request("Give me the gist of that", ["Give me a summary of the swap"]) == SummaryRequest(
        "the swap"
    )
    assert summary_request("Summarize it", ["Summarize the articles"]) == SummaryRequest(None)
    assert summary_request("Summarize it") == SummaryRequest(None)
    assert summary_request("Summarize the articles", ["Tell me about the swap"]) == SummaryRequest(None)


@pytest.mark.parametrize(
    "question",
    [
        "Who summarized the report?",
        "What summary did the agency give lawmakers?",
        "What did the minister say?",
    ],
)
def test_questions_are_not_summary_requests(question: str) -> None:
    assert summary_request(question) is None


# ---------------------------------------------------------------- candidates (pure)


def test_candidates_carry_neighbours_and_skip_fragments() -> None:
    text = "Title line\nFirst sentence is here. The answer is forty-two in all. Last one follows it."
    hit = SearchHit("c", "d", "T", text, 0, len(text), 1.0)
    s = text.index("The answer")
    e = text.index("Last") - 1
    sents = [SentenceHit(hit, s, e, 0.9, 0.9, 0), SentenceHit(hit, 0, 10, 0.5, 0.5, 0)]
    (c,) = candidates(sents, {"d": text})
    assert c.text == text[c.start : c.end] == "The answer is forty-two in all."
    assert c.passage.before == "First sentence is here." and c.passage.after == "Last one follows it."
    assert c.passage.title == "T"


def test_the_headline_repeated_in_the_text_is_not_a_candidate() -> None:
    title = "Flood waters rise across the northern valley towns"
    text = f"{title}\nFlood waters rose two metres in the northern valley on Monday, officials said."
    hit = SearchHit("c", "d", title, text, 0, len(text), 1.0)
    body = len(title) + 1
    sents = [SentenceHit(hit, 0, len(title), 0.9, 0.9, 0), SentenceHit(hit, body, len(text), 0.8, 0.8, 0)]
    assert [c.start for c in candidates(sents, {"d": text})] == [body]


def test_a_summary_does_not_repeat_the_headline_as_a_sentence() -> None:
    title = "Floods close the valley road for a second week."
    body = "The river rose two metres on Monday and the road was shut again, police said."
    text = f"{title}\n{body}"
    doc = Document(id="d", title=title, text=text, content_hash="h")
    assert [doc.text[s.start : s.end] for s in document_sentences(doc, [("d#0", 0, len(text))])] == [body]


def test_a_brief_of_short_sentences_still_has_its_say_in_a_summary() -> None:
    """Short lines are left out beside full sentences (a dateline, "Police said."), but a one-line
    brief of a few words is all its article says: it is summarised, as it can be cited in answers."""
    brief = "The mayor of Orlen resigned."
    doc = Document(id="b", title="Orlen", text=brief, content_hash="h")
    assert [brief[s.start : s.end] for s in document_sentences(doc, [("b#0", 0, len(brief))])] == [brief]
    text = f"{brief} Her deputy will act as mayor until an election is called in the spring."
    doc = Document(id="c", title="Orlen", text=text, content_hash="h")
    kept = [text[s.start : s.end] for s in document_sentences(doc, [("c#0", 0, len(text))])]
    assert kept == [text[len(brief) + 1 :]]


def test_a_summary_takes_a_quotation_of_several_sentences_whole() -> None:
    text = (
        'The council approved the budget on Tuesday after a long debate. "We have cut what we could. '
        'The rest keeps the buses running," the treasurer said. Work on the depot starts in March next year.'
    )
    doc = Document(id="d", title="Budget approved", text=text, content_hash="h")
    units = [doc.text[s.start : s.end] for s in document_sentences(doc, [("d#0", 0, len(text))])]
    assert units == [
        "The council approved the budget on Tuesday after a long debate.",
        '"We have cut what we could. The rest keeps the buses running," the treasurer said.',
        "Work on the depot starts in March next year.",
    ]


def test_a_summary_leads_with_its_most_central_sentence() -> None:
    """Groups come most central first, whatever order the articles' ids sort in."""
    texts = {
        "a-side": "Fishing boats stayed in port all week because of the storm warnings.",
        "b-main": "The storm flooded the harbour town and cut power to thousands of homes overnight.",
        "c-also": "Power was restored to most homes after the storm by Thursday evening, the utility said.",
    }
    sents = []
    for doc_id, text in texts.items():
        doc = Document(id=doc_id, title=doc_id, text=text, content_hash=doc_id)
        sents += document_sentences(doc, [(f"{doc_id}#0", 0, len(text))])
    vecs = np.array([[0.8, 0.6, 0.0], [0.0, 1.0, 0.0], [0.0, 0.6, 0.8]], dtype=np.float32)
    groups = select_sentences(sents, vecs, max_words=200)
    assert [g[0].document_id for g in groups][0] == "b-main"
    assert sorted(g[0].document_id for g in groups) == ["a-side", "b-main", "c-also"]
    # given relevance (a focused summary's reader scores), it alone orders the picks
    relevant = select_sentences(sents, vecs, max_words=200, relevance=np.array([0.9, 0.1, 0.5]))
    assert [g[0].document_id for g in relevant] == ["a-side", "c-also", "b-main"]
    assert [
        g[0].document_id for g in select_sentences(sents, vecs, 14, relevance=np.array([0.9, 0.1, 0.5]))
    ] == ["a-side"]


def test_a_summary_never_opens_with_a_sentence_that_leans_back() -> None:
    """ "They voted ..." first names no one: it opens a summary only after the sentence it leans on."""
    text = (
        "The Larkford council met on Monday to settle the tram extension. "
        "They voted 31 to 4 to build the line to the hospital by next spring. "
        "Work on the depot starts in March, the transport office said on Tuesday."
    )
    doc = Document(id="tram", title="Trams", text=text, content_hash="tram")
    sents = document_sentences(doc, [("tram#0", 0, len(text))])
    assert [leans_back(s.text) for s in sents] == [False, True, False]
    vecs = np.eye(3, dtype=np.float32)
    # "They voted ..." is the most relevant, but its sentence does not fit beside it: not shown
    short = select_sentences(sents, vecs, 16, relevance=np.array([0.1, 0.9, 0.5]))
    assert [g[0].text[:4] for g in short] == ["Work"]
    # room for both: "They ..." follows the sentence it leans on, wherever that one ranks
    both = select_sentences(sents, vecs, 60, relevance=np.array([0.5, 0.9, 0.1]))
    assert [g[0].text[:4] for g in both] == ["The ", "They", "Work"]
    # after a first sentence, sentences are taken in their order, as before (the sentence shown before
    # it usually gives the referent: docs/evals.md)
    later = select_sentences(sents, vecs, 60, relevance=np.array([0.2, 0.5, 0.9]))
    assert [g[0].text[:4] for g in later] == ["Work", "They", "The "]
    assert not leans_back("This week the ferry runs twice a day.")
    assert leans_back("“It is a fair deal,” she said.") and leans_back("The other did not.")


def test_a_summary_weighs_a_bounded_number_of_sentences_and_says_so(
    make_service: MakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each document gives its first sentences, its share of MAX_SUMMARY_SENTENCES (the pairwise
    comparisons grow with their square): a long report's later sentences are not weighed, and the
    summary says it summarised only the first ones."""
    from answers import engine

    svc = make_service()
    towns = ["Arden", "Bexley", "Corran", "Dunmore", "Eddleston", "Fenwick", "Garth", "Halford"]
    report = "Council report\n\n" + " ".join(
        f"The council of {town} said on Monday that {100 + i} residents had asked for a new library."
        for i, town in enumerate(towns)
    )
    brief = (
        "Ferry resumes\n\nThe ferry to Corran resumed on Tuesday after a week of storms, its operator said."
    )
    svc.ingest_documents([DocumentIn(text=report, id="report"), DocumentIn(text=brief, id="brief")])
    monkeypatch.setattr(engine, "MAX_SUMMARY_SENTENCES", 6)
    summary = svc.summarize(document_ids=["report", "brief"], max_words=400)
    assert summary.warnings == ["summarised the first 3 sentences of each document (1 of them have more)"]
    cited = {c.quote for c in summary.citations}
    assert any("Corran resumed" in q for q in cited)
    assert not any(town in q for q in cited for town in towns[3:] if town != "Corran")
    monkeypatch.setattr(engine, "MAX_SUMMARY_SENTENCES", 3000)
    assert svc.summarize(document_ids=["report", "brief"], max_words=400).warnings == []


def test_a_summary_of_everything_takes_each_articles_best_sentence_first() -> None:
    """Rounds: every article's best sentence (in the given order), then every article's second."""
    assert by_article_rounds([0, 1, 2, 3, 4], ["a", "a", "a", "b", "c"]) == [0, 3, 4, 1, 2]
    assert by_article_rounds([4, 2, 0, 1], ["a", "b", "a", "b", "c"]) == [4, 2, 1, 0]
    assert by_article_rounds([], []) == []


def test_a_focused_summary_leads_with_the_readers_and_the_querys_choice(
    seeded: Factdesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader engine reads the sentences nearest a focused summary's query (in cosine order) as
    answer candidates; the summary opens with the sentence ranked highest by the two rankings fused
    (reciprocal rank)."""
    from answers.engine import ReaderEngine
    from retrieval.fusion import fuse_reciprocal_rank

    engine = seeded.engine
    assert isinstance(engine, ReaderEngine)
    read, score = [], engine.reader.score

    def recorded(question, passages):  # type: ignore[no-untyped-def]
        read.append((question, list(passages)))
        return score(question, passages)

    monkeypatch.setattr(engine.reader, "score", recorded)
    query = "orders to avoid being captured"
    summary = seeded.summarize(query=query, max_words=60)
    ((asked, passages),) = read
    assert asked == query and 1 < len(passages) <= engine.config.summary_pool
    ids = [p.sentence for p in passages]
    by_reader = [ids[j] for j in np.argsort(-score(query, passages), kind="stable")]
    fused = dict(fuse_reciprocal_rank([ids, by_reader]))
    assert summary.citations[0].quote in fused
    assert fused[summary.citations[0].quote] == max(fused.values())
    check_citations(seeded, summary.citations)


# ---------------------------------------------------------------- the pipeline on the seed articles


def test_a_follow_up_is_answered_as_a_standalone_question(seeded: Factdesk) -> None:
    answer = seeded.ask("Where was he captured?", history=["When was the first prisoner born?"])
    assert answer.question == "Where was the first prisoner captured?"
    check_citations(seeded, answer.citations)


def test_what_about_a_place_swaps_the_place(seeded: Factdesk) -> None:
    # the embedder puts two countries of one kind: Russia stands for Ukraine, not North Korea
    answer = seeded.ask("What about Russia?", history=["How many North Korean troops are in Ukraine?"])
    assert answer.question == "How many North Korean troops are in Russia?"
    check_citations(seeded, answer.citations)


@pytest.mark.parametrize("question", ["x", "What is it?", "??", "and then?"])
def test_a_question_without_a_word_to_look_for_is_declined(seeded: Factdesk, question: str) -> None:
    answer = seeded.ask(question)
    assert answer.abstained and answer.citations == [] and answer.answer == ABSTAIN_TEXT


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of Australia?",
        "Who won the 2022 World Cup?",
        "What is the capital of Mongolia?",  # the articles name Mongolia, never its capital
        "How many drones did North Korea send to Russia?",  # on topic: troops are counted, no drones
        "Which hospital holds the prisoners?",  # on topic: they are in hospital, which one is not said
        "Who is the director of South Korea's National Intelligence Service?",
    ],
)
def test_abstains_when_the_articles_do_not_answer(seeded: Factdesk, question: str) -> None:
    answer = seeded.ask(question)
    assert answer.abstained and answer.citations == [] and answer.answer == ABSTAIN_TEXT


def test_agreeing_sources_are_cited_together(seeded: Factdesk) -> None:
    """One statement that several articles make carries all their markers."""
    answer = seeded.ask("How many North Korean soldiers have died in Ukraine?")
    first = answer.answer.split("] ")[0]
    assert "300" in first and re.search(r"(\[\d+\]){2,}", answer.answer)
    assert len({c.document_id for c in answer.citations}) >= 3
    check_citations(seeded, answer.citations)


def test_an_untitled_one_line_article_is_its_own_body(make_service: MakeService) -> None:
    """Sent without a title, a one-line article is titled by its line; that line is still the body
    it answers and summarises from, not a headline to skip."""
    svc = make_service()
    line = "Weather for Monday: sunny in Leeds, 12 degrees, light wind from the west."
    svc.ingest_documents(
        [
            DocumentIn(id="t1", text=line),
            DocumentIn(
                id="t2", title="Tuesday", text="Weather for Tuesday: cloudy in York, 9 degrees, rain."
            ),
        ]
    )
    assert svc.get_document("t1").title == line
    answer = svc.ask("What is the weather in Leeds on Monday?")
    assert not answer.abstained and [c.document_id for c in answer.citations][:1] == ["t1"], answer.answer
    summary = svc.summarize(document_ids=["t1"])
    assert [c.quote for c in summary.citations] == [line]
    check_citations(svc, answer.citations + summary.citations)


def test_each_part_of_a_two_part_question_is_answered(make_service: MakeService) -> None:
    """Read against the whole question, the reader keeps the part it scores highest; each part is also
    read as a question of its own (answers/parts.py), so both parts' sentences are cited."""
    svc = make_service()
    text = (
        "Brightwell Appliances said on Monday it was recalling about 40,000 electric kettles sold in "
        "Britain and Ireland after reports that their handles could come loose. The company has received "
        "23 reports of minor burns, a spokeswoman said. Customers can return the kettles to any store for "
        "a full refund. The kettles were made at a plant in Telford that employs about 300 people. "
        "Trading standards officers said they were satisfied with the company's response. "
        "Shares in Brightwell fell 4 percent in London."
    )
    svc.ingest_documents([DocumentIn(id="k", title="Brightwell recalls 40,000 kettles", text=text)])
    answer = svc.ask("What can customers do, and what did trading standards officers say?")
    quotes = [c.quote for c in answer.citations]
    assert any("full refund" in q for q in quotes), answer.answer
    assert any("satisfied" in q for q in quotes), answer.answer
    check_citations(svc, answer.citations)


def test_a_copys_sentence_is_read_once_and_cited_with_its_source(
    make_service: MakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader does not read a near-duplicate copy's sentence again: it takes its source sentence's
    probability unread (the pool holds one more sentence of something else) and is cited beside it."""
    svc = make_service()
    refund = "Customers can return the kettles to any store for a full refund."
    source = (
        "Brightwell Appliances said on Monday it was recalling about 40,000 electric kettles sold in "
        "Britain and Ireland after reports that their handles could come loose. The company has received "
        f"23 reports of minor burns, a spokeswoman said. {refund} The kettles were made at a plant in "
        "Telford that employs about 300 people. Trading standards officers said they were satisfied "
        "with the company's response. Shares in Brightwell fell 4 percent in London."
    )
    svc.ingest_documents([DocumentIn(id="a", title="Brightwell recalls 40,000 kettles", text=source)])
    svc.ingest_documents(
        [DocumentIn(id="b", title="Kettles recalled", text=source.replace("said on", "announced on"))]
    )
    assert svc.get_document("b").duplicate_of == "a"
    read: list[str] = []
    score = svc.engine.reader.score  # type: ignore[attr-defined]

    def recorded(question, passages):  # type: ignore[no-untyped-def]
        read.extend(p.sentence for p in passages)
        return score(question, passages)

    monkeypatch.setattr(svc.engine.reader, "score", recorded)  # type: ignore[attr-defined]
    answer = svc.ask("What can customers do with the recalled kettles?")
    assert read.count(refund) == 1 and len(read) == len(set(read))
    assert {c.document_id for c in answer.citations if c.quote == refund} == {"a", "b"}, answer.answer
    check_citations(svc, answer.citations)


def test_bracketed_numbers_in_an_article_do_not_read_as_markers() -> None:
    """An article's own "[1]" is shown as "(1)" in the answer text; the citation quotes it as it is."""
    text = "The giraffe weighs 60 kilograms [1] according to the vet."
    answer = compose([_cand(text, 0.9)], _unit([1, 0]), 0.5, ComposeConfig(), "extractive", "v")
    assert answer.answer == "The giraffe weighs 60 kilograms (1) according to the vet. [1]"
    assert answer.citations[0].quote == text


def test_restatements_must_agree_on_their_figures() -> None:
    """Close vectors are not enough: "10 months" and "20 months" are two facts; a sentence whose
    numbers are all among another's (or that has none) may restate it."""
    from answers.wording import figures, restatements

    assert figures("About 300 were killed and 2,700 wounded in 2024.") == {"300", "2700", "2024"}
    sentences = [
        "The bridge opened after 10 months of work.",
        "The bridge opened after 20 months of work.",
        "The bridge opened after months of work.",
        "The bridge opened after 10 months of work, in 2024.",
    ]
    same = restatements(_unit(*[[1.0, 0.0]] * 4), sentences, 0.8)
    assert not same[0, 1] and same[0, 2] and same[1, 2] and same[0, 3] and not same[1, 3]
    assert not restatements(_unit([1.0, 0.0], [0.0, 1.0]), ["Rain on 1 May.", "Rain on 1 May."], 0.8)[0, 1]
    # numbers in words are numbers: "nine boats" is not "14 boats"; vague or no figure stays none
    assert figures("Nine boats and two thousand five hundred nets were lost.") == {"9", "2500"}
    assert figures("Thousands came; no one left, and a second ferry sailed.") == set()
    spelled = [
        "The harbour master said 14 boats had been damaged.",
        "The harbour master said nine boats had been damaged.",
        "The harbour master said fourteen boats had been damaged.",
    ]
    same = restatements(_unit(*[[1.0, 0.0]] * 3), spelled, 0.8)
    assert not same[0, 1] and same[0, 2] and not same[1, 2]


def test_restatements_must_agree_on_their_names() -> None:
    """Two towns' bridges, or one bridge on two days, are two facts; a sentence that names less
    (or starts with another word) may restate one that names more."""
    from answers.wording import names, restatements

    assert names("The new bridge in Brixham opened on Friday.") == {
        ("in", "opened"): {"brixham"},
        ("on", None): {"friday"},
    }
    assert names("North Korean troops left.") == {(None, "troops"): {"north korean"}}
    assert names("Troops left.") == {}
    sentences = [
        "The new bridge in Brixham opened on Friday after 2 years of work.",
        "The new bridge in Corwen opened on Monday after 2 years of work.",
        "The new bridge opened on Friday after 2 years of work.",
        "Brixham's new bridge opened on Friday after 2 years of work.",
        "According to NIS, the new bridge in Brixham opened on Friday after 2 years of work.",
        "The new bridge in Brixham opened on Friday after 2 years of work, South Korea's agency said.",
    ]
    same = restatements(_unit(*[[1.0, 0.0]] * 6), sentences, 0.8)
    assert not same[0, 1] and same[0, 2] and not same[1, 2] and same[0, 3] and same[2, 3]
    assert same[4, 5] and same[0, 4] and not same[1, 5]  # who said it, named apart: still one statement
    # other names beside the same word are two facts too (a tester's four towns' water-main reports
    # were cited as one: "by Thursday ... Piet Arendse" with "by Tuesday evening ... Dana Kiel")
    mains = [
        "Engineers expected to restore supply by Thursday, a Veltra spokesman, Piet Arendse, said.",
        "Engineers expected to restore supply by Tuesday evening, a Veltra spokeswoman, Dana Kiel, said.",
        "Engineers expected to restore supply by Thursday, said Piet Arendse of Veltra.",
    ]
    same = restatements(_unit(*[[1.0, 0.0]] * 3), mains, 0.8)
    assert not same[0, 1] and not same[1, 2] and same[0, 2]


def test_near_identical_reports_with_other_figures_are_not_cited_together(make_service: MakeService) -> None:
    """Three towns' reports that differ in their town and their figure: the answer about one town
    does not cite the others' sentences as saying the same thing."""
    svc = make_service()
    towns = {"inv": ("Inverness", 10), "sti": ("Stirling", 20), "dun": ("Dundee", 30)}
    svc.ingest_documents(
        [
            DocumentIn(
                id=f"br-{key}",
                title=f"{town} bridge",
                text=f"The new bridge in {town} opened on Monday after {months} months of construction work "
                f"by the council. Local residents welcomed the bridge in {town}.",
            )
            for key, (town, months) in towns.items()
        ]
    )
    for question in (
        "When did the bridge in Inverness open?",
        "How long did the Stirling bridge take to build?",
    ):
        answer = svc.ask(question)
        quotes = {c.marker: c.quote for c in answer.citations}
        for sentence, markers in re.findall(r"(.+?)((?:\[\d+\])+)", answer.answer):
            shown = set(re.findall(r"\d+ months", sentence))
            cited = {
                m for n in re.findall(r"\d+", markers) for m in re.findall(r"\d+ months", quotes[int(n)])
            }
            assert cited == shown, answer.answer
        check_citations(svc, answer.citations)


def test_pages_of_one_template_answer_for_the_section_asked(make_service: MakeService) -> None:
    """Seven pages of one template, one per section: "section 4" is answered from section 4's page
    alone (all seven were cited as one statement), and "section 9", which no page has, is declined
    (it was answered with section 2's cost)."""
    svc = make_service()
    svc.ingest_documents(
        [
            DocumentIn(
                id=f"sec{s}",
                title=f"Renovation plan part {s}",
                text=f"The renovation plan covers the old school. Section {s} covers the roof and costs "
                f"${3 * s}.5 million. Work on section {s} starts in spring. The council approved section "
                f"{s} on Monday.",
            )
            for s in range(1, 8)
        ]
    )
    answer = svc.ask("How much does section 4 cost?")
    assert "$12.5 million" in answer.answer and answer.citations, answer.answer
    assert {c.document_id for c in answer.citations} == {"sec4"}, answer.answer
    check_citations(svc, answer.citations)
    assert svc.ask("How much does section 9 cost?").abstained


def test_yearly_reports_of_one_template_are_not_answered_with_another_years(
    make_service: MakeService,
) -> None:
    """Four years' results of one company, one template: "What profit ... in 2022?" listed all four
    years' "Profit reached ..." sentences, and "By how much did sales rise in 2023?" was answered
    with 2022's rise (the reader scores the two sentences alike)."""
    svc = make_service()
    years = ((2021, 4.1, 120), (2022, 5.3, 131), (2023, 2.2, 118), (2024, 6.0, 140))
    svc.ingest_documents(
        [
            DocumentIn(
                id=f"annual-{y}",
                title=f"Northwind annual results {y}",
                text=f"Northwind Foods published its results for {y} on Tuesday. Sales rose {s} percent in {y}, "
                f"the company said. Profit reached {p} million euros. Chief executive Lena Ort said the year "
                "had been demanding.",
            )
            for y, s, p in years
        ]
    )
    answer = svc.ask("What profit did Northwind make in 2022?")
    assert {c.document_id for c in answer.citations} <= {"annual-2022"}, answer.answer
    check_citations(svc, answer.citations)
    rise = svc.ask("By how much did sales rise in 2023?")
    assert not any(f"{s} percent" in rise.answer for y, s, _ in years if y != 2023), rise.answer


def test_a_summary_of_one_quarter_keeps_to_that_quarters_report(make_service: MakeService) -> None:
    """A tester's "Summarize Kestrel Robotics' third quarter" mixed in the first and second quarters'
    reports, ending with the first quarter's "Shares rose 3 percent": a focused summary leaves out
    sentences that name another quarter, and the reports that never name the one asked."""
    svc = make_service()
    quarters = (
        ("first", "rose 8 percent", "rose 3"),
        ("second", "rose 14 percent", "rose 1"),
        ("third", "fell 3 percent", "fell 11"),
    )
    svc.ingest_documents(
        [
            DocumentIn(
                id=f"kestrel-{word}",
                title=f"Kestrel Robotics {word}-quarter results",
                text=f"MUNICH -- Kestrel Robotics said its {word}-quarter revenue {revenue}. Operating margin "
                f"changed as component costs moved. Shares {shares} percent in Frankfurt.",
            )
            for word, revenue, shares in quarters
        ]
    )
    summary = svc.summarize(document_ids=None, query="Kestrel Robotics' third quarter", max_words=120)
    assert summary.citations and {c.document_id for c in summary.citations} == {"kestrel-third"}, (
        summary.summary
    )
    assert "rose 3 percent" not in summary.summary and "second-quarter" not in summary.summary


def test_a_figure_in_words_is_not_cited_as_another_in_digits(make_service: MakeService) -> None:
    """Two harbours' reports, the same sentence but for its figure, in digits in one and in words in
    the other: neither is cited as the other's statement (they were: "14 boats ... [1][2]")."""
    svc = make_service()
    svc.ingest_documents(
        [
            DocumentIn(
                id="ellen",
                title="Storm damage at Port Ellen",
                text="The storm hit Port Ellen harbour overnight. The harbour master said 14 boats had been "
                "damaged.",
            ),
            DocumentIn(
                id="askaig",
                title="Storm damage at Port Askaig",
                text="The storm hit Port Askaig harbour overnight. The harbour master said nine boats had been "
                "damaged.",
            ),
        ]
    )
    answer = svc.ask("How many boats were damaged in the storm?")
    quotes = {c.marker: c.quote for c in answer.citations}
    statements = re.findall(r"(.+?)((?:\[\d+\])+)", answer.answer)
    assert statements, answer.answer
    for sentence, markers in statements:
        for n in re.findall(r"\d+", markers):
            # a statement of 14 boats cites no quote of nine, and the reverse
            assert ("14 boats" in sentence) == ("14 boats" in quotes[int(n)]), answer.answer
    check_citations(svc, answer.citations)


def test_an_answer_does_not_depend_on_the_question_mark(seeded: Factdesk) -> None:
    """docs/api.md: a question typed without its "?" (or with a full stop) is read as if it had one,
    by search as by the reader: the same answer and the same citations. Emoji are no words either
    (a tester's "🙂 Who was captured?" was declined)."""
    for asked in (
        "Where were the soldiers captured?",
        "How many North Korean soldiers were killed?",
        "Who announced the capture of the soldiers?",
        "Which hospital holds the prisoners?",
    ):
        ref = seeded.ask(asked)
        for typed in (
            asked[:-1],
            asked[:-1] + ".",
            asked + "  ",
            "🙂 " + asked,
            "❓" + asked,
            asked[:-1] + " ✅",
        ):
            got = seeded.ask(typed)
            assert (got.answer, got.citations) == (ref.answer, ref.citations), typed


@pytest.mark.parametrize("message", ["Summarize the articles", "Give me a summary of the prisoner swap"])
def test_a_summary_request_gets_a_cited_summary(seeded: Factdesk, message: str) -> None:
    answer = seeded.ask(message)
    assert not answer.abstained and answer.answer != ABSTAIN_TEXT and answer.citations
    assert len(answer.answer.split()) <= seeded.settings.summary_max_words + 3 * len(answer.citations)
    check_citations(seeded, answer.citations)


def test_summary_is_cited_within_max_words_and_clean(seeded: Factdesk) -> None:
    summary = seeded.summarize(max_words=80)
    assert len(summary.summary.split()) <= 80
    assert summary.citations and not leaked_boilerplate(summary.summary)
    for sentence in re.split(r"(?<=\])\s+", summary.summary.strip()):
        assert re.search(r"\[\d+\]$", sentence), sentence  # every sentence carries its marker
    check_citations(seeded, summary.citations)


def test_a_summary_of_everything_tells_every_story(make_service: MakeService) -> None:
    """Four short unrelated articles beside the seed articles (one story told five times): the
    summary of everything cites each of them, not only the story most articles tell."""
    svc = make_service("mixed")
    svc.ingest_paths([ARTICLES])
    added = {
        "bakery": "The Morrow bakery in Tessby sold 777 loaves of rye bread on market day, twice its spring "
        "figure. Baker Tilde Nyberg said demand had doubled since a new flour mill opened nearby.",
        "ferry": "The Grelling lake ferry will stop its winter crossings from 1 December after the county cut "
        "its subsidy by 40 percent. The ferry carried 18,000 passengers last year.",
        "choir": "The Zelva youth choir won the regional choral contest in Harnsund on Saturday, beating "
        "eleven other choirs. Conductor Maja Lind said the 34 singers had rehearsed since August.",
        "bridge": "The new Zorbia road bridge opened to traffic on Monday, three years after construction "
        "began. The bridge cost 42 million euros and spans 610 metres of the river Zor.",
    }
    svc.ingest_documents([DocumentIn(text=text, id=doc_id) for doc_id, text in added.items()])
    summary = svc.summarize(max_words=300)
    assert set(added) <= {c.document_id for c in summary.citations}, summary.summary
    assert len(summary.summary.split()) <= 300
    check_citations(svc, summary.citations)
    # in the default 120 words too, the other stories get their turn, each told by its lead sentence
    # (what its article is about), not by the sentence nearest the seed story
    short = svc.summarize(max_words=120)
    others = [c for c in short.citations if c.document_id in added]
    assert len({c.document_id for c in others}) >= 3, short.summary
    assert all(
        min(c.start for c in others if c.document_id == d) == 0 for d in {c.document_id for c in others}
    )
    check_citations(svc, short.citations)


def test_summarize_it_after_a_question_keeps_to_the_articles_its_answer_cites(
    make_service: MakeService,
) -> None:
    """ "Summarize it" after a question is about what was just answered: a seed article whose credit
    line shares a word with the question ("won") is not part of the summary."""
    svc = make_service("summarize-it")
    svc.ingest_paths([ARTICLES])
    kelp = (
        "At the Tarren harbour festival on Sunday, the fisher Mara Lind won the kelp cooking award for a "
        "seaweed stew. The jury praised her use of smoked kelp. Lind said she learned the recipe from her "
        "grandmother. About 3,000 visitors came to the festival, the organisers said."
    )
    svc.ingest_documents([DocumentIn(text=kelp, id="kelp", title="Kelp stew wins festival prize")])
    question = "Who won the kelp cooking award?"
    assert {c.document_id for c in svc.ask(question).citations} == {"kelp"}
    # the question as a query keeps to kelp too: the seed article holds only its commonest word, "won"
    by_words = svc.summarize(query=question, max_words=200)
    assert {c.document_id for c in by_words.citations} == {"kelp"}
    for follow_up in ("Summarize it", "Give me the gist of that"):
        summary = svc.ask(follow_up, history=[question])
        assert {c.document_id for c in summary.citations} == {"kelp"}, summary.answer
        assert len(summary.citations) >= 3
        check_citations(svc, summary.citations)
    again = svc.ask("Summarize it", history=[question, "Summarize it"])  # asked twice: the same subject
    assert {c.document_id for c in again.citations} == {"kelp"}
    # after a summary request, "it" is that request's subject, as before
    again = svc.ask("Summarize it", history=["Give me a summary of the kelp award"])
    assert again.citations and "kelp" in {c.document_id for c in again.citations}


def test_a_focused_summary_keeps_to_the_story_its_rare_words_name(make_service: MakeService) -> None:
    """ "Larkford strike" is about the Larkford strike: another strike's article holds the common word
    only, and is left out; "strikes" names no one story, and both are summarised."""
    svc = make_service("subject-words")
    svc.ingest_paths([ARTICLES])
    bus = (
        "Bus drivers in Larkford began a 48-hour strike on Monday after talks with the operator broke down "
        "over a 4% pay offer. Services on all eleven town routes were cancelled, and the council ran a "
        "shuttle between the station and the hospital. The operator said its door remained open for talks."
    )
    airport = (
        "Baggage handlers at Mellon airport stayed off work for a second day, and airlines cancelled 140 "
        "flights. The handlers are demanding a 9% rise. The contractor said the strike was unlawful and "
        "that it would seek an injunction."
    )
    svc.ingest_documents(
        [
            DocumentIn(text=bus, id="bus", title="Larkford bus drivers walk out over pay"),
            DocumentIn(text=airport, id="airport", title="Airport baggage handlers strike again"),
        ]
    )
    named = svc.summarize(query="Larkford strike", max_words=200)
    assert {c.document_id for c in named.citations} == {"bus"}, named.summary
    check_citations(svc, named.citations)
    both = svc.summarize(query="strikes", max_words=200)
    assert {"bus", "airport"} <= {c.document_id for c in both.citations}, both.summary


def test_a_budget_no_sentence_fits_in_is_said_not_answered_empty(make_service: MakeService) -> None:
    """max_words 10 is valid; when every sentence is longer, the summary says so, with a warning."""
    svc = make_service("long-sentences")
    text = (
        "The harbour authority said on Monday that fourteen fishing boats had been damaged by the storm. "
        "Repairs to the eastern breakwater are expected to take at least three months to complete."
    )
    svc.ingest_documents([DocumentIn(text=text, id="storm")])
    summary = svc.summarize(max_words=10)
    assert summary.summary == "No sentence of the articles fits in 10 words." and not summary.citations
    assert summary.warnings and "longer than 10 words" in summary.warnings[-1]
    assert svc.summarize(max_words=20).citations  # a budget one sentence fits in


def test_a_focused_summary_of_a_subject_the_articles_never_mention_is_declined(seeded: Factdesk) -> None:
    """The reader reads the query's nearest sentences as it reads a question's: when it accepts none,
    there is nothing to summarise; a subject the articles cover is still summarised."""
    for query in ("kimchi recipe", "how to brew green tea"):
        summary = seeded.summarize(query=query, max_words=60)
        assert summary.summary == "The articles contain nothing to summarise for this query."
        assert summary.citations == []
    assert seeded.summarize(query="suicide orders", max_words=60).citations
    answer = seeded.ask("Give me a summary of kimchi recipes")  # the same through ask
    assert answer.abstained and answer.citations == []


def test_a_focused_summary_of_a_subject_one_article_names_in_full_is_not_declined(
    make_service: MakeService,
) -> None:
    """An article that holds every word of the query mentions its subject, even when the reader
    accepts none of its sentences as an answer to the query; a subject it lacks is still declined."""
    svc = make_service("orchard")
    text = (
        "Growers in the valley counted their losses on Tuesday after two nights of hard frost. "
        "Temperatures fell to minus four degrees before dawn, and many apricot blossoms turned brown. "
        "The farmers' association said about half of this year's harvest could be lost. "
        "Insurers expect claims to rise sharply this spring."
    )
    svc.ingest_documents(
        [DocumentIn(text=text, title="Growers count losses after cold nights", id="orchard")]
    )
    for query in ("the apricot harvest", "insurance claims"):  # "insurance" and "Insurers" share a stem
        summary = svc.summarize(query=query, max_words=60)
        assert summary.citations, query
        check_citations(svc, summary.citations)
    assert svc.summarize(query="kimchi recipe", max_words=60).citations == []


def test_a_focused_summary_of_what_one_article_names_is_not_declined(make_service: MakeService) -> None:
    """The query's names all held by one article make it that article's subject, though the article
    never uses the query's other words; a name no article holds is still declined."""
    svc = make_service("signing")
    text = (
        "Harbour Athletic have signed the winger Joao Varela from Sporting Braga for 21 million pounds. "
        "Varela, 22, scored 14 goals last season and has agreed a five-year contract. "
        "Manager Ruth Keane said the club had followed him for two years. "
        "He will wear the number 11 shirt and could play on Saturday."
    )
    svc.ingest_documents([DocumentIn(text=text, title="Athletic sign Varela", id="signing")])
    summary = svc.summarize(query="the Joao Varela transfer", max_words=60)  # "transfer": not in it
    assert summary.citations
    check_citations(svc, summary.citations)
    for query in ("the Pedro Almeida transfer", "kimchi recipe"):
        assert svc.summarize(query=query, max_words=60).citations == [], query


def test_a_focused_summary_is_read_from_the_passages_that_mention_its_subject(
    make_service: MakeService,
) -> None:
    """One short article on the query's subject among the seed articles: the word budget is not
    filled up with the other articles' sentences that only made up the ten search hits."""
    svc = make_service("lighthouse")
    svc.ingest_paths([ARTICLES])
    text = (
        "The lighthouse at Kilbrannan was repainted green in July. "
        "The work cost 61,000 pounds and took five weeks, the harbour trust said."
    )
    svc.ingest_documents([DocumentIn(text=text, id="lighthouse")])
    for query in ("lighthouse", "Kilbrannan lighthouse"):
        summary = svc.summarize(query=query, max_words=60)
        assert summary.citations and {c.document_id for c in summary.citations} == {"lighthouse"}, query
        check_citations(svc, summary.citations)


def test_focused_single_document_summary(seeded: Factdesk) -> None:
    doc = seeded.list_documents()[1].id
    summary = seeded.summarize(document_ids=[doc], query="casualties", max_words=60)
    assert {c.document_id for c in summary.citations} == {doc}
    assert len(summary.summary.split()) <= 60
    check_citations(seeded, summary.citations)


# ------------------------------- the trained engines (FACTDESK_ANSWERER=reader, FACTDESK_ANSWERER=ranker)


@pytest.fixture(scope="module", params=["reader", "ranker"])
def reader_seeded(tmp_path_factory: pytest.TempPathFactory, warm_model: None, request):  # type: ignore[no-untyped-def]
    """The seed articles answered by a trained model: the cross-encoder reader, or the ranker."""
    from conftest import ARTICLES, make_settings

    svc = Factdesk(make_settings(tmp_path_factory.mktemp(request.param), answerer=request.param))
    svc.ingest_paths([ARTICLES])
    yield svc
    svc.close()


def test_the_reader_engine_cites_exact_spans_of_what_it_accepts(reader_seeded: Factdesk) -> None:
    from answers.engine import RankerEngine, ReaderEngine

    assert isinstance(reader_seeded.engine, (ReaderEngine, RankerEngine))
    for question in ["How many North Korean soldiers were wounded?", "Who was captured in Kursk?"]:
        answer = reader_seeded.ask(question)
        markers = [int(m) for m in re.findall(r"\[(\d+)\]", answer.answer)]
        assert sorted(set(markers)) == [c.marker for c in answer.citations]
        assert answer.retrieved  # the hits it read, for the evals
        check_citations(reader_seeded, answer.citations)


def test_the_reader_engine_declines_off_topic_questions(reader_seeded: Factdesk) -> None:
    answer = reader_seeded.ask("What is the capital of Australia?")
    assert answer.abstained and answer.citations == [] and answer.answer == ABSTAIN_TEXT


def test_the_reader_engine_summarises_on_request(reader_seeded: Factdesk) -> None:
    answer = reader_seeded.ask("What's the gist?")
    assert not answer.abstained and answer.citations
    check_citations(reader_seeded, answer.citations)


@pytest.mark.parametrize("reader_seeded", ["reader"], indirect=True)
def test_reader_check_reads_the_engines_own_candidates(reader_seeded: Factdesk) -> None:
    """evals/reader_check.py's best probability is the one the engine's decline is decided on."""
    from evals.reader_check import check_set, summarize
    from evals.run import load_questions

    qs = [q for q in load_questions(ROOT / "evals" / "heldout.yaml") if not q.get("history")]
    qs = [q for q in qs if q["answerable"]][:4] + [q for q in qs if not q["answerable"]][:3]
    reader = reader_seeded.engine.reader  # type: ignore[attr-defined]
    rows = check_set(reader_seeded.engine, qs)
    assert [r.id for r in rows] == [q["id"] for q in qs]
    for q, row in zip(qs, rows):
        assert (row.best >= reader.threshold) == (not reader_seeded.ask(q["question"]).abstained), q["id"]
    summary = summarize(rows)
    assert (summary["answerable"], summary["unanswerable"]) == (4, 3)
    assert summary["gold_in_pool"] >= 1  # the evidence quotes were found and matched to candidates
    assert summary["gold@1"] <= summary["gold@3"] <= summary["gold_in_pool"]


def test_the_int8_reader_answers_with_exact_citations(make_service) -> None:  # type: ignore[no-untyped-def]
    """FACTDESK_READER_PRECISION=int8 (the reader's faster, calibrated int8 graph) drives the engine."""
    from conftest import ARTICLES

    svc = make_service(reader_precision="int8")
    svc.ingest_paths([ARTICLES])
    answer = svc.ask("How many North Korean soldiers were wounded?")
    assert svc.engine.reader.precision.startswith("int8-")
    assert not answer.abstained and "2,700" in answer.answer
    check_citations(svc, answer.citations)
    assert svc.ask("What is the capital of Australia?").abstained


def test_a_reader_folder_of_ones_own_is_the_one_the_engine_reads(make_service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """FACTDESK_READER_DIR: weights training/train_reader.py --out wrote, here the shipped ones with
    a threshold nothing reaches, so a question the shipped reader answers is declined."""
    import shutil

    from answers.reader import WEIGHTS_DIR
    from conftest import ARTICLES

    own = tmp_path / "my-reader"
    shutil.copytree(WEIGHTS_DIR, own)
    config = json.loads((own / "config.json").read_text())
    (own / "config.json").write_text(json.dumps(config | {"threshold": 1.0}))
    svc = make_service(reader_dir=own)
    svc.ingest_paths([ARTICLES])
    assert svc.engine.reader.threshold == 1.0
    assert svc.ask("How many North Korean soldiers were wounded?").abstained


def test_a_reader_folder_without_weights_is_refused_at_start(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from answers.reader import WEIGHTS_DIR
    from factdesk.settings import Settings

    def settings(**env: str) -> Settings:
        return Settings(_env_file=None, **env)  # type: ignore[call-arg]

    with pytest.raises(ValidationError, match="has no reader.npz or config.json"):
        settings(FACTDESK_READER_DIR=str(tmp_path))
    (tmp_path / "reader.npz").write_bytes((WEIGHTS_DIR / "reader.npz").read_bytes()[:100])
    (tmp_path / "config.json").write_text('{"threshold": "high"}')
    with pytest.raises(ValidationError, match="no numeric threshold"):
        settings(FACTDESK_READER_DIR=str(tmp_path))
    (tmp_path / "config.json").write_text('{"threshold": 0.5}')
    assert settings(FACTDESK_READER_DIR=str(tmp_path)).reader_dir == tmp_path
    assert settings(FACTDESK_READER_DIR=" ").reader_dir is None  # set but blank: the shipped weights
    with pytest.raises(ValidationError, match="no int8 calibration"):
        settings(FACTDESK_READER_DIR=str(tmp_path), FACTDESK_READER_PRECISION="int8")
