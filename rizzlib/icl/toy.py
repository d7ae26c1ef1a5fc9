"""Toy stand-ins for a real instruct model, built offline: a small byte-level BPE tokenizer with a chat
template and a tiny random Llama. Tests (and the gpu-path demo) save them to a folder and load them
through the same ``from_pretrained`` code used for hub names."""

from __future__ import annotations

import functools

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
TEXT = [
    "the cat sat on the mat", "a dog runs in the park", "rain falls on blue sky today", "we eat bread and rice",
    "Translate. Answer with the translation only.", "Question: Answer: Label: Text: Rating: <SRC>: <TGT>:",
    "1 2 3 4 5 6 7 8 9 0", "You are a data-quality expert. Here are original examples of a task:",
    "Rate how well this new example follows the pattern, format and correctness of the originals,",
    "from 1 (poor) to 5 (excellent). Answer with a single number. New example:",
]


@functools.lru_cache(maxsize=1)
def bpe_tokenizer():
    """A byte-level BPE tokenizer trained on a few sentences, with BOS/EOS/PAD and a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<pad>", "<s>", "</s>", "<|user|>", "<|assistant|>", "<|end|>"]
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(TEXT * 5, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


def tiny_llama(vocab_size: int, seed: int = 0, hidden: int = 32, layers: int = 2):
    """A randomly initialised small LlamaForCausalLM (float32, CPU)."""
    from rizzlib.icl.model import ModelConfig, build_model

    return build_model(ModelConfig(vocab_size=vocab_size, hidden=hidden, layers=layers, heads=4, mlp=2 * hidden, max_positions=2048), seed)
