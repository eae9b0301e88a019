"""answers/people.py: who holds a role, how old a person is; and the questions asked of a role's
holder, through the real service."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from answers.compose import (
    ComposeConfig,
    compose,
    speakers_named,
    statements_in_articles,
    statements_of_the_person_asked,
    with_speakers_named,
)
from answers.people import (
    RoleAsked,
    age_of_the_person_asked,
    ages_in_articles,
    gives_age,
    holder_answered,
    holder_before,
    holder_named,
    holder_of_the_role_asked,
    holders,
    naming_who_does_what_is_asked,
    role_asked,
)
from answers.speakers import naming_speaker, speaker
from conftest import MakeService, candidate as _cand
from retrieval.models import DocumentIn
from retrieval.sentences import split_sentences


@pytest.mark.parametrize(
    "question, asked",
    [
        (
            "Who is the chief executive of Northbridge Energy?",
            RoleAsked("chief executive", "Northbridge Energy"),
        ),
        ("Who was the mayor of Harrowby", RoleAsked("mayor", "Harrowby")),
        ("Who is Brindle's chief executive?", RoleAsked("chief executive", "Brindle")),
        ("Who is the council's finance officer?", RoleAsked("finance officer", "council")),
        ("What is the name of Harrowby's mayor?", RoleAsked("mayor", "Harrowby")),
        (
            "What is the name of the director of the Meridian Space Agency?",
            RoleAsked("director", "Meridian Space Agency"),
        ),
        (
            "Who chairs the Northvale Transport Authority?",
            RoleAsked("chair|chairman|chairwoman|chairperson", "Northvale Transport Authority"),
        ),
        (
            "Who is the county environment officer in Rennick?",
            RoleAsked("county environment officer", "Rennick"),
        ),
        ("Who won the race?", None),
        ("Who is Tom Marsh?", None),
        ("What did the mayor say?", None),
    ],
)
def test_the_role_a_question_asks_the_holder_of(question: str, asked: RoleAsked | None) -> None:
    assert role_asked(question) == asked


@pytest.mark.parametrize(
    "sentence, role, names",
    [
        (
            "Chief executive Martin Rusk said the job cuts would be done by May.",
            "chief executive",
            ["Martin Rusk"],
        ),
        (
            "Brindle's chief executive, Sarah Olden, said the takeover was its best chance.",
            "chief executive",
            ["Sarah Olden"],
        ),
        ("Sarah Olden, Brindle's chief executive, said it.", "chief executive", ["Sarah Olden"]),
        (
            "The head of the National Emergency Agency, Tomas Brenner, said nine were missing.",
            "head",
            ["Tomas Brenner"],
        ),
        ("Marsh was elected mayor in 2023.", "mayor", ["Marsh"]),
        ("Councillors rejected Mayor Tom Marsh's plan for a library.", "mayor", ["Tom Marsh's"]),
        ("The chief executive said so.", "chief executive", []),  # no name
        ("The head of the agency said, Monday, that it was fine.", "head", []),  # a day is no name
        ("Sarah Olden, a nurse, said it.", "chief executive", []),  # another role
        # not a deputy's, a former or an acting holder's, unless that is the role asked
        ("The deputy interior minister, Tariq Osman, said so.", "interior minister", []),
        ("Former chief executive Ann Okafor said she was proud.", "chief executive", []),
        ("Helmgard's former managing director, Ruth Calder, 51, was sentenced.", "director", []),
        ("The managing director, Ann Lee, said so.", "director", ["Ann Lee"]),
        (
            "Its finance chief, Ivo Brenner, has served as interim chief executive.",
            "interim chief executive",
            ["Ivo Brenner"],
        ),
        ("Its finance chief, Ivo Brenner, has served as interim chief executive.", "chief executive", []),
        ("Novak, who was finance minister until May, spoke.", "finance minister", []),
        ("Lind, 52, was transport minister for three years.", "transport minister", []),
        ("Acting mayor Omar Said spoke.", "mayor", []),
        ("Acting mayor Omar Said spoke.", "acting mayor", ["Omar Said"]),
        # the organisation between the role and the name; a word that ends the title
        ("The chief executive of Kestrel Hospital, Samuel Obi, said", "chief executive", ["Samuel Obi"]),
        ("Brindle's chief executive officer, Sarah Olden, said", "chief executive", ["Sarah Olden"]),
        ("Corvell Energy appointed Marcus Dahl as its chief executive.", "chief executive", ["Marcus Dahl"]),
        ("Corvell names Marcus Dahl chief executive after Okafor exit", "chief executive", ["Marcus Dahl"]),
        # one role of several titles
        ("The authority's chairman, Oscar Lindqvist, said", "chair|chairman|chairwoman", ["Oscar Lindqvist"]),
        ("The deputy chairman, Ed Li, said", "chair|chairman|chairwoman", []),
        # the role beside the name, not a word after a verb
        ("Ada Quill, said in her report that it was late.", "report", []),
        ("Sarah Olden, the company's new chief executive, said it.", "chief executive", ["Sarah Olden"]),
    ],
)
def test_the_names_a_sentence_gives_a_role(sentence: str, role: str, names: list[str]) -> None:
    assert holders(sentence, role) == names


def test_the_holder_asked_is_from_the_sentence_or_article_naming_whose_role_it_is() -> None:
    """Two companies' chief executives: the one beside the company asked, then the one in the article
    whose title names it; none when no candidate names the role's holder."""
    norbridge = _cand(
        "Chief executive Helen Strand said orders were up.", 0.2, "nor", title="Norbridge Energy profit jumps"
    )
    northbridge = _cand(
        "Chief executive Martin Rusk said the cuts were done.",
        0.1,
        "north",
        title="Northbridge Energy to cut jobs",
    )
    other = _cand("Northbridge Energy reported a loss.", 0.5, "north", title="Northbridge Energy to cut jobs")
    cands = [norbridge, northbridge, other]
    texts = {c.document_id: c.text for c in cands}
    assert holder_of_the_role_asked(cands, "Who is the chief executive of Northbridge Energy?", texts) == [1]
    assert holder_of_the_role_asked(cands, "Who is the chief executive of Norbridge Energy?", texts) == [0]
    assert holder_of_the_role_asked(cands, "Who is the mayor of Harrowby?", texts) == []
    assert holder_of_the_role_asked(cands, "What did Helen Strand say?", texts) == []
    beside = _cand("Martin Rusk, Northbridge Energy's chief executive, spoke.", 0.05, "brief", title="Briefs")
    assert holder_of_the_role_asked(
        [*cands, beside], "Who is the chief executive of Northbridge Energy?", texts
    ) == [3]
    # the reader accepts nothing: the holder's sentence is the answer
    answer = compose(
        cands,
        np.eye(3, dtype=np.float32),
        0.63,
        ComposeConfig(),
        "extractive",
        "v",
        texts=texts,
        question="Who is the chief executive of Northbridge Energy?",
    )
    assert not answer.abstained and [c.quote for c in answer.citations] == [northbridge.text]


