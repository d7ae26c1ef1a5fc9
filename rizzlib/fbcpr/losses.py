"""The losses of FB and FB-CPR as pure functions of arrays (spec §2.3-§2.8, §3.2-§3.4).

Notation: n rows in a batch, d = latent dimension, K = ensemble heads. ``discount (n,)`` is
γ·(1 − terminated) per row (truncation does not zero it).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

LOGIT_BOUND_EPS = 1e-7  # D is clamped to [eps, 1 − eps] before log D − log(1 − D)


def pessimism(p: jax.Array, lam: float) -> jax.Array:
    """Ensemble aggregate ``mean − lam · u`` over the head axis 0, u = Σ_{k≠l}|p_k − p_l| / (K² − K).

    For K = 2 and lam = 0.5 this is ``min(p_1, p_2)``; lam = 0 is the mean. ``p (K, ...)``."""
    k = p.shape[0]
    mean = p.mean(0)
    if k == 1 or lam == 0:
        return mean
    u = jnp.abs(p[:, None] - p[None]).sum((0, 1)) / (k * k - k)
    return mean - lam * u


def _offdiag_mean(x: jax.Array) -> jax.Array:
    """Mean of the off-diagonal entries of the last two (n × n) axes."""
    n = x.shape[-1]
    return (x.sum((-2, -1)) - jnp.trace(x, axis1=-2, axis2=-1)) / (n * (n - 1))


def fb_td_loss(m: jax.Array, target: jax.Array, discount: jax.Array, logged: bool = False) -> jax.Array:
    """FB measure TD loss, summed over heads.

    ``m (K, n, n)``: M_k[i, j] = F_k(s_i, a_i, z_i)ᵀ B(s'_j) (online); ``target (n, n)``: the
    aggregated target F̄(s'_i, a'_i, z_i)ᵀ B̄(s'_j) (no gradient is taken through it).
    Σ_k [ ½ mean_{i≠j} (M_k[i,j] − γ_i T[i,j])² − mean_i M_k[i,i] ]. ``logged=True`` adds the
    constant γ_i T[i,i] inside the diagonal term as the reference code logs it (same gradients)."""
    target = jax.lax.stop_gradient(target)
    diff = m - discount[:, None] * target
    off = 0.5 * _offdiag_mean(diff**2)
    diag_src = diff if logged else m
    diag = jnp.diagonal(diag_src, axis1=-2, axis2=-1).mean(-1)
    return jnp.sum(off - diag)


def ortho_loss(b: jax.Array) -> jax.Array:
    """Batch orthonormality estimator on ``b (n, d)``: ½ mean_{i≠j} (B_iᵀB_j)² − mean_i ‖B_i‖²."""
    c = b @ b.T
    return 0.5 * _offdiag_mean(c**2) - jnp.diagonal(c).mean()


def ortho_frobenius(b: jax.Array) -> jax.Array:
    """Population form ‖BᵀB/n − I‖²_F = (1/n²)Σ_{ij}(B_iᵀB_j)² − (2/n)Σ_i‖B_i‖² + d, ``b (n, d)``."""
    n, d = b.shape
    c = b @ b.T
    return (c**2).sum() / n**2 - 2.0 * jnp.diagonal(c).sum() / n + d


def aux_q_loss(fz: jax.Array, target_fz: jax.Array, b_next: jax.Array, z: jax.Array,
               discount: jax.Array, lam: float = 0.0, ridge: float = 1e-6) -> jax.Array:
    """Auxiliary Q loss (spec §2.6): ``fz (K, n)`` = F_k(s,a,z)ᵀz, ``target_fz (K, n)`` at (s', a'),
    ``b_next (n, d)``, ``z (n, d)``. Implicit reward r̂ = B(s')ᵀ Σ_B⁻¹ z with Σ_B = BᵀB/n + ridge·I."""
    n, d = b_next.shape
    cov = b_next.T @ b_next / n + ridge * jnp.eye(d)
    r_hat = jnp.sum(b_next * jnp.linalg.solve(cov, z.T).T, -1)
    y = jax.lax.stop_gradient(r_hat + discount * pessimism(target_fz, lam))
    return 0.5 * jnp.sum(jnp.mean((fz - y) ** 2, -1))


def gradient_penalty(logit_fn: Callable[[jax.Array], jax.Array], x_pos: jax.Array, x_neg: jax.Array,
                     u: jax.Array) -> jax.Array:
    """WGAN-GP term mean (‖∇_x ℓ(x̂)‖₂ − 1)², x̂ = u·x_pos + (1 − u)·x_neg, rows paired by index.

    ``logit_fn (n, k) -> (n,)`` acts row-wise; ``x_pos, x_neg (n, k)``; ``u (n,)`` in [0, 1]."""
    x_hat = u[:, None] * x_pos + (1.0 - u[:, None]) * x_neg
    grads = jax.grad(lambda x: logit_fn(x).sum())(x_hat)
    return jnp.mean((jnp.linalg.norm(grads, axis=-1) - 1.0) ** 2)


def discriminator_loss(logit_pos: jax.Array, logit_neg: jax.Array, gp: jax.Array | float = 0.0,
                       gp_coef: float = 10.0) -> jax.Array:
    """mean softplus(−ℓ(pos)) + mean softplus(ℓ(neg)) + gp_coef · gp (BCE on logits)."""
    return jnp.mean(jax.nn.softplus(-logit_pos)) + jnp.mean(jax.nn.softplus(logit_neg)) + gp_coef * gp


def discriminator_reward(logit: jax.Array) -> jax.Array:
    """r_D = log D − log(1 − D) with D = σ(ℓ) clamped to [1e-7, 1 − 1e-7] (≈ ℓ, bounded by ±16.1)."""
    d = jnp.clip(jax.nn.sigmoid(logit), LOGIT_BOUND_EPS, 1.0 - LOGIT_BOUND_EPS)
    return jnp.log(d) - jnp.log1p(-d)


def critic_loss(q: jax.Array, reward: jax.Array, target_q: jax.Array, discount: jax.Array,
                lam: float = 0.5) -> jax.Array:
    """TD loss of Q_D: ``q, target_q (K, n)``, y = r + γ·agg_lam(Q̄); (K/2)·MSE = ½ Σ_k mean_i."""
    y = jax.lax.stop_gradient(reward + discount * pessimism(target_q, lam))
    return 0.5 * jnp.sum(jnp.mean((q - y) ** 2, -1))


def actor_loss(q_fb: jax.Array, q_reg: jax.Array | None = None, alpha: float = 0.0, scale_reg: bool = True,
               lam: float = 0.5) -> jax.Array:
    """−mean agg(Q_fb) − α·w·mean agg(Q_reg), w = stopgrad(mean|agg(Q_fb)|) if ``scale_reg`` else 1.

    ``q_fb, q_reg (K, n)``; ``q_reg=None`` (plain FB) drops the second term."""
    qf = pessimism(q_fb, lam)
    loss = -qf.mean()
    if q_reg is not None:
        w = jax.lax.stop_gradient(jnp.abs(qf).mean()) if scale_reg else 1.0
        loss = loss - alpha * w * pessimism(q_reg, lam).mean()
    return loss


def noisy_action(mu: jax.Array, key: jax.Array, std: float, clip: float) -> jax.Array:
    """clamp(μ + clip(ε, −c, c), −1, 1) with ε ~ N(0, std²); the clamp is straight-through, so the
    gradient w.r.t. μ is the identity."""
    eps = jnp.clip(std * jax.random.normal(key, mu.shape), -clip, clip)
    a = mu + eps
    return a + jax.lax.stop_gradient(jnp.clip(a, -1.0, 1.0) - a)
