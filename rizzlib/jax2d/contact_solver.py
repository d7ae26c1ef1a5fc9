"""Contact stages of the solver: prepare, warm start, solve one sweep, relax and restitution targets.

A sweep is a Gauss-Seidel pass over the pairs, in one of three layouts (``StaticConfig.solver_layout``).
The first two make the same updates in schedule order (equal up to float32 rounding):

* ``rounds``: constraint arrays shaped (R rounds, S slots, 2 points); a sweep is a ``lax.scan``
  over the R rounds, and since no body appears twice in a round all S pairs update at once.
* ``active``: arrays shaped (1, M pairs, 2 points), the pairs with a contact moved to the front
  (:func:`compact_active`); a sweep visits only those, one pair per loop step.
* ``colours``: the touching pairs coloured so that no moving body appears twice in a colour
  (:func:`colour_pairs`) and laid out colour by colour once per step (:func:`colour_major`); a
  sweep solves one colour at a time, all its pairs at once, so it updates in colour order rather
  than schedule order.

``StaticConfig(solver_layout="auto")`` picks among them (:func:`~rizzlib.jax2d.stepping.auto_step`).

Within a pair, the normal impulses of a two-point manifold are solved together as a 2x2 block
(:func:`~rizzlib.jax2d.impulses.block_normal_impulse`), then friction point by point.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from rizzlib.jax2d.batching import batch_any
from rizzlib.jax2d.contacts import Bodies
from rizzlib.jax2d.impulses import (
    block_normal_impulse,
    clamp_friction,
    effective_mass_inverse,
    normal_impulse,
)
from rizzlib.jax2d.math2d import cross, cross_sv, dot, right_perp, safe_inverse
from rizzlib.jax2d.pairs import PairSchedule
from rizzlib.jax2d.types import Manifold, SimParams

#: unroll factor of the scan over rounds. Measured on 2 CPU cores: 2 is ~1.8x faster than 1 at
#: batch 1 and a little faster at batch 256; a full unroll is slower and compiles much longer.
UNROLL_ROUNDS = 2


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
    block_k: jnp.ndarray  # (R, S, 2, 2) normal effective-mass inverse of the two points together, 1/kg
    block_inverse: jnp.ndarray  # (R, S, 2, 2) its inverse, kg (0 where ill-conditioned)
    block_ok: jnp.ndarray  # (R, S) bool: both points active and the 2x2 block well conditioned
    impact_speed: jnp.ndarray  # (R, S, 2pt) approach speed at touch-down, m/s (filled in by step())
    bounce_speed: jnp.ndarray  # (R, S, 2pt) restitution target: separating speed, m/s (step())


#: ``colours`` layout: a colour with no second point on skips the second point and the 2x2 block
#: (:func:`solve_contacts_coloured`); False solves both points everywhere (the same numbers; tests
#: compare the two). Measured on the settled pile of 14 circles at batch 1 (CPU time, load ~6.5):
#: 860 -> 465 us a step.
SKIP_SECOND_POINT = True


#: Box2D 2.4's bound on the condition number of a two-point block (above it, one point is dropped
#: there; here the two points are then solved one after the other).
MAX_BLOCK_CONDITION = 1000.0


def prepare_contacts(manifold: Manifold, bodies: Bodies, rounds: int) -> ContactConstraints:
    """Effective masses (per point and as a 2x2 block), lever arms and mixed material constants.

    Each body's lever arm goes to its *own* surface point (the manifold point -+ half the gap along
    the normal), where the two surfaces meet if the gap closes along the normal: a speculative
    contact then pushes and rubs at the point of touch-down, not at the midpoint across the gap.
    """
    ia, ib = manifold.body_a, manifold.body_b
    xa, xb = bodies.position[ia], bodies.position[ib]
    n = manifold.normal[:, None, :]
    half_gap = 0.5 * jnp.where(manifold.active, manifold.separation, 0.0)[..., None] * n
    r_a = manifold.point - half_gap - xa[:, None, :]
    r_b = manifold.point + half_gap - xb[:, None, :]
    t = right_perp(n)
    ima, iia = bodies.inverse_mass[ia], bodies.inverse_inertia[ia]
    imb, iib = bodies.inverse_mass[ib], bodies.inverse_inertia[ib]
    e = lambda x: x[:, None]  # noqa: E731  (broadcast a per-pair value over the 2 points)
    k_n = effective_mass_inverse(e(ima), e(iia), r_a, e(imb), e(iib), r_b, n)
    k_t = effective_mass_inverse(e(ima), e(iia), r_a, e(imb), e(iib), r_b, t)
    fa, fb = bodies.friction[ia], bodies.friction[ib]
    # the 2x2 block K_ij = m_a^-1 + m_b^-1 + I_a^-1 (r_ai x n)(r_aj x n) + I_b^-1 (r_bi x n)(r_bj x n)
    ca, cb = cross(r_a, n), cross(r_b, n)  # (M, 2pt)
    k12 = ima + imb + iia * ca[:, 0] * ca[:, 1] + iib * cb[:, 0] * cb[:, 1]
    k11, k22 = k_n[:, 0], k_n[:, 1]
    det = k11 * k22 - k12 * k12
    ok = manifold.active[:, 0] & manifold.active[:, 1] & (k11 * k11 < MAX_BLOCK_CONDITION * det) & (det > 0.0)
    inv_det = jnp.where(ok, 1.0 / jnp.where(ok, det, 1.0), 0.0)
    block_k = jnp.stack([jnp.stack([k11, k12], -1), jnp.stack([k12, k22], -1)], -2)
    block_inverse = inv_det[:, None, None] * jnp.stack([jnp.stack([k22, -k12], -1), jnp.stack([-k12, k11], -1)], -2)
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
        block_k=block_k,
        block_inverse=block_inverse,
        block_ok=ok,
        impact_speed=jnp.zeros_like(manifold.separation),
        bounce_speed=jnp.zeros_like(manifold.separation),
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


def gap_after_positions(cons: ContactConstraints, v, w, params: SimParams):
    """(R, S, 2pt) each point's gap after ``x += v dt`` (linearised: s + dt v_n), m."""
    return cons.separation + params.dt * normal_velocities(cons, v, w)


