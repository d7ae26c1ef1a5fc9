"""Where maze models go wrong: answer tokens by kind, teacher-forced accuracy per kind, MLM-U loss by
masking rate, and the first wrong token of a decoded path.

Answer-token kinds (one per answer position, in order): ``ORIGIN`` (the first path cell, a copy of
the prompt's origin), ``FORCED`` (the next cell is the only open neighbour other than the cell we came
from: a corridor move), ``FORK`` (two or more such neighbours: a decision that depends on the goal),
``END`` (the ``<PATH_END>`` token). Shapes: N mazes, S = longest answer (path cells + end token).
"""

from __future__ import annotations

import numpy as np
import torch

from rizzlib.core.validate import check_range
from rizzlib.mazes.maze import MazeBatch
from rizzlib.mazes.model import MLMUModel, NextTokenModel
from rizzlib.mazes.objectives import masked_mean_cross_entropy, visible_from_uniforms
from rizzlib.mazes.tokens import TokenBatch

ORIGIN, FORCED, FORK, END, NONE = 0, 1, 2, 3, -1
KIND_NAMES = {ORIGIN: "origin", FORCED: "forced", FORK: "fork", END: "end"}


def answer_kinds(mazes: MazeBatch) -> np.ndarray:
    """(N, S) int kind of every answer token (``NONE`` after the end token); DFS or A* mazes."""
    n, lengths = mazes.size, mazes.path_lengths
    S = int(lengths.max()) + 1
    kinds = np.full((len(mazes), S), NONE, dtype=np.int64)
    down, right = mazes.connections[:, 0], mazes.connections[:, 1]
    for i in range(len(mazes)):
        L = int(lengths[i])
        path = mazes.paths[i, :L].astype(np.int64)
        kinds[i, 0], kinds[i, L] = ORIGIN, END
        for j in range(1, L):  # token j is the cell after path[j - 1]
            r, c = path[j - 1]
            opened = []
            if r > 0 and down[i, r - 1, c]:
                opened.append((r - 1, c))
            if r < n - 1 and down[i, r, c]:
                opened.append((r + 1, c))
            if c > 0 and right[i, r, c - 1]:
                opened.append((r, c - 1))
            if c < n - 1 and right[i, r, c]:
                opened.append((r, c + 1))
            came_from = tuple(path[j - 2]) if j >= 2 else None
            options = [cell for cell in opened if cell != came_from]
            kinds[i, j] = FORK if len(options) > 1 else FORCED
    return kinds


def fork_counts(mazes: MazeBatch) -> np.ndarray:
    """(N,) number of fork decisions along each maze's path."""
    return (answer_kinds(mazes) == FORK).sum(1)


@torch.no_grad()
def teacher_forced_predictions(model, batch: TokenBatch, chunk: int = 256, exclude: tuple[int, ...] = ()) -> np.ndarray:
    """(N, S) int argmax token at each answer position given the true earlier path tokens.

    Next token: one causal pass. MLM-U: for answer step t the visible set is the prompt and the true
    answer tokens before t (the left-to-right context of greedy decoding), one pass per step.
    ``exclude``: token ids the argmax skips (their logits set to -inf), e.g. the end token, to ask
    which *cell* the model ranks first. Entries after a maze's end token are ``pad_id``. All mazes
    must share one prompt length.
    """
    P = int(batch.prompt_lengths[0])
    if not bool((batch.prompt_lengths == P).all()):
        raise ValueError("batch must hold one grid size (one prompt length); split it by size first")
    V = model.cfg.vocab_size
    ids = sorted({int(i) for i in exclude})
    bad = [i for i in ids if not 0 <= i < V]
    if bad:
        raise ValueError(f"exclude must hold token ids in [0, {V - 1}]; got {bad}")
    if len(ids) >= V:
        raise ValueError("exclude must leave at least one token id to predict")
    drop = torch.zeros(V, dtype=torch.bool)
    drop[ids] = True
    n_ans = batch.answer_mask.sum(1)
    S = int(n_ans.max())
    out = np.full((len(batch), S), batch.vocab.pad_id, dtype=np.int64)
    was_training = model.training
    model.eval()
    for rows in torch.arange(len(batch)).split(chunk):
        ids = batch.ids[rows, : P + S]
        if isinstance(model, NextTokenModel):
            pred = model(ids[:, : P + S - 1])[:, P - 1 :].masked_fill(drop, -torch.inf).argmax(-1)  # row t predicts t + 1
        elif isinstance(model, MLMUModel):
            pred = torch.empty((len(rows), S), dtype=torch.long)
            for t in range(S):
                visible = torch.zeros_like(ids, dtype=torch.bool)
                visible[:, : P + t] = True
                logits = model(ids, visible, torch.full((len(rows), 1), P + t, dtype=torch.long))[:, 0]
                pred[:, t] = logits.masked_fill(drop, -torch.inf).argmax(-1)
        else:
            raise ValueError(f"model must be an MLMUModel or a NextTokenModel; got {type(model).__name__}")
        scored = torch.arange(S)[None, :] < n_ans[rows, None]
        out[rows.numpy()] = pred.masked_fill(~scored, batch.vocab.pad_id).numpy()
    model.train(was_training)
    return out


