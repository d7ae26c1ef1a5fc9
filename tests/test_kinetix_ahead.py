"""Compiling ahead (rizzlib.kinetix.ahead): a compile started in a thread fills the cache a later call
uses (no second trace or compile), equal requests compile once, errors reach the caller."""

import jax
import jax.monitoring
import jax.numpy as jnp
import numpy as np
import pytest

from rizzlib.kinetix import ahead


def _listen(names):
    def listener(event, duration, **kw):
        if event == "/jax/core/compile/backend_compile_duration":
            names.append(kw.get("fun_name"))
    return listener


def test_compile_ahead_fills_the_call_cache_once():
    ahead.clear()
    compiled = []
    listener = _listen(compiled)
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        @jax.jit
        def poly_ahead(x, y):
            return jnp.sin(x) @ y + 1.0

        x = jnp.arange(12.0).reshape(3, 4)
        y = jnp.ones((4, 2))
        first = ahead.compile_ahead(poly_ahead, x, y)
        assert ahead.compile_ahead(poly_ahead, x + 1, y) is first  # same signature: one compile
        first.result(timeout=120)
        out = poly_ahead(x, y)
        np.testing.assert_allclose(np.asarray(out), np.sin(np.asarray(x)) @ np.ones((4, 2)) + 1.0, rtol=1e-6)
        assert compiled.count("jit(poly_ahead)") == 1
        # another shape or a weak-typed scalar is another signature
        assert ahead.signature(poly_ahead, (x, y)) != ahead.signature(poly_ahead, (x[:2], y))
        assert ahead.signature(poly_ahead, (0, y)) != ahead.signature(poly_ahead, (jnp.asarray(0, jnp.int32), y))
        assert ahead.compile_ahead(poly_ahead, x[:2], y) is not first
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def test_compile_errors_reach_whoever_waits():
    ahead.clear()

    @jax.jit
    def bad(x):
        return x @ x  # (3,) @ (3,) is fine, (2, 3) @ (2, 3) is not

    fut = ahead.compile_ahead(bad, jnp.ones((2, 3)))
    with pytest.raises(TypeError):
        fut.result(timeout=120)
