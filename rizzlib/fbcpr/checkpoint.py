"""Save and load parameter pytrees with safetensors; the config travels in the file's metadata."""

from __future__ import annotations

import dataclasses
import json

import jax
import numpy as np
from flax import traverse_util

from rizzlib.fbcpr.presets import FBCPRConfig


def save(path, params: dict, cfg: FBCPRConfig, extra: dict | None = None, arrays: dict | None = None) -> None:
    """Write ``params`` (nested dict of arrays), ``cfg`` and JSON-able ``extra`` to ``path``;
    ``arrays`` are additional named numpy arrays (e.g. an inference buffer)."""
    from safetensors.numpy import save_file

    flat = {"params/" + "/".join(k): np.asarray(v) for k, v in traverse_util.flatten_dict(jax.device_get(params)).items()}
    for k, v in (arrays or {}).items():
        flat["arrays/" + k] = np.ascontiguousarray(np.asarray(v))
    meta = {"config": json.dumps(dataclasses.asdict(cfg)), "extra": json.dumps(extra or {})}
    save_file(flat, str(path), metadata=meta)


def load(path) -> tuple[dict, FBCPRConfig, dict, dict]:
    """``(params, cfg, extra, arrays)`` from a file written by :func:`save`."""
    from safetensors import safe_open
    from safetensors.numpy import load_file

    flat = load_file(str(path))
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata()
    params = traverse_util.unflatten_dict({tuple(k.split("/")[1:]): v for k, v in flat.items()
                                           if k.startswith("params/")})
    arrays = {k[len("arrays/"):]: v for k, v in flat.items() if k.startswith("arrays/")}
    return params, FBCPRConfig(**json.loads(meta["config"])), json.loads(meta["extra"]), arrays
