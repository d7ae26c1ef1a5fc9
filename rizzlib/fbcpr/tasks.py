"""Start regimes, the zero-shot task suites (reward, goal, tracking) and their metrics (spec §5.1).

Rewards are functions of the **next** state, with values in [0, 1]. Goal and tracking metrics work
on positions (the "pose" part of the point mass), as HumEnv's work on the pose dimensions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rizzlib.fbcpr import env

INITS = ("fixed", "data")
REWARD_TASKS = (
    "reach-room-1", "reach-room-2", "reach-room-3", "reach-room-4",
    "move-E", "move-W", "move-N", "move-S", "stay-centre-room-3", "circle-ccw-room-2",
)
GOAL_SUCCESS = 0.05  # success: distance below this at least once (units of the arena)
GOAL_MARGIN = 0.05  # proximity decays linearly to 0 at GOAL_SUCCESS + GOAL_MARGIN
TRACK_SUCCESS = 0.1  # tracking success: every step within this distance
_DIRS = {"E": (1.0, 0.0), "W": (-1.0, 0.0), "N": (0.0, 1.0), "S": (0.0, -1.0)}


def goal_positions() -> np.ndarray:
    """The 12 goal positions (3 per room, rooms 1..4 in order): ``(12, 2)``."""
    offsets = np.array([[0.0, 0.0], [0.25, 0.25], [-0.25, 0.2]], dtype=np.float32)
    return np.concatenate([c + offsets for c in env.ROOM_CENTRES]).astype(np.float32)


def goal_states() -> np.ndarray:
    """Goal observations (zero velocity): ``(12, 4)``."""
    g = goal_positions()
    return np.concatenate([g, np.zeros_like(g)], axis=1)


def reward_fn(task: str):
    """``r(next_state (..., 4)) -> (...)`` in [0, 1] for one of :data:`REWARD_TASKS`."""
    from rizzlib.core.validate import check_choice

    check_choice("task", task, REWARD_TASKS)
    if task.startswith("reach-room-"):
        k = int(task[-1])
        return lambda s: (env.room_of(s[..., :2]) == k).astype(jnp.float32)
    if task.startswith("move-"):
        d = jnp.asarray(_DIRS[task[-1]])
        return lambda s: jnp.clip(s[..., 2:] @ d / 0.5, 0.0, 1.0)
    if task == "stay-centre-room-3":
        c = jnp.asarray(env.ROOM_CENTRES[2])

        def stay(s):
            bump = jnp.exp(-jnp.sum((s[..., :2] - c) ** 2, -1) / (2 * 0.1**2))
            return bump * (jnp.linalg.norm(s[..., 2:], axis=-1) < 0.1)

        return stay
    c = jnp.asarray(env.ROOM_CENTRES[1])

    def circle(s):
        rel = s[..., :2] - c
        r = jnp.linalg.norm(rel, axis=-1)
        tangential = (rel[..., 0] * s[..., 3] - rel[..., 1] * s[..., 2]) / jnp.maximum(r, 1e-6)
        band = (r > 0.1) & (r < 0.3) & (env.room_of(s[..., :2]) == 2)
        return band * jnp.clip(tangential / 0.3, 0.0, 1.0)

    return circle


def sample_starts(key: jax.Array, n: int, init: str, data_obs: jax.Array | None = None,
                  data_fraction: float = 0.8) -> jax.Array:
    """``n`` start states ``(n, 4)``.

    ``init="fixed"``: uniform in a 0.2-wide box around room 1's centre, at rest (hard exploration).
    ``init="data"``: with prob ``data_fraction`` a random dataset state (``data_obs (M, T+1, 4)``),
    otherwise uniform over the arena at rest (the humanoid's MoCapAndFall analogue).
    """
    kb, kd, ku, km = jax.random.split(key, 4)
    box = env.ROOM_CENTRES[0] + jax.random.uniform(kb, (n, 2), minval=-0.1, maxval=0.1)
    fixed = jnp.concatenate([box, jnp.zeros((n, 2))], axis=1)
    if init == "fixed":
        return fixed
    if init != "data":
        raise ValueError(f"init must be one of {INITS}; got {init!r}")
    if data_obs is None:
        raise ValueError("init='data' needs data_obs (the motion dataset's observations)")
    flat = data_obs.reshape(-1, env.OBS_DIM)
    from_data = flat[jax.random.randint(kd, (n,), 0, flat.shape[0])]
    uni = jnp.concatenate([jax.random.uniform(ku, (n, 2), minval=-1.0, maxval=1.0), jnp.zeros((n, 2))], 1)
    return jnp.where(jax.random.uniform(km, (n, 1)) < data_fraction, from_data, uni)


# ---------------------------------------------------------------------------------- metrics


def emd(x, y) -> float:
    """Earth-mover distance between two equal-size point sets ``(n, k)`` with uniform weights and
    Euclidean cost: the mean cost of the optimal assignment (exact OT; scipy's Hungarian solver)."""
    from scipy.optimize import linear_sum_assignment

    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.ndim != 2 or y.shape != x.shape or x.shape[0] == 0:
        raise ValueError(f"x and y must be non-empty (n, k) arrays of the same shape; got {x.shape}, {y.shape}")
    cost = np.linalg.norm(x[:, None] - y[None], axis=-1)
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def goal_metrics(positions, goal, dims=slice(0, 2), bound: float = GOAL_SUCCESS,
                 margin: float = GOAL_MARGIN) -> dict[str, float]:
    """Success / proximity / final distance of one episode to a goal, HumEnv's metrics on the
    ``dims`` of ``positions (T, k)`` and ``goal (k,)`` (default: the point mass's x, y).

    With d_t the Euclidean distance on those dims: success = d_t < ``bound`` at least once;
    proximity = mean over t of 1 where d_t <= ``bound``, falling linearly to 0 at ``bound + margin``;
    final distance = d_T."""
    from rizzlib.core.validate import check_range

    check_range("bound", bound, 0.0, low_inclusive=False)
    check_range("margin", margin, 0.0, low_inclusive=False)
    p, g = np.asarray(positions), np.asarray(goal)
    if p.ndim != 2 or p.shape[0] == 0 or g.shape != p.shape[1:]:
        raise ValueError(f"positions must be a non-empty (T, k) array and goal (k,); got {p.shape} and {g.shape}")
    d = np.linalg.norm(p[:, dims] - g[dims], axis=-1)
    prox = np.clip(1.0 - (d - bound) / margin, 0.0, 1.0)
    return {"success": float((d < bound).any()), "proximity": float(prox.mean()), "final_dist": float(d[-1])}


def tracking_metrics(positions, target) -> dict[str, float]:
    """EMD, mean per-step error and success (all steps within TRACK_SUCCESS) of a tracked episode;
    ``positions`` and ``target`` are ``(T, 2+)`` (only x, y are used)."""
    p, q = np.asarray(positions)[:, :2], np.asarray(target)[:, :2]
    if p.shape != q.shape:
        raise ValueError(f"positions and target must have the same length; got {p.shape} and {q.shape}")
    err = np.linalg.norm(p - q, axis=-1)
    return {"emd": emd(p, q), "error": float(err.mean()), "success": float((err < TRACK_SUCCESS).all())}


def dataset_likeness(states, actions, data_obs) -> dict[str, float]:
    """``knn``: mean distance of visited ``states (N, T, 4)`` to their nearest dataset observation
    (full 4-D state); ``smoothness``: mean ‖a_t − a_{t−1}‖ of ``actions (N, T, 2)``."""
    from scipy.spatial import cKDTree

    s = np.asarray(states).reshape(-1, env.OBS_DIM)
    tree = cKDTree(np.asarray(data_obs).reshape(-1, env.OBS_DIM))
    dist, _ = tree.query(s, k=1)
    a = np.asarray(actions)
    return {"knn": float(dist.mean()), "smoothness": float(np.linalg.norm(np.diff(a, axis=1), axis=-1).mean())}


def control_style(states, actions, saturated: float = 0.98, still: float = 0.02) -> dict[str, float]:
    """How a set of rollouts moves, to set beside the dataset's own numbers (spec §5.1: plain FB
    tends to bang-bang controls and parking against walls): ``saturated`` = share of steps whose
    action has a component beyond ``saturated`` in absolute value (full force); ``still`` = share
    of visited states slower than ``still`` (units per second). ``states (..., 4)``, ``actions (..., 2)``."""
    from rizzlib.core.validate import check_range

    check_range("saturated", saturated, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    check_range("still", still, 0.0, low_inclusive=False)
    s, a = np.asarray(states, np.float64), np.asarray(actions, np.float64)
    if s.size == 0 or s.shape[-1] != env.OBS_DIM or a.size == 0 or a.shape[-1] != env.ACTION_DIM:
        raise ValueError(f"states must be a non-empty (..., {env.OBS_DIM}) array and actions (..., {env.ACTION_DIM}); "
                         f"got {s.shape} and {a.shape}")
    return {"saturated": float(np.mean(np.abs(a).max(-1) > saturated)),
            "still": float(np.mean(np.linalg.norm(s[..., 2:], axis=-1) < still))}
