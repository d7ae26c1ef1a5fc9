"""Collision detection for a whole scene: every candidate pair at once, in solver order.

Pairs of each kind (polygon-polygon, polygon-circle, circle-circle) are computed with one ``vmap``
per kind, then gathered into the round-robin order of :mod:`rizzlib.jax2d.pairs`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from rizzlib.jax2d.collide import FAR, collide_circles, collide_faces, collide_faces_circle, polygon_faces
from rizzlib.jax2d.math2d import cross_sv, dot, rotate
from rizzlib.jax2d.pairs import pair_schedule
from rizzlib.jax2d.types import CollisionMode, Manifold, SimParams, SimState, StaticConfig


class Bodies(NamedTuple):
    """All bodies (polygons then circles) plus one padding body at index N, as flat arrays.

    Inverse mass and inertia are zeroed for inactive bodies so no impulse ever moves them.
    """

    position: jnp.ndarray  # (N+1, 2)
    rotation: jnp.ndarray  # (N+1,)
    velocity: jnp.ndarray  # (N+1, 2)
    angular_velocity: jnp.ndarray  # (N+1,)
    inverse_mass: jnp.ndarray  # (N+1,)
    inverse_inertia: jnp.ndarray  # (N+1,)
    friction: jnp.ndarray  # (N+1,)
    restitution: jnp.ndarray  # (N+1,)
    collision_mode: jnp.ndarray  # (N+1,)
    active: jnp.ndarray  # (N+1,)


def stack_bodies(state: SimState) -> Bodies:
    """Concatenate ``state.polygon`` and ``state.circle`` and append the padding body."""
    p, c = state.polygon, state.circle

    def cat(name, pad):
        a, b = getattr(p, name), getattr(c, name)
        pad = jnp.full((1, *a.shape[1:]), pad, dtype=a.dtype)
        return jnp.concatenate([a, b, pad], axis=0)

    active = cat("active", False)
    return Bodies(
        position=cat("position", 0.0),
        rotation=cat("rotation", 0.0),
        velocity=cat("velocity", 0.0),
        angular_velocity=cat("angular_velocity", 0.0),
        inverse_mass=jnp.where(active, cat("inverse_mass", 0.0), 0.0),
        inverse_inertia=jnp.where(active, cat("inverse_inertia", 0.0), 0.0),
        friction=cat("friction", 0.0),
        restitution=cat("restitution", 0.0),
        collision_mode=cat("collision_mode", 0),
        active=active,
    )


def modes_collide(mode_a, mode_b):
    """Kinetix rule: EVERYTHING meets all; otherwise both must be at least NORMAL."""
    every = CollisionMode.EVERYTHING
    return (mode_a == every) | (mode_b == every) | ((mode_a > 0) & (mode_b > 0))


def world_vertices(state: SimState) -> jnp.ndarray:
    """(P, V, 2) polygon vertices in the world frame, m."""
    poly = state.polygon
    return poly.position[:, None, :] + rotate(poly.vertices, poly.rotation[:, None])


def empty_manifold(static: StaticConfig) -> Manifold:
    """All-inactive manifold with the schedule's pair indices (the initial warm-start state)."""
    sched = pair_schedule(static.num_polygons, static.num_circles)
    m = sched.body_a.size
    zeros2 = jnp.zeros((m, 2), jnp.float32)
    return Manifold(
        body_a=jnp.asarray(sched.body_a.reshape(-1)),
        body_b=jnp.asarray(sched.body_b.reshape(-1)),
        normal=zeros2,
        separation=jnp.full((m, 2), FAR, jnp.float32),
        point=jnp.zeros((m, 2, 2), jnp.float32),
        active=jnp.zeros((m, 2), bool),
        normal_impulse=zeros2,
        tangent_impulse=zeros2,
        feature=jnp.zeros((m,), jnp.int32),
    )


