"""Compressed layers, kernels, whole-model compression, save/load and LoRA (spec §4-§6.7)."""

import dataclasses
import os
import subprocess
import sys

import pytest
import torch

from rizzlib.caldera.compress import (
    average_bits_of,
    collect_hessians,
    compress_model,
    finetune_lora,
    load_compressed,
    lora_parameters,
    save_compressed,
)
from rizzlib.caldera.data import perplexity
from rizzlib.caldera.decompose import CalderaConfig, caldera
from rizzlib.caldera.kernels import decode_q, fused_matmul_cpu, reference_matmul
from rizzlib.caldera.lm import LMConfig, build_lm
from rizzlib.caldera.module import CalderaLinear

TINY = LMConfig(d_model=32, n_layers=1, n_heads=2, d_ff=64, ctx=16)
FAST = dict(outer_iters=2, lr_iters=2, tune_iters=0)


def layer(m=32, n=64, seed=0, **kw):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(m, n, generator=g)
    x = torch.randn(4 * n, n, generator=g)
    res = caldera(w, x.T @ x / x.shape[0], CalderaConfig(**{**FAST, **kw}))
    return res, CalderaLinear.from_result(res, torch.randn(m, generator=g))


@pytest.mark.parametrize("kw", [dict(rank=0), dict(rank=8, lr_bits=16, ft_rank=2), dict(rank=8, lr_bits=4, ft_rank=3), dict(rank=8, q_bits=4, lr_bits=3), dict(rank=4, q_bits=3, lr_bits=2)])
def test_forward_equals_dense_weight(kw):
    res, mod = layer(**kw)
    x = torch.randn(3, 5, 64, generator=torch.Generator().manual_seed(1))
    w = res.reconstruct()
    assert torch.allclose(mod.dense_weight(), w, atol=1e-5)
    ref = (x @ w.T + mod.bias).detach()
    for kernel in ("reference", "fused"):
        mod.kernel = kernel
        y = mod(x)
        assert torch.allclose(y, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))


@pytest.mark.parametrize("q_bits", [2, 3, 4])
def test_kernels_equal_dense_matmul_of_decoded_weight(q_bits):
    g = torch.Generator().manual_seed(q_bits)
    stages = 1 if q_bits == 2 else 2
    codes = torch.randint(-32768, 32768, (72, 16, stages), generator=g).to(torch.int16)
    if q_bits == 3:
        codes[:, :, 1] = torch.randint(0, 256, (72, 16), generator=g).to(torch.int16)
    l, r, x = torch.randn(72, 5, generator=g), torch.randn(5, 128, generator=g), torch.randn(9, 128, generator=g)
    dense = x @ (decode_q(codes, q_bits, 0.3) + l @ r).T
    for fn in (reference_matmul, fused_matmul_cpu):
        assert torch.allclose(fn(x, codes, q_bits, 0.3, l, r), dense, atol=1e-4)
    assert torch.allclose(fused_matmul_cpu(x, codes, q_bits, 0.3, l, r, tile=7), dense, atol=1e-4)


TRITON_SWEEP = r"""
import torch
from rizzlib.caldera.kernels import decode_q, triton_matmul
g = torch.Generator().manual_seed(0)
cases = 0
for q_bits in (2, 3, 4):
    # (m, n, batch, block sizes): tails in every tiled axis, one-row and one-group layers, batch > block
    for m, n, b, blocks in ((40, 64, 3, {}), (16, 128, 1, {}), (1, 8, 1, {}), (33, 24, 6, dict(block_b=2, block_m=8, block_g=2)), (17, 200, 5, dict(block_g=16))):
        c1 = torch.randint(-32768, 32768, (m, n // 8), generator=g).to(torch.int16)
        if q_bits == 2:
            codes = (c1,)
        elif q_bits == 4:
            codes = (c1, torch.randint(-32768, 32768, (m, n // 8), generator=g).to(torch.int16))
        else:
            codes = (c1, torch.randint(0, 256, (m, n // 8), generator=g).to(torch.uint8))
        k = 3 if m > 3 else 0
        l, r, x = torch.randn(m, k, generator=g), torch.randn(k, n, generator=g), torch.randn(b, n, generator=g)
        dense = x @ (decode_q(codes, q_bits, 0.5) + l @ r).T
        got = triton_matmul(x, codes, q_bits, 0.5, l, r, **blocks)
        assert got.shape == (b, m) and torch.allclose(got, dense, rtol=1e-5, atol=1e-4), (q_bits, m, n, b, float((got - dense).abs().max()))
        cases += 1
    if q_bits == 4:  # the stacked (m, n/8, stages) form gives the same result
        stacked = torch.stack(codes, 2)
        assert torch.equal(triton_matmul(x, stacked, 4, 0.5, l, r, **blocks), got)
print("ok", cases)
"""


