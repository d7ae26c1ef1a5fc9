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
