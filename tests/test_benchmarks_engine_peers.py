"""Box2D and pymunk in the engine benchmark get the scenes ours gets: the same bodies, positions,
angles, masses, moments of inertia, friction and restitution (per pair, after each engine's mixing
rule), joints, motors and thrusters, inside the same borders; and resting scenes stay at rest in all
of them (skipped when box2d / pymunk are not installed: ``pip install box2d pymunk``)."""

from __future__ import annotations

import importlib.util
import itertools
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import engine as bench  # noqa: E402
import engine_peers as peers  # noqa: E402

needs_box2d = pytest.mark.skipif(importlib.util.find_spec("Box2D") is None, reason="pip install box2d")
needs_pymunk = pytest.mark.skipif(importlib.util.find_spec("pymunk") is None, reason="pip install pymunk")


def ours_bodies(scene):
    """Per scene shape (in order): (position, rotation, mass, inertia, friction, restitution, static)
    read back from our built state, and the state itself."""
    _, state = bench.build_ours(scene)
    rows = []
    for g in bench.global_indices(scene):
        body, k = (state.polygon, g) if g < scene.sizes[0] else (state.circle, g - scene.sizes[0])
        im, ii = float(body.inverse_mass[k]), float(body.inverse_inertia[k])
        rows.append((np.asarray(body.position[k], float), float(body.rotation[k]), 1 / im if im else math.inf,
                     1 / ii if ii else math.inf, float(body.friction[k]), float(body.restitution[k]), im == 0))
    return rows, state


def test_constants_are_ours():
    from rizzlib.jax2d import SimParams, StaticConfig
    from rizzlib.jax2d.scene import DEFAULT_FRICTION, DEFAULT_GRAVITY

    p, st = SimParams(), StaticConfig()
    assert peers.DT == pytest.approx(p.dt) and peers.GRAVITY == DEFAULT_GRAVITY and peers.SLOP == p.slop
    assert (peers.BASE_MOTOR_SPEED, peers.BASE_MOTOR_POWER, peers.BASE_THRUSTER_POWER) == (
        p.base_motor_speed, p.base_motor_power, p.base_thruster_power)
    assert peers.VELOCITY_ITERATIONS == st.num_solver_iterations
    assert peers.POSITION_ITERATIONS == st.num_position_iterations and bench.FRICTION == DEFAULT_FRICTION


def test_borders_are_ours():
    _, state = ours_bodies(bench.scene_s_car())
    for k, (centre, size) in enumerate(peers.border_boxes(bench.WORLD, bench.WORLD)):
        np.testing.assert_allclose(np.asarray(state.polygon.position[k]), centre, atol=1e-6)
        verts = np.asarray(state.polygon.vertices[k])
        np.testing.assert_allclose(verts.max(0) - verts.min(0), size, atol=1e-5)


@pytest.mark.parametrize("v", [np.array([[0, 0], [2, 0], [0, 1.0]]), np.array([[1, 1], [3, 1], [3, 2], [1, 2.0]])])
def test_polygon_mass_against_closed_forms(v):
    m, inertia, c = peers.polygon_mass(v, 2.0)
    if len(v) == 4:  # a 2 x 1 rectangle
        assert m == pytest.approx(4.0) and inertia == pytest.approx(4.0 * (4 + 1) / 12) and c == pytest.approx([2, 1.5])
    else:  # right triangle, legs 2 and 1: I_centroid = m (a^2 + b^2) / 18
        assert m == pytest.approx(2.0) and inertia == pytest.approx(2.0 * 5 / 18) and c == pytest.approx([2 / 3, 1 / 3])


def test_pymunk_needs_one_material():
    scene = bench.scene_s_car()
    odd = bench.Scene("odd", (scene.shapes[0], bench.Shape("circle", (1, 1), radius=0.1, friction=0.2)), (), (),
                      scene.sizes)
    with pytest.raises(ValueError, match="same friction"):
        peers.uniform_material(odd)