def test_a_statement_asked_of_a_role_is_asked_of_its_holder() -> None:
    texts = {
        "flood": 'The interior minister, Lidia Varga, said 400 soldiers had been sent. "Every helicopter is up," Varga said.',
        "nurses": "The health minister, Ana Ruiz, said the offer was fair.",
    }
    relevance = {"flood": 0.7, "nurses": 0.3}
    assert (
        holder_named("What did the interior minister say about the rescue?", texts, relevance)
        == "What did Lidia Varga say about the rescue?"
    )
    assert holder_named("What did the health minister say?", texts, relevance) == "What did Ana Ruiz say?"
    # the most relevant article that names a holder of the role asked
    assert holder_named("What did the minister say?", texts, relevance) == "What did Lidia Varga say?"
    # whose role it is, when asked, must be in the article
    assert holder_named("What did the head of the port authority say?", texts, relevance) == (
        "What did the head of the port authority say?"
    )
    for unchanged in (
        "What did Ana Ruiz say?",
        "What did the union leader say?",
        "Who is the interior minister?",
    ):
        assert holder_named(unchanged, texts, relevance) == unchanged
    # a body speaks as itself, and several people are not one: "Police said ..." is the police's
    bodies = {
        "p": "Police Chief Ann Lee said no one was hurt. The company, Brightwell Foods, said profits rose."
    }
    assert holder_named("What did the police chief say?", bodies, {}) == "What did Ann Lee say?"
    for unchanged in ("What did the police say?", "What did the company say?", "What did the officials say?"):
        assert holder_named(unchanged, bodies, {}) == unchanged


