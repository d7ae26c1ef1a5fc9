"""Flax networks of FB-CPR (spec §3.7): forward map F (ensemble), backward map B, actor, critic Q_D
(ensemble) and discriminator. Every z fed in is assumed already projected on the √d sphere.

Shapes: ``s (n, obs_dim)``, ``a (n, act_dim)``, ``z (n, d)``. Ensembles return a leading head axis
``(K, n, ...)``. Weights are orthogonal, biases zero (as the official code).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

_ORTHO = nn.initializers.orthogonal()
_ORTHO_RELU = nn.initializers.orthogonal(scale=jnp.sqrt(2.0))


def project(x: jax.Array) -> jax.Array:
    """``proj(x) = √d · x / ‖x‖`` on the last axis (d = x.shape[-1])."""
    d = x.shape[-1]
    return jnp.sqrt(d) * x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _dense(width: int, relu_gain: bool = False) -> nn.Dense:
    return nn.Dense(width, kernel_init=_ORTHO_RELU if relu_gain else _ORTHO, bias_init=nn.initializers.zeros)


class Embedding(nn.Module):
    """Linear → LayerNorm → tanh → [(layers − 2) × (Linear → ReLU)] → Linear(h/2) → ReLU."""

    width: int
    layers: int = 2

    @nn.compact
    def __call__(self, x):
        x = jnp.tanh(nn.LayerNorm()(_dense(self.width)(x)))
        for _ in range(self.layers - 2):
            x = nn.relu(_dense(self.width, True)(x))
        return nn.relu(_dense(self.width // 2, True)(x))


class _TwoEmbeddingNet(nn.Module):
    """Embeddings of ``first`` and of ``concat(s, z)``, concatenated → trunk → Linear(out)."""

    width: int
    trunk: int
    out: int

    @nn.compact
    def __call__(self, first, s, z):
        h = jnp.concatenate([Embedding(self.width)(first), Embedding(self.width)(jnp.concatenate([s, z], -1))], -1)
        for _ in range(self.trunk):
            h = nn.relu(_dense(self.width, True)(h))
        return _dense(self.out)(h)


class ForwardMap(nn.Module):
    """F(s, a, z) for K independent heads: ``(K, n, d)``."""

    width: int
    trunk: int
    z_dim: int
    heads: int = 2

    @nn.compact
    def __call__(self, s, a, z):
        ens = nn.vmap(_TwoEmbeddingNet, variable_axes={"params": 0}, split_rngs={"params": True},
                      in_axes=None, out_axes=0, axis_size=self.heads)
        return ens(self.width, self.trunk, self.z_dim)(jnp.concatenate([s, a], -1), s, z)


class Critic(nn.Module):
    """Q_D(s, a, z), same architecture as F with a scalar output: ``(K, n)``."""

    width: int
    trunk: int
    heads: int = 2

    @nn.compact
    def __call__(self, s, a, z):
        ens = nn.vmap(_TwoEmbeddingNet, variable_axes={"params": 0}, split_rngs={"params": True},
                      in_axes=None, out_axes=0, axis_size=self.heads)
        return ens(self.width, self.trunk, 1)(jnp.concatenate([s, a], -1), s, z)[..., 0]


class BackwardMap(nn.Module):
    """B(s) = proj(Linear → LayerNorm → tanh → [(layers − 1) × (Linear → ReLU)] → Linear(d)): ``(n, d)``."""

    width: int
    layers: int
    z_dim: int

    @nn.compact
    def __call__(self, s):
        h = jnp.tanh(nn.LayerNorm()(_dense(self.width)(s)))
        for _ in range(self.layers - 1):
            h = nn.relu(_dense(self.width, True)(h))
        return project(_dense(self.z_dim)(h))


class Actor(nn.Module):
    """Deterministic mean μ(s, z) = tanh(net(s, concat(s, z))) in [-1, 1]: ``(n, act_dim)``."""

    width: int
    trunk: int
    action_dim: int

    @nn.compact
    def __call__(self, s, z):
        return jnp.tanh(_TwoEmbeddingNet(self.width, self.trunk, self.action_dim)(s, s, z))


class Discriminator(nn.Module):
    """Logit ℓ(s, z) of D = σ(ℓ): Linear([z, s]) → LayerNorm → tanh → (layers − 1) × (Linear → ReLU) → Linear(1)."""

    width: int
    layers: int

    @nn.compact
    def __call__(self, s, z):
        h = jnp.tanh(nn.LayerNorm()(_dense(self.width)(jnp.concatenate([z, s], -1))))
        for _ in range(self.layers - 1):
            h = nn.relu(_dense(self.width, True)(h))
        return _dense(1)(h)[..., 0]
