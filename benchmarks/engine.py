"""Physics steps per second of ``rizzlib.jax2d`` against the ``jax2d`` package from PyPI.

Both engines step the same scenes (an engine-neutral description below is built in each), with the
same array sizes, the same actions (every motor at +1, every thruster on) and the same timing:
``lax.scan`` of ``--steps`` physics steps inside one ``jit``, ``vmap`` over the batch, the best run
after the compile run and a short warm-up (at least ``--repeats`` runs and 1 s of timing per engine). The table gives steps/s (batch x steps / wall time) and
the ratio ours / theirs. Our ``StaticConfig`` uses the default ``solver_layout="auto"`` (the engine
picks its layout from the batch size and the number of touching pairs); ``--layout`` times one fixed
layout instead, with the settings that suit a vmapped batch (``ours_flags``).

``--peers`` also times the CPU engines a user would pick instead, Box2D 2.3 and pymunk
(``engine_peers.py``), one world per step call in a Python loop, in 1 and 2 processes, at the same
batches, and writes ``results/engine_peers.json`` and the crossover plot ``results/engine_peers.png``.

The peer runs in this process when ``import jax2d`` works here (``pip install jax2d chex``:
jax2d 1.0.2 imports ``chex`` without declaring it). Otherwise, or when ``--peer-venv PATH`` is given,
it runs in that virtual environment (created with ``python -m venv`` + pip when missing) by calling
this same file with ``--peer-worker``; the worker imports only numpy, jax, jax2d and (from this
checkout) ``rizzlib.core``, which needs numpy alone.

    python benchmarks/engine.py                       # full table, 7 scenes x batch 1/256/1024
    python benchmarks/engine.py --quick               # short rollouts, batch 1 and 256
    python benchmarks/engine.py --json benchmarks/results/engine.json
    python benchmarks/engine.py --scenes pile14 --json benchmarks/results/engine.json --update   # these rows only
    python benchmarks/engine.py --peer-venv /tmp/venv-jax2d
    python benchmarks/engine.py --layout rounds        # our round-robin solver layout instead
    python benchmarks/engine.py --batches 1 16 256 --peers   # + Box2D and pymunk, crossover plot
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

# ---------------------------------------------------------------------------------------------
# Engine-neutral scene description
# ---------------------------------------------------------------------------------------------

WORLD = 5.0  # metres; the peer's create_empty_sim(scene_size=5, floor_offset=0) borders
FRICTION = 0.6  # every shape's and border's friction coefficient (rizzlib.jax2d's default)


@dataclasses.dataclass(frozen=True)
class Shape:
    """A box (``size`` = full width, height in m), a circle (``radius`` in m) or a convex polygon
    (``vertices`` in m, local frame, clockwise from top-left, centred on the vertex mean)."""

    kind: str  # "box" | "circle" | "polygon"
    position: tuple[float, float]
    size: tuple[float, float] = (0.0, 0.0)
    radius: float = 0.0
    vertices: tuple[tuple[float, float], ...] = ()
    rotation: float = 0.0
    density: float = 1.0
    static: bool = False
    friction: float = FRICTION
    restitution: float = 0.0


@dataclasses.dataclass(frozen=True)
class Joint:
    """A revolute joint between shapes ``a`` and ``b`` (indices into ``Scene.shapes``); anchors in
    each body's local frame (m)."""

    a: int
    b: int
    a_anchor: tuple[float, float]
    b_anchor: tuple[float, float]
    motor: bool = True
    motor_speed: float = 1.0
    motor_power: float = 1.0


@dataclasses.dataclass(frozen=True)
class Thruster:
    """A thruster on shape ``body`` at ``offset`` (local frame, m) pushing along ``rotation`` (rad)."""

    body: int
    offset: tuple[float, float]
    rotation: float
    power: float = 1.0


@dataclasses.dataclass(frozen=True)
class Scene:
    """Shapes inside the four static borders of a 5 m x 5 m world, and the array sizes to use.

    ``sizes`` = (polygons incl. the 4 borders, circles, joints, thrusters); unused slots stay inactive.
    """

    name: str
    shapes: tuple[Shape, ...]
    joints: tuple[Joint, ...]
    thrusters: tuple[Thruster, ...]
    sizes: tuple[int, int, int, int]
    border_friction: float = FRICTION

    def n_actions(self) -> int:
        return self.sizes[2] + self.sizes[3]


