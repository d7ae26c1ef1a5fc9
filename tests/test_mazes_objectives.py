"""Oracles for the losses and the MLM-U mask sampler: closed forms, hand computations, a KS test."""

import math

import numpy as np
import pytest
import torch

from rizzlib.mazes.model import MLMUModel, ModelConfig, NextTokenModel
from rizzlib.mazes.objectives import (
    masked_mean_cross_entropy,
    mlmu_loss,
    next_token_loss,
    sample_visible,
    visible_from_uniforms,
)

V = 11


def _batch(B=4, T=12, start=5, lengths=(3, 7, 5, 6), seed=0):
    """Prefix [0, start), answer [start, start + length), padding after."""
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, V, (B, T), generator=g)
    pos = torch.arange(T)
    lengths = torch.tensor(lengths[:B])
    valid = pos < (start + lengths)[:, None]
    answer = valid & (pos >= start)
    return tokens.masked_fill(~valid, 0), answer, valid


def _ks_uniform(samples: np.ndarray) -> float:
    x = np.sort(samples)
    n = len(x)
    return max(np.max(np.arange(1, n + 1) / n - x), np.max(x - np.arange(n) / n))


def test_mask_rate_and_masked_fraction_are_uniform():
    B, L = 20_000, 400
    answer = torch.zeros(B, L + 1, dtype=torch.bool)
    answer[:, 1:] = True
    valid = torch.ones_like(answer)
    visible, rate = sample_visible(answer, valid, torch.Generator().manual_seed(0))
    masked_fraction = (answer & ~visible).sum(1).double().numpy() / L
    crit = 1.63 / math.sqrt(B)  # KS at the 1% level
    assert _ks_uniform(rate.double().numpy()) < crit
    assert _ks_uniform(masked_fraction) < crit + 0.01  # + binomial blur of a 400-token row
    assert abs(masked_fraction.mean() - 0.5) < 0.01
    assert abs(masked_fraction.var() - 1 / 12) < 0.005
    # given its rate, each row masks about 1 - r of its tokens
    assert np.abs(masked_fraction - (1 - rate.double().numpy())).mean() < 0.03


def test_prefix_and_position_zero_always_visible_padding_never():
    tokens, answer, valid = _batch()
    for seed in range(20):
        visible, _ = sample_visible(answer, valid, torch.Generator().manual_seed(seed))
        assert visible[:, 0].all()
        assert visible[valid & ~answer].all()
        assert not visible[~valid].any()


def test_visible_from_uniforms_by_hand():
    answer = torch.tensor([[False, False, True, True, True, False]])
    valid = torch.tensor([[True, True, True, True, True, False]])
    u = torch.tensor([[0.9, 0.9, 0.1, 0.6, 0.3, 0.0]])
    visible = visible_from_uniforms(answer, valid, torch.tensor([0.5]), u)
    assert visible.tolist() == [[True, True, True, False, True, False]]


def test_masked_cross_entropy_ignores_unmasked_targets():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, V, generator=g)
    targets = torch.randint(0, V, (2, 5), generator=g)
    masked = torch.tensor([[1, 0, 0, 1, 0], [0, 1, 1, 0, 0]], dtype=torch.bool)
    changed = torch.where(masked, targets, (targets + 3) % V)
    assert masked_mean_cross_entropy(logits, targets, masked) == masked_mean_cross_entropy(logits, changed, masked)
    assert masked_mean_cross_entropy(logits, (targets + 3) % V, masked) != masked_mean_cross_entropy(logits, targets, masked)


def test_masked_cross_entropy_closed_form_token_level_mean():
    # two sequences with 1 and 3 masked tokens: the mean is over all 4 tokens, not per sequence
    logits = torch.zeros(2, 3, 4)
    logits[0, 0, 2] = math.log(3.0)  # p(target=2) = 3 / 6
    logits[1, :, 1] = math.log(5.0)  # p(target=1) = 5 / 8
    targets = torch.tensor([[2, 0, 0], [1, 1, 0]])
    masked = torch.tensor([[True, False, False], [True, True, True]])
    # row 1, column 2: target 0 has p = 1 / 8
    expected = (-math.log(3 / 6) - 2 * math.log(5 / 8) - math.log(1 / 8)) / 4
    assert masked_mean_cross_entropy(logits, targets, masked).item() == pytest.approx(expected, rel=1e-6)


