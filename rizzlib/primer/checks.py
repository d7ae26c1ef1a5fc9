"""Graded checks for chapter 0. Each compares the student's function with the one in
``rizzlib.primer``: fixed edge cases first (the same on every run), then fresh random inputs
(see :mod:`rizzlib.core.grading`). Everything the function returns is compared."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from rizzlib.core.grading import compare_with_reference, fail

TOL = {"rtol": 1e-4, "atol": 1e-5}


@functools.cache
def _jitted(name: str):
    """The library's function under ``jax.jit``: compiled once per shape, so checks stay fast."""
    import jax

    from rizzlib.primer import flax_basics, jax_basics

    return jax.jit({"discounted_returns": jax_basics.discounted_returns,
                    "pairwise_distances": jax_basics.pairwise_distances,
                    "train_step": flax_basics.train_step}[name])


def check_discounted_returns(fn: Callable, n_trials: int = 6, seed: int | None = None) -> None:
    """``fn(rewards, dones, gamma)`` must equal :func:`rizzlib.primer.jax_basics.discounted_returns`."""
    import jax.numpy as jnp

    def f32(*values):
        return jnp.asarray(np.array(values, dtype=np.float32))

    edges = [
        ("a single step", (f32(2.0), f32(0.0), 0.9), {}),
        ("episodes of length 1 (done on consecutive steps)", (f32(1.0, 2.0, 3.0, 4.0, 5.0), f32(0, 1, 1, 0, 1), 0.5), {}),
        ("done only on the first step", (f32(1.0, -1.0, 2.0, 0.5), f32(1, 0, 0, 0), 0.8), {}),
        ("gamma = 1, no done", (f32(1.0, 2.0, -3.0), f32(0, 0, 0), 1.0), {}),
        ("gamma = 0", (f32(1.0, 2.0, -3.0), f32(0, 1, 0), 0.0), {}),
        ("three environments side by side (T, 3)",
         (jnp.asarray(np.arange(12, dtype=np.float32).reshape(4, 3) - 5.0),
          jnp.asarray(np.array([[0, 1, 0], [1, 0, 0], [0, 1, 1], [0, 0, 1]], dtype=np.float32)), 0.9), {}),
    ]

    def inputs(rng: np.random.Generator):
        T = int(rng.choice([1, 2, 7, 16]))  # a few shapes (each compiles once), random values
        shape = (T,) if rng.random() < 0.5 else (T, 3)
        rewards = jnp.asarray(rng.normal(size=shape), dtype=jnp.float32)
        dones = jnp.asarray(rng.random(shape) < 0.3, dtype=jnp.float32)
        return (rewards, dones, float(rng.uniform(0.5, 1.0))), {}

    compare_with_reference("discounted_returns", fn, _jitted("discounted_returns"), inputs, arg_names=("rewards", "dones", "gamma"), n_trials=n_trials, seed=seed,
                           edge_cases=edges, output_names=("returns",), **TOL)


def check_pairwise_distances(fn: Callable, n_trials: int = 5, seed: int | None = None) -> None:
    """``fn(x, y)`` must equal :func:`rizzlib.primer.jax_basics.pairwise_distances`."""
    import jax.numpy as jnp

    def a(rows):
        return jnp.asarray(np.array(rows, dtype=np.float32))

    pts = [[0.1, 0.7, 1.3], [-2.0, 0.5, 0.25], [3.0, -1.5, 0.6], [0.3, 0.3, -0.9]]
    edges = [
        ("x has a single row", (a(pts[:1]), a(pts[1:])), {}),
        ("y has a single row", (a(pts[1:]), a(pts[2:3])), {}),
        ("one point each", (a(pts[2:3]), a(pts[3:])), {}),
        ("points in one dimension", (a([[0.0], [1.5], [-2.0]]), a([[1.0], [-0.5]])), {}),
        ("identical points (distance 0)", (a(pts), a(pts[1:3] + pts[:1])), {}),
        ("more rows in x than in y", (a(pts + [[1.0, 1.0, 1.0]]), a(pts[:2])), {}),
        # |x|^2 + |y|^2 - 2 x.y loses everything to cancellation here; (x - y)^2 does not
        ("nearly identical points far from the origin",
         (a([[1000.0, 1000.0, 1000.0], [0.0, 0.0, 0.0]]), a([[1000.0, 1000.0, 1000.01]])), {}),
    ]

    def inputs(rng: np.random.Generator):
        n, m = (int(v) for v in rng.choice([1, 3, 6], size=2))  # a few shapes, random values
        d = int(rng.choice([1, 3]))
        x = jnp.asarray(rng.normal(size=(n, d)), dtype=jnp.float32)
        y = jnp.asarray(rng.normal(size=(m, d)), dtype=jnp.float32)
        return (x, y), {}

    compare_with_reference("pairwise_distances", fn, _jitted("pairwise_distances"), inputs, arg_names=("x", "y"), n_trials=n_trials, seed=seed,
                           edge_cases=edges, output_names=("distances",), **TOL)


@functools.cache
def _mlp(features: tuple[int, ...]):
    from rizzlib.primer.flax_basics import MLP

    return MLP(features=features)


@functools.cache
def _adam(learning_rate: float):
    import optax

    return optax.adam(learning_rate)


def _state_fields(state):
    """What a train step must update: parameters, optimiser state and step count."""
    return {"params": state.params, "opt_state": state.opt_state, "step": state.step}


