"""Why the shipped model does not learn offset arithmetic: short training runs of the same small Llama
on arithmetic variants, with the loss on the answer digit logged against ln 10 (uniform guessing).

Variants (each a fresh model of the shipped size, same optimiser, same seed, only the task differs):

* ``a+b+c, c per episode``: the shipped task, y = (a + b + c) mod 10;
* ``a+b, c = 0``: plain addition mod 10, a fixed rule the weights can store (a 100-entry table);
* ``a+c, c per episode``: one digit plus the episode's offset, y = (a + c) mod 10; the same digit
  recurs in the context, so copying its answer (an induction head) is enough.
* ``a+b+c, wider``: the shipped task on a model of width 128 (4x the parameters).

The script writes ``benchmarks/results/icl_arith_probe.json`` (read by the chapter's notebook): a
list of runs (``--append`` adds one), each with its settings and, per variant, the digit loss every
``--log-every`` steps on a fixed evaluation batch and the teacher-forced accuracy of the answer digit
once at least 8 demos precede it. The committed file holds these four runs (the last two are the
longer probe, one after the other in the background, about 45 minutes in all):

    flock /work/team/heavy.lock nice -n 10 python scripts/icl_arith_probe.py --minutes 4.3 \
        --variants "a+b+c, c per episode" "a+b, c = 0" "a+c, c per episode"
    flock /work/team/heavy.lock nice -n 10 python scripts/icl_arith_probe.py --minutes 5 --seq-len 64 \
        --variants "a+b, c = 0" "a+c, c per episode" --append
    nice -n 15 python scripts/icl_arith_probe.py --minutes 28 --log-every 50 --verbose --append \
        --variants "a+b+c, c per episode"
    nice -n 15 python scripts/icl_arith_probe.py --minutes 14 --log-every 50 --verbose --append \
        --variants "a+b, c = 0"
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from rizzlib.icl.model import ModelConfig, build_model, count_parameters
from rizzlib.icl.tasks import DIGITS, OffsetArithTask, make_tokenizer
from rizzlib.icl.train import TrainConfig, episode_sequence, lr_at

OUT = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "icl_arith_probe.json"
SHIPPED = ModelConfig(hidden=64, layers=3, heads=4, mlp=256, max_positions=1024)
VARIANTS = {
    "a+b+c, c per episode": (OffsetArithTask(n_terms=2, n_offsets=10), SHIPPED),
    "a+b, c = 0": (OffsetArithTask(n_terms=2, n_offsets=1), SHIPPED),
    "a+c, c per episode": (OffsetArithTask(n_terms=1, n_offsets=10), SHIPPED),
    "a+b+c, wider": (OffsetArithTask(n_terms=2, n_offsets=10), dataclasses.replace(SHIPPED, hidden=128, mlp=512)),
}


def batch(task, tok, rng: np.random.Generator, size: int, seq_len: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ids, loss mask, digit mask) of shape (size, seq_len); the digit mask marks answers after >= 8 demos."""
    ids = torch.zeros((size, seq_len), dtype=torch.long)
    mask = torch.zeros((size, seq_len))
    late = torch.zeros((size, seq_len), dtype=torch.bool)
    digit_ids = set(tok.convert_tokens_to_ids(list(DIGITS)))
    for b in range(size):
        seq, m = episode_sequence("arith", tok, rng, seq_len, task=task)
        ids[b, : len(seq)] = torch.tensor(seq)
        mask[b, : len(m)] = torch.tensor(m, dtype=torch.float32)
        answers = [i for i, (t, mm) in enumerate(zip(seq, m)) if mm and t in digit_ids]
        for j, i in enumerate(answers):
            if j >= 8:
                late[b, i] = True
    return ids, mask, late


