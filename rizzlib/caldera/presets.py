"""Chapter 2 sizes at each scale (``smoke`` <= 2 min, ``cpu`` <= 10 min on 2 cores, ``gpu`` = spec §7.2).

``smoke`` and ``cpu`` compress the shipped stdlib byte LM; ``gpu`` loads a real open model and
WikiText-2 by name (``from_pretrained`` / ``datasets``), which needs the network.
"""

from __future__ import annotations

import dataclasses

from rizzlib.caldera.decompose import CalderaConfig
from rizzlib.core.scale import Presets
from rizzlib.core.validate import check_int_range


@dataclasses.dataclass(frozen=True)
class ChapterConfig:
    """One chapter run."""

    model: str = "stdlib"
    """``"stdlib"`` (the shipped checkpoint) or a Hugging Face model name for ``from_pretrained``."""
    dataset: str = "wikitext"
    """``gpu`` only: where ``datasets.load_dataset`` finds WikiText-2 (the hub name or a local copy)."""
    ctx: int = 128
    calib_windows: int = 64
    eval_windows: int = 64
    ranks: tuple[int, ...] = (0, 16, 32)
    """CALDERA ranks of the whole-model table (0 = LDLQ + E8P, QuIP# without fine-tuning); RHT-FT and
    LoRA run at the largest."""
    wide_q_bits: tuple[int, ...] = (3,)
    """Wider Q at rank 0 beside the ranks (GPTQ and LDLQ + E8P-RVQ at these bits): the other way to
    spend the bits a rank costs."""
    outer_iters: int = 5
    lr_iters: int = 10
    tune_iters: int = 2
    lr_bits: int = 4
    ft_rank: int = 8
    lora_steps: int = 100
    lora_lr: float = 1e-3
    rht_ft_steps: int = 60
    """RHT fine-tuning steps (batch 2, lr 1e-3, distillation) before LoRA at the largest rank; 0: skip."""
    rht_ft_lr: float = 1e-3
    threads: int = 1
    layer_sweep_ranks: tuple[int, ...] = (0, 8, 16, 32)
    gaussian_vectors: int = 20000
    blocks: tuple[int, ...] | None = None
    """Decoder blocks the whole-model table compresses (None: all)."""
    sweep_iters: int = 8
    """Outer iterations of the one-layer error curves."""

    def __post_init__(self) -> None:
        check_int_range("ctx", self.ctx, 2, None)
        check_int_range("calib_windows", self.calib_windows, 1, None)
        check_int_range("eval_windows", self.eval_windows, 1, None)
        for k in self.ranks:
            check_int_range("ranks[i]", k, 0, None)
        if len(set(self.ranks)) != len(self.ranks):
            raise ValueError(f"ranks must not repeat a rank; got {self.ranks}")
        for b in self.wide_q_bits:
            check_int_range("wide_q_bits[i]", b, 3, 4)
        check_int_range("lora_steps", self.lora_steps, 0, None)
        check_int_range("rht_ft_steps", self.rht_ft_steps, 0, None)

    def caldera_config(self, rank: int, ft_rank: int | None = None, q_bits: int = 2) -> CalderaConfig:
        """The per-matrix CALDERA settings of this run at ``rank`` (``q_bits``: E8P or its RVQ variants)."""
        ft = min(self.ft_rank if ft_rank is None else ft_rank, rank)
        return CalderaConfig(
            rank=rank, q_bits=q_bits, lr_bits=self.lr_bits, outer_iters=self.outer_iters, lr_iters=self.lr_iters,
            tune_iters=self.tune_iters, ft_rank=ft,
        )  # fmt: skip


PRESETS = Presets(
    smoke=ChapterConfig(
        calib_windows=8, eval_windows=8, ranks=(0, 8, 16), outer_iters=1, lr_iters=2, tune_iters=0, lora_steps=5, rht_ft_steps=4,
        layer_sweep_ranks=(0, 16), gaussian_vectors=4000, blocks=(0,), sweep_iters=2,
    ),
    cpu=ChapterConfig(outer_iters=3, lr_iters=5, tune_iters=1, layer_sweep_ranks=(0, 8, 32), sweep_iters=6),
    gpu=ChapterConfig(
        model="HuggingFaceTB/SmolLM2-360M", ctx=2048, calib_windows=256, eval_windows=512, ranks=(0, 64, 128),
        outer_iters=10, lr_iters=20, tune_iters=5, ft_rank=64, lora_steps=1000, lora_lr=1e-4, threads=8,
        rht_ft_steps=96,
    ),
)  # fmt: skip


def preset(scale: str | None = None) -> ChapterConfig:
    """The :class:`ChapterConfig` for ``scale`` (default: ``$RIZZLIB_SCALE`` or auto)."""
    return PRESETS(scale)
