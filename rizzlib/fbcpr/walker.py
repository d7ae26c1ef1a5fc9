"""A planar MuJoCo biped for the ``gpu`` preset (spec §5.2, route B: MJX, the whole loop in JAX).

Why MJX and not ``dm-control``: the training loop steps its environments inside one ``jit``-ed
``lax.scan`` (the PureJaxRL habit the chapter follows), which a C simulator in worker processes
cannot join; ``mujoco-mjx`` runs the MuJoCo physics as JAX functions that ``vmap`` over 256+
environments on one GPU. ``dm-control`` would also pull in an OpenGL stack and ``labmaze``.

The body is written here (not copied from DeepMind Control) in the spirit of the DMC walker: a
capsule torso on planar root joints (``rootz`` slide, ``rootx`` slide, ``rooty`` hinge) and two
legs of thigh, shin and foot (hip, knee and ankle hinges), six torque motors, a 2.5 ms physics step
and 10 sub-steps per control step (40 Hz control, as DMC's 0.025 s).

State ``(qpos (9), qvel (9))`` flat ``(18,)``. Observation ``(17,)``: ``qpos`` without ``rootx``
(the walker is translation-invariant along x) then ``qvel``. Unlike DMC's 24-D observation
(orientations, height, velocities), ours maps back to a physics state, so dataset observations can
be used as start states (the ``data`` regime) and every reward is a function of the next
observation, with no simulator relabelling.
"""

from __future__ import annotations

import functools

import numpy as np

from rizzlib.core.extras import require_extra

require_extra(__name__, "fbcpr", modules=["mujoco"])

NQ = NV = 9
STATE_DIM = NQ + NV
OBS_DIM = NQ - 1 + NV
ACTION_DIM = 6
N_SUBSTEPS = 10
TORSO_HEIGHT = 1.3  # height of the torso's centre when standing (rootz = 0)
# observation indices
I_ROOTZ, I_ROOTY, I_VZ, I_VX, I_WY = 0, 1, 8, 9, 10
REWARD_TASKS = ("stand", "walk", "run", "walk-backward", "flip")
POSE = slice(1, 8)  # pitch and the six joint angles (radians): the "pose" part of an observation
GOAL_BOUND = 0.5  # goal success: pose distance (radians, L2 over POSE) below this at least once
GOAL_MARGIN = 0.5  # goal proximity falls linearly from 1 at GOAL_BOUND to 0 at GOAL_BOUND + GOAL_MARGIN

XML = """
<mujoco model="rizzlib_planar_walker">
  <compiler angle="radian"/>
  <option timestep="0.0025"/>
  <default>
    <joint damping="0.1" armature="0.01" limited="true"/>
    <geom contype="1" conaffinity="0" friction="0.7 0.1 0.1"/>
    <motor ctrlrange="-1 1" ctrllimited="true"/>
  </default>
  <worldbody>
    <geom name="floor" type="plane" size="0 0 0.25" conaffinity="1" contype="0"/>
    <body name="torso" pos="0 0 1.3">
      <joint name="rootz" type="slide" axis="0 0 1" limited="false" armature="0" damping="0"/>
      <joint name="rootx" type="slide" axis="1 0 0" limited="false" armature="0" damping="0"/>
      <joint name="rooty" type="hinge" axis="0 1 0" limited="false" armature="0" damping="0"/>
      <geom name="torso" type="capsule" size="0.07" fromto="0 0 -0.3 0 0 0.3" mass="10"/>
      <body name="r_thigh" pos="0 -0.05 -0.3">
        <joint name="r_hip" type="hinge" axis="0 -1 0" range="-0.35 2.6"/>
        <geom type="capsule" size="0.05" fromto="0 0 0 0 0 -0.45" mass="4"/>
        <body name="r_shin" pos="0 0 -0.45">
          <joint name="r_knee" type="hinge" axis="0 -1 0" range="-2.6 0"/>
          <geom type="capsule" size="0.04" fromto="0 0 0 0 0 -0.5" mass="2.5"/>
          <body name="r_foot" pos="0.06 0 -0.5">
            <joint name="r_ankle" type="hinge" axis="0 -1 0" range="-0.8 0.8"/>
            <geom type="capsule" size="0.05" fromto="-0.1 0 0 0.1 0 0" mass="1"/>
          </body>
        </body>
      </body>
      <body name="l_thigh" pos="0 0.05 -0.3">
        <joint name="l_hip" type="hinge" axis="0 -1 0" range="-0.35 2.6"/>
        <geom type="capsule" size="0.05" fromto="0 0 0 0 0 -0.45" mass="4"/>
        <body name="l_shin" pos="0 0 -0.45">
          <joint name="l_knee" type="hinge" axis="0 -1 0" range="-2.6 0"/>
          <geom type="capsule" size="0.04" fromto="0 0 0 0 0 -0.5" mass="2.5"/>
          <body name="l_foot" pos="0.06 0 -0.5">
            <joint name="l_ankle" type="hinge" axis="0 -1 0" range="-0.8 0.8"/>
            <geom type="capsule" size="0.05" fromto="-0.1 0 0 0.1 0 0" mass="1"/>
          </body>
        </body>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor joint="r_hip" gear="100"/><motor joint="r_knee" gear="50"/><motor joint="r_ankle" gear="20"/>
    <motor joint="l_hip" gear="100"/><motor joint="l_knee" gear="50"/><motor joint="l_ankle" gear="20"/>
  </actuator>
</mujoco>
"""


