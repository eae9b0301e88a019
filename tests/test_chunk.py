"""Tests for retrieval.chunk: token-bounded, sentence-aligned chunks with overlap (pure)."""

from __future__ import annotations

from itertools import pairwise

import pytest
from conftest import ARTICLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval.chunk import chunk_text
from retrieval.clean import clean_article
from retrieval.sentences import _LEADING_JUNK, split_sentences
from retrieval.tokens import count_tokens


def seed_texts() -> list[str]:
    return [clean_article(p.read_text(encoding="utf-8")).text for p in sorted(ARTICLES.glob("*.txt"))]


def check_chunks(text: str, max_tokens: int, overlap_tokens: int) -> None:
    """The invariants every chunking must satisfy."""
    chunks = chunk_text(text, max_tokens=max_tokens, overlap_tokens=overlap_tokens)
    for c in chunks:
        assert 0 <= c.start < c.end <= len(text)
        piece = text[c.start : c.end]
        assert piece == piece.strip(), "a chunk starts and ends on visible text"
        # holds for pieces of over-long sentences too: they are cut to the budget, not allowed over it
        assert count_tokens(piece) <= max_tokens
        assert c.tokens == count_tokens(piece)
    for a, b in pairwise(chunks):
        assert a.start < b.start and a.end < b.end, "chunks are in order and each one moves forward"
        if b.start < a.end:
            assert count_tokens(text[b.start : a.end]) <= overlap_tokens
    covered = bytearray(len(text))
    for c in chunks:
        covered[c.start : c.end] = b"\x01" * (c.end - c.start)
    missing = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
    assert not missing, f"uncovered characters: {[text[i] for i in missing[:10]]}"


# --------------------------------------------------------------------------- #
# Properties over random text
# --------------------------------------------------------------------------- #

_words = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12),
    st.sampled_from(
        [
            "the",
            "war",
            "Ukraine",
            "U.S.",
            "Jan.",
            "Rep.",
            "N.",
            "Kim.",
            "A.",
            "-5",
            "—",
            "•",
            "---",
            "...",
            ".",
            ",",
            "!",
            "?",
            "„Quote“",
            "“hi”",
            "😀",
            "👍🏽",
            "🇺🇦",
            "中文",
            "Володимир",
            "ﷺ",
            "\n",
            "\n\n",
            "\t",
            "\u00a0",
            "\r\n",
        ]
    ),
    # very long "words" (no whitespace to cut at)
    st.text(alphabet="abcdefghijé😀0123456789", min_size=40, max_size=500),
)
_texts = st.lists(_words, max_size=100).map(" ".join)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts, st.integers(8, 80), st.integers(0, 30))
def test_chunk_invariants_on_random_text(text: str, max_tokens: int, overlap_tokens: int) -> None:
    check_chunks(text, max_tokens, overlap_tokens)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(["alpha", "beta", "gamma", "delta", "ε", "😀"]), min_size=20, max_size=400))
def test_over_long_sentence_is_cut_at_word_boundaries(words: list[str]) -> None:
    text = " ".join(words)  # one sentence, no terminator: far over a small budget
    chunks = chunk_text(text, max_tokens=12, overlap_tokens=4)
    check_chunks(text, 12, 4)
    for c in chunks:
        # pieces of a sentence end where a word ends and start where one starts
        assert c.end == len(text) or text[c.end] == " "
        assert c.start == 0 or text[c.start - 1] == " "
    assert " ".join(text[c.start : c.end] for c in chunks).split() == words


def test_giant_word_is_cut_inside_itself() -> None:
    text = "x" * 5000 + "😀" * 300
    chunks = chunk_text(text, max_tokens=50, overlap_tokens=10)
    assert len(chunks) > 1
    check_chunks(text, 50, 10)
    assert "".join(text[c.start : c.end] for c in chunks) == text  # cut inside, nothing lost or repeated


