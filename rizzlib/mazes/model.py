"""Two maze models built from one transformer core (nanoGPT-style, plain ``nn.Module`` classes).

* :class:`NextTokenModel` - decoder-only GPT: causal self-attention, ``n_blocks`` blocks.
* :class:`MLMUModel` - the MLM-U encoder-decoder of Nolte et al. (their "PAST" model):
  ``n_blocks // 2`` encoder blocks with bidirectional self-attention over the *visible* tokens only,
  then ``n_blocks // 2`` decoder blocks with cross-attention only. The decoder's queries start as one
  learned vector for every position; the only thing that tells a query which position it predicts is
  the rotary phase of that position. Masked tokens stay in the input but nothing attends to them.

Both use RoPE (base 10,000, on the full head width, computed and applied in fp32), pre-LN blocks with
a 4x GELU MLP, biases, no dropout, a final LayerNorm after each stack and an LM head tied to the
token embedding. With the same ``d_model`` and ``n_blocks`` the two have the same parameter count up
to a few LayerNorm and query vectors (an encoder block's qkv equals a decoder block's q plus kv).

Initialisation follows the official code (``init="official"``): the MLM-U model keeps PyTorch's
defaults as ``recipe/models/past.py`` does (Linear weights and biases U(+-1/sqrt(fan_in)), LayerNorm
1/0, the tied embedding/head matrix from the head's Linear, so U(+-1/sqrt(D)), a head bias, and the
decoder's query vector from ``nn.Embedding(1, D)``, N(0, 1), stored as a (1, D) matrix so AdamW
decays it as the official optimiser does); the next-token GPT gets GPT-2's init as the official HF
baseline does (N(0, 0.02), residual projections scaled by 1/sqrt(2 n_blocks), zero biases).
``init="gpt2"`` / ``"pytorch"`` force one rule on either model (an ablation: GPT-2's init leaves the
MLM-U decoder's first attention nearly uniform, logit spread ~0.02, and training stalls on a plateau).

Shapes: B batch, T sequence length, Q query positions, H heads, D = d_model, V vocabulary.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from rizzlib.core.validate import check_choice, check_int_range, check_range

OBJECTIVES = ("ntp", "mlmu")
INITS = ("official", "pytorch", "gpt2")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Sizes of a maze transformer (the same for both objectives, so parameter counts match)."""

    vocab_size: int
    """Model vocabulary (tokenizer vocabulary, usually rounded up to a multiple of 128), >= 2."""
    objective: str = "mlmu"
    """``"mlmu"`` (encoder-decoder) or ``"ntp"`` (decoder-only next-token model)."""
    d_model: int = 64
    """Width D of the residual stream, divisible by ``n_heads`` with an even head width."""
    n_heads: int = 4
    """Attention heads per block."""
    n_blocks: int = 4
    """Transformer blocks in total: MLM-U splits them evenly into encoder and decoder (even, >= 2)."""
    rope_base: float = 10_000.0
    """RoPE base: the slowest pair of channels turns by ``position / rope_base`` radians."""
    init: str = "official"
    """``"official"`` (PyTorch defaults for MLM-U, GPT-2 for next token, as the official code),
    ``"pytorch"`` or ``"gpt2"`` (that rule for either model)."""

    def __post_init__(self) -> None:
        check_int_range("vocab_size", self.vocab_size, 2, None)
        check_choice("objective", self.objective, OBJECTIVES)
        check_int_range("n_heads", self.n_heads, 1, None)
        check_int_range("d_model", self.d_model, 2 * self.n_heads, None)
        if self.d_model % (2 * self.n_heads):
            raise ValueError(f"d_model must be a multiple of 2 * n_heads = {2 * self.n_heads}; got {self.d_model}")
        check_int_range("n_blocks", self.n_blocks, 1, None)
        if self.objective == "mlmu" and self.n_blocks % 2:
            raise ValueError(f"n_blocks must be even for objective 'mlmu' (encoder = decoder); got {self.n_blocks}")
        check_range("rope_base", self.rope_base, 1.0, None, low_inclusive=False)
        check_choice("init", self.init, INITS)

    def init_rule(self) -> str:
        """The rule actually applied: ``"pytorch"`` or ``"gpt2"``."""
        if self.init != "official":
            return self.init
        return "pytorch" if self.objective == "mlmu" else "gpt2"


# ---------------------------------------------------------------------------------------------- RoPE


