"""Builder, validation, JSON, pair schedule, masks and the jit / vmap / grad contract of rizzlib.jax2d."""

import dataclasses
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rizzlib import jax2d
from rizzlib.jax2d import SceneBuilder, SimParams, StaticConfig
from rizzlib.jax2d.contact_solver import compact_active, prepare_contacts, restore_order
from rizzlib.jax2d.contacts import detect_contacts, stack_bodies
from rizzlib.jax2d.pairs import pair_schedule

ST = StaticConfig(num_polygons=7, num_circles=2, num_joints=4, num_thrusters=1)  # as test_jax2d_physics
PARAMS = SimParams()
CHUNK = 60


def rollout(state, motor=0.0):
    acts = jnp.zeros((CHUNK, ST.num_actions)).at[:, : ST.num_joints].set(motor)
    return jax2d.rollout_jit(state, PARAMS, ST, acts, None)


def car_scene(shift=0.0, ball_x=3.5, triangle=True):
    sb = SceneBuilder(ST)
    sb.add_borders()
    box = sb.add_box((2.5 + shift, 1.0), (1.0, 0.4))
    wheel = sb.add_circle((2.0 + shift, 1.0), 0.3, restitution=0.3)
    sb.add_revolute_joint(box, wheel, anchor=(2.0 + shift, 1.0), motor=True)
    sb.add_thruster(box, (3.0 + shift, 1.0), math.pi)
    sb.add_circle((ball_x, 2.0), 0.2)
    if triangle:  # lands on a corner and tumbles: chaotic, so rounding differences grow
        sb.add_polygon([(0, 0), (0.4, 0), (0.1, 0.3)], (1.0 + shift, 3.0), 0.3)
    return sb.build()


def leaves_equal(a, b):
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


# ------------------------------------------------------------------------------------------ builder
@pytest.mark.parametrize(
    "build, name",
    [
        (lambda sb: sb.add_polygon([(0, 0), (1, 0), (0.2, 0.2), (0, 1)]), "vertices"),  # reflex vertex
        (lambda sb: sb.add_polygon([(0, 0), (1, 0), (2, 0)]), "vertices"),  # collinear: no area
        (lambda sb: sb.add_polygon([(0, 0), (1, 0), (1, 1), (0.5, 1.5), (0, 1)]), "vertices"),  # 5 > 4 slots
        (lambda sb: sb.add_polygon([(0, 0), (1, 0), (1, 0), (0, 1)]), "vertices"),  # repeated vertex
        (lambda sb: sb.add_box((1, 1), (0.5, 0.5), density=-1.0), "density"),
        (lambda sb: sb.add_box((1, 1), (0.5, 0.5), density=0.0), "density"),
        (lambda sb: sb.add_box((float("nan"), 1), (0.5, 0.5)), "position"),
        (lambda sb: sb.add_box((1, 1), (0.5, -0.5)), "size"),
        (lambda sb: sb.add_circle((1, 1), 0.0), "radius"),
        (lambda sb: sb.add_circle((1, 1), 0.2, restitution=1.5), "restitution"),
        (lambda sb: sb.add_circle((1, 1), 0.2, friction=-0.1), "friction"),
        (lambda sb: sb.add_circle((1, 1), 0.2, collision_mode=7), "collision_mode"),
        (lambda sb: sb.add_revolute_joint(0, 99, anchor=(1, 1)), "b=99"),
        (lambda sb: sb.add_revolute_joint(5, 0, anchor=(1, 1)), "a=5"),  # polygon slot 5 unused
        (lambda sb: sb.add_revolute_joint(0, 0, anchor=(1, 1)), "different bodies"),
        (lambda sb: sb.add_revolute_joint(0, 7, anchor=(1, 1), limits=(0.5, -0.5)), "limits[1]"),
        (lambda sb: sb.add_revolute_joint(0, 7, anchor=(1, 1), motor_power=-1.0), "motor_power"),
        (lambda sb: sb.add_thruster(3, (1, 1)), "body=3"),
        (lambda sb: sb.add_thruster(0, (1, 1), power=float("nan")), "power"),
    ],
)
def test_builder_rejects_bad_input_naming_the_argument(build, name):
    sb = SceneBuilder(ST)
    sb.add_box((1, 1), (0.5, 0.5))
    sb.add_circle((2, 2), 0.2)
    with pytest.raises(ValueError, match=name.replace("[", r"\[").replace("]", r"\]")):
        build(sb)


