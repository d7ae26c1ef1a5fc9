"""The CPU engines a user would pick instead of a JAX engine, on the scenes of ``engine.py``.

Box2D 2.3 (PyPI ``box2d``, the pybox2d build that gymnasium's Box2D environments use) and pymunk
(Chipmunk 7) step the same scenes as ``rizzlib.jax2d``: the same bodies, positions, angles, masses,
moments of inertia, friction, restitution, joints, motors and thrusters, inside the same four static
borders. They are timed the way they are used: one world per ``step`` call, a Python loop over the
worlds of a batch, in one process or split over several (``spawn``ed workers that import only this
module and the engine, never JAX).

Like-for-like settings (ours: ``SimParams`` / ``StaticConfig`` defaults):

* time step 1/60 s, gravity (0, -9.81) m/s^2, 10 velocity iterations; Box2D also runs 3 position
  iterations (ours runs 3 joint position passes; gymnasium's LunarLander runs 180 and 60);
* no sleeping (ours simulates every body every step; Box2D would otherwise freeze a settled pile);
* material mixing: Box2D mixes friction as sqrt(f_a f_b) and restitution as max(e_a, e_b), as ours
  does; Chipmunk multiplies both, so a pymunk shape gets sqrt of our value when every shape of the
  scene shares one value (the benchmark scenes do), which makes each pair's product ours;
* pymunk's collision slop (default 0.1, for pixel units) is set to our slop, 5 mm;
* motor: ours drives the relative angular speed w_b - w_a towards 6 rad/s x motor_speed x action
  with at most 900 rad/s^2 x motor_power of the joint's axial inertia 1 / (1/I_a + 1/I_b); here the
  same target speed and that torque as the motor's maximum torque (Box2D ``maxMotorTorque``,
  pymunk ``SimpleMotor.max_force``);
* thruster: a force of 10 N x power x action at the thruster's point, along the body's angle plus
  the thruster's, applied before every step (ours applies the same impulse F dt).
"""

from __future__ import annotations

import math
import multiprocessing
import time

import numpy as np

DT = 1.0 / 60.0
GRAVITY = (0.0, -9.81)
VELOCITY_ITERATIONS = 10
POSITION_ITERATIONS = 3
SLOP = 0.005
BASE_MOTOR_SPEED = 6.0
BASE_MOTOR_POWER = 900.0
BASE_THRUSTER_POWER = 10.0
BORDER_THICKNESS = 0.5


def border_boxes(width: float, height: float, thickness: float = BORDER_THICKNESS):
    """(centre, size) of the four static border boxes of ``SceneBuilder.add_borders``: floor top at
    y = 0, walls at x = 0 and x = width, ceiling bottom at y = height."""
    w, h, t = width, height, thickness
    return [((w / 2, -t / 2), (w + 2 * t, t)), ((-t / 2, h / 2), (t, h)), ((w + t / 2, h / 2), (t, h)),
            ((w / 2, h + t / 2), (w + 2 * t, t))]


def local_vertices(shape) -> np.ndarray:
    """(V, 2) vertices of a box or polygon shape in its body frame, counter-clockwise (both peers
    want that winding), centred on the centroid."""
    if shape.kind == "box":
        hw, hh = shape.size[0] / 2, shape.size[1] / 2
        v = np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]])
    else:
        v = np.asarray(shape.vertices, float)
        area2 = np.sum(v[:, 0] * np.roll(v[:, 1], -1) - np.roll(v[:, 0], -1) * v[:, 1])
        v = v[::-1] if area2 < 0 else v
        v = v - polygon_mass(v, 1.0)[2]
    return v


def polygon_mass(v: np.ndarray, density: float):
    """(mass, moment of inertia about the centroid, centroid) of a convex polygon (counter-clockwise)."""
    x, y = v[:, 0], v[:, 1]
    x1, y1 = np.roll(x, -1), np.roll(y, -1)
    c = x * y1 - x1 * y
    area = c.sum() / 2
    centroid = np.array([((x + x1) * c).sum(), ((y + y1) * c).sum()]) / (6 * area)
    second = ((x * x + x * x1 + x1 * x1 + y * y + y * y1 + y1 * y1) * c).sum() / 12  # about the origin
    mass = density * area
    return mass, density * second - mass * float(centroid @ centroid), centroid


def shape_mass(shape) -> tuple[float, float]:
    """(mass kg, moment of inertia about the centre kg m^2) of a shape of the scene."""
    if shape.kind == "circle":
        m = shape.density * math.pi * shape.radius**2
        return m, 0.5 * m * shape.radius**2
    m, inertia, _ = polygon_mass(local_vertices(shape), shape.density)
    return m, inertia


