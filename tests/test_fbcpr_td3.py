"""The per-task TD3 oracle *learns*: on a short-horizon point-mass task whose optimal return is known
in closed form, trained TD3 reaches it, from a policy (untrained, or trained on another reward) far
below it; the same seed gives the same actor bit for bit."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rizzlib.fbcpr import env, tasks, td3

H = 8  # steps per episode: from room 1's start box no wall can be reached in 8 steps (see below)
DIRS = {"move-E": (1.0, 0.0), "move-N": (0.0, 1.0), "move-W": (-1.0, 0.0), "move-S": (0.0, -1.0)}


def optimal_move_return(h: int) -> float:
    """Best return of move-<dir> over ``h`` steps from rest: r_t = clip(v_t / 0.5, 0, 1) is increasing
    in the speed v_t along the direction, and pushing with force 1 along it at every step gives the
    largest v_t = V_MAX (1 − 0.9^t) at every t at once (v_t is a positive combination of the forces,
    and a wall only zeroes a velocity). So the optimum is Σ_t min(1, V_MAX (1 − 0.9^t) / 0.5) as long
    as no wall is met, which from room 1's start box takes more than 8 steps in every direction."""
    v = env.V_MAX * (1.0 - env.DAMPING ** np.arange(1, h + 1))
    return float(np.minimum(1.0, v / 0.5).sum())


def _starts(n=64, seed=7):
    return tasks.sample_starts(jax.random.key(seed), n, "fixed")


@functools.partial(jax.jit, static_argnums=0)
def _returns_of_actions(task, starts, actions):
    """Return of each open-loop sequence ``actions (H, N, 2)`` from ``starts (N, 4)``: ``(N,)``."""
    traj = env.rollout(starts, actions)
    return tasks.reward_fn(task)(traj[1:]).sum(0)


def _return_of_actions(task, starts, actions):
    return float(_returns_of_actions(task, jnp.asarray(starts), jnp.asarray(actions, jnp.float32)).mean())


@pytest.mark.parametrize("task", list(DIRS))
def test_closed_form_optimum_is_reached_by_full_force_and_never_beaten(task):
    starts = _starts()
    opt = optimal_move_return(H)
    assert opt == pytest.approx(0.2 + 0.38 + 0.542 + 0.6878 + 0.81902 + 0.937118 + 2.0, abs=1e-5)
    push = np.broadcast_to(np.asarray(DIRS[task], np.float32), (H, starts.shape[0], 2))
    assert _return_of_actions(task, starts, push) == pytest.approx(opt, abs=1e-4)
    traj = np.asarray(env.rollout(starts, jnp.asarray(push)))
    assert np.all(np.abs(traj[..., 2:]).max(-1)[1:] > 0)  # never stopped by a wall
    rng = np.random.default_rng(0)  # 2,000 random open-loop sequences, biased toward the direction
    n = 2000
    a = rng.normal(size=(H, n, 2)) * rng.uniform(0.1, 1.0, (1, n, 1)) + np.asarray(DIRS[task]) * rng.uniform(0, 1, (1, n, 1))
    a = np.clip(a, -1, 1).astype(np.float32)
    many = np.asarray(_returns_of_actions(task, jnp.repeat(starts, n // starts.shape[0] + 1, 0)[:n], jnp.asarray(a)))
    assert many.max() <= opt + 1e-5 and many.max() > 0.8 * opt  # the search came close, never above


CFG = td3.TD3Config(task="move-E", width=32, batch=128, n_envs=8, env_steps_per_iter=H, updates_per_iter=16,
                    n_updates=800, random_iters=4, buffer_size=20_000, episode_len=H, lr=1e-3, seed=0)


CHUNK = CFG.random_iters + CFG.n_updates // CFG.updates_per_iter  # the whole run in one jitted call


@pytest.fixture(scope="module")
def fns():
    return td3.make_td3(CFG)


@pytest.fixture(scope="module")
def trained(fns):
    """``{task: (actor_params, history)}`` for move-E and move-N (seed 0, one shared compile)."""
    out = {}
    for task in ("move-E", "move-N"):
        pa, pol, hist = td3.train_td3(dataclasses.replace(CFG, task=task), fns=fns, chunk=CHUNK)
        assert pol is fns[2]
        out[task] = (pa, hist)
    return out


def test_td3_learns_the_optimal_policy_of_its_reward(fns, trained):
    """TD3 (800 updates, seconds after a one-off compile) reaches >= 0.95 of the optimal return on
    move-E and on move-N from room 1, though the untrained actor and uniform random actions get < 0.25
    of it and a policy trained on one direction gets < 0.05 of it on the opposite direction."""
    starts, opt = _starts(), optimal_move_return(H)
    init, _, policy = fns
    untrained = init(jax.random.key(CFG.seed))["actor"]
    rng = np.random.default_rng(1)
    for task, opposite in (("move-E", "move-W"), ("move-N", "move-S")):
        pa, hist = trained[task]
        assert np.all(np.isfinite(hist["critic_loss"])) and hist["critic_loss"].shape == (CHUNK - CFG.random_iters,)
        assert td3.td3_return(policy, pa, task, starts, H) >= 0.95 * opt
        assert td3.td3_return(policy, pa, opposite, starts, H) < 0.05 * opt
        assert td3.td3_return(policy, untrained, task, starts, H) < 0.25 * opt
        rand = rng.uniform(-1, 1, (H, starts.shape[0], 2))
        assert _return_of_actions(task, starts, rand) < 0.25 * opt


def test_td3_same_seed_same_actor_bit_for_bit(fns, trained):
    a1, h1 = trained["move-E"]
    a2, _, h2 = td3.train_td3(CFG, fns=fns, chunk=CHUNK)
    a3, _, _ = td3.train_td3(dataclasses.replace(CFG, seed=1), fns=fns, chunk=CHUNK)
    for x, y in zip(jax.tree.leaves(a1), jax.tree.leaves(a2)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    np.testing.assert_array_equal(h1["critic_loss"], h2["critic_loss"])
    assert any(not np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(jax.tree.leaves(a1), jax.tree.leaves(a3)))


def test_td3_rejects_a_task_index_out_of_range(fns):
    init, _, _ = fns
    with pytest.raises(ValueError, match="task_index"):
        init(jax.random.key(0), len(tasks.REWARD_TASKS))
