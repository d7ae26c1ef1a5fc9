"""rizzlib.jax2d: an impulse-based 2D rigid-body engine in JAX (jit, vmap and autodiff friendly).

Quick start::

    from rizzlib import jax2d
    static = jax2d.StaticConfig(num_polygons=5, num_circles=2, num_joints=1, num_thrusters=1)
    sb = jax2d.SceneBuilder(static)
    sb.add_borders()
    ball = sb.add_circle((2.5, 3.0), 0.2, restitution=0.8)
    state = sb.build()
    final, traj = jax2d.rollout_jit(state, jax2d.SimParams(), static, None, 120)

``step`` and ``rollout`` are pure: ``jax.vmap`` them over a batch of scenes, ``jax.grad`` or
``jax.jvp`` them through contacts (see ``StaticConfig.solver_layout`` for how derivatives are taken).
"""

from rizzlib.core.extras import require_extra

require_extra(__name__, "jax", modules=["jax", "flax"])  # before any framework import

from rizzlib.jax2d.collide import (
    Contact,
    collide_circles,
    collide_polygon_circle,
    collide_polygons,
    polygon_normals,
    polygon_separation,
)
from rizzlib.jax2d.contacts import detect_contacts, stack_bodies, world_vertices
from rizzlib.jax2d.impulses import (
    clamp_friction,
    effective_mass_inverse,
    normal_impulse,
    restitution_velocity,
)
from rizzlib.jax2d.mass import circle_mass, polygon_area, polygon_mass
from rizzlib.jax2d.pairs import pair_schedule
from rizzlib.jax2d.presets import PRESETS, Jax2DNotebookConfig, preset
from rizzlib.jax2d.render import animate, render_frame, render_rollout
from rizzlib.jax2d.scene import (
    DEFAULT_FRICTION,
    DEFAULT_GRAVITY,
    SceneBuilder,
    compute_collision_matrix,
    empty_state,
    validate_polygon,
)
from rizzlib.jax2d.serialize import load_scene, save_scene
from rizzlib.jax2d.stepping import rollout, rollout_jit, step, step_jit
from rizzlib.jax2d.types import (
    CollisionMode,
    Joint,
    Manifold,
    RigidBody,
    SimParams,
    SimState,
    StaticConfig,
    Thruster,
)

__all__ = [
    "PRESETS",
    "Jax2DNotebookConfig",
    "preset",
    "animate",
    "render_frame",
    "render_rollout",
    "CollisionMode",
    "Contact",
    "DEFAULT_FRICTION",
    "DEFAULT_GRAVITY",
    "Joint",
    "Manifold",
    "RigidBody",
    "SceneBuilder",
    "SimParams",
    "SimState",
    "StaticConfig",
    "Thruster",
    "circle_mass",
    "clamp_friction",
    "collide_circles",
    "collide_polygon_circle",
    "collide_polygons",
    "compute_collision_matrix",
    "detect_contacts",
    "effective_mass_inverse",
    "empty_state",
    "load_scene",
    "normal_impulse",
    "pair_schedule",
    "polygon_area",
    "polygon_mass",
    "polygon_normals",
    "polygon_separation",
    "restitution_velocity",
    "rollout",
    "rollout_jit",
    "save_scene",
    "stack_bodies",
    "step",
    "step_jit",
    "validate_polygon",
    "world_vertices",
]
