"""FB and FB-CPR agent: parameters, optimisers and one jitted update (spec §3.6).

``make_agent(cfg)`` returns an :class:`Agent` of pure functions: ``init(key) -> AgentState`` and
``update(state, online, segments, key) -> (state, metrics)``. One update, in order: encode expert
segments (CPR), discriminator step (CPR), mixed z and relabelling, FB step (F and B, one Adam
each), critic step (CPR), actor step, Polyak averaging.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from flax import struct

from rizzlib.fbcpr import losses
from rizzlib.fbcpr.buffer import Transitions, ZBuffer, zbuffer_add, zbuffer_init
from rizzlib.fbcpr.envs import get_env
from rizzlib.fbcpr.networks import Actor, BackwardMap, Critic, Discriminator, ForwardMap, project
from rizzlib.fbcpr.presets import FBCPRConfig

NETS = ("f", "b", "actor", "critic", "disc")


@struct.dataclass
class AgentState:
    """``params`` / ``opt`` are dicts keyed by :data:`NETS` (CPR-only nets absent for plain FB);
    ``target`` holds ``f``, ``b`` (and ``critic``); ``zbuf`` the FIFO of training z's."""

    params: dict
    target: dict
    opt: dict
    zbuf: ZBuffer
    step: jax.Array


@dataclasses.dataclass(frozen=True, eq=False)  # hashed by identity: a static jit argument
class Agent:
    """The networks and pure functions of one configuration (build once, jit ``update``)."""

    cfg: FBCPRConfig
    nets: dict
    txs: dict
    init: Callable
    update: Callable

    def backward(self, params: dict, s: jax.Array) -> jax.Array:
        """B(s): ``(n, obs_dim) -> (n, d)``, rows of norm √d."""
        return self.nets["b"].apply({"params": params["b"]}, s)

    def act(self, params: dict, s: jax.Array, z: jax.Array) -> jax.Array:
        """Deterministic mean action μ(s, z): ``(n, obs_dim), (n, d) -> (n, action_dim)``."""
        return self.nets["actor"].apply({"params": params["actor"]}, s, z)


def sample_sphere(key: jax.Array, n: int, d: int) -> jax.Array:
    """``n`` z's uniform on the sphere of radius √d: ``(n, d)``."""
    return project(jax.random.normal(key, (n, d)))


