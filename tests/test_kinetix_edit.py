"""Level editing (pure, validated) and episode replay: mass oracles, untouched inputs, clear errors,
and edits that change what happens when the level is played."""

import math

import jax
import numpy as np
import pytest

from rizzlib.kinetix import KinetixEnv, Role
from rizzlib.kinetix.builtin import load_builtin_level
from rizzlib.kinetix.edit import motor_table, scale_shape, set_density, set_motor_speed, set_role, shape_table
from rizzlib.kinetix.presets import PRESETS
from rizzlib.kinetix.replay import constant_actor, make_player, render_level, role_colors


@pytest.fixture(scope="module")
def car():
    return load_builtin_level("s/one_wheel_car")


def _leaves_equal(a, b):
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _rows(level, cfg):
    return {r["body"]: r for r in shape_table(level, cfg)}


def test_shape_and_motor_tables(car):
    level, cfg = car
    rows = _rows(level, cfg)
    assert [r["body"] for r in rows.values() if r["border"]] == [0, 1, 2, 3]
    roles = sorted(r["role"] for r in rows.values() if not r["border"])
    assert roles == ["blue", "default", "green"]
    (motor,) = motor_table(level)
    assert motor["channel"] == 0 and motor["speed"] == pytest.approx(1.0)


def test_set_role_changes_one_role_and_leaves_the_input(car):
    level, cfg = car
    before = jax.tree.map(np.array, level)
    blue = next(b for b, r in _rows(level, cfg).items() if r["role"] == "blue")
    new = set_role(level, blue, Role.RED)
    assert _rows(new, cfg)[blue]["role"] == "red"
    assert _leaves_equal(level, before)
    changed = [i for i, (x, y) in enumerate(zip(np.asarray(level.roles), np.asarray(new.roles))) if x != y]
    assert changed == [blue]
    with pytest.raises(ValueError, match="role"):
        set_role(level, blue, 7)
    lander, _ = load_builtin_level("s/lander")  # one circle of the two S slots
    with pytest.raises(ValueError, match="body"):
        set_role(lander, cfg.sim.num_polygons + 1, Role.GREEN)
    with pytest.raises(ValueError, match="body"):
        set_role(level, cfg.num_shapes, Role.GREEN)


@pytest.mark.parametrize("factor", [0.5, 0.8, 1.3, 1.7])
def test_scale_shape_masses_follow_closed_forms(car, factor):
    level, cfg = car
    rows = _rows(level, cfg)
    wheel = next(b for b, r in rows.items() if r["kind"] == "circle" and not r["static"])
    body = next(b for b, r in rows.items() if r["kind"] == "polygon" and not r["border"])
    p = cfg.sim.num_polygons
    new = scale_shape(scale_shape(level, wheel, factor), body, factor)
    r0 = float(level.sim.circle.radius[wheel - p])
    r1 = float(new.sim.circle.radius[wheel - p])
    assert r1 == pytest.approx(r0 * factor, rel=1e-6)
    m = math.pi * r1**2  # density 1
    assert 1 / float(new.sim.circle.inverse_mass[wheel - p]) == pytest.approx(m, rel=1e-5)
    assert 1 / float(new.sim.circle.inverse_inertia[wheel - p]) == pytest.approx(m * r1**2 / 2, rel=1e-5)
    # the 0.8 x 0.2 box: mass w h, inertia m (w^2 + h^2) / 12
    w, h = 0.8 * factor, 0.2 * factor
    assert 1 / float(new.sim.polygon.inverse_mass[body]) == pytest.approx(w * h, rel=1e-5)
    assert 1 / float(new.sim.polygon.inverse_inertia[body]) == pytest.approx(w * h * (w**2 + h**2) / 12, rel=1e-4)
    # the centre of mass and the joint anchors stay put
    np.testing.assert_array_equal(np.asarray(new.sim.polygon.position), np.asarray(level.sim.polygon.position))
    np.testing.assert_array_equal(np.asarray(new.sim.joint.a_relative_pos), np.asarray(level.sim.joint.a_relative_pos))


def test_scale_shape_errors(car):
    level, cfg = car
    with pytest.raises(ValueError, match="border"):
        scale_shape(level, 0, 1.1)
    body = next(b for b, r in _rows(level, cfg).items() if r["kind"] == "polygon" and not r["border"])
    with pytest.raises(ValueError, match="factor"):
        scale_shape(level, body, 0.0)
    with pytest.raises(ValueError, match="extent"):
        scale_shape(level, body, 3.0)  # 0.82 m diagonal -> 2.5 m
    with pytest.raises(ValueError, match="extent"):
        scale_shape(level, body, 0.05)


def test_set_density_scales_mass_and_keeps_static_static(car):
    level, cfg = car
    rows = _rows(level, cfg)
    body = next(b for b, r in rows.items() if r["kind"] == "polygon" and not r["border"])
    new = set_density(level, body, 2.5)
    assert float(level.sim.polygon.inverse_mass[body]) / float(new.sim.polygon.inverse_mass[body]) == pytest.approx(2.5)
    assert float(level.sim.polygon.inverse_inertia[body]) / float(new.sim.polygon.inverse_inertia[body]) == pytest.approx(2.5)
    ball = next(b for b, r in rows.items() if r["static"] and not r["border"])
    new = set_density(level, ball, 3.0)
    assert _rows(new, cfg)[ball]["static"] and _rows(new, cfg)[ball]["density"] == pytest.approx(3.0)
    for bad in (0.0, -1.0, 1e4, float("nan")):
        with pytest.raises(ValueError, match="density"):
            set_density(level, body, bad)