@pytest.mark.parametrize(
    "sentence, gives",
    [
        ("Navarro, 39, a former engineer, campaigned on cheaper transport.", True),
        ("Navarro (39) won the vote.", True),
        ("Navarro, aged 39, won the vote.", True),
        ("Navarro, a 39-year-old engineer, won.", True),
        ("The 39-year-old Navarro won.", True),
        ("Navarro, 2023, won.", False),  # a year
        ("Navarro, 12 percent of the vote, was third.", False),
        ("Ortiz, 39, won.", False),  # someone else
        ("Carlos Navarro, 71, her father, voted.", False),  # another of the name
        ('"We won," said Navarro, 39.', True),
        ("Julia Navarro, 39, won.", True),
    ],
)
def test_an_age_beside_a_name(sentence: str, gives: bool) -> None:
    assert gives_age(sentence, "Julia Navarro") is gives


def test_an_age_question_is_answered_only_by_sentences_naming_the_person() -> None:
    """The reader reads any age as the answer to "How old is <name>?": a sentence that does not name
    the person is none ("Elena Ross, aged 70," for Julia Navarro)."""
    other = _cand("Brava's mayor, Elena Ross, aged 70, cut the ribbon.", 0.9)
    answer = compose(
        [other],
        np.eye(1, dtype=np.float32),
        0.63,
        ComposeConfig(),
        "extractive",
        "v",
        texts={"d0": other.text},
        question="How old is Julia Navarro?",
    )
    assert answer.abstained, answer.answer
    texts = {"d0": 'The wing opened. "We are full," said Obi, 62. His wife, Dr. Lena Obi, 44, spoke.'}
    found = [texts[d][a:b] for d, a, b in ages_in_articles("How old is Samuel Obi?", texts)]
    assert found == ['"We are full," said Obi, 62.']
    assert ages_in_articles("What did Samuel Obi say?", texts) == []


def test_how_old_a_person_is() -> None:
    cands = [
        _cand("Ortiz, 52, came second.", 0.3),
        _cand("Navarro, 39, a former engineer, campaigned on transport.", 0.1),
        _cand("Navarro won the vote.", 0.4),
    ]
    assert age_of_the_person_asked(cands, "How old is Julia Navarro?") == [1]
    assert age_of_the_person_asked(cands, "What is Navarro's age?") == [1]
    assert age_of_the_person_asked(cands, "How old is Dana Kiel?") == []
    assert age_of_the_person_asked(cands, "How old is the bridge?") == []


