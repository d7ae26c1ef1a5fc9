"""Levels, environment state and the two kinds of environment settings (static and traced).

A **level** is an initial :class:`rizzlib.jax2d.SimState` plus what Kinetix adds on top: a role per
shape (:class:`Role`), which of the 4 motor action channels drives each joint, which joints are
always on, and which of the 2 thruster channels drives each thruster. Levels of one
:class:`EnvConfig` have identical array shapes, so a batch of different levels is one pytree.

* :class:`EnvConfig` (frozen, hashable, static under ``jit``): sizes, frame skip, observation and
  action kinds.
* :class:`EnvParams` (traced): physics constants, the episode length and the dense-reward scale.
* :class:`EnvState`: the running scene, the level it resets to, the step counter and the last
  green-blue distance.
"""

from __future__ import annotations

import dataclasses
import enum

import jax.numpy as jnp
from flax import struct

from rizzlib.core.validate import check_choice, check_int_range
from rizzlib.jax2d import SimParams, SimState, StaticConfig

OBSERVATIONS = ("symbolic_entity", "symbolic_flat", "pixels")
ACTIONS = ("multi_discrete", "continuous", "discrete")
#: polygon slots 0-3 hold the floor, left wall, right wall and ceiling in every level
NUM_BORDERS = 4


class Role(enum.IntEnum):
    """Shape roles: the agent must make GREEN touch BLUE without GREEN touching RED."""

    DEFAULT = 0
    GREEN = 1
    BLUE = 2
    RED = 3


NUM_ROLES = len(Role)


@dataclasses.dataclass(frozen=True)
class EnvConfig:
    """Static environment settings (hashable; a new value recompiles).

    Attributes:
        sim: the engine's slot counts (``StaticConfig.kinetix("s" | "m" | "l")``).
        frame_skip: physics steps per agent action (Kinetix configs: 2, so an action lasts 1/30 s).
        num_motor_bindings: motor action channels (4); every joint listens to one.
        num_thruster_bindings: thruster action channels (2).
        observation: ``"symbolic_entity"``, ``"symbolic_flat"`` or ``"pixels"``.
        action: ``"multi_discrete"`` (default), ``"continuous"`` or ``"discrete"``.
        pixel_size: side of the square pixel observation (Kinetix: 500 px / downscale 4 = 125).
    """

    sim: StaticConfig = dataclasses.field(default_factory=lambda: StaticConfig.kinetix("s"))
    frame_skip: int = 2
    num_motor_bindings: int = 4
    num_thruster_bindings: int = 2
    observation: str = "symbolic_entity"
    action: str = "multi_discrete"
    pixel_size: int = 125

    def __post_init__(self):
        if not isinstance(self.sim, StaticConfig):
            raise ValueError(f"sim must be a rizzlib.jax2d.StaticConfig; got {type(self.sim).__name__}")
        check_int_range("sim.num_polygons", self.sim.num_polygons, NUM_BORDERS, None)
        check_int_range("frame_skip", self.frame_skip, 1, 64)
        check_int_range("num_motor_bindings", self.num_motor_bindings, 1, 64)
        check_int_range("num_thruster_bindings", self.num_thruster_bindings, 1, 64)
        check_choice("observation", self.observation, OBSERVATIONS)
        check_choice("action", self.action, ACTIONS)
        check_int_range("pixel_size", self.pixel_size, 8, 1024)

    @classmethod
    def for_size(cls, size: str = "s", **overrides) -> EnvConfig:
        """The Kinetix S, M or L sizes (polygon counts include the 4 borders)."""
        return cls(sim=StaticConfig.kinetix(size), **overrides)

    @property
    def num_shapes(self) -> int:
        """N = P + C."""
        return self.sim.num_bodies

    @property
    def size_name(self) -> str:
        """``"s"``, ``"m"``, ``"l"`` when the slot counts are a Kinetix size, else ``"custom"``."""
        s = self.sim
        for name in "sml":
            k = StaticConfig.kinetix(name)
            if (k.num_polygons, k.num_circles, k.num_joints, k.num_thrusters) == (
                s.num_polygons, s.num_circles, s.num_joints, s.num_thrusters):
                return name
        return "custom"


@struct.dataclass
class EnvParams:
    """Traced environment constants.

    Attributes:
        sim: physics constants of the engine.
        max_timesteps: episode length in agent steps (256 = 8.5 s at frame skip 2).
        dense_reward_scale: weight of the green-blue distance shaping (Kinetix configs: 0.2).
    """

    sim: SimParams = SimParams()
    max_timesteps: int = 256
    dense_reward_scale: float = 0.2


@struct.dataclass
class Level:
    """One task: an initial scene with roles and action bindings.

    Attributes:
        sim: the initial :class:`SimState` (polygon slots 0-3 are the borders).
        polygon_role: (P,) int :class:`Role`.  circle_role: (C,) int.
        motor_binding: (J,) int in [0, num_motor_bindings): the action channel driving each joint.
        motor_auto: (J,) bool: the joint's motor always runs at action +1.
        thruster_binding: (T,) int in [0, num_thruster_bindings).
    """

    sim: SimState
    polygon_role: jnp.ndarray
    circle_role: jnp.ndarray
    motor_binding: jnp.ndarray
    motor_auto: jnp.ndarray
    thruster_binding: jnp.ndarray

    @property
    def roles(self) -> jnp.ndarray:
        """(P + C,) roles in the engine's global body order, inactive slots 0."""
        r = jnp.concatenate([self.polygon_role, self.circle_role], axis=-1)
        act = jnp.concatenate([self.sim.polygon.active, self.sim.circle.active], axis=-1)
        return jnp.where(act, r, 0)


@struct.dataclass
class EnvState:
    """What ``step`` carries.

    Attributes:
        sim: the running scene.  level: the level an episode end resets to.
        timestep: () int agent steps since the reset.
        last_distance: () float green-blue distance after the previous step, m; -1 right after a reset.
    """

    sim: SimState
    level: Level
    timestep: jnp.ndarray
    last_distance: jnp.ndarray
