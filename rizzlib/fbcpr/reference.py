"""Slow, obviously-correct twins of the chapter's fast functions (loops over rows and heads), used
by the tests and by the graded checks."""

from __future__ import annotations

import numpy as np


def project(x) -> np.ndarray:
    """√d · x / ‖x‖ row by row."""
    x = np.asarray(x, np.float64)
    return np.sqrt(x.shape[-1]) * x / np.linalg.norm(x, axis=-1, keepdims=True)


def pessimism(p, lam: float) -> np.ndarray:
    """mean_k p_k − lam · Σ_{k≠l} |p_k − p_l| / (K² − K), with loops over the head pairs."""
    p = np.asarray(p, np.float64)
    k = p.shape[0]
    u = np.zeros(p.shape[1:])
    for i in range(k):
        for j in range(k):
            if i != j:
                u = u + np.abs(p[i] - p[j])
    return p.mean(0) - (lam * u / (k * k - k) if k > 1 else 0.0)


def fb_td_loss(m, target, discount) -> float:
    """Σ_k [ 1/(2n(n−1)) Σ_{i≠j} (M_k[i,j] − γ_i T[i,j])² − (1/n) Σ_i M_k[i,i] ] with loops."""
    m, target, discount = (np.asarray(a, np.float64) for a in (m, target, discount))
    heads, n, _ = m.shape
    total = 0.0
    for k in range(heads):
        off = sum((m[k, i, j] - discount[i] * target[i, j]) ** 2 for i in range(n) for j in range(n) if i != j)
        total += off / (2 * n * (n - 1)) - sum(m[k, i, i] for i in range(n)) / n
    return float(total)


def ortho_loss(b) -> float:
    """1/(2n(n−1)) Σ_{i≠j} (B_iᵀB_j)² − (1/n) Σ_i ‖B_i‖² with loops."""
    b = np.asarray(b, np.float64)
    n = b.shape[0]
    off = sum(float(b[i] @ b[j]) ** 2 for i in range(n) for j in range(n) if i != j)
    return off / (2 * n * (n - 1)) - sum(float(b[i] @ b[i]) for i in range(n)) / n


def reward_to_z(b_next, rewards, weighted: bool = False, temperature: float = 10.0) -> np.ndarray:
    """proj(Σ_i w_i r_i B(s'_i)), w = 1 or softmax(temperature · r) · N, as an explicit sum."""
    b, r = np.asarray(b_next, np.float64), np.asarray(rewards, np.float64)
    w = np.ones_like(r)
    if weighted:
        e = np.exp(temperature * (r - r.max()))
        w = e / e.sum() * len(r)
    acc = np.zeros(b.shape[1])
    for i in range(len(r)):
        acc += w[i] * r[i] * b[i]
    return project(acc)


def tracking_zs(b_targets, seq_len: int) -> np.ndarray:
    """z_t = proj(mean_{k=t}^{min(t+L,T)−1} B(o_k)), one window at a time."""
    b = np.asarray(b_targets, np.float64)
    t_len = b.shape[0]
    return np.stack([project(b[t:min(t + seq_len, t_len)].mean(0)) for t in range(t_len)])


def discriminator_loss(logit_pos, logit_neg) -> float:
    """mean −log σ(ℓ_pos) + mean −log(1 − σ(ℓ_neg)) (no penalty), written with log-sigmoids."""
    lp, ln = np.asarray(logit_pos, np.float64), np.asarray(logit_neg, np.float64)
    return float(np.mean(np.logaddexp(0.0, -lp)) + np.mean(np.logaddexp(0.0, ln)))


def gradient_penalty_linear(w, x_pos, x_neg, u) -> float:
    """Gradient penalty of a linear logit ℓ(x) = wᵀx + b: the gradient is w at every x̂."""
    del x_pos, x_neg, u
    return float((np.linalg.norm(np.asarray(w, np.float64)) - 1.0) ** 2)


def encode_segments(b_next_segments, seq_len: int) -> np.ndarray:
    """z of each segment from ``b_next_segments (m, L, d)`` = B(o_{t+1..t+L}), repeated L times."""
    b = np.asarray(b_next_segments, np.float64)
    out = []
    for seg in b:
        z = project(seg.mean(0))
        out.extend([z] * seq_len)
    return np.stack(out)
