"""Decode-matmul kernels: z = x~ @ (s_Q Dec(Q) + L R)^T without (fused) or with (reference) the
dense weight. Inputs are in the RHT domain; :class:`~rizzlib.caldera.module.CalderaLinear` applies
the transforms around them.

* :func:`reference_matmul`: decode Q and the factors to dense matrices, then two matmuls.
* :func:`fused_matmul_cpu`: decode Q one tile of rows at a time straight into the matmul (the
  dense m x n weight never exists), low-rank branch as x~ R^T then L (never L R).
* :func:`triton_matmul`: one Triton program per (batch tile, row tile) gathers E8P codewords from the
  65,536 x 8 table (for 3 and 4 bits also the residual stage's codewords) and accumulates in fp32,
  the low-rank branch added by the wrapper; runs on GPUs and, with ``TRITON_INTERPRET=1``, on the
  CPU (how CI tests it).

All three take the Q codes as one integer tensor per stage (:data:`Codes`) and work for 2, 3 and 4 bits.
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


Codes = torch.Tensor | tuple[torch.Tensor, ...]
"""Q codes: one (m, n/8) integer tensor per codebook stage (E8P 16-bit codes as int16, the 3-bit
variant's 8-bit second stage as uint8), or the stages stacked on a last axis, (m, n/8, stages)."""


def split_stages(codes: Codes, q_bits: int) -> tuple[torch.Tensor, ...]:
    """The per-stage (m, n/8) code tensors of ``codes``, checked against ``q_bits``'s stage count."""
    want = len(_stage_tables(q_bits))
    parts = tuple(codes.unbind(2)) if isinstance(codes, torch.Tensor) else tuple(codes)
    if len(parts) != want:
        raise ValueError(f"codes must hold {want} stage(s) for q_bits={q_bits}; got {len(parts)}")
    if any(c.dim() != 2 or c.shape != parts[0].shape for c in parts):
        raise ValueError(f"codes must be (m, n/8) per stage, all the same shape; got {[tuple(c.shape) for c in parts]}")
    return parts


def _index(code: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """int64 row indices into ``table`` from stored codes (int16 holds uint16 bits, uint8 an index)."""
    return code.long() & (0xFFFF if table.shape[0] == 65536 else 0xFF)


def decode_q(codes: Codes, q_bits: int, scale: float) -> torch.Tensor:
    """Dense s_Q Dec(Q), float32 (m, n), from ``codes`` (see :data:`Codes`)."""
    parts = split_stages(codes, q_bits)
    m, g = parts[0].shape
    out = torch.zeros(m, g * 8)
    for c, (table, div) in zip(parts, _stage_tables(q_bits)):
        out += table[_index(c, table)].reshape(m, g * 8) / div
    return out * scale


def reference_matmul(x: torch.Tensor, codes: Codes, q_bits: int, q_scale: float, l: torch.Tensor | None, r: torch.Tensor | None) -> torch.Tensor:
    """x (B, n) -> (B, m): decode everything, then x W^T + (x R^T) L^T."""
    z = x @ decode_q(codes, q_bits, q_scale).to(x.dtype).T
    if l is not None and l.shape[1] > 0:
        z = z + (x @ r.T) @ l.T
    return z


def fused_matmul_cpu(
    x: torch.Tensor,
    codes: Codes,
    q_bits: int,
    q_scale: float,
    l: torch.Tensor | None,
    r: torch.Tensor | None,
    tile: int = 64,
) -> torch.Tensor:
    """Same result as :func:`reference_matmul`; Q is decoded ``tile`` rows at a time into a reused
    buffer and multiplied at once, so peak extra memory is tile * n floats, not m * n."""
    parts = split_stages(codes, q_bits)
    m, g = parts[0].shape
    n = g * 8
    stages = list(zip(parts, _stage_tables(q_bits)))
    xs = x * q_scale
    grad = torch.is_grad_enabled() and x.requires_grad
    z = None if grad else torch.empty(x.shape[0], m, dtype=x.dtype)
    parts = []
    buf = torch.empty(tile, g, 8, dtype=torch.float32)
    for i in range(0, m, tile):
        t = min(tile, m - i)
        b = buf[:t]
        for s, (c, (table, div)) in enumerate(stages):
            idx = _index(c[i : i + t], table)
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
    def lattice_matmul_kernel(
        x_ptr, c1_ptr, c2_ptr, t1_ptr, t2_ptr, out_ptr, B, M, G, scale, inv_div,
        TWO_STAGE: tl.constexpr, MASK2: tl.constexpr,
        BLOCK_B: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_G: tl.constexpr,
    ):  # fmt: skip
        # out[b, m] = scale * sum_k x[b, k] * (T1[c1[m, k // 8], k % 8] + T2[c2[m, k // 8], k % 8] * inv_div)
        pid_b = tl.program_id(0)
        pid_m = tl.program_id(1)
        rb = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)
        rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
        acc = tl.zeros((BLOCK_B, BLOCK_M), dtype=tl.float32)
        for g0 in range(0, G, BLOCK_G):
            rg = g0 + tl.arange(0, BLOCK_G)
            cmask = (rm[:, None] < M) & (rg[None, :] < G)
            offs = rm[:, None] * G + rg[None, :]
            code = tl.load(c1_ptr + offs, mask=cmask, other=0).to(tl.int32) & 0xFFFF
            if TWO_STAGE:
                code2 = tl.load(c2_ptr + offs, mask=cmask, other=0).to(tl.int32) & MASK2
            for j in tl.static_range(8):
                wv = tl.load(t1_ptr + code * 8 + j, mask=cmask, other=0.0)  # (BLOCK_M, BLOCK_G)
                if TWO_STAGE:
                    wv += tl.load(t2_ptr + code2 * 8 + j, mask=cmask, other=0.0) * inv_div
                xv = tl.load(
                    x_ptr + rb[:, None] * (G * 8) + rg[None, :] * 8 + j,
                    mask=(rb[:, None] < B) & (rg[None, :] < G),
                    other=0.0,
                )  # (BLOCK_B, BLOCK_G)
                acc += tl.sum(xv[:, None, :] * wv[None, :, :], axis=2)
        tl.store(out_ptr + rb[:, None] * M + rm[None, :], acc * scale, mask=(rb[:, None] < B) & (rm[None, :] < M))

    return lattice_matmul_kernel


def triton_matmul(
    x: torch.Tensor,
    codes: Codes,
    q_bits: int,
    q_scale: float,
    l: torch.Tensor | None,
    r: torch.Tensor | None,
    block_b: int = 4,
    block_m: int = 16,
    block_g: int = 8,
) -> torch.Tensor:
    """The Triton decode-matmul for every lattice width: 2-bit E8P (one stage), 4-bit E8P + E8P/3.45
    and 3-bit E8P + E8-1bit/2.04 (two stages, each decoded by a table gather and summed in
    registers); fp32 accumulation, the low-rank branch added by the wrapper."""
    global _KERNEL
    stages = _stage_tables(q_bits)
    parts = split_stages(codes, q_bits)
    if not triton_available():
        raise RuntimeError("the Triton kernel needs `pip install triton` and a GPU, or TRITON_INTERPRET=1 on the CPU")
    import triton

    if _KERNEL is None:
        _KERNEL = _build_kernel()
    m, g = parts[0].shape
    b = x.shape[0]
    xc = x.float().contiguous()
    c1 = parts[0].contiguous()
    t1 = stages[0][0].to(x.device).contiguous()
    two = len(parts) == 2
    c2 = parts[1].contiguous() if two else c1
    t2 = stages[1][0].to(x.device).contiguous() if two else t1
    inv_div = 1.0 / stages[1][1] if two else 1.0
    mask2 = 0xFFFF if t2.shape[0] == 65536 else 0xFF
    out = torch.empty(b, m, dtype=torch.float32, device=x.device)
    grid = (triton.cdiv(b, block_b), triton.cdiv(m, block_m))
    _KERNEL[grid](
        xc, c1, c2, t1, t2, out, b, m, g, float(q_scale), inv_div,
        TWO_STAGE=two, MASK2=mask2, BLOCK_B=block_b, BLOCK_M=block_m, BLOCK_G=block_g,
    )  # fmt: skip
    z = out.to(x.dtype)
    if l is not None and l.shape[1] > 0:
        z = z + (x @ r.T) @ l.T
    return z


KERNELS = {"reference": reference_matmul, "fused": fused_matmul_cpu, "triton": triton_matmul}