def uniform_material(scene) -> tuple[float, float]:
    """The (friction, restitution) every shape of ``scene`` shares (pymunk needs one value)."""
    mats = {(s.friction, s.restitution) for s in scene.shapes} | {(scene.border_friction, 0.0)}
    if len(mats) != 1:
        raise ValueError(f"{scene.name}: pymunk's product mixing matches ours only when every shape has the same "
                         f"friction and restitution; got {sorted(mats)}")
    return mats.pop()


def _rotate(v, angle):
    c, s = math.cos(angle), math.sin(angle)
    return (c * v[0] - s * v[1], s * v[0] + c * v[1])


def _axial_mass(scene, j) -> float:
    inv = [1.0 / shape_mass(scene.shapes[k])[1] if not scene.shapes[k].static else 0.0 for k in (j.a, j.b)]
    return 1.0 / sum(inv) if sum(inv) > 0 else 0.0


def _anchor(scene, j):
    a = scene.shapes[j.a]
    off = _rotate(j.a_anchor, a.rotation)
    return (a.position[0] + off[0], a.position[1] + off[1])


# ---------------------------------------------------------------------------------------------
# Box2D 2.3
# ---------------------------------------------------------------------------------------------


class Box2DWorld:
    """One Box2D world holding ``scene`` (``bodies``: one b2Body per scene shape, in order)."""

    name = "box2d"

    def __init__(self, scene, width: float = 5.0, height: float = 5.0):
        import Box2D

        self.world = Box2D.b2World(gravity=GRAVITY, doSleep=False)
        friction = scene.border_friction
        for centre, size in border_boxes(width, height):
            body = self.world.CreateStaticBody(position=centre)
            body.CreatePolygonFixture(box=(size[0] / 2, size[1] / 2), friction=friction, restitution=0.0)
        self.bodies = []
        for s in scene.shapes:
            make = self.world.CreateStaticBody if s.static else self.world.CreateDynamicBody
            body = make(position=s.position, angle=s.rotation)
            common = dict(density=s.density, friction=s.friction, restitution=s.restitution)
            if s.kind == "circle":
                body.CreateCircleFixture(radius=s.radius, **common)
            else:
                body.CreatePolygonFixture(vertices=[tuple(p) for p in local_vertices(s)], **common)
            self.bodies.append(body)
        for j in scene.joints:
            self.world.CreateRevoluteJoint(
                bodyA=self.bodies[j.a], bodyB=self.bodies[j.b], anchor=_anchor(scene, j), collideConnected=False,
                enableMotor=j.motor, motorSpeed=BASE_MOTOR_SPEED * j.motor_speed,
                maxMotorTorque=BASE_MOTOR_POWER * j.motor_power * _axial_mass(scene, j),
            )
        self.thrusters = [(self.bodies[t.body], t.offset, t.rotation, BASE_THRUSTER_POWER * t.power)
                          for t in scene.thrusters]

    def step(self) -> None:
        for body, offset, rotation, force in self.thrusters:
            a = body.angle + rotation
            body.ApplyForce((force * math.cos(a), force * math.sin(a)), body.GetWorldPoint(offset), True)
        self.world.Step(DT, VELOCITY_ITERATIONS, POSITION_ITERATIONS)

    def positions(self) -> np.ndarray:
        return np.array([tuple(b.position) for b in self.bodies])


# ---------------------------------------------------------------------------------------------
# pymunk (Chipmunk 7)
# ---------------------------------------------------------------------------------------------