def test_set_motor_speed_and_errors(car):
    level, cfg = car
    new = set_motor_speed(level, 0, 2.0)
    assert motor_table(new)[0]["speed"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="speed"):
        set_motor_speed(level, 0, 9.0)
    with pytest.raises(ValueError, match="joint"):
        set_motor_speed(level, 1, 1.0)  # an empty joint slot
    with pytest.raises(ValueError, match="joint"):
        set_motor_speed(level, 5, 1.0)


@pytest.mark.slow
def test_edits_change_what_happens_when_played(car):
    """Driving the car into the ball: slower motor -> later; a red ball -> death instead of the goal."""
    level, cfg = car
    env = KinetixEnv(cfg)
    key = jax.random.key(0)
    play = make_player(env, constant_actor(env))  # one compile for every action and level below
    drive = {d: env.noop_action().at[0].set(d) for d in (1, 2)}
    results = {d: play(key, level, a) for d, a in drive.items()}
    direction = 1 if results[1].solved else 2
    base = results[direction]
    assert base.solved and not base.died and base.total_reward > 0.5
    slow = play(key, set_motor_speed(level, 0, 0.5), drive[direction])
    assert slow.solved and slow.length > base.length
    blue = next(b for b, r in _rows(level, cfg).items() if r["role"] == "blue")
    red = play(key, set_role(level, blue, Role.RED), drive[direction])
    assert red.died and not red.solved and red.length == base.length
    idle = play(key, level, env.noop_action())
    assert idle.length == 256 and not idle.solved and not idle.died
    # the notebook's one-player-for-all actor plays the same constant-action episode
    from rizzlib.kinetix.replay import mixed_actor, mixed_policy
    from rizzlib.kinetix.train import build

    env_net, net = build(PRESETS.smoke)
    net_params = net.init(jax.random.key(0), env_net.reset(None, level)[0])
    mixed = make_player(env_net, mixed_actor(env_net, net))
    same = mixed(key, level, mixed_policy("constant", net_params, drive[direction]))
    assert same.length == base.length and same.solved
    np.testing.assert_allclose(same.sims.polygon.position, base.sims.polygon.position, atol=1e-6)
    rnd = mixed(key, level, mixed_policy("random", net_params, env=env_net))
    assert np.isfinite(rnd.rewards).all() and 1 <= rnd.length <= 256
    with pytest.raises(ValueError, match="kind"):
        mixed_policy("greedyy", net_params, env=env_net)
    # the widget's play button: the same episode, shown as an animation
    from rizzlib.kinetix.widget import LevelEditor

    actor = mixed_actor(env_net, net)
    ed = LevelEditor(level, cfg, {"drive": (actor, mixed_policy("constant", net_params, drive[direction]))}, size=60)
    ep = ed.play()
    # (outside a kernel the Output widget does not capture the animation, so only the episode is checked)
    assert ep.solved and ep.length == base.length and "solved" in ed.status.value and ed.episode is ep
    # the recorded scenes start at the level; one more scene than steps
    np.testing.assert_array_equal(base.sims.polygon.position[0], np.asarray(level.sim.polygon.position))
    assert base.sims.polygon.position.shape[0] == base.length + 1 == len(base.rewards) + 1


def test_render_level_uses_role_colours(car):
    level, cfg = car
    img = render_level(level, size=100)
    assert img.shape == (100, 100, 3) and img.dtype == np.uint8
    colours = role_colors(level)
    rows = _rows(level, cfg)
    green = next(b for b, r in rows.items() if r["role"] == "green")
    x, y = np.asarray(level.sim.polygon.position[green])
    # world (-0.1..5.1) -> pixels, y up
    px = int((x + 0.1) / 5.2 * 100)
    py = int((5.1 - y) / 5.2 * 100)
    assert np.abs(img[py, px].astype(int) - colours[green].astype(int)).max() < 30


def test_editor_widget_applies_edits_and_reports_errors(car):
    from rizzlib.kinetix.widget import LevelEditor

    level, cfg = car
    ed = LevelEditor(level, cfg, size=80)
    assert ed.image.value[:4] == b"\x89PNG"
    blue = next(b for b, r in _rows(level, cfg).items() if r["role"] == "blue")
    ed.shape.value = blue
    assert ed.role.value == "blue"
    ed.role.value = "red"
    assert ed.apply_role() and _rows(ed.level, cfg)[blue]["role"] == "red"
    before = ed.level
    ed.density.value = -1.0
    assert not ed.apply_density() and "density" in ed.status.value and ed.level is before
    ed.motor.value = 0
    ed.speed.value = 2.0
    assert ed.apply_speed() and motor_table(ed.level)[0]["speed"] == pytest.approx(2.0)
    ed.factor.value = 10.0
    assert not ed.apply_scale() and "extent" in ed.status.value
    ed.reset()
    assert ed.level is ed.original and ed.play() is None and "no policies" in ed.status.value
