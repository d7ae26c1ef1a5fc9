"""Train the chapter 3 maze models for longer than the notebook can, and ship them as checkpoints.

Both objectives get the same data, sizes, steps and seed (the ``cpu`` preset, with ``--steps``
overriding its length). Writes ``rizzlib/mazes/checkpoints/{mlmu,ntp}.safetensors`` (weights, model
config, data and training config, wall time and held-out accuracy in the metadata) and a
``README.md`` beside them. ``tests/test_mazes_checkpoints.py`` reloads them and reproduces the
evaluation.

    python scripts/train_mazes_checkpoint.py --steps 6000            # ~0.2M-parameter models, CPU
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from rizzlib.mazes.eval import evaluate
from rizzlib.mazes.presets import preset
from rizzlib.mazes.train import init_model, make_datasets, save_checkpoint, train

OUT = Path(__file__).resolve().parents[1] / "rizzlib" / "mazes" / "checkpoints"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6000, help="optimizer steps per model")
    parser.add_argument("--objectives", default="mlmu,ntp")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    base = preset("cpu")
    cfg = dataclasses.replace(base, train=dataclasses.replace(base.train, steps=args.steps, eval_every=max(args.steps // 10, 1)))
    torch.set_num_threads(cfg.threads)
    vocab, train_data, test_data = make_datasets(cfg.data)
    for obj in args.objectives.split(","):
        model = init_model(cfg.model_config(obj, vocab.model_size), cfg.train.seed)
        hist = train(model, train_data, cfg.train, test_data, desc=obj)
        t0 = time.perf_counter()
        acc = evaluate(model, test_data, solved=False).accuracy_by_size()
        # the slice tests/test_mazes_checkpoints.py re-evaluates (60 held-out mazes per size)
        idx = np.concatenate([np.flatnonzero(test_data.sizes.numpy() == n)[:60] for n in cfg.data.sizes])
        sub = evaluate(model, test_data.subset(idx), solved=False).accuracy_by_size()
        extra = {
            "objective": obj,
            "data": dataclasses.asdict(cfg.data),
            "train": dataclasses.asdict(cfg.train),
            "wall_s": round(hist.wall_s, 1),
            "eval_s": round(time.perf_counter() - t0, 1),
            "accuracy_by_size": {str(k): v for k, v in acc.items()},
            "subset_accuracy_by_size": {str(k): v for k, v in sub.items()},
            "learning_curve": {"step": hist.eval_step, "accuracy": [{str(k): v for k, v in a.items()} for a in hist.eval_accuracy]},
            "loss_every_100": hist.loss[::100],
        }
        save_checkpoint(model, args.out / f"{obj}.safetensors", extra=extra)
        print(obj, json.dumps({k: extra[k] for k in ("wall_s", "accuracy_by_size")}), flush=True)
    write_readme(args.out, cfg, len(train_data), len(test_data))
    return 0


def write_readme(out: Path, cfg, n_train: int, n_test: int) -> None:
    """README.md from the metadata of every checkpoint in ``out`` (objectives may train separately)."""
    from safetensors import safe_open

    rows = []
    for obj in ("mlmu", "ntp"):
        path = out / f"{obj}.safetensors"
        if path.is_file():
            with safe_open(str(path), framework="pt") as f:
                rows.append(json.loads(f.metadata()["extra"]))
    steps = rows[0]["train"]["steps"] if rows else cfg.train.steps
    lines = [
        "# Chapter 3 checkpoints",
        "",
        "Made by `scripts/train_mazes_checkpoint.py`; reproduced by `tests/test_mazes_checkpoints.py`.",
        "",
        "```bash",
        f"python scripts/train_mazes_checkpoint.py --steps {steps} --objectives mlmu   # and, in parallel, --objectives ntp",
        "```",
        "",
        f"Machine: {platform.machine()} CPU shared with other jobs, torch {torch.__version__}, {cfg.threads} thread per run, "
        f"Python {platform.python_version()}.",
        f"Data: DFS mazes of sizes {cfg.data.sizes}, {n_train} training / {n_test} held-out "
        f"(seed {cfg.data.seed}); model d_model={cfg.d_model}, {cfg.n_heads} heads, {cfg.n_blocks} blocks; "
        f"{steps} steps of batch {cfg.train.batch_size}, lr {cfg.train.lr}. Accuracy: exact match on all held-out mazes.",
        "",
        "| objective | wall time (min) | " + " | ".join(f"exact {n}x{n}" for n in cfg.data.sizes) + " |",
        "|---|---|" + "---|" * len(cfg.data.sizes),
    ]
    for r in rows:
        accs = " | ".join(f"{r['accuracy_by_size'][str(n)]:.1%}" for n in cfg.data.sizes)
        lines.append(f"| {r['objective']} | {r['wall_s'] / 60:.1f} | {accs} |")
    (out / "README.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
