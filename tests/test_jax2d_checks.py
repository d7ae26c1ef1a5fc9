"""The graded checks grade: the engine's own functions pass, constants and plausible mistakes fail,
and the blank exercise's NotImplementedError reaches the notebook unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from rizzlib.core.grading import CheckFailed
from rizzlib.jax2d import checks
from rizzlib.jax2d.collide import Contact, collide_circles, polygon_separation
from rizzlib.jax2d.impulses import clamp_friction, normal_impulse, restitution_velocity

# ------------------------------------------------------------------ plausible wrong answers


def circles_normal_b_to_a(pos_a, radius_a, pos_b, radius_b):
    c = collide_circles(pos_a, radius_a, pos_b, radius_b)
    return c.replace(normal=-c.normal)


def circles_point_on_a(pos_a, radius_a, pos_b, radius_b):
    """Jax2D's convention (the point on A's surface) instead of the midpoint between the surfaces."""
    c = collide_circles(pos_a, radius_a, pos_b, radius_b)
    return c.replace(point=np.asarray(pos_a) + np.asarray(c.normal) * radius_a)


def circles_constant(pos_a, radius_a, pos_b, radius_b):
    return Contact(normal=np.array([1.0, 0.0]), penetration=np.array(0.0), point=np.zeros(2), active=np.array(False))


def sat_max_instead_of_min(verts_a, verts_b):
    verts_a, verts_b = np.asarray(verts_a), np.asarray(verts_b)
    edges = np.roll(verts_a, -1, axis=0) - verts_a
    normals = np.stack([edges[:, 1], -edges[:, 0]], -1)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    proj = np.einsum("ik,ijk->ij", normals, verts_b[None] - verts_a[:, None])
    sep = proj.max(axis=1)
    return sep.max(), sep.argmax()


def sat_inward_normals(verts_a, verts_b):
    """Left perpendicular of a counter-clockwise edge: the normals point into A."""
    verts_a, verts_b = np.asarray(verts_a), np.asarray(verts_b)
    edges = np.roll(verts_a, -1, axis=0) - verts_a
    normals = np.stack([-edges[:, 1], edges[:, 0]], -1)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    sep = np.einsum("ik,ijk->ij", normals, verts_b[None] - verts_a[:, None]).min(axis=1)
    return sep.max(), sep.argmax()


def sat_reference(verts_a, verts_b):
    """An independent numpy twin of the right answer (it must pass too)."""
    verts_a, verts_b = np.asarray(verts_a, float), np.asarray(verts_b, float)
    edges = np.roll(verts_a, -1, axis=0) - verts_a
    normals = np.stack([edges[:, 1], -edges[:, 0]], -1)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    sep = np.einsum("ik,ijk->ij", normals, verts_b[None] - verts_a[:, None]).min(axis=1)
    return sep.max(), int(sep.argmax())


def impulse_clamps_increment(vn, mass, target, acc):
    """Clamps the new increment instead of the running sum: cannot take back an over-push."""
    delta = np.maximum(mass * (target - vn), 0.0)
    return acc + delta, delta


def impulse_sign_error(vn, mass, target, acc):
    new = np.maximum(acc + mass * (vn - target), 0.0)
    return new, new - acc


def impulse_unclamped(vn, mass, target, acc):
    delta = mass * (target - vn)
    return acc + delta, delta


def friction_clamps_delta(acc, delta, mu, pn):
    d = np.clip(delta, -mu * pn, mu * pn)
    return acc + d, d


def friction_one_sided(acc, delta, mu, pn):
    new = np.clip(acc + delta, 0.0, mu * pn)
    return new, new - acc


def friction_forgot_mu(acc, delta, mu, pn):
    new = np.clip(acc + delta, -pn, pn)
    return new, new - acc


def restitution_no_threshold(before, e, threshold):
    applies = before < 0.0
    return np.where(applies, -e * before, 0.0), applies


def restitution_sign_error(before, e, threshold):
    applies = before < -threshold
    return np.where(applies, e * before, 0.0), applies


def _blank(*args, **kwargs):
    raise NotImplementedError("write your solution")


CASES = [
    (checks.check_collide_circles, collide_circles, [circles_normal_b_to_a, circles_point_on_a, circles_constant]),
    (checks.check_polygon_separation, polygon_separation,
     [sat_max_instead_of_min, sat_inward_normals, lambda a, b: (np.float32(0.0), 0)]),
    (checks.check_normal_impulse, normal_impulse,
     [impulse_clamps_increment, impulse_sign_error, impulse_unclamped, lambda *a: (np.zeros(16), np.zeros(16))]),
    (checks.check_clamp_friction, clamp_friction,
     [friction_clamps_delta, friction_one_sided, friction_forgot_mu, lambda *a: (a[0], np.zeros(16))]),
    (checks.check_restitution_velocity, restitution_velocity,
     [restitution_no_threshold, restitution_sign_error, lambda *a: (np.zeros(16), np.zeros(16, bool))]),
]
IDS = [c[0].__name__ for c in CASES]


@pytest.mark.parametrize("check, reference, wrongs", CASES, ids=IDS)
def test_reference_passes(check, reference, wrongs, capsys):
    for seed in (0, 1, 2):
        check(reference, seed=seed)
    assert "PASS" in capsys.readouterr().out


@pytest.mark.parametrize("check, reference, wrongs", CASES, ids=IDS)
def test_wrong_answers_fail(check, reference, wrongs):
    for wrong in wrongs:
        with pytest.raises(CheckFailed):
            check(wrong, seed=0)


@pytest.mark.parametrize("check, reference, wrongs", CASES, ids=IDS)
def test_fresh_inputs_catch_wrong_answers_at_any_seed(check, reference, wrongs):
    # without a seed each run draws new inputs; a plausible mistake must still be caught
    for wrong in wrongs:
        with pytest.raises(CheckFailed):
            check(wrong)


@pytest.mark.parametrize("check, reference, wrongs", CASES, ids=IDS)
def test_blank_exercise_propagates_not_implemented(check, reference, wrongs):
    with pytest.raises(NotImplementedError):
        check(_blank)


def test_not_a_function_fails():
    with pytest.raises(CheckFailed, match="expected a function"):
        checks.check_normal_impulse(None)


def test_independent_numpy_sat_passes():
    checks.check_polygon_separation(sat_reference, seed=3)


def test_inputs_cover_both_branches():
    """The random inputs exercise each clamp both ways (else a wrong answer could slip through)."""
    rng = np.random.default_rng(0)
    clamped = free = 0
    overlapping = apart = 0
    for _ in range(20):
        (vn, m, t, acc), _ = checks._normal_impulse_inputs(rng)
        cand = acc + m * (t - vn)
        clamped += int((cand < 0).sum())
        free += int((cand > 0).sum())
        (va, vb), _ = checks._polygon_inputs(rng)
        sep, _ = sat_reference(va, vb)
        overlapping, apart = overlapping + (sep < 0), apart + (sep > 0)
    assert clamped > 20 and free > 20
    assert overlapping >= 3 and apart >= 3


def test_random_polygons_are_convex_and_counter_clockwise():
    rng = np.random.default_rng(1)
    for k in (3, 4, 6):
        v = checks.random_convex_polygon(rng, k, (0.0, 0.0), 1.0)
        e = np.roll(v, -1, axis=0) - v
        turn = e[:, 0] * np.roll(e, -1, axis=0)[:, 1] - e[:, 1] * np.roll(e, -1, axis=0)[:, 0]
        assert v.shape == (k, 2) and np.all(turn > 0)