def test_a_follow_up_asked_of_a_role_and_an_age_through_the_service(make_service: MakeService) -> None:
    """Through retrieval and the reader: a statement asked of a role is asked of the name the article
    gives its holder (the question shown as answered), and "How old is she?" after "Who won?" is
    answered with the age beside her name, not with an article's dateline credit's name."""
    svc = make_service()
    svc.ingest_documents(
        [
            DocumentIn(
                id="flood",
                title="Floods kill 12 in Marrow Valley",
                text=(
                    "PORT CALDER, Nov 12 (Meridian Press) - At least 12 people were killed after the River Ash "
                    "burst its banks on Wednesday, officials said. The interior minister, Lidia Varga, said 400 "
                    'soldiers had been sent to help with the rescue. "Every available helicopter is in the air," '
                    "Varga said. The health minister, Ana Ruiz, said hospitals had cancelled routine surgery."
                ),
            ),
            DocumentIn(
                id="vote",
                title="Navarro wins Tessaly mayoral election",
                text=(
                    "TESSALY, Nov 3 (Meridian Press) - Julia Navarro of the Green Alliance won the mayoral "
                    "election in Tessaly on Sunday, defeating the incumbent. Navarro, 39, a former environmental "
                    "engineer, campaigned on cheaper public transport and a ban on building on the flood plain."
                ),
            ),
        ]
    )
    asked = svc.ask("What did the interior minister say about the rescue effort?")
    assert asked.question == "What did Lidia Varga say about the rescue effort?"
    assert not asked.abstained and all("Ruiz" not in c.quote for c in asked.citations), asked.answer
    assert any("400 soldiers" in c.quote for c in asked.citations), asked.answer
    first = "Who won the Tessaly mayoral election?"
    old = svc.ask("How old is she?", history=[first])
    assert old.question == "How old is Julia Navarro?"
    assert not old.abstained and "Navarro, 39," in old.citations[0].quote, old.answer


def test_what_a_person_said_is_read_from_the_whole_article(make_service: MakeService) -> None:
    """ "What did <name> say?" cites every statement of theirs in a retrieved article, one in a passage
    search did not return too ('"...," she said' far from her name), each with the chunk it is in."""

    def filler(place: str) -> str:
        return " ".join(
            f"Ingrid Solberg's team said section {i} of the {place} was inspected on day {i} and found sound."
            for i in range(1, 200)
        )

    text = (
        "Harbour master Ingrid Solberg said the breakwater would be rebuilt by spring.\n\n"
        f"{filler('harbour wall')}\n\n"
        '"The ferry timetable will return to normal in March," she said.\n\n'
        f"{filler('north pier')}\n\n"
        "The port's owner, Marten Lind, said the cost would be shared with the state."
    )
    svc = make_service()
    svc.ingest_documents([DocumentIn(id="port", title="Breakwater to be rebuilt", text=text)])
    chunks = {c.id: c for c in svc.catalog.chunks_of("port")}
    hits = svc.search("What did Ingrid Solberg say?", top_k=12)  # as many as the engine reads
    late = text.index('"The ferry timetable')
    # what this test is about: search does not return the passage of her second statement
    assert not any(h.start <= late < h.end for h in hits), [(h.start, h.end) for h in hits]
    answer = svc.ask("What did Ingrid Solberg say?")
    quotes = [c.quote for c in answer.citations]
    assert '"The ferry timetable will return to normal in March," she said.' in quotes, answer.answer
    assert any("breakwater would be rebuilt" in q for q in quotes) and not any("Lind" in q for q in quotes)
    for c in answer.citations:
        chunk = chunks[c.chunk_id]
        assert chunk.start <= c.start and c.end <= chunk.end, (c.chunk_id, c.start, c.end)


def test_the_statements_of_a_person_in_articles() -> None:
    texts = {
        "a": 'Mayor Tom Marsh said the bridge would open. "It is ready," he said. Ellen Marsh said it was not.',
        "b": "Nobody of that name speaks here.",
    }
    found = [texts[d][s:e] for d, s, e in statements_in_articles("What did Tom Marsh say?", texts)]
    assert found == ["Mayor Tom Marsh said the bridge would open.", '"It is ready," he said.']
    assert statements_in_articles("What did Tom Marsh say about the bridge?", texts) == []
    assert statements_in_articles("Who is Tom Marsh?", texts) == []


