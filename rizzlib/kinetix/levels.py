"""Building and validating levels.

:class:`LevelBuilder` wraps :class:`rizzlib.jax2d.SceneBuilder` (which validates every shape, joint
and thruster) and adds the Kinetix layer: a role per shape and the action channel of every motor and
thruster. :func:`validate_level` checks a level made any other way (e.g. converted from JSON) against
an :class:`EnvConfig`, naming the offending field.

Example::

    lb = LevelBuilder(EnvConfig.for_size("s"))          # borders in polygon slots 0-3
    car = lb.add_box((1.0, 0.3), (0.8, 0.2), role=Role.GREEN)
    wheel = lb.add_circle((0.8, 0.2), 0.2)
    lb.add_revolute_joint(car, wheel, (0.8, 0.2), motor_binding=0)
    lb.add_box((4.8, 0.5), (0.2, 1.0), role=Role.BLUE, static=True)
    level = lb.build()
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rizzlib.core.validate import check_choice, check_int_range
from rizzlib.jax2d import SceneBuilder, compute_collision_matrix
from rizzlib.kinetix.types import NUM_BORDERS, NUM_ROLES, EnvConfig, Level, Role


def _role(name: str, role) -> int:
    return check_choice(name, int(role) if isinstance(role, (int, np.integer, Role)) else role,
                        [int(r) for r in Role])


class LevelBuilder:
    """Add shapes with roles, joints with motor channels and thrusters with thruster channels.

    Args:
        config: the environment size the level must fit.
        floor_role: role of the floor (Kinetix samples red 8 % of the time).
        borders: add the floor, walls and ceiling in polygon slots 0-3 (required by the env; turn
            off only to add custom borders yourself, exactly 4 polygons first).
    """

    def __init__(self, config: EnvConfig | None = None, floor_role: int = Role.DEFAULT, borders: bool = True):
        self.config = EnvConfig() if config is None else config
        self.scene = SceneBuilder(self.config.sim)
        s = self.config.sim
        self._proles = np.zeros(s.num_polygons, np.int32)
        self._croles = np.zeros(s.num_circles, np.int32)
        self._mbind = np.zeros(s.num_joints, np.int32)
        self._mauto = np.zeros(s.num_joints, bool)
        self._tbind = np.zeros(s.num_thrusters, np.int32)
        if borders:
            self.scene.add_borders()
            self.set_role(0, floor_role)

    # ------------------------------------------------------------------ shapes
    def set_role(self, body: int, role) -> None:
        """Give the shape with global index ``body`` a :class:`Role`."""
        role = _role("role", role)
        p = self.config.sim.num_polygons
        check_int_range("body", body, 0, self.config.num_shapes - 1)
        if body < p:
            if body >= self.scene.num_polygons:
                raise ValueError(f"body={body} is not an existing polygon (0..{self.scene.num_polygons - 1})")
            self._proles[body] = role
        else:
            if body - p >= self.scene.num_circles:
                raise ValueError(f"body={body} is not an existing circle ({p}..{p + self.scene.num_circles - 1})")
            self._croles[body - p] = role

    def add_polygon(self, vertices, position=(0.0, 0.0), rotation=0.0, *, role=Role.DEFAULT, **kwargs) -> int:
        """Convex polygon (see ``SceneBuilder.add_polygon``) with a role; returns its global index."""
        role = _role("role", role)
        i = self.scene.add_polygon(vertices, position, rotation, **kwargs)
        self._proles[i] = role
        return i

    def add_box(self, position, size, rotation=0.0, *, role=Role.DEFAULT, **kwargs) -> int:
        """Rectangle of ``size`` (width, height) m centred at ``position``; returns its global index."""
        role = _role("role", role)
        i = self.scene.add_box(position, size, rotation, **kwargs)
        self._proles[i] = role
        return i

    def add_circle(self, position, radius, *, role=Role.DEFAULT, **kwargs) -> int:
        """Circle of ``radius`` m at ``position``; returns its global index."""
        role = _role("role", role)
        i = self.scene.add_circle(position, radius, **kwargs)
        self._croles[i - self.config.sim.num_polygons] = role
        return i

    # ------------------------------------------------------------------ joints and thrusters
    def add_revolute_joint(self, a, b, anchor, *, motor=True, motor_binding=0, motor_auto=False, motor_speed=1.0,
                           motor_power=1.0, limits=None) -> int:
        """Revolute joint at world ``anchor``; its motor listens to action channel ``motor_binding``."""
        check_int_range("motor_binding", motor_binding, 0, self.config.num_motor_bindings - 1)
        k = self.scene.add_revolute_joint(a, b, anchor, motor=motor, motor_speed=motor_speed,
                                          motor_power=motor_power, limits=limits)
        self._mbind[k] = motor_binding
        self._mauto[k] = bool(motor_auto)
        return k

    def add_fixed_joint(self, a, b, anchor=None) -> int:
        """Weld ``a`` and ``b``."""
        return self.scene.add_fixed_joint(a, b, anchor)

    def add_thruster(self, body, position, rotation=0.0, power=1.0, *, binding=0) -> int:
        """Thruster on ``body`` pushing along world angle ``rotation``; listens to channel ``binding``."""
        check_int_range("binding", binding, 0, self.config.num_thruster_bindings - 1)
        k = self.scene.add_thruster(body, position, rotation, power)
        self._tbind[k] = binding
        return k

    def build(self) -> Level:
        """The level (validated)."""
        level = Level(
            sim=self.scene.build(),
            polygon_role=jnp.asarray(self._proles),
            circle_role=jnp.asarray(self._croles),
            motor_binding=jnp.asarray(self._mbind),
            motor_auto=jnp.asarray(self._mauto),
            thruster_binding=jnp.asarray(self._tbind),
        )
        validate_level(level, self.config)
        return level


def _shape_of(name, x, shape):
    if tuple(np.shape(x)) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)} for this EnvConfig; got {tuple(np.shape(x))}")


def validate_level(level: Level, config: EnvConfig) -> Level:
    """Raise ValueError naming the field if ``level`` (one, unbatched) does not fit ``config``.

    Checks array sizes against the slot counts (more entities than the size holds), roles in
    0..3, bindings below the channel counts, that joints and thrusters point at active shapes,
    and that the borders occupy polygon slots 0-3.
    """
    s = config.sim
    if not isinstance(level, Level):
        raise ValueError(f"level must be a rizzlib.kinetix.Level; got {type(level).__name__}")
    lv = jax.tree.map(np.asarray, level)
    for name, n in (("polygon", s.num_polygons), ("circle", s.num_circles)):
        body = getattr(lv.sim, name)
        got = body.active.shape
        if len(got) != 1:
            raise ValueError(f"sim.{name}.active must be 1-D (one level, not a batch); got shape {got}")
        if got[0] != n:
            raise ValueError(f"sim.{name} has {got[0]} slots but num_{name}s={n}; the level does not fit this size")
    for name, n in (("joint", s.num_joints), ("thruster", s.num_thrusters)):
        got = getattr(lv.sim, name).active.shape[0]
        if got != n:
            raise ValueError(f"sim.{name} has {got} slots but num_{name}s={n}; the level does not fit this size")
    _shape_of("polygon_role", lv.polygon_role, (s.num_polygons,))
    _shape_of("circle_role", lv.circle_role, (s.num_circles,))
    _shape_of("motor_binding", lv.motor_binding, (s.num_joints,))
    _shape_of("motor_auto", lv.motor_auto, (s.num_joints,))
    _shape_of("thruster_binding", lv.thruster_binding, (s.num_thrusters,))
    for name in ("polygon_role", "circle_role"):
        r = getattr(lv, name)
        if r.size and (r.min() < 0 or r.max() >= NUM_ROLES):
            raise ValueError(f"{name} must be in 0..{NUM_ROLES - 1} (default, green, blue, red); got {r.tolist()}")
    ja = lv.sim.joint.active
    for name, b, n in (("motor_binding", lv.motor_binding, config.num_motor_bindings),
                       ("thruster_binding", lv.thruster_binding, config.num_thruster_bindings)):
        act = ja if name == "motor_binding" else lv.sim.thruster.active
        bad = act & ((b < 0) | (b >= n))
        if bad.any():
            raise ValueError(f"{name} must be in 0..{n - 1} (a missing action channel otherwise); got {b.tolist()}")
    active = np.concatenate([lv.sim.polygon.active, lv.sim.circle.active])
    nb = config.num_shapes
    for field in ("a_index", "b_index"):
        idx = getattr(lv.sim.joint, field)[ja]
        if idx.size and (idx.min() < 0 or idx.max() >= nb or not active[idx].all()):
            raise ValueError(f"sim.joint.{field} must point at active shapes (0..{nb - 1}); got {idx.tolist()}")
    ti = lv.sim.thruster.object_index[lv.sim.thruster.active]
    if ti.size and (ti.min() < 0 or ti.max() >= nb or not active[ti].all()):
        raise ValueError(f"sim.thruster.object_index must point at active shapes (0..{nb - 1}); got {ti.tolist()}")
    border = lv.sim.polygon
    if border.active[:NUM_BORDERS].any() and (border.inverse_mass[:NUM_BORDERS][border.active[:NUM_BORDERS]] != 0).any():
        raise ValueError("polygon slots 0-3 must hold the static borders (floor, left wall, right wall, ceiling)")
    for name in ("position", "velocity", "rotation"):
        for kind in ("polygon", "circle"):
            x = getattr(getattr(lv.sim, kind), name)
            if not np.isfinite(x).all():
                raise ValueError(f"sim.{kind}.{name} must be finite")
    return level


def refresh_collision_matrix(level: Level) -> Level:
    """Recompute the engine's collision matrix after editing joints by hand."""
    return level.replace(sim=level.sim.replace(collision_matrix=compute_collision_matrix(level.sim)))


def stack_levels(levels) -> Level:
    """Stack a list of levels of one EnvConfig into one batched Level (leading axis = level)."""
    levels = list(levels)
    if not levels:
        raise ValueError("levels must hold at least one Level")
    return jax.tree.map(lambda *xs: jnp.asarray(np.stack([np.asarray(x) for x in xs])), *levels)


def index_level(levels: Level, i) -> Level:
    """Level ``i`` of a batched Level."""
    return jax.tree.map(lambda x: x[i], levels)


def num_levels(levels: Level) -> int:
    """Batch size of a batched Level (0-d batch -> error)."""
    shape = np.shape(levels.polygon_role)
    if len(shape) != 2:
        raise ValueError(f"levels must be a batched Level; polygon_role has shape {shape}")
    return shape[0]
