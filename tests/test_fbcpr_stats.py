"""rizzlib.fbcpr.stats: the exact permutation test against brute force over label permutations,
Welch's interval against scipy's, and the verdict sentences in each of their cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps

from rizzlib.fbcpr import stats


def brute_force_p(a, b) -> float:
    """Every ordering of the pooled runs (n! of them, not the C(n, k) splits): the share whose first
    n_a runs differ in mean from the rest at least as much as observed."""
    pooled = np.concatenate([a, b])
    k = len(a)
    obs = abs(np.mean(a) - np.mean(b))
    perms = list(itertools.permutations(range(len(pooled))))
    hits = sum(abs(pooled[list(p[:k])].mean() - pooled[list(p[k:])].mean()) >= obs - 1e-12 for p in perms)
    return hits / len(perms)


@pytest.mark.parametrize("sizes", [(2, 2), (3, 3), (2, 4), (3, 4)])
@pytest.mark.parametrize("seed", range(5))
def test_permutation_p_equals_brute_force_over_orderings(sizes, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(0.5 * seed / 4, 1.0, sizes[0])
    b = rng.normal(0.0, 1.0, sizes[1])
    assert stats.permutation_p(a, b) == pytest.approx(brute_force_p(a, b), abs=1e-12)
    assert stats.permutation_p(b, a) == pytest.approx(stats.permutation_p(a, b), abs=1e-12)


def test_permutation_p_extremes():
    a, b = np.arange(5) + 10.0, np.arange(5) * 1.0
    assert stats.permutation_p(a, b) == pytest.approx(2 / 252)
    assert stats.min_permutation_p(5, 5) == pytest.approx(2 / 252)
    assert stats.min_permutation_p(3, 3) == pytest.approx(0.1)
    assert stats.min_permutation_p(3, 4) == pytest.approx(1 / math.comb(7, 3))
    assert stats.permutation_p([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 1.0
    assert stats.permutation_p([3.0, 1.0, 2.0], [2.0, 2.0, 2.0]) == 1.0
    # shifting both samples or scaling both by a positive factor leaves p unchanged
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=4), rng.normal(size=3)
    assert stats.permutation_p(3 * x + 7, 3 * y + 7) == pytest.approx(stats.permutation_p(x, y))


@pytest.mark.parametrize("seed", range(10))
def test_welch_interval_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(1.0, 2.0, 3 + seed % 3), rng.normal(0.0, 0.5, 3 + seed % 4)
    want = sps.ttest_ind(a, b, equal_var=False).confidence_interval(0.9)
    got = stats.welch_interval(a, b, 0.9)
    assert got == pytest.approx((want.low, want.high), rel=1e-9, abs=1e-12)
    lo, hi = stats.welch_interval(a, b)
    assert lo < np.mean(a) - np.mean(b) < hi
    assert stats.welch_interval([1.0, 1.0], [0.0, 0.0]) == (1.0, 1.0)


def test_compare_seeds_fields():
    c = stats.compare_seeds([1.0, 2.0, 3.0], [0.0, 0.5, 1.0])
    assert c["diff"] == pytest.approx(1.5)
    assert c["std_a"] == pytest.approx(1.0) and c["std_b"] == pytest.approx(0.5)
    assert (c["n_a"], c["n_b"]) == (3, 3) and c["min_p"] == pytest.approx(0.1)
    assert c["ci"][0] < 1.5 < c["ci"][1]


def test_verdict_sentences():
    far_a, far_b = [10.0, 11.0, 12.0, 13.0, 14.0], [0.0, 1.0, 2.0, 3.0, 4.0]
    s = stats.verdict("goal success", far_a, far_b, True)
    assert s.startswith("On goal success, FB-CPR is better") and "the seeds resolve" in s
    # lower is better: the same numbers crown FB
    s = stats.verdict("tracking EMD", far_a, far_b, False)
    assert s.startswith("On tracking EMD, FB is better")
    # three seeds each can never resolve anything at alpha = 0.05
    s = stats.verdict("return", [10.0, 11.0, 12.0], [0.0, 1.0, 2.0], True)
    assert "FB-CPR is ahead" in s and "6 runs cannot reach p < 0.05" in s
    # overlapping samples: within noise
    s = stats.verdict("return", [1.0, 3.0, 2.0, 5.0, 4.0], [2.5, 1.5, 3.5, 4.5, 0.5], True)
    assert "within seed noise" in s and "FB-CPR is ahead" in s
    assert "are equal" in stats.verdict("x", [1.0, 2.0], [2.0, 1.0], True)
    assert "A is better" in stats.verdict("x", far_a, far_b, True, names=("A", "B"))
    # a bound that rounds to zero is written +0.000, never -0.000
    assert "-0.000" not in stats.verdict("x", [1.0, 1.0001, 0.9999], [1.0, 1.0002, 0.9998], True)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="a must be a 1-D sequence of at least 2 runs"):
        stats.permutation_p([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="b must be finite"):
        stats.welch_interval([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(ValueError, match="level"):
        stats.welch_interval([1.0, 2.0], [1.0, 3.0], level=1.0)
    with pytest.raises(ValueError, match="alpha"):
        stats.verdict("x", [1.0, 2.0], [1.0, 3.0], True, alpha=0.0)
    with pytest.raises(ValueError, match="n_a"):
        stats.min_permutation_p(1, 3)
    with pytest.raises(ValueError, match="over the exact limit"):
        stats.permutation_p(np.arange(20.0), np.arange(20.0))


def test_seeds_needed_formula_and_simulated_power():
    # delta 0.5, sd 1: 2 (1.95996 + 0.84162)^2 / 0.25 = 62.79 -> 63
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    x = (x - x.mean()) / x.std(ddof=1)  # sample sd exactly 1
    n = stats.seeds_needed(x + 0.5, x)
    assert n == 63
    # Monte Carlo oracle: with n seeds per algorithm and the same true gap and spread, Welch's test
    # at 0.05 detects the gap about 80 % of the time
    sims = rng.normal(size=(4000, 2, int(n)))
    sims[:, 0] += 0.5
    hits = sps.ttest_ind(sims[:, 0], sims[:, 1], axis=1, equal_var=False).pvalue < 0.05
    assert 0.76 < hits.mean() < 0.84
    # smaller gaps, larger spreads or more power need more seeds
    assert stats.seeds_needed(x + 0.25, x) > n
    assert stats.seeds_needed(2 * x + 0.5, 2 * x) > n
    assert stats.seeds_needed(x + 0.5, x, power=0.9) > n
    assert stats.seeds_needed([1.0, 2.0], [2.0, 1.0]) == float("inf")
    assert stats.seeds_needed([10.0, 10.1], [0.0, 0.1]) == 2
    with pytest.raises(ValueError, match="power"):
        stats.seeds_needed(x, x + 1, power=1.0)
