"""Narrow phase: one function per shape pair, each returning its contact in world coordinates.

Conventions (as Box2D): the normal points from shape A to shape B; a *separation* is the signed gap
along the normal (negative = overlapping, its negative is the penetration depth); contact points
lie midway between the two surfaces. Polygons are counter-clockwise with outward face normals
``right_perp(v[i+1] - v[i])``; vertex slots past ``n_vertices`` are ignored.

Every function works on one pair and is vmapped by :mod:`rizzlib.jax2d.contacts`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from rizzlib.jax2d.math2d import dot, right_perp, safe_normalize

#: separation reported for a missing second point (circles have one point)
FAR = 1.0e6
_NEG = -1.0e9
#: relative tolerance that keeps the reference face from flip-flopping between two near-equal axes
REFERENCE_FACE_HYSTERESIS = 5.0e-4


@struct.dataclass
class Contact:
    """One contact point (what the graded exercise returns).

    Attributes:
        normal: (2,) unit vector from A to B.
        penetration: () overlap depth, m (negative when the shapes are apart).
        point: (2,) world point midway between the two surfaces, m.
        active: () bool, penetration > 0.
    """

    normal: jnp.ndarray
    penetration: jnp.ndarray
    point: jnp.ndarray
    active: jnp.ndarray


def collide_circles(pos_a, radius_a, pos_b, radius_b) -> Contact:
    """Contact between two circles.

    Args:
        pos_a, pos_b: (2,) centres, m.  radius_a, radius_b: () radii, m.

    Returns:
        :class:`Contact` with normal = (pos_b - pos_a)/|pos_b - pos_a| (``(1, 0)`` for coincident
        centres), penetration = r_a + r_b - |pos_b - pos_a|, point = pos_a + normal (r_a - pen/2),
        active = penetration > 0.
    """
    pos_a, pos_b = jnp.asarray(pos_a), jnp.asarray(pos_b)
    normal, dist = safe_normalize(pos_b - pos_a)
    penetration = radius_a + radius_b - dist
    point = pos_a + normal * (radius_a - 0.5 * penetration)
    return Contact(normal=normal, penetration=penetration, point=point, active=penetration > 0.0)


class Faces(NamedTuple):
    """A polygon's faces in the world frame: face i runs from ``start[i]`` to ``end[i]``."""

    start: jnp.ndarray  # (V, 2) = the vertices
    end: jnp.ndarray  # (V, 2)
    normal: jnp.ndarray  # (V, 2) outward unit normals
    valid: jnp.ndarray  # (V,) bool, i < n_vertices


def polygon_faces(verts, n_vertices=None) -> Faces:
    """:class:`Faces` of a counter-clockwise polygon (V, 2) whose first ``n_vertices`` slots are used."""
    verts = jnp.asarray(verts)
    v = verts.shape[0]
    n = v if n_vertices is None else n_vertices
    idx = jnp.arange(v)
    end = jnp.where((idx + 1 < n)[:, None], jnp.roll(verts, -1, axis=0), verts[0][None, :])
    normals, _ = safe_normalize(right_perp(end - verts))
    return Faces(verts, end, normals, idx < n)


def _pick(mask, arr):
    """arr[i] for the one index where ``mask`` (V,) is True (a select, cheaper than a gather)."""
    return jnp.sum(jnp.where(mask.reshape(mask.shape + (1,) * (arr.ndim - 1)), arr, 0), axis=0)


def _separation(fa: Faces, fb: Faces):
    """(max separation, one-hot of the face of A attaining it) over A's face normals."""
    proj = jnp.einsum("ik,ijk->ij", fa.normal, fb.start[None, :, :] - fa.start[:, None, :])  # (Va, Vb)
    sep = jnp.min(jnp.where(fb.valid[None, :], proj, -_NEG), axis=1)
    sep = jnp.where(fa.valid, sep, _NEG)
    best = jnp.max(sep)
    face = jnp.argmax(sep)
    return best, jnp.arange(sep.shape[0]) == face, face


def polygon_separation(verts_a, verts_b, n_vertices_a=None, n_vertices_b=None):
    """Separating-axis test over the face normals of polygon A.

    For each face i of A with outward normal n_i and start vertex a_i, the separation is
    ``min_j n_i . (b_j - a_i)``: how far B's deepest vertex lies outside that face. The largest one
    is the SAT separation along A's axes (negative for every face = overlapping along A's axes).

    Args:
        verts_a: (Va, 2) world vertices of A, counter-clockwise, m.
        verts_b: (Vb, 2) world vertices of B, m.
        n_vertices_a, n_vertices_b: number of used slots (default: all).

    Returns:
        (max_separation (), face_index () int): the best face of A and its separation, m.
    """
    best, _, face = _separation(polygon_faces(verts_a, n_vertices_a), polygon_faces(verts_b, n_vertices_b))
    return best, face


def collide_polygon_circle(verts_a, n_vertices_a, pos_b, radius_b):
    """Contact between polygon A (world vertices) and circle B (Box2D's face / vertex regions).

    Returns:
        (normal (2,) A->B, separation (2,) with the unused second point at FAR, point (2, 2), feature ()).
    """
    return collide_faces_circle(polygon_faces(verts_a, n_vertices_a), pos_b, radius_b)


