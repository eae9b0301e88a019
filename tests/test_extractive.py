"""The extractive engine (FACTDESK_ANSWERER=extractive): question frames (pure), and answers over the seed articles."""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pytest

from answers.extractive import (
    Candidate,
    ExtractiveConfig,
    best_of_both,
    candidates_from_hits,
    extract_answer,
    leans_back,
    named_clauses,
    post_authors,
)
from answers.models import ABSTAIN_TEXT
from answers.question import heard, missing_entities, parse, satisfies, unmentioned_attribute
from answers.text import states, wanted_cues
from conftest import ARTICLES, check_citations, make_settings
from factdesk.service import Factdesk
from retrieval.models import SearchHit


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, warm_model: None) -> Iterator[Factdesk]:
    """The seed articles behind the extractive engine (the default is the reader)."""
    svc = Factdesk(make_settings(tmp_path_factory.mktemp("seeded-extractive"), answerer="extractive"))
    svc.ingest_paths([ARTICLES])
    yield svc
    svc.close()


# ------------------------------------------------------------------ question frames (pure)


@pytest.mark.parametrize(
    ("question", "kind", "head"),
    [
        ("How many drones did North Korea send to Russia?", "count", "dron"),
        ("How many Ukrainian prisoners of war are held?", "count", "prison"),
        ("How many of that organization's troops were sent?", "count", "soldier"),  # troops = soldiers
        ("How much territory have Ukrainian forces occupied?", "count", None),
        ("How much did Russia pay for the missiles?", "money", None),
        ("In which month were the troops deployed?", "month", None),
        ("In what year was the agency founded?", "year", None),
        ("On what date will the exchange take place?", "day", None),
        ("On which day of the week was it confirmed?", "weekday", None),
        ("When did the offensive begin?", "date", None),
        ("Who is the director of the agency?", "name", "director"),
        ("Who is President of Ukraine?", "name", "presid"),
        ("Who is Oh Gyeong-seob?", None, None),  # names the person, asks what he is
        ("What is the name of the interpreter who translated?", "name", "interpret"),
        ("What was his name?", "name", None),
        ("Who heads that agency?", "leader", None),
        ("Why did the soldiers fight?", None, None),
    ],
)
def test_question_kinds(question: str, kind: str | None, head: str | None) -> None:
    frame = parse(question)
    assert (frame.kind, frame.head) == (kind, head)


def test_named_speaker_only() -> None:
    assert parse("What did Kim Jong Un say about the soldiers?").speaker == ("kim", "jong", "un")
    assert parse("What did the captured soldier say about his orders?").speaker == ()
    assert parse("What did professor Park Won-gon say?").speaker == ("park", "won-gon")


