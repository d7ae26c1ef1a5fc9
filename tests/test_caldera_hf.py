"""The ``gpu`` preset's loading path, offline: ``from_pretrained`` on a tiny random Llama saved to a
temporary folder, ``datasets.load_dataset`` on a tiny local copy of WikiText-2 with the hub's schema
and layout, and the whole-model table run end to end on them."""

import math

import pytest
import torch

from rizzlib.caldera.data import perplexity, windows
from rizzlib.caldera.lm import LMConfig, build_lm

TINY = LMConfig(d_model=32, n_layers=1, n_heads=2, d_ff=64, ctx=16)
WORDS = "the of and in to a was is for on as by with that from at his an were are which it".split()


def _lines(split: str, n: int) -> list[str]:
    """WikiText-style lines: headings, paragraphs and the blank lines between them."""
    g = torch.Generator().manual_seed(len(split))
    out = []
    for i in range(n):
        if i % 5 == 0:
            out.append(f" = {split.title()} section {i} = \n")
        elif i % 5 == 4:
            out.append("")
        else:
            idx = torch.randint(0, len(WORDS), (12,), generator=g).tolist()
            out.append(" " + " ".join(WORDS[j] for j in idx) + " . \n")
    return out


@pytest.fixture(scope="module")
def wikitext_dir(tmp_path_factory):
    """A folder laid out like the hub's WikiText repo: {config}/{split}-00000-of-00001.parquet + README configs."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    root = tmp_path_factory.mktemp("wikitext")
    (root / "wikitext-2-raw-v1").mkdir()
    lines = {"train": _lines("train", 120), "validation": _lines("validation", 30), "test": _lines("test", 60)}
    for split, text in lines.items():
        pq.write_table(pa.table({"text": pa.array(text, pa.string())}), root / "wikitext-2-raw-v1" / f"{split}-00000-of-00001.parquet")
    (root / "README.md").write_text(
        "---\nconfigs:\n- config_name: wikitext-2-raw-v1\n  data_files:\n"
        + "".join(f"  - split: {s}\n    path: wikitext-2-raw-v1/{s}-*\n" for s in lines)
        + "---\n"
    )
    return root, lines


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny random Llama and a character-level tokenizer saved with ``save_pretrained``."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    path = tmp_path_factory.mktemp("tiny_llama")
    model = build_lm(TINY, seed=4)
    model.save_pretrained(path)
    vocab = {chr(i): i - 32 for i in range(32, 127)}
    vocab["[UNK]"] = 95
    tk = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]").save_pretrained(path)
    return path, model


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network and a throw-away datasets cache."""
    datasets = pytest.importorskip("datasets")
    for var in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(var, "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True, raising=False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache", raising=False)


def test_from_pretrained_on_a_tiny_random_llama(model_dir, offline):
    from rizzlib.caldera.hf import load_causal_lm, text_tokens

    path, model = model_dir
    loaded, tok = load_causal_lm(str(path))
    ids = text_tokens(tok, "def f(x): return x")
    assert ids.shape == (18,) and not loaded.training
    with torch.no_grad():
        assert torch.allclose(loaded(input_ids=ids[None]).logits, model(input_ids=ids[None]).logits, atol=1e-6)
    with pytest.raises(OSError, match="could not be loaded"):
        load_causal_lm(str(path / "missing"))


@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_wikitext_loader_reads_the_hub_layout(wikitext_dir, offline, split, tmp_path):
    from rizzlib.caldera.hf import wikitext2_text

    root, lines = wikitext_dir
    assert wikitext2_text(split, str(root), cache_dir=str(tmp_path / "c")) == "\n\n".join(lines[split])


def test_wikitext_loader_errors(wikitext_dir, offline, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rizzlib.caldera.hf import wikitext2_text

    with pytest.raises(ValueError, match="split"):
        wikitext2_text("dev", str(wikitext_dir[0]))
    bad = tmp_path / "bad"
    bad.mkdir()
    pq.write_table(pa.table({"content": ["a", "b"]}), bad / "test-00000-of-00001.parquet")
    with pytest.raises(ValueError, match="WikiText's schema"):
        wikitext2_text("test", str(bad), name=None, cache_dir=str(tmp_path / "c"))


def test_gpu_data_path_and_table_end_to_end(wikitext_dir, model_dir, offline):
    """chapter_data + whole_model_table exactly as the gpu preset runs them, on the tiny stand-ins."""
    from rizzlib.caldera.hf import load_causal_lm, text_tokens
    from rizzlib.caldera.presets import ChapterConfig
    from rizzlib.caldera.table import chapter_data, whole_model_table

    root, lines = wikitext_dir
    path, model = model_dir
    cfg = ChapterConfig(model=str(path), dataset=str(root), ctx=16, calib_windows=4, eval_windows=6, ranks=(0, 8),
                        outer_iters=1, lr_iters=1, tune_iters=0, ft_rank=2, lora_steps=2, rht_ft_steps=2)  # fmt: skip
    data = chapter_data(cfg)
    _, tok = load_causal_lm(str(path))
    test_ids = text_tokens(tok, "\n\n".join(lines["test"]))
    assert torch.equal(data["test"], windows(test_ids, 16, 6))
    assert torch.equal(data["train"], text_tokens(tok, "\n\n".join(lines["train"])))
    assert data["calib"].shape == (4, 16)
    with torch.no_grad():
        assert torch.allclose(data["model"](input_ids=data["test"]).logits, model(input_ids=data["test"]).logits, atol=1e-6)
    rows = whole_model_table(cfg, data, log=None)
    by = {r["method"]: r for r in rows}
    ft, lora = "CALDERA k=8 + RHT-FT", "CALDERA k=8 + RHT-FT + LoRA (top 2 directions)"
    wide = {"GPTQ 3-bit", "LDLQ + E8P-RVQ 3-bit (QuIP#, no FT)"}
    assert set(by) == {"fp32", "RTN 2-bit", "GPTQ 2-bit", "LDLQ + E8P (QuIP#, no FT)", "CALDERA k=8", ft, lora} | wide
    # 3-bit Q: E8P-RVQ stores 3 bits a weight plus its scalars; GPTQ 3 bits plus a 16-bit scale per row
    assert by["LDLQ + E8P-RVQ 3-bit (QuIP#, no FT)"]["bits"] - by["LDLQ + E8P (QuIP#, no FT)"]["bits"] == pytest.approx(1.0)
    assert by["GPTQ 3-bit"]["bits"] - by["GPTQ 2-bit"]["bits"] == pytest.approx(1.0)
    assert by["fp32"]["ppl"] == pytest.approx(perplexity(model, windows(test_ids, 16, 6)), rel=1e-6)
    assert all(math.isfinite(r["ppl"]) and r["ppl"] > 1 for r in rows)
    assert by["LDLQ + E8P (QuIP#, no FT)"]["bits"] < by["CALDERA k=8"]["bits"] < by[ft]["bits"] < by[lora]["bits"]
    # fine-tuned signs: 15 more bits for each of the m + n entries (4 attention 32x32, 3 MLP 32x64 / 64x32)
    assert by[ft]["bits"] - by["CALDERA k=8"]["bits"] == pytest.approx(15 * (4 * 64 + 3 * 96) / (4 * 1024 + 3 * 2048))
