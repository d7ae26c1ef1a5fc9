"""LDLQ / BlockLDLQ (QuIP#): adaptive rounding with linear feedback from the block LDL of H.

H = L D L^T with L unit lower block-triangular (g x g blocks). Column blocks are quantized from the
last to the first, each fed back the weighted error of the blocks after it (spec §2.3):
``W_hat_k = Q(W_k + sum_{j>k} (W_j - W_hat_j) L_jk)``. With g = 1 and a scalar grid this is GPTQ
(OPTQ) on the column-reversed problem. The proxy loss is tr((W - W_hat) H (W - W_hat)^T).
"""

from __future__ import annotations

import dataclasses

import torch

from rizzlib.caldera.codebooks import Codebook, decode_rows, quantize_rows
from rizzlib.core.validate import check_finite, check_int_range, check_range


def check_hessian(name: str, h: torch.Tensor, n: int | None = None) -> None:
    """Raise ValueError unless ``h`` is a finite symmetric (n, n) matrix."""
    if h.dim() != 2 or h.shape[0] != h.shape[1] or (n is not None and h.shape[0] != n):
        want = f"({n}, {n})" if n is not None else "square"
        raise ValueError(f"{name} must be a {want} matrix; got shape {tuple(h.shape)}")
    check_finite(name, h.detach().cpu().numpy())
    asym = float((h - h.T).abs().max())
    if asym > 1e-5 * max(float(h.abs().max()), 1e-30):
        raise ValueError(f"{name} must be symmetric; max |H - H^T| = {asym:.3g}")


def damp_hessian(h: torch.Tensor, sigma: float = 0.01) -> torch.Tensor:
    """QuIP#'s regularisation: H / mean(diag H) + sigma I (float64). Raises if the result is not
    positive definite (H was not positive semi-definite)."""
    check_range("sigma", sigma, 0.0, None)
    check_hessian("H", h)
    h = h.double()
    mean_diag = float(torch.diagonal(h).mean())
    if not mean_diag > 0:
        raise ValueError(f"H must be positive semi-definite with a positive diagonal; mean(diag H) = {mean_diag:.3g}")
    out = h / mean_diag + sigma * torch.eye(h.shape[0], dtype=torch.float64)
    out = (out + out.T) / 2
    _, info = torch.linalg.cholesky_ex(out)
    if int(info) != 0:
        lam = float(torch.linalg.eigvalsh(out)[0])
        raise ValueError(
            f"H must be symmetric positive semi-definite: after damping (sigma={sigma}) its smallest "
            f"eigenvalue is {lam:.3g}"
        )
    return out


