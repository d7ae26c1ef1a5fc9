"""Slow, obviously-correct twins used by tests and graded checks (plain Python loops over numpy)."""

from __future__ import annotations

import numpy as np


def contact_reward(roles, body_a, body_b, touching):
    """Loop version of :func:`rizzlib.kinetix.reward.contact_reward`: (reward, goal, death)."""
    roles = np.asarray(roles)
    n = len(roles)
    goal = death = False
    for a, b, t in zip(np.asarray(body_a), np.asarray(body_b), np.asarray(touching)):
        if not t or a >= n or b >= n:
            continue
        kinds = {int(roles[a]), int(roles[b])}
        if kinds == {1, 2}:
            goal = True
        if kinds == {1, 3}:
            death = True
    reward = -1.0 if death else (1.0 if goal else 0.0)
    return reward, goal and not death, death


def green_blue_distance(roles, positions):
    """Sum of |x_i - x_j| over unordered green-blue pairs."""
    roles, positions = np.asarray(roles), np.asarray(positions, np.float64)
    total = 0.0
    for i in range(len(roles)):
        for j in range(i + 1, len(roles)):
            if {int(roles[i]), int(roles[j])} == {1, 2}:
                total += float(np.linalg.norm(positions[i] - positions[j]))
    return total


def combine_substeps(rewards, dones):
    """First done substep's reward, else the sum; returns (reward, done)."""
    for r, d in zip(rewards, dones):
        if d:
            return float(r), True
    return float(np.sum(rewards)), False


def gae(rewards, values, dones, last_value, gamma, lam):
    """Generalised advantage estimation by a backwards loop.

    Args:
        rewards, values, dones: (T, B); dones[t] = the episode ended after step t.
        last_value: (B,) value of the state after the last step.

    Returns:
        (advantages, returns), each (T, B).
    """
    rewards, values, dones = (np.asarray(x, np.float64) for x in (rewards, values, dones))
    t_len = rewards.shape[0]
    adv = np.zeros_like(rewards)
    next_adv = np.zeros(rewards.shape[1:])
    next_value = np.asarray(last_value, np.float64)
    for t in reversed(range(t_len)):
        nonterminal = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_value * nonterminal - values[t]
        next_adv = delta + gamma * lam * nonterminal * next_adv
        adv[t] = next_adv
        next_value = values[t]
    return adv, adv + values


def learnability(success_rate):
    """SFL score p (1 - p) + 0.001 p, elementwise."""
    p = np.asarray(success_rate, np.float64)
    return p * (1.0 - p) + 0.001 * p


def masked_mean(x, mask):
    """Mean over rows of x (N, D) where mask (N,) is true; zeros when none is."""
    x, mask = np.asarray(x, np.float64), np.asarray(mask, bool)
    if not mask.any():
        return np.zeros(x.shape[-1])
    return x[mask].mean(axis=0)


def circle_feature_row(position, velocity, inverse_mass, inverse_inertia, density, angular_velocity, role,
                       rotation, friction, restitution, radius, gravity_y):
    """One circle's 19 entity features, written out one by one (spec 3.3)."""
    one_hot = [0.0] * 4
    one_hot[int(role)] = 1.0
    row = [float(position[0]), float(position[1]), float(velocity[0]), float(velocity[1]), float(inverse_mass),
           float(inverse_inertia), float(density), float(np.tanh(angular_velocity / 10.0)), *one_hot,
           float(np.sin(rotation)), float(np.cos(rotation)), float(friction), float(restitution), float(radius),
           1.0, float(gravity_y) / 10.0]
    return np.asarray(row)


def sfl_top_k(success_rates, k):
    """Indices of the k most learnable levels, best first; ties keep the lower index first."""
    scores = learnability(success_rates)
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return np.asarray(order[:k])


def clipped_actor_loss(new_log_prob, old_log_prob, advantages, clip_eps):
    """PPO's clipped surrogate, negated, with advantages normalised (mean 0, std 1 + 1e-8)."""
    new_log_prob, old_log_prob, advantages = (np.asarray(x, np.float64) for x in (new_log_prob, old_log_prob,
                                                                                  advantages))
    a = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    total = 0.0
    for lp, olp, adv in zip(new_log_prob, old_log_prob, a):
        ratio = np.exp(lp - olp)
        total += min(ratio * adv, min(max(ratio, 1 - clip_eps), 1 + clip_eps) * adv)
    return -total / len(a)