def _rotate(v: tuple[float, float], angle: float) -> tuple[float, float]:
    c, s = math.cos(angle), math.sin(angle)
    return (c * v[0] - s * v[1], s * v[0] + c * v[1])


def scene_s_car() -> Scene:
    """The spec's S scene: a box on a motorised wheel with a thruster, plus a free ball (5P 2C 1J 1T)."""
    shapes = (
        Shape("box", (2.5, 1.0), size=(1.0, 0.4)),
        Shape("circle", (2.0, 1.0), radius=0.3),
        Shape("circle", (3.5, 2.0), radius=0.2),
    )
    joints = (Joint(0, 1, (-0.5, 0.0), (0.0, 0.0)),)
    thrusters = (Thruster(0, (0.5, 0.0), math.pi),)
    return Scene("s_car", shapes, joints, thrusters, (5, 2, 1, 1))


def scene_stack10() -> Scene:
    """Ten 0.4 m boxes stacked on the floor (14P; unused slots: 2 circles (jax2d needs >= 2), 1 joint, 1 thruster)."""
    shapes = tuple(Shape("box", (2.5, 0.2 + 0.4 * i), size=(0.4, 0.4)) for i in range(10))
    return Scene("stack10", shapes, (), (), (14, 2, 1, 1))


def scene_car2() -> Scene:
    """A chassis on two motorised wheels (5P 2C 2J; one unused thruster slot)."""
    chassis = (2.5, 0.75)
    wheels = ((1.95, 0.3), (3.05, 0.3))
    shapes = (Shape("box", chassis, size=(1.4, 0.3)),) + tuple(Shape("circle", w, radius=0.25) for w in wheels)
    joints = tuple(
        Joint(0, i + 1, (w[0] - chassis[0], w[1] - chassis[1]), (0.0, 0.0), motor_speed=1.0, motor_power=2.0)
        for i, w in enumerate(wheels)
    )
    return Scene("car2", shapes, joints, (), (5, 2, 2, 1))


def scene_random_m(seed: int = 0) -> Scene:
    """A random Kinetix-size-M level (6P 3C 2J 2T): two rectangles, each with a motorised circle on
    a revolute joint, a free circle, and two thrusters; sizes and placements drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    shapes: list[Shape] = []
    joints: list[Joint] = []
    for k in range(2):
        w, h = rng.uniform(0.2, 0.9, size=2)
        pos = (1.0 + 3.0 * k + rng.uniform(-0.4, 0.4), rng.uniform(1.0, 3.5))
        rot = float(rng.uniform(0, 2 * math.pi))
        shapes.append(Shape("box", pos, size=(float(w), float(h)), rotation=rot, density=float(rng.uniform(0.5, 2))))
        local = (float(w) / 2, float(-h) / 2)  # the wheel sits on a corner of the rectangle
        offset = _rotate(local, rot)
        r = float(rng.uniform(0.1, 0.35))
        shapes.append(Shape("circle", (pos[0] + offset[0], pos[1] + offset[1]), radius=r))
        joints.append(Joint(2 * k, 2 * k + 1, local, (0.0, 0.0), motor_speed=float(rng.uniform(0.4, 3)),
                            motor_power=float(rng.uniform(1, 3))))
    shapes.append(Shape("circle", (float(rng.uniform(1, 4)), float(rng.uniform(3.8, 4.5))), radius=0.3))
    thrusters = (
        Thruster(0, (0.0, 0.0), float(rng.uniform(0, 2 * math.pi))),
        Thruster(2, (0.0, 0.0), float(rng.uniform(0, 2 * math.pi))),
    )
    return Scene("random_m", tuple(shapes), tuple(joints), thrusters, (6, 3, 2, 2))


def scene_random_l(seed: int = 0) -> Scene:
    """A random Kinetix-size-L level (12P 4C 6J 2T): four rectangles, each with a motorised circle on
    a corner, two of them carrying a free-swinging bar on a revolute joint, and two thrusters; sizes,
    tilts and densities drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    shapes: list[Shape] = []
    joints: list[Joint] = []
    rects = []
    for k in range(4):
        w, h = (float(x) for x in rng.uniform(0.2, 0.6, size=2))
        pos = (0.7 + 1.2 * k, float(rng.uniform(1.0, 3.0)))
        rot = float(rng.uniform(-0.5, 0.5))
        rects.append(len(shapes))
        shapes.append(Shape("box", pos, size=(w, h), rotation=rot, density=float(rng.uniform(0.5, 2))))
        local = (w / 2, -h / 2)
        offset = _rotate(local, rot)
        shapes.append(Shape("circle", (pos[0] + offset[0], pos[1] + offset[1]), radius=float(rng.uniform(0.1, 0.25))))
        joints.append(Joint(len(shapes) - 2, len(shapes) - 1, local, (0.0, 0.0), motor_speed=float(rng.uniform(0.4, 3)),
                            motor_power=float(rng.uniform(1, 3))))
    for a in rects[::2]:
        base = shapes[a]
        top, half = (0.0, base.size[1] / 2), 0.2  # the bar hangs up from the middle of the top edge
        centre = _rotate((0.0, base.size[1] / 2 + half), base.rotation)
        shapes.append(Shape("box", (base.position[0] + centre[0], base.position[1] + centre[1]), size=(0.1, 2 * half),
                            rotation=base.rotation))
        joints.append(Joint(a, len(shapes) - 1, top, (0.0, -half), motor=False))
    thrusters = tuple(Thruster(a, (0.0, 0.0), float(rng.uniform(0, 2 * math.pi))) for a in rects[1::2])
    return Scene("random_l", tuple(shapes), tuple(joints), thrusters, (12, 4, 6, 2))


