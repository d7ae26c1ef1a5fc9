"""A planning oracle for the point mass: value iteration on a grid over the exact dynamics.

The per-task TD3 oracle explores from room 1 like any online learner and misses the far rooms, so
its return is no top-line there. This oracle knows the dynamics and the reward instead:

* a grid over the state: each position axis is two half-grids, ``[-1, -WALL_EPS]`` and
  ``[WALL_EPS, 1]`` (``n_pos`` vertices each), so no interpolation cell straddles a wall; each
  velocity axis is ``n_vel`` vertices on ``[-1, 1]`` (|v| <= V_MAX always holds);
* for every vertex and each of the 9 actions in {-1, 0, 1}², the exact next state ``env.step`` and
  its exact reward r(s'); V(s') is multilinear in the 16 surrounding vertices (on s'’s side of
  each wall);
* discounted value iteration, V ← max_a [r(s') + γ V(s')], for ``iters`` sweeps;
* acting: at the true continuous state, one-step lookahead over a finer action set
  (``n_act ** 2`` actions on [-1, 1]²) with the exact step and reward and the interpolated V.

The policy is evaluated on the true dynamics, so its return is achievable: it is a lower bound of
the optimum, and the tests check that it beats TD3 and every zero-shot policy where they succeed.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from rizzlib.fbcpr import env, tasks


@dataclasses.dataclass(frozen=True)
class Grid:
    """Vertex coordinates: ``pos (2 n_pos,)`` (west half then east half) and ``vel (n_vel,)``."""

    pos: np.ndarray
    vel: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.pos), len(self.pos), len(self.vel), len(self.vel))


def make_grid(n_pos: int = 20, n_vel: int = 11) -> Grid:
    """The grid: ``n_pos`` vertices per half position axis (>= 2), ``n_vel`` per velocity axis (>= 2)."""
    from rizzlib.core.validate import check_int_range

    check_int_range("n_pos", n_pos, 2)
    check_int_range("n_vel", n_vel, 2)
    half = np.linspace(env.WALL_EPS, 1.0, n_pos)
    return Grid(np.concatenate([-half[::-1], half]).astype(np.float32),
                np.linspace(-env.V_MAX, env.V_MAX, n_vel).astype(np.float32))


def _pos_cell(x, n_pos: int):
    """Lower vertex index and fraction of ``x`` on a position axis, within ``x``'s half."""
    h = (1.0 - env.WALL_EPS) / (n_pos - 1)
    east = x >= 0
    t = jnp.where(east, (x - env.WALL_EPS) / h, (x + 1.0) / h)
    i = jnp.clip(jnp.floor(t), 0, n_pos - 2)
    f = jnp.clip(t - i, 0.0, 1.0)
    return i.astype(jnp.int32) + jnp.where(east, n_pos, 0), f


def _vel_cell(v, n_vel: int):
    h = 2 * env.V_MAX / (n_vel - 1)
    t = (v + env.V_MAX) / h
    i = jnp.clip(jnp.floor(t), 0, n_vel - 2)
    return i.astype(jnp.int32), jnp.clip(t - i, 0.0, 1.0)


def interpolate(values: jax.Array, states: jax.Array, grid: Grid) -> jax.Array:
    """Multilinear interpolation of ``values (2 n_pos, 2 n_pos, n_vel, n_vel)`` at ``states (..., 4)``."""
    n_pos, n_vel = len(grid.pos) // 2, len(grid.vel)
    cells = [_pos_cell(states[..., 0], n_pos), _pos_cell(states[..., 1], n_pos),
             _vel_cell(states[..., 2], n_vel), _vel_cell(states[..., 3], n_vel)]
    out = jnp.zeros(states.shape[:-1])
    for corner in range(16):
        bits = [(corner >> k) & 1 for k in range(4)]
        idx = tuple(i + b for (i, _), b in zip(cells, bits))
        w = 1.0
        for (_, f), b in zip(cells, bits):
            w = w * (f if b else 1.0 - f)
        out = out + w * values[idx]
    return out


def _actions(n: int) -> jax.Array:
    a = jnp.linspace(-1.0, 1.0, n)
    return jnp.stack(jnp.meshgrid(a, a, indexing="ij"), -1).reshape(-1, 2)