def encode_segments(backward: Callable, segments: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Trajectory encoder (spec §3.1): ``segments (m, L+1, k)`` -> states ``(m·L, k)`` o_t..o_{t+L−1}
    and their z ``(m·L, d)`` = proj(mean_l B(o_{t+l})), l = 1..L, repeated for each state."""
    m, l1, _ = segments.shape
    b = backward(segments[:, 1:].reshape(m * (l1 - 1), -1)).reshape(m, l1 - 1, -1)
    z_seg = project(b.mean(1))
    states = segments[:, :-1].reshape(m * (l1 - 1), -1)
    return states, jnp.repeat(z_seg, l1 - 1, axis=0)


def mix_z(key: jax.Array, goal_z: jax.Array, expert_z: jax.Array | None, goal_ratio: float,
          expert_ratio: float) -> jax.Array:
    """Per-row categorical mixture of goal encodings, expert encodings and uniform sphere z's.

    ``goal_z (n, d)`` are proj(B(s')) of permuted next states; ``expert_z (n, d)`` or None."""
    n, d = goal_z.shape
    ku, kc, kp = jax.random.split(key, 3)
    uniform = sample_sphere(ku, n, d)
    c = jax.random.uniform(kc, (n, 1))
    z = jnp.where(c < goal_ratio, goal_z, uniform)
    if expert_z is not None:
        perm = jax.random.permutation(kp, n)
        z = jnp.where((c >= goal_ratio) & (c < goal_ratio + expert_ratio), expert_z[perm], z)
    return z


def polyak(target, online, tau: float):
    return jax.tree.map(lambda t, o: (1.0 - tau) * t + tau * o, target, online)


def make_agent(cfg: FBCPRConfig) -> Agent:
    """Build the networks, optimisers and the ``init`` / ``update`` functions of ``cfg`` (observation
    and action sizes from ``cfg.env``)."""
    d = cfg.z_dim
    spec = get_env(cfg.env)
    OBS_DIM, ACTION_DIM = spec.obs_dim, spec.action_dim  # noqa: N806
    nets = {
        "f": ForwardMap(cfg.width, cfg.trunk, d, cfg.heads),
        "b": BackwardMap(cfg.b_width, cfg.b_layers, d),
        "actor": Actor(cfg.width, cfg.trunk, ACTION_DIM),
    }
    lrs = {"f": cfg.lr_f, "b": cfg.lr_b, "actor": cfg.lr_actor}
    if cfg.use_cpr:
        nets["critic"] = Critic(cfg.width, cfg.trunk, cfg.heads)
        nets["disc"] = Discriminator(cfg.disc_width, cfg.disc_layers)
        lrs |= {"critic": cfg.lr_critic, "disc": cfg.lr_disc}
    txs = {k: optax.adam(lr) for k, lr in lrs.items()}

    def apply(name, params, *args):
        return nets[name].apply({"params": params}, *args)

    def init(key: jax.Array) -> AgentState:
        s, a, z = jnp.zeros((1, OBS_DIM)), jnp.zeros((1, ACTION_DIM)), jnp.zeros((1, d)).at[:, 0].set(jnp.sqrt(d))
        keys = dict(zip(NETS, jax.random.split(key, len(NETS))))
        args = {"f": (s, a, z), "b": (s,), "actor": (s, z), "critic": (s, a, z), "disc": (s, z)}
        params = {k: nets[k].init(keys[k], *args[k])["params"] for k in nets}
        target = {k: params[k] for k in ("f", "b", "critic") if k in params}
        opt = {k: txs[k].init(params[k]) for k in nets}
        return AgentState(params, target, opt, zbuffer_init(cfg.zbuffer_size, d), jnp.int32(0))

    def step_opt(name, params, opt, grads):
        upd, opt = txs[name].update(grads, opt)
        return optax.apply_updates(params, upd), opt

    def update(state: AgentState, online: Transitions, segments: jax.Array | None, key: jax.Array):
        p, tgt, opt = dict(state.params), dict(state.target), dict(state.opt)
        n = online.obs.shape[0]
        k_disc, k_perm, k_mix, k_rel, k_fb, k_crit, k_act = jax.random.split(key, 7)
        metrics = {}
        discount = cfg.gamma * (1.0 - online.terminated)
        backward = lambda s: apply("b", p["b"], s)  # noqa: E731

        # ENCODE EXPERT SEGMENTS AND TRAIN THE DISCRIMINATOR
        expert_z = None
        if cfg.use_cpr:
            e_obs, expert_z = encode_segments(backward, segments)
            expert_z = jax.lax.stop_gradient(expert_z)
            u = jax.random.uniform(k_disc, (n,))

            def disc_loss(dp):
                logit = lambda x: apply("disc", dp, x[:, :OBS_DIM], x[:, OBS_DIM:])  # noqa: E731
                x_pos = jnp.concatenate([e_obs, expert_z], -1)
                x_neg = jnp.concatenate([online.obs, online.z], -1)
                lp, ln = logit(x_pos), logit(x_neg)
                gp = losses.gradient_penalty(logit, x_pos, x_neg, u)
                acc = 0.5 * (jnp.mean(lp > 0) + jnp.mean(ln < 0))
                return losses.discriminator_loss(lp, ln, gp, cfg.gp_coef), (gp, acc)

            (ld, (gp, acc)), g = jax.value_and_grad(disc_loss, has_aux=True)(p["disc"])
            p["disc"], opt["disc"] = step_opt("disc", p["disc"], opt["disc"], g)
            metrics |= {"disc_loss": ld, "disc_gp": gp, "disc_acc": acc}

        # MIXED z, PUSHED TO THE z-BUFFER; RELABEL ONLINE ROWS
        goal_z = jax.lax.stop_gradient(backward(online.next_obs[jax.random.permutation(k_perm, n)]))
        z_mix = mix_z(k_mix, goal_z, expert_z, cfg.goal_ratio, cfg.expert_ratio)
        zbuf = zbuffer_add(state.zbuf, z_mix)
        relabel = jax.random.uniform(k_rel, (n, 1)) < cfg.relabel_ratio
        z = jnp.where(relabel, z_mix, online.z)

        # FB STEP (F and B on the same loss)
        k_fb1, k_fb2 = jax.random.split(k_fb)
        a_next = losses.noisy_action(apply("actor", p["actor"], online.next_obs, z), k_fb1, cfg.actor_std,
                                     cfg.noise_clip)
        f_next_t = apply("f", tgt["f"], online.next_obs, a_next, z)  # (K, n, d)
        b_next_t = apply("b", tgt["b"], online.next_obs)
        target_m = losses.pessimism(jnp.einsum("kid,jd->kij", f_next_t, b_next_t), cfg.lam_fb)
        target_fz = jnp.einsum("kid,id->ki", f_next_t, z)

        def fb_loss(fp, bp):
            f = apply("f", fp, online.obs, online.action, z)
            b_next = apply("b", bp, online.next_obs)
            m = jnp.einsum("kid,jd->kij", f, b_next)
            l_fb = losses.fb_td_loss(m, target_m, discount)
            l_ortho = losses.ortho_loss(b_next)
            total = l_fb + cfg.ortho_coef * l_ortho
            l_q = jnp.float32(0.0)
            if cfg.q_loss_coef > 0:
                fz = jnp.einsum("kid,id->ki", f, z)
                l_q = losses.aux_q_loss(fz, target_fz, jax.lax.stop_gradient(b_next), z, discount, cfg.lam_fb)
                total = total + cfg.q_loss_coef * l_q
            diag = jnp.diagonal(m, axis1=-2, axis2=-1).mean()
            return total, (l_fb, l_ortho, l_q, diag)

        (_, (l_fb, l_ortho, l_q, diag)), (gf, gb) = jax.value_and_grad(fb_loss, argnums=(0, 1), has_aux=True)(
            p["f"], p["b"])
        p["f"], opt["f"] = step_opt("f", p["f"], opt["f"], gf)
        p["b"], opt["b"] = step_opt("b", p["b"], opt["b"], gb)
        metrics |= {"fb_loss": l_fb, "ortho_loss": l_ortho, "q_loss": l_q, "fb_diag": diag}

        # CRITIC STEP ON THE DISCRIMINATOR'S LOG-RATIO REWARD (using the just-updated D)
        k_act1 = k_act
        if cfg.use_cpr:
            r_d = losses.discriminator_reward(apply("disc", p["disc"], online.obs, z))
            a_next_c = losses.noisy_action(apply("actor", p["actor"], online.next_obs, z), k_crit, cfg.actor_std,
                                           cfg.noise_clip)
            q_next = apply("critic", tgt["critic"], online.next_obs, a_next_c, z)

            def crit_loss(cp):
                q = apply("critic", cp, online.obs, online.action, z)
                return losses.critic_loss(q, r_d, q_next, discount, cfg.lam_critic)

            lc, g = jax.value_and_grad(crit_loss)(p["critic"])
            p["critic"], opt["critic"] = step_opt("critic", p["critic"], opt["critic"], g)
            metrics |= {"critic_loss": lc, "r_disc": r_d.mean()}

        # ACTOR STEP
        def act_loss(ap):
            a = losses.noisy_action(apply("actor", ap, online.obs, z), k_act1, cfg.actor_std, cfg.noise_clip)
            q_fb = jnp.einsum("kid,id->ki", apply("f", p["f"], online.obs, a, z), z)
            q_reg = apply("critic", p["critic"], online.obs, a, z) if cfg.use_cpr else None
            loss = losses.actor_loss(q_fb, q_reg, cfg.alpha, cfg.scale_reg, cfg.lam_actor)
            return loss, (losses.pessimism(q_fb, cfg.lam_actor).mean(),
                          jnp.float32(0.0) if q_reg is None else losses.pessimism(q_reg, cfg.lam_actor).mean())

        (la, (qf, qr)), g = jax.value_and_grad(act_loss, has_aux=True)(p["actor"])
        p["actor"], opt["actor"] = step_opt("actor", p["actor"], opt["actor"], g)
        metrics |= {"actor_loss": la, "q_fb": qf, "q_reg": qr}

        # POLYAK
        tgt["f"] = polyak(tgt["f"], p["f"], cfg.tau_fb)
        tgt["b"] = polyak(tgt["b"], p["b"], cfg.tau_fb)
        if cfg.use_cpr:
            tgt["critic"] = polyak(tgt["critic"], p["critic"], cfg.tau_critic)
        return AgentState(p, tgt, opt, zbuf, state.step + 1), metrics

    return Agent(cfg, nets, txs, init, update)
