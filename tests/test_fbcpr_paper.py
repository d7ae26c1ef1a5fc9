"""rizzlib.fbcpr.paper: the paper's numbers agree with each other, and the reward sentence says on
which side of the paper's value ours lies."""

from __future__ import annotations

import pytest

from rizzlib.fbcpr import paper


def test_the_two_sources_agree():
    # the overall 73.4 % quoted by reviews is the mean of the normalised columns of Table 1
    assert paper.overall_from_columns() == pytest.approx(paper.OVERALL, abs=5e-4)
    # the spec's recollection "FB-CPR about 150 of TD3's about 250" is the normalised reward
    assert paper.NORMALISED["reward"] * paper.TD3_MEAN_RETURN == pytest.approx(150, abs=5)
    assert all(0 < v <= 1 for v in paper.NORMALISED.values())
    assert set(paper.SOURCES) == {"TD3_MEAN_RETURN", "NORMALISED", "OVERALL"}


def test_overall_moves_with_each_column():
    base = paper.overall_from_columns()
    for k in paper.NORMALISED:
        bumped = dict(paper.NORMALISED, **{k: paper.NORMALISED[k] + 0.07})
        weight = 2 if k.startswith("tracking") else 1
        assert paper.overall_from_columns(bumped) - base == pytest.approx(0.07 * weight / 7)


def test_reward_verdict_sides():
    s = paper.reward_verdict(0.246, 0.091, 3, "the planner")
    assert s.startswith("Our FB-CPR reaches 0.25 ± 0.09 of the planner's return (3 seeds)")
    assert "below the paper's by more than one seed standard deviation (0.40 of it)" in s
    assert "lies within one seed standard deviation" in paper.reward_verdict(0.58, 0.05, 5, "the planner")
    s = paper.reward_verdict(2.12, 0.86, 3, "our TD3")
    assert "of our TD3's return" in s and "above the paper's" in s
    assert "0.50 of TD3's" in paper.reward_verdict(0.4, 0.0, 1, "TD3", paper=0.5)
    for kwargs, name in (({"n_seeds": 0}, "n_seeds"), ({"ours_std": -1.0}, "ours_std"), ({"paper": 0.0}, "paper")):
        args = {"ours_mean": 0.3, "ours_std": 0.1, "n_seeds": 3, "top_line": "planner"} | kwargs
        with pytest.raises(ValueError, match=name):
            paper.reward_verdict(**args)


def test_normalised_verdict_for_other_columns():
    s = paper.normalised_verdict("goal success", 0.15, 0.07, 5, "the planner", paper.NORMALISED["goal_success"],
                                 "its goal top-line's")
    assert s.startswith("Our FB-CPR reaches 0.15 ± 0.07 of the planner's goal success (5 seeds)")
    assert "0.48 of its goal top-line's on the humanoid: below the paper's" in s
    assert paper.reward_verdict(0.3, 0.1, 3, "the planner") == paper.normalised_verdict(
        "return", 0.3, 0.1, 3, "the planner", paper.NORMALISED["reward"], "TD3's")