def test_triton_kernel_under_the_interpreter_every_bit_width():
    pytest.importorskip("triton")
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    out = subprocess.run([sys.executable, "-c", TRITON_SWEEP], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0 and "ok 15" in out.stdout, out.stderr[-2000:]


def test_gradients_reach_only_the_lora_factors():
    _, mod = layer(rank=8, lr_bits=4, ft_rank=3)
    x = torch.randn(4, 64, generator=torch.Generator().manual_seed(2), requires_grad=True)
    mod(x).square().sum().backward()
    # the input gradient is W^T of the output gradient, through every row tile of the fused path
    y = x.detach().requires_grad_(True)
    (y @ mod.dense_weight().detach().T + mod.bias.detach()).square().sum().backward()
    assert torch.allclose(x.grad, y.grad, rtol=1e-4, atol=1e-4)
    g = torch.Generator().manual_seed(5)
    codes = torch.randint(-32768, 32768, (150, 8, 1), generator=g).to(torch.int16)  # 3 tiles of 64 rows
    xin = torch.randn(2, 64, generator=g, requires_grad=True)
    fused_matmul_cpu(xin, codes, 2, 0.5, None, None).sum().backward()
    assert torch.allclose(xin.grad, decode_q(codes, 2, 0.5).sum(0).expand(2, -1), atol=1e-4)
    assert mod.l_ft.grad is not None and float(mod.l_ft.grad.abs().sum()) > 0
    assert mod.r_ft.grad is not None and float(mod.r_ft.grad.abs().sum()) > 0
    assert not mod.q_codes.requires_grad and not mod.l_codes.requires_grad
    assert {n for n, p in mod.named_parameters()} == {"l_ft", "r_ft", "bias"}


def test_device_and_dtype_moves_keep_every_code_stage():
    # the reference repo's device-move loop overwrote RVQ second-stage codes with the first ones
    res, mod = layer(rank=8, q_bits=4, lr_bits=4)
    before = {k: v.clone() for k, v in mod.state_dict().items()}
    assert not torch.equal(mod.q_codes, mod.q_codes_res)
    x = torch.randn(2, 64, generator=torch.Generator().manual_seed(3))
    y = mod(x)
    mod = mod.to("cpu").to(torch.float64).to(torch.float32)
    for k in ("q_codes", "q_codes_res", "l_codes", "l_codes_res", "r_codes", "r_codes_res"):
        assert torch.equal(mod.state_dict()[k], before[k])
    assert torch.allclose(mod(x), y, atol=1e-5)


def test_whole_model_compress_save_load_round_trip(tmp_path):
    model = build_lm(TINY, seed=0)
    g = torch.Generator().manual_seed(0)
    calib, test = torch.randint(0, 256, (8, 16), generator=g), torch.randint(0, 256, (4, 16), generator=g)
    hess = collect_hessians(model, calib)
    assert len(hess) == 7 and hess["0.self_attn.q_proj"].shape == (32, 32)
    assert torch.allclose(hess["0.self_attn.q_proj"], hess["0.self_attn.k_proj"])  # shared input
    reports = compress_model(model, hess, "caldera", CalderaConfig(rank=4, ft_rank=2, **FAST))
    assert sum(isinstance(m, CalderaLinear) for m in model.modules()) == 7
    expected = sum(m * n * 2 + 2 * (m + n) * 4 + 2 * (m + n) * 16 + (m + n) + 4 * 32 for m, n in [r.shape for r in reports])
    assert average_bits_of(reports) == pytest.approx(expected / sum(m * n for m, n in [r.shape for r in reports]))
    ppl = perplexity(model, test)
    path = tmp_path / "m.safetensors"
    save_compressed(model, path)
    loaded = load_compressed(path)
    assert perplexity(loaded, test) == pytest.approx(ppl, rel=1e-3)  # LoRA directions saved in fp16
    with torch.no_grad():
        for p in lora_parameters(model):
            p.copy_(p.half().float())
        assert torch.equal(model(input_ids=test).logits, loaded(input_ids=test).logits)


def test_per_matrix_ranks_and_bit_widths_count_save_and_load(tmp_path):
    model = build_lm(TINY, seed=2)
    g = torch.Generator().manual_seed(1)
    calib, test = torch.randint(0, 256, (8, 16), generator=g), torch.randint(0, 256, (4, 16), generator=g)
    seen = []

    def per_matrix(key, shape):  # attention: rank 2, 2-bit Q; MLP: rank 6 with 3-bit Q and 2-bit factors
        seen.append((key, shape))
        if "self_attn" in key:
            return CalderaConfig(rank=2, **FAST)
        return CalderaConfig(rank=6, q_bits=3, lr_bits=2, ft_rank=1, **FAST)

    reports = compress_model(model, collect_hessians(model, calib), "caldera", per_matrix)
    assert [k for k, _ in seen] == [r.name for r in reports] and all(s == r.shape for (_, s), r in zip(seen, reports))
    mods = {k: m for k, m in model.named_modules() if isinstance(m, CalderaLinear)}
    assert mods["model.layers.0.self_attn.q_proj"].cfg.rank == 2 and mods["model.layers.0.mlp.up_proj"].cfg.rank == 6
    assert mods["model.layers.0.mlp.down_proj"].cfg.q_bits == 3

    def bits(m, n, attn):  # Q, factors (quantized part, then the fp16 LoRA directions), signs, 4 fp32 scalars
        if attn:
            return m * n * 2 + 2 * (m + n) * 4 + (m + n) + 128
        return m * n * 3 + 5 * (m + n) * 2 + 1 * (m + n) * 16 + (m + n) + 128

    expected = sum(bits(*r.shape, "self_attn" in r.name) for r in reports) / sum(m * n for m, n in [r.shape for r in reports])
    assert average_bits_of(reports) == pytest.approx(expected)
    path = tmp_path / "mixed.safetensors"
    save_compressed(model, path)
    loaded = load_compressed(path)
    assert {k: m.cfg for k, m in loaded.named_modules() if isinstance(m, CalderaLinear)} == {k: m.cfg for k, m in mods.items()}
    with torch.no_grad():
        for p in lora_parameters(model):
            p.copy_(p.half().float())
        assert torch.equal(model(input_ids=test).logits, loaded(input_ids=test).logits)
    with pytest.raises(ValueError, match="cfg must give a CalderaConfig"):
        fresh = build_lm(TINY, seed=2)
        compress_model(fresh, collect_hessians(fresh, calib), "caldera", lambda key, shape: 4 if "down" in key else CalderaConfig(rank=2, **FAST))
    assert not any(isinstance(m, CalderaLinear) for m in fresh.modules())  # the last layer's bad config: nothing replaced


@pytest.mark.parametrize("method", ["rtn", "gptq"])
def test_scalar_baselines_replace_every_linear(method):
    model = build_lm(TINY, seed=1)
    calib = torch.randint(0, 256, (8, 16), generator=torch.Generator().manual_seed(0))
    hess = collect_hessians(model, calib)
    w0 = model.model.layers[0].mlp.up_proj.weight.detach().clone()
    reports = compress_model(model, hess, method, bits=2)
    w1 = model.model.layers[0].mlp.up_proj.weight.detach()
    assert not torch.equal(w0, w1)
    assert all(len(torch.unique(w1[i])) <= 4 for i in range(w1.shape[0]))  # 2-bit grid per row
    assert average_bits_of(reports) == pytest.approx(2 + 16 / 32, rel=0.3)


def test_gptq_baseline_beats_rtn_on_the_proxy():
    model = build_lm(TINY, seed=2)
    calib = torch.randint(0, 256, (16, 16), generator=torch.Generator().manual_seed(0))
    hess = collect_hessians(model, calib)
    import copy

    err = {m: sum(r.error for r in compress_model(copy.deepcopy(model), hess, m, bits=2)) for m in ("rtn", "gptq")}
    assert err["gptq"] < err["rtn"]


def test_lora_trains_only_l_and_r():
    model = build_lm(TINY, seed=3)
    g = torch.Generator().manual_seed(0)
    calib = torch.randint(0, 256, (8, 16), generator=g)
    compress_model(model, collect_hessians(model, calib), "caldera", CalderaConfig(rank=4, ft_rank=4, outer_iters=1, lr_iters=1, tune_iters=0))
    frozen = {k: v.clone() for k, v in model.state_dict().items() if not (k.endswith("l_ft") or k.endswith("r_ft"))}
    text = torch.cat([torch.arange(40)] * 100)  # a learnable repeating pattern
    losses = finetune_lora(model, text, 16, steps=20, lr=1e-2, batch=4)
    assert sum(losses[-5:]) < sum(losses[:5])
    for k, v in model.state_dict().items():
        if k in frozen:
            assert torch.equal(v, frozen[k]), k
    assert len(lora_parameters(model)) == 14


def test_gpu_preset_builds_and_compresses_one_layer_on_cpu():
    from rizzlib.caldera.presets import preset

    cfg = preset("gpu")
    ccfg = cfg.caldera_config(cfg.ranks[-1])
    assert ccfg.rank == 128 and ccfg.ft_rank == 64
    # one matrix of SmolLM2-360M's attention width (960 = 60 * 16 needs a Paley order-60 Hadamard)
    small = dataclasses.replace(ccfg, rank=8, ft_rank=4, outer_iters=1, lr_iters=1, tune_iters=0)
    g = torch.Generator().manual_seed(0)
    w = torch.randn(16, 960, generator=g)
    x = torch.randn(1000, 960, generator=g)
    res = caldera(w, x.T @ x / 1000, small)
    mod = CalderaLinear.from_result(res)
    assert torch.allclose(mod(x[:3]), x[:3] @ res.reconstruct().T, atol=1e-3)


def test_bad_input_is_a_clear_error(tmp_path):
    model = build_lm(TINY, seed=5)
    with pytest.raises(ValueError, match="method"):
        compress_model(model, {}, "awq")
    with pytest.raises(ValueError, match="cfg must be"):
        compress_model(model, {}, "caldera")
    with pytest.raises(ValueError, match="missing"):
        compress_model(model, {}, "rtn")
    with pytest.raises(ValueError, match="no LoRA"):
        finetune_lora(model, torch.arange(100), 16, 1)
    from rizzlib.caldera.kernels import triton_matmul

    with pytest.raises(ValueError, match="q_bits must be 2, 3 or 4"):
        triton_matmul(torch.zeros(1, 8), torch.zeros(1, 1, 2, dtype=torch.int16), 5, 1.0, None, None)
    with pytest.raises(ValueError, match="codes must hold 2 stage"):
        triton_matmul(torch.zeros(1, 8), torch.zeros(1, 1, 1, dtype=torch.int16), 4, 1.0, None, None)
    with pytest.raises(ValueError, match="codes must be"):
        fused_matmul_cpu(torch.zeros(1, 8), (torch.zeros(1, 1, dtype=torch.int16), torch.zeros(2, 1, dtype=torch.uint8)), 3, 1.0, None, None)


@pytest.mark.parametrize("q_bits,lr_bits", [(2, 4), (4, 2), (4, 4), (3, 3), (3, 4), (2, 3)])
def test_stored_buffers_match_the_bit_accounting(q_bits, lr_bits):
    from rizzlib.caldera.bits import BitBudget, matrix_bits

    res, mod = layer(m=32, n=64, rank=8, q_bits=q_bits, lr_bits=lr_bits, ft_rank=2)
    sd = mod.state_dict()
    code_keys = [k for k in sd if k.split("_res")[0] in ("q_codes", "l_codes", "r_codes")]
    assert len(code_keys) == (1 if q_bits == 2 else 2) + 2 * (1 if lr_bits == 2 else 2)
    code_bits = sum(sd[k].numel() * 8 * sd[k].element_size() for k in code_keys)
    float_bits = sum(sd[k].numel() * 8 * sd[k].element_size() for k in ("l_ft", "r_ft"))  # fp32 LoRA directions
    sign_bits = sd["su"].numel() + sd["sv"].numel()  # stored as floats, one bit of information each
    scalar_bits = 32 * sd["scales"].numel()
    budget = BitBudget(q_bits, 8, lr_bits, lr_bits, 2, ft_bits=32, sign_bits=1, scalars=4)
    assert code_bits + float_bits + sign_bits + scalar_bits == matrix_bits(32, 64, budget)
    assert code_bits == 32 * 64 * q_bits + 6 * (32 + 64) * lr_bits


def test_gpt2_conv1d_layers_are_compressed_saved_and_loaded(tmp_path):
    """GPT-2 keeps its linears as Conv1D (weight stored in x out): every one is found, compressed
    from its transposed weight, and the model saves and loads back into the GPT-2 architecture."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=256, n_positions=16, n_embd=32, n_layer=1, n_head=2)).eval()
    g = torch.Generator().manual_seed(0)
    calib, test = torch.randint(0, 256, (8, 16), generator=g), torch.randint(0, 256, (4, 16), generator=g)
    hess = collect_hessians(model, calib)
    assert set(hess) == {"0.attn.c_attn", "0.attn.c_proj", "0.mlp.c_fc", "0.mlp.c_proj"}
    assert hess["0.mlp.c_proj"].shape == (128, 128) and hess["0.attn.c_attn"].shape == (32, 32)
    c_fc = model.transformer.h[0].mlp.c_fc
    x = torch.randn(5, 32, generator=g)
    cfg = CalderaConfig(rank=4, lr_bits=16, **FAST)
    with torch.no_grad():
        y_dense = c_fc(x)
        by_hand = caldera(c_fc.weight.detach().T.float(), hess["0.mlp.c_fc"], cfg)  # the (out, in) weight
        y_hand = x @ by_hand.reconstruct().T + c_fc.bias
    reports = compress_model(model, hess, "caldera", cfg)
    assert {r.name: r.shape for r in reports} == {"0.attn.c_attn": (96, 32), "0.attn.c_proj": (32, 32), "0.mlp.c_fc": (128, 32), "0.mlp.c_proj": (32, 128)}
    new = model.transformer.h[0].mlp.c_fc
    assert isinstance(new, CalderaLinear)
    with torch.no_grad():  # close to the dense layer (2-bit Q + rank 4), and far closer than a zero map
        err = (new(x) - y_dense).norm() / y_dense.norm()
        assert torch.allclose(new(x), y_hand, atol=1e-4)
    assert err < 0.5
    ppl = perplexity(model, test)
    path = tmp_path / "gpt2.safetensors"
    save_compressed(model, path)
    loaded = load_compressed(path)
    assert type(loaded).__name__ == "GPT2LMHeadModel" and perplexity(loaded, test) == pytest.approx(ppl, rel=1e-5)