INF, NAN = float("inf"), float("nan")
#: (method, kwargs of one valid call, {argument: [bad values]}): every number of every method
BUILDER_CALLS = [
    ("add_polygon", dict(vertices=[(0, 0), (0.4, 0), (0, 0.3)], position=(1, 1)),
     dict(position=[(INF, 1), (1, NAN)], rotation=[INF, NAN], density=[0.0, -1.0, INF, NAN],
          friction=[-0.1, INF, NAN], restitution=[-0.1, 1.5, NAN], velocity=[(INF, 0), (0, NAN), (200.0, 0)],
          angular_velocity=[INF, NAN, 60.0], collision_mode=[7, 1.5, "x"], static=["yes"],
          vertices=[[(0, 0), (1, 0), (2, 0)], [(0, 0), (INF, 0), (0, 1)]])),
    ("add_box", dict(position=(1, 1), size=(0.5, 0.5)),
     dict(position=[(NAN, 1), (20.0, 1)], size=[(0.5, -0.5), (INF, 0.5), (0.5, NAN)], rotation=[INF],
          friction=[INF], density=[INF], restitution=[2.0])),
    ("add_circle", dict(position=(2, 2), radius=0.2),
     dict(position=[(2, INF), (2, -16.0)], radius=[0.0, -0.1, INF, NAN], density=[INF, 0.0], friction=[INF, -1.0],
          restitution=[INF, -0.5], velocity=[(0, -101.0), (NAN, 0)], angular_velocity=[-51.0, NAN], rotation=[NAN])),
    ("add_borders", dict(),
     dict(width=[0.0, INF, NAN], height=[-1.0, INF], thickness=[0.0, INF], friction=[INF, -1.0], restitution=[1.5, NAN])),
    ("add_floor", dict(),
     dict(y=[INF, NAN], x_min=[NAN, -INF], x_max=[-6.0, INF], thickness=[0.0, INF], friction=[INF])),
    ("add_revolute_joint", dict(a=0, b=7, anchor=(1, 1)),
     dict(a=[5, -1, 1.0, True], b=[99, 0], anchor=[(INF, 1), (1, NAN)], motor_speed=[INF, NAN],
          motor_power=[-1.0, INF], limits=[(0.5, -0.5), (NAN, 0.5), (-0.5, INF), (0.1, 0.2, 0.3)])),
    ("add_fixed_joint", dict(a=0, b=7), dict(a=[6], b=[0, 8], anchor=[(NAN, 0)])),
    ("add_thruster", dict(body=0, position=(1, 1)),
     dict(body=[3, 9], position=[(INF, 1)], rotation=[INF, NAN], power=[-1.0, INF, NAN])),
]


def _builder_snapshot(sb):
    tables = {k: {f: a.copy() for f, a in getattr(sb, k).items()} for k in ("_poly", "_circ", "_joint", "_thr")}
    counts = (sb.num_polygons, sb.num_circles, sb.num_joints, sb.num_thrusters)
    return tables, counts


def _same_snapshot(a, b):
    ta, ca = a
    tb, cb = b
    return ca == cb and all(np.array_equal(ta[k][f], tb[k][f], equal_nan=True) for k in ta for f in ta[k])


@pytest.mark.parametrize("method, good, bad", BUILDER_CALLS, ids=[c[0] for c in BUILDER_CALLS])
def test_every_builder_method_validates_every_number_and_a_raise_changes_nothing(method, good, bad):
    def fresh():
        sb = SceneBuilder(StaticConfig(num_polygons=7, num_circles=2, num_joints=4, num_thrusters=1))
        sb.add_box((1, 1), (0.5, 0.5))  # body 0
        sb.add_circle((2, 2), 0.2)  # body 7
        return sb

    getattr(fresh(), method)(**good)  # the valid call works
    for name, values in bad.items():
        for value in values:
            sb = fresh()
            before = _builder_snapshot(sb)
            with pytest.raises(ValueError, match=name if name not in ("a", "b", "body") else f"{name}"):
                getattr(sb, method)(**{**good, name: value})
            assert _same_snapshot(before, _builder_snapshot(sb)), (method, name, value)


