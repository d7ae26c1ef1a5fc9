"""Hadamard transforms (spec §2.2, §6.3): orthogonality, fast == dense, exact inverses, invariance."""

import math

import pytest
import torch

from rizzlib.caldera.hadamard import (
    fwht,
    hadamard_matrix,
    hadamard_plan,
    hadamard_transform,
    paley_hadamard,
    random_signs,
    rht_hessian,
    rht_input,
    rht_weight,
    unrht_output,
    unrht_weight,
)
from rizzlib.caldera.reference import fwht_dense

POW2 = [2**p for p in range(0, 12)]
MIXED = [12 * 16, 20 * 8, 28 * 32, 36 * 16, 44 * 16, 60 * 16, 76 * 8, 24, 3 * 64, 7, 21]
LARGE = [4096, 44 * 128, 76 * 64]


@pytest.mark.parametrize("n", POW2 + [8192])  # every split into GEMM factors of <= 16, plus one remainder
def test_fwht_equals_dense_and_is_involution(n):
    x = torch.randn(2, 3, n, generator=torch.Generator().manual_seed(n), dtype=torch.float64)
    assert torch.allclose(fwht(x), fwht_dense(x), atol=1e-10)
    assert torch.allclose(fwht(fwht(x)), x, atol=1e-10)


@pytest.mark.parametrize("n", POW2 + MIXED)
def test_transform_is_orthogonal_and_matches_dense(n):
    t = hadamard_matrix(n)
    assert torch.allclose(t @ t.T, torch.eye(n, dtype=torch.float64), atol=1e-5)
    x = torch.randn(3, n, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert torch.allclose(hadamard_transform(x), x @ t.T, atol=1e-8)
    assert torch.allclose(hadamard_transform(x, transpose=True), x @ t, atol=1e-8)
    assert torch.allclose(hadamard_transform(hadamard_transform(x), transpose=True), x, atol=1e-8)


@pytest.mark.parametrize("n", LARGE)
def test_large_transforms_preserve_norms_and_invert(n):
    x = torch.randn(4, n, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    y = hadamard_transform(x)
    assert torch.allclose(y.norm(dim=1), x.norm(dim=1), rtol=1e-10)
    assert torch.allclose(y @ y.T, x @ x.T, atol=1e-8)
    assert torch.allclose(hadamard_transform(y, transpose=True), x, atol=1e-10)


def test_plans_pick_paley_where_the_spec_says():
    assert hadamard_plan(5632)[:3] == (44, 128, "paley-I")  # TinyLlama FFN
    assert hadamard_plan(576)[:3] == (36, 16, "paley-II")  # SmolLM2-135M
    assert hadamard_plan(896)[:3] == (28, 32, "paley-II")  # Qwen2.5-0.5B
    assert hadamard_plan(4864)[:3] == (76, 64, "paley-II")
    assert hadamard_plan(4096)[2] == "sylvester"
    # quip-sharp #12's 5460 has no stored matrix there, but 5460 = 2 (2729 + 1) is a Paley II order
    assert hadamard_plan(5460)[:3] == (5460, 1, "paley-II")
    assert hadamard_plan(21)[:3] == (21, 1, "random")  # no construction: seeded orthogonal block
    assert hadamard_plan(7 * 64)[:3] == (28, 16, "paley-II")


@pytest.mark.parametrize("k", [12, 20, 28, 36, 44, 60, 68, 76, 84, 104, 108, 132, 140])
def test_paley_matrices_are_hadamard(k):
    h = paley_hadamard(k)
    assert set(torch.unique(h).tolist()) == {-1.0, 1.0}
    assert torch.equal(h @ h.T, k * torch.eye(k, dtype=torch.float64))


@pytest.mark.parametrize("m,n", [(64, 128), (192, 96), (44 * 4, 36 * 2), (40, 24)])
def test_rht_is_exactly_undone_and_preserves_the_proxy(m, n):
    g = torch.Generator().manual_seed(m + n)
    w = torch.randn(m, n, generator=g, dtype=torch.float64)
    x = torch.randn(4 * n, n, generator=g, dtype=torch.float64)
    h = x.T @ x / x.shape[0]
    su, sv = random_signs(n, g).double(), random_signs(m, g).double()
    wt, ht = rht_weight(w, su, sv), rht_hessian(h, su)
    assert torch.allclose(unrht_weight(wt, su, sv), w, atol=1e-10)
    assert math.isclose(float(torch.trace(wt @ ht @ wt.T)), float(torch.trace(w @ h @ w.T)), rel_tol=1e-10)
    # inference path: y = S_V * T_m^T (W~ x~) equals W x
    xin = torch.randn(7, n, generator=g, dtype=torch.float64)
    y = unrht_output(rht_input(xin, su) @ wt.T, sv)
    assert torch.allclose(y, xin @ w.T, atol=1e-10)


def test_rht_spreads_an_outlier():
    w = torch.zeros(64, 256, dtype=torch.float64)
    w[3, 17] = 100.0
    g = torch.Generator().manual_seed(0)
    wt = rht_weight(w, random_signs(256, g).double(), random_signs(64, g).double())
    assert float(wt.abs().max()) < 100.0 / 100  # spread over 64 * 256 entries: |entry| = 100/128


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="power of two"):
        fwht(torch.zeros(3, 12))
    with pytest.raises(ValueError, match="k must be"):
        paley_hadamard(16)
    with pytest.raises(ValueError, match="n must be"):
        hadamard_plan(0)
