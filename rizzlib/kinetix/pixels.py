"""The ``pixels`` observation: a jittable rasteriser of the 5 m x 5 m world.

Each pixel centre is tested against every active polygon (inside all edges of the counter-clockwise
outline) and circle; later shapes paint over earlier ones, circles over polygons. Colours follow
the role (default grey, static default darker, green, blue, red); joints and thrusters are small
dots. Output: (pixel_size, pixel_size, 3) floats in [0, 1], row 0 at the top (y = 5 m).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rizzlib.kinetix.types import EnvConfig, EnvState

WORLD = 5.0
ROLE_COLOURS = jnp.asarray([[0.55, 0.55, 0.60], [0.20, 0.70, 0.25], [0.20, 0.40, 0.85], [0.85, 0.20, 0.20]])
STATIC_DEFAULT = jnp.asarray([0.30, 0.30, 0.33])
BACKGROUND = jnp.asarray([0.96, 0.95, 0.93])
JOINT_COLOUR = jnp.asarray([0.95, 0.75, 0.10])
THRUSTER_COLOUR = jnp.asarray([0.60, 0.20, 0.60])


def pixel_centres(size: int) -> jnp.ndarray:
    """(size, size, 2) world coordinates (m) of pixel centres, row 0 at y = 5."""
    t = (jnp.arange(size) + 0.5) / size * WORLD
    x, y = jnp.meshgrid(t, WORLD - t)
    return jnp.stack([x, y], -1)


def _colour(body, role):
    c = ROLE_COLOURS[role]
    static = body.inverse_mass == 0.0
    return jnp.where((static & (role == 0))[:, None], STATIC_DEFAULT, c)


def render_pixels(state: EnvState, config: EnvConfig) -> jnp.ndarray:
    """(S, S, 3) image of the running scene, S = config.pixel_size."""
    sim = jax.tree.map(lambda x: jnp.nan_to_num(x) if jnp.issubdtype(x.dtype, jnp.floating) else x, state.sim)
    pts = pixel_centres(config.pixel_size)
    img = jnp.broadcast_to(BACKGROUND, pts.shape[:2] + (3,))
    poly = sim.polygon
    c, s = jnp.cos(poly.rotation), jnp.sin(poly.rotation)
    rot = jnp.stack([jnp.stack([c, -s], -1), jnp.stack([s, c], -1)], -2)  # (P, 2, 2)
    world = jnp.einsum("pij,pvj->pvi", rot, poly.vertices) + poly.position[:, None]  # (P, V, 2)
    nxt = jnp.roll(world, -1, axis=1)
    nv = poly.vertices.shape[1]
    # wrap the last used vertex to vertex 0 (unused slots repeat vertex 0, giving zero-length edges)
    last = jnp.arange(nv)[None] == (poly.n_vertices[:, None] - 1)
    nxt = jnp.where(last[..., None], world[:, :1], nxt)
    edge = nxt - world
    rel = pts[None, :, :, None, :] - world[:, None, None, :, :]  # (P, H, W, V, 2)
    cross = edge[:, None, None, :, 0] * rel[..., 1] - edge[:, None, None, :, 1] * rel[..., 0]
    used = jnp.arange(nv)[None] < poly.n_vertices[:, None]
    inside_p = jnp.all((cross >= 0.0) | ~used[:, None, None, :], axis=-1) & poly.active[:, None, None]
    pc = _colour(poly, state.level.polygon_role)
    for k in range(inside_p.shape[0]):
        img = jnp.where(inside_p[k][..., None], pc[k], img)
    circ = sim.circle
    d2 = jnp.sum((pts[None] - circ.position[:, None, None]) ** 2, -1)
    inside_c = (d2 <= circ.radius[:, None, None] ** 2) & circ.active[:, None, None]
    cc = _colour(circ, state.level.circle_role)
    for k in range(inside_c.shape[0]):
        img = jnp.where(inside_c[k][..., None], cc[k], img)
    dot = (1.5 * WORLD / config.pixel_size) ** 2
    pos = jnp.concatenate([poly.position, circ.position])
    rots = jnp.concatenate([poly.rotation, circ.rotation])
    j = sim.joint
    for k in range(j.active.shape[0]):
        a = j.a_index[k]
        ca, sa = jnp.cos(rots[a]), jnp.sin(rots[a])
        p = pos[a] + jnp.stack([ca * j.a_relative_pos[k, 0] - sa * j.a_relative_pos[k, 1],
                                sa * j.a_relative_pos[k, 0] + ca * j.a_relative_pos[k, 1]])
        hit = (jnp.sum((pts - p) ** 2, -1) <= dot) & j.active[k]
        img = jnp.where(hit[..., None], JOINT_COLOUR, img)
    t = sim.thruster
    for k in range(t.active.shape[0]):
        b = t.object_index[k]
        cb, sb = jnp.cos(rots[b]), jnp.sin(rots[b])
        p = pos[b] + jnp.stack([cb * t.relative_position[k, 0] - sb * t.relative_position[k, 1],
                                sb * t.relative_position[k, 0] + cb * t.relative_position[k, 1]])
        hit = (jnp.sum((pts - p) ** 2, -1) <= dot) & t.active[k]
        img = jnp.where(hit[..., None], THRUSTER_COLOUR, img)
    return img.astype(jnp.float32)