def relax_target(gap_after, params: SimParams):
    """Target for the relax stage: no push-out, but a gap that remains after the position update
    may still be closed (v_n >= -gap/dt) by the points the relax stage solves at all (see step())."""
    return jnp.where(gap_after > 0.0, -gap_after / params.dt, 0.0)


def _solve_slots(friction: bool, slots: int, point_slots: tuple[int, int]):
    """Solve the contact points of ``slots`` pairs that share no body, all at once.

    ``rows`` (2S, 3) holds [v_x, v_y, w] of the pairs' A bodies, then of their B bodies. Point k is
    solved on the first ``point_slots[k]`` slots only: the schedule puts polygon-polygon pairs (the
    only ones with a second point) first and the padding pair last, so the skipped slots never hold
    a contact; ``point_slots[1] == 0`` skips the second point (and the block solve) altogether, for
    slots whose second point is masked off. Order within a pair follows Box2D: normal impulses of
    both points, then friction.
    """

    def solve(rows, xs):
        _, c, target, mask, acc_n, acc_t = xs
        vel = [rows[:slots, :2], rows[:slots, 2], rows[slots:, :2], rows[slots:, 2]]  # va, wa, vb, wb

        def solve_point(k, direction, vel, acc_in, impulse_fn):
            m = point_slots[k]
            va, wa, vb, wb = (x[:m] for x in vel)
            ra, rb = c.r_a[:m, k], c.r_b[:m, k]
            dv = vb + cross_sv(wb, rb) - va - cross_sv(wa, ra)
            acc, d = impulse_fn(dot(dv, direction[:m]), m)
            on = mask[:m, k]
            d = jnp.where(on, d, 0.0)
            acc = jnp.where(on, acc, acc_in[:m, k])
            p = d[:, None] * direction[:m]
            new = (
                va - c.inv_mass_a[:m, None] * p,
                wa - c.inv_inertia_a[:m] * cross(ra, p),
                vb + c.inv_mass_b[:m, None] * p,
                wb + c.inv_inertia_b[:m] * cross(rb, p),
            )
            if m < slots:
                new = tuple(jnp.concatenate([x, old[m:]], 0) for x, old in zip(new, vel))
                acc = jnp.concatenate([acc, acc_in[m:, k]], 0)
            return list(new), acc

        vel_start = vel
        new_n = []
        for k in range(2):
            if point_slots[k] == 0:  # a point solved on no slot keeps its impulses
                new_n.append(acc_n[:, k])
                continue
            fn = lambda vn, m, k=k: normal_impulse(vn, c.normal_mass[:m, k], target[:m, k], acc_n[:m, k])  # noqa: E731
            vel, acc = solve_point(k, c.normal, vel, acc_n, fn)
            new_n.append(acc)
        acc_seq = jnp.stack(new_n, -1)
        if point_slots[1] > 0:
            vel, acc_n = _block_normal(c, point_slots[1], vel_start, vel, target, mask, acc_n, acc_seq)
        else:
            acc_n = acc_seq
        if friction:
            tangent = right_perp(c.normal)
            new_t = []
            for k in range(2):
                if point_slots[k] == 0:
                    new_t.append(acc_t[:, k])
                    continue
                fn = lambda vt, m, k=k: clamp_friction(  # noqa: E731
                    acc_t[:m, k], -c.tangent_mass[:m, k] * vt, c.friction[:m], acc_n[:m, k]
                )
                vel, acc = solve_point(k, tangent, vel, acc_t, fn)
                new_t.append(acc)
            acc_t = jnp.stack(new_t, -1)
        va, wa, vb, wb = vel
        rows = jnp.concatenate([jnp.concatenate([va, wa[:, None]], 1), jnp.concatenate([vb, wb[:, None]], 1)], 0)
        return rows, (acc_n, acc_t)

    return solve


