"""Exact average bits per parameter of a CALDERA-compressed model (spec §1.4).

For an m x n matrix: B_Q + k (m B_L + n B_R)/(m n), plus optional sign vectors ((m+n) bits, or
16 (m+n) once fine-tuned), fp32 scalars and 16-bit LoRA directions. The paper's averages cover only
the transformer-block linears (embeddings and lm_head stay 16-bit and are excluded).
"""

from __future__ import annotations

import dataclasses

from rizzlib.core.validate import check_int_range, check_range

# (out, in) of q, k, v, o, gate, up, down per decoder layer
LLAMA_SHAPES: dict[str, tuple[tuple[int, int], ...]] = {
    "Llama-2 7B": ((4096, 4096),) * 4 + ((11008, 4096), (11008, 4096), (4096, 11008)),
    "Llama-2 13B": ((5120, 5120),) * 4 + ((13824, 5120), (13824, 5120), (5120, 13824)),
    "Llama-2 70B": ((8192, 8192), (1024, 8192), (1024, 8192), (8192, 8192), (28672, 8192), (28672, 8192), (8192, 28672)),
    "Llama-3 8B": ((4096, 4096), (1024, 4096), (1024, 4096), (4096, 4096), (14336, 4096), (14336, 4096), (4096, 14336)),
}


@dataclasses.dataclass(frozen=True)
class BitBudget:
    """What one matrix stores. ``ft_rank`` directions are counted at ``ft_bits`` instead of B_L/B_R."""

    q_bits: float = 2.0
    rank: int = 0
    l_bits: float = 4.0
    r_bits: float = 4.0
    ft_rank: int = 0
    ft_bits: float = 16.0
    sign_bits: float = 0.0
    """Bits per stored sign entry (0: excluded as in the paper's tables, 1: +-1 signs, 16: fine-tuned)."""
    scalars: int = 0
    """fp32 scalars per matrix (global, Q, L and R scales: 4 in our modules)."""

    def __post_init__(self) -> None:
        check_range("q_bits", self.q_bits, 0.0, 32.0)
        check_int_range("rank", self.rank, 0, None)
        check_range("l_bits", self.l_bits, 0.0, 32.0)
        check_range("r_bits", self.r_bits, 0.0, 32.0)
        check_int_range("ft_rank", self.ft_rank, 0, self.rank)
        check_range("sign_bits", self.sign_bits, 0.0, 32.0)
        check_int_range("scalars", self.scalars, 0, None)


def matrix_bits(m: int, n: int, b: BitBudget) -> float:
    """Total bits of one m x n matrix under budget ``b``."""
    check_int_range("m", m, 1, None)
    check_int_range("n", n, 1, None)
    if b.rank > min(m, n):
        raise ValueError(f"rank must be in [0, {min(m, n)}] for a {m}x{n} matrix; got {b.rank}")
    low = b.rank - b.ft_rank
    return (
        m * n * b.q_bits
        + low * (m * b.l_bits + n * b.r_bits)
        + b.ft_rank * (m + n) * b.ft_bits
        + (m + n) * b.sign_bits
        + 32 * b.scalars
    )


def average_bits(shapes: tuple[tuple[int, int], ...], b: BitBudget) -> float:
    """Bits per parameter over matrices of ``shapes`` [(out, in), ...]."""
    if not shapes:
        raise ValueError("shapes must list at least one (out, in) matrix")
    total = sum(matrix_bits(m, n, b) for m, n in shapes)
    return total / sum(m * n for m, n in shapes)


def llama_table(ranks: tuple[int, ...] = (64, 128, 256), b_q: float = 2.0, b_lr: float = 4.0) -> dict[str, dict]:
    """The spec §1.4 table: params and sum(m+n) per layer, bits per unit rank, and avg bits per rank."""
    out = {}
    for name, shapes in LLAMA_SHAPES.items():
        params = sum(m * n for m, n in shapes)
        sum_mn = sum(m + n for m, n in shapes)
        out[name] = {
            "params": params,
            "sum_m_plus_n": sum_mn,
            "per_rank": b_lr * sum_mn / params,
            **{k: average_bits(shapes, BitBudget(b_q, k, b_lr, b_lr)) for k in ranks},
        }
    return out
