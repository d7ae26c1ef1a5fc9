"""Restitution, impacts and landings as properties over dense sweeps (issue 13).

Every scene here has the same slots (3 polygons, 1 circle), so one ``vmap``ed rollout of 600 steps
(10 s) computes all of them in a single compile: drops of a circle and a flat box from 5 cm to 3 m
for e in {0, 0.5, 0.8, 1}, a ball thrown at a wall at several speeds and angles, face-on box-box
impacts and spinning discs landing.

Energy is measured at the positions' time. Semi-implicit Euler stores each velocity half a step
ahead of its position (v_k = v(t_k - dt/2) in free flight), so the velocity at t_k is
v_k + g dt/2 and E_k = 1/2 m |v_k + g dt/2|^2 + 1/2 I w^2 - m g.x_k is exactly constant in free
flight; plain 1/2 m v_k^2 + m g y_k instead falls by m g^2 dt^2/2 every free step and must jump back
at every bounce. The half-step kick is not known for a body that rests on something (its velocity
at t_k is 0, not g dt/2), so E_k is known to within 1/2 m (g dt/2)^2 = m g^2 dt^2/8 per body, and
the sampled apex of an energy-conserving flight can lie up to g dt^2/8 (0.34 mm at 60 Hz) above
the energy's height. These are the only slack "energy never rises" and "no apex above the drop
height" get (the bug this guards against gained up to 50 % of the drop height).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rizzlib import jax2d
from rizzlib.jax2d import SceneBuilder, SimParams, StaticConfig

ST = StaticConfig(num_polygons=3, num_circles=1, num_joints=0, num_thrusters=0)
PARAMS = SimParams()
DT = PARAMS.dt
G = 9.81
STEPS = 600  # 10 s
SAMPLING = G * DT**2 / 8  # how far a sampled apex may sit above the flight's energy height, m
R = 0.1  # circle radius, m
BOX = (0.4, 0.2)  # box width, height, m
E_VALUES = (0.0, 0.5, 0.8, 1.0)
HEIGHTS = np.geomspace(0.05, 3.0, 16)
THROWS = [(s, a, e) for s in (3.0, 6.0, 9.0) for a in (-30.0, 0.0, 30.0, 50.0) for e in (0.5, 0.8, 1.0)]
IMPACTS = [(e, ratio, v) for e in (1.0, 0.5) for ratio in (1.0, 2.0, 0.5) for v in (1.0, 4.0)]
SPINS = [(h, w) for h in (0.05, 0.1, 0.2, 0.35, 0.5) for w in (-15.0, 8.0)]


def drop_scene(h, e):
    """A circle (x = 1) and a flat box (x = 3.5) with their bottoms h above the floor (y = 0)."""
    sb = SceneBuilder(ST)
    sb.add_floor(0.0, restitution=e)
    sb.add_box((3.5, BOX[1] / 2 + h), BOX, restitution=e)
    sb.add_box((20.0, 20.0), (0.1, 0.1), static=True)  # parked: no partner in reach
    sb.add_circle((1.0, R + h), R, restitution=e)
    return sb.build()


def throw_scene(speed, angle_deg, e):
    """A ball thrown from (1, 2.5) towards a static wall whose face is at x = 2 (another at x = 0)."""
    a = math.radians(angle_deg)
    sb = SceneBuilder(ST)
    sb.add_floor(0.0, x_min=-0.5, x_max=2.5, restitution=e)
    sb.add_box((2.25, 5.0), (0.5, 10.0), static=True, restitution=e)
    sb.add_box((-0.25, 5.0), (0.5, 10.0), static=True, restitution=e)
    sb.add_circle((1.0, 2.5), R, restitution=e, velocity=(speed * math.cos(a), speed * math.sin(a)))
    return sb.build()


def impact_scene(e, ratio, speed):
    """Box A (density 1) at speed, box B (density ``ratio``) at rest, faces 0.3 m apart, no gravity."""
    sb = SceneBuilder(ST, gravity=(0.0, 0.0))
    sb.add_box((1.0, 2.0), (0.4, 0.4), restitution=e, velocity=(speed, 0.0))
    sb.add_box((1.7, 2.0), (0.4, 0.4), restitution=e, density=ratio)
    sb.add_box((20.0, 20.0), (0.1, 0.1), static=True)
    sb.add_circle((-8.0, 14.0), R)  # parked, inside clip_position (15 m)
    return sb.build()


def spin_scene(h, w):
    """A disc of radius 0.2 spinning at w rad/s, its bottom h above the floor."""
    sb = SceneBuilder(ST)
    sb.add_floor(0.0, x_min=-14.0, x_max=14.0)  # it rolls up to 10 m in 10 s
    sb.add_box((20.0, 20.0), (0.1, 0.1), static=True)
    sb.add_box((-20.0, 20.0), (0.1, 0.1), static=True)
    sb.add_circle((2.5, 0.2 + h), 0.2, angular_velocity=w)
    return sb.build()


def scenes():
    drops = [drop_scene(h, e) for e in E_VALUES for h in HEIGHTS]
    throws = [throw_scene(*t) for t in THROWS]
    impacts = [impact_scene(*i) for i in IMPACTS]
    spins = [spin_scene(*s) for s in SPINS]
    return drops, throws, impacts, spins


@jax.jit
def _rollout_batch(batch):
    return jax.vmap(lambda s: jax2d.rollout(s, PARAMS, ST, None, STEPS)[1])(batch)


@pytest.fixture(scope="module")
def runs():
    """Initial states and trajectories of every scene, split by kind (one compile, one run)."""
    parts = scenes()
    flat = [s for part in parts for s in part]
    batch = jax.tree.map(lambda *x: jnp.stack(x), *flat)
    traj = jax.tree.map(np.asarray, _rollout_batch(batch))
    init = jax.tree.map(np.asarray, batch)
    out, start = [], 0
    for part in parts:
        sl = slice(start, start + len(part))
        out.append((jax.tree.map(lambda x, sl=sl: x[sl], init), jax.tree.map(lambda x, sl=sl: x[sl], traj)))
        start += len(part)
    return out


def _with_start(init, traj, name, field):
    """(B, 1 + STEPS, ...) the field of body kind ``name`` from the initial state on."""
    a = getattr(getattr(init, name), field)[:, None]
    b = getattr(getattr(traj, name), field)
    return np.concatenate([a, b], 1).astype(np.float64)


def energy(init, traj):
    """((B, 1 + STEPS) total energy at the positions' time, (B, 1) its half-kick slack), J
    (see the module docstring)."""
    g = init.gravity.astype(np.float64)[:, None, None, :]  # (B, 1, 1, 2)
    total = slack = 0.0
    for name in ("polygon", "circle"):
        inv_m = getattr(init, name).inverse_mass.astype(np.float64)[:, None]
        inv_i = getattr(init, name).inverse_inertia.astype(np.float64)[:, None]
        m = np.where(inv_m > 0, 1.0 / np.where(inv_m > 0, inv_m, 1.0), 0.0)
        inertia = np.where(inv_i > 0, 1.0 / np.where(inv_i > 0, inv_i, 1.0), 0.0)
        v = _with_start(init, traj, name, "velocity") + g * DT / 2
        x = _with_start(init, traj, name, "position")
        w = _with_start(init, traj, name, "angular_velocity")
        kin = 0.5 * m * (v**2).sum(-1) + 0.5 * inertia * w**2
        pot = -m * (g * x).sum(-1)
        total = total + (kin + pot).sum(-1)
        slack = slack + m.sum(-1) * (g**2).sum(-1)[:, :, 0] * DT**2 / 8
    return total, slack


def assert_energy_never_rises(init, traj):
    en, slack = energy(init, traj)
    rise = np.diff(en, axis=1) - slack - 1e-5 * np.abs(en[:, :1]) - 1e-7
    assert np.all(rise <= 0.0), float(rise.max())


def apexes(y):
    """Local maxima of a sampled height curve."""
    return [float(y[i]) for i in range(1, len(y) - 1) if y[i] >= y[i - 1] and y[i] > y[i + 1]]


def _drop_heights(init, traj):
    """((B, 1+STEPS) circle bottom, (B, 1+STEPS) box bottom, (B,) drop heights, (B,) e)."""
    yc = _with_start(init, traj, "circle", "position")[:, :, 0, 1] - R
    yb = _with_start(init, traj, "polygon", "position")[:, :, 1, 1] - BOX[1] / 2
    e = np.repeat(E_VALUES, len(HEIGHTS))
    h = np.tile(HEIGHTS, len(E_VALUES))
    return yc, yb, h, e


# ------------------------------------------------------------------------------------------ drops
def test_first_apex_is_e_squared_times_the_drop_height(runs):
    yc, yb, hs, es = _drop_heights(*runs[0])
    for y_all, kind in ((yc, "circle"), (yb, "box")):
        for y, h, e in zip(y_all, hs, es):
            landed = int(np.argmax(y <= PARAMS.slop))
            assert landed > 0, (kind, h, e)
            after = y[landed:]
            if e == 0.0:
                assert after.max() <= 0.03 * h + SAMPLING, (kind, h, after.max())
                continue
            tops = apexes(after)
            assert tops, (kind, h, e)
            tol = 0.02 * h if e == 1.0 else 0.03 * e**2 * h
            assert abs(tops[0] - e**2 * h) <= tol, (kind, h, e, tops[0] / h)


def test_elastic_bounces_never_exceed_the_drop_height_in_10_s(runs):
    yc, yb, hs, es = _drop_heights(*runs[0])
    for y_all in (yc, yb):
        for y, h in zip(y_all[es == 1.0], hs[es == 1.0]):
            tops = apexes(y)
            assert len(tops) >= 3 and max(tops) <= h + SAMPLING + 1e-5 * (1 + h), (h, max(tops) - h)
            assert min(tops) >= 0.98 * h, (h, min(tops) / h)


def test_drops_never_gain_energy_and_reverse_only_at_contact(runs):
    init, traj = runs[0]
    assert_energy_never_rises(init, traj)
    yc, yb, hs, es = _drop_heights(init, traj)
    vc = _with_start(init, traj, "circle", "velocity")[:, :, 0, 1]
    vb = _with_start(init, traj, "polygon", "velocity")[:, :, 1, 1]
    for v, y in ((vc, yc), (vb, yb)):
        up = (v[:, :-1] < 0.0) & (v[:, 1:] > 0.0)  # turned upwards during the step
        assert np.all(y[:, 1:][up] <= PARAMS.slop), float(y[:, 1:][up].max())
    spin = _with_start(init, traj, "polygon", "angular_velocity")[:, :, 1]
    assert np.abs(spin).max() < 1e-3  # a flat box lands on both corners at once and does not tip


# ------------------------------------------------------------------------------------------ throws
def test_ball_thrown_at_a_wall(runs):
    init, traj = runs[1]
    assert_energy_never_rises(init, traj)
    x = _with_start(init, traj, "circle", "position")[:, :, 0, 0]
    y = _with_start(init, traj, "circle", "position")[:, :, 0, 1]
    vx = _with_start(init, traj, "circle", "velocity")[:, :, 0, 0]
    vy = _with_start(init, traj, "circle", "velocity")[:, :, 0, 1]
    wall_gap = np.minimum(2.0 - (x + R), x - R)
    for k, (speed, angle, e) in enumerate(THROWS):
        back = (vx[k, :-1] > 0.0) & (vx[k, 1:] < 0.0)
        assert back.any(), (speed, angle, e)
        hit = int(np.argmax(back)) + 1
        assert wall_gap[k, hit] <= PARAMS.slop, (speed, angle, e)  # the first turn is at the wall
        # any turn of vx happens at a wall, or on the floor (friction on a spinning ball)
        turned = back | ((vx[k, :-1] < 0.0) & (vx[k, 1:] > 0.0))
        touching = np.minimum(wall_gap[k, 1:], y[k, 1:] - R) <= PARAMS.slop
        assert np.all(touching[turned]), (speed, angle, e)
        vx_in = speed * math.cos(math.radians(angle))
        assert abs(-vx[k, hit] - e * vx_in) <= 0.03 * e * vx_in, (speed, angle, e, -vx[k, hit] / vx_in)
        up = (vy[k, :-1] < 0.0) & (vy[k, 1:] > 0.0)
        assert np.all((y[k, 1:][up] - R <= PARAMS.slop) | (wall_gap[k, 1:][up] <= PARAMS.slop)), (speed, angle, e)


# ------------------------------------------------------------------------------------------ impacts
def test_face_on_box_impacts_match_the_1d_formulas_without_spin(runs):
    init, traj = runs[2]
    assert_energy_never_rises(init, traj)
    v = _with_start(init, traj, "polygon", "velocity")[:, -1]  # (B, P, 2) after 10 s
    w = _with_start(init, traj, "polygon", "angular_velocity")
    for k, (e, ratio, speed) in enumerate(IMPACTS):
        m1, m2 = 1.0, ratio
        v1 = ((m1 - e * m2) * speed) / (m1 + m2)
        v2 = ((1 + e) * m1 * speed) / (m1 + m2)
        assert abs(v[k, 0, 0] - v1) <= 0.01 * speed, (e, ratio, speed, v[k, 0, 0], v1)
        assert abs(v[k, 1, 0] - v2) <= 0.01 * speed, (e, ratio, speed, v[k, 1, 0], v2)
        assert np.abs(v[k, :2, 1]).max() < 1e-4
        assert np.abs(w[k, :, :2]).max() < 0.01, (e, ratio, speed, np.abs(w[k]).max())


def test_spinning_disc_keeps_its_angular_momentum_about_the_contact_point(runs):
    init, traj = runs[3]
    assert_energy_never_rises(init, traj)
    inv_m, inv_i = init.circle.inverse_mass[:, 0], init.circle.inverse_inertia[:, 0]
    pos = _with_start(init, traj, "circle", "position")[:, :, 0]
    vel = _with_start(init, traj, "circle", "velocity")[:, :, 0]
    w = _with_start(init, traj, "circle", "angular_velocity")[:, :, 0]
    # about the floor point below the centre: L = I w + m (c - p) x v with c - p = (0, y)
    moment = w / inv_i[:, None] - pos[..., 1] * vel[..., 0] / inv_m[:, None]
    for k, (h, w0) in enumerate(SPINS):
        ref = w0 / inv_i[k]
        window = moment[k, :121]  # the first 2 s: fall, landing, slipping, rolling
        assert np.all(np.abs(window - ref) <= 0.01 * abs(ref)), (h, w0, float(np.abs(window / ref - 1).max()))
        assert abs(vel[k, 120, 0] + w[k, 120] * 0.2) < 1e-2 * abs(w0) * 0.2  # rolling by then
