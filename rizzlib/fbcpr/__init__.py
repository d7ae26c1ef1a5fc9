"""Chapter 4, FB-CPR: forward-backward representations with conditional policy regularisation
(Meta Motivo), on a four-room point mass written in JAX; prompted zero-shot by rewards, goals and
motions."""

from rizzlib.core.extras import require_extra

require_extra(__name__, "fbcpr", modules=["jax", "flax", "optax", "safetensors", "scipy"])

from rizzlib.fbcpr.presets import PRESETS, FBCPRConfig, preset  # noqa: E402

__all__ = ["PRESETS", "FBCPRConfig", "preset"]
