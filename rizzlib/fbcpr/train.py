"""The online training loop: collect with the vectorised env, store, update — all under one jit.

``make_trainer(cfg, motions)`` returns a :class:`Trainer` whose ``run(state, n_iters)`` is one jitted
``lax.scan`` over iterations; each iteration scans ``env_steps_per_iter`` env steps of ``n_envs``
environments, writes them to the replay buffer, then scans ``updates_per_iter`` agent updates
(skipped during the random-action phase). ``train(cfg, motions)`` calls it chunk by chunk under a
tqdm bar, so progress shows without leaving jit inside a chunk.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from rizzlib.fbcpr.agent import Agent, AgentState, make_agent, sample_sphere
from rizzlib.fbcpr.buffer import Replay, Transitions, replay_add, replay_init, replay_sample, zbuffer_sample
from rizzlib.fbcpr.dataset import check_observation_dataset, sample_segments
from rizzlib.fbcpr.envs import get_env
from rizzlib.fbcpr.presets import FBCPRConfig


@struct.dataclass
class TrainState:
    """Everything that changes during a run: the agent, replay, env states ``(n_envs, state_dim)``, each
    env's time index ``t (n_envs,)`` and current z ``(n_envs, d)``, the iteration and the key."""

    agent: AgentState
    replay: Replay
    env_state: jax.Array
    t: jax.Array
    z: jax.Array
    iteration: jax.Array
    key: jax.Array


@dataclasses.dataclass(frozen=True, eq=False)
class Trainer:
    cfg: FBCPRConfig
    agent: Agent
    motions: jax.Array
    init: Callable
    run: Callable


def make_trainer(cfg: FBCPRConfig, motions) -> Trainer:
    """Build the jitted loop of ``cfg`` on the unlabeled ``motions`` (MotionDataset or an observation
    array ``(M, T+1, obs_dim)``; anything carrying actions is refused) in the environment ``cfg.env``."""
    spec = get_env(cfg.env)
    obs = jnp.asarray(check_observation_dataset("motions", motions, spec.obs_dim, spec.action_dim))
    if obs.shape[1] < cfg.seq_len + 1:
        raise ValueError(f"motions must have >= seq_len + 1 = {cfg.seq_len + 1} steps; got {obs.shape[1]}")
    agent = make_agent(cfg)
    n_env, d = cfg.n_envs, cfg.z_dim

    def init(key: jax.Array) -> TrainState:
        ka, ks, kz, key = jax.random.split(key, 4)
        return TrainState(
            agent.init(ka), replay_init(cfg.buffer_size, spec.obs_dim, spec.action_dim, d),
            spec.reset(ks, n_env, cfg.init, obs), jnp.zeros(n_env, jnp.int32),
            sample_sphere(kz, n_env, d), jnp.int32(0), key)

    def env_step(carry, key, explore_random):
        ag, s, t, z = carry
        kz, ku, ka, kr = jax.random.split(key, 4)
        # RESAMPLE z EVERY z_every STEPS (from the z-buffer when it has entries)
        fresh = zbuffer_sample(ag.zbuf, kz, sample_sphere(ku, n_env, d)) if cfg.use_cpr else sample_sphere(ku, n_env, d)
        z = jnp.where((t % cfg.z_every == 0)[:, None], fresh, z)
        # ACT: noisy policy, or uniform during the random phase
        o = spec.observe(s)
        mu = agent.act(ag.params, o, z)
        a_pol = jnp.clip(mu + cfg.actor_std * jax.random.normal(ka, mu.shape), -1.0, 1.0)
        a_rand = jax.random.uniform(ka, mu.shape, minval=-1.0, maxval=1.0)
        a = jnp.where(explore_random, a_rand, a_pol)
        s2 = spec.step(s, a)
        tr = Transitions(o, a, spec.observe(s2), z, jnp.zeros(n_env))
        # TRUNCATE AT H AND RESET (truncation keeps the discount)
        t2 = t + 1
        done = t2 >= cfg.episode_len
        s_next = jnp.where(done[:, None], spec.reset(kr, n_env, cfg.init, obs), s2)
        return (ag, s_next, jnp.where(done, 0, t2), z), tr

    def update_step(carry, key):
        ag, rep = carry
        ko, ks, ku = jax.random.split(key, 3)
        online = replay_sample(rep, ko, cfg.batch)
        segs = sample_segments(ks, obs, cfg.batch // cfg.seq_len, cfg.seq_len) if cfg.use_cpr else None
        ag, m = agent.update(ag, online, segs, ku)
        return (ag, rep), m

    def iteration(ts: TrainState, _):
        key, kc, ku = jax.random.split(ts.key, 3)
        explore_random = ts.iteration < cfg.random_iters
        # COLLECT
        (ag, s, t, z), trs = jax.lax.scan(lambda c, k: env_step(c, k, explore_random),
                                          (ts.agent, ts.env_state, ts.t, ts.z),
                                          jax.random.split(kc, cfg.env_steps_per_iter))
        rep = replay_add(ts.replay, jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), trs))
        # UPDATE (not during the random phase)

        def do_updates(c):
            c, m = jax.lax.scan(update_step, c, jax.random.split(ku, cfg.updates_per_iter))
            return c, jax.tree.map(jnp.mean, m)

        def skip(c):
            shapes = jax.eval_shape(do_updates, c)[1]
            return c, jax.tree.map(lambda x: jnp.full(x.shape, jnp.nan, x.dtype), shapes)

        (ag, rep), m = jax.lax.cond(explore_random, skip, do_updates, (ag, rep))
        return TrainState(ag, rep, s, t, z, ts.iteration + 1, key), m

    run = jax.jit(lambda ts, n_iters: jax.lax.scan(iteration, ts, None, length=n_iters), static_argnums=1)
    return Trainer(cfg, agent, obs, init, run)


