"""Chapter 3 study: MLM-U vs next-token training on small DFS mazes, by training-set size and samples seen.

Both objectives, parameter-matched (the ``cpu`` preset's width and blocks), are trained on nested
training sets of each size (the first N mazes of one pool per grid; one held-out set per grid) for
the same number of samples, so small sets are seen for many epochs. Every run records a learning
curve (held-out exact match and token accuracy, greedy left-to-right decoding, against samples seen)
and a final evaluation on the whole held-out set: exact match per maze, MLM-U also in confidence
order, teacher-forced accuracy on forced moves vs forks, the first wrong token's kind, and MLM-U's
loss at fixed masking rates. Runs go to worker processes (one torch thread each); the JSON file is
rewritten after EVERY finished run, so a partial study is usable, and a rerun skips finished runs.

    nice -n 19 python scripts/mazes_study.py --workers 2            # the committed study (hours, CPU)
    python scripts/mazes_study.py --grids 4 --sizes 200 --samples 2000 --seeds 0 --out /tmp/s.json  # smoke

Output: ``rizzlib/mazes/results/study.json`` (read by ``notebooks/03_mazes.ipynb``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import os
import platform
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "rizzlib" / "mazes" / "results" / "study.json"
CKPT = Path(__file__).resolve().parents[1] / "rizzlib" / "mazes" / "checkpoints"
RATES = (0.0, 0.25, 0.5, 0.75, 0.9)


@dataclasses.dataclass(frozen=True)
class Spec:
    grid: int
    n_train: int
    seed: int
    objective: str

    @property
    def key(self) -> str:
        return f"{self.grid}x{self.grid}/n{self.n_train}/s{self.seed}/{self.objective}"


_CACHE: dict = {}
MARGIN = 100  # extra training mazes generated, so dropping the few that repeat a held-out task leaves enough


def data_config(grid: int, args: dict):
    """The :class:`~rizzlib.mazes.presets.DataConfig` of one grid: one pool, one held-out set."""
    from rizzlib.mazes.presets import DataConfig

    return DataConfig(
        kind="dfs", sizes=(grid,), n_train=args["max_train"] + MARGIN, n_test=args["n_test"], seed=1000 + grid
    )


def _data(grid: int, args: dict):
    """(vocab, train pool TokenBatch, test TokenBatch, test MazeBatch) of one grid, cached per process."""
    key = (grid, args["max_train"], args["n_test"])
    if key not in _CACHE:
        from rizzlib.mazes.maze import stack_mazes
        from rizzlib.mazes.tokens import detokenize
        from rizzlib.mazes.train import make_datasets

        vocab, pool, test = make_datasets(data_config(grid, args))
        if len(pool) < args["max_train"]:
            raise RuntimeError(
                f"only {len(pool)} distinct training mazes of {grid}x{grid}; need {args['max_train']}"
            )
        _CACHE[key] = (vocab, pool, test, stack_mazes([detokenize(test, i) for i in range(len(test))]))
    return _CACHE[key]


def run_one(spec: Spec, args: dict) -> dict:
    """Train and evaluate one (grid, training-set size, seed, objective); returns the run's record."""
    import numpy as np
    import torch

    from rizzlib.mazes.analysis import (
        KIND_NAMES,
        accuracy_by_kind,
        answer_kinds,
        first_error,
        mlmu_loss_by_rate,
        teacher_forced_correct,
    )
    from rizzlib.mazes.eval import evaluate
    from rizzlib.mazes.model import ModelConfig, count_parameters
    from rizzlib.mazes.train import TrainConfig, init_model, train

    torch.set_num_threads(1)
    vocab, pool, test, test_mazes = _data(spec.grid, args)
    data = pool.subset(torch.arange(spec.n_train))
    steps = args["samples"] // args["batch_size"]
    objective, init = spec.objective.split("-") if "-" in spec.objective else (spec.objective, "official")
    mcfg = ModelConfig(vocab.model_size, objective, args["d_model"], 4, args["n_blocks"], init=init)
    model = init_model(mcfg, spec.seed)
    cfg = TrainConfig(
        steps=steps,
        batch_size=args["batch_size"],
        lr=args["lr"],
        eval_every=max(steps // args["eval_points"], 1),
        eval_mazes=args["eval_mazes"],
        seed=spec.seed,
    )
    hist = train(model, data, cfg, test, progress=False)
    t0 = time.perf_counter()
    res = evaluate(model, test, solved=False)
    kinds = answer_kinds(test_mazes)
    n_ans = test.answer_mask.sum(1).numpy()
    fe = first_error(res.predicted, res.target, n_ans)
    fe_kind = [KIND_NAMES[int(kinds[i, j])] if j >= 0 else "none" for i, j in enumerate(fe)]
    tf = teacher_forced_correct(model, test)
    final = {
        "exact": float(res.exact.mean()),
        "token_acc": float(res.token_acc.mean()),
        "exact_per_maze": "".join("1" if e else "0" for e in res.exact),
        "first_error": fe.tolist(),
        "first_error_kind": {k: fe_kind.count(k) for k in ("origin", "forced", "fork", "end", "none")},
        "teacher_forced_by_kind": accuracy_by_kind(tf, kinds),
    }
    if objective == "mlmu":
        conf = evaluate(model, test, solved=False, order="confidence")
        final["confidence"] = {
            "exact": float(conf.exact.mean()),
            "token_acc": float(conf.token_acc.mean()),
            "exact_per_maze": "".join("1" if e else "0" for e in conf.exact),
        }
        final["loss_by_rate"] = {"rate": list(RATES), "loss": mlmu_loss_by_rate(model, test, RATES)}
    every = max(steps // 100, 1)
    loss = np.array(hist.loss)
    shipped = spec.key.rsplit("/", 1)[0] in args["checkpoint_runs"] and spec.objective in ("mlmu", "ntp")
    if shipped:  # the ablation never overwrites a shipped model
        _save_checkpoint(model, spec, args, cfg, hist, res, test, time.perf_counter() - t0)
    return {
        **dataclasses.asdict(spec),
        "params": count_parameters(model),
        "steps": steps,
        "batch_size": cfg.batch_size,
        "samples_seen": steps * cfg.batch_size,
        "epochs": steps * cfg.batch_size / spec.n_train,
        "train_wall_s": round(hist.wall_s, 1),
        "eval_wall_s": round(time.perf_counter() - t0, 1),
        "curve": {
            "samples": [s * cfg.batch_size for s in hist.eval_step],
            "exact": [a[spec.grid] for a in hist.eval_accuracy],
            "token_acc": [a[spec.grid] for a in hist.eval_token_accuracy],
            "n_mazes": min(cfg.eval_mazes, len(test)),
        },
        "loss": {
            "samples": [(i + every) * cfg.batch_size for i in range(0, steps, every)],
            "value": [round(float(loss[i : i + every].mean()), 4) for i in range(0, steps, every)],
        },
        "final": final,
    }


def _save_checkpoint(model, spec: Spec, args: dict, cfg, hist, res, test, eval_s: float) -> None:
    """Ship this run's model as ``{objective}.safetensors`` with what tests/test_mazes_checkpoints.py reads."""
    import numpy as np

    from rizzlib.mazes.eval import evaluate
    from rizzlib.mazes.train import save_checkpoint

    idx = np.flatnonzero(test.sizes.numpy() == spec.grid)[:60]  # the slice the test re-evaluates
    sub = evaluate(model, test.subset(idx), solved=False).accuracy_by_size()
    extra = {
        "objective": spec.objective,
        "source": f"scripts/mazes_study.py run {spec.key}",
        "data": dataclasses.asdict(data_config(spec.grid, args)),
        "n_train_used": spec.n_train,
        "train": dataclasses.asdict(cfg),
        "wall_s": round(hist.wall_s, 1),
        "eval_s": round(eval_s, 1),
        "accuracy_by_size": {str(k): v for k, v in res.accuracy_by_size().items()},
        "subset_accuracy_by_size": {str(k): v for k, v in sub.items()},
        "learning_curve": {
            "step": hist.eval_step,
            "accuracy": [{str(k): v for k, v in a.items()} for a in hist.eval_accuracy],
        },
        "loss_every_100": hist.loss[::100],
    }
    save_checkpoint(model, Path(args["checkpoint_dir"]) / f"{spec.objective}.safetensors", extra=extra)


def write_checkpoint_readme(out: Path) -> None:
    """README.md beside the shipped checkpoints, from their metadata."""
    import torch
    from safetensors import safe_open

    rows = []
    for obj in ("mlmu", "ntp"):
        path = out / f"{obj}.safetensors"
        if path.is_file():
            with safe_open(str(path), framework="pt") as f:
                rows.append((obj, json.loads(f.metadata()["extra"]), json.loads(f.metadata()["config"])))
    lines = [
        "# Chapter 3 checkpoints",
        "",
        "Two runs of `scripts/mazes_study.py` (the study file of the same budget in `rizzlib/mazes/results/` has",
        "the command and machine: `study.json` for 32,000 samples a run, `study_long.json` for 128,000);",
        "`tests/test_mazes_checkpoints.py` reloads them and reproduces the evaluation",
        "on the first 60 held-out mazes. Data: the study's DFS pool of the grid (`data` in the metadata), the",
        "first `n_train_used` training mazes; accuracy: exact match on all held-out mazes, greedy left to right.",
        f"torch {torch.__version__}, 1 thread, on a shared 2-core CPU.",
        "",
        "| objective | run | params (d, blocks) | steps x batch | train wall (min) | exact match |",
        "|---|---|---|---|---|---|",
    ]
    for obj, extra, mc in rows:
        acc = ", ".join(f"{k}x{k}: {v:.1%}" for k, v in extra["accuracy_by_size"].items())
        lines.append(
            f"| {obj} | {extra.get('source', 'before issue 8').split()[-1]} | d {mc['d_model']}, {mc['n_blocks']} blocks | "
            f"{extra['train']['steps']} x {extra['train']['batch_size']} | {extra['wall_s'] / 60:.1f} | {acc} |"
        )
    (out / "README.md").write_text("\n".join(lines) + "\n")


def _worker(item):
    spec, args = item
    try:
        return spec, run_one(spec, args), None
    except Exception as exc:  # report and keep the study going
        return spec, None, f"{type(exc).__name__}: {exc}"


def _grid_info(grid: int, args: dict) -> dict:
    from rizzlib.mazes.analysis import fork_counts

    _, _, test, test_mazes = _data(grid, args)
    return {
        "n_test": len(test),
        "path_length": test_mazes.path_lengths.tolist(),
        "n_forks": fork_counts(test_mazes).tolist(),
    }


def _write(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grids", default="5,7")
    p.add_argument(
        "--sizes", default="2000,5000,20000", help="training-set sizes (nested subsets of one pool)"
    )
    p.add_argument("--seeds", default="0,1")
    p.add_argument(
        "--objectives", default="mlmu,ntp", help="mlmu, ntp; 'mlmu-gpt2' = MLM-U with GPT-2's init"
    )
    p.add_argument("--samples", type=int, default=32_000, help="training samples per run (steps x batch)")
    p.add_argument("--batch-size", type=int, default=16, help="16: the official 5x5 configs' batch")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--n-blocks", type=int, default=4, help="MLM-U: half encoder, half decoder; GPT: all")
    p.add_argument("--n-test", type=int, default=400)
    p.add_argument("--eval-points", type=int, default=5)
    p.add_argument("--eval-mazes", type=int, default=100)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument(
        "--checkpoint-runs", default="5x5/n20000/s0", help="grid/size/seed runs whose models are shipped"
    )
    p.add_argument(
        "--ablation", default="5x5/n20000/s0", help="grid/size/seed of one MLM-U run with GPT-2 init"
    )
    p.add_argument("--checkpoint-dir", type=Path, default=CKPT)
    a = p.parse_args(argv)
    grids, sizes, seeds = ([int(v) for v in s.split(",") if v] for s in (a.grids, a.sizes, a.seeds))
    objectives = [o for o in a.objectives.split(",") if o]
    args = {
        "samples": a.samples, "batch_size": a.batch_size, "lr": a.lr, "d_model": a.d_model, "n_blocks": a.n_blocks,
        "n_test": a.n_test, "eval_points": a.eval_points, "eval_mazes": a.eval_mazes, "max_train": max(sizes),
    }  # fmt: skip
    args_run = {
        **args,
        "checkpoint_runs": a.checkpoint_runs.split(","),
        "checkpoint_dir": str(a.checkpoint_dir),
    }
    # the most informative runs first: per grid and seed, the largest training set (its seed-0 models
    # ship as the checkpoints), then the smallest (most epochs), then the rest
    order = sorted(sizes, key=lambda n: (n != max(sizes), n))
    specs = [Spec(g, n, s, o) for g in grids for s in seeds for n in order for o in objectives]
    if a.ablation:  # the MLM-U model with GPT-2's init (before issue 8), once, right after its twin pair
        g, n, seed = a.ablation.split("/")
        twin = Spec(int(g.split("x")[0]), int(n[1:]), int(seed[1:]), objectives[-1])
        at = specs.index(twin) + 1 if twin in specs else len(specs)
        specs.insert(at, dataclasses.replace(twin, objective="mlmu-gpt2"))

    import torch

    doc = {"runs": []}
    if a.out.is_file():
        old = json.loads(a.out.read_text())
        if old.get("meta", {}).get("args") == args:
            doc = old
    done = {Spec(r["grid"], r["n_train"], r["seed"], r["objective"]).key for r in doc["runs"]}
    pending = [s for s in specs if s.key not in done]
    doc["meta"] = {
        "command": "python "
        + " ".join(shlex.quote(v) for v in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
        "args": args,
        "machine": f"{platform.machine()} {platform.processor() or ''} CPU, {os.cpu_count()} cores shared with other jobs; "
        f"{a.workers} worker processes, 1 torch thread each".replace("  ", " "),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "started_utc": doc.get("meta", {}).get("started_utc")
        or datetime.now(UTC).isoformat(timespec="seconds"),
        "planned": [s.key for s in specs],
        "errors": doc.get("meta", {}).get("errors", []),
        "wall_s": doc.get("meta", {}).get("wall_s", 0.0),
    }
    doc.setdefault("grids", {})
    for g in grids:
        doc["grids"].setdefault(str(g), _grid_info(g, args))
    _write(a.out, doc)
    print(f"{len(pending)} runs to do, {len(done)} already in {a.out}", flush=True)
    start = time.perf_counter()
    wall0 = doc["meta"]["wall_s"]
    ctx = mp.get_context("spawn")
    with ctx.Pool(a.workers, maxtasksperchild=4) as pool:
        for spec, rec, err in pool.imap_unordered(_worker, [(s, args_run) for s in pending]):
            if err:
                doc["meta"]["errors"].append(f"{spec.key}: {err}")
                print(f"{spec.key}: FAILED {err}", flush=True)
            else:
                doc["runs"].append(rec)
                f = rec["final"]
                print(
                    f"{spec.key}: exact {f['exact']:.3f} token {f['token_acc']:.3f} ({rec['train_wall_s']:.0f} s)",
                    flush=True,
                )
            doc["meta"]["wall_s"] = round(wall0 + time.perf_counter() - start, 1)
            doc["meta"]["updated_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
            _write(a.out, doc)  # first: a finished run is never lost
            if not err and spec.key.rsplit("/", 1)[0] in args_run["checkpoint_runs"]:
                try:
                    write_checkpoint_readme(Path(a.checkpoint_dir))
                except Exception as exc:  # the README is a convenience; keep the study going
                    print(f"checkpoint README not written: {exc}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