def test_what_a_person_denied_or_promised_is_their_statement_with_that_verb() -> None:
    """ "What did <name> deny?" is answered by that person's statements with the verb (any form, "he"
    read back to them), not by another's denial the reader scores higher; words after the verb pick
    among them when some share one; no statement with the verb: the reader's answer stands."""
    texts = {
        "a": (
            "Ivo Lund, the plant's director, said the leak was small. He denied that the valve had "
            "been faulty for months. Lund promised a full inspection by May and promised the "
            "fishermen compensation. Ada Quill denied that her crews were late."
        ),
        "b": "Karl Weber denied that the ferry had been overloaded.",
    }
    denied = [texts[d][s:e] for d, s, e in statements_in_articles("What did Ivo Lund deny?", texts)]
    assert denied == ["He denied that the valve had been faulty for months."]
    assert statements_in_articles("What has Ivo Lund denied?", texts) == statements_in_articles(
        "What did Ivo Lund deny?", texts
    )
    assert len(statements_in_articles("What did Ivo Lund promise?", texts)) == 1
    assert statements_in_articles("What did Ivo Lund eat?", texts) == []  # no verb of speech
    assert statements_in_articles("What did Ivo Lund admit?", texts) == []
    text = texts["a"]
    sentences = [text[s.start : s.end] for s in split_sentences(text)]
    cands = [_cand(t, p, doc="a", start=text.index(t)) for t, p in zip(sentences, (0.2, 0.3, 0.1, 0.95))]
    cands.append(_cand(texts["b"], 0.97, doc="b"))
    assert statements_of_the_person_asked(cands, "What did Ivo Lund deny?", texts) == [1]
    assert statements_of_the_person_asked(cands, "What did Ivo Lund promise the fishermen?", texts) == [2]
    assert statements_of_the_person_asked(cands, "What did Ivo Lund admit?", texts) == []
    assert statements_of_the_person_asked(cands, "What did Ivo Lund say?", texts) == [1, 0, 2]


def test_who_does_something_is_the_name_before_a_relative_clause_saying_it() -> None:
    """ "Who runs the bakery on Mill Lane?" is answered by "Mara Holt, who runs a bakery on Mill Lane,
    said ...", whatever the reader scores it; a clause about something else, or a question of
    another shape, is not read."""
    cands = [
        _cand("Mara Holt, who runs a small bakery on Mill Lane, said flour prices had doubled.", 0.1),
        _cand("Ann Pike, who runs the market, said stalls were empty.", 0.2, start=100),
        _cand("The bakery on Mill Lane opened in 1990.", 0.5, start=200),
    ]
    assert naming_who_does_what_is_asked(cands, "Who runs the bakery on Mill Lane?") == [0]
    assert naming_who_does_what_is_asked(cands, "Who has run the bakery on Mill Lane?") == [0]
    assert naming_who_does_what_is_asked(cands, "Who runs the bakery on Kiln Road?") == []
    assert naming_who_does_what_is_asked(cands, "Who owns the bakery on Mill Lane?") == []
    assert naming_who_does_what_is_asked(cands, "Who is the baker on Mill Lane?") == []
    assert naming_who_does_what_is_asked(cands, "When did the bakery on Mill Lane open?") == []


def _speakers_by_sentence(text: str) -> dict[str, set[str] | None]:
    """{each sentence of the text: the words of the name its statement is attributed to}."""
    return {text[s.start : s.end]: speaker(text, s.start, s.end) for s in split_sentences(text)}


def test_a_statement_attributed_to_a_role_is_its_holders() -> None:
    """'"...," the minister said' and "The minister added ..." are the minister's the article last
    named before them; a deputy's role is the deputy's; a body's and an unnamed holder's are no one's."""
    text = (
        "Interior minister Lidia Varga visited the site on Monday. "
        '"We will rebuild," the minister said. The minister added that funds were ready. '
        'Deputy minister Tariq Osman disagreed. "Not so fast," said the deputy minister. '
        '"It is late," the company said. "Too late," the mayor said.'
    )
    said = _speakers_by_sentence(text)
    assert said['"We will rebuild," the minister said.'] == {"lidia", "varga"}
    assert said["The minister added that funds were ready."] == {"lidia", "varga"}
    assert said['"Not so fast," said the deputy minister.'] == {"tariq", "osman"}
    assert said['"It is late," the company said.'] is None
    assert said['"Too late," the mayor said.'] is None  # no mayor is named
    assert holder_before(text, text.index("Deputy"), "minister") == "Lidia Varga"
    assert holder_before(text, 0, "minister") == ""  # not one named after


