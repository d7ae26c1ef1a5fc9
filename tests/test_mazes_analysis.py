"""Oracles for rizzlib.mazes.analysis: token kinds, teacher-forced accuracy, first errors, loss by rate."""

import math

import numpy as np
import pytest
import torch

from rizzlib.mazes.analysis import (
    END,
    FORCED,
    FORK,
    NONE,
    ORIGIN,
    accuracy_by_kind,
    answer_kinds,
    first_error,
    fork_counts,
    mlmu_loss_by_rate,
    teacher_forced_correct,
    teacher_forced_predictions,
)
from rizzlib.mazes.decode import next_logits
from rizzlib.mazes.generate import generate_astar, generate_dfs
from rizzlib.mazes.model import MLMUModel, ModelConfig
from rizzlib.mazes.presets import PRESETS
from rizzlib.mazes.reference import open_neighbours
from rizzlib.mazes.tokens import dfs_vocab, tokenize
from rizzlib.mazes.train import init_model

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _kinds_reference(maze):
    path = [tuple(int(v) for v in c) for c in maze.path]
    out = [ORIGIN]
    for j in range(1, len(path)):
        options = [c for c in open_neighbours(maze.connections, path[j - 1]) if j < 2 or c != path[j - 2]]
        out.append(FORK if len(options) > 1 else FORCED)
    return out + [END]


@pytest.mark.parametrize("size,kind", [(3, "dfs"), (5, "dfs"), (8, "dfs"), (6, "astar")])
def test_answer_kinds_match_a_per_cell_reference(size, kind):
    rng = np.random.default_rng(size)
    mazes = generate_dfs(size, 40, rng) if kind == "dfs" else generate_astar(size, 40, rng)
    kinds = answer_kinds(mazes)
    for i in range(len(mazes)):
        ref = _kinds_reference(mazes[i])
        assert kinds[i, : len(ref)].tolist() == ref and (kinds[i, len(ref) :] == NONE).all()
    assert fork_counts(mazes).tolist() == [(k == FORK).sum() for k in kinds]
    if kind == "dfs" and size >= 5:  # DFS paths are mostly corridor moves, with some forks
        assert 0 < (kinds == FORK).sum() < (kinds == FORCED).sum()


def test_accuracy_by_kind_and_first_error_by_hand():
    kinds = np.array([[ORIGIN, FORCED, FORK, END, NONE], [ORIGIN, FORK, FORCED, FORCED, END]])
    correct = np.array([[1, 1, 0, 1, 0], [1, 1, 1, 0, 1]], dtype=bool)
    acc = accuracy_by_kind(correct, kinds)
    assert acc == {"origin": 1.0, "forced": pytest.approx(2 / 3), "fork": 0.5, "end": 1.0}
    pred = np.array([[4, 5, 6, 1, 0], [4, 5, 6, 7, 1]])
    target = np.array([[4, 5, 9, 1, 0], [4, 5, 6, 7, 1]])
    assert first_error(pred, target, np.array([4, 5])).tolist() == [2, -1]
    with pytest.raises(ValueError, match="one row per maze"):
        accuracy_by_kind(correct[:1], kinds)


class _Oracle(MLMUModel):
    """Peeks at the (hidden) true token in its input buffer: right at every query."""

    def __init__(self, vocab_size):
        super().__init__(ModelConfig(vocab_size, "mlmu", 8, 2, 2))

    def forward(self, tokens, visible, query_pos):
        return 20.0 * torch.nn.functional.one_hot(tokens.gather(1, query_pos), self.cfg.vocab_size).float()


def _batch(size=4, count=10, seed=0, vocab_size=4):
    rng = np.random.default_rng(seed)
    return tokenize(generate_dfs(size, count, rng), dfs_vocab(vocab_size), rng)


def test_teacher_forced_oracle_is_right_everywhere_it_is_scored():
    data = _batch()
    correct = teacher_forced_correct(_Oracle(data.vocab.model_size), data, chunk=3)
    n_ans = data.answer_mask.sum(1).numpy()
    for i, k in enumerate(n_ans):
        assert correct[i, :k].all() and not correct[i, k:].any()


