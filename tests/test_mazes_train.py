"""The training loop: schedule, determinism, checkpoints, overfitting, and the gpu preset's first step."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from rizzlib.mazes.decode import confidence_decode, greedy_decode, next_logits
from rizzlib.mazes.eval import evaluate
from rizzlib.mazes.generate import generate_dfs, is_valid_walk
from rizzlib.mazes.model import MLMUModel, ModelConfig
from rizzlib.mazes.presets import PRESETS, DataConfig, preset
from rizzlib.mazes.tokens import decode_path, detokenize, dfs_vocab, tokenize
from rizzlib.mazes.train import (
    TrainConfig,
    init_model,
    load_checkpoint,
    lr_factor,
    make_datasets,
    make_optimizer,
    measure_training_throughput,
    save_checkpoint,
    train,
)

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _mazes(size, count, seed=0, vocab_size=None):
    rng = np.random.default_rng(seed)
    return tokenize(generate_dfs(size, count, rng), dfs_vocab(vocab_size or size), rng)


def test_schedule_warms_up_then_decays_to_lr_over_625():
    total, warm = 1000, 0.05
    f = [lr_factor(s, total, warm) for s in range(total + 1)]
    assert f[0] == pytest.approx(1 / 25)
    assert f[50] == pytest.approx(1.0)
    assert f[-1] == pytest.approx(1 / 625)
    assert all(a <= b for a, b in zip(f[:50], f[1:51])) and all(a >= b for a, b in zip(f[50:], f[51:]))


def test_weight_decay_only_on_matrices():
    model = init_model(PRESETS.smoke.model_config("mlmu", 128))
    opt = make_optimizer(model, TrainConfig(weight_decay=0.1))
    decayed, plain = opt.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decayed["params"]) and all(p.dim() < 2 for p in plain["params"])
    # as the official optimiser: the decoder query (an nn.Embedding row there) and the tied embedding
    # decay, the head bias does not
    decayed_ids, plain_ids = ({id(p) for p in g["params"]} for g in (decayed, plain))
    assert {id(model.query), id(model.embed.weight)} <= decayed_ids and id(model.head_bias) in plain_ids


@pytest.mark.parametrize("objective", ["mlmu", "ntp"])
def test_same_seed_same_run_other_seed_other_run(objective):
    data = _mazes(3, 20)
    cfg = PRESETS.smoke.model_config(objective, data.vocab.model_size)
    tc = TrainConfig(steps=4, batch_size=8, seed=3)
    runs = []
    for seed in (3, 3, 4):
        model = init_model(cfg, seed)
        hist = train(model, data, dataclasses.replace(tc, seed=seed), progress=False)
        runs.append((hist.loss, model.embed.weight.detach().clone()))
    assert runs[0][0] == runs[1][0] and torch.equal(runs[0][1], runs[1][1])
    assert runs[0][0] != runs[2][0]


def test_checkpoint_round_trip(tmp_path):
    data = _mazes(3, 8)
    model = init_model(PRESETS.smoke.model_config("mlmu", data.vocab.model_size), 0)
    path = save_checkpoint(model, tmp_path / "m.safetensors", extra={"steps": 7})
    loaded, extra = load_checkpoint(path)
    assert extra == {"steps": 7} and loaded.cfg == model.cfg
    a, b = evaluate(model, data), evaluate(loaded, data)
    assert np.array_equal(a.predicted, b.predicted)


def _overfit(objective, n_mazes, size, steps):
    data = _mazes(size, n_mazes, seed=1)
    cfg = PRESETS.smoke.model_config(objective, data.vocab.model_size)
    model = init_model(cfg, 0)
    tc = TrainConfig(steps=steps, batch_size=n_mazes, lr=3e-3, warmup_frac=0.05, weight_decay=0.0)
    hist = train(model, data, tc, progress=False)
    return hist, evaluate(model, data)


@pytest.mark.parametrize("objective", ["mlmu", "ntp"])
def test_both_models_fit_three_tiny_mazes_fast(objective):
    hist, result = _overfit(objective, 2, 3, 300)
    assert np.mean(hist.loss[-10:]) < 0.2 * np.mean(hist.loss[:5])
    assert result.exact.all() and result.solved.all()
    data = _mazes(3, 2, seed=1)  # the same mazes: decoded tokens parse into walks through open cells
    for i in range(len(data)):
        maze, cells = detokenize(data, i), decode_path(result.predicted[i], data.vocab)
        assert is_valid_walk(maze, cells) and np.array_equal(cells, maze.path)


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["mlmu", "ntp"])
def test_both_models_overfit_ten_mazes(objective):
    hist, result = _overfit(objective, 10, 5, 1000)
    assert result.exact.mean() == 1.0 and result.solved.mean() == 1.0
    assert np.mean(hist.loss[-10:]) < 0.05


def test_gpu_preset_builds_and_takes_one_step_on_cpu():
    cfg = preset("gpu")
    n = cfg.data.sizes[0]
    data = _mazes(n, 2)
    for objective in ("mlmu", "ntp"):
        model = init_model(cfg.model_config(objective, data.vocab.model_size), 0)
        assert 7.8e6 < sum(p.numel() for p in model.parameters()) < 8.1e6
        hist = train(model, data, dataclasses.replace(cfg.train, steps=1, batch_size=2, eval_every=0), progress=False)
        assert len(hist.loss) == 1 and math.isfinite(hist.loss[0])


def test_presets_and_datasets():
    for _, cfg in PRESETS.items():  # same width and blocks, hence parameter counts within 1 %
        counts = [sum(p.numel() for p in init_model(cfg.model_config(o, 128)).parameters()) for o in ("mlmu", "ntp")]
        assert abs(counts[0] - counts[1]) < 0.01 * counts[1]
    vocab, tr, te = make_datasets(DataConfig(sizes=(3, 4), n_train=30, n_test=5))
    assert sorted(set(te.sizes.tolist())) == [3, 4] and len(te) == 10
    assert len(tr) <= 60 and vocab.grid_size == 4


def test_throughput_is_positive():
    data = _mazes(4, 16)
    tps = measure_training_throughput(PRESETS.smoke.model_config("ntp", data.vocab.model_size), data, batch_size=8, steps=2)
    assert tps > 0


def test_bad_configs_raise():
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="fp8")
    with pytest.raises(ValueError, match="warmup_frac"):
        TrainConfig(warmup_frac=1.0)
    with pytest.raises(ValueError, match="sizes"):
        DataConfig(sizes=(2,))
    with pytest.raises(ValueError, match="kind"):
        DataConfig(kind="prim")


# ------------------------------------------------------------------------------ decoding and scoring


class _Oracle(MLMUModel):
    """Returns the true token at every queried position (or a constant token when ``constant``)."""

    def __init__(self, truth, vocab_size, constant=None):
        super().__init__(ModelConfig(vocab_size, "mlmu", 8, 2, 2))
        self.truth, self.constant = truth, constant

    def forward(self, tokens, visible, query_pos):
        target = self.truth[: tokens.shape[0]].gather(1, query_pos) if self.constant is None else torch.full_like(query_pos, self.constant)
        return torch.nn.functional.one_hot(target, self.cfg.vocab_size).float()


def test_oracle_scores_one_and_constant_scores_zero():
    data = _mazes(4, 12)
    oracle = evaluate(_Oracle(data.ids, data.vocab.model_size), data)
    assert oracle.exact.all() and oracle.solved.all() and (oracle.token_acc == 1).all()
    const = evaluate(_Oracle(data.ids, data.vocab.model_size, constant=data.vocab.cell_id(0, 0)), data)
    assert not const.exact.any() and not const.solved.any()


@pytest.mark.parametrize("objective", ["mlmu", "ntp"])
def test_decoding_never_reads_the_future(objective):
    model = init_model(PRESETS.smoke.model_config(objective, 40), 0).eval()
    g = torch.Generator().manual_seed(0)
    buffer = torch.randint(0, 40, (3, 25), generator=g)
    changed = buffer.clone()
    changed[:, 12:] = torch.randint(0, 40, (3, 13), generator=g)
    with torch.no_grad():
        assert torch.allclose(next_logits(model, buffer, 12), next_logits(model, changed, 12), atol=1e-6, rtol=0)
        assert not torch.allclose(next_logits(model, buffer, 13), next_logits(model, changed, 13))


def test_greedy_decode_pads_after_the_stop_token_and_checks_input():
    data = _mazes(4, 6)
    p = int(data.prompt_lengths[0])
    out = greedy_decode(_Oracle(data.ids, data.vocab.model_size), data.ids[:, :p], 40, data.vocab.answer_end_id, data.vocab.pad_id)
    n_ans = data.answer_mask.sum(1)
    for i in range(len(data)):
        k = int(n_ans[i])
        assert torch.equal(out[i, :k], data.ids[i, p : p + k]) and (out[i, k:] == data.vocab.pad_id).all()
    with pytest.raises(ValueError, match="n_steps"):
        greedy_decode(_Oracle(data.ids, data.vocab.model_size), data.ids[:, :p], 0, 1, 0)
    with pytest.raises(ValueError, match="prompt"):
        greedy_decode(_Oracle(data.ids, data.vocab.model_size), data.ids[0, :p], 3, 1, 0)


# ------------------------------------------------------------------- confidence-order decoding


class _TableModel(MLMUModel):
    """Logits from fixed random tables of the query position and of the visible tokens' sum.

    Every pass therefore depends on what has been filled so far, so the order of filling matters.
    """

    def __init__(self, vocab_size, max_len, seed):
        super().__init__(ModelConfig(vocab_size, "mlmu", 8, 2, 2))
        g = torch.Generator().manual_seed(seed)
        self.a = 3.0 * torch.randn(max_len, vocab_size, generator=g)
        self.b = torch.randn(max_len, vocab_size, generator=g)

    def forward(self, tokens, visible, query_pos):
        seen = (tokens * visible).sum(1).float() % 7  # (B,)
        return self.a[query_pos] + seen[:, None, None] * self.b[query_pos]


def _confidence_decode_one_row(model, prompt, n, stop, pad):
    """Plain-Python twin of confidence_decode for one row (B = 1)."""
    P = prompt.shape[0]
    buf = torch.cat([prompt, torch.full((n,), pad)])
    vis = torch.zeros(P + n, dtype=torch.bool)
    vis[:P] = True
    hidden = list(range(n))
    while hidden:
        probs = model(buf[None], vis[None], torch.arange(P, P + n)[None])[0].softmax(-1)
        best = max(hidden, key=lambda k: (float(probs[k].max()), -k))  # ties: the earliest slot
        tok = int(probs[best].argmax())
        buf[P + best], vis[P + best] = tok, True
        hidden.remove(best)
        if tok == stop:
            for k in range(best + 1, n):
                buf[P + k], vis[P + k] = pad, False
                if k in hidden:
                    hidden.remove(k)
    out = buf[P:].tolist()
    if stop in out:
        first = out.index(stop)
        out = out[: first + 1] + [pad] * (n - first - 1)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_confidence_decode_matches_a_per_row_twin(seed):
    V, P, n, stop, pad = 12, 5, 9, 3, 0
    model = _TableModel(V, P + n, seed).eval()
    g = torch.Generator().manual_seed(100 + seed)
    prompt = torch.randint(1, V, (7, P), generator=g)
    out = confidence_decode(model, prompt, n, stop, pad)
    for i in range(len(prompt)):
        assert out[i].tolist() == _confidence_decode_one_row(model, prompt[i], n, stop, pad)


def test_confidence_decode_with_an_oracle_equals_greedy_and_scores_one():
    data = _mazes(4, 12)
    oracle = _Oracle(data.ids, data.vocab.model_size)
    p = int(data.prompt_lengths[0])
    args = (data.ids[:, :p], data.ids.shape[1] - p, data.vocab.answer_end_id, data.vocab.pad_id)
    assert torch.equal(confidence_decode(oracle, *args), greedy_decode(oracle, *args))
    result = evaluate(oracle, data, order="confidence")
    assert result.exact.all() and result.solved.all()
    with pytest.raises(ValueError, match="MLMUModel"):
        confidence_decode(init_model(PRESETS.smoke.model_config("ntp", 40)), *args)
    with pytest.raises(ValueError, match="order"):
        evaluate(oracle, data, order="random")
