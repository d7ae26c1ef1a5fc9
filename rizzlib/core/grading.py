"""Automatic checks for the graded exercises.

How to write a chapter's check (``rizzlib/<chapter>/checks.py``)::

    def check_softmax(fn, n_trials=5, seed=None):
        edge = [("one entry", (np.array([3.0]),), {}),          # fixed cases, run first, every run
                ("huge logits", (np.array([1e4, 1e4 - 1]),), {})]
        compare_with_reference("softmax", fn, reference.softmax,
                               lambda rng: ((rng.normal(size=int(rng.integers(1, 9))),), {}),
                               edge_cases=edge, output_names=("probs",), n_trials=n_trials, seed=seed)

- ``edge_cases``: ``(args, kwargs)`` or ``(label, args, kwargs)`` tuples, tried before the random
  trials on every run, so a wrong answer that only edge cases expose fails every time.
- ``output_names`` names the returned tuple's items (messages say ``output delta``, not ``[1]``).
- Every input is snapshotted; a student function that changes one in place fails, naming it
  (``arg_names`` overrides the names read from the reference's signature).
- A failure (a mismatch, or an exception raised inside the student's code) says the case, the seed,
  the inputs (values or statistics) and a one-line reproduce call, ``check_x(fn, seed=...)``
  (the calling ``check_*`` function is found automatically; ``reproduce=`` overrides it).
- Success prints one line starting with ``PASS``; failures raise :class:`CheckFailed` whose message
  starts with ``FAIL``. ``NotImplementedError`` (the blank exercise) propagates unchanged.
- Property checks (several right answers): :func:`call_student` runs the student's function with
  the same wrapping (exception context, in-place-change detection); then :func:`fail` / :func:`passed`.
- Tests: ``assert_check_grades(check_x, [right_answers], [>= 3 wrong answers], seeds=range(20))``
  asserts that every right answer passes and every wrong one fails, on every seed.

A check calls the student's function and ``rizzlib``'s reference on the same inputs and compares
everything returned, so a constant or a pasted expected value cannot pass. Comparisons are plain
numpy (torch and JAX outputs are converted), so checks run offline, on Colab and in CI.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

Inputs = tuple[tuple[Any, ...], dict[str, Any]]

PASS, FAIL = "PASS", "FAIL"


class CheckFailed(AssertionError):
    """A graded check found a mismatch; the message says where and what was expected."""


# ------------------------------------------------------------------------------------ conversion


def _is_torch_tensor(x: Any) -> bool:
    return hasattr(x, "detach") and hasattr(x, "cpu") and hasattr(x, "numpy")


def _is_torch_module(x: Any) -> bool:
    return hasattr(x, "state_dict") and hasattr(x, "parameters") and callable(getattr(x, "parameters", None))


def to_numpy(x: Any) -> Any:
    """Convert arrays (numpy, JAX, torch) inside any nest of tuples/lists/dicts/dataclasses."""
    if _is_torch_tensor(x):
        return x.detach().cpu().numpy()
    if isinstance(x, Mapping):
        return {k: to_numpy(v) for k, v in x.items()}
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: to_numpy(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, tuple) and hasattr(x, "_fields"):  # NamedTuple
        return {k: to_numpy(v) for k, v in zip(x._fields, x)}
    if isinstance(x, (tuple, list)):
        return [to_numpy(v) for v in x] if isinstance(x, list) else tuple(to_numpy(v) for v in x)
    if isinstance(x, (int, float, bool, complex, np.number, np.bool_)) or hasattr(x, "__array__"):
        try:
            return np.asarray(x)
        except Exception:  # noqa: BLE001 - e.g. JAX typed PRNG keys: compare as opaque objects
            return x
    return x


# ------------------------------------------------------------------------------------ comparison


def _first_mismatch(expected: Any, got: Any, rtol: float, atol: float, path: str = "") -> str | None:
    """Describe the first place where ``got`` differs from ``expected``, or None if they agree."""
    where = f"output {path}" if path else "the result"
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            keys = sorted(map(str, got)) if isinstance(got, dict) else type(got).__name__
            return f"{where}: expected fields {sorted(map(str, expected))}, got {keys}"
        for k in expected:
            msg = _first_mismatch(expected[k], got[k], rtol, atol, f"{path}.{k}" if path else str(k))
            if msg:
                return msg
        return None
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)):
            return f"{where}: expected a sequence of {len(expected)} items, got {type(got).__name__}"
        for i, (e, g) in enumerate(zip(expected, got)):
            msg = _first_mismatch(e, g, rtol, atol, f"{path}[{i}]")
            if msg:
                return msg
        if len(got) != len(expected):
            n = min(len(got), len(expected))
            extra = f"first extra item {got[n]!r}" if len(got) > n else f"first missing item {expected[n]!r}"
            return f"{where}: expected {len(expected)} items, got {len(got)} (the first {n} agree; {extra})"
        return None
    if isinstance(expected, np.ndarray):
        if got is None:
            return f"{where}: got None (did you forget to return?)"
        try:
            g = np.asarray(got)
        except Exception:  # noqa: BLE001
            return f"{where}: expected an array, got {type(got).__name__}"
        if g.shape != expected.shape:
            return f"{where}: expected shape {expected.shape}, got shape {g.shape}"
        if expected.dtype.kind in "biu" and g.dtype.kind not in "biu":
            return f"{where}: expected integer/boolean values, got dtype {g.dtype}"
        if g.dtype.kind not in "biufc":
            return f"{where}: expected numbers, got dtype {g.dtype}"
        if expected.dtype.kind in "fc" or g.dtype.kind in "fc":
            kind = complex if "c" in (g.dtype.kind, expected.dtype.kind) else float
            ok = np.isclose(g.astype(kind), expected.astype(kind), rtol=rtol, atol=atol, equal_nan=True)
        else:
            ok = g == expected
        if not np.all(ok):
            idx = tuple(int(i) for i in np.argwhere(~np.asarray(ok))[0]) if np.ndim(ok) else ()
            e_val, g_val = expected[idx], g[idx]
            n_bad = int(np.size(ok) - np.count_nonzero(ok))
            at = f" at index {idx}" if idx else ""
            of = f" ({n_bad} of {np.size(ok)} entries differ)" if np.size(ok) > 1 else ""
            return f"{where}{at}: expected {_scalar(e_val)}, got {_scalar(g_val)}{of}"
        return None
    if callable(expected) and not isinstance(expected, type):
        return None  # functions inside a state (apply_fn, optimiser closures) are not graded
    try:
        differ = bool(expected != got)
    except Exception:  # noqa: BLE001 - ambiguous comparisons count as different
        differ = True
    if differ:
        return f"{where}: expected {_short_repr(expected)}, got {_short_repr(got)}"
    return None


def _scalar(v: Any) -> str:
    v = np.asarray(v)
    if v.dtype.kind == "f":
        return f"{float(v):.6g}"
    if v.dtype.kind == "b":
        return str(bool(v))
    if v.dtype.kind in "iu":
        return str(int(v))
    return repr(v.item())


def _short_repr(v: Any, limit: int = 80) -> str:
    r = repr(v)
    if " at 0x" in r:
        return getattr(v, "__name__", type(v).__name__)
    return r if len(r) <= limit else r[: limit - 3] + "..."


# ------------------------------------------------------------------------------- describing inputs


def describe_value(v: Any, limit: int = 24, nested: bool = False) -> str:
    """A short, readable form of one input: values when small, statistics when large."""
    if _is_torch_module(v):
        n = sum(int(p.numel()) for p in v.parameters())
        return f"{type(v).__name__} ({n:,} parameters)"
    if isinstance(v, np.random.Generator):
        return "a numpy Generator"
    if callable(v) and not hasattr(v, "__array__"):
        return getattr(v, "__name__", type(v).__name__)
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        fields = [f"{f.name}={describe_value(getattr(v, f.name), nested=True)}" for f in dataclasses.fields(v)
                  if not callable(getattr(v, f.name)) or _is_torch_module(getattr(v, f.name))]
        return _clip(f"{type(v).__name__}({', '.join(fields)})", 400)
    a = to_numpy(v)
    if isinstance(a, np.ndarray):
        if a.ndim == 0:
            return _scalar(a) if a.dtype.kind in "biufc" else repr(a.item())
        kind = f"{a.dtype} array of shape {a.shape}"
        if nested:
            return f"{a.tolist()}" if a.size <= 4 and a.ndim == 1 else f"{a.dtype}{a.shape}"
        if a.size <= limit and a.ndim <= 2 and a.dtype.kind in "biuf":
            body = np.array2string(a, precision=4, separator=", ", max_line_width=100, threshold=limit)
            return body.replace("\n", "\n      ") + f"  ({kind})"
        if a.size == 0:
            return kind
        if a.dtype.kind == "b":
            return f"{kind}: {int(a.sum())} of {a.size} True"
        if a.dtype.kind in "iuf":
            finite = a[np.isfinite(a)] if a.dtype.kind == "f" else a
            if finite.size == 0:
                return f"{kind}: no finite entries"
            nonfinite = f", {a.size - finite.size} non-finite" if finite.size < a.size else ""
            return (f"{kind}: min {_scalar(finite.min())}, max {_scalar(finite.max())}, "
                    f"mean {float(finite.mean()):.4g}{nonfinite}")
        return kind
    if isinstance(a, dict):
        inner = ", ".join(f"{k}={describe_value(x, nested=True)}" for k, x in list(a.items())[:8])
        return _clip("{" + inner + (", ..." if len(a) > 8 else "") + "}", 400 if not nested else 200)
    if isinstance(a, (list, tuple)):
        if all(isinstance(x, (str, int, float, bool)) for x in a) and len(a) > 12:
            return f"{type(a).__name__} of {len(a)} items: {_short_repr(list(a[:8]), 70)[:-1]}, ...]"
        if not all(isinstance(x, (str, int, float, bool)) for x in a):
            inner = ", ".join(describe_value(x, nested=True) for x in a[:8])
            br = "[]" if isinstance(a, list) else "()"
            return _clip(br[0] + inner + (", ..." if len(a) > 8 else "") + br[1], 300)
    return _short_repr(a, 100)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def _arg_names(fn: Callable[..., Any], n: int) -> list[str]:
    names: list[str] = []
    try:
        for p in inspect.signature(fn).parameters.values():
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                names.append(p.name)
            elif p.kind == p.VAR_POSITIONAL:
                break
    except (TypeError, ValueError):
        pass
    return [names[i] if i < len(names) else f"argument {i + 1}" for i in range(n)]


def describe_inputs(args: Sequence[Any], kwargs: Mapping[str, Any], arg_names: Sequence[str] | None = None) -> str:
    """One line per input, ``name = value or statistics``."""
    names = list(arg_names or []) + [f"argument {i + 1}" for i in range(len(arg_names or []), len(args))]
    rows = [(names[i], describe_value(a)) for i, a in enumerate(args)] + [(k, describe_value(v)) for k, v in kwargs.items()]
    if not rows:
        return "  inputs: (none)"
    width = max(len(n) for n, _ in rows)
    return "  inputs:\n" + "\n".join(f"    {n:<{width}} = {d}" for n, d in rows)


# ----------------------------------------------------------------------------- in-place changes


_OPAQUE = object()


def _snapshot(x: Any, depth: int = 0) -> Any:
    """A deep copy of everything mutable in ``x`` that a student could change in place."""
    if depth > 8:
        return _OPAQUE
    if isinstance(x, np.ndarray):
        return x.copy()
    if _is_torch_tensor(x):
        return x.detach().cpu().clone().numpy()
    if _is_torch_module(x):
        return {"state_dict": {k: v.detach().cpu().clone().numpy() for k, v in x.state_dict().items()}}
    if isinstance(x, Mapping):
        return {k: _snapshot(v, depth + 1) for k, v in x.items()}
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: _snapshot(getattr(x, f.name), depth + 1) for f in dataclasses.fields(x)}
    if isinstance(x, (list, tuple)):
        return [_snapshot(v, depth + 1) for v in x] if isinstance(x, list) else tuple(_snapshot(v, depth + 1) for v in x)
    if isinstance(x, (int, float, bool, complex, str, bytes, type(None), np.number, np.bool_)):
        return x
    return _OPAQUE  # immutable (JAX arrays) or not graded (generators, functions)


def _changed(before: Any, after: Any, path: str = "") -> str | None:
    """Where ``after`` (a fresh snapshot) differs from ``before``; None when unchanged."""
    if before is _OPAQUE or after is _OPAQUE:
        return None
    if isinstance(before, np.ndarray):
        if not isinstance(after, np.ndarray) or before.shape != after.shape or before.dtype != after.dtype:
            return f"{path or 'it'} changed shape or dtype"
        same = (before == after) | ((before != before) & (after != after)) if before.dtype.kind in "fc" else before == after
        if not np.all(same):
            idx = tuple(int(i) for i in np.argwhere(~np.asarray(same))[0]) if before.ndim else ()
            at = f"entry {idx}" if idx else "its value"
            return f"{path + ' ' if path else ''}{at} was {_scalar(before[idx])}, now {_scalar(after[idx])}"
        return None
    if isinstance(before, dict):
        if not isinstance(after, dict) or set(before) != set(after):
            return f"{path or 'it'}: its keys changed"
        for k in before:
            msg = _changed(before[k], after[k], f"{path}.{k}" if path else str(k))
            if msg:
                return msg
        return None
    if isinstance(before, (list, tuple)):
        if not isinstance(after, (list, tuple)) or len(before) != len(after):
            return f"{path or 'it'}: its length changed from {len(before)}"
        for i, (b, a) in enumerate(zip(before, after)):
            msg = _changed(b, a, f"{path}[{i}]")
            if msg:
                return msg
        return None
    try:
        return None if before == after else f"{path or 'it'} was {before!r}, now {after!r}"
    except Exception:  # noqa: BLE001
        return None


# ------------------------------------------------------------------------------------ reporting


def _caller_check_name() -> str | None:
    """The nearest calling function named ``check_*`` (the chapter's check)."""
    frame = sys._getframe(1)
    for _ in range(8):
        if frame is None:
            break
        if frame.f_code.co_name.startswith("check_"):
            return frame.f_code.co_name
        frame = frame.f_back
    return None


def _fn_name(fn: Any) -> str:
    name = getattr(fn, "__name__", "")
    return name if name.isidentifier() else "your_function"


def reproduce_line(student_fn: Any, seed: int, check_name: str | None = None) -> str:
    """``check_x(fn, seed=123)``: the call that reruns exactly the failing case."""
    check_name = check_name or _caller_check_name()
    if check_name is None:
        return f"rerun the check with seed={seed}"
    return f"{check_name}({_fn_name(student_fn)}, seed={seed})"


def _message(name: str, what: str, case: str, inputs: str | None, reproduce: str | None, detail: str = "") -> str:
    parts = [f"{FAIL} {name}: {what}", f"  case: {case}"]
    if detail:
        parts.append(f"  {detail}")
    if inputs:
        parts.append(inputs)
    if reproduce:
        parts.append(f"  reproduce: {reproduce}")
    return "\n".join(parts)


def call_student(
    name: str,
    student_fn: Callable[..., Any],
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    case: str = "",
    arg_names: Sequence[str] | None = None,
    reproduce: str | None = None,
) -> Any:
    """Call ``student_fn(*args, **kwargs)`` as a check does and return its result.

    ``NotImplementedError`` propagates. Any other exception becomes :class:`CheckFailed` naming
    ``case``, the inputs and ``reproduce``; so does a change the function made to an input in place.
    """
    args, kwargs = tuple(args), dict(kwargs or {})
    names = list(arg_names) if arg_names is not None else _arg_names(student_fn, len(args))
    before = _snapshot((args, kwargs))
    try:
        out = student_fn(*args, **kwargs)
    except NotImplementedError:
        raise
    except CheckFailed as e:  # raised by a wrapper inside the check: add the context
        text = str(e).removeprefix(f"{FAIL} {name}: ")
        raise CheckFailed(_message(name, text, case, describe_inputs(args, kwargs, names), reproduce)) from None
    except Exception as e:  # noqa: BLE001 - the student's own code raised
        raise CheckFailed(
            _message(name, f"your function raised {type(e).__name__}: {e}", case,
                     describe_inputs(args, kwargs, names), reproduce,
                     "(the traceback above shows the line in your code)")
        ) from e
    after = _snapshot((args, kwargs))
    for i, (b, a) in enumerate(zip(before[0], after[0])):
        msg = _changed(b, a)
        if msg:
            raise CheckFailed(_message(
                name, f"you changed argument `{names[i]}` in place ({msg}); "
                "work on a copy (x.copy(), x.clone()) and return new arrays", case,
                describe_inputs(before[0], before[1], names), reproduce))
    for k in before[1]:
        msg = _changed(before[1][k], after[1][k])
        if msg:
            raise CheckFailed(_message(
                name, f"you changed argument `{k}` in place ({msg}); "
                "work on a copy and return new arrays", case, describe_inputs(before[0], before[1], names), reproduce))
    return out


def fresh_copy(x: Any, depth: int = 0) -> Any:
    """A copy of everything mutable in ``x`` (numpy arrays, torch tensors, generators, containers,
    dataclasses); immutable leaves (JAX arrays, functions, flax modules) and torch modules are
    shared, so compiled JAX functions keyed on them are reused."""
    if depth > 8:
        return x
    if isinstance(x, np.ndarray):
        return x.copy()
    if _is_torch_module(x):
        return x  # shared (copying weights is slow); changes to its parameters are still detected
    if isinstance(x, np.random.Generator) or _is_torch_tensor(x):
        try:
            return copy.deepcopy(x)
        except Exception:  # noqa: BLE001 - e.g. a non-leaf tensor: the reference sees the original
            return x
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(fresh_copy(v, depth + 1) for v in x))
    if isinstance(x, (list, tuple)):
        return type(x)(fresh_copy(v, depth + 1) for v in x)
    if type(x) is dict:
        return {k: fresh_copy(v, depth + 1) for k, v in x.items()}
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        try:
            return dataclasses.replace(x, **{f.name: fresh_copy(getattr(x, f.name), depth + 1)
                                             for f in dataclasses.fields(x) if f.init})
        except Exception:  # noqa: BLE001
            return x
    return x


