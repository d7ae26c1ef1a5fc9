"""The two training objectives on one batch of token ids.

A batch is ``tokens`` (B, T) int64, ``answer`` (B, T) bool marking the path region (every position
after ``<PATH_START>``: path cells and ``<PATH_END>``, never padding) and ``valid`` (B, T) bool
marking real (non-pad) tokens. Only answer positions are ever targets.

* Next-token (:func:`next_token_loss`): teacher forcing, logits at t predict token t + 1; the mean of
  -log p over all answer tokens in the batch. Padding comes after the path, so no ``<PATH_END>``
  target is lost (the official code's shift drops one; spec §7.11).
* MLM-U (:func:`mlmu_loss`): per sequence a rate r ~ U(0, 1); an answer token is visible iff its own
  u ~ U(0, 1) is below r, so it is masked with probability 1 - r, itself uniform. The prefix and
  position 0 are always visible, padding never. Loss = sum of -log p over masked tokens / number of
  masked tokens in the whole batch (a token-level mean, no 1/r reweighting).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rizzlib.mazes.model import MLMUModel, NextTokenModel


def _check_batch(tokens: torch.Tensor, answer: torch.Tensor, valid: torch.Tensor) -> None:
    if tokens.dim() != 2:
        raise ValueError(f"tokens must have shape (B, T); got {tuple(tokens.shape)}")
    for name, m in (("answer", answer), ("valid", valid)):
        if m.shape != tokens.shape or m.dtype != torch.bool:
            raise ValueError(f"{name} must be a bool tensor of shape {tuple(tokens.shape)}; got {tuple(m.shape)} {m.dtype}")
    if bool((answer & ~valid).any()):
        raise ValueError("answer must be False on padding (valid == False)")
    if bool(answer[:, 0].any()):
        raise ValueError("answer must be False at position 0 (there is nothing to predict it from)")


def masked_mean_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
    """Sum of -log softmax(logits)[target] over entries where ``masked``, divided by their count.

    logits (B, Q, V) float, targets (B, Q) int, masked (B, Q) bool -> scalar. With nothing masked
    the result is 0 (and still has a gradient path), not NaN.
    """
    if logits.shape[:2] != targets.shape or masked.shape != targets.shape:
        raise ValueError(
            f"logits (B, Q, V), targets (B, Q) and masked (B, Q) must agree; got "
            f"{tuple(logits.shape)}, {tuple(targets.shape)}, {tuple(masked.shape)}"
        )
    nll = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction="none").view(targets.shape)
    return (nll * masked).sum() / masked.sum().clamp(min=1)


def visible_from_uniforms(answer: torch.Tensor, valid: torch.Tensor, rate: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The MLM-U visibility mask for given draws: rate (B,) and u (B, T) in [0, 1) -> visible (B, T) bool.

    An answer token is visible iff ``u < rate`` of its row; everything else that is real (the maze
    prefix) is visible, padding is not, and position 0 always is (so no attention row is empty).
    """
    visible = (valid & ~answer) | (answer & (u < rate[:, None]))
    visible[:, 0] = True
    return visible


def sample_visible(answer: torch.Tensor, valid: torch.Tensor, generator: torch.Generator | None = None):
    """Draw rate r ~ U(0, 1) per row and u ~ U(0, 1) per token; return (visible (B, T), rate (B,))."""
    B, T = answer.shape
    rate = torch.rand(B, generator=generator, device=answer.device)
    u = torch.rand(B, T, generator=generator, device=answer.device)
    return visible_from_uniforms(answer, valid, rate, u), rate


def answer_columns(answer: torch.Tensor) -> torch.Tensor:
    """Columns (Q,) that hold an answer token in any row: the only positions a loss needs logits for."""
    return answer.any(0).nonzero().squeeze(1)


def mlmu_loss(model: MLMUModel, tokens, answer, valid, generator=None) -> tuple[torch.Tensor, int]:
    """MLM-U loss on one batch with fresh masks: (scalar loss, number of masked tokens)."""
    _check_batch(tokens, answer, valid)
    visible, _ = sample_visible(answer, valid, generator)
    cols = answer_columns(answer)
    logits = model(tokens, visible, cols.expand(tokens.shape[0], -1))  # (B, Q, V)
    masked = (answer & ~visible)[:, cols]
    return masked_mean_cross_entropy(logits, tokens[:, cols], masked), int(masked.sum())


def next_token_loss(model: NextTokenModel, tokens, answer, valid) -> tuple[torch.Tensor, int]:
    """Next-token loss on the answer tokens of one batch: (scalar loss, number of target tokens)."""
    _check_batch(tokens, answer, valid)
    logits = model(tokens)[:, :-1]  # row t predicts token t + 1
    targets, scored = tokens[:, 1:], answer[:, 1:]
    return masked_mean_cross_entropy(logits, targets, scored), int(scored.sum())


def batch_loss(model, tokens, answer, valid, generator=None) -> tuple[torch.Tensor, int]:
    """The loss of ``model``'s own objective (MLM-U or next token) on one batch."""
    if isinstance(model, MLMUModel):
        return mlmu_loss(model, tokens, answer, valid, generator)
    if isinstance(model, NextTokenModel):
        return next_token_loss(model, tokens, answer, valid)
    raise ValueError(f"model must be an MLMUModel or a NextTokenModel; got {type(model).__name__}")
