"""The shipped chapter 5 checkpoint loads, beats chance in context, and reproduces its recorded evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from rizzlib.icl.evaluate import CHECKPOINT_TEST_EVAL, evaluate_shots
from rizzlib.icl.model import (
    ARITH_CHECKPOINT,
    ARITH_LONG_CHECKPOINT,
    CHECKPOINT,
    LOOKUP_CHECKPOINT,
    LOOKUP_PART1_CHECKPOINT,
    load_checkpoint,
)
from rizzlib.icl.tasks import chance_accuracy, make_tokenizer

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _load(path, how: str = "run scripts/icl_train.py"):
    if not path.is_file():
        pytest.fail(f"the checkpoint {path} is missing; {how}")
    return load_checkpoint(path)


@pytest.fixture(scope="module")
def shipped():
    return _load(CHECKPOINT)


def test_checkpoint_is_small_final_and_documented(shipped):
    model, extra = shipped
    assert CHECKPOINT.stat().st_size < 5_000_000
    assert (CHECKPOINT.parent / "README.md").is_file()
    assert extra["final"] and extra["steps_done"] >= 1 and extra["wall_s"] > 0
    assert "evaluation" in extra and "test_evaluation" in extra


def test_checkpoint_reproduces_its_recorded_evaluation(shipped):
    model, extra = shipped
    assert extra["test_evaluation"]["settings"] == CHECKPOINT_TEST_EVAL
    got = evaluate_shots(model, make_tokenizer(), **CHECKPOINT_TEST_EVAL)
    want = extra["test_evaluation"]["result"]
    for task in want:
        for learner in ("model", "ideal"):
            # one query in 32 may flip on another CPU (float reductions in another order)
            np.testing.assert_allclose(got[task][learner], want[task][learner], atol=1 / 32 + 1e-9)


def test_checkpoint_learns_in_context_better_than_chance(shipped):
    _, extra = shipped
    res = extra["evaluation"]["result"]
    shots = extra["evaluation"]["settings"]["shots"]
    i0 = shots.index(0)
    # with 16 and 64 demos the model must beat, by a margin of 0.1, both its zero-shot score and
    # chance (cipher: guessing a 2-4 symbol word; keycls: one of 8 labels); arith did not train
    for task in ("cipher", "keycls"):
        acc = res[task]["model"]
        for k in (16, 64):
            assert acc[shots.index(k)] > max(acc[i0], chance_accuracy(task)) + 0.1, (task, k, acc)


ARITH_RUNS = {"arith": ARITH_CHECKPOINT, "arith_long": ARITH_LONG_CHECKPOINT}


@pytest.fixture(scope="module", params=list(ARITH_RUNS))
def arith(request):
    path = ARITH_RUNS[request.param]
    if not path.is_file():
        pytest.fail(f"the checkpoint {path} is missing; run scripts/icl_train.py as its record ({path.stem}.md) says")
    return (path, *load_checkpoint(path))


def test_arith_checkpoint_is_small_final_and_records_its_curriculum(arith):
    path, _, extra = arith
    assert path.stat().st_size < 5_000_000
    assert path.with_suffix(".md").is_file()
    assert extra["final"] and extra["steps_done"] >= 1 and extra["wall_s"] > 0
    assert extra["train"]["tasks"] == ["arith"] and extra["train"]["curriculum"] is not None
    steps = [s for s, _ in extra["promotions"]]
    offsets = [extra["train"]["curriculum"]["start"]] + [n for _, n in extra["promotions"]]
    assert steps == sorted(steps) and all(0 < s <= extra["steps_done"] for s in steps)
    assert all(b > a for a, b in zip(offsets, offsets[1:])) and offsets[-1] == extra["n_offsets"]
    assert extra["evaluation"]["settings"]["tasks"] == ["arith"]
    assert ("stage_evaluation" in extra) == (extra["n_offsets"] < 10)


def _reproduce_recorded_evaluations(model, extra):
    """Re-run the test-sized evaluations a checkpoint recorded (full task, and the stage reached if any)."""
    tok = make_tokenizer()
    for key in ("test_evaluation", "stage_test_evaluation"):
        if key not in extra:
            continue
        settings = extra[key]["settings"]
        assert {k: v for k, v in settings.items() if k not in ("tasks", "task_kwargs")} == {
            k: v for k, v in CHECKPOINT_TEST_EVAL.items() if k != "tasks"
        }
        got = evaluate_shots(model, tok, **settings)
        assert list(got) == settings["tasks"] == list(extra[key]["result"])
        for task, want in extra[key]["result"].items():
            for learner in ("model", "ideal"):
                np.testing.assert_allclose(got[task][learner], want[learner], atol=1 / 32 + 1e-9)


def test_arith_checkpoint_reproduces_its_recorded_evaluations(arith):
    _, model, extra = arith
    _reproduce_recorded_evaluations(model, extra)


def test_arith_checkpoint_reads_the_offset_in_context(arith):
    _, _, extra = arith
    shots = extra["evaluation"]["settings"]["shots"]
    n = extra["n_offsets"]
    assert n >= 2  # the curriculum got past plain addition
    fit = (extra["train"]["seq_len"] - 2) // 5  # demos in one training sequence
    inside = [i for i, k in enumerate(shots) if 1 <= k <= fit]
    full = extra["evaluation"]["result"]["arith"]["model"]
    stage = extra["stage_evaluation"]["result"]["arith"]["model"] if n < 10 else full
    # on the offsets it trained on, demonstrations beat adding without an offset (right 1/n of the time)
    # and its own zero-shot score by 0.3, at every shot count that fits a training sequence
    for i in inside:
        assert stage[i] > max(1 / n, stage[shots.index(0)]) + 0.3, (shots[i], stage)
    # on the full task (10 offsets) it beats chance by 0.3 within the trained length
    assert max(full[i] for i in inside) > chance_accuracy("arith") + 0.3, full


def test_long_arith_checkpoint_goes_on_from_the_short_one_and_holds_up_to_64_shots():
    if not ARITH_LONG_CHECKPOINT.is_file():
        pytest.fail(f"the checkpoint {ARITH_LONG_CHECKPOINT} is missing; see icl_llama_arith_long.md")
    _, short = load_checkpoint(ARITH_CHECKPOINT)
    _, long = load_checkpoint(ARITH_LONG_CHECKPOINT)
    # its record names the first stage, which is the shipped short checkpoint
    assert long["init"]["checkpoint"] == ARITH_CHECKPOINT.name and long["init"]["steps_done"] == short["steps_done"]
    assert long["init"]["command"] == short["command"] and long["init"]["seq_len"] == short["train"]["seq_len"]
    assert long["train"]["curriculum"]["start"] == short["n_offsets"] <= long["n_offsets"]
    fit_short = (short["train"]["seq_len"] - 2) // 5
    fit_long = (long["train"]["seq_len"] - 2) // 5
    shots = long["evaluation"]["settings"]["shots"]
    assert shots == short["evaluation"]["settings"]["shots"] and max(shots) == 64 <= fit_long
    n = long["n_offsets"]
    key = "stage_evaluation" if n < 10 else "evaluation"
    stage = long[key]["result"]["arith"]["model"]
    full = long["evaluation"]["result"]["arith"]["model"]
    full_short = short["evaluation"]["result"]["arith"]["model"]
    for i, k in enumerate(shots):
        if k > fit_short:
            # past the short model's training length: reads the offset on its own offsets, and beats
            # the short model (which falls to chance there) by 0.3 on the full task
            assert stage[i] > 1 / n + 0.3, (k, stage)
            assert full[i] > full_short[i] + 0.3, (k, full, full_short)


@pytest.fixture(scope="module")
def lookup():
    return _load(LOOKUP_CHECKPOINT, "run scripts/icl_train.py as icl_llama_lookup.md says")


def test_lookup_checkpoint_is_small_final_and_records_its_stages(lookup):
    _, extra = lookup
    assert LOOKUP_CHECKPOINT.stat().st_size < 5_000_000
    assert LOOKUP_CHECKPOINT.with_suffix(".md").is_file()
    assert extra["final"] and extra["steps_done"] >= 1 and extra["wall_s"] > 0
    assert extra["train"]["tasks"] == ["cipher", "keycls"] == [c["task"] for c in extra["train"]["stages"]]
    # it goes on from the first staged run, which went on from the multi-task model
    assert extra["init"]["checkpoint"] == LOOKUP_PART1_CHECKPOINT.name
    _, part1 = load_checkpoint(LOOKUP_PART1_CHECKPOINT)
    assert LOOKUP_PART1_CHECKPOINT.stat().st_size < 5_000_000 and part1["init"]["checkpoint"] == CHECKPOINT.name
    assert extra["init"]["steps_done"] == part1["steps_done"] and extra["init"]["command"] == part1["command"]
    assert extra["init"]["stages"] == {t: rec["stage"] for t, rec in part1["stages"].items()}
    for rec in extra["stages"].values():
        steps = [s for s, _ in rec["moves"]]
        stages = [rec["start"]] + [n for _, n in rec["moves"]]
        assert steps == sorted(steps) and all(0 < s <= extra["steps_done"] for s in steps)
        assert stages == list(range(rec["start"], rec["start"] + len(stages))) and stages[-1] == rec["stage"] < len(rec["stages"])
    assert extra["evaluation"]["settings"]["tasks"] == ["cipher", "keycls"]
    unfinished = sorted(t for t, rec in extra["stages"].items() if rec["stage"] < len(rec["stages"]) - 1)
    assert ("stage_evaluation" in extra) == bool(unfinished)


def test_lookup_checkpoint_reproduces_its_recorded_evaluations(lookup):
    model, extra = lookup
    _reproduce_recorded_evaluations(model, extra)


def test_lookup_checkpoint_beats_the_multi_task_model_on_the_cipher(lookup, shipped):
    _, extra = lookup
    _, base = shipped
    shots = extra["evaluation"]["settings"]["shots"]
    assert shots == base["evaluation"]["settings"]["shots"] and extra["evaluation"]["settings"]["seed"] == base["evaluation"]["settings"]["seed"]
    i0 = shots.index(0)
    # the cipher reached its last stage (the full task): on the same evaluation episodes it must beat
    # chance, its own zero-shot score and the multi-task model by a margin of 0.1 from 8 shots on
    assert extra["stages"]["cipher"]["stage"] == len(extra["stages"]["cipher"]["stages"]) - 1
    acc, old = extra["evaluation"]["result"]["cipher"]["model"], base["evaluation"]["result"]["cipher"]["model"]
    for k in (8, 16, 32, 64):
        i = shots.index(k)
        assert acc[i] > max(acc[i0], chance_accuracy("cipher"), old[i]) + 0.1, (k, acc, old)


def test_lookup_checkpoint_records_that_keycls_did_not_learn_the_look_up(lookup, shipped):
    # a negative result, kept honest: keycls never left its first stage, and on the full task it is
    # within 0.1 of the multi-task model at 16 and 64 shots (if a retrained checkpoint does better,
    # this test and the notebook's prose must change together)
    _, extra = lookup
    _, base = shipped
    assert extra["stages"]["keycls"]["stage"] == 0 and extra["stages"]["keycls"]["moves"] == []
    shots = extra["evaluation"]["settings"]["shots"]
    acc, old = extra["evaluation"]["result"]["keycls"]["model"], base["evaluation"]["result"]["keycls"]["model"]
    for k in (16, 64):
        assert abs(acc[shots.index(k)] - old[shots.index(k)]) < 0.1, (k, acc, old)
