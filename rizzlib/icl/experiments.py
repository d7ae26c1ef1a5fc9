"""The chapter's experiments as functions: selection sweeps, coverage, noise curves, augmentation.

Every experiment runs the same demonstrations through two learners: a causal LM (``model`` with its
``tokenizer``; pass ``model=None`` to skip it) and the non-neural ideal learner of the task.
Results are numpy arrays with named axes, seeds last, ready for :mod:`rizzlib.icl.evaluate`'s tests.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence

import numpy as np

from rizzlib.core.validate import check_int_range, check_range
from rizzlib.icl.data import Data, as_data
from rizzlib.icl.embed import SymbolEmbedder
from rizzlib.icl.evaluate import predict_lm, score
from rizzlib.icl.ideal import covered
from rizzlib.icl.noise import inject_noise
from rizzlib.icl.prompt import synthetic_template
from rizzlib.icl.select import (
    ALL_SELECTORS,
    ORDERS,
    QUERY_INDEPENDENT,
    SELECTORS,
    make_pool,
    order_demos,
    select,
)
from rizzlib.icl.tasks import VOCAB, Example, get_task, sample_episode


def query_coverage(task_name: str, demos: Sequence[Example], x: str) -> float:
    """Fraction of the query's symbols that appear in some demo input (1.0 when it needs none)."""
    task = get_task(task_name)
    need = task.symbols(x)
    if not need:
        return 1.0
    have = {s for ex in demos for s in ex.x.split()}
    return len(need & have) / len(need)


def hull_coverage(selected: np.ndarray, pool: np.ndarray, dims: int = 3) -> float:
    """Volume of the convex hull of ``selected`` over that of ``pool`` after PCA to ``dims`` dimensions.

    PCA is fitted on the pool (the paper does not say how it measured hulls in 768 dimensions; this
    is the spec's documented choice). Fewer than dims + 1 points, or a flat hull, give 0.
    """
    from scipy.spatial import ConvexHull, QhullError

    pool = np.asarray(pool, dtype=np.float64)
    sel = np.asarray(selected, dtype=np.float64)
    mean = pool.mean(0)
    _, _, vt = np.linalg.svd(pool - mean, full_matrices=False)
    proj = vt[:dims].T
    P, S = (pool - mean) @ proj, (sel - mean) @ proj
    try:
        full = ConvexHull(P).volume
    except QhullError as e:
        raise ValueError(f"the pool spans fewer than {dims} dimensions; no hull volume") from e
    if len(S) < dims + 1:
        return 0.0
    try:
        return float(ConvexHull(S).volume / full)
    except QhullError:
        return 0.0


def prompt_order(method: str) -> str:
    """How a query-dependent selection is laid out: ICCL keeps its easy-to-hard order; the others
    put the most similar demo last, next to the query (the spec's default)."""
    return "as_selected" if method == "iccl" else "ascending_sim"


def _check_methods(methods: Sequence[str]) -> None:
    for m in methods:
        if m not in ALL_SELECTORS:
            raise ValueError(f"methods must be among {tuple(ALL_SELECTORS)}; got {m!r}")


@dataclasses.dataclass(frozen=True)
class SelectionResult:
    """Scores of a selection sweep, shape (methods, shots, seeds), and the query coverage of the demos."""

    methods: tuple[str, ...]
    shots: tuple[int, ...]
    model: np.ndarray | None
    ideal: np.ndarray
    coverage: np.ndarray


def _learners(model, tokenizer, task, demos, xs):
    """(LM answers or None, ideal answers or None) for the query inputs ``xs`` after ``demos``."""
    data = as_data(task)
    lm = predict_lm(model, tokenizer, data.template, demos, xs) if model is not None else None
    return lm, (data.ideal(demos, xs) if data.ideal is not None else None)


def _mean_score(metric: str, preds, ys) -> float:
    """Mean score, NaN when there are no predictions (a learner that does not exist for the data)."""
    return float("nan") if preds is None else float(score(metric, preds, ys).mean())


