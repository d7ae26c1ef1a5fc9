"""CALDERA: W ~ Q + L R with Q from LDLQ (E8P) and low-rank, low-precision L, R (spec §3).

Per matrix: scale W to RMS 1, damp H, randomized Hadamard transform both, then alternate
(update order LR, Q): an LR step fitting A = W~ - Q (rank-constrained regression under the
H-weighted norm, then ``lr_iters`` closed-form L / R updates with quantization) and a Q step (LDLQ of
W~ - L R, optionally against the downdated Hessian). The best iterate by the undowndated proxy error
is kept (the loop is not monotone).
"""

from __future__ import annotations

import dataclasses

import torch
from tqdm.auto import tqdm

from rizzlib.caldera.codebooks import Codebook, get_codebook, quantize_matrix
from rizzlib.caldera.hadamard import random_signs, rht_hessian, rht_weight, unrht_weight
from rizzlib.caldera.ldlq import damp_hessian, ldlq, relative_error
from rizzlib.core.validate import check_choice, check_finite, check_int_range, check_range


@dataclasses.dataclass(frozen=True)
class CalderaConfig:
    """One matrix's settings. Defaults follow the reference repo's script (spec §3.4) except the
    iteration counts, which the presets set; ``lr_bits=16`` keeps L and R unquantized."""

    rank: int = 64
    q_bits: int = 2
    q_kind: str = "lattice"
    """``"lattice"`` (E8P / RVQ) or ``"scalar"`` (round-to-nearest grid: LDLQ is then GPTQ-like)."""
    lr_bits: int = 4
    lr_kind: str = "lattice"
    outer_iters: int = 20
    lr_iters: int = 50
    tune_iters: int = 10
    g: int = 8
    sigma_reg: float = 0.01
    sigma_reg2: float = 0.01
    hadamard: bool = True
    downdate: bool = True
    ft_rank: int = 0
    """Leading columns of L / rows of R also kept in high precision for LoRA."""
    seed: int = 42

    def __post_init__(self) -> None:
        check_int_range("rank", self.rank, 0, None)
        check_choice("q_kind", self.q_kind, ("lattice", "scalar"))
        check_choice("lr_kind", self.lr_kind, ("lattice", "scalar"))
        if self.q_kind == "lattice":
            check_choice("q_bits", self.q_bits, (2, 3, 4))
        else:
            check_int_range("q_bits", self.q_bits, 1, 8)
        if self.lr_bits != 16:
            if self.lr_kind == "lattice":
                check_choice("lr_bits", self.lr_bits, (2, 3, 4, 16))
            else:
                check_int_range("lr_bits", self.lr_bits, 1, 8)
        check_int_range("outer_iters", self.outer_iters, 1, None)
        check_int_range("lr_iters", self.lr_iters, 0, None)
        check_int_range("tune_iters", self.tune_iters, 0, None)
        check_int_range("g", self.g, 1, None)
        check_range("sigma_reg", self.sigma_reg, 0.0, None)
        check_range("sigma_reg2", self.sigma_reg2, 0.0, None)
        check_int_range("ft_rank", self.ft_rank, 0, self.rank)
        check_int_range("seed", self.seed, 0, None)

    def q_codebook(self) -> Codebook:
        return get_codebook(self.q_bits, self.q_kind)

    def lr_codebook(self) -> Codebook | None:
        return None if self.lr_bits == 16 else get_codebook(self.lr_bits, self.lr_kind)


