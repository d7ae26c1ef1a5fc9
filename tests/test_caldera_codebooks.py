"""E8P, its residual variants and scalar grids (spec §2.5-2.6, §6.2)."""

import collections

import pytest
import torch

from rizzlib.caldera.codebooks import (
    E8PRVQ,
    ScalarGrid,
    e8_one_bit_codebook,
    e8p_decode_fields,
    e8p_encode,
    e8p_encode_brute,
    e8p_encode_scored,
    e8p_parity,
    e8p_source_set,
    e8p_table,
    get_codebook,
    quantize_matrix,
    quantize_rows,
)
from rizzlib.caldera.lattice import nearest_e8


def gaussian(n, seed=0):
    return torch.randn(n, 8, generator=torch.Generator().manual_seed(seed))


def test_source_set_and_parity():
    s = e8p_source_set()
    assert s.shape == (256, 8)
    hist = collections.Counter(s.square().sum(1).tolist())
    assert hist == {2.0: 1, 4.0: 8, 6.0: 28, 8.0: 64, 10.0: 126, 12.0: 29}
    assert len({tuple(v) for v in s.tolist()}) == 256
    assert int(e8p_parity().sum()) == 149


def test_codebook_size_distinct_lattice_and_norms():
    t = e8p_table()
    assert t.shape == (65536, 8)
    assert torch.unique(t, dim=0).shape[0] == 65536
    # C - 1/4 lies in E8 (and C + 1/4 too, since 1/2 * 1 is in E8)
    assert torch.equal(nearest_e8(t - 0.25), t - 0.25)
    assert torch.equal(nearest_e8(t + 0.25), t + 0.25)
    n2 = t.double().square().sum(1)
    assert float(n2.mean()) == 9.5703125 and float(n2.max()) == 16.5
    # parity rule: #negative signs of s*a (before the shift) has the pattern's parity
    c = torch.arange(65536)
    base = t - torch.where(((c >> 15) & 1) == 1, -0.25, 0.25)[:, None]
    negs = (base < 0).long().sum(1) % 2
    assert torch.equal(negs, e8p_parity()[c & 0xFF])


def test_encode_decode_round_trip_all_codes():
    t = e8p_table()
    assert torch.equal(e8p_encode(t), torch.arange(65536))
    assert torch.equal(e8p_decode_fields(torch.arange(65536)), t)


@pytest.mark.parametrize("scale", [0.5, 1.03, 2.0, 4.0])
def test_fast_encoders_equal_brute_force(scale):
    x = gaussian(3000, seed=int(scale * 10)) * scale
    brute = e8p_encode_brute(x)
    t = e8p_table()
    d_brute = (t[brute] - x).square().sum(1)
    for enc in (e8p_encode, e8p_encode_scored):
        d = (t[enc(x)] - x).square().sum(1)
        assert torch.allclose(d, d_brute, atol=1e-5)


def test_gaussian_mse_and_rvq_ordering():
    x = gaussian(40000, seed=1)
    mse = {}
    for bits in (2, 3, 4):
        cb = get_codebook(bits)
        xh, _ = cb.quantize(x * cb.opt_scale)
        mse[bits] = float((xh / cb.opt_scale - x).square().mean())
    assert 0.090 <= mse[2] <= 0.094
    assert mse[4] < mse[3] < mse[2]
    sc = ScalarGrid(2)
    xh, _ = sc.quantize((x * sc.opt_scale).reshape(-1, 1))
    assert float((xh.reshape(x.shape) / sc.opt_scale - x).square().mean()) > mse[2] + 0.02


def test_bits_per_weight_of_each_stage():
    for bits, stages in ((2, 1), (3, 2), (4, 2)):
        cb = get_codebook(bits)
        assert cb.bits == bits and cb.stages == stages
    # 16 bits per 8 weights per E8P stage, 8 bits for the 1-bit second stage of RVQ3
    assert e8_one_bit_codebook().shape == (256, 8)
    assert 16 + 16 == 4 * 8 and 16 + 8 == 3 * 8


def test_one_bit_codebook_contents():
    c = e8_one_bit_codebook()
    assert torch.equal(c[0], torch.zeros(8))
    assert torch.unique(c, dim=0).shape[0] == 256
    assert torch.equal(nearest_e8(c), c)
    minus_last = torch.zeros(8)
    minus_last[7] = -2
    assert not (c == minus_last).all(1).any()


def test_rvq_decode_equals_quantize_output():
    # the reference repo's 3-bit decompress used an undefined residual scale: ours decodes exactly
    x = gaussian(2000, seed=2)
    for bits in (3, 4):
        cb = get_codebook(bits)
        xh, codes = cb.quantize(x * cb.opt_scale)
        assert torch.equal(cb.decode(codes), xh)
        assert codes.shape == (2000, 2) and not torch.equal(codes[:, 0], codes[:, 1])


