"""On-disk storage of compressed models: packed signs, per-stage code widths, fp16 LoRA directions,
and a file whose size is exactly what the bit accounting says (spec §1.4, §6.6)."""

import json
import struct

import pytest
import torch

from rizzlib.caldera.compress import (
    average_bits_of,
    collect_hessians,
    compress_model,
    load_compressed,
    lora_parameters,
    save_compressed,
)
from rizzlib.caldera.decompose import CalderaConfig
from rizzlib.caldera.lm import LMConfig, build_lm
from rizzlib.caldera.module import CalderaLinear
from rizzlib.caldera.storage import file_tensors, memory_tensors, pack_signs, unpack_signs

TINY = LMConfig(d_model=32, n_layers=1, n_heads=2, d_ff=64, ctx=16)
FAST = dict(outer_iters=1, lr_iters=1, tune_iters=0)


@pytest.mark.parametrize("n", [1, 7, 8, 9, 64, 100])
def test_sign_packing_round_trips(n):
    for seed in range(5):
        s = torch.randint(0, 2, (n,), generator=torch.Generator().manual_seed(seed)).float() * 2 - 1
        packed = pack_signs(s)
        assert packed.dtype == torch.uint8 and packed.numel() == (n + 7) // 8
        assert torch.equal(unpack_signs(packed, n), s)
    assert torch.equal(pack_signs(torch.tensor([-1.0, 1, 1, 1, 1, 1, 1, -1, -1])), torch.tensor([129, 1], dtype=torch.uint8))


def test_sign_packing_rejects_bad_input():
    with pytest.raises(ValueError, match="s must be"):
        pack_signs(torch.tensor([1.0, 0.5]))
    with pytest.raises(ValueError, match="packed must be"):
        unpack_signs(torch.zeros(2, dtype=torch.uint8), 17)
    with pytest.raises(ValueError, match="signs must be"):
        memory_tensors({}, {}, "int4")


def test_fine_tuned_signs_are_kept_in_fp16():
    state = {"su": torch.tensor([0.9, -1.1]), "sv": torch.tensor([1.0, -1.0]), "l_ft": torch.randn(2, 1), "r_ft": torch.randn(1, 2)}
    stored, signs = file_tensors(state)
    assert signs == "fp16" and stored["su"].dtype == torch.float16 and stored["l_ft"].dtype == torch.float16
    back = memory_tensors(stored, {"su": 2, "sv": 2}, signs)
    assert torch.allclose(back["su"], state["su"], atol=1e-3) and back["su"].dtype == torch.float32


def _model_and_reports(seed, **kw):
    model = build_lm(TINY, seed=seed)
    calib = torch.randint(0, 256, (8, 16), generator=torch.Generator().manual_seed(seed))
    reports = compress_model(model, collect_hessians(model, calib), "caldera", CalderaConfig(**{**FAST, **kw}))
    return model, reports


def _data_bytes(path):
    """(bytes of tensor data, header length) of a safetensors file."""
    raw = path.read_bytes()
    (hlen,) = struct.unpack("<Q", raw[:8])
    json.loads(raw[8 : 8 + hlen])
    return len(raw) - 8 - hlen, hlen


@pytest.mark.parametrize("kw", [dict(rank=8, q_bits=3, lr_bits=3, ft_rank=2), dict(rank=8, q_bits=2, lr_bits=4, ft_rank=0), dict(rank=4, q_bits=4, lr_bits=16, ft_rank=1)])
def test_file_size_is_what_the_accounting_says(tmp_path, kw):
    model, reports = _model_and_reports(7, **kw)
    path = tmp_path / "m.safetensors"
    save_compressed(model, path)
    compressed = {n + "." for n, m in model.named_modules() if isinstance(m, CalderaLinear)}
    plain = sum(v.numel() * v.element_size() for k, v in model.state_dict().items() if not any(k.startswith(p) for p in compressed))
    counted = average_bits_of(reports) * sum(r.shape[0] * r.shape[1] for r in reports) / 8
    data, header = _data_bytes(path)
    assert data - plain == pytest.approx(counted, abs=1e-6)  # every compressed byte is a counted bit
    assert header < 16 * 1024
    # the stored 3-bit second stage is one byte per 8 weights, not two
    if kw["q_bits"] == 3:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            assert f.get_tensor("model.layers.0.mlp.up_proj.q_codes_res").dtype == torch.uint8
            assert f.get_tensor("model.layers.0.mlp.up_proj.su").dtype == torch.uint8


@pytest.mark.parametrize("kw", [dict(rank=8, q_bits=3, lr_bits=3, ft_rank=2), dict(rank=4, q_bits=4, lr_bits=16, ft_rank=1)])
def test_save_load_round_trip_every_width(tmp_path, kw):
    model, _ = _model_and_reports(8, **kw)
    path = tmp_path / "m.safetensors"
    save_compressed(model, path)
    loaded = load_compressed(path)
    with torch.no_grad():  # saving rounds the 16-bit fields to fp16 once; everything else is exact
        for mod in model.modules():
            if isinstance(mod, CalderaLinear):
                for t in (mod.l_ft, mod.r_ft, *(getattr(mod, k) for k in ("l_frozen", "r_frozen") if hasattr(mod, k))):
                    t.copy_(t.half().float())
                mod._cache = None
        a = {k: v for k, v in model.state_dict().items()}
        b = loaded.state_dict()
        assert a.keys() == b.keys()
        for k in a:
            assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k
        x = torch.randint(0, 256, (2, 16), generator=torch.Generator().manual_seed(0))
        assert torch.equal(model(input_ids=x).logits, loaded(input_ids=x).logits)
    assert len(lora_parameters(loaded)) == 14


def test_old_layout_is_refused(tmp_path):
    from safetensors.torch import save_file

    model, _ = _model_and_reports(9, rank=0)
    path = tmp_path / "m.safetensors"
    save_compressed(model, path)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta, state = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    save_file(state, str(tmp_path / "old.safetensors"), metadata={**meta, "layout_version": "1"})
    with pytest.raises(ValueError, match="code layout '1'"):
        load_compressed(tmp_path / "old.safetensors")