class PymunkWorld:
    """One pymunk space holding ``scene`` (``bodies``: one pymunk.Body per scene shape, in order)."""

    name = "pymunk"

    def __init__(self, scene, width: float = 5.0, height: float = 5.0):
        import pymunk

        friction, restitution = uniform_material(scene)
        mu, e = math.sqrt(friction), math.sqrt(restitution)  # Chipmunk multiplies the two shapes' values
        self.space = space = pymunk.Space()
        space.gravity = GRAVITY
        space.iterations = VELOCITY_ITERATIONS
        space.collision_slop = SLOP
        for centre, size in border_boxes(width, height):
            body = pymunk.Body(body_type=pymunk.Body.STATIC)
            body.position = centre
            poly = pymunk.Poly.create_box(body, size)
            poly.friction, poly.elasticity = mu, e
            space.add(body, poly)
        self.bodies = []
        for s in scene.shapes:
            if s.static:
                body = pymunk.Body(body_type=pymunk.Body.STATIC)
            else:
                body = pymunk.Body(*shape_mass(s))
            body.position, body.angle = s.position, s.rotation
            if s.kind == "circle":
                shape = pymunk.Circle(body, s.radius)
            else:
                shape = pymunk.Poly(body, [tuple(p) for p in local_vertices(s)])
            shape.friction, shape.elasticity = mu, e
            space.add(body, shape)
            self.bodies.append(body)
        for j in scene.joints:
            a, b = self.bodies[j.a], self.bodies[j.b]
            pivot = pymunk.PivotJoint(a, b, _anchor(scene, j))
            pivot.collide_bodies = False
            space.add(pivot)
            if j.motor:
                # Chipmunk's SimpleMotor drives w_b - w_a to -rate
                motor = pymunk.SimpleMotor(a, b, -BASE_MOTOR_SPEED * j.motor_speed)
                motor.max_force = BASE_MOTOR_POWER * j.motor_power * _axial_mass(scene, j)
                motor.collide_bodies = False
                space.add(motor)
        self.thrusters = [(self.bodies[t.body], t.offset, t.rotation, BASE_THRUSTER_POWER * t.power)
                          for t in scene.thrusters]

    def step(self) -> None:
        for body, offset, rotation, force in self.thrusters:
            a = body.angle + rotation
            body.apply_force_at_world_point((force * math.cos(a), force * math.sin(a)), body.local_to_world(offset))
        self.space.step(DT)

    def positions(self) -> np.ndarray:
        return np.array([tuple(b.position) for b in self.bodies])


PEERS = {"box2d": Box2DWorld, "pymunk": PymunkWorld}


def peer_versions() -> dict[str, str]:
    import importlib.metadata

    return {"box2d": "Box2D " + importlib.metadata.version("box2d"),
            "pymunk": "pymunk " + importlib.metadata.version("pymunk")}


# ---------------------------------------------------------------------------------------------
# Timing: one world per step call, in a loop, in one or several processes
# ---------------------------------------------------------------------------------------------


def loop_seconds(engine: str, scene, worlds: int, steps: int, repeats: int) -> float:
    """Best wall time of ``steps`` rounds of stepping each of ``worlds`` worlds once (fresh worlds
    for every run, after one untimed run, so every run simulates the same motion)."""
    best = math.inf
    for r in range(repeats + 1):
        ws = [PEERS[engine](scene) for _ in range(worlds)]
        t0 = time.perf_counter()
        for _ in range(steps):
            for w in ws:
                w.step()
        if r > 0:
            best = min(best, time.perf_counter() - t0)
    return best


def _worker(args):
    engine, scene_name, worlds, steps, repeats, barrier = args
    import engine as bench  # this directory is on sys.path of the spawned worker (see time_peer)

    scene = bench.SCENES[scene_name]()
    PEERS[engine](scene).step()  # import and first-call costs before the barrier
    barrier.wait()
    return loop_seconds(engine, scene, worlds, steps, repeats)


def time_peer(engine: str, scene_name: str, batch: int, steps: int, repeats: int, processes: int = 1) -> dict:
    """Steps/s of ``engine`` ("box2d" or "pymunk") on ``batch`` worlds of a scene of ``engine.py``,
    split as evenly as possible over ``processes`` processes (``processes`` = 1 runs here).

    Returns {"sps": batch x steps / wall time of the slowest process, "processes", "seconds"}."""
    if processes < 1 or batch < 1 or steps < 1 or repeats < 1:
        raise ValueError(f"batch, steps, repeats and processes must be >= 1; got {batch}, {steps}, {repeats}, "
                         f"{processes}")
    if processes == 1:
        import engine as bench

        seconds = loop_seconds(engine, bench.SCENES[scene_name](), batch, steps, repeats)
    else:
        shares = [batch // processes + (k < batch % processes) for k in range(processes)]
        shares = [s for s in shares if s > 0]
        ctx = multiprocessing.get_context("spawn")
        with ctx.Manager() as manager:
            barrier = manager.Barrier(len(shares))
            with ctx.Pool(len(shares), initializer=_add_path) as pool:
                seconds = max(pool.map(_worker, [(engine, scene_name, s, steps, repeats, barrier) for s in shares]))
    return {"sps": batch * steps / seconds, "processes": processes, "seconds": seconds}


def _add_path() -> None:
    import sys
    from pathlib import Path

    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
