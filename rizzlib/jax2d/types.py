"""State, parameters and static sizes of the engine.

Three kinds of data, kept apart as in Jax2D:

* :class:`StaticConfig`: sizes and iteration counts. Hashable and frozen; changing it changes array
  shapes and therefore recompiles. Pass it as a static argument to ``jit``.
* :class:`SimParams`: the traced numbers (time step, Baumgarte factor, motor and thruster scales).
* :class:`SimState`: everything that changes each step, as fixed-size arrays with ``active`` masks.

Units are SI throughout: metres, seconds, kilograms, radians. Bodies share one global index:
polygons ``0 .. P-1`` then circles ``P .. P+C-1``.
"""

from __future__ import annotations

import dataclasses
import enum

import jax.numpy as jnp
import numpy as np
from flax import struct

from rizzlib.core.validate import check_choice, check_finite, check_int_range, check_range


class CollisionMode(enum.IntEnum):
    """Which shapes a shape collides with (the Kinetix convention)."""

    #: collides only with ``EVERYTHING`` shapes (e.g. decorations that still rest on the floor)
    NONE = 0
    #: collides with ``NORMAL`` and ``EVERYTHING`` shapes
    NORMAL = 1
    #: collides with every shape, including ``NONE`` shapes
    EVERYTHING = 2


