"""Decode-matmul kernels: z = x~ @ (s_Q Dec(Q) + L R)^T without (fused) or with (reference) the
dense weight. Inputs are in the RHT domain; :class:`~rizzlib.caldera.module.CalderaLinear` applies
the transforms around them.

* :func:`reference_matmul`: decode Q and the factors to dense matrices, then two matmuls.
* :func:`fused_matmul_cpu`: decode Q one tile of rows at a time straight into the matmul (the
  dense m x n weight never exists), low-rank branch as x~ R^T then L (never L R).
* :func:`triton_matmul`: one Triton program per (batch tile, row tile) gathers E8P codewords from the
  65,536 x 8 table and accumulates in fp32, the low-rank branch added by the wrapper; runs on GPUs
  and, with ``TRITON_INTERPRET=1``, on the CPU (how CI tests it).
"""

from __future__ import annotations

import os

import torch

from rizzlib.caldera.codebooks import e8_one_bit_codebook, e8p_table


def _stage_tables(q_bits: int) -> list[tuple[torch.Tensor, float]]:
    """(table, divisor) per stage of the lattice codebook of ``q_bits`` bits."""
    if q_bits == 2:
        return [(e8p_table(), 1.0)]
    if q_bits == 4:
        return [(e8p_table(), 1.0), (e8p_table(), 3.45)]
    if q_bits == 3:
        return [(e8p_table(), 1.0), (e8_one_bit_codebook(), 2.04)]
    raise ValueError(f"q_bits must be 2, 3 or 4 for the lattice kernels; got {q_bits}")


def decode_q(codes: torch.Tensor, q_bits: int, scale: float) -> torch.Tensor:
    """Dense s_Q Dec(Q) from codes (m, n/8, stages) (int16 or int64), float32 (m, n)."""
    m, g, _ = codes.shape
    out = torch.zeros(m, g * 8)
    for s, (table, div) in enumerate(_stage_tables(q_bits)):
        idx = codes[:, :, s].long() & (0xFFFF if table.shape[0] == 65536 else 0xFF)
        out += table[idx].reshape(m, g * 8) / div
    return out * scale


def reference_matmul(x: torch.Tensor, codes: torch.Tensor, q_bits: int, q_scale: float, l: torch.Tensor | None, r: torch.Tensor | None) -> torch.Tensor:
    """x (B, n) -> (B, m): decode everything, then x W^T + (x R^T) L^T."""
    z = x @ decode_q(codes, q_bits, q_scale).to(x.dtype).T
    if l is not None and l.shape[1] > 0:
        z = z + (x @ r.T) @ l.T
    return z


def fused_matmul_cpu(
    x: torch.Tensor,
    codes: torch.Tensor,
    q_bits: int,
    q_scale: float,
    l: torch.Tensor | None,
    r: torch.Tensor | None,
    tile: int = 64,
) -> torch.Tensor:
    """Same result as :func:`reference_matmul`; Q is decoded ``tile`` rows at a time into a reused
    buffer and multiplied at once, so peak extra memory is tile * n floats, not m * n."""
    m, g, _ = codes.shape
    n = g * 8
    stages = _stage_tables(q_bits)
    xs = x * q_scale
    grad = torch.is_grad_enabled() and x.requires_grad
    z = None if grad else torch.empty(x.shape[0], m, dtype=x.dtype)
    parts = []
    buf = torch.empty(tile, g, 8, dtype=torch.float32)
    for i in range(0, m, tile):
        t = min(tile, m - i)
        b = buf[:t]
        for s, (table, div) in enumerate(stages):
            idx = codes[i : i + t, :, s].long() & (0xFFFF if table.shape[0] == 65536 else 0xFF)
            if s == 0:
                torch.index_select(table, 0, idx.reshape(-1), out=b.view(-1, 8))
            else:
                b += table[idx] / div
        wt = b.view(t, n).to(x.dtype)
        if grad:  # autograd keeps wt for the backward pass: it must not be the reused buffer
            parts.append(xs @ wt.clone().T)
        else:
            torch.matmul(xs, wt.T, out=z[:, i : i + t])
    if grad:
        z = torch.cat(parts, 1)
    if l is not None and l.shape[1] > 0:
        z = z + (x @ r.T) @ l.T
    return z


def triton_available() -> bool:
    """True when Triton imports and either a GPU is present or the interpreter is switched on."""
    try:
        import triton  # noqa: F401
    except Exception:
        return False
    return torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") == "1"


_KERNEL = None


def _build_kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def e8p_matmul_kernel(
        x_ptr, codes_ptr, table_ptr, out_ptr, B, M, G, scale,
        BLOCK_B: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_G: tl.constexpr,
    ):  # fmt: skip
        pid_b = tl.program_id(0)
        pid_m = tl.program_id(1)
        rb = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)
        rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
        acc = tl.zeros((BLOCK_B, BLOCK_M), dtype=tl.float32)
        for g0 in range(0, G, BLOCK_G):
            rg = g0 + tl.arange(0, BLOCK_G)
            cmask = (rm[:, None] < M) & (rg[None, :] < G)
            code = tl.load(codes_ptr + rm[:, None] * G + rg[None, :], mask=cmask, other=0).to(tl.int32) & 0xFFFF
            for j in tl.static_range(8):
                wv = tl.load(table_ptr + code * 8 + j, mask=cmask, other=0.0)  # (BLOCK_M, BLOCK_G)
                xv = tl.load(
                    x_ptr + rb[:, None] * (G * 8) + rg[None, :] * 8 + j,
                    mask=(rb[:, None] < B) & (rg[None, :] < G),
                    other=0.0,
                )  # (BLOCK_B, BLOCK_G)
                acc += tl.sum(xv[:, None, :] * wv[None, :, :], axis=2)
        tl.store(out_ptr + rb[:, None] * M + rm[None, :], acc * scale, mask=(rb[:, None] < B) & (rm[None, :] < M))

    return e8p_matmul_kernel


def triton_matmul(
    x: torch.Tensor,
    codes: torch.Tensor,
    q_bits: int,
    q_scale: float,
    l: torch.Tensor | None,
    r: torch.Tensor | None,
    block_b: int = 4,
    block_m: int = 16,
    block_g: int = 8,
) -> torch.Tensor:
    """The Triton decode-matmul for 2-bit E8P codes (m, n/8, 1); fp32 accumulation."""
    global _KERNEL
    if q_bits != 2 or codes.shape[2] != 1:
        raise ValueError(f"q_bits must be 2 (single-stage E8P) for the Triton kernel; got {q_bits}")
    if not triton_available():
        raise RuntimeError("the Triton kernel needs `pip install triton` and a GPU, or TRITON_INTERPRET=1 on the CPU")
    import triton

    if _KERNEL is None:
        _KERNEL = _build_kernel()
    m, g, _ = codes.shape
    b = x.shape[0]
    xc = x.float().contiguous()
    cc = codes[:, :, 0].contiguous()
    table = e8p_table().to(x.device).contiguous()
    out = torch.empty(b, m, dtype=torch.float32, device=x.device)
    grid = (triton.cdiv(b, block_b), triton.cdiv(m, block_m))
    _KERNEL[grid](xc, cc, table, out, b, m, g, float(q_scale), BLOCK_B=block_b, BLOCK_M=block_m, BLOCK_G=block_g)
    z = out.to(x.dtype)
    if l is not None and l.shape[1] > 0:
        z = z + (x @ r.T) @ l.T
    return z


KERNELS = {"reference": reference_matmul, "fused": fused_matmul_cpu, "triton": triton_matmul}
