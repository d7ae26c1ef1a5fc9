"""Check levels by playing them: no NaN under random actions, and every motorised joint moves.

Kinetix issue #4 was "erroneously static linkages": a joint whose motor never turns. We step each
level with uniformly random actions and record, per joint, the largest change of its relative angle.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from rizzlib.core.validate import check_int_range
from rizzlib.kinetix.env import KinetixEnv
from rizzlib.kinetix.levels import stack_levels
from rizzlib.kinetix.types import EnvConfig, EnvParams, Level

#: a motorised joint "moves" when its relative angle changes by more than this many radians
MOVE_THRESHOLD = 0.01


@dataclasses.dataclass
class LevelAudit:
    """Result for one level: any NaN, the motorised joints and which of them moved, solved episodes."""

    name: str
    nan: bool
    motorised: list[int]
    moved: list[int]
    goals: int
    episodes: int

    @property
    def ok(self) -> bool:
        return not self.nan and set(self.motorised) <= set(self.moved)


def _relative_angles(sim):
    rot = jnp.concatenate([sim.polygon.rotation, sim.circle.rotation])
    j = sim.joint
    return rot[j.b_index] - rot[j.a_index]


def audit_levels(levels: dict[str, tuple[Level, EnvConfig]], steps: int = 256, seed: int = 0,
                 params: EnvParams | None = None) -> list[LevelAudit]:
    """Play every level for ``steps`` agent steps with random multi-discrete actions (no auto-reset
    of the angle record: the largest angle change within the first episode and later ones counts)."""
    check_int_range("steps", steps, 1, None)
    params = EnvParams() if params is None else params
    groups: dict[EnvConfig, list[str]] = {}
    for name, (_, cfg) in levels.items():
        groups.setdefault(dataclasses.replace(cfg, observation="symbolic_flat", action="multi_discrete"), []).append(name)
    out = {}
    for cfg, names in groups.items():
        env = KinetixEnv(cfg)
        batch = stack_levels([levels[n][0] for n in names])
        nan, moved, goals, eps = _play(env, batch, params, steps, jax.random.key(seed))
        for i, n in enumerate(names):
            j = jax.tree.map(np.asarray, levels[n][0].sim.joint)
            motorised = [k for k in range(len(j.active)) if j.active[k] and j.motor_on[k] and not j.is_fixed_joint[k]]
            out[n] = LevelAudit(n, bool(nan[i]), motorised, [k for k in motorised if moved[i, k] > MOVE_THRESHOLD],
                                int(goals[i]), int(eps[i]))
    return [out[n] for n in levels]


def _play(env, batch, params, steps, key):
    @jax.jit
    def run(batch, key):
        _, st = jax.vmap(lambda lv: env.reset(None, lv, params))(batch)
        a0 = jax.vmap(_relative_angles)(st.sim)
        n = a0.shape[0]

        def body(carry, k):
            st, nan, moved, goals, eps = carry
            acts = jax.vmap(env.sample_action)(jax.random.split(k, n))
            _, new, _, done, info = jax.vmap(lambda s, a: env.step_env(s, a, params))(st, acts)
            ang = jax.vmap(_relative_angles)(new.sim)
            moved = jnp.maximum(moved, jnp.abs(ang - a0))
            nan = nan | info["nan"]
            goals = goals + info["GoalR"]
            eps = eps + done
            _, reset = jax.vmap(lambda lv: env.reset(None, lv, params))(batch)
            st = jax.tree.map(lambda x, y: jnp.where(done.reshape((-1,) + (1,) * (x.ndim - 1)), x, y), reset, new)
            return (st, nan, moved, goals, eps), None

        init = (st, jnp.zeros(n, bool), jnp.zeros_like(a0), jnp.zeros(n, jnp.int32), jnp.zeros(n, jnp.int32))
        (st, nan, moved, goals, eps), _ = jax.lax.scan(body, init, jax.random.split(key, steps))
        return nan, moved, goals, eps

    return jax.tree.map(np.asarray, run(batch, key))
