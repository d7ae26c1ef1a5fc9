"""The timing harness of ``benchmarks/env.py``, and its peer side: ``kinetix-env`` 3.0.2 in its own venv.

``kinetix-env`` 3.0.2 pins ``jax <= 0.9`` and ``jax2d == 1.0.1``, older than this project's JAX, so
``env.py`` runs it in a second virtual environment by starting this file there as a subprocess. The
two processes then take turns: ``env.py`` sends one JSON command per line on stdin, this worker
answers one JSON object per line on stdout (its log goes to stderr)::

    {"op": "hello"}                                   -> versions of kinetix-env, jax, jax2d
    {"op": "env", "level": "s/h2_one_wheel_car", "batch": 256, "steps": 32, "seed": 0}
                                                      -> {"id", "compile_s", "finite"}
    {"op": "ppo", "level": ..., "model": {...}, "ppo": {...}, "seed": 0}
                                                      -> {"id", "compile_s", "params", "env_steps"}
    {"op": "run", "id": 3}                            -> {"s": seconds of one run}
    {"op": "drop", "id": 3} / {"op": "quit"}

Everything above the ``# peer`` line imports only numpy at module level (jax lazily), so ``env.py``
imports this file for the shared pieces: the random actions and keys (numpy, so both processes draw
the same ones) and :class:`EnvRollout`, the one rollout that times both environments.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

#: the multi-discrete action of a Kinetix env: 4 motor channels in {0 off, 1 +1, 2 -1}, 2 thrusters in {0, 1}
ACTION_SIZES = (3, 3, 3, 3, 2, 2)


def random_actions(seed: int, steps: int, batch: int) -> np.ndarray:
    """(steps, batch, 6) int32 uniform multi-discrete actions, the same in every process for a seed."""
    rng = np.random.default_rng([seed, 1])
    return rng.integers(0, np.asarray(ACTION_SIZES), size=(steps, batch, len(ACTION_SIZES))).astype(np.int32)


def random_keys(seed: int, steps: int, batch: int) -> np.ndarray:
    """(steps, batch, 2) uint32 raw threefry keys (what ``jax.random.PRNGKey`` returns), one per env step."""
    rng = np.random.default_rng([seed, 2])
    return rng.integers(0, 2**32, size=(steps, batch, 2), dtype=np.uint32)


def best_timed_seconds(runs: dict, repeats: int, warmup_s: float, min_s: float) -> dict[str, float]:
    """``rizzlib.core.timing.best_run_seconds``'s rule when each run *reports* its own duration.

    ``runs``: name -> function of no arguments that does one run and returns its wall time (s),
    measured where the work happens (the peer's in its own process, without the pipe's round trip).
    The shared rule is applied on a clock that advances by exactly the reported durations.
    """
    from rizzlib.core.timing import best_run_seconds

    elapsed = [0.0]

    def clock() -> float:
        return elapsed[0]

    def counted(f):
        def run():
            elapsed[0] += f()
        return run

    return best_run_seconds({k: counted(f) for k, f in runs.items()}, repeats=repeats, warmup_s=warmup_s,
                            min_s=min_s, clock=clock)


class EnvRollout:
    """``steps`` env steps of ``batch`` copies of one level, ``lax.scan``ned inside one ``jit``.

    ``step(key, state, action, extra) -> (obs, state, reward, done)`` is one env's step with auto-reset;
    it is vmapped over the batch (``extra``: per-env data such as the level to reset to, batched like
    ``state``). The actions and keys are drawn up front (:func:`random_actions`, :func:`random_keys`),
    so both environments get the same ones and neither times its random number generator. The scan
    carries the observation and sums the rewards and dones, so XLA cannot drop the observation or
    reward code as unused.

    Construction compiles and runs the rollout once from the level's reset; the timed runs then all
    start from where that run ended (``steps`` random steps into an episode), so they see moving
    bodies rather than a scene at rest.
    """

    def __init__(self, step, state, obs, extra, batch: int, steps: int, seed: int = 0):
        import jax
        import jax.numpy as jnp

        self.batch, self.steps = batch, steps
        # numpy copies: strongly typed inputs, so the scan's output carry has the input's types and the
        # timed runs (fed that output) reuse the compiled rollout instead of compiling it again
        rep = lambda t: jax.tree.map(lambda x: np.repeat(np.asarray(x)[None], batch, axis=0), t)  # noqa: E731
        keys = jnp.asarray(random_keys(seed, steps, batch))
        actions = jnp.asarray(random_actions(seed, steps, batch))
        extra = rep(extra)

        @jax.jit
        def roll(st, ob):
            def body(carry, x):
                st, ob, ret, ends = carry
                k, a = x
                ob, st, r, d = jax.vmap(step)(k, st, a, extra)
                return (st, ob, ret + r, ends + d.astype(jnp.int32)), None

            zero = jnp.zeros((batch,), jnp.float32)
            return jax.lax.scan(body, (st, ob, zero, jnp.zeros((batch,), jnp.int32)), (keys, actions))[0]

        self.roll = roll
        t0 = time.perf_counter()
        out = jax.block_until_ready(roll(rep(state), rep(obs)))
        self.compile_s = time.perf_counter() - t0
        self.start = out[:2]
        floats = [np.asarray(x) for x in jax.tree.leaves(out) if np.asarray(x).dtype.kind == "f"]
        self.finite = bool(all(np.isfinite(x).all() for x in floats))
        self.episodes = int(np.asarray(out[3]).sum())

    def __call__(self) -> float:
        """One rollout from ``self.start``; its wall time in seconds."""
        import jax

        t0 = time.perf_counter()
        jax.block_until_ready(self.roll(*self.start))
        return time.perf_counter() - t0


class Compiled:
    """A compiled function of fixed arguments, timed one call at a time (PPO updates)."""

    def __init__(self, fn, *args):
        import jax

        self.fn, self.args = fn, args
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn(*args))
        self.compile_s = time.perf_counter() - t0
        floats = [np.asarray(x) for x in jax.tree.leaves(out) if np.asarray(x).dtype.kind == "f"]
        self.finite = bool(all(np.isfinite(x).all() for x in floats))

    def __call__(self) -> float:
        import jax

        t0 = time.perf_counter()
        jax.block_until_ready(self.fn(*self.args))
        return time.perf_counter() - t0


def peer_model_config(model: dict) -> dict:
    """kinetix-env's transformer settings for our ``ModelConfig`` fields (``configs/model/model-transformer.yaml``
    of the Kinetix repository, sizes replaced by ours)."""
    return {
        "transformer_depth": model["depth"], "transformer_size": model["qkv"],
        "transformer_encoder_size": model["embed"], "num_heads": model["heads"],
        "full_attention_mask": False, "aggregate_mode": "dummy_and_mean", "transformer_ffn": False,
        "multilayer_joint_thruster_mixing": False, "joint_thruster_block_num_layers": 2,
        "joint_thruster_block_hidden_dim_multiplication": 4, "dropout_prob": 0.0, "legacy_entity_id": False,
        "actor_depth": model["mlp_depth"], "critic_depth": model["mlp_depth"], "actor_width": model["mlp_width"],
        "critic_width": model["mlp_width"], "activation": "tanh", "recurrent_model": False,
    }


# ---------------------------------------------------------------------------------------------
# peer: everything below runs in the kinetix-env venv only
# ---------------------------------------------------------------------------------------------


def load_peer_level(name: str):
    """(level EnvState, StaticEnvParams, EnvParams) from kinetix-env's own loader and its shipped JSON."""
    from kinetix.util import load_from_json_file

    return load_from_json_file(name + ".json")