def rope_tables(positions: torch.Tensor, head_dim: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotary angles, fp32: positions (B, T) int -> two (B, 1, T, head_dim)."""
    # fp32 on purpose: in bf16 positions above 256 are not exact and nearby positions blur (spec §7.1).
    inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32, device=positions.device) / head_dim)
    angles = positions.to(torch.float32)[..., None] * inv_freq  # (B, T, head_dim/2)
    angles = torch.cat([angles, angles], dim=-1)[:, None]  # (B, 1, T, head_dim)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs (i, i + head_dim/2) of x (B, H, T, head_dim) by the tabled angles, in fp32."""
    x32 = x.to(torch.float32)
    x1, x2 = x32.chunk(2, dim=-1)
    rotated = torch.cat([-x2, x1], dim=-1)
    return (x32 * cos + rotated * sin).to(x.dtype)


# ------------------------------------------------------------------------------------------- blocks


class Attention(nn.Module):
    """Multi-head attention from queries x (B, Q, D) to a memory (B, T, D); self-attention when memory is x."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads = cfg.n_heads
        self.q = nn.Linear(cfg.d_model, cfg.d_model)
        self.kv = nn.Linear(cfg.d_model, 2 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def _qkv(self, x, memory, q_rope, k_rope):
        B, Q, _ = x.shape
        T = memory.shape[1]
        q = self.q(x).view(B, Q, self.n_heads, -1).transpose(1, 2)  # (B, H, Q, D/H)
        k, v = self.kv(memory).view(B, T, 2, self.n_heads, -1).permute(2, 0, 3, 1, 4)  # 2 x (B, H, T, D/H)
        return apply_rope(q, *q_rope), apply_rope(k, *k_rope), v

    def forward(self, x, memory, q_rope, k_rope, mask=None, causal=False):
        """mask: bool (B, 1, Q, T), True = may attend; q_rope/k_rope: (cos, sin) tables for Q and T."""
        B, Q, D = x.shape
        q, k, v = self._qkv(x, memory, q_rope, k_rope)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
        return self.proj(y.transpose(1, 2).reshape(B, Q, D))

    def logits(self, x, memory, q_rope, k_rope) -> torch.Tensor:
        """Pre-softmax attention scores q.k / sqrt(head_dim), (B, H, Q, T), before any mask (diagnostics)."""
        q, k, _ = self._qkv(x, memory, q_rope, k_rope)
        return q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.up = nn.Linear(cfg.d_model, 4 * cfg.d_model)
        self.down = nn.Linear(4 * cfg.d_model, cfg.d_model)

    def forward(self, x):
        return self.down(F.gelu(self.up(x)))


class Block(nn.Module):
    """Pre-LN block: x + attn(LN x, memory), then x + MLP(LN x). ``cross`` blocks attend to a fixed memory."""

    def __init__(self, cfg: ModelConfig, cross: bool = False):
        super().__init__()
        self.cross = cross
        self.ln_attn = nn.LayerNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.ln_mlp = nn.LayerNorm(cfg.d_model)
        self.mlp = MLP(cfg)

    def forward(self, x, q_rope, k_rope, memory=None, mask=None, causal=False):
        h = self.ln_attn(x)
        x = x + self.attn(h, memory if self.cross else h, q_rope, k_rope, mask, causal)
        return x + self.mlp(self.ln_mlp(x))


def _gpt2_init(model: nn.Module, n_blocks: int) -> None:
    """GPT-2 init: N(0, 0.02), residual projections scaled by 1/sqrt(2 n_blocks), zero biases."""
    for name, p in model.named_parameters():
        if name.endswith("bias"):
            nn.init.zeros_(p)
        elif p.dim() >= 2:
            std = 0.02 / math.sqrt(2 * n_blocks) if name.endswith(("proj.weight", "down.weight")) else 0.02
            nn.init.normal_(p, 0.0, std)


def _pytorch_init(model: nn.Module) -> None:
    """PyTorch's defaults, as the official PAST model gets them (it never re-initialises anything).

    Linear layers and LayerNorms keep what their constructors drew. The tied embedding/head matrix
    (V, D) is the head ``nn.Linear(D, V)``'s weight, U(+-1/sqrt(D)), and so is the head bias; a query
    vector, if any, is an ``nn.Embedding`` row, N(0, 1).
    """
    bound = 1.0 / math.sqrt(model.cfg.d_model)
    nn.init.uniform_(model.embed.weight, -bound, bound)
    if getattr(model, "head_bias", None) is not None:
        nn.init.uniform_(model.head_bias, -bound, bound)
    if getattr(model, "query", None) is not None:
        nn.init.normal_(model.query, 0.0, 1.0)


def _init_weights(model: nn.Module) -> None:
    if model.cfg.init_rule() == "gpt2":
        _gpt2_init(model, model.cfg.n_blocks)  # the query vector, (1, D), gets N(0, 0.02) too
    else:
        _pytorch_init(model)


def _positions(tokens: torch.Tensor) -> torch.Tensor:
    B, T = tokens.shape
    return torch.arange(T, device=tokens.device).expand(B, T)


def _check_tokens(tokens: torch.Tensor, vocab_size: int) -> None:
    if tokens.dim() != 2 or tokens.dtype != torch.long:
        raise ValueError(f"tokens must be a LongTensor of shape (B, T); got {tuple(tokens.shape)} {tokens.dtype}")
    if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= vocab_size):
        raise ValueError(f"tokens must be in [0, {vocab_size - 1}]; got range [{int(tokens.min())}, {int(tokens.max())}]")


# ------------------------------------------------------------------------------------------- models


class NextTokenModel(nn.Module):
    """Decoder-only GPT. ``forward(tokens)`` gives logits (B, T, V); row t predicts token t + 1."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.objective != "ntp":
            raise ValueError(f"NextTokenModel needs objective 'ntp'; got {cfg.objective!r}")
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_blocks))
        self.ln_out = nn.LayerNorm(cfg.d_model)
        _init_weights(self)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        _check_tokens(tokens, self.cfg.vocab_size)
        rope = rope_tables(_positions(tokens), self.cfg.d_model // self.cfg.n_heads, self.cfg.rope_base)
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x, rope, rope, causal=True)
        return self.ln_out(x) @ self.embed.weight.T  # tied head: (B, T, V)


