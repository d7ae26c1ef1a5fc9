"""2D vector helpers that stay finite (and have finite gradients) in masked lanes."""

from __future__ import annotations

import jax.numpy as jnp

TINY = 1e-12


def rotation_matrix(angle: jnp.ndarray) -> jnp.ndarray:
    """(..., 2, 2) counter-clockwise rotation by ``angle`` (rad)."""
    c, s = jnp.cos(angle), jnp.sin(angle)
    return jnp.stack([jnp.stack([c, -s], -1), jnp.stack([s, c], -1)], -2)


def rotate(v: jnp.ndarray, angle: jnp.ndarray) -> jnp.ndarray:
    """Rotate vectors ``v`` (..., 2) by ``angle`` (...) counter-clockwise."""
    c, s = jnp.cos(angle), jnp.sin(angle)
    return jnp.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1]], -1)


def cross(a: jnp.ndarray, b: jnp.ndarray) -> jnp.ndarray:
    """Scalar 2D cross product a_x b_y - a_y b_x of (..., 2) vectors."""
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def cross_sv(s: jnp.ndarray, v: jnp.ndarray) -> jnp.ndarray:
    """Scalar times vector cross product s x v = (-s v_y, s v_x): the velocity omega x r."""
    return jnp.stack([-s * v[..., 1], s * v[..., 0]], -1)


def dot(a: jnp.ndarray, b: jnp.ndarray) -> jnp.ndarray:
    """Dot product over the last axis."""
    return jnp.sum(a * b, axis=-1)


def right_perp(v: jnp.ndarray) -> jnp.ndarray:
    """(v_y, -v_x): v rotated by -90 degrees (the contact tangent, as in Box2D)."""
    return jnp.stack([v[..., 1], -v[..., 0]], -1)


def safe_norm(v: jnp.ndarray) -> jnp.ndarray:
    """|v| over the last axis with a finite gradient at v = 0."""
    sq = jnp.sum(v * v, axis=-1)
    ok = sq > TINY
    return jnp.where(ok, jnp.sqrt(jnp.where(ok, sq, 1.0)), 0.0)


def safe_normalize(v: jnp.ndarray, fallback=(1.0, 0.0)) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(unit vector, length); returns ``fallback`` as the direction where |v| is ~0."""
    length = safe_norm(v)
    ok = length > 1e-6
    unit = v / jnp.where(ok, length, 1.0)[..., None]
    return jnp.where(ok[..., None], unit, jnp.asarray(fallback, v.dtype)), length


def safe_inverse(x: jnp.ndarray) -> jnp.ndarray:
    """1/x, and 0 where x is 0 (masked or static lanes)."""
    ok = x != 0.0
    return jnp.where(ok, 1.0 / jnp.where(ok, x, 1.0), 0.0)