def value_iteration(task: str, grid: Grid, gamma: float = 0.99, iters: int = 300) -> jax.Array:
    """V on the grid for ``task`` after ``iters`` sweeps of V ← max_a [r(s') + γ V(s')]; returns
    ``(2 n_pos, 2 n_pos, n_vel, n_vel)``."""
    from rizzlib.core.validate import check_int_range, check_range

    check_range("gamma", gamma, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    check_int_range("iters", iters, 1)
    reward = tasks.reward_fn(task)
    return _vi(reward, grid, gamma, iters)


def _grid_transitions(grid: Grid, n_act: int = 3) -> jax.Array:
    """The exact next state of every grid vertex under each of the ``n_act ** 2`` actions: ``(A, S, 4)``."""
    mesh = jnp.stack(jnp.meshgrid(jnp.asarray(grid.pos), jnp.asarray(grid.pos), jnp.asarray(grid.vel),
                                  jnp.asarray(grid.vel), indexing="ij"), -1).reshape(-1, 4)
    # the transitions are arguments, not closed-over constants, so XLA does not constant-fold them
    return jax.jit(jax.vmap(lambda a, m: env.step_batch(m, jnp.broadcast_to(a, m.shape[:1] + (2,))),
                            in_axes=(0, None)))(_actions(n_act), mesh)


def _vi(reward, grid: Grid, gamma: float, iters: int) -> jax.Array:
    nxt = _grid_transitions(grid)
    return _sweeps(reward(nxt), nxt, grid.shape, float(gamma), int(iters))


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _sweeps(r, nxt, shape, gamma, iters):
    grid = _ShapeOnly(shape)

    def sweep(_, v):
        return (r + gamma * interpolate(v, nxt, grid)).max(0).reshape(shape)

    return jax.lax.fori_loop(0, iters, sweep, jnp.zeros(shape))


@dataclasses.dataclass(frozen=True)
class _ShapeOnly:
    """What :func:`interpolate` reads of a grid (the vertex counts), hashable for jit."""

    shape: tuple

    @property
    def pos(self):
        return range(self.shape[0])

    @property
    def vel(self):
        return range(self.shape[2])


def greedy_action(values: jax.Array, grid: Grid, task: str, states: jax.Array, gamma: float = 0.99,
                  n_act: int = 9) -> jax.Array:
    """One-step lookahead action ``(N, 2)`` at ``states (N, 4)`` over ``n_act ** 2`` actions."""
    return _greedy(values, grid, _task_reward(task), states, gamma, n_act)


def _greedy(values, grid, reward, states, gamma, n_act):
    acts = _actions(n_act)
    nxt = jax.vmap(lambda a: env.step_batch(states, jnp.broadcast_to(a, (states.shape[0], 2))))(acts)  # (A, N, 4)
    q = reward(nxt) + gamma * interpolate(values, nxt, grid)
    return acts[jnp.argmax(q, axis=0)]


@functools.cache
def _task_reward(task: str):
    """The task's reward function, one object per task (a static jit argument, hashed by identity)."""
    return tasks.reward_fn(task)


def oracle_rollout(values: jax.Array, grid: Grid, task: str, starts, horizon: int = 200, gamma: float = 0.99,
                   n_act: int = 9) -> tuple[jax.Array, jax.Array]:
    """Closed-loop rollouts of the planner on the true dynamics: observations ``(N, T+1, 4)`` and
    per-step rewards ``(N, T)``."""
    return _rollout(values, jnp.asarray(starts, jnp.float32), _ShapeOnly(grid.shape), _task_reward(task), horizon,
                    float(gamma), n_act)


@functools.partial(jax.jit, static_argnums=(2, 3, 4, 5, 6))
def _rollout(v, s0, grid, reward, horizon, gamma, n_act):
    def body(s, _):
        s2 = env.step_batch(s, _greedy(v, grid, reward, s, gamma, n_act))
        return s2, s2

    _, traj = jax.lax.scan(body, s0, None, length=horizon)
    traj = jnp.swapaxes(traj, 0, 1)
    return jnp.concatenate([s0[:, None], traj], 1), reward(traj)


GOAL_SIGMA = 0.15  # width of the planner's goal reward (a Gaussian bump), units of the arena


def goal_reward(goal, sigma: float = GOAL_SIGMA):
    """The planner's reward for reaching ``goal (2+,)`` (its x, y): exp(−‖p − g‖² / 2σ²) of the next
    position, a shaped stand-in for the goal metrics' 0.05 bound, which the grid (vertex spacing
    about 0.09 at the default size) cannot resolve."""
    from rizzlib.core.validate import check_range

    check_range("sigma", sigma, 0.0, low_inclusive=False)
    g = jnp.asarray(np.asarray(goal, np.float32)[:2])
    return lambda s: jnp.exp(-jnp.sum((s[..., :2] - g) ** 2, -1) / (2 * sigma**2))


def goal_oracle(goals, starts, horizon: int = 200, grid: Grid | None = None, gamma: float = 0.99,
                iters: int = 150, sigma: float = GOAL_SIGMA, n_act: int = 9) -> dict:
    """The planner as a goal-reaching top-line: for each goal observation of ``goals (G, 4)``, value
    iteration on :func:`goal_reward`, then closed-loop rollouts from ``starts (N, 4)`` scored with
    the suite's own :func:`tasks.goal_metrics`. Returns ``{"per_goal": (G, 3) success / proximity /
    final distance, "success", "proximity", "final_dist"}`` (means over goals and starts)."""
    g = np.asarray(goals, np.float32)
    if g.ndim != 2 or g.shape[0] == 0 or g.shape[1] != env.OBS_DIM:
        raise ValueError(f"goals must be a non-empty (G, {env.OBS_DIM}) array of goal observations; got shape {g.shape}")
    grid = make_grid() if grid is None else grid
    s0 = jnp.asarray(starts, jnp.float32)
    rows = []
    for goal in g:
        reward = goal_reward(goal, sigma)
        v = _vi(reward, grid, float(gamma), int(iters))
        traj, _ = _rollout(v, s0, _ShapeOnly(grid.shape), reward, horizon, float(gamma), n_act)
        ms = [tasks.goal_metrics(p, goal) for p in np.asarray(traj[:, 1:])]
        rows.append([np.mean([m[k] for m in ms]) for k in ("success", "proximity", "final_dist")])
    per = np.array(rows)
    return {"per_goal": per, "success": float(per[:, 0].mean()), "proximity": float(per[:, 1].mean()),
            "final_dist": float(per[:, 2].mean())}


def oracle_return(task: str, starts, horizon: int = 200, grid: Grid | None = None, gamma: float = 0.99,
                  iters: int = 300) -> float:
    """Mean undiscounted return over ``horizon`` steps of the planner from ``starts (N, 4)``."""
    grid = make_grid() if grid is None else grid
    v = value_iteration(task, grid, gamma, iters)
    _, rew = oracle_rollout(v, grid, task, starts, horizon, gamma)
    return float(rew.sum(1).mean())


# ------------------------------------------------------------------------------ tracking top-line


def tracking_values(targets, grid: Grid, n_act: int = 3) -> jax.Array:
    """Finite-horizon values for tracking one motion: with ``targets (T, 2+)`` the positions the
    motion reaches after each step (its observations o_1..o_T) and the per-step reward
    r_t(s') = −‖pos(s') − target_t‖, backward induction V_T = 0,
    V_t(s) = max_a [r_t(s') + V_{t+1}(s')] over the ``n_act ** 2`` grid actions, s' = step(s, a)
    exact and V_{t+1}(s') interpolated. Returns ``(T + 1, *grid.shape)``; index t is V_t."""
    from rizzlib.core.validate import check_int_range

    check_int_range("n_act", n_act, 2)
    tg = np.asarray(targets, np.float32)
    if tg.ndim != 2 or tg.shape[0] == 0 or tg.shape[1] < 2:
        raise ValueError(f"targets must be a non-empty (T, 2+) array of target positions; got shape {tg.shape}")
    return _track_sweeps(_grid_transitions(grid, n_act), jnp.asarray(tg[:, :2]), grid.shape)


@functools.partial(jax.jit, static_argnums=2)
def _track_sweeps(nxt, targets, shape):
    grid = _ShapeOnly(shape)
    pos = nxt[..., :2]

    def back(v_next, target):
        r = -jnp.linalg.norm(pos - target, axis=-1)
        v = (r + interpolate(v_next, nxt, grid)).max(0).reshape(shape)
        return v, v

    v_end = jnp.zeros(shape)
    _, vs = jax.lax.scan(back, v_end, targets, reverse=True)
    return jnp.concatenate([vs, v_end[None]])


@functools.partial(jax.jit, static_argnums=(2, 4))
def _track_rollout(vs, targets, grid, s0, n_act):
    acts = _actions(n_act)

    def body(s, inp):
        v_next, target = inp
        nxt = jax.vmap(lambda a: env.step_batch(s, jnp.broadcast_to(a, (s.shape[0], 2))))(acts)  # (A, N, 4)
        q = -jnp.linalg.norm(nxt[..., :2] - target, axis=-1) + interpolate(v_next, nxt, grid)
        s2 = jnp.take_along_axis(nxt, jnp.argmax(q, 0)[None, :, None], 0)[0]
        return s2, s2

    _, traj = jax.lax.scan(body, s0, (vs[1:], targets))
    return jnp.concatenate([s0[:, None], jnp.swapaxes(traj, 0, 1)], 1)


def track_motion(motion, grid: Grid | None = None, n_act: int = 9) -> np.ndarray:
    """The tracking specialist of one motion ``(T + 1, 4)``: plan with :func:`tracking_values` for
    its targets o_1..o_T, then act closed-loop on the true dynamics from its first frame o_0 by
    one-step lookahead over ``n_act ** 2`` actions. Returns the visited states ``(T + 1, 4)``."""
    from rizzlib.core.validate import check_int_range

    check_int_range("n_act", n_act, 2)
    m = np.asarray(motion, np.float32)
    if m.ndim != 2 or m.shape[0] < 2 or m.shape[1] != env.OBS_DIM:
        raise ValueError(f"motion must be a (T + 1 >= 2, {env.OBS_DIM}) array of observations; got shape {m.shape}")
    grid = make_grid() if grid is None else grid
    targets = jnp.asarray(m[1:, :2])
    vs = tracking_values(m[1:], grid)
    return np.asarray(_track_rollout(vs, targets, _ShapeOnly(grid.shape), jnp.asarray(m[:1]), n_act)[0])


def tracking_oracle(motions, grid: Grid | None = None, n_act: int = 9, progress: bool = False, done=(),
                    on_motion=None) -> dict:
    """The per-motion tracking specialist as the tracking top-line: :func:`track_motion` on each of
    ``motions (M, T + 1, 4)`` (a planner computed for that motion alone), scored with the suite's
    own :func:`tasks.tracking_metrics` against the motion's o_1..o_T. Returns ``{"per_motion":
    (M, 3) EMD / error / success, "emd", "error", "success", "states": (K, T + 1, 4)}``.

    Resuming: ``done`` holds the rows of the first motions from an earlier call (they are not
    planned again, and ``states`` has only the K motions planned now); ``on_motion(i, row)`` is
    called after each motion planned, e.g. to save progress."""
    from rizzlib.fbcpr.dataset import check_observation_dataset

    obs = check_observation_dataset("motions", motions)
    rows = [list(map(float, r)) for r in done]
    if len(rows) > obs.shape[0] or any(len(r) != 3 for r in rows):
        raise ValueError(f"done must hold at most {obs.shape[0]} rows of 3 numbers (EMD, error, success); got {len(rows)}")
    grid = make_grid() if grid is None else grid
    it = range(len(rows), obs.shape[0])
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="tracking specialist", initial=len(rows), total=obs.shape[0])
    states = []
    for i in it:
        s = track_motion(obs[i], grid, n_act)
        m = tasks.tracking_metrics(s[1:], obs[i, 1:])
        rows.append([m["emd"], m["error"], m["success"]])
        states.append(s)
        if on_motion is not None:
            on_motion(i, rows[-1])
    per = np.array(rows)
    return {"per_motion": per, "emd": float(per[:, 0].mean()), "error": float(per[:, 1].mean()),
            "success": float(per[:, 2].mean()),
            "states": np.stack(states) if states else np.zeros((0, obs.shape[1], env.OBS_DIM), np.float32)}