@pytest.mark.parametrize(
    ("question", "good", "bad"),
    [
        (
            "How many drones did North Korea send?",
            "North Korea sent 40 attack drones to Russia.",
            "North Korea deployed 12,000 troops to Russia last year.",
        ),
        (
            "How many prisoners does Kyiv want in exchange?",
            "Kyiv wants 200 prisoners in return.",
            "Zelenskyy on January 12 said Kyiv wanted prisoners back.",  # a day, not a count
        ),
        (
            "How much did Russia pay for the missiles?",
            "Russia paid $20 million for the missiles.",
            "Russia bought 300 missiles.",
        ),
        (
            "In which month were they deployed?",
            "They were deployed in November.",
            "They were deployed in 2024.",
        ),
        (
            "On what date will the exchange take place?",
            "The exchange will take place on March 3.",
            "Zelenskyy on January 12 said an exchange was possible.",  # the day he spoke of it
        ),
        (
            "Who is the director of the agency?",
            "The agency's director Cho Tae-yong briefed lawmakers.",
            "The agency confirmed the capture on Sunday.",
        ),
        (
            "What was his name?",
            "The soldier, named Ri Chol, was 26.",
            "President Zelenskyy shared a video of the soldier.",
        ),
        ("Who heads that agency?", "Vasyl Maliuk, head of the SBU, spoke.", "The SBU released a video."),
        (
            "On which day of the week was it confirmed?",
            "It was confirmed on Sunday.",
            "It was confirmed on January 9.",
        ),
        # a qualified count: "two North Korean soldiers ... taken prisoner" are not Ukrainian prisoners
        (
            "How many Ukrainian prisoners of war does Kyiv want back?",
            "Russia holds 150 Ukrainian prisoners of war, Kyiv said.",
            "Kyiv said two North Korean soldiers were taken prisoner.",
        ),
        (
            "How many Ukrainian soldiers have been killed in Kursk?",
            "Some 200 Ukrainian soldiers were killed in Kursk.",
            "About 300 North Korean soldiers have died and 2,700 have been wounded in Kursk.",
        ),
        # casualties are counted as killed and injured; an ordinal is no count
        (
            "How many North Korean casualties did Seoul report?",
            "Seoul said 3,000 North Koreans have been killed or injured.",
            "Seoul marked the 13th anniversary of the death of Kim Jong Il.",
        ),
        # the time of the event asked about, not of another one in the same sentence
        (
            "On what date will the prisoner exchange involving the soldiers take place?",
            "The prisoner exchange is planned for February 3, officials said.",
            "The military captured the two soldiers on January 9 in the Kursk region.",
        ),
        (
            "When was the armistice agreement signed?",
            "The agreement was signed in July 1953.",
            "Article 4 of the agreement commits both countries to assist each other.",  # no date
        ),
        (
            "How long had the invasion been going on?",
            "The invasion was launched nearly three years ago.",
            "About 300 soldiers were killed in the invasion.",
        ),
        (
            "What military rank did the captured sniper hold?",
            "The sniper was a sergeant in the army.",
            "He was born in 1999 and was a scout sniper.",
        ),
        # a name is not a nationality adjective, nor a word of the question in another spelling
        (
            "What was the name of the captured soldier who wanted to live in Ukraine?",
            "The captured soldier, Ri Chol, wants to live in Ukraine.",
            "A captured soldier is shown in Ukrainian custody beside Russian troops.",
        ),
    ],
)
def test_satisfies(question: str, good: str, bad: str) -> None:
    frame = parse(question)
    assert satisfies(frame, good)
    assert not satisfies(frame, bad)


def test_event_of_a_time_question() -> None:
    assert parse("When will the prisoner exchange involving the two soldiers take place?").event == (
        "exchang",
    )
    assert parse("In which month were the North Korean troops deployed to Russia?").event == (
        "soldier",
        "deploy",
    )
    # a clause, not a noun phrase: no event to anchor
    assert parse("On what date did the soldier say he started taking part in an exercise?").event == ()
    assert parse("How many troops were deployed?").event == ()  # counts have no event


def test_speaker_must_speak_not_be_mentioned() -> None:
    frame = parse("What did Kim Jong Un say about the captives?")
    assert not heard(frame, ["Seoul has claimed North Korean leader Kim Jong Un has sent 10,000 soldiers."])
    assert not heard(frame, ["“Ukraine will hand its soldiers to Kim Jong Un,” Zelensky wrote."])
    assert heard(frame, ["Kim Jong Un said the soldiers were heroes."])
    assert heard(frame, ["The soldiers were heroes, said Kim Jong Un."])
    assert heard(parse("What did the captives say?"), [])  # no named speaker: nothing to check


def test_missing_entities() -> None:
    passages = ["Ukraine captured two North Korean soldiers in Kursk, Zelenskyy said."]
    assert missing_entities(parse("Who won the 2022 FIFA World Cup?"), passages) == ["fifa world cup"]
    # the named speaker missing is enough; one paraphrased name among several is not
    assert missing_entities(parse("What did Donald Trump say about Kursk?"), passages) == ["donald trump"]
    assert (
        missing_entities(parse("Did Washington confirm that North Korean troops reached Kursk?"), passages)
        == []
    )
    # spelling variants share a prefix
    assert missing_entities(parse("What did Zelensky say about Ukraine?"), passages) == []
    # half of a name is enough only where it is written as a name ("Park Received-gon" for "Park
    # Won-gon"); "world" in lower case does not name the World Cup
    world = ["There should be no doubt left in the world that the army depends on North Korea."]
    assert missing_entities(parse("Who won the 2022 World Cup?"), world) == ["world cup"]
    assert missing_entities(parse("What did Park Won-gon say?"), ["Park Received-gon said so."]) == []


