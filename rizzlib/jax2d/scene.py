"""Building scenes: :class:`SceneBuilder` (validated, Python-side) and the all-inactive state.

Example::

    static = StaticConfig(num_polygons=6, num_circles=2, num_joints=1, num_thrusters=1)
    sb = SceneBuilder(static)
    sb.add_borders()                                   # 4 ordinary static boxes around [0,5]^2
    box = sb.add_box((2.5, 1.0), (1.0, 0.4))
    wheel = sb.add_circle((2.0, 1.0), 0.3)
    sb.add_revolute_joint(box, wheel, anchor=(2.0, 1.0), motor=True)
    state = sb.build()

Indices returned by ``add_*`` are global body indices (polygons 0..P-1, circles P..P+C-1), joint
slots and thruster slots.
"""

from __future__ import annotations

import copy
import functools
import math

import jax.numpy as jnp
import numpy as np

from rizzlib.core.validate import check_choice, check_finite, check_range, check_shape
from rizzlib.jax2d.contacts import empty_manifold
from rizzlib.jax2d.mass import circle_mass, polygon_area, polygon_mass
from rizzlib.jax2d.types import CollisionMode, Joint, RigidBody, SimParams, SimState, StaticConfig, Thruster

DEFAULT_FRICTION = 0.6
DEFAULT_GRAVITY = (0.0, -9.81)


def _empty_bodies(n: int, v: int) -> dict:
    return dict(
        position=np.zeros((n, 2), np.float32),
        rotation=np.zeros((n,), np.float32),
        velocity=np.zeros((n, 2), np.float32),
        angular_velocity=np.zeros((n,), np.float32),
        inverse_mass=np.zeros((n,), np.float32),
        inverse_inertia=np.zeros((n,), np.float32),
        density=np.zeros((n,), np.float32),
        friction=np.zeros((n,), np.float32),
        restitution=np.zeros((n,), np.float32),
        collision_mode=np.zeros((n,), np.int32),
        active=np.zeros((n,), bool),
        n_vertices=np.zeros((n,), np.int32),
        vertices=np.zeros((n, v, 2), np.float32),
        radius=np.zeros((n,), np.float32),
    )


def _empty_joints(n: int) -> dict:
    return dict(
        a_index=np.zeros((n,), np.int32),
        b_index=np.zeros((n,), np.int32),
        a_relative_pos=np.zeros((n, 2), np.float32),
        b_relative_pos=np.zeros((n, 2), np.float32),
        active=np.zeros((n,), bool),
        is_fixed_joint=np.zeros((n,), bool),
        reference_angle=np.zeros((n,), np.float32),
        motor_on=np.zeros((n,), bool),
        motor_speed=np.zeros((n,), np.float32),
        motor_power=np.zeros((n,), np.float32),
        motor_has_joint_limits=np.zeros((n,), bool),
        min_rotation=np.zeros((n,), np.float32),
        max_rotation=np.zeros((n,), np.float32),
        linear_impulse=np.zeros((n, 2), np.float32),
        angular_impulse=np.zeros((n,), np.float32),
        motor_impulse=np.zeros((n,), np.float32),
        limit_impulse=np.zeros((n, 2), np.float32),
    )


def _empty_thrusters(n: int) -> dict:
    return dict(
        object_index=np.zeros((n,), np.int32),
        relative_position=np.zeros((n, 2), np.float32),
        rotation=np.zeros((n,), np.float32),
        power=np.zeros((n,), np.float32),
        active=np.zeros((n,), bool),
    )