def _block_normal(c: ContactConstraints, m: int, vel_start, vel_seq, target, mask, acc_n, acc_seq):
    """Replace the sequential normal update by the 2x2 block solve on the first ``m`` slots where
    both points are on and the block is well conditioned (:func:`block_normal_impulse`)."""
    va, wa, vb, wb = (x[:m] for x in vel_start)
    ra, rb, n = c.r_a[:m], c.r_b[:m], c.normal[:m]
    dv = vb[:, None] + cross_sv(wb[:, None], rb) - va[:, None] - cross_sv(wa[:, None], ra)
    acc0 = acc_n[:m]
    x, found = block_normal_impulse(dot(dv, n[:, None]), target[:m], acc0, c.block_k[:m], c.block_inverse[:m])
    use = c.block_ok[:m] & mask[:m, 0] & mask[:m, 1] & found
    p = (x - acc0)[..., None] * n[:, None]  # (m, 2pt, 2)
    block = (
        va - c.inv_mass_a[:m, None] * p.sum(1),
        wa - c.inv_inertia_a[:m] * cross(ra, p).sum(1),
        vb + c.inv_mass_b[:m, None] * p.sum(1),
        wb + c.inv_inertia_b[:m] * cross(rb, p).sum(1),
    )
    pick = lambda new, old: jnp.where(use.reshape(-1, *([1] * (new.ndim - 1))), new, old[:m])  # noqa: E731
    vel = [jnp.concatenate([pick(b, s), s[m:]], 0) for b, s in zip(block, vel_seq)]
    acc = jnp.concatenate([pick(x, acc_seq), acc_seq[m:]], 0)
    return vel, acc


def _solve_round(friction: bool, slots: int, point_slots: tuple[int, int], skip_idle: bool):
    """Scan body for one round of the ``rounds`` layout (see :func:`_solve_slots`)."""
    solve = _solve_slots(friction, slots, point_slots)

    def body(rows, xs):
        rows = rows[xs[0]]  # (2S, 3): [v_x, v_y, w] of this round's A bodies, then B bodies
        if not skip_idle:
            return solve(rows, xs)
        # most rounds hold no contact; unbatched (batch 1) this skips them, under vmap it is a select
        return jax.lax.cond(jnp.any(xs[3]), solve, lambda r, x: (r, (x[4], x[5])), rows, xs)

    return body


def compact_active(cons: ContactConstraints, acc_n, acc_t):
    """Move the pairs with an active point to the front, keeping their schedule order.

    Args:
        cons: constraints in one row of M pairs, shaped (1, M, ...).  acc_n, acc_t: (1, M, 2).

    Returns:
        (cons, acc_n, acc_t, order, count): the inputs permuted by ``order`` (M,), and the number
        of pairs with an active point. ``restore_order`` undoes the permutation.
    """
    order, count = touching_first(cons)
    take = lambda x: x[:, order]  # noqa: E731
    return jax.tree.map(take, cons), take(acc_n), take(acc_t), order, count


