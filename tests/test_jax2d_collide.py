"""Narrow-phase and impulse oracles: closed forms and brute force over sampled directions."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rizzlib import jax2d
from rizzlib.jax2d.collide import FAR, polygon_faces

V = 8  # exercise a vertex count above the default 4
DIRECTIONS = np.stack([np.cos(np.linspace(0, 2 * np.pi, 7200, endpoint=False)),
                       np.sin(np.linspace(0, 2 * np.pi, 7200, endpoint=False))], 1)

_sep = jax.jit(jax2d.polygon_separation)
_pp = jax.jit(jax2d.collide_polygons)
_pc = jax.jit(jax2d.collide_polygon_circle)
_cc = jax.jit(jax2d.collide_circles)


def random_convex(rng, k, centre, scale):
    """k points on an ellipse at sorted random angles: convex, counter-clockwise, padded to V."""
    angles = np.sort(rng.uniform(0, 2 * np.pi, k))
    while np.diff(np.concatenate([angles, angles[:1] + 2 * np.pi])).min() < 0.3:
        angles = np.sort(rng.uniform(0, 2 * np.pi, k))
    a, b = scale * rng.uniform(0.5, 1.0, 2)
    rot = rng.uniform(0, 2 * np.pi)
    pts = np.stack([a * np.cos(angles), b * np.sin(angles)], 1)
    c, s = math.cos(rot), math.sin(rot)
    pts = pts @ np.array([[c, s], [-s, c]]) + centre
    out = np.repeat(pts[:1], V, 0)
    out[:k] = pts
    return out.astype(np.float32), k


def support_gap(a, b):
    """gap(d) = min_b d.b - max_a d.a for every sampled unit direction d (brute force)."""
    return (b @ DIRECTIONS.T).min(0) - (a @ DIRECTIONS.T).max(0)


polygon_pairs = st.tuples(
    st.integers(0, 2**31 - 1), st.integers(3, V), st.integers(3, V), st.floats(0.0, 1.6)
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(polygon_pairs)
def test_polygon_sat_matches_brute_force(case):
    seed, ka, kb, dist = case
    rng = np.random.default_rng(seed)
    va, na = random_convex(rng, ka, np.zeros(2), 0.6)
    direction = rng.normal(size=2)
    vb, nb = random_convex(rng, kb, dist * direction / np.linalg.norm(direction), 0.6)
    sa, _ = _sep(va, vb, na, nb)
    sb, _ = _sep(vb, va, nb, na)
    sat = max(float(sa), float(sb))
    best_gap = support_gap(va[:na], vb[:nb]).max()  # = distance if apart, = -MTD if overlapping
    if best_gap < -1e-3:  # overlapping: SAT depth is the minimum translation distance
        assert abs(sat - best_gap) < 2e-3, (sat, best_gap)
    elif best_gap > 1e-3:  # apart: SAT separation is positive and a lower bound on the distance
        assert 0 < sat <= best_gap + 2e-3, (sat, best_gap)

    normal, seps, points, _ = _pp(va, na, vb, nb)
    normal, seps, points = np.asarray(normal), np.asarray(seps), np.asarray(points)
    assert abs(np.linalg.norm(normal) - 1) < 1e-5
    if best_gap < -1e-3:
        depth = -sat
        # pushing B along the normal by the depth separates them, by less does not
        gap_after = lambda t: support_gap(va[:na], vb[:nb] + t * normal).max()  # noqa: E731
        assert gap_after(depth + 5e-3) > 0 and gap_after(max(depth - 5e-3, 0.0)) < 0
        # every reported point: separation = -depth for the deepest, and lies between the bodies
        real = seps < FAR / 2
        assert real.any() and abs(seps[real].min() - sat) < 2e-3
        for p, s in zip(points[real], seps[real]):
            for poly in (va[:na], vb[:nb]):
                faces = polygon_faces(poly)
                outside = np.max(np.asarray(faces.normal) @ p - np.sum(np.asarray(faces.normal) * np.asarray(faces.start), 1))
                assert outside <= abs(s) / 2 + 2e-3


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(3, V), st.floats(0.0, 1.2), st.floats(0.05, 0.5))
def test_polygon_circle_matches_exact_distance(seed, k, dist, radius):
    rng = np.random.default_rng(seed)
    poly, n = random_convex(rng, k, np.zeros(2), 0.6)
    direction = rng.normal(size=2)
    centre = (dist * direction / np.linalg.norm(direction)).astype(np.float32)
    normal, seps, points, _ = _pc(poly, n, centre, np.float32(radius))
    # exact: distance from the centre to the boundary, sign by inside/outside
    a, b = poly[:n], np.roll(poly[:n], -1, 0)
    t = np.clip(np.sum((centre - a) * (b - a), 1) / np.sum((b - a) ** 2, 1), 0, 1)
    d_edge = np.linalg.norm(a + t[:, None] * (b - a) - centre, axis=1).min()
    inside = support_gap(poly[:n], centre[None]).max() < 0
    signed = -d_edge if inside else d_edge
    np.testing.assert_allclose(seps[0], signed - radius, atol=1e-4)
    assert seps[1] >= FAR / 2
    # moving the circle along the normal by -separation makes it just touch
    moved = centre + normal * (-float(seps[0]))
    a, b = poly[:n], np.roll(poly[:n], -1, 0)
    t = np.clip(np.sum((moved - a) * (b - a), 1) / np.sum((b - a) ** 2, 1), 0, 1)
    assert abs(np.linalg.norm(a + t[:, None] * (b - a) - moved, axis=1).min() - radius) < 2e-3


def test_box_on_box_gives_two_points_with_their_own_depths():
    ground = np.array([[-2, -1], [2, -1], [2, 0], [-2, 0]], np.float32)
    tilt = 0.05
    c, s = math.cos(tilt), math.sin(tilt)
    box = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]]) @ np.array([[c, s], [-s, c]])
    box = (box + [0.0, 0.49]).astype(np.float32)
    normal, seps, points, _ = _pp(ground, 4, box, 4)
    np.testing.assert_allclose(normal, [0, 1], atol=1e-6)
    lowest = box[:, 1].min()
    # the two bottom corners, each with its own depth below y = 0
    bottom = box[np.argsort(box[:, 1])[:2]]
    np.testing.assert_allclose(np.sort(seps), np.sort(bottom[:, 1]), atol=1e-5)
    assert abs(seps.min() - lowest) < 1e-5
    np.testing.assert_allclose(np.sort(points[:, 0]), np.sort(bottom[:, 0]), atol=1e-5)


def test_collide_circles_closed_form():
    rng = np.random.default_rng(0)
    for _ in range(50):
        pa, pb = rng.uniform(-1, 1, (2, 2)).astype(np.float32)
        ra, rb = rng.uniform(0.1, 0.8, 2).astype(np.float32)
        c = _cc(pa, ra, pb, rb)
        d = np.linalg.norm(pb - pa)
        n = (pb - pa) / d
        np.testing.assert_allclose(c.normal, n, atol=1e-5)
        np.testing.assert_allclose(c.penetration, ra + rb - d, atol=1e-5)
        np.testing.assert_allclose(c.point, pa + n * (ra - (ra + rb - d) / 2), atol=1e-5)
        assert bool(c.active) == (d < ra + rb)
    same = _cc(np.ones(2, np.float32), 0.5, np.ones(2, np.float32), 0.5)
    assert np.all(np.isfinite(np.asarray(same.normal))) and float(same.penetration) == 1.0
    grad = jax.grad(lambda p: jax2d.collide_circles(p, 0.5, jnp.ones(2), 0.5).penetration)(jnp.ones(2))
    assert np.all(np.isfinite(np.asarray(grad)))


def test_normal_impulse_accumulates_and_never_pulls():
    acc, d = jax2d.normal_impulse(-2.0, 0.5, 0.0, 0.0)  # approaching at 2 m/s, m_eff 0.5 kg
    assert float(acc) == 1.0 and float(d) == 1.0
    acc, d = jax2d.normal_impulse(1.0, 0.5, 0.0, 1.0)  # over-pushed: take 0.5 back
    assert float(acc) == 0.5 and float(d) == -0.5
    acc, d = jax2d.normal_impulse(5.0, 0.5, 0.0, 1.0)  # never below zero in total
    assert float(acc) == 0.0 and float(d) == -1.0
    acc, d = jax2d.normal_impulse(-1.0, 2.0, 0.5, 0.0)  # push-out target 0.5 m/s
    assert float(acc) == 3.0


def test_clamp_friction_is_the_coulomb_cone():
    acc, d = jax2d.clamp_friction(0.0, 0.3, 0.5, 1.0)
    assert float(acc) == pytest.approx(0.3) and float(d) == pytest.approx(0.3)
    acc, d = jax2d.clamp_friction(0.4, 0.3, 0.5, 1.0)
    assert float(acc) == 0.5 and float(d) == pytest.approx(0.1)
    acc, d = jax2d.clamp_friction(-0.4, -0.3, 0.5, 1.0)
    assert float(acc) == -0.5
    acc, d = jax2d.clamp_friction(0.2, 0.3, 0.5, 0.0)  # no normal force, no friction
    assert float(acc) == 0.0 and float(d) == pytest.approx(-0.2)


def test_restitution_velocity_threshold():
    target, applies = jax2d.restitution_velocity(jnp.array([-3.0, -0.5, 1.0]), 0.5, 1.0)
    np.testing.assert_allclose(target, [1.5, 0.0, 0.0])
    np.testing.assert_array_equal(applies, [True, False, False])


def test_effective_mass_is_the_velocity_response_to_a_unit_impulse():
    rng = np.random.default_rng(1)
    ima, iia, imb, iib = rng.uniform(0.1, 2.0, 4)
    ra, rb = rng.normal(size=(2, 2))
    d = rng.normal(size=2)
    d /= np.linalg.norm(d)
    k = float(jax2d.effective_mass_inverse(ima, iia, jnp.asarray(ra), imb, iib, jnp.asarray(rb), jnp.asarray(d)))
    # apply +d to B and -d to A at the contact; measure the change of the relative velocity along d
    cross = lambda a, b: a[0] * b[1] - a[1] * b[0]  # noqa: E731
    dva, dwa = -ima * d, -iia * cross(ra, d)
    dvb, dwb = imb * d, iib * cross(rb, d)
    point_vel = lambda v, w, r: v + w * np.array([-r[1], r[0]])  # noqa: E731
    dv_rel = point_vel(dvb, dwb, rb) - point_vel(dva, dwa, ra)
    assert k == pytest.approx(float(dv_rel @ d), rel=1e-5)


def test_block_normal_impulse_solves_the_two_point_complementarity_problem():
    """Random well-conditioned blocks: the result is the unique LCP solution (x >= 0, w >= 0, x.w = 0),
    checked against brute force over the four active sets."""
    rng = np.random.default_rng(7)
    n = 400
    a = rng.normal(size=(n, 2, 2))
    k = a @ np.swapaxes(a, 1, 2) + 0.2 * np.eye(2)  # symmetric positive definite
    vn = rng.normal(scale=2.0, size=(n, 2))
    target = rng.normal(scale=0.5, size=(n, 2))
    acc = np.abs(rng.normal(size=(n, 2))) * (rng.uniform(size=(n, 2)) < 0.7)
    x, found = jax2d.impulses.block_normal_impulse(
        jnp.asarray(vn), jnp.asarray(target), jnp.asarray(acc), jnp.asarray(k), jnp.asarray(np.linalg.inv(k)))
    x = np.asarray(x, np.float64)
    assert np.asarray(found).all()
    w = vn + np.einsum("nij,nj->ni", k, x - acc) - target  # velocity error after the update
    assert (x >= -1e-6).all() and (w >= -1e-4).all()
    np.testing.assert_allclose(x * w, 0.0, atol=1e-4)
    for i in range(n):  # brute force: the one active set whose solution is feasible
        b = vn[i] - target[i] - k[i] @ acc[i]
        sols = []
        for on in ((1, 1), (1, 0), (0, 1), (0, 0)):
            idx = [j for j in range(2) if on[j]]
            xi = np.zeros(2)
            if idx:
                xi[idx] = np.linalg.solve(k[i][np.ix_(idx, idx)], -b[idx])
            wi = k[i] @ xi + b
            if (xi >= -1e-9).all() and (wi >= -1e-9).all():
                sols.append(xi)
        np.testing.assert_allclose(x[i], sols[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("w, a, gap, e", [(2.0, 0.0, 0.0, 0.5), (3.0, 9.81, 0.01, 1.0), (0.7, 9.81, 0.0, 0.8),
                                          (5.0, 20.0, 0.05, 0.0), (0.0, 9.81, 0.0, 1.0)])
def test_bounce_speed_keeps_e_squared_of_the_shadow_energy(w, a, gap, e):
    dt = 1 / 60
    impact, u = (float(x) for x in jax2d.impulses.bounce_speed(w, a, gap, e, dt))
    assert impact == pytest.approx(math.sqrt(w * w + 2 * a * gap), rel=1e-6)
    shadow_in = w * w / 2 + a * dt * w / 2 + a * gap  # E' per unit mass on the way in
    shadow_out = u * u / 2 - a * dt * u / 2  # and on the way out, from the surface
    assert shadow_out == pytest.approx(e * e * shadow_in, rel=1e-5, abs=1e-6)
    if a == 0.0:
        assert u == pytest.approx(e * w)
    if e == 1.0 and gap == 0.0:
        assert u == pytest.approx(w + a * dt, rel=1e-6)  # the mirror image of the step in


def test_graph_colouring_is_greedy_and_proper():
    """colour_pairs against a brute-force greedy colouring on random contact graphs: every touching
    pair gets the lowest colour its moving bodies do not have yet (and, with ``max_slots``, that is
    not full), and a colour's slots list exactly its pairs (so no moving body is solved twice at
    once); the table is wide enough for every colour used."""
    from types import SimpleNamespace

    from rizzlib.jax2d.contact_solver import colour_pairs

    rng = np.random.default_rng(3)
    n = 9  # bodies; row n is the padding body

    @functools.partial(jax.jit, static_argnums=5)
    def _colour(ia, ib, inv_a, inv_b, count, cap):
        cons = SimpleNamespace(ia=ia, ib=ib, inv_mass_a=inv_a, inv_inertia_a=inv_a, inv_mass_b=inv_b, inv_inertia_b=inv_b)
        return colour_pairs(cons, count, n + 1, cap)

    for trial in range(40):
        cap = (None, 2, 3, n)[trial % 4]  # None and n: no cap; 2, 3: full colours are skipped
        m = 24  # one shape: one compile
        ia = rng.integers(0, n - 1, size=m)
        ib = np.minimum(ia + rng.integers(1, n - 1, size=m), n - 1)
        moving = rng.uniform(size=n + 1) < 0.7
        moving[n] = False
        count = int(rng.integers(0, m + 1))
        inv_a, inv_b = (jnp.asarray(np.where(moving[x], 1.0, 0.0)[None], jnp.float32) for x in (ia, ib))
        table, used = _colour(jnp.asarray(ia[None]), jnp.asarray(ib[None]), inv_a, inv_b, count, cap)
        table = np.asarray(table)
        assert table.shape[1] == min(m, n, cap or n)
        colours, taken = [], [set() for _ in range(n + 1)]
        for k in range(count):
            bodies = [x for x in (ia[k], ib[k]) if moving[x]]
            c = 0
            while any(c in taken[x] for x in bodies) or (cap is not None and colours.count(c) >= cap):
                c += 1
            for x in bodies:
                taken[x].add(c)
            colours.append(c)
        assert int(used) == (max(colours) + 1 if colours else 0) <= table.shape[0]
        for c in range(table.shape[0]):
            listed = sorted(int(k) for k in table[c] if k < m)
            assert listed == [k for k in range(count) if colours[k] == c]
