"""Verdict sentences follow the numbers; bits before and after LoRA."""

import pytest
import torch

from rizzlib.caldera.compress import average_bits_of, collect_hessians, compress_model
from rizzlib.caldera.decompose import CalderaConfig
from rizzlib.caldera.lm import LMConfig, build_lm
from rizzlib.caldera.table import PAPER_LLAMA2_7B, verdicts


def rows(k16_ppl, lora_ppl):
    return [
        {"method": "fp32", "ppl": 5.0, "bits": 32.0},
        {"method": "RTN 2-bit", "ppl": 8.0, "bits": 2.1},
        {"method": "GPTQ 2-bit", "ppl": 7.0, "bits": 2.1},
        {"method": "LDLQ + E8P (QuIP#, no FT)", "ppl": 6.0, "bits": 2.0},
        {"method": "CALDERA k=16", "ppl": k16_ppl, "bits": 2.3},
        {"method": "CALDERA k=16 + LoRA (top 8 directions)", "ppl": lora_ppl, "bits": 3.0},
    ]


def test_verdicts_follow_the_numbers():
    good = verdicts(rows(5.5, 5.4))
    assert good[0].startswith("CALDERA k=16 closes 50% of the gap") and "0.300 extra bits" in good[0]
    assert "LoRA on L and R lowers perplexity from 5.500 to 5.400" in good[1]
    assert "gives lower perplexity than GPTQ" in good[2]
    ft = rows(5.5, 5.4)
    ft.insert(5, {"method": "CALDERA k=16 + RHT-FT", "ppl": 5.45, "bits": 2.35})
    ft[-1]["method"] = "CALDERA k=16 + RHT-FT + LoRA (top 8 directions)"
    said = verdicts(ft)
    assert len(said) == 4 and "lowers perplexity from 5.500 to 5.450, for 0.050 extra bits" in said[1]
    assert "LoRA on L and R lowers perplexity from 5.450 to 5.400" in said[2]
    ft[5]["ppl"] = 5.6
    assert "does not lower perplexity from 5.500 to 5.600" in verdicts(ft)[1]
    bad = verdicts(rows(6.5, 6.7))
    assert bad[0].startswith("CALDERA k=16 does not improve on rank 0 (6.500 vs 6.000")
    assert "does not lower perplexity" in bad[1]
    assert {r["method"] for r in PAPER_LLAMA2_7B} >= {"fp16", "CALDERA k=64"}


def test_bits_before_lora_count_directions_at_their_quantized_width():
    model = build_lm(LMConfig(d_model=32, n_layers=1, n_heads=2, d_ff=64, ctx=16))
    calib = torch.randint(0, 256, (8, 16), generator=torch.Generator().manual_seed(0))
    reps = compress_model(model, collect_hessians(model, calib), "caldera", CalderaConfig(rank=8, ft_rank=4, outer_iters=1, lr_iters=1, tune_iters=0))
    shapes = [r.shape for r in reps]
    total = sum(m * n for m, n in shapes)
    before = sum(m * n * 2 + 8 * (m + n) * 4 + (m + n) + 128 for m, n in shapes) / total
    after = sum(m * n * 2 + 4 * (m + n) * 4 + 4 * (m + n) * 16 + (m + n) + 128 for m, n in shapes) / total
    assert abs(average_bits_of(reps, before_ft=True) - before) < 1e-12
    assert abs(average_bits_of(reps) - after) < 1e-12


def test_peer_verdicts_follow_the_numbers():
    from rizzlib.caldera.table import peer_verdicts

    peer = [{"method": "optimum-quanto int2 (group 128, no calibration)", "ppl": 6.5, "bits": 2.5}]
    assert "LDLQ + E8P has lower perplexity (6.000) at 2.00 bits" in peer_verdicts(rows(5.5, 5.4), peer)[0]
    peer[0]["ppl"] = 5.9
    assert "has higher perplexity" in peer_verdicts(rows(5.5, 5.4), peer)[0]


def test_torch_unpack_matches_the_bit_layout():
    from rizzlib.caldera.table import _TorchUnpack

    g = torch.Generator().manual_seed(0)
    for bits in (2, 4):
        packed = torch.randint(0, 256, (6, 5), generator=g).to(torch.uint8)
        out = _TorchUnpack.unpack(packed, bits)
        per = 8 // bits
        assert out.shape == (6 * per, 5) and out.dtype == torch.uint8
        for i in range(per):  # chunk i holds bits [b i, b i + b) of every byte, brute force per entry
            want = [[(int(v) // 2 ** (bits * i)) % 2**bits for v in row] for row in packed.tolist()]
            assert out[6 * i : 6 * (i + 1)].tolist() == want


def test_quanto_rows_on_a_tiny_model(monkeypatch):
    """The peer rows without quanto's C++ build (our torch unpack), and equal to the built extension's
    rows where that build exists on this machine."""
    pytest.importorskip("optimum.quanto")
    from optimum.quanto.library.extensions import get_extension

    from rizzlib.caldera.data import windows
    from rizzlib.caldera.presets import ChapterConfig
    from rizzlib.caldera.table import _TorchUnpack, quanto_rows, quanto_unpack_backend

    ext = get_extension("quanto_cpp")
    model = build_lm(LMConfig(d_model=128, n_layers=1, n_heads=2, d_ff=256, ctx=16))
    test = windows(torch.randint(0, 256, (160,), generator=torch.Generator().manual_seed(0)), 16)
    monkeypatch.setattr(ext, "_lib", _TorchUnpack)
    out = quanto_rows(ChapterConfig(), {"model": model, "test": test})
    assert [r["bits"] for r in out] == [2 + 64 / 128, 4 + 64 / 128]
    assert all(r["ppl"] > 1 and r["unpack"] == "torch" for r in out)
    monkeypatch.setattr(ext, "_lib", None)
    if quanto_unpack_backend() == "c++":  # the extension is built here: same perplexities
        built = quanto_rows(ChapterConfig(), {"model": model, "test": test})
        assert [r["ppl"] for r in built] == [r["ppl"] for r in out]