def touching_first(cons: ContactConstraints):
    """(order (M,), count ()): a stable permutation of one row of M pairs that puts the pairs with
    an active point first, and how many there are. Under ``vmap`` both are the batch's (a pair
    active in any scene counts, :func:`~rizzlib.jax2d.batching.batch_any`): one order for all
    scenes, so the gathers by it use one index array; a pair idle in a scene is solved with its
    points masked off there, which changes nothing."""
    live = batch_any(cons.active[0].any(-1))
    return jnp.argsort(~live, stable=True), live.sum()


def restore_order(x, order):
    """Undo :func:`compact_active` on a (1, M, ...) array."""
    return jnp.zeros_like(x).at[:, order].set(x)


def _active_sweep(cons: ContactConstraints, count, target, mask, acc_n, acc_t, v, w, friction: bool, bounded: bool):
    """The sweep of :func:`solve_contacts_active`. ``bounded=False`` loops ``count`` times (a
    ``while`` loop); ``bounded=True`` scans all M pairs and skips those past ``count`` with
    ``lax.cond``: the same numbers, in a loop of static length that reverse-mode autodiff can follow."""
    solve = _solve_slots(friction, 1, (1, 1))
    rows = jnp.concatenate([v, w[:, None]], 1)
    fixed = jax.tree.map(lambda x: x[0], (cons, target, mask))  # (M, ...): read-only in the loop

    def body(k, carry):
        rows, acc_n, acc_t = carry
        pick = lambda x: jax.lax.dynamic_slice_in_dim(x, k, 1)  # noqa: E731
        c, tgt, msk = jax.tree.map(pick, fixed)
        idx = jnp.concatenate([c.ia, c.ib])
        pair, (an, at) = solve(rows[idx], (None, c, tgt, msk, pick(acc_n), pick(acc_t)))
        rows = rows.at[idx].set(pair, unique_indices=True)
        acc_n = jax.lax.dynamic_update_slice_in_dim(acc_n, an, k, 0)
        acc_t = jax.lax.dynamic_update_slice_in_dim(acc_t, at, k, 0)
        return rows, acc_n, acc_t

    carry = (rows, acc_n[0], acc_t[0])
    if bounded:
        step = lambda c, k: (jax.lax.cond(k < count, body, lambda _, c: c, k, c), None)  # noqa: E731
        carry = jax.lax.scan(step, carry, jnp.arange(acc_n.shape[1]))[0]
    else:
        carry = jax.lax.fori_loop(0, count, body, carry)
    rows, acc_n, acc_t = carry
    return rows[:, :2], rows[:, 2], acc_n[None], acc_t[None]


@functools.partial(jax.custom_jvp, nondiff_argnums=(8,))
def solve_contacts_active(cons: ContactConstraints, count, target, mask, acc_n, acc_t, v, w, friction: bool = True):
    """One Gauss-Seidel sweep over the first ``count`` pairs only, one pair at a time.

    The ``active`` layout (``StaticConfig.solver_layout``): after :func:`compact_active` the pairs
    with contacts come first in schedule order, so this visits the same pairs in the same order as
    :func:`solve_contacts` minus the empty ones, and computes the same velocities. Its loop runs
    ``count`` times instead of once per round: few contacts, few steps.

    A loop of data-dependent length cannot be transposed, so derivatives (forward and reverse)
    are taken through the bounded form of the same sweep (``_active_sweep(bounded=True)``); only
    differentiated calls pay for its M loop steps.

    Args:
        cons: constraints shaped (1, M, ...) in compacted order.  count: () int pairs to visit.
        target, mask, acc_n, acc_t: (1, M, 2) in compacted order.  v: (N+1, 2), w: (N+1,).
        friction: also solve the tangent constraints (positional: it is a static argument).

    Returns:
        (v, w, acc_n, acc_t).
    """
    return _active_sweep(cons, count, target, mask, acc_n, acc_t, v, w, friction, bounded=False)


@solve_contacts_active.defjvp
def _solve_contacts_active_jvp(friction, primals, tangents):
    return jax.jvp(lambda *args: _active_sweep(*args, friction, bounded=True), primals, tangents)


