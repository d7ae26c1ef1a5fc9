"""Graded checks for the Kinetix notebook (``notebooks/01b_kinetix.ipynb``).

Each ``check_*`` runs the student's function on fixed edge cases (the same every run), then on fresh
random inputs, against the slow twins in :mod:`rizzlib.kinetix.reference`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rizzlib.core.grading import compare_with_reference
from rizzlib.kinetix import reference as ref

# ---------------------------------------------------------------------------------------------- reward


def _reward_inputs(rng):
    n = int(rng.integers(3, 9))
    roles = rng.integers(0, 4, n)
    roles[rng.integers(n)] = 1  # always a green shape
    m = int(rng.integers(3, 12))
    a = rng.integers(0, n, m)
    b = rng.integers(0, n + 1, m)
    touching = rng.random(m) < 0.5
    return (roles, a, b, touching), {}


def _reward_edges():
    roles = np.array([0, 1, 2, 3, 0])
    t, f = True, False
    return [
        ("green touches blue", (roles, np.array([1, 0]), np.array([2, 3]), np.array([t, t])), {}),
        ("green touches blue and red in one step", (roles, np.array([1, 1]), np.array([2, 3]), np.array([t, t])), {}),
        ("green near blue but not touching", (roles, np.array([1]), np.array([2]), np.array([f])), {}),
        ("blue touches red", (roles, np.array([2]), np.array([3]), np.array([t])), {}),
        ("a padding pair (index N)", (roles, np.array([1]), np.array([5]), np.array([t])), {}),
        ("blue first, green second", (roles, np.array([2, 0]), np.array([1, 4]), np.array([t, t])), {}),
    ]


def check_reward_rule(reward_rule: Callable, seed: int | None = None) -> None:
    """``reward_rule(roles, body_a, body_b, touching) -> reward`` in {-1, 0, +1} for one substep."""
    compare_with_reference("reward_rule", reward_rule, lambda *a: np.float64(ref.contact_reward(*a)[0]),
                           _reward_inputs, seed=seed, edge_cases=_reward_edges(), output_names=("reward",),
                           arg_names=("roles", "body_a", "body_b", "touching"))


# ---------------------------------------------------------------------------------------------- features


def _feature_inputs(rng):
    return (rng.normal(size=2) * 2, rng.normal(size=2), float(rng.uniform(0, 5)), float(rng.uniform(0, 50)),
            float(rng.uniform(0.5, 2)), float(rng.normal() * 20), int(rng.integers(4)), float(rng.uniform(-7, 7)),
            float(rng.uniform(0, 1)), float(rng.uniform(0, 1)), float(rng.uniform(0.05, 1)),
            float(-rng.uniform(0, 12))), {}


def _feature_edges():
    base = (np.array([1.0, 2.0]), np.array([0.5, -0.5]), 2.0, 30.0, 1.0)
    return [
        ("spinning fast, role red", base + (40.0, 3, 0.3, 0.6, 0.1, 0.25, -9.81), {}),
        ("role default, upside down", base + (-5.0, 0, np.pi, 0.6, 0.0, 0.5, -9.81), {}),
        ("static green shape, no gravity", (np.array([4.0, 0.5]), np.zeros(2), 0.0, 0.0, 1.0, 0.0, 1, 0.0,
                                            1.0, 0.2, 0.3, 0.0), {}),
    ]


def check_circle_features(circle_features: Callable, seed: int | None = None) -> None:
    """``circle_features(position, velocity, inverse_mass, inverse_inertia, density, angular_velocity,
    role, rotation, friction, restitution, radius, gravity_y) -> (19,)`` entity row of one circle."""
    compare_with_reference("circle_features", circle_features, ref.circle_feature_row, _feature_inputs, seed=seed,
                           edge_cases=_feature_edges(), output_names=("features",), atol=1e-5)


# ---------------------------------------------------------------------------------------------- SFL


def _topk_inputs(rng):
    n = int(rng.integers(6, 20))
    grid = np.array([0.0, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 1.0])
    p = grid[rng.integers(len(grid), size=n)] if rng.random() < 0.5 else rng.random(n)
    return (p, int(rng.integers(1, n))), {}


def _topk_edges():
    return [
        ("p = 1/2 beats 0.4 and 0.6 equally far", (np.array([0.4, 0.5, 0.6, 0.0]), 1), {}),
        ("always solved ranks above never solved", (np.array([0.0, 1.0, 0.0, 1.0]), 2), {}),
        ("0.3 and 0.7: same p(1-p), 0.7 wins the tie-break", (np.array([0.3, 0.7, 0.05, 0.95]), 3), {}),
        ("ties keep the lower index first", (np.array([0.5, 0.2, 0.5, 0.5]), 3), {}),
    ]


def check_sfl_top_k(sfl_top_k: Callable, seed: int | None = None) -> None:
    """``sfl_top_k(success_rates (n,), k) -> (k,) int``: the k most learnable levels, best first."""
    compare_with_reference("sfl_top_k", sfl_top_k, ref.sfl_top_k, _topk_inputs, seed=seed,
                           edge_cases=_topk_edges(), output_names=("indices",))


# ---------------------------------------------------------------------------------------------- pooling


def _mean_inputs(rng):
    n, d = int(rng.integers(2, 9)), int(rng.integers(1, 6))
    mask = rng.random(n) < 0.5
    mask[rng.integers(n)] = True
    return (rng.normal(size=(n, d)) * 3 + 1, mask), {}


def _mean_edges():
    x = np.arange(12.0).reshape(4, 3)
    return [
        ("one active row", (x, np.array([False, True, False, False])), {}),
        ("two of four rows", (x, np.array([True, False, False, True])), {}),
        ("no active rows: zeros", (x, np.zeros(4, bool)), {}),
    ]


def check_masked_mean(masked_mean: Callable, seed: int | None = None) -> None:
    """``masked_mean(x (N, D), mask (N,)) -> (D,)``: mean over active rows, zeros if none."""
    compare_with_reference("masked_mean", masked_mean, ref.masked_mean, _mean_inputs, seed=seed,
                           edge_cases=_mean_edges(), output_names=("pooled",), atol=1e-5)


# ---------------------------------------------------------------------------------------------- GAE and PPO


def _gae_inputs(rng):
    t, b = int(rng.integers(3, 12)), int(rng.integers(1, 5))
    dones = rng.random((t, b)) < 0.25
    return (rng.normal(size=(t, b)), rng.normal(size=(t, b)), dones, rng.normal(size=b),
            float(rng.uniform(0.9, 0.999)), float(rng.uniform(0.5, 0.95))), {}


def _gae_edges():
    r = np.array([[1.0], [0.0], [2.0]])
    v = np.array([[0.5], [0.2], [-0.3]])
    return [
        ("an episode ends after step 1", (r, v, np.array([[False], [True], [False]]), np.array([1.0]), 0.9, 0.8), {}),
        ("no episode ends", (r, v, np.zeros((3, 1), bool), np.array([1.0]), 0.99, 0.95), {}),
        ("lambda 0: one-step TD errors", (r, v, np.zeros((3, 1), bool), np.array([0.0]), 0.9, 0.0), {}),
    ]


def check_gae(gae: Callable, seed: int | None = None) -> None:
    """``gae(rewards, values, dones, last_value, gamma, lam) -> (advantages, returns)``, each (T, B)."""
    compare_with_reference("gae", gae, ref.gae, _gae_inputs, seed=seed, edge_cases=_gae_edges(),
                           output_names=("advantages", "returns"), rtol=1e-4, atol=1e-5)


def _ppo_inputs(rng):
    n = int(rng.integers(4, 16))
    old = rng.normal(size=n) - 1.0
    new = old + rng.normal(size=n) * 0.4
    return (new, old, rng.normal(size=n) * 2 + 0.3, float(rng.choice([0.1, 0.2, 0.3]))), {}


def _ppo_edges():
    adv = np.array([1.0, -1.0, 2.0, -0.5])
    old = np.zeros(4)
    return [
        ("ratio 1 everywhere", (old, old, adv, 0.2), {}),
        ("ratio e^0.5 > 1 + eps", (old + 0.5, old, adv, 0.2), {}),
        ("ratio e^-0.5 < 1 - eps", (old - 0.5, old, adv, 0.2), {}),
    ]


def check_ppo_actor_loss(ppo_actor_loss: Callable, seed: int | None = None) -> None:
    """``ppo_actor_loss(new_log_prob, old_log_prob, advantages, clip_eps) -> scalar`` (advantages
    normalised to mean 0 and std 1 (+1e-8) first)."""
    compare_with_reference("ppo_actor_loss", ppo_actor_loss, ref.clipped_actor_loss, _ppo_inputs, seed=seed,
                           edge_cases=_ppo_edges(), output_names=("loss",), rtol=1e-4, atol=1e-5)