def test_residual_scale_is_the_codebooks_constant_not_a_leaked_default():
    # the reference repo passed a 0.9 "resid_scale_override" into RVQ; ours uses 3.45 / 2.04
    assert E8PRVQ(4).resid_scale == 3.45 and E8PRVQ(3).resid_scale == 2.04
    x = gaussian(4000, seed=3) * 1.03
    cb = E8PRVQ(4)
    _, codes = cb.quantize(x)
    wrong = e8p_table()[codes[:, 0]] + e8p_table()[codes[:, 1]] / 0.9
    right = cb.decode(codes)
    assert float((right - x).square().mean()) < 0.2 * float((wrong - x).square().mean())


def test_scalar_grid_is_round_to_nearest():
    for bits in (1, 2, 3, 4):
        sc = ScalarGrid(bits)
        levels = torch.arange(2**bits).float() - (2**bits - 1) / 2
        x = torch.linspace(-10, 10, 2001)[:, None]
        xh, codes = sc.quantize(x)
        brute = levels[(x - levels[None]).abs().argmin(1)][:, None]
        assert torch.allclose((xh - x).abs(), (brute - x).abs())
        assert torch.equal(sc.decode(codes), xh)


def test_quantize_matrix_scales_back():
    m = torch.randn(16, 64, generator=torch.Generator().manual_seed(4)) * 7
    mh, codes, scale = quantize_matrix(m, get_codebook(4))
    assert codes.shape == (16, 8, 2)
    assert float((mh - m).square().mean() / m.square().mean()) < 0.02


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="bits must be 2, 3 or 4"):
        get_codebook(5)
    with pytest.raises(ValueError, match="kind"):
        get_codebook(2, "nf")
    with pytest.raises(ValueError, match="bits"):
        ScalarGrid(0)
    with pytest.raises(ValueError, match="multiple of 8"):
        quantize_rows(torch.zeros(2, 12), get_codebook(2))


def test_d8_ball_contents_against_brute_force_enumeration():
    from rizzlib.caldera.codebooks import d8_ball

    t = d8_ball()
    def ball(prefix, left):  # integer 8-vectors of norm^2 <= 12, by recursion with pruning
        if len(prefix) == 8:
            yield prefix
            return
        for v in range(-3, 4):
            if v * v <= left:
                yield from ball(prefix + (v,), left - v * v)

    pts = [p for p in ball((), 12) if sum(p) % 2 == 0]
    assert t.shape == (len(pts), 8) == (59633, 8) and len(pts) < 2**16
    assert torch.unique(t, dim=0).shape[0] == 59633
    assert {tuple(int(v) for v in row) for row in t} == set(pts)
    n2 = t.square().sum(1)
    assert bool((n2[1:] >= n2[:-1]).all()) and torch.equal(t[0], torch.zeros(8))
    # shell sizes of D8: 1, 112, 1136, 3136, 9328, 14112, 31808 (norm^2 0, 2, ..., 12)
    assert [int((n2 == r).sum()) for r in range(0, 14, 2)] == [1, 112, 1136, 3136, 9328, 14112, 31808]


@pytest.mark.parametrize("scale", [0.5, 1.111, 2.0])
def test_d8_ball_encoder_equals_brute_force(scale):
    from rizzlib.caldera.codebooks import D8Ball, _nearest_rows, d8_ball

    x = gaussian(1500, seed=int(scale * 100)) * scale
    cb = D8Ball()
    xh, codes = cb.quantize(x)
    brute = d8_ball()[_nearest_rows(x, d8_ball(), chunk=256)]
    assert torch.allclose((xh - x).square().sum(1), (brute - x).square().sum(1), atol=1e-5)
    assert torch.equal(cb.decode(codes), xh) and codes.shape == (1500, 1)


def test_d8_ball_scale_is_a_minimum_and_e8p_beats_d8_at_two_bits():
    from rizzlib.caldera.codebooks import D8_BALL_SCALE, D8Ball

    x = gaussian(8000, seed=7)
    cb = D8Ball()

    def mse(s):
        return float((cb.quantize(x * s)[0] / s - x).square().mean())

    best = mse(D8_BALL_SCALE)
    assert best < mse(0.97 * D8_BALL_SCALE) and best < mse(1.03 * D8_BALL_SCALE)
    e8p = get_codebook(2)
    e8p_mse = float((e8p.quantize(x * e8p.opt_scale)[0] / e8p.opt_scale - x).square().mean())
    assert e8p_mse < best - 0.003 and 0.094 < best < 0.1


@pytest.mark.slow
def test_d8_ball_scale_constant_is_the_golden_section_optimum():
    from rizzlib.caldera.codebooks import D8_BALL_SCALE, d8_ball_scale

    assert abs(d8_ball_scale() - D8_BALL_SCALE) < 2e-3
