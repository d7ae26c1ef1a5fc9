"""Each graded check passes an independently written right answer on 20 seeds and fails >= 3
plausible wrong answers (and the blank) on every one of 20 seeds."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from rizzlib.core.grading import CheckFailed
from rizzlib.icl import checks
from rizzlib.icl.cache import cache_kwarg, new_cache, output_cache

SEEDS = range(20)
pytestmark = pytest.mark.usefixtures("torch_one_thread")


def blank(*args, **kwargs):
    raise NotImplementedError("write me")


# ------------------------------------------------------------------ relevance


def relevance_right(pool_emb, query_emb, k):
    X = pool_emb / np.maximum(np.linalg.norm(pool_emb, axis=1, keepdims=True), 1e-300)
    q = query_emb / np.linalg.norm(query_emb)
    sims = np.round(X @ q, 12)
    return np.lexsort((np.arange(len(sims)), -sims))[:k]


def relevance_dot(pool_emb, query_emb, k):  # forgets to normalise: long rows win
    return np.argsort(-(pool_emb @ query_emb), kind="stable")[:k]


def relevance_ascending(pool_emb, query_emb, k):  # least similar first
    X = pool_emb / np.linalg.norm(pool_emb, axis=1, keepdims=True)
    return np.argsort(X @ query_emb, kind="stable")[:k]


def relevance_euclid(pool_emb, query_emb, k):  # nearest by distance, not by angle
    return np.argsort(((pool_emb - query_emb) ** 2).sum(1), kind="stable")[:k]


def relevance_reversed_ties(pool_emb, query_emb, k):  # ties to the higher index
    X = pool_emb / np.linalg.norm(pool_emb, axis=1, keepdims=True)
    sims = np.round(X @ (query_emb / np.linalg.norm(query_emb)), 12)
    return np.lexsort((-np.arange(len(sims)), -sims))[:k]


# ------------------------------------------------------------------ centroid picks


def picks_right(X, centroids):
    d = ((X[None, :, :] - centroids[:, None, :]) ** 2).sum(-1)
    out = []
    for row in d:
        row = row.copy()
        row[out] = np.inf
        out.append(int(np.argmin(row)))
    return np.array(out)


def picks_duplicates(X, centroids):  # two centroids may pick the same point
    return np.array([int(np.argmin(((X - c) ** 2).sum(1))) for c in centroids])


def picks_farthest(X, centroids):
    d = ((X[None] - centroids[:, None]) ** 2).sum(-1)
    out = []
    for row in d:
        row = row.copy()
        row[out] = -np.inf
        out.append(int(np.argmax(row)))
    return np.array(out)


def picks_cluster_members(X, centroids):  # the lowest-index point of each centroid's cluster
    assign = np.argmin(((X[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    out = []
    for c in range(len(centroids)):
        members = [i for i in np.flatnonzero(assign == c) if i not in out] or [i for i in range(len(X)) if i not in out]
        out.append(int(members[0]))
    return np.array(out)


# ------------------------------------------------------------------ budget


def budget_right(head_len, demo_lengths, query_len, budget, reserve):
    room = budget - reserve - head_len - query_len
    if room < 0:
        raise ValueError("budget too small for header + query")
    total = np.cumsum([0] + list(demo_lengths))
    return int(np.searchsorted(total, room, side="right") - 1)


def budget_knapsack(head_len, demo_lengths, query_len, budget, reserve):  # skips a long demo, keeps filling
    room = budget - reserve - head_len - query_len
    if room < 0:
        raise ValueError("budget too small")
    n = 0
    for length in demo_lengths:
        if length <= room:
            room -= length
            n += 1
    return n


def budget_strict(head_len, demo_lengths, query_len, budget, reserve):  # < instead of <=: loses the exact fit
    room = budget - reserve - head_len - query_len
    if room < 0:
        raise ValueError("budget too small")
    n = 0
    for length in demo_lengths:
        if length >= room:
            break
        room -= length
        n += 1
    return n


def budget_no_reserve(head_len, demo_lengths, query_len, budget, reserve):
    return budget_right(head_len, demo_lengths, query_len, budget, 0)


def budget_no_query(head_len, demo_lengths, query_len, budget, reserve):
    return budget_right(head_len, demo_lengths, 0, budget, reserve)


# ------------------------------------------------------------------ prefix scoring


def _run(model, ids, cache):
    out = model(input_ids=torch.tensor([ids]), use_cache=True, **{cache_kwarg(model): cache})
    return out, output_cache(out)


def prefix_right(model, prefix_ids, queries):
    _, cache = _run(model, prefix_ids, new_cache(model))
    rows = []
    for q in queries:
        out, _ = _run(model, q, copy.deepcopy(cache))
        rows.append(out.logits[0, -1])
    return torch.stack(rows)


def prefix_no_copy(model, prefix_ids, queries):  # extends the shared cache: later queries see earlier ones
    _, cache = _run(model, prefix_ids, new_cache(model))
    return torch.stack([_run(model, q, cache)[0].logits[0, -1] for q in queries])


def prefix_recompute(model, prefix_ids, queries):  # right logits, but the prefix runs for every query
    return torch.stack([model(input_ids=torch.tensor([prefix_ids + q])).logits[0, -1] for q in queries])


def prefix_first_token(model, prefix_ids, queries):  # reads the logits at the query's first token
    _, cache = _run(model, prefix_ids, new_cache(model))
    return torch.stack([_run(model, q, copy.deepcopy(cache))[0].logits[0, 0] for q in queries])


def prefix_restart_positions(model, prefix_ids, queries):  # positions restart at 0 after the cache
    _, cache = _run(model, prefix_ids, new_cache(model))
    rows = []
    for q in queries:
        pos = torch.arange(len(q))[None]
        out = model(input_ids=torch.tensor([q]), position_ids=pos, use_cache=True, **{cache_kwarg(model): copy.deepcopy(cache)})
        rows.append(out.logits[0, -1])
    return torch.stack(rows)


# ------------------------------------------------------------------ Likert filter


def likert_right(logits, rating_ids, tau=None):
    z = np.asarray(logits, dtype=np.float64)[:, list(rating_ids)]
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    scores = p @ np.arange(1, 6)
    t = np.median(scores) if tau is None else tau
    return scores, scores >= t


def likert_argmax(logits, rating_ids, tau=None):  # the most likely rating, not the expectation
    scores = np.argmax(np.asarray(logits)[:, list(rating_ids)], axis=1) + 1.0
    t = np.median(scores) if tau is None else tau
    return scores, scores >= t


def likert_full_softmax(logits, rating_ids, tau=None):  # softmax over the whole vocabulary, not renormalised
    z = np.asarray(logits, dtype=np.float64)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    scores = p[:, list(rating_ids)] @ np.arange(1, 6)
    t = np.median(scores) if tau is None else tau
    return scores, scores >= t


def likert_zero_based(logits, rating_ids, tau=None):  # ratings 0..4
    scores, _ = likert_right(logits, rating_ids)
    scores = scores - 1
    t = np.median(scores) if tau is None else tau
    return scores, scores >= t


def likert_strict(logits, rating_ids, tau=None):  # drops ties at the threshold
    scores, _ = likert_right(logits, rating_ids)
    t = np.median(scores) if tau is None else tau
    return scores, scores > t


def likert_mean(logits, rating_ids, tau=None):  # mean instead of median
    scores, _ = likert_right(logits, rating_ids)
    t = scores.mean() if tau is None else tau
    return scores, scores >= t


CASES = {
    "check_relevance": (relevance_right, [relevance_dot, relevance_ascending, relevance_euclid, relevance_reversed_ties]),
    "check_centroid_picks": (picks_right, [picks_duplicates, picks_farthest, picks_cluster_members]),
    "check_fill_budget": (budget_right, [budget_knapsack, budget_strict, budget_no_reserve, budget_no_query]),
    "check_prefix_scoring": (prefix_right, [prefix_no_copy, prefix_recompute, prefix_first_token, prefix_restart_positions]),
    "check_likert_filter": (likert_right, [likert_argmax, likert_full_softmax, likert_zero_based, likert_strict, likert_mean]),
}


@pytest.mark.parametrize("check", sorted(CASES))
def test_right_answer_passes_on_20_seeds(check, capsys):
    right, _ = CASES[check]
    for seed in SEEDS:
        getattr(checks, check)(right, seed=seed)
    assert "PASS" in capsys.readouterr().out


@pytest.mark.parametrize("check,wrong", [(c, w) for c in sorted(CASES) for w in CASES[c][1]], ids=lambda v: getattr(v, "__name__", v))
def test_wrong_answer_fails_on_every_seed(check, wrong):
    for seed in SEEDS:
        with pytest.raises(CheckFailed):
            getattr(checks, check)(wrong, seed=seed)


@pytest.mark.parametrize("check", sorted(CASES))
def test_blank_raises_not_implemented(check):
    with pytest.raises(NotImplementedError):
        getattr(checks, check)(blank, seed=0)


@pytest.mark.parametrize("check", sorted(CASES))
def test_a_constant_fails(check):
    with pytest.raises(CheckFailed):
        getattr(checks, check)(lambda *a, **k: np.zeros(3), seed=0)
