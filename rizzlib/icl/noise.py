"""Noise injection (Baek et al. §5): replace the outputs of an exact fraction of the demonstrations
with the outputs of other, randomly chosen demonstrations.

A donor is always another demonstration whose output differs from the one replaced, so every noisy
demo really changes (for classification with few labels a random donor often shares the label; the
paper does not say whether it enforced a change, we do and report the effective rate as exact).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from rizzlib.core.validate import check_range
from rizzlib.icl.tasks import Example


@dataclasses.dataclass(frozen=True)
class NoisyDemos:
    """The corrupted demonstrations and what was done.

    Attributes:
        examples: same length and order as the input; inputs untouched.
        noisy: indices whose output was replaced (sorted).
        donors: ``donors[j]`` is the demo whose output went to ``noisy[j]``.
    """

    examples: tuple[Example, ...]
    noisy: np.ndarray
    donors: np.ndarray


def n_noisy(fraction: float, k: int) -> int:
    """``round(fraction * k)`` (half to even, as Python's round)."""
    check_range("fraction", fraction, 0.0, 1.0)
    return int(round(float(fraction) * k))


def inject_noise(demos: Sequence[Example], fraction: float, rng: np.random.Generator) -> NoisyDemos:
    """Replace the outputs of exactly ``round(fraction * len(demos))`` demos with other demos' outputs.

    Raises:
        ValueError: ``fraction`` outside [0, 1], or a chosen demo has no donor with a different output.
    """
    check_range("fraction", fraction, 0.0, 1.0)
    demos = tuple(demos)
    m = n_noisy(fraction, len(demos))
    if m == 0:
        return NoisyDemos(demos, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    noisy = np.sort(rng.choice(len(demos), size=m, replace=False))
    ys = [ex.y for ex in demos]
    donors = []
    for i in noisy:
        candidates = [j for j in range(len(demos)) if ys[j] != ys[i]]
        if not candidates:
            raise ValueError(
                f"demo {int(i)} has no donor with a different output (all {len(demos)} demos share y={ys[i]!r}); "
                "noise cannot be injected at this fraction"
            )
        donors.append(candidates[int(rng.integers(len(candidates)))])
    out = list(demos)
    for i, j in zip(noisy, donors):
        out[i] = Example(demos[i].x, ys[j])
    return NoisyDemos(tuple(out), noisy, np.array(donors, dtype=np.int64))