def test_a_raise_half_way_through_leaves_nothing_behind():
    sb = SceneBuilder(StaticConfig(num_polygons=6, num_circles=1, num_joints=1, num_thrusters=0))
    sb.add_box((1, 1), (0.5, 0.5))
    sb.add_box((2, 1), (0.5, 0.5))
    sb.add_box((3, 1), (0.5, 0.5))
    before = _builder_snapshot(sb)
    with pytest.raises(ValueError, match="add_borders needs 4 polygon slots but only 3"):
        sb.add_borders()  # used to add two of its four boxes first
    assert _same_snapshot(before, _builder_snapshot(sb))
    with pytest.raises(ValueError, match=r"limits\[1\]"):
        sb.add_revolute_joint(0, 1, anchor=(1.5, 1), limits=(0.5, -0.5))  # used to leave a joint behind
    assert _same_snapshot(before, _builder_snapshot(sb))


@pytest.mark.parametrize("field, value", [("dt", -0.01), ("dt", NAN), ("dt", 0.0), ("dt", INF), ("slop", -0.001),
                                          ("baumgarte", 1.5), ("baumgarte", NAN), ("max_push_velocity", -1.0),
                                          ("speculative_distance", INF), ("restitution_threshold", -0.1),
                                          ("joint_baumgarte", -0.2), ("clip_position", 0.0), ("clip_velocity", NAN),
                                          ("clip_angular_velocity", -1.0), ("base_motor_speed", INF),
                                          ("base_motor_power", -900.0), ("base_thruster_power", NAN)])
def test_sim_params_reject_bad_numbers_by_name(field, value):
    with pytest.raises(ValueError, match=field):
        SimParams(**{field: value})
    with pytest.raises(ValueError, match=field):
        SimParams().replace(**{field: value})


def test_nothing_a_user_sets_is_clipped_silently():
    params = SimParams(clip_position=INF, clip_velocity=INF, clip_angular_velocity=INF)
    sb = SceneBuilder(ST, gravity=(0.0, 0.0), params=params)  # explicit opt-in: accepted
    far = sb.add_circle((20.0, 2.0), 0.2, velocity=(150.0, 0.0), angular_velocity=80.0)
    assert int(far) == ST.num_polygons
    sb = SceneBuilder(ST)
    wall = sb.add_box((20.0, 2.0), (0.5, 4.0), static=True)  # static bodies may sit anywhere...
    ball = sb.add_circle((2.0, 2.0), 0.2)
    state = sb.build()
    final, _ = rollout(state)
    np.testing.assert_array_equal(final.polygon.position[wall], [20.0, 2.0])  # ...and are never moved
    assert float(final.circle.position[ball - ST.num_polygons, 1]) < 2.0


def test_builder_rejects_too_many_shapes_joints_and_thrusters():
    sb = SceneBuilder(StaticConfig(num_polygons=1, num_circles=1, num_joints=1, num_thrusters=0))
    a = sb.add_box((1, 1), (0.5, 0.5))
    b = sb.add_circle((2, 2), 0.2)
    with pytest.raises(ValueError, match="num_polygons"):
        sb.add_box((3, 3), (0.5, 0.5))
    with pytest.raises(ValueError, match="num_circles"):
        sb.add_circle((3, 3), 0.2)
    sb.add_revolute_joint(a, b, anchor=(1.5, 1.5))
    with pytest.raises(ValueError, match="num_joints"):
        sb.add_fixed_joint(a, b)
    with pytest.raises(ValueError, match="num_thrusters"):
        sb.add_thruster(a, (1, 1))
    with pytest.raises(ValueError, match="max_polygon_vertices"):
        StaticConfig(max_polygon_vertices=2)


