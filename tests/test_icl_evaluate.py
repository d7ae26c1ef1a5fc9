"""Metrics and the significance test against Random."""

from __future__ import annotations

import numpy as np
import pytest

from rizzlib.icl.evaluate import (
    chrf,
    count_significant_wins,
    exact_match,
    score,
    significantly_better,
    welch_test,
)


def test_exact_match_normalises_whitespace():
    np.testing.assert_array_equal(exact_match(["A  B", "C", ""], ["A B", "D", ""]), [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="same length"):
        exact_match(["a"], [])


def test_chrf_is_one_for_identical_and_lower_for_different():
    s = chrf(["the cat sat", "abc"], ["the cat sat", "xyz"])
    assert s[0] == pytest.approx(1.0) and s[1] < 0.2
    with pytest.raises(ValueError, match="metric must be one of"):
        score("bleu", ["a"], ["a"])


def test_welch_identical_samples_are_not_significant_and_shifted_ones_are():
    rng = np.random.default_rng(0)
    a = rng.normal(size=20)
    assert not significantly_better(a, a)
    assert welch_test([0.5] * 5, [0.5] * 5) == (0.0, 1.0)
    assert significantly_better(a + 3, a)
    assert not significantly_better(a - 3, a)  # significant but worse: not a win
    with pytest.raises(ValueError, match="at least 2 runs"):
        welch_test([1.0], [1.0, 2.0])


def test_count_significant_wins_over_settings():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(3, 4, 10))
    runs = {"random": base, "better": base + 5, "same": base.copy()}
    wins = count_significant_wins(runs)
    assert wins == {"better": (12, 12), "same": (0, 12)}
    with pytest.raises(ValueError, match="baseline"):
        count_significant_wins({"a": base})


def test_verdicts_follow_the_numbers():
    from rizzlib.icl.report import (
        augment_verdict,
        mean_and_sem,
        noise_tolerance,
        noise_verdict,
        selection_verdict,
        speedup_verdict,
    )

    assert "rarely beats Random" in selection_verdict(10, 200)
    assert "does matter" in selection_verdict(100, 200)
    assert noise_tolerance([0, 0.1, 0.25, 0.5], [1.0, 0.99, 0.96, 0.7]) == 0.25
    assert noise_tolerance([0, 0.1], [0.9, 0.99]) == 0.0
    assert "at the paper" in noise_verdict("ideal learner", 0.25) and "only up to 10 %" in noise_verdict("model", 0.1)
    assert "first noise level" in noise_verdict("model", 0.0)
    assert "says little" in noise_verdict("model", 1.0, base=0.05)
    assert "gains 10.0 %" in augment_verdict("model", 0.5, 0.55, 0.5) and "loses" in augment_verdict("m", 0.5, 0.4, 0.45)
    assert "less than 0.1 %" in augment_verdict("m", 0.5, 0.5, 0.4)
    assert "meets" in speedup_verdict(25.0, 3000) and "falls short" in speedup_verdict(5.0, 300)
    m, e = mean_and_sem(np.array([[1.0, 3.0], [2.0, 2.0]]))
    np.testing.assert_allclose(m, [2.0, 2.0])
    np.testing.assert_allclose(e, [1.0, 0.0])


def test_order_and_inflation_verdicts_follow_the_numbers():
    from rizzlib.icl.report import inflation_verdict, order_verdict

    assert "barely matters" in order_verdict(1, 24, 0.01, 64)
    assert "does matter" in order_verdict(10, 24, 0.01, 64)
    assert "noise in our means" in order_verdict(0, 24, 0.2, 64)
    assert "0 of 0" in order_verdict(0, 0, 0.0, 64)
    both = inflation_verdict("small Llama", "cipher", 50, 0.3, 0.1, 0.32, 0.12)
    assert "both fall" in both and "from 0.30 to 0.10" in both
    assert "repetition, not length" in inflation_verdict("m", "t", 50, 0.3, 0.1, 0.3, 0.3)
    assert "only the distinct prompt falls" in inflation_verdict("m", "t", 50, 0.21, 0.33, 0.33, 0.25)
    flat = inflation_verdict("m", "t", 50, 0.3, 0.3, 0.5, 0.5)
    assert "neither falls" in flat and "+0.20 against repeats" in flat


