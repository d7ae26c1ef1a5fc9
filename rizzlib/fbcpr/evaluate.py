"""Zero-shot evaluation: act from z, roll out the suites, compute their metrics (spec §4, §5.1).

A ``Policy`` is the pair (agent, params). Rollouts are jitted scans of the deterministic mean action
μ(s, z); reward z's come from the replay buffer's next states (the distribution FB trained on).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from rizzlib.fbcpr import env, infer, tasks
from rizzlib.fbcpr.envs import get_env


def act(agent, params: dict, obs, z) -> np.ndarray:
    """Validated deterministic action μ(s, z): ``obs (n, 4)``, ``z (n, d)`` on the √d sphere -> ``(n, 2)``."""
    obs = env.check_state("obs", obs)
    z = infer.check_z("z", z, agent.cfg.z_dim)
    if obs.ndim != 2 or z.ndim != 2 or obs.shape[0] != z.shape[0]:
        raise ValueError(f"obs and z must be (n, 4) and (n, d) with the same n; got {obs.shape} and {z.shape}")
    return np.asarray(agent.act(params, jnp.asarray(obs, jnp.float32), jnp.asarray(z, jnp.float32)))


@functools.partial(jax.jit, static_argnums=0)
def rollout(agent, params: dict, starts: jax.Array, zs: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Deterministic rollouts in ``agent.cfg.env`` from states ``starts (N, state_dim)`` with per-step
    z's ``zs (T, N, d)``. Returns observations ``(N, T + 1, obs_dim)`` (for the point mass, the
    states) and actions ``(N, T, action_dim)``."""
    spec = get_env(agent.cfg.env)

    def body(s, z):
        a = agent.act(params, spec.observe(s), z)
        s2 = spec.step(s, a)
        return s2, (spec.observe(s2), a)

    _, (obs, actions) = jax.lax.scan(body, starts, zs)
    return jnp.concatenate([spec.observe(starts)[:, None], jnp.swapaxes(obs, 0, 1)], 1), jnp.swapaxes(actions, 0, 1)


def reward_prompt(agent, params: dict, task: str, inference_states, weighted: bool = False) -> jax.Array:
    """z for one reward task from ``inference_states (N, obs_dim)`` (replay next observations)."""
    spec = get_env(agent.cfg.env)
    s = np.asarray(inference_states)
    if s.ndim != 2 or s.shape[0] == 0 or s.shape[1] != spec.obs_dim:
        raise ValueError(f"inference_states must be a non-empty (N, {spec.obs_dim}) array of replay next "
                         f"observations; got shape {s.shape}")
    s = jnp.asarray(s, jnp.float32)
    reward = spec.reward_fn(task)
    return infer.reward_to_z(agent.backward(params, s), reward(s), weighted=weighted)


def evaluate_rewards(agent, params, inference_states, starts, task_names=None, horizon: int = 200,
                     weighted: bool = False) -> dict:
    """Per task (default: every reward task of ``agent.cfg.env``): undiscounted return over ``horizon``
    steps (mean over ``starts (N, state_dim)``), and the observations / actions of the rollouts.
    Returns ``{task: {"return", "states", "actions"}}``."""
    out = {}
    starts = jnp.asarray(starts)
    spec = get_env(agent.cfg.env)
    for task in spec.reward_tasks if task_names is None else task_names:
        z = reward_prompt(agent, params, task, inference_states, weighted)
        zs = jnp.broadcast_to(z, (horizon, starts.shape[0], z.shape[-1]))
        states, actions = rollout(agent, params, starts, zs)
        ret = spec.reward_fn(task)(states[:, 1:]).sum(1)
        out[task] = {"return": float(ret.mean()), "states": np.asarray(states), "actions": np.asarray(actions)}
    return out


