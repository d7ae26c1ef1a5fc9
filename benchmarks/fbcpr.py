"""Speed of ``rizzlib.fbcpr``: point-mass environment steps/s against the same dynamics written as a
numpy loop, and gradient updates/s of FB and FB-CPR at the ``cpu`` and ``gpu`` network sizes.

Environment: ``T`` steps of ``batch`` point masses with fixed random actions. Ours is one jitted
``lax.scan`` of the vmapped ``rizzlib.fbcpr.env.step``; the peer is a numpy implementation of the
same equations (vectorised over the batch, a Python loop over time), written for this benchmark
and checked to give the same states. Updates: one jitted ``Agent.update`` (FB-CPR: discriminator,
FB, critic, actor; FB: FB and actor) on a fixed batch; the FB-CPR row's peer is FB at the same size,
so its ratio says what CPR costs per update. Timing: ``rizzlib.core.timing.best_run_seconds``.

    python benchmarks/fbcpr.py --json benchmarks/results/fbcpr.json
    python benchmarks/fbcpr.py --quick          # batch 1 and 256 only, cpu sizes only
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform

import jax
import jax.numpy as jnp
import numpy as np

from rizzlib.core.timing import best_run_seconds
from rizzlib.fbcpr import env
from rizzlib.fbcpr.agent import make_agent, sample_sphere
from rizzlib.fbcpr.buffer import Transitions
from rizzlib.fbcpr.dataset import sample_segments
from rizzlib.fbcpr.envs import get_env
from rizzlib.fbcpr.presets import preset


def numpy_step(s: np.ndarray, a: np.ndarray) -> np.ndarray:
    """The point-mass step in numpy for a batch ``(N, 4), (N, 2) -> (N, 4)`` (same equations)."""
    v = env.DAMPING * s[:, 2:] + (1 - env.DAMPING) * env.V_MAX * a
    out = s.copy()
    for axis in (0, 1):
        p, other = s[:, axis], (s[:, 1] if axis == 0 else out[:, 0])
        new = p + env.DT * v[:, axis]
        crosses = (p >= 0) != (new >= 0)
        door = np.abs(np.abs(other) - env.DOOR_CENTRE) <= env.DOOR_WIDTH / 2
        blocked = crosses & ~door
        new = np.where(blocked, np.where(p >= 0, env.WALL_EPS, -env.WALL_EPS), new)
        outside = np.abs(new) > 1.0
        new = np.where(outside, np.sign(new), new)
        out[:, axis] = new
        out[:, 2 + axis] = np.where(blocked | outside, 0.0, v[:, axis])
    return out


def bench_env(batch: int, steps: int, repeats: int, min_s: float = 1.0) -> dict:
    rng = np.random.default_rng(0)
    s0 = np.concatenate([rng.uniform(-0.9, 0.9, (batch, 2)), np.zeros((batch, 2))], 1).astype(np.float32)
    acts = rng.uniform(-1, 1, (steps, batch, 2)).astype(np.float32)
    ours = jax.jit(env.rollout)
    s0j, aj = jnp.asarray(s0), jnp.asarray(acts)
    final_ours = np.asarray(jax.block_until_ready(ours(s0j, aj))[-1])

    def peer():
        s = s0
        for t in range(steps):
            s = numpy_step(s, acts[t])
        return s

    # same dynamics: one step from every start agrees (long rollouts may part where float32 rounding
    # flips a door-edge or wall decision for one trajectory out of thousands)
    np.testing.assert_allclose(numpy_step(s0, acts[0]), np.asarray(env.step_batch(s0j, aj[0])), atol=1e-5)
    ours_same = np.mean(np.all(np.abs(peer() - final_ours) < 1e-3, axis=1))
    assert ours_same > 0.99, ours_same
    best = best_run_seconds({"ours": lambda: jax.block_until_ready(ours(s0j, aj)), "peer": peer}, repeats=repeats,
                            min_s=min_s)
    o, p = batch * steps / best["ours"], batch * steps / best["peer"]
    return {"what": "env steps/s (point mass)", "batch": batch, "ours_per_s": o, "peer": "numpy loop, same dynamics",
            "peer_per_s": p, "ratio": o / p}


def _update_fn(cfg):
    """One jitted update at ``cfg``'s sizes, on random inputs of ``cfg.env``'s observation / action
    sizes (the gpu preset's walker: 17 / 6); expert segments are random observation windows."""
    spec = get_env(cfg.env)
    ag = make_agent(cfg)
    st = ag.init(jax.random.key(0))
    n = cfg.batch
    k = jax.random.split(jax.random.key(1), 4)
    on = Transitions(jax.random.uniform(k[0], (n, spec.obs_dim), minval=-1, maxval=1),
                     jax.random.uniform(k[1], (n, spec.action_dim), minval=-1, maxval=1),
                     jax.random.uniform(k[2], (n, spec.obs_dim), minval=-1, maxval=1),
                     sample_sphere(k[3], n, cfg.z_dim), jnp.zeros(n))
    data = jax.random.uniform(k[2], (20, max(cfg.seq_len + 1, 20), spec.obs_dim), minval=-1, maxval=1)
    segs = sample_segments(k[0], data, n // cfg.seq_len, cfg.seq_len) if cfg.use_cpr else None
    up = jax.jit(ag.update)
    jax.block_until_ready(up(st, on, segs, k[1]))
    return lambda: jax.block_until_ready(up(st, on, segs, k[1]))


def bench_updates(scale: str, repeats: int, min_s: float) -> dict:
    cfg = preset(scale)
    runs = {"fbcpr": _update_fn(cfg), "fb": _update_fn(cfg.as_fb())}
    best = best_run_seconds(runs, repeats=repeats, warmup_s=0.0 if scale == "gpu" else 0.3, min_s=min_s)
    o, p = 1 / best["fbcpr"], 1 / best["fb"]
    return {"what": f"FB-CPR updates/s ({scale} size: width {cfg.width}, batch {cfg.batch}, d {cfg.z_dim})",
            "batch": cfg.batch, "ours_per_s": o, "peer": "plain FB updates/s, same size", "peer_per_s": p,
            "ratio": o / p}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rows = []
    for batch in (1, 256) if args.quick else (1, 256, 4096):
        rows.append(bench_env(batch, args.steps, args.repeats))
        print(rows[-1], flush=True)
    for scale in ("cpu",) if args.quick else ("cpu", "gpu"):
        rows.append(bench_updates(scale, 1 if scale == "gpu" else args.repeats, 0.0 if scale == "gpu" else 1.0))
        print(rows[-1], flush=True)
    if args.json:
        meta = {"date": datetime.date.today().isoformat(), "jax": jax.__version__, "device": jax.default_backend(),
                "machine": platform.processor() or platform.machine(), "steps": args.steps}
        with open(args.json, "w") as f:
            json.dump([dict(r, **{"meta": meta}) for r in rows], f, indent=1)


if __name__ == "__main__":
    main()