def teacher_forced_correct(model, batch: TokenBatch, chunk: int = 256) -> np.ndarray:
    """(N, S) bool: is :func:`teacher_forced_predictions` right at each answer position (False after the end)."""
    pred = teacher_forced_predictions(model, batch, chunk)
    P, S = int(batch.prompt_lengths[0]), pred.shape[1]
    truth = batch.ids[:, P : P + S].numpy()
    scored = np.arange(S)[None, :] < batch.answer_mask.sum(1).numpy()[:, None]
    return (pred == truth) & scored


def accuracy_by_kind(correct: np.ndarray, kinds: np.ndarray) -> dict[str, float]:
    """{kind name: fraction correct} over the answer tokens of each kind (NaN when there are none)."""
    if correct.shape[0] != kinds.shape[0]:
        raise ValueError(
            f"correct and kinds must have one row per maze; got {correct.shape} and {kinds.shape}"
        )
    S = min(correct.shape[1], kinds.shape[1])
    c, k = correct[:, :S], kinds[:, :S]
    return {
        name: float(c[k == kind].mean()) if (k == kind).any() else float("nan")
        for kind, name in KIND_NAMES.items()
    }


def first_error(predicted: np.ndarray, target: np.ndarray, n_answer: np.ndarray) -> np.ndarray:
    """(N,) index of the first wrong answer token of each decoded maze, -1 when all are right."""
    S = min(predicted.shape[1], target.shape[1])
    wrong = (predicted[:, :S] != target[:, :S]) & (np.arange(S)[None, :] < np.asarray(n_answer)[:, None])
    return np.where(wrong.any(1), wrong.argmax(1), -1)


@torch.no_grad()
def mlmu_loss_by_rate(
    model: MLMUModel, batch: TokenBatch, rates, seed: int = 0, chunk: int = 256
) -> list[float]:
    """MLM-U loss on ``batch`` with every answer token visible with probability ``rate`` (fixed, not drawn).

    Each rate in ``rates`` (in [0, 1)) gives the token-level mean -log p over the masked answer
    tokens; low rates ask for most of the path from little of it. Same masks for every model given
    the same ``seed``.
    """
    if not isinstance(model, MLMUModel):
        raise ValueError(f"model must be an MLMUModel; got {type(model).__name__}")
    was_training = model.training
    model.eval()
    out = []
    for rate in rates:
        check_range("rate", float(rate), 0.0, 1.0, high_inclusive=False)
        g = torch.Generator().manual_seed(seed)
        total, count = 0.0, 0
        for rows in torch.arange(len(batch)).split(chunk):
            sub = batch.subset(rows).trimmed()
            tokens, answer = sub.ids, sub.answer_mask
            valid = sub.padding_mask[:, : tokens.shape[1]]
            u = torch.rand(tokens.shape, generator=g)
            visible = visible_from_uniforms(answer, valid, torch.full((len(rows),), float(rate)), u)
            cols = answer.any(0).nonzero().squeeze(1)
            masked = (answer & ~visible)[:, cols]
            logits = model(tokens, visible, cols.expand(len(rows), -1))
            n = int(masked.sum())
            total += float(masked_mean_cross_entropy(logits, tokens[:, cols], masked)) * n
            count += n
        out.append(total / max(count, 1))
    model.train(was_training)
    return out
