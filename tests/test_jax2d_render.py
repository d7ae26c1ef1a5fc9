"""Rendering oracles: known shapes land on the pixels the world-to-pixel map predicts, in their colours."""

from __future__ import annotations

import numpy as np
import pytest

from rizzlib import jax2d
from rizzlib.jax2d.render import DEFAULT_PALETTE as PAL
from rizzlib.jax2d.render import animate, render_frame, render_rollout, world_to_pixel

SIZE = (100, 80)  # width, height
WORLD = (0.0, 0.0, 5.0, 4.0)  # 20 px per metre on both axes


def _scene():
    static = jax2d.StaticConfig(num_polygons=3, num_circles=2, num_joints=1, num_thrusters=1)
    sb = jax2d.SceneBuilder(static)
    sb.add_box((2.5, 0.25), (5.0, 0.5), static=True)  # floor slab, pixels rows 70..80
    box = sb.add_box((1.0, 2.0), (1.0, 1.0))  # dynamic, pixels x 10..30, rows 30..50
    sb.add_box((4.0, 3.0), (0.5, 0.5))  # second dynamic box, deactivated below
    ball = sb.add_circle((3.5, 2.0), 0.5, rotation=0.0)  # pixels centre (70, 40), radius 10
    sb.add_circle((4.5, 1.0), 0.25, static=True)
    sb.add_revolute_joint(box, ball, anchor=(1.0, 2.0))
    sb.add_thruster(box, (1.0, 2.3), rotation=0.0)
    return static, sb.build()


def _pixel(img, xy):
    col, row = world_to_pixel(np.array(xy), SIZE, WORLD)
    return tuple(int(c) for c in img[int(row + 1e-6), int(col + 1e-6)])


def _near(img, xy, color, radius=1):
    """True when ``color`` occurs within ``radius`` pixels of the world point ``xy`` (lines are 1 px)."""
    col, row = (int(v + 1e-6) for v in world_to_pixel(np.array(xy), SIZE, WORLD))
    patch = img[max(row - radius, 0) : row + radius + 1, max(col - radius, 0) : col + radius + 1]
    return bool(np.all(patch == np.array(color), axis=-1).any())


def test_world_to_pixel_corners():
    px = world_to_pixel(np.array([[0.0, 0.0], [5.0, 4.0], [2.5, 2.0]]), SIZE, WORLD)
    np.testing.assert_allclose(px, [[0, 80], [100, 0], [50, 40]])


def test_frame_shape_dtype_and_colours_at_known_pixels():
    _, state = _scene()
    img = render_frame(state, SIZE, WORLD, supersample=1)
    assert img.shape == (80, 100, 3) and img.dtype == np.uint8
    assert _pixel(img, (1.3, 1.7)) == PAL.polygon  # inside the dynamic box, away from the joint dot
    assert _pixel(img, (2.5, 0.2)) == PAL.static  # the floor slab
    assert _pixel(img, (3.3, 2.1)) == PAL.circle  # left half of the ball (the radius line points right)
    assert _pixel(img, (4.5, 1.0 + 0.15)) == PAL.static  # the static circle
    assert _pixel(img, (2.5, 3.5)) == PAL.background
    assert _pixel(img, (4.0, 3.0)) == PAL.polygon  # the second box, still active here
    # the radius line of the ball (rotation 0) runs from its centre to the right
    assert _near(img, (3.75, 2.0), PAL.radius_line)
    assert not _near(img, (3.5, 2.3), PAL.radius_line)


def test_radius_line_follows_rotation():
    _, state = _scene()
    rotated = state.replace(circle=state.circle.replace(rotation=state.circle.rotation.at[0].set(np.pi / 2)))
    img = render_frame(rotated, SIZE, WORLD, supersample=1)
    assert _near(img, (3.5, 2.3), PAL.radius_line)  # now pointing up
    assert not _near(img, (3.75, 2.0), PAL.radius_line)


