"""Mass, centroid and rotational inertia of shapes of uniform density (numpy, float64).

The polygon centroid is area-weighted (Jax2D uses the vertex mean, exact only for triangles and
parallelograms). Formulas: split the polygon into triangles (c, v_i, v_i+1) from any interior
reference c; a triangle (0, p, q) has area |p x q|/2 and second moment about its apex
(p x q)/12 (p.p + p.q + q.q).
"""

from __future__ import annotations

import numpy as np


def polygon_area(vertices: np.ndarray) -> float:
    """Signed area (m^2) of a simple polygon (V, 2); positive for counter-clockwise order."""
    v = np.asarray(vertices, dtype=np.float64)
    w = np.roll(v, -1, axis=0)
    return 0.5 * float(np.sum(v[:, 0] * w[:, 1] - v[:, 1] * w[:, 0]))


def polygon_mass(vertices: np.ndarray, density: float) -> tuple[float, float, np.ndarray]:
    """Mass (kg), inertia about the centroid (kg m^2) and centroid (2,) of a convex polygon (V, 2).

    Vertices may be in either winding order; density is in kg/m^2.
    """
    v = np.asarray(vertices, dtype=np.float64)
    ref = v.mean(axis=0)  # any interior point; improves conditioning far from the origin
    p = v - ref
    q = np.roll(p, -1, axis=0)
    cr = p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0]  # twice the signed triangle areas
    area = 0.5 * cr.sum()
    centroid_rel = ((p + q) * cr[:, None]).sum(axis=0) / (6.0 * area)
    # second moment about ref, then shift to the centroid (parallel axis theorem)
    j_ref = (cr * (np.sum(p * p, 1) + np.sum(p * q, 1) + np.sum(q * q, 1))).sum() / 12.0
    mass = density * abs(area)
    inertia = density * abs(j_ref) - mass * float(centroid_rel @ centroid_rel)
    return float(mass), float(inertia), ref + centroid_rel


def circle_mass(radius: float, density: float) -> tuple[float, float]:
    """Mass (kg) and inertia about the centre (kg m^2) of a disc: m = rho pi r^2, I = m r^2 / 2."""
    mass = density * np.pi * radius**2
    return float(mass), float(0.5 * mass * radius**2)
