"""Playing one episode of a policy on a level and drawing it in role colours (CPU, Pillow).

* Actors: ``actor(policy_params, key, obs) -> action`` for one observation: :func:`constant_actor`
  (the params are the action; the no-op is ``env.noop_action()``), :func:`random_actor`,
  :func:`agent_actor` (the params are a network's, sampled or greedy).
* :func:`make_player` compiles ``play(key, level, policy_params) -> Episode`` once per (env, actor):
  the episode runs without auto-reset until the goal, a death, a NaN or ``max_timesteps``. New
  levels and new parameters of the same shapes reuse the compiled function.
* :func:`render_level`, :func:`render_episode`, :func:`animate_episode` draw with
  :mod:`rizzlib.jax2d.render`, each shape in its role's colour (green, blue, red; default grey,
  static default dark grey); thrusters get a flame while firing.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from rizzlib.core.validate import check_int_range
from rizzlib.kinetix import distributions as dist
from rizzlib.kinetix.actions import engine_actions
from rizzlib.kinetix.ahead import jit
from rizzlib.kinetix.env import KinetixEnv
from rizzlib.kinetix.types import EnvParams, Level

#: RGB of the roles default, green, blue, red, and of static default shapes
ROLE_RGB = np.array([[150, 150, 158], [60, 175, 75], [55, 105, 215], [215, 55, 55]], np.uint8)
STATIC_RGB = np.array([80, 80, 88], np.uint8)
WORLD = (-0.1, -0.1, 5.1, 5.1)


@dataclasses.dataclass
class Episode:
    """One played episode.

    Attributes:
        sims: SimState with leaves (length + 1, ...): the scene before the first and after every step.
        engine_actions: (length, J + T) what each joint and thruster received.
        rewards: (length,).  length: agent steps played.  solved, died: how it ended.
    """

    sims: object
    engine_actions: np.ndarray
    rewards: np.ndarray
    length: int
    solved: bool
    died: bool

    @property
    def total_reward(self) -> float:
        return float(self.rewards.sum())


def constant_actor(env: KinetixEnv):
    """``actor(action, key, obs) -> action``: plays the action passed as the policy parameters
    (``env.noop_action()`` is the no-op policy)."""
    del env
    return lambda action, key, obs: action


def random_actor(env: KinetixEnv):
    """Uniformly random actions (the policy parameters are ignored)."""
    return lambda _, key, obs: env.sample_action(key)


def agent_actor(env: KinetixEnv, network, greedy: bool = False):
    """A network whose parameters are the policy parameters: sample its action distribution, or take
    its mode if ``greedy``."""
    def act(net_params, key, obs):
        out, _ = network.apply(net_params, obs)
        return dist.mode(out, env.config) if greedy else dist.sample(key, out, env.config)
    return act


#: policy kinds of :func:`mixed_actor`
KINDS = ("agent", "greedy", "random", "constant")


def mixed_actor(env: KinetixEnv, network):
    """One actor for every policy, so one compiled player serves them all: the policy parameters are
    ``mixed_policy(kind, net_params, action)`` (the network runs in every case)."""
    def act(policy, key, obs):
        out, _ = network.apply(policy["net"], obs)
        choices = [dist.sample(key, out, env.config), dist.mode(out, env.config), env.sample_action(key),
                   jnp.asarray(policy["action"]).astype(env.noop_action().dtype)]
        return jax.lax.switch(policy["kind"], [lambda c=c: c for c in choices])
    return act


def mixed_policy(kind: str, net_params, action=None, env: KinetixEnv | None = None) -> dict:
    """Parameters of :func:`mixed_actor`: ``kind`` in KINDS; ``action`` for ``"constant"`` (default:
    ``env``'s no-op)."""
    from rizzlib.core.validate import check_choice

    check_choice("kind", kind, KINDS)
    if action is None:
        if env is None:
            raise ValueError("action or env is needed (the constant action defaults to env.noop_action())")
        action = env.noop_action()
    return {"net": net_params, "kind": jnp.asarray(KINDS.index(kind), jnp.int32), "action": jnp.asarray(action)}


def make_player(env: KinetixEnv, actor, params: EnvParams | None = None):
    """``play(key, level, policy_params=None) -> Episode`` (jitted once for this env and actor)."""
    params = EnvParams() if params is None else params
    steps = int(params.max_timesteps)

    @jit(program="player")
    def run(key, level, policy_params):
        obs, st = env.reset(None, level, params)

        def body(carry, k):
            obs, st, alive = carry
            a = actor(policy_params, k, obs)
            eng = engine_actions(a, st.level, env.config)
            nobs, nst, r, done, info = env.step_env(st, a, params)
            keep = lambda new, old: jax.tree.map(lambda x, y: jnp.where(alive, x, y), new, old)  # noqa: E731
            obs2, st2 = keep(nobs, obs), keep(nst, st)
            out = (st2.sim, eng, jnp.where(alive, r, 0.0), alive, alive & info["GoalR"], alive & info["DeathR"])
            return (obs2, st2, alive & ~done), out

        _, (sims, eng, rew, alive, goal, death) = jax.lax.scan(body, (obs, st, jnp.asarray(True)),
                                                               jax.random.split(key, steps))
        first = jax.tree.map(lambda x: x[None], level.sim)
        sims = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), first, sims)
        return sims, eng, rew, alive.sum(), goal.any(), death.any()

    def play(key, level: Level, policy_params=None) -> Episode:
        sims, eng, rew, n, goal, death = run(key, level, policy_params)
        n = int(n)
        sims = jax.tree.map(lambda x: np.asarray(x[: n + 1]), sims)
        return Episode(sims=sims, engine_actions=np.asarray(eng[:n]), rewards=np.asarray(rew[:n]), length=n,
                       solved=bool(goal), died=bool(death))

    return play


