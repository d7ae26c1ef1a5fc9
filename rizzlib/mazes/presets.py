"""Chapter 3 experiment sizes at each scale (``smoke`` <= 2 min, ``cpu`` <= 10 min, ``gpu`` = paper).

Both objectives always get the same data, width and number of blocks, hence the same parameter count
(MLM-U splits its blocks into encoder + decoder; the next-token GPT stacks them all).
"""

from __future__ import annotations

import dataclasses

from rizzlib.core.scale import Presets
from rizzlib.core.validate import check_choice, check_int_range
from rizzlib.mazes.model import ModelConfig
from rizzlib.mazes.train import TrainConfig


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Which mazes to train and test on."""

    kind: str = "dfs"
    """``"dfs"`` (perfect mazes) or ``"astar"`` (random walls)."""
    sizes: tuple[int, ...] = (5,)
    """Grid sides n (3..30); every size gets its own train and test mazes."""
    n_train: int = 2000
    """Training mazes per size (tasks also in the test set are dropped)."""
    n_test: int = 500
    """Held-out mazes per size."""
    seed: int = 0
    """Seeds generation and tokenization (adjacency-list shuffles)."""

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, ("dfs", "astar"))
        if not self.sizes:
            raise ValueError("sizes must name at least one grid side")
        for n in self.sizes:
            check_int_range("sizes[i]", n, 3, 30)
        check_int_range("n_train", self.n_train, 1, None)
        check_int_range("n_test", self.n_test, 1, None)


@dataclasses.dataclass(frozen=True)
class MazeConfig:
    """One chapter run: data, model width/depth (shared by both objectives) and optimisation."""

    data: DataConfig
    train: TrainConfig
    d_model: int = 64
    """Residual width D."""
    n_heads: int = 4
    n_blocks: int = 4
    """Blocks in total: MLM-U gets n_blocks/2 encoder + n_blocks/2 decoder, the GPT n_blocks."""
    threads: int = 1
    """torch CPU threads. 1 is faster than 2 on a busy 2-core machine (OpenMP threads spin-wait)."""
    note: str = ""

    def model_config(self, objective: str, vocab_size: int) -> ModelConfig:
        """The :class:`ModelConfig` of ``objective`` ("mlmu" or "ntp") for a vocabulary of ``vocab_size``."""
        return ModelConfig(vocab_size, objective, self.d_model, self.n_heads, self.n_blocks)


PRESETS = Presets(
    smoke=MazeConfig(
        data=DataConfig(sizes=(4, 5), n_train=300, n_test=50),
        train=TrainConfig(steps=120, batch_size=32, eval_every=60, eval_mazes=50),
        d_model=64,
        n_blocks=4,
        note="plumbing only: the cpu models for a few steps",
    ),
    cpu=MazeConfig(
        data=DataConfig(sizes=(4, 5), n_train=3000, n_test=200),
        train=TrainConfig(steps=1000, batch_size=16, eval_every=250, eval_mazes=100),
        d_model=64,
        n_blocks=4,
        note="~0.2M parameters each, batch 16 as the official 5x5 configs, a few minutes per model on 2 busy cores",
    ),
    gpu=MazeConfig(
        data=DataConfig(sizes=(10,), n_train=98_000, n_test=2000, seed=42),
        train=TrainConfig(steps=40_000, batch_size=128, eval_every=5000, eval_mazes=500, seed=42, precision="bf16"),
        d_model=128,
        n_blocks=40,
        threads=8,
        note="the paper's 8M models (d 128; 20 + 20 vs 40 blocks) on 10x10 DFS mazes, ~1 h each on one H100",
    ),
)


def preset(scale: str | None = None) -> MazeConfig:
    """The :class:`MazeConfig` for ``scale`` (``smoke``, ``cpu``, ``gpu`` or ``auto``/``$RIZZLIB_SCALE``)."""
    return PRESETS(scale)
