"""Levels to and from the ``kinetix-env`` JSON format (the paper's 74 hand-made levels ship in it).

:func:`level_from_kinetix` reads one level document; :func:`load_kinetix_levels` reads a file, a
folder of ``*.json`` or the ``kinetix-env`` wheel itself (``pip download kinetix-env==3.0.2
--no-deps``; the zip is read directly, ``kinetix`` is never imported). :func:`level_to_kinetix`
writes our levels in the same format; our own shipped levels are stored that way.

Conventions that differ, and what the converter does:

* Vertices: Kinetix stores them clockwise about the vertex mean; we store them counter-clockwise
  about the area centroid. The order is reversed and the body is re-centred on the area centroid
  (joint anchors and thrusters are moved with it), which is a no-op for rectangles and triangles.
* Masses: recomputed from density with our formulas. Kinetix's disc inertia is rho pi r^4 / 4, half
  the true m r^2 / 2, so our discs are harder to spin than theirs.
* Friction: Kinetix combines a pair as sqrt((0.4 f_a)^2 + (0.4 f_b)^2) (0.566 for two shapes of
  friction 1), we as sqrt(f_a f_b); we store f * 0.4 * sqrt(2) so equal frictions match exactly.
* Borders: Kinetix never collides polygon slots 0-3 with each other (its border-slot rule); our
  engine tests every pair, which changes nothing while the borders are static.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import zipfile

import jax.numpy as jnp
import numpy as np

from rizzlib.jax2d import SimState, StaticConfig, compute_collision_matrix, empty_state
from rizzlib.jax2d.mass import circle_mass, polygon_mass
from rizzlib.kinetix.levels import validate_level
from rizzlib.kinetix.types import EnvConfig, Level

#: our friction = theirs * FRICTION_SCALE, so that equal frictions give the same pair coefficient
FRICTION_SCALE = 0.4 * math.sqrt(2.0)
SIZES = ("s", "m", "l")


def _get(doc: dict, key: str, where: str):
    if not isinstance(doc, dict) or key not in doc:
        raise ValueError(f"kinetix level is missing the field {where}{key!r}")
    return doc[key]


def _vec(v, where) -> list[float]:
    if isinstance(v, dict):
        try:
            return [float(v[str(i)]) for i in range(len(v))]
        except KeyError:
            raise ValueError(f"field {where} must be a vector {{'0': x, '1': y}}; got {v!r}") from None
    return [float(x) for x in v]


def _seq(x) -> list:
    """A JSON list, or a dict keyed "0", "1", ... (how kinetix-env writes arrays), as a list."""
    if isinstance(x, dict):
        return [x[str(i)] for i in range(len(x))]
    return list(x)


def _config_from(doc: dict, base: EnvConfig | None) -> EnvConfig:
    sp = _get(doc, "static_env_params", "")
    sizes = {k: int(_get(sp, k, "static_env_params.")) for k in ("num_polygons", "num_circles", "num_joints",
                                                                  "num_thrusters")}
    if base is not None:
        s = base.sim
        for k, v in sizes.items():
            if v > getattr(s, k):
                raise ValueError(f"static_env_params.{k}={v} is more than this EnvConfig holds ({getattr(s, k)})")
        return base
    return EnvConfig(sim=StaticConfig(**sizes), frame_skip=int(sp.get("frame_skip", 2)),
                     num_motor_bindings=int(sp.get("num_motor_bindings", 4)),
                     num_thruster_bindings=int(sp.get("num_thruster_bindings", 2)))


def level_from_kinetix(doc: dict | str, config: EnvConfig | None = None) -> tuple[Level, EnvConfig]:
    """One kinetix-env level (a dict or JSON text) -> (Level, EnvConfig).

    Args:
        doc: the parsed JSON (``env_state``, ``env_params``, ``static_env_params``).
        config: pad into this size (default: exactly the document's sizes).
    """
    if isinstance(doc, str):
        doc = json.loads(doc)
    cfg = _config_from(doc, config)
    es = _get(doc, "env_state", "")
    s = cfg.sim
    state = empty_state(s)
    v = s.max_polygon_vertices
    out = {"polygon": {}, "circle": {}}
    roles = {"polygon": np.zeros(s.num_polygons, np.int32), "circle": np.zeros(s.num_circles, np.int32)}
    shift = {}  # global index -> local centroid shift (their CoM -> ours)
    for kind, n_slots, offset in (("polygon", s.num_polygons, 0), ("circle", s.num_circles, s.num_polygons)):
        rows = _seq(_get(es, kind, "env_state."))
        if len(rows) > n_slots:
            raise ValueError(f"env_state.{kind} has {len(rows)} entries; this size holds num_{kind}s={n_slots}")
        cols = {k: np.asarray(getattr(getattr(state, kind), k)).copy() for k in getattr(state, kind).__dataclass_fields__}
        for i, row in enumerate(rows):
            w = f"env_state.{kind}[{i}]."
            active = bool(_get(row, "active", w))
            role = int(_get(row, "role", w))
            if role not in (0, 1, 2, 3):
                raise ValueError(f"field {w}role must be 0..3 (default, green, blue, red); got {role}")
            density = float(row.get("density", 1.0))
            static = float(_get(row, "inverse_mass", w)) == 0.0
            pos = np.asarray(_vec(_get(row, "position", w), w + "position"))
            rot = float(_get(row, "rotation", w))
            cols["position"][i] = pos
            cols["rotation"][i] = rot
            cols["velocity"][i] = _vec(_get(row, "velocity", w), w + "velocity")
            cols["angular_velocity"][i] = float(_get(row, "angular_velocity", w))
            cols["friction"][i] = float(_get(row, "friction", w)) * FRICTION_SCALE
            cols["restitution"][i] = float(_get(row, "restitution", w))
            mode = int(_get(row, "collision_mode", w))
            if mode not in (0, 1, 2):
                raise ValueError(f"field {w}collision_mode must be 0, 1 or 2; got {mode}")
            cols["collision_mode"][i] = mode
            cols["active"][i] = active
            cols["density"][i] = density
            roles[kind][i] = role
            if kind == "polygon" and not active:
                nv = int(row.get("n_vertices", 0))
                raw = np.asarray([_vec(x, w + "vertices") for x in _seq(row.get("vertices", []))][:v], np.float64)
                if nv >= 3 and len(raw) >= nv:
                    raw = np.concatenate([raw[:nv][::-1], raw[nv:]])
                cols["vertices"][i] = 0.0
                cols["vertices"][i][: len(raw)] = raw
                cols["n_vertices"][i] = nv
                mass = inertia = 1.0
            elif kind == "polygon":
                nv = int(_get(row, "n_vertices", w))
                if not 3 <= nv <= v:
                    raise ValueError(f"field {w}n_vertices must be in 3..{v}; got {nv}")
                verts = np.asarray([_vec(x, w + "vertices") for x in _seq(_get(row, "vertices", w))[:nv]], np.float64)
                verts = verts[::-1]  # clockwise -> counter-clockwise
                mass, inertia, centroid = polygon_mass(verts, density)
                verts = verts - centroid
                c, sn = math.cos(rot), math.sin(rot)
                cols["position"][i] = pos + np.array([c * centroid[0] - sn * centroid[1], sn * centroid[0] + c * centroid[1]])
                shift[offset + i] = centroid
                padded = np.repeat(verts[:1], v, axis=0)
                padded[:nv] = verts
                cols["vertices"][i] = padded
                cols["n_vertices"][i] = nv
            else:
                r = float(_get(row, "radius", w))
                if active and not r > 0:
                    raise ValueError(f"field {w}radius must be > 0; got {r}")
                mass, inertia = circle_mass(r, density) if active else (1.0, 1.0)
                cols["radius"][i] = r
            cols["inverse_mass"][i] = 0.0 if (static or not active) else 1.0 / mass
            cols["inverse_inertia"][i] = 0.0 if (static or not active) else 1.0 / inertia
        out[kind] = getattr(state, kind).replace(**{k: jnp.asarray(x) for k, x in cols.items()})

    def local_shift(idx, rel):
        return np.asarray(rel) - shift.get(int(idx), np.zeros(2))

    jrows = _seq(_get(es, "joint", "env_state."))
    if len(jrows) > s.num_joints:
        raise ValueError(f"env_state.joint has {len(jrows)} entries; this size holds num_joints={s.num_joints}")
    jc = {k: np.asarray(getattr(state.joint, k)).copy() for k in state.joint.__dataclass_fields__}
    mbind = np.zeros(s.num_joints, np.int32)
    mauto = np.zeros(s.num_joints, bool)
    for i, row in enumerate(jrows):
        w = f"env_state.joint[{i}]."
        jc["active"][i] = bool(_get(row, "active", w))
        for side in ("a", "b"):
            idx = int(_get(row, f"{side}_index", w))
            jc[f"{side}_index"][i] = idx
            jc[f"{side}_relative_pos"][i] = local_shift(idx, _vec(_get(row, f"{side}_relative_pos", w), w))
        jc["is_fixed_joint"][i] = bool(_get(row, "is_fixed_joint", w))
        jc["reference_angle"][i] = float(_get(row, "rotation", w))
        jc["motor_on"][i] = bool(_get(row, "motor_on", w))
        jc["motor_speed"][i] = float(_get(row, "motor_speed", w))
        jc["motor_power"][i] = float(_get(row, "motor_power", w))
        jc["motor_has_joint_limits"][i] = bool(_get(row, "motor_has_joint_limits", w))
        jc["min_rotation"][i] = float(_get(row, "min_rotation", w))
        jc["max_rotation"][i] = float(_get(row, "max_rotation", w))
        mbind[i] = int(row.get("motor_binding", 0))
        mauto[i] = bool(row.get("motor_auto", False))
    trows = _seq(_get(es, "thruster", "env_state."))
    if len(trows) > s.num_thrusters:
        raise ValueError(f"env_state.thruster has {len(trows)} entries; this size holds num_thrusters={s.num_thrusters}")
    tc = {k: np.asarray(getattr(state.thruster, k)).copy() for k in state.thruster.__dataclass_fields__}
    tbind = np.zeros(s.num_thrusters, np.int32)
    for i, row in enumerate(trows):
        w = f"env_state.thruster[{i}]."
        tc["active"][i] = bool(_get(row, "active", w))
        idx = int(_get(row, "object_index", w))
        tc["object_index"][i] = idx
        tc["relative_position"][i] = local_shift(idx, _vec(_get(row, "relative_position", w), w))
        tc["rotation"][i] = float(_get(row, "rotation", w))
        tc["power"][i] = float(_get(row, "power", w))
        tbind[i] = int(row.get("thruster_binding", 0))
    gravity = np.asarray(_vec(es.get("gravity", {"0": 0.0, "1": -9.81}), "env_state.gravity"), np.float32)
    sim: SimState = state.replace(
        polygon=out["polygon"], circle=out["circle"],
        joint=state.joint.replace(**{k: jnp.asarray(x) for k, x in jc.items()}),
        thruster=state.thruster.replace(**{k: jnp.asarray(x) for k, x in tc.items()}),
        gravity=jnp.asarray(gravity),
    )
    sim = sim.replace(collision_matrix=compute_collision_matrix(sim))
    level = Level(sim=sim, polygon_role=jnp.asarray(roles["polygon"]), circle_role=jnp.asarray(roles["circle"]),
                  motor_binding=jnp.asarray(mbind), motor_auto=jnp.asarray(mauto), thruster_binding=jnp.asarray(tbind))
    validate_level(level, cfg)
    return level, cfg


def level_to_kinetix(level: Level, config: EnvConfig) -> dict:
    """Our level -> a kinetix-env level document (inverse of :func:`level_from_kinetix`)."""
    validate_level(level, config)
    lv = level
    sim = lv.sim

    def vec(x):
        return {str(i): float(v) for i, v in enumerate(np.asarray(x).reshape(-1))}

    def bodies(kind, role):
        b = getattr(sim, kind)
        rows = []
        for i in range(b.active.shape[0]):
            verts = np.asarray(b.vertices[i])
            nv = int(b.n_vertices[i])
            cw = verts[:nv][::-1] if kind == "polygon" and nv >= 3 else verts[:4]
            vlist = [vec(p) for p in cw] + [vec(cw[0])] * (4 - len(cw))
            rows.append(dict(
                position=vec(b.position[i]), rotation=float(b.rotation[i]), velocity=vec(b.velocity[i]),
                angular_velocity=float(b.angular_velocity[i]), inverse_mass=float(b.inverse_mass[i]),
                inverse_inertia=float(b.inverse_inertia[i]), friction=float(b.friction[i]) / FRICTION_SCALE,
                restitution=float(b.restitution[i]), collision_mode=int(b.collision_mode[i]),
                active=bool(b.active[i]), n_vertices=nv if kind == "polygon" else 4, vertices=vlist,
                radius=float(b.radius[i]), role=int(role[i]), density=float(b.density[i]), highlighted=False))
        return rows

    j = sim.joint
    joints = [dict(a_index=int(j.a_index[i]), b_index=int(j.b_index[i]), a_relative_pos=vec(j.a_relative_pos[i]),
                   b_relative_pos=vec(j.b_relative_pos[i]), active=bool(j.active[i]),
                   is_fixed_joint=bool(j.is_fixed_joint[i]), rotation=float(j.reference_angle[i]),
                   motor_on=bool(j.motor_on[i]), motor_speed=float(j.motor_speed[i]),
                   motor_power=float(j.motor_power[i]), motor_has_joint_limits=bool(j.motor_has_joint_limits[i]),
                   min_rotation=float(j.min_rotation[i]), max_rotation=float(j.max_rotation[i]),
                   motor_binding=int(lv.motor_binding[i]), motor_auto=bool(lv.motor_auto[i]))
              for i in range(j.active.shape[0])]
    t = sim.thruster
    thrusters = [dict(object_index=int(t.object_index[i]), relative_position=vec(t.relative_position[i]),
                      rotation=float(t.rotation[i]), power=float(t.power[i]), active=bool(t.active[i]),
                      thruster_binding=int(lv.thruster_binding[i])) for i in range(t.active.shape[0])]
    s = config.sim
    return {
        "env_state": {"polygon": bodies("polygon", np.asarray(lv.polygon_role)),
                      "circle": bodies("circle", np.asarray(lv.circle_role)),
                      "joint": joints, "thruster": thrusters, "gravity": vec(sim.gravity)},
        "env_params": {"max_timesteps": 256, "dense_reward_scale": 0.2},
        "static_env_params": {"num_polygons": s.num_polygons, "num_circles": s.num_circles,
                              "num_joints": s.num_joints, "num_thrusters": s.num_thrusters,
                              "frame_skip": config.frame_skip, "num_motor_bindings": config.num_motor_bindings,
                              "num_thruster_bindings": config.num_thruster_bindings},
    }


def _iter_sources(source: str | os.PathLike):
    path = os.fspath(source)
    if path.endswith(".whl") or path.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            for name in sorted(z.namelist()):
                if name.startswith("kinetix/levels/") and name.endswith(".json"):
                    yield name[len("kinetix/levels/"):-5], json.load(io.BytesIO(z.read(name)))
        return
    if os.path.isdir(path):
        for root, _, files in sorted(os.walk(path)):
            for f in sorted(files):
                if f.endswith(".json"):
                    full = os.path.join(root, f)
                    rel = os.path.relpath(full, path)[:-5].replace(os.sep, "/")
                    with open(full) as fh:
                        yield rel, json.load(fh)
        return
    if not os.path.exists(path):
        raise ValueError(f"source must be a .json file, a folder or a kinetix-env wheel; {path!r} does not exist")
    with open(path) as fh:
        yield os.path.basename(path)[:-5], json.load(fh)


def load_kinetix_levels(source, size: str | None = None, config: EnvConfig | None = None) -> dict[str, tuple[Level, EnvConfig]]:
    """Read levels from a JSON file, a folder or a kinetix-env wheel.

    Args:
        source: path. Names are relative paths without ``.json`` (``"s/h2_one_wheel_car"``).
        size: keep only names under ``size + "/"`` (``"s"``, ``"m"``, ``"l"``).
        config: pad every level into this size (default: each level's own sizes).

    Returns:
        {name: (level, config)} in sorted name order.
    """
    if size is not None and size not in SIZES:
        raise ValueError(f"size must be one of 's', 'm', 'l' or None; got {size!r}")
    out = {}
    for name, doc in _iter_sources(source):
        if size is not None and not name.startswith(size + "/"):
            continue
        try:
            out[name] = level_from_kinetix(doc, config)
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from None
    if not out:
        raise ValueError(f"no kinetix levels found in {os.fspath(source)!r}" + (f" for size {size!r}" if size else ""))
    return out


def replace_config(config: EnvConfig, **kw) -> EnvConfig:
    """``dataclasses.replace`` for an EnvConfig (e.g. a level's config with another observation)."""
    return dataclasses.replace(config, **kw)
