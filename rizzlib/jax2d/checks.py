"""Graded checks of the engine chapter: the student's function against the engine's own on fixed
edge cases (exact ties, touching and coincident shapes), then fresh random inputs
(``rizzlib.core.grading.compare_with_reference``); every returned field is compared.

Each ``check_*`` prints one line on success and raises ``CheckFailed`` with the first mismatching
input otherwise; a ``NotImplementedError`` from the blank exercise propagates unchanged.
"""

from __future__ import annotations

import math

import numpy as np

from rizzlib.core.grading import compare_with_reference
from rizzlib.jax2d.collide import collide_circles, polygon_separation
from rizzlib.jax2d.impulses import clamp_friction, normal_impulse, restitution_velocity

#: float32 engine vs a student's float64 numpy: agree to ~1e-6 relative; leave room for order of operations
RTOL, ATOL = 1e-4, 1e-5
N_TRIALS = 8


def random_convex_polygon(rng: np.random.Generator, k: int, centre, radius: float) -> np.ndarray:
    """(k, 2) counter-clockwise vertices on a circle of ``radius`` m around ``centre``, well spread."""
    base = np.linspace(0.0, 2 * math.pi, k, endpoint=False) + rng.uniform(0, 2 * math.pi)
    angles = base + rng.uniform(-0.3, 0.3, size=k) * (2 * math.pi / k)
    r = radius * rng.uniform(0.7, 1.0, size=k)
    return np.asarray(centre) + np.stack([r * np.cos(angles), r * np.sin(angles)], -1)


def _circle_inputs(rng: np.random.Generator):
    pos_a = rng.uniform(-2, 2, size=2)
    r_a, r_b = rng.uniform(0.1, 1.0, size=2)
    direction = rng.normal(size=2)
    direction /= np.linalg.norm(direction)
    # distance from deep overlap to clearly apart, never coincident centres
    dist = (r_a + r_b) * rng.uniform(0.2, 1.6)
    pos_b = pos_a + direction * dist
    return (pos_a, float(r_a), pos_b, float(r_b)), {}


def _circle_edges(coincident_centres: bool):
    p = np.array
    edges = [
        ("touching exactly: penetration 0, not active", (p([0.0, 0.0]), 0.5, p([1.0, 0.0]), 0.5), {}),
        ("touching along a 3-4-5 diagonal", (p([1.0, -1.0]), 2.0, p([4.0, 3.0]), 3.0), {}),
        ("deep overlap", (p([0.0, 0.0]), 1.0, p([0.3, 0.4]), 0.5), {}),
        ("far apart", (p([1.0, 1.0]), 0.5, p([-2.0, 5.0]), 1.0), {}),
        ("B to the left of A (normal points to -x)", (p([0.5, 0.25]), 0.75, p([-0.5, 0.25]), 0.5), {}),
    ]
    if coincident_centres:
        edges.append(("coincident centres: normal (1, 0) by convention", (p([0.3, -0.2]), 0.4, p([0.3, -0.2]), 0.2), {}))
    return edges


def check_collide_circles(student_fn, n_trials: int = N_TRIALS, seed: int | None = None,
                          coincident_centres: bool = False) -> None:
    """``collide_circles(pos_a, radius_a, pos_b, radius_b) -> Contact`` (normal A->B, penetration,
    midpoint between the surfaces, active flag): fixed cases (touching exactly, deep overlap,
    apart), then random pairs. ``coincident_centres=True`` adds equal centres, where the engine's
    convention is the normal (1, 0); off by default because the chapter's exercise text promises
    distinct centres."""
    compare_with_reference("collide_circles", student_fn, collide_circles, _circle_inputs,
                           edge_cases=_circle_edges(coincident_centres), n_trials=n_trials, seed=seed,
                           rtol=RTOL, atol=ATOL)


def _polygon_inputs(rng: np.random.Generator):
    ka, kb = (int(k) for k in rng.integers(3, 5, size=2))
    verts_a = random_convex_polygon(rng, ka, rng.uniform(-0.3, 0.3, size=2), rng.uniform(0.5, 1.0))
    # B's centre from "deep inside A" to "well clear of A"
    offset = rng.normal(size=2)
    offset *= rng.uniform(0.2, 2.5) / np.linalg.norm(offset)
    verts_b = random_convex_polygon(rng, kb, offset, rng.uniform(0.3, 0.8))
    return (verts_a, verts_b), {}


SQUARE = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
TRIANGLE = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0]])


def _polygon_edges():
    return [
        ("unit squares touching along a face (separation 0, face 1)", (SQUARE, SQUARE + [1.0, 0.0]), {}),
        ("B deep inside A", (SQUARE * 4 - 2.0, SQUARE * 0.5), {}),
        ("B clear of A's hypotenuse", (TRIANGLE, TRIANGLE + [1.5, 1.0]), {}),
        ("B below A (best face 0)", (SQUARE, SQUARE * 0.5 + [0.2, -1.5]), {}),
        ("a triangle against a square, overlapping one corner", (TRIANGLE, SQUARE * 0.5 + [-0.25, 0.75]), {}),
    ]


def check_polygon_separation(student_fn, n_trials: int = N_TRIALS, seed: int | None = None) -> None:
    """``polygon_separation(verts_a, verts_b) -> (max_separation, face_index)``: the separating-axis
    test over A's outward face normals, on fixed pairs (touching, nested, apart) and random convex
    polygons (3 or 4 vertices, counter-clockwise)."""
    compare_with_reference("polygon_separation", student_fn, polygon_separation, _polygon_inputs,
                           edge_cases=_polygon_edges(), output_names=("max_separation", "face_index"),
                           n_trials=n_trials, seed=seed, rtol=RTOL, atol=ATOL)


