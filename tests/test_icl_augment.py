"""Generate-then-filter: parsing, Likert expectation, filter monotonicity, bookkeeping, judges, generator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rizzlib.icl.augment import (
    LikertJudge,
    LogProbJudge,
    augment,
    filter_mask,
    generate_candidates,
    likert_expectation,
    parse_demo,
    precision_recall,
    rating_token_ids,
)
from rizzlib.icl.hf import QA_TEMPLATE
from rizzlib.icl.prompt import synthetic_template
from rizzlib.icl.tasks import Example, get_task, make_tokenizer, sample_episode
from rizzlib.icl.toy import bpe_tokenizer, tiny_llama

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_parse_demo_inverts_rendering():
    for t in (synthetic_template("cipher"), QA_TEMPLATE):
        for ex in (Example("a b c", "A B C"), Example("what is 2 + 2?", "4")):
            assert parse_demo(t, t.render_demo(ex)) == ex
    t = synthetic_template("cipher")
    assert parse_demo(t, "a b A B ;") is None
    assert parse_demo(t, " → A ;") is None


@pytest.mark.parametrize("s", range(5))
def test_likert_expectation_is_s_when_all_mass_is_on_s_and_within_1_5(s):
    ids = [3, 7, 1, 9, 4]
    logits = torch.full((11,), -1e4)
    logits[ids[s]] = 0.0
    assert float(likert_expectation(logits, ids)) == pytest.approx(s + 1)
    rnd = torch.randn(20, 11) * 5
    e = likert_expectation(rnd, ids)
    assert e.shape == (20,) and bool(((e >= 1) & (e <= 5)).all())
    uniform = torch.zeros(11)
    assert float(likert_expectation(uniform, ids)) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="distinct"):
        likert_expectation(uniform, [1, 1])


@pytest.mark.parametrize("seed", range(10))
def test_filter_is_monotone_in_the_threshold_and_the_median_keeps_half(seed):
    rng = np.random.default_rng(seed)
    scores = rng.random(int(rng.integers(1, 50)) * 2)
    taus = np.sort(rng.random(6))
    masks = [filter_mask(scores, t) for t in taus]
    for lo, hi in zip(masks, masks[1:]):
        assert np.all(hi <= lo)  # kept(tau2) is a subset of kept(tau1)
    assert filter_mask(scores).sum() == len(scores) // 2  # no ties: exactly half
    tied = np.round(scores * 3) / 3
    assert filter_mask(tied).sum() >= len(tied) / 2
    with pytest.raises(ValueError, match="non-empty"):
        filter_mask(np.array([]))


def test_augment_keeps_every_original_and_no_duplicates():
    orig = [Example("a", "A"), Example("b", "B")]
    cands = [Example("c", "C"), Example("a", "A"), Example("c", "C"), Example("d", "X")]
    out = augment(orig, cands, np.array([True, True, True, False]))
    assert out == orig + [Example("c", "C")]
    assert len(set(out)) == len(out)
    with pytest.raises(ValueError, match="keep must have shape"):
        augment(orig, cands, np.array([True]))


def test_precision_recall():
    kept = np.array([1, 1, 0, 0, 1], bool)
    correct = np.array([1, 0, 1, 0, 1], bool)
    assert precision_recall(kept, correct) == (pytest.approx(2 / 3), pytest.approx(2 / 3))


def test_generator_and_logprob_judge_run_on_a_tiny_model():
    tok = make_tokenizer()
    model = tiny_llama(len(tok), seed=2)
    task = get_task("keycls")
    ep = sample_episode(task, np.random.default_rng(0), 40, 0)
    t = synthetic_template("keycls")
    gen = generate_candidates(model, tok, t, ep.pool, 6, np.random.default_rng(1), n_demos=8, max_new_tokens=8)
    again = generate_candidates(model, tok, t, ep.pool, 6, np.random.default_rng(1), n_demos=8, max_new_tokens=8)
    assert gen == again
    assert gen.n_calls == len(gen.candidates) + gen.n_unparseable + gen.n_duplicate + gen.n_copied
    assert not set(gen.candidates) & set(ep.pool)
    cands = list(gen.candidates) or [Example("k1 d0 d1 d2", "L1")]
    judge = LogProbJudge(model, tok, t, n_judgements=2, n_refs=8)
    s = judge.score(cands, ep.pool, np.random.default_rng(0))
    assert s.shape == (len(cands),) and np.all(s <= 0)
    np.testing.assert_allclose(s, judge.score(cands, ep.pool, np.random.default_rng(0)))


def test_likert_judge_reads_ratings_from_a_tiny_chat_model():
    tok = bpe_tokenizer()
    model = tiny_llama(len(tok), seed=3)
    assert len(rating_token_ids(tok)) == 5
    refs = [Example(f"q{i}", str(i % 5)) for i in range(12)]
    judge = LikertJudge(model, tok, QA_TEMPLATE, n_judgements=2, n_refs=4)
    s = judge.score([Example("q", "1"), Example("r", "2")], refs, np.random.default_rng(0))
    assert s.shape == (2,) and np.all((s >= 1) & (s <= 5))


def test_generator_labels_given_inputs():
    tok = make_tokenizer()
    model = tiny_llama(len(tok), seed=5)
    ep = sample_episode(get_task("arith"), np.random.default_rng(0), 30, 0)
    xs = [f"{a} {b}" for a in range(3) for b in range(3)]
    gen = generate_candidates(model, tok, synthetic_template("arith"), ep.pool, 5, np.random.default_rng(2), n_demos=8, max_new_tokens=3, inputs=xs)
    assert gen.n_calls <= len(xs)
    assert all(c.x in xs for c in gen.candidates)