def run_in_chunks(run: Callable, state, total: int, chunk: int, desc: str, progress: bool, axis: int = 0):
    """Call the jitted ``run(state, n) -> (state, metrics)`` until ``total`` iterations are done,
    ``chunk`` at a time, with a tqdm bar between calls. Returns ``(state, metrics, seconds)`` with
    the metrics concatenated along ``axis`` (the iteration axis)."""
    from tqdm.auto import tqdm

    from rizzlib.core.validate import check_int_range

    check_int_range("chunk", chunk, 1)
    logs, done = [], 0
    t0 = time.perf_counter()
    with tqdm(total=total, desc=desc, disable=not progress) as bar:
        while done < total:
            n = min(chunk, total - done)
            state, m = run(state, n)
            logs.append(jax.device_get(m))
            done += n
            bar.update(n)
    metrics = {k: np.concatenate([lg[k] for lg in logs], axis=axis) for k in logs[0]}
    return state, metrics, time.perf_counter() - t0


def train(cfg: FBCPRConfig, motions, key: jax.Array | None = None, chunk: int = 25, progress: bool = True,
          trainer: Trainer | None = None):
    """Run ``cfg.total_iters`` iterations; returns ``(trainer, state, history, seconds)``.

    ``history`` maps each logged metric to a numpy array over update iterations (the random phase
    dropped); ``chunk`` iterations run per jitted call between tqdm updates. Pass the ``trainer`` of
    an earlier run with the same config (up to ``seed``) to reuse its compiled loop."""
    if trainer is None:
        trainer = make_trainer(cfg, motions)
    elif dataclasses.replace(trainer.cfg, seed=cfg.seed) != cfg:
        raise ValueError("trainer was built for a different config (only seed may differ)")
    key = jax.random.key(cfg.seed) if key is None else key
    ts, m, seconds = run_in_chunks(trainer.run, trainer.init(key), cfg.total_iters, chunk,
                                   f"{cfg.algo} seed {cfg.seed}", progress)
    return trainer, ts, {k: v[cfg.random_iters:] for k, v in m.items()}, seconds


def train_seeds(cfg: FBCPRConfig, motions, seeds, chunk: int = 25, progress: bool = True,
                trainer: Trainer | None = None):
    """Train one run per seed at once, ``vmap``-ped over the seeds' keys (one compile for all).

    Returns ``(trainer, states, history, seconds)``; ``states`` has a leading seed axis (use
    :func:`seed_slice`), every history array is ``(n_seeds, iterations)``."""
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    trainer = make_trainer(cfg, motions) if trainer is None else trainer
    keys = jnp.stack([jax.random.key_data(jax.random.key(s)) for s in seeds])
    ts = jax.vmap(lambda k: trainer.init(jax.random.wrap_key_data(k)))(keys)
    run = jax.jit(jax.vmap(trainer.run, in_axes=(0, None)), static_argnums=1)
    ts, m, seconds = run_in_chunks(run, ts, cfg.total_iters, chunk, f"{cfg.algo} seeds {seeds}", progress, axis=1)
    return trainer, ts, {k: v[:, cfg.random_iters:] for k, v in m.items()}, seconds


def seed_slice(tree, i: int):
    """The ``i``-th seed's part of a pytree with a leading seed axis."""
    return jax.tree.map(lambda x: x[i], tree)
