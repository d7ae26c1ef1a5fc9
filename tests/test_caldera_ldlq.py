"""LDLQ / BlockLDLQ oracles (spec §2.3, §6.4)."""

import pytest
import torch

from rizzlib.caldera.codebooks import ScalarGrid, get_codebook
from rizzlib.caldera.ldlq import block_ldl, damp_hessian, ldlq, nearest_rounding, proxy_loss
from rizzlib.caldera.reference import gptq, ldlq_direct


def correlated_h(n, seed, outliers=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n, generator=g, dtype=torch.float64) / n**0.5
    x = torch.randn(4 * n, n, generator=g, dtype=torch.float64) @ (torch.eye(n, dtype=torch.float64) + 2 * a)
    if outliers:
        x[:, torch.randperm(n, generator=g)[:outliers]] *= 10
    return damp_hessian(x.T @ x / x.shape[0])


def weights(m, n, seed):
    return torch.randn(m, n, generator=torch.Generator().manual_seed(seed + 100))


@pytest.mark.parametrize("g", [1, 2, 8, 16])
def test_block_ldl_reconstructs_h(g):
    h = correlated_h(32, g)
    l, d = block_ldl(h, g)
    assert torch.allclose(l @ torch.block_diag(*d) @ l.T, h, atol=1e-10)
    for i in range(32 // g):  # unit lower block-triangular
        assert torch.allclose(l[i * g : (i + 1) * g, i * g : (i + 1) * g], torch.eye(g, dtype=torch.float64))
        assert not l[i * g : (i + 1) * g, (i + 1) * g :].any()


@pytest.mark.parametrize("bits,kind", [(2, "lattice"), (4, "lattice"), (2, "scalar")])
def test_identity_hessian_gives_nearest_rounding(bits, kind):
    cb = get_codebook(bits, kind)
    w = weights(16, 64, bits)
    h = torch.eye(64, dtype=torch.float64)
    a, b = ldlq(w, h, cb), nearest_rounding(w, cb)
    assert torch.equal(a.codes, b.codes)


@pytest.mark.parametrize("seed", range(3))
def test_scalar_g1_ldlq_is_gptq_on_reversed_columns(seed):
    cb = ScalarGrid(2)
    w, h = weights(12, 32, seed), correlated_h(32, seed)
    res = ldlq(w, h, cb, g=1, buffer=8)
    rev = torch.arange(31, -1, -1)
    ref = gptq(w[:, rev], h[rev][:, rev], cb, res.scale)[:, rev]
    assert torch.allclose(res.w_hat, ref, atol=1e-5)


@pytest.mark.parametrize("buffer", [8, 24, 64])
def test_lazy_buffer_equals_direct_formula(buffer):
    cb = get_codebook(2)
    w, h = weights(8, 64, 1), correlated_h(64, 1, outliers=3)
    res = ldlq(w, h, cb, g=8, buffer=buffer)
    assert torch.allclose(res.w_hat, ldlq_direct(w, h, cb, 8, res.scale), atol=1e-5)


@pytest.mark.parametrize("seed", range(4))
def test_loss_identity_sum_of_eta_d_eta(seed):
    cb = get_codebook(2)
    w, h = weights(16, 64, seed), correlated_h(64, seed)
    res = ldlq(w, h, cb)
    _, d = block_ldl(h, 8)
    eta = res.eta.double()
    ident = sum(float(torch.trace(eta[:, 8 * k : 8 * k + 8] @ d[k] @ eta[:, 8 * k : 8 * k + 8].T)) for k in range(8))
    loss = proxy_loss(w / res.scale, res.w_hat / res.scale, h)
    assert abs(ident - loss) <= 1e-5 * loss


@pytest.mark.parametrize("kind,g", [("lattice", 8), ("scalar", 1)])
def test_ldlq_beats_nearest_rounding_on_average(kind, g):
    cb = get_codebook(2, kind)
    ratios = []
    for seed in range(50):
        w, h = weights(8, 32, seed), correlated_h(32, seed, outliers=2)
        a = ldlq(w, h, cb, g=g)
        b = nearest_rounding(w, cb, scale=a.scale)
        ratios.append(proxy_loss(w, a.w_hat, h) / proxy_loss(w, b.w_hat, h))
    assert sum(ratios) / len(ratios) < 0.9


@pytest.mark.parametrize("kind,g", [("lattice", 8), ("scalar", 1)])
def test_ldlq_beats_nearest_rounding_on_every_seed_after_the_rht(kind, g):
    """Per instance, after the randomized Hadamard transform (as CALDERA runs it). Without the RHT the
    outlier channels push LDLQ's fed-back targets past E8P's bounded support and E8P-LDLQ loses to
    nearest rounding on about a third of these seeds (the test above only holds on average)."""
    from rizzlib.caldera.hadamard import random_signs, rht_hessian, rht_weight

    cb = get_codebook(2, kind)
    for seed in range(20):
        w, h = weights(8, 32, seed), correlated_h(32, seed, outliers=2)
        gen = torch.Generator().manual_seed(seed)
        su, sv = random_signs(32, gen).double(), random_signs(8, gen).double()
        wt, ht = rht_weight(w.double(), su, sv).float(), rht_hessian(h, su)
        ht = (ht + ht.T) / 2
        a = ldlq(wt, ht, cb, g=g)
        b = nearest_rounding(wt, cb, scale=a.scale)
        assert proxy_loss(wt, a.w_hat, ht) < proxy_loss(wt, b.w_hat, ht), seed


def test_greedy_tuning_does_not_increase_loss_on_average():
    cb = get_codebook(2)
    before, after = 0.0, 0.0
    for seed in range(12):
        w, h = weights(8, 64, seed), correlated_h(64, seed, outliers=2)
        before += proxy_loss(w, ldlq(w, h, cb).w_hat, h)
        after += proxy_loss(w, ldlq(w, h, cb, tune_iters=3).w_hat, h)
    assert after <= before


def test_codes_decode_to_w_hat():
    from rizzlib.caldera.ldlq import decode_codes

    for bits in (2, 3, 4):
        cb = get_codebook(bits)
        w, h = weights(8, 32, bits), correlated_h(32, bits)
        res = ldlq(w, h, cb, tune_iters=1)
        assert torch.allclose(decode_codes(res.codes, cb, res.scale), res.w_hat, atol=1e-5)


def test_bad_input_is_a_clear_error():
    cb = get_codebook(2)
    w = weights(4, 16, 0)
    h = torch.eye(16, dtype=torch.float64)
    with pytest.raises(ValueError, match="symmetric"):
        ldlq(w, h + torch.triu(torch.ones(16, 16, dtype=torch.float64), 1), cb)
    with pytest.raises(ValueError, match="positive semi-definite"):
        damp_hessian(torch.diag(torch.tensor([1.0] * 15 + [-5.0], dtype=torch.float64)))
    with pytest.raises(ValueError, match="finite"):
        ldlq(torch.full((4, 16), float("inf")), h, cb)
    with pytest.raises(ValueError, match=r"\(16, 16\)"):
        ldlq(w, torch.eye(8), cb)
    with pytest.raises(ValueError, match="g must"):
        ldlq(w, h, cb, g=4)
    with pytest.raises(ValueError, match="positive definite"):
        block_ldl(torch.zeros(8, 8, dtype=torch.float64), 8)
