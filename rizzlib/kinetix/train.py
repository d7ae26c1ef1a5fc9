"""Training a generalist: PPO over random levels with SFL or uniform (domain-randomisation) levels.

:func:`train` runs the jitted PPO update in a Python loop (tqdm), refreshing the SFL buffer every
``sfl.update_every`` updates and evaluating on a held-out random set every ``eval_every`` updates.
:func:`save_checkpoint` / :func:`load_checkpoint` store the network with safetensors.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from concurrent.futures import Future

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from rizzlib.core.validate import check_choice
from rizzlib.kinetix.ahead import compile_ahead
from rizzlib.kinetix.distributions import num_outputs
from rizzlib.kinetix.env import KinetixEnv
from rizzlib.kinetix.evaluate import compiled_evaluator, make_evaluator
from rizzlib.kinetix.models import ModelConfig, make_network
from rizzlib.kinetix.ppo import PPOConfig, Runner, compiled_init, compiled_update, init_runner, make_update
from rizzlib.kinetix.presets import KinetixConfig
from rizzlib.kinetix.sfl import (
    SFLConfig,
    choose_levels,
    compiled_success_rate,
    make_success_rate,
    refresh_buffer,
    take_levels,
)
from rizzlib.kinetix.types import EnvConfig, EnvParams, Level

METHODS = ("sfl", "uniform")


@dataclasses.dataclass
class TrainResult:
    """Output of :func:`train`: final parameters, the curves and what SFL kept."""

    params: dict
    history: dict
    buffer_p: list
    wall_seconds: float


def env_config_for(config: KinetixConfig) -> EnvConfig:
    obs = "symbolic_entity" if config.model.kind == "transformer" else "symbolic_flat"
    return EnvConfig.for_size(config.size, observation=obs)


def build(config: KinetixConfig):
    """(env, network) for a config."""
    env = KinetixEnv(env_config_for(config))
    return env, make_network(config.model, num_outputs(env.config))


def compile_training(config: KinetixConfig, method: str, pool: Level, eval_levels: Level | None = None,
                     params: EnvParams | None = None, wait: bool = True):
    """Compile every program :func:`train` with these arguments runs (network init, PPO update, SFL
    scorer, evaluator) in background threads (:func:`rizzlib.kinetix.ahead.compile_ahead`).

    :func:`train` calls it itself (``wait=True``); call it earlier with ``wait=False`` to compile
    while other work goes on. Returns the list of Futures (done when ``wait``).
    """
    check_choice("method", method, METHODS)
    params = EnvParams() if params is None else params
    env, net = build(config)
    key = jax.random.key(config.seed)
    first = jax.tree.map(lambda x: x[0], pool)
    init = compile_ahead(compiled_init(net, env.config), key, first)
    futures = [init]

    def rest():
        # the update and the scorer need the parameters' types: wait for the init, then start them
        init.result()
        runner = init_runner(key, net, env, first, config.ppo)
        ids = jnp.zeros(config.ppo.num_envs, jnp.int32)
        out = [compile_ahead(compiled_update(net, env.config, config.ppo, params), runner, pool, ids)]
        if method == "sfl" and config.sfl.sampled_envs_ratio > 0:
            scored = take_levels(pool, jnp.zeros(config.sfl.score_batch, jnp.int32))
            out.append(compile_ahead(compiled_success_rate(net, env.config, config.sfl.score_steps, params).rollout,
                                     "agent", runner.train_state.params, key, scored))
        if eval_levels is not None:
            envs = jax.tree.map(lambda x: np.repeat(np.asarray(x), config.eval_attempts, axis=0), eval_levels)
            out.append(compile_ahead(compiled_evaluator(env.config, net, params, False), "agent",
                                     runner.train_state.params, key, envs))
        return out

    if wait:
        futures += rest()
        for f in futures:
            f.result()
        return futures
    waiter = Future()

    def start():
        try:
            waiter.set_result([f.result() for f in rest()])
        except BaseException as e:  # noqa: BLE001 - handed to whoever waits on the Future
            waiter.set_exception(e)

    threading.Thread(target=start, daemon=True).start()
    return futures + [waiter]


def train(config: KinetixConfig, method: str, pool: Level, eval_levels: Level | None = None,
          init_params=None, level_ids_fn=None, progress: bool = True, desc: str | None = None,
          params: EnvParams | None = None, max_seconds: float | None = None) -> TrainResult:
    """Train one agent.

    Args:
        config: sizes and hyper-parameters.  method: ``"sfl"`` or ``"uniform"``.
        pool: batched training levels ("fresh" levels are drawn from it uniformly).
        eval_levels: held-out batched levels for the solve-rate curve (optional).
        init_params: start from these network parameters (fine-tuning).
        level_ids_fn: override of the per-update level choice ``f(key) -> (num_envs,) ids``.
        max_seconds: stop after the update during which this wall-clock budget ran out.
    """
    check_choice("method", method, METHODS)
    from tqdm.auto import tqdm

    params = EnvParams() if params is None else params
    compile_training(config, method, pool, eval_levels, params)  # every program, before the first update
    env, net = build(config)
    num_pool = int(pool.polygon_role.shape[0])
    key = jax.random.key(config.seed)
    k_init, k_loop = jax.random.split(key)
    runner = init_runner(k_init, net, env, jax.tree.map(lambda x: x[0], pool), config.ppo)
    if init_params is not None:
        runner = Runner(train_state=runner.train_state.replace(params=init_params), key=runner.key)
    update = make_update(net, env, pool, config.ppo, params)
    sfl = config.sfl if method == "sfl" else dataclasses.replace(config.sfl, sampled_envs_ratio=0.0)
    rate = make_success_rate(net, env, pool, sfl.score_steps, params) if sfl.sampled_envs_ratio > 0 else None
    evaluate = make_evaluator(env, net, params) if eval_levels is not None else None
    hist = {k: [] for k in ("update", "env_steps", "reward", "success", "episodes", "entropy", "loss")}
    hist.update(eval_update=[], eval_solve=[], buffer_mean_p=[], buffer_update=[])
    buffer_ids, buffer_p = None, []
    steps_per_update = config.ppo.num_envs * config.ppo.num_steps
    t0 = time.time()
    bar = tqdm(range(config.num_updates), desc=desc or method, disable=not progress)
    for u in bar:
        k_loop, k_buf, k_lv, k_ev = jax.random.split(k_loop, 4)
        if rate is not None and u % sfl.update_every == 0:
            buffer_ids, _, p_all = refresh_buffer(rate, runner.train_state.params, k_buf, num_pool, sfl)
            chosen_p = np.asarray(p_all)[np.argsort(-(p_all * (1 - p_all) + 0.001 * p_all), kind="stable")[:sfl.buffer_size]]
            buffer_p.append(chosen_p.tolist())
            hist["buffer_mean_p"].append(float(chosen_p.mean()))
            hist["buffer_update"].append(u)
        if level_ids_fn is not None:
            ids = level_ids_fn(k_lv)
        else:
            ids = choose_levels(k_lv, config.ppo.num_envs, num_pool, buffer_ids, sfl.sampled_envs_ratio)
        runner, m = update(runner, ids)
        m = jax.tree.map(float, m)
        hist["update"].append(u + 1)
        hist["env_steps"].append((u + 1) * steps_per_update)
        hist["reward"].append(m["reward"])
        hist["success"].append(m["goals"] / max(m["episodes"], 1.0))
        hist["episodes"].append(m["episodes"])
        hist["entropy"].append(m["entropy"])
        hist["loss"].append(m["loss"])
        if evaluate is not None and ((u + 1) % config.eval_every == 0 or u + 1 == config.num_updates):
            solve = evaluate("agent", runner.train_state.params, k_ev, eval_levels, config.eval_attempts)
            hist["eval_update"].append(u + 1)
            hist["eval_solve"].append(float(np.mean(solve)))
        bar.set_postfix(success=f"{hist['success'][-1]:.2f}")
        if max_seconds is not None and time.time() - t0 > max_seconds:
            if evaluate is not None and hist["eval_update"][-1:] != [u + 1]:
                solve = evaluate("agent", runner.train_state.params, k_ev, eval_levels, config.eval_attempts)
                hist["eval_update"].append(u + 1)
                hist["eval_solve"].append(float(np.mean(solve)))
            break
    return TrainResult(params=runner.train_state.params, history=hist, buffer_p=buffer_p,
                       wall_seconds=time.time() - t0)


# ---------------------------------------------------------------------------------------------- checkpoints
def save_checkpoint(path: str, net_params, config: KinetixConfig, extra: dict | None = None) -> None:
    """Write the network parameters with safetensors; the config (and ``extra``) go in the metadata."""
    from safetensors.numpy import save_file

    flat = traverse_util.flatten_dict(jax.tree.map(np.asarray, net_params), sep="/")
    meta = {"config": json.dumps(config_to_dict(config)), "extra": json.dumps(extra or {})}
    save_file({k: np.ascontiguousarray(v) for k, v in flat.items()}, path, metadata=meta)


def load_checkpoint(path: str):
    """(net_params, config, extra) from :func:`save_checkpoint`."""
    from safetensors import safe_open

    with safe_open(path, framework="numpy") as f:
        meta = f.metadata()
        flat = {k: f.get_tensor(k) for k in f.keys()}
    params = traverse_util.unflatten_dict(flat, sep="/")
    params = jax.tree.map(jnp.asarray, params)
    return params, config_from_dict(json.loads(meta["config"])), json.loads(meta.get("extra", "{}"))


def config_to_dict(config: KinetixConfig) -> dict:
    return dataclasses.asdict(config)


def config_from_dict(d: dict) -> KinetixConfig:
    d = dict(d)
    return KinetixConfig(model=ModelConfig(**d.pop("model")), ppo=PPOConfig(**d.pop("ppo")),
                         sfl=SFLConfig(**d.pop("sfl")), **d)


def save_levels(path: str, levels: Level) -> None:
    """Write a batched Level with safetensors (one tensor per leaf, named by its path)."""
    from safetensors.numpy import save_file

    leaves = jax.tree_util.tree_leaves_with_path(levels)
    save_file({jax.tree_util.keystr(k): np.ascontiguousarray(np.asarray(v)) for k, v in leaves}, path)


def load_levels(path: str, config: EnvConfig) -> Level:
    """Read levels written by :func:`save_levels` for an EnvConfig of the same size."""
    from safetensors.numpy import load_file

    from rizzlib.kinetix.levels import LevelBuilder

    data = load_file(path)
    template = LevelBuilder(config).build()
    paths = [jax.tree_util.keystr(k) for k, _ in jax.tree_util.tree_leaves_with_path(template)]
    missing = [p for p in paths if p not in data]
    if missing:
        raise ValueError(f"{path} is missing the level field {missing[0]}")
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(template), [jnp.asarray(data[p]) for p in paths])
