"""Solve rates: a policy plays each level ``attempts`` times (first episode only, at most
``max_timesteps`` steps); solve rate = fraction of attempts that reach the goal. Baselines: the no-op
policy and uniformly random actions, always reported beside a trained agent. The compiled rollout
(:func:`compiled_rollout`) also counts goals and episodes with auto-reset: SFL's scorer runs it too."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rizzlib.core.validate import check_choice, check_int_range
from rizzlib.kinetix import distributions as dist
from rizzlib.kinetix.ahead import jit
from rizzlib.kinetix.env import KinetixEnv
from rizzlib.kinetix.ppo import cached, make_policy
from rizzlib.kinetix.types import EnvConfig, EnvParams, Level


@cached
def compiled_rollout(env_config: EnvConfig, network, params: EnvParams, greedy: bool, steps: int):
    """``run(kind, net_params, key, envs) -> (solved, goals, episodes)``, each (N,): every env of the
    batched levels ``envs`` plays ``steps`` agent steps with auto-reset; ``solved``: its first episode
    reached the goal; ``goals`` / ``episodes``: goals reached and episodes finished over all steps.
    Jitted (``kind`` static) once per settings, as the ``"evaluator"`` program of
    :mod:`rizzlib.kinetix.ahead`. It depends on levels x attempts only through N, so the evaluator,
    SFL's scorer (:func:`rizzlib.kinetix.sfl.make_success_rate`) and level sets of different sizes
    with equal N and steps share its compiles."""
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
            obs, st, alive, solved, goals, eps = carry
            ka, ks = jax.random.split(k)
            a = act(kind, net_params, ka, obs, n)
            obs, st, _, done, info = jax.vmap(lambda s, x, kk: env.step(kk, s, x, params))(st, a, jax.random.split(ks, n))
            solved = solved | (alive & info["GoalR"])
            return (obs, st, alive & ~done, solved, goals + info["GoalR"], eps + done), None

        zeros = jnp.zeros(n, jnp.int32)
        init = (obs, st, jnp.ones(n, bool), jnp.zeros(n, bool), zeros, zeros)
        (_, _, _, solved, goals, eps), _ = jax.lax.scan(body, init, jax.random.split(key, steps))
        return solved, goals, eps

    return jit(run, program="evaluator", static_argnums=0)


@cached
def compiled_evaluator(env_config: EnvConfig, network, params: EnvParams, greedy: bool):
    """The :func:`compiled_rollout` of first episodes: ``params.max_timesteps`` steps (no episode is
    longer), so ``solved`` is the first episode's outcome."""
    return compiled_rollout(env_config, network, params, bool(greedy), int(params.max_timesteps))


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
        # numpy: an eager jnp.repeat would compile a small program per leaf shape
        envs = jax.tree.map(lambda x: np.repeat(np.asarray(x), attempts, axis=0), levels)
        solved = np.asarray(jitted(kind, net_params, key, envs)[0])
        return solved.reshape(n_levels, attempts).mean(axis=1, dtype=np.float32)

    return evaluate
