"""The shipped checkpoints reload and reproduce the evaluation recorded beside them."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
from _repo import load_repo_module

from rizzlib.fbcpr import checkpoint, evaluate
from rizzlib.fbcpr.agent import make_agent
from rizzlib.fbcpr.dataset import make_dataset

CKPT = pathlib.Path(__file__).resolve().parents[1] / "rizzlib" / "fbcpr" / "checkpoints"
RESULTS = json.loads((CKPT / "results_cpu.json").read_text())


def _flat(ev: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in ev.items():
        if isinstance(v, dict):
            out |= _flat(v, f"{prefix}{k}.")
        elif isinstance(v, list):
            out |= {f"{prefix}{k}[{i}]": x for i, x in enumerate(v)}
        else:
            out[prefix + k] = v
    return out


def test_every_run_of_three_seeds_is_shipped():
    for algo in ("fbcpr", "fb"):
        seeds = sorted(r["seed"] for r in RESULTS["runs"].values() if r["algo"] == algo)
        assert len(seeds) >= 3, algo
        for s in seeds:
            assert (CKPT / f"{algo}_cpu_seed{s}.safetensors").exists()


def _reproduce(name: str):
    params, cfg, extra, arrays = checkpoint.load(CKPT / f"{name}.safetensors")
    agent = make_agent(cfg)
    train, test = make_dataset(cfg.n_motions, cfg.motion_len, seed=0).split(cfg.test_fraction, seed=0)
    ev = evaluate.evaluate_all(agent, params, arrays["inference_states"], test.observations, train.observations)
    want, got = _flat(RESULTS["runs"][name]["eval"]), _flat(ev)
    assert want.keys() == got.keys()
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=1e-3, abs=1e-3), k
    assert _flat(extra["eval"]) == want


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RESULTS["runs"]))
def test_checkpoint_reproduces_recorded_evaluation(name):
    _reproduce(name)


def test_one_checkpoint_reproduces_recorded_evaluation():
    _reproduce("fbcpr_cpu_seed0")


def test_recorded_numbers_are_in_range():
    for r in RESULTS["runs"].values():
        ev = r["eval"]
        assert 0 <= ev["goal_success"] <= 1 and 0 <= ev["goal_proximity"] <= 1 and ev["tracking_emd"] >= 0
        assert all(0 <= v <= 200 for v in ev["reward_returns"].values())
        assert np.isfinite(ev["likeness"]["knn"])


def _best_other(task: str) -> float:
    """The best return any TD3 run or zero-shot run recorded on ``task``."""
    vals = [r["eval"]["reward_returns"][task] for r in RESULTS["runs"].values()]
    vals += [runs[task]["return"] for k, runs in RESULTS.items() if (k == "td3" or k.startswith("td3_")) and task in runs]
    return max(vals)


def test_planner_oracle_is_a_top_line_on_every_task():
    """The normalising oracle beats TD3 and every zero-shot policy on every reward task, so ours /
    oracle is a fraction of something that solves the task."""
    from rizzlib.fbcpr import tasks

    planner = RESULTS["planner"]
    assert set(planner) == set(tasks.REWARD_TASKS)
    for task, r in planner.items():
        assert r["min_return"] <= r["return"] <= 200
        assert r["return"] >= _best_other(task), task


@pytest.mark.slow
def test_planner_reproduces_recorded_return():
    import jax

    from rizzlib.fbcpr import oracle, tasks
    from rizzlib.fbcpr.presets import preset

    cfg = preset("cpu")
    r = RESULTS["planner"]["reach-room-3"]
    grid = oracle.make_grid(*r["grid"])
    v = oracle.value_iteration("reach-room-3", grid, cfg.gamma, r["iters"])
    starts = tasks.sample_starts(jax.random.key(123), 16, cfg.init)
    _, rew = oracle.oracle_rollout(v, grid, "reach-room-3", starts, cfg.episode_len, cfg.gamma)
    assert float(rew.sum(1).mean()) == pytest.approx(r["return"], rel=1e-3)


def _train_script():
    return load_repo_module("scripts/fbcpr_train.py", "fbcpr_train_script")


def test_history_file_extends_earlier_seeds(tmp_path):
    """A later group of seeds is added to the loss curves, not written over them; a retrained seed
    replaces its own row; a file from before the seeds were stored takes the recorded seeds."""
    save = _train_script().save_history
    path = tmp_path / "history_fbcpr_cpu.npz"
    results = {"runs": {f"fbcpr_cpu_seed{s}": {"algo": "fbcpr", "seed": s} for s in (0, 2, 5)}}
    np.savez_compressed(path, fb_loss=np.array([[0.0, 0.0], [2.0, 2.0]]))  # old format: seeds 0 and 2
    save(path, {"fb_loss": np.array([[5.0, 5.0]])}, [5], results, "fbcpr")
    h = np.load(path)
    assert h["seeds"].tolist() == [0, 2, 5] and h["fb_loss"][:, 0].tolist() == [0.0, 2.0, 5.0]
    save(path, {"fb_loss": np.array([[9.0, 9.0], [1.0, 1.0]])}, [2, 1], results, "fbcpr")
    h = np.load(path)
    assert h["seeds"].tolist() == [0, 1, 2, 5] and h["fb_loss"][:, 0].tolist() == [0.0, 1.0, 9.0, 5.0]


def test_readme_names_the_run_of_every_seed():
    mod = _train_script()
    fake = {"runs": {}}
    for algo, seeds, secs in (("fbcpr", (0, 1, 2), 807.0), ("fb", (0, 1, 2), 199.0), ("fbcpr", (3,), 300.0),
                              ("fb", (3,), 80.0)):
        for s in seeds:
            fake["runs"][f"{algo}_cpu_seed{s}"] = {"algo": algo, "seed": s, "train_seconds_all_seeds": secs}
    assert mod.seed_groups(fake) == [(["fbcpr", "fb"], [0, 1, 2]), (["fbcpr", "fb"], [3])]
    readme = (CKPT / "README.md").read_text()
    shipped = sorted({r["seed"] for r in RESULTS["runs"].values()})
    assert sorted(s for _, seeds in mod.seed_groups(RESULTS) for s in seeds) == shipped
    for _, seeds in mod.seed_groups(RESULTS):
        assert f"--seeds {' '.join(map(str, seeds))} " in readme


def test_goal_planner_is_a_top_line_of_the_goal_suite():
    """The goal top-line (scripts/fbcpr_oracle.py --goals) succeeds and comes closer than every
    zero-shot run, so ours / planner on goals is a fraction of something that reaches them."""
    pg = RESULTS["planner_goals"]
    per = np.asarray(pg["per_goal"])
    assert per.shape == (12, 3)
    assert pg["success"] == pytest.approx(per[:, 0].mean()) and pg["proximity"] == pytest.approx(per[:, 1].mean())
    for r in RESULTS["runs"].values():
        assert pg["success"] >= r["eval"]["goal_success"] and pg["proximity"] >= r["eval"]["goal_proximity"]
    assert pg["success"] >= 0.9


def test_tracking_specialist_is_a_top_line_of_the_tracking_suite():
    """The tracking top-line (scripts/fbcpr_oracle.py --tracking) covers every held-out motion and
    tracks closer, and succeeds more often, than every zero-shot run, so ours / specialist on
    tracking is a fraction of something that tracks."""
    from rizzlib.fbcpr.presets import preset

    pt = RESULTS["planner_tracking"]
    cfg = preset("cpu")
    _, test = make_dataset(cfg.n_motions, cfg.motion_len, seed=0).split(cfg.test_fraction, seed=0)
    per = np.asarray(pt["per_motion"])
    assert pt["n_motions"] == test.observations.shape[0] and per.shape == (pt["n_motions"], 3)
    assert pt["emd"] == pytest.approx(per[:, 0].mean()) and pt["success"] == pytest.approx(per[:, 2].mean())
    for r in RESULTS["runs"].values():
        assert pt["emd"] < 0.5 * r["eval"]["tracking_emd"] and pt["success"] >= r["eval"]["tracking_success"]
    assert pt["success"] >= 0.9 and pt["error"] < 0.05
    assert pt["command"].startswith("python scripts/fbcpr_oracle.py") and "--tracking" in pt["command"]


def test_tracking_specialist_reproduces_a_recorded_motion():
    """Re-planning one held-out motion gives the EMD, error and success recorded for it."""
    from rizzlib.fbcpr import oracle, tasks
    from rizzlib.fbcpr.presets import preset

    pt = RESULTS["planner_tracking"]
    cfg = preset("cpu")
    _, test = make_dataset(cfg.n_motions, cfg.motion_len, seed=0).split(cfg.test_fraction, seed=0)
    k = 2
    states = oracle.track_motion(test.observations[k], oracle.make_grid(*pt["grid"]))
    m = tasks.tracking_metrics(states[1:], test.observations[k, 1:])
    np.testing.assert_allclose([m["emd"], m["error"], m["success"]], pt["per_motion"][k], rtol=1e-3, atol=1e-4)