def collide_faces_circle(fa: Faces, pos_b, radius_b):
    """:func:`collide_polygon_circle` on precomputed :class:`Faces`."""
    s = jnp.where(fa.valid, dot(fa.normal, pos_b[None, :] - fa.start), _NEG)
    i = jnp.argmax(s)
    hot = jnp.arange(s.shape[0]) == i
    sep_face, n_face, v1, v2 = jnp.max(s), _pick(hot, fa.normal), _pick(hot, fa.start), _pick(hot, fa.end)
    # outside the face but beyond one of its ends: the closest feature is a vertex
    outside = sep_face > 1e-6
    u1 = dot(pos_b - v1, v2 - v1)
    u2 = dot(pos_b - v2, v1 - v2)
    in_v1 = outside & (u1 < 0.0)
    in_v2 = outside & (u2 < 0.0) & ~in_v1
    n1, d1 = safe_normalize(pos_b - v1)
    n2, d2 = safe_normalize(pos_b - v2)
    normal = jnp.where(in_v1, n1, jnp.where(in_v2, n2, n_face))
    dist = jnp.where(in_v1, d1, jnp.where(in_v2, d2, sep_face))
    closest = jnp.where(in_v1, v1, jnp.where(in_v2, v2, pos_b - n_face * sep_face))
    separation = dist - radius_b
    point = closest + 0.5 * separation * normal
    seps = jnp.stack([separation, jnp.asarray(FAR, separation.dtype)])
    return normal, seps, jnp.stack([point, point]), i


def _clip_segment(w1, w2, v1, tangent, length):
    """Clip segment w1->w2 to the slab 0 <= tangent.(p - v1) <= length; returns (p1, p2, ok)."""
    lam1 = dot(w1 - v1, tangent)
    lam2 = dot(w2 - v1, tangent)
    dl = lam2 - lam1
    flat = jnp.abs(dl) < 1e-9
    dl_safe = jnp.where(flat, 1.0, dl)
    s0 = (0.0 - lam1) / dl_safe
    s1 = (length - lam1) / dl_safe
    inside = (lam1 >= 0.0) & (lam1 <= length)
    s_lo = jnp.where(flat, jnp.where(inside, 0.0, 2.0), jnp.maximum(jnp.minimum(s0, s1), 0.0))
    s_hi = jnp.where(flat, 1.0, jnp.minimum(jnp.maximum(s0, s1), 1.0))
    ok = s_lo <= s_hi
    return w1 + s_lo * (w2 - w1), w1 + s_hi * (w2 - w1), ok


def collide_polygons(verts_a, n_vertices_a, verts_b, n_vertices_b):
    """Contact manifold between two convex polygons (SAT, then clipping of the incident face).

    1. SAT on both polygons' face normals; the reference face belongs to the polygon with the larger
       separation (A wins near-ties, to avoid flip-flopping).
    2. The incident face is the other polygon's face most anti-parallel to the reference normal.
    3. Clip the incident face to the reference face's side planes; each clipped vertex is a contact
       point with its own separation from the reference face (Box2D's per-point separations).

    Args:
        verts_a, verts_b: (V, 2) world vertices, counter-clockwise, m.  n_vertices_*: used slots.

    Returns:
        (normal (2,) A->B, separation (2,) m, point (2, 2) m, feature () int).
    """
    return collide_faces(polygon_faces(verts_a, n_vertices_a), polygon_faces(verts_b, n_vertices_b))


def collide_faces(fa: Faces, fb: Faces):
    """:func:`collide_polygons` on precomputed :class:`Faces` (both with the same V)."""
    sep_a, hot_a, face_a = _separation(fa, fb)
    sep_b, hot_b, face_b = _separation(fb, fa)
    flip = sep_b > sep_a + REFERENCE_FACE_HYSTERESIS
    ref = jax.tree.map(lambda a, b: jnp.where(flip, b, a), fa, fb)
    inc = jax.tree.map(lambda a, b: jnp.where(flip, a, b), fa, fb)
    hot = jnp.where(flip, hot_b, hot_a)
    normal, v1, v2 = _pick(hot, ref.normal), _pick(hot, ref.start), _pick(hot, ref.end)
    facing = jnp.where(inc.valid, dot(inc.normal, normal[None, :]), -_NEG)
    j = jnp.argmin(facing)
    inc_hot = jnp.arange(facing.shape[0]) == j
    tangent, length = safe_normalize(v2 - v1)
    p1, p2, ok = _clip_segment(_pick(inc_hot, inc.start), _pick(inc_hot, inc.end), v1, tangent, length)
    pts = jnp.stack([p1, p2])
    seps = dot(pts - v1[None, :], normal[None, :])
    points = pts - 0.5 * seps[:, None] * normal[None, :]
    seps = jnp.where(ok, seps, FAR)
    v = fa.start.shape[0]
    feature = flip.astype(jnp.int32) * v * v + jnp.where(flip, face_b, face_a) * v + j
    return jnp.where(flip, -normal, normal), seps, points, feature


def polygon_normals(verts, n_vertices=None):
    """(V, 2) outward unit face normals of a counter-clockwise polygon (unused slots: garbage)."""
    return polygon_faces(verts, n_vertices).normal
