"""rizzlib.core: scales, presets, validation, grading and glue."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from rizzlib.core import grading, validate
from rizzlib.core.scale import Presets, resolve_scale


def test_resolve_scale_reads_env_and_rejects_unknown(monkeypatch):
    monkeypatch.setenv("RIZZLIB_SCALE", "smoke")
    assert resolve_scale() == "smoke"
    assert resolve_scale("GPU") == "gpu"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert resolve_scale("auto") in ("cpu", "gpu")
    with pytest.raises(ValueError, match="smoke, cpu, gpu or auto"):
        resolve_scale("tiny")
    monkeypatch.setenv("RIZZLIB_SCALE", "huge")
    with pytest.raises(ValueError, match="huge"):
        resolve_scale()


def test_presets_pick_by_scale():
    p = Presets(smoke="s", cpu="c", gpu="g")
    assert [p(s) for s in ("smoke", "cpu", "gpu")] == ["s", "c", "g"]
    assert [name for name, _ in p.items()] == ["smoke", "cpu", "gpu"]
    with pytest.raises(ValueError):
        p("medium")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: validate.check_range("lr", 2.0, 0, 1), r"lr must be in \[0, 1\]; got 2.0"),
        (lambda: validate.check_range("lr", float("nan"), 0, 1), "not NaN"),
        (lambda: validate.check_positive("radius", 0.0), r"radius must be in \(0, inf\)"),
        (lambda: validate.check_int_range("size", 2.5, 3, 30), "size must be an integer"),
        (lambda: validate.check_int_range("size", 31, 3, 30), r"size must be in \[3, 30\]"),
        (lambda: validate.check_choice("kind", "x", ["dfs", "astar"]), "'dfs', 'astar'"),
        (lambda: validate.check_finite("w", np.array([1.0, np.inf])), r"entry \(1,\) is"),
        (lambda: validate.check_shape("x", np.zeros((2, 3)), (2, None, 1)), r"\(2, \*, 1\)"),
    ],
)
def test_validation_errors_name_argument_and_range(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_validation_passes_good_values_through_unchanged():
    assert validate.check_range("x", 0.5, 0, 1) == 0.5
    assert validate.check_int_range("n", np.int64(4), 1, 4) == 4
    assert validate.check_shape("x", np.zeros((2, 3)), (2, None)).shape == (2, 3)


def _inputs(rng):
    return (rng.normal(size=int(rng.integers(2, 6))),), {}


def test_compare_with_reference_passes_the_reference(capsys):
    grading.compare_with_reference("square", np.square, np.square, _inputs)
    out = capsys.readouterr().out
    assert out.startswith("PASS square: matches the reference on 5 random inputs")
    assert not any(ord(ch) > 127 for ch in out)  # words, not symbols a reader's font may lack


def test_compare_with_reference_rejects_constant_and_reports_first_mismatch():
    recorded = np.square(np.random.default_rng(0).normal(size=3))
    with pytest.raises(grading.CheckFailed, match="expected shape|differ"):
        grading.compare_with_reference("square", lambda x: recorded, np.square, _inputs)
    with pytest.raises(grading.CheckFailed, match=r"at index \(0,\): expected"):
        grading.compare_with_reference("square", lambda x: x**2 + 1, np.square, _inputs, seed=1)
    with pytest.raises(grading.CheckFailed, match="did you forget to return"):
        grading.compare_with_reference("square", lambda x: None, np.square, _inputs)


def test_compare_with_reference_walks_nested_results():
    @dataclasses.dataclass
    class Out:
        a: np.ndarray
        b: tuple

    ref = lambda x: Out(a=x, b=(x.sum(), {"k": x * 2}))  # noqa: E731
    bad = lambda x: Out(a=x, b=(x.sum(), {"k": x * 3}))  # noqa: E731
    grading.compare_with_reference("nested", ref, ref, _inputs, verbose=False)
    with pytest.raises(grading.CheckFailed, match=r"b\[1\]\.k"):
        grading.compare_with_reference("nested", bad, ref, _inputs)


def test_compare_with_reference_lets_not_implemented_through():
    def blank(x):
        raise NotImplementedError("write me")

    with pytest.raises(NotImplementedError):
        grading.compare_with_reference("square", blank, np.square, _inputs)


def test_fresh_inputs_differ_between_runs_unless_seeded():
    seen = []

    def record(x):
        seen.append(x.copy())
        return np.square(x)

    for _ in range(2):
        grading.compare_with_reference("s", record, np.square, _inputs, n_trials=1, verbose=False)
    assert not np.array_equal(seen[0], seen[1]) or seen[0].shape != seen[1].shape
    seen.clear()
    for _ in range(2):
        grading.compare_with_reference("s", record, np.square, _inputs, n_trials=1, seed=3, verbose=False)
    np.testing.assert_array_equal(seen[0], seen[1])


# ---------------------------------------------------------------- the extended harness (issue 14)


def _square_edges():
    return [("empty", (np.zeros(0),), {}), ("one entry", (np.array([-2.0]),), {})]


def _wrong_on_short_inputs(x):
    return np.square(x) if x.size > 1 else np.abs(x)  # right on every random input, wrong on [-2]


@pytest.mark.parametrize("seed", range(5))
def test_edge_cases_run_first_on_every_run(seed, capsys):
    with pytest.raises(grading.CheckFailed, match=r"edge case 2 of 2 \(one entry\)"):
        grading.compare_with_reference("square", _wrong_on_short_inputs, np.square, _inputs, seed=seed,
                                       edge_cases=_square_edges())
    grading.compare_with_reference("square", np.square, np.square, _inputs, seed=seed, edge_cases=_square_edges())
    assert "on 2 edge cases and 5 random inputs" in capsys.readouterr().out


def test_edge_cases_accept_unlabelled_pairs_and_reject_junk():
    grading.compare_with_reference("sq", np.square, np.square, _inputs, edge_cases=[((np.ones(2),), {})], verbose=False)
    with pytest.raises(ValueError, match="edge_cases"):
        grading.compare_with_reference("sq", np.square, np.square, _inputs, edge_cases=[(1, 2, 3, 4)])


def _split(x):
    return x.sum(), x * 2


def test_output_names_in_messages():
    def bad(x):
        return x.sum(), x * 3

    with pytest.raises(grading.CheckFailed, match=r"output doubled at index \(0,\): expected") as e:
        grading.compare_with_reference("split", bad, _split, _inputs, output_names=("total", "doubled"), seed=0)
    assert "[1]" not in str(e.value)
    with pytest.raises(grading.CheckFailed, match=r"expected 2 outputs \(total, doubled\), got 1"):
        grading.compare_with_reference("split", lambda x: (x.sum(),), _split, _inputs, output_names=("total", "doubled"))
    with pytest.raises(grading.CheckFailed, match="output loss: expected"):
        grading.compare_with_reference("sum", lambda x: x.sum() + 1, np.sum, _inputs, output_names=("loss",))


def check_square(fn, seed=None):
    """A chapter-style check, so the reproduce line can name it."""
    grading.compare_with_reference("square", fn, np.square, _inputs, seed=seed, edge_cases=_square_edges())


def test_failure_names_case_inputs_first_mismatch_and_reproduce_line():
    def off_by_one(x):
        return x**2 + (x.size > 1)

    with pytest.raises(grading.CheckFailed) as e:
        check_square(off_by_one, seed=7)
    msg = str(e.value)
    assert msg.startswith("FAIL square: your result differs from the reference")
    assert "random trial 1 of 5 (seed=7)" in msg
    assert "reproduce: check_square(off_by_one, seed=7)" in msg
    assert re.search(r"x += \[", msg)  # a small input is shown as values, under its name
    assert "at index (0,)" in msg


def test_the_reproduce_line_reproduces():
    seen = []

    def record(x):
        seen.append(x.copy())
        return x**2 + 1

    for _ in range(2):
        with pytest.raises(grading.CheckFailed):
            grading.compare_with_reference("s", record, np.square, _inputs, seed=11)
    np.testing.assert_array_equal(seen[0], seen[1])


def test_student_exception_is_wrapped_with_case_seed_inputs_and_reproduce():
    def crashes(x):
        return x[5] ** 2

    with pytest.raises(grading.CheckFailed) as e:
        check_square(crashes, seed=3)
    msg = str(e.value)
    assert "your function raised IndexError" in msg and "edge case 1 of 2 (empty)" in msg
    assert "reproduce: check_square(crashes, seed=3)" in msg and "x = []" in msg
    assert isinstance(e.value.__cause__, IndexError)  # the student's traceback stays attached


def test_in_place_change_is_named():
    def squares_in_place(x):
        x **= 2
        return x

    with pytest.raises(grading.CheckFailed, match=r"you changed argument `x` in place \(entry \(0,\) was"):
        grading.compare_with_reference("square", squares_in_place, np.square, _inputs)

    def ref(a, b, *, scale):
        return (a + b) * scale

    def zeroes_b(a, b, *, scale):
        out = (a + b) * scale
        b[:] = 0
        return out

    def zeroes_scale(a, b, *, scale):
        out = (a + b) * scale
        scale[...] = 0
        return out

    def inputs(rng):
        return (rng.normal(size=3), rng.normal(size=3)), {"scale": rng.uniform(1, 2, size=1)}

    with pytest.raises(grading.CheckFailed, match="argument `b` in place"):
        grading.compare_with_reference("axpy", zeroes_b, ref, inputs)
    with pytest.raises(grading.CheckFailed, match="argument `scale` in place"):
        grading.compare_with_reference("axpy", zeroes_scale, ref, inputs)


def test_in_place_change_of_torch_tensors_and_modules_is_named():
    torch = pytest.importorskip("torch")

    def ref(model, x):
        with torch.no_grad():
            return model(x)

    def relu_in_place(model, x):
        with torch.no_grad():
            return model(x.relu_())

    def trains_the_model(model, x):
        with torch.no_grad():
            model.weight.add_(1.0)
            return model(x) - x @ torch.ones_like(model.weight).T

    def inputs(rng):
        torch.manual_seed(int(rng.integers(1000)))
        return (torch.nn.Linear(3, 2), torch.from_numpy(rng.normal(size=(4, 3)).astype(np.float32))), {}

    with pytest.raises(grading.CheckFailed, match="argument `x` in place"):
        grading.compare_with_reference("lin", relu_in_place, ref, inputs)
    with pytest.raises(grading.CheckFailed, match=r"argument `model` in place \(state_dict\.weight"):
        grading.compare_with_reference("lin", trains_the_model, ref, inputs, rtol=1e-4, atol=1e-4)


def test_reference_gets_a_copy_so_both_see_the_same_generator_state():
    def ref(n, rng):
        return rng.random(n)

    grading.compare_with_reference("draw", ref, ref, lambda rng: ((3, np.random.default_rng(rng.integers(99))), {}),
                                   verbose=False)


def test_describe_value_is_readable():
    assert grading.describe_value(np.array([1.0, 2.5])).startswith("[1. , 2.5]")
    big = grading.describe_value(np.arange(100.0))
    assert "shape (100,)" in big and "min 0" in big and "max 99" in big and "mean 49.5" in big
    assert "3 of 50 True" in grading.describe_value(np.arange(50) < 3)
    assert grading.describe_value(3.0) == "3"
    assert grading.describe_value(np.random.default_rng(0)) == "a numpy Generator"

    class Opaque:
        pass

    assert grading.describe_value(Opaque()) == "Opaque"
    assert len(grading.describe_value(list(range(1000)))) < 120


def test_call_student_and_fail_carry_context():
    def crashes(x):
        raise KeyError("k")

    with pytest.raises(grading.CheckFailed, match=r"(?s)raised KeyError.*case: maze 2.*reproduce: check_x\(f, seed=1\)"):
        grading.call_student("x", crashes, (np.ones(2),), case="maze 2", reproduce="check_x(f, seed=1)")
    assert grading.call_student("x", np.square, (np.ones(2),)).tolist() == [1.0, 1.0]
    with pytest.raises(grading.CheckFailed, match=r"(?s)FAIL x: too short.*case: trial 1.*size = 3"):
        grading.fail("x", "too short", case="trial 1", inputs=((3,), {}), arg_names=["size"])


def test_callables_inside_results_are_not_graded():
    ref = lambda x: {"apply_fn": np.square, "y": x}  # noqa: E731
    other = lambda x: {"apply_fn": np.abs, "y": x}  # noqa: E731
    grading.compare_with_reference("state", other, ref, _inputs, verbose=False)


def test_sequence_length_mismatch_says_where():
    with pytest.raises(grading.CheckFailed, match=r"expected 3 items, got 2 \(the first 2 agree; first missing item 'c'\)"):
        grading.compare_with_reference("tok", lambda n: ["a", "b"], lambda n: ["a", "b", "c"], lambda rng: ((1,), {}))


def test_assert_check_grades_names_the_answer_and_seed():
    def check_sq(fn, seed=None):
        grading.compare_with_reference("square", fn, np.square, _inputs, seed=seed, edge_cases=_square_edges())

    def right(x):
        return x * x

    def wrong_a(x):
        return x * 2

    def wrong_b(x):
        return np.abs(x) * x

    grading.assert_check_grades(check_sq, [right], [wrong_a, wrong_b, _wrong_on_short_inputs], seeds=range(3))
    with pytest.raises(AssertionError, match="passed the wrong answer right at seed 0"):
        grading.assert_check_grades(check_sq, [right], [wrong_a, wrong_b, right], seeds=range(3))
    with pytest.raises(AssertionError, match="failed the right answer wrong_a at seed 0"):
        grading.assert_check_grades(check_sq, [wrong_a], [wrong_b, wrong_b, wrong_b], seeds=range(3))
    with pytest.raises(AssertionError, match="at least 3 plausible wrong answers"):
        grading.assert_check_grades(check_sq, [right], [wrong_a])


def test_expect_error():
    def strict(x):
        if x < 0:
            raise ValueError("x must be >= 0")
        return x

    grading.expect_error("neg", strict, (-1,), match="x must be")
    with pytest.raises(grading.CheckFailed, match="nothing was raised"):
        grading.expect_error("pos", strict, (1,))
    with pytest.raises(grading.CheckFailed, match="does not mention"):
        grading.expect_error("neg", strict, (-1,), match="radius")
    with pytest.raises(grading.CheckFailed, match="got TypeError"):
        grading.expect_error("type", lambda: len(3))


def test_glue_writes_myst_nb_output(monkeypatch):
    from rizzlib.core import glue as glue_mod

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda data, raw, metadata: shown.append((data, metadata)))
    assert glue_mod.glue("speed", "1.5x") is None  # nothing to echo under the cell
    data, metadata = shown[0]
    assert metadata["scrapbook"] == {"name": "speed", "mime_prefix": glue_mod.GLUE_PREFIX}
    assert data[glue_mod.GLUE_PREFIX + "text/plain"] == "1.5x"


def test_animate_frames_makes_a_player_and_rejects_bad_frames():
    from rizzlib.core.anim import animate_frames

    frames = np.zeros((3, 8, 12, 3), dtype=np.uint8)
    html = animate_frames(frames, fps=10).data
    assert "<script" in html and "Animation" in html
    with pytest.raises(ValueError, match="frames must have shape"):
        animate_frames(np.zeros((8, 12, 3)))
    with pytest.raises(ValueError, match="fps"):
        animate_frames(frames, fps=0)


def test_runtime_describe_prints_scale_device_versions(capsys):
    from rizzlib.core.runtime import describe

    assert describe("smoke") == "smoke"
    out = capsys.readouterr().out
    assert "scale: smoke" in out and "device:" in out and "numpy" in out


def test_best_run_seconds_warms_up_alternates_and_keeps_the_fastest():
    from rizzlib.core.timing import best_run_seconds

    now = [0.0]
    calls = {"a": [], "b": []}
    # a's runs get faster (a freshly compiled function warming up); b's take 0.25 s each
    durations = {"a": iter([0.5, 0.4, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])}

    def make(name):
        def run():
            dt = 0.25 if name == "b" else next(durations["a"])
            calls[name].append(dt)
            now[0] += dt

        return run

    best = best_run_seconds({"a": make("a"), "b": make("b")}, repeats=2, warmup_s=0.6, min_s=0.7,
                            clock=lambda: now[0])
    assert calls["a"][:2] == [0.5, 0.4]  # warm-up: runs until 0.6 s have passed, untimed
    assert calls["b"][:3] == [0.25] * 3
    # timed, alternating: 2 rounds satisfy repeats, but a has only 0.3 + 0.2 s < min_s, so two more
    assert calls["a"][2:] == [0.3, 0.2, 0.1, 0.1] and len(calls["b"]) == 3 + 4
    assert best == pytest.approx({"a": 0.1, "b": 0.25})


def test_best_run_seconds_rejects_bad_arguments():
    from rizzlib.core.timing import best_run_seconds

    with pytest.raises(ValueError, match="runs"):
        best_run_seconds({})
    with pytest.raises(ValueError, match="repeats"):
        best_run_seconds({"x": lambda: None}, repeats=0)
    with pytest.raises(ValueError, match="min_s"):
        best_run_seconds({"x": lambda: None}, min_s=-1.0)
