"""ROUGE-L: hand-computed values, a brute-force LCS, and agreement with Google's rouge-score."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rizzlib.icl.evaluate import score
from rizzlib.icl.rouge import lcs_length, rouge_l, rouge_l_f, rouge_tokens


def test_tokens_follow_rouge_score_rules():
    assert rouge_tokens("The Cat, sat-on THE mat!") == ["the", "cat", "sat", "on", "the", "mat"]
    assert rouge_tokens("naïve café 42") == ["na", "ve", "caf", "42"]  # non-ASCII letters split words
    assert rouge_tokens("  ...  ") == []


@pytest.mark.parametrize(
    ("pred", "ref", "p", "r"),
    [
        # LCS "the cat on the mat" = 5 of 5 predicted, 5 of 6 reference tokens
        ("the cat on the mat", "the cat sat on the mat", 5 / 5, 5 / 6),
        # LCS "police the gunman" (3): order matters, so "killed" cannot follow "gunman"
        ("the gunman was shot by police", "police killed the gunman", 2 / 6, 2 / 4),
        ("a b c d", "d c b a", 1 / 4, 1 / 4),
        ("exactly the same", "Exactly, the same.", 1.0, 1.0),
        ("nothing shared", "completely different words", 0.0, 0.0),
    ],
)
def test_hand_computed_values(pred, ref, p, r):
    got = rouge_l(pred, ref)
    f = 2 * p * r / (p + r) if p + r else 0.0
    assert got == pytest.approx((p, r, f))


def test_police_example_lcs_by_hand():
    # reference: police killed the gunman; prediction: the gunman was shot by police.
    # Common subsequences: "the gunman" (2) or "police" (1): LCS = 2
    assert lcs_length(rouge_tokens("police killed the gunman"), rouge_tokens("the gunman was shot by police")) == 2


def brute_lcs(a, b):
    """Longest common subsequence by trying every subsequence of the shorter list."""
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    for n in range(len(short), 0, -1):
        for combo in itertools.combinations(short, n):
            it = iter(long_)
            if all(any(x == y for y in it) for x in combo):
                return n
    return 0


@pytest.mark.parametrize("seed", range(20))
def test_lcs_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    a = list(rng.choice(list("abcd"), size=rng.integers(0, 9)))
    b = list(rng.choice(list("abcd"), size=rng.integers(0, 9)))
    assert lcs_length(a, b) == brute_lcs(a, b)
    assert lcs_length(a, b) == lcs_length(b, a)


def test_empty_sides_and_length_mismatch():
    assert rouge_l("", "a reference") == (0.0, 0.0, 0.0)
    assert rouge_l("a prediction", "!!!") == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="same length"):
        rouge_l_f(["a"], [])
    np.testing.assert_allclose(score("rougeL", ["the cat on the mat"], ["the cat sat on the mat"]), [10 / 11])
    with pytest.raises(ValueError, match="metric must be one of"):
        score("bleu", ["a"], ["a"])


@pytest.mark.parametrize("seed", range(20))
def test_agrees_with_google_rouge_score(seed):
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    rng = np.random.default_rng(seed)
    words = ["The", "cat", "sat", "on", "mat", "police", "gunman", "shot,", "dog!", "42", "café", "--", "a"]
    preds = [" ".join(rng.choice(words, size=rng.integers(0, 12))) for _ in range(10)]
    refs = [" ".join(rng.choice(words, size=rng.integers(1, 12))) for _ in range(10)]
    ours = rouge_l_f(preds, refs)
    theirs = np.array([scorer.score(r, p)["rougeL"].fmeasure for p, r in zip(preds, refs)])
    np.testing.assert_allclose(ours, theirs, atol=1e-12)