def make_peer_env(static_env_params, env_params):
    """kinetix-env's env with the settings ``env.py`` matches ours to: symbolic entity observations,
    multi-discrete actions, the level's own StaticEnvParams (frame_skip 2 in every shipped level) and
    EnvParams (dense_reward_scale 0.1, max_timesteps 256), auto-reset on."""
    from kinetix.environment import ActionType, ObservationType, make_kinetix_env

    return make_kinetix_env(action_type=ActionType.MULTI_DISCRETE, observation_type=ObservationType.SYMBOLIC_ENTITY,
                            reset_fn=None, env_params=env_params, static_env_params=static_env_params)


def build_peer_env(level_name: str, batch: int, steps: int, seed: int) -> EnvRollout:
    level, sep, ep = load_peer_level(level_name)
    env = make_peer_env(sep, ep)

    def step(key, state, action, reset_to):
        obs, st, r, d, _ = env.step(key, state, action, ep, reset_to)
        return obs, st, r, d

    obs, state = env.reset(np.zeros(2, np.uint32), ep, level)
    return EnvRollout(step, state, obs, level, batch, steps, seed)


def build_peer_ppo(level_name: str, model: dict, ppo: dict, seed: int):
    """One PPO update of kinetix-env's own ``kinetix.util.learning.sample_trajectories_and_learn`` (the
    rollout + GAE + epochs x minibatches function their ``experiments/sfl.py`` calls), jitted once,
    with their ``ActorCriticTransformer`` from ``make_network_from_config``."""
    import jax
    import jax.numpy as jnp
    import optax
    from flax.training.train_state import TrainState
    from kinetix.environment import ActionType, ObservationType
    from kinetix.models import ScannedRNN, make_network_from_config
    from kinetix.util.learning import sample_trajectories_and_learn

    if not hasattr(jax.tree, "tree_map"):  # kinetix-env 3.0.2's learning.py calls it; jax 0.9, which it pins, lacks it
        jax.tree.tree_map = jax.tree_util.tree_map
    level, sep, ep = load_peer_level(level_name)
    env = make_peer_env(sep, ep)
    n = ppo["num_envs"]
    config = {
        "action_type": ActionType.MULTI_DISCRETE, "observation_type": ObservationType.SYMBOLIC_ENTITY,
        "static_env_params": {"num_motor_bindings": sep.num_motor_bindings,
                              "num_thruster_bindings": sep.num_thruster_bindings},
        "permutation_invariant_mlp": False, **peer_model_config(model),
        "num_train_envs": n, "num_steps": ppo["num_steps"], "outer_rollout_steps": 1,
        "num_minibatches": ppo["num_minibatches"], "update_epochs": ppo["update_epochs"], "gamma": ppo["gamma"],
        "gae_lambda": ppo["gae_lambda"], "clip_eps": ppo["clip_eps"], "ent_coef": ppo["ent_coef"],
        "vf_coef": ppo["vf_coef"],
    }
    network = make_network_from_config(env, ep, config)
    levels = jax.tree.map(lambda x: jnp.repeat(jnp.asarray(x)[None], n, axis=0), level)
    obs, states = jax.vmap(env.reset, (0, None, 0))(jax.random.split(jax.random.PRNGKey(seed), n), ep, levels)
    hstate = ScannedRNN.initialize_carry(n)
    init_x = jax.tree.map(lambda x: x[None, ...], (obs, jnp.zeros((n,), bool)))
    params = network.init(jax.random.PRNGKey(seed), hstate, init_x)
    tx = optax.chain(optax.clip_by_global_norm(ppo["max_grad_norm"]), optax.adam(ppo["lr"], eps=1e-5))
    ts = TrainState.create(apply_fn=network.apply, params=params, tx=tx)

    @jax.jit
    def update(rng, ts, obs, states):
        (rng, ts, *_), _ = sample_trajectories_and_learn(env, ep, config, rng, ts, hstate, obs, states)
        return ts.params

    count = int(sum(np.prod(np.shape(x)) for x in jax.tree.leaves(params)))
    return Compiled(update, jax.random.PRNGKey(seed + 1), ts, obs, states), count


