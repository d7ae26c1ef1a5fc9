"""Meta-training the small Llama to learn the synthetic tasks in context.

Every training sequence is one episode: ``<bos> <task> x1 → y1 ; x2 → y2 ; ...`` filled to
``seq_len`` tokens with fresh demonstrations of a freshly drawn rule, so the rule can only be read
from the context. The loss is next-token cross-entropy on the answer tokens (every ``y`` and its
``;``), so one sequence of k demos trains every shot count from 0 to k - 1 at once.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import torch

from rizzlib.core.validate import check_int_range, check_range
from rizzlib.icl.prompt import synthetic_template
from rizzlib.icl.tasks import TASK_NAMES, get_task


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Meta-training settings.

    Attributes:
        steps: optimizer steps.
        batch_size: sequences per step.
        seq_len: tokens per sequence (demos are added while they fit).
        lr: peak AdamW learning rate (linear warm-up, cosine decay to 10%).
        warmup: warm-up steps.
        weight_decay: AdamW decay.
        tasks: task names, drawn per sequence with ``task_weights``.
        task_weights: relative frequency of each task.
        seed: seeds initialisation and data.
        max_minutes: stop early after this wall time (0: no limit).
    """

    steps: int = 4000
    batch_size: int = 16
    seq_len: int = 512
    lr: float = 1e-3
    warmup: int = 100
    weight_decay: float = 0.01
    tasks: tuple[str, ...] = TASK_NAMES
    task_weights: tuple[float, ...] = (0.4, 0.4, 0.2)
    seed: int = 0
    max_minutes: float = 0.0

    def __post_init__(self) -> None:
        check_int_range("steps", self.steps, 1, None)
        check_int_range("batch_size", self.batch_size, 1, None)
        check_int_range("seq_len", self.seq_len, 16, None)
        check_range("lr", self.lr, 0.0, None, low_inclusive=False)
        check_int_range("warmup", self.warmup, 0, None)
        check_range("weight_decay", self.weight_decay, 0.0, None)
        if len(self.tasks) != len(self.task_weights) or not self.tasks:
            raise ValueError("tasks and task_weights must be non-empty and of the same length")
        for t in self.tasks:
            if t not in TASK_NAMES:
                raise ValueError(f"tasks must be among {TASK_NAMES}; got {t!r}")
        check_range("max_minutes", self.max_minutes, 0.0, None)


def episode_sequence(
    task_name: str, tokenizer, rng: np.random.Generator, seq_len: int, task=None
) -> tuple[list[int], list[int]]:
    """One training sequence of ``task_name``: (ids, loss mask) of length <= ``seq_len``.

    The mask is 1 on the tokens to predict (each answer's symbols and its ``;``). ``task`` (optional)
    is a task object to use instead of ``get_task(task_name)``'s default (e.g. an arith variant).
    """
    task = get_task(task_name) if task is None else task
    tmpl = synthetic_template(task_name)
    latent = task.sample_latent(rng)
    ids = [tokenizer.bos_token_id] + list(tokenizer.encode(tmpl.header, add_special_tokens=False))
    mask = [0] * len(ids)
    while True:
        ex = task.sample_example(latent, rng)
        x_ids = tokenizer.convert_tokens_to_ids(tmpl.render_query(ex.x).split())
        y_ids = tokenizer.convert_tokens_to_ids(f"{ex.y} {tmpl.stop}".split())
        if len(ids) + len(x_ids) + len(y_ids) > seq_len:
            return ids, mask
        ids += x_ids + y_ids
        mask += [0] * len(x_ids) + [1] * len(y_ids)


def make_batch(cfg: TrainConfig, tokenizer, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, mask) of shape (batch_size, seq_len), right-padded with 0 (mask 0 on padding)."""
    p = np.asarray(cfg.task_weights, dtype=np.float64)
    ids = torch.zeros((cfg.batch_size, cfg.seq_len), dtype=torch.long)
    mask = torch.zeros((cfg.batch_size, cfg.seq_len), dtype=torch.float32)
    for b in range(cfg.batch_size):
        name = cfg.tasks[int(rng.choice(len(cfg.tasks), p=p / p.sum()))]
        seq, m = episode_sequence(name, tokenizer, rng, cfg.seq_len)
        ids[b, : len(seq)] = torch.tensor(seq)
        mask[b, : len(m)] = torch.tensor(m, dtype=torch.float32)
    return ids, mask


def masked_loss(model, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over the positions where ``mask[:, 1:]`` is 1."""
    logits = model(input_ids=ids[:, :-1], use_cache=False).logits
    ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
    m = mask[:, 1:]
    return (ce * m).sum() / m.sum().clamp_min(1.0)


def lr_at(step: int, cfg: TrainConfig, time_frac: float = 0.0) -> float:
    """Linear warm-up, then cosine decay from ``lr`` to ``lr / 10`` at the end of the run.

    The run ends at ``cfg.steps`` or, with ``max_minutes``, when the wall time runs out, whichever
    comes first: ``time_frac`` (elapsed / limit) advances the decay like the step count does.
    """
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = max((step - cfg.warmup) / max(cfg.steps - cfg.warmup, 1), time_frac)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))


def train(model, tokenizer, cfg: TrainConfig, progress: bool = True, callback=None) -> dict:
    """Meta-train ``model`` in place. Returns {"loss": [...], "steps": n done, "wall_s": seconds}.

    ``callback(step, model)`` (optional) runs every 250 steps, e.g. to save a checkpoint.
    """
    from tqdm.auto import tqdm

    rng = np.random.default_rng(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    model.train()
    losses: list[float] = []
    start = time.perf_counter()
    done = 0
    bar = tqdm(range(cfg.steps), disable=not progress, desc="meta-train", mininterval=30)
    for step in bar:
        for g in opt.param_groups:
            elapsed = (time.perf_counter() - start) / 60
            g["lr"] = lr_at(step, cfg, elapsed / cfg.max_minutes if cfg.max_minutes else 0.0)
        ids, mask = make_batch(cfg, tokenizer, rng)
        loss = masked_loss(model, ids, mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
        done = step + 1
        if progress and done % 50 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
        if callback is not None and done % 250 == 0:
            callback(done, model)
        if cfg.max_minutes and time.perf_counter() - start > 60 * cfg.max_minutes:
            break
    model.eval()
    return {"loss": losses, "steps": done, "wall_s": time.perf_counter() - start}


@torch.no_grad()
def answer_token_loss(model, tokenizer, task_name: str, rng: np.random.Generator, n_seqs: int = 8, seq_len: int = 512, task=None) -> float:
    """Mean cross-entropy (nats) of the answer symbols (not the ``;``) over ``n_seqs`` fresh episodes.

    A learner that ignores the context and guesses uniformly among m answers scores ln m
    (ln 10 = 2.303 for arith's digits).
    """
    check_int_range("n_seqs", n_seqs, 1, None)
    stop = tokenizer.convert_tokens_to_ids(";")
    total, count = 0.0, 0
    for _ in range(n_seqs):
        ids, mask = episode_sequence(task_name, tokenizer, rng, seq_len, task=task)
        x = torch.tensor([ids])
        logits = model(input_ids=x[:, :-1], use_cache=False).logits[0]
        ce = torch.nn.functional.cross_entropy(logits, x[0, 1:], reduction="none")
        keep = torch.tensor(mask[1:], dtype=torch.bool) & (x[0, 1:] != stop)
        total += float(ce[keep].sum())
        count += int(keep.sum())
    return total / max(count, 1)
