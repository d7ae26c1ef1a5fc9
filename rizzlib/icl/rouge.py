"""ROUGE-L (Lin 2004), the summarization metric of Baek et al. (XSum, arXiv, GovReport).

Sentence-level ROUGE-L as Google's ``rouge-score`` package computes it with its defaults
(``use_stemmer=False``): lower-case, every run of characters outside ``[a-z0-9]`` becomes a space
(so accents and non-Latin scripts are dropped), split on spaces; then the longest common
subsequence (LCS) of the token lists gives precision = LCS / |prediction|, recall = LCS / |reference|
and F = 2PR / (P + R). An empty side scores 0. Written here, tested against hand-computed values
and against ``rouge-score`` itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def rouge_tokens(text: str) -> list[str]:
    """ROUGE's tokens of ``text``: lower-cased runs of ``[a-z0-9]``."""
    return [t for t in _NON_ALNUM.sub(" ", text.lower()).split(" ") if t]


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token lists (O(|a| |b|) dynamic programme)."""
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(prediction: str, reference: str) -> tuple[float, float, float]:
    """(precision, recall, F-measure) of ROUGE-L for one prediction against one reference."""
    p_tok, r_tok = rouge_tokens(prediction), rouge_tokens(reference)
    if not p_tok or not r_tok:
        return 0.0, 0.0, 0.0
    lcs = lcs_length(r_tok, p_tok)
    precision, recall = lcs / len(p_tok), lcs / len(r_tok)
    f = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f


def rouge_l_f(predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """ROUGE-L F-measure per (prediction, reference) pair, in [0, 1]; shape (n,)."""
    if len(predictions) != len(references):
        raise ValueError(f"predictions and references must have the same length; got {len(predictions)} and {len(references)}")
    return np.array([rouge_l(p, r)[2] for p, r in zip(predictions, references)], dtype=np.float64)