def scene_pile14(radius: float = 0.2) -> Scene:
    """A settled pile of 14 circles in a box: two static walls 8 radii apart on the floor, and rows
    of 4, 3, 4 and 3 circles in hexagonal packing, every circle touching its neighbours (6P 14C;
    unused joint and thruster slots). About 35 touching pairs every step."""
    left = 2.5 - 4 * radius
    walls = tuple(Shape("box", (x, 0.6), size=(0.2, 1.2), static=True) for x in (left - 0.1, 2.5 + 4 * radius + 0.1))
    circles = []
    for row, n in enumerate((4, 3, 4, 3)):
        y = radius + row * radius * math.sqrt(3.0)
        first = left + (radius if n == 4 else 2 * radius)
        circles += [Shape("circle", (first + 2 * radius * k, y), radius=radius) for k in range(n)]
    return Scene("pile14", walls + tuple(circles), (), (), (6, 14, 1, 1))


def scene_pyramid10(size: float = 0.4) -> Scene:
    """A pyramid of 10 boxes resting on the floor: rows of 4, 3, 2 and 1, each box on two below
    (14P; unused slots: 2 circles, 1 joint, 1 thruster)."""
    shapes = []
    for row, n in enumerate((4, 3, 2, 1)):
        x0 = 2.5 - (n - 1) * size * 0.55
        shapes += [Shape("box", (x0 + 1.1 * size * k, size / 2 + row * size), size=(size, size)) for k in range(n)]
    return Scene("pyramid10", tuple(shapes), (), (), (14, 2, 1, 1))


SCENES = {
    "s_car": scene_s_car,
    "stack10": scene_stack10,
    "car2": scene_car2,
    "random_m": scene_random_m,
    "random_l": scene_random_l,
    "pile14": scene_pile14,
    "pyramid10": scene_pyramid10,
}


def global_indices(scene: Scene) -> list[int]:
    """Index of each shape in the engines' single numbering: polygons (borders 0-3 first), then circles."""
    n_poly = sum(s.kind != "circle" for s in scene.shapes)
    if 4 + n_poly > scene.sizes[0]:
        raise ValueError(f"{scene.name}: {4 + n_poly} polygons do not fit sizes[0]={scene.sizes[0]}")
    out, p, c = [], 4, 0
    for s in scene.shapes:
        if s.kind == "circle":
            out.append(scene.sizes[0] + c)
            c += 1
        else:
            out.append(p)
            p += 1
    return out


def box_vertices(size: tuple[float, float]) -> np.ndarray:
    """(4, 2) corners of a box centred at 0, clockwise from top-left."""
    hw, hh = size[0] / 2, size[1] / 2
    return np.array([[-hw, hh], [hw, hh], [hw, -hh], [-hw, -hh]], dtype=np.float32)


def actions_for(scene: Scene) -> np.ndarray:
    """Every motor at +1 and every thruster fully on: (num_joints + num_thrusters,)."""
    return np.ones(scene.n_actions(), dtype=np.float32)


# ---------------------------------------------------------------------------------------------
# Timing (shared by both engines)
# ---------------------------------------------------------------------------------------------


