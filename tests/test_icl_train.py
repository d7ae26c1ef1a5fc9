"""Meta-training pieces: the offset curriculum (promotion rule, stage data, the logged schedule), the
digit accuracy it reads, and the training script's curriculum run end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from _repo import load_repo_module

import rizzlib.icl.train as train_mod
from rizzlib.icl.tasks import DIGITS, OffsetArithTask, make_tokenizer
from rizzlib.icl.toy import tiny_llama
from rizzlib.icl.train import (
    OffsetCurriculum,
    StageCurriculum,
    TrainConfig,
    later_answer_accuracy,
    later_digit_accuracy,
    make_batch,
    train,
)

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_curriculum_promotes_after_a_full_window_at_the_threshold_and_stops_at_ten():
    cur = OffsetCurriculum(start=1, grow=3, threshold=0.8, window=4)
    assert cur.next_offsets(1, [1.0, 1.0, 1.0]) == 1  # fewer than `window` steps at this stage
    assert cur.next_offsets(1, [0.8] * 4) == 4  # the mean reaches the threshold exactly
    assert cur.next_offsets(1, [0.0, 1.0, 0.8, 0.8, 0.79]) == 4  # only the last 4 count: mean 0.8475 >= 0.8
    assert cur.next_offsets(1, [1.0, 0.6, 0.8, 0.8, 0.8]) == 1  # mean of the last 4 = 0.75
    assert cur.next_offsets(9, [1.0] * 4) == 10  # capped at 10 offsets
    assert cur.next_offsets(10, [1.0] * 4) == 10


@pytest.mark.parametrize(
    "kwargs, name",
    [({"start": 0}, "start"), ({"start": 11}, "start"), ({"grow": 0}, "grow"), ({"threshold": 0.0}, "threshold"),
     ({"threshold": 1.5}, "threshold"), ({"window": 0}, "window")],
)
def test_curriculum_rejects_bad_settings(kwargs, name):
    with pytest.raises(ValueError, match=name):
        OffsetCurriculum(**kwargs)


def test_a_curriculum_needs_the_arith_task():
    with pytest.raises(ValueError, match="curriculum needs 'arith'"):
        TrainConfig(tasks=("cipher",), task_weights=(1.0,), curriculum=OffsetCurriculum())


@pytest.mark.parametrize("n_offsets", [1, 3])
def test_stage_batches_draw_offsets_below_the_stage(n_offsets):
    tok = make_tokenizer()
    cfg = TrainConfig(batch_size=12, seq_len=96, tasks=("arith",), task_weights=(1.0,))
    ids, mask, names = make_batch(cfg, tok, np.random.default_rng(n_offsets), {"arith": OffsetArithTask(n_offsets=n_offsets)}, return_tasks=True)
    assert names == ["arith"] * 12
    seen = set()
    for row in ids.tolist():
        words = tok.convert_ids_to_tokens(row)
        offsets = set()
        for i, w in enumerate(words):
            if w == "→" and i + 1 < len(words) and words[i + 1] in DIGITS:
                a, b = int(words[i - 2]), int(words[i - 1])
                offsets.add((int(words[i + 1]) - a - b) % 10)
        assert len(offsets) == 1  # one offset per episode
        seen |= offsets
    assert seen <= set(range(n_offsets))
    if n_offsets == 3:
        assert len(seen) > 1


def _half_right_logits(ids: torch.Tensor, vocab: int, rng: np.random.Generator) -> torch.Tensor:
    """Random logits (batch, seq_len - 1, vocab) whose argmax is the next token about half the time,
    so an accuracy count is not trivially 0 or 1."""
    b, n = ids.shape
    logits = torch.tensor(rng.normal(size=(b, n - 1, vocab)), dtype=torch.float32)
    for r in range(b):
        for i in range(n - 1):
            if rng.random() < 0.5:
                logits[r, i, ids[r, i + 1]] = 100.0
    return logits


@pytest.mark.parametrize("seed", range(3))
def test_later_digit_accuracy_is_a_hand_count_without_each_rows_first_answer(seed):
    tok = make_tokenizer()
    cfg = TrainConfig(batch_size=6, seq_len=64, tasks=("arith", "cipher"), task_weights=(1.0, 1.0))
    ids, mask, names = make_batch(cfg, tok, np.random.default_rng(seed), return_tasks=True)
    logits = _half_right_logits(ids, len(tok), np.random.default_rng(100 + seed))
    rows = [r for r, n in enumerate(names) if n == "arith"]
    digits = set(tok.convert_tokens_to_ids(list(DIGITS)))
    hits = count = 0
    for r in rows:
        answers = [i for i in range(1, 64) if mask[r, i] == 1 and int(ids[r, i]) in digits]
        for i in answers[1:]:
            count += 1
            hits += int(int(logits[r, i - 1].argmax()) == int(ids[r, i]))
    assert count > 0
    assert later_digit_accuracy(logits, ids, mask, rows, tok) == pytest.approx(hits / count)
    assert np.isnan(later_digit_accuracy(logits, ids, mask, [], tok))


def test_train_widens_offsets_on_schedule_and_logs_it(monkeypatch):
    tok = make_tokenizer()
    model = tiny_llama(len(tok), seed=0, hidden=16, layers=1)
    cfg = TrainConfig(steps=7, batch_size=2, seq_len=32, warmup=1, tasks=("arith",), task_weights=(1.0,),
                      curriculum=OffsetCurriculum(start=2, grow=4, window=2))
    seen_stages = []
    real_batch = train_mod.make_batch

    def spy_batch(cfg_, tok_, rng, overrides=None, return_tasks=False):
        seen_stages.append(overrides["arith"].n_offsets)
        return real_batch(cfg_, tok_, rng, overrides, return_tasks)

    monkeypatch.setattr(train_mod, "later_digit_accuracy", lambda *a: 1.0)  # every step masters its stage
    monkeypatch.setattr(train_mod, "make_batch", spy_batch)
    hist = train(model, tok, cfg, progress=False)
    assert hist["promotions"] == [(2, 6), (4, 10)]
    assert hist["n_offsets"] == [2, 2, 6, 6, 10, 10, 10] == seen_stages
    assert hist["arith_acc"] == [1.0] * 7 and hist["steps"] == 7


def test_train_logs_replay_the_promotion_rule_on_real_accuracies():
    tok = make_tokenizer()
    model = tiny_llama(len(tok), seed=1, hidden=16, layers=1)
    cur = OffsetCurriculum(threshold=0.05, window=2)
    cfg = TrainConfig(steps=8, batch_size=2, seq_len=48, warmup=1, tasks=("arith", "keycls"), task_weights=(1.0, 1.0), curriculum=cur)
    hist = train(model, tok, cfg, progress=False)
    n, stage, replay = cur.start, [], []
    for acc in hist["arith_acc"]:
        replay.append(n)
        if not np.isnan(acc):
            stage.append(acc)
        new = cur.next_offsets(n, stage)
        if new != n:
            n, stage = new, []
    assert replay == hist["n_offsets"]
    plain = train(tiny_llama(len(tok), seed=1, hidden=16, layers=1), tok, TrainConfig(steps=2, batch_size=2, seq_len=48), progress=False)
    assert "promotions" not in plain


def test_train_script_curriculum_run_records_its_schedule_and_evaluates_arith_only(tmp_path, monkeypatch):
    import rizzlib.icl.evaluate as ev
    from rizzlib.icl.model import load_checkpoint

    # a small evaluation keeps the test fast; the script records whatever settings it used
    monkeypatch.setattr(ev, "CHECKPOINT_EVAL", {**ev.CHECKPOINT_EVAL, "shots": [0, 1], "episodes": 1, "queries": 4})
    monkeypatch.setattr(ev, "CHECKPOINT_TEST_EVAL", {**ev.CHECKPOINT_TEST_EVAL, "shots": [1], "episodes": 1, "queries": 4})
    script = _script()
    out = tmp_path / "arith.safetensors"
    assert script.main(["--tasks", "arith", "--curriculum", "--steps", "3", "--batch-size", "2", "--seq-len", "32", "--out", str(out)]) == 0
    _, extra = load_checkpoint(out)
    assert extra["final"] and extra["steps_done"] == 3 and extra["n_offsets"] == 1 and extra["promotions"] == []
    assert extra["train"]["curriculum"] == {"start": 1, "grow": 1, "threshold": 0.9, "window": 50}
    assert extra["evaluation"]["settings"]["tasks"] == ["arith"] == list(extra["evaluation"]["result"])
    assert extra["test_evaluation"]["settings"]["tasks"] == ["arith"]
    # it stopped at 1 offset, so it is also evaluated on c = 0 alone (where the ideal learner needs no demo)
    stage = extra["stage_evaluation"]
    assert stage["settings"]["task_kwargs"] == {"arith": {"n_offsets": 1}} == extra["stage_test_evaluation"]["settings"]["task_kwargs"]
    assert stage["result"]["arith"]["ideal"] == [1.0, 1.0]
    record = (tmp_path / "arith.md").read_text()
    assert "Curriculum:" in record and "| arith | model |" in record and "c in 0..0" in record
    assert json.loads(json.dumps(extra))  # metadata stays plain JSON


class _Cut(Exception):
    """Stands for a run killed right after a save."""


def test_train_resumed_from_a_cut_equals_the_uncut_run(monkeypatch):
    tok = make_tokenizer()
    cfg = TrainConfig(steps=7, batch_size=2, seq_len=48, warmup=2, tasks=("arith",), task_weights=(1.0,),
                      curriculum=OffsetCurriculum(threshold=0.5, window=2))
    # an untrained model's accuracy is ~0: a stand-in read from the batch moves the curriculum
    monkeypatch.setattr(train_mod, "later_digit_accuracy", lambda logits, ids, *a: float(int(ids.sum()) % 3 > 0))
    hist, saved, rest = _cut_at_3_and_resume(tok, cfg)
    assert saved["state"]["done"] == 3 and saved["info"]["n_offsets"] == saved["state"]["n_offsets"]
    assert rest["steps"] == 7
    assert rest["arith_acc"] == hist["arith_acc"]
    assert rest["n_offsets"] == hist["n_offsets"] and rest["promotions"] == hist["promotions"]
    assert len(hist["promotions"]) >= 2  # the cut fell inside a moving curriculum


def _cut_at_3_and_resume(tok, cfg):
    """Train ``cfg`` whole; again, killed after the save at step 3, then resumed from that save into
    other weights. Checks the losses and final weights agree; returns (whole run's log, the save, the
    resumed run's log)."""
    whole = tiny_llama(len(tok), seed=3, hidden=16, layers=1)
    hist = train(whole, tok, cfg, progress=False)
    saved = {}

    def cut_at_3(step, model, state, **info):
        saved.update(weights={k: v.clone() for k, v in model.state_dict().items()}, state=state, info=info)
        raise _Cut

    with pytest.raises(_Cut):
        train(tiny_llama(len(tok), seed=3, hidden=16, layers=1), tok, cfg, progress=False, callback=cut_at_3, save_every=3)
    again = tiny_llama(len(tok), seed=99, hidden=16, layers=1)  # other weights: all must come from the save
    again.load_state_dict(saved["weights"])
    rest = train(again, tok, cfg, progress=False, resume=saved["state"])
    assert rest["loss"] == hist["loss"]
    for name, w in whole.state_dict().items():
        assert torch.equal(w, again.state_dict()[name]), name
    return hist, saved, rest


def test_train_rejects_a_resume_state_that_does_not_fit():
    tok = make_tokenizer()
    cfg = TrainConfig(steps=4, batch_size=2, seq_len=32, warmup=1, tasks=("arith",), task_weights=(1.0,))
    states = []
    train(tiny_llama(len(tok), seed=0, hidden=16, layers=1), tok, cfg, progress=False,
          callback=lambda step, model, state: states.append(state), save_every=2)
    assert [s["done"] for s in states] == [2, 4]
    bad = {**states[0], "losses": states[0]["losses"][:1]}
    with pytest.raises(ValueError, match="resume"):
        train(tiny_llama(len(tok), seed=0, hidden=16, layers=1), tok, cfg, progress=False, resume=bad)
    with pytest.raises(ValueError, match="save_every"):
        train(tiny_llama(len(tok), seed=0, hidden=16, layers=1), tok, cfg, progress=False, save_every=0)


def _script():
    return load_repo_module("scripts/icl_train.py", "icl_train_script")


def test_train_script_init_goes_on_from_a_checkpoint_and_resume_finishes_a_cut_run(tmp_path, monkeypatch):
    import functools

    import rizzlib.icl.evaluate as ev
    from rizzlib.icl.model import load_checkpoint

    monkeypatch.setattr(ev, "CHECKPOINT_EVAL", {**ev.CHECKPOINT_EVAL, "shots": [0, 1], "episodes": 1, "queries": 4})
    monkeypatch.setattr(ev, "CHECKPOINT_TEST_EVAL", {**ev.CHECKPOINT_TEST_EVAL, "shots": [1], "episodes": 1, "queries": 4})
    script = _script()
    real_train = script.train
    monkeypatch.setattr(train_mod, "later_digit_accuracy", lambda *a: 1.0)  # every step masters its stage
    monkeypatch.setattr(script, "train", functools.partial(real_train, save_every=2))
    common = ["--tasks", "arith", "--curriculum", "--batch-size", "2", "--seq-len", "32", "--warmup", "1"]
    stage1 = tmp_path / "stage1.safetensors"
    assert script.main(common + ["--steps", "2", "--threshold", "0.01", "--window", "1", "--out", str(stage1)]) == 0
    _, first = load_checkpoint(stage1)
    assert first["n_offsets"] == 3 and not script.resume_path(stage1).exists()  # promoted after each step

    # the second stage starts from the first's weights, at the offsets it reached
    long_args = ["--tasks", "arith", "--curriculum", "--batch-size", "2", "--seq-len", "48", "--warmup", "1", "--window", "1",
                 "--steps", "5", "--lr", "3e-4", "--init", str(stage1)]
    whole = tmp_path / "whole.safetensors"
    assert script.main(long_args + ["--out", str(whole)]) == 0
    model_whole, extra = load_checkpoint(whole)
    assert extra["train"]["curriculum"]["start"] == 3 and extra["train"]["seq_len"] == 48 and extra["train"]["lr"] == 3e-4
    assert extra["init"]["checkpoint"] == "stage1.safetensors" and extra["init"]["steps_done"] == 2
    assert extra["init"]["seq_len"] == 32 and extra["init"]["n_offsets"] == 3
    assert extra["promotions"] == [[1, 4], [2, 5], [3, 6], [4, 7], [5, 8]] and extra["n_offsets"] == 8
    assert "resumed_at" not in extra
    record = (tmp_path / "whole.md").read_text()
    assert "Started from `stage1.safetensors` (2 steps of 32-token sequences" in record

    # the same run killed after its save at step 4, then resumed, ends with the same weights
    def cut_after_4(*a, callback, **kw):
        def cb(step, model, **info):
            callback(step, model, **info)
            if step == 4:
                raise _Cut
        return real_train(*a, callback=cb, save_every=2, **kw)

    cut = tmp_path / "cut.safetensors"
    monkeypatch.setattr(script, "train", cut_after_4)
    with pytest.raises(_Cut):
        script.main(long_args + ["--out", str(cut)])
    _, half = load_checkpoint(cut)
    assert not half["final"] and half["steps_done"] == 4 and script.resume_path(cut).is_file()
    monkeypatch.setattr(script, "train", functools.partial(real_train, save_every=2))
    assert script.main(["--resume", "--out", str(cut)]) == 0
    model_cut, resumed = load_checkpoint(cut)
    assert resumed["final"] and resumed["steps_done"] == 5 and resumed["resumed_at"] == [4]
    assert resumed["command"] == extra["command"].replace("whole.safetensors", "cut.safetensors")
    assert resumed["promotions"] == extra["promotions"] and resumed["init"] == extra["init"]
    assert not script.resume_path(cut).exists()
    for name, w in model_whole.state_dict().items():
        assert torch.equal(w, model_cut.state_dict()[name]), name
    with pytest.raises(FileNotFoundError, match="resume"):
        script.main(["--resume", "--out", str(cut)])


# ---- StageCurriculum: cipher and keycls made harder in stages --------------------------------------


def test_default_stages_end_at_each_tasks_defaults():
    from rizzlib.icl.tasks import CipherTask, KeyClassTask

    for name, default in (("cipher", CipherTask()), ("keycls", KeyClassTask())):
        cur = StageCurriculum(name)
        last = cur.make_task(len(cur.stages) - 1)
        assert type(last) is type(default) and vars(last) == vars(default)
        assert cur.stages == tuple(train_mod.STAGES[name]) and cur.start == 0


def test_stage_curriculum_moves_on_after_a_full_window_at_the_threshold_and_stops_at_the_last_stage():
    cur = StageCurriculum("keycls", threshold=0.8, window=4)
    assert cur.next_stage(0, [1.0, 1.0, 1.0]) == 0  # fewer than `window` steps at this stage
    assert cur.next_stage(0, [0.8] * 4) == 1
    assert cur.next_stage(1, [0.0, 1.0, 0.8, 0.8, 0.79]) == 2  # only the last 4 count
    assert cur.next_stage(1, [1.0, 0.6, 0.8, 0.8, 0.8]) == 1  # mean of the last 4 = 0.75
    assert cur.next_stage(3, [1.0] * 4) == 3  # the last stage


@pytest.mark.parametrize(
    "kwargs, name",
    [({"task": "maths"}, "task"), ({"task": "arith"}, "stages"), ({"task": "cipher", "stages": ({"max_len": 0},)}, "max_len"),
     ({"task": "keycls", "stages": ({"n_distractors": 9},)}, "n_distractors"), ({"task": "cipher", "start": 4}, "start"),
     ({"task": "cipher", "start": -1}, "start"), ({"task": "cipher", "threshold": 0.0}, "threshold"),
     ({"task": "cipher", "threshold": 1.01}, "threshold"), ({"task": "keycls", "window": 0}, "window")],
)
def test_stage_curriculum_rejects_bad_settings(kwargs, name):
    with pytest.raises(ValueError, match=name):
        StageCurriculum(**kwargs)


def test_train_config_rejects_stages_it_cannot_use():
    with pytest.raises(ValueError, match="stages"):
        TrainConfig(tasks=("cipher",), task_weights=(1.0,), stages=(StageCurriculum("keycls"),))
    with pytest.raises(ValueError, match="stages"):
        TrainConfig(tasks=("cipher",), task_weights=(1.0,), stages=(StageCurriculum("cipher"), StageCurriculum("cipher")))
    arith_stages = StageCurriculum("arith", stages=({"n_offsets": 1}, {"n_offsets": 10}))
    with pytest.raises(ValueError, match="not both"):
        TrainConfig(tasks=("arith",), task_weights=(1.0,), curriculum=OffsetCurriculum(), stages=(arith_stages,))


@pytest.mark.parametrize("stage", range(4))
def test_stage_batches_follow_the_stage(stage):
    tok = make_tokenizer()
    cfg = TrainConfig(batch_size=8, seq_len=96, tasks=("cipher", "keycls"), task_weights=(1.0, 1.0))
    curs = {t: StageCurriculum(t) for t in cfg.tasks}
    overrides = {t: c.make_task(stage) for t, c in curs.items()}
    ids, _, names = make_batch(cfg, tok, np.random.default_rng(stage), overrides, return_tasks=True)
    for row, name in zip(ids.tolist(), names):
        words = [w for w in tok.convert_ids_to_tokens(row) if w != "<pad>"][2:]  # <bos> <task> off
        demos = " ".join(words).split(" ;")[:-1]
        assert demos
        for d in demos:
            x = d.split("→")[0].split()
            if name == "cipher":
                lo, hi = curs["cipher"].stages[stage]["min_len"], curs["cipher"].stages[stage]["max_len"]
                assert lo <= len(x) <= hi
            else:
                assert len(x) == 1 + curs["keycls"].stages[stage]["n_distractors"]


@pytest.mark.parametrize("seed", range(3))
def test_later_answer_accuracy_is_a_hand_count_without_each_rows_first_answer(seed):
    tok = make_tokenizer()
    cfg = TrainConfig(batch_size=6, seq_len=64, tasks=("keycls", "cipher"), task_weights=(1.0, 1.0))
    ids, mask, names = make_batch(cfg, tok, np.random.default_rng(seed), return_tasks=True)
    logits = _half_right_logits(ids, len(tok), np.random.default_rng(200 + seed))
    stop = tok.convert_tokens_to_ids(";")
    for task in ("cipher", "keycls"):
        rows = [r for r, n in enumerate(names) if n == task]
        hits = count = 0
        for r in rows:
            answer, first_done = 0, False
            for i in range(1, 64):
                if mask[r, i] != 1:
                    continue
                if int(ids[r, i]) == stop:
                    first_done = True
                    continue
                if first_done:  # a symbol of the second answer or later
                    answer += 1
                    count += 1
                    hits += int(int(logits[r, i - 1].argmax()) == int(ids[r, i]))
        if count:
            assert later_answer_accuracy(logits, ids, mask, rows, tok) == pytest.approx(hits / count)
    assert np.isnan(later_answer_accuracy(logits, ids, mask, [], tok))


def test_train_moves_through_the_stages_on_schedule_and_logs_them(monkeypatch):
    tok = make_tokenizer()
    model = tiny_llama(len(tok), seed=0, hidden=16, layers=1)
    cfg = TrainConfig(steps=9, batch_size=2, seq_len=32, warmup=1, tasks=("cipher", "keycls"), task_weights=(1.0, 1.0),
                      stages=(StageCurriculum("cipher", window=2), StageCurriculum("keycls", start=2, window=3)))
    seen = []
    real_batch = train_mod.make_batch

    def spy_batch(cfg_, tok_, rng, overrides=None, return_tasks=False):
        seen.append((overrides["cipher"].max_len, overrides["keycls"].n_distractors, overrides["keycls"].n_classes))
        return real_batch(cfg_, tok_, rng, overrides, return_tasks)

    monkeypatch.setattr(train_mod, "later_answer_accuracy", lambda *a: 1.0)  # every step masters its stage
    monkeypatch.setattr(train_mod, "make_batch", spy_batch)
    hist = train(model, tok, cfg, progress=False)
    assert hist["stages"]["cipher"]["moves"] == [(2, 1), (4, 2), (6, 3)]
    assert hist["stages"]["cipher"]["stage"] == [0, 0, 1, 1, 2, 2, 3, 3, 3]
    assert hist["stages"]["keycls"]["moves"] == [(3, 3)]
    assert hist["stages"]["keycls"]["stage"] == [2, 2, 2, 3, 3, 3, 3, 3, 3]
    # keycls: stage 2 = 8 classes with 3 distractors, stage 3 = the defaults (4 classes)
    assert seen == [(1, 3, 8), (1, 3, 8), (2, 3, 8), (2, 3, 4), (3, 3, 4), (3, 3, 4), (4, 3, 4), (4, 3, 4), (4, 3, 4)]


def test_train_with_stages_resumed_from_a_cut_equals_the_uncut_run(monkeypatch):
    tok = make_tokenizer()
    cfg = TrainConfig(steps=7, batch_size=2, seq_len=48, warmup=2, tasks=("cipher", "keycls"), task_weights=(1.0, 1.0),
                      stages=(StageCurriculum("cipher", threshold=0.5, window=2), StageCurriculum("keycls", threshold=0.5, window=1)))
    monkeypatch.setattr(train_mod, "later_answer_accuracy", lambda logits, ids, mask, rows, tok: float(int(ids[rows].sum()) % 3 > 0) if rows else float("nan"))
    hist, saved, rest = _cut_at_3_and_resume(tok, cfg)
    assert {t: s["stage"] for t, s in saved["info"]["stages"].items()} == {t: s["stage"] for t, s in saved["state"]["stages"].items()}
    for task, h in hist["stages"].items():
        assert rest["stages"][task]["stage"] == h["stage"] and rest["stages"][task]["moves"] == h["moves"]
        np.testing.assert_array_equal(rest["stages"][task]["acc"], h["acc"])  # NaN where no row of the task
    assert sum(len(s["moves"]) for s in hist["stages"].values()) >= 2  # the cut fell inside moving curricula


def test_train_script_stages_run_records_them_and_evaluates_at_the_stage_reached(tmp_path, monkeypatch):
    import rizzlib.icl.evaluate as ev
    from rizzlib.icl.model import load_checkpoint

    monkeypatch.setattr(ev, "CHECKPOINT_EVAL", {**ev.CHECKPOINT_EVAL, "shots": [0, 1], "episodes": 1, "queries": 4})
    monkeypatch.setattr(ev, "CHECKPOINT_TEST_EVAL", {**ev.CHECKPOINT_TEST_EVAL, "shots": [1], "episodes": 1, "queries": 4})
    # cipher masters every step, keycls never: cipher ends at its last stage, keycls at its first
    monkeypatch.setattr(train_mod, "later_answer_accuracy",
                        lambda logits, ids, mask, rows, tok: float("nan") if not rows else float(int(ids[rows[0], 1]) == tok.convert_tokens_to_ids("<cipher>")))
    script = _script()
    out = tmp_path / "lookup.safetensors"
    args = ["--tasks", "cipher", "keycls", "--stages", "cipher", "keycls", "--stage-window", "1", "--steps", "8",
            "--batch-size", "4", "--seq-len", "48", "--warmup", "1", "--out", str(out)]
    assert script.main(args) == 0
    _, extra = load_checkpoint(out)
    assert extra["stages"]["keycls"]["stage"] == 0 and extra["stages"]["keycls"]["moves"] == []
    assert extra["stages"]["cipher"]["stage"] == 3 and [s for s, _ in extra["stages"]["cipher"]["moves"]] == sorted(
        s for s, _ in extra["stages"]["cipher"]["moves"])
    assert extra["stages"]["cipher"]["stages"] == [dict(s) for s in train_mod.STAGES["cipher"]]
    assert extra["train"]["stages"][1] == {"task": "keycls", "stages": list(train_mod.STAGES["keycls"]), "start": 0,
                                           "threshold": StageCurriculum.threshold, "window": 1}
    assert extra["evaluation"]["settings"]["tasks"] == ["cipher", "keycls"]
    stage = extra["stage_evaluation"]
    first = dict(train_mod.STAGES["keycls"][0])
    assert stage["settings"]["tasks"] == ["keycls"] and stage["settings"]["task_kwargs"] == {"keycls": first}
    assert extra["stage_test_evaluation"]["settings"]["task_kwargs"] == {"keycls": first}
    record = (tmp_path / "lookup.md").read_text()
    assert "Stages of cipher" in record and "Stages of keycls" in record and "Evaluation at the stages reached" in record
    assert json.loads(json.dumps(extra))
    assert extra["stages"]["cipher"]["start"] == 0 == extra["stages"]["keycls"]["start"]
    # a run that goes on from it (--init) starts each task at the stage it reached
    again = tmp_path / "again.safetensors"
    assert script.main(args[:-2] + ["--steps", "2", "--init", str(out), "--out", str(again)]) == 0
    _, more = load_checkpoint(again)
    assert more["init"]["stages"] == {"cipher": 3, "keycls": 0} and more["init"]["checkpoint"] == "lookup.safetensors"
    assert [c["start"] for c in more["train"]["stages"]] == [3, 0] and more["stages"]["cipher"]["start"] == 3
    assert more["stages"]["cipher"]["moves"] == [] and "stage_evaluation" in more