def compute_collision_matrix(state: SimState) -> jnp.ndarray:
    """(N, N) bool: which body pairs may collide, from the joints and the static flags (jittable).

    False on the diagonal, between two static bodies, and between bodies connected by any chain of
    active joints (transitive closure by repeated squaring of the adjacency matrix).
    """
    n = state.polygon.active.shape[0] + state.circle.active.shape[0]
    j = state.joint
    adj = jnp.eye(n, dtype=jnp.float32)
    adj = adj.at[j.a_index, j.b_index].max(j.active.astype(jnp.float32))
    adj = adj.at[j.b_index, j.a_index].max(j.active.astype(jnp.float32))
    for _ in range(max(1, math.ceil(math.log2(max(n, 2))))):
        adj = jnp.minimum(adj @ adj, 1.0)
    inv_m = jnp.concatenate([state.polygon.inverse_mass, state.circle.inverse_mass])
    inv_i = jnp.concatenate([state.polygon.inverse_inertia, state.circle.inverse_inertia])
    is_static = (inv_m == 0.0) & (inv_i == 0.0)
    return (adj == 0.0) & ~(is_static[:, None] & is_static[None, :])


def empty_state(static: StaticConfig, gravity=DEFAULT_GRAVITY) -> SimState:
    """A scene with every slot inactive (the template for building and loading)."""
    v = static.max_polygon_vertices
    state = SimState(
        polygon=RigidBody(**{k: jnp.asarray(x) for k, x in _empty_bodies(static.num_polygons, v).items()}),
        circle=RigidBody(**{k: jnp.asarray(x) for k, x in _empty_bodies(static.num_circles, v).items()}),
        joint=Joint(**{k: jnp.asarray(x) for k, x in _empty_joints(static.num_joints).items()}),
        thruster=Thruster(**{k: jnp.asarray(x) for k, x in _empty_thrusters(static.num_thrusters).items()}),
        collision_matrix=jnp.zeros((static.num_bodies, static.num_bodies), bool),
        contacts=empty_manifold(static),
        gravity=jnp.asarray(gravity, jnp.float32),
    )
    return state.replace(collision_matrix=compute_collision_matrix(state))


def _num(name: str, value, low=None, high=None, *, low_inclusive: bool = True) -> float:
    """A finite number in [low, high] (or a ValueError naming ``name`` and the range)."""
    check_range(name, value, low, high, low_inclusive=low_inclusive)
    if not math.isfinite(float(value)):
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name} must be a finite number in [{lo}, {hi}]; got {value!r}")
    return float(value)


