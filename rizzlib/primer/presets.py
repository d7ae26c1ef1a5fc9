"""Scale presets for chapter 0 (the tools)."""

from __future__ import annotations

import dataclasses

from rizzlib.core.scale import Presets


@dataclasses.dataclass(frozen=True)
class PrimerConfig:
    """Sizes of chapter 0's two small training runs.

    Attributes:
        mlp_hidden: width of the flax MLP's hidden layers (units).
        mlp_steps: optax steps fitting the MLP to a noisy sine (>= 1).
        mlp_lr: Adam learning rate for the MLP.
        n_points: training points for the regression.
        gpt_layers, gpt_dim, gpt_heads: size of the tiny GPT-2 built from a config.
        gpt_steps: AdamW steps teaching it to reverse a sequence of digits.
        gpt_seq: digits per sequence (the model sees 2 * gpt_seq + 1 tokens).
        gpt_batch: sequences per step.
        seed: seeds every random draw in the notebook.
    """

    mlp_hidden: int = 64
    mlp_steps: int = 2000
    mlp_lr: float = 3e-3
    n_points: int = 256
    gpt_layers: int = 2
    gpt_dim: int = 64
    gpt_heads: int = 4
    gpt_steps: int = 1000
    gpt_seq: int = 6
    gpt_batch: int = 64
    seed: int = 0

    def __post_init__(self):
        from rizzlib.core.validate import check_int_range

        for name in ("mlp_hidden", "mlp_steps", "n_points", "gpt_layers", "gpt_steps", "gpt_seq", "gpt_batch"):
            check_int_range(name, getattr(self, name), 1)
        check_int_range("gpt_dim", self.gpt_dim, 1)
        check_int_range("gpt_heads", self.gpt_heads, 1)
        if self.gpt_dim % self.gpt_heads:
            raise ValueError(f"gpt_dim must be divisible by gpt_heads; got {self.gpt_dim} and {self.gpt_heads}")


PRESETS: Presets[PrimerConfig] = Presets(
    smoke=PrimerConfig(mlp_hidden=32, mlp_steps=200, gpt_layers=1, gpt_dim=32, gpt_steps=60, gpt_batch=32),
    cpu=PrimerConfig(),
    gpu=PrimerConfig(mlp_hidden=256, mlp_steps=5000, n_points=4096, gpt_layers=4, gpt_dim=256, gpt_heads=8,
                     gpt_steps=5000, gpt_seq=12, gpt_batch=256),
)


def preset(scale: str | None = None) -> PrimerConfig:
    """The chapter 0 config for ``scale`` (``smoke``, ``cpu``, ``gpu`` or ``auto``/None)."""
    return PRESETS(scale)