@torch.no_grad()
def evaluate(model, ids: torch.Tensor, mask: torch.Tensor, late: torch.Tensor, digit_ids: torch.Tensor) -> tuple[float, float]:
    """(mean cross-entropy of the answer digits in nats, accuracy of the digits after >= 8 demos)."""
    model.eval()
    logits = model(input_ids=ids[:, :-1], use_cache=False).logits
    target, m, lt = ids[:, 1:], mask[:, 1:].bool(), late[:, 1:]
    is_digit = torch.isin(target, digit_ids) & m
    ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target, reduction="none")
    acc = (logits.argmax(-1) == target)[lt].float().mean()
    model.train()
    return float(ce[is_digit].mean()), float(acc)


def run_variant(name: str, task, mcfg: ModelConfig, minutes: float, steps: int, args) -> dict:
    tok = make_tokenizer()
    cfg = TrainConfig(steps=steps, batch_size=args.batch_size, seq_len=args.seq_len, warmup=100, max_minutes=minutes, tasks=("arith",), task_weights=(1.0,))
    model = build_model(mcfg, seed=0).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    rng = np.random.default_rng(0)
    eval_batch = batch(task, tok, np.random.default_rng(123), args.eval_batch, args.seq_len)
    digit_ids = torch.tensor(tok.convert_tokens_to_ids(list(DIGITS)))
    log: dict[str, list[float]] = {"step": [], "digit_loss": [], "late_acc": []}
    start = time.perf_counter()
    step = 0
    while step < steps:
        frac = (time.perf_counter() - start) / (60 * minutes)
        if frac >= 1:
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg, frac)
        if step % args.log_every == 0:
            loss, acc = evaluate(model, *eval_batch, digit_ids)
            log["step"].append(step)
            log["digit_loss"].append(round(loss, 4))
            log["late_acc"].append(round(acc, 4))
            if args.verbose:
                print(f"{name}: step {step}, {time.perf_counter() - start:.0f} s, digit loss {loss:.4f}, late acc {acc:.3f}", flush=True)
        ids, mask, _ = batch(task, tok, rng, args.batch_size, args.seq_len)
        logits = model(input_ids=ids[:, :-1], use_cache=False).logits
        ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
        loss = (ce * mask[:, 1:]).sum() / mask[:, 1:].sum().clamp_min(1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
    loss, acc = evaluate(model, *eval_batch, digit_ids)
    log["step"].append(step)
    log["digit_loss"].append(round(loss, 4))
    log["late_acc"].append(round(acc, 4))
    out = {
        "n_terms": task.n_terms,
        "n_offsets": task.n_offsets,
        "model": dataclasses.asdict(mcfg),
        "parameters": count_parameters(model),
        "steps": step,
        "wall_s": round(time.perf_counter() - start, 1),
        **log,
    }
    print(f"{name}: {step} steps, digit loss {log['digit_loss'][0]:.3f} -> {loss:.3f} (ln 10 = {math.log(10):.3f}), "
          f"accuracy after >= 8 demos {acc:.3f}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="wall time per variant")
    parser.add_argument("--steps", type=int, default=100_000, help="step cap per variant")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--eval-batch", type=int, default=32, help="sequences in the fixed evaluation batch")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--append", action="store_true", help="add this run to the runs already in --out")
    parser.add_argument("--verbose", action="store_true", help="print every logged evaluation")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    run = {
        "command": shlex.join(["python", "scripts/icl_arith_probe.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": f"{platform.machine()} CPU shared with other jobs, torch {torch.__version__}, 1 thread",
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": {"minutes": args.minutes, "batch_size": args.batch_size, "seq_len": args.seq_len, "eval_batch": args.eval_batch, "lr": TrainConfig.lr},
        "variants": {},
    }
    for name in args.variants:
        if name not in VARIANTS:
            raise ValueError(f"variants must be among {list(VARIANTS)}; got {name!r}")
    result = {"uniform_loss": math.log(10), "runs": []}
    if args.append and args.out.is_file():
        result = json.loads(args.out.read_text())
    result["runs"].append(run)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for name in args.variants:
        task, mcfg = VARIANTS[name]
        run["variants"][name] = run_variant(name, task, mcfg, args.minutes, args.steps, args)
        run["wall_s"] = round(time.perf_counter() - start, 1)
        # written after every variant, so a run stopped early keeps the variants it finished
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