def test_probe_verdict_names_learned_and_stuck_variants():
    import math

    from rizzlib.icl.report import probe_verdict

    text = probe_verdict({"a": (4.1, 2.30, 0.1), "b": (4.0, 0.5, 0.9)}, math.log(10))
    assert "`a`: digit loss 4.10 -> 2.30 nats, accuracy 0.10 (stuck" in text
    assert "`b`: digit loss 4.00 -> 0.50 nats, accuracy 0.90 (learned)" in text


def test_probe_conclusion_follows_the_numbers():
    import math

    from rizzlib.icl.report import probe_conclusion

    u = math.log(10)
    stuck, learned = (4.0, 2.30, 0.1), (4.0, 1.0, 0.6)
    assert "partial credit" in probe_conclusion({"a+b+c (128)": stuck, "a+b (64)": learned}, u, "a+b+c")
    assert "cannot separate" in probe_conclusion({"a+b+c (128)": stuck, "a+b (64)": stuck}, u, "a+b+c")
    assert "did leave" in probe_conclusion({"a+b+c (128)": learned, "a+b (64)": learned}, u, "a+b+c")


def test_table2_verdict_follows_the_numbers():
    from rizzlib.icl.report import table2_verdict
    from rizzlib.icl.table2 import PAPER_TABLE2

    flat = table2_verdict({"ids": (0, 10), "iccl": (1, 10)}, {"ids": 0.01, "iccl": -0.02}, 64, "small Llama", PAPER_TABLE2)
    assert "1 of 20 comparisons (5 %: ids 0/10, iccl 1/10), as rarely" in flat
    assert "ids +0.010, iccl -0.020, all within the paper's largest Table 2 gap (0.021)" in flat
    mixed = table2_verdict({"ids": (6, 10)}, {"ids": 0.2, "auto_icl": -0.3}, 16, "ideal learner", PAPER_TABLE2)
    assert "more often than the paper's 8 %" in mixed and "ids leads by more than" in mixed and "auto_icl trails by more than it" in mixed
    assert "trails by more than the paper" in table2_verdict({"ids": (0, 4)}, {"ids": -0.5}, 4, "x", PAPER_TABLE2)
    with pytest.raises(ValueError, match="at least one comparison"):
        table2_verdict({}, {}, 4, "x", PAPER_TABLE2)


def test_plateau_exit_and_long_probe_verdict_follow_the_curve():
    import math

    from rizzlib.icl.report import long_probe_verdict, plateau_exit

    u = math.log(10)
    assert plateau_exit([0, 50, 100], [4.0, 2.31, 2.1], u) == 100
    assert plateau_exit([0, 50], [4.0, 2.25], u) is None  # within the margin
    with pytest.raises(ValueError, match="same length"):
        plateau_exit([0], [1.0, 2.0], u)
    stuck = long_probe_verdict("a+b+c", [0, 50, 900], [4.2, 2.31, 2.305], 1680.0, u)
    assert "900 steps (28 min" in stuck and "did not leave the plateau" in stuck and "lowest 2.305" in stuck
    left = long_probe_verdict("a+b+c", [0, 500, 900], [4.2, 2.0, 1.2], 600.0, u)
    assert "left the plateau at step 500" in left and "ended at 1.200" in left


def test_evaluate_shots_takes_task_settings_and_rejects_unknown_tasks():
    from rizzlib.icl.evaluate import evaluate_shots
    from rizzlib.icl.tasks import make_tokenizer
    from rizzlib.icl.toy import tiny_llama

    tok = make_tokenizer()
    model = tiny_llama(len(tok), seed=0, hidden=16, layers=1)
    kw = {"tasks": ["arith"], "shots": [0, 1], "episodes": 6, "queries": 4, "seed": 3}
    # with c = 0 in every episode the ideal learner's default offset (0) is right with no demos
    fixed = evaluate_shots(model, tok, task_kwargs={"arith": {"n_offsets": 1}}, **kw)
    assert fixed["arith"]["ideal"] == [1.0, 1.0]
    full = evaluate_shots(model, tok, **kw)
    assert full["arith"]["ideal"][1] == 1.0 and full["arith"]["ideal"][0] < 1.0
    with pytest.raises(ValueError, match="task_kwargs names 'cipher'"):
        evaluate_shots(model, tok, task_kwargs={"cipher": {}}, **kw)
    with pytest.raises(ValueError, match="n_offsets"):
        evaluate_shots(model, tok, task_kwargs={"arith": {"n_offsets": 11}}, **kw)


