"""Chapter 0 building blocks against closed forms and framework references; the graded checks
must pass the library and fail wrong answers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rizzlib.core.grading import CheckFailed
from rizzlib.primer import PRESETS, checks
from rizzlib.primer import flax_basics as fb
from rizzlib.primer import jax_basics as jb
from rizzlib.primer import torch_basics as tb


def test_discounted_returns_closed_form_and_loop():
    gamma, T = 0.9, 7
    g = jb.discounted_returns(jnp.ones(T), jnp.zeros(T), gamma)
    expected = (1 - gamma ** np.arange(T, 0, -1)) / (1 - gamma)
    np.testing.assert_allclose(g, expected, rtol=1e-6)
    rng = np.random.default_rng(0)
    r, d = rng.normal(size=12), (rng.random(12) < 0.3).astype(float)
    loop, acc = np.zeros(12), 0.0
    for t in reversed(range(12)):
        acc = r[t] + 0.95 * (1 - d[t]) * acc
        loop[t] = acc
    np.testing.assert_allclose(jb.discounted_returns(jnp.asarray(r), jnp.asarray(d), 0.95), loop, rtol=1e-5)


def test_pairwise_distances_matches_broadcasting():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    expected = np.linalg.norm(x[:, None] - y[None], axis=-1)
    np.testing.assert_allclose(jb.pairwise_distances(jnp.asarray(x), jnp.asarray(y)), expected, rtol=1e-5)


def test_mlp_fits_a_sine():
    key = jax.random.key(0)
    x = jnp.linspace(-3, 3, 128)[:, None]
    y = jnp.sin(x)
    state = fb.create_train_state(key, fb.MLP(features=(32, 32, 1)), 1, 1e-2)
    state, losses = fb.fit(state, x, y, steps=400)
    assert losses.shape == (400,)
    assert float(losses[-1]) < 0.01 < float(losses[0])


def test_causal_attention_matches_sdpa_and_is_causal():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 4, generator=g) for _ in range(3))
    out = tb.causal_self_attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True), rtol=1e-5, atol=1e-6)
    v2 = v.clone()
    v2[:, :, -1] += 10  # the future must not leak into earlier positions
    torch.testing.assert_close(tb.causal_self_attention(q, k, v2)[:, :, :-1], out[:, :, :-1])


def test_causal_lm_loss_equals_transformers_loss():
    model = tb.tiny_gpt2(n_layer=1, n_embd=16, n_head=2, n_positions=16)
    ids, labels = tb.reversal_batch(torch.Generator().manual_seed(0), 4, 3)
    out = model(input_ids=ids, labels=labels)
    torch.testing.assert_close(tb.causal_lm_loss(out.logits, labels), out.loss, rtol=1e-5, atol=1e-6)


def test_reversal_batch_layout():
    ids, labels = tb.reversal_batch(torch.Generator().manual_seed(0), 3, 4)
    assert ids.shape == (3, 9)
    assert (ids[:, 4] == tb.SEP).all()
    assert torch.equal(ids[:, 5:], ids[:, :4].flip(1))
    assert (labels[:, :5] == tb.IGNORE_INDEX).all() and torch.equal(labels[:, 5:], ids[:, 5:])


def test_tiny_gpt2_learns_reversal():
    g = torch.Generator().manual_seed(0)
    model = tb.tiny_gpt2(n_layer=2, n_embd=64, n_head=4, n_positions=16)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(600):
        ids, labels = tb.reversal_batch(g, 64, 4)
        loss = model(input_ids=ids, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert tb.reversal_accuracy(model.eval(), g, 4) > 0.9


def test_presets_and_gpu_config_runs_one_step():
    with pytest.raises(ValueError, match="gpt_dim must be divisible"):
        type(PRESETS.cpu)(gpt_dim=30, gpt_heads=4)
    with pytest.raises(ValueError, match="mlp_steps"):
        type(PRESETS.cpu)(mlp_steps=0)
    cfg = PRESETS.gpu
    state = fb.create_train_state(jax.random.key(0), fb.MLP(features=(cfg.mlp_hidden, 1)), 1, cfg.mlp_lr)
    state, loss = fb.train_step(state, jnp.zeros((8, 1)), jnp.ones((8, 1)))
    assert np.isfinite(float(loss))
    model = tb.tiny_gpt2(cfg.gpt_layers, cfg.gpt_dim, cfg.gpt_heads, 2 * cfg.gpt_seq + 1)
    ids, labels = tb.reversal_batch(torch.Generator().manual_seed(0), 2, cfg.gpt_seq)
    model(input_ids=ids, labels=labels).loss.backward()


# --- the checks themselves: pass the library, fail wrong answers --------------------------------
def _no_reset(rewards, dones, gamma):
    return jb.discounted_returns(rewards, jnp.zeros_like(rewards), gamma)


def _not_causal(q, k, v):
    return F.scaled_dot_product_attention(q, k, v)


def _no_shift(logits, labels):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)


def _sgd_step(state, x, y):
    loss, grads = jax.value_and_grad(fb.mse_loss)(state.params, state.apply_fn, x, y)
    params = jax.tree.map(lambda p, g: p - 1e-2 * g, state.params, grads)
    return state.replace(params=params), loss


@pytest.mark.parametrize(
    "check, right, wrong",
    [
        (checks.check_discounted_returns, jb.discounted_returns, _no_reset),
        (checks.check_pairwise_distances, jb.pairwise_distances, lambda x, y: jnp.sum((x[:, None] - y[None]) ** 2, -1)),
        (checks.check_train_step, fb.train_step, _sgd_step),
        (checks.check_causal_self_attention, tb.causal_self_attention, _not_causal),
        (checks.check_causal_lm_loss, tb.causal_lm_loss, _no_shift),
    ],
    ids=lambda f: getattr(f, "__name__", "?"),
)
def test_checks_pass_right_and_fail_wrong(check, right, wrong, capsys):
    check(right, seed=0)
    assert "PASS" in capsys.readouterr().out
    with pytest.raises(CheckFailed):
        check(wrong, seed=0)
    with pytest.raises(CheckFailed):
        check(lambda *a: np.zeros(3), seed=0)

    def blank(*a):
        raise NotImplementedError("todo")

    with pytest.raises(NotImplementedError):
        check(blank, seed=0)