def test_unmentioned_attribute() -> None:
    from retrieval.lexical import stems

    tuva = [stems("It showed an ID issued to a man from Russia's Tuva region bordering Mongolia.")]
    for question in ("What is the capital of Mongolia?", "What is the population of Tuva?"):
        assert unmentioned_attribute(question, parse(question), tuva), question
    for question in (
        "Which country borders Tuva?",  # "bordering": the passage is about what is asked
        "What is Tuva?",  # nothing asked but the name
        "What is the capital?",  # no name: left to the other checks
        "What did the Tuva ID show about the man's age and birthplace?",  # several words: a paraphrase may answer
    ):
        assert not unmentioned_attribute(question, parse(question), tuva), question


# ------------------------------------------------------------------ extract_answer (pure, hand-made vectors)


def _one_a_document(sentences: list[str], ranked: bool = True) -> list[Candidate]:
    """Sentence i as the whole of document doc{i}; hit rank i + 1, or 1 for all when not ranked."""
    from retrieval.lexical import stems

    return [
        Candidate(f"doc{i}", f"doc{i}:0", f"t{i}", 0, len(s), s, i + 1 if ranked else 1, stems=stems(s))
        for i, s in enumerate(sentences)
    ]


def _cands(sentences: list[str]) -> tuple[list[Candidate], np.ndarray]:
    return _one_a_document(sentences), np.eye(len(sentences), 8, dtype=np.float32)


def test_on_topic_question_without_the_asked_figure_abstains() -> None:
    cands, vecs = _cands(
        ["North Korea deployed 12,000 troops to Russia last year, with ammunition and missiles."]
    )
    q_vec = vecs[0]  # as close as it gets: the topic matches perfectly
    answer = extract_answer(
        "How many drones did North Korea send to Russia?", q_vec, cands, vecs, ExtractiveConfig(), "v"
    )
    assert answer.abstained and answer.answer == ABSTAIN_TEXT and answer.citations == []
    answer = extract_answer(
        "How many troops did North Korea send to Russia?", q_vec, cands, vecs, ExtractiveConfig(), "v"
    )
    assert not answer.abstained and "12,000" in answer.answer and answer.answer.endswith("[1]")


def test_the_answer_opens_with_a_sentence_of_the_asked_kind() -> None:
    cands, vecs = _cands(
        [
            "The troops were deployed to Russia last year with ammunition and missiles.",
            "Troops were deployed to Russia in November, officials said.",
        ]
    )
    q_vec = vecs[0] * 0.8 + vecs[1] * 0.6  # the first sentence is closer, the second holds the month
    answer = extract_answer(
        "In which month were the troops deployed to Russia?", q_vec, cands, vecs, ExtractiveConfig(), "v"
    )
    assert answer.answer.startswith("Troops were deployed to Russia in November")


def test_another_month_for_the_same_event_is_a_disagreement() -> None:
    cands, vecs = _cands(
        [
            "Troops were deployed to Russia in November, officials said.",
            "Soldiers earn $2,000 per month in Russia.",
            "The troops of the bureau were deployed to Russia in October, the agency said.",
            "The troops trained in Russia in September before the offensive.",  # another event
        ]
    )
    q_vec = vecs[0] * 0.7 + vecs[1] * 0.5 + vecs[2] * 0.5 + vecs[3] * 0.1
    answer = extract_answer(
        "In which month were the troops deployed to Russia?", q_vec, cands, vecs, ExtractiveConfig(), "v"
    )
    assert answer.answer.startswith("The sources differ. Troops were deployed to Russia in November")
    assert "October" in answer.answer and "September" not in answer.answer
    assert [c.document_id for c in answer.citations if "October" in c.quote] == ["doc2"]