@pytest.mark.parametrize("objective", ["mlmu", "ntp"])
def test_teacher_forced_matches_one_position_at_a_time(objective):
    data = _batch(seed=1)
    model = init_model(PRESETS.smoke.model_config(objective, data.vocab.model_size), 3)
    correct = teacher_forced_correct(model, data)
    P = int(data.prompt_lengths[0])
    n_ans = data.answer_mask.sum(1)
    with torch.no_grad():
        for t in range(int(n_ans.max())):
            pred = next_logits(model.eval(), data.ids, P + t).argmax(-1)
            expect = (pred == data.ids[:, P + t]) & (t < n_ans)
            assert correct[:, t].tolist() == expect.tolist()
    with pytest.raises(ValueError, match="one grid size"):
        from rizzlib.mazes.tokens import concat_batches

        teacher_forced_correct(model, concat_batches([data, _batch(size=3, count=2)]))


def test_loss_by_rate_of_uniform_logits_is_log_v_and_rates_are_checked():
    data = _batch(count=6)

    class Uniform(MLMUModel):
        def forward(self, tokens, visible, query_pos):
            return torch.zeros(*query_pos.shape, self.cfg.vocab_size)

    model = Uniform(ModelConfig(data.vocab.model_size, "mlmu", 8, 2, 2))
    losses = mlmu_loss_by_rate(model, data, [0.0, 0.5, 0.9], chunk=4)
    assert losses == pytest.approx([math.log(data.vocab.model_size)] * 3, rel=1e-5)
    oracle = _Oracle(data.vocab.model_size)
    assert max(mlmu_loss_by_rate(oracle, data, [0.0, 0.7])) < 1e-3
    with pytest.raises(ValueError, match="rate"):
        mlmu_loss_by_rate(model, data, [1.0])
    with pytest.raises(ValueError, match="MLMUModel"):
        mlmu_loss_by_rate(init_model(PRESETS.smoke.model_config("ntp", 40)), data, [0.5])


def test_teacher_forced_predictions_are_the_argmax_and_pad_after_the_end():
    data = _batch(seed=2)
    model = init_model(PRESETS.smoke.model_config("ntp", data.vocab.model_size), 1)
    pred = teacher_forced_predictions(model, data)
    P, n_ans = int(data.prompt_lengths[0]), data.answer_mask.sum(1)
    with torch.no_grad():
        for t in range(pred.shape[1]):
            expect = (
                next_logits(model.eval(), data.ids, P + t)
                .argmax(-1)
                .masked_fill(t >= n_ans, data.vocab.pad_id)
            )
            assert pred[:, t].tolist() == expect.tolist()
    truth = data.ids[:, P : P + pred.shape[1]].numpy()
    assert np.array_equal(
        teacher_forced_correct(model, data),
        (pred == truth) & (np.arange(pred.shape[1]) < n_ans.numpy()[:, None]),
    )


@pytest.mark.parametrize("objective", ["ntp", "mlmu"])
def test_teacher_forced_predictions_with_excluded_ids_are_the_argmax_over_the_rest(objective):
    data = _batch(seed=3)
    model = init_model(PRESETS.smoke.model_config(objective, data.vocab.model_size), 2)
    P, n_ans = int(data.prompt_lengths[0]), data.answer_mask.sum(1)
    plain = teacher_forced_predictions(model, data)
    # exclude what the model ranks first most often, plus the end token: the argmax must move
    top = int(np.bincount(plain[plain != data.vocab.pad_id]).argmax())
    exclude = (top, data.vocab.answer_end_id)
    pred = teacher_forced_predictions(model, data, exclude=exclude)
    keep = torch.ones(model.cfg.vocab_size, dtype=torch.bool)
    keep[list(exclude)] = False
    with torch.no_grad():
        for t in range(pred.shape[1]):
            logits = next_logits(model.eval(), data.ids, P + t)
            expect = keep.nonzero().squeeze(1)[logits[:, keep].argmax(-1)].masked_fill(t >= n_ans, data.vocab.pad_id)
            assert pred[:, t].tolist() == expect.tolist()
    scored = np.arange(pred.shape[1]) < n_ans.numpy()[:, None]
    assert not np.isin(pred[scored], exclude).any() and (plain[scored] == top).any()
    for bad in ((-1,), (model.cfg.vocab_size,)):
        with pytest.raises(ValueError, match="exclude"):
            teacher_forced_predictions(model, data, exclude=bad)
    with pytest.raises(ValueError, match="exclude"):
        teacher_forced_predictions(model, data, exclude=tuple(range(model.cfg.vocab_size)))