def test_what_a_person_said_counts_what_their_role_said(make_service: MakeService) -> None:
    """Through retrieval and the reader: "What did <name> say about ...?" is answered with a
    statement the article gives only to their role ("the mayor said"), not with another's."""
    svc = make_service()
    svc.ingest_documents(
        [
            DocumentIn(
                id="strike",
                title="Kestrel dock strike enters third week",
                text=(
                    "KESTREL, Oct 3 (Meridian Press) - Mayor Tom Ross urged both sides in the dock strike to "
                    "return to the table on Friday. Union leader Maria Pike said her members would not go back "
                    'without a written offer.\n\n"I believe a deal is close," the mayor said after meeting '
                    'both sides. "We are further apart than ever," Pike said.'
                ),
            )
        ]
    )
    answer = svc.ask("What did Tom Ross say about a deal?")
    assert not answer.abstained, answer.answer
    assert any('"I believe a deal is close," the mayor said' in c.quote for c in answer.citations), (
        answer.answer
    )
    assert not any("Pike" in c.quote for c in answer.citations), answer.answer


def test_who_said_a_quote_is_answered_with_the_sentence_naming_its_speaker() -> None:
    """'"...," he said' is no answer to "Who said ...?": the sentence of its paragraph that names
    him is shown before it; not one from another paragraph, where "he" may be someone else."""
    text = (
        "Political scientist Kofi Mensah said rents had decided the vote. "
        '"Housing decided this election," he said.\n\n'
        "An HSD spokesman said inspectors would examine the valve.\n\n"
        'The plant manager apologised to residents. "We let you down," he said.'
    )
    quote = text.index('"Housing')
    assert naming_speaker(text, quote, text.index("\n\n")) == (0, quote - 1)
    late = text.index('"We let')
    assert naming_speaker(text, late, len(text)) is None  # "HSD" is in another paragraph
    assert naming_speaker(text, 0, quote - 1) is None  # it names its speaker itself
    cands = [
        _cand(text[quote : text.index("\n\n")], 0.9),
        _cand(text[: quote - 1], 0.2),
    ]
    cands[0] = replace(cands[0], start=quote, end=text.index("\n\n"))
    texts = {"d0": text}
    assert with_speakers_named(cands, [0], "Who said the election was about housing?", texts) == [1, 0]
    assert with_speakers_named(cands, [0], "What decided the election?", texts) == [0]
    assert speakers_named("Who said it?", cands, 0.5, texts) == [("d0", 0, quote - 1)]
    assert speakers_named("What decided it?", cands, 0.5, texts) == []


def test_a_role_of_several_words_may_be_named_with_its_first_as_an_owner() -> None:
    """ "The county environment officer" is the one "the county's environment officer" names; the
    holder of "environment officer" alone is not one of the county's unless the sentence says so."""
    cands = [
        _cand("The county's environment officer, Marisol Grange, said soil would be tested.", 0.1, "leak"),
        _cand("Environment officer Tom Hale said the river was clean.", 0.3, "river"),
    ]
    texts = {"leak": "Rennick chlorine leak. " + cands[0].text, "river": cands[1].text}
    assert holder_of_the_role_asked(cands, "Who is the county environment officer in Rennick?", texts) == [0]


def test_he_is_the_speaker_the_sentence_before_names() -> None:
    """A sentence opening "He said" after one naming a speaker of the article is that speaker's, though
    another spoke last; with no speaker in the sentence before, the last named speaker's."""
    text = (
        "Council leader Imogen Taverner said the plan would fix a decade of neglect.\n\n"
        "Opposition councillor Declan Moray voted against the budget. He said the tax rise was unnecessary. "
        '"They are asking families to pay," Moray said.\n\n'
        "The budget passed at midnight. He said it was a good night."
    )
    said = _speakers_by_sentence(text)
    assert said["He said the tax rise was unnecessary."] == {"declan", "moray"}
    assert said["He said it was a good night."] == {"moray"}  # no speaker named before it: the last


