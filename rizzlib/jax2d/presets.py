"""Notebook presets for the engine chapter (``notebooks/01a_jax2d.ipynb``) at the three scales.

``smoke`` runs the whole notebook in under 2 minutes on 2 CPU cores (CI), ``cpu`` in under 10 (the
committed outputs), ``gpu`` times the engine at the large batches where a GPU pays off.
"""

from __future__ import annotations

import dataclasses

from rizzlib.core.scale import Presets
from rizzlib.core.validate import check_int_range, check_range


@dataclasses.dataclass(frozen=True)
class Jax2DNotebookConfig:
    """What the engine notebook runs.

    Attributes:
        rollout_steps: length of each demo rollout (car, stack, bounce, pendulum), physics steps of 1/60 s.
        frame_size: animation frames are ``frame_size`` x ``frame_size`` pixels.
        max_frames: frames kept per animation (evenly spaced over the rollout).
        bench_batches: batch sizes (parallel scenes) of the in-notebook benchmark.
        bench_steps: physics steps per timed rollout (one ``lax.scan`` inside one ``jit``).
        bench_repeats: timed runs after the compile run; the best one counts.
        bench_peer: also time the PyPI ``jax2d`` package when it is importable.
        solver_demo_iterations: solver iteration counts compared (with and without warm starting) on
            a resting stack; each value compiles two rollouts.
        pendulum_seconds: simulated time of the pendulum oracle (several periods of ~2 s), s.
        bounce_seconds: simulated time of the bouncing-ball oracle, s.
        rest_steps: steps of the resting-box drift oracle.
        stack_seconds: simulated time of the box-stack oracle, s.
        stack_height: boxes in the stack oracle.
        incline_seconds: simulated time of each friction-on-an-incline run, s (the notebook's slope
            is long enough for 2 s at 45 degrees).
        incline_angles: slope angles tried, degrees.
        restitution_heights: drop heights (5 cm to 3 m) of the restitution sweep, ours and jax2d.
    """

    rollout_steps: int = 300
    frame_size: int = 200
    max_frames: int = 60
    bench_batches: tuple[int, ...] = (1, 64, 256)
    bench_steps: int = 200
    bench_repeats: int = 3
    bench_peer: bool = True
    solver_demo_iterations: tuple[int, ...] = (2, 10)
    pendulum_seconds: float = 10.0
    bounce_seconds: float = 4.0
    rest_steps: int = 1000
    stack_seconds: float = 10.0
    stack_height: int = 5
    incline_seconds: float = 2.0
    incline_angles: tuple[float, ...] = (15.0, 20.0, 40.0, 45.0)
    restitution_heights: int = 24

    def __post_init__(self):
        check_int_range("rollout_steps", self.rollout_steps, 10, 100_000)
        check_int_range("frame_size", self.frame_size, 32, 1024)
        check_int_range("max_frames", self.max_frames, 2, 1000)
        if not self.bench_batches:
            raise ValueError("bench_batches must list at least one batch size")
        for b in self.bench_batches:
            check_int_range("bench_batches[i]", b, 1, 1 << 22)
        check_int_range("bench_steps", self.bench_steps, 1, 100_000)
        check_int_range("bench_repeats", self.bench_repeats, 1, 100)
        if not self.solver_demo_iterations:
            raise ValueError("solver_demo_iterations must list at least one iteration count")
        for n in self.solver_demo_iterations:
            check_int_range("solver_demo_iterations[i]", n, 1, 1000)
        check_range("pendulum_seconds", self.pendulum_seconds, 2.5, 600.0)
        check_range("bounce_seconds", self.bounce_seconds, 0.5, 600.0)
        check_int_range("rest_steps", self.rest_steps, 10, 1_000_000)
        check_range("stack_seconds", self.stack_seconds, 0.1, 600.0)
        check_int_range("stack_height", self.stack_height, 1, 50)
        check_range("incline_seconds", self.incline_seconds, 0.1, 2.0)
        for a in self.incline_angles:
            check_range("incline_angles[i]", a, 0.0, 45.0)
        check_int_range("restitution_heights", self.restitution_heights, 2, 4096)


PRESETS: Presets[Jax2DNotebookConfig] = Presets(
    smoke=Jax2DNotebookConfig(
        rollout_steps=90,
        frame_size=96,
        max_frames=12,
        bench_batches=(8,),
        bench_steps=20,
        bench_repeats=1,
        bench_peer=False,
        solver_demo_iterations=(2,),
        pendulum_seconds=4.5,
        bounce_seconds=2.5,
        rest_steps=120,
        stack_seconds=1.0,
        stack_height=3,
        incline_seconds=1.0,
        incline_angles=(15.0, 45.0),
        restitution_heights=4,
    ),
    cpu=Jax2DNotebookConfig(),
    gpu=Jax2DNotebookConfig(
        rollout_steps=600,
        frame_size=256,
        max_frames=80,
        bench_batches=(1, 256, 1024, 4096, 16384),
        bench_steps=500,
        bench_repeats=3,
        solver_demo_iterations=(1, 2, 4, 10, 20),
        pendulum_seconds=20.0,
        bounce_seconds=6.0,
        rest_steps=3000,
        stack_seconds=20.0,
        stack_height=8,
        incline_seconds=2.0,
        incline_angles=(10.0, 15.0, 20.0, 25.0, 37.0, 40.0, 43.0, 45.0),
        restitution_heights=64,
    ),
)


def preset(scale: str | None = None) -> Jax2DNotebookConfig:
    """The notebook config for ``scale`` (``smoke``, ``cpu``, ``gpu``, ``auto`` or ``$RIZZLIB_SCALE``)."""
    return PRESETS(scale)
