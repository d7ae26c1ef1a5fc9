"""Action distributions over the network's flat output, one per action space.

* multi_discrete: independent categoricals, one per channel, over consecutive logit slices
  (Kinetix: 4 motor channels of 3 choices, 2 thruster channels of 2 -> 16 logits).
* discrete: one categorical.
* continuous: a diagonal Gaussian; the output holds the mean then the log standard deviation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rizzlib.kinetix.actions import action_shape, action_sizes
from rizzlib.kinetix.types import EnvConfig


def num_outputs(config: EnvConfig) -> int:
    """Policy outputs the network needs for ``config.action``."""
    if config.action == "continuous":
        return 2 * action_shape(config)[0]
    return sum(action_sizes(config))


def _slices(config):
    sizes = action_sizes(config)
    out, off = [], 0
    for k in sizes:
        out.append((off, k))
        off += k
    return out


def sample(key, out, config: EnvConfig):
    """Draw an action from the policy output ``out`` (num_outputs,)."""
    if config.action == "continuous":
        d = out.shape[-1] // 2
        return out[:d] + jnp.exp(out[d:]) * jax.random.normal(key, (d,))
    keys = jax.random.split(key, len(action_sizes(config)))
    a = jnp.stack([jax.random.categorical(k, out[o:o + n]) for k, (o, n) in zip(keys, _slices(config))])
    return a if config.action == "multi_discrete" else a[0]


def mode(out, config: EnvConfig):
    """The most likely action."""
    if config.action == "continuous":
        return out[: out.shape[-1] // 2]
    a = jnp.stack([jnp.argmax(out[o:o + n]) for o, n in _slices(config)])
    return a if config.action == "multi_discrete" else a[0]


def log_prob(out, action, config: EnvConfig):
    """log pi(action) (sum over channels)."""
    if config.action == "continuous":
        d = out.shape[-1] // 2
        mean, log_std = out[:d], out[d:]
        z = (action - mean) / jnp.exp(log_std)
        return jnp.sum(-0.5 * z * z - log_std - 0.5 * jnp.log(2 * jnp.pi))
    a = jnp.atleast_1d(action)
    return sum(jax.nn.log_softmax(out[o:o + n])[a[i]] for i, (o, n) in enumerate(_slices(config)))


def entropy(out, config: EnvConfig):
    """Entropy of the policy (sum over channels)."""
    if config.action == "continuous":
        d = out.shape[-1] // 2
        return jnp.sum(out[d:] + 0.5 * jnp.log(2 * jnp.pi * jnp.e))
    total = 0.0
    for o, n in _slices(config):
        lp = jax.nn.log_softmax(out[o:o + n])
        total = total - jnp.sum(jnp.exp(lp) * lp)
    return total
