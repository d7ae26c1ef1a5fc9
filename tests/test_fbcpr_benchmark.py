"""benchmarks/fbcpr.py: the numpy peer steps the same dynamics as the JAX environment, a short run
writes well-formed rows, and the committed run has every row the issue asks for."""

from __future__ import annotations

import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from _repo import load_repo_module

from rizzlib.fbcpr import env

ROOT = Path(__file__).resolve().parents[1]
KEYS = {"what", "batch", "ours_per_s", "peer", "peer_per_s", "ratio"}


def load_bench():
    return load_repo_module("benchmarks/fbcpr.py", "fbcpr_benchmark")


@pytest.mark.parametrize("seed", range(5))
def test_numpy_peer_is_the_same_dynamics(seed):
    """Random states all over the arena (many next to walls and doorways) and random forces: one step
    of the peer equals one step of the JAX environment, walls included."""
    rng = np.random.default_rng(seed)
    n = 4000
    pos = rng.uniform(-1, 1, (n, 2))
    pos[: n // 2, rng.integers(0, 2)] = rng.uniform(-0.05, 0.05, n // 2)  # half of them hug a wall
    s = np.concatenate([pos, rng.uniform(-1, 1, (n, 2))], 1).astype(np.float32)
    a = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    want = np.asarray(env.step_batch(jnp.asarray(s), jnp.asarray(a)))
    np.testing.assert_allclose(load_bench().numpy_step(s, a), want, atol=1e-5)


def test_short_env_run_writes_a_well_formed_row():
    row = load_bench().bench_env(batch=8, steps=20, repeats=1, min_s=0.0)
    assert KEYS <= set(row) and row["batch"] == 8
    assert row["ratio"] == pytest.approx(row["ours_per_s"] / row["peer_per_s"])
    assert min(row["ours_per_s"], row["peer_per_s"]) > 0


@pytest.mark.slow  # compiles two agent updates
def test_update_row_times_fbcpr_against_fb():
    row = load_bench().bench_updates("smoke", repeats=1, min_s=0.0)
    assert KEYS <= set(row) and row["what"].startswith("FB-CPR updates/s (smoke size")
    assert row["ratio"] == pytest.approx(row["ours_per_s"] / row["peer_per_s"])


def test_committed_run_has_every_row_the_issue_asks_for():
    rows = json.loads((ROOT / "benchmarks" / "results" / "fbcpr.json").read_text())
    for r in rows:
        assert KEYS <= set(r) and r["ratio"] == pytest.approx(r["ours_per_s"] / r["peer_per_s"], rel=1e-6)
    env_rows = [r for r in rows if r["what"].startswith("env steps/s")]
    assert sorted(r["batch"] for r in env_rows) == [1, 256, 4096]
    assert all("numpy" in r["peer"] for r in env_rows)
    upd = [r["what"] for r in rows if r["what"].startswith("FB-CPR updates/s")]
    assert any("(cpu size" in w for w in upd) and any("(gpu size" in w for w in upd)
    # CPR adds a discriminator and a critic to every update: it cannot be faster than plain FB
    assert all(r["ratio"] < 1.0 for r in rows if r["what"].startswith("FB-CPR"))