@dataclasses.dataclass
class CalderaResult:
    """Everything a compressed layer stores, in the RHT domain. W ~ g * unrht(Q + L R)."""

    q_codes: torch.Tensor  # (m, n/dim, stages) int64
    q_scale: float
    l: torch.Tensor  # (m, k) float32, already de-quantized values
    r: torch.Tensor  # (k, n)
    l_codes: torch.Tensor | None  # (k, m/dim, stages) codes of L^T, or None for 16-bit factors
    r_codes: torch.Tensor | None  # (k, n/dim, stages)
    l_scale: float
    r_scale: float
    global_scale: float
    su: torch.Tensor  # (n,) +-1
    sv: torch.Tensor  # (m,) +-1
    errors: list[float]  # relative proxy error after each outer iteration
    best_iter: int
    q_hat: torch.Tensor  # (m, n) decoded Q (RHT domain, global scale divided out)
    config: CalderaConfig

    @property
    def best_error(self) -> float:
        return self.errors[self.best_iter]

    def w_tilde_hat(self) -> torch.Tensor:
        """Q + L R in the RHT domain (global scale divided out)."""
        return self.q_hat + self.l @ self.r

    def reconstruct(self) -> torch.Tensor:
        """The dense approximation of the original W, (m, n) float32."""
        return unrht_weight(self.w_tilde_hat(), self.su, self.sv) * self.global_scale if self.config.hadamard else self.w_tilde_hat() * self.global_scale


