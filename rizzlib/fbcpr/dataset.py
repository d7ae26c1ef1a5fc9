"""The observation-only "motion" dataset: scripted behaviours in the four rooms (spec §5.1).

Each motion follows a reference path (circles and figure-eights around room centres, corridor
traversals through doorways, back-and-forth patrols, standing at landmarks) with a noisy
velocity-tracking controller run through the real dynamics, so every motion is feasible. FB-CPR
reads only ``MotionDataset.observations``; the controller's actions are kept under
``debug_actions`` and no training or inference function accepts them.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from rizzlib.fbcpr import env

KINDS = ("circle", "figure8", "corridor", "patrol", "stand")
DOORS = {  # doorway centre between two adjacent rooms
    (1, 2): (0.0, -0.5), (2, 3): (0.5, 0.0), (3, 4): (0.0, 0.5), (1, 4): (-0.5, 0.0),
}


def _door(a: int, b: int) -> np.ndarray:
    return np.array(DOORS[(min(a, b), max(a, b))], dtype=np.float64)


def _polyline(points: np.ndarray, speed: float, n: int) -> np.ndarray:
    """``n`` points walking ``points`` (P, 2) at ``speed`` units/s (dt = env.DT), then staying at the end."""
    seg = np.diff(points, axis=0)
    lengths = np.linalg.norm(seg, axis=1)
    cum = np.concatenate([[0.0], np.cumsum(lengths)])
    s = np.minimum(np.arange(n) * speed * env.DT, cum[-1])
    out = np.empty((n, 2))
    for d in range(2):
        out[:, d] = np.interp(s, cum, points[:, d])
    return out


def _reference(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """A reference path (n, 2) of one behaviour kind, inside the walls."""
    room = int(rng.integers(1, 5))
    c = env.ROOM_CENTRES[room - 1].astype(np.float64) + rng.uniform(-0.05, 0.05, 2)
    t = np.arange(n) * env.DT
    if kind == "circle":
        radius, speed = rng.uniform(0.1, 0.3), rng.uniform(0.2, 0.4)
        direction = rng.choice([-1.0, 1.0])
        th = rng.uniform(0, 2 * np.pi) + direction * speed / radius * t
        return c + radius * np.stack([np.cos(th), np.sin(th)], 1)
    if kind == "figure8":
        amp, period = rng.uniform(0.2, 0.3), rng.uniform(6.0, 9.0)
        w = 2 * np.pi / period * rng.choice([-1.0, 1.0])
        return c + np.stack([amp * np.sin(w * t), 0.5 * amp * np.sin(2 * w * t)], 1)
    if kind == "corridor":
        direction = int(rng.choice([-1, 1]))
        rooms = [room]
        for _ in range(int(rng.integers(1, 3))):
            rooms.append((rooms[-1] - 1 + direction) % 4 + 1)
        pts = [c]
        for a, b in zip(rooms[:-1], rooms[1:]):
            pts += [_door(a, b), env.ROOM_CENTRES[b - 1].astype(np.float64)]
        return _polyline(np.array(pts), rng.uniform(0.3, 0.6), n)
    if kind == "patrol":
        lo = env.ROOM_CENTRES[room - 1] - 0.35
        a, b = rng.uniform(lo, lo + 0.7), rng.uniform(lo, lo + 0.7)
        leg = max(np.linalg.norm(b - a), 1e-3)
        speed = rng.uniform(0.3, 0.5)
        phase = (t * speed / leg) % 2.0
        frac = np.where(phase < 1.0, phase, 2.0 - phase)[:, None]
        return a + frac * (b - a)
    if kind == "stand":
        return np.repeat(c[None] + rng.uniform(-0.25, 0.25, 2), n, axis=0)
    raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")


@jax.jit
def _track(ref: jax.Array, noise: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Follow references ``ref (M, T+1, 2)`` from rest at ``ref[:, 0]``; ``noise (T, M, 2)``.
    Returns observations ``(M, T+1, 4)`` and actions ``(M, T, 2)``."""
    s0 = jnp.concatenate([ref[:, 0], jnp.zeros_like(ref[:, 0])], axis=1)

    def body(s, inp):
        target, eps = inp
        v_des = (target - s[:, :2]) / env.DT * 0.5
        a = jnp.clip((v_des - env.DAMPING * s[:, 2:]) / ((1 - env.DAMPING) * env.V_MAX) + eps, -1.0, 1.0)
        s2 = env.step_batch(s, a)
        return s2, (s2, a)

    _, (states, actions) = jax.lax.scan(body, s0, (jnp.swapaxes(ref[:, 1:], 0, 1), noise))
    obs = jnp.concatenate([s0[:, None], jnp.swapaxes(states, 0, 1)], axis=1)
    return obs, jnp.swapaxes(actions, 0, 1)


