"""Chapter 2 speed: our fast Walsh-Hadamard transform against the ``hadamard-transform`` package, our
fused CPU decode-matmul against decode-then-matmul, and LDLQ / CALDERA time per layer.

Every row is {kernel, shape, batch, ours_s, peer, peer_s, ratio} with ratio = peer_s / ours_s
(> 1: ours is faster), each time the best run of alternating warm runs
(:func:`rizzlib.core.timing.best_run_seconds`), ours and the peer in the same process.

* ``fwht``: ``rizzlib.caldera.fwht`` vs ``hadamard_transform.hadamard_transform`` (PyPI
  ``hadamard-transform``, pure torch), sizes 256..8192, batch 1 and 64, fp32.
* ``decode_matmul``: a 4096 x 4096 E8P layer with rank-64 factors, batch 1 and 16: the fused path
  (Q decoded 64 rows at a time into the matmul, never the dense weight) vs the reference (decode the
  dense weight, then matmul); the dense fp32 matmul is printed beside them with each one's memory.
* ``ldlq`` / ``caldera``: seconds per layer at the ``cpu`` model's shapes (no peer).

    python benchmarks/caldera.py
    python benchmarks/caldera.py --json benchmarks/results/caldera.json
    python benchmarks/caldera.py --quick
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time

import torch

from rizzlib.caldera.codebooks import get_codebook
from rizzlib.caldera.decompose import CalderaConfig, caldera
from rizzlib.caldera.hadamard import fwht
from rizzlib.caldera.kernels import decode_q, fused_matmul_cpu, reference_matmul
from rizzlib.caldera.ldlq import ldlq
from rizzlib.core.timing import best_run_seconds


def row(kernel, shape, batch, ours_s, peer=None, peer_s=None, **extra):
    return {
        "kernel": kernel, "shape": list(shape), "batch": batch, "ours_s": ours_s, "peer": peer, "peer_s": peer_s,
        "ratio": None if peer_s is None else peer_s / ours_s, **extra,
    }  # fmt: skip


def bench_fwht(sizes, batches, min_s):
    from hadamard_transform import hadamard_transform

    out = []
    for n in sizes:
        for b in batches:
            x = torch.randn(b, n)
            t = best_run_seconds({"ours": lambda x=x: fwht(x), "peer": lambda x=x: hadamard_transform(x)}, min_s=min_s)
            out.append(row("fwht", (n,), b, t["ours"], "hadamard-transform 0.2.0", t["peer"]))
    return out


def bench_decode_matmul(m, n, rank, batches, min_s):
    g = torch.Generator().manual_seed(0)
    codes = torch.randint(-32768, 32768, (m, n // 8, 1), generator=g).to(torch.int16)
    l, r = torch.randn(m, rank, generator=g) / rank**0.5, torch.randn(rank, n, generator=g) / n**0.5
    dense = decode_q(codes, 2, 0.1) + l @ r
    out = []
    mib = 2**20
    memory = {
        "fused_extra_mib": 64 * n * 4 / mib,
        "reference_extra_mib": m * n * 4 / mib,
        "codes_mib": codes.numel() * 2 / mib,
        "factors_fp32_mib": (l.numel() + r.numel()) * 4 / mib,
        "dense_fp32_mib": m * n * 4 / mib,
    }
    with torch.no_grad():
        for b in batches:
            x = torch.randn(b, n, generator=g)
            t = best_run_seconds(
                {
                    "fused": lambda x=x: fused_matmul_cpu(x, codes, 2, 0.1, l, r),
                    "reference": lambda x=x: reference_matmul(x, codes, 2, 0.1, l, r),
                    "dense": lambda x=x: x @ dense.T,
                },
                min_s=min_s,
            )
            out.append(row("decode_matmul", (m, n), b, t["fused"], "decode-then-matmul (reference)", t["reference"],
                           rank=rank, dense_fp32_s=t["dense"], ratio_vs_dense=t["dense"] / t["fused"], memory=memory))  # fmt: skip
    return out


def bench_layers(shapes, cfg):
    out = []
    cb = get_codebook(2)
    for m, n in shapes:
        g = torch.Generator().manual_seed(m + n)
        w = torch.randn(m, n, generator=g)
        x = torch.randn(4 * n, n, generator=g)
        h = (x.T @ x / x.shape[0]).double() + 0.01 * torch.eye(n, dtype=torch.float64)
        t0 = time.perf_counter()
        ldlq(w, h, cb, tune_iters=cfg.tune_iters)
        out.append(row("ldlq", (m, n), None, time.perf_counter() - t0, tune_iters=cfg.tune_iters))
        t0 = time.perf_counter()
        caldera(w, h, cfg)
        out.append(row("caldera", (m, n), None, time.perf_counter() - t0, rank=cfg.rank, outer_iters=cfg.outer_iters, lr_iters=cfg.lr_iters))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None, help="write the rows here")
    parser.add_argument("--quick", action="store_true", help="fewer sizes and shorter timing")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    min_s = 0.2 if args.quick else 1.0
    sizes = (256, 1024, 4096) if args.quick else (256, 512, 1024, 2048, 4096, 8192)
    rows = bench_fwht(sizes, (1, 64), min_s)
    rows += bench_decode_matmul(4096, 4096, 64, (1, 16), min_s)
    cfg = CalderaConfig(rank=16, outer_iters=2 if args.quick else 5, lr_iters=2 if args.quick else 10, tune_iters=2)
    rows += bench_layers(((128, 128), (512, 128), (128, 512)), cfg)
    for r in rows:
        ratio = "" if r["ratio"] is None else f"  ratio {r['ratio']:.2f}x vs {r['peer']}"
        extra = f"  (vs dense fp32 {r['ratio_vs_dense']:.2f}x)" if "ratio_vs_dense" in r else ""
        print(f"{r['kernel']:14s} {str(tuple(r['shape'])):14s} batch {r['batch']!s:4s} ours {r['ours_s'] * 1e3:9.3f} ms{ratio}{extra}")
    mem = next(r["memory"] for r in rows if r["kernel"] == "decode_matmul")
    print("decode_matmul memory (MiB):", json.dumps({k: round(v, 2) for k, v in mem.items()}))
    if args.json:
        meta = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"), "machine": platform.machine(),
                "torch": torch.__version__, "threads": args.threads, "quick": args.quick}  # fmt: skip
        with open(args.json, "w") as f:
            json.dump([{**r, **meta} for r in rows], f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