@needs_box2d
@pytest.mark.parametrize("name", list(bench.SCENES))
def test_box2d_gets_our_scene(name):
    scene = bench.SCENES[name]()
    ours, _ = ours_bodies(scene)
    world = peers.Box2DWorld(scene)
    assert len(world.bodies) == len(scene.shapes) and world.world.bodyCount == len(scene.shapes) + 4
    for body, (pos, rot, m, inertia, f, e, static) in zip(world.bodies, ours):
        np.testing.assert_allclose(tuple(body.worldCenter), pos, atol=1e-5)
        assert body.angle == pytest.approx(rot, abs=1e-6)
        if static:
            assert body.mass == 0.0
        else:
            assert body.mass == pytest.approx(m, rel=1e-5) and body.inertia == pytest.approx(inertia, rel=1e-4)
        (fixture,) = body.fixtures
        # Box2D mixes friction as sqrt(f_a f_b) and restitution as max: per shape equal means per pair equal
        assert fixture.friction == pytest.approx(f, rel=1e-6) and fixture.restitution == pytest.approx(e, abs=1e-7)
    joints = list(world.world.joints)
    assert len(joints) == len(scene.joints)
    for jd, j in zip(joints, scene.joints):
        assert jd.motorEnabled == j.motor and jd.motorSpeed == pytest.approx(6.0 * j.motor_speed)
        np.testing.assert_allclose(tuple(jd.anchorA), peers._anchor(scene, j), atol=1e-5)
    assert len(world.thrusters) == len(scene.thrusters)


@needs_pymunk
@pytest.mark.parametrize("name", list(bench.SCENES))
def test_pymunk_gets_our_scene(name):
    import pymunk

    scene = bench.SCENES[name]()
    ours, _ = ours_bodies(scene)
    world = peers.PymunkWorld(scene)
    assert len(world.bodies) == len(scene.shapes)
    for body, (pos, rot, m, inertia, _, _, static) in zip(world.bodies, ours):
        np.testing.assert_allclose(tuple(body.local_to_world(body.center_of_gravity)), pos, atol=1e-5)
        assert body.angle == pytest.approx(rot, abs=1e-6)
        assert (body.body_type == pymunk.Body.STATIC) == static
        if not static:
            assert body.mass == pytest.approx(m, rel=1e-5) and body.moment == pytest.approx(inertia, rel=1e-4)
    shapes = list(world.space.shapes)
    assert len(shapes) == len(scene.shapes) + 4
    # every pair's mixed coefficient (Chipmunk: the product) is our mixed one (sqrt(f_a f_b), max(e_a, e_b))
    fr = [f for *_, f, _, _ in ours] + [scene.border_friction]
    re = [e for *_, e, _ in ours] + [0.0]
    for a, b in itertools.combinations(shapes, 2):
        assert a.friction * b.friction == pytest.approx(math.sqrt(fr[0] * fr[-1]), rel=1e-6)
        assert a.elasticity * b.elasticity == pytest.approx(max(re), abs=1e-7)
    motors = [c for c in world.space.constraints if isinstance(c, pymunk.SimpleMotor)]
    pivots = [c for c in world.space.constraints if isinstance(c, pymunk.PivotJoint)]
    assert len(pivots) == len(scene.joints) and len(motors) == sum(j.motor for j in scene.joints)
    assert all(not c.collide_bodies for c in world.space.constraints)
    assert world.space.collision_slop == peers.SLOP and world.space.iterations == peers.VELOCITY_ITERATIONS


RESTING = ["stack10", "pile14", "pyramid10"]


def _ours_after(scene, steps=60):
    import jax

    step, state = bench.build_ours(scene)
    acts = bench.actions_for(scene)
    state = jax.jit(lambda s: jax.lax.fori_loop(0, steps, lambda _, x: step(x, acts), s))(state)
    pos = np.concatenate([np.asarray(state.polygon.position), np.asarray(state.circle.position)])
    return pos[bench.global_indices(scene)]


