"""Retrain the chapter 3 checkpoints alone: the two runs of ``scripts/mazes_study.py`` that ship.

The shipped models (``rizzlib/mazes/checkpoints/{mlmu,ntp}.safetensors``) are the study's 5x5 runs
with the largest training set and seed 0. This script repeats exactly those two runs (same data
pool, held-out set, seed and schedule, so the same batches and masks), writes the checkpoints and
their README, and keeps its own results file out of the committed study.
``tests/test_mazes_checkpoints.py`` reloads the checkpoints and reproduces their evaluation.

    nice -n 19 python scripts/train_mazes_checkpoint.py                  # ~0.2M-parameter models, CPU
    python scripts/train_mazes_checkpoint.py --samples 64000 --out /tmp/ckpt   # a longer run elsewhere
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mazes_study  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=5)
    parser.add_argument("--n-train", type=int, default=20_000, help="the study's largest training set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=None, help="default: the study's")
    parser.add_argument("--out", type=Path, default=mazes_study.CKPT, help="checkpoint folder")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        study_args = [
            f"--grids={args.grid}",
            f"--sizes={args.n_train}",
            f"--seeds={args.seed}",
            "--ablation=",
            f"--checkpoint-runs={args.grid}x{args.grid}/n{args.n_train}/s{args.seed}",
            f"--checkpoint-dir={args.out}",
            f"--out={Path(tmp) / 'runs.json'}",
        ]
        if args.samples:
            study_args.append(f"--samples={args.samples}")
        return mazes_study.main(study_args)


if __name__ == "__main__":
    sys.exit(main())