class Timer:
    """A compiled rollout of ``step(state, actions) -> state``: ``steps`` scanned inside one ``jit``,
    vmapped over ``batch`` identical copies of ``state``. Construction compiles and runs it once."""

    def __init__(self, step, state, actions, batch: int, steps: int):
        import jax
        import jax.numpy as jnp

        self.batch, self.steps = batch, steps
        self.states = jax.tree.map(lambda x: jnp.repeat(jnp.asarray(x)[None], batch, axis=0), state)
        acts = jnp.repeat(jnp.asarray(actions)[None], batch, axis=0)

        @jax.jit
        def roll(s):
            def body(carry, _):
                return jax.vmap(step)(carry, acts), None

            return jax.lax.scan(body, s, None, length=steps)[0]

        self.roll = roll
        t0 = time.perf_counter()
        out = jax.block_until_ready(roll(self.states))
        self.compile_s = time.perf_counter() - t0
        floats = [np.asarray(x) for x in jax.tree.leaves(out) if np.asarray(x).dtype.kind == "f"]
        self.finite = bool(all(np.isfinite(x).all() for x in floats))
        self.best_s = math.inf

    def __call__(self) -> None:
        """One rollout, blocking until it is done."""
        import jax

        jax.block_until_ready(self.roll(self.states))

    def result(self) -> dict:
        return {"sps": self.batch * self.steps / self.best_s, "compile_s": self.compile_s, "finite": self.finite}


#: untimed runs after the compile run, until this many seconds: the first runs of a fresh compiled
#: rollout are slower (on 2 CPU cores our batch-1 S scene took ~10 runs to reach its steady speed)
WARMUP_S = 0.3
#: timed runs continue, alternating engines, until each engine has this many seconds of timing
MIN_TIMED_S = 1.0


def time_side_by_side(engines: dict, scene: Scene, batch: int, steps: int, repeats: int) -> dict:
    """Time several engines on one scene, alternating their runs so that a change in machine load
    during the measurement hits both alike. ``engines``: name -> builder(scene, batch) -> (step, state).

    Each engine is warmed up for ``WARMUP_S``, then timed at least ``repeats`` times and for at least
    ``MIN_TIMED_S`` (short batch-1 rollouts are timed many times); the best run counts
    (``rizzlib.core.timing.best_run_seconds``)."""
    from rizzlib.core.timing import best_run_seconds

    timers = {k: Timer(*build(scene, batch), actions_for(scene), batch, steps) for k, build in engines.items()}
    best = best_run_seconds(timers, repeats=repeats, warmup_s=WARMUP_S, min_s=MIN_TIMED_S)
    for k, t in timers.items():
        t.best_s = best[k]
    return {k: t.result() for k, t in timers.items()}


# ---------------------------------------------------------------------------------------------
# The peer: jax2d from PyPI
# ---------------------------------------------------------------------------------------------


def build_peer(scene: Scene, batch: int = 1):
    """``(step, state)`` for the ``jax2d`` package: ``step(state, actions) -> state``. ``batch`` is
    unused: jax2d has no per-batch settings."""
    import jax.numpy as jnp
    from jax2d.engine import PhysicsEngine, create_empty_sim
    from jax2d.scene import (
        add_circle_to_scene,
        add_polygon_to_scene,
        add_revolute_joint_to_scene,
        add_thruster_to_scene,
    )
    from jax2d.sim_state import SimParams, StaticSimParams

    P, C, J, T = scene.sizes
    ssp = StaticSimParams(num_polygons=P, num_circles=C, num_joints=J, num_thrusters=T)
    state = create_empty_sim(ssp, floor_offset=0.0)
    borders = jnp.arange(P) < 4  # create_empty_sim's four border polygons
    state = state.replace(polygon=state.polygon.replace(
        friction=jnp.where(borders, scene.border_friction, state.polygon.friction),
        restitution=jnp.where(borders, 0.0, state.polygon.restitution)))
    for s in scene.shapes:
        common = dict(rotation=s.rotation, density=s.density, fixated=s.static, friction=s.friction,
                      restitution=s.restitution)
        pos = jnp.array(s.position, dtype=jnp.float32)
        if s.kind == "circle":
            state, _ = add_circle_to_scene(state, ssp, pos, s.radius, **common)
        else:
            verts = box_vertices(s.size) if s.kind == "box" else np.asarray(s.vertices, np.float32)
            state, _ = add_polygon_to_scene(state, ssp, pos, jnp.asarray(verts), len(verts), **common)
    gi = global_indices(scene)
    for j in scene.joints:
        state, _ = add_revolute_joint_to_scene(
            state, ssp, gi[j.a], gi[j.b], jnp.array(j.a_anchor), jnp.array(j.b_anchor),
            motor_on=j.motor, motor_speed=j.motor_speed, motor_power=j.motor_power,
        )
    for t in scene.thrusters:
        state, _ = add_thruster_to_scene(state, gi[t.body], jnp.array(t.offset), t.rotation, power=t.power)
    engine, params = PhysicsEngine(ssp), SimParams()

    def step(s, a):
        return engine.step(s, params, a)[0]

    return step, state


