"""Joint stages of the solver (Box2D's revolute and weld joints, rigid, with Baumgarte bias).

Per joint and iteration, in order: motor (a velocity servo whose accumulated impulse is bounded by
the motor power), lower and upper angle limits, the fixed joint's angle lock, then the 2x2 point
constraint that keeps the two anchors together. Joints are visited one after another
(``lax.scan``): they may share bodies, so they cannot be batched like contact rounds.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from rizzlib.jax2d.contacts import Bodies
from rizzlib.jax2d.math2d import cross, cross_sv, rotate, safe_inverse
from rizzlib.jax2d.types import Joint, SimParams

#: up to this many joints the sequential joint loop is unrolled (saves loop overhead per sweep)
MAX_UNROLLED_JOINTS = 4


class JointConstraints(NamedTuple):
    """Per-joint constants for one step, each with leading axis J."""

    ia: jnp.ndarray
    ib: jnp.ndarray
    r_a: jnp.ndarray  # (J, 2) world-frame anchor offsets from the centres of mass, m
    r_b: jnp.ndarray
    inv_mass_a: jnp.ndarray
    inv_inertia_a: jnp.ndarray
    inv_mass_b: jnp.ndarray
    inv_inertia_b: jnp.ndarray
    point_mass: jnp.ndarray  # (J, 2, 2) inverse of the point-constraint matrix K, kg
    axial_mass: jnp.ndarray  # (J,) 1/(I_a^-1 + I_b^-1), kg m^2
    point_error: jnp.ndarray  # (J, 2) anchor_b - anchor_a, m
    angle_error: jnp.ndarray  # (J,) rotation_b - rotation_a - reference, rad
    active: jnp.ndarray
    fixed: jnp.ndarray
    motor: jnp.ndarray  # (J,) bool, motor enabled this step
    motor_target: jnp.ndarray  # (J,) target relative angular speed, rad/s
    motor_max: jnp.ndarray  # (J,) bound on the accumulated motor impulse, N m s
    limits: jnp.ndarray  # (J,) bool
    lower_error: jnp.ndarray  # (J,) angle - min_rotation, rad (>= 0 when inside)
    upper_error: jnp.ndarray  # (J,) max_rotation - angle, rad


def prepare_joints(joint: Joint, bodies: Bodies, motor_actions, params: SimParams) -> JointConstraints:
    """Lever arms, effective masses, errors and motor targets. ``motor_actions``: (J,) in [-1, 1]."""
    ia, ib = joint.a_index, joint.b_index
    r_a = rotate(joint.a_relative_pos, bodies.rotation[ia])
    r_b = rotate(joint.b_relative_pos, bodies.rotation[ib])
    active = joint.active & bodies.active[ia] & bodies.active[ib]
    ma = jnp.where(active, bodies.inverse_mass[ia], 0.0)
    mb = jnp.where(active, bodies.inverse_mass[ib], 0.0)
    ja = jnp.where(active, bodies.inverse_inertia[ia], 0.0)
    jb = jnp.where(active, bodies.inverse_inertia[ib], 0.0)
    k11 = ma + mb + ja * r_a[:, 1] ** 2 + jb * r_b[:, 1] ** 2
    k12 = -ja * r_a[:, 0] * r_a[:, 1] - jb * r_b[:, 0] * r_b[:, 1]
    k22 = ma + mb + ja * r_a[:, 0] ** 2 + jb * r_b[:, 0] ** 2
    inv_det = safe_inverse(k11 * k22 - k12 * k12)
    point_mass = inv_det[:, None, None] * jnp.stack(
        [jnp.stack([k22, -k12], -1), jnp.stack([-k12, k11], -1)], -2
    )
    axial_mass = safe_inverse(ja + jb)
    angle = bodies.rotation[ib] - bodies.rotation[ia] - joint.reference_angle
    action = jnp.clip(motor_actions, -1.0, 1.0)
    motor = active & joint.motor_on & ~joint.is_fixed_joint & (action != 0.0)
    return JointConstraints(
        ia=ia,
        ib=ib,
        r_a=r_a,
        r_b=r_b,
        inv_mass_a=ma,
        inv_inertia_a=ja,
        inv_mass_b=mb,
        inv_inertia_b=jb,
        point_mass=point_mass,
        axial_mass=axial_mass,
        point_error=(bodies.position[ib] + r_b) - (bodies.position[ia] + r_a),
        angle_error=angle,
        active=active,
        fixed=joint.is_fixed_joint & active,
        motor=motor,
        motor_target=joint.motor_speed * action * params.base_motor_speed,
        motor_max=jnp.where(motor, joint.motor_power * params.base_motor_power * params.dt * axial_mass, 0.0),
        limits=joint.motor_has_joint_limits & ~joint.is_fixed_joint & active,
        lower_error=angle - joint.min_rotation,
        upper_error=joint.max_rotation - angle,
    )


class JointImpulses(NamedTuple):
    linear: jnp.ndarray  # (J, 2)
    angular: jnp.ndarray  # (J,)
    motor: jnp.ndarray  # (J,)
    limit: jnp.ndarray  # (J, 2) lower, upper


def masked_impulses(joint: Joint, jc: JointConstraints) -> JointImpulses:
    """Last step's impulses, zeroed where the constraint is off this step."""
    return JointImpulses(
        linear=jnp.where(jc.active[:, None], joint.linear_impulse, 0.0),
        angular=jnp.where(jc.fixed, joint.angular_impulse, 0.0),
        motor=jnp.where(jc.motor, jnp.clip(joint.motor_impulse, -jc.motor_max, jc.motor_max), 0.0),
        limit=jnp.where(jc.limits[:, None], joint.limit_impulse, 0.0),
    )


