"""The generate-then-filter ablation (run_augmentation): which demos each condition shows, the filter's
precision and recall against the rule, and a run on a tiny model."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from rizzlib.icl import experiments as ex
from rizzlib.icl.tasks import Example, make_tokenizer
from rizzlib.icl.toy import tiny_llama

pytestmark = pytest.mark.usefixtures("torch_one_thread")
AUG = importlib.import_module("rizzlib.icl.augment")  # the package re-exports the function augment under that name


def offset_of(demos):
    """arith's offset read off the first demo."""
    a, b = (int(t) for t in demos[0].x.split())
    return (int(demos[0].y) - a - b) % 10


@pytest.mark.parametrize("seed", range(3))
def test_each_condition_shows_the_right_demos_and_a_perfect_judge_gets_precision_and_recall_one(monkeypatch, seed):
    def scripted_generator(model, tok, tmpl, pool, n, rng, **kw):
        c, cands = offset_of(pool), []
        for x in dict.fromkeys(kw["inputs"]):  # distinct inputs, alternately right and off by one
            a, b = (int(t) for t in x.split())
            ex_ = Example(x, str((a + b + c + len(cands) % 2) % 10))
            if ex_ not in pool:
                cands.append(ex_)
            if len(cands) == n:
                break
        return AUG.Generated(tuple(cands), len(cands), 0, 0, 0)

    class RuleJudge:  # scores 1 exactly when the candidate follows the references' rule
        def __init__(self, *a, **k):
            pass

        def score(self, cands, refs, rng):
            c = offset_of(refs)
            return np.array([float(int(e.y) == (sum(int(t) for t in e.x.split()) + c) % 10) for e in cands])

    shown = []

    def spy_learners(model, tok, task, demos, xs):
        shown.append(list(demos))
        return None, ["0"] * len(xs)

    monkeypatch.setattr(AUG, "generate_candidates", scripted_generator)
    monkeypatch.setattr(AUG, "LogProbJudge", RuleJudge)
    monkeypatch.setattr(ex, "_learners", spy_learners)
    res = ex.run_augmentation("arith", None, make_tokenizer(), n_originals=12, n_candidates=10, seeds=2, n_queries=4, seed=seed)
    assert res.conditions == ex.AUGMENT_CONDITIONS and res.ideal.shape == (4, 2) and res.model is None
    np.testing.assert_array_equal(res.precision, [1.0, 1.0])
    np.testing.assert_array_equal(res.recall, [1.0, 1.0])
    np.testing.assert_array_equal(res.n_candidates, [10, 10])
    np.testing.assert_array_equal(res.frac_correct, [0.5, 0.5])
    assert len(shown) == 8
    for s in range(2):
        originals, unfiltered, filtered, synthetic = shown[4 * s : 4 * s + 4]
        c = offset_of(originals)
        right = {e for e in synthetic}
        n_distinct = len(set(originals))  # the pool may repeat an example; augment keeps one copy
        assert len(originals) == 12
        assert len(synthetic) == 5 and all(int(e.y) == (sum(int(t) for t in e.x.split()) + c) % 10 for e in synthetic)
        assert set(filtered) == set(originals) | right and len(filtered) == n_distinct + 5
        assert len(unfiltered) == n_distinct + 5 and set(originals) <= set(unfiltered)  # as many candidates, drawn blind


def test_run_augmentation_on_a_tiny_model_is_deterministic_and_well_formed():
    tok = make_tokenizer()
    model = tiny_llama(len(tok), seed=2, hidden=16, layers=1)
    kw = {"n_originals": 8, "n_candidates": 6, "n_judgements": 1, "n_refs": 4, "seeds": 2, "n_queries": 4, "seed": 1}
    a = ex.run_augmentation("keycls", model, tok, **kw)
    b = ex.run_augmentation("keycls", model, tok, **kw)
    for field in ("model", "ideal", "precision", "recall", "n_candidates", "frac_correct"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.model.shape == a.ideal.shape == (4, 2)
    assert np.all((a.ideal >= 0) & (a.ideal <= 1)) and np.all((a.model >= 0) & (a.model <= 1))
    assert np.all(a.n_candidates <= 6)
    with pytest.raises(ValueError, match="seeds"):
        ex.run_augmentation("keycls", model, tok, **{**kw, "seeds": 0})
