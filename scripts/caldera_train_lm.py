"""Train the chapter 2 byte LM on the Python standard library and ship it as a small checkpoint.

Writes ``rizzlib/caldera/checkpoints/stdlib_lm.safetensors`` (fp16 weights, config, held-out
perplexity, wall time and the corpus digest in the metadata) and a ``README.md`` beside it.
``tests/test_caldera_checkpoint.py`` reloads it and reproduces the perplexity.

    nice -n 10 python scripts/caldera_train_lm.py --steps 400 --batch 16   # one thread, ~1.1M parameters
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
import time
from pathlib import Path

import torch

from rizzlib.caldera.data import bits_per_byte, perplexity, stdlib_corpus, to_tokens, windows
from rizzlib.caldera.lm import CHECKPOINT, LMConfig, TrainLMConfig, build_lm, load_lm, save_lm, train_lm

EVAL_WINDOWS = 256  # held-out windows the README and the test evaluate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--out", type=Path, default=CHECKPOINT)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    corpus = stdlib_corpus(0)
    cfg, tcfg = LMConfig(), TrainLMConfig(steps=args.steps, batch=args.batch, warmup=min(100, args.steps // 10))
    model = build_lm(cfg, seed=tcfg.seed)
    t0 = time.perf_counter()
    losses = train_lm(model, to_tokens(corpus.train), cfg.ctx, tcfg)
    wall = time.perf_counter() - t0
    extra = {
        "train": dataclasses.asdict(tcfg),
        "wall_s": round(wall, 1),
        "losses_every_100": [round(v, 4) for v in losses],
        "test_digest": corpus.digest("test"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "eval_windows": EVAL_WINDOWS,
        "n_params": sum(p.numel() for p in model.parameters()),
    }
    save_lm(model, cfg, args.out, extra)
    # evaluate the weights as shipped (fp16 -> fp32), exactly what the test reloads
    shipped, _, _ = load_lm(args.out)
    ppl = perplexity(shipped, windows(to_tokens(corpus.test), cfg.ctx, EVAL_WINDOWS))
    extra["test_ppl"] = round(ppl, 5)
    save_lm(shipped, cfg, args.out, extra)
    write_readme(args.out.parent, cfg, extra, args, corpus)
    print(f"held-out ppl {ppl:.4f} ({bits_per_byte(ppl):.3f} bits/byte), {wall / 60:.1f} min", flush=True)
    return 0


def write_readme(out: Path, cfg: LMConfig, extra: dict, args, corpus) -> None:
    """README.md beside the checkpoint: command, machine, wall time, perplexity."""
    lines = [
        "# Chapter 2 checkpoint: a byte-level Llama-style LM of the Python standard library",
        "",
        "Made by `scripts/caldera_train_lm.py`; reproduced by `tests/test_caldera_checkpoint.py`.",
        "",
        "```bash",
        f"nice -n 10 python scripts/caldera_train_lm.py --steps {args.steps} --batch {args.batch} --threads {args.threads}",
        "```",
        "",
        f"Machine: {platform.machine()} CPU shared with other jobs, torch {torch.__version__}, "
        f"{args.threads} thread, Python {platform.python_version()} ({sys.platform}).",
        f"Model: `LlamaForCausalLM`, d={cfg.d_model}, {cfg.n_layers} layers, {cfg.n_heads} heads, FFN {cfg.d_ff}, "
        f"vocabulary 256 (bytes), context {cfg.ctx}, {extra['n_params']:,} parameters, stored in fp16.",
        f"Data: stdlib `.py` files split by a seeded hash of the path: {len(corpus.files['train'])} train / "
        f"{len(corpus.files['calib'])} calibration / {len(corpus.files['test'])} held-out files "
        f"({len(corpus.train) / 1e6:.1f} / {len(corpus.calib) / 1e6:.2f} / {len(corpus.test) / 1e6:.2f} MB); "
        f"held-out digest `{extra['test_digest']}`.",
        f"Training: {extra['train']['steps']} AdamW steps, batch {extra['train']['batch']} x {cfg.ctx} bytes, "
        f"lr {extra['train']['lr']} (warm-up, cosine to 10%).",
        "",
        "| wall time (min) | held-out perplexity per byte (first "
        f"{extra['eval_windows']} windows of {cfg.ctx}) | bits per byte |",
        "|---|---|---|",
        f"| {extra['wall_s'] / 60:.1f} | {extra['test_ppl']:.4f} | {bits_per_byte(extra['test_ppl']):.3f} |",
        "",
    ]
    (out / "README.md").write_text("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