def peer_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("jax2d")


def ensure_peer_venv(path: Path) -> Path:
    """Python of a virtual environment holding jax2d (created with venv + pip when missing)."""
    python = path / "bin" / "python"
    if not python.exists():
        print(f"creating peer environment {path} (python -m venv; pip install jax2d chex)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "jax2d", "chex"], check=True)
    return python


def run_peer_subprocess(python: Path, scenes: list[str], batches: list[int], steps: int, repeats: int) -> tuple[list[dict], str]:
    cmd = [str(python), __file__, "--peer-worker", "--scenes", *scenes, "--batches", *map(str, batches),
           "--steps", str(steps), "--repeats", str(repeats)]
    # the worker needs rizzlib.core (numpy only) from this checkout for the shared timing rule
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, env=env)
    payload = json.loads(done.stdout)
    return payload["results"], payload["version"]


# ---------------------------------------------------------------------------------------------
# Ours: rizzlib.jax2d
# ---------------------------------------------------------------------------------------------


def ours_flags(batch: int, layout: str = "auto") -> dict:
    """Solver-layout fields of our ``StaticConfig`` for a step vmapped over ``batch`` scenes.

    ``"auto"`` (the default), ``"active"`` and ``"colours"`` have no per-batch settings. For ``--layout rounds`` the benchmark
    vmaps every batch, batch 1 included, so idle-round skipping is off (under ``vmap`` its
    ``lax.cond`` becomes a select that runs both branches) and rounds are indexed in place from
    batch 512, as ``StaticConfig``'s docstring advises."""
    if layout in ("auto", "active", "colours"):
        return {"solver_layout": layout}
    return {"solver_layout": "rounds", "skip_idle_rounds": False, "index_rounds": batch >= 512}


def build_ours(scene: Scene, batch: int = 1, layout: str = "auto"):
    """``(step, state)`` for ``rizzlib.jax2d`` with the same shapes, borders and array sizes, and
    ``layout``'s solver settings for ``batch`` vmapped scenes (``ours_flags``)."""
    from rizzlib import jax2d

    P, C, J, T = scene.sizes
    static = jax2d.StaticConfig(num_polygons=P, num_circles=C, num_joints=J, num_thrusters=T,
                                   **ours_flags(batch, layout))
    sb = jax2d.SceneBuilder(static)
    sb.add_borders(WORLD, WORLD, friction=scene.border_friction)  # floor top at y=0, walls at x=0 and x=5, ceiling at y=5, as the peer's
    ids = []
    for s in scene.shapes:
        common = dict(density=s.density, static=s.static, friction=s.friction, restitution=s.restitution)
        if s.kind == "circle":
            ids.append(sb.add_circle(s.position, s.radius, rotation=s.rotation, **common))
        elif s.kind == "box":
            ids.append(sb.add_box(s.position, s.size, s.rotation, **common))
        else:
            ids.append(sb.add_polygon(s.vertices, s.position, s.rotation, **common))
    assert ids == global_indices(scene), (ids, global_indices(scene))
    for j in scene.joints:
        a = scene.shapes[j.a]
        off = _rotate(j.a_anchor, a.rotation)
        anchor = (a.position[0] + off[0], a.position[1] + off[1])
        sb.add_revolute_joint(ids[j.a], ids[j.b], anchor, motor=j.motor, motor_speed=j.motor_speed,
                              motor_power=j.motor_power)
    for t in scene.thrusters:
        b = scene.shapes[t.body]
        off = _rotate(t.offset, b.rotation)
        sb.add_thruster(ids[t.body], (b.position[0] + off[0], b.position[1] + off[1]), b.rotation + t.rotation,
                        power=t.power)
    state, params = sb.build(), jax2d.SimParams()

    def step(s, a):
        return jax2d.step(s, params, static, a)

    return step, state