@needs_box2d
@needs_pymunk
@pytest.mark.parametrize("name", RESTING)
def test_resting_scenes_stay_at_rest_in_the_peers(name):
    """One second of the resting scenes: no body moves more than a fifth of its size (8 cm) in Box2D
    or pymunk, so the scene (units, borders, contact geometry) is the settled configuration it is in
    ours; a wrong unit, border or offset throws bodies much further. Not 1 cm as in ours: Box2D
    keeps polygons 1 cm apart (its polygon skin), so each level of a stack rises ~5 mm, and
    pymunk's 10 iterations let the top of the 10-box stack sway ~6 cm."""
    scene = bench.SCENES[name]()
    start = np.array([s.position for s in scene.shapes])
    for cls in (peers.Box2DWorld, peers.PymunkWorld):
        world = cls(scene)
        for _ in range(60):
            world.step()
        assert np.abs(world.positions() - start).max() < 0.08, cls.name


@pytest.mark.slow  # compiles our step three times (~1 min on 2 cores)
@pytest.mark.parametrize("name", RESTING)
def test_resting_scenes_stay_at_rest_in_ours(name):
    scene = bench.SCENES[name]()
    start = np.array([s.position for s in scene.shapes])
    assert np.abs(_ours_after(scene) - start).max() < 0.01


@pytest.mark.slow  # compiles our step (~20 s on 2 cores)
@needs_box2d
@needs_pymunk
def test_thruster_and_motor_push_the_way_ours_do():
    """The S car: after 1 s the thruster and the motorised wheel have moved the chassis the same way
    (sign of its x displacement) in Box2D and pymunk as in ours."""
    scene = bench.scene_s_car()
    ours_dx = _ours_after(scene)[0, 0] - scene.shapes[0].position[0]
    for cls in (peers.Box2DWorld, peers.PymunkWorld):
        world = cls(scene)
        for _ in range(60):
            world.step()
        dx = world.positions()[0, 0] - scene.shapes[0].position[0]
        assert abs(ours_dx) > 0.05 and np.sign(dx) == np.sign(ours_dx), (cls.name, dx, ours_dx)


@needs_box2d
@pytest.mark.parametrize("processes", [1, 2])
def test_time_peer_counts_every_world_step(processes):
    r = peers.time_peer("box2d", "s_car", batch=3, steps=5, repeats=1, processes=processes)
    assert r["sps"] > 0 and r["processes"] == processes and r["seconds"] > 0
    assert r["sps"] == pytest.approx(3 * 5 / r["seconds"])
    with pytest.raises(ValueError, match="processes"):
        peers.time_peer("box2d", "s_car", batch=3, steps=5, repeats=1, processes=0)


def test_crossover_interpolates_log_log():
    ours = [(1, 100.0), (16, 1600.0), (256, 25600.0)]  # steps/s proportional to batch
    assert bench.crossover(ours, 50.0) == 1.0  # ahead from the first batch
    assert bench.crossover(ours, 400.0) == pytest.approx(4.0)
    assert bench.crossover(ours, 25600.0) == pytest.approx(256.0)
    assert bench.crossover(ours, 1e6) is None
    assert bench.crossover(list(reversed(ours)), 400.0) == pytest.approx(4.0)  # order does not matter


def test_peer_table_and_plot(tmp_path):
    rows = [{"scene": "s_car", "batch": b, "ours_sps": 100.0 * b, "peer_sps": 50.0 * b, "ratio": 2.0} for b in (1, 16)]
    recs = [{"scene": "s_car", "engine": "Box2D 2.3.10", "processes": p, "batch": b, "sps": 800.0 * p,
             "crossover_batch": bench.crossover([(1, 100.0), (16, 1600.0)], 800.0 * p)} for p in (1, 2) for b in (2, 16)]
    text = bench.format_peers(recs)
    assert text.count("\n") == 2 and "Box2D 2.3.10" in text and " 8\n" in text + "\n"
    bench.plot_peers(recs, rows, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
