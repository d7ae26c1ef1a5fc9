"""The Kinetix environment: gymnax-style pure ``reset`` and ``step`` with auto-reset to the level.

``step`` runs ``frame_skip`` engine steps under ``lax.scan``, takes the reward of the first done
substep (else the sum, spec 3.2), ends the episode on a goal, a death, a NaN anywhere in the scene or
``max_timesteps``, adds the dense shaping ``-(d - d_prev) * dense_reward_scale`` (not on the first
step after a reset, where d_prev = -1) and, when done, returns the observation and state of a fresh
reset to ``state.level``. Everything is pure, so ``jax.jit`` and ``jax.vmap`` apply directly.

Example::

    env = KinetixEnv(EnvConfig.for_size("s"))
    obs, state = env.reset(key, level, params)
    obs, state, reward, done, info = env.step(key, state, action, params)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rizzlib.jax2d import step as engine_step
from rizzlib.kinetix.actions import action_shape, action_sizes, engine_actions, noop_action
from rizzlib.kinetix.observe import observe
from rizzlib.kinetix.reward import combine_substeps, substep_reward
from rizzlib.kinetix.types import EnvConfig, EnvParams, EnvState, Level


def _any_nan(tree) -> jnp.ndarray:
    leaves = [jnp.any(jnp.isnan(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.floating)]
    return jnp.any(jnp.stack(leaves)) if leaves else jnp.asarray(False)


class KinetixEnv:
    """Pure functions over :class:`EnvState` for one :class:`EnvConfig` (held as a static attribute).

    Args:
        config: sizes, frame skip, observation and action kinds.
    """

    def __init__(self, config: EnvConfig | None = None):
        self.config = EnvConfig() if config is None else config
        if not isinstance(self.config, EnvConfig):
            raise ValueError(f"config must be an EnvConfig; got {type(config).__name__}")

    # ------------------------------------------------------------------ spaces
    @property
    def action_shape(self) -> tuple[int, ...]:
        return action_shape(self.config)

    @property
    def action_sizes(self) -> tuple[int, ...]:
        return action_sizes(self.config)

    def noop_action(self):
        return noop_action(self.config)

    def sample_action(self, key):
        """A uniformly random action."""
        c = self.config
        if c.action == "continuous":
            m = c.num_motor_bindings
            a = jax.random.uniform(key, self.action_shape, minval=-1.0, maxval=1.0)
            return a.at[m:].set(jnp.abs(a[m:]))
        sizes = jnp.asarray(self.action_sizes)
        u = jax.random.uniform(key, sizes.shape)
        a = jnp.floor(u * sizes).astype(jnp.int32)
        return a if c.action == "multi_discrete" else a[0]

    # ------------------------------------------------------------------ dynamics
    def observe(self, state: EnvState):
        return observe(state, self.config)

    def reset(self, key, level: Level, params: EnvParams | None = None):
        """(obs, state) at the start of ``level`` (``key`` is unused: resets are deterministic)."""
        del key, params
        state = self._reset_state(level)
        return self.observe(state), state

    @staticmethod
    def _reset_state(level: Level):
        """The state at the start of ``level`` (not observed)."""
        return EnvState(
            sim=level.sim,
            level=level,
            timestep=jnp.asarray(0, jnp.int32),
            last_distance=jnp.asarray(-1.0, jnp.float32),
        )

    def transition(self, state: EnvState, action, params: EnvParams):
        """One agent step without auto-reset and without observing: (state, reward, done, info)."""
        cfg = self.config
        roles = state.level.roles
        act = engine_actions(action, state.level, cfg)

        def substep(sim, _):
            sim = engine_step(sim, params.sim, cfg.sim, act)
            reward, goal, death, dist = substep_reward(sim, roles)
            return sim, (reward, reward != 0.0, goal, death, dist)

        sim, (rewards, dones, goals, deaths, dists) = jax.lax.scan(substep, state.sim, None, length=cfg.frame_skip)
        reward, terminal, idx = combine_substeps(rewards, dones)
        timestep = state.timestep + 1
        nan = _any_nan(sim)
        done = terminal | nan | (timestep >= params.max_timesteps)
        distance = dists[idx]
        shaping = jnp.nan_to_num(-(distance - state.last_distance) * params.dense_reward_scale,
                                 nan=0.0, posinf=0.0, neginf=0.0)
        first = (state.last_distance == -1.0) | (params.dense_reward_scale == 0.0)
        reward = reward + jnp.where(first, 0.0, shaping)
        new = state.replace(sim=sim, timestep=timestep, last_distance=jnp.where(done, -1.0, distance))
        info = {
            "GoalR": goals[idx] & terminal,
            "DeathR": deaths[idx] & terminal,
            "distance": distance,
            "timeout": done & ~terminal & ~nan,
            "nan": nan,
        }
        return new, reward, done, info

    def step_env(self, state: EnvState, action, params: EnvParams):
        """One agent step without auto-reset: (obs, state, reward, done, info)."""
        new, reward, done, info = self.transition(state, action, params)
        return self.observe(new), new, reward, done, info

    def step(self, key, state: EnvState, action, params: EnvParams | None = None):
        """One agent step with auto-reset to ``state.level``: (obs, state, reward, done, info).

        The next state is picked first (the stepped one, or the level's reset state when done) and
        observed once, rather than observing both and picking an observation.
        """
        params = EnvParams() if params is None else params
        st, reward, done, info = self.transition(state, action, params)
        st_re = self._reset_state(state.level)
        st = jax.tree.map(lambda x, y: jnp.where(done, x, y), st_re, st)
        return self.observe(st), st, reward, done, info