@dataclasses.dataclass(frozen=True)
class StaticConfig:
    """Static sizes of a scene (hashable; a new value recompiles ``step``).

    Attributes:
        num_polygons: polygon slots P (borders count: they are ordinary static polygons).
        num_circles: circle slots C.
        num_joints: joint slots J (revolute and fixed).
        num_thrusters: thruster slots T.
        max_polygon_vertices: vertex slots per polygon V (>= 3).
        num_solver_iterations: velocity iterations with position bias per step.
        num_relax_iterations: velocity iterations without bias after integrating positions
            (Box2D's relax stage; removes the push-out velocity so position correction adds no energy).
        num_position_iterations: joint position-projection passes after integrating positions.
        do_warm_starting: start each step from the previous step's accumulated impulses.
        solver_layout: how a contact sweep walks the pairs: ``"active"`` (default), ``"rounds"``,
            ``"colours"``, or ``"auto"``, which picks one by itself
            (:func:`~rizzlib.jax2d.stepping.auto_step`): a single scene (or a vmapped batch of one)
            uses ``"colours"`` when the last step had at least ``stepping.AUTO_COLOURS_FROM`` (8)
            touching pairs and ``"active"`` below that; a vmapped batch of more than one scene
            decides once for the whole batch, ``"colours"`` from ``stepping.AUTO_BATCHED_COLOURS_FROM``
            (24) pairs touching in any of its scenes; derivatives always go through ``"active"``.
            The rule follows the layouts' measured speeds on 2 CPU cores (``benchmarks/engine.py``):
            at batch 1 a sweep's cost is its number of sequential loop steps, and ``"active"`` (one
            per touching pair) was 1.5-3.6x slower on pile14 and pyramid10 than the layouts that
            solve disjoint pairs together; in a vmapped batch of 256 the colours layout (one
            colouring shared by the batch) was 2.2x ``"active"`` on pile14 (36 touching pairs) and
            0.83-0.87x on pyramid10 and random_l (16 and <= 7 pairs). ``"auto"`` is what ``benchmarks/engine.py`` times, but not the
            default: on one scene it compiles both layouts (a ``lax.cond``), doubling the compile
            time of an unbatched step, and it changes the update order of contact-heavy single
            scenes for code built on the default (chapter 1b); opt in where that pays.
            ``"active"``: the pairs with a contact are moved to the front each step and visited one
            at a time, so a sweep costs as many loop steps as there are touching pairs. Its loop
            length depends on the data, which autodiff cannot transpose, so derivatives
            (``jax.grad``, ``jax.jvp``) go through a custom JVP that scans all pairs instead: same
            numbers, rounds-like cost, only when differentiating.
            ``"rounds"``: all P+C choose 2 pairs in round-robin rounds of disjoint pairs, solved a
            round at a time whether or not they touch; the same updates in the same order as
            ``"active"`` (equal up to last-bit rounding). ``"auto"`` never picks it; kept as the
            static-shape reference the other two are tested against.
            ``"colours"``: Box2D v3's graph colouring (:func:`~rizzlib.jax2d.contact_solver.colour_pairs`):
            each step the touching pairs are coloured so that no moving body appears twice in a
            colour, laid out colour by colour, and a sweep solves one colour at a time, all its
            pairs at once: as many loop steps as colours instead of touching pairs. Still
            Gauss-Seidel, in colour order rather than schedule order, so its numbers differ from
            the other two by the order of the updates. Under ``vmap`` one colouring serves the
            whole batch (the union of its scenes' contact graphs,
            :func:`~rizzlib.jax2d.stepping.colour_schedule`): every scene takes the same colour
            steps, its gathers share one index array and its per-colour ``lax.cond`` still skips.
        skip_idle_rounds: ``"rounds"`` only: skip rounds without an active contact (``lax.cond``).
            Faster for a single unbatched scene; under ``vmap`` the cond runs both branches.
        index_rounds: ``"rounds"`` only: index each round's data in place instead of scanning over
            it. Under ``vmap`` a scan first moves the batch axis of its inputs behind the round axis,
            a copy of all contact data in every sweep; in place is faster from about batch 512.
    """

    num_polygons: int = 12
    num_circles: int = 12
    num_joints: int = 12
    num_thrusters: int = 12
    max_polygon_vertices: int = 4
    num_solver_iterations: int = 10
    num_relax_iterations: int = 1
    num_position_iterations: int = 3
    do_warm_starting: bool = True
    skip_idle_rounds: bool = True
    index_rounds: bool = False
    solver_layout: str = "active"

    def __post_init__(self):
        check_int_range("num_polygons", self.num_polygons, 0, 4096)
        check_int_range("num_circles", self.num_circles, 0, 4096)
        check_int_range("num_joints", self.num_joints, 0, 4096)
        check_int_range("num_thrusters", self.num_thrusters, 0, 4096)
        check_int_range("max_polygon_vertices", self.max_polygon_vertices, 3, 64)
        check_int_range("num_solver_iterations", self.num_solver_iterations, 1, 1000)
        check_int_range("num_relax_iterations", self.num_relax_iterations, 0, 1000)
        check_int_range("num_position_iterations", self.num_position_iterations, 0, 1000)
        check_choice("solver_layout", self.solver_layout, ("auto", "rounds", "active", "colours"))

    @property
    def num_bodies(self) -> int:
        """P + C: the length of the global body index."""
        return self.num_polygons + self.num_circles

    @property
    def num_actions(self) -> int:
        """J + T: motor actions (one per joint) then thruster actions (one per thruster)."""
        return self.num_joints + self.num_thrusters

    @classmethod
    def kinetix(cls, size: str = "s", **overrides) -> StaticConfig:
        """The Kinetix level sizes (``"s"``, ``"m"``, ``"l"``); polygon counts include 4 borders."""
        sizes = {"s": (5, 2, 1, 1), "m": (6, 3, 2, 2), "l": (12, 4, 6, 2)}
        key = str(size).lower()
        if key not in sizes:
            raise ValueError(f"size must be one of 's', 'm', 'l'; got {size!r}")
        p, c, j, t = sizes[key]
        kw = dict(num_polygons=p, num_circles=c, num_joints=j, num_thrusters=t)
        kw.update(overrides)
        return cls(**kw)


