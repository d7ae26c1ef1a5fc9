"""The three action spaces and their conversion to the engine's per-joint / per-thruster vector.

Internally an action is ``num_motor_bindings`` motor channels in [-1, 1] then
``num_thruster_bindings`` thruster channels in [0, 1] (Kinetix: 4 + 2). Joint j reads channel
``motor_binding[j]`` (or +1 if ``motor_auto[j]``), thruster t reads ``thruster_binding[t]``.

* ``multi_discrete`` (default): ints, motor dims in {0: off, 1: +1, 2: -1}, thruster dims in
  {0: off, 1: on}; the policy has 4 * 3 + 2 * 2 = 16 logits.
* ``continuous``: floats, motor part clipped to [-1, 1], thruster part to [0, 1].
* ``discrete``: one int in 0 .. 2M + T: 2k -> motor k at -1, 2k + 1 -> motor k at +1, 2M -> no-op,
  2M + 1 + t -> thruster t on (Kinetix's numbering).
"""

from __future__ import annotations

import jax.numpy as jnp

from rizzlib.kinetix.types import EnvConfig, Level


def action_shape(config: EnvConfig) -> tuple[int, ...]:
    """Shape of one action: (M + T,) for multi_discrete and continuous, () for discrete."""
    if config.action == "discrete":
        return ()
    return (config.num_motor_bindings + config.num_thruster_bindings,)


def action_sizes(config: EnvConfig) -> tuple[int, ...]:
    """Number of choices per categorical dimension (multi_discrete: (3,)*M + (2,)*T; discrete: (2M+T+1,))."""
    m, t = config.num_motor_bindings, config.num_thruster_bindings
    if config.action == "multi_discrete":
        return (3,) * m + (2,) * t
    if config.action == "discrete":
        return (2 * m + 1 + t,)
    raise ValueError(f"action={config.action!r} is continuous; it has no categorical sizes")


def noop_action(config: EnvConfig):
    """The action that fires nothing."""
    if config.action == "discrete":
        return jnp.asarray(2 * config.num_motor_bindings, jnp.int32)
    if config.action == "multi_discrete":
        return jnp.zeros(action_shape(config), jnp.int32)
    return jnp.zeros(action_shape(config), jnp.float32)


def channels(action, config: EnvConfig) -> jnp.ndarray:
    """(M + T,) float channel values from an action of ``config.action``."""
    m, t = config.num_motor_bindings, config.num_thruster_bindings
    if config.action == "multi_discrete":
        a = jnp.asarray(action)
        motor = jnp.select([a[:m] == 1, a[:m] == 2], [1.0, -1.0], 0.0)
        thrust = (a[m:] != 0).astype(jnp.float32)
        return jnp.concatenate([motor, thrust])
    if config.action == "continuous":
        a = jnp.asarray(action, jnp.float32)
        return jnp.concatenate([jnp.clip(a[:m], -1.0, 1.0), jnp.clip(a[m:], 0.0, 1.0)])
    a = jnp.asarray(action, jnp.int32)
    k = jnp.arange(m)
    motor = jnp.where(a == 2 * k + 1, 1.0, jnp.where(a == 2 * k, -1.0, 0.0))
    thrust = (a == 2 * m + 1 + jnp.arange(t)).astype(jnp.float32)
    return jnp.concatenate([motor, thrust])


def engine_actions(action, level: Level, config: EnvConfig) -> jnp.ndarray:
    """(J + T,) engine actions: each joint reads its motor channel, each thruster its thruster channel."""
    ch = channels(action, config)
    m = config.num_motor_bindings
    motor = jnp.where(level.motor_auto, 1.0, ch[:m][level.motor_binding])
    thrust = ch[m:][level.thruster_binding]
    return jnp.concatenate([motor, thrust])
