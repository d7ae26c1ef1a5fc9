"""Compiling jitted functions ahead of their first call, in background threads.

The PPO update, the evaluator (also SFL's scorer) and the replay player are separate XLA programs of
most of a minute each on a small CPU. :func:`compile_ahead` lowers and compiles ``fn(*args)`` in a
daemon thread (``fn.lower(*args).compile()``, which fills the same cache a call uses), so the
compile runs while the caller does other work (Python, drawing, other cells); a later call with
arguments of the same shapes, dtypes and weak types runs at once. Requests are deduplicated by that
signature, so asking twice compiles once. Compiling ahead changes no result: the call runs the same
executable. It does not make compiles themselves parallel: measured on 2 cores, two XLA:CPU backend
compiles in two threads took as long as one after the other (25 s in sequence, 31 s in threads).

:func:`set_compile_effort` picks how hard XLA optimises the programs that :func:`jit` makes (every
compiled program of ``rizzlib.kinetix``, by name: the PPO update, the evaluator...):
``"full"`` (the default) or ``"fast"``, XLA:CPU's backend optimisation level 0 without the fusion
emitters (:data:`FAST_OPTIONS`), for programs whose compile costs more than their work (the
notebook's ``smoke`` scale, except its evaluator, which plays 256-step episodes many times). Measured on 2 loaded cores for the smoke
PPO update: 44 s of compile CPU time at ``"full"``, 15 s at ``"fast"``, each update then 2x slower
(a 64-step rollout of 32 envs: 3.6x slower). The results are the same up to floating-point
rounding (different fusions may round differently).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

import jax

_LOCK = threading.Lock()
_FUTURES: dict = {}

#: XLA compile options of the ``"fast"`` effort (XLA:CPU names; other backends ignore them)
FAST_OPTIONS = {"xla_backend_optimization_level": 0, "xla_cpu_use_fusion_emitters": False}
EFFORTS = ("full", "fast")
#: the programs of ``rizzlib.kinetix``, named in :func:`jit`: the network init, the PPO update, the
#: evaluator's rollout (also SFL's scorer), the replay player and ``"other"`` (anything else)
PROGRAMS = ("init", "update", "evaluator", "player", "other")
_EFFORT = dict.fromkeys(PROGRAMS, "full")


def set_compile_effort(effort: str, programs=PROGRAMS) -> dict:
    """Set the compile effort (``"full"`` or ``"fast"``) of the ``programs`` (names in
    :data:`PROGRAMS`; default all) that :func:`jit` makes from now on. Returns the previous efforts
    of every program (pass its items back to restore them). Functions already made keep theirs; the
    compiled-function caches of ``rizzlib.kinetix`` key on the efforts, so each gets its own programs."""
    from rizzlib.core.validate import check_choice

    check_choice("effort", effort, EFFORTS)
    programs = (programs,) if isinstance(programs, str) else tuple(programs)
    for p in programs:
        check_choice("programs", p, PROGRAMS)
    old = dict(_EFFORT)
    _EFFORT.update(dict.fromkeys(programs, effort))
    return old


def compile_effort(program: str | None = None):
    """The current effort of ``program``, or a sorted tuple of (program, effort) for all of them."""
    if program is None:
        return tuple(sorted(_EFFORT.items()))
    return _EFFORT[program]


def compiler_options(program: str = "other") -> dict | None:
    """``jax.jit``'s ``compiler_options`` for ``program``'s current effort (None at ``"full"``)."""
    return dict(FAST_OPTIONS) if _EFFORT[program] == "fast" else None


def jit(fn=None, *, program: str = "other", **kwargs):
    """``jax.jit`` with the compiler options of ``program``'s current effort (also a decorator:
    ``@jit(program="update")``)."""
    if fn is None:
        return lambda f: jit(f, program=program, **kwargs)
    if program not in PROGRAMS:
        raise ValueError(f"program must be one of {PROGRAMS}; got {program!r}")
    return jax.jit(fn, compiler_options=compiler_options(program), **kwargs)


def signature(fn, args) -> tuple:
    """What a jitted call's cache keys on, as far as it matters here: the function, the tree
    structure, and each leaf's shape, dtype and weak type (strings, e.g. static arguments, by value)."""
    leaves, treedef = jax.tree.flatten(args)
    sig = []
    for x in leaves:
        if isinstance(x, (str, bool)):
            sig.append(("static", x))
        else:
            a = jax.typeof(x)
            sig.append((a.shape, str(a.dtype), a.weak_type))
    return (id(fn), treedef, tuple(sig))


def compile_ahead(fn, *args) -> Future:
    """Start compiling the jitted ``fn`` for ``args`` in a daemon thread; the Future's result is the
    compiled executable (kept, so the cache entry lives as long as the process)."""
    key = signature(fn, args)
    with _LOCK:
        fut = _FUTURES.get(key)
        if fut is not None:
            return fut
        fut = _FUTURES[key] = Future()
        fut.fn = fn  # keeps fn (and so its id in the key) alive

    def work():
        try:
            fut.set_result(fn.lower(*args).compile())
        except BaseException as e:  # noqa: BLE001 - handed to whoever waits on the Future
            fut.set_exception(e)

    threading.Thread(target=work, daemon=True, name=f"compile-{getattr(fn, '__name__', 'fn')}").start()
    return fut


def clear() -> None:
    """Forget every compile started here (tests; the jit caches themselves are not touched)."""
    with _LOCK:
        _FUTURES.clear()