@dataclasses.dataclass(frozen=True)
class MotionDataset:
    """Unlabeled motions: ``observations (M, T+1, 4)`` float32 and ``kinds (M,)`` indices into KINDS.

    ``debug_actions (M, T, 2)`` are the scripted controller's actions, for plots only.
    """

    observations: np.ndarray
    kinds: np.ndarray
    debug_actions: np.ndarray | None = None

    def __post_init__(self):
        obs = np.asarray(self.observations)
        if obs.ndim != 3 or obs.shape[2] != env.OBS_DIM:
            hint = ""
            if obs.ndim == 3 and obs.shape[2] == env.OBS_DIM + env.ACTION_DIM:
                hint = " (it looks like actions were appended; FB-CPR's dataset holds observations only)"
            raise ValueError(f"observations must have shape (motions, steps, 4); got {obs.shape}{hint}")
        if obs.shape[0] < 1 or obs.shape[1] < 2:
            raise ValueError(f"observations must hold >= 1 motion of >= 2 steps; got shape {obs.shape}")
        if len(self.kinds) != obs.shape[0]:
            raise ValueError(f"kinds must have one entry per motion ({obs.shape[0]}); got {len(self.kinds)}")

    @property
    def n_motions(self) -> int:
        return int(self.observations.shape[0])

    def split(self, test_fraction: float, seed: int = 0) -> tuple[MotionDataset, MotionDataset]:
        """``(train, test)`` with ``round(test_fraction * M)`` motions held out, drawn by ``seed``."""
        from rizzlib.core.validate import check_range

        check_range("test_fraction", test_fraction, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
        perm = np.random.default_rng(seed).permutation(self.n_motions)
        n_test = max(1, round(test_fraction * self.n_motions))
        if n_test >= self.n_motions:
            raise ValueError(f"test_fraction={test_fraction} leaves no training motion out of {self.n_motions}")

        def take(idx):
            acts = None if self.debug_actions is None else self.debug_actions[idx]
            return MotionDataset(self.observations[idx], self.kinds[idx], acts)

        return take(np.sort(perm[n_test:])), take(np.sort(perm[:n_test]))


def make_dataset(n_motions: int, motion_len: int, seed: int = 0, action_noise: float = 0.2) -> MotionDataset:
    """``n_motions`` scripted motions of ``motion_len`` steps (kinds in equal shares, shuffled).

    Args:
        n_motions: number of motions (>= 1).
        motion_len: steps per motion T (>= 2); each motion has T + 1 observations.
        seed: numpy seed for paths and controller noise.
        action_noise: std of the Gaussian added to the controller's action before clipping (>= 0).
    """
    from rizzlib.core.validate import check_int_range, check_range

    check_int_range("n_motions", n_motions, 1)
    check_int_range("motion_len", motion_len, 2)
    check_range("action_noise", action_noise, 0.0)
    rng = np.random.default_rng(seed)
    kinds = rng.permutation(np.arange(n_motions) % len(KINDS))
    refs = np.stack([_reference(KINDS[k], rng, motion_len + 1) for k in kinds]).astype(np.float32)
    noise = (action_noise * rng.standard_normal((motion_len, n_motions, 2))).astype(np.float32)
    obs, actions = _track(jnp.asarray(refs), jnp.asarray(noise))
    return MotionDataset(np.asarray(obs), kinds.astype(np.int32), np.asarray(actions))


def check_observation_dataset(name: str, data, obs_dim: int = env.OBS_DIM, action_dim: int = env.ACTION_DIM) -> np.ndarray:
    """The observation array of ``data`` (a MotionDataset or an array (M, T+1, obs_dim)), or a clear error.

    Rejects an empty dataset and anything carrying actions (a dict/object with an ``actions`` field,
    or a last dimension of obs_dim + action_dim). ``obs_dim`` / ``action_dim`` default to the point
    mass's (4, 2)."""
    if isinstance(data, MotionDataset) and obs_dim == env.OBS_DIM:
        return data.observations
    if isinstance(data, dict) or hasattr(data, "actions"):
        raise ValueError(
            f"{name} must hold observations only (FB-CPR's dataset is unlabeled); got {type(data).__name__} "
            f"with actions; pass MotionDataset or an observation array (motions, steps, {obs_dim})"
        )
    obs = np.asarray(data.observations if isinstance(data, MotionDataset) else data)
    if obs.size == 0:
        raise ValueError(f"{name} is empty; FB-CPR needs >= 1 motion of >= 2 observations")
    if obs_dim == env.OBS_DIM:
        return MotionDataset(obs, np.zeros(obs.shape[0] if obs.ndim else 0, np.int32)).observations
    if obs.ndim != 3 or obs.shape[2] != obs_dim or obs.shape[1] < 2:
        hint = " (it looks like actions were appended)" if obs.ndim == 3 and obs.shape[2] == obs_dim + action_dim else ""
        raise ValueError(f"{name} must have shape (motions, steps >= 2, {obs_dim}); got {obs.shape}{hint}")
    return obs


def sample_segments(key: jax.Array, observations: jax.Array, n_segments: int, seq_len: int) -> jax.Array:
    """``n_segments`` windows of ``seq_len + 1`` consecutive observations, each inside one motion.

    ``observations (M, T+1, k)``; motions uniform, start uniform in ``[0, T + 1 - seq_len - 1]``
    (room for the +1 next-observation offset). Returns ``(n_segments, seq_len + 1, k)``."""
    m, t1, _ = observations.shape
    if seq_len + 1 > t1:
        raise ValueError(f"seq_len + 1 must be <= steps per motion ({t1}); got seq_len={seq_len}")
    km, ks = jax.random.split(key)
    mot = jax.random.randint(km, (n_segments,), 0, m)
    start = jax.random.randint(ks, (n_segments,), 0, t1 - seq_len)
    idx = start[:, None] + jnp.arange(seq_len + 1)[None]
    return observations[mot[:, None], idx]
