"""Non-neural ideal in-context learners: what perfect use of the demonstrations scores.

* cipher: read the symbol map off the demos (position i of x maps to position i of y; a majority
  vote per source symbol, so label noise is outvoted) and map an unseen symbol to the first target
  symbol no demo produced.
* keycls: majority vote over the demos that share the query's key; an unseen key gets the most
  frequent label of all demos.
* arith: the offset c = (y - sum of the input digits) mod 10 by majority vote over the demos (0 without demos).

Ties in a vote go to the value seen first in the demos.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rizzlib.icl.tasks import DIGITS, SRC, TGT, Example, KeyClassTask


def _vote(values: Sequence[str]) -> str | None:
    """Most frequent value; ties go to the one seen first. None for no values."""
    if not values:
        return None
    counts = Counter(values)
    best = max(counts.values())
    return next(v for v in values if counts[v] == best)


def cipher_map(demos: Sequence[Example]) -> dict[str, str]:
    """Source symbol -> target symbol read from aligned demos (majority vote per symbol)."""
    seen: dict[str, list[str]] = {}
    for ex in demos:
        xs, ys = ex.x.split(), ex.y.split()
        if len(xs) != len(ys):
            continue
        for s, t in zip(xs, ys):
            seen.setdefault(s, []).append(t)
    return {s: _vote(ts) for s, ts in seen.items()}


def predict_cipher(demos: Sequence[Example], x: str) -> str:
    m = cipher_map(demos)
    unused = [t for t in TGT if t not in set(m.values())] or list(TGT)
    return " ".join(m.get(s, unused[0]) for s in x.split())


def predict_keycls(demos: Sequence[Example], x: str) -> str:
    key = KeyClassTask.key_of(x)
    same = [ex.y for ex in demos if KeyClassTask.key_of(ex.x) == key]
    return _vote(same) or _vote([ex.y for ex in demos]) or ""


def predict_arith(demos: Sequence[Example], x: str) -> str:
    offsets = []
    n_terms = len(x.split())
    for ex in demos:
        xs = ex.x.split()
        if len(xs) == n_terms and all(t in DIGITS for t in xs) and ex.y in DIGITS:
            offsets.append(str((int(ex.y) - sum(int(t) for t in xs)) % 10))
    c = int(_vote(offsets) or 0)
    return str((sum(int(t) for t in x.split()) + c) % 10)


def predict_arith_copy(demos: Sequence[Example], x: str) -> str:
    """arith by copying alone: the answer of the first demo with the same digits (in any order, as the
    sum does not care), else ``"0"`` (a blind guess, right one time in ten). The only way to beat
    chance on arith without computing the sum: it needs a two-token match, not a one-token one."""
    key = sorted(x.split())
    return next((ex.y for ex in demos if sorted(ex.x.split()) == key), "0")


PREDICTORS = {"cipher": predict_cipher, "keycls": predict_keycls, "arith": predict_arith}


def ideal_predict(task_name: str, demos: Sequence[Example], xs: Sequence[str]) -> list[str]:
    """Predictions of the ideal learner of ``task_name`` for every query input in ``xs``."""
    if task_name not in PREDICTORS:
        raise ValueError(f"task_name must be one of {tuple(PREDICTORS)}; got {task_name!r}")
    return [PREDICTORS[task_name](demos, x) for x in xs]


def covered(demos: Sequence[Example], x: str, task_name: str) -> bool:
    """True when every symbol the query needs appears in some demo's input."""
    if task_name == "cipher":
        have = {s for ex in demos for s in ex.x.split()}
        return all(s in have for s in x.split() if s in SRC)
    if task_name == "keycls":
        return any(KeyClassTask.key_of(ex.x) == KeyClassTask.key_of(x) for ex in demos)
    return len(demos) > 0