def evaluate_goals(agent, params, starts, horizon: int = 200, goals=None, metric=None) -> dict:
    """Goal suite: z = proj(B(g)) for each goal observation ``goals (G, obs_dim)`` (default: the point
    mass's 12, :func:`tasks.goal_states`); ``metric(observations (T, obs_dim), goal) -> {"success",
    "proximity", "final_dist"}`` (default :func:`tasks.goal_metrics`) averaged over ``starts
    (N, state_dim)``, per goal and overall. Returns ``{"per_goal": (G, 3) array, metric: mean,
    "example_states": (G, T + 1, obs_dim)}``."""
    spec = get_env(agent.cfg.env)
    starts = jnp.asarray(starts)
    g = np.asarray(tasks.goal_states() if goals is None else goals, np.float32)
    if g.ndim != 2 or g.shape[0] == 0 or g.shape[1] != spec.obs_dim:
        raise ValueError(f"goals must be a non-empty (G, {spec.obs_dim}) array of goal observations; got shape {g.shape}")
    metric = tasks.goal_metrics if metric is None else metric
    zg = infer.goal_to_z(agent.backward(params, jnp.asarray(g)))
    rows, trajs = [], []
    for i in range(g.shape[0]):
        zs = jnp.broadcast_to(zg[i], (horizon, starts.shape[0], zg.shape[-1]))
        states, _ = rollout(agent, params, starts, zs)
        ms = [metric(p, g[i]) for p in np.asarray(states[:, 1:])]
        rows.append([np.mean([m[k] for m in ms]) for k in ("success", "proximity", "final_dist")])
        trajs.append(np.asarray(states[0]))
    per = np.array(rows)
    return {"per_goal": per, "success": float(per[:, 0].mean()), "proximity": float(per[:, 1].mean()),
            "final_dist": float(per[:, 2].mean()), "example_states": np.stack(trajs)}


def evaluate_tracking(agent, params, motions) -> dict:
    """Tracking suite on ``motions (M, T+1, 4)``: start at each motion's first frame, z_t from the
    window of its next observations o_{t+1..}; EMD / error / success averaged over motions."""
    from rizzlib.fbcpr.dataset import check_observation_dataset

    spec = get_env(agent.cfg.env)
    obs = jnp.asarray(check_observation_dataset("motions", motions, spec.obs_dim, spec.action_dim))
    b = jax.vmap(lambda o: agent.backward(params, o))(obs[:, 1:])
    zs = jax.vmap(lambda bb: infer.tracking_zs(bb, agent.cfg.seq_len))(b)  # (M, T, d)
    states, _ = rollout(agent, params, obs[:, 0], jnp.swapaxes(zs, 0, 1))
    ms = [tasks.tracking_metrics(np.asarray(states[m, 1:]), np.asarray(obs[m, 1:])) for m in range(obs.shape[0])]
    return {k: float(np.mean([m[k] for m in ms])) for k in ("emd", "error", "success")} | {
        "states": np.asarray(states)}


def evaluate_all(agent, params: dict, inference_states, test_obs, train_obs, n_starts: int = 16,
                 key: jax.Array | None = None) -> dict:
    """The three suites and the dataset-likeness of reward rollouts, as summary numbers.

    ``inference_states (N, 4)``: replay next states for reward prompts; ``test_obs (M, T+1, 4)``:
    held-out motions (tracking, and the ``data`` start regime); ``train_obs``: the training motions
    (the k-NN reference of dataset-likeness); ``n_starts`` start states drawn with ``key``
    (default ``key(123)``) in the config's start regime."""
    cfg = agent.cfg
    key = jax.random.key(123) if key is None else key
    starts = tasks.sample_starts(key, n_starts, cfg.init, jnp.asarray(test_obs))
    rew = evaluate_rewards(agent, params, inference_states, starts, horizon=cfg.episode_len)
    goals = evaluate_goals(agent, params, starts, horizon=cfg.episode_len)
    track = evaluate_tracking(agent, params, test_obs)
    states = np.concatenate([r["states"] for r in rew.values()])
    actions = np.concatenate([r["actions"] for r in rew.values()])
    return {
        "reward_returns": {k: v["return"] for k, v in rew.items()},
        "goal_success": goals["success"], "goal_proximity": goals["proximity"], "goal_final_dist": goals["final_dist"],
        "goal_success_per_room": goals["per_goal"][:, 0].reshape(4, 3).mean(1).tolist(),
        "tracking_emd": track["emd"], "tracking_error": track["error"], "tracking_success": track["success"],
        "likeness": tasks.dataset_likeness(states, actions, train_obs),
    }
