"""Compiling jitted functions ahead of their first call, in background threads.

The PPO update, the SFL scorer, the evaluator and the replay player are separate XLA programs of
most of a minute each on a small CPU. :func:`compile_ahead` lowers and compiles ``fn(*args)`` in a
daemon thread (``fn.lower(*args).compile()``, which fills the same cache a call uses), so the
compile runs while the caller does other work (Python, drawing, other cells); a later call with
arguments of the same shapes, dtypes and weak types runs at once. Requests are deduplicated by that
signature, so asking twice compiles once. Compiling ahead changes no result: the call runs the same
executable. It does not make compiles themselves parallel: measured on 2 cores, two XLA:CPU backend
compiles in two threads took as long as one after the other (25 s in sequence, 31 s in threads).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

import jax

_LOCK = threading.Lock()
_FUTURES: dict = {}


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
