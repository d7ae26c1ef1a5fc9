"""Training loop for both maze models: AdamW, warmup + cosine (OneCycle-shaped), gradient clipping,
periodic exact-match evaluation by grid size, tqdm progress, safetensors checkpoints.

The objective follows the model: an :class:`~rizzlib.mazes.model.MLMUModel` trains with MLM-U, a
:class:`~rizzlib.mazes.model.NextTokenModel` with next-token prediction (``objectives.batch_loss``).
Every random draw (initialisation, batches, masks) comes from the seeds given, so a run repeats.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from rizzlib.core.validate import check_int_range, check_range
from rizzlib.mazes.eval import evaluate
from rizzlib.mazes.generate import generate_mazes, split_train_val
from rizzlib.mazes.model import MLMUModel, ModelConfig, build_model
from rizzlib.mazes.objectives import batch_loss
from rizzlib.mazes.tokens import TokenBatch, Vocab, concat_batches, make_vocab, tokenize


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (spec §4; the defaults are the paper's)."""

    steps: int = 2000
    """Optimizer steps (>= 1); the schedule is sized to exactly this many."""
    batch_size: int = 64
    """Mazes per step."""
    lr: float = 1e-3
    """Peak learning rate; the schedule starts at lr/25 and ends at lr/625."""
    weight_decay: float = 1e-4
    """AdamW decay, on weight matrices and embeddings only (not biases, LayerNorms)."""
    warmup_frac: float = 0.05
    """Fraction of the steps spent warming up, in [0, 1)."""
    grad_clip: float = 1.0
    """Global gradient-norm clip (> 0)."""
    eval_every: int = 0
    """Evaluate every this many steps (0: only at the end)."""
    eval_mazes: int = 200
    """Held-out mazes decoded at each intermediate evaluation (the final one uses all)."""
    seed: int = 0
    """Seeds initialisation, batch order and MLM-U masks."""
    precision: str = "fp32"
    """``"fp32"`` or ``"bf16"`` (autocast on CUDA; RoPE stays fp32 either way)."""

    def __post_init__(self) -> None:
        check_int_range("steps", self.steps, 1, None)
        check_int_range("batch_size", self.batch_size, 1, None)
        check_range("lr", self.lr, 0.0, None, low_inclusive=False)
        check_range("weight_decay", self.weight_decay, 0.0, None)
        check_range("warmup_frac", self.warmup_frac, 0.0, 1.0, high_inclusive=False)
        check_range("grad_clip", self.grad_clip, 0.0, None, low_inclusive=False)
        check_int_range("eval_every", self.eval_every, 0, None)
        check_int_range("eval_mazes", self.eval_mazes, 1, None)
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be one of 'fp32', 'bf16'; got {self.precision!r}")


@dataclasses.dataclass
class History:
    """What a run produced: the loss per step and exact-match accuracy by grid size per evaluation."""

    loss: list[float] = dataclasses.field(default_factory=list)
    eval_step: list[int] = dataclasses.field(default_factory=list)
    eval_accuracy: list[dict[int, float]] = dataclasses.field(default_factory=list)
    eval_token_accuracy: list[dict[int, float]] = dataclasses.field(default_factory=list)
    """Per evaluation: {grid side: mean fraction of answer tokens right} (greedy decoding)."""
    train_tokens: int = 0
    wall_s: float = 0.0


