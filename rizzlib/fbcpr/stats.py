"""Comparing two algorithms over training seeds, and the sentences the notebook states from it.

With a handful of seeds per algorithm a normal approximation is not to be trusted, so the test is
the exact two-sided permutation test on the difference of means (every split of the pooled runs
into groups of the original sizes is enumerated), and the interval is Welch's t interval. Units are
those of the metric compared.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

MAX_SPLITS = 200_000  # exact enumeration only; more runs than this allows is an error, not an approximation


def _sample(name: str, x) -> np.ndarray:
    a = np.asarray(x, np.float64)
    if a.ndim != 1 or a.size < 2:
        raise ValueError(f"{name} must be a 1-D sequence of at least 2 runs (one value per seed); got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite; got {a}")
    return a


def permutation_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Exact two-sided permutation p-value of mean(a) − mean(b): the share of the C(n_a + n_b, n_a)
    relabellings of the pooled runs whose |difference of means| is at least the observed one
    (the observed labelling included, so p >= 1 / C). ``a (n_a,)``, ``b (n_b,)``, n >= 2 each."""
    a, b = _sample("a", a), _sample("b", b)
    pooled = np.concatenate([a, b])
    n, k = pooled.size, a.size
    if math.comb(n, k) > MAX_SPLITS:
        raise ValueError(f"a and b together have {n} runs: C({n}, {k}) = {math.comb(n, k)} splits is over "
                         f"the exact limit {MAX_SPLITS}")
    total = pooled.sum()
    observed = abs(a.mean() - b.mean())
    hits = count = 0
    for idx in itertools.combinations(range(n), k):
        s = pooled[list(idx)].sum()
        diff = abs(s / k - (total - s) / (n - k))
        hits += diff >= observed - 1e-12 * max(1.0, observed)
        count += 1
    return hits / count


def min_permutation_p(n_a: int, n_b: int) -> float:
    """The smallest p :func:`permutation_p` can return for group sizes ``n_a``, ``n_b`` (distinct
    values): 1 / C(n, n_a), or 2 / C(n, n_a) for equal sizes, whose mirrored split ties."""
    from rizzlib.core.validate import check_int_range

    check_int_range("n_a", n_a, 2)
    check_int_range("n_b", n_b, 2)
    return (2.0 if n_a == n_b else 1.0) / math.comb(n_a + n_b, n_a)


def welch_interval(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Welch's ``level`` confidence interval of mean(a) − mean(b) (unequal variances,
    Welch–Satterthwaite degrees of freedom). Two constant samples give the point difference."""
    from scipy import stats

    from rizzlib.core.validate import check_range

    check_range("level", level, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    a, b = _sample("a", a), _sample("b", b)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    diff = a.mean() - b.mean()
    se = math.sqrt(va + vb)
    if se == 0.0:
        return float(diff), float(diff)
    dof = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    half = stats.t.ppf(0.5 + level / 2, dof) * se
    return float(diff - half), float(diff + half)


def compare_seeds(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> dict:
    """Everything the verdict needs: means, sample standard deviations, the difference
    mean(a) − mean(b), Welch's interval of it and the exact permutation p-value."""
    a_, b_ = _sample("a", a), _sample("b", b)
    low, high = welch_interval(a_, b_, level)
    return {"mean_a": float(a_.mean()), "mean_b": float(b_.mean()), "std_a": float(a_.std(ddof=1)),
            "std_b": float(b_.std(ddof=1)), "n_a": int(a_.size), "n_b": int(b_.size),
            "diff": float(a_.mean() - b_.mean()), "ci": (low, high), "level": level,
            "p": permutation_p(a_, b_), "min_p": min_permutation_p(a_.size, b_.size)}


def _signed(x: float) -> str:
    """``x`` to three decimals with its sign, a value that rounds to zero written +0.000 (not -0.000)."""
    return f"{0.0 if abs(x) < 5e-4 else x:+.3f}"


def verdict(label: str, a: Sequence[float], b: Sequence[float], higher_is_better: bool,
            names: tuple[str, str] = ("FB-CPR", "FB"), alpha: float = 0.05) -> str:
    """One sentence from the runs of two algorithms on one metric: which is better, by how much,
    the interval of the difference, the exact p-value, and whether the seeds can decide it at all
    (:func:`min_permutation_p`: with 3 seeds each no outcome gives p below 0.1)."""
    from rizzlib.core.validate import check_range

    check_range("alpha", alpha, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    c = compare_seeds(a, b)
    lo, hi = c["ci"]
    nums = (f"({c['mean_a']:.3f} vs {c['mean_b']:.3f}, difference {_signed(c['diff'])}, "
            f"{100 * c['level']:.0f}% interval [{_signed(lo)}, {_signed(hi)}], exact permutation p = {c['p']:.3f}, "
            f"{c['n_a']} and {c['n_b']} seeds)")
    if c["diff"] == 0.0:
        return f"On {label}, {names[0]} and {names[1]} are equal {nums}."
    better = names[0] if (c["diff"] > 0) == higher_is_better else names[1]
    if c["p"] < alpha:
        return f"On {label}, {better} is better {nums}: a difference the seeds resolve."
    if c["min_p"] >= alpha:
        return (f"On {label}, {better} is ahead {nums}, but {c['n_a'] + c['n_b']} runs cannot reach "
                f"p < {alpha} whatever the numbers.")
    return f"On {label}, {better} is ahead {nums}, a difference within seed noise."


def seeds_needed(a: Sequence[float], b: Sequence[float], alpha: float = 0.05, power: float = 0.8) -> float:
    """About how many seeds per algorithm a two-sided test at level ``alpha`` needs to detect, with
    probability ``power``, a true difference equal to the observed mean(a) − mean(b) when each
    algorithm's seeds spread as these do (normal approximation, pooled sample variance):
    n = ⌈2 (z_{1−α/2} + z_{power})² s² / Δ²⌉. ``inf`` when the observed difference is zero."""
    from scipy import stats

    from rizzlib.core.validate import check_range

    check_range("alpha", alpha, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    check_range("power", power, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    a_, b_ = _sample("a", a), _sample("b", b)
    delta = abs(a_.mean() - b_.mean())
    if delta == 0.0:
        return math.inf
    var = (a_.var(ddof=1) + b_.var(ddof=1)) / 2
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(max(2, math.ceil(2 * z**2 * var / delta**2)))