def _atomic(method):
    """Run a builder method on a copy of its tables: if it raises, the builder is left exactly as
    it was (no half-added shape, joint or border)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        saved = copy.deepcopy(self.__dict__)
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    return wrapper


def _vec2(name: str, value) -> np.ndarray:
    a = np.asarray(value, dtype=np.float64)
    check_shape(name, a, (2,))
    check_finite(name, a)
    return a


def _rot(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def validate_polygon(vertices, max_vertices: int, name: str = "vertices") -> np.ndarray:
    """Return the vertices (k, 2) counter-clockwise, or raise ValueError naming ``name``.

    Rejects: wrong shape, fewer than 3 or more than ``max_vertices`` points, NaN/inf, zero area,
    repeated or collinear vertices, and non-convex outlines.
    """
    v = np.asarray(vertices, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 2:
        raise ValueError(f"{name} must have shape (k, 2); got {v.shape}")
    if not 3 <= v.shape[0] <= max_vertices:
        raise ValueError(
            f"{name} must have between 3 and max_polygon_vertices={max_vertices} points; got {v.shape[0]}"
        )
    check_finite(name, v)
    area = polygon_area(v)
    scale = max(float(np.ptp(v, axis=0).max()), 1e-12)
    if abs(area) < 1e-6 * scale**2 or scale < 1e-4:
        raise ValueError(f"{name} is degenerate (area {area:.3g} m^2); a polygon needs a positive area")
    if area < 0:
        v = v[::-1].copy()
    e = np.roll(v, -1, axis=0) - v
    turn = e[:, 0] * np.roll(e, -1, axis=0)[:, 1] - e[:, 1] * np.roll(e, -1, axis=0)[:, 0]
    if np.any(np.linalg.norm(e, axis=1) < 1e-6 * scale):
        raise ValueError(f"{name} has repeated vertices; every edge must have a positive length")
    if np.any(turn <= 1e-9 * scale**2):
        raise ValueError(f"{name} is not strictly convex (a reflex or collinear vertex); got {v.tolist()}")
    return v


class SceneBuilder:
    """Add shapes, joints and thrusters by world position, then :meth:`build` a :class:`SimState`.

    Every number is validated (finite, in range; the error names the argument), and a call that
    raises leaves the builder exactly as it was. Initial values a step would clip are rejected
    rather than clipped: a dynamic body must start within ``params.clip_position`` (per axis),
    ``params.clip_velocity`` and ``params.clip_angular_velocity``; pass ``params`` with a clip set
    to ``inf`` to opt out. Static bodies may be placed anywhere (steps never move them).

    Args:
        static: the slot counts; adding more shapes than they allow raises ValueError.
        gravity: (2,) m/s^2.
        params: the :class:`SimParams` the scene will run with (default ``SimParams()``), for the
            clip limits above.
    """

    def __init__(self, static: StaticConfig | None = None, gravity=DEFAULT_GRAVITY, params: SimParams | None = None):
        if static is not None and not isinstance(static, StaticConfig):
            raise ValueError(f"static must be a StaticConfig; got {type(static).__name__}")
        if params is not None and not isinstance(params, SimParams):
            raise ValueError(f"params must be a SimParams; got {type(params).__name__}")
        self.static = StaticConfig() if static is None else static
        self.params = SimParams() if params is None else params
        self.gravity = _vec2("gravity", gravity)
        v = self.static.max_polygon_vertices
        self._poly = _empty_bodies(self.static.num_polygons, v)
        self._circ = _empty_bodies(self.static.num_circles, v)
        self._joint = _empty_joints(self.static.num_joints)
        self._thr = _empty_thrusters(self.static.num_thrusters)
        self.num_polygons = self.num_circles = self.num_joints = self.num_thrusters = 0

    # ------------------------------------------------------------------ shapes
    def _body_common(self, position, rotation, density, friction, restitution, velocity, angular_velocity,
                     collision_mode, static):
        position = _vec2("position", position)
        _num("rotation", rotation)
        _num("density", density, 0.0, None, low_inclusive=False)
        _num("friction", friction, 0.0, None)
        _num("restitution", restitution, 0.0, 1.0)
        velocity = _vec2("velocity", velocity)
        _num("angular_velocity", angular_velocity)
        if not isinstance(static, (bool, np.bool_, int, np.integer)) or static not in (True, False):
            raise ValueError(f"static must be True or False; got {static!r}")
        try:
            mode = int(collision_mode)
        except (TypeError, ValueError):
            raise ValueError(f"collision_mode must be one of {[int(m) for m in CollisionMode]}; got {collision_mode!r}") from None
        if mode != collision_mode:
            raise ValueError(f"collision_mode must be an integer; got {collision_mode!r}")
        check_choice("collision_mode", mode, [int(m) for m in CollisionMode])
        if not static:
            self._check_clips(position, velocity, angular_velocity)
        return position, velocity

    def _check_clips(self, position, velocity, angular_velocity):
        p = self.params
        hint = "a step would clip it; move it, or pass params=SimParams({}=inf) to opt out"
        if np.abs(position).max() > float(p.clip_position):
            raise ValueError(f"position must be within clip_position={float(p.clip_position):g} m per axis "
                             f"for a dynamic body; got {position.tolist()} ({hint.format('clip_position')})")
        if np.abs(velocity).max() > float(p.clip_velocity):
            raise ValueError(f"velocity must be within clip_velocity={float(p.clip_velocity):g} m/s per axis; "
                             f"got {velocity.tolist()} ({hint.format('clip_velocity')})")
        if abs(float(angular_velocity)) > float(p.clip_angular_velocity):
            raise ValueError(f"angular_velocity must be within clip_angular_velocity="
                             f"{float(p.clip_angular_velocity):g} rad/s; got {angular_velocity!r} "
                             f"({hint.format('clip_angular_velocity')})")

    def _set_body(self, table, slot, position, rotation, mass, inertia, density, friction, restitution,
                  static, velocity, angular_velocity, collision_mode):
        if mass <= 0 or inertia <= 0 or not np.isfinite(mass) or not np.isfinite(inertia):
            raise ValueError(f"density gives a non-positive or non-finite mass ({mass:.3g} kg) or inertia ({inertia:.3g})")
        table["position"][slot] = position
        table["rotation"][slot] = rotation
        table["velocity"][slot] = 0.0 if static else velocity
        table["angular_velocity"][slot] = 0.0 if static else angular_velocity
        table["inverse_mass"][slot] = 0.0 if static else 1.0 / mass
        table["inverse_inertia"][slot] = 0.0 if static else 1.0 / inertia
        table["density"][slot] = density
        table["friction"][slot] = friction
        table["restitution"][slot] = restitution
        table["collision_mode"][slot] = int(collision_mode)
        table["active"][slot] = True

    @_atomic
    def add_polygon(self, vertices, position=(0.0, 0.0), rotation=0.0, *, density=1.0,
                    friction=DEFAULT_FRICTION, restitution=0.0, static=False, velocity=(0.0, 0.0),
                    angular_velocity=0.0, collision_mode=CollisionMode.NORMAL) -> int:
        """Add a convex polygon; returns its global body index.

        Args:
            vertices: (k, 2) outline in the shape's frame (either winding), 3 <= k <= max_polygon_vertices, m.
            position: (2,) where the shape frame's origin goes, world, m.
            rotation: shape frame angle, rad.  density: kg/m^2 (> 0).  friction: >= 0.
            restitution: in [0, 1].  static: immovable (infinite mass).
            velocity: (2,) m/s and angular_velocity rad/s (ignored for static shapes).
            collision_mode: see :class:`CollisionMode`.
        """
        if self.num_polygons >= self.static.num_polygons:
            raise ValueError(
                f"num_polygons={self.static.num_polygons} slots are full; raise StaticConfig.num_polygons"
            )
        _vec2("position", position)
        _num("rotation", rotation)
        v = validate_polygon(vertices, self.static.max_polygon_vertices)
        mass, inertia, centroid = polygon_mass(v, _num("density", density, 0.0, None, low_inclusive=False))
        world_centroid = np.asarray(position, np.float64) + _rot(float(rotation)) @ centroid
        world_centroid, velocity = self._body_common(world_centroid, rotation, density, friction, restitution,
                                                     velocity, angular_velocity, collision_mode, static)
        slot = self.num_polygons
        local = np.repeat((v - centroid)[:1], self.static.max_polygon_vertices, axis=0)
        local[: len(v)] = v - centroid
        self._poly["vertices"][slot] = local
        self._poly["n_vertices"][slot] = len(v)
        self._set_body(self._poly, slot, world_centroid, rotation, mass, inertia, density, friction,
                       restitution, static, velocity, angular_velocity, collision_mode)
        self.num_polygons += 1
        return slot

    @_atomic
    def add_box(self, position, size, rotation=0.0, **kwargs) -> int:
        """Add a rectangle of ``size`` (width, height) m centred at ``position``; see :meth:`add_polygon`."""
        size = _vec2("size", size)
        if np.any(size <= 0):
            raise ValueError(f"size must be positive (width, height); got {size.tolist()}")
        w, h = size / 2
        return self.add_polygon([(-w, -h), (w, -h), (w, h), (-w, h)], position, rotation, **kwargs)

    @_atomic
    def add_circle(self, position, radius, *, density=1.0, friction=DEFAULT_FRICTION, restitution=0.0,
                   static=False, velocity=(0.0, 0.0), angular_velocity=0.0, rotation=0.0,
                   collision_mode=CollisionMode.NORMAL) -> int:
        """Add a circle of ``radius`` m centred at ``position``; returns its global body index."""
        if self.num_circles >= self.static.num_circles:
            raise ValueError(
                f"num_circles={self.static.num_circles} slots are full; raise StaticConfig.num_circles"
            )
        radius = _num("radius", radius, 0.0, None, low_inclusive=False)
        position, velocity = self._body_common(position, rotation, density, friction, restitution,
                                               velocity, angular_velocity, collision_mode, static)
        mass, inertia = circle_mass(radius, density)
        slot = self.num_circles
        self._circ["radius"][slot] = radius
        self._set_body(self._circ, slot, position, rotation, mass, inertia, density, friction,
                       restitution, static, velocity, angular_velocity, collision_mode)
        self.num_circles += 1
        return self.static.num_polygons + slot

    @_atomic
    def add_borders(self, width=5.0, height=5.0, thickness=0.5, *, floor=True, walls=True, ceiling=True,
                    friction=DEFAULT_FRICTION, restitution=0.0) -> list[int]:
        """Static boxes just outside [0, width] x [0, height]: floor top at y=0, walls at x=0 and
        x=width, ceiling bottom at y=height. Returns their body indices (floor, left, right, ceiling)."""
        w = _num("width", width, 0.0, None, low_inclusive=False)
        h = _num("height", height, 0.0, None, low_inclusive=False)
        t = _num("thickness", thickness, 0.0, None, low_inclusive=False)
        _num("friction", friction, 0.0, None)
        _num("restitution", restitution, 0.0, 1.0)
        need = sum(int(bool(x)) for x in (floor, walls, walls, ceiling))
        if self.num_polygons + need > self.static.num_polygons:
            raise ValueError(f"add_borders needs {need} polygon slots but only "
                             f"{self.static.num_polygons - self.num_polygons} of num_polygons="
                             f"{self.static.num_polygons} are free; raise StaticConfig.num_polygons")
        kw = dict(static=True, friction=friction, restitution=restitution, collision_mode=CollisionMode.EVERYTHING)
        out = []
        if floor:
            out.append(self.add_box((w / 2, -t / 2), (w + 2 * t, t), **kw))
        if walls:
            out.append(self.add_box((-t / 2, h / 2), (t, h), **kw))
            out.append(self.add_box((w + t / 2, h / 2), (t, h), **kw))
        if ceiling:
            out.append(self.add_box((w / 2, h + t / 2), (w + 2 * t, t), **kw))
        return out

    @_atomic
    def add_floor(self, y=0.0, x_min=-5.0, x_max=10.0, thickness=0.5, **kwargs) -> int:
        """A static slab whose top surface is at height ``y`` from ``x_min`` to ``x_max``."""
        y = _num("y", y)
        x_min = _num("x_min", x_min)
        x_max = _num("x_max", x_max, x_min, None, low_inclusive=False)
        thickness = _num("thickness", thickness, 0.0, None, low_inclusive=False)
        kwargs.setdefault("collision_mode", CollisionMode.EVERYTHING)
        return self.add_box(((x_min + x_max) / 2, y - thickness / 2), (x_max - x_min, thickness), static=True, **kwargs)

    # ------------------------------------------------------------------ joints and thrusters
    def _body(self, name: str, index) -> tuple[np.ndarray, float]:
        """(position, rotation) of an existing body, or ValueError naming the argument."""
        p = self.static.num_polygons
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise ValueError(f"{name} must be a body index (int); got {index!r}")
        if 0 <= index < self.num_polygons:
            return self._poly["position"][index].astype(np.float64), float(self._poly["rotation"][index])
        if p <= index < p + self.num_circles:
            c = index - p
            return self._circ["position"][c].astype(np.float64), float(self._circ["rotation"][c])
        raise ValueError(
            f"{name}={index} is not an existing body (polygons 0..{self.num_polygons - 1}, "
            f"circles {p}..{p + self.num_circles - 1})"
        )

    def _add_joint(self, a, b, anchor, fixed, motor, motor_speed, motor_power, limits) -> int:
        if self.num_joints >= self.static.num_joints:
            raise ValueError(f"num_joints={self.static.num_joints} slots are full; raise StaticConfig.num_joints")
        pa, ra = self._body("a", a)
        pb, rb = self._body("b", b)
        if a == b:
            raise ValueError(f"a and b must be different bodies; got a=b={a}")
        anchor = (pa + pb) / 2 if anchor is None else _vec2("anchor", anchor)
        _num("motor_speed", motor_speed)
        _num("motor_power", motor_power, 0.0, None)
        if limits is not None:
            if np.shape(limits) != (2,):
                raise ValueError(f"limits must be a pair (min, max) in rad; got {limits!r}")
            lo = _num("limits[0]", limits[0], -2 * math.pi, 2 * math.pi)
            hi = _num("limits[1]", limits[1], lo, 2 * math.pi)
        k = self.num_joints
        j = self._joint
        j["a_index"][k], j["b_index"][k] = a, b
        j["a_relative_pos"][k] = _rot(ra).T @ (anchor - pa)
        j["b_relative_pos"][k] = _rot(rb).T @ (anchor - pb)
        j["active"][k] = True
        j["is_fixed_joint"][k] = fixed
        j["reference_angle"][k] = rb - ra
        j["motor_on"][k] = bool(motor)
        j["motor_speed"][k] = motor_speed
        j["motor_power"][k] = motor_power
        if limits is not None:
            j["motor_has_joint_limits"][k] = True
            j["min_rotation"][k], j["max_rotation"][k] = lo, hi
        self.num_joints += 1
        return k

    @_atomic
    def add_revolute_joint(self, a, b, anchor, *, motor=False, motor_speed=1.0, motor_power=1.0, limits=None) -> int:
        """Pin bodies ``a`` and ``b`` together at the world point ``anchor`` (2,) m; returns the joint slot.

        Args:
            motor: drive the relative speed w_b - w_a towards motor_speed * action * base_motor_speed.
            motor_speed: target per unit action (x SimParams.base_motor_speed rad/s).
            motor_power: >= 0, bound on the motor's angular acceleration (x base_motor_power rad/s^2).
            limits: optional (min, max) on rotation_b - rotation_a relative to now, rad.
        """
        return self._add_joint(a, b, anchor, False, motor, motor_speed, motor_power, limits)

    @_atomic
    def add_fixed_joint(self, a, b, anchor=None) -> int:
        """Weld ``a`` and ``b`` (relative position and angle kept); anchor defaults to the midpoint."""
        return self._add_joint(a, b, anchor, True, False, 0.0, 0.0, None)

    @_atomic
    def add_thruster(self, body, position, rotation=0.0, power=1.0) -> int:
        """Mount a thruster on ``body`` at world ``position`` (2,) m, pushing along the world angle
        ``rotation`` rad (it turns with the body afterwards); force = power * base_thruster_power N."""
        if self.num_thrusters >= self.static.num_thrusters:
            raise ValueError(
                f"num_thrusters={self.static.num_thrusters} slots are full; raise StaticConfig.num_thrusters"
            )
        pb, rb = self._body("body", body)
        position = _vec2("position", position)
        _num("rotation", rotation)
        _num("power", power, 0.0, None)
        k = self.num_thrusters
        self._thr["object_index"][k] = body
        self._thr["relative_position"][k] = _rot(rb).T @ (position - pb)
        self._thr["rotation"][k] = rotation - rb
        self._thr["power"][k] = power
        self._thr["active"][k] = True
        self.num_thrusters += 1
        return k

    # ------------------------------------------------------------------ output
    def build(self) -> SimState:
        """The scene as a :class:`SimState` (a fresh copy each call)."""
        state = SimState(
            polygon=RigidBody(**{k: jnp.asarray(x) for k, x in self._poly.items()}),
            circle=RigidBody(**{k: jnp.asarray(x) for k, x in self._circ.items()}),
            joint=Joint(**{k: jnp.asarray(x) for k, x in self._joint.items()}),
            thruster=Thruster(**{k: jnp.asarray(x) for k, x in self._thr.items()}),
            collision_matrix=jnp.zeros((self.static.num_bodies,) * 2, bool),
            contacts=empty_manifold(self.static),
            gravity=jnp.asarray(self.gravity, jnp.float32),
        )
        return state.replace(collision_matrix=compute_collision_matrix(state))
