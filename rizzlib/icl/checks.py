"""Graded checks for the chapter 5 notebook (many-shot in-context learning).

Each ``check_*`` runs fixed edge cases first (ties, exact fits, shared nearest points, ratings all
on one value), then fresh random inputs, comparing the student's function with the slow twins in
:mod:`rizzlib.icl.reference`. A ``NotImplementedError`` from the blank exercise propagates.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from rizzlib.core.grading import compare_with_reference, expect_error, fail, passed, to_numpy
from rizzlib.icl.model import ModelConfig, build_model
from rizzlib.icl.reference import (
    centroid_picks_reference,
    fill_budget_reference,
    last_token_logits_reference,
    likert_filter_reference,
    relevance_reference,
)


def _seed(seed: int | None) -> int:
    return int(np.random.SeedSequence().entropy % (2**31)) if seed is None else seed


# ------------------------------------------------------------------------------ relevance selection


def _relevance_inputs(rng: np.random.Generator):
    n, d = int(rng.integers(5, 40)), int(rng.integers(2, 10))
    emb = rng.normal(size=(n, d)) * rng.uniform(0.2, 5.0, size=(n, 1))  # rows of different norms
    dup = rng.choice(n, size=2, replace=False)
    emb[dup[1]] = emb[dup[0]] * 3.0  # same direction: a cosine tie
    return (emb, rng.normal(size=d) * 2.5, int(rng.integers(1, n + 1))), {}


def check_relevance(select_relevant: Callable, seed: int | None = None) -> None:
    """``select_relevant(pool_emb (n, d), query_emb (d,), k) -> (k,) int``: top-k cosine, most similar first."""
    emb = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0], [1.0, 1.0], [-1.0, 0.0]])
    edges = [
        ("a tie between rows 0 and 2 (same direction)", (emb, np.array([2.0, 0.0]), 3), {}),
        ("long rows must not win by their length", (np.array([[10.0, 10.0], [0.0, 0.5]]), np.array([0.0, 1.0]), 1), {}),
        ("k equal to the pool", (emb, np.array([0.0, -1.0]), 5), {}),
    ]
    compare_with_reference(
        "select_relevant", select_relevant, relevance_reference, _relevance_inputs,
        n_trials=10, seed=_seed(seed), edge_cases=edges, output_names=["indices"],
    )


# ------------------------------------------------------------------------------ diversity picks


def _centroid_inputs(rng: np.random.Generator):
    n, d = int(rng.integers(6, 30)), int(rng.integers(2, 6))
    X = np.round(rng.normal(size=(n, d)), 1)
    k = int(rng.integers(2, min(n, 8) + 1))
    cents = X[rng.choice(n, size=k, replace=True)] + rng.normal(scale=0.05, size=(k, d))
    return (X, cents), {}


def check_centroid_picks(pick_per_centroid: Callable, seed: int | None = None) -> None:
    """``pick_per_centroid(X (n, d), centroids (k, d)) -> (k,) int``: nearest not-yet-picked point per centroid."""
    X = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0], [0.1, 0.0], [9.0, 9.0]])
    edges = [
        ("two centroids share one nearest point", (X, np.array([[0.0, 0.0], [0.01, 0.0], [5.0, 5.0]])), {}),
        ("equidistant points: the lower index", (np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 3.0]]), np.array([[0.0, 0.0], [0.0, 0.0]])), {}),
        ("as many centroids as points", (X, X[::-1].copy()), {}),
    ]
    compare_with_reference(
        "pick_per_centroid", pick_per_centroid, centroid_picks_reference, _centroid_inputs,
        n_trials=10, seed=_seed(seed), edge_cases=edges, output_names=["indices"],
    )


# ------------------------------------------------------------------------------ the token budget


def _budget_inputs(rng: np.random.Generator):
    head, query, reserve = int(rng.integers(1, 20)), int(rng.integers(1, 12)), int(rng.integers(0, 8))
    lengths = [int(v) for v in rng.integers(1, 30, size=int(rng.integers(0, 25)))]
    budget = head + query + reserve + int(rng.integers(0, sum(lengths) + 10))
    return (head, lengths, query, budget, reserve), {}


def check_fill_budget(fill_budget: Callable, seed: int | None = None) -> None:
    """``fill_budget(head_len, demo_lengths, query_len, budget, reserve) -> int`` demos that fit, in order."""
    edges = [
        ("an exact fit", (3, [4, 4, 4], 2, 13, 0), {}),
        ("a long demo stops the filling even if later ones would fit", (2, [5, 20, 1, 1], 2, 15, 0), {}),
        ("the reserve counts", (2, [5, 5, 5], 2, 16, 2), {}),
        ("no room for any demo", (4, [1, 2], 3, 7, 0), {}),
        ("no demos offered", (1, [], 1, 9, 0), {}),
    ]
    compare_with_reference(
        "fill_budget", fill_budget, fill_budget_reference, _budget_inputs,
        n_trials=20, seed=_seed(seed), edge_cases=edges, output_names=["n_demos"],
    )
    expect_error("fill_budget (a budget smaller than header + query)", fill_budget, (5, [1], 6, 10, 0), match="budget")
    expect_error("fill_budget (the reserve does not fit)", fill_budget, (2, [1], 2, 5, 2), match="budget")


# ------------------------------------------------------------------------------ prefix KV reuse


class CountingModel(torch.nn.Module):
    """Wraps a causal LM and counts the token positions it is asked to run (batch x length)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.config = inner.config
        self.tokens = 0

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, cache=None, past_key_values=None, use_cache=None, **kw):
        self.tokens += int(input_ids.numel())
        given = {"attention_mask": attention_mask, "position_ids": position_ids, "use_cache": use_cache}
        kw.update({k: v for k, v in given.items() if v is not None})
        c = cache if cache is not None else past_key_values
        if c is not None:
            from rizzlib.icl.cache import cache_kwarg

            kw[cache_kwarg(self.inner)] = c
        return self.inner(input_ids=input_ids, **kw)