def _normalise_edge_cases(edge_cases: Sequence[Any]) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    out = []
    for i, case in enumerate(edge_cases):
        if len(case) == 3 and isinstance(case[0], str):
            label, args, kwargs = case
        elif len(case) == 2:
            (args, kwargs), label = case, ""
        else:
            raise ValueError(f"edge_cases[{i}] must be (args, kwargs) or (label, args, kwargs); got {case!r}")
        out.append((label, tuple(args), dict(kwargs)))
    return out


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
    edge_cases: Sequence[Any] = (),
    output_names: Sequence[str] | None = None,
    arg_names: Sequence[str] | None = None,
    reproduce: str | None = None,
) -> None:
    """Check ``student_fn`` against ``reference_fn`` on fixed edge cases, then random inputs.

    Args:
        name: what the exercise is called in messages.
        student_fn, reference_fn: called with the same ``(*args, **kwargs)``; the reference gets a
            copy (:func:`fresh_copy`), so both see identical inputs (an ``np.random.Generator``'s
            state included).
        make_inputs: ``rng -> (args, kwargs)``; called once per random trial.
        n_trials: how many random inputs to try (>= 1), after the edge cases.
        seed: fixes the random inputs (for a reproducible failure); ``None`` draws fresh ones.
        rtol, atol: tolerances for floating-point outputs (as in ``numpy.isclose``).
        edge_cases: ``(args, kwargs)`` or ``(label, args, kwargs)``, run first on every call.
        output_names: names of the returned tuple's items (or of the single output).
        arg_names: names of the positional arguments (default: the reference's parameter names).
        reproduce: the line shown to rerun a failure; default ``<calling check_*>(<fn>, seed=S)``.

    Raises:
        CheckFailed: on the first case whose outputs differ, that raised inside ``student_fn``, or
            in which ``student_fn`` changed an input in place.
    """
    if not callable(student_fn):
        raise CheckFailed(f"{FAIL} {name}: expected a function, got {type(student_fn).__name__}")
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1; got {n_trials}")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**31))
    reproduce = reproduce.format(seed=seed) if reproduce else reproduce_line(student_fn, seed, _caller_check_name())
    edges = _normalise_edge_cases(edge_cases)
    rng = np.random.default_rng(seed)

    def cases():
        for i, (label, args, kwargs) in enumerate(edges):
            yield f"edge case {i + 1} of {len(edges)}" + (f" ({label})" if label else ""), args, kwargs
        for trial in range(n_trials):
            args, kwargs = make_inputs(rng)
            yield f"random trial {trial + 1} of {n_trials} (seed={seed})", tuple(args), dict(kwargs)

    for case, args, kwargs in cases():
        names = list(arg_names) if arg_names is not None else _arg_names(reference_fn, len(args))
        ref_args, ref_kwargs = fresh_copy((args, kwargs))
        expected = to_numpy(reference_fn(*ref_args, **ref_kwargs))
        got = call_student(name, student_fn, args, kwargs, case=case, arg_names=names, reproduce=reproduce)
        try:
            got = to_numpy(got)
        except Exception as e:  # noqa: BLE001
            raise CheckFailed(_message(name, f"could not read your result ({type(e).__name__}: {e})", case,
                                       describe_inputs(args, kwargs, names), reproduce)) from e
        msg = _compare_named(expected, got, output_names, rtol, atol)
        if msg:
            raise CheckFailed(_message(name, "your result differs from the reference", case,
                                       describe_inputs(args, kwargs, names), reproduce, msg))
    if verbose:
        on = f"{len(edges)} edge case{'s' * (len(edges) != 1)} and " if edges else ""
        print(f"{PASS} {name}: matches the reference on {on}{n_trials} random input{'s' * (n_trials != 1)}.")


