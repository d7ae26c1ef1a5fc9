"""The planning oracle (grid value iteration on the exact point-mass dynamics), the grid-world
successor measure and the rollout frames."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rizzlib.fbcpr import env, oracle, render, tabular, tasks


def _affine_values(grid, coef):
    mesh = np.stack(np.meshgrid(grid.pos, grid.pos, grid.vel, grid.vel, indexing="ij"), -1)
    return jnp.asarray(mesh @ coef, jnp.float32)


def test_interpolation_reproduces_affine_functions_away_from_the_walls():
    grid = oracle.make_grid(6, 5)
    rng = np.random.default_rng(0)
    coef = rng.normal(size=4)
    v = _affine_values(grid, coef)
    s = rng.uniform(-1, 1, (500, 4)).astype(np.float32)
    s[:, :2] = np.where(np.abs(s[:, :2]) < env.WALL_EPS, 0.5, s[:, :2])
    interp = jax.jit(lambda values, states: oracle.interpolate(values, states, grid))
    got = np.asarray(interp(v, jnp.asarray(s)))
    np.testing.assert_allclose(got, s @ coef, atol=1e-4)
    vertices = np.stack(np.meshgrid(grid.pos, grid.pos, grid.vel, grid.vel, indexing="ij"), -1).reshape(-1, 4)
    np.testing.assert_allclose(np.asarray(interp(v, jnp.asarray(vertices, jnp.float32))),
                               np.asarray(v).ravel(), atol=1e-5)


def test_interpolation_never_mixes_the_two_sides_of_a_wall():
    grid = oracle.make_grid(5, 3)
    east = (grid.pos >= 0).astype(np.float32)
    v = jnp.asarray(np.broadcast_to(east[:, None, None, None], grid.shape))
    s = jnp.asarray([[-env.WALL_EPS, 0.3, 0.2, 0.0], [env.WALL_EPS, 0.3, 0.2, 0.0], [-0.01, -0.7, 0, 0],
                     [0.01, -0.7, 0, 0]], jnp.float32)
    np.testing.assert_array_equal(np.asarray(jax.jit(lambda x: oracle.interpolate(v, x, grid))(s)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="n_pos"):
        oracle.make_grid(1, 5)
    with pytest.raises(ValueError, match="task"):
        oracle.value_iteration("reach-room-9", grid)
    with pytest.raises(ValueError, match="gamma"):
        oracle.value_iteration("reach-room-1", grid, gamma=1.0)


@pytest.mark.slow
def test_planner_solves_the_far_room_td3_missed():
    """From room 1, the planner reaches room 3 (TD3's 15k-update run scored 0) and stays there:
    return > 150 of 200 on every start; on a coarse grid, ~1 min."""
    starts = tasks.sample_starts(jax.random.key(123), 8, "fixed")
    grid = oracle.make_grid(10, 7)
    v = oracle.value_iteration("reach-room-3", grid, 0.99, 150)
    obs, rew = oracle.oracle_rollout(v, grid, "reach-room-3", starts, 200)
    assert obs.shape == (8, 201, 4) and rew.shape == (8, 200)
    assert float(rew.sum(1).min()) > 150
    assert np.all(np.abs(np.asarray(obs)[..., :2]) <= 1.0)


def test_gridworld_and_successor_measure_bellman():
    p, free = tabular.gridworld(4, slip=0.2, walls=[(1, 1)])
    assert p.shape == (64, 16) and np.allclose(p.sum(1), 1.0) and free.sum() == 15
    others = np.arange(64) // 4 != 1 * 4 + 1
    assert p[others, 1 * 4 + 1].sum() == 0.0  # no other state moves into the wall cell (x=1, y=1)
    rng = np.random.default_rng(0)
    big_pi = tabular.policy_matrix(rng.dirichlet(np.ones(4), size=16))
    m = tabular.successor_measure(p, big_pi, 0.8)
    np.testing.assert_allclose(m, p + 0.8 * p @ big_pi @ m, atol=1e-10)  # M = P + γ P Π M
    np.testing.assert_allclose(m.sum(1), 1 / (1 - 0.8), rtol=1e-10)  # total discounted mass
    with pytest.raises(ValueError, match="slip"):
        tabular.gridworld(4, slip=1.0)


@pytest.mark.parametrize("size,slip", [(3, 0.0), (5, 0.1), (4, 0.3)])
def test_gridworld_actions_move_east_north_west_south(size, slip):
    """Action a of cell (x, y) (index x·size + y) lands on the neighbour its name says, with prob
    1 − slip, for every cell; at the border it stays (x is east, y is north, as the notebook draws)."""
    p, _ = tabular.gridworld(size, slip=slip)
    names = {0: (1, 0), 1: (0, 1), 2: (-1, 0), 3: (0, -1)}  # E, N, W, S
    for x in range(size):
        for y in range(size):
            s = x * size + y
            for a, (dx, dy) in names.items():
                nx, ny = x + dx, y + dy
                want = np.zeros(size * size)
                want[s] += slip
                inside = 0 <= nx < size and 0 <= ny < size
                want[nx * size + ny if inside else s] += 1.0 - slip
                np.testing.assert_allclose(p[s * 4 + a], want, atol=1e-12, err_msg=f"cell {(x, y)} action {a}")


@pytest.mark.slow
def test_fit_fb_on_the_grid_reaches_the_closed_form():
    p, _ = tabular.gridworld(3, slip=0.1)
    n = p.shape[1]
    pi = np.ones((n, 4))
    pi[:, 0] = 3.0
    big_pi = tabular.policy_matrix(pi / pi.sum(1, keepdims=True))
    mu = np.full(n * 4, 1 / (n * 4))
    rho = mu @ p
    f, b = tabular.fit_fb(p, big_pi, mu, 0.9, d=n, steps=10_000, batch=256)
    assert np.abs(f @ b.T * rho[None] - tabular.successor_measure(p, big_pi, 0.9)).max() < 0.1


def test_rollout_frames_shape_and_errors():
    t = np.linspace(-0.5, 0.5, 11)
    path = np.stack([t, t], 1)
    frames = render.rollout_frames([path, path], ["a", "b"], targets=[None, path], every=4, size_in=1.5)
    assert frames.dtype == np.uint8 and frames.ndim == 4 and frames.shape[0] == 4 and frames.shape[-1] == 3
    assert not np.all(frames[0] == frames[-1])  # the trail moves
    short = render.rollout_frames([path, path[:5]], ["a", "b"], every=4, size_in=1.5)  # holds its last point
    assert short.shape == frames.shape
    with pytest.raises(ValueError, match="one title each"):
        render.rollout_frames([path, path], ["a"])


def test_goal_reward_peaks_at_the_goal():
    r = oracle.goal_reward(np.array([0.3, -0.2, 0.5, 0.5]), sigma=0.1)
    s = jnp.array([[0.3, -0.2, 0.0, 0.0], [0.4, -0.2, 0.9, 0.0], [-0.7, 0.8, 0.0, 0.0]])
    v = np.asarray(r(s))
    assert v[0] == pytest.approx(1.0) and v[1] == pytest.approx(np.exp(-0.5), rel=1e-5) and v[2] < 1e-10
    with pytest.raises(ValueError, match="sigma"):
        oracle.goal_reward(np.zeros(4), sigma=0.0)
    with pytest.raises(ValueError, match=r"goals must be a non-empty \(G, 4\)"):
        oracle.goal_oracle(np.zeros((2, 2)), np.zeros((1, 4)))


def test_goal_oracle_reaches_a_goal_and_scores_it_with_the_suite_metrics():
    """From four starts in room 1 the planner reaches a goal in room 1 and one through a doorway in
    room 2; a goal it is scored against is met, so success is 1 and proximity well above 0."""
    starts = jnp.array([[-0.8, -0.8, 0, 0], [-0.2, -0.7, 0, 0], [-0.5, -0.2, 0, 0], [-0.3, -0.4, 0.5, 0]])
    goals = tasks.goal_states()[[0, 3]]  # room 1's and room 2's centres
    ev = oracle.goal_oracle(goals, starts, horizon=120, grid=oracle.make_grid(12, 9), iters=120)
    assert ev["per_goal"].shape == (2, 3)
    assert ev["per_goal"][0, 0] == 1.0 and ev["per_goal"][1, 0] == 1.0
    assert ev["proximity"] > 0.5 and ev["final_dist"] < 0.1


# ------------------------------------------------------------------ tracking specialist (top-line)


def _vertices(grid):
    return np.stack(np.meshgrid(grid.pos, grid.pos, grid.vel, grid.vel, indexing="ij"), -1).reshape(-1, 4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tracking_values_one_step_is_the_best_of_every_action(seed):
    """T = 1: V_0 at each vertex is the best −distance to the target over the 9 grid actions,
    each stepped with the exact dynamics (brute force, one state at a time); V_1 = 0."""
    grid = oracle.make_grid(4, 3)
    target = np.random.default_rng(seed).uniform(-1, 1, (1, 2)).astype(np.float32)
    vs = np.asarray(oracle.tracking_values(target, grid))
    assert vs.shape == (2, *grid.shape) and np.all(vs[1] == 0)
    mesh = jnp.asarray(_vertices(grid), jnp.float32)
    dist = [np.linalg.norm(np.asarray(env.step_batch(mesh, jnp.broadcast_to(jnp.array([ax, ay]), mesh.shape[:1] + (2,))))
                           [:, :2] - target[0], axis=-1) for ax in (-1.0, 0.0, 1.0) for ay in (-1.0, 0.0, 1.0)]
    np.testing.assert_allclose(vs[0].ravel(), -np.min(dist, axis=0), atol=1e-5)


def test_tracking_values_satisfy_the_backward_recursion():
    """Every V_t is the max over actions of r_t(s') + V_{t+1}(s'), V_{t+1} interpolated, checked
    stage by stage from V_T = 0 with a separately written loop; every value is <= 0 (so is each
    reward)."""
    grid = oracle.make_grid(4, 3)
    targets = np.random.default_rng(3).uniform(-0.9, 0.9, (4, 2)).astype(np.float32)
    vs = np.asarray(oracle.tracking_values(targets, grid))
    mesh = jnp.asarray(_vertices(grid), jnp.float32)
    interp = jax.jit(lambda values, states: oracle.interpolate(values, states, grid))
    for t in range(4):
        best = np.full(mesh.shape[0], -np.inf)
        for ax in (-1.0, 0.0, 1.0):
            for ay in (-1.0, 0.0, 1.0):
                nxt = env.step_batch(mesh, jnp.broadcast_to(jnp.array([ax, ay]), (mesh.shape[0], 2)))
                q = -np.linalg.norm(np.asarray(nxt)[:, :2] - targets[t], axis=-1) + np.asarray(interp(vs[t + 1], nxt))
                best = np.maximum(best, q)
        np.testing.assert_allclose(vs[t].ravel(), best, atol=1e-4, err_msg=f"stage {t}")
    assert np.all(vs <= 0)


def test_tracking_specialist_follows_a_held_out_motion_far_better_than_fbcpr():
    """The specialist planned for one held-out motion tracks it close to the data (every step
    within the suite's 0.1, mean error < 0.05) and with an EMD under half of a shipped FB-CPR
    checkpoint's on that same motion (first 60 steps, coarse grid: a few seconds)."""
    from rizzlib.fbcpr import checkpoint, evaluate
    from rizzlib.fbcpr.agent import make_agent
    from rizzlib.fbcpr.dataset import make_dataset

    ckpt = oracle.__file__.rsplit("/", 1)[0] + "/checkpoints/fbcpr_cpu_seed0.safetensors"
    params, cfg, _, _ = checkpoint.load(ckpt)
    _, test = make_dataset(cfg.n_motions, cfg.motion_len, seed=0).split(cfg.test_fraction, seed=0)
    motion = test.observations[0, :61]
    ev = oracle.tracking_oracle(motion[None], grid=oracle.make_grid(10, 7))
    ours = evaluate.evaluate_tracking(make_agent(cfg), params, motion[None])
    assert ev["states"].shape == (1, 61, 4) and ev["per_motion"].shape == (1, 3)
    np.testing.assert_allclose(ev["states"][0, 0], motion[0])
    assert ev["success"] == 1.0 and ev["error"] < 0.05
    assert ev["emd"] < 0.5 * ours["emd"], (ev["emd"], ours["emd"])
    assert np.all(np.abs(ev["states"][..., :2]) <= 1.0)


def test_tracking_specialist_rejects_bad_motions():
    grid = oracle.make_grid(3, 3)
    with pytest.raises(ValueError, match="motion must be a"):
        oracle.track_motion(np.zeros((1, 4)), grid)
    with pytest.raises(ValueError, match="motion must be a"):
        oracle.track_motion(np.zeros((5, 6)), grid)
    with pytest.raises(ValueError, match="targets must be a non-empty"):
        oracle.tracking_values(np.zeros((0, 2)), grid)
    with pytest.raises(ValueError, match="n_act"):
        oracle.track_motion(np.zeros((5, 4)), grid, n_act=1)
    with pytest.raises(ValueError, match="observations only"):
        oracle.tracking_oracle({"observations": np.zeros((1, 5, 4)), "actions": np.zeros((1, 4, 2))}, grid)
    with pytest.raises(ValueError, match="empty"):
        oracle.tracking_oracle(np.zeros((0, 5, 4)), grid)


def test_tracking_oracle_resumes_from_rows_already_done():
    """Rows passed as ``done`` are kept and not planned again; the rest are planned, reported one
    by one through ``on_motion``, and give the same rows as a run from scratch."""
    from rizzlib.fbcpr.dataset import make_dataset

    motions = make_dataset(12, 20, seed=0).observations[:3]
    grid = oracle.make_grid(4, 3)
    full = oracle.tracking_oracle(motions, grid)
    seen = []
    resumed = oracle.tracking_oracle(motions, grid, done=full["per_motion"][:1],
                                     on_motion=lambda i, row: seen.append((i, row)))
    assert [i for i, _ in seen] == [1, 2] and resumed["states"].shape == (2, 21, 4)
    np.testing.assert_allclose(resumed["per_motion"], full["per_motion"], atol=1e-6)
    assert resumed["emd"] == pytest.approx(full["emd"])
    with pytest.raises(ValueError, match="done must hold"):
        oracle.tracking_oracle(motions, grid, done=np.zeros((4, 3)))