def test_builder_mass_properties_and_indices():
    static = StaticConfig(num_polygons=3, num_circles=2, num_joints=1, num_thrusters=1, max_polygon_vertices=8)
    sb = SceneBuilder(static)
    box = sb.add_box((1.0, 2.0), (0.6, 0.2), rotation=0.4, density=3.0)
    # a right trapezoid, clockwise on purpose: area 1.5, centroid (7/9, 4/9) by hand
    trap = sb.add_polygon([(0, 0), (0, 1), (1, 1), (2, 0)], position=(5.0, 5.0), density=2.0)
    disc = sb.add_circle((0.0, 0.0), 0.5, density=4.0)
    assert (box, trap, disc) == (0, 1, 3)
    s = sb.build()
    m_box = 3.0 * 0.12
    assert float(s.polygon.inverse_mass[box]) == pytest.approx(1 / m_box, rel=1e-5)
    assert float(s.polygon.inverse_inertia[box]) == pytest.approx(12 / (m_box * (0.36 + 0.04)), rel=1e-5)
    np.testing.assert_allclose(s.polygon.position[box], (1.0, 2.0), atol=1e-6)
    assert float(s.polygon.inverse_mass[trap]) == pytest.approx(1 / 3.0, rel=1e-5)
    np.testing.assert_allclose(s.polygon.position[trap], (5 + 7 / 9, 5 + 4 / 9), atol=1e-5)
    local = np.asarray(s.polygon.vertices[trap, :4])
    np.testing.assert_allclose(jax2d.polygon_mass(local, 1.0)[2], 0.0, atol=1e-6)  # about the centroid
    assert np.linalg.norm(local.mean(0)) > 0.05  # which is not the vertex mean (Jax2D's choice)
    assert jax2d.polygon_area(local) > 0  # stored counter-clockwise
    # Monte Carlo inertia of the trapezoid about its centroid
    rng = np.random.default_rng(0)
    pts = rng.uniform([0, 0], [2, 1], (400_000, 2))
    inside = pts[:, 1] <= 1 - np.maximum(pts[:, 0] - 1, 0)
    pts = pts[inside] - (7 / 9, 4 / 9)
    inertia_mc = 2.0 * 1.5 * np.mean(np.sum(pts**2, 1))
    assert 1 / float(s.polygon.inverse_inertia[trap]) == pytest.approx(inertia_mc, rel=5e-3)
    m_disc = 4.0 * math.pi * 0.25
    assert float(s.circle.inverse_mass[0]) == pytest.approx(1 / m_disc, rel=1e-5)
    assert float(s.circle.inverse_inertia[0]) == pytest.approx(2 / (m_disc * 0.25), rel=1e-5)


def test_borders_are_ordinary_static_shapes_and_slots_have_no_rules():
    # dynamic boxes in polygon slots 0 and 1 collide with each other (Jax2D would skip that pair)
    sb = SceneBuilder(ST)
    low = sb.add_box((2.5, 0.25), (0.5, 0.5))
    high = sb.add_box((2.5, 0.9), (0.5, 0.5))
    floor = sb.add_floor()
    assert (low, high, floor) == (0, 1, 2)
    final, _ = rollout(sb.build())
    np.testing.assert_allclose(final.polygon.position[low], (2.5, 0.25), atol=5e-3)
    np.testing.assert_allclose(final.polygon.position[high], (2.5, 0.75), atol=1e-2)
    sb = SceneBuilder(ST)
    walls = sb.add_borders(width=4.0, height=3.0)
    s = sb.build()
    assert walls == [0, 1, 2, 3]
    assert np.all(np.asarray(s.polygon.inverse_mass[:4]) == 0)
    assert not np.asarray(s.collision_matrix[:4, :4]).any()  # static pairs never collide


def test_collision_matrix_is_the_transitive_closure_of_joints():
    rng = np.random.default_rng(3)
    static = StaticConfig(num_polygons=6, num_circles=3, num_joints=5, num_thrusters=0)
    sb = SceneBuilder(static)
    ids = [sb.add_box((i, 0.0), (0.3, 0.3)) for i in range(6)] + [sb.add_circle((i, 2.0), 0.1) for i in range(3)]
    edges = []
    for _ in range(5):
        a, b = rng.choice(len(ids), 2, replace=False)
        sb.add_revolute_joint(ids[a], ids[b], anchor=(0.0, 1.0))
        edges.append((ids[a], ids[b]))
    got = np.asarray(sb.build().collision_matrix)
    comp = list(range(9))  # union-find by hand
    find = lambda x: x if comp[x] == x else find(comp[x])  # noqa: E731
    for a, b in edges:
        comp[find(a)] = find(b)
    expected = np.array([[find(i) != find(j) for j in range(9)] for i in range(9)])
    np.testing.assert_array_equal(got, expected)


# ------------------------------------------------------------------------------------------ JSON
def test_json_round_trip_is_exact(tmp_path):
    state, _ = rollout(car_scene(), motor=1.0)  # non-zero impulses, contacts, joint state
    text = jax2d.save_scene(state, ST, tmp_path / "scene.json")
    for source in (text, tmp_path / "scene.json", str(tmp_path / "scene.json")):
        loaded, static = jax2d.load_scene(source)
        assert static == ST
        assert jax.tree.structure(loaded) == jax.tree.structure(state)
        assert leaves_equal(loaded, state)
        assert all(np.asarray(x).dtype == np.asarray(y).dtype for x, y in zip(jax.tree.leaves(loaded), jax.tree.leaves(state)))
    a, _ = rollout(state)
    b, _ = rollout(jax2d.load_scene(text)[0])
    assert leaves_equal(a, b)
    with pytest.raises(ValueError, match="source"):
        jax2d.load_scene('{"format": "something else"}')
    with pytest.raises(ValueError, match="single scene"):
        jax2d.save_scene(jax.tree.map(lambda x: x[None], state), ST)


