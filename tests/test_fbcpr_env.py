"""Four-room point mass: dynamics, walls never crossed, start regimes, dataset, task metrics."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rizzlib.fbcpr import dataset, env, tasks

_step = jax.jit(env.step)


def _legal_leg(p_old, p_new, other):
    """Independent wall check of one axis leg: crossing 0 only inside a doorway, staying in [-1, 1]."""
    if abs(p_new) > 1.0:
        return False
    if (p_old >= 0) != (p_new >= 0):
        return 0.4 <= abs(other) <= 0.6
    return True


# XLA flushes subnormals to zero on CPU, so a start at x = -1e-40 would read as x = 0: excluded.
coord = st.floats(-1.0, 1.0, allow_nan=False, width=32, allow_subnormal=False)
vel = st.floats(-1.0, 1.0, allow_nan=False, width=32, allow_subnormal=False)


@settings(max_examples=300, deadline=None)
@given(x=coord, y=coord, vx=vel, vy=vel, actions=st.lists(st.tuples(vel, vel), min_size=1, max_size=30))
def test_walls_never_crossed(x, y, vx, vy, actions):
    s = jnp.array([x, y, vx, vy], jnp.float32)
    for a in actions:
        s2 = _step(s, jnp.array(a, jnp.float32))
        s_np, s2_np = np.asarray(s, np.float64), np.asarray(s2, np.float64)
        assert _legal_leg(s_np[0], s2_np[0], s_np[1]), (s_np, a, s2_np)  # x leg at the old y
        assert _legal_leg(s_np[1], s2_np[1], s2_np[0]), (s_np, a, s2_np)  # y leg at the new x
        assert np.all(np.abs(s2_np[2:]) <= 1.0 + 1e-6)
        s = s2


def test_free_motion_matches_formula():
    s = jnp.array([-0.5, -0.5, 0.2, -0.1])
    a = jnp.array([0.5, 1.0])
    s2 = np.asarray(env.step(s, a))
    v = 0.9 * np.array([0.2, -0.1]) + 0.1 * np.array([0.5, 1.0])
    np.testing.assert_allclose(s2, np.r_[np.array([-0.5, -0.5]) + 0.1 * v, v], atol=1e-6)


def test_blocked_leg_stops_before_wall_and_zeroes_normal_velocity():
    s = jnp.array([-0.02, -0.9, 1.0, 0.3])  # y = -0.9 is solid on the x = 0 wall
    s2 = np.asarray(env.step(s, jnp.array([1.0, 0.0])))
    assert s2[0] == pytest.approx(-env.WALL_EPS) and s2[2] == 0.0 and s2[3] != 0.0
    s = jnp.array([-0.02, -0.5, 1.0, 0.0])  # through the doorway of the south arm
    assert float(env.step(s, jnp.array([1.0, 0.0]))[0]) > 0
    s = jnp.array([0.95, 0.2, 1.0, 0.0])  # outer wall
    s2 = np.asarray(env.step(s, jnp.array([1.0, 0.0])))
    assert s2[0] == 1.0 and s2[2] == 0.0


def test_batch_step_equals_single_step():
    key = jax.random.key(0)
    s = jnp.concatenate([jax.random.uniform(key, (64, 2), minval=-1, maxval=1), jnp.zeros((64, 2))], 1)
    a = jax.random.uniform(jax.random.key(1), (64, 2), minval=-1, maxval=1)
    np.testing.assert_array_equal(env.step_batch(s, a), jnp.stack([env.step(s[i], a[i]) for i in range(64)]))


def test_room_of():
    pts = jnp.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5], [0.0, 0.0]])
    np.testing.assert_array_equal(env.room_of(pts), [1, 2, 3, 4, 3])


def test_state_and_action_validation():
    with pytest.raises(ValueError, match="shape"):
        env.check_state("state", np.zeros((3, 5)))
    with pytest.raises(ValueError, match="arena"):
        env.check_state("state", np.array([1.5, 0, 0, 0]))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        env.check_action("action", np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match="last dimension 2"):
        env.check_action("action", np.zeros((4, 3)))


@pytest.fixture(scope="module")
def motions():
    return dataset.make_dataset(40, 60, seed=3)


def test_dataset_shapes_kinds_and_feasibility(motions):
    assert motions.observations.shape == (40, 61, 4)
    assert set(motions.kinds.tolist()) == set(range(len(dataset.KINDS)))
    # every motion is a real trajectory of the dynamics under its (debug) actions
    obs, acts = jnp.asarray(motions.observations), jnp.asarray(motions.debug_actions)
    replay = env.rollout(obs[:, 0], jnp.swapaxes(acts, 0, 1))
    np.testing.assert_allclose(np.swapaxes(np.asarray(replay), 0, 1), motions.observations, atol=1e-5)
    assert np.abs(motions.debug_actions).max() <= 1.0


def test_dataset_is_seeded(motions):
    again = dataset.make_dataset(40, 60, seed=3)
    np.testing.assert_array_equal(again.observations, motions.observations)
    other = dataset.make_dataset(40, 60, seed=4)
    assert not np.array_equal(other.observations, motions.observations)


def test_corridor_motions_change_rooms(motions):
    corridor = motions.observations[motions.kinds == dataset.KINDS.index("corridor")]
    rooms = np.asarray(env.room_of(jnp.asarray(corridor[..., :2])))
    assert all(len(set(r.tolist())) >= 2 for r in rooms)


def test_split_and_bad_datasets(motions):
    train, test = motions.split(0.2, seed=0)
    assert train.n_motions + test.n_motions == 40 and test.n_motions == 8
    assert not set(map(bytes, train.observations)) & set(map(bytes, test.observations))
    with pytest.raises(ValueError, match="empty"):
        dataset.check_observation_dataset("motions", np.zeros((0, 10, 4)))
    with pytest.raises(ValueError, match="actions"):
        dataset.check_observation_dataset("motions", {"observations": motions.observations, "actions": 1})
    with pytest.raises(ValueError, match="actions were appended"):
        dataset.check_observation_dataset("motions", np.zeros((3, 10, 6)))
    with pytest.raises(ValueError, match="test_fraction"):
        motions.split(1.0)


def test_segments_stay_inside_one_motion(motions):
    obs = jnp.asarray(motions.observations)
    segs = np.asarray(dataset.sample_segments(jax.random.key(0), obs, 500, 8))
    assert segs.shape == (500, 9, 4)
    flat = {bytes(row): (m, t) for m in range(40) for t, row in enumerate(motions.observations[m])}
    for seg in segs:
        where = [flat[bytes(row)] for row in seg]
        assert len({m for m, _ in where}) == 1
        ts = [t for _, t in where]
        assert ts == list(range(ts[0], ts[0] + 9))
    with pytest.raises(ValueError, match="seq_len"):
        dataset.sample_segments(jax.random.key(0), obs, 4, 61)


def test_start_regimes(motions):
    key = jax.random.key(0)
    fixed = np.asarray(tasks.sample_starts(key, 500, "fixed"))
    assert np.all(np.asarray(env.room_of(jnp.asarray(fixed[:, :2]))) == 1) and np.all(fixed[:, 2:] == 0)
    data = np.asarray(tasks.sample_starts(key, 4000, "data", jnp.asarray(motions.observations)))
    flat = {bytes(r) for r in motions.observations.reshape(-1, 4)}
    share = np.mean([bytes(r) in flat for r in data])
    assert 0.76 < share < 0.84
    assert len(set(np.asarray(env.room_of(jnp.asarray(data[:, :2]))).tolist())) == 4
    with pytest.raises(ValueError, match="init"):
        tasks.sample_starts(key, 4, "random")
    with pytest.raises(ValueError, match="data_obs"):
        tasks.sample_starts(key, 4, "data")


def test_rewards_in_unit_interval_and_meaningful():
    s = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (2000, 4)), jnp.float32)
    for task in tasks.REWARD_TASKS:
        r = np.asarray(tasks.reward_fn(task)(s))
        assert r.shape == (2000,) and r.min() >= 0 and r.max() <= 1
    assert float(tasks.reward_fn("move-E")(jnp.array([0.0, 0.0, 0.5, 0.0]))) == 1.0
    assert float(tasks.reward_fn("move-W")(jnp.array([0.0, 0.0, 0.5, 0.0]))) == 0.0
    assert float(tasks.reward_fn("reach-room-3")(jnp.array([0.5, 0.5, 0.0, 0.0]))) == 1.0
    assert float(tasks.reward_fn("stay-centre-room-3")(jnp.array([0.5, 0.5, 0.0, 0.0]))) == 1.0
    ccw = jnp.array([0.7, -0.5, 0.0, 0.3])  # right of room 2's centre, moving up = counter-clockwise
    assert float(tasks.reward_fn("circle-ccw-room-2")(ccw)) == pytest.approx(1.0)
    assert float(tasks.reward_fn("circle-ccw-room-2")(ccw.at[3].set(-0.3))) == 0.0
    with pytest.raises(ValueError, match="task"):
        tasks.reward_fn("fly")


def test_goal_suite():
    g = tasks.goal_positions()
    assert g.shape == (12, 2)
    np.testing.assert_array_equal(np.asarray(env.room_of(jnp.asarray(g))), np.repeat([1, 2, 3, 4], 3))
    path = np.array([[0.0, 0.0], [0.0, 0.07], [0.0, 0.2]])
    m = tasks.goal_metrics(path, np.array([0.0, 0.1]))
    assert m["success"] == 1.0 and m["final_dist"] == pytest.approx(0.1)
    assert m["proximity"] == pytest.approx((0.0 + 1.0 + 0.0) / 3)
    assert tasks.goal_metrics(path, np.array([0.5, 0.5]))["success"] == 0.0


def test_goal_metrics_on_chosen_dims_with_bound_and_margin():
    """HumEnv's metrics on any dims: d = (3, 1, 2, 0.5) on dims 1..2, bound 1, margin 2 gives
    proximity (0 + 1 + 0.5 + 1) / 4, success (d < 1 at t = 3) and final distance 0.5."""
    t = np.array([3.0, 1.0, 2.0, 0.5])
    obs = np.zeros((4, 5))
    obs[:, 1], obs[:, 4] = 0.6 * t, 9.0  # dim 4 differs from the goal but is not measured
    obs[:, 2] = 0.8 * t
    m = tasks.goal_metrics(obs, np.zeros(5), dims=slice(1, 3), bound=1.0, margin=2.0)
    assert m == pytest.approx({"success": 1.0, "proximity": 2.5 / 4, "final_dist": 0.5})
    assert tasks.goal_metrics(obs[:3], np.zeros(5), dims=slice(1, 3), bound=1.0, margin=2.0)["success"] == 0.0
    with pytest.raises(ValueError, match="bound"):
        tasks.goal_metrics(obs, np.zeros(5), bound=0.0)
    with pytest.raises(ValueError, match="margin"):
        tasks.goal_metrics(obs, np.zeros(5), margin=-1.0)
    with pytest.raises(ValueError, match="goal"):
        tasks.goal_metrics(obs, np.zeros(2))
    with pytest.raises(ValueError, match="non-empty"):
        tasks.goal_metrics(np.zeros((0, 5)), np.zeros(5))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6])
def test_emd_equals_brute_force_assignment(n):
    rng = np.random.default_rng(n)
    for _ in range(10):
        x, y = rng.normal(size=(n, 2)), rng.normal(size=(n, 2))
        brute = min(np.mean([np.linalg.norm(x[i] - y[p[i]]) for i in range(n)])
                    for p in itertools.permutations(range(n)))
        assert tasks.emd(x, y) == pytest.approx(brute, abs=1e-12)


def test_emd_and_tracking_metrics_properties():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 2))
    assert tasks.emd(x, x[rng.permutation(20)]) == pytest.approx(0.0)
    assert tasks.emd(x, x + [0.3, 0.4]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="same shape"):
        tasks.emd(x, x[:5])
    m = tasks.tracking_metrics(x, x + [0.03, 0.04])
    assert m["error"] == pytest.approx(0.05) and m["success"] == 1.0
    assert tasks.tracking_metrics(x, x + [0.3, 0.4])["success"] == 0.0


def test_dataset_likeness(motions):
    states = motions.observations[:3, :10][None].reshape(1, 30, 4)
    m = tasks.dataset_likeness(states, np.zeros((1, 30, 2)), motions.observations)
    assert m["knn"] == 0.0 and m["smoothness"] == 0.0
    far = states + np.array([0, 0, 5.0, 0])
    assert tasks.dataset_likeness(far, np.ones((1, 30, 2)), motions.observations)["knn"] > 3.0


def test_control_style_counts_full_force_and_standing_still(motions):
    # hand-made: 4 steps, two at full force (one per axis), one of them stationary
    actions = np.array([[1.0, 0.0], [0.3, -0.99], [0.5, 0.5], [-0.2, 0.1]])
    states = np.array([[0, 0, 0.0, 0.0], [0, 0, 0.5, 0], [0, 0, 0.01, 0.01], [0, 0, 0.0, -0.3]])
    style = tasks.control_style(states, actions)
    assert style == {"saturated": 0.5, "still": 0.5}
    assert tasks.control_style(states, actions, saturated=0.995)["saturated"] == 0.25
    assert tasks.control_style(states, actions, still=0.5)["still"] == 0.75  # speed 0.5 is not below 0.5
    assert tasks.control_style(states, actions, still=0.6)["still"] == 1.0
    # a policy pinned at full force against a wall is saturated and still at every step
    s = np.zeros((3, 200, 4))
    assert tasks.control_style(s, np.ones((3, 200, 2))) == {"saturated": 1.0, "still": 1.0}
    # the scripted dataset is neither (its controller rarely uses full force)
    data = tasks.control_style(motions.observations[:, 1:], motions.debug_actions)
    assert data["saturated"] < 0.5 and data["still"] < 0.5
    with pytest.raises(ValueError, match="saturated"):
        tasks.control_style(states, actions, saturated=1.0)
    with pytest.raises(ValueError, match="still"):
        tasks.control_style(states, actions, still=0.0)
    with pytest.raises(ValueError, match=r"states must be a non-empty \(\.\.\., 4\) array"):
        tasks.control_style(states[:, :2], actions)
