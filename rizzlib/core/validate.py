"""Argument checks for the Python boundary: each raises a ValueError naming the argument and the
allowed range. Nothing here clips or rounds a value: bad input is an error, never silently fixed."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np


def check_range(
    name: str,
    value: float,
    low: float | None = None,
    high: float | None = None,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` if ``low <= value <= high`` (bounds optional), else raise ValueError."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number; got {value!r}") from None
    if math.isnan(v):
        raise ValueError(f"{name} must be a number, not NaN")
    lo_ok = low is None or (v >= low if low_inclusive else v > low)
    hi_ok = high is None or (v <= high if high_inclusive else v < high)
    if not (lo_ok and hi_ok):
        lb = "-inf" if low is None else f"{low:g}"
        hb = "inf" if high is None else f"{high:g}"
        lbr = "[" if low_inclusive and low is not None else "("
        hbr = "]" if high_inclusive and high is not None else ")"
        raise ValueError(f"{name} must be in {lbr}{lb}, {hb}{hbr}; got {value!r}")
    return value


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    """Return ``value`` if it is > 0 (or >= 0 with ``allow_zero``), else raise ValueError."""
    return check_range(name, value, 0.0, None, low_inclusive=allow_zero)


def check_int_range(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as int if it is an integer in ``[low, high]``, else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer; got {value!r}")
    check_range(name, int(value), low, high)
    return int(value)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise ValueError listing them."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_finite(name: str, array: Any) -> Any:
    """Return ``array`` if every entry is finite, else raise ValueError with the first bad index."""
    a = np.asarray(array)
    if a.dtype.kind in "fc":
        bad = ~np.isfinite(a)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{name} must be finite; entry {idx} is {a[idx]!r}")
    return array


def check_shape(name: str, array: Any, shape: tuple[int | None, ...]) -> Any:
    """Return ``array`` if its shape matches ``shape`` (``None`` matches any size), else raise."""
    got = tuple(np.shape(array))
    if len(got) != len(shape) or any(s is not None and s != g for s, g in zip(shape, got)):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}; got {got}")
    return array