def test_short_and_empty_text() -> None:
    assert chunk_text("") == []
    assert chunk_text(" \n\t ") == []
    (only,) = chunk_text("One sentence.")
    assert (only.start, only.end) == (0, len("One sentence."))


def test_whitespace_between_sentences_counts_against_the_budget() -> None:
    # 1-token lines: the "\n" between them is a token of its own, and it counts too
    for sep in ("\n", "\n\n"):
        check_chunks(sep.join(["Yes"] * 200), 32, 8)


def test_overlap_never_swallows_the_next_chunk() -> None:
    # a carried sentence plus the next one over the budget would give a chunk inside the previous one
    text = "0 0 0 0 0 0:0:\U00013640"
    check_chunks(text, 8, 1)


def test_overlap_repeats_trailing_sentences() -> None:
    sents = [f"Sentence number {i} tells a fact." for i in range(40)]
    text = " ".join(sents)
    chunks = chunk_text(text, max_tokens=40, overlap_tokens=10)
    assert len(chunks) > 3
    overlapping = [(a, b) for a, b in pairwise(chunks) if b.start < a.end]
    assert overlapping, "with an overlap budget, consecutive chunks share a sentence"
    for a, b in overlapping:
        assert text[b.start : a.end] in sents or text[b.start : a.end].endswith(".")
    no_overlap = chunk_text(text, max_tokens=40, overlap_tokens=0)
    assert all(a.end <= b.start for a, b in pairwise(no_overlap))


def test_bullets_and_trailing_rules_are_covered() -> None:
    text = "- first point here.\n• second point\n---\nA closing line.\n—"
    check_chunks(text, 160, 40)
    chunks = chunk_text(text)
    assert chunks[0].start == 0
    assert chunks[-1].end == len(text)


# --------------------------------------------------------------------------- #
# Seed articles
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("index", range(5))
def test_seed_chunks_respect_invariants(index: int) -> None:
    check_chunks(seed_texts()[index], 160, 40)


@pytest.mark.parametrize("index", range(5))
def test_seed_chunk_boundaries_fall_on_sentence_boundaries(index: int) -> None:
    text = seed_texts()[index]
    sents = split_sentences(text)
    assert all(count_tokens(text[s.start : s.end]) <= 160 for s in sents)  # so no sentence is cut
    starts = [s.start for s in sents]
    ends = {s.end for s in sents}
    chunks = chunk_text(text, max_tokens=160, overlap_tokens=40)
    assert len(chunks) >= 2
    for c in chunks:
        assert c.end in ends
        # a chunk starts at a sentence, or at a dropped bullet/rule right before one
        first = min(s for s in starts if s >= c.start)
        assert all(ch.isspace() or ch in _LEADING_JUNK for ch in text[c.start : first])


def test_a_long_run_on_is_cut_with_work_in_proportion_to_its_length(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each piece of an over-long sentence encodes a window of the rest, not the whole rest: a tester's
    200,000-character run held the server for minutes (encoded chars are counted, not seconds)."""
    import retrieval.chunk as chunk_module
    from retrieval.tokens import encoding

    real = encoding()
    encoded: list[int] = []

    class Counting:
        def encode_ordinary(self, text: str) -> list[int]:
            encoded.append(len(text))
            return real.encode_ordinary(text)

        def decode(self, ids: list[int], errors: str = "strict") -> str:
            return real.decode(ids, errors=errors)

    monkeypatch.setattr(chunk_module, "encoding", lambda: Counting())
    text = "The mill in Oxley reopened. " + "– " * 50_000 + "The miller said 300 sacks were ground."
    spans = chunk_text(text, max_tokens=200, overlap_tokens=40)
    assert sum(encoded) < 10 * len(text)  # the whole rest per piece was about 250 times the text
    assert spans[0].start == 0 and spans[-1].end == len(text)
    assert all(s.tokens <= 200 for s in spans)
