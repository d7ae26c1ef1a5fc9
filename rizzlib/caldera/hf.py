"""The ``gpu`` preset's loading path: a causal LM and its tokenizer by name, WikiText-2 through ``datasets``.

Needs the network (or a local folder) and, for WikiText-2, ``pip install datasets``; the build
machines have neither, so tests run this path on a tiny random model saved to a temporary folder.
"""

from __future__ import annotations

import torch

from rizzlib.core.validate import check_choice


def load_causal_lm(name_or_path: str, dtype: torch.dtype = torch.float32):
    """``AutoModelForCausalLM`` and ``AutoTokenizer`` from a hub name or a local folder, eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dtype)
        tok = AutoTokenizer.from_pretrained(name_or_path)
    except OSError as e:
        raise OSError(
            f"name_or_path {name_or_path!r} could not be loaded (no network here? the smoke and cpu "
            f"scales use the shipped stdlib model instead): {e}"
        ) from e
    model.eval()
    return model, tok


def text_tokens(tokenizer, text: str) -> torch.Tensor:
    """The token ids of ``text`` as one int64 vector (no special tokens)."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return torch.tensor(ids, dtype=torch.long)


def wikitext2_text(split: str = "test", path: str = "wikitext", name: str = "wikitext-2-raw-v1", cache_dir: str | None = None) -> str:
    """WikiText-2 (raw) ``split`` joined with blank lines, as the perplexity scripts do.

    ``path`` / ``name`` go to ``datasets.load_dataset``: the hub dataset by default, or a local folder
    laid out like the hub repo (``{name}/{split}-*.parquet`` files with one string column ``text``
    and a README whose ``configs`` list maps each split to its files).
    """
    check_choice("split", split, ("train", "validation", "test"))
    try:
        import datasets
    except ImportError as e:
        raise ModuleNotFoundError("wikitext2_text needs `pip install datasets` and the network", name="datasets") from e
    ds = datasets.load_dataset(path, name, split=split, cache_dir=cache_dir)
    if "text" not in ds.column_names:
        raise ValueError(f"path {path!r} must hold WikiText's schema (a string column 'text'); got columns {ds.column_names}")
    return "\n\n".join(ds["text"])
