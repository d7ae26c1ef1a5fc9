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


def two_rank_rows(k32_ppl):
    out = rows(5.5, 5.4)
    out.insert(5, {"method": "CALDERA k=32", "ppl": k32_ppl, "bits": 2.6})
    out[-1]["method"] = "CALDERA k=32 + LoRA (top 8 directions)"
    return out


def test_rank_rows_sorts_by_rank_and_skips_fine_tuned_rows():
    from rizzlib.caldera.table import rank_rows

    mixed = two_rank_rows(5.3)
    mixed.insert(3, mixed.pop(5))  # k=32 before rank 0 in the list
    assert [k for k, _ in rank_rows(mixed)] == [0, 16, 32]
    assert [r["ppl"] for _, r in rank_rows(mixed)] == [6.0, 5.5, 5.3]


def test_marginal_rank_verdicts_follow_the_numbers():
    # rank 0 (2.0, 6.0) -> k=16 (2.3, 5.5): 5/3 per bit; k=16 -> k=32 (2.6, 5.4): 1/3 per bit
    said = verdicts(two_rank_rows(5.4))
    assert said[0].startswith("CALDERA k=16 closes 50%") and "in the paper k=64 closed 27%" in said[0]
    assert said[1].startswith("CALDERA k=32 closes 60%") and "0.600 extra bits" in said[1] and "k=128 closed 47%" in said[1]
    assert "from k=16 to k=32 costs 0.300 more bits" in said[2] and "0.333 lower per extra bit, against 1.667" in said[2]
    assert "the returns diminish" in said[2] and "k=64 to k=128 bought 6.1 per extra bit, against 8.5" in said[2]
    assert "the returns grow" in verdicts(two_rank_rows(4.5))[2]  # 1.0 / 0.3 = 3.333 per bit > 1.667
    assert "0.333 higher per extra bit, against 1.667 lower" in verdicts(two_rank_rows(5.6))[2]
    assert "does not pay for its bits at all" in verdicts(two_rank_rows(5.6))[2]
    worse = two_rank_rows(5.0)
    worse[4]["ppl"] = 6.5  # k=16 worse than rank 0, k=32 better than k=16
    assert "pays where the smaller did not" in verdicts(worse)[2]


def test_frontier_brute_force_and_verdicts():
    import itertools

    from rizzlib.caldera.table import frontier, frontier_verdicts

    g = torch.Generator().manual_seed(3)
    for _ in range(20):
        pts = [{"method": f"m{i}", "bits": float(b), "ppl": float(p)}
               for i, (b, p) in enumerate(zip(torch.randint(2, 6, (7,), generator=g), torch.randint(5, 9, (7,), generator=g)))]  # fmt: skip
        pts.append({"method": "fp32", "bits": 32.0, "ppl": 1.0})
        front = frontier(pts)
        def beats(o, r):
            return (o["bits"], o["ppl"]) != (r["bits"], r["ppl"]) and o["bits"] <= r["bits"] and o["ppl"] <= r["ppl"]

        for r, o in itertools.product(pts[:-1], pts[:-1]):  # a frontier row is never beaten
            if any(f is r for f in front):
                assert not beats(o, r)
        for r in pts[:-1]:  # and every other row is
            if not any(f is r for f in front):
                assert any(beats(o, r) for o in pts[:-1])
        assert all(f["method"] != "fp32" for f in front) and front == sorted(front, key=lambda r: (r["bits"], r["ppl"]))
    said = frontier_verdicts(two_rank_rows(5.4))  # GPTQ 2-bit 7.0 at 2.1 bits, k=16 5.5 at 2.3, k=32 5.4 at 2.6
    assert said[0].startswith("The rows that no other row beats") and "CALDERA k=16 (2.300 bits, 5.500)" in said[0]
    assert "CALDERA k=32 (2.600 bits, 5.400) is on that frontier." in said
    assert "(3.000 bits, 5.400) is beaten by CALDERA k=32 (2.600" in said[-2]  # same ppl as k=32, more bits
    assert said[-1].startswith("So on this model CALDERA k=16 and CALDERA k=32 are worth their bits")
    cheap = two_rank_rows(5.4) + [{"method": "GPTQ 3-bit", "ppl": 5.0, "bits": 2.2}]
    said = frontier_verdicts(cheap)
    assert "CALDERA k=16 (2.300 bits, 5.500) is beaten by GPTQ 3-bit (2.200 bits, 5.000)." in said
    assert said[-1].startswith("So on this model no rank of CALDERA without fine-tuning is worth its bits")


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


def test_every_preset_has_two_nonzero_ranks_and_bad_settings_are_clear_errors():
    from rizzlib.caldera.presets import PRESETS, ChapterConfig

    for scale in ("smoke", "cpu", "gpu"):
        cfg = PRESETS(scale)
        assert 0 in cfg.ranks and len([k for k in cfg.ranks if k > 0]) >= 2, scale
        assert cfg.caldera_config(0, q_bits=3).q_bits == 3 and cfg.caldera_config(max(cfg.ranks)).ft_rank == cfg.ft_rank
    assert PRESETS("gpu").ranks == (0, 64, 128)  # the paper's two smallest Llama-2 7B ranks
    with pytest.raises(ValueError, match="ranks must not repeat"):
        ChapterConfig(ranks=(0, 16, 16))
    with pytest.raises(ValueError, match="ranks\\[i\\]"):
        ChapterConfig(ranks=(0, -1))
    with pytest.raises(ValueError, match="wide_q_bits\\[i\\]"):
        ChapterConfig(wide_q_bits=(2,))
