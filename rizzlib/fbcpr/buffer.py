"""Fixed-capacity FIFO buffers as pytrees: the replay buffer of transitions and the z-buffer."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class Transitions:
    """A batch of transitions, leading axis n: ``obs (n, 4)``, ``action (n, 2)``, ``next_obs (n, 4)``,
    ``z (n, d)`` (the z the policy acted on when collecting), ``terminated (n,)`` float 0/1."""

    obs: jax.Array
    action: jax.Array
    next_obs: jax.Array
    z: jax.Array
    terminated: jax.Array


@struct.dataclass
class Replay:
    """FIFO replay: ``data`` holds ``capacity`` rows; ``ptr`` the next write slot, ``size`` rows filled."""

    data: Transitions
    ptr: jax.Array
    size: jax.Array

    @property
    def capacity(self) -> int:
        return self.data.obs.shape[0]


def replay_init(capacity: int, obs_dim: int, action_dim: int, z_dim: int) -> Replay:
    """An empty replay buffer of ``capacity`` transitions."""
    z = lambda *s: jnp.zeros(s, jnp.float32)  # noqa: E731
    data = Transitions(z(capacity, obs_dim), z(capacity, action_dim), z(capacity, obs_dim), z(capacity, z_dim),
                       z(capacity))
    return Replay(data, jnp.int32(0), jnp.int32(0))


def replay_add(buf: Replay, batch: Transitions) -> Replay:
    """Write the ``n`` rows of ``batch`` at ``ptr`` (wrapping around); n must be <= capacity."""
    n = batch.obs.shape[0]
    idx = (buf.ptr + jnp.arange(n)) % buf.capacity
    data = jax.tree.map(lambda d, b: d.at[idx].set(b), buf.data, batch)
    return Replay(data, (buf.ptr + n) % buf.capacity, jnp.minimum(buf.size + n, buf.capacity))


def replay_sample(buf: Replay, key: jax.Array, n: int) -> Transitions:
    """``n`` rows drawn uniformly (with replacement) from the filled part."""
    idx = jax.random.randint(key, (n,), 0, jnp.maximum(buf.size, 1))
    return jax.tree.map(lambda d: d[idx], buf.data)


@struct.dataclass
class ZBuffer:
    """FIFO of training z's ``z (capacity, d)`` that rollouts draw their z from."""

    z: jax.Array
    ptr: jax.Array
    size: jax.Array


def zbuffer_init(capacity: int, z_dim: int) -> ZBuffer:
    return ZBuffer(jnp.zeros((capacity, z_dim), jnp.float32), jnp.int32(0), jnp.int32(0))


def zbuffer_add(zb: ZBuffer, z: jax.Array) -> ZBuffer:
    """Push ``z (n, d)``; only the last ``capacity`` rows are kept when n > capacity."""
    cap = zb.z.shape[0]
    z = z[-cap:]
    n = z.shape[0]
    idx = (zb.ptr + jnp.arange(n)) % cap
    return ZBuffer(zb.z.at[idx].set(z), (zb.ptr + n) % cap, jnp.minimum(zb.size + n, cap))


def zbuffer_sample(zb: ZBuffer, key: jax.Array, fallback: jax.Array) -> jax.Array:
    """``fallback.shape[0]`` z's from the buffer, or ``fallback`` rows while the buffer is empty."""
    n = fallback.shape[0]
    idx = jax.random.randint(key, (n,), 0, jnp.maximum(zb.size, 1))
    return jnp.where(zb.size > 0, zb.z[idx], fallback)