class MLMUModel(nn.Module):
    """Encoder-decoder for any-subset prediction.

    ``forward(tokens, visible, query_pos)`` gives logits (B, Q, V) for the tokens at ``query_pos``
    (B, Q) given only the tokens where ``visible`` (B, T) is True. Nothing reads an invisible token.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.objective != "mlmu":
            raise ValueError(f"MLMUModel needs objective 'mlmu'; got {cfg.objective!r}")
        self.cfg = cfg
        n = cfg.n_blocks // 2
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.encoder = nn.ModuleList(Block(cfg) for _ in range(n))
        self.ln_enc = nn.LayerNorm(cfg.d_model)
        # the same start vector for every position; (1, D) like the official 1-row nn.Embedding, so
        # the ">= 2 dims" rule of the optimiser decays it as the official one does
        self.query = nn.Parameter(torch.zeros(1, cfg.d_model))
        self.decoder = nn.ModuleList(Block(cfg, cross=True) for _ in range(n))
        self.ln_dec = nn.LayerNorm(cfg.d_model)
        self.head_bias = nn.Parameter(torch.zeros(cfg.vocab_size))  # the official lm_head has a bias
        _init_weights(self)

    def encode(self, tokens: torch.Tensor, visible: torch.Tensor):
        """Encoder pass: (memory (B, T, D), key RoPE tables, mask (B, 1, 1, T)) for the decoder."""
        k_rope = rope_tables(_positions(tokens), self.cfg.d_model // self.cfg.n_heads, self.cfg.rope_base)
        mask = visible[:, None, None, :]  # (B, 1, 1, T): every query sees exactly the visible keys
        x = self.embed(tokens)
        for block in self.encoder:
            x = block(x, k_rope, k_rope, mask=mask)
        return self.ln_enc(x), k_rope, mask  # every decoder block reads the final encoder output

    def forward(self, tokens: torch.Tensor, visible: torch.Tensor, query_pos: torch.Tensor) -> torch.Tensor:
        _check_tokens(tokens, self.cfg.vocab_size)
        B, T = tokens.shape
        if visible.shape != tokens.shape or visible.dtype != torch.bool:
            raise ValueError(f"visible must be a bool tensor of shape {(B, T)}; got {tuple(visible.shape)} {visible.dtype}")
        if query_pos.dim() != 2 or query_pos.shape[0] != B:
            raise ValueError(f"query_pos must have shape ({B}, Q); got {tuple(query_pos.shape)}")
        if not bool(visible.any(1).all()):
            raise ValueError("visible must hold at least one True per row (an all-hidden row has nothing to attend to)")
        memory, k_rope, mask = self.encode(tokens, visible)
        q_rope = rope_tables(query_pos, self.cfg.d_model // self.cfg.n_heads, self.cfg.rope_base)
        y = self.query.expand(B, query_pos.shape[1], -1)
        for block in self.decoder:
            y = block(y, q_rope, k_rope, memory=memory, mask=mask)
        return self.ln_dec(y) @ self.embed.weight.T + self.head_bias  # (B, Q, V)


def build_model(cfg: ModelConfig) -> NextTokenModel | MLMUModel:
    """The model for ``cfg.objective``."""
    return MLMUModel(cfg) if cfg.objective == "mlmu" else NextTokenModel(cfg)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
