"""Graded checks for the chapter 2 exercises (CALDERA). Each calls the student's function on fixed
edge cases, then on fresh random inputs, and compares it with the library; a
``NotImplementedError`` from the blank exercise propagates.

* :func:`check_fwht`: ``fwht(x) -> x @ H_n / sqrt(n)`` on the last axis (n = 2^p).
* :func:`check_nearest_d8`: ``nearest_d8(x) -> nearest point of D8`` for rows of 8.
* :func:`check_ldlq_target`: ``ldlq_target(w, w_hat, l, k, g) -> W_k + sum_{j>k} (W_j - W_hat_j) L_jk``.
* :func:`check_update_l`: ``update_l(a, r, h) -> argmin_L ||(A - L R) H^{1/2}||_F``.
* :func:`check_average_bits`: ``average_bits(shapes, q_bits, rank, l_bits, r_bits) -> float``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from rizzlib.caldera.bits import BitBudget, average_bits
from rizzlib.caldera.hadamard import fwht
from rizzlib.caldera.lattice import nearest_d8
from rizzlib.core.grading import compare_with_reference


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).double()


def check_fwht(student_fn: Callable, seed: int | None = None) -> None:
    """``fwht(x)``: orthonormal Walsh-Hadamard transform of the last axis of a float64 tensor."""
    eye8 = _t(np.eye(8))

    def make(rng):
        n = int(2 ** rng.integers(1, 10))
        return (_t(rng.normal(size=(int(rng.integers(1, 5)), n))),), {}

    compare_with_reference(
        "fwht", student_fn, lambda x: fwht(x), make, seed=seed, n_trials=6,
        edge_cases=[("n = 1", (_t(np.array([[3.0]])),), {}), ("unit vectors, n = 8", (eye8,), {}),
                    ("one row of length 16", (_t(np.arange(16.0)[None]),), {}),
                    ("3-d input (2, 3, 4)", (_t(np.arange(24.0).reshape(2, 3, 4)),), {})],
        output_names=["transformed x"], atol=1e-9,
    )  # fmt: skip


def check_nearest_d8(student_fn: Callable, seed: int | None = None) -> None:
    """``nearest_d8(x)``: the nearest point of D8 (integer vectors with an even sum) to each row."""
    odd = _t(np.array([[0.6, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [1.2, 0.9, -0.45, 0.0, 0.0, 0.0, 0.0, 0.3]]))
    neg = _t(np.array([[-0.6, -0.2, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0], [-1.4, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]))

    def make(rng):
        return (_t(rng.normal(size=(int(rng.integers(5, 40)), 8)) * rng.uniform(0.5, 3.0)),), {}

    compare_with_reference(
        "nearest_d8", student_fn, lambda x: nearest_d8(x), make, seed=seed, n_trials=6,
        edge_cases=[("odd sum after rounding", (odd,), {}), ("negative coordinates to re-round", (neg,), {}),
                    ("already a lattice point", (_t(np.array([[1.0, 1, 0, 0, 0, 0, 0, 0]])),), {})],
        output_names=["nearest point"], atol=1e-9,
    )  # fmt: skip


def ldlq_target_reference(w, w_hat, l, k, g):
    """W_k + sum_{j>k} (W_j - W_hat_j) L_jk for column block k (columns k*g .. k*g+g)."""
    a, b = k * g, (k + 1) * g
    return w[:, a:b] + (w[:, b:] - w_hat[:, b:]) @ l[b:, a:b]


def check_ldlq_target(student_fn: Callable, seed: int | None = None) -> None:
    """``ldlq_target(w, w_hat, l, k, g)``: block k's target with feedback from the blocks after it."""
    from rizzlib.caldera.ldlq import block_ldl

    def case(rng, m, nb, g, k):
        n = nb * g
        x = rng.normal(size=(4 * n, n)) @ (np.eye(n) + rng.normal(size=(n, n)) / np.sqrt(n))
        l, _ = block_ldl(_t(x.T @ x / (4 * n) + 0.01 * np.eye(n)), g)
        w = _t(rng.normal(size=(m, n)))
        w_hat = w + _t(rng.normal(size=(m, n)) * 0.3)
        w_hat[:, : (k + 1) * g] = 0.0  # not yet quantized
        return (w, w_hat, l, k, g), {}

    fixed = np.random.default_rng(12345)

    def make(rng):
        g = int(rng.choice([1, 2, 8]))
        nb = int(rng.integers(2, 6))
        return case(rng, int(rng.integers(2, 6)), nb, g, int(rng.integers(0, nb - 1)))

    compare_with_reference(
        "ldlq_target", student_fn, ldlq_target_reference, make, seed=seed, n_trials=6,
        edge_cases=[("first block, g = 8", *case(fixed, 3, 4, 8, 0)), ("middle block, g = 2", *case(fixed, 4, 5, 2, 2)),
                    ("last block (no feedback)", *case(fixed, 2, 3, 4, 2))],
        output_names=["target block (m, g)"], atol=1e-8,
    )  # fmt: skip


