"""Decisions shared by every scene of a ``vmap``-ped batch.

Under ``jax.vmap`` a value computed from batched data is batched, and a ``lax.cond`` or a loop bound
on it runs both branches or as many steps as the slowest scene. :func:`batch_any` makes a boolean
mask the same for the whole batch (its OR over the batch axis), so that what is computed from it (a
pair order, a colouring, a branch choice) is one value for all scenes: its gathers use one index
array and its conds really branch. On one scene it is the identity.
"""

from __future__ import annotations

import jax
import jax.custom_batching
import jax.numpy as jnp


@jax.custom_batching.custom_vmap
def batch_any(x):
    """``x`` (bool, any shape) on one scene; under ``vmap``, its OR over the batch, unbatched.

    Nested ``vmap``s reduce over every batch axis. The result carries no derivative (it is boolean).
    """
    return jnp.asarray(x, bool)


@batch_any.def_vmap
def _batch_any_vmap(axis_size, in_batched, x):
    del axis_size
    (batched,) = in_batched
    x = jnp.asarray(x, bool)
    # calling batch_any again makes an enclosing vmap reduce over its axis as well
    return (batch_any(jnp.any(x, axis=0)) if batched else x), False