# ------------------------------------------------------------------------------------------ contract
def test_same_inputs_give_bit_identical_results():
    a, ta = rollout(car_scene(), motor=1.0)
    b, tb = rollout(car_scene(), motor=1.0)
    assert leaves_equal(a, b) and leaves_equal(ta, tb)


def test_vmap_over_a_batch_equals_the_loop_over_scenes():
    scenes = [car_scene(shift=s, ball_x=x, triangle=False) for s, x in [(0.0, 3.5), (0.3, 3.0), (-0.4, 4.2)]]
    scenes.append(scenes[1])  # a twin, to check that identical rows stay bit-identical
    batch = jax.tree.map(lambda *x: jnp.stack(x), *scenes)
    acts = jnp.zeros((CHUNK, 4, ST.num_actions)).at[:, :, 0].set(jnp.array([1.0, -1.0, 0.5, -1.0]))
    batched = jax.jit(jax.vmap(lambda s, a: jax2d.rollout(s, PARAMS, ST, a)[0], in_axes=(0, 1)))(batch, acts)
    rows = [jax.tree.map(lambda v, i=i: v[i], batched) for i in range(4)]
    assert leaves_equal(rows[1], rows[3])
    for i, scene in enumerate(scenes[:3]):
        single, _ = jax2d.rollout_jit(scene, PARAMS, ST, acts[:, i], None)
        # batched and single code paths round differently (vectorised maths; under vmap the pair
        # loop runs to the batch's largest contact count, a select for the rest); 60 contact
        # steps amplify that to ~1e-5
        for x, y in zip(jax.tree.leaves(single), jax.tree.leaves(rows[i])):
            np.testing.assert_allclose(np.asarray(x, np.float64), np.asarray(y, np.float64), rtol=2e-4, atol=1e-4)


def test_all_inactive_scene_is_nan_free_and_still():
    empty = jax2d.empty_state(ST)
    final, traj = rollout(empty, motor=1.0)
    for leaf in jax.tree.leaves(traj):
        assert np.all(np.isfinite(np.asarray(leaf, np.float64)))
    assert leaves_equal(final.polygon, empty.polygon) and leaves_equal(final.circle, empty.circle)
    assert not np.asarray(traj.contacts.active).any()


def test_inactive_slots_never_move_or_collide():
    state = car_scene()
    final, traj = rollout(state, motor=1.0)
    idle = ~np.asarray(state.polygon.active)
    np.testing.assert_array_equal(np.asarray(final.polygon.position)[idle], np.asarray(state.polygon.position)[idle])
    a, b = np.asarray(traj.contacts.body_a[0]), np.asarray(traj.contacts.body_b[0])
    act = np.concatenate([np.asarray(state.polygon.active), np.asarray(state.circle.active), [False]])
    assert not np.asarray(traj.contacts.active)[:, ~(act[a] & act[b])].any()


def _contact_loss(layout: str = "active"):
    static = StaticConfig(num_polygons=2, num_circles=1, num_joints=0, num_thrusters=0,
                          num_solver_iterations=2, num_relax_iterations=1, solver_layout=layout)
    sb = SceneBuilder(static)
    sb.add_floor()
    sb.add_box((1.0, 0.3), (0.4, 0.4), velocity=(1.0, 0.0))
    sb.add_circle((2.0, 0.5), 0.2, restitution=0.5)
    state = sb.build()

    def loss(vx):
        s = state.replace(polygon=state.polygon.replace(velocity=state.polygon.velocity.at[1, 0].set(vx)))
        final, _ = jax2d.rollout(s, PARAMS, static, None, 12)
        return final.polygon.position[1, 0] + final.circle.position[0, 1]

    return loss


