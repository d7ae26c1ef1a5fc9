"""Automatic checks for the graded exercises.

A check calls the student's function and ``rizzlib``'s reference on fresh random inputs and
compares the results, so a constant or a pasted expected value cannot pass. It prints one line on
success and raises :class:`CheckFailed` (an ``AssertionError``) describing the first mismatch
otherwise. Checks are plain numpy at the comparison step, so they run offline, on Colab and in CI.

Each chapter's ``checks.py`` builds its ``check_*`` functions from :func:`compare_with_reference`
and :func:`expect_error`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

Inputs = tuple[tuple[Any, ...], dict[str, Any]]


class CheckFailed(AssertionError):
    """A graded check found a mismatch; the message says where and what was expected."""


def to_numpy(x: Any) -> Any:
    """Convert arrays (numpy, JAX, torch) inside any nest of tuples/lists/dicts/dataclasses."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor
        return x.detach().cpu().numpy()
    if isinstance(x, Mapping):
        return {k: to_numpy(v) for k, v in x.items()}
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: to_numpy(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, tuple) and hasattr(x, "_fields"):  # NamedTuple
        return {k: to_numpy(v) for k, v in zip(x._fields, x)}
    if isinstance(x, (tuple, list)):
        return type(x)(to_numpy(v) for v in x) if isinstance(x, list) else tuple(to_numpy(v) for v in x)
    if isinstance(x, (int, float, bool, complex, np.number, np.bool_)) or hasattr(x, "__array__"):
        return np.asarray(x)
    return x


def _first_mismatch(expected: Any, got: Any, rtol: float, atol: float, path: str = "") -> str | None:
    """Describe the first place where ``got`` differs from ``expected``, or None if they agree."""
    where = path or "the result"
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            keys = sorted(got) if isinstance(got, dict) else type(got).__name__
            return f"{where}: expected fields {sorted(expected)}, got {keys}"
        for k in expected:
            msg = _first_mismatch(expected[k], got[k], rtol, atol, f"{path}.{k}" if path else str(k))
            if msg:
                return msg
        return None
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            n = len(got) if isinstance(got, (tuple, list)) else type(got).__name__
            return f"{where}: expected a sequence of {len(expected)} items, got {n}"
        for i, (e, g) in enumerate(zip(expected, got)):
            msg = _first_mismatch(e, g, rtol, atol, f"{path}[{i}]")
            if msg:
                return msg
        return None
    if isinstance(expected, np.ndarray):
        if got is None:
            return f"{where}: got None (did you forget to return?)"
        g = np.asarray(got)
        if g.shape != expected.shape:
            return f"{where}: expected shape {expected.shape}, got shape {g.shape}"
        if expected.dtype.kind in "biu" and g.dtype.kind not in "biu":
            return f"{where}: expected integer/boolean values, got dtype {g.dtype}"
        if expected.dtype.kind in "fc" or g.dtype.kind in "fc":
            ok = np.isclose(g.astype(complex if g.dtype.kind == "c" else float), expected, rtol=rtol, atol=atol, equal_nan=True)
        else:
            ok = g == expected
        if not np.all(ok):
            idx = tuple(int(i) for i in np.argwhere(~np.asarray(ok))[0]) if np.ndim(ok) else ()
            e_val, g_val = expected[idx], g[idx]
            n_bad = int(np.size(ok) - np.count_nonzero(ok))
            at = f" at index {idx}" if idx else ""
            return f"{where}{at}: expected {e_val!r}, got {g_val!r} ({n_bad} of {np.size(ok)} entries differ)"
        return None
    if expected != got:
        return f"{where}: expected {expected!r}, got {got!r}"
    return None


def _summarise(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    def one(v: Any) -> str:
        a = to_numpy(v)
        if isinstance(a, np.ndarray) and a.size > 6:
            return f"array{a.shape}"
        r = repr(a if not isinstance(a, np.ndarray) else a.tolist())
        return r if len(r) < 60 else r[:57] + "..."

    parts = [one(a) for a in args] + [f"{k}={one(v)}" for k, v in kwargs.items()]
    return ", ".join(parts)


def compare_with_reference(
    name: str,
    student_fn: Callable[..., Any],
    reference_fn: Callable[..., Any],
    make_inputs: Callable[[np.random.Generator], Inputs],
    *,
    n_trials: int = 5,
    seed: int | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    verbose: bool = True,
) -> None:
    """Check ``student_fn`` against ``reference_fn`` on ``n_trials`` random inputs.

    Args:
        name: what the exercise is called in messages.
        student_fn, reference_fn: called with the same ``(*args, **kwargs)``.
        make_inputs: ``rng -> (args, kwargs)``; called once per trial with a fresh generator.
        n_trials: how many random inputs to try (>= 1).
        seed: fixes the inputs (for a reproducible failure); ``None`` draws fresh ones every run.
        rtol, atol: tolerances for floating-point outputs (as in ``numpy.isclose``).

    Raises:
        CheckFailed: on the first trial whose outputs differ; the message names the trial, the
            seed that reproduces it, the inputs and the first mismatching entry.
    """
    if not callable(student_fn):
        raise CheckFailed(f"❌ {name}: expected a function, got {type(student_fn).__name__}")
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1; got {n_trials}")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**31))
    rng = np.random.default_rng(seed)
    for trial in range(n_trials):
        args, kwargs = make_inputs(rng)
        expected = to_numpy(reference_fn(*args, **kwargs))
        got = to_numpy(student_fn(*args, **kwargs))
        msg = _first_mismatch(expected, got, rtol, atol)
        if msg:
            raise CheckFailed(
                f"❌ {name}: trial {trial + 1} of {n_trials} failed (seed={seed}).\n"
                f"   inputs: {_summarise(args, kwargs)}\n   {msg}"
            )
    if verbose:
        print(f"✅ {name}: matches the reference on {n_trials} random inputs.")


def expect_error(
    name: str,
    fn: Callable[..., Any],
    args: tuple[Any, ...] = (),
    kwargs: Mapping[str, Any] | None = None,
    error: type[BaseException] = ValueError,
    match: str | None = None,
) -> None:
    """Check that ``fn(*args, **kwargs)`` raises ``error`` (with ``match`` in its message)."""
    kwargs = dict(kwargs or {})
    try:
        fn(*args, **kwargs)
    except NotImplementedError:
        raise
    except error as e:
        if match is not None and match not in str(e):
            raise CheckFailed(f"❌ {name}: raised {error.__name__} but the message {str(e)!r} does not mention {match!r}") from None
        return
    except Exception as e:  # noqa: BLE001 - we report whatever else came out
        raise CheckFailed(f"❌ {name}: expected {error.__name__} for {_summarise(args, kwargs)}, got {type(e).__name__}: {e}") from None
    raise CheckFailed(f"❌ {name}: expected {error.__name__} for {_summarise(args, kwargs)}, but nothing was raised")


def passed(name: str, detail: str = "") -> None:
    """Print the success line for a check that is not a plain comparison."""
    print(f"✅ {name}: passed{' - ' + detail if detail else ''}.")


def fail(name: str, message: str) -> None:
    """Raise :class:`CheckFailed` with the standard prefix."""
    raise CheckFailed(f"❌ {name}: {message}")
