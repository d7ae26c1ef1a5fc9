"""The agent: a permutation-invariant entity transformer (spec 4) and an MLP baseline (flax linen).

Both map ONE observation to (logits or mean, value); ``jax.vmap`` them over a batch.

Entity transformer, following Kinetix's ``transformer_model.py``:

1. Encoders: polygons and circles: Dense(E - 1, orthogonal sqrt 2) + tanh, then a type id (1 polygon,
   0 circle) appended -> E; joints and thrusters: Dense(E) + tanh.
2. A dummy all-ones token is prepended to the N shapes (it attends to and is attended by every active
   shape); joint and thruster indices shift by 1.
3. ``depth`` layers of: pre-LN multi-head attention whose heads are split evenly over the 4
   attention masks (full, same assembly, one hop, in contact), GTrXL GRU gate (on relu of the
   attention output) instead of a residual; LN -> Dense(E) -> relu -> second GRU gate; joint messages Dense([h_self, h_other, joint]) scatter-added to
   h_self; thruster messages Dense([h_body, thruster]) added to h_body.
4. Masked mean over the active tokens (dummy included); separate actor and critic MLPs (tanh).

There is no positional encoding, so permuting shapes (with joint and thruster indices remapped)
leaves the output unchanged; ``positional=True`` adds a learned per-slot embedding that breaks this
(used by a test to show the invariance is not an accident).
"""

from __future__ import annotations

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from rizzlib.core.validate import check_choice, check_int_range
from rizzlib.kinetix.observe import EntityObservation