@functools.cache
def model():
    """``(mj_model, mjx_model, mjx_data_template)``, built once per process (as concrete arrays, even
    when first called while tracing, so the cache never holds a tracer)."""
    import jax
    import mujoco
    from mujoco import mjx

    m = mujoco.MjModel.from_xml_string(XML)
    if (m.nq, m.nv, m.nu) != (NQ, NV, ACTION_DIM):
        raise RuntimeError(f"walker model has nq, nv, nu = {m.nq, m.nv, m.nu}; expected {NQ, NV, ACTION_DIM}")
    with jax.ensure_compile_time_eval():
        mx = mjx.put_model(m)
        return m, mx, mjx.make_data(mx)


def _step_one(state, action):
    import jax
    from mujoco import mjx

    _, mx, d0 = model()
    d = d0.replace(qpos=state[:NQ], qvel=state[NQ:], ctrl=action)
    d = jax.lax.fori_loop(0, N_SUBSTEPS, lambda _, dd: mjx.step(mx, dd), d)
    return _concat(d.qpos, d.qvel)


def _concat(*xs):
    import jax.numpy as jnp

    return jnp.concatenate(xs, axis=-1)


def step(state, action):
    """One control step (10 physics steps) of ``n`` walkers: ``state (n, 18)``, ``action (n, 6)`` in
    [-1, 1] -> ``state (n, 18)``."""
    import jax

    return jax.vmap(_step_one)(state, action)


def observe(state):
    """``state (..., 18) -> obs (..., 17)``: qpos without rootx, then qvel."""
    return _concat(state[..., :1], state[..., 2:])


def state_from_obs(obs):
    """Inverse of :func:`observe` with ``rootx = 0``: ``obs (..., 17) -> state (..., 18)``."""
    import jax.numpy as jnp

    return _concat(obs[..., :1], jnp.zeros_like(obs[..., :1]), obs[..., 1:])


def reset(key, n: int, init: str, data_obs=None, data_fraction: float = 0.8):
    """``n`` start states ``(n, 18)``. ``fixed``: standing, joint angles and velocities perturbed
    by U(±0.1); ``data``: with prob ``data_fraction`` a random dataset observation (rootx = 0),
    otherwise the fixed start."""
    import jax
    import jax.numpy as jnp

    kq, kv, kd, km = jax.random.split(key, 4)
    q = jnp.zeros((n, NQ)).at[:, 2:].set(jax.random.uniform(kq, (n, NQ - 2), minval=-0.1, maxval=0.1))
    q = q.at[:, 3:].set(jnp.clip(q[:, 3:], jnp.asarray(_LO), jnp.asarray(_HI)))
    v = jax.random.uniform(kv, (n, NV), minval=-0.1, maxval=0.1)
    fixed = jnp.concatenate([q, v], axis=1)
    if init == "fixed":
        return fixed
    if init != "data":
        raise ValueError(f"init must be one of ('fixed', 'data'); got {init!r}")
    if data_obs is None:
        raise ValueError("init='data' needs data_obs (the walker dataset's observations)")
    flat = jnp.asarray(data_obs).reshape(-1, OBS_DIM)
    from_data = state_from_obs(flat[jax.random.randint(kd, (n,), 0, flat.shape[0])])
    return jnp.where(jax.random.uniform(km, (n, 1)) < data_fraction, from_data, fixed)


# joint limits of the six actuated hinges (hip, knee, ankle; right then left), radians
_LO = np.array([-0.35, -2.6, -0.8] * 2, np.float32)
_HI = np.array([2.6, 0.0, 0.8] * 2, np.float32)


# ----------------------------------------------------------------------------------- rewards


def ramp(x, low, margin):
    """1 where ``x >= low``, falling linearly to 0 at ``low - margin`` (a one-sided tolerance)."""
    import jax.numpy as jnp

    return jnp.clip(1.0 - (low - x) / margin, 0.0, 1.0)


