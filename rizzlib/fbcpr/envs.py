"""The environments FB-CPR trains on, behind one small interface (``EnvSpec``).

``pointmass``: the four-room point mass of :mod:`rizzlib.fbcpr.env` (the ``smoke`` / ``cpu`` presets).
``walker``: a planar MuJoCo biped stepped with MJX (:mod:`rizzlib.fbcpr.walker`, the ``gpu``
preset; needs the ``mujoco`` and ``mujoco-mjx`` packages of the ``fbcpr`` extra).

An environment's *state* is a flat array ``(n, state_dim)`` (so the training loop can ``jnp.where``
resets into it); the policy sees ``observe(state) (n, obs_dim)``; rewards are functions of the next
observation. Every function is pure and batched over the leading axis, so it runs inside ``jit``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

ENVS = ("pointmass", "walker")


@dataclasses.dataclass(frozen=True, eq=False)
class EnvSpec:
    """One environment as pure batched functions.

    Attributes:
        name: the registry name.
        obs_dim, action_dim, state_dim: sizes of an observation, an action (entries in [-1, 1]) and
            the physics state.
        step: ``(state (n, S), action (n, A)) -> state (n, S)``, one control step.
        observe: ``state (n, S) -> obs (n, obs_dim)``.
        reset: ``(key, n, init, data_obs (M, T+1, obs_dim) | None) -> state (n, S)``, start states of
            the regime ``init`` (``"fixed"`` or ``"data"``).
        reward_tasks: names of the reward tasks.
        reward_fn: ``task -> (next_obs (..., obs_dim) -> reward (...))``.
    """

    name: str
    obs_dim: int
    action_dim: int
    state_dim: int
    step: Callable
    observe: Callable
    reset: Callable
    reward_tasks: tuple
    reward_fn: Callable


@functools.cache
def get_env(name: str) -> EnvSpec:
    """The :class:`EnvSpec` called ``name`` (one of :data:`ENVS`)."""
    from rizzlib.core.validate import check_choice

    check_choice("env", name, ENVS)
    if name == "pointmass":
        from rizzlib.fbcpr import env, tasks

        return EnvSpec("pointmass", env.OBS_DIM, env.ACTION_DIM, env.OBS_DIM, env.step_batch, lambda s: s,
                       tasks.sample_starts, tasks.REWARD_TASKS, tasks.reward_fn)
    from rizzlib.fbcpr import walker

    return walker.spec()
