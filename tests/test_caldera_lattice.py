"""E8 / D8 oracles (spec §6.1): roots, nearest point against brute force, normalized second moment."""

import itertools

import pytest
import torch

from rizzlib.caldera.lattice import brute_force_nearest, e8_roots, nearest_d8, nearest_e8
from rizzlib.caldera.reference import nearest_d8_loop


def test_e8_roots_are_the_240_minimal_vectors():
    r = e8_roots()
    assert r.shape == (240, 8)
    assert torch.allclose(r.square().sum(1), torch.full((240,), 2.0))
    assert len({tuple(v) for v in r.tolist()}) == 240
    integer = (r == r.round()).all(1)
    assert int(integer.sum()) == 112 and int((~integer).sum()) == 128
    gram = r @ r.T
    assert set(torch.unique(gram).tolist()) <= {-2.0, -1.0, 0.0, 1.0, 2.0}
    # every root is a lattice point and its own nearest point
    assert torch.equal(nearest_e8(r), r)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("lattice", ["d8", "e8"])
def test_nearest_point_equals_brute_force(seed, lattice):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(400, 8, generator=g, dtype=torch.float64) * 2.5
    ours = (nearest_d8 if lattice == "d8" else nearest_e8)(x)
    ref = torch.cat([brute_force_nearest(x[i : i + 100], lattice) for i in range(0, 400, 100)])
    d_ours = (x - ours).square().sum(1)
    d_ref = (x - ref).square().sum(1)
    assert torch.allclose(d_ours, d_ref, atol=1e-12)
    assert ((ours.sum(1) % 2) == 0).all()


def test_nearest_d8_matches_loop_twin():
    x = torch.randn(300, 8, generator=torch.Generator().manual_seed(5), dtype=torch.float64) * 3
    assert torch.equal(nearest_d8(x), nearest_d8_loop(x))


def test_e8_normalized_second_moment():
    # uniform input over a big cube: per-dimension MSE -> G(E8) = 0.0717 (Z gives 1/12)
    x = torch.rand(200_000, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 10
    mse = float((x - nearest_e8(x)).square().mean())
    assert abs(mse - 0.0717) < 0.002
    assert abs(float((x - x.round()).square().mean()) - 1 / 12) < 0.002


def test_covering_radius_and_packing():
    # deep holes of E8 are at distance 1: the point (1, 0^7) is at distance 1 from every nearest point
    x = torch.tensor([[1.0, 0, 0, 0, 0, 0, 0, 0]], dtype=torch.float64)
    assert float((x - nearest_e8(x)).square().sum()) == pytest.approx(1.0)
    # half the minimal distance is the packing radius 1/sqrt(2)
    r = e8_roots().double()
    d = min(float((a - b).square().sum()) for a, b in itertools.islice(itertools.combinations(r, 2), 3000))
    assert d >= 2.0 - 1e-12


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="x.shape"):
        nearest_e8(torch.zeros(3, 7))
    with pytest.raises(ValueError, match="finite"):
        nearest_d8(torch.full((1, 8), float("nan")))
    with pytest.raises(ValueError, match="lattice"):
        brute_force_nearest(torch.zeros(1, 8), "a8")
