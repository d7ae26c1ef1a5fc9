"""The small Llama-architecture learner (built from a config with transformers) and its checkpoints.

The synthetic tasks and a real instruct model go through the same Hugging Face code path
(``LlamaForCausalLM`` forward, KV cache, generation), so everything measured on the small model is
measured with the code a real model uses.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from rizzlib.core.validate import check_int_range

CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "icl_llama.safetensors"
"""The shipped checkpoint made by ``scripts/icl_train.py``."""
ARITH_CHECKPOINT = CHECKPOINT.parent / "icl_llama_arith.safetensors"
"""The same small Llama trained on offset arithmetic alone with the offset curriculum
(``scripts/icl_train.py --tasks arith --curriculum``; its record is ``icl_llama_arith.md`` beside it)."""
ARITH_LONG_CHECKPOINT = CHECKPOINT.parent / "icl_llama_arith_long.safetensors"
""":data:`ARITH_CHECKPOINT` trained on: sequences of 70 demonstrations instead of 12, the curriculum
going on from the offsets it reached (``scripts/icl_train.py --init ...``; record ``icl_llama_arith_long.md``)."""
LOOKUP_PART1_CHECKPOINT = CHECKPOINT.parent / "icl_llama_lookup_part1.safetensors"
"""The first staged cipher/keycls run, stopped after 4,250 steps at both tasks' first stage (keycls
then had 4 label classes throughout): where :data:`LOOKUP_CHECKPOINT` starts from."""
LOOKUP_CHECKPOINT = CHECKPOINT.parent / "icl_llama_lookup.safetensors"
"""The staged cipher/keycls model: :data:`CHECKPOINT` trained on cipher and keycls alone, each through its stages
(:class:`rizzlib.icl.train.StageCurriculum`: one-symbol words, then longer; the key alone, then among
distractors; ``scripts/icl_train.py --stages ...``, going on from :data:`LOOKUP_PART1_CHECKPOINT`; record
``icl_llama_lookup.md``)."""


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Size of the small Llama.

    Attributes:
        vocab_size: tokens (the synthetic vocabulary has 65).
        hidden: residual width.
        layers: transformer blocks.
        heads: attention heads (hidden must divide by it).
        mlp: SwiGLU inner width.
        max_positions: longest sequence (tokens) RoPE is set up for.
    """

    vocab_size: int = 65
    hidden: int = 128
    layers: int = 3
    heads: int = 4
    mlp: int = 512
    max_positions: int = 1024

    def __post_init__(self) -> None:
        check_int_range("vocab_size", self.vocab_size, 2, None)
        check_int_range("hidden", self.hidden, 4, None)
        check_int_range("layers", self.layers, 1, None)
        check_int_range("heads", self.heads, 1, self.hidden)
        if self.hidden % self.heads:
            raise ValueError(f"hidden must be a multiple of heads; got hidden={self.hidden}, heads={self.heads}")
        check_int_range("mlp", self.mlp, 1, None)
        check_int_range("max_positions", self.max_positions, 8, None)

    def llama_config(self):
        from transformers import LlamaConfig

        return LlamaConfig(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden,
            num_hidden_layers=self.layers,
            num_attention_heads=self.heads,
            num_key_value_heads=self.heads,
            intermediate_size=self.mlp,
            max_position_embeddings=self.max_positions,
            bos_token_id=2,
            eos_token_id=3,
            pad_token_id=0,
            tie_word_embeddings=False,
        )


def build_model(cfg: ModelConfig, seed: int = 0):
    """A freshly initialised ``LlamaForCausalLM`` of size ``cfg`` (weights from ``seed``, eager attention)."""
    from transformers import LlamaForCausalLM

    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = LlamaForCausalLM(cfg.llama_config())
    finally:
        torch.random.set_rng_state(gen_state)
    model.rizzlib_config = cfg
    return model.eval()


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def save_checkpoint(model, path: str | Path, extra: dict | None = None) -> Path:
    """Write the weights (safetensors) with the :class:`ModelConfig` and ``extra`` as metadata."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"config": json.dumps(dataclasses.asdict(model.rizzlib_config)), "extra": json.dumps(extra or {})}
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata=meta)
    return path


def load_checkpoint(path: str | Path = CHECKPOINT):
    """Rebuild a model saved by :func:`save_checkpoint`: returns (model in eval mode, extra metadata)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; make one with scripts/icl_train.py")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    model = build_model(ModelConfig(**json.loads(meta["config"])))
    model.load_state_dict(load_file(str(path)))
    return model.eval(), json.loads(meta.get("extra", "{}"))
