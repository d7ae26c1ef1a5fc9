"""Scenes and rollouts to RGB frames on the CPU (numpy + Pillow), and an inline animation.

The world rectangle ``world = (x0, y0, x1, y1)`` (m) is mapped onto ``size = (width, height)``
pixels with y pointing up. Dynamic polygons, dynamic circles and static bodies get different
colours; circles carry a radius line so their rotation is visible; joints are dots; thrusters are
arrows along their push direction (with a flame while firing). Inactive slots are not drawn.

Example::

    frames = render_rollout(trajectory, size=(200, 200))   # (T, 200, 200, 3) uint8
    animate(trajectory)                                     # plays inline in Jupyter and the book
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from rizzlib.core.validate import check_int_range, check_range

Color = tuple[int, int, int]


@dataclasses.dataclass(frozen=True)
class Palette:
    """RGB colours (0-255) of the drawing."""

    background: Color = (245, 243, 238)
    static: Color = (120, 120, 128)
    polygon: Color = (76, 114, 176)
    circle: Color = (221, 132, 82)
    outline: Color = (40, 40, 48)
    radius_line: Color = (40, 40, 48)
    joint: Color = (196, 40, 40)
    thruster: Color = (44, 160, 44)
    flame: Color = (250, 190, 30)


DEFAULT_PALETTE = Palette()
DEFAULT_WORLD = (-0.2, -0.2, 5.2, 5.2)


def _to_numpy(state):
    """Every leaf of the state (or trajectory) as a numpy array."""
    import jax

    return jax.tree.map(np.asarray, state)


def _check_view(size, world):
    if len(size) != 2:
        raise ValueError(f"size must be (width, height) in pixels; got {size!r}")
    w = check_int_range("size[0]", size[0], 8, 4096)
    h = check_int_range("size[1]", size[1], 8, 4096)
    if len(world) != 4:
        raise ValueError(f"world must be (x0, y0, x1, y1) in m; got {world!r}")
    x0, y0, x1, y1 = (float(v) for v in world)
    for name, v in zip(("world[0]", "world[1]", "world[2]", "world[3]"), (x0, y0, x1, y1)):
        check_range(name, v)
    check_range("world[2]", x1, x0, None, low_inclusive=False)
    check_range("world[3]", y1, y0, None, low_inclusive=False)
    return w, h, (x0, y0, x1, y1)


def world_to_pixel(points, size=(256, 256), world=DEFAULT_WORLD) -> np.ndarray:
    """Map world points (..., 2) m to pixel coordinates (..., 2) = (column, row), row 0 at the top."""
    w, h, (x0, y0, x1, y1) = _check_view(size, world)
    p = np.asarray(points, dtype=np.float64)
    col = (p[..., 0] - x0) / (x1 - x0) * w
    row = (y1 - p[..., 1]) / (y1 - y0) * h
    return np.stack([col, row], axis=-1)


def _rot(angle) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def _body_pose(s, index: int):
    """(position (2,), rotation) of global body ``index`` (polygons first, then circles)."""
    p = s.polygon.position.shape[0]
    body, i = (s.polygon, index) if index < p else (s.circle, index - p)
    return body.position[i], float(body.rotation[i]), bool(body.active[i])


def _is_static(body, i: int) -> bool:
    return body.inverse_mass[i] == 0.0 and body.inverse_inertia[i] == 0.0


def render_frame(state, size=(256, 256), world=DEFAULT_WORLD, *, thrust=None, body_colors=None,
                 palette: Palette = DEFAULT_PALETTE, supersample: int = 2) -> np.ndarray:
    """Draw one scene.

    Args:
        state: a single (unbatched) :class:`~rizzlib.jax2d.types.SimState`.
        size: (width, height) of the image, pixels (8..4096).
        world: (x0, y0, x1, y1) the visible rectangle, m; pick it with the image's aspect ratio.
        thrust: optional (T,) thruster actions in [0, 1]; a firing thruster gets a flame.
        body_colors: optional (P + C, 3) uint8 colours overriding the palette per body (e.g. roles).
        palette: the colours.  supersample: draw this many times larger, then downsample (anti-aliasing).

    Returns:
        (height, width, 3) uint8 RGB image.
    """
    from PIL import Image, ImageDraw

    w, h, world = _check_view(size, world)
    ss = check_int_range("supersample", supersample, 1, 8)
    s = _to_numpy(state)
    if s.polygon.position.ndim != 2:
        raise ValueError(
            f"state must be a single scene (polygon.position of shape (P, 2)); got {s.polygon.position.shape}. "
            "Index a batch or a trajectory first, or use render_rollout."
        )
    n_poly = s.polygon.position.shape[0]
    colors = None if body_colors is None else np.asarray(body_colors, dtype=np.uint8)
    if colors is not None and colors.shape != (n_poly + s.circle.position.shape[0], 3):
        raise ValueError(f"body_colors must have shape (P + C, 3); got {colors.shape}")
    W, H = w * ss, h * ss
    img = Image.new("RGB", (W, H), palette.background)
    draw = ImageDraw.Draw(img)
    px = (W + H) / 2 / ss  # line widths scale with the image, not the supersampling
    line = max(1, round(px / 200)) * ss

    def to_px(p):
        return [tuple(q) for q in world_to_pixel(p, (W, H), world)]

    def fill_of(kind_color, body, i, gi):
        if colors is not None:
            return tuple(int(c) for c in colors[gi])
        return palette.static if _is_static(body, i) else kind_color

    # static bodies first, so moving ones are drawn on top
    order = sorted(range(n_poly), key=lambda i: not _is_static(s.polygon, i))
    for i in order:
        if not s.polygon.active[i]:
            continue
        k = int(s.polygon.n_vertices[i])
        local = s.polygon.vertices[i, :k]
        verts = s.polygon.position[i] + local @ _rot(float(s.polygon.rotation[i])).T
        draw.polygon(to_px(verts), fill=fill_of(palette.polygon, s.polygon, i, i), outline=palette.outline,
                     width=line)
    for i in range(s.circle.position.shape[0]):
        if not s.circle.active[i]:
            continue
        c, r, a = s.circle.position[i], float(s.circle.radius[i]), float(s.circle.rotation[i])
        (cx, cy), (ex, ey) = to_px(np.array([c, c + r]))  # ex - cx = radius in pixels along x
        rx, ry = ex - cx, cy - ey
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=fill_of(palette.circle, s.circle, i, n_poly + i),
                     outline=palette.outline, width=line)
        tip = to_px(np.array([c + r * np.array([math.cos(a), math.sin(a)])]))[0]
        draw.line([(cx, cy), tip], fill=palette.radius_line, width=line)

    jt = s.joint
    dot = 1.5 * line + ss  # pixels (supersampled)
    for j in range(jt.active.shape[0]):
        if not jt.active[j]:
            continue
        pa, ra, act_a = _body_pose(s, int(jt.a_index[j]))
        if not act_a:
            continue
        (x, y), = to_px(np.array([pa + _rot(ra) @ jt.a_relative_pos[j]]))
        draw.ellipse([x - dot, y - dot, x + dot, y + dot], fill=palette.joint, outline=palette.outline)

    th = s.thruster
    fire = np.zeros(th.active.shape[0]) if thrust is None else np.clip(np.asarray(thrust, float), 0.0, 1.0)
    if fire.shape != th.active.shape:
        raise ValueError(f"thrust must have shape (T,) = {th.active.shape}; got {fire.shape}")
    span = (world[2] - world[0] + world[3] - world[1]) / 2
    for t in range(th.active.shape[0]):
        if not th.active[t]:
            continue
        pb, rb, act = _body_pose(s, int(th.object_index[t]))
        if not act:
            continue
        mount = pb + _rot(rb) @ th.relative_position[t]
        d = np.array([math.cos(rb + th.rotation[t]), math.sin(rb + th.rotation[t])])
        n = np.array([-d[1], d[0]])
        arrow = 0.05 * span
        if fire[t] > 0:
            flame = mount - d * arrow * (0.5 + 1.5 * fire[t])
            draw.polygon(to_px(np.array([mount + n * arrow * 0.3, flame, mount - n * arrow * 0.3])), fill=palette.flame)
        head = mount + d * arrow
        draw.line(to_px(np.array([mount, head])), fill=palette.thruster, width=2 * line)
        draw.polygon(to_px(np.array([head + d * arrow * 0.5, head + n * arrow * 0.3, head - n * arrow * 0.3])),
                     fill=palette.thruster)

    if ss > 1:
        img = img.resize((w, h), Image.Resampling.BOX)
    return np.asarray(img, dtype=np.uint8)


def render_rollout(trajectory, size=(200, 200), world=DEFAULT_WORLD, *, every: int = 1, max_frames: int | None = None,
                   actions=None, **kwargs) -> np.ndarray:
    """Draw a trajectory (a SimState whose leaves have a leading time axis, as ``rollout`` returns).

    Args:
        trajectory: SimState with leaves (T_steps, ...).
        size, world, kwargs: as :func:`render_frame`.
        every: draw every ``every``-th state (>= 1).
        max_frames: then keep at most this many frames, evenly spaced (None = all).
        actions: optional (T_steps, J + T) actions, to show firing thrusters.

    Returns:
        (F, height, width, 3) uint8 frames.
    """
    traj = _to_numpy(trajectory)
    steps = traj.polygon.position.shape[0]
    if traj.polygon.position.ndim != 3:
        raise ValueError(f"trajectory leaves need a leading time axis; got polygon.position {traj.polygon.position.shape}")
    check_int_range("every", every, 1, None)
    idx = np.arange(0, steps, every)
    if max_frames is not None:
        check_int_range("max_frames", max_frames, 1, None)
        if len(idx) > max_frames:
            idx = idx[np.round(np.linspace(0, len(idx) - 1, max_frames)).astype(int)]
    n_joints = traj.joint.active.shape[1]
    acts = None if actions is None else np.asarray(actions)
    if acts is not None and acts.shape[0] != steps:
        raise ValueError(f"actions must have one row per step ({steps}); got shape {acts.shape}")
    import jax

    frames = []
    for t in idx:
        one = jax.tree.map(lambda x, t=t: x[t], traj)
        thrust = None if acts is None else acts[t, n_joints:]
        frames.append(render_frame(one, size, world, thrust=thrust, **kwargs))
    return np.stack(frames)


def animate(trajectory, size=(200, 200), world=DEFAULT_WORLD, *, dt: float = 1 / 60, max_frames: int = 80,
            title: str | None = None, **kwargs):
    """An inline animation (``IPython.display.HTML``) of a trajectory, played in real time.

    ``dt`` is the simulation step (s); at most ``max_frames`` frames are kept, evenly spaced, and the
    playback rate follows so that one second of simulation lasts one second. Other arguments as in
    :func:`render_rollout`.
    """
    import matplotlib.pyplot as plt

    from rizzlib.core.anim import animate_frames

    check_range("dt", dt, 0.0, None, low_inclusive=False)
    steps = np.asarray(trajectory.polygon.position).shape[0]
    frames = render_rollout(trajectory, size, world, max_frames=max_frames, **kwargs)
    fps = int(np.clip(round(len(frames) / (steps * dt)), 1, 120))
    # one figure pixel per frame pixel: no resampling, so the embedded PNGs stay small and sharp
    # (a title shrinks the image a little and costs some of that)
    with plt.rc_context({"figure.dpi": 100, "savefig.dpi": 100}):
        return animate_frames(frames, fps=fps, width_in=size[0] / 100, title=title)