NUM_MASKS = 4


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Network sizes (gpu preset = the paper's: depth 2, E 128, 8 heads, q/k/v width 16, MLP 5 x 128).

    Attributes:
        kind: ``"transformer"`` (symbolic_entity) or ``"mlp"`` (symbolic_flat).
        embed: token width E.  heads: attention heads (a multiple of 4).
        qkv: total q/k/v width, split over the heads (Kinetix's ``transformer_size``; flax's convention).
        depth: transformer layers.  mlp_depth, mlp_width: actor and critic MLPs.
        positional: add a learned per-slot embedding (breaks permutation invariance; tests only).
    """

    kind: str = "transformer"
    embed: int = 128
    heads: int = 8
    qkv: int = 16
    depth: int = 2
    mlp_depth: int = 5
    mlp_width: int = 128
    positional: bool = False

    def __post_init__(self):
        check_choice("kind", self.kind, ("transformer", "mlp"))
        check_int_range("embed", self.embed, 2, None)
        check_int_range("heads", self.heads, NUM_MASKS, None)
        if self.heads % NUM_MASKS:
            raise ValueError(f"heads must be a multiple of {NUM_MASKS} (one group per attention mask); got {self.heads}")
        check_int_range("qkv", self.qkv, 1, None)
        if self.qkv % self.heads:
            raise ValueError(f"qkv must be a multiple of heads={self.heads}; got {self.qkv}")
        check_int_range("depth", self.depth, 0, None)
        check_int_range("mlp_depth", self.mlp_depth, 1, None)
        check_int_range("mlp_width", self.mlp_width, 1, None)


def _ortho(scale):
    return nn.initializers.orthogonal(scale)


class GRUGate(nn.Module):
    """GTrXL gate: out = (1 - z) x + z h, z = sigmoid(W_z y + U_z x - b_g) (b_g = 0 as in Kinetix)."""

    gate_bias: float = 0.0

    @nn.compact
    def __call__(self, x, y):
        e = x.shape[-1]
        dense = lambda: nn.Dense(e, use_bias=False)  # noqa: E731
        bg = self.param("gate_bias", nn.initializers.constant(self.gate_bias), (e,))
        r = nn.sigmoid(dense()(y) + dense()(x))
        z = nn.sigmoid(dense()(y) + dense()(x) - bg)
        h = jnp.tanh(dense()(y) + dense()(r * x))
        return (1.0 - z) * x + z * h


class MaskedAttention(nn.Module):
    """Multi-head self-attention over tokens (n, E); head group g only sees pairs where masks[g] is true.

    ``qkv`` is the total q/k/v width, split over the heads (flax's ``qkv_features`` convention).
    """

    heads: int
    qkv: int
    out: int

    @nn.compact
    def __call__(self, x, masks):
        n = x.shape[0]
        d = self.qkv // self.heads
        q = nn.Dense(self.qkv)(x).reshape(n, self.heads, d)
        k = nn.Dense(self.qkv)(x).reshape(n, self.heads, d)
        v = nn.Dense(self.qkv)(x).reshape(n, self.heads, d)
        scores = jnp.einsum("qhd,khd->hqk", q, k) / jnp.sqrt(d)  # (H, n, n)
        per = self.heads // NUM_MASKS
        mask = jnp.repeat(masks, per, axis=0)  # (H, n, n)
        scores = jnp.where(mask, scores, -1e9)
        w = jax.nn.softmax(scores, axis=-1) * jnp.any(mask, axis=-1, keepdims=True)
        att = jnp.einsum("hqk,khd->qhd", w, v).reshape(n, self.qkv)
        return nn.Dense(self.out)(att)


class MLPHead(nn.Module):
    """depth x width tanh MLP then a linear output with orthogonal(scale) init."""

    depth: int
    width: int
    out: int
    scale: float

    @nn.compact
    def __call__(self, x):
        for _ in range(self.depth):
            x = jnp.tanh(nn.Dense(self.width, kernel_init=_ortho(np.sqrt(2)))(x))
        return nn.Dense(self.out, kernel_init=_ortho(self.scale))(x)


def masked_mean(x, mask):
    """Mean of the rows of x (n, E) where mask (n,) is true (zeros when none is)."""
    m = mask.astype(x.dtype)[:, None]
    return jnp.sum(x * m, axis=0) / jnp.maximum(jnp.sum(m), 1.0)


class EntityTransformer(nn.Module):
    """Entity observation -> (policy output (num_outputs,), value ())."""

    config: ModelConfig
    num_outputs: int

    @nn.compact
    def __call__(self, obs: EntityObservation):
        c = self.config
        e = c.embed
        poly = jnp.tanh(nn.Dense(e - 1, kernel_init=_ortho(np.sqrt(2)))(obs.polygons))
        circ = jnp.tanh(nn.Dense(e - 1, kernel_init=_ortho(np.sqrt(2)))(obs.circles))
        poly = jnp.concatenate([poly, jnp.ones_like(poly[:, :1])], -1)
        circ = jnp.concatenate([circ, jnp.zeros_like(circ[:, :1])], -1)
        joints = jnp.tanh(nn.Dense(e, kernel_init=_ortho(np.sqrt(2)))(obs.joints))
        thrusters = jnp.tanh(nn.Dense(e, kernel_init=_ortho(np.sqrt(2)))(obs.thrusters))
        shapes = jnp.concatenate([poly, circ], 0)  # (N, E)
        n = shapes.shape[0]
        if c.positional:
            shapes = shapes + self.param("slot_embedding", nn.initializers.normal(1.0), (n, e))
        active = jnp.concatenate([jnp.ones((1,), bool), obs.polygon_mask, obs.circle_mask])
        h = jnp.concatenate([jnp.ones((1, e)), shapes], 0)  # dummy token first
        am = jnp.pad(obs.attention_mask, ((0, 0), (1, 0), (1, 0)))
        am = am.at[:, 0, :].set(active).at[:, :, 0].set(active)  # dummy <-> every active token
        jself = obs.joint_indexes[:, 0] + 1
        jother = obs.joint_indexes[:, 1] + 1
        tidx = obs.thruster_indexes + 1
        jm = obs.joint_mask.astype(h.dtype)[:, None]
        tm = obs.thruster_mask.astype(h.dtype)[:, None]
        for _ in range(c.depth):
            y = MaskedAttention(c.heads, c.qkv, e)(nn.LayerNorm()(h), am)
            h = GRUGate()(h, jax.nn.relu(y))
            y = nn.Dense(e)(nn.LayerNorm()(h))
            h = GRUGate()(h, jax.nn.relu(y))
            msg = nn.Dense(e)(jnp.concatenate([h[jself], h[jother], joints], -1)) * jm
            h = h.at[jself].add(msg)
            tmsg = nn.Dense(e)(jnp.concatenate([h[tidx], thrusters], -1)) * tm
            h = h.at[tidx].add(tmsg)
        pooled = masked_mean(h, active)
        logits = MLPHead(c.mlp_depth, c.mlp_width, self.num_outputs, 0.01)(pooled)
        value = MLPHead(c.mlp_depth, c.mlp_width, 1, 1.0)(pooled)[0]
        return logits, value


class FlatMLP(nn.Module):
    """symbolic_flat vector -> (policy output, value): separate tanh MLPs."""

    config: ModelConfig
    num_outputs: int

    @nn.compact
    def __call__(self, obs):
        c = self.config
        logits = MLPHead(c.mlp_depth, c.mlp_width, self.num_outputs, 0.01)(obs)
        value = MLPHead(c.mlp_depth, c.mlp_width, 1, 1.0)(obs)[0]
        return logits, value


@functools.lru_cache(maxsize=32)
def make_network(config: ModelConfig, num_outputs: int) -> nn.Module:
    """The network of ``config.kind`` with ``num_outputs`` policy outputs.

    Equal arguments return the same (immutable) module object, so train states built on it have equal
    tree structures (``apply_fn`` is a bound method, compared by its module's identity) and training
    runs of one config share their compiled updates.
    """
    check_int_range("num_outputs", num_outputs, 1, None)
    return (EntityTransformer if config.kind == "transformer" else FlatMLP)(config, num_outputs)


def count_params(params) -> int:
    """Number of scalars in a parameter pytree."""
    return int(sum(np.prod(np.shape(x)) for x in jax.tree.leaves(params)))