def weighted_svd_init(a: torch.Tensor, evals: torch.Tensor, evecs: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Best rank-k L R for min ||(A - L R) H^{1/2}||_F with H = V diag(lam) V^T (exact SVD):
    L = U_k, R = Sigma_k P_k^T Lam^{-1/2} V^T where A V Lam^{1/2} = U Sigma P^T. float64."""
    y = a @ evecs * evals.sqrt()[None, :]
    u, s, ph = torch.linalg.svd(y, full_matrices=False)
    l = u[:, :k]
    r = (s[:k, None] * ph[:k]) / evals.sqrt()[None, :] @ evecs.T
    return l, r


def update_l(a: torch.Tensor, r: torch.Tensor, h_sqrt: torch.Tensor) -> torch.Tensor:
    """Closed-form L = argmin ||(A - L R) H^{1/2}||_F = A H R^T (R H R^T)^+ (least squares)."""
    x = torch.linalg.lstsq((r @ h_sqrt).T, (a @ h_sqrt).T).solution.T
    if not torch.isfinite(x).all():
        x = (a @ h_sqrt) @ torch.linalg.pinv(r @ h_sqrt)
    return x


def update_r(a: torch.Tensor, l: torch.Tensor) -> torch.Tensor:
    """Closed-form R = argmin_R ||(A - L R) H^{1/2}||_F = L^+ A (the weight H does not move it)."""
    x = torch.linalg.lstsq(l, a).solution
    if not torch.isfinite(x).all():
        x = torch.linalg.pinv(l) @ a
    return x


def _quant_factor(m: torch.Tensor, cb: Codebook | None) -> tuple[torch.Tensor, torch.Tensor | None, float]:
    if cb is None:
        return m, None, 1.0
    mh, codes, scale = quantize_matrix(m, cb)
    return mh.double(), codes, scale


def lplr_factorize(a: torch.Tensor, evals: torch.Tensor, evecs: torch.Tensor, k: int, cfg: CalderaConfig):
    """The LR step on target A (m, n): SVD init, then ``cfg.lr_iters`` rounds of L-update, quantize L,
    R-update, quantize R; returns the best (L, R, L codes, R codes, L scale, R scale)."""
    h_sqrt = (evecs * evals.sqrt()[None, :]) @ evecs.T
    l, r = weighted_svd_init(a, evals, evecs, k)
    cb = cfg.lr_codebook()
    if cb is None:
        return l, r, None, None, 1.0, 1.0
    best, best_err = None, float("inf")
    for _ in range(max(cfg.lr_iters, 1)):
        l = update_l(a, r, h_sqrt)
        l, lc, ls = _quant_factor(l.T, cb)  # groups of 8 along m
        l = l.T
        r = update_r(a, l)
        r, rc, rs = _quant_factor(r, cb)
        err = float(((a - l @ r) @ h_sqrt).square().sum())
        if err < best_err:
            best, best_err = (l.clone(), r.clone(), lc, rc, ls, rs), err
    return best


def downdate_hessian(h: torch.Tensor, lr: torch.Tensor, k: int, sigma2: float) -> torch.Tensor:
    """H' = H - M V_k V_k^T M^T (M = chol H, V_k = top-k right singular vectors of L R M), re-damped."""
    mchol = torch.linalg.cholesky(h)
    _, _, vh = torch.linalg.svd(lr @ mchol, full_matrices=False)
    vk = vh[:k].T
    mv = mchol @ vk
    hd = h - mv @ mv.T
    hd = (hd + hd.T) / 2
    lam_min = float(torch.linalg.eigvalsh(hd)[0])
    eye = torch.eye(h.shape[0], dtype=h.dtype)
    hd = hd + (sigma2 + max(0.0, -lam_min)) * eye
    return hd + sigma2 * float(torch.diagonal(hd).abs().mean()) * eye


def caldera(w: torch.Tensor, h: torch.Tensor, cfg: CalderaConfig, progress: bool = False) -> CalderaResult:
    """Decompose W (m, n) with calibration second moment H = E[x x^T] (n, n); see the module doc.

    Raises ValueError for a non-finite W, a rank above min(m, n), an H that is not symmetric PSD
    after damping, or shapes the codebooks cannot group (n % g, m % 8 for lattice factors).
    """
    if w.dim() != 2:
        raise ValueError(f"W must be a matrix (m, n); got shape {tuple(w.shape)}")
    m, n = w.shape
    check_finite("W", w.detach().cpu().numpy())
    check_int_range("rank", cfg.rank, 0, min(m, n))
    qcb, lcb = cfg.q_codebook(), cfg.lr_codebook()
    if n % cfg.g or cfg.g % qcb.dim:
        raise ValueError(f"W.shape[1]={n} must be a multiple of g={cfg.g}, itself a multiple of {qcb.dim}")
    if lcb is not None and cfg.rank > 0 and (m % lcb.dim or n % lcb.dim):
        raise ValueError(f"W's shape {(m, n)} must be multiples of {lcb.dim} to quantize L and R with {lcb.name}")
    hd = damp_hessian(h, cfg.sigma_reg)
    gscale = float(w.double().square().mean().sqrt())
    if gscale == 0:
        gscale = 1.0
    wd = w.double() / gscale
    gen = torch.Generator().manual_seed(cfg.seed)
    su, sv = random_signs(n, gen), random_signs(m, gen)
    if cfg.hadamard:
        wt = rht_weight(wd, su.double(), sv.double())
        ht = rht_hessian(hd, su.double())
        ht = (ht + ht.T) / 2
    else:
        wt, ht = wd, hd
    evals, evecs = torch.linalg.eigh(ht)
    evals = evals.clamp_min(1e-12 * float(evals.max()))
    k = cfg.rank
    q = torch.zeros_like(wt)
    l = torch.zeros(m, k, dtype=torch.float64)
    r = torch.zeros(k, n, dtype=torch.float64)
    lc = rc = None
    ls = rs = 1.0
    errors: list[float] = []
    best = None
    iters = cfg.outer_iters if k > 0 else 1
    for it in tqdm(range(iters), desc="caldera", disable=not progress, leave=False):
        if k > 0:
            l, r, lc, rc, ls, rs = lplr_factorize(wt - q, evals, evecs, k, cfg)
        lr = l @ r
        hq = downdate_hessian(ht, lr, k, cfg.sigma_reg2) if (cfg.downdate and k > 0) else ht
        res = ldlq((wt - lr).float(), hq, qcb, g=cfg.g, tune_iters=cfg.tune_iters)
        q = res.w_hat.double()
        err = relative_error(wt, q + lr, ht)
        errors.append(err)
        if best is None or err < errors[best[0]]:
            best = (it, res.codes, res.scale, q.clone(), l.clone(), r.clone(), lc, rc, ls, rs)
    it, qc, qs, qh, l, r, lc, rc, ls, rs = best
    return CalderaResult(
        q_codes=qc, q_scale=qs, l=l.float(), r=r.float(), l_codes=lc, r_codes=rc, l_scale=ls, r_scale=rs,
        global_scale=gscale, su=su, sv=sv, errors=errors, best_iter=it, q_hat=qh.float(), config=cfg,
    )  # fmt: skip
