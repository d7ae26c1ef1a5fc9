"""Fine-tuning the shipped SFL generalist on one hand-made level against PPO from scratch, over seeds.

Notebook 01b runs the comparison once (seed 0, its scale's budget); this repeats it at the ``cpu``
budget of the notebook (16 updates of the shipped config, 32 attempts per evaluation) for several
seeds (each seed changes the scratch network's initial weights, the PPO keys and the evaluation
key) and writes every curve, the per-seed summaries, the command, the wall time, the date and the
commit to ``rizzlib/kinetix/checkpoints/finetune_seeds.json``. Seed 0 has the notebook's ``cpu``
settings and keys (run here on one XLA thread, its numbers can differ from the notebook's run with
XLA's default threads). Every call's command and ``XLA_FLAGS`` are kept. The file is rewritten after every seed and a rerun with the same
level, updates and attempts skips the seeds already in it (``--fresh`` starts over), so a run that is
stopped resumes where it was.

    nice -n 19 env XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \\
        python scripts/kinetix_finetune_seeds.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import rizzlib
from rizzlib.kinetix.builtin import load_builtin_level
from rizzlib.kinetix.finetune import finetune_vs_scratch, summarise
from rizzlib.kinetix.train import load_checkpoint

CKPT = Path(__file__).resolve().parents[1] / "rizzlib" / "kinetix" / "checkpoints"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--level", default="s/thrust_aim")
    ap.add_argument("--updates", type=int, default=16, help="PPO updates per run (notebook's cpu budget)")
    ap.add_argument("--attempts", type=int, default=32)
    ap.add_argument("--out", type=Path, default=CKPT / "finetune_seeds.json")
    ap.add_argument("--fresh", action="store_true", help="ignore the seeds already in --out")
    args = ap.parse_args(argv)
    params, cfg, _ = load_checkpoint(str(CKPT / "sfl.safetensors"))
    results = json.loads((CKPT / "results.json").read_text())
    u = results["untrained"]
    i = u["names"]["ours_s"].index(args.level)
    baselines = {k: u["ours_s"][k][i] for k in ("noop", "random")}
    level, _ = load_builtin_level(args.level)
    t0 = time.time()
    runs, wall0, commands = previous_runs(args)
    commands.append("python scripts/kinetix_finetune_seeds.py " + " ".join(sys.argv[1:] if argv is None else argv))
    for seed in args.seeds:
        if any(r["seed"] == seed for r in runs):
            print(f"seed {seed}: already in {args.out}, skipped", flush=True)
            continue
        t_seed = time.time()
        res = finetune_vs_scratch(dataclasses.replace(cfg, seed=seed), level, params, num_updates=args.updates,
                                  attempts=args.attempts, eval_seed=7 + seed, baselines=baselines, progress=False)
        runs.append({"seed": seed, "summary": summarise(res), "run_seconds": round(time.time() - t_seed, 1),
                     **res.to_dict()})
        s = runs[-1]["summary"]
        print(f"seed {seed}: final fine-tuned {s['final_finetune']:.3f} scratch {s['final_scratch']:.3f} "
              f"(means {s['mean_finetune']:.3f} / {s['mean_scratch']:.3f}) after {time.time() - t0:.0f} s", flush=True)
        write(args, cfg, baselines, runs, commands, wall0 + time.time() - t0)
    write(args, cfg, baselines, runs, commands, wall0 + time.time() - t0)
    print(f"wrote {args.out}: seeds {[r['seed'] for r in runs]} in {time.time() - t0:.0f} s")
    return 0


def previous_runs(args) -> tuple[list, float, list]:
    """(runs, wall seconds, commands) already in ``args.out`` for the same level, updates and attempts."""
    if args.fresh or not args.out.is_file():
        return [], 0.0, []
    old = json.loads(args.out.read_text())
    if (old.get("level"), old.get("updates"), old.get("attempts")) != (args.level, args.updates, args.attempts):
        return [], 0.0, []
    return list(old.get("runs", [])), float(old.get("wall_seconds", 0)), list(old.get("commands", []))


def write(args, cfg, baselines, runs, commands, wall) -> None:
    """Write the record (every seed finished so far; ``commands``: every call that added to it)."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=args.out.resolve().parent).stdout.strip()
    out = {"level": args.level, "updates": args.updates, "attempts": args.attempts,
           "seeds": [r["seed"] for r in runs],
           "planned_seeds": sorted({r["seed"] for r in runs} | set(args.seeds)),
           "env_steps": args.updates * cfg.ppo.num_envs * cfg.ppo.num_steps, "baselines": baselines, "runs": runs,
           "commands": commands, "xla_flags": os.environ.get("XLA_FLAGS", ""),
           "rizzlib_from": str(Path(rizzlib.__file__).parent), "wall_seconds": round(wall), "commit": commit,
           "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")}
    args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
