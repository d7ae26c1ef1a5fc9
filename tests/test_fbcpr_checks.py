"""Each graded check passes an independently written right answer on 20 seeds and fails >= 3
plausible wrong answers (and the blank) on every one of 20 seeds."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rizzlib.core.grading import CheckFailed
from rizzlib.fbcpr import checks

SEEDS = range(20)


def blank(*args, **kwargs):
    raise NotImplementedError("write me")


def _proj(x):
    x = np.asarray(x, np.float64)
    return np.sqrt(x.shape[-1]) * x / np.linalg.norm(x, axis=-1, keepdims=True)


# ---------------------------------------------------------------- FB loss


def fb_right(m, target, discount):
    m, t, g = (np.asarray(a, np.float64) for a in (m, target, discount))
    n = m.shape[-1]
    off = ~np.eye(n, dtype=bool)
    resid = (m - g[:, None] * t) ** 2
    return sum(0.5 * resid[k][off].mean() - np.diag(m[k]).mean() for k in range(m.shape[0]))


def fb_wrong_mean_all(m, target, discount):  # diagonal pairs counted as negatives
    m, t, g = (np.asarray(a, np.float64) for a in (m, target, discount))
    return sum(0.5 * ((m[k] - g[:, None] * t) ** 2).mean() - np.diag(m[k]).mean() for k in range(m.shape[0]))


def fb_wrong_no_discount(m, target, discount):
    return fb_right(m, target, np.ones_like(np.asarray(discount)))


def fb_wrong_no_half(m, target, discount):
    m, t, g = (np.asarray(a, np.float64) for a in (m, target, discount))
    n = m.shape[-1]
    off = ~np.eye(n, dtype=bool)
    return sum(((m[k] - g[:, None] * t) ** 2)[off].mean() - np.diag(m[k]).mean() for k in range(m.shape[0]))


def fb_wrong_mean_heads(m, target, discount):  # averages the heads instead of summing
    return fb_right(m, target, discount) / np.asarray(m).shape[0]


# ---------------------------------------------------------------- ortho


def ortho_right(b):
    b = np.asarray(b, np.float64)
    c = b @ b.T
    n = len(b)
    return 0.5 * (np.sum(c**2) - np.sum(np.diag(c) ** 2)) / (n * (n - 1)) - np.trace(c) / n


def ortho_wrong_frobenius(b):
    b = np.asarray(b, np.float64)
    n, d = b.shape
    return np.sum((b.T @ b / n - np.eye(d)) ** 2)


def ortho_wrong_all_pairs(b):
    b = np.asarray(b, np.float64)
    c = b @ b.T
    return 0.5 * np.mean(c**2) - np.trace(c) / len(b)


def ortho_wrong_no_half(b):
    b = np.asarray(b, np.float64)
    c = b @ b.T
    n = len(b)
    return (np.sum(c**2) - np.sum(np.diag(c) ** 2)) / (n * (n - 1)) - np.trace(c) / n


# ---------------------------------------------------------------- reward to z


def reward_right(b_next, rewards):
    return _proj(np.einsum("n,nd->d", np.asarray(rewards, np.float64), np.asarray(b_next, np.float64)))


def reward_wrong_unprojected(b_next, rewards):
    return np.asarray(rewards, np.float64) @ np.asarray(b_next, np.float64) / len(rewards)


def reward_wrong_unit_norm(b_next, rewards):
    z = np.asarray(rewards, np.float64) @ np.asarray(b_next, np.float64)
    return z / np.linalg.norm(z)


def reward_wrong_ignores_reward(b_next, rewards):
    return _proj(np.asarray(b_next, np.float64).mean(0))


def reward_wrong_softmax(b_next, rewards):
    r = np.asarray(rewards, np.float64)
    w = np.exp(10 * (r - r.max()))
    return _proj((w / w.sum() * r) @ np.asarray(b_next, np.float64))


# ---------------------------------------------------------------- discriminator


def _bce(logit_fn, x_pos, x_neg):
    lp, ln = np.asarray(logit_fn(jnp.asarray(x_pos)), np.float64), np.asarray(logit_fn(jnp.asarray(x_neg)), np.float64)
    return np.mean(np.log1p(np.exp(-lp))) + np.mean(np.log1p(np.exp(ln)))


def _grad_norms(logit_fn, x):
    g = jax.vmap(jax.grad(lambda row: logit_fn(row[None])[0]))(jnp.asarray(x))
    return np.linalg.norm(np.asarray(g, np.float64), axis=-1)


def disc_right(logit_fn, x_pos, x_neg, u, gp_coef):
    """Written by hand for the check's logit tanh(x W1) w2 + c: ∇ℓ(x) = W1 (w2 ⊙ (1 − tanh²(x W1)))."""
    w1, w2, c = np.asarray(logit_fn.w1, np.float64), np.asarray(logit_fn.w2, np.float64), logit_fn.c
    xp, xn, u = (np.asarray(a, np.float64) for a in (x_pos, x_neg, u))
    lp, ln = np.tanh(xp @ w1) @ w2 + c, np.tanh(xn @ w1) @ w2 + c
    x_hat = u[:, None] * xp + (1 - u[:, None]) * xn
    grad = (w2 * (1 - np.tanh(x_hat @ w1) ** 2)) @ w1.T
    gp = np.mean((np.linalg.norm(grad, axis=-1) - 1) ** 2)
    return np.mean(np.logaddexp(0, -lp)) + np.mean(np.logaddexp(0, ln)) + gp_coef * gp