def test_a_follow_up_is_also_scored_as_asked() -> None:
    """The rewrite carries the previous question's words; they must not outvote what is asked now."""
    cands, vecs = _cands(
        [
            "The agency confirmed that the captured soldiers belonged to the bureau.",
            "About 2,500 troops of the bureau were deployed to Russia in October.",
        ]
    )
    rewrite = "How many of its troops were sent to Russia? (agency captured soldiers bureau)"
    rewrite_vec = vecs[0] * 0.9 + vecs[1] * 0.4
    asked = ("How many of its troops were sent to Russia?", vecs[0] * 0.3 + vecs[1] * 0.95)
    cfg = ExtractiveConfig()
    before = extract_answer(rewrite, rewrite_vec, cands, vecs, cfg, "v")
    # the previous turn's sentence wins by far, and it holds no count: a false abstention
    assert before.abstained
    after = extract_answer(rewrite, rewrite_vec, cands, vecs, cfg, "v", asked)
    assert after.answer.startswith("About 2,500 troops")
    # each sentence keeps the better of its two scores, never less than the rewrite gave it
    extract_answer(rewrite, rewrite_vec, cands, vecs, cfg, "v")
    by_rewrite = [c.score for c in cands]
    best_of_both(cands, *asked, vecs, cfg)
    assert all(c.score >= s for c, s in zip(cands, by_rewrite))
    assert cands[1].score > by_rewrite[1] and cands[0].score == by_rewrite[0]


def test_a_follow_ups_typed_lead_is_chosen_as_asked() -> None:
    """Both sentences hold a count; the rewrite's carried words favour the previous turn's one, and the
    lead must answer the question as typed."""
    cands, vecs = _cands(
        [
            "The agency confirmed that the two captured soldiers belonged to the bureau.",
            "About 2,500 troops of the bureau were deployed to Russia in October.",
        ]
    )
    rewrite = "How many of its troops were sent to Russia? (agency two captured soldiers bureau)"
    asked = ("How many of its troops were sent to Russia?", vecs[0] * 0.5 + vecs[1] * 0.85)
    rewrite_vec = vecs[0] * 0.95 + vecs[1] * 0.3
    answer = extract_answer(rewrite, rewrite_vec, cands, vecs, ExtractiveConfig(), "v", asked)
    assert cands[0].score > cands[1].score  # the better score overall is still the previous turn's
    assert answer.answer.split("The sources differ. ")[-1].startswith("About 2,500 troops")


def _article(sentences: list[str], doc: str = "doc0") -> list[Candidate]:
    """Consecutive sentences of one article, one space apart, with their offsets."""
    from retrieval.lexical import stems

    out, pos = [], 0
    for s in sentences:
        out.append(Candidate(doc, f"{doc}:0", doc, pos, pos + len(s), s, 1, stems=stems(s)))
        pos += len(s) + 1
    return out


def test_leans_back() -> None:
    assert leans_back("This conclusion was drawn from an evaluation of combat video.")
    assert leans_back("“Images are a serious thing.")
    assert leans_back("If there are images, then they reflect something,” he stated.")
    assert leans_back("The other says he wants to live in Ukraine.")
    assert leans_back("It said the men were captured by paratroopers.")
    # "this" as the subject itself, and reported speech
    assert not leans_back("This is the first capture of North Korean soldiers.")
    assert not leans_back("Putin's response marked a shift from previous denials.")
    assert not leans_back("The Kremlin declined to comment on Monday.")
    assert not leans_back("One prisoner said he had received the ID in Russia, the SBU said.")


def test_the_sentence_that_leans_on_the_best_one_follows_it() -> None:
    """The best sentence announces the answer; the next one, "This conclusion ...", holds it."""
    cands = _article(
        [
            "The NIS attributed the heavy North Korean casualties to a lack of experience of modern warfare.",
            "This conclusion was drawn from an analysis of combat video obtained recently.",
            "The NIS also confirmed that the two belonged to the Reconnaissance General Bureau.",
        ]
    )
    vecs = np.eye(3, 8, dtype=np.float32)
    q_vec = np.array([0.9, 0.3, 0.3, 0, 0, 0, 0, 0], dtype=np.float32)
    question = "What did the spy agency analyse to conclude the North Korean troops lacked experience?"
    answer = extract_answer(question, q_vec, cands, vecs, ExtractiveConfig(), "v")
    assert answer.answer.startswith("The NIS attributed")
    follows = answer.answer.split("[1] ")[1]
    assert follows.startswith("This conclusion was drawn from an analysis of combat video")
    # not when it is off the question altogether, nor after a sentence it does not follow
    far = extract_answer(question, q_vec, cands, vecs, ExtractiveConfig(continuation_min_dense=0.5), "v")
    assert "This conclusion" not in far.answer
    apart = _article([cands[0].text, "Officials spoke on Monday.", cands[1].text])
    apart = [apart[0], apart[2]]  # a sentence between them that is not a candidate
    alone = extract_answer(question, q_vec, apart, vecs[[0, 1]], ExtractiveConfig(), "v")
    assert "This conclusion" not in alone.answer
    # a typed answer is complete in its sentence
    typed = extract_answer(
        "How many casualties did the NIS attribute to a lack of experience?",
        q_vec,
        _article(["The NIS attributed 3,000 casualties to a lack of experience.", cands[1].text]),
        vecs[[0, 1]],
        ExtractiveConfig(),
        "v",
    )
    assert "This conclusion" not in typed.answer


