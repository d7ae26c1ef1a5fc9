"""Prompts to z (spec §4): reward, goal and tracking inference from backward-map embeddings.

All functions take embeddings B(·) already computed (``(N, d)`` arrays), so they are plain linear
algebra: reward z = proj(Σ_i r_i B(s'_i)) (optionally softmax(τ·r)-weighted), goal z = proj(B(g)),
tracking z_t = proj(mean_{k=t..min(t+L,T)−1} B(o_k)). ``check_z`` validates a z at the boundary.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rizzlib.fbcpr.networks import project


def check_z(name: str, z, z_dim: int, rtol: float = 1e-3) -> np.ndarray:
    """Return ``z (..., d)`` if its last axis is ``z_dim`` and every row has norm √d (to rtol)."""
    a = np.asarray(z, np.float64)
    if a.ndim < 1 or a.shape[-1] != z_dim:
        raise ValueError(f"{name} must have last dimension z_dim={z_dim}; got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite")
    norms = np.linalg.norm(a, axis=-1)
    bad = np.abs(norms - np.sqrt(z_dim)) > rtol * np.sqrt(z_dim)
    if np.any(bad):
        raise ValueError(
            f"{name} must lie on the sphere of radius sqrt(z_dim) = {np.sqrt(z_dim):.4f} (project it first); "
            f"got norm {norms[bad].ravel()[0]:.4f}")
    return np.asarray(z)


def reward_to_z_raw(b_next: jax.Array, rewards: jax.Array) -> jax.Array:
    """Unprojected Σ_i r_i B(s'_i): linear in ``rewards (N,)``; ``b_next (N, d)`` -> ``(d,)``."""
    return rewards @ b_next


def reward_to_z(b_next, rewards, weighted: bool = False, temperature: float = 10.0) -> jax.Array:
    """z_r = proj(Σ_i w_i r_i B(s'_i)) with w = 1 (plain) or softmax(temperature·r) (weighted).

    ``b_next (N, d)`` are B of the replay buffer's next states, ``rewards (N,)`` = r(s'_i).
    Raises ValueError when the (weighted) sum is zero, e.g. a reward that is zero everywhere."""
    b_next, rewards = jnp.asarray(b_next), jnp.asarray(rewards)
    if b_next.ndim != 2 or rewards.shape != b_next.shape[:1] or b_next.shape[0] == 0:
        raise ValueError(f"b_next must be (N, d) and rewards (N,) with N >= 1; got {b_next.shape} and {rewards.shape}")
    w = jax.nn.softmax(temperature * rewards) * rewards.shape[0] if weighted else jnp.ones_like(rewards)
    raw = reward_to_z_raw(b_next, w * rewards)
    if float(jnp.linalg.norm(raw)) == 0.0:
        raise ValueError("rewards give a zero embedding (is the reward zero on every sample?); no z can be inferred")
    return project(raw)


def goal_to_z(b_goal) -> jax.Array:
    """z_g = proj(B(g)) for ``b_goal (d,)`` or a batch ``(n, d)``."""
    return project(jnp.asarray(b_goal))


def tracking_zs(b_targets, seq_len: int) -> jax.Array:
    """z_t = proj(mean of B(o_k), k = t .. min(t + L, T) − 1) for ``b_targets (T, d)``: ``(T, d)``.

    The window shrinks at the tail, so the last z is proj(B(o_T))."""
    from rizzlib.core.validate import check_int_range

    check_int_range("seq_len", seq_len, 1)
    b = jnp.asarray(b_targets)
    t = b.shape[0]
    if b.ndim != 2 or t == 0:
        raise ValueError(f"b_targets must be a non-empty (T, d) array; got shape {b.shape}")
    csum = jnp.concatenate([jnp.zeros((1, b.shape[1])), jnp.cumsum(b, 0)])
    start = jnp.arange(t)
    end = jnp.minimum(start + seq_len, t)
    return project((csum[end] - csum[start]) / (end - start)[:, None])
