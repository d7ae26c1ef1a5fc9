"""The engine notebook presets: valid at every scale, ordered by cost, and the gpu one runs on a CPU."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rizzlib import jax2d
from rizzlib.jax2d.presets import PRESETS, Jax2DNotebookConfig, preset


def test_preset_picks_by_scale(monkeypatch):
    assert preset("smoke") is PRESETS.smoke and preset("gpu") is PRESETS.gpu
    monkeypatch.setenv("RIZZLIB_SCALE", "cpu")
    assert preset() is PRESETS.cpu
    with pytest.raises(ValueError, match="scale"):
        preset("huge")


def test_scales_grow():
    s, c, g = PRESETS.smoke, PRESETS.cpu, PRESETS.gpu
    assert s.rollout_steps < c.rollout_steps <= g.rollout_steps
    assert max(s.bench_batches) < max(c.bench_batches) < max(g.bench_batches)
    assert s.rest_steps < c.rest_steps and s.max_frames <= c.max_frames <= 80
    # the pendulum oracle needs at least two periods (2 s each) to measure one
    assert min(p.pendulum_seconds for _, p in PRESETS.items()) > 4.0


@pytest.mark.parametrize(
    "field, value",
    [("rollout_steps", 0), ("frame_size", 8), ("bench_batches", ()), ("bench_batches", (1, 0)),
     ("pendulum_seconds", 1.0), ("incline_angles", (95.0,)), ("stack_height", 0),
     ("solver_demo_iterations", ()), ("solver_demo_iterations", (0,)), ("incline_seconds", 5.0),
     ("restitution_heights", 1)],
)
def test_bad_values_are_rejected_by_name(field, value):
    with pytest.raises(ValueError, match=field.split("[")[0]):
        dataclasses.replace(Jax2DNotebookConfig(), **{field: value})


def test_gpu_preset_runs_one_step_on_cpu():
    """The gpu preset's largest benchmark batch of the S-size car scene, one jitted vmapped step."""
    cfg = PRESETS.gpu
    static = jax2d.StaticConfig.kinetix("s")
    sb = jax2d.SceneBuilder(static)
    sb.add_borders()
    box = sb.add_box((2.5, 1.0), (1.0, 0.4))
    wheel = sb.add_circle((2.0, 1.0), 0.3)
    sb.add_revolute_joint(box, wheel, anchor=(2.0, 1.0), motor=True)
    sb.add_thruster(box, (3.0, 1.0), rotation=np.pi)
    sb.add_circle((3.5, 2.0), 0.2)
    state = sb.build()
    batch = max(cfg.bench_batches)
    states = jax.tree.map(lambda x: jnp.broadcast_to(x, (batch, *x.shape)), state)
    actions = jnp.ones((batch, static.num_actions))
    params = jax2d.SimParams()
    out = jax.jit(jax.vmap(lambda s, a: jax2d.step(s, params, static, a)))(states, actions)
    pos = np.asarray(out.polygon.position)
    assert pos.shape == (batch, static.num_polygons, 2) and np.isfinite(pos).all()
    # every copy of the scene gets the same result
    np.testing.assert_array_equal(pos[0], pos[-1])
    assert np.asarray(out.circle.velocity)[0, 1, 1] < 0.0  # the free ball starts falling
