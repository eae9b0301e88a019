"""Tests for retrieval.sentences: sentence spans with offsets into the text (pure)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval.sentences import MAX_QUOTE_SENTENCES, MAX_SENTENCE_CHARS, quotation, split_sentences


def sentences(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)]


# --------------------------------------------------------------------------- #
# Abbreviations, initials and acronyms do not end a sentence
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "The talks began on Jan. 3 in Seoul. They ended a week later.",
            ["The talks began on Jan. 3 in Seoul.", "They ended a week later."],
        ),
        (
            "According to Rep. Lee Seong-kweun, 300 died. The NIS confirmed it.",
            ["According to Rep. Lee Seong-kweun, 300 died.", "The NIS confirmed it."],
        ),
        (
            "Troops shouted the name of Gen. Kim before the attack. Two were captured.",
            ["Troops shouted the name of Gen. Kim before the attack.", "Two were captured."],
        ),
        (
            "The U.S. Army and the U.N. Security Council were briefed. Nothing changed.",
            ["The U.S. Army and the U.N. Security Council were briefed.", "Nothing changed."],
        ),
        (
            "About 11,000 N. Korean soldiers were sent. Many were killed.",
            ["About 11,000 N. Korean soldiers were sent.", "Many were killed."],
        ),
        (
            "Mr. Zelenskyy met Dr. Park and Prof. J. Smith on Dec. 17. No statement followed.",
            ["Mr. Zelenskyy met Dr. Park and Prof. J. Smith on Dec. 17.", "No statement followed."],
        ),
    ],
)
def test_abbreviations_do_not_split(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_question_and_exclamation_marks_end_sentences() -> None:
    assert sentences("Why did they go? Nobody knows! The war goes on.") == [
        "Why did they go?",
        "Nobody knows!",
        "The war goes on.",
    ]


def test_lowercase_after_period_does_not_split() -> None:
    # "e.g. the" or a stray period before a lower-case word is not a sentence end
    assert sentences("They used drones e.g. small ones. Then they left.") == [
        "They used drones e.g. small ones.",
        "Then they left.",
    ]


# --------------------------------------------------------------------------- #
# Quotes
# --------------------------------------------------------------------------- #


def test_german_style_quotes_stay_inside_the_sentence() -> None:
    # from seed 000: „…“ where the closing mark is the English opening mark
    text = (
        "The NIS attributed the casualties to their „lack of expertise of modern warfare,“ highlighting "
        "their reckless attempt. A soldier shouted „General Kim Jong-un,“ the name of the leader."
    )
    assert sentences(text) == [
        (
            "The NIS attributed the casualties to their „lack of expertise of modern warfare,“ highlighting "
            "their reckless attempt."
        ),
        "A soldier shouted „General Kim Jong-un,“ the name of the leader.",
    ]


def test_closing_quote_after_terminator_stays_with_its_sentence() -> None:
    assert sentences("He called it „a provocation.“ Then he left.") == [
        "He called it „a provocation.“",
        "Then he left.",
    ]
    assert sentences("She said it was “a lie.” Officials disagreed.") == [
        "She said it was “a lie.”",
        "Officials disagreed.",
    ]


def test_quote_opening_a_sentence_starts_a_new_one() -> None:
    assert sentences("He paused. “I want to live in Ukraine,” the soldier said.") == [
        "He paused.",
        "“I want to live in Ukraine,” the soldier said.",
    ]
    assert sentences("He paused. „Ich will leben,“ sagte er.") == [
        "He paused.",
        "„Ich will leben,“ sagte er.",
    ]


def test_quoted_clause_followed_by_lower_case_does_not_split() -> None:
    assert sentences("The order was “Do not surrender.” according to the NIS. Next.") == [
        "The order was “Do not surrender.” according to the NIS.",
        "Next.",
    ]


# --------------------------------------------------------------------------- #
# Line breaks and trimming
# --------------------------------------------------------------------------- #


def test_scripts_without_capitals_and_cjk_stops_split() -> None:
    """No capital follows a stop in Arabic or Chinese: a letter of a caseless script starts a sentence,
    and a CJK full stop or question mark ends one with no space after it."""
    arabic = "يوجد في المستشفى 200 سرير. يعمل فيه 50 طبيبا. هل سيفتح جناح جديد؟ نعم."
    assert sentences(arabic) == [
        "يوجد في المستشفى 200 سرير.",
        "يعمل فيه 50 طبيبا.",
        "هل سيفتح جناح جديد؟",
        "نعم.",
    ]
    japanese = "病院には200床がある。医師は50人いる？「はい」と院長は言った。"
    assert sentences(japanese) == ["病院には200床がある。", "医師は50人いる？", "「はい」と院長は言った。"]
    assert sentences("It costs 5 yuan. nothing splits before lower case.") == [
        "It costs 5 yuan. nothing splits before lower case."
    ]


def test_line_breaks_end_sentences() -> None:
    text = "A headline without a period\nThe first paragraph. It has two sentences\n\nA caption"
    assert sentences(text) == [
        "A headline without a period",
        "The first paragraph.",
        "It has two sentences",
        "A caption",
    ]


def test_spans_slice_to_trimmed_sentences() -> None:
    text = "  \t First one.   Second one.  \n\n   Third one \u00a0 \n"
    spans = split_sentences(text)
    assert [text[s.start : s.end] for s in spans] == ["First one.", "Second one.", "Third one"]
    for s in spans:
        assert text[s.start : s.end] == text[s.start : s.end].strip()


def test_bullets_and_rules_are_dropped_but_glued_signs_are_text() -> None:
    text = (
        "- first item\n• second item\n---\n— Volodymyr Zelenskyy (@ZelenskyyUa)\n"
        "-5 degrees was the low.\n.NET ran."
    )
    assert sentences(text) == [
        "first item",
        "second item",
        "Volodymyr Zelenskyy (@ZelenskyyUa)",
        "-5 degrees was the low.",
        ".NET ran.",
    ]


def test_empty_and_blank_text() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\t\n ") == []


def test_start_and_end_restrict_to_a_window_of_the_same_text() -> None:
    text = "Before. Inside one. Inside two. After."
    start = text.index("Inside one")
    end = text.index(" After")
    spans = split_sentences(text, start, end)
    assert [text[s.start : s.end] for s in spans] == ["Inside one.", "Inside two."]
    assert all(start <= s.start < s.end <= end for s in spans)


# --------------------------------------------------------------------------- #
# Properties
# --------------------------------------------------------------------------- #

_pieces = st.one_of(
    st.text(min_size=1, max_size=10),
    st.sampled_from(
        [
            "Jan.",
            "Rep.",
            "U.S.",
            "N.",
            "Gen.",
            "Mr.",
            ".",
            "!",
            "?",
            "…",
            "„",
            "“",
            "”",
            '"',
            "'",
            "(",
            ")",
            "-",
            "—",
            "•",
            "\n",
            "\n\n",
            "\u00a0",
            "\t",
            "A",
            "The",
            "3",
            "😀",
            "\r\n",
        ]
    ),
)
_texts = st.lists(_pieces, max_size=60).map(" ".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts)
def test_spans_are_ordered_disjoint_within_text_and_trimmed(text: str) -> None:
    spans = split_sentences(text)
    prev_end = 0
    for s in spans:
        assert prev_end <= s.start < s.end <= len(text)
        piece = text[s.start : s.end]
        assert piece == piece.strip()
        assert "\n" not in piece
        prev_end = s.end


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts, st.data())
def test_window_spans_stay_inside_the_window(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    for s in split_sentences(text, start, end):
        assert start <= s.start < s.end <= end
        assert text[s.start : s.end] == text[s.start : s.end].strip()


# --------------------------------------------------------------------------- #
# A quoted sentence belongs to its whole quotation
# --------------------------------------------------------------------------- #


def _quotations(text: str) -> list[tuple[str, str]]:
    out = []
    for s in split_sentences(text):
        a, b = quotation(text, s.start, s.end)
        out.append((text[s.start : s.end], text[a:b]))
    return out


def test_every_sentence_of_a_quotation_is_the_whole_quotation() -> None:
    text = 'The mayor spoke on Monday. "We will rebuild. We will not leave," she said. Then she left.'
    whole = '"We will rebuild. We will not leave," she said.'
    assert _quotations(text) == [
        ("The mayor spoke on Monday.", "The mayor spoke on Monday."),
        ('"We will rebuild.', whole),
        ('We will not leave," she said.', whole),
        ("Then she left.", "Then she left."),
    ]


def test_curly_quotes_and_a_speaker_before_the_quotation() -> None:
    text = "He told reporters: “It is over. Go home.” Nobody moved."
    assert _quotations(text)[1] == ("Go home.”", "He told reporters: “It is over. Go home.”")


@pytest.mark.parametrize(
    "text",
    [
        'A "scare" word is no quotation. Nor is this.',  # opened and closed in one sentence
        '"Still open. Closed in the next paragraph.\n"Here," he said.',  # one quoted over paragraphs
        'An odd " mark. Never closed.',
    ],
)
def test_a_quotation_not_opened_and_closed_across_sentences_of_one_paragraph_changes_nothing(
    text: str,
) -> None:
    assert all(sentence == shown for sentence, shown in _quotations(text))


def test_a_long_quotation_is_left_sentence_by_sentence() -> None:
    body = " ".join(f"Point {i} is made." for i in range(MAX_QUOTE_SENTENCES + 1))
    text = f'"{body}" he said.'
    assert all(sentence == shown for sentence, shown in _quotations(text))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(_pieces, st.sampled_from(['"', "“", "”", '," he said.', ' "We'])), max_size=60).map(
        " ".join
    )
)
def test_a_quotation_is_whole_sentences_around_the_sentence(text: str) -> None:
    spans = split_sentences(text)
    for s in spans:
        a, b = quotation(text, s.start, s.end)
        assert a <= s.start and s.end <= b
        assert any(t.start == a for t in spans) and any(t.end == b for t in spans)
        assert "\n" not in text[a:b]


def _quotation_one_by_one(text: str, start: int, end: int) -> tuple[int, int]:
    """quotation() as it was written before paragraphs were read once: the reference."""
    from retrieval.sentences import MAX_QUOTE_CHARS, _inside_quote

    lo = text.rfind("\n", 0, start) + 1
    hi = text.find("\n", end)
    spans = split_sentences(text, lo, len(text) if hi == -1 else hi)
    at = next((i for i, s in enumerate(spans) if s.start == start and s.end == end), None)
    if at is None:
        return start, end
    states, pos = [False], lo
    for s in spans:
        states[-1] = _inside_quote(text, pos, s.start, states[-1])
        states.append(_inside_quote(text, s.start, s.end, states[-1]))
        pos = s.end
    first, last = at, at
    while states[first] and first > 0:
        first -= 1
    while states[last + 1] and last + 1 < len(spans):
        last += 1
    if states[first] or states[last + 1]:
        return start, end
    a, b = spans[first].start, spans[last].end
    return (start, end) if last - first + 1 > MAX_QUOTE_SENTENCES or b - a > MAX_QUOTE_CHARS else (a, b)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(_pieces, st.sampled_from(['"', "“", "”", "«", "»", '," he said.', ' "We', "\n", "\n\n"])),
        max_size=60,
    ).map(" ".join)
)
def test_quoted_sentences_reads_each_paragraph_once_and_agrees_with_quotation(text: str) -> None:
    """A summary asks for every sentence's quotation at once (quoted_sentences): the same spans as
    asking sentence by sentence, which re-read the paragraph each time (minutes for a long one)."""
    from retrieval.sentences import quoted_sentences

    got = quoted_sentences(text)
    assert [s for s, _ in got] == split_sentences(text)
    for s, span in got:
        assert span == quotation(text, s.start, s.end) == _quotation_one_by_one(text, s.start, s.end)


# --------------------------------------------------------------------------- #
# A run-on longer than MAX_SENTENCE_CHARS is cut into pieces
# --------------------------------------------------------------------------- #


def test_a_run_on_line_is_cut_at_clause_ends_into_bounded_pieces() -> None:
    clause = "the council met again, and the budget was read aloud; nobody voted"
    text = " ".join([clause] * 60) + " while the bridge cost 41 million euros " + " ".join([clause] * 60)
    spans = split_sentences(text)
    assert len(spans) >= len(text) // MAX_SENTENCE_CHARS
    assert all(0 < s.end - s.start <= MAX_SENTENCE_CHARS for s in spans)
    # pieces tile the line: nothing is lost between them but the spaces at a cut
    assert all(text[a.end : b.start].strip() == "" for a, b in zip(spans, spans[1:]))
    assert spans[0].start == 0 and spans[-1].end == len(text)
    # each cut falls after a clause's punctuation, not inside a word
    assert all(text[s.end - 1] in ",;" for s in spans[:-1])
    assert sum("41 million" in text[s.start : s.end] for s in spans) == 1


def test_a_run_on_without_spaces_is_cut_at_the_bound() -> None:
    text = "漢" * 1300
    assert [(s.start, s.end) for s in split_sentences(text)] == [(0, 600), (600, 1200), (1200, 1300)]


def test_a_long_sentence_under_the_bound_stays_whole() -> None:
    text = "The minister, who had spent " + "years, " * 70 + "said nothing. Then she left."
    assert len(text) < MAX_SENTENCE_CHARS + 20
    first = text.index(". ") + 1
    assert first <= MAX_SENTENCE_CHARS
    assert sentences(text) == [text[:first], "Then she left."]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from("ab ,;.\n—"), min_size=0, max_size=3000))
def test_pieces_are_bounded_ordered_and_inside_the_text(text: str) -> None:
    spans = split_sentences(text)
    assert all(0 < s.end - s.start <= MAX_SENTENCE_CHARS for s in spans)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))
    assert all(text[s.start : s.end] == text[s.start : s.end].strip() for s in spans)


def test_a_run_of_stops_is_one_candidate_found_where_it_starts() -> None:
    """The terminator pattern starts only at a run's first character and takes the run whole: tried
    at every dot of a long run with no space after it, it cost quadratic time (a tester's 200,000
    dots). What it finds is unchanged: a run ends a sentence only where whitespace follows it."""
    from retrieval.sentences import _CANDIDATE

    assert [m.group(0) for m in _CANDIDATE.finditer("Wait... what?! Yes.” No.) He left")] == [
        "...",
        "?!",
        ".”",
        ".)",
    ]
    assert [m.group(0) for m in _CANDIDATE.finditer("x" + "." * 5000 + "y")] == []
    text = "The mill. " + "." * 20_000 + " The miller said 300 sacks were ground."
    assert [text[s.start : s.end] for s in split_sentences(text)][
        -1
    ] == "The miller said 300 sacks were ground."
