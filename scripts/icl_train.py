"""Meta-train the chapter 5 in-context learner and ship it as a small safetensors checkpoint.

Trains the small Llama of :mod:`rizzlib.icl.model` on the synthetic task families (fresh rule per
sequence, see :mod:`rizzlib.icl.train`), saving ``rizzlib/icl/checkpoints/icl_llama.safetensors``
every 250 steps, then evaluates it (``--eval-only`` re-runs just the evaluation) and writes the
evaluation into the checkpoint's metadata and ``README.md`` beside it.
``tests/test_icl_checkpoint.py`` reloads it and reproduces the evaluation.

    nice -n 19 python scripts/icl_train.py --max-minutes 80      # 1 thread
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import torch

from rizzlib.icl.model import (
    CHECKPOINT,
    ModelConfig,
    build_model,
    count_parameters,
    load_checkpoint,
    save_checkpoint,
)
from rizzlib.icl.tasks import make_tokenizer
from rizzlib.icl.train import TrainConfig, train

MODEL = ModelConfig(hidden=64, layers=3, heads=4, mlp=256, max_positions=1024)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--max-minutes", type=float, default=85.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=CHECKPOINT)
    parser.add_argument("--eval-only", action="store_true", help="re-evaluate the saved checkpoint")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    tok = make_tokenizer()
    command = "python scripts/icl_train.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if not args.eval_only:
        cfg = TrainConfig(steps=args.steps, batch_size=args.batch_size, seq_len=args.seq_len, max_minutes=args.max_minutes)
        model = build_model(MODEL, seed=cfg.seed)
        t0 = time.perf_counter()

        def save(step, m, final=False):
            extra = {
                "train": dataclasses.asdict(cfg),
                "steps_done": step,
                "wall_s": round(time.perf_counter() - t0, 1),
                "final": final,
                "command": command,
                "machine": f"{platform.machine()} CPU shared with other jobs, torch {torch.__version__}, "
                f"{args.threads} thread, Python {platform.python_version()}",
                "parameters": count_parameters(m),
            }
            save_checkpoint(m, args.out, extra=extra)
            print(f"saved step {step} at {extra['wall_s']} s", flush=True)

        hist = train(model, tok, cfg, callback=save)
        save(hist["steps"], model, final=True)
        print("loss every 100:", [round(v, 3) for v in hist["loss"][::100]], flush=True)
    model, extra = load_checkpoint(args.out)
    from rizzlib.icl.evaluate import CHECKPOINT_EVAL, CHECKPOINT_TEST_EVAL, evaluate_shots

    t0 = time.perf_counter()
    result = evaluate_shots(model, tok, **CHECKPOINT_EVAL)
    extra["evaluation"] = {"settings": CHECKPOINT_EVAL, "result": result, "eval_s": round(time.perf_counter() - t0, 1)}
    extra["test_evaluation"] = {"settings": CHECKPOINT_TEST_EVAL, "result": evaluate_shots(model, tok, **CHECKPOINT_TEST_EVAL)}
    extra["model"] = dataclasses.asdict(MODEL)
    save_checkpoint(model, args.out, extra=extra)
    write_readme(args.out, extra)
    print(json.dumps(extra["evaluation"], indent=1))
    return 0


def write_readme(path: Path, extra: dict) -> None:
    ev = extra["evaluation"]
    shots = ev["settings"]["shots"]
    lines = [
        "# Chapter 5 checkpoint: a small Llama meta-trained to learn in context",
        "",
        "Made by `scripts/icl_train.py`; reproduced by `tests/test_icl_checkpoint.py`.",
        "",
        "```bash",
        f"nice -n 19 {extra['command']}",
        "```",
        "",
        f"Machine: {extra['machine']}.",
        f"Model: `LlamaForCausalLM` {json.dumps(extra['model'])}, {extra['parameters']:,} parameters.",
        f"Training: {extra['steps_done']} steps of {extra['train']['batch_size']} sequences x "
        f"{extra['train']['seq_len']} tokens (tasks {extra['train']['tasks']}, weights {extra['train']['task_weights']}), "
        f"wall time {extra['wall_s'] / 60:.1f} min.",
        "",
        f"Evaluation ({ev['settings']['episodes']} fresh episodes per task, {ev['settings']['queries']} queries each, "
        f"random fixed demos, greedy decoding, exact match; seed {ev['settings']['seed']}; {ev['eval_s']:.0f} s):",
        "",
        "| task | learner | " + " | ".join(f"{k} shots" for k in shots) + " |",
        "|---|---|" + "---|" * len(shots),
    ]
    for task, by_learner in ev["result"].items():
        for learner, accs in by_learner.items():
            lines.append(f"| {task} | {learner} | " + " | ".join(f"{a:.3f}" for a in accs) + " |")
    lines.append("")
    (path.parent / "README.md").write_text("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