def run_selection(
    task_name: str,
    methods: Sequence[str] = tuple(SELECTORS),
    shots: Sequence[int] = (1, 2, 4, 8, 16, 32, 64),
    seeds: int = 10,
    n_pool: int = 256,
    n_queries: int = 32,
    model=None,
    tokenizer=None,
    embedder=None,
    seed: int = 0,
) -> SelectionResult:
    """Scores of every selection method at every shot count over ``seeds`` fresh episodes.

    Query-independent methods choose one demo set per (seed, k), shared by all queries (one cached
    prefix); relevance chooses per query and orders the most similar demo last. Scores use the
    task's metric (exact match; chrF for the cipher).
    """
    check_int_range("seeds", seeds, 1, None)
    _check_methods(methods)
    task = get_task(task_name)
    embedder = embedder or SymbolEmbedder(VOCAB)
    shape = (len(methods), len(shots), seeds)
    lm_scores = np.zeros(shape) if model is not None else None
    ideal_scores, cov = np.zeros(shape), np.zeros(shape)
    for s in range(seeds):
        rng = np.random.default_rng([seed, s])
        ep = sample_episode(task, rng, n_pool=n_pool, n_queries=n_queries)
        pool = make_pool(ep.pool, embedder, task.difficulty(ep.pool))
        q_emb = embedder.encode([q.x for q in ep.queries])
        xs, ys = [q.x for q in ep.queries], [q.y for q in ep.queries]
        for mi, method in enumerate(methods):
            for ki, k in enumerate(shots):
                run_rng = np.random.default_rng([seed, s, mi, ki])
                if method in QUERY_INDEPENDENT:
                    idx = select(method, pool, q_emb[0], k, run_rng)
                    demos = [pool.examples[i] for i in idx]
                    lm, ideal = _learners(model, tokenizer, task_name, demos, xs)
                    cv = [query_coverage(task_name, demos, x) for x in xs]
                else:
                    lm, ideal, cv = [], [], []
                    for qi, x in enumerate(xs):
                        idx = order_demos(select(method, pool, q_emb[qi], k, run_rng), pool, q_emb[qi], prompt_order(method), run_rng)
                        demos = [pool.examples[i] for i in idx]
                        a, b = _learners(model, tokenizer, task_name, demos, [x])
                        lm += a or []
                        ideal += b
                        cv.append(query_coverage(task_name, demos, x))
                if model is not None:
                    lm_scores[mi, ki, s] = score(task.metric, lm, ys).mean()
                ideal_scores[mi, ki, s] = score(task.metric, ideal, ys).mean()
                cov[mi, ki, s] = float(np.mean(cv))
    return SelectionResult(tuple(methods), tuple(shots), lm_scores, ideal_scores, cov)


ORDER_CONDITIONS = ("random", "ascending_sim", "descending_sim", "easy_to_hard")
"""The orders of the ablation: Baek et al.'s Table 3 (random, ascending and descending similarity to
the query) and the curriculum order (easy to hard)."""


@dataclasses.dataclass(frozen=True)
class OrderResult:
    """Scores of the order ablation, shape (orders, shots, seeds) per learner.

    Every order of one (seed, k, query) shows the *same* demonstrations, so differences are due to
    the order alone. ``set_method`` is the selector that chose them.
    """

    orders: tuple[str, ...]
    shots: tuple[int, ...]
    set_method: str
    model: np.ndarray | None
    ideal: np.ndarray