def check_train_step(fn: Callable, n_trials: int = 3, seed: int | None = None) -> None:
    """``fn(state, x, y) -> (new_state, loss)`` must take the same Adam step on the MSE as
    :func:`rizzlib.primer.flax_basics.train_step`: the new parameters, the new optimiser state
    (Adam's moments and count), the step counter and the loss before the step are all compared."""
    import jax
    import jax.numpy as jnp
    from flax.training.train_state import TrainState

    def unpack(step_fn):
        def run(state, x, y):
            out = step_fn(state, x, y)
            if not (isinstance(out, tuple) and len(out) == 2 and hasattr(out[0], "params") and hasattr(out[0], "opt_state")):
                fail("train_step", f"must return (new_state, loss) with new_state a TrainState; got {type(out).__name__}")
            return _state_fields(out[0]), out[1]

        run.__name__ = getattr(step_fn, "__name__", "train_step")
        return run

    reference = _jitted("train_step")

    def make(key: int, shape: tuple[int, int, int, int], lr: float, warm_steps: int, rng):
        d_in, width, d_out, batch = shape
        model = _mlp((width, d_out))  # the same module and optimiser objects: compiled steps are reused
        params = model.init(jax.random.key(key), jnp.zeros((1, d_in)))["params"]
        state = TrainState.create(apply_fn=model.apply, params=params, tx=_adam(lr))
        x = rng.normal(size=(batch, d_in)).astype(np.float32)
        y = rng.normal(size=(batch, d_out)).astype(np.float32)
        for _ in range(warm_steps):  # a state that has stepped before: Adam's moments are non-zero
            state, _ = reference(state, x, y)
        return (state, x, y), {}

    shapes = [(2, 5, 3, 4), (3, 4, 2, 6), (1, 3, 1, 1)]  # (d_in, width, d_out, batch)
    fixed = np.random.default_rng(14)
    edges = [
        ("a fresh state, batch of 4, 3 outputs", *make(0, shapes[0], 0.01, 0, fixed)),
        ("a state after 2 steps (non-zero Adam moments)", *make(1, shapes[1], 0.05, 2, fixed)),
        ("batch of 1, one output", *make(2, shapes[2], 0.1, 1, fixed)),
    ]

    def inputs(rng: np.random.Generator):
        # a shape and its learning rate from the edge cases' three (each pair compiles once);
        # fresh weights, data and number of earlier steps
        k = int(rng.integers(len(shapes)))
        return make(int(rng.integers(2**31)), shapes[k], (0.01, 0.05, 0.1)[k], int(rng.integers(0, 3)), rng)

    compare_with_reference("train_step", unpack(fn), unpack(reference), inputs, n_trials=n_trials, seed=seed,
                           edge_cases=edges, output_names=("new_state", "loss"), arg_names=("state", "x", "y"),
                           **TOL)


def check_causal_self_attention(fn: Callable, n_trials: int = 5, seed: int | None = None) -> None:
    """``fn(q, k, v)`` must equal :func:`rizzlib.primer.torch_basics.causal_self_attention`."""
    import torch

    from rizzlib.primer.torch_basics import causal_self_attention

    fixed = np.random.default_rng(0)

    def qkv(b, h, t, d, scale=1.0):
        return tuple(torch.from_numpy((fixed.normal(size=(b, h, t, d)) * scale).astype(np.float32)) for _ in range(3))

    edges = [
        ("one token", qkv(2, 1, 1, 4), {}),
        ("head size 4, five tokens", qkv(1, 2, 5, 4), {}),
        ("large scores (softmax must not overflow)", qkv(1, 1, 4, 8, scale=30.0), {}),
        ("head size 1", qkv(1, 1, 3, 1), {}),
    ]

    def inputs(rng: np.random.Generator):
        b, h, t, d = (int(v) for v in rng.integers(1, 7, size=4))
        q, k, v = (torch.from_numpy(rng.normal(size=(b, h, t, d)).astype(np.float32)) for _ in range(3))
        return (q, k, v), {}

    compare_with_reference("causal_self_attention", fn, causal_self_attention, inputs, n_trials=n_trials, seed=seed,
                           edge_cases=edges, output_names=("attention",), **TOL)


def check_causal_lm_loss(fn: Callable, n_trials: int = 5, seed: int | None = None) -> None:
    """``fn(logits, labels)`` must equal :func:`rizzlib.primer.torch_basics.causal_lm_loss`
    (shift by one, ignore -100, mean over the kept tokens)."""
    import torch

    from rizzlib.primer.torch_basics import IGNORE_INDEX, causal_lm_loss

    fixed = np.random.default_rng(1)

    def logits(b, t, v):
        return torch.from_numpy((fixed.normal(size=(b, t, v)) * 3).astype(np.float32))

    X = IGNORE_INDEX
    edges = [
        ("two tokens: one prediction per row", (logits(2, 2, 5), torch.tensor([[1, 3], [4, 0]])), {}),
        ("rows keep different numbers of tokens",
         (logits(2, 5, 6), torch.tensor([[X, X, X, X, 2], [X, 1, 5, 0, 3]])), {}),
        ("-100 everywhere but one label per row, first labels ignored",
         (logits(3, 4, 4), torch.tensor([[X, 2, X, X], [X, X, X, 1], [2, X, 3, X]])), {}),
    ]

    def inputs(rng: np.random.Generator):
        b, t, v = int(rng.integers(1, 5)), int(rng.integers(3, 10)), int(rng.integers(2, 12))
        lg = torch.from_numpy(rng.normal(size=(b, t, v)).astype(np.float32) * 3)
        labels = torch.from_numpy(rng.integers(0, v, size=(b, t)))
        drop = torch.from_numpy(rng.random((b, t)) < rng.uniform(0.1, 0.6, size=(b, 1)))
        drop[:, -1] = False  # keep at least one scored token per row
        labels[drop] = IGNORE_INDEX
        return (lg, labels), {}

    compare_with_reference("causal_lm_loss", fn, causal_lm_loss, inputs, n_trials=n_trials, seed=seed,
                           edge_cases=edges, output_names=("loss",), **TOL)