def _compare_named(expected: Any, got: Any, output_names: Sequence[str] | None, rtol: float, atol: float) -> str | None:
    if not output_names:
        return _first_mismatch(expected, got, rtol, atol)
    names = list(output_names)
    if len(names) == 1 and not (isinstance(expected, tuple) and len(expected) == 1):
        return _first_mismatch(expected, got, rtol, atol, names[0])
    if not isinstance(got, (tuple, list)) or len(got) != len(names):
        n = len(got) if isinstance(got, (tuple, list)) else f"one {type(got).__name__}"
        return f"the result: expected {len(names)} outputs ({', '.join(names)}), got {n}"
    for nm, e, g in zip(names, expected, got):
        msg = _first_mismatch(e, g, rtol, atol, nm)
        if msg:
            return msg
    return None


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
    shown = describe_inputs(args, kwargs, _arg_names(fn, len(args))).strip()
    try:
        fn(*args, **kwargs)
    except NotImplementedError:
        raise
    except error as e:
        if match is not None and match not in str(e):
            raise CheckFailed(f"{FAIL} {name}: raised {error.__name__} but the message {str(e)!r} does not mention {match!r}") from None
        return
    except Exception as e:  # noqa: BLE001 - we report whatever else came out
        raise CheckFailed(f"{FAIL} {name}: expected {error.__name__}, got {type(e).__name__}: {e}\n  {shown}") from None
    raise CheckFailed(f"{FAIL} {name}: expected {error.__name__}, but nothing was raised\n  {shown}")