def _raw_contacts(state: SimState, static: StaticConfig):
    """Per-kind narrow phase, concatenated [pp, pc, cc, padding] and put into schedule order."""
    sched = pair_schedule(static.num_polygons, static.num_circles)
    p = static.num_polygons
    poly, circ = state.polygon, state.circle
    parts = []
    if len(sched.pp) or len(sched.pc):
        faces = jax.vmap(polygon_faces)(world_vertices(state), poly.n_vertices)  # once per polygon
        pick = lambda idx: jax.tree.map(lambda x: x[idx], faces)  # noqa: E731
    if len(sched.pp):
        parts.append(jax.vmap(collide_faces)(pick(sched.pp[:, 0]), pick(sched.pp[:, 1])))
    if len(sched.pc):
        a, b = sched.pc[:, 0], sched.pc[:, 1] - p
        parts.append(jax.vmap(collide_faces_circle)(pick(a), circ.position[b], circ.radius[b]))
    if len(sched.cc):
        a, b = sched.cc[:, 0] - p, sched.cc[:, 1] - p
        c = jax.vmap(collide_circles)(circ.position[a], circ.radius[a], circ.position[b], circ.radius[b])
        seps = jnp.stack([-c.penetration, jnp.full_like(c.penetration, FAR)], -1)
        parts.append((c.normal, seps, jnp.stack([c.point, c.point], 1), jnp.zeros_like(a)))
    pad = (
        jnp.zeros((1, 2)),
        jnp.full((1, 2), FAR),
        jnp.zeros((1, 2, 2)),
        jnp.zeros((1,), jnp.int32),
    )
    parts.append(pad)
    cat = [jnp.concatenate([jnp.asarray(x[k]).astype(pad[k].dtype) for x in parts], 0) for k in range(4)]
    order = jnp.asarray(sched.order)
    return [x[order] for x in cat]


def detect_contacts(state: SimState, bodies: Bodies, params: SimParams, static: StaticConfig) -> Manifold:
    """Manifolds for every candidate pair, with warm-start impulses carried over where the same
    contact feature persists from the previous step."""
    prev = state.contacts
    # the pair indices are the schedule's (constants: under vmap every gather by them uses one index
    # array for the whole batch), which is what ``state.contacts`` always holds
    sched = pair_schedule(static.num_polygons, static.num_circles)
    ia, ib = jnp.asarray(sched.body_a.reshape(-1)), jnp.asarray(sched.body_b.reshape(-1))
    normal, seps, points, feature = _raw_contacts(state, static)
    n = static.num_bodies
    matrix = jnp.pad(state.collision_matrix, ((0, 1), (0, 1)))
    static_a = (bodies.inverse_mass[ia] == 0.0) & (bodies.inverse_inertia[ia] == 0.0)
    static_b = (bodies.inverse_mass[ib] == 0.0) & (bodies.inverse_inertia[ib] == 0.0)
    pair_ok = (
        bodies.active[ia]
        & bodies.active[ib]
        & matrix[ia, ib]
        & modes_collide(bodies.collision_mode[ia], bodies.collision_mode[ib])
        & ~(static_a & static_b)
        & (ib < n)
    )
    # speculative margin grows with the approach speed, so fast bodies are caught a step early
    # instead of tunnelling in (the solver only acts on a gap that would close within the step)
    r_a = points - bodies.position[ia][:, None, :]
    r_b = points - bodies.position[ib][:, None, :]
    va = bodies.velocity[ia][:, None, :] + cross_sv(bodies.angular_velocity[ia][:, None], r_a)
    vb = bodies.velocity[ib][:, None, :] + cross_sv(bodies.angular_velocity[ib][:, None], r_b)
    approach = jnp.maximum(-dot(vb - va, normal[:, None, :]), 0.0)
    margin = params.speculative_distance + params.dt * approach
    active = pair_ok[:, None] & (seps < margin)
    # no garbage from inactive slots in the output
    seps = jnp.where(pair_ok[:, None], seps, FAR)
    points = jnp.where(active[..., None], points, 0.0)
    keep = active & prev.active & (prev.feature == feature)[:, None]
    return Manifold(
        body_a=ia,
        body_b=ib,
        normal=normal,
        separation=seps,
        point=points,
        active=active,
        normal_impulse=jnp.where(keep, prev.normal_impulse, 0.0),
        tangent_impulse=jnp.where(keep, prev.tangent_impulse, 0.0),
        feature=feature,
    )
