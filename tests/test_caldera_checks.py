"""Each graded check passes an independently written right answer on 20 seeds and fails >= 3
plausible wrong answers on every one of 20 seeds."""

import math

import pytest
import torch

from rizzlib.caldera import checks
from rizzlib.core.grading import CheckFailed

SEEDS = range(20)


# ---- right answers, written without the library ----


def fwht_right(x):
    n = x.shape[-1]
    h = torch.ones(1, 1, dtype=x.dtype)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return x @ h / math.sqrt(n)


def nearest_d8_right(x):
    out = []
    for v in x.tolist():
        r = [round(a) for a in v]
        if sum(r) % 2:
            i = max(range(8), key=lambda j: abs(v[j] - r[j]))
            r[i] += 1 if v[i] > r[i] else -1
        out.append(r)
    return torch.tensor(out, dtype=x.dtype)


def ldlq_target_right(w, w_hat, l, k, g):
    cols = slice(k * g, (k + 1) * g)
    t = w[:, cols].clone()
    for j in range(k + 1, w.shape[1] // g):
        js = slice(j * g, (j + 1) * g)
        t += (w[:, js] - w_hat[:, js]) @ l[js, cols]
    return t


def update_l_right(a, r, h):
    lam, v = torch.linalg.eigh(h)
    hs = v @ torch.diag(lam.sqrt()) @ v.T
    return (a @ hs) @ torch.linalg.pinv(r @ hs)


def average_bits_right(shapes, q_bits, rank, l_bits, r_bits):
    num = sum(m * n * q_bits + rank * (m * l_bits + n * r_bits) for m, n in shapes)
    return num / sum(m * n for m, n in shapes)


# ---- wrong answers ----


def fwht_unnormalised(x):
    return fwht_right(x) * math.sqrt(x.shape[-1])


def fwht_divide_by_n(x):
    return fwht_right(x) / math.sqrt(x.shape[-1])


def fwht_one_stage(x):
    n = x.shape[-1]
    if n == 1:
        return x * 2
    a, b = x[..., : n // 2], x[..., n // 2 :]
    return torch.cat([a + b, a - b], -1) / math.sqrt(2)


def d8_plain_round(x):
    return torch.round(x)


def d8_flip_smallest_error(x):
    out = []
    for v in x.tolist():
        r = [round(a) for a in v]
        if sum(r) % 2:
            i = min(range(8), key=lambda j: abs(v[j] - r[j]))
            r[i] += 1 if v[i] > r[i] else -1
        out.append(r)
    return torch.tensor(out, dtype=x.dtype)


def d8_always_up(x):
    out = []
    for v in x.tolist():
        r = [round(a) for a in v]
        if sum(r) % 2:
            i = max(range(8), key=lambda j: abs(v[j] - r[j]))
            r[i] += 1
        out.append(r)
    return torch.tensor(out, dtype=x.dtype)


def target_no_feedback(w, w_hat, l, k, g):
    return w[:, k * g : (k + 1) * g].clone()


def target_transposed_l(w, w_hat, l, k, g):
    return ldlq_target_right(w, w_hat, l.T.contiguous(), k, g)


def target_sign_flipped(w, w_hat, l, k, g):
    return 2 * w[:, k * g : (k + 1) * g] - ldlq_target_right(w, w_hat, l, k, g)


def l_unweighted(a, r, h):
    return a @ torch.linalg.pinv(r)


def l_no_inverse(a, r, h):
    return a @ h @ r.T


def l_sqrt_once(a, r, h):
    lam, v = torch.linalg.eigh(h)
    hs = v @ torch.diag(lam.sqrt()) @ v.T
    return torch.linalg.solve((r @ hs @ r.T).T, (a @ hs @ r.T).T).T


def bits_mean_of_matrices(shapes, q_bits, rank, l_bits, r_bits):
    return sum(q_bits + rank * (m * l_bits + n * r_bits) / (m * n) for m, n in shapes) / len(shapes)


def bits_no_q(shapes, q_bits, rank, l_bits, r_bits):
    return average_bits_right(shapes, 0, rank, l_bits, r_bits)


def bits_swapped(shapes, q_bits, rank, l_bits, r_bits):
    return average_bits_right(shapes, q_bits, rank, r_bits, l_bits) if l_bits != r_bits else average_bits_right(shapes, q_bits, rank, l_bits, r_bits) + 1e-3


CASES = {
    checks.check_fwht: (fwht_right, [fwht_unnormalised, fwht_divide_by_n, fwht_one_stage]),
    checks.check_nearest_d8: (nearest_d8_right, [d8_plain_round, d8_flip_smallest_error, d8_always_up]),
    checks.check_ldlq_target: (ldlq_target_right, [target_no_feedback, target_transposed_l, target_sign_flipped]),
    checks.check_update_l: (update_l_right, [l_unweighted, l_no_inverse, l_sqrt_once]),
    checks.check_average_bits: (average_bits_right, [bits_mean_of_matrices, bits_no_q, bits_swapped]),
}


@pytest.mark.parametrize("check", list(CASES), ids=lambda c: c.__name__)
def test_right_answer_passes_on_20_seeds(check, capsys):
    right, _ = CASES[check]
    for seed in SEEDS:
        check(right, seed=seed)


@pytest.mark.parametrize(
    "check,wrong",
    [(c, w) for c, (_, ws) in CASES.items() for w in ws],
    ids=lambda v: v.__name__,
)
def test_wrong_answers_fail_on_every_seed(check, wrong, capsys):
    for seed in SEEDS:
        with pytest.raises(CheckFailed):
            check(wrong, seed=seed)


@pytest.mark.parametrize("check", list(CASES), ids=lambda c: c.__name__)
def test_blank_and_constant_answers_fail(check, capsys):
    def blank(*a, **k):
        raise NotImplementedError("write me")

    with pytest.raises(NotImplementedError):
        check(blank, seed=0)
    with pytest.raises(CheckFailed):
        check(lambda *a, **k: 0.0, seed=0)