def warm_start_joints(jc: JointConstraints, imp: JointImpulses, v, w):
    """Apply the accumulated joint impulses (summed, so order does not matter)."""
    axial = imp.angular + imp.motor + imp.limit[:, 0] - imp.limit[:, 1]
    p = imp.linear
    v = v.at[jc.ia].add(-jc.inv_mass_a[:, None] * p).at[jc.ib].add(jc.inv_mass_b[:, None] * p)
    w = w.at[jc.ia].add(-jc.inv_inertia_a * (cross(jc.r_a, p) + axial))
    w = w.at[jc.ib].add(jc.inv_inertia_b * (cross(jc.r_b, p) + axial))
    return v, w


def _solve_joint(params: SimParams, use_bias: bool):
    rate = params.joint_baumgarte / params.dt if use_bias else 0.0

    def body(carry, xs):
        v, w = carry
        c, imp = xs
        va, wa, vb, wb = v[c.ia], w[c.ia], v[c.ib], w[c.ib]

        # motor: drive w_b - w_a to the target, bounded accumulated impulse
        new_m = jnp.clip(imp.motor - c.axial_mass * (wb - wa - c.motor_target), -c.motor_max, c.motor_max)
        d = jnp.where(c.motor, new_m - imp.motor, 0.0)
        wa, wb = wa - c.inv_inertia_a * d, wb + c.inv_inertia_b * d
        motor = jnp.where(c.motor, new_m, imp.motor)

        # angle limits: speculative when inside (may approach the limit up to reaching it)
        limit = []
        for k, (err, sign) in enumerate(((c.lower_error, 1.0), (c.upper_error, -1.0))):
            bias = jnp.where(err > 0.0, err / params.dt, rate * err)
            cdot = sign * (wb - wa)
            new_l = jnp.maximum(imp.limit[k] - c.axial_mass * (cdot + bias), 0.0)
            d = jnp.where(c.limits, new_l - imp.limit[k], 0.0) * sign
            wa, wb = wa - c.inv_inertia_a * d, wb + c.inv_inertia_b * d
            limit.append(jnp.where(c.limits, new_l, imp.limit[k]))

        # fixed joint: lock the relative angle
        d = jnp.where(c.fixed, -c.axial_mass * (wb - wa + rate * c.angle_error), 0.0)
        wa, wb = wa - c.inv_inertia_a * d, wb + c.inv_inertia_b * d
        angular = imp.angular + d

        # point constraint: anchors move together
        cdot = vb + cross_sv(wb, c.r_b) - va - cross_sv(wa, c.r_a)
        p = -c.point_mass @ (cdot + rate * c.point_error)
        p = jnp.where(c.active, p, 0.0)
        va, wa = va - c.inv_mass_a * p, wa - c.inv_inertia_a * cross(c.r_a, p)
        vb, wb = vb + c.inv_mass_b * p, wb + c.inv_inertia_b * cross(c.r_b, p)

        v = v.at[c.ia].set(va).at[c.ib].set(vb)
        w = w.at[c.ia].set(wa).at[c.ib].set(wb)
        return (v, w), JointImpulses(imp.linear + p, angular, motor, jnp.stack(limit))

    return body


