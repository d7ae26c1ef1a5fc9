"""The MJX walker of the gpu preset: rewards, state/observation maps, resets, physics against the
MuJoCo C engine, the dataset collection and one update of the gpu preset's full loop on the CPU."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("mujoco")
pytest.importorskip("mujoco.mjx")

from _repo import load_repo_module

from rizzlib.fbcpr import presets, walker  # noqa: E402
from rizzlib.fbcpr.envs import get_env  # noqa: E402


def test_spec_sizes_and_registry():
    spec = get_env("walker")
    assert (spec.obs_dim, spec.action_dim, spec.state_dim) == (17, 6, 18)
    assert spec.reward_tasks == walker.REWARD_TASKS
    m, _, _ = walker.model()
    assert (m.nq, m.nv, m.nu) == (9, 9, 6)
    assert get_env("pointmass").obs_dim == 4
    with pytest.raises(ValueError, match="env"):
        get_env("humanoid")


def test_observe_inverts_state_from_obs():
    o = jnp.asarray(np.random.default_rng(0).normal(size=(5, 17)), jnp.float32)
    s = walker.state_from_obs(o)
    assert s.shape == (5, 18) and np.all(np.asarray(s[:, 1]) == 0)  # rootx
    np.testing.assert_array_equal(np.asarray(walker.observe(s)), np.asarray(o))


def test_rewards_closed_forms():
    rng = np.random.default_rng(0)
    o = np.zeros((1, 17), np.float32)  # standing upright, at rest
    assert float(walker.reward_fn("stand")(o)[0]) == pytest.approx(1.0)
    assert float(walker.reward_fn("walk")(o)[0]) == pytest.approx(1 / 6)
    walking = o.copy()
    walking[0, walker.I_VX] = 1.0
    assert float(walker.reward_fn("walk")(walking)[0]) == pytest.approx(1.0)
    assert float(walker.reward_fn("walk-backward")(walking)[0]) == pytest.approx(1 / 6)
    half = o.copy()
    half[0, walker.I_VX] = 0.75  # halfway down the ramp of margin 0.5 below speed 1
    assert float(walker.reward_fn("walk")(half)[0]) == pytest.approx((5 * 0.5 + 1) / 6)
    fallen = o.copy()
    fallen[0, walker.I_ROOTZ] = -1.0  # torso at 0.3 m: below 1.2 - 0.6
    fallen[0, walker.I_ROOTY] = np.pi / 2
    assert float(walker.reward_fn("stand")(fallen)[0]) == pytest.approx(0.5 / 4)
    spin = o.copy()
    spin[0, walker.I_WY] = 5.0
    assert float(walker.reward_fn("flip")(spin)[0]) == pytest.approx(1.0)
    x = rng.normal(scale=3.0, size=(1000, 17)).astype(np.float32)
    for task in walker.REWARD_TASKS:
        r = np.asarray(walker.reward_fn(task)(x))
        assert r.shape == (1000,) and r.min() >= 0.0 and r.max() <= 1.0
    with pytest.raises(ValueError, match="task"):
        walker.reward_fn("swim")


def test_reset_regimes():
    reset = jax.jit(walker.reset, static_argnums=(1, 2))
    s = np.asarray(reset(jax.random.key(0), 64, "fixed"))
    assert s.shape == (64, 18)
    assert np.all(s[:, :2] == 0) and np.abs(s[:, 2:]).max() <= 0.1 + 1e-6
    assert np.all(s[:, 3:9] >= walker._LO - 1e-6) and np.all(s[:, 3:9] <= walker._HI + 1e-6)
    data = np.random.default_rng(0).normal(size=(3, 5, 17)).astype(np.float32) + 7.0
    s = np.asarray(reset(jax.random.key(1), 500, "data", data))
    from_data = np.abs(s[:, 0] - 7.0) < 5
    assert 0.7 < from_data.mean() < 0.9  # 80 % from the dataset
    flat = data.reshape(-1, 17)
    o = np.concatenate([s[from_data][:20, :1], s[from_data][:20, 2:]], axis=1)  # observe, in numpy
    assert np.all(np.any(np.all(np.isclose(o[:, None], flat[None]), axis=-1), axis=1))
    with pytest.raises(ValueError, match="data_obs"):
        walker.reset(jax.random.key(0), 2, "data")
    with pytest.raises(ValueError, match="init"):
        walker.reset(jax.random.key(0), 2, "mocap")


def test_goal_poses_are_held_out_frames_at_rest():
    rng = np.random.default_rng(0)
    motions = rng.normal(size=(3, 6, 17)).astype(np.float32)
    g = walker.goal_poses(motions, 7, seed=1)
    assert g.shape == (7, 17) and np.all(g[:, 8:] == 0)  # qvel zeroed
    frames = motions[:, 1:].reshape(-1, 17)  # never frame 0, each frame at most once
    idx = [int(np.flatnonzero(np.all(frames[:, :8] == row[:8], axis=1))[0]) for row in g]
    assert len(set(idx)) == 7
    np.testing.assert_array_equal(walker.goal_poses(motions, 7, seed=1), g)
    assert not np.array_equal(walker.goal_poses(motions, 7, seed=2), g)
    with pytest.raises(ValueError, match="n must"):
        walker.goal_poses(motions, 16)  # only 15 frames
    with pytest.raises(ValueError, match="motions must"):
        walker.goal_poses(motions[..., :4], 2)


def test_walker_goal_metrics_use_the_pose_only():
    """Distance over pitch and the six joint angles: height and velocities are ignored; success
    below 0.5 rad, proximity falling to 0 at 1.0 rad."""
    goal = np.zeros(17, np.float32)
    obs = np.zeros((3, 17), np.float32)
    obs[:, 0], obs[:, 8:] = 5.0, 3.0  # height and velocities far off: not measured
    obs[:, 2] = [1.2, 0.75, 0.3]  # right hip angle: pose distance 1.2, 0.75, 0.3
    m = walker.goal_metrics(obs, goal)
    assert m == pytest.approx({"success": 1.0, "proximity": (0.0 + 0.5 + 1.0) / 3, "final_dist": 0.3})
    assert walker.goal_metrics(obs[:2], goal)["success"] == 0.0


def _script():
    return load_repo_module("scripts/fbcpr_walker.py", "fbcpr_walker_script")


def test_expert_normalisation():
    norm = _script().normalise({"stand": 50.0, "walk": 10.0, "flip": 3.0, "run": 1.0}, {"stand": 100.0, "walk": 40.0,
                                                                                         "flip": 0.0})
    assert norm["per_task"] == {"stand": 0.5, "walk": 0.25}  # flip's top-line is 0, run has none
    assert norm["mean"] == pytest.approx(0.375)
    assert np.isnan(_script().normalise({"stand": 1.0}, {})["mean"])


@pytest.mark.slow
def test_mjx_step_matches_mujoco_c():
    """Ten control steps (100 physics steps) of MJX against mujoco.mj_step, random torques."""
    import mujoco

    m, _, _ = walker.model()
    rng = np.random.default_rng(0)
    s0 = np.asarray(walker.reset(jax.random.key(0), 1, "fixed"))[0]
    actions = rng.uniform(-1, 1, (10, 6)).astype(np.float32)
    d = mujoco.MjData(m)
    d.qpos[:], d.qvel[:] = s0[:9], s0[9:]
    ours = jnp.asarray(s0[None])
    step = jax.jit(walker.step)
    for a in actions:
        d.ctrl[:] = a
        for _ in range(walker.N_SUBSTEPS):
            mujoco.mj_step(m, d)
        ours = step(ours, jnp.asarray(a[None]))
        np.testing.assert_allclose(np.asarray(ours[0]), np.concatenate([d.qpos, d.qvel]), atol=2e-2, rtol=1e-2)


@pytest.mark.slow
def test_gpu_preset_builds_and_takes_one_update_on_cpu():
    """The gpu preset (walker, width 1024, d = 100, batch 1024) through the real loop: one iteration
    of MJX env steps and one update (envs and replay shrunk to fit a CPU; ~5 min on 2 cores)."""
    from rizzlib.fbcpr.train import make_trainer

    obs, acts = walker.collect(jax.random.key(0), lambda o: jnp.zeros((o.shape[0], 6)), 4, 20, 0.5)
    assert obs.shape == (4, 21, 17) and acts.shape == (4, 20, 6)
    assert np.all(np.isfinite(np.asarray(obs)))
    cfg = dataclasses.replace(presets.preset("gpu"), n_envs=4, env_steps_per_iter=1, updates_per_iter=1,
                              random_iters=0, buffer_size=2048)
    tr = make_trainer(cfg, np.asarray(obs))
    with pytest.raises(ValueError, match="actions were appended"):
        make_trainer(cfg, np.concatenate([np.asarray(obs)[:, 1:], np.asarray(acts)], -1))
    ts, m = tr.run(tr.init(jax.random.key(0)), 1)
    assert int(ts.agent.step) == 1 and int(ts.replay.size) == 4
    assert all(np.isfinite(float(v[0])) for v in m.values())


@pytest.mark.slow
def test_walker_script_both_stages_tiny_on_cpu(tmp_path):
    """scripts/fbcpr_walker.py end to end with tiny budgets and networks (18 min on a loaded 2-core
    machine: the MJX step compiles in both loops and in the experts' evaluation): TD3 experts give an observation-only dataset
    with every style and their top-line returns, then FB-CPR and FB train on it and are evaluated on
    every walker reward task (normalised by the experts), the goal suite and tracking of held-out
    motions (the results JSON is written)."""
    import json

    script = _script()
    data = script.make_data(n_motions=5, motion_len=12, expert_updates=4, episode_len=10, n_envs=4)
    assert data["obs"].shape == (5, 13, walker.OBS_DIM) and sorted(data["kinds"].tolist()) == [0, 1, 2, 3, 4]
    assert set(data["returns"]) == set(walker.REWARD_TASKS) and np.all(np.isfinite(data["obs"]))
    experts = {t: r["return"] for t, r in data["returns"].items()}
    assert all(0 <= v <= 10 for v in experts.values())  # rewards in [0, 1] over 10 steps
    cfg = dataclasses.replace(presets.preset("gpu"), width=16, trunk=1, b_width=16, b_layers=1, disc_width=16,
                              disc_layers=2, z_dim=8, batch=16, n_envs=4, env_steps_per_iter=2, updates_per_iter=2,
                              n_updates=4, random_iters=1, buffer_size=256, episode_len=10, zbuffer_size=64)
    out = tmp_path / "walker.json"
    res = script.run_train(cfg, data["obs"], out, n_infer=64, expert_returns=experts, ckpt_dir=tmp_path, command="x")
    assert set(res) == {"experts", "command", "fbcpr", "fb"} and json.loads(out.read_text()).keys() == res.keys()
    assert script.ckpt_path(tmp_path, "fbcpr", cfg.seed).exists() and script.ckpt_path(tmp_path, "fb", cfg.seed).exists()
    for algo in ("fbcpr", "fb"):
        r = res[algo]
        ev = r["eval"]
        assert set(ev["reward_returns"]) == set(walker.REWARD_TASKS)
        assert all(np.isfinite(v) for v in ev["reward_returns"].values())
        assert ev["normalised_returns"] == script.normalise(ev["reward_returns"], experts)["per_task"]
        assert 0 <= ev["goal_success"] <= 1 and 0 <= ev["goal_proximity"] <= 1 and ev["goal_final_dist"] >= 0
        assert ev["tracking_emd"] >= 0 and np.isfinite(ev["tracking_error"]) and r["n_updates"] == 4
    assert "disc_loss" in res["fbcpr"]["final_losses"] and "disc_loss" not in res["fb"]["final_losses"]


def test_walker_train_stage_checkpoints_and_resumes(tmp_path, monkeypatch):
    """run_train writes each algorithm's checkpoint (actor, B, config, inference buffer) and the
    results JSON; a second call with the same JSON and checkpoints trains nothing; a missing
    checkpoint is retrained (training and evaluation replaced by fakes: this checks the bookkeeping)."""
    import json
    from types import SimpleNamespace

    from rizzlib.fbcpr import checkpoint

    script = _script()
    calls = []
    params = {"actor": {"w": np.ones((2, 3), np.float32)}, "b": {"w": np.zeros((3,), np.float32)}}
    replay = SimpleNamespace(size=10, data=SimpleNamespace(next_obs=np.arange(170, dtype=np.float32).reshape(10, 17)))

    def fake_train(cfg, obs, progress=False):
        calls.append(cfg.algo)
        return None, SimpleNamespace(agent=SimpleNamespace(params=params), replay=replay), {"fb_loss": np.ones((1, 30))}, 1.5

    monkeypatch.setattr(script, "train", fake_train)
    monkeypatch.setattr(script, "evaluate_walker", lambda *a, **k: {"tracking_emd": 0.5})
    cfg = presets.preset("gpu")
    obs = np.zeros((5, 4, walker.OBS_DIM), np.float32)
    out = tmp_path / "res" / "walker.json"
    res = script.run_train(cfg, obs, out, ckpt_dir=tmp_path / "ck", command="python scripts/fbcpr_walker.py all")
    assert calls == ["fbcpr", "fb"] and json.loads(out.read_text()) == res
    assert res["command"] == "python scripts/fbcpr_walker.py all" and res["fb"]["seconds"] == 1.5
    p, c, extra, arrays = checkpoint.load(script.ckpt_path(tmp_path / "ck", "fbcpr", cfg.seed))
    np.testing.assert_array_equal(p["actor"]["w"], params["actor"]["w"])
    assert c.algo == "fbcpr" and c.z_dim == cfg.z_dim and extra["eval"] == {"tracking_emd": 0.5}
    assert arrays["inference_states"].shape == (10, walker.OBS_DIM)
    assert checkpoint.load(script.ckpt_path(tmp_path / "ck", "fb", cfg.seed))[1].algo == "fb"
    script.run_train(cfg, obs, out, ckpt_dir=tmp_path / "ck")
    assert calls == ["fbcpr", "fb"]  # resumed: nothing trained again
    script.ckpt_path(tmp_path / "ck", "fb", cfg.seed).unlink()
    script.run_train(cfg, obs, out, ckpt_dir=tmp_path / "ck")
    assert calls == ["fbcpr", "fb", "fb"]


def test_walker_all_stage_chains_data_then_train(tmp_path, monkeypatch):
    """``fbcpr_walker.py all`` writes the dataset (with its command and wall time), then trains on
    that very file with the experts' returns as top-lines and the command recorded (both stages
    replaced by fakes: this checks the wiring of the command line)."""
    import json
    import sys

    script = _script()
    obs = np.random.default_rng(0).normal(size=(5, 4, walker.OBS_DIM)).astype(np.float32)
    monkeypatch.setattr(script, "make_data", lambda *a, **k: {"obs": obs, "kinds": np.arange(5),
                                                              "returns": {"stand": {"return": 7.0}}})
    got = {}
    monkeypatch.setattr(script, "run_train", lambda cfg, o, json_path, progress, **k: got.update(obs=o, json=json_path, **k))
    data = tmp_path / "d.npz"
    monkeypatch.setattr(sys, "argv", ["fbcpr_walker.py", "all", "--out", str(data), "--json", str(tmp_path / "r.json"),
                                      "--ckpt-dir", str(tmp_path / "ck")])
    script.main()
    saved = np.load(data)
    np.testing.assert_array_equal(saved["obs"], obs)
    assert json.loads(str(saved["meta"]))["command"].startswith("python scripts/fbcpr_walker.py all")
    np.testing.assert_array_equal(got["obs"], obs)
    assert got["expert_returns"] == {"stand": 7.0} and got["ckpt_dir"] == str(tmp_path / "ck")
    assert got["command"].startswith("python scripts/fbcpr_walker.py all") and got["json"] == str(tmp_path / "r.json")
