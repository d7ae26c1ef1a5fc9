"""The look-up diagnostic: demos split as written, and accuracy by position equal to a hand count."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from rizzlib.icl.diagnose import lookup_accuracy_by_position, split_demos
from rizzlib.icl.tasks import KEYS, SRC, CipherTask, make_tokenizer
from rizzlib.icl.toy import tiny_llama
from rizzlib.icl.train import episode_sequence

pytestmark = pytest.mark.usefixtures("torch_one_thread")


class Oracle(torch.nn.Module):
    """Predicts the true next token, except ``wrong(position, true_id)`` positions, where it predicts <unk>."""

    def __init__(self, ids_of_call, vocab, wrong=lambda pos, tid: False):
        super().__init__()
        self.ids_of_call, self.vocab, self.wrong = ids_of_call, vocab, wrong

    def forward(self, input_ids, use_cache=False):
        ids = self.ids_of_call.pop(0)
        logits = torch.zeros(1, input_ids.shape[1], self.vocab)
        for p in range(input_ids.shape[1]):
            logits[0, p, 1 if self.wrong(p + 1, ids[p + 1]) else ids[p + 1]] = 1.0
        return types.SimpleNamespace(logits=logits)


def test_split_demos_reads_inputs_answers_and_their_positions():
    toks = "<bos> <cipher> a b → C D ; e → F ; g h".split()
    assert split_demos(toks) == [(["a", "b"], ["C", "D"], [5, 6]), (["e"], ["F"], [10])]
    assert split_demos("<bos> <keycls>".split()) == []


def _hand_count(task_name, tok, seed, n_seqs, seq_len, wrong, task=None):
    """Covered answer symbols by position, from the episode's words (an independent parse)."""
    rng = np.random.default_rng(seed)
    counts = {}
    seqs = []
    for _ in range(n_seqs):
        ids, _ = episode_sequence(task_name, tok, rng, seq_len, task=task)
        seqs.append(ids)
        words = tok.convert_ids_to_tokens(ids)
        text = " ".join(words[2:])
        seen, p = set(), 2
        for demo in text.split(" ;")[:-1]:
            x, y = demo.split("→")
            x, y = x.split(), y.split()
            p += len(x) + 1  # now at the first answer symbol
            if task_name == "cipher":
                targets = [(i, s, p + i) for i, s in enumerate(x)]
            else:
                i = next(j for j, t in enumerate(x) if t in KEYS)
                targets = [(i, x[i], p)]
            for where, sym, pos in targets:
                if sym in seen:
                    c = counts.setdefault(where, [0, 0])
                    c[0] += int(not wrong(pos, ids[pos]))
                    c[1] += 1
            seen |= set(x)
            p += len(y) + 1
    return {k: tuple(v) for k, v in sorted(counts.items())}, seqs


@pytest.mark.parametrize("task_name", ["cipher", "keycls"])
@pytest.mark.parametrize("seed", range(3))
def test_accuracy_by_position_equals_a_hand_count(task_name, seed):
    tok = make_tokenizer()
    wrong = (lambda pos, tid: (pos * 7 + tid) % 3 == 0) if seed else (lambda pos, tid: False)
    task = CipherTask(min_len=1, max_len=5) if task_name == "cipher" and seed == 2 else None
    want, seqs = _hand_count(task_name, tok, seed, 3, 96, wrong, task)
    got = lookup_accuracy_by_position(Oracle(seqs, len(tok), wrong), tok, task_name, np.random.default_rng(seed), n_seqs=3, seq_len=96,
                                      task=task)
    assert got == want and sum(n for _, n in got.values()) > 10
    if seed == 0:
        assert all(h == n for h, n in got.values())  # the oracle is perfect on what can be known
    else:
        assert any(h < n for h, n in got.values())
    expected_positions = set(range(5 if task else 4)) if task_name == "cipher" else set(range(4))
    assert set(got) <= expected_positions


def test_accuracy_by_position_runs_a_real_model_and_rejects_bad_input():
    tok = make_tokenizer()
    model = tiny_llama(len(tok), seed=0, hidden=16, layers=1)
    got = lookup_accuracy_by_position(model, tok, "cipher", np.random.default_rng(0), n_seqs=1, seq_len=64)
    assert all(0 <= h <= n for h, n in got.values()) and set(got) <= set(range(len(SRC)))
    with pytest.raises(ValueError, match="task"):
        lookup_accuracy_by_position(model, tok, "arith", np.random.default_rng(0))
    with pytest.raises(ValueError, match="n_seqs"):
        lookup_accuracy_by_position(model, tok, "keycls", np.random.default_rng(0), n_seqs=0)
