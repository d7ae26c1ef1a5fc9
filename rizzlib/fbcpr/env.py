"""The four-room point-mass ("PointMaze-CPR", spec §5.1): pure-JAX dynamics with exact wall stops.

Arena ``[-1, 1]²`` split into four rooms by a cross of zero-thickness walls on ``x = 0`` and
``y = 0``; each of the four wall arms has one doorway of width ``DOOR_WIDTH`` centred at 0.5 from
the middle. Rooms are numbered 1..4 counter-clockwise from the bottom-left:
1 = (-, -), 2 = (+, -), 3 = (+, +), 4 = (-, +). Room 3 is the far room from room 1.

State / observation ``(x, y, vx, vy)`` (4,), action ``a ∈ [-1, 1]²`` (a force).
One step: ``v ← 0.9 v + 0.1 a v_max`` then the position moves by ``dt · v`` first along x, then
along y (axis-aligned walls make each leg exact). A leg that would cross a solid part of a wall
(or leave the arena) stops ``WALL_EPS`` before it and its velocity component is zeroed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

OBS_DIM = 4
ACTION_DIM = 2
DT = 0.1
V_MAX = 1.0
DAMPING = 0.9
DOOR_WIDTH = 0.2
DOOR_CENTRE = 0.5  # distance of each doorway's centre from the arena centre along its wall arm
WALL_EPS = 1e-4  # how far before a wall a blocked leg stops
ROOM_CENTRES = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]], dtype=np.float32)


def in_door(coord: jax.Array) -> jax.Array:
    """True where a point at ``coord`` along a wall arm lies in that arm's doorway (edges included)."""
    return jnp.abs(jnp.abs(coord) - DOOR_CENTRE) <= DOOR_WIDTH / 2


def room_of(pos: jax.Array) -> jax.Array:
    """Room number 1..4 of positions ``pos`` (..., 2); the side of ``x = 0`` is ``x >= 0``."""
    east = pos[..., 0] >= 0
    north = pos[..., 1] >= 0
    return jnp.where(north, jnp.where(east, 3, 4), jnp.where(east, 2, 1)).astype(jnp.int32)


def _move_leg(p: jax.Array, dp: jax.Array, other: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Move one coordinate ``p`` by ``dp`` across the wall at 0 (open where ``other`` is in a door)
    and inside the outer walls at ±1. Returns ``(new_p, blocked)``."""
    new = p + dp
    crosses = (p >= 0) != (new >= 0)
    blocked_mid = crosses & ~in_door(other)
    new = jnp.where(blocked_mid, jnp.where(p >= 0, WALL_EPS, -WALL_EPS), new)
    out = jnp.abs(new) > 1.0
    new = jnp.where(out, jnp.sign(new) * 1.0, new)
    return new, blocked_mid | out


def step(state: jax.Array, action: jax.Array) -> jax.Array:
    """One control step of one point mass: ``state (4,)``, ``action (2,)`` in [-1, 1] -> ``state (4,)``.

    Actions outside [-1, 1] are a caller error; inside jit they are clipped by the policy, here they
    are used as given (``check_action`` validates at the Python boundary).
    """
    v = DAMPING * state[2:] + (1.0 - DAMPING) * V_MAX * action
    x, blocked_x = _move_leg(state[0], DT * v[0], state[1])
    y, blocked_y = _move_leg(state[1], DT * v[1], x)
    vx = jnp.where(blocked_x, 0.0, v[0])
    vy = jnp.where(blocked_y, 0.0, v[1])
    return jnp.stack([x, y, vx, vy])


step_batch = jax.vmap(step)
"""``step`` over a leading batch of environments: ``(N, 4), (N, 2) -> (N, 4)``."""


def check_state(name: str, state) -> np.ndarray:
    """Validate a batch of states ``(N, 4)`` or one state ``(4,)``: finite, positions in the arena."""
    from rizzlib.core.validate import check_finite

    a = np.asarray(state)
    if a.ndim not in (1, 2) or a.shape[-1] != OBS_DIM:
        raise ValueError(f"{name} must have shape (4,) or (N, 4) (x, y, vx, vy); got {a.shape}")
    check_finite(name, a)
    if np.abs(a[..., :2]).max(initial=0.0) > 1.0:
        raise ValueError(f"{name}: positions must lie in the arena [-1, 1]²; got max |pos| {np.abs(a[..., :2]).max()}")
    return a


def check_action(name: str, action) -> np.ndarray:
    """Validate actions ``(..., 2)`` with entries in [-1, 1]; nothing is clipped."""
    from rizzlib.core.validate import check_finite

    a = np.asarray(action)
    if a.ndim < 1 or a.shape[-1] != ACTION_DIM:
        raise ValueError(f"{name} must have last dimension 2 (a force in x and y); got shape {a.shape}")
    check_finite(name, a)
    if np.abs(a).max(initial=0.0) > 1.0:
        raise ValueError(f"{name} entries must be in [-1, 1]; got max |a| = {np.abs(a).max()}")
    return a


def rollout(state0: jax.Array, actions: jax.Array) -> jax.Array:
    """States visited from ``state0 (N, 4)`` under ``actions (T, N, 2)``: ``(T + 1, N, 4)``."""

    def body(s, a):
        s2 = step_batch(s, a)
        return s2, s2

    _, traj = jax.lax.scan(body, state0, actions)
    return jnp.concatenate([state0[None], traj], axis=0)