def solve_contacts(cons: ContactConstraints, sched: PairSchedule, target, mask, acc_n, acc_t, v, w,
                   friction: bool = True, skip_idle: bool = False, index_rounds: bool = False):
    """One Gauss-Seidel sweep over all contact points, round by round.

    The velocity rows are kept in each round's order ([A bodies, B bodies], see
    :class:`~rizzlib.jax2d.pairs.PairSchedule`), so a round is one gather, slices and elementwise
    maths, with no scatter.

    Args:
        sched: the static pair schedule (its ``steps`` and ``back`` permutations).
        target: (R, S, 2) target normal velocities, m/s.  mask: (R, S, 2) points to solve.
        acc_n, acc_t: (R, S, 2) accumulated impulses, N s.  v: (N+1, 2), w: (N+1,) velocities.
        friction: also solve the tangent constraints (off for the restitution pass).
        skip_idle: wrap each round in ``lax.cond`` on "any point active" (see
            ``StaticConfig.skip_idle_rounds``).
        index_rounds: index each round's data in place instead of scanning over it (see
            ``StaticConfig.index_rounds``).

    Returns:
        (v, w, acc_n, acc_t).
    """
    slots = sched.num_slots
    n = 2 * slots  # bodies taking part in rounds (includes the padding body when N is odd)
    rows = jnp.concatenate([v[:n], w[:n, None]], 1)
    round_fn = _solve_round(friction, slots, sched.point_slots, skip_idle)
    if not index_rounds:
        rows, (acc_n, acc_t) = jax.lax.scan(
            round_fn, rows, (jnp.asarray(sched.steps), cons, target, mask, acc_n, acc_t), unroll=UNROLL_ROUNDS
        )
    else:
        # Index round r in place rather than scanning over xs: under vmap, scanning batched xs
        # moves their batch axis behind the round axis, a full transpose in every sweep.
        xs = (jnp.asarray(sched.steps), cons, target, mask)

        def body(r, carry):
            rows, acc_n, acc_t = carry
            x = jax.tree.map(lambda a: jax.lax.dynamic_index_in_dim(a, r, keepdims=False), xs)
            an = jax.lax.dynamic_index_in_dim(acc_n, r, keepdims=False)
            at = jax.lax.dynamic_index_in_dim(acc_t, r, keepdims=False)
            rows, (an, at) = round_fn(rows, (*x, an, at))
            acc_n = jax.lax.dynamic_update_index_in_dim(acc_n, an, r, 0)
            acc_t = jax.lax.dynamic_update_index_in_dim(acc_t, at, r, 0)
            return rows, acc_n, acc_t

        rows, acc_n, acc_t = jax.lax.fori_loop(0, sched.num_rounds, body, (rows, acc_n, acc_t), unroll=UNROLL_ROUNDS)
    rows = rows[jnp.asarray(sched.back)]
    v = v.at[:n].set(rows[:, :2])
    w = w.at[:n].set(rows[:, 2])
    return v, w, acc_n, acc_t



