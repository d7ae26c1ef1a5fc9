"""The shipped stdlib byte LM: its recorded held-out perplexity is reproduced; the corpus split."""

import pytest
import torch

from rizzlib.caldera.data import bits_per_byte, perplexity, split_of, stdlib_corpus, to_tokens, windows
from rizzlib.caldera.lm import CHECKPOINT, LMConfig, build_lm, load_lm


def test_checkpoint_reproduces_recorded_perplexity():
    if not CHECKPOINT.is_file():
        pytest.fail(f"missing {CHECKPOINT}: run scripts/caldera_train_lm.py")
    assert CHECKPOINT.stat().st_size < 4 * 2**20
    torch.set_num_threads(1)
    model, cfg, extra = load_lm(CHECKPOINT)
    corpus = stdlib_corpus(0)
    if corpus.digest("test") != extra["test_digest"]:
        pytest.skip(f"this Python's stdlib differs from the one the checkpoint was evaluated on (Python {extra['python']})")
    ppl = perplexity(model, windows(to_tokens(corpus.test), cfg.ctx, extra["eval_windows"]))
    assert ppl == pytest.approx(extra["test_ppl"], rel=1e-4)
    assert ppl < 8.0  # far below the 256 of a uniform guess over bytes


def test_split_is_by_file_and_deterministic():
    corpus = stdlib_corpus(0)
    files = corpus.files
    assert not set(files["train"]) & set(files["test"]) and not set(files["calib"]) & set(files["test"])
    assert all(split_of(f, 0) == "test" for f in files["test"])
    assert len(files["test"]) > 20 and len(corpus.test) > 100_000
    assert corpus.digest("test") == stdlib_corpus(0).digest("test")
    assert split_of("os.py", 0) == split_of("os.py", 0)


def test_windows_perplexity_and_errors():
    t = to_tokens(b"abcdefgh" * 10)
    w = windows(t, 8, 3)
    assert w.shape == (3, 8) and bytes(w[1].tolist()) == b"abcdefgh"
    with pytest.raises(ValueError, match="n must be"):
        windows(t, 8, 11)
    with pytest.raises(ValueError, match="ppl"):
        bits_per_byte(0.5)
    model = build_lm(LMConfig(d_model=16, n_layers=1, n_heads=2, d_ff=32, ctx=8))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    assert perplexity(model, w) == pytest.approx(256.0, rel=1e-5)  # all-zero logits: uniform over bytes
    with pytest.raises(ValueError, match="n_heads"):
        LMConfig(d_model=30, n_heads=4)
