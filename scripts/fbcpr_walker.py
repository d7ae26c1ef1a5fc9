"""The ``gpu``-scale FB-CPR run on the MJX walker (spec §5.2, route B), in two stages.

``data``: the unlabeled dataset, made here (nothing is downloaded). One TD3 expert per style (the
walker's reward tasks: stand, walk, run, walk-backward, flip), trained with this library's TD3 in
the same jitted loop, then rolled out with action noise for diversity; only the observations are
kept (``obs (M, T+1, 17)``, ``kinds (M,)``, the experts' returns), the actions are dropped.

Each expert's deterministic return from the evaluation starts (16 standing starts, ``key(123)``,
one episode) is kept as its task's top-line.

``train``: FB-CPR and plain FB (same budget) on that dataset, 80 % of the motions for training
and 20 % held out for tracking and goals; evaluates every reward task (z from the replay's next
observations), normalised by the TD3 expert of the task as the paper normalises by TD3; the goal
suite (12 held-out poses with zero velocity, z = B(g), HumEnv's success and proximity on the pose);
and tracking EMD on the pose part of the observation (pitch and joint angles).

    python scripts/fbcpr_walker.py data --out data/fbcpr_walker.npz            # ~25 min on one GPU
    python scripts/fbcpr_walker.py train --data data/fbcpr_walker.npz --json benchmarks/results/fbcpr_walker.json \
        --ckpt-dir rizzlib/fbcpr/checkpoints
    python scripts/fbcpr_walker.py all --progress    # both stages with the defaults above, one command

``train`` resumes: an algorithm already in the results JSON with its checkpoint
(``<algo>_gpu_walker_seed<k>.safetensors`` in ``--ckpt-dir``) is not trained again. The JSON
records the command line and each stage's wall time.

``--expert-updates`` / ``--n-updates`` shrink the budgets; ``tests/test_fbcpr_walker.py`` runs both
stages (``make_data``, ``run_train``) with tiny networks on a CPU (a slow test).
Not run in this project yet: no GPU was lent to the sessions that wrote it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import shlex
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from rizzlib.fbcpr import checkpoint, evaluate, infer, tasks, td3, walker
from rizzlib.fbcpr.presets import preset
from rizzlib.fbcpr.train import train

POSE = walker.POSE  # pitch and the six joint angles: the "pose" part of a walker observation
N_STARTS, STARTS_KEY = 16, 123  # the evaluation's start states: walker.reset(key(STARTS_KEY), N_STARTS, "fixed")
N_GOALS = 12


def eval_starts(n_starts: int = N_STARTS):
    """The standing start states every walker evaluation (experts, FB-CPR, FB) begins from."""
    return walker.reset(jax.random.key(STARTS_KEY), n_starts, "fixed")


def make_data(n_motions: int, motion_len: int, expert_updates: int, episode_len: int, seed: int = 0,
              action_noise: float = 0.3, n_envs: int = 64, progress: bool = False) -> dict:
    """Train one TD3 expert per walker task and roll each out; returns ``{"obs", "kinds", "returns"}``
    with ``returns[task] = {"return": deterministic return from eval_starts() over episode_len
    steps (the task's top-line), "return_with_noise": mean return of its noisy dataset rollouts,
    "seconds"}``."""
    styles = walker.REWARD_TASKS
    per = [n_motions // len(styles) + (i < n_motions % len(styles)) for i in range(len(styles))]
    obs, kinds, returns = [], [], {}
    fns = None
    for i, (task, n) in enumerate(zip(styles, per)):
        cfg = td3.TD3Config(task=task, env="walker", init="fixed", episode_len=episode_len, n_envs=n_envs,
                            env_steps_per_iter=4, updates_per_iter=8, n_updates=expert_updates,
                            random_iters=min(10, expert_updates), buffer_size=200_000, seed=seed + i)
        t0 = time.perf_counter()
        fns = fns or td3.make_td3(dataclasses.replace(cfg, task=styles[0]))
        pa, policy, _ = td3.train_td3(cfg, fns=fns, progress=progress)
        top = td3.td3_return(policy, pa, task, eval_starts(), episode_len, env_name="walker")
        returns[task] = {"return": top, "seconds": time.perf_counter() - t0}
        if n == 0:
            continue
        o, _ = walker.collect(jax.random.key(1000 + i), lambda x, pa=pa, pol=policy: pol(pa, x), n, motion_len, action_noise)
        ret = float(walker.reward_fn(task)(o[:, 1:]).sum(1).mean())
        returns[task]["return_with_noise"] = ret
        print(f"[{time.strftime('%H:%M:%S')}] expert {task}: return {top:.1f} over {episode_len} steps "
              f"({ret:.1f} with noise over {motion_len})", flush=True)
        obs.append(np.asarray(o, np.float32))
        kinds.append(np.full(n, i, np.int32))
    return {"obs": np.concatenate(obs), "kinds": np.concatenate(kinds), "returns": returns}


def split(obs: np.ndarray, test_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` motions, ``round(test_fraction · M)`` (at least 1) held out."""
    perm = np.random.default_rng(seed).permutation(obs.shape[0])
    n_test = max(1, round(test_fraction * obs.shape[0]))
    return obs[np.sort(perm[n_test:])], obs[np.sort(perm[:n_test])]


def normalise(returns: dict, top: dict) -> dict:
    """``{"per_task": {task: ours / top}, "mean": mean of them}`` over the tasks whose top-line
    ``top[task]`` is positive (a top-line of 0 normalises nothing); ``mean`` is NaN if none is."""
    per = {t: returns[t] / top[t] for t in returns if t in top and top[t] > 0}
    return {"per_task": per, "mean": float(np.mean(list(per.values()))) if per else float("nan")}


def evaluate_walker(trainer, ts, test_obs: np.ndarray, n_infer: int = 50_000, n_starts: int = N_STARTS,
                    expert_returns: dict | None = None, n_goals: int = N_GOALS) -> dict:
    """Reward returns of every walker task (z from replay next observations), normalised by
    ``expert_returns {task: TD3 return}`` when given; the goal suite on ``n_goals`` poses of the
    held-out motions; tracking EMD / error on the pose part of held-out motions."""
    ag, cfg = trainer.agent, trainer.cfg
    size = int(ts.replay.size)
    idx = np.random.default_rng(0).choice(size, min(n_infer, size), replace=False)
    infer_states = np.asarray(ts.replay.data.next_obs)[idx]
    starts = eval_starts(n_starts)
    rew = evaluate.evaluate_rewards(ag, ts.agent.params, infer_states, starts, horizon=cfg.episode_len)
    returns = {k: v["return"] for k, v in rew.items()}
    goals = walker.goal_poses(test_obs, min(n_goals, test_obs.shape[0] * (test_obs.shape[1] - 1)), seed=cfg.seed)
    gl = evaluate.evaluate_goals(ag, ts.agent.params, starts, cfg.episode_len, goals=goals, metric=walker.goal_metrics)
    obs = jnp.asarray(test_obs)
    b = jax.vmap(lambda o: ag.backward(ts.agent.params, o))(obs[:, 1:])
    zs = jax.vmap(lambda bb: infer.tracking_zs(bb, cfg.seq_len))(b)
    states, _ = evaluate.rollout(ag, ts.agent.params, walker.state_from_obs(obs[:, 0]), jnp.swapaxes(zs, 0, 1))
    states, target = np.asarray(states[:, 1:, POSE]), np.asarray(obs[:, 1:, POSE])
    emd = [tasks.emd(p, q) for p, q in zip(states, target)]
    out = {"reward_returns": returns, "goal_success": gl["success"], "goal_proximity": gl["proximity"],
           "goal_final_dist": gl["final_dist"], "tracking_emd": float(np.mean(emd)),
           "tracking_error": float(np.linalg.norm(states - target, axis=-1).mean())}
    if expert_returns is not None:
        norm = normalise(returns, expert_returns)
        out |= {"normalised_returns": norm["per_task"], "normalised_return": norm["mean"]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("stage", choices=["data", "train", "all"])
    ap.add_argument("--out", default="data/fbcpr_walker.npz", help="data: where the dataset is written")
    ap.add_argument("--data", default="data/fbcpr_walker.npz", help="train: the dataset to read")
    ap.add_argument("--json", default="benchmarks/results/fbcpr_walker.json", help="train: where the results are written")
    ap.add_argument("--ckpt-dir", default="rizzlib/fbcpr/checkpoints", help="train: where the checkpoints are written")
    ap.add_argument("--expert-updates", type=int, default=20_000)
    ap.add_argument("--n-updates", type=int, default=None, help="train: override the preset's n_updates")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args()
    cfg = preset("gpu")
    command = "python scripts/fbcpr_walker.py " + shlex.join(sys.argv[1:])
    if args.stage in ("data", "all"):
        out = pathlib.Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        d = make_data(cfg.n_motions, cfg.motion_len, args.expert_updates, cfg.episode_len, args.seed,
                      progress=args.progress)
        np.savez_compressed(out, obs=d["obs"], kinds=d["kinds"], returns=json.dumps(d["returns"]),
                            meta=json.dumps({"command": command, "seconds": time.perf_counter() - t0}))
        print(f"wrote {out}: {d['obs'].shape} ({time.perf_counter() - t0:.0f} s)")
        if args.stage == "data":
            return
        args.data = str(out)
    data = np.load(args.data)
    if args.n_updates:
        cfg = dataclasses.replace(cfg, n_updates=args.n_updates)
    experts = {t: r["return"] for t, r in json.loads(str(data["returns"])).items() if "return" in r}
    run_train(dataclasses.replace(cfg, seed=args.seed), data["obs"], args.json, args.progress, expert_returns=experts,
              ckpt_dir=args.ckpt_dir, command=command)


def ckpt_path(ckpt_dir, algo: str, seed: int) -> pathlib.Path:
    """Where :func:`run_train` writes the walker checkpoint of ``algo`` and ``seed``."""
    return pathlib.Path(ckpt_dir) / f"{algo}_gpu_walker_seed{seed}.safetensors"


def run_train(cfg, obs: np.ndarray, json_path=None, progress: bool = False, n_infer: int = 50_000,
              expert_returns: dict | None = None, ckpt_dir=None, command: str | None = None) -> dict:
    """FB-CPR and plain FB (``cfg.as_fb()``, same budget) on the walker motions ``obs (M, T+1, 17)``:
    ``cfg.test_fraction`` of them held out for tracking and goals; each run is evaluated by
    :func:`evaluate_walker` (returns normalised by ``expert_returns`` when given). Returns
    ``{"experts": expert_returns, "command", algo: {"seconds", "n_updates", "eval", "final_losses"}}``,
    also written to ``json_path`` after each run. With ``ckpt_dir``, each run's actor and backward
    map go to :func:`ckpt_path` with a 4,096-state inference buffer, and an algorithm already in
    ``json_path`` with its checkpoint on disk is skipped (resume)."""
    train_obs, test_obs = split(obs, cfg.test_fraction, cfg.seed)
    path = pathlib.Path(json_path) if json_path else None
    results = json.loads(path.read_text()) if path is not None and path.exists() else {}
    if expert_returns is not None:
        results["experts"] = expert_returns
    if command is not None:
        results["command"] = command
    for algo in ("fbcpr", "fb"):
        if algo in results and ckpt_dir is not None and ckpt_path(ckpt_dir, algo, cfg.seed).exists():
            print(f"{algo}: already in {path}, skipped", flush=True)
            continue
        c = cfg.as_fb() if algo == "fb" else dataclasses.replace(cfg, algo="fbcpr")
        tr, ts, hist, seconds = train(c, train_obs, progress=progress)
        ev = evaluate_walker(tr, ts, test_obs, n_infer=n_infer, expert_returns=expert_returns)
        results[algo] = {"seconds": seconds, "n_updates": c.n_updates, "eval": ev,
                         "final_losses": {k: float(np.nanmean(v[-20:])) for k, v in hist.items()}}
        if ckpt_dir is not None:
            pathlib.Path(ckpt_dir).mkdir(parents=True, exist_ok=True)
            size = int(ts.replay.size)
            idx = np.random.default_rng(0).choice(size, min(4096, size), replace=False)
            params = {"actor": ts.agent.params["actor"], "b": ts.agent.params["b"]}
            checkpoint.save(ckpt_path(ckpt_dir, algo, cfg.seed), params, c, extra={"seconds": seconds, "eval": ev},
                            arrays={"inference_states": np.asarray(ts.replay.data.next_obs)[idx]})
        print(f"[{time.strftime('%H:%M:%S')}] {algo}: {seconds:.0f} s, {ev}", flush=True)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
