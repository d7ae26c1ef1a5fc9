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


def test_compile_effort_sets_the_options_of_new_programs_and_is_restored():
    assert all(e == "full" for _, e in ahead.compile_effort())
    with pytest.raises(ValueError, match="effort"):
        ahead.set_compile_effort("lowest")
    with pytest.raises(ValueError, match="programs"):
        ahead.set_compile_effort("fast", programs=("update", "trainer"))
    assert all(e == "full" for _, e in ahead.compile_effort())  # nothing changed by the bad calls
    with pytest.raises(ValueError, match="program"):
        ahead.jit(lambda x: x, program="trainer")
    assert ahead.compiler_options("update") is None
    full = ahead.jit(lambda x: jnp.tanh(x) * 2.0 + x ** 3, program="update")
    old = ahead.set_compile_effort("fast", programs=("update", "player"))
    try:
        assert dict(ahead.compile_effort()) == {**dict(old), "update": "fast", "player": "fast"}
        assert ahead.compile_effort("evaluator") == "full" and ahead.compiler_options("evaluator") is None
        assert ahead.compiler_options("update") == ahead.FAST_OPTIONS
        ahead.compiler_options("update")["xla_backend_optimization_level"] = 3  # a copy: the setting is not touched
        assert ahead.compiler_options("update") == ahead.FAST_OPTIONS
        fast = ahead.jit(lambda x: jnp.tanh(x) * 2.0 + x ** 3, program="update")

        @ahead.jit(program="player", static_argnums=1)
        def power(x, k):
            return x ** k
    finally:
        ahead.set_compile_effort("full")
        for prog, effort in old.items():
            ahead.set_compile_effort(effort, programs=prog)
    assert all(e == "full" for _, e in ahead.compile_effort())
    x = jnp.linspace(-2.0, 2.0, 7)
    np.testing.assert_allclose(np.asarray(fast(x)), np.asarray(full(x)), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(power(x, 3)), np.asarray(x) ** 3, rtol=1e-6)


def test_fast_programs_are_compiled_with_the_fast_options(monkeypatch):
    # an option XLA does not know fails the compile: proof that the options reach the compiler
    monkeypatch.setattr(ahead, "FAST_OPTIONS", {**ahead.FAST_OPTIONS, "xla_no_such_option_here": True})
    old = ahead.set_compile_effort("fast", programs="init")
    try:
        fast = ahead.jit(lambda x: x + 1.0, program="init")
        full = ahead.jit(lambda x: x + 1.0, program="evaluator")
    finally:
        ahead.set_compile_effort("full")
    assert old["init"] == "full"
    assert float(full(jnp.asarray(1.0))) == 2.0
    with pytest.raises(Exception, match="xla_no_such_option_here"):
        fast(jnp.asarray(1.0))


def test_cached_factories_key_on_the_effort():
    from rizzlib.kinetix.ppo import cached

    made = []

    @cached
    def factory(n):
        made.append((n, ahead.compile_effort("update")))
        return object()

    a = factory(3)
    assert factory(3) is a
    ahead.set_compile_effort("fast", programs="update")
    try:
        b = factory(3)
        assert b is not a and factory(3) is b
    finally:
        ahead.set_compile_effort("full")
    assert factory(3) is a
    assert made == [(3, "full"), (3, "fast")]
