"""Sampling For Learnability (Rutherford et al. 2024; Kinetix's ``experiments/sfl.py``), spec 5.

Every ``update_every`` PPO updates, score ``num_scored`` random levels by the current stochastic
policy's success rate p over ``score_steps`` agent steps (auto-resetting to the same level, so
several episodes), learnability = p (1 - p) + 0.001 p, and keep the top ``buffer_size``. Each PPO
update then gives a fraction ``sampled_envs_ratio`` of the envs levels drawn uniformly with
replacement from the buffer and the rest fresh random levels. Ratio 0 is domain randomisation.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from rizzlib.core.validate import check_int_range, check_range
from rizzlib.kinetix.ahead import jit
from rizzlib.kinetix.env import KinetixEnv
from rizzlib.kinetix.ppo import cached
from rizzlib.kinetix.types import EnvConfig, EnvParams, Level


@dataclasses.dataclass(frozen=True)
class SFLConfig:
    """SFL knobs (gpu preset = Kinetix's: 12,288 levels x 512 steps every 128 updates, top 1024, 0.5)."""

    sampled_envs_ratio: float = 0.5
    buffer_size: int = 1024
    num_scored: int = 12288
    score_steps: int = 512
    update_every: int = 128
    score_batch: int = 4096
    """Levels scored per jitted call (Kinetix's batch_size; num_scored is a multiple of it)."""

    def __post_init__(self):
        check_range("sampled_envs_ratio", self.sampled_envs_ratio, 0.0, 1.0)
        check_int_range("buffer_size", self.buffer_size, 1, None)
        check_int_range("num_scored", self.num_scored, self.buffer_size, None)
        check_int_range("score_steps", self.score_steps, 1, None)
        check_int_range("update_every", self.update_every, 1, None)
        check_int_range("score_batch", self.score_batch, 1, None)
        if self.num_scored % self.score_batch:
            raise ValueError(f"score_batch={self.score_batch} must divide num_scored={self.num_scored}")


def learnability(p):
    """p (1 - p) + 0.001 p: highest at p = 1/2 (plus a tie-break towards solvable levels)."""
    p = jnp.asarray(p)
    return p * (1.0 - p) + 0.001 * p


def top_k_levels(scores, k: int):
    """Indices of the ``k`` highest scores, best first (ties broken by the lower index)."""
    scores = jnp.asarray(scores)
    check_int_range("k", k, 1, scores.shape[0])
    return jnp.argsort(-scores, stable=True)[:k]


@jit(program="other")
def take_levels(levels: Level, level_ids):
    """The batched levels ``levels[level_ids]`` (one small compiled gather per pool shape)."""
    return jax.tree.map(lambda x: x[level_ids], levels)


@cached
def compiled_success_rate(network, env_config: EnvConfig, steps: int, params: EnvParams):
    """``rate(net_params, key, envs) -> (p, episodes)`` on batched levels ``envs`` (one per scored
    level; see :func:`take_levels`): the evaluator's compiled rollout
    (:func:`rizzlib.kinetix.evaluate.compiled_rollout`, sampled actions, ``steps`` steps with
    auto-reset), so a scorer of as many levels and steps as an evaluator shares its compile. The
    jitted rollout is ``rate.rollout``."""
    from rizzlib.kinetix.evaluate import compiled_rollout

    rollout = compiled_rollout(env_config, network, params, False, int(steps))

    def rate(net_params, key, envs):
        _, goals, eps = rollout("agent", net_params, key, envs)
        return jnp.where(eps > 0, goals / jnp.maximum(eps, 1), 0.0), eps

    rate.rollout = rollout
    return rate


def make_success_rate(network, env: KinetixEnv, levels: Level, steps: int, params: EnvParams | None = None):
    """``rate(net_params, key, level_ids) -> (p, episodes)``: the policy's success rate per level.

    Each env plays its level for ``steps`` agent steps with auto-reset; p = goals / finished episodes
    (0 when no episode finished). The compiled rollout (:func:`compiled_success_rate`) is shared by
    every pool of the same shape and by evaluators of as many envs and steps.
    """
    params = EnvParams() if params is None else params
    fn = compiled_success_rate(network, env.config, steps, params)

    def rate(net_params, key, level_ids):
        return fn(net_params, key, take_levels(levels, level_ids))

    return rate


def refresh_buffer(rate_fn, net_params, key, num_pool: int, config: SFLConfig):
    """Score ``num_scored`` random pool levels and return (buffer ids, their scores, all p's)."""
    k_ids, k_play = jax.random.split(key)
    ids = jax.random.randint(k_ids, (config.num_scored,), 0, num_pool)
    ps = []
    for i, k in enumerate(jax.random.split(k_play, config.num_scored // config.score_batch)):
        p, _ = rate_fn(net_params, k, ids[i * config.score_batch:(i + 1) * config.score_batch])
        ps.append(p)
    p = jnp.concatenate(ps)
    scores = learnability(p)
    top = top_k_levels(scores, config.buffer_size)
    return np.asarray(ids[top]), np.asarray(scores[top]), np.asarray(p)


def choose_levels(key, num_envs: int, num_pool: int, buffer_ids, ratio: float):
    """(num_envs,) level ids: the first round(ratio * num_envs) from the buffer, the rest fresh."""
    n_buf = int(round(ratio * num_envs)) if buffer_ids is not None and len(buffer_ids) else 0
    k1, k2 = jax.random.split(key)
    fresh = jax.random.randint(k1, (num_envs - n_buf,), 0, num_pool)
    if n_buf == 0:
        return fresh
    buf = jnp.asarray(buffer_ids)[jax.random.randint(k2, (n_buf,), 0, len(buffer_ids))]
    return jnp.concatenate([buf, fresh])
