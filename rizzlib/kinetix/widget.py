"""A level viewer and editor for the notebook (core ipywidgets; Kinetix's own editor is a pygame window).

A thin layer over :mod:`rizzlib.kinetix.edit` (the edits) and :mod:`rizzlib.kinetix.replay`
(playing and drawing): pick a shape and set its role, size or density, pick a motor and set its
speed, pick a policy and play an episode; a bad value shows the edit's error and changes nothing.

Example::

    editor = LevelEditor(level, config, {"no-op": (constant_actor(env), env.noop_action())})
    editor.widget          # display it
"""

from __future__ import annotations

import io

import jax
import numpy as np

from rizzlib.kinetix import edit
from rizzlib.kinetix.env import KinetixEnv
from rizzlib.kinetix.levels import validate_level
from rizzlib.kinetix.replay import animate_episode, make_player, render_level
from rizzlib.kinetix.types import EnvConfig, EnvParams, Level, Role


def _png(img: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


class LevelEditor:
    """Edit ``level`` and replay policies on it.

    Args:
        level: the level to start from (kept as ``original``; the edited one is ``level``).
        config: its EnvConfig.
        policies: ``{name: (actor, policy_params)}`` with actors from :mod:`rizzlib.kinetix.replay`.
        params: env constants.  size: picture side, pixels.  seed: key of the replays.
    """

    def __init__(self, level: Level, config: EnvConfig, policies: dict | None = None,
                 params: EnvParams | None = None, size: int = 300, seed: int = 0):
        import ipywidgets as w

        self.original = self.level = validate_level(level, config)
        self.config, self.size = config, size
        self.env = KinetixEnv(config)
        self.params = EnvParams() if params is None else params
        self.policies = dict(policies or {})
        self._players: dict[int, object] = {}
        self._key = jax.random.key(seed)
        self.episode = None

        self.image = w.Image(format="png", width=size, height=size)
        self.status = w.HTML()
        self.shape = w.Dropdown(description="shape")
        self.role = w.Dropdown(description="role", options=[r.name.lower() for r in Role])
        self.factor = w.FloatText(description="scale by", value=1.2, step=0.1)
        self.density = w.FloatText(description="density", value=1.0, step=0.5)
        self.motor = w.Dropdown(description="motor")
        self.speed = w.FloatText(description="speed", value=1.0, step=0.5)
        self.policy = w.Dropdown(description="policy", options=list(self.policies))
        self.replay = w.Output()
        buttons = {}
        for name, fn in (("set role", self.apply_role), ("scale", self.apply_scale),
                         ("set density", self.apply_density), ("set speed", self.apply_speed),
                         ("play", self.play), ("reset level", self.reset)):
            b = w.Button(description=name)
            b.on_click(lambda _, fn=fn: fn())
            buttons[name] = b
        self.shape.observe(lambda _: self._sync_shape(), names="value")
        self.motor.observe(lambda _: self._sync_motor(), names="value")
        rows = [
            w.HBox([self.shape, self.role, buttons["set role"]]),
            w.HBox([self.factor, buttons["scale"], self.density, buttons["set density"]]),
            w.HBox([self.motor, self.speed, buttons["set speed"]]),
            w.HBox([self.policy, buttons["play"], buttons["reset level"]]),
            self.status,
        ]
        self.widget = w.HBox([self.image, w.VBox(rows + [self.replay])])
        self._refresh()

    # ------------------------------------------------------------------ state -> widgets
    def _refresh(self, message: str = "") -> None:
        self.image.value = _png(render_level(self.level, self.size))
        rows = edit.shape_table(self.level, self.config)
        keep = self.shape.value
        self.shape.options = [(f"{r['body']}: {r['kind']}, {r['role']}{' (static)' if r['static'] else ''}", r["body"])
                              for r in rows if not r["border"] or r["body"] == 0]
        if keep in [v for _, v in self.shape.options]:
            self.shape.value = keep
        motors = edit.motor_table(self.level)
        keep = self.motor.value
        self.motor.options = [(f"joint {m['joint']} (channel {m['channel']})", m["joint"]) for m in motors]
        if keep in [m["joint"] for m in motors]:
            self.motor.value = keep
        self._sync_shape()
        self._sync_motor()
        self.status.value = message

    def _row(self):
        return next((r for r in edit.shape_table(self.level, self.config) if r["body"] == self.shape.value), None)

    def _sync_shape(self) -> None:
        r = self._row()
        if r is not None:
            self.role.value = r["role"]
            self.density.value = r["density"]

    def _sync_motor(self) -> None:
        m = next((m for m in edit.motor_table(self.level) if m["joint"] == self.motor.value), None)
        if m is not None:
            self.speed.value = m["speed"]

    def _apply(self, fn, *args) -> bool:
        try:
            new = fn(self.level, *args, self.config)
        except ValueError as e:
            self.status.value = f"<span style='color:#b00'>{e}</span>"
            return False
        self.level = new
        self._refresh("edited")
        return True

    # ------------------------------------------------------------------ actions
    def apply_role(self) -> bool:
        return self._apply(edit.set_role, self.shape.value, Role[self.role.value.upper()])

    def apply_scale(self) -> bool:
        return self._apply(edit.scale_shape, self.shape.value, self.factor.value)

    def apply_density(self) -> bool:
        return self._apply(edit.set_density, self.shape.value, self.density.value)

    def apply_speed(self) -> bool:
        if self.motor.value is None:
            self.status.value = "<span style='color:#b00'>this level has no motorised joint</span>"
            return False
        return self._apply(edit.set_motor_speed, self.motor.value, self.speed.value)

    def reset(self) -> None:
        self.level = self.original
        self._refresh("back to the original level")

    def play(self):
        """Play one episode of the chosen policy on the edited level and show it."""
        if not self.policies:
            self.status.value = "<span style='color:#b00'>no policies were given</span>"
            return None
        from IPython.display import display

        actor, pp = self.policies[self.policy.value]
        if id(actor) not in self._players:  # one compiled player per actor
            self._players[id(actor)] = make_player(self.env, actor, self.params)
        player = self._players[id(actor)]
        self._key, k = jax.random.split(self._key)
        self.episode = ep = player(k, self.level, pp)
        outcome = "solved" if ep.solved else "hit red" if ep.died else "timed out"
        self.status.value = f"{self.policy.value}: {outcome} after {ep.length} steps, return {ep.total_reward:.2f}"
        self.replay.clear_output()
        with self.replay:
            display(animate_episode(ep, self.level, size=200, max_frames=40))
        return ep
