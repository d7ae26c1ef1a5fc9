"""The graded checks grade: the engine's own functions pass, constants and plausible mistakes fail,
and the blank exercise's NotImplementedError reaches the notebook unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from rizzlib.core.grading import CheckFailed, assert_check_grades
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


def circles_active_at_touch(pos_a, radius_a, pos_b, radius_b):
    """active = penetration >= 0: touching circles count as colliding."""
    c = collide_circles(pos_a, radius_a, pos_b, radius_b)
    return c.replace(active=np.asarray(c.penetration) >= 0)


def circles_no_fallback(pos_a, radius_a, pos_b, radius_b):
    """Divides by the distance without a guard: NaN normal for coincident centres."""
    pos_a, pos_b = np.asarray(pos_a, float), np.asarray(pos_b, float)
    d = np.linalg.norm(pos_b - pos_a)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = (pos_b - pos_a) / d
    pen = radius_a + radius_b - d
    return Contact(normal=n, penetration=np.asarray(pen), point=pos_a + n * (radius_a - pen / 2), active=np.asarray(pen > 0))


def circles_numpy(pos_a, radius_a, pos_b, radius_b):
    """Right: an independent numpy version with the (1, 0) fallback."""
    pos_a, pos_b = np.asarray(pos_a, float), np.asarray(pos_b, float)
    d = float(np.hypot(*(pos_b - pos_a)))
    n = (pos_b - pos_a) / d if d > 1e-9 else np.array([1.0, 0.0])
    pen = radius_a + radius_b - d
    return Contact(normal=n, penetration=np.asarray(pen), point=pos_a + n * (radius_a - pen / 2), active=np.asarray(pen > 0))


def sat_b_normals(verts_a, verts_b):
    """Swaps the roles: B's faces against A's vertices."""
    return sat_reference(verts_b, verts_a)


def sat_face_off_by_one(verts_a, verts_b):
    """Numbers face i as the edge ending at vertex i."""
    sep, face = sat_reference(verts_a, verts_b)
    return sep, (face + 1) % len(verts_a)


def sat_unnormalised(verts_a, verts_b):
    """Forgets to normalise the face normals: separations scaled by the edge lengths."""
    verts_a, verts_b = np.asarray(verts_a, float), np.asarray(verts_b, float)
    edges = np.roll(verts_a, -1, axis=0) - verts_a
    normals = np.stack([edges[:, 1], -edges[:, 0]], -1)
    sep = np.einsum("ik,ijk->ij", normals, verts_b[None] - verts_a[:, None]).min(axis=1)
    return sep.max(), int(sep.argmax())


def impulse_numpy(vn, mass, target, acc):
    """Right: numpy, written out."""
    vn, mass, target, acc = (np.asarray(v, float) for v in (vn, mass, target, acc))
    new = np.where(acc + mass * (target - vn) > 0, acc + mass * (target - vn), 0.0)
    return new, new - acc


def impulse_returns_candidate_delta(vn, mass, target, acc):
    """Returns the unclamped increment as delta (what would have been applied without the clamp)."""
    new = np.maximum(acc + mass * (target - vn), 0.0)
    return new, mass * (target - vn)


def impulse_in_place(vn, mass, target, acc):
    """Right numbers, but writes the new total into the caller's accumulated array."""
    old = acc.copy()
    np.maximum(acc + mass * (target - vn), 0.0, out=acc)
    return acc.copy(), acc - old


def friction_numpy(acc, delta, mu, pn):
    """Right: numpy minimum/maximum."""
    acc, delta, mu, pn = (np.asarray(v, float) for v in (acc, delta, mu, pn))
    new = np.minimum(np.maximum(acc + delta, -mu * pn), mu * pn)
    return new, new - acc


def friction_returns_new_as_applied(acc, delta, mu, pn):
    new = np.clip(acc + delta, -mu * pn, mu * pn)
    return new, new


