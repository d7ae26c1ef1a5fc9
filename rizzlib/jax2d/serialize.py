"""Scenes to and from JSON: the static sizes plus every array of the state, losslessly.

float32 values survive the trip exactly (each is written as the shortest decimal that reads back
to the same double, and a float32 widened to a double converts back without loss).
"""

from __future__ import annotations

import dataclasses
import json
import os

import jax.numpy as jnp
import numpy as np
from flax import serialization

from rizzlib.jax2d.types import SimState, StaticConfig

FORMAT = "rizzlib.jax2d.scene/1"


def _encode(tree):
    if isinstance(tree, dict):
        return {k: _encode(v) for k, v in tree.items()}
    a = np.asarray(tree)
    return {"dtype": str(a.dtype), "shape": list(a.shape), "data": a.reshape(-1).tolist()}


def _decode(tree):
    if isinstance(tree, dict) and set(tree) == {"dtype", "shape", "data"}:
        return jnp.asarray(np.asarray(tree["data"], dtype=tree["dtype"]).reshape(tree["shape"]))
    return {k: _decode(v) for k, v in tree.items()}


def save_scene(state: SimState, static: StaticConfig, path: str | os.PathLike | None = None) -> str:
    """Serialise one (unbatched) scene. Returns the JSON text and writes it to ``path`` if given."""
    if np.ndim(state.gravity) != 1:
        raise ValueError(f"state must be a single scene; gravity has shape {np.shape(state.gravity)}")
    doc = {
        "format": FORMAT,
        "static": dataclasses.asdict(static),
        "state": _encode(serialization.to_state_dict(state)),
    }
    text = json.dumps(doc)
    if path is not None:
        with open(path, "w") as f:
            f.write(text)
    return text


def load_scene(source: str | os.PathLike) -> tuple[SimState, StaticConfig]:
    """Read a scene written by :func:`save_scene` from a path or from the JSON text itself.

    Returns:
        (state, static).
    """
    from rizzlib.jax2d.scene import empty_state  # scene imports nothing from here; avoids a cycle

    text = str(source)
    if not text.lstrip().startswith("{"):
        with open(source) as f:
            text = f.read()
    doc = json.loads(text)
    if doc.get("format") != FORMAT:
        raise ValueError(f"source must be a {FORMAT} document; got format {doc.get('format')!r}")
    static = StaticConfig(**doc["static"])
    template = empty_state(static)
    state = serialization.from_state_dict(template, _decode(doc["state"]))
    return state, static