def block_ldl(h: torch.Tensor, g: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Block LDL of a positive definite H (n, n), n % g == 0: returns (L (n, n) unit lower
    block-triangular, D (n/g, g, g) diagonal blocks) with H = L blockdiag(D) L^T. float64."""
    n = h.shape[0]
    check_int_range("g", g, 1, n)
    if n % g:
        raise ValueError(f"g must divide the Hessian size {n}; got {g}")
    c, info = torch.linalg.cholesky_ex(h.double())
    if int(info) != 0:
        raise ValueError("H must be positive definite for the block LDL (damp it first)")
    nb = n // g
    b = torch.stack([c[i * g : (i + 1) * g, i * g : (i + 1) * g] for i in range(nb)])  # (nb, g, g)
    d = b @ b.transpose(1, 2)
    binv = torch.linalg.inv(b)
    l = c @ torch.block_diag(*binv)
    return l, d


def proxy_loss(w: torch.Tensor, w_hat: torch.Tensor, h: torch.Tensor) -> float:
    """tr((W - W_hat) H (W - W_hat)^T) (float64)."""
    e = (w - w_hat).double()
    return float(torch.einsum("ij,jk,ik->", e, h.double(), e))


def relative_error(w: torch.Tensor, w_hat: torch.Tensor, h: torch.Tensor) -> float:
    """sqrt(tr(E H E^T) / tr(W H W^T)): the reference repo's ``activation_aware_error``."""
    return (proxy_loss(w, w_hat, h) / max(proxy_loss(w, torch.zeros_like(w), h), 1e-300)) ** 0.5


@dataclasses.dataclass
class LDLQResult:
    """Quantized weight W_hat = scale * decode(codes), in the input's (possibly RHT) domain."""

    w_hat: torch.Tensor  # (m, n) float32
    codes: torch.Tensor  # (m, n/dim, stages) int64
    scale: float
    eta: torch.Tensor  # (m, n) quantizer error on the fed-back targets (scaled domain), before tuning


def ldlq(
    w: torch.Tensor,
    h: torch.Tensor,
    codebook: Codebook,
    g: int = 8,
    buffer: int = 128,
    tune_iters: int = 0,
    scale: float | None = None,
) -> LDLQResult:
    """Quantize W (m, n) against a positive definite H (n, n) with BlockLDLQ, blocks of ``g`` columns.

    The target is divided by its RMS and multiplied by ``codebook.opt_scale`` (or divided by
    ``scale`` when given), so the codebook sees its design scale. ``buffer`` columns are processed
    with local feedback before one matmul pushes their error into all earlier columns (lazy
    updates, GPTQ-style). ``tune_iters`` greedy block-coordinate sweeps follow (QuIP# default 10).
    """
    m, n = w.shape
    check_finite("W", w.detach().cpu().numpy())
    check_hessian("H", h, n)
    check_int_range("g", g, 1, n)
    if n % g or g % codebook.dim:
        raise ValueError(f"g must divide n={n} and be a multiple of the codebook dim {codebook.dim}; got {g}")
    check_int_range("buffer", buffer, g, None)
    if buffer % g:
        raise ValueError(f"buffer must be a multiple of g={g}; got {buffer}")
    check_int_range("tune_iters", tune_iters, 0, None)
    if scale is None:
        rms = float(w.double().square().mean().sqrt())
        scale = rms / codebook.opt_scale if rms > 0 else 1.0
    else:
        check_range("scale", scale, 0.0, None, low_inclusive=False)
    l, _ = block_ldl(h, g)
    ws = w.double() / scale
    wh = torch.zeros_like(ws)
    eta = torch.zeros_like(ws)
    fb = torch.zeros_like(ws)  # feedback from finished buffers
    codes = torch.zeros(m, n // codebook.dim, codebook.stages, dtype=torch.long)
    cd = codebook.dim
    end = n
    while end > 0:
        start = max(0, end - buffer)
        for k in range(end - g, start - 1, -g):
            tgt = ws[:, k : k + g] + fb[:, k : k + g]
            if k + g < end:
                tgt = tgt + (ws[:, k + g : end] - wh[:, k + g : end]) @ l[k + g : end, k : k + g]
            q, c = quantize_rows(tgt.float(), codebook)
            wh[:, k : k + g] = q.double()
            eta[:, k : k + g] = q.double() - tgt
            codes[:, k // cd : (k + g) // cd] = c
        if start > 0:
            fb[:, :start] += (ws[:, start:end] - wh[:, start:end]) @ l[start:end, :start]
        end = start
    if tune_iters:
        wh, codes = _greedy_tune(ws, wh, codes, h.double(), codebook, g, tune_iters)
    return LDLQResult((wh * scale).float(), codes, float(scale), eta.float())


def _greedy_tune(ws, wh, codes, h, codebook, g, iters):
    """Block coordinate descent: W_hat_k <- Q(W_hat_k + (W - W_hat) H[:, k] H_kk^-1), last to first."""
    n = ws.shape[1]
    cd = codebook.dim
    eh = (ws - wh) @ h  # (m, n), kept current
    for _ in range(iters):
        for k in range(n - g, -1, -g):
            hkk_inv = torch.linalg.inv(h[k : k + g, k : k + g])
            tgt = wh[:, k : k + g] + eh[:, k : k + g] @ hkk_inv
            q, c = quantize_rows(tgt.float(), codebook)
            delta = q.double() - wh[:, k : k + g]
            if bool((delta != 0).any()):
                wh[:, k : k + g] = q.double()
                codes[:, k // cd : (k + g) // cd] = c
                eh -= delta @ h[k : k + g, :]
    return wh, codes


def nearest_rounding(w: torch.Tensor, codebook: Codebook, scale: float | None = None) -> LDLQResult:
    """Round every group to its nearest codeword with no feedback (same scaling as :func:`ldlq`)."""
    check_finite("W", w.detach().cpu().numpy())
    if scale is None:
        rms = float(w.double().square().mean().sqrt())
        scale = rms / codebook.opt_scale if rms > 0 else 1.0
    ws = w.double() / scale
    q, c = quantize_rows(ws.float(), codebook)
    return LDLQResult(q * scale, c, float(scale), (q.double() - ws).float())


def decode_codes(codes: torch.Tensor, codebook: Codebook, scale: float) -> torch.Tensor:
    """W_hat = scale * decode(codes), (m, n) float32."""
    return decode_rows(codes, codebook) * scale