def restitution_numpy(before, e, threshold):
    """Right: numpy, written out."""
    before, e = np.asarray(before, float), np.asarray(e, float)
    applies = before < -threshold
    return np.where(applies, -e * before, 0.0), applies


def restitution_at_threshold(before, e, threshold):
    """Bounces at exactly the threshold speed too (<= instead of <)."""
    applies = before <= -threshold
    return np.where(applies, -e * before, 0.0), applies


def restitution_target_everywhere(before, e, threshold):
    """Returns -e v_n for every point, not 0 where restitution does not apply."""
    applies = before < -threshold
    return -np.asarray(e) * before, applies


def _blank(*args, **kwargs):
    raise NotImplementedError("write your solution")


CASES = [
    (checks.check_collide_circles, circles_numpy,
     [circles_normal_b_to_a, circles_point_on_a, circles_constant, circles_active_at_touch]),
    (checks.check_polygon_separation, sat_reference,
     [sat_max_instead_of_min, sat_inward_normals, lambda a, b: (np.float32(0.0), 0), sat_b_normals,
      sat_face_off_by_one, sat_unnormalised]),
    (checks.check_normal_impulse, impulse_numpy,
     [impulse_clamps_increment, impulse_sign_error, impulse_unclamped, lambda *a: (np.zeros(16), np.zeros(16)),
      impulse_returns_candidate_delta, impulse_in_place]),
    (checks.check_clamp_friction, friction_numpy,
     [friction_clamps_delta, friction_one_sided, friction_forgot_mu, lambda *a: (a[0], np.zeros(16)),
      friction_returns_new_as_applied]),
    (checks.check_restitution_velocity, restitution_numpy,
     [restitution_no_threshold, restitution_sign_error, lambda *a: (np.zeros(16), np.zeros(16, bool)),
      restitution_at_threshold, restitution_target_everywhere]),
]
LIBRARY = {checks.check_collide_circles: collide_circles, checks.check_polygon_separation: polygon_separation,
           checks.check_normal_impulse: normal_impulse, checks.check_clamp_friction: clamp_friction,
           checks.check_restitution_velocity: restitution_velocity}
IDS = [c[0].__name__ for c in CASES]
SEEDS = range(20)


@pytest.mark.parametrize("check, right, wrongs", CASES, ids=IDS)
def test_check_grades_right_and_wrong_answers_on_20_seeds(check, right, wrongs, capsys):
    assert_check_grades(check, [LIBRARY[check], right], wrongs, seeds=SEEDS)
    check(right, seed=0)
    assert capsys.readouterr().out.startswith("PASS")


@pytest.mark.parametrize("check, right, wrongs", CASES, ids=IDS)
def test_fresh_inputs_catch_wrong_answers_at_any_seed(check, right, wrongs):
    # without a seed each run draws new inputs; a plausible mistake must still be caught
    for wrong in wrongs:
        with pytest.raises(CheckFailed):
            check(wrong)


@pytest.mark.parametrize("check, right, wrongs", CASES, ids=IDS)
def test_blank_exercise_propagates_not_implemented(check, right, wrongs):
    with pytest.raises(NotImplementedError):
        check(_blank)


def test_in_place_change_is_named():
    with pytest.raises(CheckFailed, match="you changed argument `accumulated` in place"):
        checks.check_normal_impulse(impulse_in_place, seed=0)


def test_coincident_centres_edge_case_on_request():
    """Off by default (the notebook's exercise promises distinct centres); on, it fails a division
    without the (1, 0) fallback on every seed and still passes right answers."""
    for seed in SEEDS:
        checks.check_collide_circles(circles_no_fallback, seed=seed)
        with pytest.raises(CheckFailed, match="coincident centres"):
            checks.check_collide_circles(circles_no_fallback, seed=seed, coincident_centres=True)
    for right in (circles_numpy, collide_circles):
        checks.check_collide_circles(right, seed=0, coincident_centres=True)


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
