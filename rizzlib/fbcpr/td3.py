"""Per-task TD3 oracle (Fujimoto et al. 2018) on the point mass, for normalising zero-shot returns.

Same env, starts and replay as FB-CPR, but trained on one task's reward r(s'). Twin critics with
clipped double-Q targets, target-policy smoothing (σ = 0.2, clip 0.3), actor and target updates
every ``policy_every`` critic updates, exploration noise 0.2. Loop: one jitted scan of
(collect ``env_steps_per_iter`` steps of ``n_envs`` envs, then ``updates_per_iter`` updates).
"""

from __future__ import annotations

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from rizzlib.fbcpr import tasks
from rizzlib.fbcpr.buffer import Transitions, replay_add, replay_init, replay_sample
from rizzlib.fbcpr.envs import get_env
from rizzlib.fbcpr.train import run_in_chunks


@dataclasses.dataclass(frozen=True)
class TD3Config:
    """Budget and hyper-parameters of one TD3 run (defaults of the TD3 paper, smaller nets)."""

    task: str = "reach-room-3"
    env: str = "pointmass"
    init: str = "fixed"
    episode_len: int = 200
    width: int = 256
    batch: int = 256
    gamma: float = 0.99
    lr: float = 3e-4
    tau: float = 0.005
    n_envs: int = 32
    env_steps_per_iter: int = 8
    updates_per_iter: int = 16
    n_updates: int = 10_000
    random_iters: int = 40
    buffer_size: int = 200_000
    expl_std: float = 0.2
    target_std: float = 0.2
    noise_clip: float = 0.3
    policy_every: int = 2
    seed: int = 0

    def __post_init__(self):
        from rizzlib.core.validate import check_choice, check_int_range, check_range

        check_choice("env", self.env, ("pointmass", "walker"))
        check_choice("task", self.task, get_env(self.env).reward_tasks)
        check_choice("init", self.init, tasks.INITS)
        for name in ("episode_len", "width", "batch", "n_envs", "env_steps_per_iter", "updates_per_iter",
                     "n_updates", "buffer_size", "policy_every"):
            check_int_range(name, getattr(self, name), 1)
        check_int_range("random_iters", self.random_iters, 0)
        check_range("gamma", self.gamma, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
        check_range("lr", self.lr, 0.0, 1.0, low_inclusive=False)
        check_range("tau", self.tau, 0.0, 1.0)


class MLP(nn.Module):
    width: int
    out: int

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(self.width)(x))
        x = nn.relu(nn.Dense(self.width)(x))
        return nn.Dense(self.out)(x)