def test_inactive_shapes_are_invisible():
    _, state = _scene()
    off = state.replace(
        polygon=state.polygon.replace(active=state.polygon.active.at[2].set(False)),
        circle=state.circle.replace(active=state.circle.active.at[0].set(False)),
    )
    img = render_frame(off, SIZE, WORLD, supersample=1)
    assert _pixel(img, (4.0, 3.0)) == PAL.background
    assert _pixel(img, (3.3, 2.1)) == PAL.background
    assert _pixel(img, (1.3, 1.7)) == PAL.polygon  # others untouched


def test_joint_and_thruster_are_drawn():
    _, state = _scene()
    img = render_frame(state, SIZE, WORLD, supersample=1)
    assert _pixel(img, (1.0, 2.0)) in (PAL.joint, PAL.outline)
    # thruster mounted at (1.0, 2.3) pushing +x: its arrow covers a point just right of the mount
    fired = render_frame(state, SIZE, WORLD, supersample=1, thrust=np.ones(1))
    assert _pixel(fired, (1.15, 2.3)) == PAL.thruster
    # the flame trails behind (-x) only while firing
    assert _pixel(fired, (0.8, 2.3)) == PAL.flame
    assert _pixel(img, (0.8, 2.3)) == PAL.polygon


def test_body_colors_override():
    static, state = _scene()
    colors = np.zeros((static.num_bodies, 3), np.uint8)
    colors[1] = (0, 200, 0)
    img = render_frame(state, SIZE, WORLD, supersample=1, body_colors=colors)
    assert _pixel(img, (1.3, 1.7)) == (0, 200, 0)


def test_supersampling_keeps_interior_colours():
    _, state = _scene()
    img = render_frame(state, SIZE, WORLD, supersample=3)
    assert _pixel(img, (1.3, 1.7)) == PAL.polygon
    assert _pixel(img, (2.5, 3.5)) == PAL.background


def test_rollout_frames_follow_the_falling_box():
    static, state = _scene()
    params = jax2d.SimParams()
    _, traj = jax2d.rollout_jit(state, params, static, None, 30)
    frames = render_rollout(traj, SIZE, WORLD, every=2, supersample=1)
    assert frames.shape == (15, 80, 100, 3) and frames.dtype == np.uint8
    # the free box at y=3 falls: its top-left region empties over time
    assert _pixel(frames[0], (3.85, 3.2)) == PAL.polygon
    assert _pixel(frames[-1], (3.85, 3.2)) == PAL.background
    few = render_rollout(traj, SIZE, WORLD, max_frames=4, supersample=1)
    assert few.shape[0] == 4
    np.testing.assert_array_equal(few[0], render_frame(state_at(traj, 0), SIZE, WORLD, supersample=1))


def state_at(traj, t):
    import jax

    return jax.tree.map(lambda x: x[t], traj)


def test_animation_html():
    static, state = _scene()
    _, traj = jax2d.rollout_jit(state, jax2d.SimParams(), static, None, 12)
    html = animate(traj, size=(48, 40), world=WORLD, max_frames=6)
    assert "<script" in html.data and "img" in html.data


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(size=(4, 80)), "size[0]"),
        (dict(size=(100,)), "size"),
        (dict(world=(0, 0, -1, 4)), "world[2]"),
        (dict(world=(0, 0, 5, float("nan"))), "world[3]"),
        (dict(supersample=0), "supersample"),
        (dict(thrust=np.ones(3)), "thrust"),
        (dict(body_colors=np.zeros((2, 3))), "body_colors"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, match):
    _, state = _scene()
    args = dict(size=SIZE, world=WORLD) | kwargs
    with pytest.raises(ValueError, match=match.replace("[", r"\[").replace("]", r"\]")):
        render_frame(state, **args)


def test_batched_state_is_rejected_with_a_hint():
    import jax

    _, state = _scene()
    batch = jax.tree.map(lambda x: np.stack([x, x]), state)
    with pytest.raises(ValueError, match="single scene"):
        render_frame(batch, SIZE, WORLD)