def test_she_goes_back_to_the_person_a_run_of_her_sentences_began_with() -> None:
    """'"...," she said' after "She said ..." after "Castellane rejected that figure." is Castellane's,
    though Nyquist spoke last; each sentence of a quotation of several from where it opens."""
    text = (
        "The education director, Albert Nyquist, said 240 more teachers were needed. Standing beside "
        "him was the union's deputy, Maria Castellane.\n\n"
        "Castellane rejected that figure. She said the district had spent 4 million crowns on offices. "
        '"They found the money for carpets. They can find it for teachers," she said.'
    )
    said = _speakers_by_sentence(text)
    assert said["She said the district had spent 4 million crowns on offices."] == {"castellane"}
    assert said['"They found the money for carpets.'] == {"castellane"}
    assert said['They can find it for teachers," she said.'] == {"castellane"}


def test_the_holder_a_role_question_was_answered_with() -> None:
    quotes = [
        "The strike was called by the Halvern Teachers' Union, whose general secretary, Tomas Reyland, "
        "addressed a crowd of about 3,000."
    ]
    asked = "Who is the general secretary of the Halvern Teachers' Union?"
    assert holder_answered(quotes, asked) == "Tomas Reyland"  # not the union, "whose" secretary he is
    assert holder_answered(quotes, "Who called the strike?") is None
    assert holder_answered(["The union said nothing."], asked) is None


def test_a_follow_ups_he_is_the_holder_of_the_role_asked_before(make_service: MakeService) -> None:
    """Through the service: "What did he say ...?" after "Who is the general secretary of <union>?"
    asks it of the secretary the answer named, not of the union named before him."""
    svc = make_service()
    svc.ingest_documents(
        [
            DocumentIn(
                id="strike",
                title="Teachers in Halvern walk out over class sizes",
                text=(
                    "HALVERN, Jan. 15 (Coast Wire) - Thousands of teachers in Halvern went on strike on "
                    "Wednesday. The strike was called by the Halvern Teachers' Union, whose general "
                    "secretary, Tomas Reyland, addressed a crowd outside the education office.\n\n"
                    '"We are striking because the children deserve better," Reyland said. He said some '
                    "primary classes now had 38 pupils."
                ),
            )
        ]
    )
    first = "Who is the general secretary of the Halvern Teachers' Union?"
    assert "Tomas Reyland" in svc.ask(first).answer
    answer = svc.ask("What did he say about class sizes?", history=[first])
    assert answer.question == "What did Tomas Reyland say about class sizes?", answer.question


def test_an_owner_in_the_sentence_before_is_not_whom_he_means() -> None:
    text = (
        "Brook testified that he had built her career.\n\n"
        "Brook's lawyer, Ann Pike, said his client had been vindicated. "
        "He said the arrangement had been disclosed in emails."
    )
    said = _speakers_by_sentence(text)
    assert said["He said the arrangement had been disclosed in emails."] == {"ann", "pike"}


def test_the_speaker_of_the_sentence_before_before_a_name_it_opens_with() -> None:
    text = (
        "The mine will close, its owner Torvald Minerals said on Friday.\n\n"
        "Torvald Minerals chief executive Lena Marchetti said the decision followed two floods. "
        '"We have pumped water out of those tunnels for seven months," she said.'
    )
    said = _speakers_by_sentence(text)
    assert said['"We have pumped water out of those tunnels for seven months," she said.'] == {
        "lena",
        "marchetti",
    }


def test_he_is_the_first_speaker_of_the_sentence_before() -> None:
    text = (
        "Only 10 percent of stolen artworks are recovered, according to Ivo Lund, a researcher, "
        'who said the Harbour Board was too slow to sell. "It sits in a cellar," he said.'
    )
    assert _speakers_by_sentence(text)['"It sits in a cellar," he said.'] == {"ivo", "lund"}
