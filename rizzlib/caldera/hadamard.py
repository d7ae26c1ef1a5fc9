"""Randomized Hadamard transforms (RHT) for incoherence processing, any size.

``T_n`` is orthogonal: Sylvester ``H_{2^p}/sqrt(n)`` applied by a fast Walsh-Hadamard butterfly
when n is a power of two, ``(H_K (x) H_{2^p})/sqrt(n)`` when n = K * 2^p and a Hadamard matrix of
order K comes from a Paley construction (spec §2.2), and a seeded random orthogonal K x K block in
place of H_K when no construction fits (K = the odd part of n). All transforms act on the last axis.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch

from rizzlib.core.validate import check_int_range


def is_power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


@lru_cache(maxsize=32)
def _sylvester_block(c: int, dtype: torch.dtype, device: str) -> torch.Tensor:
    return sylvester(c).to(dtype=dtype, device=device)


FWHT_BLOCK = 16
"""Largest Sylvester factor :func:`fwht` multiplies by in one GEMM (16 measured fastest here)."""


def fwht(x: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """Fast Walsh-Hadamard transform of the last axis (size 2^p) in O(n log n); ``x @ H_n / sqrt(n)``.

    H_n = H_c_k (x) ... (x) H_c_1 with factors of at most :data:`FWHT_BLOCK`. The first factor acts
    on the lowest index bits as one GEMM of the (…, c) view; each later one acts on the next bits in
    place, as H_c @ (…, c, done) with ``done`` the product of the factors so far: a batched GEMM
    whose output is already in order, so no pass over the data is spent on transposes (an earlier
    version rotated the bits with a transpose after every factor, and those strided copies made it
    slower than a plain butterfly at 8192 x 64). Sylvester's H_n is symmetric, so this is its own
    inverse when ``normalize`` is True.
    """
    n = x.shape[-1]
    if not is_power_of_two(n):
        raise ValueError(f"x.shape[-1] must be a power of two for fwht; got {n}")
    lead = x.shape[:-1]
    c = min(FWHT_BLOCK, n)
    y = x.reshape(-1, c) @ _sylvester_block(c, x.dtype, str(x.device))
    done = c
    while done < n:
        c = min(FWHT_BLOCK, n // done)
        y = torch.matmul(_sylvester_block(c, x.dtype, str(x.device)), y.reshape(-1, c, done))
        done *= c
    y = y.reshape(*lead, n)
    return y / math.sqrt(n) if normalize else y


def sylvester(n: int) -> torch.Tensor:
    """The unnormalised Sylvester Hadamard matrix of order n = 2^p (float64)."""
    if not is_power_of_two(n):
        raise ValueError(f"n must be a power of two; got {n}")
    h = torch.ones(1, 1, dtype=torch.float64)
    while h.shape[0] < n:
        h = torch.cat((torch.cat((h, h), 1), torch.cat((h, -h), 1)), 0)
    return h


def _is_prime(q: int) -> bool:
    if q < 2:
        return False
    return all(q % d for d in range(2, int(math.isqrt(q)) + 1))


def _jacobsthal(q: int) -> torch.Tensor:
    """q x q matrix Q_ij = chi(j - i) with chi the Legendre symbol mod the prime q."""
    squares = {(i * i) % q for i in range(1, q)}
    chi = torch.tensor([0.0] + [1.0 if r in squares else -1.0 for r in range(1, q)], dtype=torch.float64)
    idx = (torch.arange(q)[None, :] - torch.arange(q)[:, None]) % q
    return chi[idx]


def paley_order_kind(k: int) -> str | None:
    """``"I"`` or ``"II"`` when a Paley construction gives a Hadamard matrix of order k, else None."""
    if k >= 4 and _is_prime(k - 1) and (k - 1) % 4 == 3:
        return "I"
    if k >= 4 and k % 2 == 0 and _is_prime(k // 2 - 1) and (k // 2 - 1) % 4 == 1:
        return "II"
    return None


@lru_cache(maxsize=64)
def paley_hadamard(k: int) -> torch.Tensor:
    """A Hadamard matrix of order k (entries +-1, H H^T = k I) by Paley I (k-1 = q = 3 mod 4) or
    Paley II (k/2 - 1 = q = 1 mod 4), q prime. float64."""
    kind = paley_order_kind(k)
    if kind is None:
        raise ValueError(f"k must be q+1 (q prime, 3 mod 4) or 2(q+1) (q prime, 1 mod 4); got {k}")
    if kind == "I":
        q = k - 1
        s = torch.zeros(k, k, dtype=torch.float64)
        s[0, 1:] = 1.0
        s[1:, 0] = -1.0
        s[1:, 1:] = _jacobsthal(q)
        return torch.eye(k, dtype=torch.float64) + s
    q = k // 2 - 1
    c = torch.zeros(q + 1, q + 1, dtype=torch.float64)
    c[0, 1:] = 1.0
    c[1:, 0] = 1.0
    c[1:, 1:] = _jacobsthal(q)
    a = torch.tensor([[1.0, 1.0], [1.0, -1.0]], dtype=torch.float64)
    b = torch.tensor([[1.0, -1.0], [-1.0, -1.0]], dtype=torch.float64)
    return torch.kron(c, a) + torch.kron(torch.eye(q + 1, dtype=torch.float64), b)


@lru_cache(maxsize=64)
def _random_orthogonal(k: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(k, k, generator=g, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))[None, :]


@lru_cache(maxsize=256)
def hadamard_plan(n: int, seed: int = 0) -> tuple[int, int, str, torch.Tensor | None]:
    """How T_n is built: (K, 2^p, kind, orthonormal K x K block or None) with kind in
    ``"sylvester"``, ``"paley-I"``, ``"paley-II"``, ``"random"``. Prefers the largest power of two."""
    check_int_range("n", n, 1, None)
    if is_power_of_two(n):
        return 1, n, "sylvester", None
    p = n & -n  # largest power of two dividing n
    while p >= 1:
        k = n // p
        kind = paley_order_kind(k)
        if kind is not None:
            return k, p, f"paley-{kind}", paley_hadamard(k) / math.sqrt(k)
        p //= 2
    k = n // (n & -n)
    return k, n // k, "random", _random_orthogonal(k, seed)


def hadamard_transform(x: torch.Tensor, transpose: bool = False, seed: int = 0) -> torch.Tensor:
    """Apply the orthogonal T_n (or T_n^T with ``transpose``) to the last axis of ``x`` (size n).

    T_n = (B_K (x) H_P)/sqrt(P) with B_K the orthonormal K x K block (1 x 1 for powers of two).
    """
    n = x.shape[-1]
    k, p, _, block = hadamard_plan(n, seed)
    if block is None:
        return fwht(x)
    lead = x.shape[:-1]
    y = fwht(x.reshape(*lead, k, p))
    b = block.to(dtype=x.dtype, device=x.device)
    y = torch.matmul(b.T if transpose else b, y)
    return y.reshape(*lead, n)


def hadamard_matrix(n: int, seed: int = 0) -> torch.Tensor:
    """The dense orthogonal T_n (float64), built from the same plan as :func:`hadamard_transform`."""
    k, p, _, block = hadamard_plan(n, seed)
    hp = sylvester(p) / math.sqrt(p)
    return hp if block is None else torch.kron(block, hp)


def random_signs(n: int, gen: torch.Generator) -> torch.Tensor:
    """n random +-1 (float32) drawn from ``gen``."""
    return torch.randint(0, 2, (n,), generator=gen).float() * 2 - 1


def rht_weight(w: torch.Tensor, su: torch.Tensor, sv: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """W~ = T_m diag(S_V) W diag(S_U) T_n^T for W of shape (m, n)."""
    y = hadamard_transform(w * su[None, :], seed=seed)  # rows: T_n (su * row) = (W S_U T_n^T) rows
    return hadamard_transform((y * sv[:, None]).T, seed=seed).T


def unrht_weight(wt: torch.Tensor, su: torch.Tensor, sv: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """W = diag(S_V) T_m^T W~ T_n diag(S_U), the exact inverse of :func:`rht_weight`."""
    y = hadamard_transform(wt.T, transpose=True, seed=seed).T * sv[:, None]
    return hadamard_transform(y, transpose=True, seed=seed) * su[None, :]


def rht_hessian(h: torch.Tensor, su: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """H~ = T_n diag(S_U) H diag(S_U) T_n^T for H of shape (n, n)."""
    y = hadamard_transform(h * su[None, :], seed=seed)
    return hadamard_transform((y * su[:, None]).T, seed=seed).T


def rht_input(x: torch.Tensor, su: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """x~ = T_n (S_U * x) on the last axis of activations x (..., n)."""
    return hadamard_transform(x * su, seed=seed)


def unrht_output(z: torch.Tensor, sv: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """y = S_V * T_m^T z on the last axis of z (..., m)."""
    return hadamard_transform(z, transpose=True, seed=seed) * sv