_TINY: dict[int, torch.nn.Module] = {}


def _tiny(seed: int):
    if seed not in _TINY:
        _TINY[seed] = build_model(ModelConfig(vocab_size=40, hidden=32, layers=2, heads=4, mlp=64, max_positions=512), seed)
    return _TINY[seed]


def check_prefix_scoring(score_last_tokens: Callable, seed: int | None = None) -> None:
    """``score_last_tokens(model, prefix_ids, queries) -> (B, V)``: logits after each query's last
    token, with the prefix run **once** and its cache reused (never extended) for every query."""
    name = "score_last_tokens"
    seed = _seed(seed)
    rng = np.random.default_rng(seed)
    cases = [("one-token queries", 6, [[7], [8], [9]]), ("queries of different lengths", 12, [[5, 6, 7], [8], [9, 10]])]
    for t in range(3):
        n = int(rng.integers(12, 40))
        qs = [[int(v) for v in rng.integers(3, 40, size=int(rng.integers(1, 6)))] for _ in range(int(rng.integers(2, 5)))]
        cases.append((f"random trial {t + 1} of 3 (seed={seed})", n, qs))
    for case, n, queries in cases:
        model = CountingModel(_tiny(seed % 3))
        prefix = [int(v) for v in rng.integers(3, 40, size=n)]
        with torch.no_grad():
            got = score_last_tokens(model, list(prefix), [list(q) for q in queries])
        want = last_token_logits_reference(model.inner, prefix, queries)
        g = to_numpy(got)
        if g is None or np.shape(g) != tuple(want.shape):
            fail(name, f"expected logits of shape {tuple(want.shape)}, got {np.shape(g) if g is not None else None}", case=case)
        if not np.allclose(g, want.numpy(), atol=1e-4, rtol=1e-4):
            bad = int(np.argmax(np.abs(g - want.numpy()).max(1)))
            fail(name, f"the logits of query {bad} differ from running prefix + query without a cache "
                 "(is each query run on its own copy of the prefix cache, and read at its last token?)", case=case)
        budget = n + len(queries) * max(len(q) for q in queries)  # right-padded batches allowed
        if model.tokens > budget:
            fail(name, f"the model ran {model.tokens} token positions; the prefix once plus the queries is at most {budget} "
                 "(encode the prefix once and reuse its cache)", case=case)
    passed(name, f"equals the uncached logits on {len(cases)} cases, running the prefix once")


# ------------------------------------------------------------------------------ the Likert filter


def _likert_inputs(rng: np.random.Generator):
    n, v = int(rng.integers(2, 30)), int(rng.integers(8, 20))
    logits = rng.normal(size=(n, v)) * rng.uniform(0.5, 4.0)
    if rng.random() < 0.5:  # repeated rows: ties at the median
        logits[1] = logits[0]
    ids = rng.choice(v, size=5, replace=False)
    tau = None if rng.random() < 0.6 else float(rng.uniform(1.5, 4.5))
    return (logits, ids, tau), {}


def check_likert_filter(likert_filter: Callable, seed: int | None = None) -> None:
    """``likert_filter(logits (n, V), rating_ids (5,), tau=None) -> (scores (n,), keep (n,) bool)``."""
    peaked = np.full((5, 7), -30.0)
    for s in range(5):
        peaked[s, [6, 2, 4, 0, 5][s]] = 10.0
    big = np.zeros((4, 7))
    big[:, 1] = 50.0  # a huge logit outside the rating tokens must not matter
    big[:, 2] = [0.0, 1.0, 2.0, 2.0]
    edges = [
        ("all mass on one rating per row", (peaked, np.array([6, 2, 4, 0, 5]), None), {}),
        ("mass outside the rating tokens; ties at the median", (big, np.array([2, 3, 4, 5, 6]), None), {}),
        ("a threshold equal to a score", (peaked, np.array([6, 2, 4, 0, 5]), 4.0), {}),
    ]
    compare_with_reference(
        "likert_filter", likert_filter, likert_filter_reference, _likert_inputs,
        n_trials=10, seed=_seed(seed), edge_cases=edges, output_names=["scores", "keep"], atol=1e-5,
    )
