"""FB / FB-CPR agent, training loop, buffers, checkpoints, TD3 oracle and boundary errors."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rizzlib.fbcpr import checkpoint, evaluate, infer, presets, tasks, td3
from rizzlib.fbcpr.agent import make_agent
from rizzlib.fbcpr.buffer import (
    Transitions,
    replay_add,
    replay_init,
    replay_sample,
    zbuffer_add,
    zbuffer_init,
    zbuffer_sample,
)
from rizzlib.fbcpr.dataset import make_dataset
from rizzlib.fbcpr.train import make_trainer

TINY = dataclasses.replace(presets.preset("smoke"), n_motions=20, motion_len=30, z_dim=8, width=16, b_width=16,
                           disc_width=16, batch=32, n_envs=4, env_steps_per_iter=2, updates_per_iter=2,
                           n_updates=10, random_iters=2, buffer_size=500, episode_len=20, zbuffer_size=64)


@pytest.fixture(scope="module")
def motions():
    return make_dataset(TINY.n_motions, TINY.motion_len, seed=0)


@pytest.fixture(scope="module")
def fresh():
    """An FB-CPR agent of TINY and its untrained parameters (init once: it compiles every layer)."""
    agent = make_agent(TINY)
    return agent, agent.init(jax.random.key(3)).params


@pytest.fixture(scope="module")
def trained(motions):
    """A few iterations of the tiny FB-CPR loop, twice with one seed and once with another."""
    tr = make_trainer(TINY, motions)
    runs = []
    for seed in (0, 0, 1):
        ts, m = tr.run(tr.init(jax.random.key(seed)), 6)
        runs.append((ts, jax.device_get(m)))
    return tr, runs


@pytest.mark.slow  # compiles the whole loop: minutes on a shared 2-core machine
def test_loop_runs_updates_and_b_on_sphere(trained):
    tr, runs = trained
    ts, m = runs[0]
    assert np.all(np.isnan(m["fb_loss"][:2])) and np.all(np.isfinite(m["fb_loss"][2:]))  # random phase first
    assert int(ts.agent.step) == 4 * TINY.updates_per_iter
    assert int(ts.replay.size) == 6 * TINY.n_envs * TINY.env_steps_per_iter
    b = tr.agent.backward(ts.agent.params, jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (50, 4)),
                                                      jnp.float32))
    np.testing.assert_allclose(jnp.linalg.norm(b, axis=-1), np.sqrt(TINY.z_dim), rtol=1e-5)
    assert int(ts.agent.zbuf.size) == min(TINY.zbuffer_size, 8 * TINY.batch)
    for k in ("disc_loss", "critic_loss", "actor_loss", "ortho_loss", "q_fb", "q_reg", "disc_acc"):
        assert np.all(np.isfinite(m[k][2:])), k


@pytest.mark.slow  # compiles the whole loop: minutes on a shared 2-core machine
def test_same_seed_identical_different_seed_differs(trained):
    _, runs = trained
    (ts0, m0), (ts1, m1), (ts2, m2) = runs
    for k in m0:
        np.testing.assert_array_equal(m0[k], m1[k])
    jax.tree.map(np.testing.assert_array_equal, ts0.agent.params, ts1.agent.params)
    assert not np.array_equal(m0["fb_loss"][2:], m2["fb_loss"][2:])
    assert not np.array_equal(np.asarray(ts0.z), np.asarray(ts2.z))


@pytest.mark.slow  # compiles the whole loop: minutes on a shared 2-core machine
def test_plain_fb_has_no_discriminator(motions):
    cfg = TINY.as_fb()
    assert cfg.alpha == TINY.alpha and not cfg.use_cpr and cfg.goal_ratio == 0.5 and cfg.relabel_ratio == 1.0
    tr = make_trainer(cfg, motions)
    ts, m = tr.run(tr.init(jax.random.key(0)), 3)
    assert set(ts.agent.params) == {"f", "b", "actor"}
    assert "disc_loss" not in m and np.all(np.isfinite(np.asarray(m["fb_loss"])[2:]))


@pytest.mark.slow  # compiles the whole loop: minutes on a shared 2-core machine
def test_update_uses_stored_z_for_negatives_and_relabels(motions):
    """With relabel_ratio = 0 the FB step trains on the stored z; with 1 on the mixed z: losses differ."""
    key = jax.random.key(0)
    rng = np.random.default_rng(0)
    n = TINY.batch
    z = np.asarray(jax.vmap(lambda v: jnp.sqrt(TINY.z_dim) * v / jnp.linalg.norm(v))(
        jnp.asarray(rng.normal(size=(n, TINY.z_dim)), jnp.float32)))
    on = Transitions(*(jnp.asarray(a, jnp.float32) for a in (rng.uniform(-1, 1, (n, 4)), rng.uniform(-1, 1, (n, 2)),
                                                              rng.uniform(-1, 1, (n, 4)), z, np.zeros(n))))
    segs = jnp.asarray(motions.observations[:4, :9])
    out = {}
    for ratio in (0.0, 1.0):
        ag = make_agent(dataclasses.replace(TINY, relabel_ratio=ratio))
        _, m = jax.jit(ag.update)(ag.init(key), on, segs, key)
        out[ratio] = float(m["fb_loss"])
    assert out[0.0] != out[1.0]


def test_replay_fifo_and_zbuffer():
    buf = replay_init(5, 4, 2, 3)
    for i in range(3):
        rows = jnp.full((2, 1), float(i))
        batch = Transitions(jnp.tile(rows, (1, 4)), jnp.tile(rows, (1, 2)), jnp.tile(rows, (1, 4)),
                            jnp.tile(rows, (1, 3)), rows[:, 0])
        buf = replay_add(buf, batch)
    assert int(buf.size) == 5 and int(buf.ptr) == 1
    np.testing.assert_array_equal(buf.data.obs[:, 0], [2, 0, 1, 1, 2])  # batch 2 wrapped to slots 4, 0
    s = replay_sample(buf, jax.random.key(0), 100)
    assert set(np.asarray(s.obs[:, 0]).tolist()) == {0.0, 1.0, 2.0}
    zb = zbuffer_init(4, 2)
    fallback = jnp.full((3, 2), 7.0)
    np.testing.assert_array_equal(zbuffer_sample(zb, jax.random.key(0), fallback), fallback)
    zb = zbuffer_add(zb, jnp.arange(12.0).reshape(6, 2))
    np.testing.assert_array_equal(np.sort(np.asarray(zb.z[:, 0])), [4, 6, 8, 10])
    assert int(zb.size) == 4


def test_checkpoint_roundtrip(tmp_path, fresh):
    """Every parameter of an FB-CPR agent (all five nets), the config, extra JSON and named arrays
    come back bit for bit from the safetensors file."""
    _, params = fresh
    assert set(params) == {"f", "b", "actor", "critic", "disc"}
    arr = np.arange(12.0).reshape(3, 4)
    checkpoint.save(tmp_path / "c.safetensors", params, TINY, extra={"note": 1}, arrays={"inference_states": arr})
    p2, cfg2, extra, arrays = checkpoint.load(tmp_path / "c.safetensors")
    assert cfg2 == TINY and extra == {"note": 1}
    np.testing.assert_array_equal(arrays["inference_states"], arr)
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(params), p2)


def test_bad_inputs_are_clear_errors(motions, fresh):
    """Untrained parameters (no loop compile, so this runs in CI): every boundary error names the
    argument; the trainer refuses empty data and data carrying actions before building anything."""
    agent, params = fresh
    z = np.full((2, TINY.z_dim), 1.0)  # norm √d
    a = evaluate.act(agent, params, np.zeros((2, 4)), z)
    assert a.shape == (2, 2) and np.all(np.abs(a) <= 1.0)
    with pytest.raises(ValueError, match=r"obs must have shape \(4,\) or \(N, 4\)"):
        evaluate.act(agent, params, np.zeros((2, 5)), z)
    with pytest.raises(ValueError, match="z must lie on the sphere"):
        evaluate.act(agent, params, np.zeros((2, 4)), 2 * z)
    with pytest.raises(ValueError, match="z must have last dimension z_dim"):
        evaluate.act(agent, params, np.zeros((2, 4)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="same n"):
        evaluate.act(agent, params, np.zeros((3, 4)), z)
    for bad in (np.zeros((0, 4)), np.zeros((10, 5)), np.zeros(4)):
        with pytest.raises(ValueError, match=r"inference_states must be a non-empty \(N, 4\)"):
            evaluate.reward_prompt(agent, params, "move-E", bad)
    with pytest.raises(ValueError, match="task"):
        evaluate.reward_prompt(agent, params, "fly", np.zeros((10, 4)))
    with pytest.raises(ValueError, match="actions were appended"):
        evaluate.evaluate_tracking(agent, params, np.concatenate([motions.observations[:, :-1],
                                                                  motions.debug_actions], -1))
    with pytest.raises(ValueError, match="observations only"):
        evaluate.evaluate_tracking(agent, params, {"observations": motions.observations})
    with pytest.raises(ValueError, match="empty"):
        make_trainer(TINY, np.zeros((0, 30, 4)))
    with pytest.raises(ValueError, match="observations only"):
        make_trainer(TINY, {"observations": motions.observations, "actions": motions.debug_actions})
    with pytest.raises(ValueError, match="actions were appended"):
        make_trainer(TINY, np.concatenate([motions.observations[:, :-1], motions.debug_actions], -1))
    with pytest.raises(ValueError, match="seq_len"):
        make_trainer(TINY, motions.observations[:, :5])


def test_update_same_key_bit_identical_other_key_differs(fresh, motions):
    """Spec oracle 11 in CI (the whole loop's version is slow): five chained FB-CPR updates from the
    same state and keys give bit-identical losses and parameters; another key gives other losses."""
    agent, _ = fresh
    rng = np.random.default_rng(0)
    n = TINY.batch
    z = rng.normal(size=(n, TINY.z_dim))
    z = np.sqrt(TINY.z_dim) * z / np.linalg.norm(z, axis=-1, keepdims=True)
    on = Transitions(*(jnp.asarray(a, jnp.float32) for a in (rng.uniform(-1, 1, (n, 4)), rng.uniform(-1, 1, (n, 2)),
                                                              rng.uniform(-1, 1, (n, 4)), z, np.zeros(n))))
    segs = jnp.asarray(motions.observations[: n // TINY.seq_len, : TINY.seq_len + 1])
    update = jax.jit(agent.update)

    def five(seed):
        st, logs = agent.init(jax.random.key(3)), []
        for k in jax.random.split(jax.random.key(seed), 5):
            st, m = update(st, on, segs, k)
            logs.append(jax.device_get(m))
        return st, logs

    (s0, m0), (s1, m1), (_, m2) = five(0), five(0), five(1)
    assert int(s0.step) == 5 and all(np.isfinite(v) for m in m0 for v in m.values())
    for a, b in zip(m0, m1):
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(s0.params), jax.device_get(s1.params))
    assert not np.array_equal([m["fb_loss"] for m in m0], [m["fb_loss"] for m in m2])


def test_goal_suite_takes_any_goals_and_metric(fresh):
    """evaluate_goals with two chosen goal observations and the default or a custom metric: one row
    per goal, each the mean of the metric over starts of the rollout under z = proj(B(g))."""
    agent, params = fresh
    starts = tasks.sample_starts(jax.random.key(0), 3, "fixed")
    goals = np.array([[0.5, 0.5, 0.0, 0.0], [-0.5, -0.5, 0.0, 0.0]], np.float32)
    out = evaluate.evaluate_goals(agent, params, starts, horizon=5, goals=goals)
    assert out["per_goal"].shape == (2, 3) and out["example_states"].shape == (2, 6, 4)
    z = jnp.broadcast_to(infer.goal_to_z(agent.backward(params, jnp.asarray(goals[1:]))), (5, 3, TINY.z_dim))
    states, _ = evaluate.rollout(agent, params, starts, z)
    want = [tasks.goal_metrics(p, goals[1]) for p in np.asarray(states[:, 1:])]
    np.testing.assert_allclose(out["per_goal"][1], [np.mean([m[k] for m in want])
                                                    for k in ("success", "proximity", "final_dist")], rtol=1e-6)
    seen = []
    custom = evaluate.evaluate_goals(agent, params, starts, 5, goals=goals,
                                     metric=lambda p, g: seen.append(p.shape) or {"success": 1.0, "proximity": 0.5,
                                                                                   "final_dist": float(g[0])})
    assert seen == [(5, 4)] * 6 and custom["per_goal"].tolist() == [[1.0, 0.5, 0.5], [1.0, 0.5, -0.5]]
    for bad in (np.zeros((0, 4)), np.zeros((2, 5)), np.zeros(4)):
        with pytest.raises(ValueError, match=r"goals must be a non-empty \(G, 4\)"):
            evaluate.evaluate_goals(agent, params, starts, 5, goals=bad)


def test_config_validation():
    with pytest.raises(ValueError, match="multiple of seq_len"):
        dataclasses.replace(TINY, batch=30)
    with pytest.raises(ValueError, match="algo"):
        dataclasses.replace(TINY, algo="sac")
    with pytest.raises(ValueError, match="goal_ratio"):
        dataclasses.replace(TINY, goal_ratio=0.5, expert_ratio=0.6)
    with pytest.raises(ValueError, match="gamma"):
        dataclasses.replace(TINY, gamma=1.0)
    with pytest.raises(ValueError, match="task"):
        td3.TD3Config(task="fly")


@pytest.mark.slow  # compiles the whole loop: minutes on a shared 2-core machine
def test_evaluation_suites_run(trained, motions):
    tr, runs = trained
    params = runs[0][0].agent.params
    starts = tasks.sample_starts(jax.random.key(0), 3, "fixed")
    infer_states = runs[0][0].replay.data.next_obs[:200]
    rew = evaluate.evaluate_rewards(tr.agent, params, infer_states, starts, ("reach-room-1", "move-E"), horizon=10)
    assert rew["reach-room-1"]["states"].shape == (3, 11, 4) and 0 <= rew["move-E"]["return"] <= 10
    goals = evaluate.evaluate_goals(tr.agent, params, starts, horizon=10)
    assert goals["per_goal"].shape == (12, 3) and 0 <= goals["success"] <= 1
    track = evaluate.evaluate_tracking(tr.agent, params, motions.observations[:3])
    assert track["emd"] >= 0 and track["states"].shape == (3, 31, 4)


@pytest.mark.slow  # compiles the whole loop: minutes on a shared 2-core machine
def test_td3_oracle_runs():
    cfg = td3.TD3Config(task="move-E", width=16, batch=32, n_envs=4, env_steps_per_iter=2, updates_per_iter=2,
                        n_updates=8, random_iters=1, buffer_size=200, episode_len=20)
    pa, policy, hist = td3.train_td3(cfg)
    assert np.all(np.isfinite(hist["critic_loss"]))
    ret = td3.td3_return(policy, pa, "move-E", tasks.sample_starts(jax.random.key(0), 2, "fixed"), 10)
    assert 0.0 <= ret <= 10.0


@pytest.mark.slow
def test_gpu_preset_agent_takes_one_update_on_cpu():
    """The gpu preset's networks (walker sizes: obs 17, action 6) take one jitted update; the full
    loop with the MJX walker is tests/test_fbcpr_walker.py."""
    cfg = presets.preset("gpu")
    assert cfg.width == 1024 and cfg.z_dim == 100 and cfg.q_loss_coef == 0.1 and cfg.env == "walker"
    ag = make_agent(cfg)
    st = ag.init(jax.random.key(0))
    n = cfg.batch
    rng = np.random.default_rng(0)
    z = rng.normal(size=(n, cfg.z_dim))
    z = np.sqrt(cfg.z_dim) * z / np.linalg.norm(z, axis=-1, keepdims=True)
    on = Transitions(*(jnp.asarray(a, jnp.float32) for a in (rng.normal(size=(n, 17)), rng.uniform(-1, 1, (n, 6)),
                                                              rng.normal(size=(n, 17)), z, np.zeros(n))))
    segs = jnp.asarray(rng.normal(size=(n // cfg.seq_len, cfg.seq_len + 1, 17)), jnp.float32)
    st2, m = jax.jit(ag.update)(st, on, segs, jax.random.key(1))
    assert int(st2.step) == 1 and all(np.isfinite(float(v)) for v in m.values())


@pytest.mark.slow
def test_end_to_end_smoke_goal_reaching_beats_random():
    """Spec oracle 12: 500 updates of the smoke preset; finite losses, discriminator accuracy > 0.5,
    and goal reaching with z = proj(B(g)) for goals near the start beats uniform random actions."""
    from rizzlib.fbcpr.train import train

    cfg = presets.preset("smoke")
    data = make_dataset(cfg.n_motions, cfg.motion_len, seed=0)
    tr, ts, hist, _ = train(cfg, data, progress=False)
    assert all(np.all(np.isfinite(v)) for v in hist.values())
    assert np.mean(hist["disc_acc"][-10:]) > 0.5
    starts = tasks.sample_starts(jax.random.key(5), 16, "fixed")
    goals = np.asarray(starts[:, :2]) + np.array([0.2, 0.0])
    g_states = jnp.asarray(np.concatenate([goals, np.zeros_like(goals)], 1), jnp.float32)
    zg = infer.goal_to_z(tr.agent.backward(ts.agent.params, g_states))
    states, _ = evaluate.rollout(tr.agent, ts.agent.params, starts, jnp.broadcast_to(zg, (100, 16, cfg.z_dim)))
    d_policy = np.linalg.norm(np.asarray(states[:, 1:, :2]) - goals[:, None], axis=-1).min(1).mean()
    acts = jax.random.uniform(jax.random.key(6), (100, 16, 2), minval=-1, maxval=1)
    from rizzlib.fbcpr.env import rollout as env_rollout
    rand = np.asarray(env_rollout(starts, acts))
    d_random = np.linalg.norm(rand[1:, :, :2] - goals[None], axis=-1).min(0).mean()
    assert d_policy < d_random


@pytest.mark.slow  # compiles the whole loop twice
def test_train_and_train_seeds_drivers(motions):
    from rizzlib.fbcpr.train import seed_slice, train, train_seeds

    cfg = dataclasses.replace(TINY, n_updates=4)
    tr, ts, hist, sec = train(cfg, motions, progress=False)
    assert sec > 0 and hist["fb_loss"].shape == (2,) and np.all(np.isfinite(hist["fb_loss"]))
    with pytest.raises(ValueError, match="different config"):
        train(dataclasses.replace(cfg, batch=16), motions, progress=False, trainer=tr)
    tr2, tss, hist2, _ = train_seeds(cfg, motions, [0, 1], progress=False, trainer=tr)
    assert hist2["fb_loss"].shape == (2, 2) and np.all(np.isfinite(hist2["fb_loss"]))
    assert not np.array_equal(np.asarray(seed_slice(tss, 0).z), np.asarray(seed_slice(tss, 1).z))
    with pytest.raises(ValueError, match="seeds"):
        train_seeds(cfg, motions, [], progress=False)
