"""Train the shipped FB / FB-CPR checkpoints and TD3 oracles at a given scale, evaluate them, and
write small safetensors checkpoints plus a results JSON into rizzlib/fbcpr/checkpoints/.

    XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
    nice -n 19 python scripts/fbcpr_train.py --scale cpu --seeds 0 1 2

Each checkpoint holds the actor and backward-map parameters (all a prompt needs), the config, the
training wall time, the evaluation, and a 4,096-state inference buffer (replay next states) for
reward prompts. Results are written after every run, so a stopped job keeps what it finished.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np

from rizzlib.fbcpr import checkpoint, evaluate, tasks, td3
from rizzlib.fbcpr.dataset import make_dataset
from rizzlib.fbcpr.presets import preset
from rizzlib.fbcpr.train import seed_slice, train_seeds

OUT = pathlib.Path(__file__).resolve().parents[1] / "rizzlib" / "fbcpr" / "checkpoints"
N_INFER = 4096
N_EVAL = 16


def evaluate_params(agent, params, infer_states, test_obs, cfg, key) -> dict:
    """The three suites plus dataset-likeness of reward rollouts (summary numbers only)."""
    starts = tasks.sample_starts(key, N_EVAL, cfg.init, jnp.asarray(test_obs))
    rew = evaluate.evaluate_rewards(agent, params, infer_states, starts, horizon=cfg.episode_len)
    goals = evaluate.evaluate_goals(agent, params, starts, horizon=cfg.episode_len)
    track = evaluate.evaluate_tracking(agent, params, test_obs)
    states = np.concatenate([r["states"] for r in rew.values()])
    actions = np.concatenate([r["actions"] for r in rew.values()])
    return {
        "reward_returns": {k: v["return"] for k, v in rew.items()},
        "goal_success": goals["success"], "goal_proximity": goals["proximity"], "goal_final_dist": goals["final_dist"],
        "goal_success_per_room": goals["per_goal"][:, 0].reshape(4, 3).mean(1).tolist(),
        "tracking_emd": track["emd"], "tracking_error": track["error"], "tracking_success": track["success"],
        "likeness": tasks.dataset_likeness(states, actions, train_obs_cache["obs"]),
    }


train_obs_cache: dict = {}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="cpu")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--algos", nargs="+", default=["fbcpr", "fb"])
    ap.add_argument("--td3-updates", type=int, default=3000)
    ap.add_argument("--skip-td3", action="store_true")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / f"results_{args.scale}.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {"runs": {}, "td3": {}}
    base = preset(args.scale)
    data = make_dataset(base.n_motions, base.motion_len, seed=0)
    train_set, test_set = data.split(base.test_fraction, seed=0)
    train_obs_cache["obs"] = train_set.observations
    for i, algo in enumerate(args.algos):
        cfg = base.as_fb() if algo == "fb" else base
        names = [f"{algo}_{args.scale}_seed{s}" for s in args.seeds]
        if all(n in results["runs"] for n in names):
            continue
        # all seeds of one algorithm train together, vmapped (one compile)
        trainer, tss, hist, seconds = train_seeds(cfg, train_set, args.seeds, progress=args.progress)
        for j, (seed, name) in enumerate(zip(args.seeds, names)):
            ts = seed_slice(tss, j)
            rep = ts.agent
            idx = np.random.default_rng(seed).choice(int(ts.replay.size), N_INFER, replace=False)
            infer_states = np.asarray(ts.replay.data.next_obs)[idx]
            params = {"actor": rep.params["actor"], "b": rep.params["b"]}
            ev = evaluate_params(trainer.agent, rep.params, infer_states, test_set.observations, cfg,
                                 jax.random.key(123))
            final = {k: float(np.nanmean(v[j, -20:])) for k, v in hist.items()}
            results["runs"][name] = {"algo": algo, "seed": seed, "train_seconds_all_seeds": seconds, "eval": ev,
                                     "final_losses": final}
            checkpoint.save(out / f"{name}.safetensors", params, dataclasses.replace(cfg, seed=seed),
                            extra={"train_seconds_all_seeds": seconds, "eval": ev},
                            arrays={"inference_states": infer_states})
            results_path.write_text(json.dumps(results, indent=1))
            print(f"[{time.strftime('%H:%M:%S')}] {name}: {seconds:.0f} s (all seeds), goal {ev['goal_success']:.2f}, "
                  f"track emd {ev['tracking_emd']:.3f}, returns {ev['reward_returns']}", flush=True)
        np.savez_compressed(out / f"history_{algo}_{args.scale}.npz", **hist)
        if i == 0 and not args.skip_td3:
            run_td3(base, args, results, results_path, test_set)
    if not args.skip_td3:
        run_td3(base, args, results, results_path, test_set)


def run_td3(base, args, results, results_path, test_set):
    starts = tasks.sample_starts(jax.random.key(123), N_EVAL, base.init, jnp.asarray(test_set.observations))
    fns = None
    for task in tasks.REWARD_TASKS:
        if task in results["td3"]:
            continue
        tcfg = td3.TD3Config(task=task, init=base.init, episode_len=base.episode_len, width=base.width,
                             batch=base.batch, gamma=base.gamma, n_envs=base.n_envs, n_updates=args.td3_updates,
                             random_iters=base.random_iters, buffer_size=base.buffer_size)
        t0 = time.perf_counter()
        fns = fns or td3.make_td3(dataclasses.replace(tcfg, task=tasks.REWARD_TASKS[0]))
        pa, policy, _ = td3.train_td3(tcfg, fns=fns)
        ret = td3.td3_return(policy, pa, task, starts, base.episode_len)
        results["td3"][task] = {"return": ret, "train_seconds": time.perf_counter() - t0, "n_updates": args.td3_updates}
        results_path.write_text(json.dumps(results, indent=1))
        print(f"[{time.strftime('%H:%M:%S')}] td3 {task}: {ret:.2f}", flush=True)


if __name__ == "__main__":
    main()