def passed(name: str, detail: str = "") -> None:
    """Print the success line for a check that is not a plain comparison."""
    print(f"{PASS} {name}: passed{' - ' + detail if detail else ''}.")


def fail(name: str, message: str, *, case: str = "", inputs: Inputs | None = None,
         arg_names: Sequence[str] | None = None, reproduce: str | None = None) -> None:
    """Raise :class:`CheckFailed` with the standard prefix (plus case, inputs and reproduce line)."""
    if not (case or inputs or reproduce):
        raise CheckFailed(f"{FAIL} {name}: {message}")
    shown = describe_inputs(inputs[0], inputs[1], arg_names) if inputs is not None else None
    raise CheckFailed(_message(name, message, case or "-", shown, reproduce))


def assert_check_grades(
    check: Callable[..., None],
    rights: Sequence[Callable[..., Any]],
    wrongs: Sequence[Callable[..., Any]],
    seeds: Sequence[int] = range(20),
    min_wrongs: int = 3,
) -> None:
    """Test helper: every right answer passes ``check`` and every wrong one fails it, on every seed.

    ``check(fn, seed=s)`` is a chapter's check. Raises ``AssertionError`` naming the answer and the
    seed of the first verdict that is not as expected (a check must fail a wrong answer on every
    run, not on most). The success lines the check prints are swallowed.
    """
    import contextlib
    import io

    if len(wrongs) < min_wrongs:
        raise AssertionError(f"{check.__name__}: give at least {min_wrongs} plausible wrong answers; got {len(wrongs)}")
    for seed in seeds:
        for right in rights:
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    check(right, seed=seed)
            except CheckFailed as e:
                raise AssertionError(f"{check.__name__} failed the right answer {_fn_name(right)} at seed {seed}:\n{e}") from e
        for wrong in wrongs:
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    check(wrong, seed=seed)
            except CheckFailed:
                continue
            raise AssertionError(f"{check.__name__} passed the wrong answer {_fn_name(wrong)} at seed {seed}")
