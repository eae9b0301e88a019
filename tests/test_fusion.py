"""Tests for retrieval.fusion: weighted reciprocal rank fusion and MMR diversification (pure)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.fusion import fuse_reciprocal_rank, maximal_marginal_relevance


def unit(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


# --------------------------------------------------------------------------- #
# Reciprocal rank fusion
# --------------------------------------------------------------------------- #


def test_rrf_scores_are_sums_of_reciprocal_ranks() -> None:
    fused = dict(fuse_reciprocal_rank([["a", "b", "c"], ["b", "d"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["c"] == pytest.approx(1 / 63)
    assert fused["d"] == pytest.approx(1 / 62)


def test_rrf_prefers_items_both_rankings_agree_on() -> None:
    # an item found by both sides beats one found by a single side at the same rank
    fused = fuse_reciprocal_rank([["x", "y"], ["y", "z"]], k=10)
    assert [i for i, _ in fused] == ["y", "x", "z"]


def test_rrf_is_sorted_best_first_with_ties_broken_by_id() -> None:
    fused = fuse_reciprocal_rank([["b", "a"], ["a", "b"]], k=60)
    assert [i for i, _ in fused] == ["a", "b"]  # equal scores: by id, so results are deterministic
    assert fused[0][1] == pytest.approx(fused[1][1])


def test_rrf_weights_shift_the_order() -> None:
    dense, lexical = ["d1", "d2", "d3"], ["l1", "l2", "l3"]
    assert fuse_reciprocal_rank([dense, lexical], [3.0, 1.0], k=10)[0][0] == "d1"
    assert fuse_reciprocal_rank([dense, lexical], [1.0, 3.0], k=10)[0][0] == "l1"
    fused = dict(fuse_reciprocal_rank([dense, lexical], [2.0, 0.5], k=10))
    assert fused["d1"] == pytest.approx(2.0 / 11)
    assert fused["l1"] == pytest.approx(0.5 / 11)
    # a zero weight switches a side off without dropping its items
    fused = fuse_reciprocal_rank([dense, lexical], [1.0, 0.0], k=10)
    assert [i for i, _ in fused][:3] == dense
    assert {i for i, s in fused if s == 0.0} == set(lexical)


def test_rrf_small_k_rewards_top_ranks_more() -> None:
    # "a" is first on one side only; "b" is fourth on both
    rankings = [["a", "x", "y", "b"], ["c", "z", "w", "b"]]
    assert fuse_reciprocal_rank(rankings, k=1)[0][0] == "a"
    assert fuse_reciprocal_rank(rankings, k=100)[0][0] == "b"


def test_rrf_empty_inputs() -> None:
    assert fuse_reciprocal_rank([]) == []
    assert fuse_reciprocal_rank([[], []]) == []
    assert fuse_reciprocal_rank([["a"], []]) == [("a", pytest.approx(1 / 61))]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.sampled_from("abcdefgh"), unique=True, max_size=8), min_size=1, max_size=3))
def test_rrf_contains_every_item_once_sorted(rankings: list[list[str]]) -> None:
    fused = fuse_reciprocal_rank(rankings)
    ids = [i for i, _ in fused]
    assert len(ids) == len(set(ids)) == len({i for r in rankings for i in r})
    scores = [s for _, s in fused]
    assert scores == sorted(scores, reverse=True)


# --------------------------------------------------------------------------- #
# Maximal marginal relevance
# --------------------------------------------------------------------------- #


def test_mmr_prefers_a_novel_item_over_a_near_duplicate() -> None:
    # relevance is rescaled to [0, 1] over the pool, so the pool has a weaker tail as in a real search
    ids = ["original", "copy", "novel", "weak-1", "weak-2"]
    relevance = [1.0, 0.98, 0.9, 0.5, 0.4]
    vectors = np.stack(
        [
            unit(1, 0, 0, 0, 0),
            unit(1, 0.01, 0, 0, 0),
            unit(0, 1, 0, 0, 0),
            unit(0, 0, 1, 0, 0),
            unit(0, 0, 0, 1, 0),
        ]
    )
    assert maximal_marginal_relevance(ids, relevance, vectors, top_k=2, lam=0.75) == ["original", "novel"]
    # without the diversity term the copy would have come second
    assert maximal_marginal_relevance(ids, relevance, vectors, top_k=2, lam=1.0) == ["original", "copy"]
    # the near-duplicate is pushed down, not dropped
    assert "copy" in maximal_marginal_relevance(ids, relevance, vectors, top_k=5, lam=0.75)


def test_mmr_with_lambda_one_is_plain_relevance_order() -> None:
    ids = ["a", "b", "c"]
    vectors = np.stack([unit(1, 0), unit(1, 0.001), unit(0, 1)])
    assert maximal_marginal_relevance(ids, [0.9, 0.8, 0.1], vectors, top_k=3, lam=1.0) == ["a", "b", "c"]


def test_mmr_first_pick_is_the_most_relevant() -> None:
    vectors = np.stack([unit(1, 0), unit(0, 1), unit(1, 1)])
    assert maximal_marginal_relevance(["a", "b", "c"], [0.2, 0.5, 0.3], vectors, top_k=1) == ["b"]


def test_mmr_respects_top_k_and_empty_input() -> None:
    vectors = np.stack([unit(1, 0), unit(0, 1), unit(1, 1)])
    assert len(maximal_marginal_relevance(["a", "b", "c"], [3, 2, 1], vectors, top_k=2)) == 2
    assert len(maximal_marginal_relevance(["a", "b", "c"], [3, 2, 1], vectors, top_k=10)) == 3
    assert maximal_marginal_relevance([], [], np.zeros((0, 2)), top_k=3) == []


def test_mmr_equal_relevance_does_not_crash() -> None:
    vectors = np.stack([unit(1, 0), unit(1, 0), unit(0, 1)])
    out = maximal_marginal_relevance(["a", "b", "c"], [0.5, 0.5, 0.5], vectors, top_k=2)
    assert out == ["a", "c"]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(1, 15), st.randoms(use_true_random=False))
def test_mmr_returns_a_permutation_prefix(n: int, top_k: int, rnd) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(rnd.randint(0, 2**32 - 1))
    vectors = rng.normal(size=(n, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"c{i}" for i in range(n)]
    out = maximal_marginal_relevance(ids, rng.random(n).tolist(), vectors, top_k=top_k)
    assert len(out) == min(n, top_k)
    assert len(set(out)) == len(out) and set(out) <= set(ids)
