"""RHT fine-tuning (spec §4 stage A): trainable signs, distillation loss, best-state selection, and
the 16-bit accounting and storage of fine-tuned signs."""

import json
import struct

import pytest
import torch

from rizzlib.caldera.compress import collect_hessians, compress_model, load_compressed, save_compressed
from rizzlib.caldera.decompose import CalderaConfig, caldera
from rizzlib.caldera.lm import LMConfig, build_lm
from rizzlib.caldera.module import CalderaLinear
from rizzlib.caldera.rht_ft import bits_after_rht_ft, distillation_loss, finetune_rht, sign_parameters

TINY = LMConfig(d_model=32, n_layers=1, n_heads=2, d_ff=64, ctx=16)


@pytest.fixture(scope="module")
def compressed():
    teacher = build_lm(TINY, seed=11)
    g = torch.Generator().manual_seed(0)
    calib = torch.randint(0, 256, (8, 16), generator=g)
    student = build_lm(TINY, seed=11)
    reports = compress_model(student, collect_hessians(teacher, calib), "caldera", CalderaConfig(rank=4, ft_rank=2, outer_iters=1, lr_iters=1, tune_iters=0))
    return teacher, student, reports


def test_sign_gradient_matches_the_dense_formula():
    g = torch.Generator().manual_seed(1)
    w, x = torch.randn(16, 32, generator=g), torch.randn(200, 32, generator=g)
    mod = CalderaLinear.from_result(caldera(w, x.T @ x / 200, CalderaConfig(rank=4, lr_bits=4, outer_iters=1, lr_iters=1, tune_iters=0)))
    su, sv = mod.su.clone(), mod.sv.clone()
    dense = mod.dense_weight().detach()
    params = sign_parameters(mod)
    assert [p is q for p, q in zip(params, (mod.su, mod.sv))] == [True, True] and sign_parameters(mod)[0] is params[0]
    assert torch.equal(mod.su, su) and set(mod.state_dict()) >= {"su", "sv"}
    xin, c = torch.randn(5, 32, generator=g), torch.randn(5, 16, generator=g)
    (mod(xin) * c).sum().backward()
    # y = (x * su) A with A = (W diag(su))^T, W the dense weight (su^2 = 1); so dL/dsu = sum_b x_b * (A c_b)
    a = (dense * su[None, :]).T
    assert torch.allclose(mod.su.grad, (xin * (c @ a.T)).sum(0), rtol=1e-4, atol=1e-4)
    # y = sv * (x B) with B = (diag(sv) W)^T; so dL/dsv = sum_b c_b * (x_b B)
    b = (dense * sv[:, None]).T
    assert torch.allclose(mod.sv.grad, (c * (xin @ b)).sum(0), rtol=1e-4, atol=1e-4)


def test_distillation_loss_is_soft_label_cross_entropy():
    g = torch.Generator().manual_seed(2)
    t, s = torch.randn(3, 4, 7, generator=g), torch.randn(3, 4, 7, generator=g)
    p = torch.softmax(t, -1)
    want = -(p * torch.log_softmax(s, -1)).sum(-1).mean()
    assert torch.allclose(distillation_loss(s, t), want)
    entropy = -(p * p.log()).sum(-1).mean()
    assert torch.allclose(distillation_loss(t, t), entropy, atol=1e-6)
    assert distillation_loss(s, t) > distillation_loss(t, t)  # Gibbs: the teacher is the minimiser


def test_finetune_rht_trains_only_signs_and_keeps_the_best_state(compressed):
    import copy

    teacher, student, _ = compressed
    model = copy.deepcopy(student)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    tokens = torch.randint(0, 256, (2000,), generator=torch.Generator().manual_seed(3))
    val = torch.randint(0, 256, (4, 16), generator=torch.Generator().manual_seed(4))
    hist = finetune_rht(model, teacher, tokens, val, 16, steps=6, lr=5e-2, eval_every=2)
    assert len(hist["train"]) == 6 and [s for s, _ in hist["val"]] == [0, 2, 4, 6]
    best = min(v for _, v in hist["val"])
    assert hist["val"][hist["best_step"] // 2][1] == best
    with torch.no_grad():  # the restored state is the best one
        again = sum(float(distillation_loss(model(input_ids=val[i : i + 2]).logits, teacher(input_ids=val[i : i + 2]).logits)) for i in (0, 2)) / 2
    assert again == pytest.approx(best, rel=1e-5)
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed <= {k for k in before if k.endswith(".su") or k.endswith(".sv")}
    if hist["best_step"] > 0:
        assert changed
    assert not any(p.requires_grad for p in model.parameters())


def test_finetune_rht_bad_input(compressed):
    teacher, student, _ = compressed
    tokens, val = torch.arange(200) % 256, torch.zeros(2, 16, dtype=torch.long)
    with pytest.raises(ValueError, match="steps"):
        finetune_rht(student, teacher, tokens, val, 16, steps=0)
    with pytest.raises(ValueError, match="val must be"):
        finetune_rht(student, teacher, tokens, torch.zeros(16, dtype=torch.long), 16, steps=1)
    with pytest.raises(ValueError, match="no CalderaLinear"):
        finetune_rht(build_lm(TINY), teacher, tokens, val, 16, steps=1)


def test_fine_tuned_signs_are_stored_and_counted_at_16_bits(compressed, tmp_path):
    import copy

    from rizzlib.caldera.bits import BitBudget, matrix_bits

    teacher, student, reports = compressed
    model = copy.deepcopy(student)
    with torch.no_grad():
        for p in sign_parameters(model):
            p.mul_(1.25)  # real-valued signs, as after RHT-FT
    want = sum(matrix_bits(m, n, BitBudget(2, 4, 4, 4, 2, 16, 16, 4)) for m, n in (r.shape for r in reports)) / sum(m * n for m, n in (r.shape for r in reports))
    assert bits_after_rht_ft(reports) == pytest.approx(want, rel=1e-12)
    path = tmp_path / "ft.safetensors"
    save_compressed(model, path)
    raw = path.read_bytes()
    (hlen,) = struct.unpack("<Q", raw[:8])
    meta = json.loads(raw[8 : 8 + hlen])
    compressed_prefixes = [n + "." for n, m in model.named_modules() if isinstance(m, CalderaLinear)]
    plain = sum(v.numel() * v.element_size() for k, v in model.state_dict().items() if not any(k.startswith(p) for p in compressed_prefixes))
    assert meta["model.layers.0.mlp.up_proj.su"]["dtype"] == "F16"
    counted = bits_after_rht_ft(reports) * sum(m * n for m, n in (r.shape for r in reports)) / 8
    assert len(raw) - 8 - hlen - plain == pytest.approx(counted, abs=1e-6)
    loaded = load_compressed(path)
    x = torch.randint(0, 256, (2, 16), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        a, b = model(input_ids=x).logits, loaded(input_ids=x).logits
    assert torch.allclose(a, b, atol=2e-3 * float(a.abs().max()))
