"""Graded checks for the chapter 4 notebook (FB-CPR).

Each ``check_*`` runs the student's function on fixed edge cases (the same every run), then on
fresh random inputs, and compares every output with the chapter's references (:mod:`rizzlib.fbcpr.reference`, whose
agreement with :mod:`rizzlib.fbcpr.losses` and :mod:`rizzlib.fbcpr.infer` the tests check). Inputs are float32 arrays; answers may use numpy or JAX.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from rizzlib.core.grading import compare_with_reference
from rizzlib.fbcpr import losses, reference

RTOL, ATOL = 1e-4, 1e-5


def _f32(x):
    return np.asarray(x, np.float32)


def _sphere(rng, n, d):
    x = rng.normal(size=(n, d))
    return _f32(np.sqrt(d) * x / np.linalg.norm(x, axis=-1, keepdims=True))


# ------------------------------------------------------------------ 1. FB measure TD loss


def _fb_reference(m, target, discount):
    return reference.fb_td_loss(m, target, discount)


def _fb_inputs(rng):
    k, n = int(rng.integers(1, 4)), int(rng.integers(3, 12))
    disc = _f32(0.99 * (rng.uniform(size=n) > 0.3))
    return (_f32(rng.normal(size=(k, n, n))), _f32(rng.normal(size=(n, n))), disc), {}


def check_fb_loss(fb_loss: Callable, seed: int | None = None) -> None:
    """``fb_loss(m (K, n, n), target (n, n), discount (n,)) -> scalar``: Σ_k [½ mean_{i≠j}
    (M_k[i,j] − γ_i T[i,j])² − mean_i M_k[i,i]]."""
    eye = _f32(np.eye(2))
    edges = [
        ("K=1, n=2, no discount", (eye[None], _f32([[1.0, 2.0], [3.0, 4.0]]), _f32([0.0, 0.0])), {}),
        ("K=2, n=3, one terminal row", (_f32(np.arange(18.0).reshape(2, 3, 3) / 9), _f32(np.ones((3, 3))),
                                        _f32([0.9, 0.0, 0.9])), {}),
    ]
    compare_with_reference("fb_loss", fb_loss, _fb_reference, _fb_inputs, seed=seed, rtol=RTOL, atol=ATOL,
                           edge_cases=edges, arg_names=("m", "target", "discount"))


# ------------------------------------------------------------------ 2. orthonormality term


def _ortho_reference(b):
    return reference.ortho_loss(b)


def _ortho_inputs(rng):
    n, d = int(rng.integers(3, 20)), int(rng.integers(2, 8))
    return (_f32(rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0)),), {}


def check_ortho_loss(ortho_loss: Callable, seed: int | None = None) -> None:
    """``ortho_loss(b (n, d)) -> scalar``: ½ mean_{i≠j} (B_iᵀB_j)² − mean_i ‖B_i‖²."""
    had = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]], np.float32)
    edges = [("Hadamard columns (orthonormal B)", (had[:, :2],), {}),
             ("n=2, d=1", (_f32([[1.0], [2.0]]),), {})]
    compare_with_reference("ortho_loss", ortho_loss, _ortho_reference, _ortho_inputs, seed=seed, rtol=RTOL,
                           atol=ATOL, edge_cases=edges, arg_names=("b",))


# ------------------------------------------------------------------ 3. reward prompt


def _reward_reference(b_next, rewards):
    return reference.reward_to_z(b_next, rewards)


def _reward_inputs(rng):
    n, d = int(rng.integers(2, 40)), int(rng.integers(2, 10))
    r = rng.uniform(0, 1, n) * (rng.uniform(size=n) < 0.5)
    r[0] = 1.0
    return (_sphere(rng, n, d), _f32(r * rng.uniform(0.1, 5.0))), {}


def check_reward_to_z(reward_to_z: Callable, seed: int | None = None) -> None:
    """``reward_to_z(b_next (N, d), rewards (N,)) -> z (d,)`` = proj(Σ_i r_i B(s'_i)), norm √d."""
    edges = [("one sample", (_f32([[3.0, 4.0]]), _f32([2.0])), {}),
             ("negative rewards", (_f32([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0]]), _f32([-1.0, 0.5, -3.0])),
              {})]
    compare_with_reference("reward_to_z", reward_to_z, _reward_reference, _reward_inputs, seed=seed, rtol=RTOL,
                           atol=ATOL, edge_cases=edges, arg_names=("b_next", "rewards"))


# ------------------------------------------------------------------ 4. discriminator loss with gradient penalty


class _Logit:
    """A small fixed nonlinear logit ℓ(x) = tanh(x W1) w2 + c, row-wise; JAX-traceable."""

    def __init__(self, rng, k):
        self.w1 = jnp.asarray(_f32(rng.normal(size=(k, 6)) * 0.8))
        self.w2 = jnp.asarray(_f32(rng.normal(size=6)))
        self.c = float(rng.normal())

    def __call__(self, x):
        return jnp.tanh(jnp.asarray(x) @ self.w1) @ self.w2 + self.c

    def __repr__(self):
        return f"<logit fn on {self.w1.shape[0]} inputs>"


@jax.jit
def _disc_loss_jit(w1, w2, c, xp, xn, u, gp_coef):
    def logit(x):
        return jnp.tanh(x @ w1) @ w2 + c

    gp = losses.gradient_penalty(logit, xp, xn, u)
    return losses.discriminator_loss(logit(xp), logit(xn), gp, gp_coef)


def _disc_reference(logit_fn, x_pos, x_neg, u, gp_coef):
    return float(_disc_loss_jit(logit_fn.w1, logit_fn.w2, logit_fn.c, jnp.asarray(x_pos), jnp.asarray(x_neg),
                                jnp.asarray(u), gp_coef))


def _disc_inputs(rng):
    n, k = int(rng.choice([4, 8])), int(rng.choice([3, 5]))  # few shapes: the reference compiles once each
    return (_Logit(rng, k), _f32(rng.normal(size=(n, k)) + 0.5), _f32(rng.normal(size=(n, k)) - 0.5),
            _f32(rng.uniform(size=n)), float(rng.choice([1.0, 10.0, rng.uniform(0.5, 20)]))), {}


def check_discriminator_loss(discriminator_loss: Callable, seed: int | None = None) -> None:
    """``discriminator_loss(logit_fn, x_pos (n, k), x_neg (n, k), u (n,), gp_coef) -> scalar``:
    mean softplus(−ℓ(pos)) + mean softplus(ℓ(neg)) + gp_coef · mean (‖∇ℓ(x̂)‖ − 1)²,
    x̂ = u·x_pos + (1 − u)·x_neg."""
    rng = np.random.default_rng(12345)
    f = _Logit(rng, 3)
    xp, xn = _f32(rng.normal(size=(4, 3))), _f32(rng.normal(size=(4, 3)))
    edges = [("no penalty (gp_coef = 0)", (f, xp, xn, _f32(np.full(4, 0.5)), 0.0), {}),
             ("u = 1: penalty at the positives", (f, xp, xn, _f32(np.ones(4)), 2.5), {}),
             ("u = 0: penalty at the negatives", (f, xp, xn, _f32(np.zeros(4)), 2.5), {})]
    compare_with_reference("discriminator_loss", discriminator_loss, _disc_reference, _disc_inputs, seed=seed,
                           rtol=RTOL, atol=ATOL, edge_cases=edges,
                           arg_names=("logit_fn", "x_pos", "x_neg", "u", "gp_coef"))


# ------------------------------------------------------------------ 5. tracking prompt


def _track_reference(b_targets, seq_len):
    return reference.tracking_zs(b_targets, seq_len)


def _track_inputs(rng):
    t, d = int(rng.integers(3, 25)), int(rng.integers(2, 8))
    return (_f32(rng.normal(size=(t, d))), int(rng.integers(2, 10))), {}


def check_tracking_zs(tracking_zs: Callable, seed: int | None = None) -> None:
    """``tracking_zs(b_targets (T, d), seq_len) -> (T, d)``: z_t = proj(mean of B(o_k) for
    k = t .. min(t + L, T) − 1); the window shrinks at the tail."""
    b = _f32(np.random.default_rng(7).normal(size=(6, 2)))
    edges = [("seq_len = 1 is goal inference per step", (b, 1), {}),
             ("window longer than the motion", (b, 10), {}),
             ("tail windows shrink", (b, 3), {})]
    compare_with_reference("tracking_zs", tracking_zs, _track_reference, _track_inputs, seed=seed, rtol=RTOL,
                           atol=ATOL, edge_cases=edges, arg_names=("b_targets", "seq_len"))

