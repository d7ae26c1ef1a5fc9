"""Scoring decoded paths, grouped by grid size.

* ``exact`` (the paper's headline metric, spec §3.5): every path token *and* ``<PATH_END>`` equals
  the ground truth at the same position, so the length is checked too.
* ``solved``: the decoded cells form a walk from start to goal through open passages, of optimal
  (BFS) length. On DFS mazes (trees) this equals ``exact``, since the simple path is unique; on A*
  mazes it also accepts the other shortest paths.
"""

from __future__ import annotations

import contextlib
import dataclasses

import numpy as np
import torch

from rizzlib.core.validate import check_choice, check_int_range
from rizzlib.mazes.decode import confidence_decode, greedy_decode
from rizzlib.mazes.generate import is_shortest_path
from rizzlib.mazes.tokens import TokenBatch, decode_path, detokenize


@dataclasses.dataclass
class EvalResult:
    """Per-maze outcome of greedy decoding (N mazes, S = longest true answer)."""

    size: np.ndarray
    """(N,) grid side."""
    exact: np.ndarray
    """(N,) bool: every answer token (path cells and the end token) matched."""
    solved: np.ndarray
    """(N,) bool: the decoded path is a valid walk from start to goal of optimal length."""
    token_acc: np.ndarray
    """(N,) fraction of answer tokens that matched."""
    predicted: np.ndarray
    """(N, S) decoded token ids (``pad_id`` after the model's end token)."""
    target: np.ndarray
    """(N, S) true answer token ids (``pad_id`` after the end token)."""

    def accuracy_by_size(self, metric: str = "exact") -> dict[int, float]:
        """{grid side: fraction of mazes scored correct by ``metric`` ("exact" or "solved")}."""
        hit = getattr(self, metric)
        return {int(n): float(hit[self.size == n].mean()) for n in np.unique(self.size)}


def _safe_cells(ids: np.ndarray, batch: TokenBatch) -> np.ndarray | None:
    """Decoded answer ids -> (L, 2) cells, or None when the model emitted a non-cell token."""
    try:
        return decode_path(ids, batch.vocab)
    except ValueError:
        return None


@torch.no_grad()
def evaluate(model, batch: TokenBatch, batch_size: int = 256, autocast=None, solved: bool = True, order: str = "left_to_right") -> EvalResult:
    """Greedy-decode every maze in ``batch`` and score it; mazes are grouped by prompt length.

    Each group decodes up to its longest true answer, as the paper's evaluation does.
    ``order``: ``"left_to_right"`` (the paper's decoding, both models) or ``"confidence"`` (MLM-U
    only: most confident hidden slot first, :func:`~rizzlib.mazes.decode.confidence_decode`).
    ``autocast`` is an optional context-manager factory: use the training precision (spec §3.4).
    ``solved=False`` skips the per-maze walk check (it parses every maze in Python).
    """
    check_int_range("batch_size", batch_size, 1, None)
    check_choice("order", order, ("left_to_right", "confidence"))
    decode = greedy_decode if order == "left_to_right" else confidence_decode
    device = next(model.parameters()).device
    ids, answer = batch.ids.to(device), batch.answer_mask.to(device)
    start, n_ans = batch.prompt_lengths, batch.answer_mask.sum(1)
    N, S = len(batch), int(n_ans.max())
    pad, stop = batch.vocab.pad_id, batch.vocab.answer_end_id
    predicted = np.full((N, S), pad, dtype=np.int64)
    target = np.full((N, S), pad, dtype=np.int64)
    ctx = autocast or contextlib.nullcontext
    for p in torch.unique(start).tolist():
        for chunk in (start == p).nonzero().squeeze(1).split(batch_size):
            steps = int(n_ans[chunk].max())
            with ctx():
                out = decode(model, ids[chunk, :p], steps, stop, pad)
            rows = chunk.numpy()
            predicted[rows, : out.shape[1]] = out.cpu().numpy()
            gt = ids[chunk, p : p + steps].masked_fill(~answer[chunk, p : p + steps], pad)
            target[rows, :steps] = gt.cpu().numpy()
    scored = np.arange(S)[None, :] < n_ans.numpy()[:, None]
    hit = (predicted == target) & scored
    ok = np.zeros(N, dtype=bool)
    if solved:
        for i in range(N):
            cells = _safe_cells(predicted[i], batch)
            ok[i] = cells is not None and len(cells) > 0 and is_shortest_path(detokenize(batch, i), cells)
    return EvalResult(
        size=batch.sizes.numpy(),
        exact=hit.sum(1) == scored.sum(1),
        solved=ok,
        token_acc=hit.sum(1) / scored.sum(1),
        predicted=predicted,
        target=target,
    )
