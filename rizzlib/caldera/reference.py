"""Slow, obviously-correct twins of the chapter's algorithms, for tests and graded checks."""

from __future__ import annotations

import math

import torch

from rizzlib.caldera.codebooks import Codebook, quantize_rows


def fwht_dense(x: torch.Tensor) -> torch.Tensor:
    """x @ H_n / sqrt(n) with the Sylvester matrix built by Kronecker products (n = 2^p)."""
    n = x.shape[-1]
    h = torch.ones(1, 1, dtype=torch.float64)
    while h.shape[0] < n:
        h = torch.kron(torch.tensor([[1.0, 1.0], [1.0, -1.0]], dtype=torch.float64), h)
    if h.shape[0] != n:
        raise ValueError(f"x.shape[-1] must be a power of two; got {n}")
    return (x.double() @ h / math.sqrt(n)).to(x.dtype)


def nearest_d8_loop(x: torch.Tensor) -> torch.Tensor:
    """Conway-Sloane's D8 rule written one vector at a time."""
    out = []
    for v in x.tolist():
        r = [float(round(a)) for a in v]  # half to even, like torch.round
        if int(sum(r)) % 2:
            i = max(range(8), key=lambda j: abs(v[j] - r[j]))
            r[i] += 1.0 if v[i] >= r[i] else -1.0
        out.append(r)
    return torch.tensor(out, dtype=x.dtype)


def ldlq_direct(w: torch.Tensor, h: torch.Tensor, codebook: Codebook, g: int, scale: float) -> torch.Tensor:
    """LDLQ by the textbook formula, one block at a time, no lazy buffer: returns W_hat (m, n)."""
    from rizzlib.caldera.ldlq import block_ldl

    l, _ = block_ldl(h.double(), g)
    ws = w.double() / scale
    wh = torch.zeros_like(ws)
    n = ws.shape[1]
    for k in range(n - g, -1, -g):
        tgt = ws[:, k : k + g] + (ws[:, k + g :] - wh[:, k + g :]) @ l[k + g :, k : k + g]
        wh[:, k : k + g] = quantize_rows(tgt.float(), codebook)[0].double()
    return (wh * scale).float()


def gptq(w: torch.Tensor, h: torch.Tensor, codebook: Codebook, scale: float) -> torch.Tensor:
    """GPTQ/OPTQ (columns first to last, scalar codebook): the upper Cholesky factor of H^-1 spreads
    each column's rounding error onto the later columns. Returns W_hat (m, n)."""
    if codebook.dim != 1:
        raise ValueError("codebook must be scalar (dim 1) for GPTQ")
    ws = w.double().clone() / scale
    hinv = torch.linalg.cholesky(torch.linalg.inv(h.double()), upper=True)
    wh = torch.zeros_like(ws)
    for i in range(ws.shape[1]):
        q = quantize_rows(ws[:, i : i + 1].float(), codebook)[0].double()[:, 0]
        wh[:, i] = q
        err = (ws[:, i] - q) / hinv[i, i]
        ws[:, i + 1 :] -= err[:, None] * hinv[i, i + 1 :][None, :]
    return (wh * scale).float()