@struct.dataclass
class SimParams:
    """Traced simulation constants (defaults follow the Kinetix spec and Box2D).

    Attributes:
        dt: time step, s.
        slop: allowed penetration before position correction pushes, m.
        baumgarte: fraction of the remaining penetration removed per step (non-dimensional).
        max_push_velocity: cap on the position-correction velocity, m/s.
        speculative_distance: contacts within this gap are kept (no impulse unless closing), m.
        restitution_threshold: restitution acts only on impacts faster than this, m/s. Box2D uses
            1 m/s; 0.5 here so that a 5 cm drop (impact at 0.99 m/s) still bounces, while a body
            resting on the ground (which approaches it at g dt = 0.16 m/s every step) does not.
        joint_baumgarte: fraction of joint anchor drift / angle error removed per step.
        clip_position: |x|, |y| limit of dynamic bodies, m (static bodies are never moved).
        clip_velocity: |v| limit per axis, m/s.
        clip_angular_velocity: |omega| limit, rad/s. The clips guard a running simulation; ``inf``
            switches one off. A scene whose initial values exceed them is rejected by
            :class:`~rizzlib.jax2d.SceneBuilder`, not clipped.
        base_motor_speed: a motor with ``motor_speed`` 1 and action 1 targets this relative speed, rad/s.
        base_motor_power: a motor with ``motor_power`` 1 can change the relative angular speed by at
            most this many rad/s per second (its torque scales with the joint's axial mass).
        base_thruster_power: force of a thruster with ``power`` 1 and action 1, N.

    Every number is checked on construction (finite, in range; the clips may be ``inf``) and a
    ValueError names the field; values inside ``jit`` / ``vmap`` are not checked.
    """

    dt: float = 1.0 / 60.0
    slop: float = 0.005
    baumgarte: float = 0.2
    max_push_velocity: float = 3.0
    speculative_distance: float = 0.02
    restitution_threshold: float = 0.5
    joint_baumgarte: float = 0.2
    clip_position: float = 15.0
    clip_velocity: float = 100.0
    clip_angular_velocity: float = 50.0
    base_motor_speed: float = 6.0
    base_motor_power: float = 900.0
    base_thruster_power: float = 10.0

    def __post_init__(self):
        # Python and numpy numbers are checked; arrays and tracers (under jit / vmap) are not.
        for name, (low, high, low_inclusive) in _PARAM_RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                continue
            check_range(name, value, low, high, low_inclusive=low_inclusive)
            if name not in _MAY_BE_INFINITE:
                check_finite(name, value)


#: allowed range of every SimParams field: (low, high, low inclusive)
_PARAM_RANGES = {
    "dt": (0.0, 1.0, False),
    "slop": (0.0, None, True),
    "baumgarte": (0.0, 1.0, True),
    "max_push_velocity": (0.0, None, True),
    "speculative_distance": (0.0, None, True),
    "restitution_threshold": (0.0, None, True),
    "joint_baumgarte": (0.0, 1.0, True),
    "clip_position": (0.0, None, False),
    "clip_velocity": (0.0, None, False),
    "clip_angular_velocity": (0.0, None, False),
    "base_motor_speed": (0.0, None, True),
    "base_motor_power": (0.0, None, True),
    "base_thruster_power": (0.0, None, True),
}
#: the clips may be switched off with inf
_MAY_BE_INFINITE = ("clip_position", "clip_velocity", "clip_angular_velocity")


@struct.dataclass
class RigidBody:
    """Struct-of-arrays for n bodies of one shape kind (n = P polygons or C circles).

    Attributes:
        position: (n, 2) centre of mass, world frame, m.
        rotation: (n,) angle, rad (not wrapped).
        velocity: (n, 2) m/s.  angular_velocity: (n,) rad/s.
        inverse_mass: (n,) 1/kg, 0 for static bodies.  inverse_inertia: (n,) 1/(kg m^2), 0 if static.
        density: (n,) kg/m^2 (informational; masses are already derived).
        friction: (n,) Coulomb coefficient; a pair uses sqrt(f_a * f_b).
        restitution: (n,) in [0, 1]; a pair uses max(e_a, e_b).
        collision_mode: (n,) int, see :class:`CollisionMode`.
        active: (n,) bool mask; inactive slots never move or collide.
        n_vertices: (n,) int, number of used vertex slots (polygons; 0 for circles).
        vertices: (n, V, 2) local frame about the centre of mass, counter-clockwise; unused slots
            repeat vertex 0.  radius: (n,) m (circles; 0 for polygons).
    """

    position: jnp.ndarray
    rotation: jnp.ndarray
    velocity: jnp.ndarray
    angular_velocity: jnp.ndarray
    inverse_mass: jnp.ndarray
    inverse_inertia: jnp.ndarray
    density: jnp.ndarray
    friction: jnp.ndarray
    restitution: jnp.ndarray
    collision_mode: jnp.ndarray
    active: jnp.ndarray
    n_vertices: jnp.ndarray
    vertices: jnp.ndarray
    radius: jnp.ndarray


