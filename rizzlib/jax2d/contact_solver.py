"""Contact stages of the solver: prepare, warm start, solve one sweep, relax and restitution targets.

The constraint arrays have the schedule layout (R rounds, S slots, 2 points). A sweep is a
``lax.scan`` over the R rounds; within a round no body appears twice, so all S pairs update at
once with plain gathers and scatters, and the sweep equals a sequential Gauss-Seidel pass.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from rizzlib.jax2d.contacts import Bodies
from rizzlib.jax2d.impulses import clamp_friction, effective_mass_inverse, normal_impulse
from rizzlib.jax2d.math2d import cross, cross_sv, dot, right_perp, safe_inverse
from rizzlib.jax2d.types import Manifold, SimParams


class ContactConstraints(NamedTuple):
    """Per-point constants for one step, shaped (R, S, ...) (points axis of length 2 where noted)."""

    ia: jnp.ndarray  # (R, S) body A
    ib: jnp.ndarray  # (R, S) body B
    normal: jnp.ndarray  # (R, S, 2)
    r_a: jnp.ndarray  # (R, S, 2pt, 2) contact point minus centre of mass of A, m
    r_b: jnp.ndarray  # (R, S, 2pt, 2)
    normal_mass: jnp.ndarray  # (R, S, 2pt) kg
    tangent_mass: jnp.ndarray  # (R, S, 2pt) kg
    inv_mass_a: jnp.ndarray  # (R, S)
    inv_inertia_a: jnp.ndarray  # (R, S)
    inv_mass_b: jnp.ndarray  # (R, S)
    inv_inertia_b: jnp.ndarray  # (R, S)
    friction: jnp.ndarray  # (R, S) mixed coefficient
    restitution: jnp.ndarray  # (R, S) mixed coefficient
    separation: jnp.ndarray  # (R, S, 2pt) m
    active: jnp.ndarray  # (R, S, 2pt) bool
    velocity_before: jnp.ndarray  # (R, S, 2pt) normal velocity after gravity, before solving, m/s


def prepare_contacts(manifold: Manifold, bodies: Bodies, rounds: int) -> ContactConstraints:
    """Effective masses, lever arms, mixed material constants and pre-step normal velocities."""
    ia, ib = manifold.body_a, manifold.body_b
    xa, xb = bodies.position[ia], bodies.position[ib]
    r_a = manifold.point - xa[:, None, :]
    r_b = manifold.point - xb[:, None, :]
    n = manifold.normal[:, None, :]
    t = right_perp(n)
    ima, iia = bodies.inverse_mass[ia], bodies.inverse_inertia[ia]
    imb, iib = bodies.inverse_mass[ib], bodies.inverse_inertia[ib]
    e = lambda x: x[:, None]  # noqa: E731  (broadcast a per-pair value over the 2 points)
    k_n = effective_mass_inverse(e(ima), e(iia), r_a, e(imb), e(iib), r_b, n)
    k_t = effective_mass_inverse(e(ima), e(iia), r_a, e(imb), e(iib), r_b, t)
    fa, fb = bodies.friction[ia], bodies.friction[ib]
    cons = ContactConstraints(
        ia=ia,
        ib=ib,
        normal=manifold.normal,
        r_a=r_a,
        r_b=r_b,
        normal_mass=safe_inverse(k_n),
        tangent_mass=safe_inverse(k_t),
        inv_mass_a=ima,
        inv_inertia_a=iia,
        inv_mass_b=imb,
        inv_inertia_b=iib,
        friction=jnp.sqrt(jnp.maximum(fa * fb, 0.0)),
        restitution=jnp.maximum(bodies.restitution[ia], bodies.restitution[ib]),
        separation=manifold.separation,
        active=manifold.active,
        velocity_before=jnp.zeros_like(manifold.separation),  # filled in by step()
    )
    return jax.tree.map(lambda x: x.reshape(rounds, -1, *x.shape[1:]), cons)


def warm_start_contacts(cons: ContactConstraints, acc_n, acc_t, v, w):
    """Apply last step's accumulated impulses (all at once: order does not matter for a sum)."""
    flat = jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), cons)
    n = flat.normal[:, None, :]
    impulse = acc_n.reshape(-1, 2)[..., None] * n + acc_t.reshape(-1, 2)[..., None] * right_perp(n)
    impulse = jnp.where(flat.active[..., None], impulse, 0.0)  # (M, 2pt, 2)
    p_sum = impulse.sum(1)
    ang_a = cross(flat.r_a, impulse).sum(1)
    ang_b = cross(flat.r_b, impulse).sum(1)
    v = v.at[flat.ia].add(-flat.inv_mass_a[:, None] * p_sum).at[flat.ib].add(flat.inv_mass_b[:, None] * p_sum)
    w = w.at[flat.ia].add(-flat.inv_inertia_a * ang_a).at[flat.ib].add(flat.inv_inertia_b * ang_b)
    return v, w


