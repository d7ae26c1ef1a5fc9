"""Generate-then-filter: parsing, Likert expectation, filter monotonicity, bookkeeping, judges, generator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rizzlib.icl.augment import (
    JUDGE_HEADER,
    JUDGE_QUESTION,
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
from rizzlib.icl.prompt import build_prefix, synthetic_template
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


def test_likert_score_is_the_mean_expected_rating_of_uncached_forwards():
    import dataclasses

    tok = bpe_tokenizer()
    model = tiny_llama(len(tok), seed=3)
    refs = [Example(f"q{i}", str(i % 5)) for i in range(12)]
    cands = [Example("q", "1"), Example("rain", "2"), Example("the cat", "5")]
    got = LikertJudge(model, tok, QA_TEMPLATE, n_judgements=2, n_refs=4).score(cands, refs, np.random.default_rng(7))
    rng = np.random.default_rng(7)  # replay the judge's draws of references
    header = dataclasses.replace(QA_TEMPLATE, header=JUDGE_HEADER)
    ratings = rating_token_ids(tok)
    want = np.zeros(len(cands))
    for _ in range(2):
        chosen = [refs[i] for i in rng.choice(len(refs), size=4, replace=False)]
        prefix = build_prefix(tok, header, chosen)
        for j, c in enumerate(cands):
            q = tok.encode(JUDGE_QUESTION.format(demo=QA_TEMPLATE.render_demo(c).strip()), add_special_tokens=False)
            with torch.no_grad():
                last = model(input_ids=torch.tensor([list(prefix) + q])).logits[0, -1].double()
            p = torch.softmax(last[ratings], dim=0).numpy()
            want[j] += float(np.dot(p, np.arange(1, 6))) / 2
    np.testing.assert_allclose(got, want, atol=1e-5)
    with pytest.raises(ValueError, match="n_refs"):
        LikertJudge(model, tok, QA_TEMPLATE, n_judgements=1, n_refs=13).score(cands, refs, np.random.default_rng(0))


def test_generator_applies_the_task_check_and_counts_its_rejections(monkeypatch):
    import importlib

    aug = importlib.import_module("rizzlib.icl.augment")  # the package re-exports the function augment under that name

    tok = make_tokenizer()
    model = tiny_llama(len(tok), seed=6)
    task = get_task("arith")
    ep = sample_episode(task, np.random.default_rng(1), 30, 0)
    t = synthetic_template("arith")
    xs = [f"{a} {b}" for a in range(3) for b in range(3)]
    # scripted answers, one per input: well-formed, parseable but not a digit, unparseable (no answer)
    script = [["7", ";"], ["L1", ";"], [";"]] * 3
    monkeypatch.setattr(aug, "greedy_generate", lambda model, prefix, queries, *a, **k: [tok.convert_tokens_to_ids(script[i]) for i in range(len(queries))])

    def run(check):
        return generate_candidates(model, tok, t, ep.pool, 20, np.random.default_rng(2), n_demos=8, max_new_tokens=3, inputs=xs, check=check)

    plain, checked, none = run(None), run(task.is_well_formed), run(lambda ex: False)
    assert plain.n_calls == checked.n_calls == none.n_calls == 9
    assert [c.y for c in plain.candidates] == ["7", "L1"] * 3 and plain.n_unparseable == 3
    assert checked.candidates == tuple(c for c in plain.candidates if task.is_well_formed(c))
    assert [c.x for c in checked.candidates] == xs[0::3] and checked.n_unparseable == 6
    assert none.candidates == () and none.n_unparseable == 9
