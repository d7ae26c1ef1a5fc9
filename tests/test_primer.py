"""Chapter 0 building blocks against closed forms and framework references; the graded checks
must pass the library and fail wrong answers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rizzlib.core.grading import CheckFailed, assert_check_grades
from rizzlib.primer import PRESETS, checks
from rizzlib.primer import flax_basics as fb
from rizzlib.primer import jax_basics as jb
from rizzlib.primer import torch_basics as tb

pytestmark = pytest.mark.usefixtures("torch_one_thread")


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


# --- the checks themselves: an independent right answer passes and plausible wrong answers fail,
# each on every one of 20 seeds (fixed edge cases run first, so the verdict never flips) ---------
SEEDS = range(20)


def returns_loop(rewards, dones, gamma):
    """Right: a plain backwards loop in numpy (independent of the library's lax.scan)."""
    r, d = np.asarray(rewards, np.float64), np.asarray(dones, np.float64)
    out, acc = np.zeros_like(r), np.zeros_like(r[0])
    for t in range(r.shape[0] - 1, -1, -1):
        acc = r[t] + gamma * (1.0 - d[t]) * acc
        out[t] = acc
    return out


def returns_no_reset(rewards, dones, gamma):
    return returns_loop(rewards, np.zeros_like(np.asarray(dones)), gamma)


def returns_reset_one_step_late(rewards, dones, gamma):
    """Cuts the bootstrap at the step after the done (uses done_{t+1})."""
    r, d = np.asarray(rewards, np.float64), np.asarray(dones, np.float64)
    out, acc = np.zeros_like(r), np.zeros_like(r[0])
    for t in range(r.shape[0] - 1, -1, -1):
        nxt = d[t + 1] if t + 1 < r.shape[0] else np.zeros_like(d[0])
        acc = r[t] + gamma * (1.0 - nxt) * acc
        out[t] = acc
    return out


def returns_forward(rewards, dones, gamma):
    """Scans forwards in time: G_t = r_t + gamma G_{t-1}."""
    r, d = np.asarray(rewards, np.float64), np.asarray(dones, np.float64)
    out, acc = np.zeros_like(r), np.zeros_like(r[0])
    for t in range(r.shape[0]):
        acc = r[t] + gamma * acc
        out[t] = acc
        acc = acc * (1.0 - d[t])
    return out


def returns_discounts_the_reward(rewards, dones, gamma):
    """G_t = gamma r_t + gamma (1 - d_t) G_{t+1}: discounts the current reward too."""
    return gamma * returns_loop(rewards, dones, gamma)


def distances_broadcast(x, y):
    """Right: numpy broadcasting."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1))


def distances_squared(x, y):
    return jnp.sum((x[:, None] - y[None]) ** 2, -1)


def distances_squeezed(x, y):
    """Squeezes the result: a single row or column loses its axis."""
    return jnp.squeeze(jnp.sqrt(jnp.sum((x[:, None] - y[None]) ** 2, -1)))


def distances_expanded_unclamped(x, y):
    """|x|^2 + |y|^2 - 2 x.y without clamping: rounding leaves small non-zero (or NaN) distances
    between identical points."""
    sq = jnp.sum(x**2, 1)[:, None] + jnp.sum(y**2, 1)[None, :] - 2 * x @ y.T
    return jnp.sqrt(sq)


def distances_transposed(x, y):
    return distances_broadcast(y, x)


def distances_l1(x, y):
    return jnp.sum(jnp.abs(x[:, None] - y[None]), -1)


def step_by_hand(state, x, y):
    """Right: optax by hand (grad, tx.update, apply_updates) and a new TrainState via replace."""
    import optax

    def loss_fn(p):
        return jnp.mean((state.apply_fn({"params": p}, x) - y) ** 2)

    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
    return state.replace(params=optax.apply_updates(state.params, updates), opt_state=opt_state, step=state.step + 1), loss


def step_sgd(state, x, y):
    loss, grads = jax.value_and_grad(fb.mse_loss)(state.params, state.apply_fn, x, y)
    params = jax.tree.map(lambda p, g: p - 1e-2 * g, state.params, grads)
    return state.replace(params=params, step=state.step + 1), loss


def step_forgets_opt_state(state, x, y):
    """Updates the parameters with Adam but keeps the old optimiser state."""
    import optax

    loss, grads = jax.value_and_grad(fb.mse_loss)(state.params, state.apply_fn, x, y)
    updates, _ = state.tx.update(grads, state.opt_state, state.params)
    return state.replace(params=optax.apply_updates(state.params, updates), step=state.step + 1), loss


def step_grad_of_sum(state, x, y):
    """Differentiates the summed squared error but reports the mean (Adam nearly hides the scale)."""

    def total(p):
        return jnp.sum((state.apply_fn({"params": p}, x) - y) ** 2)

    grads = jax.grad(total)(state.params)
    return state.apply_gradients(grads=grads), fb.mse_loss(state.params, state.apply_fn, x, y)


def step_loss_after_update(state, x, y):
    new = fb.train_step(state, x, y)[0]
    return new, fb.mse_loss(new.params, new.apply_fn, x, y)


def step_no_count(state, x, y):
    """Adam step, but the step counter is never advanced."""
    new, loss = fb.train_step(state, x, y)
    return new.replace(step=state.step), loss


def attention_loop(q, k, v):
    """Right: one query at a time, softmax over the visible keys only."""
    out = torch.empty_like(q)
    T, d = q.shape[-2], q.shape[-1]
    for t in range(T):
        s = (q[..., t : t + 1, :] @ k[..., : t + 1, :].transpose(-2, -1)).double() / d**0.5
        out[..., t : t + 1, :] = (torch.softmax(s, -1) @ v[..., : t + 1, :].double()).float()
    return out


def attention_not_causal(q, k, v):
    return F.scaled_dot_product_attention(q, k, v)


def attention_scaled_by_d(q, k, v):
    s = q @ k.transpose(-2, -1) / q.shape[-1]
    mask = torch.ones(s.shape[-2:], dtype=torch.bool).triu(1)
    return s.masked_fill(mask, float("-inf")).softmax(-1) @ v


def attention_mask_after_softmax(q, k, v):
    """Zeroes the future weights after the softmax, without renormalising."""
    w = (q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5).softmax(-1)
    return w.tril() @ v


def attention_naive_exp(q, k, v):
    """exp without subtracting the maximum: overflows on large scores."""
    s = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    e = torch.exp(s) * torch.ones(s.shape[-2:]).tril()
    return (e / e.sum(-1, keepdim=True)) @ v


def lm_loss_by_hand(logits, labels):
    """Right: log-softmax and a gather, masked mean over the scored positions."""
    lp = torch.log_softmax(logits[:, :-1].double(), -1)
    tgt = labels[:, 1:]
    keep = tgt != -100
    picked = lp.gather(-1, tgt.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return -(picked * keep).sum() / keep.sum()


def lm_loss_no_shift(logits, labels):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)


def lm_loss_shift_wrong_way(logits, labels):
    return F.cross_entropy(logits[:, 1:].reshape(-1, logits.shape[-1]), labels[:, :-1].reshape(-1), ignore_index=-100)


def lm_loss_row_mean(logits, labels):
    per = F.cross_entropy(logits[:, :-1].transpose(1, 2), labels[:, 1:], ignore_index=-100, reduction="none")
    keep = labels[:, 1:] != -100
    return ((per * keep).sum(1) / keep.sum(1).clamp(min=1)).mean()


def lm_loss_ignores_nothing(logits, labels):
    """Scores the -100 positions as token 0."""
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].clamp(min=0).reshape(-1))


def _constant(*a):
    return np.zeros(3)


CHECKS = [
    (checks.check_discounted_returns, returns_loop,
     [returns_no_reset, returns_reset_one_step_late, returns_forward, returns_discounts_the_reward, _constant]),
    (checks.check_pairwise_distances, distances_broadcast,
     [distances_squared, distances_squeezed, distances_expanded_unclamped, distances_transposed, distances_l1]),
    # jitted (as a student may): eager flax steps compile every operation and would slow the suite
    (checks.check_train_step, jax.jit(step_by_hand),
     [jax.jit(f) for f in (step_sgd, step_forgets_opt_state, step_grad_of_sum, step_loss_after_update, step_no_count)]),
    (checks.check_causal_self_attention, attention_loop,
     [attention_not_causal, attention_scaled_by_d, attention_mask_after_softmax, attention_naive_exp]),
    (checks.check_causal_lm_loss, lm_loss_by_hand,
     [lm_loss_no_shift, lm_loss_shift_wrong_way, lm_loss_row_mean, lm_loss_ignores_nothing]),
]
IDS = [c[0].__name__ for c in CHECKS]


LIBRARY = {checks.check_discounted_returns: jb.discounted_returns, checks.check_pairwise_distances: jb.pairwise_distances,
           checks.check_train_step: fb.train_step, checks.check_causal_self_attention: tb.causal_self_attention,
           checks.check_causal_lm_loss: tb.causal_lm_loss}


@pytest.mark.parametrize("check, right, wrongs", CHECKS, ids=IDS)
def test_check_grades_right_and_wrong_answers_on_20_seeds(check, right, wrongs, capsys):
    assert_check_grades(check, [right], wrongs, seeds=SEEDS)
    check(LIBRARY[check], seed=0)
    out = capsys.readouterr().out
    assert out.startswith("PASS") and "edge cases" in out
    with pytest.raises(CheckFailed, match="reproduce: check_"):
        check(wrongs[0], seed=0)


@pytest.mark.parametrize("check, right, wrongs", CHECKS, ids=IDS)
def test_check_propagates_the_blank(check, right, wrongs):
    def blank(*a):
        raise NotImplementedError("todo")

    with pytest.raises(NotImplementedError):
        check(blank, seed=0)