@pytest.mark.parametrize("layout", ["active", "rounds"])
def test_derivatives_through_a_contact_rollout_are_finite(layout):
    loss = _contact_loss(layout)
    slope = jax.jit(lambda v: jax.jvp(loss, (v,), (1.0,))[1])(1.0)
    assert np.isfinite(float(slope)) and 0.05 < float(slope) < 0.2  # (free sliding would give 12 dt = 0.2)
    eps = 1e-2
    fd = (float(jax.jit(loss)(1.0 + eps)) - float(jax.jit(loss)(1.0 - eps))) / (2 * eps)
    assert float(slope) == pytest.approx(fd, rel=0.05)


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["active", "rounds"])
def test_reverse_mode_gradient_matches_forward_mode(layout):
    loss = _contact_loss(layout)
    g = jax.jit(jax.grad(loss))(1.0)
    slope = jax.jit(lambda v: jax.jvp(loss, (v,), (1.0,))[1])(1.0)
    assert np.isfinite(float(g)) and float(g) == pytest.approx(float(slope), rel=1e-4)


def test_active_layout_differentiates_through_its_bounded_sweep():
    """The active sweep's loop length depends on the data; its custom JVP goes through the bounded
    (scan + cond) form, which must give the same sweep as the while loop and be transposable."""
    speeds = jnp.array([0.5, 1.0])  # under vmap too, where the custom JVP rule itself gets batched
    grads = [jax.jit(jax.vmap(jax.grad(_contact_loss(layout))))(speeds) for layout in ("active", "rounds")]
    np.testing.assert_allclose(np.asarray(grads[0]), np.asarray(grads[1]), rtol=1e-5)
    assert np.all(np.isfinite(np.asarray(grads[0])))


# ------------------------------------------------------------------------------------------ schedule
@pytest.mark.parametrize("p, c", [(5, 2), (6, 3), (12, 4), (1, 0), (0, 3), (4, 0)])
def test_pair_schedule_covers_every_pair_once_and_rounds_are_matchings(p, c):
    sched = pair_schedule(p, c)
    n = p + c
    pairs = sorted((int(a), int(b)) for a, b in zip(sched.body_a.ravel(), sched.body_b.ravel()) if b < n)
    assert pairs == list(itertools.combinations(range(n), 2))
    for r in range(sched.num_rounds):
        members = [int(x) for x in np.concatenate([sched.body_a[r], sched.body_b[r]])]
        assert len(set(members)) == len(members)  # nobody twice in a round
        kinds = ["pp" if b < p else ("pad" if b >= n else "x") for a, b in zip(sched.body_a[r], sched.body_b[r])]
        k0, k1 = sched.point_slots
        assert all(k != "pad" for k in kinds[:k0]) and all(k == "pad" for k in kinds[k0:])
        assert "pp" not in kinds[k1:]  # every two-point pair is within the first k1 slots
    # the row permutations: following `steps` reproduces each round's order, `back` undoes the last
    rows = np.arange(2 * sched.num_slots)
    for r in range(sched.num_rounds):
        rows = rows[sched.steps[r]]
        np.testing.assert_array_equal(rows, np.concatenate([sched.body_a[r], sched.body_b[r]]))
    np.testing.assert_array_equal(rows[sched.back], np.arange(2 * sched.num_slots))


def test_octagons_roll_and_rest_with_eight_vertex_slots():
    static = StaticConfig(num_polygons=3, num_circles=0, num_joints=0, num_thrusters=0, max_polygon_vertices=8)
    sb = SceneBuilder(static)
    sb.add_floor()
    octagon = [(0.3 * math.cos(k * math.pi / 4 + math.pi / 8), 0.3 * math.sin(k * math.pi / 4 + math.pi / 8)) for k in range(8)]
    apothem = 0.3 * math.cos(math.pi / 8)
    resting = sb.add_polygon(octagon, (1.0, apothem))
    rolling = sb.add_polygon(octagon, (3.0, apothem + 0.2), angular_velocity=-6.0)
    final, _ = jax2d.rollout_jit(sb.build(), PARAMS, static, None, 120)
    np.testing.assert_allclose(final.polygon.position[resting], (1.0, apothem), atol=5e-3)
    assert abs(float(final.polygon.rotation[resting])) < 1e-3
    assert float(final.polygon.position[rolling, 0]) > 3.05  # friction turned the clockwise spin into rolling right
    assert abs(float(final.polygon.position[rolling, 1]) - apothem) < 0.05


