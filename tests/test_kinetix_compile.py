"""Compile sharing: training runs of one config share one compiled PPO update, SFL scorer and
evaluator (the level pool is an argument, not a constant of the compiled code), and sharing changes
no number: a run on a warm cache equals the same run compiled from nothing, bit for bit."""

import contextlib
import dataclasses

import jax
import jax.monitoring
import numpy as np
import pytest

from rizzlib.kinetix import ahead
from rizzlib.kinetix.evaluate import compiled_evaluator, make_evaluator
from rizzlib.kinetix.generate import sample_levels
from rizzlib.kinetix.models import ModelConfig
from rizzlib.kinetix.ppo import PPOConfig, cached, compiled_update, init_runner, make_optimizer
from rizzlib.kinetix.presets import PRESETS
from rizzlib.kinetix.sfl import SFLConfig, compiled_success_rate
from rizzlib.kinetix.train import build, env_config_for, train
from rizzlib.kinetix.types import EnvParams

TINY = dataclasses.replace(
    PRESETS.smoke,
    model=ModelConfig(embed=16, heads=4, qkv=8, depth=1, mlp_depth=1, mlp_width=16),
    ppo=PPOConfig(num_envs=4, num_steps=8, num_minibatches=2, update_epochs=1, lr=3e-4, gamma=0.99),
    sfl=SFLConfig(buffer_size=2, num_scored=4, score_steps=8, update_every=2, score_batch=4),
    num_updates=3, pool_size=6, num_eval_levels=3, eval_attempts=2, eval_every=3)
FACTORIES = (compiled_update, compiled_success_rate, compiled_evaluator)


def _clear():
    for f in FACTORIES:
        f.cache_clear()
    ahead.clear()


@contextlib.contextmanager
def _count_traces():
    """Names of the functions jax traces to a jaxpr inside the block (one entry per trace)."""
    names = []

    def listener(event, duration, **kw):
        if event == "/jax/core/compile/jaxpr_trace_duration":
            names.append(kw.get("fun_name"))

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield names
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def _avals(tree):
    """(shape, dtype, weak_type) of every leaf: what jit's cache keys on."""
    return [(a.shape, a.dtype, a.weak_type) for a in map(jax.typeof, jax.tree.leaves(tree))]


def test_the_state_an_update_returns_has_the_types_it_started_with():
    """A fresh runner and the one an update returns have equal tree structures and leaf types
    (dtype and weak type included), so the second update reuses the first one's compile. With flax's
    Python int ``step`` the first update was traced and compiled twice (checked by tracing only)."""
    env, net = build(TINY)
    levels = sample_levels(env_config_for(TINY), 2, seed=3, noop_filter=False)
    runner = init_runner(jax.random.key(0), net, env, jax.tree.map(lambda x: x[0], levels), TINY.ppo)
    update = compiled_update(net, env.config, TINY.ppo, EnvParams())
    ids = np.zeros(TINY.ppo.num_envs, np.int32)
    out, _ = jax.eval_shape(update, runner, levels, ids)
    assert jax.tree.structure(out) == jax.tree.structure(runner)
    assert [(s.shape, s.dtype, s.weak_type) for s in jax.tree.leaves(out)] == _avals(runner)
    # the wrong answer this guards against: a Python int step is a weak-typed scalar
    assert _avals(runner.train_state.replace(step=0).step) != _avals(out.train_state.step)


def _leaves_equal(a, b):
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in
               zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


def test_cached_keys_by_value_and_falls_back_for_unhashable_arguments():
    calls = []

    @cached
    def make(a, b):
        calls.append((a, b))
        return object()

    assert make(1, (2, 3)) is make(1, (2, 3))
    assert make(1, (2, 4)) is not make(1, (2, 3))
    assert make(1, [2]) is not make(1, [2])  # a list cannot be a key: a fresh object each time
    assert len(calls) == 4
    # equal configs give the same network and optimizer objects, so train states have equal treedefs
    assert build(TINY)[1] is build(dataclasses.replace(TINY, seed=5))[1]
    assert make_optimizer(TINY.ppo) is make_optimizer(dataclasses.replace(TINY.ppo))


def test_evaluators_of_equal_settings_share_one_compiled_function():
    _clear()
    env, net = build(TINY)
    make_evaluator(env, net)
    make_evaluator(build(TINY)[0], net, EnvParams())  # equal env config and params: the same function
    assert compiled_evaluator.cache_info().misses == 1 and compiled_evaluator.cache_info().hits == 1
    make_evaluator(env, net, EnvParams(max_timesteps=17))
    make_evaluator(env, net, greedy=True)
    assert compiled_evaluator.cache_info().misses == 3  # other env params or greedy: other functions


@pytest.mark.slow
def test_runs_of_one_config_share_compiles_and_match_a_cold_compile():
    """SFL and uniform on one pool, then uniform on another pool of the same shape: one compiled update
    (traced once), one scorer, one evaluator. The last run, on a warm cache, equals the same run after
    every cache is cleared (a fresh trace and compile), bit for bit."""
    envc = env_config_for(TINY)
    levels = sample_levels(envc, 2 * TINY.pool_size + TINY.num_eval_levels, seed=2, noop_filter=False)
    pool_a = jax.tree.map(lambda x: x[:TINY.pool_size], levels)
    pool_b = jax.tree.map(lambda x: x[TINY.pool_size:2 * TINY.pool_size], levels)
    ev = jax.tree.map(lambda x: x[2 * TINY.pool_size:], levels)
    _clear()
    with _count_traces() as traced:
        train(TINY, "sfl", pool_a, ev, progress=False)
        train(TINY, "uniform", pool_a, ev, progress=False)
        warm = train(dataclasses.replace(TINY, seed=1), "uniform", pool_b, ev, progress=False)
    assert [f.cache_info().misses for f in FACTORIES] == [1, 1, 1]
    env, net = build(TINY)
    update = compiled_update(net, envc, TINY.ppo, EnvParams())
    # one trace and one compile of the update for the three runs (was two: flax's Python int step)
    assert update._cache_size() == 1
    # the scorer is the evaluator's rollout with score_steps steps: two rollouts (8 and 256 steps)
    assert traced.count("update") == 1 and traced.count("run") == 2 and traced.count("rate") == 0, traced
    _clear()
    jax.clear_caches()
    cold = train(dataclasses.replace(TINY, seed=1), "uniform", pool_b, ev, progress=False)
    assert _leaves_equal(warm.params, cold.params)
    assert warm.history == cold.history


@pytest.mark.slow
@pytest.mark.parametrize("scale", ["smoke", "cpu"])
def test_jitted_init_equals_the_eager_init(scale):
    """init_runner's jitted network init gives the parameters flax's eager init gives, bit for bit
    (so the shipped checkpoints' configs and every recorded run start from the same weights)."""
    from rizzlib.kinetix.builtin import load_builtin_level
    from rizzlib.kinetix.ppo import compiled_init

    cfg = PRESETS(scale)
    env, net = build(cfg)
    level, _ = load_builtin_level("s/lander")
    key = jax.random.key(11)
    eager = net.init(key, env.reset(None, level)[0])
    assert _leaves_equal(compiled_init(net, env.config)(key, level), eager)
