"""One simulation step and a scanned rollout.

Stage order (Box2D v3's single-substep "soft step", with rigid constraints and Baumgarte bias):

1. COLLIDE: manifolds for all candidate pairs; warm-start impulses carried over.
2. PREPARE: contact and joint constants.
3. INTEGRATE VELOCITIES: gravity on dynamic bodies, thruster impulses; from the contact points'
   normal velocities before and after, the speed each would bounce back with (``bounce_speed``).
4. WARM START: apply last step's accumulated contact and joint impulses.
5. SOLVE: ``num_solver_iterations`` sweeps, each joints then contacts, with position bias.
6. INTEGRATE POSITIONS: x += v dt, theta += omega dt with the biased velocities; then
   ``num_position_iterations`` passes that project joint anchors back together.
7. RELAX: ``num_relax_iterations`` sweeps without bias over the points touching after the position
   update, so the push-out velocity that corrected positions is removed again instead of
   becoming kinetic energy.
8. RESTITUTION: one pass over the points that touch at the end of the step, pushed this step and
   hit faster than the threshold, aiming at their bounce speed (two-point manifolds as one block).
9. STORE: clip, write bodies and impulses back.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.custom_batching
import jax.numpy as jnp

from rizzlib.jax2d.batching import batch_any
from rizzlib.jax2d.contact_solver import (
    colour_major,
    colour_minor,
    colour_pairs,
    compact_active,
    gap_after_positions,
    normal_velocities,
    prepare_contacts,
    relax_target,
    restore_order,
    solve_contacts,
    solve_contacts_active,
    solve_contacts_coloured,
    solve_target,
    touching_first,
    warm_start_contacts,
)
from rizzlib.jax2d.contacts import Bodies, detect_contacts, stack_bodies
from rizzlib.jax2d.impulses import bounce_speed
from rizzlib.jax2d.joint_solver import (
    correct_joint_positions,
    masked_impulses,
    prepare_joints,
    solve_joints,
    warm_start_joints,
)
from rizzlib.jax2d.math2d import cross, rotate
from rizzlib.jax2d.pairs import pair_schedule
from rizzlib.jax2d.types import SimParams, SimState, StaticConfig

#: ``"colours"``: a colour holds at most this fraction of N (the bodies) pairs, rounded up; None: N
#: (no cap). See :func:`~rizzlib.jax2d.contact_solver.colour_pairs`'s ``max_slots``. Measured on 2
#: CPU cores at batch 1 (CPU time, alternating runs): 0.3 steps pile14 1.18x and pyramid10 1.32x
#: faster than no cap (0.5: 1.24x, 1.17x).
COLOUR_SLOTS_FRACTION = 0.3


#: the constraint fields :func:`~rizzlib.jax2d.contact_solver.colour_pairs` reads
COLOURING_FIELDS = ("ia", "ib", "inv_mass_a", "inv_inertia_a", "inv_mass_b", "inv_inertia_b")


def colour_slots(static: StaticConfig) -> int | None:
    """The ``max_slots`` of :func:`~rizzlib.jax2d.contact_solver.colour_pairs` for ``static``."""
    if COLOUR_SLOTS_FRACTION is None:
        return None
    return max(1, math.ceil(COLOUR_SLOTS_FRACTION * static.num_bodies - 1e-9))


def colour_schedule(cons, static: StaticConfig):
    """(table (K, S), num_colours ()): the ``"colours"`` layout's colouring of this step's touching
    pairs, as pair indices in schedule order (M marks an empty slot; see
    :func:`~rizzlib.jax2d.contact_solver.colour_pairs`). ``cons``: (1, M, ...) in schedule order.

    Under ``vmap`` it is one colouring for the whole batch: it colours the union of the scenes'
    contact graphs (:func:`~rizzlib.jax2d.batching.batch_any`), so every scene takes the same number
    of colour steps and its gathers share one index array; a pair that touches in one scene only
    is solved with its points masked off in the others, which changes nothing there.
    """
    num_pairs = cons.ia.shape[1]
    order, count = touching_first(cons)
    live_first = cons._replace(**{k: getattr(cons, k)[:, order] for k in COLOURING_FIELDS})
    table, num_colours = colour_pairs(live_first, count, static.num_bodies + 1, colour_slots(static))
    return jnp.concatenate([order, jnp.full((1,), num_pairs, order.dtype)])[table], num_colours


def apply_thrusters(state: SimState, bodies: Bodies, actions, params: SimParams, v, w):
    """Thruster impulses F dt along (cos, sin)(body angle + thruster angle); ``actions`` (T,) in [0, 1]."""
    th = state.thruster
    i = th.object_index
    angle = bodies.rotation[i]
    direction = rotate(jnp.stack([jnp.cos(th.rotation), jnp.sin(th.rotation)], -1), angle)
    on = th.active & bodies.active[i]
    magnitude = jnp.where(on, th.power * params.base_thruster_power * jnp.clip(actions, 0.0, 1.0) * params.dt, 0.0)
    impulse = direction * magnitude[:, None]
    arm = rotate(th.relative_position, angle)
    v = v.at[i].add(bodies.inverse_mass[i][:, None] * impulse)
    w = w.at[i].add(bodies.inverse_inertia[i] * cross(arm, impulse))
    return v, w


def bounce_targets(cons, bodies: Bodies, v, w, params: SimParams):
    """(impact_speed, bounce_speed), each (R, S, 2pt) m/s, from the normal velocities at the start of
    the step and after gravity and thrusters (their difference is this step's normal acceleration);
    see :func:`~rizzlib.jax2d.impulses.bounce_speed`."""
    vn0 = normal_velocities(cons, bodies.velocity, bodies.angular_velocity)
    vn1 = normal_velocities(cons, v, w)
    accel = jnp.maximum(vn0 - vn1, 0.0) / params.dt
    return bounce_speed(-vn0, accel, cons.separation, cons.restitution[..., None], params.dt)


def _unstack(state: SimState, static: StaticConfig, position, rotation, velocity, angular_velocity):
    p, n = static.num_polygons, static.num_bodies

    def upd(body, lo, hi):
        return body.replace(
            position=position[lo:hi],
            rotation=rotation[lo:hi],
            velocity=velocity[lo:hi],
            angular_velocity=angular_velocity[lo:hi],
        )

    return upd(state.polygon, 0, p), upd(state.circle, p, n)


def step(state: SimState, params: SimParams, static: StaticConfig, actions=None) -> SimState:
    """Advance one scene by ``params.dt``.

    Args:
        state: the scene.  params: traced constants.  static: sizes (hashable; static under jit).
        actions: (J + T,) motor actions in [-1, 1] (one per joint slot) then thruster actions in
            [0, 1] (one per thruster slot); values outside saturate. ``None`` = all zero.

    Returns:
        The next state; ``state.contacts`` holds this step's manifolds and impulses.
    """
    if actions is None:
        actions = jnp.zeros((static.num_actions,), jnp.float32)
    if static.solver_layout == "auto":
        return auto_step(static)(state, params, actions)
    return _step(state, params, static, actions)


def _step(state: SimState, params: SimParams, static: StaticConfig, actions) -> SimState:
    """:func:`step` with a fixed solver layout (not ``"auto"``)."""
    nj = static.num_joints
    sched = pair_schedule(static.num_polygons, static.num_circles)
    rounds = sched.num_rounds
    has_contacts = rounds > 0
    has_joints = nj > 0
    skip = static.skip_idle_rounds
    compact = static.solver_layout in ("active", "colours")
    coloured = static.solver_layout == "colours"

    # COLLIDE and PREPARE
    bodies = stack_bodies(state)
    v, w = bodies.velocity, bodies.angular_velocity
    if has_contacts:
        manifold = detect_contacts(state, bodies, params, static)
        cons = prepare_contacts(manifold, bodies, 1 if compact else rounds)
        shape = cons.active.shape
        acc_n = manifold.normal_impulse.reshape(shape)
        acc_t = manifold.tangent_impulse.reshape(shape)
        if coloured:
            # colour the touching pairs in compacted order, then gather every array straight from
            # schedule order into colour-major layout (one gather per array instead of two)
            num_pairs = cons.ia.shape[1]
            table, num_colours = colour_schedule(cons, static)
            cons, acc_n, acc_t = colour_major(cons, table, acc_n, acc_t, static.num_bodies + 1)
        elif compact:
            cons, acc_n, acc_t, order, count = compact_active(cons, acc_n, acc_t)
        if not static.do_warm_starting:
            acc_n, acc_t = jnp.zeros_like(acc_n), jnp.zeros_like(acc_t)
    if has_joints:
        jc = prepare_joints(state.joint, bodies, actions[:nj], params)
        jimp = masked_impulses(state.joint, jc)
        if not static.do_warm_starting:
            jimp = jax.tree.map(jnp.zeros_like, jimp)

    # INTEGRATE VELOCITIES
    dynamic = bodies.active & (bodies.inverse_mass > 0.0)
    v = v + jnp.where(dynamic[:, None], state.gravity * params.dt, 0.0)
    if static.num_thrusters > 0:
        v, w = apply_thrusters(state, bodies, actions[nj:], params, v, w)

    if has_contacts:
        impact, bounce = bounce_targets(cons, bodies, v, w, params)
        cons = cons._replace(impact_speed=impact, bounce_speed=bounce)

    # WARM START
    if static.do_warm_starting:
        if has_contacts:
            v, w = warm_start_contacts(cons, acc_n, acc_t, v, w)
        if has_joints:
            v, w = warm_start_joints(jc, jimp, v, w)

    def contact_sweep(target, mask, acc_n, acc_t, v, w, friction=True):
        if coloured:
            return solve_contacts_coloured(cons, num_colours, target, mask, acc_n, acc_t, v, w, friction)
        if compact:
            return solve_contacts_active(cons, count, target, mask, acc_n, acc_t, v, w, friction)
        return solve_contacts(cons, sched, target, mask, acc_n, acc_t, v, w, friction=friction, skip_idle=skip,
                              index_rounds=static.index_rounds)

    def sweep(carry, use_bias, target, mask):
        v, w, acc_n, acc_t, jimp = carry
        if has_joints:
            v, w, jimp = solve_joints(jc, jimp, v, w, params, use_bias)
        if has_contacts:
            v, w, acc_n, acc_t = contact_sweep(target, mask, acc_n, acc_t, v, w)
        return v, w, acc_n, acc_t, jimp

    if not has_contacts:
        acc_n = acc_t = target = mask = jnp.zeros((0,))
    if not has_joints:
        jimp = jnp.zeros((0,))
    carry = (v, w, acc_n, acc_t, jimp)

    # SOLVE
    if has_contacts:
        target, mask = solve_target(cons, params), cons.active
    carry = jax.lax.fori_loop(0, static.num_solver_iterations, lambda _, c: sweep(c, True, target, mask), carry)

    # INTEGRATE POSITIONS (with the biased velocities)
    v, w = carry[0], carry[1]
    moving = bodies.active
    position = bodies.position + jnp.where(moving[:, None], v * params.dt, 0.0)
    rotation = bodies.rotation + jnp.where(moving, w * params.dt, 0.0)

    if has_joints and static.num_position_iterations > 0:
        position, rotation = correct_joint_positions(
            state.joint, jc, position, rotation, static.num_position_iterations
        )

    if has_contacts:
        # touching after the position update: overlapping, or closed by this step's solve. A gap
        # the solve did not close (a speculative pair still approaching) is left to the next step:
        # acting on it here would stop a body in mid-air and let restitution bounce it there.
        gap = gap_after_positions(cons, v, w, params)
        touching = cons.active & ((carry[2] > 0.0) | (gap <= 0.0))

    # RELAX
    if static.num_relax_iterations > 0:
        if has_contacts:
            target, mask = relax_target(gap, params), touching
        if static.num_relax_iterations == 1:
            carry = sweep(carry, False, target, mask)
        else:
            carry = jax.lax.fori_loop(0, static.num_relax_iterations, lambda _, c: sweep(c, False, target, mask), carry)
    v, w, acc_n, acc_t, jimp = carry

    # RESTITUTION: only where the surfaces meet at the end of the step (within the slop), with a
    # push in this step, and an impact faster than the threshold
    if has_contacts:
        e = cons.restitution[..., None]
        mask = (touching & (acc_n > 0.0) & (gap <= params.slop) & (e > 0.0)
                & (cons.impact_speed > params.restitution_threshold))
        v, w, acc_n, acc_t = contact_sweep(cons.bounce_speed, mask, acc_n, acc_t, v, w, friction=False)
        if coloured:
            acc_n, acc_t = colour_minor(acc_n, table, num_pairs), colour_minor(acc_t, table, num_pairs)
        elif compact:
            acc_n, acc_t = restore_order(acc_n, order), restore_order(acc_t, order)

    # STORE
    v = jnp.clip(v, -params.clip_velocity, params.clip_velocity)
    w = jnp.clip(w, -params.clip_angular_velocity, params.clip_angular_velocity)
    # static bodies are never moved (a user may place them anywhere)
    position = jnp.where(dynamic[:, None], jnp.clip(position, -params.clip_position, params.clip_position), position)
    polygon, circle = _unstack(state, static, position, rotation, v, w)
    new = state.replace(polygon=polygon, circle=circle)
    if has_contacts:
        new = new.replace(
            contacts=manifold.replace(normal_impulse=acc_n.reshape(-1, 2), tangent_impulse=acc_t.reshape(-1, 2))
        )
    if has_joints:
        new = new.replace(
            joint=state.joint.replace(
                linear_impulse=jimp.linear, angular_impulse=jimp.angular, motor_impulse=jimp.motor, limit_impulse=jimp.limit
            )
        )
    return new


#: ``"auto"`` on one scene (unbatched, or vmapped over a batch of 1): ``"colours"`` when the last
#: step had at least this many touching pairs, else ``"active"``. See ``StaticConfig.solver_layout``.
AUTO_COLOURS_FROM = 8
#: ``"auto"`` on a vmapped batch of more than one scene: ``"colours"`` (one colouring for the whole
#: batch, :func:`colour_schedule`) when the batch's last step had at least this many touching pairs
#: (the union over its scenes), else ``"active"``. Measured at batch 256 (T = 50, 2 CPU cores,
#: alternating runs): colours/active 2.17x on pile14 (36 pairs), 0.87x on pyramid10 (16 two-point
#: pairs), 0.83x on random_l (<= 7), 1.08x on s_car (<= 3).
AUTO_BATCHED_COLOURS_FROM = 24
#: the layout whose derivatives ``"auto"`` uses (its sweep has a transposable bounded form)
AUTO_DIFFERENTIATE = "active"


def auto_touching_pairs(state: SimState):
    """() int: pairs with a contact point in ``state.contacts`` (the last step's manifolds); under
    ``vmap``, pairs with one in any scene of the batch (the same number for all,
    :func:`~rizzlib.jax2d.batching.batch_any`)."""
    return batch_any(jnp.any(state.contacts.active, axis=-1)).sum()


@functools.lru_cache(maxsize=64)
def auto_step(static: StaticConfig):
    """``f(state, params, actions) -> state`` for ``solver_layout="auto"``: the batch size decides.

    Called on one scene it counts the pairs that touched in the last step (``state.contacts``) and
    steps with ``"colours"`` from :data:`AUTO_COLOURS_FROM` of them, else with ``"active"`` (a
    ``lax.cond``: on one scene only the branch taken runs). Under ``jax.vmap`` (a
    ``jax.custom_batching.custom_vmap`` rule, so the batch size is known when tracing) a batch of
    more than one scene makes the same choice once for the whole batch, from the pairs touching in
    any of its scenes and :data:`AUTO_BATCHED_COLOURS_FROM` (the count is unbatched, so the cond
    still runs one branch), and a batch of one is squeezed and stepped as one scene. Derivatives
    (``jax.jvp``, ``jax.grad``) go through :data:`AUTO_DIFFERENTIATE` (a ``jax.custom_jvp`` around
    it all), whatever the batch.
    """
    few = dataclasses.replace(static, solver_layout="active")
    crowded = dataclasses.replace(static, solver_layout="colours")
    diff = dataclasses.replace(static, solver_layout=AUTO_DIFFERENTIATE)
    has_contacts = pair_schedule(static.num_polygons, static.num_circles).num_rounds > 0

    def choose(threshold):
        def f(state, params, actions):
            if not has_contacts:
                return _step(state, params, few, actions)
            return jax.lax.cond(
                auto_touching_pairs(state) >= threshold,
                lambda s, p, a: _step(s, p, crowded, a),
                lambda s, p, a: _step(s, p, few, a),
                state, params, actions,
            )

        return f

    @jax.custom_batching.custom_vmap
    def primal(state, params, actions):
        return choose(AUTO_COLOURS_FROM)(state, params, actions)

    @primal.def_vmap
    def _batched(axis_size, in_batched, state, params, actions):
        args, in_batched = (state, params, actions), tuple(in_batched)
        if axis_size == 1:  # a batch of one: step the scene itself
            args = jax.tree.map(lambda x, b: x[0] if b else x, args, in_batched)
            out = primal(*args)
            return jax.tree.map(lambda x: x[None], out), jax.tree.map(lambda _: True, out)
        in_axes = jax.tree.map(lambda b: 0 if b else None, in_batched)
        out = jax.vmap(choose(AUTO_BATCHED_COLOURS_FROM), in_axes=in_axes)(*args)
        return out, jax.tree.map(lambda _: True, out)

    @jax.custom_jvp
    def f(state, params, actions):
        return primal(state, params, actions)

    @f.defjvp
    def _jvp(primals, tangents):
        return jax.jvp(lambda s, p, a: _step(s, p, diff, a), primals, tangents)

    return f


def rollout(state: SimState, params: SimParams, static: StaticConfig, actions=None, num_steps: int | None = None):
    """Run ``step`` under ``lax.scan``.

    Args:
        actions: (T_steps, J + T) per-step actions, or ``None`` with ``num_steps`` for zero actions.
        num_steps: number of steps when ``actions`` is None.

    Returns:
        (final_state, trajectory): trajectory is a SimState whose leaves have a leading axis of
        length T_steps holding the state *after* each step.
    """
    if actions is None:
        if num_steps is None:
            raise ValueError("num_steps must be given when actions is None")
        actions = jnp.zeros((num_steps, static.num_actions), jnp.float32)

    def body(s, a):
        s = step(s, params, static, a)
        return s, s

    return jax.lax.scan(body, state, actions)


#: ``step`` compiled once per StaticConfig: ``step_jit(state, params, static, actions)``.
step_jit = jax.jit(step, static_argnums=(2,))
#: ``rollout`` compiled once per StaticConfig and length: ``rollout_jit(state, params, static, actions)``.
rollout_jit = jax.jit(rollout, static_argnums=(2, 4))