def run(engines: dict, scenes: list[str], batches: list[int], steps: int, repeats: int) -> dict[str, list[dict]]:
    """Per engine name, a list of {scene, batch, sps, compile_s, finite}; engines timed side by side."""
    out: dict[str, list[dict]] = {k: [] for k in engines}
    for name in scenes:
        scene = SCENES[name]()
        for b in batches:
            res = time_side_by_side(engines, scene, b, steps, repeats)
            for k, r in res.items():
                out[k].append({"scene": name, "batch": b, **r})
                print(f"  {k:5s} {name:9s} batch {b:5d}: {r['sps']:12,.0f} steps/s (compile {r['compile_s']:.1f} s)",
                      file=sys.stderr, flush=True)
    return out


# ---------------------------------------------------------------------------------------------
# Table
# ---------------------------------------------------------------------------------------------


def merge(ours: list[dict], peer: list[dict]) -> list[dict]:
    """Rows {scene, batch, ours_sps, peer_sps, ratio} in the order of ``ours``."""
    theirs = {(r["scene"], r["batch"]): r["sps"] for r in peer}
    rows = []
    for r in ours:
        p = theirs.get((r["scene"], r["batch"]))
        rows.append({
            "scene": r["scene"], "batch": r["batch"], "ours_sps": round(r["sps"], 1),
            "peer_sps": None if p is None else round(p, 1),
            "ratio": None if p is None else round(r["sps"] / p, 3),
        })
    return rows


def format_table(rows: list[dict]) -> str:
    lines = [f"{'scene':10s} {'batch':>6s} {'ours steps/s':>14s} {'jax2d steps/s':>14s} {'ours/jax2d':>10s}"]
    for r in rows:
        peer = "-" if r["peer_sps"] is None else f"{r['peer_sps']:14,.0f}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:9.2f}x"
        lines.append(f"{r['scene']:10s} {r['batch']:6d} {r['ours_sps']:14,.0f} {peer:>14s} {ratio:>10s}")
    return "\n".join(lines)


