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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="cpu")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--algos", nargs="+", default=["fbcpr", "fb"])
    ap.add_argument("--td3-updates", type=int, default=3000)
    ap.add_argument("--skip-td3", action="store_true")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--progress", action="store_true")
    ap.add_argument("--readme-only", action="store_true", help="rewrite README.md from the results JSON")
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / f"results_{args.scale}.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {"runs": {}, "td3": {}}
    if args.readme_only:
        write_readme(results, out, args)
        return
    base = preset(args.scale)
    data = make_dataset(base.n_motions, base.motion_len, seed=0)
    train_set, test_set = data.split(base.test_fraction, seed=0)
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
            ev = evaluate.evaluate_all(trainer.agent, rep.params, infer_states, test_set.observations,
                                       train_set.observations, N_EVAL, jax.random.key(123))
            final = {k: float(np.nanmean(v[j, -20:])) for k, v in hist.items()}
            results["runs"][name] = {"algo": algo, "seed": seed, "train_seconds_all_seeds": seconds, "eval": ev,
                                     "final_losses": final}
            checkpoint.save(out / f"{name}.safetensors", params, dataclasses.replace(cfg, seed=seed),
                            extra={"train_seconds_all_seeds": seconds, "eval": ev},
                            arrays={"inference_states": infer_states})
            results_path.write_text(json.dumps(results, indent=1))
            print(f"[{time.strftime('%H:%M:%S')}] {name}: {seconds:.0f} s (all seeds), goal {ev['goal_success']:.2f}, "
                  f"track emd {ev['tracking_emd']:.3f}, returns {ev['reward_returns']}", flush=True)
        save_history(out / f"history_{algo}_{args.scale}.npz", hist, args.seeds, results, algo)
        if i == 0 and not args.skip_td3:
            run_td3(base, args, results, results_path, test_set)
    if not args.skip_td3:
        run_td3(base, args, results, results_path, test_set)
    write_readme(results, out, args)


def save_history(path: pathlib.Path, hist: dict, seeds: list[int], results: dict, algo: str) -> None:
    """Write the loss curves ``hist[key] (len(seeds), iters)``, extending the file's earlier seeds
    (rows sorted by seed, in ``"seeds"``); a file from before ``"seeds"`` was stored holds the other
    recorded seeds of ``algo`` in order."""
    hist = {k: np.asarray(v) for k, v in hist.items()}
    seeds = list(seeds)
    if path.exists():
        old = dict(np.load(path))
        old_seeds = [int(s) for s in old.pop("seeds")] if "seeds" in old else sorted(
            r["seed"] for r in results["runs"].values() if r["algo"] == algo and r["seed"] not in seeds)
        keep = [i for i, s in enumerate(old_seeds) if s not in seeds]
        if keep and set(old) == set(hist):
            hist = {k: np.concatenate([old[k][keep], hist[k]]) for k in hist}
            seeds = [old_seeds[i] for i in keep] + seeds
    order = np.argsort(seeds)
    np.savez_compressed(path, seeds=np.asarray(seeds)[order], **{k: v[order] for k, v in hist.items()})


def td3_returns(results: dict) -> dict:
    """Per task, the best return of the TD3 runs recorded (``td3`` and earlier budgets ``td3_*``)."""
    out: dict = {}
    for key, runs in results.items():
        if key == "td3" or key.startswith("td3_"):
            for task, r in runs.items():
                out[task] = max(out.get(task, float("-inf")), r["return"])
    return out


def oracle_returns(results: dict) -> dict:
    """Per task, the oracle's return: the planner of ``scripts/fbcpr_oracle.py`` when recorded, else
    the best TD3 run."""
    if results.get("planner"):
        return {t: r["return"] for t, r in results["planner"].items()}
    return td3_returns(results)


def oracle_tasks(results: dict) -> list[str]:
    """Tasks where the oracle is a real top-line: its return is > 1 and at least 98% of the best
    return any zero-shot run or TD3 reached."""
    ref, td3_ret = oracle_returns(results), td3_returns(results)
    best = {t: max([r["eval"]["reward_returns"][t] for r in results["runs"].values()] + [td3_ret.get(t, 0.0)])
            for t in ref}
    return [t for t in ref if ref[t] > 1 and ref[t] >= 0.98 * best[t]]


def summarise(results: dict) -> dict:
    """Mean ± std over seeds per algorithm: normalised reward return (per task: ours / oracle, on the
    :func:`oracle_tasks` only), goal success and proximity, tracking EMD, k-NN distance, smoothness."""
    out = {}
    ref = oracle_returns(results)
    valid = set(oracle_tasks(results))
    for algo in ("fbcpr", "fb"):
        runs = [r for r in results["runs"].values() if r["algo"] == algo]
        if not runs:
            continue
        rows = {"goal_success": [], "goal_proximity": [], "tracking_emd": [], "knn": [], "smoothness": [],
                "normalised_return": []}
        for r in runs:
            ev = r["eval"]
            rows["goal_success"].append(ev["goal_success"])
            rows["goal_proximity"].append(ev["goal_proximity"])
            rows["tracking_emd"].append(ev["tracking_emd"])
            rows["knn"].append(ev["likeness"]["knn"])
            rows["smoothness"].append(ev["likeness"]["smoothness"])
            norm = [ev["reward_returns"][t] / ref[t] for t in ev["reward_returns"] if t in valid]
            rows["normalised_return"].append(float(np.mean(norm)) if norm else float("nan"))
        out[algo] = {k: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, len(v))
                     for k, v in rows.items()}
    return out


