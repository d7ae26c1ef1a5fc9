"""Which body pairs are tested and in which order the solver visits them (numpy, built once).

Every unordered pair of the N = P + C bodies is a candidate (no hidden slot rules). The pairs are
arranged as a round-robin tournament (the "circle method"): N' - 1 rounds (N' = N rounded up to
even) of N'/2 pairs, where no body appears twice in a round. The solver can therefore treat all
pairs of a round at once and still be an exact Gauss-Seidel sweep: the result equals visiting the
pairs one by one in round order. With an odd N one body sits out each round (its partner is the
padding index N).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np


@dataclasses.dataclass(frozen=True)
class PairSchedule:
    """Static pair layout for P polygons and C circles.

    Attributes:
        body_a, body_b: (R, S) int global indices, body_a < body_b; padding pairs have body_b = N.
        order: (R*S,) index into the concatenation [pp pairs, pc pairs, cc pairs, one padding row]
            that puts the per-kind results into schedule order.
        pp, pc, cc: (k, 2) pairs of each kind (polygon-polygon, polygon-circle, circle-circle), as
            (a, b) global indices, in the order they are computed.
        steps: (R, 2S) during a sweep, round r orders the body rows as [A bodies of its slots, B
            bodies of its slots]; row k of round r is row steps[r, k] of round r-1 (of the natural
            order 0..2S-1 for r = 0).
        back: (2S,) gather from the last round's order back to the natural order.
        point_slots: (k0, k1): in every round, the first k0 slots hold all real pairs and the first
            k1 slots all polygon-polygon pairs (the only ones with a second contact point).
    """

    body_a: np.ndarray
    body_b: np.ndarray
    order: np.ndarray
    pp: np.ndarray
    pc: np.ndarray
    cc: np.ndarray
    steps: np.ndarray
    back: np.ndarray
    point_slots: tuple[int, int]

    @property
    def num_rounds(self) -> int:
        return self.body_a.shape[0]

    @property
    def num_slots(self) -> int:
        return self.body_a.shape[1] if self.body_a.ndim == 2 else 0


def round_robin(n: int) -> np.ndarray:
    """(R, S, 2) pairs of a round-robin over ``n`` players (index ``n`` = sit out when n is odd)."""
    m = n + (n % 2)
    if m == 0:
        return np.zeros((0, 0, 2), dtype=np.int32)
    players = list(range(m))
    rounds = []
    for _ in range(m - 1):
        rounds.append([sorted((players[k], players[m - 1 - k])) for k in range(m // 2)])
        players = [players[0], players[-1], *players[1:-1]]  # rotate all but the first
    return np.asarray(rounds, dtype=np.int32).reshape(m - 1, m // 2, 2)


@functools.lru_cache(maxsize=64)
def pair_schedule(num_polygons: int, num_circles: int) -> PairSchedule:
    """The :class:`PairSchedule` for ``num_polygons`` P and ``num_circles`` C (cached)."""
    p, n = num_polygons, num_polygons + num_circles
    rr = round_robin(n)
    # within a round: polygon-polygon pairs first, then polygon-circle, circle-circle, padding last
    rank = np.where(rr[..., 1] >= n, 3, np.where(rr[..., 1] < p, 0, np.where(rr[..., 0] < p, 1, 2)))
    rr = np.take_along_axis(rr, np.argsort(rank, axis=1, kind="stable")[..., None], axis=1)
    rank = np.sort(rank, axis=1)
    point_slots = (int((rank < 3).sum(1).max(initial=0)), int((rank == 0).sum(1).max(initial=0)))
    flat = rr.reshape(-1, 2)
    kinds = {"pp": [], "pc": [], "cc": []}
    slots = {"pp": [], "pc": [], "cc": []}
    pad_slots = []
    for s, (a, b) in enumerate(flat):
        if b >= n:
            pad_slots.append(s)
            continue
        kind = "pp" if b < p else ("pc" if a < p else "cc")
        kinds[kind].append((a, b))
        slots[kind].append(s)
    npp, npc, ncc = len(kinds["pp"]), len(kinds["pc"]), len(kinds["cc"])
    order = np.zeros(len(flat), dtype=np.int32)
    for base, kind in ((0, "pp"), (npp, "pc"), (npp + npc, "cc")):
        order[np.asarray(slots[kind], dtype=np.int64)] = base + np.arange(len(slots[kind]))
    order[np.asarray(pad_slots, dtype=np.int64)] = npp + npc + ncc
    rounds, slots = rr.shape[:2]
    perm = np.concatenate([rr[..., 0], rr[..., 1]], 1)  # (R, 2S)
    steps = np.zeros_like(perm)
    prev_pos = np.arange(2 * slots)
    for r in range(rounds):
        steps[r] = prev_pos[perm[r]]
        prev_pos = np.argsort(perm[r])
    as_pairs = lambda k: np.asarray(kinds[k], dtype=np.int32).reshape(-1, 2)  # noqa: E731
    return PairSchedule(
        body_a=rr[..., 0].copy(),
        body_b=rr[..., 1].copy(),
        order=order,
        pp=as_pairs("pp"),
        pc=as_pairs("pc"),
        cc=as_pairs("cc"),
        steps=steps.astype(np.int32),
        back=prev_pos.astype(np.int32),
        point_slots=point_slots,
    )
