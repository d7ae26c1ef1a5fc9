"""Random levels (spec 3.5, after Kinetix's ``sample_kinetix_level``), seeded, for sizes S, M and L.

Recipe: the 4 borders (floor role: default 0.9, blue 0.02, red 0.08); a green and a blue shape
(never both fixed); one control element chosen uniformly from {motor, thruster, both}, where a
motor is a new shape on a revolute joint; then every remaining shape slot gets a jointed shape
(p 0.35), a free shape (0.35) or nothing (0.30); then each remaining thruster slot a thruster
(p 0.3). Shape sizes: rectangle half-sides U[0.05, 0.5] with one side doubled w.p. 0.3, circle
radius U[0.1, 0.4]; rotation U[0, 2 pi); fixed w.p. 0.02 + 4 * mass (capped at 1; never in S levels,
and a fixed green/blue shape is moved to the lower half w.p. 0.6); among
``proposals`` candidate placements the one overlapping fewest shapes is kept. Later shapes are red
w.p. 1/4 while no red shape exists, else default. Motors on w.p. 0.8, speed U[0.4, 3], power
U[1, 3], limits w.p. 0.4, fixed joint w.p. 0.1. Shapes are added in a random order, so slots
are permuted as in Kinetix.

The **no-op filter** draws twice the needed levels, runs the no-op action for 64 steps and keeps
levels the no-op solves only with weight 0.001 (vs 1).

Deviation: our world's floor top is at y = 0 (Kinetix: 0.2-0.4), so heights start at the floor.
Generation is Python-side (numpy + :class:`LevelBuilder`); training draws from a pre-generated pool.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from rizzlib.core.validate import check_int_range
from rizzlib.kinetix.levels import LevelBuilder, stack_levels
from rizzlib.kinetix.types import NUM_BORDERS, EnvConfig, EnvParams, Level, Role


@dataclasses.dataclass(frozen=True)
class GeneratorConfig:
    """Knobs of the random level distribution (defaults = Kinetix's ``UEDParams``)."""

    max_half_size: float = 0.5
    min_half_size: float = 0.05
    min_radius: float = 0.1
    max_radius: float = 0.4
    large_rect_prob: float = 0.3
    floor_red_prob: float = 0.08
    floor_blue_prob: float = 0.02
    jointed_prob: float = 0.35
    free_prob: float = 0.35
    thruster_prob: float = 0.3
    motor_on_prob: float = 0.8
    joint_limit_prob: float = 0.4
    fixed_joint_prob: float = 0.1
    opposite_halves_prob: float = 0.5
    proposals: int | None = None
    """Placements tried per shape (None: 1 for S, 8 otherwise)."""


@dataclasses.dataclass
class _Shape:
    kind: str  # "box" or "circle"
    pos: np.ndarray
    dims: np.ndarray  # box (w, h) or (r, r)
    rot: float
    static: bool
    role: int
    index: int = -1

    @property
    def reach(self) -> float:
        return float(np.hypot(*self.dims / 2)) if self.kind == "box" else float(self.dims[0])


def _overlaps(shape: _Shape, others) -> int:
    return sum(np.linalg.norm(shape.pos - o.pos) < shape.reach + o.reach for o in others)


def _mass(kind, dims):
    return dims[0] * dims[1] if kind == "box" else math.pi * dims[0] ** 2


class _Sampler:
    def __init__(self, config: EnvConfig, gen: GeneratorConfig, rng: np.random.Generator):
        self.config, self.gen, self.rng = config, gen, rng
        self.proposals = gen.proposals or (1 if config.size_name == "s" else 8)
        self.shapes: list[_Shape] = []
        self.joints: list[dict] = []
        self.thrusters: list[dict] = []
        s = config.sim
        self.free_polys = s.num_polygons - NUM_BORDERS
        self.free_circles = s.num_circles
        self.has_red = False
        self.small = config.num_shapes <= 7  # Kinetix never fixes shapes in S levels

    def _kind(self):
        opts = (["box"] if self.free_polys > 0 else []) + (["circle"] if self.free_circles > 0 else [])
        if not opts:
            return None
        return opts[self.rng.integers(len(opts))]

    def _dims(self, kind):
        g, r = self.gen, self.rng
        if kind == "circle":
            x = r.uniform(g.min_radius, g.max_radius)
            return np.array([x, x])
        half = r.uniform(g.min_half_size, g.max_half_size, 2)
        if r.random() < g.large_rect_prob:
            half[r.integers(2)] *= 2
        return 2 * np.minimum(half, g.max_half_size)

    def _propose(self, kind, dims, region=None, near=None):
        best, best_n = None, None
        for _ in range(self.proposals):
            reach = float(np.hypot(*dims / 2)) if kind == "box" else float(dims[0])
            lo_x, hi_x = (0.0, 5.0) if region is None else region
            if near is not None:
                pos = near + self.rng.uniform(-0.3, 0.3, 2)
            else:
                pos = np.array([self.rng.uniform(lo_x + min(reach, 1.0), hi_x - min(reach, 1.0)),
                                self.rng.uniform(min(reach, 1.0) + 0.05, 5.0 - min(reach, 1.0))])
            pos = np.clip(pos, 0.15, 4.85)
            cand = _Shape(kind, pos, dims, float(self.rng.uniform(0, 2 * math.pi)), False, 0)
            n = _overlaps(cand, self.shapes)
            if best is None or n < best_n:
                best, best_n = cand, n
        return best

    def _role(self):
        if not self.has_red and self.rng.random() < 0.25:
            self.has_red = True
            return int(Role.RED)
        return int(Role.DEFAULT)

    def add_shape(self, role=None, region=None, near=None, allow_static=True, kind=None):
        kind = kind or self._kind()
        if kind is None:
            return None
        dims = self._dims(kind)
        shape = self._propose(kind, dims, region, near)
        shape.role = self._role() if role is None else role
        p_fix = min(1.0, 0.02 + 4 * _mass(kind, dims))
        shape.static = allow_static and not self.small and self.rng.random() < p_fix
        if shape.static and shape.role != 0 and shape.pos[1] >= 2.5 and self.rng.random() < 0.6:
            shape.pos[1] -= 2.5  # fixed special shapes lean to the lower half
        if kind == "box":
            self.free_polys -= 1
        else:
            self.free_circles -= 1
        self.shapes.append(shape)
        return shape

    def add_motor(self, parent: _Shape):
        if len(self.joints) >= self.config.sim.num_joints:
            return False
        anchor = parent.pos + self.rng.uniform(-0.4, 0.4, 2) * (parent.dims if parent.kind == "box" else parent.dims[0])
        child = self.add_shape(near=anchor, allow_static=parent.static is False)
        if child is None:
            return False
        if parent.static and child.static:
            child.static = False
        child.pos = anchor.copy() if child.kind == "circle" else anchor + np.array([child.dims[0] / 2 * 0.8, 0.0])
        g, r = self.gen, self.rng
        fixed = r.random() < g.fixed_joint_prob
        limits = None
        if not fixed and r.random() < g.joint_limit_prob:
            limits = (-r.uniform(0, math.pi), r.uniform(0, math.pi))
        self.joints.append(dict(a=parent, b=child, anchor=anchor, fixed=fixed, motor=r.random() < g.motor_on_prob,
                                speed=r.uniform(0.4, 3.0), power=r.uniform(1.0, 3.0), limits=limits,
                                binding=int(r.integers(self.config.num_motor_bindings))))
        return True

    def add_thruster(self, body: _Shape | None = None):
        if len(self.thrusters) >= self.config.sim.num_thrusters:
            return False
        dyn = [s for s in self.shapes if not s.static]
        if body is None:
            if not dyn:
                return False
            body = dyn[self.rng.integers(len(dyn))]
        body.static = False
        self.thrusters.append(dict(body=body, rot=float(self.rng.uniform(0, 2 * math.pi)),
                                   power=float(self.rng.uniform(0.5, 2.0)),
                                   binding=int(self.rng.integers(self.config.num_thruster_bindings))))
        return True


def sample_level(config: EnvConfig, rng: np.random.Generator, gen: GeneratorConfig | None = None) -> Level:
    """One random level of ``config``'s size (see the module docstring)."""
    gen = GeneratorConfig() if gen is None else gen
    r = rng
    u = r.random()
    floor_role = Role.RED if u < gen.floor_red_prob else (Role.BLUE if u < gen.floor_red_prob + gen.floor_blue_prob
                                                          else Role.DEFAULT)
    sm = _Sampler(config, gen, r)
    sm.has_red = floor_role == Role.RED
    halves = r.random() < gen.opposite_halves_prob
    left = (0.0, 2.5) if halves else None
    right = (2.5, 5.0) if halves else None
    green = sm.add_shape(role=int(Role.GREEN), region=left)
    blue = sm.add_shape(role=int(Role.BLUE), region=right)
    if green.static and blue.static:
        green.static = False
    if r.random() < 0.5:
        green.role, blue.role = blue.role, green.role
    control = r.integers(3)  # 0 motor, 1 thruster, 2 both
    dynamic_special = green if not green.static else blue
    if control in (0, 2):
        sm.add_motor(dynamic_special if r.random() < 0.5 else green)
    if control in (1, 2) or not sm.joints:
        sm.add_thruster(dynamic_special)
    while sm.free_polys + sm.free_circles > 0:
        x = r.random()
        if x < gen.jointed_prob:
            if not sm.add_motor(sm.shapes[r.integers(len(sm.shapes))]):
                sm.add_shape()
        elif x < gen.jointed_prob + gen.free_prob:
            sm.add_shape()
        else:
            break_slot = sm._kind()
            if break_slot == "box":
                sm.free_polys -= 1
            elif break_slot == "circle":
                sm.free_circles -= 1
    for _ in range(config.sim.num_thrusters - len(sm.thrusters)):
        if r.random() < gen.thruster_prob:
            sm.add_thruster()
    return _build(config, sm, floor_role)


def _build(config: EnvConfig, sm: _Sampler, floor_role) -> Level:
    r = sm.rng
    lb = LevelBuilder(config, floor_role=floor_role)
    order = r.permutation(len(sm.shapes))
    for k in order:
        s = sm.shapes[k]
        kw = dict(role=s.role, static=s.static)
        if s.kind == "box":
            s.index = lb.add_box(tuple(s.pos), tuple(s.dims), s.rot, **kw)
        else:
            s.index = lb.add_circle(tuple(s.pos), float(s.dims[0]), rotation=s.rot, **kw)
    for k in r.permutation(len(sm.joints)):
        j = sm.joints[k]
        if j["fixed"]:
            lb.add_fixed_joint(j["a"].index, j["b"].index, tuple(j["anchor"]))
        else:
            lb.add_revolute_joint(j["a"].index, j["b"].index, tuple(j["anchor"]), motor=j["motor"],
                                  motor_binding=j["binding"], motor_speed=j["speed"], motor_power=j["power"],
                                  limits=j["limits"])
    for k in r.permutation(len(sm.thrusters)):
        t = sm.thrusters[k]
        lb.add_thruster(t["body"].index, tuple(t["body"].pos), t["rot"], t["power"], binding=t["binding"])
    return lb.build()


def noop_solves(levels: Level, config: EnvConfig, params: EnvParams | None = None, steps: int = 64) -> np.ndarray:
    """(L,) bool: the no-op action reaches the goal within ``steps`` agent steps."""
    from rizzlib.kinetix.env import KinetixEnv

    params = EnvParams() if params is None else params
    env = KinetixEnv(dataclasses.replace(config, observation="symbolic_flat"))
    return np.asarray(_noop_rollout(env, levels, params, steps))


def _noop_rollout(env, levels, params, steps):
    @jax.jit
    def run(levels):
        _, st = jax.vmap(lambda lv: env.reset(None, lv, params))(levels)
        a = jnp.broadcast_to(env.noop_action(), levels.polygon_role.shape[:1] + env.action_shape)

        def body(carry, _):
            st, solved, alive = carry
            _, st, _, done, info = jax.vmap(lambda s, x: env.step(None, s, x, params))(st, a)
            solved = solved | (alive & info["GoalR"])
            return (st, solved, alive & ~done), None

        n = levels.polygon_role.shape[0]
        (_, solved, _), _ = jax.lax.scan(body, (st, jnp.zeros(n, bool), jnp.ones(n, bool)), None, length=steps)
        return solved

    return run(levels)


def sample_levels(config: EnvConfig, n: int, seed: int = 0, *, noop_filter: bool = True,
                  gen: GeneratorConfig | None = None, params: EnvParams | None = None) -> Level:
    """``n`` random levels stacked into one batched :class:`Level` (deterministic in ``seed``)."""
    check_int_range("n", n, 1, None)
    check_int_range("seed", seed, 0, None)
    rng = np.random.default_rng(seed)
    m = 2 * n if noop_filter else n
    levels = stack_levels([sample_level(config, rng, gen) for _ in range(m)])
    if not noop_filter:
        return levels
    keep = noop_filter_choice(noop_solves(levels, config, params), n, rng)
    return jax.tree.map(lambda x: x[keep], levels)


def noop_filter_choice(solved, n: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``n`` of the candidates, drawn without replacement with weight 0.001 for
    levels the no-op solves (``solved`` True) and 1 for the others."""
    solved = np.asarray(solved, bool)
    check_int_range("n", n, 1, len(solved))
    w = np.where(solved, 0.001, 1.0)
    return np.sort(rng.choice(len(solved), size=n, replace=False, p=w / w.sum()))
