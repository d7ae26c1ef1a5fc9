"""Codebooks for LDLQ and for L/R: QuIP#'s 2-bit E8P, its 3- and 4-bit residual variants, scalar grids;
and, for comparison only, a 2-bit ball of the plain D8 lattice.

Every codebook quantizes vectors of ``dim`` entries (8 for lattices, 1 for scalar grids) that were
scaled so their RMS is ``opt_scale``; ``quantize(x) -> (x_hat, codes)`` and ``decode(codes)``.
Codes are int64 tensors of shape (N, stages); ``bits`` is bits per weight.

E8P (spec §2.5): 256 absolute patterns S (227 from the half-integer D8^ shell of norm^2 <= 10, 29
norm^2-12 pads), 7 free sign bits (the 8th is fixed by parity) and a +-1/4 shift: 2^16 codes. Our
16-bit code: bits 0-7 pattern index, bits 8-14 minus-sign flags of coordinates 0-6, bit 15 shift
(0: +1/4, 1: -1/4); coordinate 7 is negative iff popcount(bits 8-14) + parity(a) is odd.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import torch

from rizzlib.caldera.lattice import e8_roots
from rizzlib.core.validate import check_choice, check_int_range

# positions of the three 1/2 entries of the 29 norm^2-12 padding patterns, in QuIP#'s order
_PAD_HALVES = (
    (1, 2, 3), (0, 2, 3), (0, 1, 3), (0, 1, 2), (3, 6, 7), (3, 5, 7), (3, 4, 7), (3, 5, 6), (3, 4, 6), (3, 4, 5),
    (2, 6, 7), (2, 5, 7), (2, 4, 7), (2, 5, 6), (2, 4, 6), (2, 4, 5), (1, 6, 7), (1, 5, 7), (1, 4, 7), (1, 5, 6),
    (1, 4, 6), (0, 4, 5), (0, 6, 7), (0, 5, 7), (0, 4, 7), (0, 5, 6), (0, 4, 6), (0, 1, 4), (2, 3, 7),
)  # fmt: skip

E8P_SCALE = 1.03  # input RMS for 2-bit E8P (QuIP#'s opt_scale)
RVQ4_SCALES = (1.03, 3.45)  # first-stage RMS, residual scale (E8P12RVQ4B)
RVQ3_SCALES = (0.98, 2.04)  # first-stage RMS, residual scale (E8P12RVQ3B)
D8_BALL_SCALE = 1.111  # input RMS for the 2-bit D8 ball: d8_ball_scale() (a test checks it)


@lru_cache(maxsize=1)
def e8p_source_set() -> torch.Tensor:
    """The 256 absolute patterns S, shape (256, 8) float32: 227 sorted ones, then the 29 pads."""
    halves = (0.5, 1.5, 2.5)
    base = sorted(v for v in itertools.product(halves, repeat=8) if sum(a * a for a in v) <= 10)
    pads = []
    for pos in _PAD_HALVES:
        pads.append(tuple(0.5 if i in pos else 1.5 for i in range(8)))
    return torch.tensor(base + pads, dtype=torch.float32)


@lru_cache(maxsize=1)
def e8p_parity() -> torch.Tensor:
    """p(a) = sum(a) mod 2 for each pattern (int64, shape (256,))."""
    return (e8p_source_set().sum(1).round().long()) % 2


def e8p_decode_fields(codes: torch.Tensor) -> torch.Tensor:
    """Table-free decode of 16-bit E8P codes (any int shape) -> (..., 8) float32."""
    c = codes.long() & 0xFFFF
    a = e8p_source_set()[c & 0xFF]
    flags = (c[..., None] >> torch.arange(8, 15)) & 1  # (..., 7)
    last = (flags.sum(-1) + e8p_parity()[c & 0xFF]) % 2
    neg = torch.cat((flags, last[..., None]), -1)
    shift = torch.where(((c >> 15) & 1) == 1, -0.25, 0.25)
    return a * (1 - 2 * neg).float() + shift[..., None]


@lru_cache(maxsize=1)
def e8p_table() -> torch.Tensor:
    """The full 65,536 x 8 codebook (float32), row i = decode of code i."""
    return e8p_decode_fields(torch.arange(65536))


@lru_cache(maxsize=1)
def _pattern_lookup() -> torch.Tensor:
    """Base-3 key of an absolute pattern (entries 1/2, 3/2, 5/2) -> its index in S, or -1."""
    lut = torch.full((3**8,), -1, dtype=torch.long)
    keys = ((e8p_source_set() - 0.5).round().long() * (3 ** torch.arange(8))).sum(1)
    valid = (e8p_source_set() <= 2.5).all(1)
    lut[keys[valid]] = torch.arange(256)[valid]
    return lut


def _point_to_code(p: torch.Tensor, bit: int) -> torch.Tensor:
    """Code of a point p of D^8 with |p|^2 <= 10 (an E8P codeword minus its shift)."""
    key = ((p.abs() - 0.5).round().long().clamp(0, 2) * (3 ** torch.arange(8))).sum(1)
    neg = (p < 0).long()
    return _pattern_lookup()[key] + (neg[:, :7] << torch.arange(8, 15)).sum(1) + (bit << 15)


def e8p_encode(x: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
    """Exact nearest E8P code for each row of x (N, 8) -> int64 codes (N,).

    Fast path: for each shift t, the nearest point of D^8 = D8 + 1/2 to x - t is the answer for that
    shift whenever its norm^2 is <= 10 (every such point is a codeword). Rows where it is not go
    through :func:`e8p_encode_scored` (all 512 candidates scored in closed form, spec §2.5).
    """
    from rizzlib.caldera.lattice import nearest_d8

    x = x.float()
    best_d, best_code, slow = None, None, torch.zeros(x.shape[0], dtype=torch.bool)
    for bit, t in ((0, 0.25), (1, -0.25)):
        y = x - t
        p = nearest_d8(y - 0.5) + 0.5
        far = p.square().sum(1) > 10
        slow |= far
        d = (y - p).square().sum(1)
        code = _point_to_code(torch.where(far[:, None], 0.5, p), bit)
        if best_d is None:
            best_d, best_code = d, code
        else:
            better = d < best_d
            best_d, best_code = torch.where(better, d, best_d), torch.where(better, code, best_code)
    if slow.any():
        best_code[slow] = e8p_encode_scored(x[slow], chunk)
    return best_code


def e8p_encode_scored(x: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
    """Exact nearest E8P code for each row of x (N, 8) -> int64 codes (N,) (spec §2.5's encoder).

    For each shift t and pattern a, the best signs are sign(x - t); if their parity is wrong, flip
    the coordinate with the smallest a_i |y_i|. 512 candidates per vector, scored in closed form.
    """
    s = e8p_source_set().to(x.dtype)
    par = e8p_parity()
    sn2 = s.square().sum(1)
    out = []
    for i in range(0, x.shape[0], chunk):
        xb = x[i : i + chunk]
        best_d, best_code = None, None
        for bit, t in ((0, 0.25), (1, -0.25)):
            y = xb - t
            ay = y.abs()
            neg = y < 0  # ties at 0 count as positive
            score = ay @ s.T  # (B, 256)
            prod = ay[:, None, :] * s[None, :, :]  # (B, 256, 8)
            mval, midx = prod.min(-1)
            npar = neg.long().sum(1) % 2
            wrong = npar[:, None] != par[None, :]
            d = y.square().sum(1, keepdim=True) - 2 * (score - torch.where(wrong, 2 * mval, 0.0)) + sn2[None]
            d_min, a_idx = d.min(1)
            negs = neg[:, None, :].expand(-1, 256, -1).gather(1, a_idx[:, None, None].expand(-1, 1, 8))[:, 0]
            flip_at = midx.gather(1, a_idx[:, None])[:, 0]
            need = wrong.gather(1, a_idx[:, None])[:, 0]
            negs = negs.clone()
            rows = torch.arange(xb.shape[0])
            negs[rows, flip_at] = torch.where(need, ~negs[rows, flip_at], negs[rows, flip_at])
            code = a_idx + (negs[:, :7].long() << torch.arange(8, 15)).sum(1) + (bit << 15)
            if best_d is None:
                best_d, best_code = d_min, code
            else:
                better = d_min < best_d
                best_d = torch.where(better, d_min, best_d)
                best_code = torch.where(better, code, best_code)
        out.append(best_code)
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def e8p_encode_brute(x: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Oracle: argmax over all 65,536 codewords of 2 x.c - |c|^2. x (N, 8) -> codes (N,)."""
    t = e8p_table().to(x.dtype)
    n2 = t.square().sum(1)
    return torch.cat([(2 * x[i : i + chunk] @ t.T - n2).argmax(1) for i in range(0, x.shape[0], chunk)])


@lru_cache(maxsize=1)
def e8_one_bit_codebook() -> torch.Tensor:
    """RVQ3's second stage: 0, the 240 roots and 15 of the 16 vectors +-2 e_i (-2 e_7 left out).
    Shape (256, 8) float32."""
    twos = []
    for i in range(8):
        for s in (2.0, -2.0):
            if not (i == 7 and s < 0):
                v = torch.zeros(8)
                v[i] = s
                twos.append(v)
    return torch.cat((torch.zeros(1, 8), e8_roots(), torch.stack(twos)))


def _nearest_rows(x: torch.Tensor, table: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    n2 = table.square().sum(1)
    return torch.cat([(2 * x[i : i + chunk] @ table.T - n2).argmax(1) for i in range(0, x.shape[0], chunk)])


@lru_cache(maxsize=16)
def gaussian_uniform_step(bits: int) -> float:
    """Step of the symmetric uniform 2^bits-level grid (levels at half-integer multiples of the step)
    that minimises the MSE of N(0, 1), found by golden-section search on a fine quadrature."""
    x = torch.linspace(-9, 9, 200001, dtype=torch.float64)
    w = torch.exp(-0.5 * x * x)
    w = w / w.sum()
    top = (2**bits - 1) / 2

    def mse(step: float) -> float:
        q = (torch.clamp(torch.floor(x / step) + 0.5, -top, top)) * step
        return float(((x - q) ** 2 * w).sum())

    lo, hi = 1e-3, 4.0
    g = (math.sqrt(5) - 1) / 2
    for _ in range(80):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        if mse(a) < mse(b):
            hi = b
        else:
            lo = a
    return (lo + hi) / 2


class Codebook:
    """Base class: ``dim`` entries per vector, ``bits`` per weight, ``opt_scale`` input RMS."""

    name: str = ""
    dim: int = 8
    bits: float = 2.0
    opt_scale: float = 1.0
    stages: int = 1

    def quantize(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, dim) -> (x_hat (N, dim), codes (N, stages) int64)."""
        raise NotImplementedError

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (N, stages) -> (N, dim) float32."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


class E8P(Codebook):
    """QuIP#'s 2-bit E8P12 codebook (16 bits per 8 weights)."""

    name, dim, bits, opt_scale = "e8p", 8, 2.0, E8P_SCALE

    def quantize(self, x):
        c = e8p_encode(x.float())
        return e8p_table()[c].to(x.dtype), c[:, None]

    def decode(self, codes):
        return e8p_table()[codes[:, 0]]


class E8PRVQ(Codebook):
    """Residual E8P: 4 bits = E8P + E8P/3.45 (32 bits per 8), 3 bits = E8P + E8-1bit/2.04 (24 bits per 8).

    The residual scale is the codebook's own constant (the reference repo leaked a 0.9 default here).
    """

    dim, stages = 8, 2

    def __init__(self, bits: int):
        check_choice("bits", bits, (3, 4))
        self.bits = float(bits)
        self.name = f"e8p-rvq{bits}"
        self.opt_scale, self.resid_scale = RVQ4_SCALES if bits == 4 else RVQ3_SCALES

    def _second(self) -> torch.Tensor:
        return e8p_table() if self.bits == 4 else e8_one_bit_codebook()

    def quantize(self, x):
        x = x.float()
        c1 = e8p_encode(x)
        q1 = e8p_table()[c1]
        r = (x - q1) * self.resid_scale
        c2 = e8p_encode(r) if self.bits == 4 else _nearest_rows(r, self._second())
        codes = torch.stack((c1, c2), 1)
        return self.decode(codes), codes

    def decode(self, codes):
        return e8p_table()[codes[:, 0]] + self._second()[codes[:, 1]] / self.resid_scale


class ScalarGrid(Codebook):
    """Symmetric uniform round-to-nearest grid with 2^bits levels at (j + 1/2) (half-integers), its
    input RMS set to 1/step so that N(0, 1) data sees the MSE-optimal uniform step."""

    dim, stages = 1, 1

    def __init__(self, bits: int):
        check_int_range("bits", bits, 1, 8)
        self.bits = float(bits)
        self.name = f"scalar{bits}"
        self.top = (2**bits - 1) / 2
        self.opt_scale = 1.0 / gaussian_uniform_step(bits)

    def quantize(self, x):
        idx = torch.clamp(torch.floor(x.float()) + 0.5 + self.top, 0, 2 * self.top).long()
        return self.decode(idx).to(x.dtype), idx

    def decode(self, codes):
        return (codes.float() - self.top).reshape(-1, 1) if codes.dim() == 1 else codes.float() - self.top


@lru_cache(maxsize=1)
def d8_ball() -> torch.Tensor:
    """The 59,633 points of D8 (integer vectors with an even sum) with norm^2 <= 12: the largest ball of
    whole D8 shells that a 16-bit code can index (adding the norm^2-14 shell would pass 2^16).
    Shape (59633, 8) float32, sorted by norm^2 then lexicographically."""
    g = torch.arange(-3, 4, dtype=torch.int8)  # |coordinate| <= 3 covers norm^2 <= 12 (4^2 = 16)
    pts = torch.cartesian_prod(*[g] * 8)  # 7^8 rows of int8: sums and norms^2 stay below 127
    pts = pts[(pts.sum(1) % 2 == 0) & (pts.square().sum(1) <= 12)].long()
    return pts[_d8_key(pts).argsort()].float()


def _d8_key(p: torch.Tensor) -> torch.Tensor:
    """A sort key of integer 8-vectors with entries in [-3, 3]: norm^2, then lexicographic order."""
    return p.square().sum(1) * 7**8 + ((p + 3) * 7 ** torch.arange(7, -1, -1)).sum(1)


@lru_cache(maxsize=1)
def _d8_ball_keys() -> torch.Tensor:
    return _d8_key(d8_ball().long())


def _d8_ball_mse(scale: float, x: torch.Tensor) -> float:
    return float((D8Ball.nearest(x * scale) / scale - x).square().mean())


def d8_ball_scale(n: int = 4096, seed: int = 0) -> float:
    """Input RMS at which :func:`d8_ball` quantizes N(0, 1) vectors with the least MSE: golden-section
    search over [0.6, 2] (to 1e-4) on ``n`` seeded Gaussian 8-vectors (about 30 s on one core, so
    :class:`D8Ball` uses its result, ``D8_BALL_SCALE``)."""
    x = torch.randn(n, 8, generator=torch.Generator().manual_seed(seed))
    lo, hi = 0.6, 2.0
    g = (math.sqrt(5) - 1) / 2
    for _ in range(20):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        if _d8_ball_mse(a, x) < _d8_ball_mse(b, x):
            hi = b
        else:
            lo = a
    return (lo + hi) / 2


class D8Ball(Codebook):
    """A 2-bit codebook from the plain D8 lattice, for comparison with E8P: the points of
    :func:`d8_ball`, one 16-bit index per 8 weights (5,903 of the 65,536 codes unused).

    Nearest point: Conway-Sloane's D8 rounding, and a search of the whole ball only for the inputs
    whose nearest lattice point falls outside it. Not used by LDLQ (E8P is better at the same bits).
    """

    name, dim, bits, stages, opt_scale = "d8-ball", 8, 2.0, 1, D8_BALL_SCALE

    @staticmethod
    def nearest(x: torch.Tensor) -> torch.Tensor:
        """The nearest point of the ball to each row of x (N, 8)."""
        return d8_ball()[D8Ball.encode(x)]

    @staticmethod
    def encode(x: torch.Tensor) -> torch.Tensor:
        """Index into :func:`d8_ball` of each row's nearest ball point, shape (N,) int64."""
        from rizzlib.caldera.lattice import nearest_d8

        x = x.float()
        p = nearest_d8(x.double()).float()
        table = d8_ball()
        idx = torch.empty(x.shape[0], dtype=torch.int64)
        inside = p.square().sum(1) <= 12
        if inside.any():  # look the point up by its position in the sorted table
            idx[inside] = torch.searchsorted(_d8_ball_keys(), _d8_key(p[inside].long()))
        if (~inside).any():
            idx[~inside] = _nearest_rows(x[~inside], table, chunk=256)
        return idx

    def quantize(self, x):
        c = self.encode(x)
        return d8_ball()[c].to(x.dtype), c[:, None]

    def decode(self, codes):
        return d8_ball()[codes[:, 0]]


def get_codebook(bits: int, kind: str = "lattice") -> Codebook:
    """The codebook for ``bits`` per weight: ``kind="lattice"`` gives E8P (2), E8P-RVQ3 (3), E8P-RVQ4 (4);
    ``kind="scalar"`` gives :class:`ScalarGrid` (1..8 bits)."""
    check_choice("kind", kind, ("lattice", "scalar"))
    if kind == "scalar":
        check_int_range("bits", bits, 1, 8)
        return ScalarGrid(bits)
    if bits not in (2, 3, 4):
        raise ValueError(f"bits must be 2, 3 or 4 for the lattice codebooks (E8P, E8P-RVQ3, E8P-RVQ4); got {bits!r}")
    return E8P() if bits == 2 else E8PRVQ(bits)


def quantize_rows(x: torch.Tensor, cb: Codebook) -> tuple[torch.Tensor, torch.Tensor]:
    """Quantize a matrix already at the codebook's scale, grouping ``cb.dim`` consecutive entries of
    each row: x (r, c) -> (x_hat (r, c), codes (r, c/dim, stages))."""
    r, c = x.shape
    if c % cb.dim:
        raise ValueError(f"x.shape[1] must be a multiple of {cb.dim} for {cb.name}; got {c}")
    xh, codes = cb.quantize(x.reshape(-1, cb.dim))
    return xh.reshape(r, c), codes.reshape(r, c // cb.dim, cb.stages)


def decode_rows(codes: torch.Tensor, cb: Codebook) -> torch.Tensor:
    """Inverse of :func:`quantize_rows`: codes (r, c/dim, stages) -> (r, c) float32."""
    r, g, s = codes.shape
    return cb.decode(codes.reshape(-1, s)).reshape(r, g * cb.dim)


def quantize_matrix(m: torch.Tensor, cb: Codebook) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Non-adaptive quantization of a whole matrix: scale to RMS ``cb.opt_scale``, round each row group.

    Returns (m_hat, codes, scale) with m_hat = scale * decode(codes).
    """
    rms = float(m.float().square().mean().sqrt())
    scale = rms / cb.opt_scale if rms > 0 else 1.0
    xh, codes = quantize_rows(m.float() / scale, cb)
    return xh * scale, codes, scale
