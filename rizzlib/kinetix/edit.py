"""Editing a level: pure functions that return a new, validated :class:`Level` (the widget's logic).

Each edit names a shape by its global body index (polygons 0..P-1, circles P..P+C-1; slots 0-3 are
the borders) or a joint by its slot, checks its arguments, and leaves the input untouched.

* :func:`set_role` - default, green, blue or red.
* :func:`scale_shape` - scale a dynamic or static shape about its centre of mass (circle radius,
  polygon vertices); mass and inertia follow from the density. Joint and thruster anchors stay
  where they are in the body frame, so a joint never jumps.
* :func:`set_density` - new mass and inertia for the same outline (static shapes stay static).
* :func:`set_motor_speed` - a revolute joint's motor speed (a multiple of the base 6 rad/s).

:func:`shape_table` and :func:`motor_table` list what can be edited.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from rizzlib.core.validate import check_int_range, check_range
from rizzlib.jax2d.mass import circle_mass, polygon_mass
from rizzlib.kinetix.levels import _role, validate_level
from rizzlib.kinetix.types import NUM_BORDERS, EnvConfig, Level, Role

#: largest extent (diameter / longest diagonal) of an edited shape, m (Kinetix's ``max_shape_size``)
MAX_SHAPE_SIZE = 2.0
#: smallest extent of an edited shape, m
MIN_SHAPE_SIZE = 0.05
DENSITY_RANGE = (0.01, 100.0)
#: motor speed multiples allowed (the random generator draws 0.4..3)
MOTOR_SPEED_RANGE = (-5.0, 5.0)


def _config(level: Level, config: EnvConfig | None) -> EnvConfig:
    if config is None:
        p, c = np.shape(level.polygon_role)[-1], np.shape(level.circle_role)[-1]
        j, t = np.shape(level.motor_binding)[-1], np.shape(level.thruster_binding)[-1]
        for size in "sml":
            cfg = EnvConfig.for_size(size)
            s = cfg.sim
            if (s.num_polygons, s.num_circles, s.num_joints, s.num_thrusters) == (p, c, j, t):
                return cfg
        raise ValueError("config is needed for a level that is not of size S, M or L")
    return config


def _body(level: Level, config: EnvConfig, body: int) -> tuple[str, int]:
    """('polygon' | 'circle', slot) of an active shape, else a ValueError naming ``body``."""
    check_int_range("body", body, 0, config.num_shapes - 1)
    p = config.sim.num_polygons
    kind, slot = ("polygon", body) if body < p else ("circle", body - p)
    if not bool(np.asarray(getattr(level.sim, kind).active)[slot]):
        raise ValueError(f"body={body} is an empty {kind} slot; pick an active shape (see shape_table)")
    return kind, slot


def _replace_body(level: Level, kind: str, **fields) -> Level:
    table = getattr(level.sim, kind).replace(**fields)
    return level.replace(sim=level.sim.replace(**{kind: table}))


def _extent(kind: str, radius: float, vertices: np.ndarray) -> float:
    if kind == "circle":
        return 2.0 * radius
    return float(max(np.linalg.norm(a - b) for a in vertices for b in vertices))


def _mass(kind: str, radius: float, vertices: np.ndarray, density: float) -> tuple[float, float]:
    if kind == "circle":
        return circle_mass(radius, density)
    m, inertia, _ = polygon_mass(vertices, density)
    return m, inertia


def shape_table(level: Level, config: EnvConfig | None = None) -> list[dict]:
    """One row per active shape: body index, kind, role name, extent (m), density, mass (kg), static."""
    config = _config(level, config)
    lv = level
    rows = []
    for kind, offset, roles in (("polygon", 0, lv.polygon_role), ("circle", config.sim.num_polygons, lv.circle_role)):
        b = getattr(lv.sim, kind)
        for slot in np.flatnonzero(np.asarray(b.active)):
            radius = float(b.radius[slot])
            verts = np.asarray(b.vertices[slot])[: int(b.n_vertices[slot])]
            inv_m = float(b.inverse_mass[slot])
            rows.append({
                "body": int(offset + slot), "kind": kind, "role": Role(int(roles[slot])).name.lower(),
                "extent": _extent(kind, radius, verts), "density": float(b.density[slot]),
                "mass": float("inf") if inv_m == 0 else 1.0 / inv_m, "static": inv_m == 0.0,
                "border": kind == "polygon" and slot < NUM_BORDERS,
            })
    return rows


def motor_table(level: Level) -> list[dict]:
    """One row per active revolute joint with a motor: joint slot, bodies, speed, power, channel, auto."""
    j = level.sim.joint
    rows = []
    for k in np.flatnonzero(np.asarray(j.active) & np.asarray(j.motor_on) & ~np.asarray(j.is_fixed_joint)):
        rows.append({"joint": int(k), "a": int(j.a_index[k]), "b": int(j.b_index[k]),
                     "speed": float(j.motor_speed[k]), "power": float(j.motor_power[k]),
                     "channel": int(level.motor_binding[k]), "auto": bool(level.motor_auto[k])})
    return rows


def set_role(level: Level, body: int, role, config: EnvConfig | None = None) -> Level:
    """A copy of ``level`` where shape ``body`` has :class:`Role` ``role``."""
    config = _config(level, config)
    role = _role("role", role)
    kind, slot = _body(level, config, body)
    name = "polygon_role" if kind == "polygon" else "circle_role"
    new = level.replace(**{name: jnp.asarray(getattr(level, name)).at[slot].set(role)})
    return validate_level(new, config)


def scale_shape(level: Level, body: int, factor: float, config: EnvConfig | None = None) -> Level:
    """A copy with shape ``body`` scaled by ``factor`` about its centre of mass (borders excluded).

    The extent must stay within [MIN_SHAPE_SIZE, MAX_SHAPE_SIZE] m; a dynamic shape gets the mass
    and inertia of its density.
    """
    config = _config(level, config)
    check_range("factor", factor, 0.0, None, low_inclusive=False)
    kind, slot = _body(level, config, body)
    if kind == "polygon" and slot < NUM_BORDERS:
        raise ValueError(f"body={body} is a border (polygon slots 0-{NUM_BORDERS - 1}); borders cannot be resized")
    b = getattr(level.sim, kind)
    radius = float(b.radius[slot]) * factor
    n = int(b.n_vertices[slot]) if kind == "polygon" else 0
    verts = np.asarray(b.vertices[slot], np.float64) * factor
    extent = _extent(kind, radius, verts[:n])
    if not MIN_SHAPE_SIZE <= extent <= MAX_SHAPE_SIZE:
        raise ValueError(f"factor={factor} gives an extent of {extent:.3f} m; the allowed range is "
                         f"[{MIN_SHAPE_SIZE}, {MAX_SHAPE_SIZE}] m")
    fields = {"radius": jnp.asarray(b.radius).at[slot].set(radius), "vertices": jnp.asarray(b.vertices).at[slot].set(verts.astype(np.float32))}
    if float(b.inverse_mass[slot]) != 0.0:
        m, inertia = _mass(kind, radius, verts[:n], float(b.density[slot]))
        fields["inverse_mass"] = jnp.asarray(b.inverse_mass).at[slot].set(1.0 / m)
        fields["inverse_inertia"] = jnp.asarray(b.inverse_inertia).at[slot].set(1.0 / inertia)
    return validate_level(_replace_body(level, kind, **fields), config)


def set_density(level: Level, body: int, density: float, config: EnvConfig | None = None) -> Level:
    """A copy with shape ``body`` of ``density`` kg/m^2 (in DENSITY_RANGE); mass and inertia follow."""
    config = _config(level, config)
    check_range("density", density, *DENSITY_RANGE)
    kind, slot = _body(level, config, body)
    b = getattr(level.sim, kind)
    fields = {"density": jnp.asarray(b.density).at[slot].set(density)}
    if float(b.inverse_mass[slot]) != 0.0:
        n = int(b.n_vertices[slot]) if kind == "polygon" else 0
        m, inertia = _mass(kind, float(b.radius[slot]), np.asarray(b.vertices[slot], np.float64)[:n], density)
        fields["inverse_mass"] = jnp.asarray(b.inverse_mass).at[slot].set(1.0 / m)
        fields["inverse_inertia"] = jnp.asarray(b.inverse_inertia).at[slot].set(1.0 / inertia)
    return validate_level(_replace_body(level, kind, **fields), config)


def set_motor_speed(level: Level, joint: int, speed: float, config: EnvConfig | None = None) -> Level:
    """A copy where revolute joint ``joint``'s motor runs at ``speed`` (x 6 rad/s, in MOTOR_SPEED_RANGE)."""
    config = _config(level, config)
    check_int_range("joint", joint, 0, config.sim.num_joints - 1)
    check_range("speed", speed, *MOTOR_SPEED_RANGE)
    motors = [r["joint"] for r in motor_table(level)]
    if joint not in motors:
        raise ValueError(f"joint={joint} is not an active motorised revolute joint; motorised joints: {motors}")
    j = level.sim.joint.replace(motor_speed=jnp.asarray(level.sim.joint.motor_speed).at[joint].set(speed))
    return validate_level(level.replace(sim=level.sim.replace(joint=j)), config)