def test_curriculum_verdict_follows_the_record():
    from rizzlib.icl.report import curriculum_verdict

    shots = [0, 1, 8]
    learned = curriculum_verdict(3000, 3000.0, [[500, 2], [900, 10]], 10, shots, [0.1, 0.6, 0.9])
    assert "widened 2 times (first at step 500, last at step 900), ending at 10 of 10" in learned
    assert "scores 0.90 at 8 shots against 0.10" in learned and "learned offset arithmetic in context" in learned
    partial = curriculum_verdict(1200, 3000.0, [[500, 2], [900, 3]], 3, shots, [0.1, 0.15, 0.12], [0.33, 0.9, 0.95])
    assert "stays within 0.1 of chance" in partial and "1/3 = 0.33" in partial and "0.95 at 8 shots" in partial
    assert "it reads the offset" in partial
    part = curriculum_verdict(1600, 3000.0, [[500, 2], [900, 6]], 6, shots, [0.1, 0.5, 0.55], [0.17, 0.85, 0.9])
    assert "scores 0.55 at 8 shots against 0.10" in part and "the 4 offsets it never trained on (c >= 6) are 40% of the episodes" in part
    assert "learned offset arithmetic in context" not in part and "1/6 = 0.17" in part and "it reads the offset" in part
    stuck = curriculum_verdict(1200, 3000.0, [[500, 2]], 2, shots, [0.1, 0.1, 0.1], [0.5, 0.52, 0.55])
    assert "does not read the offset yet" in stuck
    never = curriculum_verdict(300, 600.0, [], 1, shots, [0.1, 0.1, 0.1], [0.3, 0.4, 0.5])
    assert "never mastered c = 0" in never and "On c = 0 alone (plain addition) it scores 0.50 at 8 shots" in never
    with pytest.raises(ValueError, match="stage"):
        curriculum_verdict(1, 1.0, [], 1, shots, [0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="same length"):
        curriculum_verdict(1, 1.0, [], 10, shots, [0.1, 0.1])


def test_shots_verdict_follows_the_two_curves():
    from rizzlib.icl.report import shots_verdict

    shots = [0, 1, 8, 64]
    ideal = [0.1, 1.0, 1.0, 1.0]
    flat = shots_verdict("arith", shots, [0.1, 0.1, 0.12, 0.1], ideal, 0.1)
    assert "goes from 0.10 with no demonstrations to 0.10 at 64 shots" in flat and "perfect from 1 shot." in flat
    assert "does not learn arith in context" in flat
    peak = shots_verdict("arith", shots, [0.0, 0.6, 0.7, 0.1], ideal, 0.1, learner="the short model")
    assert "the short model goes from" in peak and "peaks at 0.70 with 8 shots and loses 0.60 by 64" in peak
    rising = shots_verdict("keycls", shots, [0.2, 0.3, 0.5, 0.6], [0.0, 0.3, 0.7, 0.9], 0.125)
    assert "the ideal learner reaches 0.90 at 64 shots" in rising and "is at its best at 64 shots;" in rising
    assert "the gap to the ideal learner there is 0.30: what a small" in rising
    early = shots_verdict("keycls", shots, [0.2, 0.6, 0.6, 0.55], [0.0, 0.3, 0.7, 0.9], 0.125)
    assert "its best, 0.60, at 1 shot and stays within 0.1 of it up to 64 shots" in early
    close = shots_verdict("cipher", shots, [0.0, 0.3, 0.9, 0.97], [0.0, 0.3, 0.99, 1.0], 0.0)
    assert "perfect from 8 shots" in close and "is 0.03." in close and "peaks" not in close
    with pytest.raises(ValueError, match="same length"):
        shots_verdict("arith", shots, [0.1], ideal, 0.1)
    with pytest.raises(ValueError, match="ascending"):
        shots_verdict("arith", [8, 1], [0.1, 0.1], [1.0, 1.0], 0.1)


def test_many_shot_verdict_says_what_longer_sequences_changed():
    from rizzlib.icl.report import many_shot_verdict

    shots = [0, 1, 8, 32, 64, 128]
    ideal = [0.1] + [1.0] * 5
    short = [0.0, 0.6, 0.7, 0.09, 0.09, 0.1]
    fixed = many_shot_verdict(shots, short, [0.0, 0.6, 0.9, 0.95, 0.96, 0.05], ideal, 12, 70, 10)
    assert "scores 0.60 to 0.96 from 1 to 64 shots on the full task, against the ideal learner's 1.00 to 1.00" in fixed
    assert "0.95 at 32, 0.96 at 64 shots, where the model trained on 12 scores 0.09, 0.09: it holds where the short model falls to chance (at 32, 64 shots)" in fixed
    partly = many_shot_verdict(shots, [0.0, 0.6, 0.7, 0.5, 0.09, 0.1], [0.0, 0.6, 0.9, 0.95, 0.96, 0.05], ideal, 6, 70, 10)
    assert "where the model trained on 6 scores 0.70, 0.50, 0.09: it holds where the short model falls to chance (at 64 shots)" in partly
    assert "0.05 at 128 shots: it falls to chance beyond" in fixed and "reached all 10 offsets" in fixed
    held = many_shot_verdict(shots, [0.0, 0.6, 0.7, 0.5, 0.5, 0.4], [0.0, 0.6, 0.9, 0.95, 0.96, 0.93], ideal, 12, 70, 8)
    assert "it holds past the old training length, as the short model does there" in held and "it carries the rule beyond" in held
    assert "reached 8 of 10 offsets, so 20% of the full task's episodes" in held
    lost = many_shot_verdict(shots, short, [0.0, 0.6, 0.9, 0.05, 0.08, 0.5], ideal, 12, 70, 9)
    assert "it still fails past the old training length" in lost and "it loses 0.40 beyond" in lost
    with pytest.raises(ValueError, match="same length"):
        many_shot_verdict(shots, short, short[:2], ideal, 12, 70, 9)
    with pytest.raises(ValueError, match="fit_short"):
        many_shot_verdict(shots, short, short, ideal, 70, 12, 9)


def test_stages_verdict_follows_the_record():
    from rizzlib.icl.report import stages_verdict

    stages = [{"n_distractors": 0}, {"n_distractors": 1}, {"n_distractors": 3}]
    shots, ideal = [0, 8, 64], [0.0, 0.7, 1.0]
    done = stages_verdict("keycls", 1500, 1200.0, [[300, 1], [900, 2]], stages, shots, [0.1, 0.3, 0.32], [0.1, 0.6, 0.95], ideal)
    assert "moved on 2 times (at steps 300, 900), ending at stage 3 of 3 (n_distractors = 3; the full task)." in done
    assert "it scores 0.95, against 0.32 for the model it started from and 1.00" in done and "close to the ideal learner" in done
    half = stages_verdict("keycls", 1500, 1200.0, [[300, 1]], stages, shots, [0.1, 0.3, 0.32], [0.1, 0.4, 0.5], ideal)
    assert "at step 300)" in half and "stage 2 of 3 (n_distractors = 1; the full task is n_distractors = 3)" in half
    assert "learn keycls in context, 0.50 short of the ideal" in half
    none = stages_verdict("cipher", 200, 600.0, [], stages, shots, [0.1, 0.3, 0.32], [0.1, 0.3, 0.35], ideal)
    assert "never mastered its first stage" in none and "stage 1 of 3" in none and "did not help" in none
    later = stages_verdict("cipher", 200, 600.0, [], stages, shots, [0.1, 0.3, 0.32], [0.1, 0.3, 0.35], ideal, start=1)
    assert "never mastered its stage well enough" in later and "stage 2 of 3" in later
    worse = stages_verdict("cipher", 200, 600.0, [], stages, shots, [0.1, 0.3, 0.32], [0.1, 0.1, 0.1], ideal, base="the multi-task model")
    assert "against 0.32 for the multi-task model and 1.00" in worse
    assert "worse than before" in worse
    with pytest.raises(ValueError, match="same length"):
        stages_verdict("cipher", 1, 1.0, [], stages, shots, [0.1], [0.1, 0.1, 0.1], ideal)
    with pytest.raises(ValueError, match="stage 5"):
        stages_verdict("cipher", 1, 1.0, [[1, 5]], stages, shots, ideal, ideal, ideal)


def test_lookup_verdict_sums_the_counts():
    from rizzlib.icl.report import lookup_verdict

    text = lookup_verdict("cipher", {"before": {0: (5, 10), 1: (1, 10)}, "after": {0: (10, 10), 1: (9, 10)}})
    assert "before 0.30 (0.50, 0.10 by symbol index in the word 0 to 1); after 0.95 (1.00, 0.90" in text
    with pytest.raises(ValueError, match="task"):
        lookup_verdict("arith", {"m": {0: (1, 1)}})
    with pytest.raises(ValueError, match="nothing"):
        lookup_verdict("keycls", {"m": {}})