def init_model(cfg: ModelConfig, seed: int = 0):
    """``build_model(cfg)`` with weights drawn from ``seed`` (the global torch RNG is left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(cfg)


def lr_factor(step: int, total: int, warmup_frac: float) -> float:
    """Multiplier of the peak lr at ``step``: cosine from 1/25 up to 1, then cosine down to 1/625."""
    warm = max(int(round(warmup_frac * total)), 1)
    if step < warm:
        lo, hi, frac = 1 / 25, 1.0, step / warm
    else:
        lo, hi, frac = 1.0, 1 / 625, (step - warm) / max(total - warm, 1)
    return hi + (lo - hi) * 0.5 * (1 + math.cos(math.pi * frac))


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with decay on parameters of >= 2 dimensions only."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.999))


def autocast_for(model: torch.nn.Module, precision: str):
    """A factory of autocast contexts matching ``precision`` (a no-op for fp32 or on CPU)."""
    device = next(model.parameters()).device
    if precision == "bf16" and device.type == "cuda":
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


def train(
    model: torch.nn.Module,
    data: TokenBatch,
    cfg: TrainConfig,
    eval_data: TokenBatch | None = None,
    progress: bool = True,
    desc: str = "train",
) -> History:
    """Train ``model`` in place on ``data`` for ``cfg.steps`` steps; evaluate on ``eval_data``.

    Batches are drawn uniformly with replacement-free epochs (a fresh permutation per pass).
    Returns the :class:`History`; evaluations decode ``cfg.eval_mazes`` mazes spread over ``eval_data``.
    """
    if len(data) < 1:
        raise ValueError("data must hold at least one maze")
    device = next(model.parameters()).device
    batch_gen = torch.Generator().manual_seed(cfg.seed)
    mask_gen = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    opt = make_optimizer(model, cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg.steps, cfg.warmup_frac))
    amp = autocast_for(model, cfg.precision)
    hist = History()
    order = torch.empty(0, dtype=torch.long)
    start = time.perf_counter()
    bar = tqdm(range(cfg.steps), desc=desc, disable=not progress, mininterval=1.0)
    for step in bar:
        if len(order) < cfg.batch_size:
            order = torch.cat([order, torch.randperm(len(data), generator=batch_gen)])
        idx, order = order[: cfg.batch_size], order[cfg.batch_size :]
        batch = data.subset(idx).trimmed()
        tokens, answer = batch.ids.to(device), batch.answer_mask.to(device)
        valid = batch.padding_mask[:, : tokens.shape[1]].to(device)
        model.train()
        with amp():
            loss, _ = batch_loss(model, tokens, answer, valid, mask_gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        hist.loss.append(loss.item())
        hist.train_tokens += int(batch.lengths.sum())
        if step % 20 == 0:
            bar.set_postfix(loss=f"{hist.loss[-1]:.3f}")
        last = step == cfg.steps - 1
        if eval_data is not None and (last or (cfg.eval_every and (step + 1) % cfg.eval_every == 0)):
            k = min(cfg.eval_mazes, len(eval_data))
            subset = eval_data.subset(torch.linspace(0, len(eval_data) - 1, k).long())
            hist.eval_step.append(step + 1)
            result = evaluate(model, subset, autocast=amp, solved=False)
            hist.eval_accuracy.append(result.accuracy_by_size())
            hist.eval_token_accuracy.append({int(n): float(result.token_acc[result.size == n].mean()) for n in np.unique(result.size)})
    hist.wall_s = time.perf_counter() - start
    return hist


def save_checkpoint(model: torch.nn.Module, path: str | Path, extra: dict | None = None) -> Path:
    """Write the weights to ``path`` (safetensors) with the model config (and ``extra``) as metadata."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"config": json.dumps(dataclasses.asdict(model.cfg)), "extra": json.dumps(extra or {})}
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(path), metadata=meta)
    return path


def load_checkpoint(path: str | Path, device: str = "cpu"):
    """Rebuild the model saved by :func:`save_checkpoint`: returns (model, extra metadata dict)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    model = build_model(ModelConfig(**json.loads(meta["config"])))
    state = load_file(str(path), device=device)
    if isinstance(model, MLMUModel):  # files written before issue 8: a (D,) query and no head bias
        if state.get("query") is not None and state["query"].dim() == 1:
            state["query"] = state["query"][None]
        state.setdefault("head_bias", torch.zeros(model.cfg.vocab_size))
    model.load_state_dict(state)
    return model.to(device), json.loads(meta.get("extra", "{}"))


def measure_training_throughput(model_cfg: ModelConfig, data: TokenBatch, batch_size: int = 64, steps: int = 10, seed: int = 0) -> float:
    """Training tokens per second (real tokens in the batch, forward + backward + AdamW step).

    One untimed warm-up step, then ``steps`` timed ones on batches of ``data``.
    """
    check_int_range("steps", steps, 1, None)
    model = init_model(model_cfg, seed)
    cfg = TrainConfig(steps=steps, batch_size=batch_size, seed=seed)
    train(model, data, dataclasses.replace(cfg, steps=1), progress=False)
    hist = train(model, data, cfg, progress=False)
    return hist.train_tokens / hist.wall_s


def make_datasets(cfg) -> tuple[Vocab, TokenBatch, TokenBatch]:
    """Generate, split (without leaks) and tokenize the mazes of a ``presets.DataConfig``.

    Returns ``(vocab, train, test)``; one vocabulary covers the largest size, so sizes can mix.
    """
    rng = np.random.default_rng(cfg.seed)
    vocab = make_vocab(cfg.kind, max(cfg.sizes))
    train_parts, test_parts = [], []
    for n in cfg.sizes:
        mazes = generate_mazes(cfg.kind, n, cfg.n_train + cfg.n_test, rng)
        tr, te = split_train_val(mazes, cfg.n_test)
        train_parts.append(tokenize(tr, vocab, rng))
        test_parts.append(tokenize(te, vocab, rng))
    return vocab, concat_batches(train_parts), concat_batches(test_parts)