def reward_fn(task: str):
    """``r(next_obs (..., 17)) -> (...)`` in [0, 1] for one of :data:`REWARD_TASKS`.

    stand = (3·standing + upright)/4 with standing = ramp(torso height, 1.2, 0.6) and
    upright = (1 + cos pitch)/2; walk / run / walk-backward multiply stand by (5·move + 1)/6 with
    move = ramp(±vx, speed, speed/2) at speed 1 (walk, backward) or 5 (run); flip =
    ramp(pitch rate, 5, 2.5). Built after DMC's walker rewards (products of [0, 1] terms)."""
    import jax.numpy as jnp

    from rizzlib.core.validate import check_choice

    check_choice("task", task, REWARD_TASKS)

    def stand(o):
        standing = ramp(TORSO_HEIGHT + o[..., I_ROOTZ], 1.2, 0.6)
        upright = 0.5 * (1.0 + jnp.cos(o[..., I_ROOTY]))
        return (3.0 * standing + upright) / 4.0

    if task == "stand":
        return stand
    if task == "flip":
        return lambda o: ramp(o[..., I_WY], 5.0, 2.5)
    sign, speed = {"walk": (1.0, 1.0), "run": (1.0, 5.0), "walk-backward": (-1.0, 1.0)}[task]
    return lambda o: stand(o) * (5.0 * ramp(sign * o[..., I_VX], speed, speed / 2) + 1.0) / 6.0


def spec():
    """The walker as an :class:`rizzlib.fbcpr.envs.EnvSpec`."""
    from rizzlib.fbcpr.envs import EnvSpec

    return EnvSpec("walker", OBS_DIM, ACTION_DIM, STATE_DIM, step, observe, reset, REWARD_TASKS, reward_fn)


def collect(key, act, n: int, horizon: int, action_noise: float, init: str = "fixed", data_obs=None):
    """Roll ``n`` walkers for ``horizon`` steps with ``act(obs (n, 17)) -> (n, 6)`` plus Gaussian
    noise of std ``action_noise`` (clipped to [-1, 1]). Returns observations ``(n, horizon + 1, 17)``
    and the actions taken ``(n, horizon, 6)`` (the latter for debugging only: FB-CPR never reads it)."""
    import jax
    import jax.numpy as jnp

    from rizzlib.core.validate import check_int_range, check_range

    check_int_range("n", n, 1)
    check_int_range("horizon", horizon, 1)
    check_range("action_noise", action_noise, 0.0)
    k0, kr = jax.random.split(key)
    s0 = reset(k0, n, init, data_obs)

    def body(s, k):
        a = jnp.clip(act(observe(s)) + action_noise * jax.random.normal(k, (n, ACTION_DIM)), -1.0, 1.0)
        s2 = step(s, a)
        return s2, (observe(s2), a)

    _, (obs, actions) = jax.lax.scan(body, s0, jax.random.split(kr, horizon))
    obs = jnp.concatenate([observe(s0)[None], obs], axis=0)
    return jnp.swapaxes(obs, 0, 1), jnp.swapaxes(actions, 0, 1)


# ------------------------------------------------------------------------------------- goals


def goal_poses(motions, n: int, seed: int = 0) -> np.ndarray:
    """``n`` goal observations ``(n, 17)`` drawn without replacement from the frames ``1..T`` of
    ``motions (M, T+1, 17)`` (held-out ones, for a fair suite), velocities set to zero (as HumEnv's
    goal poses)."""
    from rizzlib.core.validate import check_int_range

    obs = np.asarray(motions, np.float32)
    if obs.ndim != 3 or obs.shape[0] == 0 or obs.shape[1] < 2 or obs.shape[2] != OBS_DIM:
        raise ValueError(f"motions must be a non-empty (M, T+1, {OBS_DIM}) array with T >= 1; got {obs.shape}")
    frames = obs[:, 1:].reshape(-1, OBS_DIM)
    check_int_range("n", n, 1, frames.shape[0])
    g = frames[np.sort(np.random.default_rng(seed).choice(frames.shape[0], n, replace=False))].copy()
    g[:, NQ - 1:] = 0.0
    return g


def goal_metrics(observations, goal) -> dict[str, float]:
    """HumEnv's goal metrics on the walker's pose (:data:`POSE`): success (distance below
    :data:`GOAL_BOUND` at least once), proximity (margin :data:`GOAL_MARGIN`) and final distance, for
    one episode ``observations (T, 17)`` and a goal observation ``(17,)``."""
    from rizzlib.fbcpr import tasks

    return tasks.goal_metrics(observations, goal, dims=POSE, bound=GOAL_BOUND, margin=GOAL_MARGIN)
