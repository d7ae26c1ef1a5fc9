"""Shared infrastructure: scales and presets, grading checks, runtime report, plots and animations."""

from rizzlib.core.scale import SCALES, Presets, resolve_scale
from rizzlib.core.validate import check_choice, check_finite, check_positive, check_range

__all__ = [
    "SCALES",
    "Presets",
    "resolve_scale",
    "check_choice",
    "check_finite",
    "check_positive",
    "check_range",
]