def test_a_close_sentence_with_details_of_its_own_is_shown_not_folded_in() -> None:
    """Another article's sentence near a chosen one is cited with it when it restates it; when each
    holds much the other lacks, the second is shown as well (once an answer)."""

    texts = [
        "As of October 2024, North Korea has sent about 12,000 troops to help Russia, offering Pyongyang economic benefits.",
        "North Korea deployed 12,000 troops to Russia last year, augmenting earlier support that included ammunition and ballistic missiles.",
        "North Korea has sent about 12,000 troops to help Russia, the agency said.",
    ]
    cands = _one_a_document(texts, ranked=False)
    # all three close to each other (cosine >= agree_above) and to the question
    vecs = np.array([[1.0, 0.0, 0.0], [0.9, 0.43, 0.0], [0.95, 0.0, 0.31]], dtype=np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    q_vec = np.array([1.0, 0.2, 0.0], dtype=np.float32) / np.linalg.norm([1.0, 0.2, 0.0])
    question = "Apart from troops, what military supplies has North Korea provided to Russia?"
    answer = extract_answer(question, q_vec, cands, vecs, ExtractiveConfig(), "v")
    assert "ammunition and ballistic missiles" in answer.answer  # shown, not hidden behind a marker
    assert "the agency said" not in answer.answer  # the restatement is only cited
    assert {c.document_id for c in answer.citations} == {"doc0", "doc1", "doc2"}
    folded = extract_answer(question, q_vec, cands, vecs, ExtractiveConfig(max_added=0), "v")
    assert "ammunition" not in folded.answer and len(folded.citations) == 3


def test_another_articles_strong_account_is_kept_though_it_adds_no_question_word() -> None:
    """ "How did he die": both articles use every word of the question; the second tells it
    differently (killing himself), in words the question does not use."""

    texts = [
        "One soldier attempted to detonate a grenade, Lee said, adding that he was shot and killed.",
        "Special forces reported that one soldier attempted to detonate a grenade, killing himself.",
    ]
    cands = _one_a_document(texts, ranked=False)
    vecs = np.array([[1.0, 0.0], [0.7, 0.714]], dtype=np.float32)  # cosine 0.7: not a restatement
    q_vec = np.array([0.95, 0.31], dtype=np.float32)  # the first scores best, the second close
    question = "How did the soldier who attempted to detonate a grenade die?"
    answer = extract_answer(question, q_vec, cands, vecs, ExtractiveConfig(), "v")
    assert "shot and killed" in answer.answer and "killing himself" in answer.answer
    strict = extract_answer(question, q_vec, cands, vecs, ExtractiveConfig(strong_ratio=1.01), "v")
    assert "killing himself" not in strict.answer


@pytest.mark.parametrize(
    ("question", "good", "bad"),
    [
        (
            "What did Zelenskyy predict about capturing more soldiers?",
            "There will undoubtedly be more.",
            "Zelenskyy proposed returning the soldiers.",
        ),
        (
            "What does the agency expect Pyongyang to do next?",
            "It is only a matter of time before it sends more troops.",
            "The agency briefed lawmakers on Monday.",
        ),
        (
            "Was the first prisoner aware that he had been sent to fight?",
            "He did not know he was in Ukraine until his capture.",
            "He was captured in the Kursk region.",
        ),
        (
            "Did the soldiers know they would fight Ukrainians?",
            "They believed it was a training exercise.",
            "They were wounded in the fighting.",
        ),
    ],
)
def test_answer_cues(question: str, good: str, bad: str) -> None:
    cues = wanted_cues(question)
    assert cues and states(cues, good) and not states(cues, bad)


@pytest.mark.parametrize(
    "question",
    [
        # "predicted" describes whom the question is about; what it asks for is a research body
        "Which research body employs the scholar who predicted the soldier would face death?",
        "Where were the soldiers captured?",
        "How many troops were sent?",
    ],
)
def test_no_answer_cue(question: str) -> None:
    assert wanted_cues(question) == []


def test_a_statement_of_the_asked_kind_is_kept_though_it_adds_no_question_word() -> None:
    """ "What did X predict": the prediction shares no word with the question beyond what the lead
    has already covered, and scores below the lead; it is the answer all the same."""
    texts = [
        "Zelenskyy said he proposed returning the captured soldiers to Kim Jong Un in exchange for prisoners.",
        "In addition to the first captured soldiers, there will undoubtedly be more.",
    ]
    cands = _one_a_document(texts, ranked=False)
    vecs = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    q_vec = np.array([0.9, 0.62], dtype=np.float32)
    answer = extract_answer(
        "What did Zelenskyy predict about the captured soldiers?", q_vec, cands, vecs, ExtractiveConfig(), "v"
    )
    assert "undoubtedly be more" in answer.answer
    plain = extract_answer(
        "What did Zelenskyy say about the captured soldiers?", q_vec, cands, vecs, ExtractiveConfig(), "v"
    )
    assert "undoubtedly be more" not in plain.answer


TWEET = (
    "Zelenskyy shared a video of the prisoners.\n"
    "In addition to the first captured soldiers, there will undoubtedly be more. It is only a matter of time.\n"
    "— Volodymyr Zelenskyy / Володимир Зеленський (@ZelenskyyUa) January 12, 2025\n"
    "One soldier said he did not know he was in Ukraine."
)


def test_an_embedded_post_is_attributed_to_its_signature() -> None:
    start = TWEET.index("In addition")
    end = TWEET.index("\n—")
    assert post_authors(TWEET) == [(start, end, "Volodymyr Zelenskyy")]
    assert post_authors("A line.\n- not a signature (no handle)\nMore.") == []
    hit = SearchHit(
        chunk_id="d#0", document_id="d", title="t", text=TWEET, start=0, end=len(TWEET), score=1.0
    )
    cands = {c.text[:12]: c for c in candidates_from_hits([hit], {"d": TWEET})}
    assert "zelenskyy" in cands["In addition "].stems  # the post's author, though the post never names him
    assert "zelenskyy" not in cands["One soldier "].stems  # the line after the signature is not the post
    assert not any("@ZelenskyyUa" in c.text for c in cands.values())  # who posted and when: not an answer


def test_named_clauses() -> None:
    sentence = (
        "The agency told the committee that the troops had been ordered to kill themselves, if deemed "
        "necessary, in line with Rep. Lee Seong-kweun of the ruling Folks Energy Get together."
    )
    others = [
        f"North Korean troops were seen in region {i}, officials in Seoul said on Monday." for i in range(5)
    ]
    cands = _one_a_document([sentence, *others])
    question = "Which political party does lawmaker Lee Seong-kweun belong to?"
    assert named_clauses(question, cands) == [
        (0, "in line with Rep. Lee Seong-kweun of the ruling Folks Energy Get together.")
    ]
    # a name most candidate sentences hold says nothing about which clause is asked about; one-word
    # names ("Pyongyang") neither
    assert named_clauses("What did North Korean troops do in the region?", cands) == []
    assert named_clauses("What did Pyongyang order the troops?", cands) == []


def test_the_clause_naming_the_person_lifts_a_long_sentence() -> None:
    """Dense score of a candidate with a named clause: the better of the sentence's and the clause's."""
    cands = _one_a_document(["A long sentence, with a clause naming Lee Seong-kweun of the party."])
    vecs = np.array([[1.0, 0.0]], dtype=np.float32)
    cands[0].clause_vec = np.array([0.0, 1.0], dtype=np.float32)
    q_vec = np.array([0.2, 0.98], dtype=np.float32)
    extract_answer("Which party does Lee Seong-kweun belong to?", q_vec, cands, vecs, ExtractiveConfig(), "v")
    assert cands[0].dense == pytest.approx(0.98)


# ------------------------------------------------------------------ the engine over the seed articles


def test_answer_cites_exact_spans(seeded: Factdesk) -> None:
    answer = seeded.ask("What did the NIS say about suicide orders?")
    assert not answer.abstained and answer.citations
    assert re.search(r"suicide|kill themselves", answer.answer, re.I)
    markers = [int(m) for m in re.findall(r"\[(\d+)\]", answer.answer)]
    assert sorted(set(markers)) == [c.marker for c in answer.citations]
    check_citations(seeded, answer.citations)


def test_follow_up_answers_what_it_asks_not_the_previous_turn(seeded: Factdesk) -> None:
    history = [
        "According to the NIS, which North Korean military organization did the two captives belong to?"
    ]
    answer = seeded.ask(
        "How many of that organization's troops were sent to Russia, and when?", history=history
    )
    # made standalone; the user's turns alone do not name the organization (the previous answer did),
    # so the answer is about North Korean troops sent to Russia and when
    assert answer.question.startswith("How many of the North Korean military organization's troops")
    assert "October 2024" in answer.answer and re.search(r"\d,\d00 troops", answer.answer)
    check_citations(seeded, answer.citations)
    history = [
        "In what year was the captured rifleman born, and since when had he served in the North Korean army?"
    ]
    follow_up = "What about the other prisoner: when was he born and what was his job in the army?"
    answer = seeded.ask(follow_up, history=history)
    assert answer.answer.startswith("The other man") and "1999" in answer.answer.split("[1]")[0]


def test_answers_that_need_more_than_the_question_words(seeded: Factdesk) -> None:
    """A prediction in an embedded post, a party named in a long sentence's last clause, and what a
    prisoner knew: each answer holds it, with exact citations."""
    answer = seeded.ask("What did Zelenskyy predict about capturing more North Korean soldiers?")
    assert re.search(r"undoubtedly be more|matter of time", answer.answer)
    check_citations(seeded, answer.citations)
    answer = seeded.ask("Which political party does lawmaker Lee Seong-kweun belong to?")
    assert "Folks Energy Get together. [1]" in answer.answer
    check_citations(seeded, answer.citations)
    answer = seeded.ask("Was the first prisoner aware that he had been sent to fight against Kyiv's forces?")
    assert re.search(r"(?:did|does) not know", answer.answer)
    check_citations(seeded, answer.citations)


def test_who_is_a_named_person(seeded: Factdesk) -> None:
    answer = seeded.ask("Who is Oh Gyeong-seob?")
    assert not answer.abstained and "senior researcher" in answer.answer
    check_citations(seeded, answer.citations)


def test_agreeing_sources_are_cited_together(seeded: Factdesk) -> None:
    answer = seeded.ask(
        "How many North Korean soldiers have been killed, according to South Korea's intelligence service?"
    )
    assert "300" in answer.answer
    assert re.search(r"(\[\d+\]){2,}", answer.answer)  # one statement, several articles
    assert len({c.document_id for c in answer.citations}) >= 2
    check_citations(seeded, answer.citations)


def test_differing_figures_are_reported_as_such(seeded: Factdesk) -> None:
    answer = seeded.ask("How many North Korean troops has Pyongyang sent to Russia?")
    assert answer.answer.startswith("The sources differ.")
    figures = {n for c in answer.citations for n in re.findall(r"\d[\d,]*\d", c.quote)}
    assert len(figures) >= 2
    check_citations(seeded, answer.citations)


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of Australia?",
        "What is the capital of Mongolia?",  # the articles name Mongolia, never its capital
        "Who won the 2022 World Cup?",  # "since 2022", "in the world": no World Cup
        "How many drones did North Korea send to Russia?",
        "What did Donald Trump say about the North Korean soldiers captured in Kursk?",
        "Who is the director of South Korea's National Intelligence Service?",
    ],
)
def test_abstains_when_the_articles_do_not_answer(seeded: Factdesk, question: str) -> None:
    answer = seeded.ask(question)
    assert answer.abstained and answer.citations == [] and answer.answer == ABSTAIN_TEXT