def make_td3(cfg: TD3Config, data_obs=None):
    """``(init(key, task_index) -> state, run(state, n_iters) -> (state, metrics), policy(params, obs) -> a)``.

    The task is an index into the env's reward tasks carried in the state (traced), so one
    compiled loop serves every task of the suite; ``cfg.task`` only sets the default."""
    spec = get_env(cfg.env)
    actor, critic = MLP(cfg.width, spec.action_dim), MLP(cfg.width, 1)
    tx_a, tx_c = optax.adam(cfg.lr), optax.adam(cfg.lr)
    reward_fns = [spec.reward_fn(t) for t in spec.reward_tasks]
    data_obs = None if data_obs is None else jnp.asarray(data_obs)
    n_env = cfg.n_envs

    def policy(pa, s):
        return jnp.tanh(actor.apply({"params": pa}, s))

    def q2(pc, s, a):
        return jax.vmap(lambda p: critic.apply({"params": p}, jnp.concatenate([s, a], -1))[..., 0])(pc)

    @jax.jit
    def init_jit(key, task_index):
        ka, kc, ks, key = jax.random.split(key, 4)
        pa = actor.init(ka, jnp.zeros((1, spec.obs_dim)))["params"]
        pc = jax.vmap(lambda k: critic.init(k, jnp.zeros((1, spec.obs_dim + spec.action_dim)))["params"])(
            jax.random.split(kc, 2))
        return {"actor": pa, "critic": pc, "t_actor": pa, "t_critic": pc, "opt_a": tx_a.init(pa),
                "opt_c": tx_c.init(pc), "replay": replay_init(cfg.buffer_size, spec.obs_dim, spec.action_dim, 1),
                "s": spec.reset(ks, n_env, cfg.init, data_obs), "t": jnp.zeros(n_env, jnp.int32),
                "it": jnp.int32(0), "n_upd": jnp.int32(0), "key": key, "task": task_index}

    def init(key, task_index=None):
        """The start of a run on reward task ``task_index`` (default ``cfg.task``), built under one jit."""
        from rizzlib.core.validate import check_int_range

        task_index = spec.reward_tasks.index(cfg.task) if task_index is None else task_index
        check_int_range("task_index", task_index, 0, len(spec.reward_tasks) - 1)
        return init_jit(key, jnp.int32(task_index))

    def update(st, key):
        kb, kn = jax.random.split(key)
        b = replay_sample(st["replay"], kb, cfg.batch)
        noise = jnp.clip(cfg.target_std * jax.random.normal(kn, b.action.shape), -cfg.noise_clip, cfg.noise_clip)
        a2 = jnp.clip(policy(st["t_actor"], b.next_obs) + noise, -1.0, 1.0)
        r = jax.lax.switch(st["task"], reward_fns, b.next_obs)
        y = r + cfg.gamma * (1 - b.terminated) * q2(st["t_critic"], b.next_obs, a2).min(0)
        lc, gc = jax.value_and_grad(lambda pc: jnp.mean((q2(pc, b.obs, b.action) - y) ** 2))(st["critic"])
        upd, opt_c = tx_c.update(gc, st["opt_c"])
        pc = optax.apply_updates(st["critic"], upd)
        la, ga = jax.value_and_grad(lambda pa: -jnp.mean(q2(pc, b.obs, policy(pa, b.obs))[0]))(st["actor"])
        upd, opt_a = tx_a.update(ga, st["opt_a"])
        do_pol = st["n_upd"] % cfg.policy_every == 0
        pa = jax.tree.map(lambda new, old: jnp.where(do_pol, new, old), optax.apply_updates(st["actor"], upd),
                          st["actor"])
        opt_a = jax.tree.map(lambda new, old: jnp.where(do_pol, new, old), opt_a, st["opt_a"])
        soft = lambda t, o: jax.tree.map(lambda a, b: jnp.where(do_pol, (1 - cfg.tau) * a + cfg.tau * b, a), t, o)  # noqa: E731
        st = st | {"actor": pa, "critic": pc, "opt_a": opt_a, "opt_c": opt_c, "n_upd": st["n_upd"] + 1,
                   "t_actor": soft(st["t_actor"], pa), "t_critic": soft(st["t_critic"], pc)}
        return st, {"critic_loss": lc, "actor_loss": la}

    def env_step(st, key, random_phase):
        ka, kr = jax.random.split(key)
        s = st["s"]
        o = spec.observe(s)
        na = spec.action_dim
        a = jnp.clip(policy(st["actor"], o) + cfg.expl_std * jax.random.normal(ka, (n_env, na)), -1.0, 1.0)
        a = jnp.where(random_phase, jax.random.uniform(ka, (n_env, na), minval=-1.0, maxval=1.0), a)
        s2 = spec.step(s, a)
        t2 = st["t"] + 1
        done = t2 >= cfg.episode_len
        s_next = jnp.where(done[:, None], spec.reset(kr, n_env, cfg.init, data_obs), s2)
        tr = Transitions(o, a, spec.observe(s2), jnp.zeros((n_env, 1)), jnp.zeros(n_env))
        return st | {"s": s_next, "t": jnp.where(done, 0, t2)}, tr

    def iteration(st, _):
        key, kc, ku = jax.random.split(st["key"], 3)
        random_phase = st["it"] < cfg.random_iters
        st, trs = jax.lax.scan(lambda c, k: env_step(c, k, random_phase), st,
                               jax.random.split(kc, cfg.env_steps_per_iter))
        st = st | {"replay": replay_add(st["replay"], jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), trs))}

        def do(c):
            c, m = jax.lax.scan(update, c, jax.random.split(ku, cfg.updates_per_iter))
            return c, jax.tree.map(jnp.mean, m)

        def skip(c):
            return c, jax.tree.map(lambda x: jnp.full(x.shape, jnp.nan, x.dtype), jax.eval_shape(do, c)[1])

        st, m = jax.lax.cond(random_phase, skip, do, st)
        return st | {"it": st["it"] + 1, "key": key}, m

    run = jax.jit(lambda st, n: jax.lax.scan(iteration, st, None, length=n), static_argnums=1)
    return init, run, jax.jit(policy)


def train_td3(cfg: TD3Config, data_obs=None, chunk: int = 25, progress: bool = False, fns=None):
    """Train one TD3 oracle on ``cfg.task``; returns ``(actor_params, policy_fn, history)``.
    ``fns``: the ``make_td3`` triple of an earlier call with the same config up to ``task``/``seed``
    (reuses the compiled loop)."""
    init, run, policy = make_td3(cfg, data_obs) if fns is None else fns
    st = init(jax.random.key(cfg.seed), get_env(cfg.env).reward_tasks.index(cfg.task))
    total = cfg.random_iters + -(-cfg.n_updates // cfg.updates_per_iter)
    st, m, _ = run_in_chunks(run, st, total, chunk, f"td3 {cfg.task}", progress)
    return st["actor"], policy, {k: v[cfg.random_iters:] for k, v in m.items()}


def td3_return(policy, actor_params, task: str, starts, horizon: int = 200, env_name: str = "pointmass") -> float:
    """Mean undiscounted return of the deterministic TD3 policy from ``starts (N, state_dim)``."""
    obs = _rollout_obs(policy, actor_params, jnp.asarray(starts), horizon, env_name)
    return float(get_env(env_name).reward_fn(task)(obs).sum(0).mean())


@functools.partial(jax.jit, static_argnums=(0, 3, 4))
def _rollout_obs(policy, actor_params, starts, horizon: int, env_name: str):
    """Observations ``(horizon, N, obs_dim)`` after each step of the deterministic policy (one compile
    per policy function, horizon and env: every task of a suite shares it)."""
    spec = get_env(env_name)

    def body(s, _):
        s2 = spec.step(s, policy(actor_params, spec.observe(s)))
        return s2, spec.observe(s2)

    return jax.lax.scan(body, starts, None, length=horizon)[1]
