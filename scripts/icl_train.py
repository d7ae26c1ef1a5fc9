"""Meta-train the chapter 5 in-context learner and ship it as a small safetensors checkpoint.

Trains the small Llama of :mod:`rizzlib.icl.model` on the synthetic task families (fresh rule per
sequence, see :mod:`rizzlib.icl.train`), saving ``rizzlib/icl/checkpoints/icl_llama.safetensors``
every 250 steps, then evaluates it (``--eval-only`` re-runs just the evaluation) and writes the
evaluation into the checkpoint's metadata and ``README.md`` beside it.
``tests/test_icl_checkpoint.py`` reloads it and reproduces the evaluation.

    nice -n 19 python scripts/icl_train.py --max-minutes 80      # 1 thread

``--curriculum`` trains offset arithmetic with :class:`rizzlib.icl.train.OffsetCurriculum` (start at
c = 0, widen the offset range as accuracy rises); the arith checkpoint beside the shipped one is

    nice -n 19 python scripts/icl_train.py --tasks arith --curriculum --seq-len 64 --batch-size 16 \
        --max-minutes 57 --out rizzlib/icl/checkpoints/icl_llama_arith.safetensors
    python scripts/icl_train.py --eval-only --out rizzlib/icl/checkpoints/icl_llama_arith.safetensors

Its record goes to ``<stem>.md`` beside it (the default checkpoint's to ``README.md``), and only the
trained tasks are evaluated. That checkpoint saw 12 demonstrations per sequence and fails past them;
the long one goes on from it (``--init``: its weights, its curriculum stage) with 70 demonstrations
per sequence, a two-stage length curriculum:

    nice -n 15 python scripts/icl_train.py --tasks arith --curriculum \
        --init rizzlib/icl/checkpoints/icl_llama_arith.safetensors --seq-len 352 --batch-size 8 --lr 5e-4 \
        --steps 20000 --max-minutes 70 --out rizzlib/icl/checkpoints/icl_llama_arith_long.safetensors

``--stages cipher keycls`` trains those tasks through :data:`rizzlib.icl.train.STAGES` (cipher:
one-symbol words up to the default 2-4; keycls: no distractors up to the default 3), each moving on
when its teacher-forced accuracy reaches ``--stage-threshold``; the cipher/keycls checkpoint is

    nice -n 19 python scripts/icl_train.py --tasks cipher keycls --stages cipher keycls \
        --init rizzlib/icl/checkpoints/icl_llama.safetensors --seq-len 512 --batch-size 4 --lr 5e-4 \
        --max-minutes 60 --out rizzlib/icl/checkpoints/icl_llama_lookup.safetensors

Every save also writes ``<stem>.resume.pt`` (optimizer moments, data generator, logs; not shipped,
deleted at the end); a run cut before its end goes on with ``--resume --out <checkpoint>`` exactly
as if it had not stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
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
from rizzlib.icl.train import OffsetCurriculum, StageCurriculum, TrainConfig, train

MODEL = ModelConfig(hidden=64, layers=3, heads=4, mlp=256, max_positions=1024)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--max-minutes", type=float, default=85.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=CHECKPOINT)
    parser.add_argument("--tasks", nargs="+", default=list(TrainConfig.tasks))
    parser.add_argument("--task-weights", nargs="+", type=float, default=None, help="default: the shipped mix, or equal")
    parser.add_argument("--curriculum", action="store_true", help="arith offsets from c = 0, widened as accuracy rises")
    parser.add_argument("--threshold", type=float, default=OffsetCurriculum.threshold, help="curriculum: accuracy that widens")
    parser.add_argument("--window", type=int, default=OffsetCurriculum.window, help="curriculum: steps averaged")
    parser.add_argument("--stages", nargs="+", default=[], help="tasks trained through their stages (train.STAGES)")
    parser.add_argument("--stage-threshold", type=float, default=StageCurriculum.threshold, help="stages: accuracy that moves on")
    parser.add_argument("--stage-window", type=int, default=StageCurriculum.window, help="stages: steps averaged")
    parser.add_argument("--lr", type=float, default=TrainConfig.lr, help="peak learning rate")
    parser.add_argument("--warmup", type=int, default=TrainConfig.warmup, help="warm-up steps")
    parser.add_argument("--init", type=Path, default=None,
                        help="start from this checkpoint's weights (with --curriculum, at the offsets it reached; with --stages, at the stages)")
    parser.add_argument("--resume", action="store_true",
                        help="go on from --out's last save and its resume file (a run cut before its end)")
    parser.add_argument("--eval-only", action="store_true", help="re-evaluate the saved checkpoint")
    args = parser.parse_args(argv)
    if args.task_weights is None:
        same = tuple(args.tasks) == TrainConfig.tasks
        args.task_weights = list(TrainConfig.task_weights) if same else [1.0] * len(args.tasks)
    torch.set_num_threads(args.threads)
    tok = make_tokenizer()
    command = "python scripts/icl_train.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if not args.eval_only:
        run_train(args, tok, command)
    model, extra = load_checkpoint(args.out)
    from rizzlib.icl.evaluate import CHECKPOINT_EVAL, CHECKPOINT_TEST_EVAL, evaluate_shots

    trained = list(extra["train"]["tasks"])
    for c in extra["train"].get("stages", []):  # records written before "start" was kept beside the stages
        extra.get("stages", {}).get(c["task"], {}).setdefault("start", c["start"])
    settings = {**CHECKPOINT_EVAL, "tasks": [t for t in CHECKPOINT_EVAL["tasks"] if t in trained]}
    test_settings = {**CHECKPOINT_TEST_EVAL, "tasks": [t for t in CHECKPOINT_TEST_EVAL["tasks"] if t in trained]}
    t0 = time.perf_counter()
    result = evaluate_shots(model, tok, **settings)
    extra["evaluation"] = {"settings": settings, "result": result, "eval_s": round(time.perf_counter() - t0, 1)}
    extra["test_evaluation"] = {"settings": test_settings, "result": evaluate_shots(model, tok, **test_settings)}
    extra.pop("stage_evaluation", None)
    extra.pop("stage_test_evaluation", None)
    if extra.get("n_offsets", 10) < 10:
        # the curriculum stopped short of all 10 offsets: also evaluate on the offsets it trained on
        stage = {"task_kwargs": {"arith": {"n_offsets": extra["n_offsets"]}}, "tasks": ["arith"]}
        t0 = time.perf_counter()
        extra["stage_evaluation"] = {"settings": {**settings, **stage}, "result": evaluate_shots(model, tok, **settings | stage)}
        extra["stage_evaluation"]["eval_s"] = round(time.perf_counter() - t0, 1)
        extra["stage_test_evaluation"] = {"settings": {**test_settings, **stage}, "result": evaluate_shots(model, tok, **test_settings | stage)}
    unfinished = {t: c for t, c in extra.get("stages", {}).items() if c["stage"] < len(c["stages"]) - 1}
    if unfinished:
        # a StageCurriculum stopped before its last stage: also evaluate at the stage it reached
        stage = {"task_kwargs": {t: c["stages"][c["stage"]] for t, c in unfinished.items()}, "tasks": sorted(unfinished)}
        t0 = time.perf_counter()
        extra["stage_evaluation"] = {"settings": {**settings, **stage}, "result": evaluate_shots(model, tok, **settings | stage)}
        extra["stage_evaluation"]["eval_s"] = round(time.perf_counter() - t0, 1)
        extra["stage_test_evaluation"] = {"settings": {**test_settings, **stage}, "result": evaluate_shots(model, tok, **test_settings | stage)}
    extra["model"] = dataclasses.asdict(model.rizzlib_config)
    save_checkpoint(model, args.out, extra=extra)
    write_readme(args.out, extra)
    print(json.dumps(extra["evaluation"], indent=1))
    return 0


def resume_path(out: Path) -> Path:
    """Where a run keeps what it needs to go on after a cut (optimizer, data generator, logs): not shipped."""
    return out.with_name(out.stem + ".resume.pt")


def run_train(args, tok, command: str) -> None:
    """Train (or, with ``--resume``, go on training) and save ``args.out`` every 250 steps and at the end."""
    state = None
    if args.resume:
        if not resume_path(args.out).is_file():
            raise FileNotFoundError(f"--resume needs {resume_path(args.out)}, written by a run cut before its end")
        model, prev = load_checkpoint(args.out)
        if prev.get("final"):
            raise ValueError(f"--resume: {args.out} is a finished run; nothing to go on with")
        state = torch.load(resume_path(args.out), weights_only=False)
        if state["done"] != prev["steps_done"]:
            raise ValueError(f"--resume: the resume file is at step {state['done']}, the checkpoint at {prev['steps_done']}")
        train_kw = {**prev["train"], "tasks": tuple(prev["train"]["tasks"]), "task_weights": tuple(prev["train"]["task_weights"])}
        cur = train_kw.pop("curriculum")
        stages = tuple(StageCurriculum(**c) for c in train_kw.pop("stages", []))
        cfg = TrainConfig(**train_kw, curriculum=OffsetCurriculum(**cur) if cur else None, stages=stages)
        command, init = prev["command"], prev.get("init")
        resumed = prev.get("resumed_at", []) + [state["done"]]
    else:
        init = None
        if args.init is not None:
            model, init_extra = load_checkpoint(args.init)
            init = {key: init_extra.get(key) for key in ("command", "steps_done", "wall_s", "n_offsets", "promotions")}
            init.update(checkpoint=args.init.name, seq_len=init_extra["train"]["seq_len"])
            if not init_extra.get("final"):
                init["final"] = False
            if init_extra.get("stages"):
                init["stages"] = {t: rec["stage"] for t, rec in init_extra["stages"].items()}
        else:
            model = build_model(MODEL, seed=TrainConfig.seed)
        start = (init or {}).get("n_offsets") or 1
        cur = OffsetCurriculum(start=start, threshold=args.threshold, window=args.window) if args.curriculum else None
        cfg = TrainConfig(
            steps=args.steps, batch_size=args.batch_size, seq_len=args.seq_len, max_minutes=args.max_minutes,
            lr=args.lr, warmup=args.warmup, tasks=tuple(args.tasks), task_weights=tuple(args.task_weights), curriculum=cur,
            stages=tuple(StageCurriculum(t, start=(init or {}).get("stages", {}).get(t, 0), threshold=args.stage_threshold,
                                         window=args.stage_window) for t in args.stages),
        )
        resumed = []

    def save(step, m, final=False, state=None, wall_s=None, **info):
        extra = {
            **info,
            "train": dataclasses.asdict(cfg),
            "steps_done": step,
            "wall_s": round(state["elapsed_s"] if state else wall_s, 1),
            "final": final,
            "command": command,
            "nice": os.nice(0),
            "machine": f"{platform.machine()} CPU shared with other jobs, torch {torch.__version__}, "
            f"{args.threads} thread, Python {platform.python_version()}",
            "parameters": count_parameters(m),
        }
        if init:
            extra["init"] = init
        if resumed:
            extra["resumed_at"] = resumed
        save_checkpoint(m, args.out, extra=extra)
        if state is not None:
            torch.save(state, resume_path(args.out))
        print(f"saved step {step} at {extra['wall_s']} s {info}", flush=True)

    hist = train(model, tok, cfg, callback=save, resume=state)
    info = {}
    if cfg.curriculum:
        acc = hist["arith_acc"]
        info = {
            "n_offsets": hist["promotions"][-1][1] if hist["promotions"] else cfg.curriculum.start,
            "promotions": hist["promotions"],
            "arith_acc_every_50": [round(float(np.nanmean(acc[i : i + 50])), 4) for i in range(0, len(acc), 50)],
        }
    if cfg.stages:
        info["stages"] = {
            c.task: {
                "stages": list(c.stages),
                "start": c.start,
                "stage": hist["stages"][c.task]["stage"][-1] if hist["stages"][c.task]["stage"] else c.start,
                "moves": hist["stages"][c.task]["moves"],
                "acc_every_50": [round(float(np.nanmean(a[i : i + 50])), 4) for a in [hist["stages"][c.task]["acc"]]
                                 for i in range(0, len(a), 50)],
            }
            for c in cfg.stages
        }
        for c in cfg.stages:  # the stage after the last step's move
            moves = info["stages"][c.task]["moves"]
            if moves:
                info["stages"][c.task]["stage"] = moves[-1][1]
    save(hist["steps"], model, final=True, wall_s=hist["wall_s"], **info)
    resume_path(args.out).unlink(missing_ok=True)
    print("loss every 100:", [round(v, 3) for v in hist["loss"][::100]], info, flush=True)


def readme_path(path: Path) -> Path:
    """Where a checkpoint's record goes: ``README.md`` for the shipped one, else ``<stem>.md``."""
    return path.parent / ("README.md" if path.name == CHECKPOINT.name else f"{path.stem}.md")