def disc_wrong_squared_norm(logit_fn, x_pos, x_neg, u, gp_coef):
    u = np.asarray(u)[:, None]
    x_hat = (u * np.asarray(x_pos) + (1 - u) * np.asarray(x_neg)).astype(np.float32)
    return _bce(logit_fn, x_pos, x_neg) + gp_coef * np.mean((_grad_norms(logit_fn, x_hat) ** 2 - 1) ** 2)


def disc_wrong_penalty_at_positives(logit_fn, x_pos, x_neg, u, gp_coef):
    return _bce(logit_fn, x_pos, x_neg) + gp_coef * np.mean((_grad_norms(logit_fn, x_pos) - 1) ** 2)


def disc_wrong_swapped_labels(logit_fn, x_pos, x_neg, u, gp_coef):
    return disc_right(logit_fn, x_neg, x_pos, 1 - np.asarray(u), gp_coef)


def disc_wrong_fixed_coef(logit_fn, x_pos, x_neg, u, gp_coef):
    return disc_right(logit_fn, x_pos, x_neg, u, 10.0)


# ---------------------------------------------------------------- tracking


def track_right(b_targets, seq_len):
    b = np.asarray(b_targets, np.float64)
    return np.stack([_proj(b[t:t + seq_len].mean(0)) for t in range(len(b))])


def track_wrong_past_window(b_targets, seq_len):
    b = np.asarray(b_targets, np.float64)
    return np.stack([_proj(b[max(0, t - seq_len + 1):t + 1].mean(0)) for t in range(len(b))])


def track_wrong_fixed_length_tail(b_targets, seq_len):
    b = np.asarray(b_targets, np.float64)
    t_len = len(b)
    return np.stack([_proj(b[max(0, min(t, t_len - seq_len)):max(0, min(t, t_len - seq_len)) + seq_len].mean(0))
                     for t in range(t_len)])


def track_wrong_unprojected(b_targets, seq_len):
    b = np.asarray(b_targets, np.float64)
    return np.stack([b[t:t + seq_len].mean(0) for t in range(len(b))])


def track_wrong_window_plus_one(b_targets, seq_len):
    return track_right(b_targets, seq_len + 1)


CASES = {
    "check_fb_loss": (fb_right, [fb_wrong_mean_all, fb_wrong_no_discount, fb_wrong_no_half, fb_wrong_mean_heads]),
    "check_ortho_loss": (ortho_right, [ortho_wrong_frobenius, ortho_wrong_all_pairs, ortho_wrong_no_half]),
    "check_reward_to_z": (reward_right, [reward_wrong_unprojected, reward_wrong_unit_norm,
                                         reward_wrong_ignores_reward, reward_wrong_softmax]),
    "check_discriminator_loss": (disc_right, [disc_wrong_squared_norm, disc_wrong_penalty_at_positives,
                                              disc_wrong_swapped_labels, disc_wrong_fixed_coef]),
    "check_tracking_zs": (track_right, [track_wrong_past_window, track_wrong_fixed_length_tail,
                                        track_wrong_unprojected, track_wrong_window_plus_one]),
}


@pytest.mark.parametrize("check_name", sorted(CASES))
def test_right_answer_passes_on_20_seeds(check_name, capsys):
    right, _ = CASES[check_name]
    for seed in SEEDS:
        getattr(checks, check_name)(right, seed=seed)
    assert "matches the reference" in capsys.readouterr().out


@pytest.mark.parametrize("check_name,wrong", [(c, w) for c, (_, ws) in sorted(CASES.items()) for w in ws],
                         ids=lambda x: x if isinstance(x, str) else x.__name__)
def test_wrong_answer_fails_on_every_seed(check_name, wrong):
    for seed in SEEDS:
        with pytest.raises(CheckFailed):
            getattr(checks, check_name)(wrong, seed=seed)


@pytest.mark.parametrize("check_name", sorted(CASES))
def test_blank_and_constant_fail(check_name):
    check = getattr(checks, check_name)
    with pytest.raises(NotImplementedError):
        check(blank, seed=0)
    with pytest.raises(CheckFailed):
        check(lambda *a, **k: 0.0, seed=0)
