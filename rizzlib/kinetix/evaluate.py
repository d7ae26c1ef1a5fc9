"""Solve rates: a policy plays each level ``attempts`` times (first episode only, at most
``max_timesteps`` steps); solve rate = fraction of attempts that reach the goal. Baselines: the no-op
policy and uniformly random actions, always reported beside a trained agent."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rizzlib.core.validate import check_choice, check_int_range
from rizzlib.kinetix import distributions as dist
from rizzlib.kinetix.env import KinetixEnv
from rizzlib.kinetix.ppo import cached, make_policy
from rizzlib.kinetix.types import EnvConfig, EnvParams, Level


@cached
def compiled_evaluator(env_config: EnvConfig, network, params: EnvParams, greedy: bool):
    """``run(kind, net_params, key, envs) -> (N,) solved``: one first episode per env of the batched
    levels ``envs`` (each level already repeated once per attempt), jitted (``kind`` static) once per
    settings. It depends on levels x attempts only through N, so evaluators of the same settings share
    its compiles, and so do level sets of different sizes with equal N."""
    env = KinetixEnv(env_config)
    policy = make_policy(network, env_config) if network is not None else None

    def act(kind, net_params, key, obs, n):
        if kind == "noop":
            return jnp.broadcast_to(env.noop_action(), (n,) + env.action_shape)
        if kind == "random":
            return jax.vmap(env.sample_action)(jax.random.split(key, n))
        if greedy:
            out, _ = jax.vmap(lambda o: network.apply(net_params, o))(obs)
            return jax.vmap(lambda o: dist.mode(o, env_config))(out)
        return policy(net_params, key, obs)[0]

    def run(kind, net_params, key, lv):
        n = lv.polygon_role.shape[0]
        obs, st = jax.vmap(lambda x: env.reset(None, x, params))(lv)

        def body(carry, k):
            obs, st, alive, solved = carry
            ka, ks = jax.random.split(k)
            a = act(kind, net_params, ka, obs, n)
            obs, st, _, done, info = jax.vmap(lambda s, x, kk: env.step(kk, s, x, params))(st, a, jax.random.split(ks, n))
            solved = solved | (alive & info["GoalR"])
            return (obs, st, alive & ~done, solved), None

        init = (obs, st, jnp.ones(n, bool), jnp.zeros(n, bool))
        (_, _, _, solved), _ = jax.lax.scan(body, init, jax.random.split(key, params.max_timesteps))
        return solved

    return jax.jit(run, static_argnums=0)


def make_evaluator(env: KinetixEnv, network=None, params: EnvParams | None = None, greedy: bool = False):
    """``evaluate(kind, net_params, key, levels, attempts) -> (L,) solve rates``.

    ``kind``: ``"agent"`` (sample from the network, or its mode if ``greedy``), ``"noop"``, ``"random"``.
    """
    params = EnvParams() if params is None else params
    jitted = compiled_evaluator(env.config, network, params, bool(greedy))

    def evaluate(kind: str, net_params, key, levels: Level, attempts: int = 20) -> np.ndarray:
        check_choice("kind", kind, ("agent", "noop", "random"))
        check_int_range("attempts", attempts, 1, None)
        if kind == "agent" and network is None:
            raise ValueError("kind='agent' needs the evaluator to be made with a network")
        n_levels = int(levels.polygon_role.shape[0])
        envs = jax.tree.map(lambda x: jnp.repeat(x, attempts, axis=0), levels)
        solved = np.asarray(jitted(kind, net_params, key, envs))
        return solved.reshape(n_levels, attempts).mean(axis=1, dtype=np.float32)

    return evaluate
