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


def _data(grid: int, max_train: int, n_test: int):
    """(vocab, train pool TokenBatch, test TokenBatch, test MazeBatch) of one grid, cached per process."""
    key = (grid, max_train, n_test)
    if key not in _CACHE:
        import numpy as np

        from rizzlib.mazes.generate import generate_dfs, split_train_val
        from rizzlib.mazes.tokens import dfs_vocab, tokenize

        rng = np.random.default_rng(1000 + grid)
        # a little extra so that dropping training tasks that repeat a held-out task leaves max_train
        mazes = generate_dfs(grid, int(max_train * 1.02) + 50 + n_test, rng)
        train, test = split_train_val(mazes, n_test)
        if len(train) < max_train:
            raise RuntimeError(
                f"only {len(train)} distinct training mazes of {grid}x{grid}; need {max_train}"
            )
        train = train.subset(np.arange(max_train))
        vocab = dfs_vocab(grid)
        _CACHE[key] = (vocab, tokenize(train, vocab, rng), tokenize(test, vocab, rng), test)
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
    vocab, pool, test, test_mazes = _data(spec.grid, args["max_train"], args["n_test"])
    data = pool.subset(torch.arange(spec.n_train))
    steps = args["samples"] // args["batch_size"]
    model = init_model(
        ModelConfig(vocab.model_size, spec.objective, args["d_model"], 4, args["n_blocks"]), spec.seed
    )
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
    if spec.objective == "mlmu":
        conf = evaluate(model, test, solved=False, order="confidence")
        final["confidence"] = {
            "exact": float(conf.exact.mean()),
            "token_acc": float(conf.token_acc.mean()),
            "exact_per_maze": "".join("1" if e else "0" for e in conf.exact),
        }
        final["loss_by_rate"] = {"rate": list(RATES), "loss": mlmu_loss_by_rate(model, test, RATES)}
    every = max(steps // 100, 1)
    loss = np.array(hist.loss)
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


def _worker(item):
    spec, args = item
    try:
        return spec, run_one(spec, args), None
    except Exception as exc:  # report and keep the study going
        return spec, None, f"{type(exc).__name__}: {exc}"


def _grid_info(grid: int, args: dict) -> dict:
    from rizzlib.mazes.analysis import fork_counts

    _, _, test, test_mazes = _data(grid, args["max_train"], args["n_test"])
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
    p.add_argument("--objectives", default="mlmu,ntp")
    p.add_argument("--samples", type=int, default=96_000, help="training samples per run (steps x batch)")
    p.add_argument("--batch-size", type=int, default=16, help="16: the official 5x5 configs' batch")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--n-blocks", type=int, default=4, help="MLM-U: half encoder, half decoder; GPT: all")
    p.add_argument("--n-test", type=int, default=500)
    p.add_argument("--eval-points", type=int, default=8)
    p.add_argument("--eval-mazes", type=int, default=200)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=OUT)
    a = p.parse_args(argv)
    grids, sizes, seeds = ([int(v) for v in s.split(",") if v] for s in (a.grids, a.sizes, a.seeds))
    objectives = [o for o in a.objectives.split(",") if o]
    args = {
        "samples": a.samples, "batch_size": a.batch_size, "lr": a.lr, "d_model": a.d_model, "n_blocks": a.n_blocks,
        "n_test": a.n_test, "eval_points": a.eval_points, "eval_mazes": a.eval_mazes, "max_train": max(sizes),
    }  # fmt: skip
    # the most informative runs first: the smallest grid, all sizes, one seed at a time
    specs = [Spec(g, n, s, o) for g in grids for s in seeds for n in sizes for o in objectives]

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
        for spec, rec, err in pool.imap_unordered(_worker, [(s, args) for s in pending]):
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
            _write(a.out, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
