"""Tests for retrieval.dedup: exact hashes and MinHash/LSH near-duplicate detection (pure)."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from conftest import ARTICLES, MakeService
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.clean import clean_article
from retrieval.dedup import NUM_PERM, adds_names, band_keys, content_hash, minhash, overlap, shingles
from retrieval.models import DocumentIn

SEEDS = [clean_article(p.read_text(encoding="utf-8")).text for p in sorted(ARTICLES.glob("*.txt"))]


def edit_words(text: str, fraction: float, seed: int) -> str:
    """A light edit: replace `fraction` of the words with other words, keeping the layout."""
    rng = random.Random(seed)
    words = text.split(" ")
    for i in rng.sample(range(len(words)), int(len(words) * fraction)):
        words[i] = rng.choice(["reportedly", "allegedly", "soldiers", "officials", "Tuesday", "army"])
    return " ".join(words)


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b)


# --------------------------------------------------------------------------- #
# Exact duplicates
# --------------------------------------------------------------------------- #


def test_content_hash_ignores_whitespace_layout() -> None:
    text = SEEDS[0]
    relaid = "  " + text.replace("\n", "\n\n").replace(" ", " \t ") + "\n\n"
    assert content_hash(relaid) == content_hash(text)


def test_content_hash_sees_every_word() -> None:
    assert content_hash("300 soldiers died") != content_hash("3000 soldiers died")
    assert content_hash("a b") != content_hash("ab")
    assert len(content_hash("x")) == 64


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.text(
            alphabet=st.characters(exclude_categories=("Cs", "Zs", "Cc", "Zl", "Zp")), min_size=1, max_size=8
        ),
        max_size=20,
    ),
    st.lists(st.sampled_from([" ", "  ", "\n", "\t", "\n\n ", "\u00a0"]), min_size=1, max_size=20),
)
def test_content_hash_whitespace_insensitive_property(words: list[str], seps: list[str]) -> None:
    spaced = "".join(w + seps[i % len(seps)] for i, w in enumerate(words))
    assert content_hash(spaced) == content_hash(" ".join(words))


# --------------------------------------------------------------------------- #
# Near duplicates
# --------------------------------------------------------------------------- #


def test_shingles_are_lowercased_word_bigrams() -> None:
    assert shingles("The war, the WAR!") == {"the war", "war the"}
    assert shingles("one") == {"one"}
    assert shingles("... !") == set()


@pytest.mark.parametrize("index", range(5))
@pytest.mark.parametrize("fraction", [0.05, 0.08])
def test_lightly_edited_copy_overlaps_strongly(index: int, fraction: float) -> None:
    original = shingles(SEEDS[index])
    edited = shingles(edit_words(SEEDS[index], fraction, seed=index))
    assert overlap(original, edited) >= 0.8


def test_different_seed_articles_overlap_weakly() -> None:
    for a, b in itertools.combinations(SEEDS, 2):
        assert overlap(shingles(a), shingles(b)) < 0.5


def test_adds_names_sees_new_names_and_figures_in_any_case() -> None:
    earlier = "Police in York said the A64 was closed after 12 crashes. the mayor of leeds agreed."
    assert not adds_names(earlier, earlier)
    assert not adds_names("York police said the A64 had closed after 12 crashes.", earlier)
    assert not adds_names("Leeds agreed.", earlier)  # named before, only in lower case
    assert adds_names("Police in Hull said the A64 was closed.", earlier)
    assert adds_names("The A64 was closed after 14 crashes.", earlier)
    assert adds_names("The M62 was closed.", earlier)
    assert adds_names(
        "The A64 was closed after fourteen crashes.", "The A64 was closed after twelve crashes."
    )
    assert not adds_names("The A64 was closed after twelve crashes.", "Twelve crashes closed the A64.")
    assert not adds_names("", earlier)


def test_overlap_edge_cases() -> None:
    assert overlap(set(), {"a b"}) == 0.0
    assert overlap({"a b"}, {"a b", "b c", "c d"}) == 1.0  # a cut copy still overlaps fully


@pytest.mark.parametrize("index", range(5))
@pytest.mark.parametrize("fraction", [0.05, 0.08])
def test_band_keys_collide_for_an_edited_copy(index: int, fraction: float) -> None:
    a = band_keys(minhash(shingles(SEEDS[index])))
    b = band_keys(minhash(shingles(edit_words(SEEDS[index], fraction, seed=index))))
    # 32 bands of 4 rows at Jaccard ~0.75-0.83: about a third of the bands agree; a handful is the floor
    assert len(set(a) & set(b)) >= 4


@pytest.mark.parametrize("index", range(5))
def test_minhash_agreement_estimates_jaccard(index: int) -> None:
    a = shingles(SEEDS[index])
    b = shingles(edit_words(SEEDS[index], 0.08, seed=index))
    agreement = float((minhash(a) == minhash(b)).mean())
    # standard error at 128 permutations is ~0.04; 0.12 is three of them
    assert abs(agreement - jaccard(a, b)) < 0.12


def test_band_keys_rarely_collide_for_different_articles() -> None:
    for a, b in itertools.combinations(SEEDS, 2):
        shared = set(band_keys(minhash(shingles(a)))) & set(band_keys(minhash(shingles(b))))
        assert len(shared) <= 2


def test_signatures_are_stable_and_well_formed() -> None:
    sig = minhash(shingles(SEEDS[0]))
    assert sig.shape == (NUM_PERM,) and sig.dtype == np.uint64
    assert np.array_equal(sig, minhash(shingles(SEEDS[0])))
    keys = band_keys(sig)
    assert len(keys) == 32 and len(set(keys)) == 32  # the band number is part of the key
    empty = minhash(set())
    assert empty.shape == (NUM_PERM,)


def test_near_duplicate_candidates_are_the_closest_few(make_service: MakeService) -> None:
    """Templated briefs share a MinHash band with every brief before them: a new one is compared with
    the few that share the most bands, not with all of them (10,000 briefs took 13 minutes)."""
    svc = make_service("dedup-candidates")

    def brief(i: int, tail: str = "") -> str:
        return (
            f"Section {i} of the Fife coastal path, {3 * i} miles long, was resurfaced at a cost of "
            f"{11 * i},000 pounds, the council said on Monday. Walkers are asked to use the diversion.{tail}"
        )

    svc.ingest_documents([DocumentIn(id=f"brief-{i}", text=brief(i)) for i in range(1, 9)])
    bands = band_keys(minhash(shingles(brief(4, " It reopens in May."))))
    near = svc.catalog.candidates_by_bands(bands, limit=3)
    assert len(near) == 3 and near[0] == "brief-4"  # the one it copies shares the most bands
    assert set(svc.catalog.candidates_by_bands(bands, limit=100)) <= {f"brief-{i}" for i in range(1, 9)}
    assert "brief-4" not in svc.catalog.candidates_by_bands(bands, exclude="brief-4")
