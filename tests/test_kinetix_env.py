"""Environment oracles: the reward rule, frame skip, shaping, auto-reset, observations, actions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rizzlib.kinetix import (
    EnvConfig,
    EnvParams,
    KinetixEnv,
    LevelBuilder,
    Role,
    channels,
    combine_substeps,
    contact_reward,
    engine_actions,
    flat_size,
    green_blue_distance,
    stack_levels,
    validate_level,
)
from rizzlib.kinetix import reference as ref
from rizzlib.kinetix.reward import body_positions

S = EnvConfig.for_size("s")


def drop_level(target_role=Role.BLUE, floor_role=Role.DEFAULT, height=1.0):
    """A green ball falling onto a static ball of ``target_role`` resting on the floor."""
    lb = LevelBuilder(S, floor_role=floor_role)
    lb.add_circle((2.5, 0.3 + height), 0.2, role=Role.GREEN)
    lb.add_circle((2.5, 0.3), 0.3, role=target_role, static=True)
    return lb.build()


def car_level(config=S):
    lb = LevelBuilder(config)
    car = lb.add_box((1.0, 0.3), (0.8, 0.2), role=Role.GREEN)
    w = lb.add_circle((0.8, 0.2), 0.2)
    lb.add_revolute_joint(car, w, (0.8, 0.2), motor_binding=0)
    lb.add_circle((4.5, 0.3), 0.3, role=Role.BLUE, static=True)
    lb.add_thruster(car, (1.0, 0.3), rotation=np.pi / 2, binding=1)
    return lb.build()


def run(env, level, actions, params=None):
    params = EnvParams() if params is None else params
    step = jax.jit(env.step)
    _, st = env.reset(None, level, params)
    out = []
    for t, a in enumerate(actions):
        prev = st
        _, st, r, d, info = step(jax.random.key(t), st, a, params)
        out.append((prev, st, float(r), bool(d), jax.tree.map(np.asarray, info)))
        if d:
            break
    return out


@pytest.mark.parametrize("seed", range(20))
def test_contact_reward_matches_loop(seed):
    rng = np.random.default_rng(seed)
    n = 7
    roles = rng.integers(0, 4, n)
    m = 12
    a = rng.integers(0, n, m)
    b = rng.integers(0, n + 1, m)  # n = padding
    touching = rng.random(m) < 0.4
    r, g, d = contact_reward(jnp.asarray(roles), jnp.asarray(a), jnp.asarray(b), jnp.asarray(touching))
    assert (float(r), bool(g), bool(d)) == ref.contact_reward(roles, a, b, touching)


def test_contact_reward_cases():
    roles = jnp.asarray([0, 1, 2, 3])
    a, b = jnp.asarray([1, 1]), jnp.asarray([2, 3])
    assert float(contact_reward(roles, a, b, jnp.asarray([True, False]))[0]) == 1.0
    assert float(contact_reward(roles, a, b, jnp.asarray([False, True]))[0]) == -1.0
    assert float(contact_reward(roles, a, b, jnp.asarray([True, True]))[0]) == -1.0  # red wins ties
    assert float(contact_reward(roles, a, b, jnp.asarray([False, False]))[0]) == 0.0
    # blue touching red is nothing
    assert float(contact_reward(roles, jnp.asarray([2]), jnp.asarray([3]), jnp.asarray([True]))[0]) == 0.0


@pytest.mark.parametrize("rewards,dones,expect", [
    ([-1.0, 1.0], [True, True], (-1.0, True)),
    ([1.0, -1.0], [True, True], (1.0, True)),
    ([0.0, 1.0], [False, True], (1.0, True)),
    ([0.0, 0.0], [False, False], (0.0, False)),
    ([0.0, -1.0, 1.0], [False, True, True], (-1.0, True)),
])
def test_combine_substeps_first_done_wins(rewards, dones, expect):
    r, d, _ = combine_substeps(jnp.asarray(rewards), jnp.asarray(dones))
    assert (float(r), bool(d)) == expect == ref.combine_substeps(rewards, dones)


@pytest.mark.parametrize("seed", range(5))
def test_distance_matches_loop(seed):
    rng = np.random.default_rng(seed)
    roles, pos = rng.integers(0, 4, 9), rng.normal(size=(9, 2))
    assert float(green_blue_distance(jnp.asarray(roles), jnp.asarray(pos, jnp.float32))) == pytest.approx(
        ref.green_blue_distance(roles, pos), rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("role,expect", [(Role.BLUE, 1.0), (Role.RED, -1.0)])
def test_green_touches_blue_or_red_ends_episode(role, expect):
    env = KinetixEnv(S)
    steps = run(env, drop_level(role), [env.noop_action()] * 100)
    prev, st, r, d, info = steps[-1]
    assert d and len(steps) < 60
    terminal = r - (0.0 if prev.last_distance == -1 else -0.2 * (float(info["distance"]) - float(prev.last_distance)))
    assert terminal == pytest.approx(expect, abs=1e-5)
    assert bool(info["GoalR"]) == (expect > 0) and bool(info["DeathR"]) == (expect < 0)


def test_both_in_one_step_is_death():
    env = KinetixEnv(S)
    lb = LevelBuilder(S, floor_role=Role.RED)
    lb.add_circle((2.5, 0.2), 0.2, role=Role.GREEN)          # resting on the red floor
    lb.add_circle((2.9, 0.2), 0.2, role=Role.BLUE)           # and touching the blue ball
    steps = run(env, lb.build(), [env.noop_action()])
    _, _, r, d, info = steps[0]
    assert d and r == -1.0 and bool(info["DeathR"]) and not bool(info["GoalR"])


def test_env_step_equals_substep_reference():
    """frame_skip=2 env reward == the rule applied by hand to two engine steps."""
    from rizzlib.jax2d import step as engine_step

    env = KinetixEnv(S)
    lv = drop_level(Role.BLUE, height=0.45)
    params = EnvParams()
    _, st = env.reset(None, lv, params)
    roles = np.asarray(lv.roles)
    for _ in range(40):
        act = engine_actions(env.noop_action(), lv, S)
        sim, rs, ds = st.sim, [], []
        for _ in range(2):
            sim = engine_step(sim, params.sim, S.sim, act)
            c = jax.tree.map(np.asarray, sim.contacts)
            r, _, _ = ref.contact_reward(roles, c.body_a, c.body_b, (c.active & (c.separation <= 0.005)).any(-1))
            rs.append(r)
            ds.append(r != 0)
        expect, done = ref.combine_substeps(rs, ds)
        _, new, r, d, _ = env.step(None, st, env.noop_action(), params)
        if not bool(d):
            dist = ref.green_blue_distance(roles, np.asarray(body_positions(new.sim)))
            if float(st.last_distance) != -1:
                expect += -0.2 * (dist - float(st.last_distance))
        assert bool(d) == done
        if done:
            assert float(r) == pytest.approx(expect + float(r) - round(float(r)), abs=1e-6)
            assert round(float(r)) == expect
            break
        assert float(r) == pytest.approx(expect, abs=1e-5)
        st = new
    else:
        pytest.fail("the ball never reached the target")


def test_dense_shaping_is_distance_change_and_sums():
    env = KinetixEnv(S)
    lv = car_level()
    keys = jax.random.split(jax.random.key(0), 40)
    acts = [env.sample_action(k) for k in keys]
    steps = run(env, lv, acts)
    roles = np.asarray(lv.roles)
    d0 = ref.green_blue_distance(roles, np.asarray(body_positions(lv.sim)))
    total = 0.0
    for i, (prev, st, r, d, _) in enumerate(steps):
        if d:
            break
        dist = ref.green_blue_distance(roles, np.asarray(body_positions(st.sim)))
        assert float(st.last_distance) == pytest.approx(dist, abs=1e-4)
        if i == 0:
            assert r == 0.0 and float(prev.last_distance) == -1.0  # no shaping on the first step
        else:
            assert r == pytest.approx(-0.2 * (dist - float(prev.last_distance)), abs=1e-5)
            total += r
    d1 = ref.green_blue_distance(roles, np.asarray(body_positions(steps[0][1].sim)))
    assert total == pytest.approx(0.2 * (d1 - dist), abs=1e-4)
    assert d0 > 0


def test_auto_reset_returns_same_level_and_timeout():
    env = KinetixEnv(S)
    lv = car_level()
    params = EnvParams(max_timesteps=10)
    steps = run(env, lv, [env.noop_action()] * 20, params)
    assert len(steps) == 10
    _, st, _, d, info = steps[-1]
    assert d and bool(info["timeout"]) and not bool(info["GoalR"])
    same = jax.tree.map(lambda a, b: bool(jnp.all(a == b)), st.sim, lv.sim)
    assert all(jax.tree.leaves(same))
    assert int(st.timestep) == 0 and float(st.last_distance) == -1.0


def test_nan_terminates():
    env = KinetixEnv(S)
    lv = car_level()
    _, st = env.reset(None, lv, EnvParams())
    bad = st.replace(sim=st.sim.replace(circle=st.sim.circle.replace(
        velocity=st.sim.circle.velocity.at[0, 0].set(jnp.nan))))
    _, new, r, d, info = env.step(None, bad, env.noop_action(), EnvParams())
    assert bool(d) and bool(info["nan"]) and np.isfinite(float(r))
    assert np.isfinite(np.asarray(new.sim.circle.velocity)).all()


def test_vmap_over_different_levels_equals_single():
    env = KinetixEnv(S)
    levels = [car_level(), drop_level(Role.BLUE)]
    batch = stack_levels(levels)
    params = EnvParams()
    obs, st = jax.vmap(lambda lv: env.reset(None, lv, params))(batch)
    acts = jnp.stack([jnp.asarray([1, 0, 0, 0, 0, 1])] * 2)
    step = jax.jit(jax.vmap(lambda s, a: env.step(None, s, a, params)))
    for _ in range(5):
        obs, st, r, d, _ = step(st, acts)
    for i, lv in enumerate(levels):
        _, s1 = env.reset(None, lv, params)
        for _ in range(5):
            _, s1, r1, _, _ = env.step(None, s1, acts[i], params)
        np.testing.assert_allclose(np.asarray(st.sim.polygon.position[i]), np.asarray(s1.sim.polygon.position), atol=1e-5)
        assert float(r[i]) == pytest.approx(float(r1), abs=1e-5)


@pytest.mark.parametrize("size", ["s", "m", "l"])
def test_observation_shapes_and_flat_formula(size):
    cfg = EnvConfig.for_size(size)
    s = cfg.sim
    n = s.num_bodies
    lb = LevelBuilder(cfg)
    lb.add_circle((2.5, 1.0), 0.2, role=Role.GREEN)
    lv = lb.build()
    obs, _ = KinetixEnv(cfg).reset(None, lv)
    assert obs.polygons.shape == (s.num_polygons, 27) and obs.circles.shape == (s.num_circles, 19)
    assert obs.joints.shape == (2 * s.num_joints, 22) and obs.thrusters.shape == (s.num_thrusters, 8)
    assert obs.attention_mask.shape == (4, n, n)
    flat = (s.num_polygons - 3) * 26 + s.num_circles * 18 + s.num_joints * (22 + 2 * n) + s.num_thrusters * (8 + n) + 1
    assert flat_size(cfg) == flat
    fo, _ = KinetixEnv(EnvConfig.for_size(size, observation="symbolic_flat")).reset(None, lv)
    assert fo.shape == (flat,)
    po, _ = KinetixEnv(EnvConfig.for_size(size, observation="pixels", pixel_size=32)).reset(None, lv)
    assert po.shape == (32, 32, 3) and float(po.min()) >= 0 and float(po.max()) <= 1


def test_entity_features_and_masks():
    env = KinetixEnv(S)
    lv = car_level()
    obs, st = env.reset(None, lv)
    # polygon 4 = green car: role one-hot at 8:12, vertices of a 0.8 x 0.2 box, no triangle flag
    row = np.asarray(obs.polygons[4])
    np.testing.assert_allclose(row[:2], [1.0, 0.3], atol=1e-6)
    assert row[8:12].tolist() == [0, 1, 0, 0] and row[16] == 0 and row[25] == 0
    np.testing.assert_allclose(sorted(np.abs(row[17:25])), sorted([0.4, 0.1] * 4), atol=1e-6)
    assert row[26] == pytest.approx(-0.981)
    circ = np.asarray(obs.circles[1])  # blue ball: radius then is-circle
    assert circ[16] == pytest.approx(0.3) and circ[17] == 1.0 and circ[8:12].tolist() == [0, 0, 1, 0]
    m = np.asarray(obs.attention_mask)
    car, wheel = 4, 5
    assert m[0].all()  # every shape is active
    assert m[2, car, wheel] and m[2, wheel, car] and m[2].sum() == 2  # one joint, two directions
    assert m[1, car, wheel] and not m[1, car, 6]
    jr = np.asarray(obs.joints)
    assert jr[:, 0].tolist() == [1, 1] and np.asarray(obs.joint_indexes).tolist() == [[wheel, car], [car, wheel]]
    assert jr[0, 8:12].tolist() == [1.0, 1.0, 1.0, 0.0] and jr[0, 12:16].tolist() == [1, 0, 0, 0]
    th = np.asarray(obs.thrusters[0])
    assert th[0] == 1 and th[3:5].tolist() == [0, 1] and int(obs.thruster_indexes[0]) == car
    # inactive slots give zero rows
    lb = LevelBuilder(S)
    lb.add_circle((2.5, 1.0), 0.2, role=Role.GREEN)
    o2, _ = env.reset(None, lb.build())
    assert not np.asarray(o2.circles[1]).any() and not np.asarray(o2.polygons[4]).any()
    assert not np.asarray(o2.attention_mask[:, 4]).any()


def test_contact_mask_after_landing():
    env = KinetixEnv(S)
    steps = run(env, drop_level(Role.DEFAULT, height=0.0), [env.noop_action()] * 3)
    obs = env.observe(steps[-1][1])
    m = np.asarray(obs.attention_mask[3])
    assert m[5, 6] and m[6, 5]  # green ball rests on the other ball


def test_action_conversions():
    md = EnvConfig.for_size("s")
    assert channels(jnp.asarray([1, 2, 0, 1, 1, 0]), md).tolist() == [1, -1, 0, 1, 1, 0]
    cont = EnvConfig.for_size("s", action="continuous")
    np.testing.assert_allclose(channels(jnp.asarray([2.0, -0.5, 0, 0, -1, 0.3]), cont), [1, -0.5, 0, 0, 0, 0.3])
    disc = EnvConfig.for_size("s", action="discrete")
    table = np.stack([np.asarray(channels(jnp.asarray(a), disc)) for a in range(11)])
    expect = np.zeros((11, 6))
    for k in range(4):
        expect[2 * k, k], expect[2 * k + 1, k] = -1, 1
    expect[9, 4] = expect[10, 5] = 1
    np.testing.assert_array_equal(table, expect)
    lv = car_level()
    np.testing.assert_array_equal(engine_actions(jnp.asarray([2, 0, 0, 0, 0, 1]), lv, md), [-1, 1])
    auto = lv.replace(motor_auto=jnp.asarray([True]))
    np.testing.assert_array_equal(engine_actions(jnp.asarray([0, 0, 0, 0, 0, 0]), auto, md), [1, 0])


def test_sampled_actions_in_range():
    for kind in ("multi_discrete", "discrete", "continuous"):
        env = KinetixEnv(EnvConfig.for_size("s", action=kind))
        a = jax.vmap(env.sample_action)(jax.random.split(jax.random.key(0), 500))
        if kind == "multi_discrete":
            assert a.min() == 0 and a[:, :4].max() == 2 and a[:, 4:].max() == 1
        elif kind == "discrete":
            assert a.min() == 0 and a.max() == 10
        else:
            assert a.min() >= -1 and a.max() <= 1 and a[:, 4:].min() >= 0


def test_bad_input_names_the_field():
    with pytest.raises(ValueError, match="role"):
        LevelBuilder(S).add_circle((1, 1), 0.2, role=7)
    with pytest.raises(ValueError, match="motor_binding"):
        lb = LevelBuilder(S)
        a = lb.add_box((1, 1), (0.4, 0.2))
        b = lb.add_circle((1, 1), 0.1)
        lb.add_revolute_joint(a, b, (1, 1), motor_binding=4)
    with pytest.raises(ValueError, match="binding"):
        lb = LevelBuilder(S)
        a = lb.add_box((1, 1), (0.4, 0.2))
        lb.add_thruster(a, (1, 1), binding=2)
    with pytest.raises(ValueError, match="num_polygons"):
        lb = LevelBuilder(S)
        lb.add_box((1, 1), (0.4, 0.2))
        lb.add_box((2, 1), (0.4, 0.2))
    with pytest.raises(ValueError, match="observation"):
        EnvConfig(observation="rgb")
    with pytest.raises(ValueError, match="action"):
        EnvConfig(action="box")
    lv = car_level()
    with pytest.raises(ValueError, match="does not fit"):
        validate_level(lv, EnvConfig.for_size("m"))
    with pytest.raises(ValueError, match="polygon_role"):
        validate_level(lv.replace(polygon_role=lv.polygon_role.at[4].set(5)), S)
    with pytest.raises(ValueError, match="motor_binding"):
        validate_level(lv.replace(motor_binding=jnp.asarray([6])), S)
    with pytest.raises(ValueError, match="object_index"):
        bad = lv.sim.thruster.replace(object_index=jnp.asarray([6]))
        lb = LevelBuilder(S)
        lb.add_circle((1, 1), 0.1)
        small = lb.build()
        validate_level(small.replace(sim=small.sim.replace(thruster=bad.replace(active=jnp.asarray([True])))), S)


def _step_observing_both(env, key, state, action, params):
    """The earlier ``KinetixEnv.step``: observe the stepped state and the reset state, then pick."""
    obs_st, st, r, d, info = env.step_env(state, action, params)
    obs_re, st_re = env.reset(key, state.level, params)
    pick = lambda a, b: jax.tree.map(lambda x, y: jnp.where(d, x, y), a, b)  # noqa: E731
    return pick(obs_re, obs_st), pick(st_re, st), r, d, info


@pytest.mark.parametrize("observation", ["symbolic_entity", pytest.param("symbolic_flat", marks=pytest.mark.slow),
                                         pytest.param("pixels", marks=pytest.mark.slow)])
def test_step_observes_once_and_equals_observing_both(observation):
    """Picking the next state first and observing it once gives bit-identical observations, states,
    rewards and dones to observing both candidates and picking, over random actions with many resets
    (a short episode limit, green-touches-blue and green-touches-red levels among random S levels)."""
    from rizzlib.kinetix.generate import sample_levels

    cfg = EnvConfig.for_size("s", observation=observation, pixel_size=24)
    env = KinetixEnv(cfg)
    params = EnvParams(max_timesteps=7)
    levels = [car_level(cfg), drop_level(Role.BLUE, height=0.3), drop_level(Role.RED, height=0.3)]
    rand = sample_levels(cfg, 5, seed=3, noop_filter=False)
    batch = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), stack_levels(levels), rand)
    n = int(batch.polygon_role.shape[0])
    obs, st = jax.vmap(lambda lv: env.reset(None, lv, params))(batch)

    @jax.jit
    def both(key, st):  # one compile for both (the engine code is shared)
        ka, ks = jax.random.split(key)
        acts = jax.vmap(env.sample_action)(jax.random.split(ka, n))
        keys = jax.random.split(ks, n)
        new = jax.vmap(lambda k, s, a: env.step(k, s, a, params))(keys, st, acts)
        old = jax.vmap(lambda k, s, a: _step_observing_both(env, k, s, a, params))(keys, st, acts)
        return new, old

    resets = 0
    for t in range(40):
        new, old = both(jax.random.key(t), st)
        same = jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b, equal_nan=True)), new, old)
        assert all(jax.tree.leaves(same)), f"step {t}: {same}"
        st = new[1]
        resets += int(new[3].sum())
    assert resets >= 3 * n  # every env reset several times (the limit is 7 steps)
