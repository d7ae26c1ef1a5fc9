"""DFS maze generation speed of ``rizzlib.mazes`` against ``maze-dataset``'s ``gen_dfs`` (the
generator the MLM-U paper used), and training tokens/s of the two maze models.

Generation: mazes per second for 5x5, 10x10 and 20x20 grids, best of ``--repeats`` runs of at
least ``--seconds`` each, ours and the peer timed in the same run, their runs interleaved. "ours" is
``rizzlib.mazes.dfs_connections`` on batches of ``DFS_CHUNK`` mazes (maze only, like ``gen_dfs``);
"ours, full" is ``generate_dfs`` (maze + random start/goal + path). The peer is
``LatticeMazeGenerators.gen_dfs(np.array([n, n]))`` called once per maze, as maze-dataset does.

maze-dataset 1.4.2 needs ``muutils==0.8.12`` (newer muutils break it); it installs into the project
venv without moving numpy/torch/jax (``pip install maze-dataset==1.4.2 muutils==0.8.12``), and then
the peer runs in this process. Otherwise pass ``--peer-python /path/to/venv/bin/python`` (a venv with
those two packages): this file is then run there with ``--peer-worker``, importing only numpy and
maze_dataset.

Training: tokens per second (real tokens per batch, forward + backward + AdamW step) of the MLM-U
and next-token models of the ``cpu`` preset (same width and blocks, ~0.2M parameters each, its torch
thread count and batch size), on 5x5 DFS mazes, via ``rizzlib.mazes.train.measure_training_throughput``.

    python benchmarks/mazes.py
    python benchmarks/mazes.py --json benchmarks/results/mazes.json
    python benchmarks/mazes.py --quick
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time


def time_rate(make_batch, seconds: float, repeats: int) -> float:
    """Best items/s over ``repeats`` runs; each run calls ``make_batch() -> count`` for >= ``seconds``."""
    best = 0.0
    for _ in range(repeats):
        done, start = 0, time.perf_counter()
        while True:
            done += make_batch()
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        best = max(best, done / elapsed)
    return best


def peer_rate(size: int, seconds: float, repeats: int) -> float:
    """maze-dataset ``gen_dfs`` mazes/s in this process (imports only numpy and maze_dataset)."""
    import numpy as np
    from maze_dataset.generation import LatticeMazeGenerators

    shape = np.array([size, size])
    LatticeMazeGenerators.gen_dfs(shape)  # warm-up (imports, caches)

    def one() -> int:
        LatticeMazeGenerators.gen_dfs(shape)
        return 1

    return time_rate(one, seconds, repeats)


def peer_rate_subprocess(python: str, size: int, seconds: float, repeats: int) -> float:
    out = subprocess.run(
        [python, os.path.abspath(__file__), "--peer-worker", str(size), str(seconds), str(repeats)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["per_s"])


def peer_in_process() -> bool:
    try:
        from maze_dataset.generation import LatticeMazeGenerators  # noqa: F401
    except Exception:  # any import failure (missing, or broken by a newer muutils) means "not here"
        return False
    return True


def ours_rates(size: int, seconds: float, repeats: int) -> tuple[float, float]:
    """(maze-only mazes/s, full task mazes/s) of rizzlib.mazes."""
    import numpy as np

    from rizzlib.mazes.generate import DFS_CHUNK, dfs_connections, generate_dfs

    rng = np.random.default_rng(0)
    dfs_connections(size, 16, rng)  # warm-up

    def mazes_only() -> int:
        dfs_connections(size, DFS_CHUNK, rng)
        return DFS_CHUNK

    def full() -> int:
        generate_dfs(size, DFS_CHUNK, rng)
        return DFS_CHUNK

    return time_rate(mazes_only, seconds, repeats), time_rate(full, seconds, repeats)


def training_rates(steps: int, scale: str = "cpu", n_mazes: int = 512, size: int = 5) -> list[dict]:
    """Training tokens/s of both objectives with the model of preset ``scale`` (same width and
    block count, hence about the same parameters), on ``n_mazes`` DFS mazes of side ``size``."""
    import numpy as np
    import torch

    from rizzlib.mazes.generate import generate_dfs
    from rizzlib.mazes.model import build_model, count_parameters
    from rizzlib.mazes.presets import preset
    from rizzlib.mazes.tokens import dfs_vocab, tokenize
    from rizzlib.mazes.train import measure_training_throughput

    cfg = preset(scale)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(0)
    vocab = dfs_vocab(size)
    data = tokenize(generate_dfs(size, n_mazes, rng), vocab, rng)
    batch_size = cfg.train.batch_size
    rows = []
    for objective in ("mlmu", "ntp"):
        model_cfg = cfg.model_config(objective, vocab.model_size)
        rate = measure_training_throughput(model_cfg, data, batch_size=batch_size, steps=steps)
        rows.append(
            {
                "objective": objective,
                "preset": scale,
                "grid": size,
                "batch_size": batch_size,
                "d_model": model_cfg.d_model,
                "n_blocks": model_cfg.n_blocks,
                "params": count_parameters(build_model(model_cfg)),
                "tokens_per_s": rate,
                "torch_threads": torch.get_num_threads(),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[5, 10, 20])
    ap.add_argument("--seconds", type=float, default=2.0, help="minimum seconds per timed run")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (best is kept)")
    ap.add_argument(
        "--train-steps", type=int, default=10, help="timed training steps per objective (0: skip)"
    )
    ap.add_argument(
        "--peer-python", default=None, help="python of a venv with maze-dataset, when not importable here"
    )
    ap.add_argument("--quick", action="store_true", help="0.5 s x 1 run, 3 training steps")
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument("--peer-worker", nargs=3, metavar=("SIZE", "SECONDS", "REPEATS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.peer_worker:
        size, seconds, repeats = (
            int(args.peer_worker[0]),
            float(args.peer_worker[1]),
            int(args.peer_worker[2]),
        )
        print(json.dumps({"per_s": peer_rate(size, seconds, repeats)}))
        return 0
    if args.quick:
        args.seconds, args.repeats, args.train_steps = 0.5, 1, min(args.train_steps, 3)

    if args.peer_python is None and not peer_in_process():
        ap.error(
            "maze-dataset is not importable here: pip install maze-dataset==1.4.2 muutils==0.8.12, "
            "or pass --peer-python /path/to/venv/bin/python"
        )
    where = "in process" if args.peer_python is None else f"subprocess ({args.peer_python})"

    rows = []
    print(f"DFS mazes per second (best of {args.repeats} x {args.seconds:g} s; peer {where})")
    print(f"{'grid':>6} {'ours':>10} {'ours, full':>11} {'gen_dfs':>9} {'ratio':>7}")
    for size in args.sizes:
        # alternate single runs of ours and the peer, so a load spike on a shared machine hits both
        ours = full = peer = 0.0
        for _ in range(args.repeats):
            o, f = ours_rates(size, args.seconds, 1)
            if args.peer_python is None:
                p = peer_rate(size, args.seconds, 1)
            else:
                p = peer_rate_subprocess(args.peer_python, size, args.seconds, 1)
            ours, full, peer = max(ours, o), max(full, f), max(peer, p)
        rows.append(
            {
                "size": size,
                "ours_per_s": ours,
                "peer_per_s": peer,
                "ratio": ours / peer,
                "ours_full_per_s": full,
            }
        )
        print(f"{size:>3}x{size:<2} {ours:>10.0f} {full:>11.0f} {peer:>9.0f} {ours / peer:>6.1f}x")

    training: list[dict] = []
    if args.train_steps > 0:
        training = training_rates(args.train_steps)
        print(f"\nTraining tokens/s (cpu preset model, 5x5 DFS, {args.train_steps} timed steps)")
        for row in training:
            print(
                f"  {row['objective']:>5}: {row['tokens_per_s']:>9.0f} tokens/s  ({row['params']:,} params)"
            )

    if args.json:
        import numpy as np

        import rizzlib

        result = {
            "generator": rows,
            "training": training,
            "peer": f"maze-dataset gen_dfs, {where}",
            "seconds": args.seconds,
            "repeats": args.repeats,
            "machine": {
                "platform": platform.platform(),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "numpy": np.__version__,
                "rizzlib": rizzlib.__version__,
            },
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
