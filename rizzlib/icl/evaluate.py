"""Predictions, metrics (exact match, chrF, ROUGE-L) and significance tests against Random.

``predict_lm`` answers every query after one fixed demonstration block with the prefix cached
(:mod:`rizzlib.icl.cache`); ``evaluate_shots`` is the accuracy-vs-shots curve of a model and of the
ideal learner on fresh episodes, the evaluation the shipped checkpoint records.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from rizzlib.core.validate import check_choice, check_int_range, check_range
from rizzlib.icl.cache import encode_prefix, greedy_generate
from rizzlib.icl.ideal import ideal_predict
from rizzlib.icl.prompt import Template, build_prefix, build_query, synthetic_template
from rizzlib.icl.tasks import TASK_NAMES, Example, get_task, sample_episode

CHECKPOINT_EVAL = {"tasks": list(TASK_NAMES), "shots": [0, 1, 2, 4, 8, 16, 32, 64], "episodes": 8, "queries": 16, "seed": 1234}
"""What ``scripts/icl_train.py`` evaluates and records beside the checkpoint."""
CHECKPOINT_TEST_EVAL = {"tasks": list(TASK_NAMES), "shots": [0, 16, 64], "episodes": 2, "queries": 16, "seed": 99}
"""The smaller evaluation ``tests/test_icl_checkpoint.py`` re-runs and compares with the recorded one."""


def exact_match(predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """1.0 where the whitespace-normalised prediction equals the reference, else 0.0; shape (n,)."""
    if len(predictions) != len(references):
        raise ValueError(f"predictions and references must have the same length; got {len(predictions)} and {len(references)}")
    return np.array([float(" ".join(p.split()) == " ".join(r.split())) for p, r in zip(predictions, references)])


def chrf(predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """Sentence-level chrF (sacrebleu, character 6-grams, beta 2) per pair, scaled to [0, 1]; shape (n,)."""
    from sacrebleu.metrics import CHRF

    if len(predictions) != len(references):
        raise ValueError(f"predictions and references must have the same length; got {len(predictions)} and {len(references)}")
    metric = CHRF()
    return np.array([metric.sentence_score(p, [r]).score / 100.0 for p, r in zip(predictions, references)])


METRICS = ("accuracy", "chrf", "rougeL")
"""Metrics of :func:`score`: exact match (classification, reasoning), chrF (translation), ROUGE-L F
(summarization, :mod:`rizzlib.icl.rouge`)."""


def score(metric: str, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """Per-example scores under ``metric`` (one of :data:`METRICS`), each in [0, 1]."""
    from rizzlib.icl.rouge import rouge_l_f

    check_choice("metric", metric, METRICS)
    if metric == "accuracy":
        return exact_match(predictions, references)
    return chrf(predictions, references) if metric == "chrf" else rouge_l_f(predictions, references)


def predict_lm(
    model,
    tokenizer,
    template: Template,
    demos: Sequence[Example],
    xs: Sequence[str],
    max_new_tokens: int = 8,
    cached: bool = True,
) -> list[str]:
    """Greedy answers of ``model`` to every query input in ``xs`` after the fixed ``demos``."""
    if not xs:
        return []
    prefix_ids = build_prefix(tokenizer, template, demos)
    queries = [build_query(tokenizer, template, x) for x in xs]
    stop = tokenizer.encode(template.stop, add_special_tokens=False)
    stop_ids = [stop[-1]] if stop else []
    if tokenizer.eos_token_id is not None:
        stop_ids.append(tokenizer.eos_token_id)
    prefix = encode_prefix(model, prefix_ids) if cached else prefix_ids
    outs = greedy_generate(model, prefix, queries, max_new_tokens, stop_ids=stop_ids, cached=cached)
    return [template.parse_answer(tokenizer.decode(o, skip_special_tokens=True)) for o in outs]


def evaluate_shots(
    model,
    tokenizer,
    tasks: Sequence[str] = TASK_NAMES,
    shots: Sequence[int] = (0, 1, 2, 4, 8, 16, 32, 64),
    episodes: int = 12,
    queries: int = 16,
    seed: int = 0,
    return_runs: bool = False,
    task_kwargs: dict[str, dict] | None = None,
):
    """Exact-match accuracy against the number of (random, fixed) shots, model and ideal learner.

    Each episode draws a fresh rule, a pool and ``queries`` queries; the demos for k shots are the
    first k of one random order of the pool (so the sets are nested across k). ``task_kwargs`` maps
    a task name to settings of its task class (e.g. ``{"arith": {"n_offsets": 3}}``); tasks not
    named keep their defaults.

    Returns:
        ``{task: {"model": [acc per k], "ideal": [acc per k]}}``; with ``return_runs`` also
        ``{task: {learner: array (episodes, shots)}}`` for error bars.
    """
    check_int_range("episodes", episodes, 1, None)
    check_int_range("queries", queries, 1, None)
    for k in shots:
        check_int_range("shots[i]", k, 0, None)
    task_kwargs = dict(task_kwargs or {})
    for name in task_kwargs:
        if name not in tasks:
            raise ValueError(f"task_kwargs names {name!r}, which is not among tasks {list(tasks)}")
    out: dict[str, dict[str, list[float]]] = {}
    runs: dict[str, dict[str, np.ndarray]] = {}
    for t, name in enumerate(tasks):
        task = get_task(name)
        if name in task_kwargs:
            task = type(task)(**task_kwargs[name])
        tmpl = synthetic_template(name)
        rng = np.random.default_rng([seed, t])
        hits = {"model": np.zeros((episodes, len(shots))), "ideal": np.zeros((episodes, len(shots)))}
        for e in range(episodes):
            ep = sample_episode(task, rng, n_pool=max(max(shots), 1), n_queries=queries)
            order = rng.permutation(len(ep.pool))
            xs, ys = [q.x for q in ep.queries], [q.y for q in ep.queries]
            for j, k in enumerate(shots):
                demos = [ep.pool[i] for i in order[:k]]
                hits["model"][e, j] = exact_match(predict_lm(model, tokenizer, tmpl, demos, xs), ys).mean()
                hits["ideal"][e, j] = exact_match(ideal_predict(name, demos, xs), ys).mean()
        out[name] = {who: [round(float(v), 4) for v in h.mean(0)] for who, h in hits.items()}
        runs[name] = hits
    return (out, runs) if return_runs else out


def welch_test(method: Sequence[float], baseline: Sequence[float]) -> tuple[float, float]:
    """(t statistic, two-sided p-value) of Welch's unequal-variance t-test of method vs baseline.

    Identical constant samples give (0.0, 1.0) instead of NaN.
    """
    from scipy import stats

    a, b = np.asarray(method, dtype=np.float64), np.asarray(baseline, dtype=np.float64)
    if a.size < 2 or b.size < 2:
        raise ValueError(f"each sample needs at least 2 runs; got {a.size} and {b.size}")
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return (0.0, 1.0) if a[0] == b[0] else (float(np.sign(a[0] - b[0]) * np.inf), 0.0)
    with warnings.catch_warnings():  # nearly identical samples: scipy warns, the p-value is still right
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.ttest_ind(a, b, equal_var=False)
    return float(res.statistic), float(res.pvalue)


def significantly_better(method: Sequence[float], baseline: Sequence[float], alpha: float = 0.05) -> bool:
    """Table 1's criterion: Welch p < alpha and the method's mean above the baseline's."""
    check_range("alpha", alpha, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    _, p = welch_test(method, baseline)
    return bool(p < alpha and np.mean(method) > np.mean(baseline))


def count_significant_wins(runs: dict[str, np.ndarray], baseline: str = "random", alpha: float = 0.05) -> dict[str, tuple[int, int]]:
    """Per method: (significant wins over ``baseline``, comparisons), over the last axes of ``runs``.

    ``runs[method]`` has shape (settings..., seeds); each setting (e.g. task x shots) is one comparison.
    """
    if baseline not in runs:
        raise ValueError(f"baseline {baseline!r} must be one of the methods {sorted(runs)}")
    base = np.asarray(runs[baseline])
    out = {}
    for name, vals in runs.items():
        if name == baseline:
            continue
        v = np.asarray(vals)
        if v.shape != base.shape:
            raise ValueError(f"runs[{name!r}] has shape {v.shape}, expected {base.shape} like the baseline")
        flat_v, flat_b = v.reshape(-1, v.shape[-1]), base.reshape(-1, base.shape[-1])
        wins = sum(significantly_better(a, b, alpha) for a, b in zip(flat_v, flat_b))
        out[name] = (int(wins), int(flat_v.shape[0]))
    return out
