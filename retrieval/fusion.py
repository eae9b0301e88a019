"""Rank fusion and diversification (pure)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def fuse_reciprocal_rank(
    rankings: Sequence[Sequence[str]], weights: Sequence[float] | None = None, k: float = 60.0
) -> list[tuple[str, float]]:
    """Weighted reciprocal rank fusion: score(id) = sum_i w_i / (k + rank_i), ranks from 1."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for ranking, w in zip(rankings, weights):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + w / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def maximal_marginal_relevance(
    ids: Sequence[str], relevance: Sequence[float], vectors: np.ndarray, top_k: int, lam: float = 0.75
) -> list[str]:
    """Greedy MMR: relevance (rescaled to [0, 1]) traded against cosine similarity to what is already
    chosen, so a near-identical passage from a republished copy does not push out a new fact."""
    if len(ids) == 0:
        return []
    rel = np.asarray(relevance, dtype=np.float64)
    span = rel.max() - rel.min()
    rel = (rel - rel.min()) / span if span > 0 else np.ones_like(rel)
    sims = vectors @ vectors.T
    chosen: list[int] = []
    left = list(range(len(ids)))
    while left and len(chosen) < top_k:
        if chosen:
            redundancy = sims[np.ix_(left, chosen)].max(axis=1)
            scores = lam * rel[left] - (1 - lam) * redundancy
        else:
            scores = rel[left]
        best = left[int(np.argmax(scores))]
        chosen.append(best)
        left.remove(best)
    return [ids[i] for i in chosen]


def rerank_scores(
    dense: Sequence[float], lexical: Sequence[float], w_dense: float, w_lexical: float, w_prior: float
) -> list[float]:
    """Linear blend of per-item dense and lexical evidence, plus a prior from the incoming order
    (items arrive sorted by fused rank, so the first-stage ranking still counts)."""
    return [
        w_dense * d + w_lexical * x + w_prior / (rank + 1) for rank, (d, x) in enumerate(zip(dense, lexical))
    ]