def solve_joints(jc: JointConstraints, imp: JointImpulses, v, w, params: SimParams, use_bias: bool):
    """One sequential sweep over the joints. Returns (v, w, impulses)."""
    unroll = jc.ia.shape[0] <= MAX_UNROLLED_JOINTS
    (v, w), imp = jax.lax.scan(_solve_joint(params, use_bias), (v, w), (jc, imp), unroll=unroll)
    return v, w, imp


def _correct_joint(joint: Joint, jc: JointConstraints):
    def body(carry, xs):
        pos, rot = carry
        j, c = xs
        pa, pb, ta, tb = pos[c.ia], pos[c.ib], rot[c.ia], rot[c.ib]
        on = c.active.astype(pos.dtype)
        # angle: weld lock, or a violated limit (Box2D v2's position stage, rigid and undamped)
        angle = tb - ta - j.reference_angle
        limit_err = jnp.where(angle < j.min_rotation, angle - j.min_rotation, 0.0) + jnp.where(
            angle > j.max_rotation, angle - j.max_rotation, 0.0
        )
        err = jnp.where(c.fixed, angle, jnp.where(c.limits, limit_err, 0.0))
        imp = -c.axial_mass * err * on
        ta, tb = ta - c.inv_inertia_a * imp, tb + c.inv_inertia_b * imp
        # point: move both anchors onto each other along the inverse effective mass
        ra, rb = rotate(j.a_relative_pos, ta), rotate(j.b_relative_pos, tb)
        k11 = c.inv_mass_a + c.inv_mass_b + c.inv_inertia_a * ra[1] ** 2 + c.inv_inertia_b * rb[1] ** 2
        k12 = -c.inv_inertia_a * ra[0] * ra[1] - c.inv_inertia_b * rb[0] * rb[1]
        k22 = c.inv_mass_a + c.inv_mass_b + c.inv_inertia_a * ra[0] ** 2 + c.inv_inertia_b * rb[0] ** 2
        inv_det = safe_inverse(k11 * k22 - k12 * k12)
        err = (pb + rb) - (pa + ra)
        p = -inv_det * jnp.stack([k22 * err[0] - k12 * err[1], k11 * err[1] - k12 * err[0]]) * on
        pa, ta = pa - c.inv_mass_a * p, ta - c.inv_inertia_a * cross(ra, p)
        pb, tb = pb + c.inv_mass_b * p, tb + c.inv_inertia_b * cross(rb, p)
        pos = pos.at[c.ia].set(pa).at[c.ib].set(pb)
        rot = rot.at[c.ia].set(ta).at[c.ib].set(tb)
        return (pos, rot), None

    return body


def correct_joint_positions(joint: Joint, jc: JointConstraints, position, rotation, iterations: int):
    """Non-linear Gauss-Seidel on positions after integration (Box2D v2's position iterations).

    Velocity-level bias alone leaves a drift of order omega^2 r dt^2 per step on fast-turning
    chains; this projects anchors (and weld / limit angles) back, without touching velocities.
    Returns (position, rotation).
    """
    fn = _correct_joint(joint, jc)
    unroll = jc.ia.shape[0] <= MAX_UNROLLED_JOINTS
    body = lambda _, carry: jax.lax.scan(fn, carry, (joint, jc), unroll=unroll)[0]  # noqa: E731
    carry = (position, rotation)
    if unroll:  # few joints: a straight line of code is cheaper than a loop
        for _ in range(iterations):
            carry = body(0, carry)
        return carry
    return jax.lax.fori_loop(0, iterations, body, carry)