def git_version() -> str:
    """Commit of the checkout being measured, with "+dirty" when rizzlib/ has uncommitted edits
    (``$RIZZLIB_COMMIT`` overrides it, for a snapshot made with ``git archive``)."""
    if os.environ.get("RIZZLIB_COMMIT"):
        return os.environ["RIZZLIB_COMMIT"]
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "rizzlib"], cwd=root, capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def timing(repeats: int) -> str:
    return f"best of >= {repeats} runs and >= {MIN_TIMED_S:g} s per engine after a {WARMUP_S:g} s warm-up"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", nargs="+", default=list(SCENES), choices=list(SCENES))
    parser.add_argument("--batches", nargs="+", type=int, default=None, help="default 1 256 1024 (quick: 1 256)")
    parser.add_argument("--steps", type=int, default=None, help="physics steps per rollout (default 200, quick 50)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs after compile (default 3, quick 2)")
    parser.add_argument("--quick", action="store_true", help="short rollouts, batch 1 and 256")
    parser.add_argument("--json", type=Path, help="write [{scene, batch, ours_sps, peer_sps, ratio}] here")
    parser.add_argument("--update", action="store_true",
                        help="with --json: replace only the (scene, batch) rows measured now, keep the file's others")
    parser.add_argument("--peer-venv", type=Path, help="run jax2d in this venv (created if missing)")
    parser.add_argument("--no-peer", action="store_true", help="time rizzlib.jax2d only")
    parser.add_argument("--layout", choices=["auto", "active", "rounds", "colours"], default="auto",
                        help="our StaticConfig.solver_layout (default auto: the engine picks)")
    parser.add_argument("--peers", nargs="*", choices=["box2d", "pymunk"], default=None,
                        help="also time Box2D / pymunk (engine_peers.py), one world per step call in a loop, "
                             "in 1 and 2 processes; writes --peers-json and a crossover plot --peers-png")
    parser.add_argument("--peers-json", type=Path, default=Path(__file__).parent / "results" / "engine_peers.json")
    parser.add_argument("--peers-png", type=Path, default=Path(__file__).parent / "results" / "engine_peers.png")
    parser.add_argument("--peer-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    batches = args.batches or ([1, 256] if args.quick else [1, 256, 1024])
    steps = args.steps or (50 if args.quick else 200)
    repeats = args.repeats or (2 if args.quick else 3)
    for b in batches:
        if b < 1:
            parser.error(f"--batches must be >= 1; got {b}")
    if steps < 1 or repeats < 1:
        parser.error(f"--steps and --repeats must be >= 1; got {steps}, {repeats}")

    if args.peer_worker:  # child process in the peer's environment: JSON on stdout, log on stderr
        results = run({"peer": build_peer}, args.scenes, batches, steps, repeats)["peer"]
        json.dump({"results": results, "version": peer_version()}, sys.stdout)
        return 0

    import jax

    load_before = os.getloadavg()[0]
    print(f"jax {jax.__version__} on {jax.default_backend()}, {os.cpu_count()} CPU threads, "
          f"{platform.processor() or platform.machine()}; T={steps} steps, {timing(repeats)}", file=sys.stderr)
    peer, where, version = [], "not run", None
    if not args.no_peer:
        if args.peer_venv is None:
            try:
                import jax2d.engine  # noqa: F401

                where = "same process"
            except ImportError:
                print("jax2d is not importable here; pass --peer-venv PATH to run it in its own venv", file=sys.stderr)
        if args.peer_venv is not None:
            python = ensure_peer_venv(args.peer_venv)
            peer, version = run_peer_subprocess(python, args.scenes, batches, steps, repeats)
            where = f"subprocess in {args.peer_venv}"
    build = functools.partial(build_ours, layout=args.layout)
    if where == "same process":  # alternate the two engines' timed runs
        both = run({"ours": build, "peer": build_peer}, args.scenes, batches, steps, repeats)
        ours, peer, version = both["ours"], both["peer"], peer_version()
    else:
        ours = run({"ours": build}, args.scenes, batches, steps, repeats)["ours"]
    rows = merge(ours, peer)
    print(f"\nrizzlib.jax2d vs jax2d {version or '(not run)'} ({where}); physics steps/s, T={steps}, {timing(repeats)}")
    print(format_table(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        # One flat record per (scene, batch): the five figures, our solver flags, then where and how measured.
        meta = {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"), "rizzlib": git_version(),
                "jax": jax.__version__,
                "peer": f"jax2d {version}" if version else None, "peer_where": where, "cpu_threads": os.cpu_count(),
                "machine": platform.machine(), "steps": steps, "repeats": repeats, "timing": timing(repeats),
                "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
        records = [{**r, "ours_flags": ours_flags(r["batch"], args.layout), **meta} for r in rows]
        if args.update and args.json.exists():  # keep the rows not measured now, in their order
            new = {(r["scene"], r["batch"]): r for r in records}
            old = json.loads(args.json.read_text())
            records = [new.pop((r["scene"], r["batch"]), r) for r in old] + list(new.values())
        args.json.write_text(json.dumps(records, indent=1) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    if args.peers is not None:
        run_peers(args.peers or ["box2d", "pymunk"], args.scenes, rows, steps, repeats, args.peers_json, args.peers_png)
    return 0


# ---------------------------------------------------------------------------------------------
# The CPU engines a user would pick instead: Box2D and pymunk (engine_peers.py)
# ---------------------------------------------------------------------------------------------


def crossover(ours: list[tuple[int, float]], peer_sps: float) -> float | None:
    """Smallest batch at which ours reaches ``peer_sps`` steps/s, interpolated log-log between the
    measured (batch, steps/s) points (sorted by batch); the first batch if ours is ahead already,
    None if ours never gets there."""
    pts = sorted(ours)
    if pts[0][1] >= peer_sps:
        return float(pts[0][0])
    for (b0, s0), (b1, s1) in zip(pts, pts[1:]):
        if s1 >= peer_sps > s0:
            t = (math.log(peer_sps) - math.log(s0)) / (math.log(s1) - math.log(s0))
            return float(math.exp(math.log(b0) + t * (math.log(b1) - math.log(b0))))
    return None


def run_peers(engines: list[str], scenes: list[str], rows: list[dict], steps: int, repeats: int, json_path: Path,
              png_path: Path) -> list[dict]:
    """Time each CPU peer on every scene in 1 and 2 processes at the batches of ``rows`` (at least 2
    worlds for 2 processes), and write {scene, engine, processes, batch, sps, crossover} records and
    a plot of steps/s against batch (ours and jax2d from ``rows``) with the crossovers marked."""
    import engine_peers as peers

    versions = peers.peer_versions()
    batches = sorted({r["batch"] for r in rows})
    out = []
    for name in scenes:
        ours = [(r["batch"], r["ours_sps"]) for r in rows if r["scene"] == name]
        for eng in engines:
            for procs in (1, 2):
                for b in batches:
                    if b < procs:
                        continue
                    r = peers.time_peer(eng, name, b, steps, repeats, processes=procs)
                    rec = {"scene": name, "engine": versions[eng], "processes": procs, "batch": b,
                           "sps": round(r["sps"], 1), "ours_sps": dict(ours).get(b)}
                    out.append(rec)
                    print(f"  {eng:6s} x{procs} {name:9s} batch {b:5d}: {r['sps']:12,.0f} steps/s", file=sys.stderr,
                          flush=True)
                best = max(x["sps"] for x in out if x["scene"] == name and x["engine"] == versions[eng]
                           and x["processes"] == procs)
                for x in out:
                    if x["scene"] == name and x["engine"] == versions[eng] and x["processes"] == procs:
                        x["crossover_batch"] = crossover(ours, best)
    meta = {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"), "rizzlib": git_version(),
            "steps": steps, "repeats": repeats, "cpu_threads": os.cpu_count(),
            "settings": "dt 1/60, 10 velocity iterations (Box2D: + 3 position iterations), no sleeping, "
                        "one world per step call in a Python loop; crossover_batch: smallest batch where "
                        "ours reaches the peer's best steps/s (log-log interpolation), null if never"}
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps([{**r, **meta} for r in out], indent=1) + "\n")
    plot_peers(out, rows, png_path)
    print(format_peers(out), file=sys.stderr)
    return out


def format_peers(records: list[dict]) -> str:
    lines = [f"{'scene':10s} {'engine':16s} {'procs':>5s} {'best steps/s':>13s} {'ours overtakes at batch':>24s}"]
    seen = set()
    for r in records:
        key = (r["scene"], r["engine"], r["processes"])
        if key in seen:
            continue
        seen.add(key)
        best = max(x["sps"] for x in records if (x["scene"], x["engine"], x["processes"]) == key)
        cross = "never (in the batches timed)" if r["crossover_batch"] is None else f"{r['crossover_batch']:.0f}"
        lines.append(f"{r['scene']:10s} {r['engine']:16s} {r['processes']:5d} {best:13,.0f} {cross:>24s}")
    return "\n".join(lines)


def plot_peers(records: list[dict], rows: list[dict], path: Path) -> None:
    """Steps/s against batch per scene, log-log: ours and jax2d (JAX, vmapped) beside Box2D and pymunk
    in 1 and 2 processes (one world per step call); a dot where ours overtakes each CPU peer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenes = list(dict.fromkeys(r["scene"] for r in rows))
    cols = min(4, len(scenes))
    nrows = -(-len(scenes) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4 * cols, 3.2 * nrows), squeeze=False)
    styles = {1: "--", 2: ":"}
    for ax, name in zip(axes.flat, scenes):
        mine = sorted((r["batch"], r["ours_sps"], r["peer_sps"]) for r in rows if r["scene"] == name)
        ax.plot([b for b, *_ in mine], [s for _, s, _ in mine], "o-", color="C0", label="rizzlib.jax2d")
        if all(p is not None for *_, p in mine):
            ax.plot([b for b, *_ in mine], [p for *_, p in mine], "s-", color="C1", label="jax2d")
        for k, eng in enumerate(sorted({r["engine"] for r in records})):
            for procs in (1, 2):
                pts = sorted((r["batch"], r["sps"], r["crossover_batch"]) for r in records
                             if r["scene"] == name and r["engine"] == eng and r["processes"] == procs)
                if not pts:
                    continue
                colour = f"C{k + 2}"
                ax.plot([b for b, *_ in pts], [s for _, s, _ in pts], styles[procs], color=colour,
                        label=f"{eng}, {procs} proc")
                cross = pts[0][2]
                if cross is not None:
                    ax.plot([cross], [max(s for _, s, _ in pts)], "o", color=colour, mfc="white")
        ax.set(xscale="log", yscale="log", title=name, xlabel="batch (scenes stepped together)", ylabel="steps/s")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(scenes):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("physics steps/s against batch; open dot: where ours overtakes a CPU peer", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
