"""Prefix KV caching speed-up of ``rizzlib.icl``: scoring a set of queries after a fixed block of
demonstrations with and without the cache, for 16 to 512 shots, on the chapter's ``cpu`` model
(the shipped small Llama, or the same config freshly initialised) and on a larger config.

Each query is scored one at a time (``--batch-size 1``) in both paths: uncached, the whole
prefix + query runs; cached, the prefix is encoded once and each query
runs its own tokens against a copy of the cache. ``cached_s`` excludes the one-time prefix encoding
(``prefix_s``; one prefix serves every query of a run), ``amortized`` adds it back for just these
queries (so it cannot exceed about the number of queries). The ideal speed-up is (n + k) / k for n prefix and
k query tokens; ``copy_s`` is the time spent copying the cache alone, which with the per-call
overheads bounds the speed-up for short prefixes. Demonstrations are key-token classification
demos (7 tokens each), queries their 5-token inputs.

    python benchmarks/icl.py
    python benchmarks/icl.py --json benchmarks/results/icl.json
    python benchmarks/icl.py --quick
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys

import torch

from rizzlib.icl.model import CHECKPOINT, ModelConfig, build_model, load_checkpoint
from rizzlib.icl.speed import synthetic_prompt_ids, time_scoring
from rizzlib.icl.tasks import make_tokenizer

CPU_MODEL = ModelConfig(hidden=64, layers=3, heads=4, mlp=256, max_positions=1024)
LARGE_MODEL = ModelConfig(hidden=256, layers=6, heads=8, mlp=1024, max_positions=4096)


def _sig(seconds: float) -> float:
    """Four significant digits: a fixed 4-decimal rounding of a ~2 ms timing is off by up to 2.5 %."""
    return float(f"{seconds:.4g}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", default="16,32,64,128,256,512")
    parser.add_argument("--queries", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="16 and 128 shots, 4 queries, one repeat")
    parser.add_argument("--json", default=None, help="write the rows to this path")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    shots = [16, 128] if args.quick else [int(s) for s in args.shots.split(",")]
    queries, repeats = (4, 1) if args.quick else (args.queries, args.repeats)
    tok = make_tokenizer()
    cpu_model = load_checkpoint(CHECKPOINT)[0] if CHECKPOINT.is_file() else build_model(CPU_MODEL)
    models = {"cpu": cpu_model, "large": build_model(LARGE_MODEL)}
    rows = []
    for name, model in models.items():
        for k in shots:
            prefix, qs = synthetic_prompt_ids(tok, "keycls", k, queries, seed=k)
            t = time_scoring(model, prefix, qs, k, batch_size=args.batch_size, repeats=repeats)
            row = {
                "model": name,
                "shots": k,
                "prefix_tokens": t.prefix_tokens,
                "query_tokens": t.query_tokens,
                "cached_s": _sig(t.cached_s),
                "uncached_s": _sig(t.uncached_s),
                "speedup": round(t.speedup, 2),
                "prefix_s": _sig(t.prefix_s),
                "amortized": round(t.amortized_speedup, 2),
                "predicted": round(t.predicted, 1),
                "copy_s": _sig(t.copy_s),
            }
            rows.append(row)
            print(
                f"{name:5s} {k:4d} shots  n={t.prefix_tokens:5d}  cached {t.cached_s:7.3f} s  uncached {t.uncached_s:7.3f} s  "
                f"speed-up {t.speedup:6.1f}x  (n+k)/k {t.predicted:6.1f}  prefix once {t.prefix_s:6.3f} s "
                f"(amortized {t.amortized_speedup:5.1f}x)  cache copies {t.copy_s:6.3f} s",
                flush=True,
            )
    if args.json:
        meta = {
            "model_configs": {"cpu": CPU_MODEL.__dict__, "large": LARGE_MODEL.__dict__},
            "date": datetime.date.today().isoformat(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": f"{platform.machine()}, {args.threads} torch thread(s), shared 2-core CPU",
            "queries": queries,
            "batch_size": args.batch_size,
            "argv": sys.argv[1:],
        }
        with open(args.json, "w") as f:
            json.dump([{**row, **meta} for row in rows], f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
