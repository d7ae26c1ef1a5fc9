"""Oracles for the maze transformers: parameter matching, no leakage, RoPE's relative property."""

import pytest
import torch

from rizzlib.mazes.model import (
    MLMUModel,
    ModelConfig,
    NextTokenModel,
    apply_rope,
    build_model,
    count_parameters,
    rope_tables,
)

V = 40


def _tokens(B=3, T=30, seed=0):
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("d_model,n_blocks", [(64, 4), (128, 14), (128, 40)])
def test_parameter_counts_match_within_one_percent(d_model, n_blocks):
    counts = [count_parameters(build_model(ModelConfig(128, obj, d_model, 4, n_blocks))) for obj in ("mlmu", "ntp")]
    assert abs(counts[0] - counts[1]) / counts[1] < 0.01


def test_8m_models_have_the_papers_size():
    n = count_parameters(build_model(ModelConfig(128, "mlmu", 128, 4, 40)))
    assert 7.8e6 < n < 8.1e6  # the paper's "8M" PAST: d 128, 20 + 20 blocks (spec §3.1: 7.95M)


def test_mlmu_never_reads_invisible_tokens():
    torch.manual_seed(0)
    model = MLMUModel(ModelConfig(V, "mlmu", 32, 4, 4)).eval()
    tokens = _tokens()
    visible = torch.rand(tokens.shape) < 0.5
    visible[:, 0] = True
    query = torch.arange(tokens.shape[1]).expand(tokens.shape[0], -1)
    changed = torch.where(visible, tokens, (tokens + 7) % V)
    with torch.no_grad():
        assert torch.equal(model(tokens, visible, query), model(changed, visible, query))
        # and visible tokens do matter
        flip = tokens.clone()
        flip[:, 0] = (flip[:, 0] + 1) % V
        assert not torch.equal(model(tokens, visible, query), model(flip, visible, query))


def test_mlmu_queries_know_their_position():
    torch.manual_seed(0)
    model = MLMUModel(ModelConfig(V, "mlmu", 32, 4, 2)).eval()
    tokens = _tokens(B=1)
    visible = torch.ones_like(tokens, dtype=torch.bool)
    with torch.no_grad():
        logits = model(tokens, visible, torch.tensor([[3, 4]]))
    assert not torch.allclose(logits[0, 0], logits[0, 1])


def test_next_token_model_is_causal():
    torch.manual_seed(0)
    model = NextTokenModel(ModelConfig(V, "ntp", 32, 4, 3)).eval()
    tokens = _tokens()
    changed = tokens.clone()
    changed[:, 20:] = (changed[:, 20:] + 5) % V
    with torch.no_grad():
        a, b = model(tokens), model(changed)
    assert a.shape == (3, 30, V)
    assert torch.allclose(a[:, :20], b[:, :20], atol=1e-6, rtol=0)
    assert not torch.allclose(a[:, 20:], b[:, 20:])


def test_rope_scores_depend_only_on_relative_position():
    g = torch.Generator().manual_seed(1)
    q, k = torch.randn(1, 1, 1, 16, generator=g), torch.randn(1, 1, 1, 16, generator=g)

    def score(m, n):
        cq, sq = rope_tables(torch.tensor([[m]]), 16, 10_000.0)
        ck, sk = rope_tables(torch.tensor([[n]]), 16, 10_000.0)
        return (apply_rope(q, cq, sq) * apply_rope(k, ck, sk)).sum()

    assert torch.allclose(score(5, 2), score(105, 102), atol=1e-5)
    assert torch.allclose(score(0, 0), (q * k).sum(), atol=1e-6)  # position 0 is the identity
    assert not torch.allclose(score(5, 2), score(2, 5), atol=1e-3)


def test_rope_preserves_norms_even_at_large_positions():
    x = torch.randn(2, 4, 3000, 32)
    cos, sin = rope_tables(torch.arange(3000).expand(2, -1), 32, 10_000.0)
    assert torch.allclose(apply_rope(x, cos, sin).norm(dim=-1), x.norm(dim=-1), atol=1e-4)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(objective="bert"), "objective"),
        (dict(n_blocks=3), "even"),
        (dict(d_model=60), "multiple"),
        (dict(vocab_size=1), "vocab_size"),
        (dict(n_heads=0), "n_heads"),
    ],
)
def test_bad_configs_raise(kwargs, match):
    base = dict(vocab_size=V, objective="mlmu", d_model=64, n_heads=4, n_blocks=4)
    with pytest.raises(ValueError, match=match):
        ModelConfig(**{**base, **kwargs})


def test_bad_inputs_raise():
    mlmu = MLMUModel(ModelConfig(V, "mlmu", 32, 4, 2))
    ntp = NextTokenModel(ModelConfig(V, "ntp", 32, 4, 2))
    tokens = _tokens()
    ones = torch.ones_like(tokens, dtype=torch.bool)
    q = torch.zeros(3, 1, dtype=torch.long)
    with pytest.raises(ValueError, match="tokens must be in"):
        ntp(tokens + V)
    with pytest.raises(ValueError, match="LongTensor"):
        ntp(tokens.float())
    with pytest.raises(ValueError, match="at least one True"):
        mlmu(tokens, torch.zeros_like(ones), q)
    with pytest.raises(ValueError, match="visible"):
        mlmu(tokens, ones[:, :5], q)
    with pytest.raises(ValueError, match="query_pos"):
        mlmu(tokens, ones, q[:2])
    with pytest.raises(ValueError, match="objective 'ntp'"):
        NextTokenModel(ModelConfig(V, "mlmu", 32, 4, 2))
