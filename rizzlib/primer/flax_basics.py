"""flax + optax: an MLP, its train state, and one jitted Adam step on mean squared error."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState


class MLP(nn.Module):
    """``x (B, D_in) -> (B, features[-1])`` with ``tanh`` between dense layers."""

    features: Sequence[int]

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for width in self.features[:-1]:
            x = jnp.tanh(nn.Dense(width)(x))
        return nn.Dense(self.features[-1])(x)


def create_train_state(key: jax.Array, model: nn.Module, input_dim: int, learning_rate: float) -> TrainState:
    """Initialise ``model`` on a ``(1, input_dim)`` dummy batch and attach an Adam optimiser."""
    params = model.init(key, jnp.zeros((1, input_dim)))["params"]
    return TrainState.create(apply_fn=model.apply, params=params, tx=optax.adam(learning_rate))


def mse_loss(params, apply_fn, x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean squared error of ``apply_fn({'params': params}, x)`` against ``y``; a scalar."""
    pred = apply_fn({"params": params}, x)
    return jnp.mean((pred - y) ** 2)


def train_step(state: TrainState, x: jax.Array, y: jax.Array) -> tuple[TrainState, jax.Array]:
    """One optimiser step on the MSE of the batch ``(x, y)``; returns ``(new_state, loss)``."""
    loss, grads = jax.value_and_grad(mse_loss)(state.params, state.apply_fn, x, y)
    return state.apply_gradients(grads=grads), loss


def fit(state: TrainState, x: jax.Array, y: jax.Array, steps: int) -> tuple[TrainState, jax.Array]:
    """``steps`` full-batch steps inside one ``jit`` + ``lax.scan``; returns the final state and the
    ``(steps,)`` loss curve."""

    @jax.jit
    def run(state):
        def body(s, _):
            s, loss = train_step(s, x, y)
            return s, loss

        return jax.lax.scan(body, state, None, length=steps)

    return run(state)
