"""Slow, obviously-correct twins of the graded exercises (plain Python loops), used by the checks."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import numpy as np
import torch


def relevance_reference(pool_emb: np.ndarray, query_emb: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k rows with the highest cosine similarity to the query, most similar first,
    ties to the lower index. Zero vectors have similarity 0."""
    if not 1 <= k <= len(pool_emb):
        raise ValueError(f"k must be in [1, {len(pool_emb)}]; got {k}")

    def cos(a, b):
        na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(x * x for x in b))
        return 0.0 if na == 0 or nb == 0 else sum(x * y for x, y in zip(a, b)) / (na * nb)

    q = [float(v) for v in query_emb]
    sims = [cos([float(v) for v in row], q) for row in pool_emb]
    order = sorted(range(len(sims)), key=lambda i: (-round(sims[i], 12), i))
    return np.array(order[:k], dtype=np.int64)


def centroid_picks_reference(X: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """For each centroid in order, the index of the nearest row of X (Euclidean) not picked before;
    ties to the lower index."""
    if len(centroids) > len(X):
        raise ValueError(f"centroids ({len(centroids)}) must not outnumber the points ({len(X)})")
    taken: set[int] = set()
    out = []
    for c in centroids:
        best, best_d = -1, math.inf
        for i, row in enumerate(X):
            if i in taken:
                continue
            d = sum((float(a) - float(b)) ** 2 for a, b in zip(row, c))
            if d < best_d - 1e-12:
                best, best_d = i, d
        taken.add(best)
        out.append(best)
    return np.array(out, dtype=np.int64)


def fill_budget_reference(head_len: int, demo_lengths: Sequence[int], query_len: int, budget: int, reserve: int = 0) -> int:
    """How many demos (taken in order, stopping at the first that overflows) fit in ``budget - reserve``
    tokens beside the header and the query."""
    if head_len + query_len + reserve > budget:
        raise ValueError(f"budget must be at least {head_len + query_len + reserve}; got {budget}")
    used, n = head_len + query_len + reserve, 0
    for length in demo_lengths:
        if used + length > budget:
            break
        used += length
        n += 1
    return n


@torch.no_grad()
def last_token_logits_reference(model, prefix_ids: Sequence[int], queries: Sequence[Sequence[int]]) -> torch.Tensor:
    """(B, V) logits after the last token of prefix + query, each run from scratch (no cache)."""
    rows = [model(input_ids=torch.tensor([list(prefix_ids) + list(q)])).logits[0, -1].float() for q in queries]
    return torch.stack(rows)


def likert_filter_reference(logits: np.ndarray, rating_ids: Sequence[int], tau: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Expected rating under the softmax over the rating tokens (ratings 1..R) and the mask score >= tau
    (tau = median of the scores when None)."""
    scores = []
    for row in np.asarray(logits, dtype=np.float64):
        z = [float(row[i]) for i in rating_ids]
        m = max(z)
        w = [math.exp(v - m) for v in z]
        scores.append(sum((s + 1) * wi for s, wi in enumerate(w)) / sum(w))
    scores_arr = np.array(scores)
    t = float(np.median(scores_arr)) if tau is None else float(tau)
    return scores_arr, np.array([s >= t for s in scores], dtype=bool)


def copy_cache(cache):
    """A deep copy of a KV cache (what each query extends instead of the shared prefix cache)."""
    return copy.deepcopy(cache)
