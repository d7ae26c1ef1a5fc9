"""torch + transformers: causal self-attention written out, the causal-LM loss, and a tiny GPT-2
built from a config (no download) that learns to reverse digit strings."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


def causal_self_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Softmax attention where position t sees positions <= t.

    Args:
        q, k, v: ``(B, H, T, Dh)``.

    Returns:
        ``(B, H, T, Dh)``; equals ``F.scaled_dot_product_attention(q, k, v, is_causal=True)``.
    """
    T = q.shape[-2]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, T, T)
    future = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1)
    scores = scores.masked_fill(future, float("-inf"))
    return scores.softmax(dim=-1) @ v


def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy, as Hugging Face causal LMs compute it.

    Position t's logits predict ``labels[t + 1]``; labels equal to -100 are ignored.

    Args:
        logits: ``(B, T, V)``.
        labels: ``(B, T)`` token ids or -100.
    """
    shifted_logits = logits[:, :-1].reshape(-1, logits.shape[-1])
    shifted_labels = labels[:, 1:].reshape(-1)
    return F.cross_entropy(shifted_logits.float(), shifted_labels, ignore_index=IGNORE_INDEX)


# --- the reversal task: "d1 d2 ... dn SEP dn ... d1" over digits 0-9, SEP = 10 ------------------
SEP = 10
VOCAB = 11


def reversal_batch(generator: torch.Generator, batch: int, n_digits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, labels)`` of shape ``(batch, 2 * n_digits + 1)``; labels are -100 on the prompt."""
    digits = torch.randint(0, 10, (batch, n_digits), generator=generator)
    sep = torch.full((batch, 1), SEP)
    ids = torch.cat([digits, sep, digits.flip(1)], dim=1)
    labels = ids.clone()
    labels[:, : n_digits + 1] = IGNORE_INDEX
    return ids, labels


def tiny_gpt2(n_layer: int, n_embd: int, n_head: int, n_positions: int, vocab_size: int = VOCAB, seed: int = 0):
    """A randomly initialised ``GPT2LMHeadModel`` built from a ``GPT2Config`` (nothing downloaded)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)  # transformers initialises weights from torch's global generator
    config = GPT2Config(
        vocab_size=vocab_size, n_positions=n_positions, n_embd=n_embd, n_layer=n_layer, n_head=n_head,
        bos_token_id=SEP, eos_token_id=SEP, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
    )
    model = GPT2LMHeadModel(config)
    model.loss_type = "ForCausalLM"  # name the loss; transformers warns when it has to guess
    return model


@torch.no_grad()
def reversal_accuracy(model, generator: torch.Generator, n_digits: int, n: int = 256) -> float:
    """Fraction of fresh sequences whose reversed half the model writes exactly (greedy decoding)."""
    ids, _ = reversal_batch(generator, n, n_digits)
    prompt = ids[:, : n_digits + 1]
    out = model.generate(
        prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=n_digits, do_sample=False,
        pad_token_id=SEP,
    )
    return (out[:, n_digits + 1 :] == ids[:, n_digits + 1 :]).all(dim=1).float().mean().item()