def _runs_by_time(results: dict, algo: str) -> dict:
    """``{train_seconds_all_seeds: [seeds]}`` of one algorithm: the seeds trained in one run share it."""
    out: dict = {}
    for r in results["runs"].values():
        if r["algo"] == algo:
            out.setdefault(r["train_seconds_all_seeds"], []).append(r["seed"])
    return {k: sorted(v) for k, v in out.items()}


def seed_groups(results: dict) -> list[tuple[list[str], list[int]]]:
    """The training runs behind ``results``, in seed order: ``[(algos, seeds)]``, one per group of
    seeds trained together (both algorithms of a group merged when their seeds agree)."""
    groups: dict = {}
    for algo in ("fbcpr", "fb"):
        for seeds in _runs_by_time(results, algo).values():
            groups.setdefault(tuple(seeds), []).append(algo)
    return [(algos, list(seeds)) for seeds, algos in sorted(groups.items())]


def write_readme(results: dict, out: pathlib.Path, args) -> None:
    summ = summarise(results)
    lines = ["# Shipped FB / FB-CPR checkpoints (four-room point mass, `cpu` preset)", "",
             "Made by (2 shared CPU cores; the first group of seeds single-threaded at `nice -n 19`, later",
             "groups at `nice -n 10`; each group trained in one run, later groups added to the same results",
             "file, which the script extends):", "", "```bash"]
    groups = seed_groups(results)
    for i, (algos, seeds) in enumerate(groups):
        td3_flag = f" --td3-updates {args.td3_updates}" if i == 0 else " --skip-td3"
        lines.append(f"python scripts/fbcpr_train.py --scale {args.scale} --seeds {' '.join(map(str, seeds))} "
                     f"--algos {' '.join(algos)}{td3_flag}")
    lines += [f"flock /work/team/heavy.lock nice -n 10 python scripts/fbcpr_oracle.py --scale {args.scale}  # the oracle"]
    if results.get("planner_goals"):
        lines.append(f"flock /work/team/heavy.lock nice -n 10 python scripts/fbcpr_oracle.py --scale {args.scale} --goals")
    if results.get("planner_tracking"):
        lines.append(f"flock /work/team/heavy.lock nice -n 10 {results['planner_tracking']['command']}")
    lines += ["```", "",
             "Each `<algo>_<scale>_seed<k>.safetensors` holds the actor and backward-map parameters, the config",
             "(metadata), the evaluation and a 4,096-state inference buffer (replay next states) for reward",
             "prompts. `results_<scale>.json` has every number; `tests/test_fbcpr_checkpoints.py` reloads a",
             "checkpoint and reproduces its recorded evaluation.", "", "Wall time (all seeds of one algorithm "
             "trained together under `vmap`, compile included):", ""]
    for algo in ("fbcpr", "fb"):
        for seconds, seeds in sorted(_runs_by_time(results, algo).items(), key=lambda kv: kv[1]):
            lines.append(f"- {algo}, seed{'s' if len(seeds) > 1 else ''} {' '.join(map(str, seeds))}: {seconds:.0f} s")
    for key in sorted(k for k in results if k == "td3" or k.startswith("td3_")):
        for task, r in results[key].items():
            lines.append(f"- TD3 `{task}`: {r['train_seconds']:.0f} s ({r['n_updates']} updates), "
                         f"return {r['return']:.1f}")
    for task, r in results.get("planner", {}).items():
        lines.append(f"- planner oracle `{task}`: {r['seconds']:.0f} s (grid {r['grid']}, {r['iters']} sweeps), "
                     f"return {r['return']:.1f} (worst start {r['min_return']:.1f})")
    if results.get("planner_goals"):
        pg = results["planner_goals"]
        lines.append(f"- planner oracle, goal suite (`--goals`): {pg['seconds']:.0f} s (grid {pg['grid']}, "
                     f"{pg['iters']} sweeps, goal bump σ = {pg['sigma']}), success {pg['success']:.3f}, "
                     f"proximity {pg['proximity']:.3f}")
    if results.get("planner_tracking"):
        pt = results["planner_tracking"]
        lines.append(f"- tracking specialist, one planner per held-out motion (`--tracking`): {pt['seconds']:.0f} s for "
                     f"{pt['n_motions']} motions (grid {pt['grid']}), EMD {pt['emd']:.4f}, mean error "
                     f"{pt['error']:.4f}, success {pt['success']:.3f}")
    valid = oracle_tasks(results)
    lines += ["", "Evaluation (mean ± sample std over seeds; 16 starts in the config's start regime, 12 goals,",
              "held-out motions for tracking). The oracle of a task is the planner of `scripts/fbcpr_oracle.py`",
              "(value iteration on the exact dynamics, acted out closed-loop): TD3 from room 1 never found the",
              "far rooms. The normalised return averages ours / oracle over the tasks where the oracle is a",
              f"real top-line (return > 1 and >= 98% of TD3 and every zero-shot run): {', '.join(valid) or 'none'}.",
              "",
              "| algo | normalised return (vs oracle) | goal success | goal proximity | tracking EMD | k-NN dist | smoothness |",
              "|---|---|---|---|---|---|---|"]
    for algo, s in summ.items():
        cell = lambda k, s=s: f"{s[k][0]:.3f} ± {s[k][1]:.3f}"  # noqa: E731
        lines.append(f"| {algo} (n={s['goal_success'][2]}) | {cell('normalised_return')} | {cell('goal_success')} | "
                     f"{cell('goal_proximity')} | {cell('tracking_emd')} | {cell('knn')} | {cell('smoothness')} |")
    (out / "README.md").write_text("\n".join(lines) + "\n")


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