@struct.dataclass
class Joint:
    """J joint slots (revolute or fixed) between two bodies given by global index.

    Attributes:
        a_index, b_index: (J,) int global body indices.
        a_relative_pos, b_relative_pos: (J, 2) anchor in each body's local frame (about its CoM), m.
        active: (J,) bool.  is_fixed_joint: (J,) bool (also locks the relative angle).
        reference_angle: (J,) rotation_b - rotation_a at build time, rad.
        motor_on: (J,) bool.  motor_speed: (J,) target relative speed per unit action, in units of
            ``SimParams.base_motor_speed``.  motor_power: (J,) in units of ``base_motor_power``.
        motor_has_joint_limits: (J,) bool.  min_rotation, max_rotation: (J,) limits on
            (rotation_b - rotation_a - reference_angle), rad.
        linear_impulse: (J, 2) accumulated point impulse, N s (warm start).
        angular_impulse: (J,) accumulated fixed-joint / limit impulse, N m s (warm start).
        motor_impulse: (J,) accumulated motor impulse, N m s (warm start).
        limit_impulse: (J, 2) accumulated lower / upper angle-limit impulses, N m s (warm start).
    """

    a_index: jnp.ndarray
    b_index: jnp.ndarray
    a_relative_pos: jnp.ndarray
    b_relative_pos: jnp.ndarray
    active: jnp.ndarray
    is_fixed_joint: jnp.ndarray
    reference_angle: jnp.ndarray
    motor_on: jnp.ndarray
    motor_speed: jnp.ndarray
    motor_power: jnp.ndarray
    motor_has_joint_limits: jnp.ndarray
    min_rotation: jnp.ndarray
    max_rotation: jnp.ndarray
    linear_impulse: jnp.ndarray
    angular_impulse: jnp.ndarray
    motor_impulse: jnp.ndarray
    limit_impulse: jnp.ndarray


@struct.dataclass
class Thruster:
    """T thrusters fixed to bodies.

    Attributes:
        object_index: (T,) int global body index.
        relative_position: (T, 2) mount point in the body's local frame (about its CoM), m.
        rotation: (T,) thrust direction in the body frame, rad (force along (cos, sin)).
        power: (T,) in units of ``SimParams.base_thruster_power``.
        active: (T,) bool.
    """

    object_index: jnp.ndarray
    relative_position: jnp.ndarray
    rotation: jnp.ndarray
    power: jnp.ndarray
    active: jnp.ndarray


@struct.dataclass
class Manifold:
    """Contact manifolds of every candidate body pair, up to 2 points each.

    M pair slots (see :func:`rizzlib.jax2d.pairs.pair_schedule`); slots whose ``body_b`` equals
    P + C are padding and never active.

    Attributes:
        body_a, body_b: (M,) int global indices (body_a < body_b).
        normal: (M, 2) unit normal from A to B.
        separation: (M, 2) signed gap per point, m (negative = overlapping).
        point: (M, 2, 2) contact points, world frame, m (midway between the surfaces).
        active: (M, 2) bool: point exists (overlapping or within the speculative distance).
        normal_impulse: (M, 2) accumulated normal impulse, N s.
        tangent_impulse: (M, 2) accumulated friction impulse, N s.
        feature: (M,) int id of the (reference face, incident face) pair; warm starting is kept
            only while it does not change.
    """

    body_a: jnp.ndarray
    body_b: jnp.ndarray
    normal: jnp.ndarray
    separation: jnp.ndarray
    point: jnp.ndarray
    active: jnp.ndarray
    normal_impulse: jnp.ndarray
    tangent_impulse: jnp.ndarray
    feature: jnp.ndarray

    @property
    def touching(self) -> jnp.ndarray:
        """(M,) bool: the pair has at least one overlapping point."""
        return jnp.any(self.active & (self.separation < 0.0), axis=-1)


@struct.dataclass
class SimState:
    """One scene. Batch scenes by stacking every leaf (``jax.tree.map``) and ``vmap``.

    Attributes:
        polygon: RigidBody with P rows.  circle: RigidBody with C rows.
        joint: Joint with J rows.  thruster: Thruster with T rows.
        collision_matrix: (P+C, P+C) bool, False on the diagonal, between static bodies and between
            bodies linked by any chain of joints.
        contacts: Manifold of the last step (warm-start impulses live here).
        gravity: (2,) m/s^2.
    """

    polygon: RigidBody
    circle: RigidBody
    joint: Joint
    thruster: Thruster
    collision_matrix: jnp.ndarray
    contacts: Manifold
    gravity: jnp.ndarray
