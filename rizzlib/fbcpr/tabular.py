"""Successor measures on a small grid world: the closed form, and F, B tables fit by the FB loss.

For a fixed policy Π (``(S, S·A)``, row s holds π(·|s) in the columns of s's actions) and
transitions P (``(S·A, S)``), the successor measure counted from the next state is
M = P (I − γ Π P)⁻¹ (``(S·A, S)``). FB represents its density with respect to the replay state
distribution ρ = diag(D): F Bᵀ = M D⁻¹. :func:`fit_fb` fits free tables F ``(S·A, d)`` and
B ``(S, d)`` (a linear layer on one-hot inputs) with the library's batch loss on sampled
transitions, off-diagonal next states serving as samples of ρ, and Polyak target tables.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rizzlib.fbcpr import losses

MOVES = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]])  # E, N, W, S as (dx, dy)


def gridworld(size: int = 5, slip: float = 0.1, walls=()) -> tuple[np.ndarray, np.ndarray]:
    """A ``size × size`` grid, 4 actions (E, N, W, S); a move succeeds with prob ``1 − slip`` and
    otherwise leaves the agent in place; moves into the border or a ``walls`` cell ((x, y) pairs)
    stay. Returns ``(P (S·A, S), free (S,) bool)``, state index = x · size + y (wall cells have no
    reachable mass but keep their rows so shapes stay square)."""
    from rizzlib.core.validate import check_int_range, check_range

    check_int_range("size", size, 2)
    check_range("slip", slip, 0.0, 1.0, high_inclusive=False)
    blocked = {tuple(w) for w in walls}
    n_s = size * size
    p = np.zeros((n_s * 4, n_s))
    for x in range(size):
        for y in range(size):
            s = x * size + y
            for a, (dx, dy) in enumerate(MOVES):
                nx, ny = x + dx, y + dy
                ok = 0 <= nx < size and 0 <= ny < size and (nx, ny) not in blocked
                s2 = nx * size + ny if ok else s
                p[s * 4 + a, s2] += 1.0 - slip
                p[s * 4 + a, s] += slip
    free = np.array([(s // size, s % size) not in blocked for s in range(n_s)])
    return p, free


def policy_matrix(pi: np.ndarray) -> np.ndarray:
    """Π ``(S, S·A)`` from per-state action probabilities ``pi (S, A)``."""
    n_s, n_a = pi.shape
    big = np.zeros((n_s, n_s * n_a))
    for s in range(n_s):
        big[s, s * n_a:(s + 1) * n_a] = pi[s]
    return big


def successor_measure(p: np.ndarray, big_pi: np.ndarray, gamma: float) -> np.ndarray:
    """M = P (I − γ Π P)⁻¹: ``(S·A, S)``, discounted visits from the next state on."""
    n_s = p.shape[1]
    return p @ np.linalg.inv(np.eye(n_s) - gamma * big_pi @ p)


def fit_fb(p: np.ndarray, big_pi: np.ndarray, mu: np.ndarray, gamma: float, d: int, steps: int = 20_000,
           batch: int = 512, lr: float = 3e-3, tau: float = 0.05, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fit tables F ``(S·A, d)`` and B ``(S, d)`` with :func:`losses.fb_td_loss` on ``batch``
    transitions per step, (s, a) drawn from ``mu (S·A,)`` and s' from P; the target averages the
    target F over a' ~ Π(s'). Returns ``(F, B)`` as numpy arrays."""
    n_sa, n_s = p.shape
    pij = jnp.asarray(big_pi, jnp.float32)
    logp = jnp.log(jnp.asarray(p, jnp.float32) + 1e-30)
    logmu = jnp.log(jnp.asarray(mu, jnp.float32) + 1e-30)
    kf, kb, kr = jax.random.split(jax.random.key(seed), 3)
    params = {"f": 0.1 * jax.random.normal(kf, (n_sa, d)), "b": 0.1 * jax.random.normal(kb, (n_s, d))}
    tx = optax.adam(optax.cosine_decay_schedule(lr, steps, alpha=0.05))

    def loss(prm, target, key):
        k1, k2 = jax.random.split(key)
        sa = jax.random.categorical(k1, logmu, shape=(batch,))
        s_next = jax.random.categorical(k2, logp[sa])
        m = (prm["f"][sa] @ prm["b"][s_next].T)[None]
        t = (pij @ target["f"])[s_next] @ target["b"][s_next].T
        return losses.fb_td_loss(m, t, jnp.full((batch,), gamma))

    def step(carry, key):
        prm, target, opt = carry
        upd, opt = tx.update(jax.grad(loss)(prm, target, key), opt)
        prm = optax.apply_updates(prm, upd)
        target = jax.tree.map(lambda t, o: (1 - tau) * t + tau * o, target, prm)
        return (prm, target, opt), None

    run = jax.jit(lambda c, ks: jax.lax.scan(step, c, ks))
    (params, _, _), _ = run((params, params, tx.init(params)), jax.random.split(kr, steps))
    return np.asarray(params["f"], np.float64), np.asarray(params["b"], np.float64)
