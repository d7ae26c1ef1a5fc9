"""PPO in the PureJaxRL style: one jitted function does a whole update (rollout, GAE, epochs, minibatches).

``make_update(...)`` returns ``update(runner, level_ids) -> (runner, metrics)``; every env is reset to
``levels[level_ids[i]]`` at the start of the update and auto-resets to that same level inside the
rollout, which is what SFL needs. The Python loop around it (``rizzlib.kinetix.train``) picks the
level ids (fresh random, or from the SFL buffer) and shows progress.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct
from flax.training.train_state import TrainState

from rizzlib.core.validate import check_int_range, check_range
from rizzlib.kinetix import distributions as dist
from rizzlib.kinetix.ahead import compile_effort, jit
from rizzlib.kinetix.env import KinetixEnv
from rizzlib.kinetix.types import EnvConfig, EnvParams, Level


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """PPO hyper-parameters (gpu preset = Kinetix's SFL config, spec 4).

    Attributes:
        num_envs: parallel envs.  num_steps: rollout length per update (agent steps).
        num_minibatches: must divide num_envs * num_steps.  update_epochs: passes over the rollout.
        lr: Adam step size (eps 1e-5).  gamma: discount.  gae_lambda: GAE lambda.
        clip_eps: policy and value clipping.  ent_coef, vf_coef: loss weights.  max_grad_norm: clip.
    """

    num_envs: int = 2048
    num_steps: int = 256
    num_minibatches: int = 32
    update_epochs: int = 8
    lr: float = 5e-5
    gamma: float = 0.995
    gae_lambda: float = 0.9
    clip_eps: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 1.0

    def __post_init__(self):
        check_int_range("num_envs", self.num_envs, 1, None)
        check_int_range("num_steps", self.num_steps, 1, None)
        check_int_range("num_minibatches", self.num_minibatches, 1, None)
        check_int_range("update_epochs", self.update_epochs, 1, None)
        if (self.num_envs * self.num_steps) % self.num_minibatches:
            raise ValueError(f"num_minibatches={self.num_minibatches} must divide num_envs * num_steps = "
                             f"{self.num_envs * self.num_steps} (Kinetix issue #23)")
        check_range("lr", self.lr, 0.0, 1.0, low_inclusive=False)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("gae_lambda", self.gae_lambda, 0.0, 1.0)
        check_range("clip_eps", self.clip_eps, 0.0, None, low_inclusive=False)
        check_range("ent_coef", self.ent_coef, 0.0, None)
        check_range("vf_coef", self.vf_coef, 0.0, None)
        check_range("max_grad_norm", self.max_grad_norm, 0.0, None, low_inclusive=False)


class Transition(NamedTuple):
    obs: object
    action: jnp.ndarray
    log_prob: jnp.ndarray
    value: jnp.ndarray
    reward: jnp.ndarray
    done: jnp.ndarray
    goal: jnp.ndarray


@struct.dataclass
class Runner:
    """What one update carries to the next."""

    train_state: TrainState
    key: jnp.ndarray


def compute_gae(rewards, values, dones, last_value, gamma: float, lam: float):
    """GAE by a reverse ``lax.scan``.

    Args:
        rewards, values, dones: (T, B); dones[t] = the episode ended after step t.
        last_value: (B,) value after the last step.

    Returns:
        (advantages, returns), each (T, B).
    """
    def body(carry, x):
        next_adv, next_value = carry
        r, v, d = x
        nonterminal = 1.0 - d
        delta = r + gamma * next_value * nonterminal - v
        adv = delta + gamma * lam * nonterminal * next_adv
        return (adv, v), adv

    _, adv = jax.lax.scan(body, (jnp.zeros_like(last_value), last_value),
                          (rewards, values, dones.astype(rewards.dtype)), reverse=True)
    return adv, adv + values


def ppo_loss(new_log_prob, old_log_prob, advantages, new_value, old_value, returns, entropy,
             clip_eps: float, vf_coef: float, ent_coef: float):
    """Clipped PPO loss (PureJaxRL form, advantages normalised over the minibatch).

    Returns:
        (total, (value_loss, actor_loss, entropy_mean)).
    """
    ratio = jnp.exp(new_log_prob - old_log_prob)
    adv = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    actor = -jnp.mean(jnp.minimum(ratio * adv, jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * adv))
    v_clipped = old_value + jnp.clip(new_value - old_value, -clip_eps, clip_eps)
    value = 0.5 * jnp.mean(jnp.maximum((new_value - returns) ** 2, (v_clipped - returns) ** 2))
    ent = jnp.mean(entropy)
    return actor + vf_coef * value - ent_coef * ent, (value, actor, ent)


def cached(factory):
    """``functools.lru_cache`` for the compiled-function factories, keyed by their (hashable) static
    arguments: network, EnvConfig, configs and EnvParams of Python numbers. Two calls with equal
    settings get the same jitted function, so XLA compiles it once per process; arguments that cannot
    be hashed (EnvParams holding arrays) make a fresh function instead. The key includes the
    compile effort (:func:`rizzlib.kinetix.ahead.set_compile_effort`)."""
    memo = functools.lru_cache(maxsize=64)(lambda effort, *args: factory(*args))

    @functools.wraps(factory)
    def get(*args):
        try:
            hash(args)
        except TypeError:
            return factory(*args)
        return memo(compile_effort(), *args)

    get.cache_clear = memo.cache_clear
    get.cache_info = memo.cache_info
    return get


@cached
def make_optimizer(config: PPOConfig):
    """Adam after global-norm clipping; one object per config, so train states of equal configs have
    equal tree structures and share compiled updates."""
    return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.adam(config.lr, eps=1e-5))


@cached
def compiled_init(network, env_config: EnvConfig):
    """``init(key, level) -> network params`` on the level's first observation, jitted once per
    network and env settings (eagerly, flax's init and the env's reset dispatch hundreds of small
    ops, each compiled on first use; the jitted init gives the same parameters bit for bit)."""
    env = KinetixEnv(env_config)

    @jit(program="init")
    def init(key, level):
        obs, _ = env.reset(None, level)
        return network.init(key, obs)

    return init


def init_runner(key, network, env: KinetixEnv, example_level: Level, config: PPOConfig) -> Runner:
    """Initialise the network and optimizer on one example observation."""
    k1, k2 = jax.random.split(key)
    params = compiled_init(network, env.config)(k1, example_level)
    ts = TrainState.create(apply_fn=network.apply, params=params, tx=make_optimizer(config))
    # step as an int32 array, the type every update returns: with flax's Python int 0 the first
    # update would be traced (and compiled) a second time for the state it hands back
    ts = ts.replace(step=jnp.asarray(0, jnp.int32))
    return Runner(train_state=ts, key=k2)


def make_policy(network, config_env):
    """``policy(params, key, obs_batch) -> (actions, log_probs, values)`` sampling from the network."""
    def policy(params, key, obs):
        out, value = jax.vmap(lambda o: network.apply(params, o))(obs)
        keys = jax.random.split(key, value.shape[0])
        act = jax.vmap(lambda k, o: dist.sample(k, o, config_env))(keys, out)
        lp = jax.vmap(lambda o, a: dist.log_prob(o, a, config_env))(out, act)
        return act, lp, value
    return policy


@cached
def compiled_update(network, env_config: EnvConfig, config: PPOConfig, params: EnvParams):
    """``update(runner, levels, level_ids) -> (runner, metrics)``, jitted once per static settings.

    The level pool is an argument, not a constant of the compiled code, so every training run with the
    same network, env and PPO settings (SFL and uniform, fine-tuning and scratch) shares one compile.
    """
    cfg = config
    ecfg = env_config
    env = KinetixEnv(env_config)
    policy = make_policy(network, ecfg)

    def update(runner: Runner, levels: Level, level_ids):
        ts = runner.train_state
        key, k_roll, k_perm = jax.random.split(runner.key, 3)
        lv = jax.tree.map(lambda x: x[level_ids], levels)
        obs, st = jax.vmap(lambda x: env.reset(None, x, params))(lv)

        # COLLECT TRAJECTORIES
        def env_step(carry, k):
            obs, st = carry
            ka, ks = jax.random.split(k)
            act, lp, value = policy(ts.params, ka, obs)
            nobs, nst, r, d, info = jax.vmap(lambda s, a, kk: env.step(kk, s, a, params))(
                st, act, jax.random.split(ks, cfg.num_envs))
            return (nobs, nst), Transition(obs, act, lp, value, r, d, info["GoalR"])

        (obs, st), traj = jax.lax.scan(env_step, (obs, st), jax.random.split(k_roll, cfg.num_steps))
        _, last_value = jax.vmap(lambda o: network.apply(ts.params, o))(obs)

        # CALCULATE ADVANTAGE
        adv, ret = compute_gae(traj.reward, traj.value, traj.done, last_value, cfg.gamma, cfg.gae_lambda)

        # UPDATE NETWORK
        def loss_fn(p, batch):
            tr, a, r = batch
            out, value = jax.vmap(lambda o: network.apply(p, o))(tr.obs)
            nlp = jax.vmap(lambda o, x: dist.log_prob(o, x, ecfg))(out, tr.action)
            ent = jax.vmap(lambda o: dist.entropy(o, ecfg))(out)
            return ppo_loss(nlp, tr.log_prob, a, value, tr.value, r, ent, cfg.clip_eps, cfg.vf_coef, cfg.ent_coef)

        n = cfg.num_envs * cfg.num_steps
        flat = jax.tree.map(lambda x: x.reshape((n,) + x.shape[2:]), (traj, adv, ret))  # (T, B, ...) -> (T*B, ...)

        def epoch(ts, k):
            perm = jax.random.permutation(k, n)
            mbs = jax.tree.map(lambda x: x[perm].reshape((cfg.num_minibatches, -1) + x.shape[1:]), flat)

            def minibatch(ts, mb):
                (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(ts.params, mb)
                return ts.apply_gradients(grads=grads), (loss, *aux)

            return jax.lax.scan(minibatch, ts, mbs)

        ts, losses = jax.lax.scan(epoch, ts, jax.random.split(k_perm, cfg.update_epochs))
        metrics = {
            "reward": traj.reward.mean(),
            "episodes": traj.done.sum(),
            "goals": traj.goal.sum(),
            "loss": losses[0].mean(),
            "value_loss": losses[1].mean(),
            "actor_loss": losses[2].mean(),
            "entropy": losses[3].mean(),
        }
        return Runner(train_state=ts, key=key), metrics

    return jit(update, program="update")


def make_update(network, env: KinetixEnv, levels: Level, config: PPOConfig, params: EnvParams | None = None):
    """``update(runner, level_ids (num_envs,)) -> (runner, metrics)`` on the pool ``levels``.

    A thin wrapper over :func:`compiled_update` (one compile per network / env / PPO settings, shared
    by every pool of the same shape). metrics: mean reward per step, episodes finished, goals
    reached, losses.
    """
    params = EnvParams() if params is None else params
    fn = compiled_update(network, env.config, config, params)

    def update(runner: Runner, level_ids):
        return fn(runner, levels, level_ids)

    return update