def _normal_impulse_inputs(rng: np.random.Generator, n: int = 16):
    normal_velocity = rng.uniform(-3.0, 3.0, size=n)
    normal_mass = rng.uniform(0.1, 5.0, size=n)
    target = np.where(rng.random(n) < 0.5, 0.0, rng.uniform(0.0, 2.0, size=n))
    accumulated = np.where(rng.random(n) < 0.3, 0.0, rng.uniform(0.0, 4.0, size=n))
    return (normal_velocity, normal_mass, target, accumulated), {}


def _normal_impulse_edges():
    a = np.array
    return [
        # approaching, resting, separating, an earlier over-push taken back, exactly cancelled
        ("one point of each kind",
         (a([-1.0, 0.0, 2.0, 1.0, -0.5, 0.0]), a([2.0, 1.0, 0.5, 3.0, 0.0, 1.0]),
          a([0.0, 0.0, 0.0, 0.0, 1.0, 0.5]), a([0.0, 0.0, 0.5, 1.0, 2.0, 0.5])), {}),
        ("nothing accumulated yet, separating: no push", (a([0.5, 3.0]), a([1.0, 2.0]), a([0.0, 1.0]), a([0.0, 0.0])), {}),
    ]


def check_normal_impulse(student_fn, n_trials: int = N_TRIALS, seed: int | None = None) -> None:
    """``normal_impulse(normal_velocity, normal_mass, target_velocity, accumulated) -> (new_accumulated,
    delta)`` with the *accumulated* impulse clamped at 0, on fixed points, then 16 random points per trial."""
    compare_with_reference("normal_impulse", student_fn, normal_impulse, _normal_impulse_inputs,
                           edge_cases=_normal_impulse_edges(), output_names=("new_accumulated", "delta"),
                           n_trials=n_trials, seed=seed, rtol=RTOL, atol=ATOL)


def _friction_inputs(rng: np.random.Generator, n: int = 16):
    mu = rng.uniform(0.1, 1.0, size=n)
    normal_sum = np.where(rng.random(n) < 0.2, 0.0, rng.uniform(0.0, 3.0, size=n))
    accumulated = mu * normal_sum * rng.uniform(-1.0, 1.0, size=n)
    delta = rng.uniform(-3.0, 3.0, size=n)
    return (accumulated, delta, mu, normal_sum), {}


def _friction_edges():
    a = np.array
    return [
        # inside the cone, over the top, under the bottom, no normal impulse, mu 0, on the cone, back in
        ("one point of each kind",
         (a([0.1, 0.4, -0.4, 0.0, 0.0, 0.5, 0.5]), a([0.2, 1.0, -1.0, 0.7, -0.3, 0.0, -0.8]),
          a([0.5, 0.5, 0.5, 0.8, 0.0, 0.5, 0.5]), a([1.0, 1.0, 1.0, 0.0, 2.0, 1.0, 1.0])), {}),
    ]


def check_clamp_friction(student_fn, n_trials: int = N_TRIALS, seed: int | None = None) -> None:
    """``clamp_friction(accumulated, delta, mu, normal_impulse_sum) -> (new_accumulated, applied)``:
    the Coulomb cone |P_t| <= mu P_n on the accumulated tangent impulse; fixed points, then 16
    random points per trial."""
    compare_with_reference("clamp_friction", student_fn, clamp_friction, _friction_inputs,
                           edge_cases=_friction_edges(), output_names=("new_accumulated", "applied"),
                           n_trials=n_trials, seed=seed, rtol=RTOL, atol=ATOL)


def _restitution_inputs(rng: np.random.Generator, n: int = 16):
    threshold = float(rng.uniform(0.2, 1.5))
    before = rng.uniform(-6.0, 2.0, size=n)
    before[: n // 4] = rng.uniform(-threshold, 0.0, size=n // 4)  # slow impacts: below the threshold
    before = rng.permutation(before)
    restitution = rng.uniform(0.0, 1.0, size=n)
    return (before, restitution, threshold), {}


def _restitution_edges():
    a = np.array
    return [
        # fast impact, exactly at the threshold (no bounce), just faster, slow, resting, separating
        ("velocities around the threshold 1.0",
         (a([-3.0, -1.0, -1.5, -0.5, 0.0, 2.0]), a([0.5, 0.8, 1.0, 0.9, 0.7, 0.6]), 1.0), {}),
        ("threshold 0: every approach bounces, e = 0 gives target 0", (a([-0.25, 0.0, 0.5, -2.0]), a([0.5, 1.0, 1.0, 0.0]), 0.0), {}),
    ]


def check_restitution_velocity(student_fn, n_trials: int = N_TRIALS, seed: int | None = None) -> None:
    """``restitution_velocity(normal_velocity_before, restitution, threshold) -> (target, applies)``:
    bounce target -e v_n only for impacts faster than the threshold (strictly); fixed points, then
    16 random points per trial."""
    compare_with_reference("restitution_velocity", student_fn, restitution_velocity, _restitution_inputs,
                           edge_cases=_restitution_edges(), output_names=("target", "applies"),
                           n_trials=n_trials, seed=seed, rtol=RTOL, atol=ATOL)


__all__ = [
    "check_clamp_friction",
    "check_collide_circles",
    "check_normal_impulse",
    "check_polygon_separation",
    "check_restitution_velocity",
    "random_convex_polygon",
]