def run_order(
    task_name: str | Data,
    orders: Sequence[str] = ORDER_CONDITIONS,
    shots: Sequence[int] = (4, 16, 64),
    seeds: int = 10,
    n_pool: int = 256,
    n_queries: int = 16,
    set_method: str = "relevance",
    model=None,
    tokenizer=None,
    embedder=None,
    seed: int = 0,
) -> OrderResult:
    """Does the order of the demonstrations matter once many are given? (Baek et al. Table 3.)

    Per seed a fresh episode; per shot count k and query, ``set_method`` chooses k demos (relevance:
    the query's k nearest; a query-independent method: one set per (seed, k)); each order in
    ``orders`` (see :func:`~rizzlib.icl.select.order_demos`) arranges that same set, and both
    learners answer. Difficulty is the task's intrinsic score (real data: the
    :class:`~rizzlib.icl.data.Data`'s). Scores use the task's metric; a real dataset has no ideal
    learner (NaN scores).
    """
    check_int_range("seeds", seeds, 1, None)
    if set_method not in SELECTORS:
        raise ValueError(f"set_method must be among {tuple(SELECTORS)}; got {set_method!r}")
    for o in orders:
        if o not in ORDERS:
            raise ValueError(f"orders must be among {ORDERS}; got {o!r}")
    if not orders:
        raise ValueError("orders must name at least one order; got none")
    data = as_data(task_name)
    embedder = embedder or data.embedder
    shape = (len(orders), len(shots), seeds)
    lm_scores = np.zeros(shape) if model is not None else None
    ideal_scores = np.zeros(shape)
    for s in range(seeds):
        rng = np.random.default_rng([seed, s])
        ep_pool, ep_queries = data.draw(rng, n_pool, n_queries)
        pool = make_pool(ep_pool, embedder, data.difficulty(ep_pool, np.random.default_rng([seed, s, 99])))
        q_emb = embedder.encode([q.x for q in ep_queries])
        ys = [q.y for q in ep_queries]
        for ki, k in enumerate(shots):
            set_rng = np.random.default_rng([seed, s, ki])
            fixed = select(set_method, pool, q_emb[0], k, set_rng) if set_method in QUERY_INDEPENDENT else None
            preds_lm: list[list[str]] = [[] for _ in orders]
            preds_ideal: list[list[str]] = [[] for _ in orders]
            for qi, q in enumerate(ep_queries):
                chosen = fixed if fixed is not None else select(set_method, pool, q_emb[qi], k, set_rng)
                for oi, order in enumerate(orders):
                    idx = order_demos(chosen, pool, q_emb[qi], order, np.random.default_rng([seed, s, ki, qi, oi]))
                    lm, ideal = _learners(model, tokenizer, data, [pool.examples[i] for i in idx], [q.x])
                    preds_lm[oi] += lm or []
                    preds_ideal[oi] += ideal or []
            for oi in range(len(orders)):
                ideal_scores[oi, ki, s] = _mean_score(data.metric, preds_ideal[oi] if data.ideal else None, ys)
                if model is not None:
                    lm_scores[oi, ki, s] = _mean_score(data.metric, preds_lm[oi], ys)
    return OrderResult(tuple(orders), tuple(shots), set_method, lm_scores, ideal_scores)


def paired_order_test(scores: np.ndarray, orders: Sequence[str], baseline: str = "random", alpha: float = 0.05) -> dict[str, list[bool]]:
    """Per order and shot count: does it differ significantly (either way) from ``baseline``?

    ``scores`` has shape (orders, shots, seeds); the runs of one seed share demonstrations, so the
    test is a paired t-test over seeds (two-sided, ``alpha``). Identical runs are not significant.
    """
    from scipy import stats

    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 3 or scores.shape[0] != len(orders):
        raise ValueError(f"scores must have shape ({len(orders)}, shots, seeds); got {scores.shape}")
    if baseline not in orders:
        raise ValueError(f"baseline {baseline!r} must be one of the orders {tuple(orders)}")
    base = scores[list(orders).index(baseline)]
    out = {}
    for oi, name in enumerate(orders):
        if name == baseline:
            continue
        flags = []
        for a, b in zip(scores[oi], base):
            d = a - b
            if np.ptp(d) == 0:
                flags.append(bool(d[0] != 0 and len(d) > 1))
                continue
            with warnings.catch_warnings():  # nearly constant differences: scipy warns, the p-value stands
                warnings.simplefilter("ignore", RuntimeWarning)
                flags.append(bool(stats.ttest_rel(a, b).pvalue < alpha))
        out[name] = flags
    return out


