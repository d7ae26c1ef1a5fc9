"""The reward rule of Kinetix (spec section 3.2), one physics substep at a time.

Over every touching shape pair, a role product of 2 (green x blue) is a goal and 3 (green x red) a
death. A substep's reward is -1 if any death, else +1 if any goal, else 0; it is done when the
reward is not 0. The shaping distance is the sum of centre-to-centre distances over all green-blue
pairs of active shapes.
"""

from __future__ import annotations

import jax.numpy as jnp

from rizzlib.jax2d import SimState
from rizzlib.kinetix.types import Role

#: contact points with a gap up to this many metres count as touching (the engine's default slop)
TOUCH_TOLERANCE = 0.005


def body_positions(sim: SimState) -> jnp.ndarray:
    """(P + C, 2) centres of mass in the engine's global order."""
    return jnp.concatenate([sim.polygon.position, sim.circle.position], axis=0)


def contact_reward(roles: jnp.ndarray, body_a: jnp.ndarray, body_b: jnp.ndarray, touching: jnp.ndarray):
    """(reward, goal, death) of one substep from a contact list.

    Args:
        roles: (N,) int roles of the N shapes (0 for inactive ones).
        body_a, body_b: (M,) int indices of each pair (an index >= N is a padding pair).
        touching: (M,) bool: the pair overlaps.

    Returns:
        reward () float in {-1, 0, 1}, goal () bool, death () bool (death wins over goal).
    """
    padded = jnp.concatenate([roles, jnp.zeros((1,), roles.dtype)])
    n = roles.shape[0]
    ra = padded[jnp.minimum(body_a, n)]
    rb = padded[jnp.minimum(body_b, n)]
    product = ra * rb
    goal = jnp.any(touching & (product == Role.GREEN * Role.BLUE))
    death = jnp.any(touching & (product == Role.GREEN * Role.RED))
    reward = jnp.where(death, -1.0, jnp.where(goal, 1.0, 0.0))
    return reward, goal & ~death, death


def green_blue_distance(roles: jnp.ndarray, positions: jnp.ndarray) -> jnp.ndarray:
    """() sum over unordered green-blue pairs of |x_i - x_j| (m); 0 when there is no such pair."""
    product = roles[:, None] * roles[None, :]
    pair = (product == Role.GREEN * Role.BLUE) & jnp.triu(jnp.ones(product.shape, bool), 1)
    diff = positions[:, None, :] - positions[None, :, :]
    dist = jnp.sqrt(jnp.sum(diff * diff, -1) + 1e-12)
    return jnp.sum(jnp.where(pair, dist, 0.0))


def touching_pairs(contacts, tolerance: float = TOUCH_TOLERANCE) -> jnp.ndarray:
    """(M,) bool: the pair has a contact point with a gap of at most ``tolerance`` m.

    Our solver stops resting contacts at a gap of exactly 0 (speculative contacts), where Jax2D's
    Baumgarte bias leaves a small overlap; a small tolerance makes "touching" mean the same in both.
    """
    return jnp.any(contacts.active & (contacts.separation <= tolerance), axis=-1)


def substep_reward(sim: SimState, roles: jnp.ndarray):
    """(reward, goal, death, distance) after one engine step, from ``sim.contacts``."""
    c = sim.contacts
    reward, goal, death = contact_reward(roles, c.body_a, c.body_b, touching_pairs(c))
    return reward, goal, death, green_blue_distance(roles, body_positions(sim))


def combine_substeps(rewards: jnp.ndarray, dones: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """Frame-skip rule: the reward of the first done substep if any, else the sum.

    Args:
        rewards, dones: (K,) per substep.

    Returns:
        reward (), done (), index () of the substep whose info counts (first done, else the last).
    """
    any_done = jnp.any(dones)
    first = jnp.argmax(dones)
    reward = jnp.where(any_done, rewards[first], jnp.sum(rewards))
    index = jnp.where(any_done, first, rewards.shape[0] - 1)
    return reward, any_done, index
