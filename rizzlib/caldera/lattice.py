"""The D8 and E8 lattices: Conway-Sloane nearest points, the 240 roots, brute-force oracles.

D8 = {x in Z^8 : sum(x) even}; E8 = D8 u (D8 + 1/2). All functions act on the last axis (size 8).
"""

from __future__ import annotations

import itertools

import torch


def _check8(x: torch.Tensor) -> None:
    if x.shape[-1] != 8:
        raise ValueError(f"x.shape[-1] must be 8 (one lattice vector per row); got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("x must be finite")


def nearest_d8(x: torch.Tensor) -> torch.Tensor:
    """Nearest point of D8: round every coordinate; if the sum is odd, re-round the coordinate with
    the largest rounding error the other way. x (..., 8) -> (..., 8), same dtype."""
    _check8(x)
    r = torch.round(x)
    odd = (r.sum(-1) % 2) != 0
    err = x - r
    i = err.abs().argmax(-1, keepdim=True)
    e_i = torch.gather(err, -1, i)
    step = torch.where(e_i >= 0, 1.0, -1.0).to(x.dtype)  # round towards x on the other side
    fixed = r.scatter_add(-1, i, step)
    return torch.where(odd[..., None], fixed, r)


def nearest_e8(x: torch.Tensor) -> torch.Tensor:
    """Nearest point of E8: the closer of D8(x) and D8(x - 1/2) + 1/2."""
    a = nearest_d8(x)
    b = nearest_d8(x - 0.5) + 0.5
    da = (x - a).square().sum(-1, keepdim=True)
    db = (x - b).square().sum(-1, keepdim=True)
    return torch.where(da <= db, a, b)


def e8_roots() -> torch.Tensor:
    """The 240 minimal vectors of E8 (norm^2 2): 112 of type (+-1, +-1, 0^6), then 128 of type
    (+-1/2)^8 with an even number of minus signs. Shape (240, 8), float32."""
    out = []
    for i, j in itertools.combinations(range(8), 2):
        for si, sj in itertools.product((1.0, -1.0), repeat=2):
            v = [0.0] * 8
            v[i], v[j] = si, sj
            out.append(v)
    for signs in itertools.product((0.5, -0.5), repeat=8):
        if sum(s < 0 for s in signs) % 2 == 0:
            out.append(list(signs))
    return torch.tensor(out, dtype=torch.float32)


def brute_force_nearest(x: torch.Tensor, lattice: str = "e8") -> torch.Tensor:
    """Oracle: the nearest point among all lattice points near ``x`` (candidates: round(x) or
    round(x - 1/2) + 1/2 plus every vector in {-1, 0, 1}^8 offset, filtered to the lattice).

    Slow (6561 candidates per point); for tests only. x (N, 8) -> (N, 8).
    """
    _check8(x)
    if lattice not in ("d8", "e8"):
        raise ValueError(f"lattice must be 'd8' or 'e8'; got {lattice!r}")
    offs = torch.tensor(list(itertools.product((-1.0, 0.0, 1.0), repeat=8)), dtype=x.dtype)
    bases = [torch.round(x)] + ([torch.round(x - 0.5) + 0.5] if lattice == "e8" else [])
    best, best_d = None, None
    for base in bases:
        cand = base[:, None, :] + offs[None]  # (N, 6561, 8)
        ok = (cand.sum(-1) % 2) == 0
        d = (cand - x[:, None, :]).square().sum(-1)
        d = torch.where(ok, d, torch.full_like(d, float("inf")))
        j = d.argmin(1)
        pick = cand[torch.arange(x.shape[0]), j]
        dmin = d[torch.arange(x.shape[0]), j]
        if best is None:
            best, best_d = pick, dmin
        else:
            better = dmin < best_d
            best = torch.where(better[:, None], pick, best)
            best_d = torch.where(better, dmin, best_d)
    return best
