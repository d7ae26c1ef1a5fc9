"""Each graded check passes an independently written right answer on 20 seeds and fails >= 3
plausible wrong answers (and the blank) on every one of them."""

import numpy as np
import pytest

from rizzlib.core.grading import CheckFailed
from rizzlib.kinetix import checks

SEEDS = range(20)


def blank(*args, **kwargs):
    raise NotImplementedError("write me")


# ------------------------------------------------------------------ reward rule
def reward_right(roles, a, b, touching):
    r = np.append(roles, 0)  # index N (padding) has no role
    prod = r[np.minimum(a, len(roles))] * r[np.minimum(b, len(roles))]
    if np.any(touching & (prod == 3)):
        return -1.0
    return 1.0 if np.any(touching & (prod == 2)) else 0.0


def reward_goal_wins(roles, a, b, touching):
    r = np.append(roles, 0)
    prod = r[np.minimum(a, len(roles))] * r[np.minimum(b, len(roles))]
    if np.any(touching & (prod == 2)):
        return 1.0
    return -1.0 if np.any(touching & (prod == 3)) else 0.0


def reward_ignores_touching(roles, a, b, touching):
    return reward_right(roles, a, b, np.ones_like(touching))


def reward_any_red(roles, a, b, touching):
    r = np.append(roles, 0)
    ra, rb = r[np.minimum(a, len(roles))], r[np.minimum(b, len(roles))]
    if np.any(touching & ((ra == 3) | (rb == 3))):
        return -1.0
    return 1.0 if np.any(touching & (ra * rb == 2)) else 0.0


# ------------------------------------------------------------------ circle features
def feat_right(pos, vel, im, ii, dens, w, role, rot, fr, rest, rad, g):
    return np.concatenate([pos, vel, [im, ii, dens, np.tanh(w / 10)], np.eye(4)[role], [np.sin(rot), np.cos(rot)],
                           [fr, rest, rad, 1.0, g / 10]])


def feat_no_tanh(pos, vel, im, ii, dens, w, role, rot, fr, rest, rad, g):
    out = feat_right(pos, vel, im, ii, dens, w, role, rot, fr, rest, rad, g)
    out[7] = w / 10
    return out


def feat_cos_sin(pos, vel, im, ii, dens, w, role, rot, fr, rest, rad, g):
    out = feat_right(pos, vel, im, ii, dens, w, role, rot, fr, rest, rad, g)
    out[12], out[13] = out[13], out[12]
    return out


def feat_no_gravity_scale(pos, vel, im, ii, dens, w, role, rot, fr, rest, rad, g):
    out = feat_right(pos, vel, im, ii, dens, w, role, rot, fr, rest, rad, g)
    out[18] = g
    return out


# ------------------------------------------------------------------ SFL top k
def topk_right(p, k):
    p = np.asarray(p, np.float64)
    return np.argsort(-(p * (1 - p) + 0.001 * p), kind="stable")[:k]


def topk_most_solved(p, k):
    return np.argsort(-np.asarray(p), kind="stable")[:k]


def topk_no_tiebreak(p, k):
    p = np.asarray(p, np.float64)
    return np.argsort(-(p * (1 - p)), kind="stable")[:k]


def topk_worst_first(p, k):
    p = np.asarray(p, np.float64)
    return np.argsort(p * (1 - p) + 0.001 * p, kind="stable")[-k:]


# ------------------------------------------------------------------ masked mean
def mean_right(x, m):
    w = np.asarray(m, np.float64)[:, None]
    return (np.asarray(x) * w).sum(0) / max(w.sum(), 1.0)


def mean_all_rows(x, m):
    return np.asarray(x).mean(0)


def mean_over_n(x, m):
    return (np.asarray(x) * np.asarray(m)[:, None]).sum(0) / len(m)


def mean_nan_when_empty(x, m):
    return np.asarray(x)[np.asarray(m)].mean(0) if np.any(m) else np.full(np.shape(x)[1], np.nan)


# ------------------------------------------------------------------ GAE
def gae_right(r, v, d, last, gamma, lam):
    """TD errors first, then their (gamma lambda)-discounted sums within each episode."""
    r, v = np.asarray(r, np.float64), np.asarray(v, np.float64)
    keep = 1.0 - np.asarray(d, np.float64)
    next_v = np.concatenate([v[1:], np.asarray(last, np.float64)[None]])
    delta = r + gamma * next_v * keep - v
    adv = np.zeros_like(delta)
    acc = np.zeros(delta.shape[1])
    for t in range(len(delta) - 1, -1, -1):
        acc = delta[t] + gamma * lam * keep[t] * acc
        adv[t] = acc
    return adv, adv + v


def gae_no_done(r, v, d, last, gamma, lam):
    return gae_right(r, v, np.zeros_like(d), last, gamma, lam)


def gae_lambda_one(r, v, d, last, gamma, lam):
    return gae_right(r, v, d, last, gamma, 1.0)


def gae_returns_are_adv(r, v, d, last, gamma, lam):
    adv, _ = gae_right(r, v, d, last, gamma, lam)
    return adv, adv


# ------------------------------------------------------------------ PPO actor loss
def ppo_right(new, old, adv, eps):
    ratio = np.exp(np.asarray(new) - np.asarray(old))
    a = (adv - np.mean(adv)) / (np.std(adv) + 1e-8)
    return -np.mean(np.minimum(ratio * a, np.clip(ratio, 1 - eps, 1 + eps) * a))


def ppo_no_clip(new, old, adv, eps):
    return ppo_right(new, old, adv, 1e9)


def ppo_max(new, old, adv, eps):
    ratio = np.exp(np.asarray(new) - np.asarray(old))
    a = (adv - np.mean(adv)) / (np.std(adv) + 1e-8)
    return -np.mean(np.maximum(ratio * a, np.clip(ratio, 1 - eps, 1 + eps) * a))


def ppo_unnormalised(new, old, adv, eps):
    ratio = np.exp(np.asarray(new) - np.asarray(old))
    return -np.mean(np.minimum(ratio * adv, np.clip(ratio, 1 - eps, 1 + eps) * adv))


CASES = {
    "check_reward_rule": (reward_right, [reward_goal_wins, reward_ignores_touching, reward_any_red]),
    "check_circle_features": (feat_right, [feat_no_tanh, feat_cos_sin, feat_no_gravity_scale]),
    "check_sfl_top_k": (topk_right, [topk_most_solved, topk_no_tiebreak, topk_worst_first]),
    "check_masked_mean": (mean_right, [mean_all_rows, mean_over_n, mean_nan_when_empty]),
    "check_gae": (gae_right, [gae_no_done, gae_lambda_one, gae_returns_are_adv]),
    "check_ppo_actor_loss": (ppo_right, [ppo_no_clip, ppo_max, ppo_unnormalised]),
}


@pytest.mark.parametrize("check", sorted(CASES))
def test_right_answer_passes_every_seed(check, capsys):
    right, _ = CASES[check]
    for s in SEEDS:
        getattr(checks, check)(right, seed=s)
    assert "matches the reference" in capsys.readouterr().out


@pytest.mark.parametrize("check", sorted(CASES))
def test_wrong_answers_fail_every_seed(check):
    _, wrongs = CASES[check]
    fn = getattr(checks, check)
    for wrong in wrongs:
        for s in SEEDS:
            with pytest.raises(CheckFailed):
                fn(wrong, seed=s)
    with pytest.raises(NotImplementedError):
        fn(blank, seed=0)
    with pytest.raises(CheckFailed):
        fn(lambda *a: 0.0, seed=0)


