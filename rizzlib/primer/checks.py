"""Graded checks for chapter 0. Each compares the student's function with the one in
``rizzlib.primer`` on fresh random inputs (see :mod:`rizzlib.core.grading`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rizzlib.core.grading import compare_with_reference, fail


def check_discounted_returns(fn: Callable, n_trials: int = 6, seed: int | None = None) -> None:
    """``fn(rewards, dones, gamma)`` must equal :func:`rizzlib.primer.jax_basics.discounted_returns`."""
    import jax.numpy as jnp

    from rizzlib.primer.jax_basics import discounted_returns

    def inputs(rng: np.random.Generator):
        T = int(rng.integers(1, 25))
        shape = (T,) if rng.random() < 0.5 else (T, int(rng.integers(1, 5)))
        rewards = jnp.asarray(rng.normal(size=shape), dtype=jnp.float32)
        dones = jnp.asarray(rng.random(shape) < 0.2, dtype=jnp.float32)
        return (rewards, dones, float(rng.uniform(0.5, 1.0))), {}

    compare_with_reference("discounted_returns", fn, discounted_returns, inputs, n_trials=n_trials, seed=seed, rtol=1e-4, atol=1e-5)


def check_pairwise_distances(fn: Callable, n_trials: int = 5, seed: int | None = None) -> None:
    """``fn(x, y)`` must equal :func:`rizzlib.primer.jax_basics.pairwise_distances`."""
    import jax.numpy as jnp

    from rizzlib.primer.jax_basics import pairwise_distances

    def inputs(rng: np.random.Generator):
        n, m, d = (int(v) for v in rng.integers(1, 9, size=3))
        x = jnp.asarray(rng.normal(size=(n, d)), dtype=jnp.float32)
        y = jnp.asarray(rng.normal(size=(m, d)), dtype=jnp.float32)
        return (x, y), {}

    compare_with_reference("pairwise_distances", fn, pairwise_distances, inputs, n_trials=n_trials, seed=seed, rtol=1e-4, atol=1e-5)


def check_train_step(fn: Callable, n_trials: int = 3, seed: int | None = None) -> None:
    """``fn(state, x, y) -> (new_state, loss)`` must take the same Adam step on the MSE as
    :func:`rizzlib.primer.flax_basics.train_step` (parameters and loss are compared)."""
    import jax

    from rizzlib.primer.flax_basics import MLP, create_train_state, train_step

    def params_and_loss(step_fn):
        def run(state, x, y):
            out = step_fn(state, x, y)
            if not (isinstance(out, tuple) and len(out) == 2 and hasattr(out[0], "params")):
                fail("train_step", f"must return (new_state, loss); got {type(out).__name__}")
            return out[0].params, out[1]

        return run

    def inputs(rng: np.random.Generator):
        d_in, d_out, width, batch = (int(v) for v in rng.integers(1, 9, size=4))
        model = MLP(features=(width, d_out))
        state = create_train_state(jax.random.key(int(rng.integers(2**31))), model, d_in, float(rng.uniform(1e-3, 1e-1)))
        x = rng.normal(size=(batch, d_in)).astype(np.float32)
        y = rng.normal(size=(batch, d_out)).astype(np.float32)
        return (state, x, y), {}

    compare_with_reference("train_step", params_and_loss(fn), params_and_loss(train_step), inputs, n_trials=n_trials, seed=seed, rtol=1e-4, atol=1e-5)


def check_causal_self_attention(fn: Callable, n_trials: int = 5, seed: int | None = None) -> None:
    """``fn(q, k, v)`` must equal :func:`rizzlib.primer.torch_basics.causal_self_attention`."""
    import torch

    from rizzlib.primer.torch_basics import causal_self_attention

    def inputs(rng: np.random.Generator):
        b, h, t, d = (int(v) for v in rng.integers(1, 7, size=4))
        q, k, v = (torch.from_numpy(rng.normal(size=(b, h, t, d)).astype(np.float32)) for _ in range(3))
        return (q, k, v), {}

    compare_with_reference("causal_self_attention", fn, causal_self_attention, inputs, n_trials=n_trials, seed=seed, rtol=1e-4, atol=1e-5)


def check_causal_lm_loss(fn: Callable, n_trials: int = 5, seed: int | None = None) -> None:
    """``fn(logits, labels)`` must equal :func:`rizzlib.primer.torch_basics.causal_lm_loss`
    (shift by one, ignore -100, mean over the kept tokens)."""
    import torch

    from rizzlib.primer.torch_basics import IGNORE_INDEX, causal_lm_loss

    def inputs(rng: np.random.Generator):
        b, t, v = int(rng.integers(1, 5)), int(rng.integers(3, 10)), int(rng.integers(2, 12))
        logits = torch.from_numpy(rng.normal(size=(b, t, v)).astype(np.float32) * 3)
        labels = torch.from_numpy(rng.integers(0, v, size=(b, t)))
        drop = torch.from_numpy(rng.random((b, t)) < 0.3)
        drop[:, -1] = False  # keep at least one scored token per row
        labels[drop] = IGNORE_INDEX
        return (logits, labels), {}

    compare_with_reference("causal_lm_loss", fn, causal_lm_loss, inputs, n_trials=n_trials, seed=seed, rtol=1e-4, atol=1e-5)
