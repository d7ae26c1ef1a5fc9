"""The chapter's small Llama-style byte LM (transformers ``LlamaForCausalLM``): build, train, save, load.

RMSNorm, RoPE, SwiGLU like the spec's §7.1 model, but narrower (d=128) so the shipped checkpoint
stays a couple of MB. All widths are powers of two, so every Hadamard transform is pure Sylvester.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import torch

from rizzlib.caldera.data import random_windows
from rizzlib.core.validate import check_int_range, check_range

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
CHECKPOINT = CHECKPOINT_DIR / "stdlib_lm.safetensors"


@dataclasses.dataclass(frozen=True)
class LMConfig:
    """Shape of the byte LM."""

    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 512
    ctx: int = 128
    vocab: int = 256

    def __post_init__(self) -> None:
        check_int_range("d_model", self.d_model, 8, None)
        check_int_range("n_layers", self.n_layers, 1, None)
        check_int_range("n_heads", self.n_heads, 1, self.d_model)
        if self.d_model % self.n_heads:
            raise ValueError(f"n_heads must divide d_model={self.d_model}; got {self.n_heads}")
        check_int_range("d_ff", self.d_ff, 8, None)
        check_int_range("ctx", self.ctx, 2, None)
        check_int_range("vocab", self.vocab, 2, None)


def build_lm(cfg: LMConfig, seed: int = 0) -> torch.nn.Module:
    """A freshly initialised ``LlamaForCausalLM`` of shape ``cfg`` (untied embeddings)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    hf = LlamaConfig(
        vocab_size=cfg.vocab,
        hidden_size=cfg.d_model,
        intermediate_size=cfg.d_ff,
        num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads,
        num_key_value_heads=cfg.n_heads,
        max_position_embeddings=cfg.ctx,
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(hf)
    model.config.use_cache = False
    return model


@dataclasses.dataclass(frozen=True)
class TrainLMConfig:
    """AdamW with linear warm-up and cosine decay on random windows of the train split."""

    steps: int = 2000
    batch: int = 32
    lr: float = 3e-3
    warmup: int = 100
    weight_decay: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        check_int_range("steps", self.steps, 1, None)
        check_int_range("batch", self.batch, 1, None)
        check_range("lr", self.lr, 0.0, 1.0, low_inclusive=False)
        check_int_range("warmup", self.warmup, 0, None)


def train_lm(model: torch.nn.Module, tokens: torch.Tensor, ctx: int, cfg: TrainLMConfig, log_every: int = 100) -> list[float]:
    """Train ``model`` in place on next-byte prediction; returns the loss every ``log_every`` steps."""
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.95))

    def lr_at(step: int) -> float:
        if step < cfg.warmup:
            return (step + 1) / cfg.warmup
        p = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    model.train()
    losses, t0 = [], time.perf_counter()
    for step in range(cfg.steps):
        x = random_windows(tokens, ctx, cfg.batch, gen)
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % log_every == 0 or step == cfg.steps - 1:
            losses.append(loss.item())
            print(f"step {step} loss {losses[-1]:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    model.eval()
    return losses


def save_lm(model: torch.nn.Module, cfg: LMConfig, path: Path, extra: dict | None = None) -> None:
    """Save weights in fp16 (safetensors) with ``cfg`` and ``extra`` as JSON metadata."""
    from safetensors.torch import save_file

    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    meta = {"config": json.dumps(dataclasses.asdict(cfg)), "extra": json.dumps(extra or {})}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata=meta)


def load_lm(path: Path = CHECKPOINT) -> tuple[torch.nn.Module, LMConfig, dict]:
    """Load a checkpoint written by :func:`save_lm` into fp32; returns (model, config, extra)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path must be a checkpoint file; {str(path)!r} does not exist")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        state = {k: f.get_tensor(k).float() for k in f.keys()}
    cfg = LMConfig(**json.loads(meta["config"]))
    model = build_lm(cfg)
    model.load_state_dict(state)
    model.eval()
    return model, cfg, json.loads(meta["extra"])