def test_solver_layouts_agree():
    """The solver layouts change how a sweep is scheduled, not what it computes."""
    finals = []
    rounds = {"solver_layout": "rounds"}
    for layout in ({}, rounds, {**rounds, "skip_idle_rounds": False}, {**rounds, "index_rounds": True}):
        static = StaticConfig(num_polygons=3, num_circles=2, num_joints=1, num_thrusters=0, **layout)
        sb = SceneBuilder(static)
        sb.add_floor()
        a = sb.add_box((1.0, 0.2), (0.4, 0.4))
        sb.add_box((1.1, 0.65), (0.4, 0.4), rotation=0.2)
        wheel = sb.add_circle((1.0, 0.5), 0.1)
        sb.add_circle((1.6, 1.0), 0.2, velocity=(-1.0, 0.0), restitution=0.7)
        sb.add_revolute_joint(a, wheel, anchor=(1.0, 0.5), motor=True)
        finals.append(jax2d.rollout_jit(sb.build(), PARAMS, static, jnp.ones((30, 1)), None)[0])
    for other in finals[1:]:
        for x, y in zip(jax.tree.leaves(finals[0]), jax.tree.leaves(other)):
            np.testing.assert_allclose(np.asarray(x, np.float64), np.asarray(y, np.float64), rtol=1e-5, atol=1e-5)
    # active visits the touching pairs in the rounds' order: the same updates, equal up to how XLA
    # fuses the two-point block solve on one pair or on a whole round (float32 rounding, checked above)
    with pytest.raises(ValueError, match="solver_layout"):
        StaticConfig(solver_layout="jacobi")


def test_active_layout_visits_only_touching_pairs():
    static = StaticConfig(num_polygons=3, num_circles=2, num_joints=0, num_thrusters=0)
    sb = SceneBuilder(static)
    sb.add_floor()
    sb.add_box((1.0, 0.2), (0.4, 0.4))
    sb.add_circle((3.0, 0.1), 0.1)
    sb.add_circle((5.0, 3.0), 0.2)  # in the air: touches nothing
    state = jax2d.step_jit(sb.build(), PARAMS, static, None)
    bodies = stack_bodies(state)
    manifold = detect_contacts(state, bodies, PARAMS, static)
    shape = (1, -1, 2)
    cons = prepare_contacts(manifold, bodies, 1)
    acc = manifold.normal_impulse.reshape(shape)
    cons_c, acc_c, _, order, count = compact_active(cons, acc, acc)
    live = np.asarray(manifold.active).any(-1)
    assert int(count) == live.sum() == 2  # box-floor and low circle-floor
    assert np.asarray(cons_c.active)[0, :2].any(-1).all() and not np.asarray(cons_c.active)[0, 2:].any()
    np.testing.assert_array_equal(np.asarray(order)[:2], np.flatnonzero(live))  # schedule order kept
    np.testing.assert_array_equal(np.asarray(restore_order(acc_c, order)), np.asarray(acc))


def test_kinetix_sizes():
    s = StaticConfig.kinetix("m")
    assert (s.num_polygons, s.num_circles, s.num_joints, s.num_thrusters) == (6, 3, 2, 2)
    with pytest.raises(ValueError, match="size"):
        StaticConfig.kinetix("xl")


def _row_of_circles(static, n=9):
    """A floor and ``n`` circles of radius 0.1 resting on it side by side (2n - 1 touching pairs)."""
    sb = SceneBuilder(static)
    sb.add_floor()
    for k in range(n):
        sb.add_circle((0.5 + 0.2 * k, 0.1), 0.1, velocity=(0.3 * (k % 2), 0.0))
    return sb.build()


