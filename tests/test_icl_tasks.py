"""Synthetic tasks, ideal learners, noise injection (exact fractions), coverage."""

from __future__ import annotations

import numpy as np
import pytest

from rizzlib.icl.experiments import hull_coverage, query_coverage
from rizzlib.icl.ideal import covered, ideal_predict
from rizzlib.icl.noise import inject_noise, n_noisy
from rizzlib.icl.tasks import (
    SRC,
    TASK_NAMES,
    VOCAB,
    Example,
    chance_accuracy,
    get_task,
    is_correct,
    make_tokenizer,
    sample_episode,
)


def test_vocabulary_round_trips_through_the_tokenizer():
    tok = make_tokenizer()
    assert len(tok) == len(VOCAB) and len(set(VOCAB)) == len(VOCAB)
    ids = tok.encode(" ".join(VOCAB), add_special_tokens=False)
    assert ids == list(range(len(VOCAB)))
    assert tok.decode(ids).split() == list(VOCAB)


@pytest.mark.parametrize("name", TASK_NAMES)
@pytest.mark.parametrize("seed", range(5))
def test_episodes_are_deterministic_well_formed_and_correct(name, seed):
    task = get_task(name)
    a = sample_episode(task, np.random.default_rng(seed), 50, 10)
    b = sample_episode(task, np.random.default_rng(seed), 50, 10)
    assert a == b
    for ex in a.pool + a.queries:
        assert task.is_well_formed(ex) and is_correct(task, ex, a)
    assert task.difficulty(a.pool).shape == (50,)


@pytest.mark.parametrize("name", TASK_NAMES)
@pytest.mark.parametrize("seed", range(10))
def test_ideal_learner_is_perfect_once_every_query_symbol_is_covered(name, seed):
    task = get_task(name)
    ep = sample_episode(task, np.random.default_rng(seed), 40, 30)
    for k in (1, 3, 10, 40):
        demos = ep.pool[:k]
        preds = ideal_predict(name, demos, [q.x for q in ep.queries])
        for q, p in zip(ep.queries, preds):
            if covered(demos, q.x, name):
                assert p == q.y


def test_ideal_cipher_guesses_an_unused_symbol_for_an_unseen_one():
    demos = [Example("a b", "C D")]
    assert ideal_predict("cipher", demos, ["a c"]) == ["C A"]


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.2, 0.3, 0.4])
def test_keycls_vote_outvotes_label_noise_below_one_half(rate):
    task = get_task("keycls")
    ok = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        ep = sample_episode(task, rng, 600, 30)
        demos = inject_noise(ep.pool, rate, rng).examples
        ok.append(np.mean([p == q.y for p, q in zip(ideal_predict("keycls", demos, [q.x for q in ep.queries]), ep.queries)]))
    assert np.mean(ok) >= 0.97


@pytest.mark.parametrize("seed", range(20))
def test_noise_fraction_is_exact_and_only_outputs_change(seed):
    rng = np.random.default_rng(seed)
    task = get_task(TASK_NAMES[seed % 3])
    ep = sample_episode(task, rng, int(rng.integers(1, 80)), 0)
    r = float(rng.random())
    if len({ex.y for ex in ep.pool}) < 2:
        return
    res = inject_noise(ep.pool, r, np.random.default_rng(seed))
    again = inject_noise(ep.pool, r, np.random.default_rng(seed))
    assert res.examples == again.examples
    assert len(res.noisy) == n_noisy(r, len(ep.pool)) == round(r * len(ep.pool))
    changed = [i for i, (a, b) in enumerate(zip(ep.pool, res.examples)) if a != b]
    assert changed == res.noisy.tolist()
    for i, j in zip(res.noisy, res.donors):
        assert i != j and res.examples[i].y == ep.pool[j].y != ep.pool[i].y
    assert [e.x for e in res.examples] == [e.x for e in ep.pool]


def test_noise_zero_is_identity_and_bad_fractions_are_errors():
    demos = (Example("a", "A"), Example("b", "B"))
    assert inject_noise(demos, 0.0, np.random.default_rng(0)).examples == demos
    full = inject_noise(demos, 1.0, np.random.default_rng(0)).examples
    assert full == (Example("a", "B"), Example("b", "A"))
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="fraction"):
            inject_noise(demos, bad, np.random.default_rng(0))
    with pytest.raises(ValueError, match="no donor"):
        inject_noise([Example("a", "A"), Example("b", "A")], 0.5, np.random.default_rng(0))


