"""RHT fine-tuning (spec §4 stage A; the paper's Table 3, the reference repo's ``finetune_RHT.py``).

The random signs S_U, S_V of every compressed layer become real-valued trainable vectors; everything
else (codes, scales, factors, embeddings, norms, lm_head) stays frozen. The loss is distillation:
cross-entropy of the compressed model's next-token distribution against the original model's softmax
(soft labels). AdamW at lr 1e-3, batch 2 as in the reference script; the state with the best
validation loss is kept. Fine-tuned signs are no longer one bit each: they are stored in fp16
(:mod:`~rizzlib.caldera.storage`) and counted at 16 bits (:func:`bits_after_rht_ft`).
"""

from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from rizzlib.caldera.module import CalderaLinear
from rizzlib.core.validate import check_int_range, check_range


def sign_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Turn the ``su`` / ``sv`` buffers of every CalderaLinear into trainable parameters (same
    ``state_dict`` keys and values) and return them; idempotent."""
    params = []
    for mod in model.modules():
        if not isinstance(mod, CalderaLinear):
            continue
        for name in ("su", "sv"):
            t = getattr(mod, name)
            if not isinstance(t, nn.Parameter):
                del mod._buffers[name]
                t = nn.Parameter(t.detach().clone())
                mod.register_parameter(name, t)
            params.append(t)
    return params


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Mean over positions of -sum_v softmax(teacher)_v log softmax(student)_v (soft-label CE)."""
    p = torch.softmax(teacher_logits.float(), -1)
    return -(p * torch.log_softmax(student_logits.float(), -1)).sum(-1).mean()


@torch.no_grad()
def _val_loss(model: nn.Module, teacher_logits: list[torch.Tensor], val: torch.Tensor, batch: int) -> float:
    model.eval()
    losses = [float(distillation_loss(model(input_ids=val[i : i + batch]).logits, t)) for i, t in zip(range(0, val.shape[0], batch), teacher_logits)]
    return sum(losses) / len(losses)


def finetune_rht(
    model: nn.Module,
    teacher: nn.Module,
    tokens: torch.Tensor,
    val: torch.Tensor,
    ctx: int,
    steps: int,
    lr: float = 1e-3,
    batch: int = 2,
    eval_every: int = 10,
    seed: int = 0,
    progress: bool = False,
) -> dict:
    """Train only the signs of ``model``'s compressed layers to match ``teacher`` (the original model).

    Args:
        tokens: training token stream; random windows of ``ctx`` are drawn from it.
        val: held-out windows (N, ctx) for model selection.
        steps, lr, batch: AdamW steps, learning rate (reference: 1e-3) and windows per step (2).
        eval_every: steps between validation passes; the best state is restored at the end.

    Returns ``{"train": [loss per step], "val": [(step, loss), ...], "best_step": int}``.
    """
    from rizzlib.caldera.data import random_windows

    check_int_range("steps", steps, 1, None)
    check_range("lr", lr, 0.0, 1.0, low_inclusive=False)
    check_int_range("batch", batch, 1, None)
    check_int_range("eval_every", eval_every, 1, None)
    if val.dim() != 2 or val.shape[0] < 1:
        raise ValueError(f"val must be (N, ctx) windows with N >= 1; got shape {tuple(val.shape)}")
    if not any(isinstance(m, CalderaLinear) for m in model.modules()):
        raise ValueError("model has no CalderaLinear layers: compress it with method='caldera' first")
    for p in model.parameters():
        p.requires_grad_(False)
    params = sign_parameters(model)
    for p in params:
        p.requires_grad_(True)
    teacher.eval()
    with torch.no_grad():
        val_teacher = [teacher(input_ids=val[i : i + batch]).logits for i in range(0, val.shape[0], batch)]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    best = (_val_loss(model, val_teacher, val, batch), 0, [p.detach().clone() for p in params])
    hist = {"train": [], "val": [(0, best[0])]}
    for step in tqdm(range(1, steps + 1), desc="RHT-FT", disable=not progress, leave=False):
        model.train()
        x = random_windows(tokens, ctx, batch, gen)
        with torch.no_grad():
            target = teacher(input_ids=x).logits
        loss = distillation_loss(model(input_ids=x).logits, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        hist["train"].append(loss.item())
        if step % eval_every == 0 or step == steps:
            v = _val_loss(model, val_teacher, val, batch)
            hist["val"].append((step, v))
            if v < best[0]:
                best = (v, step, [p.detach().clone() for p in params])
    with torch.no_grad():
        for p, b in zip(params, best[2]):
            p.copy_(b)
    for p in params:
        p.requires_grad_(False)
    model.eval()
    hist["best_step"] = best[1]
    return hist


def bits_after_rht_ft(reports, before_ft: bool = False) -> float:
    """Average bits once the signs are fine-tuned: each layer's (m + n) sign entries go from 1 bit
    to 16 (``reports``: :class:`~rizzlib.caldera.compress.LayerReport` list; ``before_ft``: LoRA
    directions still at their quantized width, as in :func:`~rizzlib.caldera.compress.average_bits_of`)."""
    total = sum((r.bits_before_ft if before_ft else r.bits) * r.shape[0] * r.shape[1] + 15 * (r.shape[0] + r.shape[1]) for r in reports)
    return total / sum(r.shape[0] * r.shape[1] for r in reports)
