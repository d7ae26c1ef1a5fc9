"""Chapter 0, "The tools": small, tested building blocks in JAX, flax + optax, and torch +
transformers that the later chapters reuse (discounted returns for PPO, attention for the maze
transformers, the causal-LM loss for in-context learning)."""

from rizzlib.core.extras import require_extra

require_extra(__name__, "jax", "torch")  # before any framework import

from rizzlib.primer.presets import PRESETS, PrimerConfig, preset

__all__ = ["PRESETS", "PrimerConfig", "preset"]