def test_query_coverage_and_hull_coverage():
    demos = [Example("a b", "A B"), Example("c", "C")]
    assert query_coverage("cipher", demos, "a c") == 1.0
    assert query_coverage("cipher", demos, "a d") == 0.5
    assert query_coverage("arith", [], "1 2") == 1.0
    rng = np.random.default_rng(0)
    pool = rng.normal(size=(200, 5))
    assert hull_coverage(pool, pool) == pytest.approx(1.0)
    sub = hull_coverage(pool[:20], pool)
    assert 0 < sub < hull_coverage(pool[:100], pool) <= 1.0
    assert hull_coverage(pool[:3], pool) == 0.0


def test_task_errors_and_chance():
    with pytest.raises(ValueError, match="task must be one of"):
        get_task("sorting")
    with pytest.raises(ValueError, match="n_pool"):
        sample_episode(get_task("arith"), np.random.default_rng(0), 0)
    assert chance_accuracy("keycls") == 1 / 8 and chance_accuracy("arith") == 0.1
    assert len(SRC) == 10


@pytest.mark.parametrize("n_terms", [1, 2, 3])
@pytest.mark.parametrize("n_offsets", [1, 10])
def test_arith_variants_answers_and_ideal_learner(n_terms, n_offsets):
    from rizzlib.icl.tasks import OffsetArithTask
    from rizzlib.icl.train import episode_sequence

    task = OffsetArithTask(n_terms=n_terms, n_offsets=n_offsets)
    for seed in range(20):
        ep = sample_episode(task, np.random.default_rng(seed), n_pool=3, n_queries=10)
        assert 0 <= ep.latent < n_offsets
        for ex in ep.pool + ep.queries:
            digits = [int(t) for t in ex.x.split()]
            assert len(digits) == n_terms and task.is_well_formed(ex)
            assert int(ex.y) == (sum(digits) + ep.latent) % 10  # brute force of the rule
        # one demo pins the offset down, so the ideal learner is perfect from 1 shot on
        assert ideal_predict("arith", ep.pool[:1], [q.x for q in ep.queries]) == [q.y for q in ep.queries]
    tok = make_tokenizer()
    ids, mask = episode_sequence("arith", tok, np.random.default_rng(0), 64, task=task)
    words = tok.convert_ids_to_tokens(ids)
    first = words.index("→")
    assert first == 2 + n_terms  # <bos> <arith> then the n_terms digits of the first demo
    with pytest.raises(ValueError, match="n_offsets"):
        OffsetArithTask(n_offsets=11)
    with pytest.raises(ValueError, match="n_terms"):
        OffsetArithTask(n_terms=0)


def test_answer_token_loss_of_a_uniform_model_is_ln_vocab():
    import math

    import torch

    from rizzlib.icl.toy import tiny_llama
    from rizzlib.icl.train import answer_token_loss

    tok = make_tokenizer()
    model = tiny_llama(len(tok), seed=0)
    with torch.no_grad():
        model.lm_head.weight.zero_()  # every logit 0: uniform over the vocabulary
    loss = answer_token_loss(model, tok, "arith", np.random.default_rng(0), n_seqs=2, seq_len=64)
    assert loss == pytest.approx(math.log(len(tok)), abs=1e-5)
    with pytest.raises(ValueError, match="n_seqs"):
        answer_token_loss(model, tok, "arith", np.random.default_rng(0), n_seqs=0)


@pytest.mark.parametrize("seed", range(10))
def test_arith_copy_learner_is_right_exactly_when_a_demo_shares_the_digits(seed):
    from rizzlib.icl.ideal import predict_arith_copy

    ep = sample_episode(get_task("arith"), np.random.default_rng(seed), n_pool=30, n_queries=30)
    for q in ep.queries:
        match = [ex for ex in ep.pool if sorted(ex.x.split()) == sorted(q.x.split())]
        got = predict_arith_copy(ep.pool, q.x)
        if match:
            assert got == q.y == match[0].y
        else:
            assert got == "0"
    assert predict_arith_copy([Example("3 4", "9")], "4 3") == "9"
