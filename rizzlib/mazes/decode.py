"""Inference for both models: greedy, left to right, one token per forward pass (spec §3.4), and
for MLM-U also greedy in confidence order (an extension the spec allows, reported separately).

Given the prompt (everything up to and including ``<PATH_START>``), step t writes the argmax token
at position P + t. The next-token model reads positions < P + t causally; the MLM-U model sees the
prompt and the t tokens decoded so far as visible and asks for position P + t with a query, so every
later position is invisible. No KV cache: one full forward pass per step, as in the paper's code.
Decoding stops once every row has emitted ``stop_id``; tokens after a row's stop are ``pad_id``.

Confidence order (:func:`confidence_decode`, MLM-U only): every answer slot starts hidden; each
forward pass asks for all hidden slots at once and fills, per row, the one whose argmax has the
highest probability. Writing ``stop_id`` at slot j ends the answer there: later slots become
``pad_id`` and are never asked again. At most ``n_steps`` forward passes, like left to right.
"""

from __future__ import annotations

import torch

from rizzlib.core.validate import check_int_range
from rizzlib.mazes.model import MLMUModel, NextTokenModel


def next_logits(model, buffer: torch.Tensor, n_known: int) -> torch.Tensor:
    """Logits (B, V) for position ``n_known`` given ``buffer[:, :n_known]`` (later entries are ignored)."""
    if isinstance(model, NextTokenModel):
        return model(buffer[:, :n_known])[:, -1]
    if isinstance(model, MLMUModel):
        B, T = buffer.shape
        visible = torch.zeros(B, T, dtype=torch.bool, device=buffer.device)
        visible[:, :n_known] = True
        query = torch.full((B, 1), n_known, dtype=torch.long, device=buffer.device)
        return model(buffer, visible, query)[:, 0]
    raise ValueError(f"model must be an MLMUModel or a NextTokenModel; got {type(model).__name__}")


@torch.no_grad()
def greedy_decode(model, prompt: torch.Tensor, n_steps: int, stop_id: int, pad_id: int) -> torch.Tensor:
    """Decode up to ``n_steps`` tokens after ``prompt`` (B, P) -> (B, n_steps) int64.

    All rows share the prompt length P (one maze size per batch). Row b's output is its path tokens
    up to and including its first ``stop_id``, then ``pad_id``.
    """
    if prompt.dim() != 2 or prompt.dtype != torch.long or prompt.shape[1] < 1:
        raise ValueError(f"prompt must be a LongTensor of shape (B, P) with P >= 1; got {tuple(prompt.shape)} {prompt.dtype}")
    check_int_range("n_steps", n_steps, 1, None)
    was_training = model.training
    model.eval()
    B, P = prompt.shape
    buffer = torch.cat([prompt, prompt.new_full((B, n_steps), pad_id)], dim=1)
    done = torch.zeros(B, dtype=torch.bool, device=prompt.device)
    for t in range(n_steps):
        token = next_logits(model, buffer, P + t).argmax(-1)
        buffer[:, P + t] = torch.where(done, torch.full_like(token, pad_id), token)
        done |= token == stop_id
        if bool(done.all()):
            break
    model.train(was_training)
    return buffer[:, P:]


@torch.no_grad()
def confidence_decode(model: MLMUModel, prompt: torch.Tensor, n_steps: int, stop_id: int, pad_id: int) -> torch.Tensor:
    """MLM-U decoding, most confident hidden slot first: prompt (B, P) -> (B, n_steps) int64.

    Same output convention as :func:`greedy_decode` (tokens up to the first ``stop_id``, then
    ``pad_id``); the visible set at each pass is the prompt plus the slots filled so far.
    """
    if not isinstance(model, MLMUModel):
        raise ValueError(f"model must be an MLMUModel (confidence order needs any-order queries); got {type(model).__name__}")
    if prompt.dim() != 2 or prompt.dtype != torch.long or prompt.shape[1] < 1:
        raise ValueError(f"prompt must be a LongTensor of shape (B, P) with P >= 1; got {tuple(prompt.shape)} {prompt.dtype}")
    check_int_range("n_steps", n_steps, 1, None)
    was_training = model.training
    model.eval()
    B, P = prompt.shape
    dev = prompt.device
    buffer = torch.cat([prompt, prompt.new_full((B, n_steps), pad_id)], dim=1)
    visible = torch.zeros(B, P + n_steps, dtype=torch.bool, device=dev)
    visible[:, :P] = True
    hidden = torch.ones(B, n_steps, dtype=torch.bool, device=dev)  # slots still to fill
    slots = torch.arange(P, P + n_steps, device=dev).expand(B, -1)
    rows = torch.arange(B, device=dev)
    for _ in range(n_steps):
        active = hidden.any(1)
        if not bool(active.any()):
            break
        probs = model(buffer, visible, slots).float().softmax(-1)  # (B, n_steps, V)
        conf, token = probs.max(-1)
        conf = conf.masked_fill(~hidden, -1.0)
        j = conf.argmax(1)  # (B,) the most confident hidden slot per row
        tok = token[rows, j]
        ra, ja, ta = rows[active], j[active], tok[active]
        buffer[ra, P + ja] = ta
        visible[ra, P + ja] = True
        hidden[ra, ja] = False
        stop = ta == stop_id
        if bool(stop.any()):  # the answer ends at slot j: later slots are padding, settled and hidden
            rs, later = ra[stop], torch.arange(n_steps, device=dev)[None, :] > ja[stop, None]  # (S,), (S, n_steps)
            hidden[rs] = hidden[rs] & ~later
            buffer[rs, P:] = buffer[rs, P:].masked_fill(later, pad_id)
            visible[rs, P:] = visible[rs, P:] & ~later
    model.train(was_training)
    out = buffer[:, P:].clone()
    # the stop-and-pad convention of greedy_decode: everything after a row's first stop token is pad
    is_stop = out == stop_id
    after = (is_stop.long().cumsum(1) - is_stop.long()) > 0
    return out.masked_fill(after, pad_id)
