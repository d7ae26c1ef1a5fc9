"""Observations: ``symbolic_entity`` (the generalist's input), ``symbolic_flat`` and ``pixels``.

Entity features (spec 3.3, Kinetix's layout), NaNs zeroed first:

* shape base (16): position(2), velocity(2), inverse_mass, inverse_inertia, density, tanh(w/10),
  one-hot role(4), sin, cos of the rotation, friction, restitution;
* circles (19) = base + radius + 1 (is-circle) + gravity_y/10;
* polygons (27) = base + 0 (is-circle) + 4 local vertices (x, y) (unused = -1) + is-triangle +
  gravity_y/10;
* joints: 2 directed rows per joint (rows 0..J-1 from b to a, rows J..2J-1 from a to b), 22 =
  active, is_fixed, from_pos(2), to_pos(2), sin, cos(reference angle), then (zero for fixed joints)
  motor_speed, motor_power, motor_on, has_limits, one-hot binding(4), sin, cos(min), sin, cos(max),
  min - ref, max - ref;
* thrusters (8): active, relative position(2), one-hot binding(2), sin, cos(rotation), power.

``attention_mask`` (4, N, N) over the N = P + C shapes: [all pairs; not in the collision matrix
(same jointed assembly, and static pairs); directly jointed (one hop); touching in the last step],
each ANDed with the active mask on both sides.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from rizzlib.kinetix.reward import touching_pairs
from rizzlib.kinetix.types import NUM_BORDERS, NUM_ROLES, EnvConfig, EnvState

POLYGON_FEATURES = 27
CIRCLE_FEATURES = 19
JOINT_FEATURES = 22
THRUSTER_FEATURES = 8


@struct.dataclass
class EntityObservation:
    """Symbolic entity observation of one env (add a leading batch axis for many).

    Attributes:
        polygons: (P, 27).  circles: (C, 19).  joints: (2J, 22).  thrusters: (T, 8).
        polygon_mask: (P,) bool.  circle_mask: (C,).  joint_mask: (2J,).  thruster_mask: (T,).
        attention_mask: (4, N, N) bool, N = P + C.
        joint_indexes: (2J, 2) int (self, other) global shape index; (0, 0) for inactive joints.
        thruster_indexes: (T,) int global shape index of the thruster's body.
    """

    polygons: jnp.ndarray
    circles: jnp.ndarray
    joints: jnp.ndarray
    thrusters: jnp.ndarray
    polygon_mask: jnp.ndarray
    circle_mask: jnp.ndarray
    joint_mask: jnp.ndarray
    thruster_mask: jnp.ndarray
    attention_mask: jnp.ndarray
    joint_indexes: jnp.ndarray
    thruster_indexes: jnp.ndarray


def flat_size(config: EnvConfig) -> int:
    """Length of the ``symbolic_flat`` vector: (P-3)*26 + C*18 + J*(22+2N) + T*(8+N) + 1."""
    s = config.sim
    n = s.num_bodies
    return ((s.num_polygons - 3) * 26 + s.num_circles * 18 + s.num_joints * (22 + 2 * n)
            + s.num_thrusters * (8 + n) + 1)


def _base(body, role):
    return jnp.concatenate([
        body.position, body.velocity, body.inverse_mass[:, None], body.inverse_inertia[:, None],
        body.density[:, None], jnp.tanh(body.angular_velocity / 10.0)[:, None],
        jax.nn.one_hot(role, NUM_ROLES), jnp.sin(body.rotation)[:, None], jnp.cos(body.rotation)[:, None],
        body.friction[:, None], body.restitution[:, None],
    ], axis=1)


def polygon_features(body, role) -> jnp.ndarray:
    """(P, 26) polygon rows without the gravity column."""
    v = body.vertices
    used = jnp.arange(v.shape[1])[None, :, None] < body.n_vertices[:, None, None]
    v = jnp.where(used, v, -1.0)
    return jnp.concatenate([_base(body, role), jnp.zeros_like(body.radius)[:, None], v.reshape(v.shape[0], -1),
                            (body.n_vertices <= 3).astype(jnp.float32)[:, None]], axis=1)


def circle_features(body, role) -> jnp.ndarray:
    """(C, 18) circle rows without the gravity column."""
    return jnp.concatenate([_base(body, role), body.radius[:, None], jnp.ones_like(body.radius)[:, None]], axis=1)


def joint_features(joint, binding, num_bindings: int):
    """(2J, 22) directed joint rows, (2J, 2) (self, other) indexes, (2J,) mask."""
    lim = joint.motor_has_joint_limits.astype(jnp.float32)
    ref = joint.reference_angle

    def one_way(a_to_b: bool):
        frm = joint.a_relative_pos if a_to_b else joint.b_relative_pos
        to = joint.b_relative_pos if a_to_b else joint.a_relative_pos
        base = jnp.concatenate([joint.active.astype(jnp.float32)[:, None], joint.is_fixed_joint.astype(jnp.float32)[:, None],
                                frm, to, jnp.sin(ref)[:, None], jnp.cos(ref)[:, None]], axis=1)
        motor = jnp.concatenate([
            joint.motor_speed[:, None], joint.motor_power[:, None], joint.motor_on.astype(jnp.float32)[:, None],
            lim[:, None], jax.nn.one_hot(binding, num_bindings),
            (jnp.sin(joint.min_rotation) * lim)[:, None], (jnp.cos(joint.min_rotation) * lim)[:, None],
            (jnp.sin(joint.max_rotation) * lim)[:, None], (jnp.cos(joint.max_rotation) * lim)[:, None],
            ((joint.min_rotation - ref) * lim)[:, None], ((joint.max_rotation - ref) * lim)[:, None],
        ], axis=1) * (1.0 - joint.is_fixed_joint.astype(jnp.float32))[:, None]
        return jnp.concatenate([base, motor], axis=1)

    feats = jnp.concatenate([one_way(False), one_way(True)], axis=0)
    act = joint.active[:, None]
    b_to_a = jnp.where(act, jnp.stack([joint.b_index, joint.a_index], -1), 0)
    a_to_b = jnp.where(act, jnp.stack([joint.a_index, joint.b_index], -1), 0)
    idx = jnp.concatenate([b_to_a, a_to_b], axis=0).astype(jnp.int32)
    mask = jnp.concatenate([joint.active, joint.active])
    return feats, idx, mask


def thruster_features(thruster, binding, num_bindings: int) -> jnp.ndarray:
    """(T, 8) thruster rows."""
    return jnp.concatenate([
        thruster.active.astype(jnp.float32)[:, None], thruster.relative_position,
        jax.nn.one_hot(binding, num_bindings), jnp.sin(thruster.rotation)[:, None],
        jnp.cos(thruster.rotation)[:, None], thruster.power[:, None],
    ], axis=1)


def attention_masks(sim, joint_indexes, joint_mask) -> jnp.ndarray:
    """(4, N, N) bool: [full, same assembly, one hop, in contact], ANDed with the active mask."""
    active = jnp.concatenate([sim.polygon.active, sim.circle.active])
    n = active.shape[0]
    both = active[:, None] & active[None, :]
    full = jnp.ones((n, n), bool)
    assembly = ~sim.collision_matrix
    hop = jnp.zeros((n, n), bool)
    if joint_indexes.shape[0]:
        i, j = joint_indexes[:, 0], joint_indexes[:, 1]
        hop = hop.at[i, j].max(joint_mask)
    c = sim.contacts
    touching = touching_pairs(c)
    a = jnp.minimum(c.body_a, n - 1)
    b = jnp.minimum(c.body_b, n - 1)
    valid = touching & (c.body_b < n)
    contact = jnp.zeros((n, n), bool).at[a, b].max(valid).at[b, a].max(valid)
    return jnp.stack([full, assembly, hop, contact]) & both[None]


def entity_observation(state: EnvState, config: EnvConfig) -> EntityObservation:
    """The symbolic entity observation of one env."""
    sim = jax.tree.map(lambda x: jnp.nan_to_num(x) if jnp.issubdtype(x.dtype, jnp.floating) else x, state.sim)
    lv = state.level
    g = sim.gravity[1] / 10.0
    pf = polygon_features(sim.polygon, lv.polygon_role)
    cf = circle_features(sim.circle, lv.circle_role)
    pf = jnp.concatenate([pf, jnp.full((pf.shape[0], 1), g)], axis=1)
    cf = jnp.concatenate([cf, jnp.full((cf.shape[0], 1), g)], axis=1)
    jf, jidx, jmask = joint_features(sim.joint, lv.motor_binding, config.num_motor_bindings)
    tf = thruster_features(sim.thruster, lv.thruster_binding, config.num_thruster_bindings)
    pm, cm = sim.polygon.active, sim.circle.active
    return EntityObservation(
        polygons=jnp.where(pm[:, None], pf, 0.0), circles=jnp.where(cm[:, None], cf, 0.0),
        joints=jnp.where(jmask[:, None], jf, 0.0), thrusters=jnp.where(sim.thruster.active[:, None], tf, 0.0),
        polygon_mask=pm, circle_mask=cm, joint_mask=jmask, thruster_mask=sim.thruster.active,
        attention_mask=attention_masks(sim, jidx, jmask), joint_indexes=jidx,
        thruster_indexes=sim.thruster.object_index.astype(jnp.int32),
    )


def flat_observation(state: EnvState, config: EnvConfig) -> jnp.ndarray:
    """(flat_size,) vector: polygons without the 3 walls/ceiling, circles, one row per joint with
    one-hot (self, other), thrusters with one-hot body, gravity_y/10; clipped to [-10, 10]."""
    sim = jax.tree.map(lambda x: jnp.nan_to_num(x) if jnp.issubdtype(x.dtype, jnp.floating) else x, state.sim)
    lv = state.level
    s = config.sim
    n = s.num_bodies
    keep = jnp.asarray([0] + list(range(NUM_BORDERS, s.num_polygons)))
    pf = polygon_features(sim.polygon, lv.polygon_role)[keep]
    pm = sim.polygon.active[keep]
    cf = circle_features(sim.circle, lv.circle_role)
    jf, jidx, jmask = joint_features(sim.joint, lv.motor_binding, config.num_motor_bindings)
    j = s.num_joints
    jf = jnp.concatenate([jf[:j], jax.nn.one_hot(jidx[:j, 0], n), jax.nn.one_hot(jidx[:j, 1], n)], axis=1)
    tf = thruster_features(sim.thruster, lv.thruster_binding, config.num_thruster_bindings)
    tf = jnp.concatenate([tf, jax.nn.one_hot(sim.thruster.object_index, n)], axis=1)
    parts = [
        jnp.where(pm[:, None], pf, 0.0).reshape(-1),
        jnp.where(sim.circle.active[:, None], cf, 0.0).reshape(-1),
        jnp.where(jmask[:j, None], jf, 0.0).reshape(-1),
        jnp.where(sim.thruster.active[:, None], tf, 0.0).reshape(-1),
        sim.gravity[1:2] / 10.0,
    ]
    return jnp.nan_to_num(jnp.clip(jnp.concatenate(parts), -10.0, 10.0))


def observe(state: EnvState, config: EnvConfig):
    """The observation of ``config.observation`` for one env."""
    if config.observation == "symbolic_entity":
        return entity_observation(state, config)
    if config.observation == "symbolic_flat":
        return flat_observation(state, config)
    from rizzlib.kinetix.pixels import render_pixels

    return render_pixels(state, config)
