"""FB and CPR losses against closed forms, loops and the tabular successor measure (spec §6)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from rizzlib.fbcpr import infer, losses, reference
from rizzlib.fbcpr.agent import encode_segments, mix_z, sample_sphere
from rizzlib.fbcpr.networks import project

jax.config.update("jax_enable_x64", False)


def _hadamard(n):
    h = np.array([[1.0]])
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h


# ------------------------------------------------------------------ orthonormality (oracle 1)


@pytest.mark.parametrize("n,d", [(16, 4), (64, 8), (100, 10)])
def test_frobenius_ortho_zero_for_orthonormal_b(n, d):
    q, _ = np.linalg.qr(np.random.default_rng(n).normal(size=(n, d)))
    b = np.sqrt(n) * q
    assert float(losses.ortho_frobenius(jnp.asarray(b, jnp.float32))) == pytest.approx(0.0, abs=1e-4)


def test_frobenius_ortho_positive_otherwise():
    rng = np.random.default_rng(0)
    for _ in range(20):
        b = rng.normal(size=(32, 4)) * rng.uniform(0.5, 2.0)
        assert float(losses.ortho_frobenius(jnp.asarray(b, jnp.float32))) > 1e-3


@pytest.mark.parametrize("n,d", [(64, 8), (32, 4), (128, 16)])
def test_batch_ortho_estimator_on_hadamard_columns(n, d):
    b = jnp.asarray(_hadamard(n)[:, :d], jnp.float32)  # orthogonal columns and every ‖B_i‖² = d
    expected = 0.5 * d * (n - d) / (n - 1) - d
    assert float(losses.ortho_loss(b)) == pytest.approx(expected, rel=1e-5)
    if (n, d) == (64, 8):
        assert expected == pytest.approx(-4.4444, abs=1e-4)


def test_ortho_estimator_matches_loop():
    rng = np.random.default_rng(1)
    for _ in range(5):
        b = rng.normal(size=(12, 5))
        assert float(losses.ortho_loss(jnp.asarray(b))) == pytest.approx(reference.ortho_loss(b), rel=1e-5)


def test_gradient_descent_on_frobenius_form_reaches_identity():
    b = jax.random.normal(jax.random.key(0), (64, 6))
    grad = jax.jit(jax.grad(losses.ortho_frobenius))
    for _ in range(2000):
        b = b - 0.5 * grad(b)
    np.testing.assert_allclose(np.asarray(b.T @ b / 64), np.eye(6), atol=1e-3)


# ------------------------------------------------------------------ pessimism, projection (7, 9)


def test_pessimism_two_heads_is_min_and_zero_is_mean():
    p = jax.random.normal(jax.random.key(0), (2, 50))
    np.testing.assert_allclose(losses.pessimism(p, 0.5), p.min(0), atol=1e-6)
    np.testing.assert_allclose(losses.pessimism(p, 0.0), p.mean(0), atol=1e-6)
    p3 = jax.random.normal(jax.random.key(1), (3, 7, 4))
    np.testing.assert_allclose(losses.pessimism(p3, 0.7), reference.pessimism(p3, 0.7), atol=1e-5)


def test_projection_and_sphere_samples():
    x = jax.random.normal(jax.random.key(0), (100, 16)) * 5
    np.testing.assert_allclose(jnp.linalg.norm(project(x), axis=-1), 4.0, rtol=1e-5)
    z = np.asarray(sample_sphere(jax.random.key(1), 50_000, 8))
    assert np.abs(z.mean(0)).max() < 0.05
    np.testing.assert_allclose(z.T @ z / len(z), np.eye(8), atol=0.05)
    assert not np.array_equal(z[:10], np.asarray(sample_sphere(jax.random.key(2), 50_000, 8))[:10])


# ------------------------------------------------------------------ FB TD loss (8)


def test_fb_loss_matches_loop_and_logged_variant_has_same_gradient():
    rng = np.random.default_rng(0)
    m, t = rng.normal(size=(2, 9, 9)), rng.normal(size=(9, 9))
    disc = 0.99 * (rng.uniform(size=9) > 0.2)
    got = float(losses.fb_td_loss(jnp.asarray(m), jnp.asarray(t), jnp.asarray(disc)))
    assert got == pytest.approx(reference.fb_td_loss(m, t, disc), rel=1e-5)
    g1 = jax.grad(lambda x: losses.fb_td_loss(x, jnp.asarray(t), jnp.asarray(disc)))(jnp.asarray(m))
    g2 = jax.grad(lambda x: losses.fb_td_loss(x, jnp.asarray(t), jnp.asarray(disc), logged=True))(jnp.asarray(m))
    np.testing.assert_allclose(g1, g2, atol=1e-6)
    logged = float(losses.fb_td_loss(jnp.asarray(m), jnp.asarray(t), jnp.asarray(disc), logged=True))
    assert logged - got == pytest.approx(2 * np.mean(disc * np.diag(t)), rel=1e-5)
    g_t = jax.grad(lambda x: losses.fb_td_loss(jnp.asarray(m), x, jnp.asarray(disc)))(jnp.asarray(t))
    assert float(jnp.abs(g_t).max()) == 0.0  # the target is stop-gradient


def _random_mdp(seed, n_s=6, n_a=2):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(n_s) * 0.5, size=n_s * n_a)  # (S·A, S): row (s, a) = s * n_a + a
    pi = rng.dirichlet(np.ones(n_a), size=n_s)  # (S, A)
    big_pi = np.zeros((n_s, n_s * n_a))
    for s in range(n_s):
        big_pi[s, s * n_a:(s + 1) * n_a] = pi[s]
    mu = np.full(n_s * n_a, 1.0 / (n_s * n_a))  # uniform (s, a) sampling
    rho = mu @ p  # next-state marginal
    return p, big_pi, mu, rho


def _successor(p, big_pi, gamma):
    n_s = p.shape[1]
    return p @ np.linalg.inv(np.eye(n_s) - gamma * big_pi @ p)  # M = P (I − γ Π P)⁻¹, from t + 1


def _fit_tabular(loss_of, n_sa, n_s, d, steps, lr, tau, seed=0):
    key = jax.random.key(seed)
    kf, kb = jax.random.split(key)
    params = {"f": 0.1 * jax.random.normal(kf, (n_sa, d)), "b": 0.1 * jax.random.normal(kb, (n_s, d))}
    tx = optax.adam(optax.cosine_decay_schedule(lr, steps, alpha=0.05))

    def step(carry, k):
        params, target, opt = carry
        g = jax.grad(loss_of)(params, target, k)
        upd, opt = tx.update(g, opt)
        params = optax.apply_updates(params, upd)
        target = jax.tree.map(lambda t, o: (1 - tau) * t + tau * o, target, params)
        return (params, target, opt), None

    (params, _, _), _ = jax.jit(lambda c, ks: jax.lax.scan(step, c, ks))(
        (params, params, tx.init(params)), jax.random.split(jax.random.key(seed + 1), steps))
    return np.asarray(params["f"] @ params["b"].T, np.float64)


def test_tabular_fb_exact_expected_loss_reaches_successor_measure():
    """Oracle 2: F Bᵀ D = P (I − γ Π P)⁻¹ with the exact expected FB loss and Polyak target tables."""
    gamma = 0.9
    p, big_pi, mu, rho = _random_mdp(0)
    n_sa, n_s = p.shape
    pj, pij, muj, rhoj = (jnp.asarray(a, jnp.float32) for a in (p, big_pi, mu, rho))

    def loss(params, target, _):
        m = params["f"] @ params["b"].T  # (SA, S)
        t = gamma * pj @ pij @ jax.lax.stop_gradient(target["f"] @ target["b"].T)  # E_{s', a'} F̄(s',a')ᵀB̄(s+)
        off = 0.5 * jnp.sum(muj[:, None] * rhoj[None] * (m - t) ** 2)
        pos = jnp.sum(muj[:, None] * pj * m)
        return off - pos

    fb = _fit_tabular(loss, n_sa, n_s, n_s, steps=20_000, lr=3e-3, tau=0.05)
    m_true = _successor(p, big_pi, gamma)
    assert np.abs(fb * rho[None] - m_true).max() < 1e-2
    r = np.random.default_rng(3).uniform(size=n_s)
    np.testing.assert_allclose(fb @ (rho * r), m_true @ r, atol=3e-2)  # Q_r = F Bᵀ D r
    # the naive (I − γP^π)⁻¹ (from t = 0) is a different object: far from what FB learns
    naive = np.linalg.inv(np.eye(n_s) - gamma * big_pi @ p)
    assert np.abs(fb * rho[None] - np.repeat(naive, 2, axis=0)).max() > 0.1


@pytest.mark.slow
def test_tabular_fb_sampled_batches_with_library_loss():
    """Same fixed point reached by the library's batch loss on sampled (s, a, s') with off-diagonal
    negatives (spec oracle 2, sampled variant, tolerance 5e-2)."""
    gamma, n = 0.9, 512
    p, big_pi, mu, rho = _random_mdp(0)
    n_sa, n_s = p.shape
    pij = jnp.asarray(big_pi, jnp.float32)
    logp = jnp.log(jnp.asarray(p, jnp.float32) + 1e-30)

    def loss(params, target, key):
        k1, k2 = jax.random.split(key)
        sa = jax.random.randint(k1, (n,), 0, n_sa)
        s_next = jax.random.categorical(k2, logp[sa])
        m = (params["f"][sa] @ params["b"][s_next].T)[None]  # (1, n, n)
        fbar = pij @ target["f"]  # E_{a' ~ π(s')} F̄(s', a'): (S, d)
        t = fbar[s_next] @ target["b"][s_next].T
        return losses.fb_td_loss(m, t, jnp.full((n,), gamma))

    fb = _fit_tabular(loss, n_sa, n_s, n_s, steps=20_000, lr=3e-3, tau=0.05)
    assert np.abs(fb * rho[None] - _successor(p, big_pi, gamma)).max() < 5e-2


def test_tabular_fb_gamma_zero_is_transition_density():
    p, big_pi, mu, rho = _random_mdp(1)
    n_sa, n_s = p.shape
    pj, muj, rhoj = (jnp.asarray(a, jnp.float32) for a in (p, mu, rho))

    def loss(params, target, _):
        m = params["f"] @ params["b"].T
        return 0.5 * jnp.sum(muj[:, None] * rhoj[None] * m**2) - jnp.sum(muj[:, None] * pj * m)

    fb = _fit_tabular(loss, n_sa, n_s, n_s, steps=8000, lr=3e-3, tau=1.0)
    np.testing.assert_allclose(fb, p / rho[None], atol=1e-2)


# ------------------------------------------------------------------ aux Q, critic, actor


def test_aux_q_loss_formula():
    rng = np.random.default_rng(0)
    n, d = 40, 5
    fz, tfz = rng.normal(size=(2, n)), rng.normal(size=(2, n))
    b, z = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    disc = np.full(n, 0.9)
    cov = b.T @ b / n + 1e-6 * np.eye(d)
    r_hat = np.array([b[i] @ np.linalg.solve(cov, z[i]) for i in range(n)])
    y = r_hat + disc * tfz.mean(0)
    expected = 0.5 * sum(np.mean((fz[k] - y) ** 2) for k in range(2))
    got = float(losses.aux_q_loss(*(jnp.asarray(a) for a in (fz, tfz, b, z, disc)), lam=0.0))
    assert got == pytest.approx(expected, rel=1e-4)


def test_critic_and_actor_losses():
    rng = np.random.default_rng(0)
    q, tq, r = rng.normal(size=(2, 30)), rng.normal(size=(2, 30)), rng.normal(size=30)
    disc = np.full(30, 0.99)
    y = r + disc * tq.min(0)
    expected = 0.5 * ((q - y) ** 2).mean(1).sum()
    assert float(losses.critic_loss(*(jnp.asarray(a) for a in (q, r, tq, disc)))) == pytest.approx(expected, rel=1e-5)
    qf, qr = jnp.asarray(rng.normal(size=(2, 30))), jnp.asarray(rng.normal(size=(2, 30)))
    w = float(jnp.abs(qf.min(0)).mean())
    expected = -float(qf.min(0).mean()) - 0.3 * w * float(qr.min(0).mean())
    assert float(losses.actor_loss(qf, qr, 0.3, True)) == pytest.approx(expected, rel=1e-5)
    assert float(losses.actor_loss(qf, qr, 0.3, False)) == pytest.approx(
        -float(qf.min(0).mean()) - 0.3 * float(qr.min(0).mean()), rel=1e-5)
    assert float(losses.actor_loss(qf, None)) == pytest.approx(-float(qf.min(0).mean()), rel=1e-6)
    # scale_reg weight carries no gradient: d/dqf equals the plain FB actor's gradient
    g1 = jax.grad(lambda x: losses.actor_loss(x, qr, 0.3, True))(qf)
    g0 = jax.grad(lambda x: losses.actor_loss(x, None))(qf)
    np.testing.assert_allclose(g1, g0, atol=1e-6)


def test_noisy_action_clamps_with_straight_through_gradient():
    mu = jnp.array([[0.95, -0.95], [0.0, 0.5]])
    a = losses.noisy_action(mu, jax.random.key(0), 10.0, 0.3)
    assert float(jnp.abs(a).max()) <= 1.0
    assert float(jnp.abs(a - mu).max()) <= 0.3 + 1e-6
    g = jax.grad(lambda m: losses.noisy_action(m, jax.random.key(0), 10.0, 0.3).sum())(mu)
    np.testing.assert_allclose(g, 1.0)


# ------------------------------------------------------------------ discriminator (5, 6)


def _adam_fit(loss, params, steps=3000, lr=0.05):
    tx = optax.adam(lr)

    @jax.jit
    def run(params):
        def body(c, _):
            p, o = c
            upd, o = tx.update(jax.grad(loss)(p), o)
            return (optax.apply_updates(p, upd), o), None

        return jax.lax.scan(body, (params, tx.init(params)), None, length=steps)[0][0]

    return np.asarray(run(params))


def _fit_logistic(pos, neg):
    return _adam_fit(lambda p: losses.discriminator_loss(p[0] * pos + p[1], p[0] * neg + p[1]), jnp.zeros(2))


def test_discriminator_reaches_density_ratio():
    """σ(ℓ*) = p/(p+q) for p = N(1, 1), q = N(−1, 1): ℓ*(x) = 2x."""
    rng = np.random.default_rng(0)
    pos, neg = jnp.asarray(rng.normal(1, 1, 20_000)), jnp.asarray(rng.normal(-1, 1, 20_000))
    w, b = _fit_logistic(pos, neg)
    assert w == pytest.approx(2.0, abs=0.1) and b == pytest.approx(0.0, abs=0.1)
    xs = np.linspace(-2, 2, 9)
    p, q = np.exp(-(xs - 1) ** 2 / 2), np.exp(-(xs + 1) ** 2 / 2)
    np.testing.assert_allclose(1 / (1 + np.exp(-(w * xs + b))), p / (p + q), atol=0.03)


def test_discriminator_unequal_priors_shift_bias_by_log_k():
    rng = np.random.default_rng(1)
    k = 3
    pos = jnp.asarray(rng.normal(1, 1, 30_000))
    neg = jnp.asarray(rng.normal(-1, 1, 10_000))
    # mean over each side weighs the classes equally; repeat positives' weight via loss with k:1 sampling
    pos_all = jnp.concatenate([pos, neg])
    labels = jnp.concatenate([jnp.ones(30_000), jnp.zeros(10_000)])

    def loss(p):
        logit = p[0] * pos_all + p[1]
        return jnp.mean(labels * jax.nn.softplus(-logit) + (1 - labels) * jax.nn.softplus(logit))

    w, b = _adam_fit(loss, jnp.zeros(2))
    assert w == pytest.approx(2.0, abs=0.1) and b == pytest.approx(np.log(k), abs=0.1)


def test_discriminator_loss_matches_reference():
    rng = np.random.default_rng(2)
    lp, ln = rng.normal(size=50) * 5, rng.normal(size=40) * 5
    assert float(losses.discriminator_loss(jnp.asarray(lp), jnp.asarray(ln))) == pytest.approx(
        reference.discriminator_loss(lp, ln), rel=1e-5)


def test_gradient_penalty_of_linear_logit():
    rng = np.random.default_rng(0)
    for _ in range(10):
        w = rng.normal(size=6) * rng.uniform(0.1, 3)
        xp, xn, u = rng.normal(size=(20, 6)), rng.normal(size=(20, 6)), rng.uniform(size=20)
        gp = losses.gradient_penalty(lambda x, w=w: x @ jnp.asarray(w) + 0.3, jnp.asarray(xp), jnp.asarray(xn),
                                     jnp.asarray(u))
        assert float(gp) == pytest.approx(reference.gradient_penalty_linear(w, xp, xn, u), rel=1e-4)
    w1 = rng.normal(size=6)
    w1 /= np.linalg.norm(w1)
    assert float(losses.gradient_penalty(lambda x: x @ jnp.asarray(w1), jnp.asarray(xp), jnp.asarray(xn),
                                         jnp.asarray(u))) == pytest.approx(0.0, abs=1e-10)
    # second-order autodiff: d/dw (‖w‖ − 1)² = 2(‖w‖ − 1) w / ‖w‖
    g = jax.grad(lambda ww: losses.gradient_penalty(lambda x: x @ ww, jnp.asarray(xp), jnp.asarray(xn),
                                                    jnp.asarray(u)))(jnp.asarray(w))
    nw = np.linalg.norm(w)
    np.testing.assert_allclose(g, 2 * (nw - 1) * w / nw, rtol=1e-4)


def test_gradient_penalty_nonlinear_matches_finite_differences():
    def logit(x):
        return jnp.tanh(x @ jnp.arange(1.0, 4.0)) * 2 + (x**2).sum(-1)

    def logit_np(x):
        return np.tanh(x @ np.arange(1.0, 4.0)) * 2 + (x**2).sum(-1)

    rng = np.random.default_rng(5)
    xp, xn, u = rng.normal(size=(8, 3)), rng.normal(size=(8, 3)), rng.uniform(size=8)
    xh = u[:, None] * xp + (1 - u[:, None]) * xn
    eps = 1e-4
    fd = np.stack([(logit_np(xh + eps * e) - logit_np(xh - eps * e)) / (2 * eps) for e in np.eye(3)], -1)
    expected = np.mean((np.linalg.norm(fd, axis=-1) - 1) ** 2)
    got = float(losses.gradient_penalty(logit, *(jnp.asarray(a, jnp.float32) for a in (xp, xn, u))))
    assert got == pytest.approx(expected, rel=1e-4)


def test_discriminator_reward_is_clamped_logit():
    logit = jnp.array([-50.0, -3.0, 0.0, 2.5, 50.0])
    r = np.asarray(losses.discriminator_reward(logit))
    np.testing.assert_allclose(r[1:4], [-3.0, 0.0, 2.5], atol=1e-4)
    bound = np.log(1 - 1e-7) - np.log(1e-7)
    # float32 rounds 1 − 1e-7 to 1 − 1.19e-7, so the upper bound is ~15.94 instead of 16.12
    assert r[0] == pytest.approx(-bound, rel=1e-3) and r[4] == pytest.approx(bound, rel=2e-2)


# ------------------------------------------------------------------ inference (3, 4), encoder (10)


def test_reward_to_z_is_linear_and_projection_invariances():
    for seed in range(10):  # z(a r1 + b r2) = a z(r1) + b z(r2) for random sizes, rewards and coefficients
        rng = np.random.default_rng(100 + seed)
        n, d = int(rng.integers(1, 300)), int(rng.integers(2, 20))
        bb = jnp.asarray(project(rng.normal(size=(n, d))))
        q1, q2 = jnp.asarray(rng.uniform(size=n)), jnp.asarray(rng.normal(size=n))
        c1, c2 = rng.normal(size=2) * 3
        np.testing.assert_allclose(infer.reward_to_z_raw(bb, c1 * q1 + c2 * q2),
                                   c1 * infer.reward_to_z_raw(bb, q1) + c2 * infer.reward_to_z_raw(bb, q2),
                                   rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(infer.reward_to_z_raw(bb, q1), np.asarray(q1) @ np.asarray(bb), rtol=1e-4,
                                   atol=1e-3)
    rng = np.random.default_rng(0)
    b = jnp.asarray(project(rng.normal(size=(200, 8))))
    r1 = jnp.asarray(rng.uniform(size=200))
    z = infer.reward_to_z(b, r1)
    np.testing.assert_allclose(infer.reward_to_z(b, 7.0 * r1), z, atol=1e-5)
    np.testing.assert_allclose(infer.reward_to_z(b, -3.0 * r1), -z, atol=1e-5)
    np.testing.assert_allclose(z, reference.reward_to_z(b, r1), atol=1e-5)
    zw = infer.reward_to_z(b, r1, weighted=True)
    np.testing.assert_allclose(zw, reference.reward_to_z(b, r1, weighted=True), atol=1e-4)
    assert float(jnp.abs(infer.reward_to_z(b, 3.0 * r1, weighted=True) - zw).max()) > 1e-3
    with pytest.raises(ValueError, match="zero"):
        infer.reward_to_z(b, jnp.zeros(200))
    with pytest.raises(ValueError, match="rewards"):
        infer.reward_to_z(b, jnp.zeros(10))


def test_goal_and_tracking_inference():
    rng = np.random.default_rng(0)
    b = jnp.asarray(rng.normal(size=(30, 6)))
    np.testing.assert_allclose(jnp.linalg.norm(infer.goal_to_z(b), axis=-1), np.sqrt(6), rtol=1e-5)
    np.testing.assert_allclose(infer.tracking_zs(b, 1), infer.goal_to_z(b), atol=1e-5)
    for L in (1, 3, 8, 40):
        zs = infer.tracking_zs(b, L)
        np.testing.assert_allclose(zs, reference.tracking_zs(b, L), atol=1e-5)
        np.testing.assert_allclose(zs[-1], infer.goal_to_z(b[-1]), atol=1e-5)
    g = jnp.tile(b[:1], (12, 1))
    np.testing.assert_allclose(infer.tracking_zs(g, 8), infer.goal_to_z(g), atol=1e-5)
    with pytest.raises(ValueError, match="seq_len"):
        infer.tracking_zs(b, 0)


def test_check_z_rejects_wrong_norm_and_shape():
    z = np.asarray(project(np.random.default_rng(0).normal(size=(4, 8))))
    infer.check_z("z", z, 8)
    with pytest.raises(ValueError, match="sphere"):
        infer.check_z("z", z * 0.5, 8)
    with pytest.raises(ValueError, match="z_dim=8"):
        infer.check_z("z", z[:, :4], 8)


def test_segment_encoder_and_z_mix():
    rng = np.random.default_rng(0)
    segs = jnp.asarray(rng.normal(size=(5, 9, 4)))
    w = jnp.asarray(rng.normal(size=(4, 6)))
    backward = lambda s: project(jnp.tanh(s @ w))  # noqa: E731
    states, z = encode_segments(backward, segs)
    assert states.shape == (40, 4) and z.shape == (40, 6)
    np.testing.assert_array_equal(states.reshape(5, 8, 4), segs[:, :-1])
    b_next = np.asarray(backward(segs[:, 1:].reshape(-1, 4))).reshape(5, 8, 6)
    np.testing.assert_allclose(z, reference.encode_segments(b_next, 8), atol=1e-5)
    # mixture shares: 0.2 goal / 0.6 expert / 0.2 uniform
    n, d = 20_000, 6
    goal = jnp.tile(project(jnp.ones((1, d))), (n, 1))
    expert = jnp.tile(project(-jnp.ones((1, d))), (n, 1))
    zm = np.asarray(mix_z(jax.random.key(0), goal, expert, 0.2, 0.6))
    is_goal = np.all(np.isclose(zm, goal[0]), -1).mean()
    is_expert = np.all(np.isclose(zm, expert[0]), -1).mean()
    assert abs(is_goal - 0.2) < 0.015 and abs(is_expert - 0.6) < 0.015
    np.testing.assert_allclose(np.linalg.norm(zm, axis=-1), np.sqrt(d), rtol=1e-5)
