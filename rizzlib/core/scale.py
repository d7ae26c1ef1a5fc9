"""The three scales every notebook runs at, and typed presets keyed by them.

``smoke`` is what CI runs (a notebook in at most 2 minutes), ``cpu`` is the committed run (at most
10 minutes on 2 cores), ``gpu`` is the paper's scale on one GPU. ``auto`` means ``gpu`` when an
accelerator is visible and ``cpu`` otherwise. The scale comes from the ``RIZZLIB_SCALE`` environment
variable unless a notebook passes one explicitly.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from typing import Generic, TypeVar

SCALES: tuple[str, ...] = ("smoke", "cpu", "gpu")
ENV_VAR = "RIZZLIB_SCALE"

T = TypeVar("T")


def accelerator_visible() -> bool:
    """True when a GPU is visible to torch or JAX (whichever is already imported) or to the driver."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return True
    jax = sys.modules.get("jax")
    if jax is not None and jax.default_backend() in ("gpu", "tpu"):
        return True
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return False
    return shutil.which("nvidia-smi") is not None


def resolve_scale(scale: str | None = None) -> str:
    """Turn ``scale`` (or ``$RIZZLIB_SCALE``, or ``"auto"``) into one of :data:`SCALES`.

    Raises:
        ValueError: the scale is not one of ``smoke``, ``cpu``, ``gpu``, ``auto``.
    """
    if scale is None:
        scale = os.environ.get(ENV_VAR, "auto")
    value = str(scale).strip().lower()
    if value == "auto":
        return "gpu" if accelerator_visible() else "cpu"
    if value not in SCALES:
        raise ValueError(
            f"scale must be one of {', '.join(SCALES)} or auto (from the argument or ${ENV_VAR}); "
            f"got {scale!r}"
        )
    return value


@dataclasses.dataclass(frozen=True)
class Presets(Generic[T]):
    """One configuration per scale; calling it picks the one for ``scale``.

    Example:
        >>> p = Presets(smoke=1, cpu=2, gpu=3)
        >>> p("smoke")
        1
    """

    smoke: T
    cpu: T
    gpu: T

    def __call__(self, scale: str | None = None) -> T:
        return getattr(self, resolve_scale(scale))

    def items(self) -> list[tuple[str, T]]:
        """``[(scale, config), ...]`` in the order smoke, cpu, gpu."""
        return [(s, getattr(self, s)) for s in SCALES]
