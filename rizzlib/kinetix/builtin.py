"""A few hand-made levels of our own, shipped as JSON so notebooks and tests work without the wheel.

Each ``make_*`` function builds its level with :class:`LevelBuilder`; the JSON files in
``rizzlib/kinetix/builtin_levels/`` were written from them by :func:`write_builtin_levels` in the
kinetix-env format, and :func:`load_builtin_level` reads them back through the converter.

* ``s/one_wheel_car``: a green body on a motorised wheel; drive right into the blue ball (motor 0).
* ``s/lander``: a green lander drifting right over a red floor; fire its one downward thruster
  (thruster 0) to stay in the air until it lands on the blue pad.
* ``s/thrust_aim``: a green ball with a thruster must be pushed up onto a blue ball on a ledge.
* ``m/cartpole``: a cart on a free wheel with right/left thrusters (channels 0 and 1) carries a
  passive green pole; touch the blue ball with the pole before the pole falls onto the red floor.
* ``m/swing_up``: a motorised arm (motor 0) on a fixed pivot must swing its green tip up to a blue
  ball above.
"""

from __future__ import annotations

import json
import math
import os

from rizzlib.kinetix.convert import level_from_kinetix, level_to_kinetix
from rizzlib.kinetix.levels import LevelBuilder
from rizzlib.kinetix.types import EnvConfig, Level, Role

LEVEL_DIR = os.path.join(os.path.dirname(__file__), "builtin_levels")


def make_one_wheel_car() -> tuple[Level, EnvConfig]:
    cfg = EnvConfig.for_size("s")
    lb = LevelBuilder(cfg)
    car = lb.add_box((1.0, 0.3), (0.8, 0.2), role=Role.GREEN)
    wheel = lb.add_circle((0.8, 0.2), 0.2)
    lb.add_revolute_joint(car, wheel, (0.8, 0.2), motor_binding=0)
    lb.add_circle((4.5, 0.3), 0.3, role=Role.BLUE, static=True)
    return lb.build(), cfg


def make_lander() -> tuple[Level, EnvConfig]:
    cfg = EnvConfig.for_size("s")
    lb = LevelBuilder(cfg, floor_role=Role.RED)
    body = lb.add_box((1.0, 3.5), (0.5, 0.3), role=Role.GREEN, velocity=(0.9, 0.0))
    lb.add_thruster(body, (1.0, 3.35), rotation=math.pi / 2, power=1.5, binding=0)
    lb.add_circle((4.2, -0.1), 0.4, role=Role.BLUE, static=True)
    return lb.build(), cfg


def make_thrust_aim() -> tuple[Level, EnvConfig]:
    cfg = EnvConfig.for_size("s")
    lb = LevelBuilder(cfg)
    ball = lb.add_circle((1.0, 0.25), 0.25, role=Role.GREEN)
    lb.add_thruster(ball, (1.0, 0.25), rotation=math.radians(60), power=1.5, binding=0)
    lb.add_box((3.8, 1.4), (1.6, 0.2), static=True)
    lb.add_circle((3.8, 1.75), 0.25, role=Role.BLUE, static=True)
    return lb.build(), cfg


def make_cartpole() -> tuple[Level, EnvConfig]:
    cfg = EnvConfig.for_size("m")
    lb = LevelBuilder(cfg, floor_role=Role.RED)
    wheel = lb.add_circle((2.0, 0.15), 0.15)
    cart = lb.add_box((2.0, 0.35), (0.8, 0.2))
    pole = lb.add_box((2.0, 0.95), (0.08, 1.0), role=Role.GREEN, density=0.5)
    lb.add_revolute_joint(cart, wheel, (2.0, 0.15), motor=False)
    lb.add_revolute_joint(cart, pole, (2.0, 0.45), motor=False)
    lb.add_thruster(cart, (2.0, 0.35), rotation=0.0, power=1.5, binding=0)
    lb.add_thruster(cart, (2.0, 0.35), rotation=math.pi, power=1.5, binding=1)
    lb.add_circle((4.2, 1.35), 0.15, role=Role.BLUE, static=True)
    return lb.build(), cfg


def make_swing_up() -> tuple[Level, EnvConfig]:
    cfg = EnvConfig.for_size("m")
    lb = LevelBuilder(cfg)
    pivot = lb.add_circle((2.5, 1.5), 0.1, static=True)
    arm = lb.add_box((2.5, 1.0), (0.1, 1.0))
    tip = lb.add_circle((2.5, 0.5), 0.12, role=Role.GREEN)
    lb.add_revolute_joint(pivot, arm, (2.5, 1.5), motor_binding=0, motor_speed=0.5, motor_power=1.0)
    lb.add_fixed_joint(arm, tip, (2.5, 0.5))
    lb.add_circle((2.5, 2.75), 0.15, role=Role.BLUE, static=True)
    return lb.build(), cfg


BUILDERS = {
    "s/one_wheel_car": make_one_wheel_car,
    "s/lander": make_lander,
    "s/thrust_aim": make_thrust_aim,
    "m/cartpole": make_cartpole,
    "m/swing_up": make_swing_up,
}


def write_builtin_levels(folder: str = LEVEL_DIR) -> list[str]:
    """Write every ``BUILDERS`` level as kinetix-env JSON under ``folder``; returns the paths."""
    paths = []
    for name, make in BUILDERS.items():
        level, cfg = make()
        path = os.path.join(folder, name + ".json")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(level_to_kinetix(level, cfg), f, indent=1)
        paths.append(path)
    return paths


def builtin_level_names(size: str | None = None) -> list[str]:
    """Names of the shipped levels (``"s/lander"``, ...), optionally of one size."""
    return [n for n in BUILDERS if size is None or n.startswith(size + "/")]


def load_builtin_level(name: str, config: EnvConfig | None = None) -> tuple[Level, EnvConfig]:
    """Read a shipped level (through the kinetix-env converter)."""
    if name not in BUILDERS:
        raise ValueError(f"name must be one of {sorted(BUILDERS)}; got {name!r}")
    with open(os.path.join(LEVEL_DIR, name + ".json")) as f:
        return level_from_kinetix(json.load(f), config)