def versions() -> dict:
    import importlib.metadata

    import jax

    v = {p: importlib.metadata.version(p) for p in ("kinetix-env", "jax", "jax2d", "flax")}
    return {**v, "backend": jax.default_backend(), "python": sys.version.split()[0]}


def serve(stdin=sys.stdin, stdout=sys.stdout) -> None:
    """Answer ``env.py``'s commands until ``quit`` or end of input."""
    made: dict[int, object] = {}
    for line in stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        try:
            if op == "quit":
                break
            if op == "hello":
                out = versions()
            elif op == "env":
                r = build_peer_env(cmd["level"], cmd["batch"], cmd["steps"], cmd.get("seed", 0))
                made[len(made)] = r
                out = {"id": len(made) - 1, "compile_s": r.compile_s, "finite": r.finite, "episodes": r.episodes}
            elif op == "ppo":
                r, count = build_peer_ppo(cmd["level"], cmd["model"], cmd["ppo"], cmd.get("seed", 0))
                made[len(made)] = r
                out = {"id": len(made) - 1, "compile_s": r.compile_s, "finite": r.finite, "params": count,
                       "env_steps": cmd["ppo"]["num_envs"] * cmd["ppo"]["num_steps"]}
            elif op == "run":
                out = {"s": made[cmd["id"]]()}
            elif op == "drop":
                made[cmd["id"]] = None
                out = {}
            else:
                raise ValueError(f"unknown op {op!r}")
        except Exception as e:  # report, keep serving: env.py decides
            out = {"error": f"{type(e).__name__}: {e}"}
        stdout.write(json.dumps(out, allow_nan=True) + "\n")
        stdout.flush()


if __name__ == "__main__":
    serve()