def test_masked_cross_entropy_with_nothing_masked_is_zero_not_nan():
    logits = torch.randn(2, 3, V, requires_grad=True)
    loss = masked_mean_cross_entropy(logits, torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3, dtype=torch.bool))
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(logits.grad).all()


class _FixedNTP(NextTokenModel):
    def __init__(self, logits):
        super().__init__(ModelConfig(V, "ntp", 8, 2, 1))
        self.fixed = logits

    def forward(self, tokens):
        return self.fixed


class _FixedMLMU(MLMUModel):
    def __init__(self):
        super().__init__(ModelConfig(V, "mlmu", 8, 2, 2))

    def forward(self, tokens, visible, query_pos):
        return torch.zeros(*query_pos.shape, V)


def test_next_token_loss_equals_hand_computation():
    tokens, answer, valid = _batch()
    logits = torch.randn(*tokens.shape, V, generator=torch.Generator().manual_seed(3))
    loss, n = next_token_loss(_FixedNTP(logits), tokens, answer, valid)
    terms = []
    for b in range(tokens.shape[0]):
        for t in range(1, tokens.shape[1]):
            if answer[b, t]:
                row = logits[b, t - 1].double()
                terms.append(-(row[tokens[b, t]] - torch.logsumexp(row, 0)).item())
    assert n == len(terms) == int(answer.sum())  # every answer token, <PATH_END> of the longest row included
    assert loss.item() == pytest.approx(sum(terms) / len(terms), rel=1e-5)


def test_uniform_logits_give_log_vocab_for_both_losses():
    tokens, answer, valid = _batch()
    loss, _ = next_token_loss(_FixedNTP(torch.zeros(*tokens.shape, V)), tokens, answer, valid)
    assert loss.item() == pytest.approx(math.log(V), rel=1e-6)
    loss, n = mlmu_loss(_FixedMLMU(), tokens, answer, valid, torch.Generator().manual_seed(0))
    assert n > 0 and loss.item() == pytest.approx(math.log(V), rel=1e-6)


def test_mlmu_loss_counts_masked_answer_tokens_only():
    tokens, answer, valid = _batch()
    g = torch.Generator().manual_seed(5)
    visible, _ = sample_visible(answer, valid, torch.Generator().manual_seed(5))
    _, n = mlmu_loss(_FixedMLMU(), tokens, answer, valid, g)
    assert n == int((answer & ~visible).sum())


def test_mlmu_loss_reaches_zero_for_an_oracle():
    tokens, answer, valid = _batch()

    class Oracle(_FixedMLMU):
        def forward(self, toks, visible, query_pos):
            return 50.0 * torch.nn.functional.one_hot(tokens.gather(1, query_pos), V).float()

    loss, _ = mlmu_loss(Oracle(), tokens, answer, valid, torch.Generator().manual_seed(0))
    assert loss.item() < 1e-12


def test_bad_batches_raise():
    tokens, answer, valid = _batch()
    model = _FixedNTP(torch.zeros(*tokens.shape, V))
    with pytest.raises(ValueError, match="answer must be False on padding"):
        next_token_loss(model, tokens, answer | ~valid, valid)
    with pytest.raises(ValueError, match="position 0"):
        bad = answer.clone()
        bad[:, 0] = True
        next_token_loss(model, tokens, bad, valid | bad)
    with pytest.raises(ValueError, match="bool tensor"):
        next_token_loss(model, tokens, answer.long(), valid)
    with pytest.raises(ValueError, match="must agree"):
        masked_mean_cross_entropy(torch.zeros(2, 3, V), torch.zeros(2, 4, dtype=torch.long), torch.ones(2, 4, dtype=torch.bool))