def eval_table(ev: dict, what: str) -> list[str]:
    """Markdown lines: how ``ev`` (an evaluation record) was run, then its accuracy table."""
    shots = ev["settings"]["shots"]
    lines = [
        f"{what} ({ev['settings']['episodes']} fresh episodes per task, {ev['settings']['queries']} queries each, "
        f"random fixed demos, greedy decoding, exact match; seed {ev['settings']['seed']}; {ev['eval_s']:.0f} s):",
        "",
        "| task | learner | " + " | ".join(f"{k} shots" for k in shots) + " |",
        "|---|---|" + "---|" * len(shots),
    ]
    for task, by_learner in ev["result"].items():
        for learner, accs in by_learner.items():
            lines.append(f"| {task} | {learner} | " + " | ".join(f"{a:.3f}" for a in accs) + " |")
    return lines + [""]


def _threshold(extra: dict, task: str) -> float:
    return next(c["threshold"] for c in extra["train"]["stages"] if c["task"] == task)


def write_readme(path: Path, extra: dict) -> None:
    lines = [
        f"# Chapter 5 checkpoint `{path.name}`: a small Llama meta-trained to learn in context",
        "",
        "Made by `scripts/icl_train.py`; reproduced by `tests/test_icl_checkpoint.py`.",
        "",
        "```bash",
        f"nice -n {extra.get('nice', 19)} {extra['command']}",
        "```",
        "",
        f"Machine: {extra['machine']}.",
        f"Model: `LlamaForCausalLM` {json.dumps(extra['model'])}, {extra['parameters']:,} parameters.",
        f"Training: {extra['steps_done']} steps of {extra['train']['batch_size']} sequences x "
        f"{extra['train']['seq_len']} tokens (tasks {extra['train']['tasks']}, weights {extra['train']['task_weights']}), "
        f"wall time {extra['wall_s'] / 60:.1f} min.",
        "",
    ]
    if extra.get("init"):
        init = extra["init"]
        lines += [
            f"Started from `{init['checkpoint']}` ({init['steps_done']} steps of {init['seq_len']}-token sequences, "
            f"{init['wall_s'] / 60:.1f} min, `{init['command']}`), so the whole training took "
            f"{(init['wall_s'] + extra['wall_s']) / 60:.1f} min."
            + (f" It had reached stages {json.dumps(init['stages'])} (0-based)." if init.get("stages") is not None else "")
            + (" It was stopped after a save, not finished." if init.get("final") is False else ""),
            "",
        ]
    if extra.get("resumed_at"):
        lines += [f"Cut and resumed (`--resume`) at steps {extra['resumed_at']}.", ""]
    if extra["train"].get("curriculum"):
        lines += [
            f"Curriculum: {json.dumps(extra['train']['curriculum'])}; arith offsets widened at "
            f"(step, offsets) {extra['promotions']}, ending with {extra['n_offsets']} of 10 offsets. "
            f"Training accuracy of the answer digit after the first demo, every 50 steps: {extra['arith_acc_every_50']}.",
            "",
        ]
    for task, c in extra.get("stages", {}).items():
        lines += [
            f"Stages of {task} (`StageCurriculum`, threshold {_threshold(extra, task)}): "
            f"{json.dumps(c['stages'])}; from stage {c.get('start', 0)} moved on at (step, stage) {c['moves']}, ending at stage {c['stage']} "
            f"(0-based) of {len(c['stages'])}. Teacher-forced accuracy of its answer symbols after the first demo, every 50 steps: "
            f"{c['acc_every_50']}.",
            "",
        ]
    lines += eval_table(extra["evaluation"], "Evaluation")
    if "stage_evaluation" in extra and extra.get("stages"):
        lines += eval_table(extra["stage_evaluation"], f"Evaluation at the stages reached ({extra['stage_evaluation']['settings']['task_kwargs']})")
    elif "stage_evaluation" in extra:
        n = extra["n_offsets"]
        lines += eval_table(extra["stage_evaluation"], f"Evaluation on the offsets the curriculum reached (c in 0..{n - 1}; "
                            f"ignoring the context and adding without an offset scores 1/{n})")
    if path.name == CHECKPOINT.name:
        lines += ["Other checkpoints here have their record in `<name>.md` beside them.", ""]
    readme_path(path).write_text("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