def run_noise(
    task_name: str | Data,
    fractions: Sequence[float] = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0),
    k: int = 64,
    seeds: int = 10,
    n_queries: int = 32,
    model=None,
    tokenizer=None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Scores with a fraction of the k random demos' outputs swapped, shape (fractions, seeds) per learner.

    ``task_name`` may be a :class:`~rizzlib.icl.data.Data` (real data: k random pool examples per
    seed; no ideal learner, so ``"ideal"`` is NaN).
    """
    check_int_range("k", k, 1, None)
    data = as_data(task_name)
    out = {"ideal": np.zeros((len(fractions), seeds))}
    if model is not None:
        out["model"] = np.zeros((len(fractions), seeds))
    for s in range(seeds):
        rng = np.random.default_rng([seed, s])
        pool, queries = data.draw(rng, k, n_queries)
        xs, ys = [q.x for q in queries], [q.y for q in queries]
        for fi, r in enumerate(fractions):
            demos = inject_noise(pool, r, np.random.default_rng([seed, s, fi])).examples
            lm, ideal = _learners(model, tokenizer, data, demos, xs)
            out["ideal"][fi, s] = _mean_score(data.metric, ideal, ys)
            if model is not None:
                out["model"][fi, s] = _mean_score(data.metric, lm, ys)
    return out


INFLATION_CONDITIONS = ("repeated", "distinct")


@dataclasses.dataclass(frozen=True)
class InflationResult:
    """Scores of the context-inflation experiment, shape (conditions, fractions, seeds) per learner.

    ``fractions`` are the shares of ``window`` tokens the prompt may fill; ``n_demos`` (same shape)
    counts the demonstrations that fit; ``n_distinct`` is the pool the ``repeated`` condition cycles.
    """

    conditions: tuple[str, ...]
    fractions: tuple[float, ...]
    window: int
    n_distinct: int
    n_demos: np.ndarray
    model: np.ndarray | None
    ideal: np.ndarray


def run_inflation(
    task_name: str | Data,
    fractions: Sequence[float] = (0.125, 0.25, 0.5, 0.75, 1.0),
    window: int = 1024,
    n_distinct: int = 16,
    seeds: int = 10,
    n_queries: int = 16,
    model=None,
    tokenizer=None,
    reserve: int = 6,
    seed: int = 0,
) -> InflationResult:
    """Very long contexts (Baek et al. Fig. 8): fill a share of the window by repeating a small pool.

    Per seed a fresh episode. ``repeated``: the first ``n_distinct`` demos (an i.i.d. draw) cycled
    in order until ``fraction * window`` tokens are full, as the paper inflates its contexts once the
    pool is exhausted; ``distinct``: as many *fresh* demos of the same rule at the same length (the
    control of Agarwal et al.: are repeats worse than new examples?). The two coincide until the
    pool runs out. Token counts use ``tokenizer`` (default: the synthetic tasks' tokenizer; a real
    dataset needs the model's), with ``reserve`` tokens kept for the answer. On a real dataset the
    distinct demos are the whole pool at most, so ``distinct`` stops growing when it runs out
    (``n_demos`` records it).
    """
    from rizzlib.icl.prompt import build_prompt
    from rizzlib.icl.tasks import make_tokenizer

    check_int_range("seeds", seeds, 1, None)
    check_int_range("n_distinct", n_distinct, 1, None)
    check_int_range("window", window, 16, None)
    for f in fractions:
        check_range("fractions[i]", f, 0.0, 1.0, low_inclusive=False)
    data = as_data(task_name)
    tmpl = data.template
    if tokenizer is None and data.ideal is None:
        raise ValueError(f"tokenizer must be given for the real dataset {data.name!r} (token counts use the model's)")
    tok = tokenizer if tokenizer is not None else make_tokenizer()
    shape = (len(INFLATION_CONDITIONS), len(fractions), seeds)
    lm_scores = np.zeros(shape) if model is not None else None
    ideal_scores, n_demos = np.zeros(shape), np.zeros(shape, dtype=np.int64)
    max_demos = window // 4 + n_distinct  # every synthetic demo takes at least 4 tokens
    if data.max_pool is not None:
        check_int_range("n_distinct", n_distinct, 1, data.max_pool)
        max_demos = min(max_demos, data.max_pool)
    for s in range(seeds):
        rng = np.random.default_rng([seed, s])
        ep_pool, ep_queries = data.draw(rng, max_demos, n_queries)
        xs, ys = [q.x for q in ep_queries], [q.y for q in ep_queries]
        longest = max(xs, key=lambda x: len(tok.encode(tmpl.render_query(x), add_special_tokens=False)))
        n_rep = window // 4 + n_distinct
        sequences = {
            "repeated": [ep_pool[i % n_distinct] for i in range(n_rep)],
            "distinct": list(ep_pool),
        }
        for ci, cond in enumerate(INFLATION_CONDITIONS):
            for fi, f in enumerate(fractions):
                n = build_prompt(tok, tmpl, sequences[cond], longest, max(int(f * window), 1), reserve).n_demos
                demos = sequences[cond][:n]
                n_demos[ci, fi, s] = n
                lm, ideal = _learners(model, tokenizer, data, demos, xs)
                ideal_scores[ci, fi, s] = _mean_score(data.metric, ideal, ys)
                if model is not None:
                    lm_scores[ci, fi, s] = _mean_score(data.metric, lm, ys)
    return InflationResult(INFLATION_CONDITIONS, tuple(fractions), window, n_distinct, n_demos, lm_scores, ideal_scores)


def coverage_complete(task_name: str, demos: Sequence[Example], xs: Sequence[str]) -> np.ndarray:
    """Per query: whether the demos cover every symbol it needs (bool array)."""
    return np.array([covered(demos, x, task_name) for x in xs])


def loss_difficulty(model, tokenizer, template, pool: Sequence[Example], rng: np.random.Generator, n_context: int = 8) -> np.ndarray:
    """Difficulty (b) of the spec: mean NLL per token of y given x after one fixed random ``n_context``-shot block."""
    from rizzlib.icl.augment import LogProbJudge

    check_int_range("n_context", n_context, 1, len(pool))
    judge = LogProbJudge(model, tokenizer, template, n_judgements=1, n_refs=n_context)
    return -judge.score(list(pool), list(pool), rng)


def run_dataset_selection(
    model,
    tokenizer,
    template,
    metric: str,
    pool_examples: Sequence[Example],
    eval_examples: Sequence[Example],
    embedder,
    methods: Sequence[str] = tuple(SELECTORS),
    shots: Sequence[int] = (1, 4, 16, 64),
    seeds: int = 10,
    max_new_tokens: int = 64,
    seed: int = 0,
) -> np.ndarray:
    """The selection sweep on a real dataset (gpu path): scores of shape (methods, shots, seeds).

    Difficulty is the model's own loss (:func:`loss_difficulty`); each seed re-draws the random
    choices (Random's set, k-means init, the curriculum's set, the difficulty context).
    """
    check_int_range("seeds", seeds, 1, None)
    _check_methods(methods)
    pool = make_pool(pool_examples, embedder, np.zeros(len(pool_examples)))
    q_emb = embedder.encode([e.x for e in eval_examples])
    xs, ys = [e.x for e in eval_examples], [e.y for e in eval_examples]
    out = np.zeros((len(methods), len(shots), seeds))
    for s in range(seeds):
        diff = loss_difficulty(model, tokenizer, template, pool.examples, np.random.default_rng([seed, s, 99]))
        pool_s = dataclasses.replace(pool, difficulty=diff)
        for mi, method in enumerate(methods):
            for ki, k in enumerate(shots):
                rng = np.random.default_rng([seed, s, mi, ki])
                if method in QUERY_INDEPENDENT:
                    demos = [pool_s.examples[i] for i in select(method, pool_s, q_emb[0], k, rng)]
                    preds = predict_lm(model, tokenizer, template, demos, xs, max_new_tokens)
                else:
                    preds = []
                    for qi, x in enumerate(xs):
                        idx = order_demos(select(method, pool_s, q_emb[qi], k, rng), pool_s, q_emb[qi], prompt_order(method), rng)
                        preds += predict_lm(model, tokenizer, template, [pool_s.examples[i] for i in idx], [x], max_new_tokens)
                out[mi, ki, s] = score(metric, preds, ys).mean()
    return out


AUGMENT_CONDITIONS = ("originals", "+unfiltered", "+filtered", "synthetic only")


@dataclasses.dataclass(frozen=True)
class AugmentResult:
    """Scores of the augmentation ablation, shape (conditions, seeds) per learner, and the filter's quality.

    ``precision``/``recall`` (per seed) compare the kept candidates with those that are truly
    correct under the episode's rule; ``n_candidates`` and ``frac_correct`` describe the generations.
    """

    conditions: tuple[str, ...]
    model: np.ndarray | None
    ideal: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    n_candidates: np.ndarray
    frac_correct: np.ndarray


def run_augmentation(
    task_name: str,
    model,
    tokenizer,
    n_originals: int = 16,
    n_candidates: int = 128,
    n_judgements: int = 3,
    n_refs: int = 16,
    seeds: int = 10,
    n_queries: int = 32,
    temperature: float = 1.0,
    seed: int = 0,
) -> AugmentResult:
    """The generate-then-filter ablation (Baek et al. Table 6) on a synthetic task.

    Per seed: a fresh rule and ``n_originals`` real demos; the model labels fresh inputs after
    random real demos (temperature sampling, the task's well-formedness check applied; the small
    Llama was trained to write answers, not inputs, so the inputs come from the task); the
    log-prob judge scores them against the originals; the top half (median threshold) is kept.
    Conditions: originals only; originals + as many random candidates as were kept (no filter);
    originals + the kept candidates; the kept candidates alone. Demos are shuffled, as Random.
    """
    from rizzlib.icl.augment import LogProbJudge, augment, filter_mask, generate_candidates, precision_recall
    from rizzlib.icl.tasks import is_correct

    check_int_range("seeds", seeds, 1, None)
    task = get_task(task_name)
    tmpl = synthetic_template(task_name)
    shape = (len(AUGMENT_CONDITIONS), seeds)
    lm_scores = np.zeros(shape) if model is not None else None
    ideal_scores = np.zeros(shape)
    prec, rec, n_c, frac = (np.full(seeds, np.nan) for _ in range(4))
    judge = LogProbJudge(model, tokenizer, tmpl, n_judgements=n_judgements, n_refs=min(n_refs, n_originals))
    for s in range(seeds):
        rng = np.random.default_rng([seed, s])
        ep = sample_episode(task, rng, n_pool=n_originals, n_queries=n_queries)
        fresh = [task.sample_example(ep.latent, rng).x for _ in range(3 * n_candidates)]  # inputs only
        gen = generate_candidates(
            model, tokenizer, tmpl, ep.pool, n_candidates, rng, n_demos=min(n_originals, 16), temperature=temperature,
            check=task.is_well_formed, inputs=fresh,
        )
        cands = list(gen.candidates)
        n_c[s] = len(cands)
        if not cands:
            continue
        correct = np.array([is_correct(task, c, ep) for c in cands])
        frac[s] = correct.mean()
        keep = filter_mask(judge.score(cands, ep.pool, rng))
        prec[s], rec[s] = precision_recall(keep, correct)
        unfiltered = np.zeros(len(cands), dtype=bool)
        unfiltered[rng.choice(len(cands), size=int(keep.sum()), replace=False)] = True
        kept = [c for c, k in zip(cands, keep) if k]
        sets = {
            "originals": list(ep.pool),
            "+unfiltered": augment(ep.pool, cands, unfiltered),
            "+filtered": augment(ep.pool, cands, keep),
            "synthetic only": kept,
        }
        xs, ys = [q.x for q in ep.queries], [q.y for q in ep.queries]
        for ci, name in enumerate(AUGMENT_CONDITIONS):
            demos = [sets[name][i] for i in rng.permutation(len(sets[name]))]
            lm, ideal = _learners(model, tokenizer, task_name, demos, xs)
            ideal_scores[ci, s] = score(task.metric, ideal, ys).mean()
            if lm is not None:
                lm_scores[ci, s] = score(task.metric, lm, ys).mean()
    return AugmentResult(AUGMENT_CONDITIONS, lm_scores, ideal_scores, prec, rec, n_c, frac)