def role_colors(level: Level) -> np.ndarray:
    """(P + C, 3) uint8 colour of every body by its role (static default shapes darker)."""
    roles = np.concatenate([np.asarray(level.polygon_role), np.asarray(level.circle_role)])
    inv_m = np.concatenate([np.asarray(level.sim.polygon.inverse_mass), np.asarray(level.sim.circle.inverse_mass)])
    rgb = ROLE_RGB[roles].copy()
    rgb[(roles == 0) & (inv_m == 0)] = STATIC_RGB
    return rgb


def render_level(level: Level, size: int = 250, sim=None, thrust=None) -> np.ndarray:
    """(size, size, 3) uint8 picture of ``level`` (or of the running scene ``sim`` with its roles)."""
    from rizzlib.jax2d.render import render_frame

    check_int_range("size", size, 16, 2048)
    return render_frame(level.sim if sim is None else sim, (size, size), WORLD, body_colors=role_colors(level),
                        thrust=thrust)


def render_episode(episode: Episode, level: Level, size: int = 200, max_frames: int = 60) -> np.ndarray:
    """(F, size, size, 3) uint8 frames of an episode, at most ``max_frames`` evenly spaced."""
    check_int_range("max_frames", max_frames, 1, None)
    n_states = episode.length + 1
    idx = np.unique(np.round(np.linspace(0, n_states - 1, min(max_frames, n_states))).astype(int))
    n_joints = np.asarray(level.sim.joint.active).shape[-1]
    frames = []
    for t in idx:
        sim = jax.tree.map(lambda x, t=t: x[t], episode.sims)
        thrust = episode.engine_actions[t, n_joints:] if t < episode.length else None
        frames.append(render_level(level, size, sim=sim, thrust=thrust))
    return np.stack(frames)


def animate_episode(episode: Episode, level: Level, size: int = 200, max_frames: int = 60, title: str | None = None,
                    seconds_per_step: float = 1 / 30):
    """An inline animation (``IPython.display.HTML``) of an episode, played in about real time."""
    from rizzlib.core.anim import animate_frames

    frames = render_episode(episode, level, size, max_frames)
    fps = int(np.clip(round(len(frames) / max(episode.length * seconds_per_step, 1e-6)), 1, 30))
    return animate_frames(frames, fps=fps, width_in=size / 100, title=title)