def normal_velocities(cons: ContactConstraints, v, w):
    """(R, S, 2pt) current relative normal velocity of every point, m/s."""
    va = v[cons.ia][..., None, :] + cross_sv(w[cons.ia][..., None], cons.r_a)
    vb = v[cons.ib][..., None, :] + cross_sv(w[cons.ib][..., None], cons.r_b)
    return dot(vb - va, cons.normal[..., None, :])


def solve_target(cons: ContactConstraints, params: SimParams):
    """Target normal velocity while solving with position bias (Baumgarte push-out, speculative)."""
    s = cons.separation
    push = jnp.minimum(params.baumgarte / params.dt * jnp.maximum(-s - params.slop, 0.0), params.max_push_velocity)
    return jnp.where(s > 0.0, -s / params.dt, push)


def relax_target(cons: ContactConstraints, v, w, params: SimParams):
    """Target for the relax stage: no push-out, but a gap that remains after the position update
    (linearised: s + dt v_n) may still be closed."""
    s_now = cons.separation + params.dt * normal_velocities(cons, v, w)
    return jnp.where(s_now > 0.0, -s_now / params.dt, 0.0)


def _solve_round(friction: bool):
    def body(carry, xs):
        v, w = carry
        c, target, mask, acc_n, acc_t = xs
        va, wa, vb, wb = v[c.ia], w[c.ia], v[c.ib], w[c.ib]
        ima, iia = c.inv_mass_a[:, None], c.inv_inertia_a
        imb, iib = c.inv_mass_b[:, None], c.inv_inertia_b

        def apply(impulse, ra, rb, va, wa, vb, wb):
            return (
                va - ima * impulse,
                wa - iia * cross(ra, impulse),
                vb + imb * impulse,
                wb + iib * cross(rb, impulse),
            )

        def rel_vel(k, va, wa, vb, wb):
            return vb + cross_sv(wb, c.r_b[:, k]) - va - cross_sv(wa, c.r_a[:, k])

        new_n = []
        for k in range(2):
            vn = dot(rel_vel(k, va, wa, vb, wb), c.normal)
            acc, d = normal_impulse(vn, c.normal_mass[:, k], target[:, k], acc_n[:, k])
            d = jnp.where(mask[:, k], d, 0.0)
            new_n.append(jnp.where(mask[:, k], acc, acc_n[:, k]))
            va, wa, vb, wb = apply(d[:, None] * c.normal, c.r_a[:, k], c.r_b[:, k], va, wa, vb, wb)
        acc_n = jnp.stack(new_n, -1)
        if friction:
            tangent = right_perp(c.normal)
            new_t = []
            for k in range(2):
                vt = dot(rel_vel(k, va, wa, vb, wb), tangent)
                acc, d = clamp_friction(acc_t[:, k], -c.tangent_mass[:, k] * vt, c.friction, acc_n[:, k])
                d = jnp.where(mask[:, k], d, 0.0)
                new_t.append(jnp.where(mask[:, k], acc, acc_t[:, k]))
                va, wa, vb, wb = apply(d[:, None] * tangent, c.r_a[:, k], c.r_b[:, k], va, wa, vb, wb)
            acc_t = jnp.stack(new_t, -1)
        v = v.at[c.ia].set(va).at[c.ib].set(vb)
        w = w.at[c.ia].set(wa).at[c.ib].set(wb)
        return (v, w), (acc_n, acc_t)

    return body


def solve_contacts(cons: ContactConstraints, target, mask, acc_n, acc_t, v, w, friction: bool = True):
    """One Gauss-Seidel sweep over all contact points, round by round.

    Args:
        target: (R, S, 2) target normal velocities, m/s.  mask: (R, S, 2) points to solve.
        acc_n, acc_t: (R, S, 2) accumulated impulses, N s.  v: (N+1, 2), w: (N+1,) velocities.
        friction: also solve the tangent constraints (off for the restitution pass).

    Returns:
        (v, w, acc_n, acc_t).
    """
    (v, w), (acc_n, acc_t) = jax.lax.scan(
        _solve_round(friction), (v, w), (cons, target, mask, acc_n, acc_t)
    )
    return v, w, acc_n, acc_t