def _max_diff(a, b):
    return max(float(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)).max(initial=0.0))
               for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def test_auto_layout_rule(monkeypatch, request):
    """``"auto"``: one scene steps with "active" below AUTO_COLOURS_FROM touching pairs in the last
    step and with "colours" from there on; a vmapped batch of more than one scene likewise from
    AUTO_BATCHED_COLOURS_FROM pairs (the batch's union); a
    batch of one like one scene; derivatives through "active". Colours are left uncapped here: on
    this row of circles, colours of at most 3 pairs (the default cap) happen to update in the active
    order, and the check below needs the two orders to differ."""
    from rizzlib.jax2d import stepping

    monkeypatch.setattr(stepping, "COLOUR_SLOTS_FRACTION", None)
    stepping.auto_step.cache_clear()  # auto_step is cached by StaticConfig: built anew, uncapped
    request.addfinalizer(stepping.auto_step.cache_clear)  # and again afterwards, capped

    static = StaticConfig(num_polygons=1, num_circles=9, num_joints=0, num_thrusters=0, solver_layout="auto")
    lay = {k: dataclasses.replace(static, solver_layout=k) for k in ("active", "colours")}
    step = jax.jit(jax2d.step, static_argnums=(2,))
    s0 = _row_of_circles(static)
    assert int(stepping.auto_touching_pairs(s0)) == 0  # a fresh scene has no recorded contacts
    a1 = step(s0, PARAMS, static)  # 0 recorded -> active
    assert _max_diff(a1, step(s0, PARAMS, lay["active"])) == 0.0
    assert int(stepping.auto_touching_pairs(a1)) == 17 >= stepping.AUTO_COLOURS_FROM
    a2 = step(a1, PARAMS, static)  # 17 recorded -> colours
    assert _max_diff(a2, step(a1, PARAMS, lay["colours"])) == 0.0
    assert _max_diff(a2, step(a1, PARAMS, lay["active"])) > 0.0  # the two orders differ (so the check means something)
    batch = lambda s, b: jax.tree.map(lambda x: jnp.repeat(x[None], b, 0), s)  # noqa: E731
    vstep = jax.jit(jax.vmap(lambda s, st: jax2d.step(s, PARAMS, st), in_axes=(0, None)), static_argnums=(1,))
    one = vstep(batch(a1, 1), static)
    assert _max_diff(jax.tree.map(lambda x: x[0], one), a2) == 0.0  # batch of one = one scene (colours)
    three = vstep(batch(a1, 3), static)
    assert _max_diff(three, vstep(batch(a1, 3), lay["active"])) == 0.0  # batch > 1, 17 < 24 pairs: active
    monkeypatch.setattr(stepping, "AUTO_BATCHED_COLOURS_FROM", 17)
    stepping.auto_step.cache_clear()
    vstep = jax.jit(jax.vmap(lambda s, st: jax2d.step(s, PARAMS, st), in_axes=(0, None)), static_argnums=(1,))
    three = vstep(batch(a1, 3), static)  # batch > 1 from 17 pairs: colours, one colouring for the batch
    assert _max_diff(three, vstep(batch(a1, 3), lay["colours"])) == 0.0
    assert _max_diff(three, vstep(batch(a1, 3), lay["active"])) > 0.0
    # derivatives go through the active layout's differentiable sweep, batched or not
    def loss(st):
        return lambda vx: jax2d.step(a1.replace(circle=a1.circle.replace(
            velocity=a1.circle.velocity.at[0, 0].set(vx))), PARAMS, st).circle.position[0, 0]
    g_auto, g_active = (float(jax.jit(jax.grad(loss(st)))(0.5)) for st in (static, lay["active"]))
    assert np.isfinite(g_auto) and g_auto == pytest.approx(g_active, rel=1e-6, abs=1e-9)
    gv = jax.jit(jax.vmap(jax.grad(loss(static))))(jnp.array([0.5, 0.5]))
    np.testing.assert_allclose(np.asarray(gv), g_active, rtol=1e-6, atol=1e-9)


def test_colours_skipping_the_second_point_changes_no_number(monkeypatch):
    """A colour whose pairs have no second point on skips it (``SKIP_SECOND_POINT``): circles on
    boxes on the floor (one-point and two-point colours in one scene, with restitution) step to the
    same state as with both points solved everywhere."""
    from rizzlib.jax2d import contact_solver

    static = StaticConfig(num_polygons=4, num_circles=4, num_joints=0, num_thrusters=0, solver_layout="colours")
    sb = SceneBuilder(static)
    sb.add_floor(restitution=0.5)
    sb.add_box((1.0, 0.2), (0.4, 0.4), restitution=0.5)
    sb.add_box((1.05, 0.61), (0.4, 0.4), rotation=0.1)
    sb.add_box((2.5, 0.5), (0.4, 0.4), angular_velocity=2.0)
    for k in range(4):
        sb.add_circle((0.4 + 0.2 * k, 0.8 + 0.1 * k), 0.1, velocity=(0.5, -1.0), restitution=0.8)
    s0 = sb.build()
    finals = []
    for skip in (True, False):
        monkeypatch.setattr(contact_solver, "SKIP_SECOND_POINT", skip)
        roll = jax.jit(lambda s: jax2d.rollout(s, PARAMS, static, None, 60))  # traced anew per setting
        finals.append(roll(s0))
    assert int(np.asarray(finals[0][1].contacts.active).all(-1).any(-1).sum()) > 0  # two-point pairs occur
    assert int((np.asarray(finals[0][1].contacts.active).sum(-1) == 1).any(-1).sum()) > 0  # and one-point ones
    assert _max_diff(finals[0], finals[1]) <= 1e-6
