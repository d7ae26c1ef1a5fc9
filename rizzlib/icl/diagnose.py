"""Where a learner fails on cipher and keycls: teacher-forced accuracy by the position of what it must look up.

A cipher answer's i-th symbol is the image of the input's i-th symbol, so the learner must align
output i with input i; a keycls answer is the label of the one key hidden among distractors, at any
of the input's positions. :func:`lookup_accuracy_by_position` scores the answer symbols of fresh
training-style sequences by that position, counting only the symbols an in-context learner can know
(the source symbol or key appeared in an earlier demonstration's input), where a perfect in-context
learner scores 1.
"""

from __future__ import annotations

import numpy as np
import torch

from rizzlib.core.validate import check_choice, check_int_range
from rizzlib.icl.tasks import KEYS, SRC


def split_demos(tokens: list[str]) -> list[tuple[list[str], list[str], list[int]]]:
    """The demonstrations of one training sequence: (input symbols, answer symbols, answer positions).

    ``tokens`` is the sequence as tokens (``<bos> <task> x → y ; ...``); positions index ``tokens``.
    A trailing demonstration without its ``;`` is dropped.
    """
    out, i = [], 2
    while True:
        try:
            arrow, stop = tokens.index("→", i), tokens.index(";", i)
        except ValueError:
            return out
        out.append((tokens[i:arrow], tokens[arrow + 1 : stop], list(range(arrow + 1, stop))))
        i = stop + 1


@torch.no_grad()
def lookup_accuracy_by_position(model, tokenizer, task_name: str, rng: np.random.Generator, n_seqs: int = 8,
                                seq_len: int = 512, task=None) -> dict[int, tuple[int, int]]:
    """{position: (right, scored)} of the model's teacher-forced argmax on answer symbols it could know.

    cipher: position = the symbol's index in the word (0-based), scored when that source symbol
    appeared in an earlier demonstration's input. keycls: position = the key's index among the input
    tokens, scored when the key appeared in an earlier input. The first demonstration is never scored.
    ``task`` (optional) replaces ``get_task(task_name)`` (e.g. a stage of a curriculum).
    """
    from rizzlib.icl.train import episode_sequence

    check_choice("task", task_name, ("cipher", "keycls"))
    check_int_range("n_seqs", n_seqs, 1, None)
    counts: dict[int, list[int]] = {}
    for _ in range(n_seqs):
        ids, _ = episode_sequence(task_name, tokenizer, rng, seq_len, task=task)
        x = torch.tensor([ids])
        pred = model(input_ids=x[:, :-1], use_cache=False).logits[0].argmax(-1).tolist()
        seen: set[str] = set()
        for xs, _ys, pos in split_demos(tokenizer.convert_ids_to_tokens(ids)):
            if task_name == "cipher":
                items = [(i, s, p) for i, (s, p) in enumerate(zip(xs, pos)) if s in SRC]
            else:
                keys = [(i, t) for i, t in enumerate(xs) if t in KEYS]
                items = [(keys[0][0], keys[0][1], pos[0])] if len(keys) == 1 and pos else []
            for where, sym, p in items:
                if sym in seen:
                    c = counts.setdefault(where, [0, 0])
                    c[0] += int(pred[p - 1] == ids[p])
                    c[1] += 1
            seen.update(xs)
    return {k: (v[0], v[1]) for k, v in sorted(counts.items())}
