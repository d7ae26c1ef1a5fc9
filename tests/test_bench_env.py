"""benchmarks/env.py keeps working: its own side runs end to end on a tiny config (no peer venv, no
wheel: our shipped levels are in the kinetix-env format), and its pure parts are checked directly."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import _kinetix_peer_worker as harness  # noqa: E402
import env as bench  # noqa: E402

BUILTIN = ROOT / "rizzlib" / "kinetix" / "builtin_levels"


def test_random_actions_are_valid_and_the_same_in_every_process():
    a = harness.random_actions(3, 5, 7)
    assert a.shape == (5, 7, 6) and a.dtype == np.int32
    assert (a >= 0).all() and (a < np.asarray(harness.ACTION_SIZES)).all()
    for d, n in enumerate(harness.ACTION_SIZES):  # every choice of every dimension is drawn
        assert set(np.unique(harness.random_actions(0, 64, 16)[..., d])) == set(range(n))
    np.testing.assert_array_equal(a, harness.random_actions(3, 5, 7))
    assert not np.array_equal(a, harness.random_actions(4, 5, 7))
    k = harness.random_keys(3, 5, 7)
    assert k.shape == (5, 7, 2) and k.dtype == np.uint32 and len(np.unique(k.reshape(-1, 2), axis=0)) == 35


def test_best_timed_seconds_uses_the_reported_durations():
    seen = []

    def make(name, times):
        it = iter(times)

        def run():
            seen.append(name)
            return next(it)
        return run

    best = harness.best_timed_seconds({"a": make("a", [0.5, 0.2, 0.3, 0.4, 0.9]), "b": make("b", [0.1, 0.7, 0.6, 0.5, 0.8, 0.45])},
                                      repeats=2, warmup_s=0.4, min_s=1.0)
    # warm-up: a once (0.5 s >= 0.4), b until 0.4 s (0.1, 0.7); then alternate a, b until both have 1 s timed
    assert seen == ["a", "b", "b"] + ["a", "b"] * 4
    assert best == pytest.approx({"a": 0.2, "b": 0.45}, abs=1e-12)


def test_steps_merge_and_table():
    assert [bench.steps_for(b, None) for b in (1, 256, 1024, 8, 300, 4096)] == [64, 16, 8, 64, 16, 8]
    assert bench.steps_for(256, 5) == 5
    old = [{"what": "env", "level": "s/a", "batch": 1, "ours_sps": 1.0},
           {"what": "env", "level": "s/a", "batch": 256, "ours_sps": 2.0}]
    new = [{"what": "env", "level": "s/a", "batch": 256, "ours_sps": 9.0},
           {"what": "ppo", "level": "s/a", "batch": 256, "ours_sps": 3.0}]
    merged = bench.merge_rows(old, new)
    assert [r["ours_sps"] for r in merged] == [1.0, 9.0, 3.0]
    rows = [{"what": "env", "level": "s/a", "size": "S", "batch": 1, "ours_sps": 300.0, "peer_sps": 100.0, "ratio": 3.0},
            {"what": "env", "level": "s/a", "size": "S", "batch": 4, "ours_sps": 300.0, "peer_sps": None, "ratio": None}]
    text = bench.format_table(rows)
    assert "3.00x" in text and text.count("\n") == 2


def test_peer_model_config_names_every_size_of_ours():
    model, ppo = bench.ppo_settings()
    cfg = harness.peer_model_config(model)
    assert (cfg["transformer_encoder_size"], cfg["num_heads"], cfg["transformer_size"], cfg["transformer_depth"]) == (
        model["embed"], model["heads"], model["qkv"], model["depth"])
    assert cfg["actor_depth"] == cfg["critic_depth"] == model["mlp_depth"]
    assert cfg["actor_width"] == cfg["critic_width"] == model["mlp_width"]
    assert cfg["recurrent_model"] is False and cfg["aggregate_mode"] == "dummy_and_mean"
    assert ppo["num_envs"] % ppo["num_minibatches"] == 0  # the peer splits minibatches over envs


def test_our_level_loads_from_a_folder_and_from_a_wheel(tmp_path):
    level, config = bench.load_our_level(BUILTIN, "s/one_wheel_car")
    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.write(BUILTIN / "s" / "one_wheel_car.json", "kinetix/levels/s/one_wheel_car.json")
    level2, config2 = bench.load_our_level(wheel, "s/one_wheel_car")
    assert config == config2 and config.frame_skip == 2
    np.testing.assert_array_equal(np.asarray(level.sim.polygon.position), np.asarray(level2.sim.polygon.position))
    with pytest.raises(ValueError, match="not in"):
        bench.load_our_level(wheel, "s/missing")


def test_bad_arguments_are_named(capsys):
    for argv, word in ((["--batches", "0"], "--batches"), (["--levels", "x"], "level names"),
                       (["--repeats", "0"], "--repeats")):
        with pytest.raises(SystemExit):
            bench.main(argv + ["--no-peer"])
        assert word in capsys.readouterr().err


def test_own_side_end_to_end_with_a_stub_env(tmp_path, monkeypatch):
    """The script's own path (rows, table, JSON) with a toy env in place of our physics, so it compiles fast."""
    import jax.numpy as jnp

    built = []

    def toy(source, name, batch, steps, seed=0):
        built.append((Path(source), name, batch, steps))

        def step(key, state, action, extra):
            x = state + action.sum().astype(jnp.float32)
            return x * 2.0, x, x, x > 1e9
        return harness.EnvRollout(step, jnp.zeros(()), jnp.zeros(()), (), batch, steps)

    monkeypatch.setattr(bench, "build_ours_env", toy)
    monkeypatch.setattr(bench, "MIN_TIMED_S", 0.02)
    monkeypatch.setattr(bench, "WARMUP_S", 0.01)
    out = tmp_path / "env.json"
    assert bench.main(["--no-peer", "--wheel", str(BUILTIN), "--levels", "s/one_wheel_car", "m/cartpole",
                       "--batches", "1", "3", "--steps", "4", "--repeats", "1", "--ppo-levels", "--json", str(out),
                       "--no-compile-cache"]) == 0
    assert [(n, b, t) for _, n, b, t in built] == [("s/one_wheel_car", 1, 4), ("s/one_wheel_car", 3, 4),
                                                 ("m/cartpole", 1, 4), ("m/cartpole", 3, 4)]
    rows = json.loads(out.read_text())
    assert [(r["level"], r["size"], r["batch"]) for r in rows] == [("s/one_wheel_car", "S", 1), ("s/one_wheel_car", "S", 3),
                                                                  ("m/cartpole", "M", 1), ("m/cartpole", "M", 3)]
    for r in rows:
        assert r["ours_sps"] > 0 and r["peer_sps"] is None and r["ratio"] is None and r["finite"]
        assert {"level", "size", "batch", "ours_sps", "peer_sps", "ratio"} <= set(r)
    # --merge replaces the rows measured again and keeps the others
    assert bench.main(["--no-peer", "--wheel", str(BUILTIN), "--levels", "m/cartpole", "--batches", "3", "--steps", "2",
                       "--repeats", "1", "--ppo-levels", "--json", str(out), "--merge", "--no-compile-cache"]) == 0
    again = json.loads(out.read_text())
    assert len(again) == 4 and again[3]["steps"] == 2 and again[0]["steps"] == 4


@pytest.mark.slow  # compiles our full env step (~30 s on an idle 2-core machine, far more under load)
def test_our_env_rollout_on_a_shipped_level():
    roll = bench.build_ours_env(BUILTIN, "s/one_wheel_car", batch=2, steps=3)
    assert roll.finite and roll.compile_s > 0
    assert roll() > 0