def colour_pairs(cons: ContactConstraints, count, num_rows: int, max_slots: int | None = None):
    """Greedy colouring of the constraint graph (Box2D v3's graph colouring).

    The touching pairs, in schedule order, each take the lowest colour that neither of its moving
    bodies has yet. Pairs of one colour share no moving body, so a colour can be solved all at once
    and a sweep stays Gauss-Seidel, colour after colour. Bodies that never move (zero inverse mass
    and inertia: static and padding bodies) are shared freely, as Box2D does with static bodies.
    A pair meets at most 2 (N - 2) others through its bodies, so K = 2N - 3 colours always
    suffice, and a colour holds at most N pairs (each has a moving body of its own): no overflow.

    ``max_slots`` S < N caps a colour's pairs: a full colour is skipped like a taken one (Box2D v3
    also overflows, there to a serial colour). A sweep then solves more, narrower colours, which
    is cheaper on one scene, where most of a colour's N slots would otherwise stay empty. Full
    colours block a pair at most (M - 1) // S times, so K = 2N - 3 + (M - 1) // S colours suffice.

    Args:
        cons: constraints in compacted order (:func:`compact_active`), shaped (1, M, ...).
        count: () number of touching pairs (they come first).
        num_rows: N + 1, the rows of the velocity arrays (bodies and the padding body).
        max_slots: the most pairs in one colour (None or >= N: N, no cap).

    Returns:
        (table, num_colours): (K, S) pair index of each colour's slots (M marks an empty slot),
        with S = max(1, min(M, N, max_slots)) and K = max(1, min(M, 2N - 3 + extra)), extra = 0
        without a cap and (M - 1) // S with one; and () the colours used.
    """
    ia, ib = cons.ia[0], cons.ib[0]
    m, n = ia.shape[0], num_rows - 1
    capped = max_slots is not None and max_slots < n
    s_max = max(1, min(m, n, max_slots if capped else n))
    k_max = max(1, min(m, 2 * n - 3 + ((m - 1) // s_max if capped else 0)))
    words = -(-k_max // 32)
    # under vmap: one colouring for the whole batch (a body moving in any scene counts as moving)
    moving_a = batch_any((cons.inv_mass_a[0] > 0.0) | (cons.inv_inertia_a[0] > 0.0))
    moving_b = batch_any((cons.inv_mass_b[0] > 0.0) | (cons.inv_inertia_b[0] > 0.0))
    one = jnp.uint32(1)

    def body(k, carry):
        used, colour, fill, slot, full = carry
        a, b = ia[k], ib[k]
        taken = jnp.where(moving_a[k], used[a], 0) | jnp.where(moving_b[k], used[b], 0) | full  # (W,)
        free = ~taken
        word = jnp.argmax(free != 0)
        low = free[word] & (~free[word] + one)  # lowest free colour of that word, as one bit
        c = 32 * word.astype(jnp.int32) + jax.lax.population_count(low - one).astype(jnp.int32)
        bit = jnp.zeros((words,), jnp.uint32).at[word].set(low)
        used = used.at[a].set(jnp.where(moving_a[k], used[a] | bit, used[a]))
        used = used.at[b].set(jnp.where(moving_b[k], used[b] | bit, used[b]))
        # rank in its colour, counted here: a cumsum over (M, K) lowers to an O(M^2 K) reduce_window on CPU
        if capped:
            full = jnp.where(fill[c] + 1 >= s_max, full | bit, full)
        return used, colour.at[k].set(c), fill.at[c].add(1), slot.at[k].set(fill[c]), full

    used = jnp.zeros((num_rows, words), jnp.uint32)
    colour = jnp.full((m,), k_max, jnp.int32)
    fill, slot = jnp.zeros((k_max,), jnp.int32), jnp.zeros((m,), jnp.int32)
    init = (used, colour, fill, slot, jnp.zeros((words,), jnp.uint32))
    _, colour, _, slot, _ = jax.lax.fori_loop(0, count, body, init)
    live = jnp.arange(m) < count
    colour = jnp.where(live, colour, k_max)
    table = jnp.full((k_max + 1, s_max + 1), m, jnp.int32)
    table = table.at[colour, jnp.where(live, slot, s_max)].set(jnp.arange(m, dtype=jnp.int32))
    num_colours = jnp.where(live, colour + 1, 0).max(initial=0)
    return table[:k_max, :s_max], num_colours


def colour_major(cons: ContactConstraints, table, acc_n, acc_t, num_rows: int):
    """Lay the pairs out colour by colour: every (1, M, ...) array becomes (K, S, ...), row k holding
    colour k's pairs (``table`` (K, S): :func:`colour_pairs`'s, as indices into the order of ``cons``;
    M marks an empty slot). Empty slots get an inactive
    pair of the padding body (index ``num_rows - 1``, never moves). Done once per step, so a sweep
    reads a colour's constants with one slice instead of a gather per field.

    Returns:
        (cons, acc_n, acc_t) shaped (K, S, ...); :func:`colour_minor` takes the impulses back.
    """
    pad = lambda x: jnp.concatenate([x[0], jnp.zeros_like(x[0][:1])], 0)  # noqa: E731  (M+1, ...): row M empty
    cons_p = jax.tree.map(pad, cons)
    last = num_rows - 1
    cons_p = cons_p._replace(ia=cons_p.ia.at[-1].set(last), ib=cons_p.ib.at[-1].set(last))
    take = lambda x: x[table]  # noqa: E731
    return jax.tree.map(take, cons_p), take(pad(acc_n)), take(pad(acc_t))


def colour_minor(x, table, m: int):
    """Undo :func:`colour_major` on a (K, S, ...) array: back to (1, M, ...), the order ``table``
    indexes (pairs not in it get 0)."""
    flat = jnp.zeros((m + 1, *x.shape[2:]), x.dtype).at[table].set(x)
    return flat[None, :m]


def _coloured_sweep(cons: ContactConstraints, num_colours, target, mask, acc_n, acc_t, v, w,
                    friction: bool, bounded: bool):
    """The sweep of :func:`solve_contacts_coloured`; ``bounded`` as in :func:`_active_sweep`."""
    k_max, s_max = cons.ia.shape
    solve_two = _solve_slots(friction, s_max, (s_max, s_max))
    solve_one = _solve_slots(friction, s_max, (s_max, 0))  # no pair of the colour has a second point on
    rows = jnp.concatenate([v, w[:, None]], 1)
    fixed = (cons, target, mask)

    def body(c, carry):
        rows, acc_n, acc_t = carry
        cc, tgt, msk = jax.tree.map(lambda x: jax.lax.dynamic_index_in_dim(x, c, keepdims=False), fixed)
        an = jax.lax.dynamic_index_in_dim(acc_n, c, keepdims=False)
        at = jax.lax.dynamic_index_in_dim(acc_t, c, keepdims=False)
        both = jnp.concatenate([cc.ia, cc.ib])
        # circles touch at one point: a colour without a second point skips its half of the work
        # (the same numbers: a masked point changes nothing). On one scene only the branch taken runs.
        args = (rows[both], (None, cc, tgt, msk, an, at))
        if SKIP_SECOND_POINT:
            # one choice for a vmapped batch, so that the cond still skips (batch_any)
            new, (an, at) = jax.lax.cond(batch_any(jnp.any(msk[:, 1])), solve_two, solve_one, *args)
        else:
            new, (an, at) = solve_two(*args)
        rows = rows.at[both].set(new)  # repeated rows are never-moving bodies: unchanged values
        acc_n = jax.lax.dynamic_update_index_in_dim(acc_n, an, c, 0)
        acc_t = jax.lax.dynamic_update_index_in_dim(acc_t, at, c, 0)
        return rows, acc_n, acc_t

    carry = (rows, acc_n, acc_t)
    if bounded:
        step = lambda cr, c: (jax.lax.cond(c < num_colours, body, lambda _, x: x, c, cr), None)  # noqa: E731
        carry = jax.lax.scan(step, carry, jnp.arange(k_max))[0]
    else:
        carry = jax.lax.fori_loop(0, num_colours, body, carry)
    rows, acc_n, acc_t = carry
    return rows[:, :2], rows[:, 2], acc_n, acc_t


@functools.partial(jax.custom_jvp, nondiff_argnums=(8,))
def solve_contacts_coloured(cons: ContactConstraints, num_colours, target, mask, acc_n, acc_t, v, w,
                            friction: bool = True):
    """One Gauss-Seidel sweep, one colour of :func:`colour_pairs` at a time (the ``colours`` layout).

    All pairs of a colour are solved at once; the loop runs as many times as there are colours. A
    colour whose pairs have no second point on (circles touch at one point) runs a solve without
    the second point and the 2x2 block (a ``lax.cond``: the same numbers, about half the kernels;
    under ``vmap`` both branches would run, which is why ``"auto"`` batches with ``"active"``).
    Derivatives go through a bounded scan over all K colours (as for the ``active`` layout).

    Args:
        cons: constraints in colour-major layout (:func:`colour_major`), (K, S, ...).
        num_colours: () colours in use (:func:`colour_pairs`).
        target, mask, acc_n, acc_t: (K, S, 2).  v: (N+1, 2), w: (N+1,).

    Returns:
        (v, w, acc_n, acc_t).
    """
    return _coloured_sweep(cons, num_colours, target, mask, acc_n, acc_t, v, w, friction, bounded=False)


@solve_contacts_coloured.defjvp
def _solve_contacts_coloured_jvp(friction, primals, tangents):
    def f(cons, num_colours, target, mask, acc_n, acc_t, v, w):
        return _coloured_sweep(cons, num_colours, target, mask, acc_n, acc_t, v, w, friction, bounded=True)

    return jax.jvp(f, primals, tangents)