def update_l_reference(a, r, h):
    """L = A H R^T (R H R^T)^-1."""
    return torch.linalg.solve((r @ h @ r.T).T, (a @ h @ r.T).T).T


def check_update_l(student_fn: Callable, seed: int | None = None) -> None:
    """``update_l(a, r, h)``: the L minimising ||(A - L R) H^{1/2}||_F for H positive definite."""

    def case(rng, m, n, k, outliers):
        x = rng.normal(size=(4 * n, n))
        x[:, :outliers] *= 10
        h = _t(x.T @ x / (4 * n) + 0.01 * np.eye(n))
        return (_t(rng.normal(size=(m, n))), _t(rng.normal(size=(k, n))), h), {}

    fixed = np.random.default_rng(7)

    def make(rng):
        n = int(rng.integers(6, 20))
        return case(rng, int(rng.integers(2, 8)), n, int(rng.integers(1, 5)), int(rng.integers(1, 4)))

    compare_with_reference(
        "update_l", student_fn, update_l_reference, make, seed=seed, n_trials=6,
        edge_cases=[("rank 1", *case(fixed, 3, 8, 1, 2)), ("strong outlier channels", *case(fixed, 4, 12, 3, 3))],
        output_names=["L (m, k)"], rtol=1e-6, atol=1e-8,
    )  # fmt: skip


def average_bits_reference(shapes, q_bits, rank, l_bits, r_bits):
    return average_bits(tuple(map(tuple, shapes)), BitBudget(q_bits, rank, l_bits, r_bits))


def check_average_bits(student_fn: Callable, seed: int | None = None) -> None:
    """``average_bits(shapes, q_bits, rank, l_bits, r_bits)``: bits per parameter over all matrices."""
    llama7b = [(4096, 4096)] * 4 + [(11008, 4096), (11008, 4096), (4096, 11008)]

    def make(rng):
        shapes = [(int(8 * rng.integers(2, 300)), int(8 * rng.integers(2, 300))) for _ in range(int(rng.integers(1, 5)))]
        rank = int(rng.integers(0, min(min(s) for s in shapes)))
        return (shapes, int(rng.integers(1, 5)), rank, int(rng.choice([2, 3, 4, 16])), int(rng.choice([2, 3, 4, 16]))), {}

    compare_with_reference(
        "average_bits", student_fn, average_bits_reference, make, seed=seed, n_trials=8,
        edge_cases=[("Llama-2 7B, k = 64", (llama7b, 2, 64, 4, 4), {}), ("rank 0", ([(64, 128)], 2, 0, 4, 4), {}),
                    ("different L and R bits, tall and wide", ([(512, 64), (64, 256)], 2, 16, 16, 4), {})],
        output_names=["average bits"], rtol=1e-9, atol=1e-12,
    )  # fmt: skip
