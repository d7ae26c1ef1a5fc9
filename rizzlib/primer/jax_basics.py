"""JAX building blocks: a reverse ``lax.scan`` (discounted returns) and a double ``vmap``
(pairwise distances). Both are reused later: PPO's returns in Kinetix, distances in FB-CPR goals."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def discounted_returns(rewards: jax.Array, dones: jax.Array, gamma: float) -> jax.Array:
    """Returns ``G_t = r_t + gamma * (1 - done_t) * G_{t+1}`` with ``G_T = 0``.

    Args:
        rewards: ``(T,)`` or ``(T, ...)`` rewards, time first.
        dones: same shape, 1.0 where the episode ended *after* step t (no bootstrap across it).
        gamma: discount in [0, 1].

    Returns:
        ``(T, ...)`` discounted returns, same dtype as ``rewards``.
    """
    rewards = jnp.asarray(rewards)
    dones = jnp.asarray(dones, dtype=rewards.dtype)

    def back_one_step(future_return, step):
        reward, done = step
        g = reward + gamma * (1.0 - done) * future_return
        return g, g

    _, returns = jax.lax.scan(back_one_step, jnp.zeros_like(rewards[0]), (rewards, dones), reverse=True)
    return returns


def pairwise_distances(x: jax.Array, y: jax.Array) -> jax.Array:
    """Euclidean distances ``D[i, j] = |x_i - y_j|`` from ``x (N, D)`` and ``y (M, D)``: ``(N, M)``."""

    def one(a, b):
        return jnp.sqrt(jnp.sum((a - b) ** 2))

    return jax.vmap(jax.vmap(one, in_axes=(None, 0)), in_axes=(0, None))(x, y)
