"""Baek et al.'s Table 2: the newer selectors (Auto-ICL, IDS, ICCL) against Random, many-shot.

The paper compares three methods from the few-shot literature with Random and reports averages per
task type (Random 0.551 / 0.311 / 0.650 / 0.539 on translation / summarization / reasoning /
classification; none clearly better). It does not say how it adapted them to many shots; ours:

* **ICCL** (Liu et al. 2024, instance level): the k nearest demonstrations of the query, shown easy
  to hard by the LM's own loss on each (:func:`rizzlib.icl.select.select_iccl`).
* **IDS** (Qin et al. 2023): answer the query zero-shot, then ``iterations`` times retrieve the k
  demonstrations nearest to *the query with the current answer appended* (the pool is embedded as
  whole demonstrations ``x y``) and answer again with them; the final answer is the majority vote
  over the iterations (ties: the latest). IDS uses the zero-shot chain of thought as the retrieval
  key; the small Llama and the ideal learner write no rationale, so the answer stands in for it.
* **Auto-ICL** (Yang et al. 2023): the model writes its own demonstrations for the query, then
  answers from them alone. Our small Llama was trained to write answers, not inputs, so the inputs
  are the k pool inputs nearest to the query and the *labels are the model's own*, predicted after
  the same fixed block of k real demonstrations that Random shows.

Each method answers through a *learner* ``answer(demos, xs) -> list[str]``: the LM
(:func:`lm_learner`) or the task's ideal learner (:func:`ideal_learner`).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from rizzlib.core.validate import check_int_range
from rizzlib.icl.data import Data
from rizzlib.icl.select import Pool, make_pool, order_demos, select_iccl, select_random, select_relevance
from rizzlib.icl.tasks import Example

Learner = Callable[[Sequence[Example], Sequence[str]], list[str]]
"""``answer(demos, xs)``: one answer per query input after the demonstrations ``demos``."""

TABLE2_METHODS = ("random", "auto_icl", "ids", "iccl")
PAPER_TABLE2 = {
    "translation": {"random": 0.551, "auto_icl": 0.544, "ids": 0.547, "iccl": 0.553},
    "summarization": {"random": 0.311, "auto_icl": 0.305, "ids": 0.313, "iccl": 0.307},
    "reasoning": {"random": 0.650, "auto_icl": 0.629, "ids": 0.649, "iccl": 0.653},
    "classification": {"random": 0.539, "auto_icl": 0.539, "ids": 0.537, "iccl": 0.543},
}
"""Baek et al.'s Table 2: averages per task type (Gemini and Llama, 64 shots)."""


def ideal_learner(task_name: str) -> Learner:
    """The non-neural ideal learner of a synthetic task as a :data:`Learner`."""
    from rizzlib.icl.ideal import PREDICTORS, ideal_predict

    if task_name not in PREDICTORS:
        raise ValueError(f"task_name must be one of {tuple(PREDICTORS)}; got {task_name!r}")
    return lambda demos, xs: ideal_predict(task_name, demos, xs)


def lm_learner(model, tokenizer, template, max_new_tokens: int = 8) -> Learner:
    """Greedy answers of a causal LM after the demos (the demo block cached across the queries)."""
    from rizzlib.icl.evaluate import predict_lm

    check_int_range("max_new_tokens", max_new_tokens, 1, None)
    return lambda demos, xs: predict_lm(model, tokenizer, template, list(demos), list(xs), max_new_tokens)


def make_demo_pool(examples: Sequence[Example], embedder, difficulty: np.ndarray | None = None) -> Pool:
    """A :class:`Pool` embedding whole demonstrations ``"x y"`` (IDS retrieves by input and answer)."""
    examples = tuple(examples)
    if not examples:
        raise ValueError("examples must hold at least one example; got an empty pool")
    emb = embedder.encode([f"{ex.x} {ex.y}" for ex in examples])
    diff = np.zeros(len(examples)) if difficulty is None else np.asarray(difficulty, dtype=np.float64)
    return Pool(examples, emb, diff)


def vote_latest(answers: Sequence[str]) -> str:
    """The most frequent answer; ties go to the one given last."""
    if not answers:
        raise ValueError("answers must hold at least one answer; got none")
    counts = Counter(answers)
    best = max(counts.values())
    return next(a for a in reversed(answers) if counts[a] == best)


@dataclasses.dataclass(frozen=True)
class IDS:
    """Iterative Demonstration Selection with ``iterations`` rounds (the paper's default: 3)."""

    learner: Learner
    embedder: object
    iterations: int = 3

    def __post_init__(self) -> None:
        check_int_range("iterations", self.iterations, 1, None)

    def run(self, demo_pool: Pool, x: str, k: int, rng: np.random.Generator) -> tuple[str, list[np.ndarray]]:
        """(voted answer, the demo indices of every round, in prompt order) for query input ``x``.

        ``demo_pool`` embeds whole demonstrations (:func:`make_demo_pool`). Round t retrieves with
        the common selector signature, ``select_relevance(demo_pool, emb(x + answer_{t-1}), k, rng)``.
        """
        check_int_range("k", k, 1, len(demo_pool))
        answer = self.learner([], [x])[0]  # the zero-shot answer starts the loop
        answers, rounds = [], []
        for _ in range(self.iterations):
            key = self.embedder.encode([f"{x} {answer}"])[0]
            idx = order_demos(select_relevance(demo_pool, key, k, rng), demo_pool, key, "ascending_sim", rng)
            answer = self.learner([demo_pool.examples[i] for i in idx], [x])[0]
            answers.append(answer)
            rounds.append(idx)
        return vote_latest(answers), rounds


@dataclasses.dataclass(frozen=True)
class AutoICL:
    """Auto-ICL with self-written labels: the learner labels pool inputs, then answers from its own demos."""

    learner: Learner

    def self_labels(self, pool: Pool, block: Sequence[int]) -> list[str]:
        """The learner's answer for every pool input after the real demonstrations ``pool[block]``."""
        return self.learner([pool.examples[i] for i in block], [ex.x for ex in pool.examples])

    def context(self, pool: Pool, labels: Sequence[str], query_emb: np.ndarray, k: int, rng: np.random.Generator) -> list[Example]:
        """The k pool inputs nearest the query (most similar last) with the learner's own labels."""
        if len(labels) != len(pool):
            raise ValueError(f"labels must hold one label per pool example ({len(pool)}); got {len(labels)}")
        idx = order_demos(select_relevance(pool, query_emb, k, rng), pool, query_emb, "ascending_sim", rng)
        return [Example(pool.examples[i].x, labels[i]) for i in idx]


@dataclasses.dataclass(frozen=True)
class Table2Result:
    """Scores of :func:`run_table2`, shape (methods, shots, seeds) per learner (None where a learner is absent)."""

    methods: tuple[str, ...]
    shots: tuple[int, ...]
    model: np.ndarray | None
    ideal: np.ndarray | None


def run_table2(
    task_name: str | Data,
    shots: Sequence[int] = (4, 16, 64),
    seeds: int = 10,
    n_pool: int = 256,
    n_queries: int = 16,
    model=None,
    tokenizer=None,
    embedder=None,
    iterations: int = 3,
    seed: int = 0,
) -> Table2Result:
    """Random, Auto-ICL, IDS and ICCL on a synthetic task, for the ideal learner and (with ``model``) the LM.

    Per seed a fresh episode. Random's set is drawn once per (seed, k) and shared by all queries
    (and is the block Auto-ICL labels after); the others choose per query. ICCL's difficulty is the
    LM's loss on each demonstration after a random 8-shot block (the task's intrinsic difficulty
    without an LM; the ideal learner ignores order anyway). Scores use the task's metric.
    ``task_name`` may be a real dataset (:class:`~rizzlib.icl.data.Data`): no ideal learner, so
    ``ideal`` is None.
    """
    from rizzlib.icl.data import as_data
    from rizzlib.icl.evaluate import score
    from rizzlib.icl.experiments import loss_difficulty

    check_int_range("seeds", seeds, 1, None)
    check_int_range("n_queries", n_queries, 1, None)
    for k in shots:
        check_int_range("shots[i]", k, 1, n_pool)
    data = as_data(task_name)
    embedder = embedder or data.embedder
    learners = {"ideal": data.ideal} if data.ideal is not None else {}
    if model is not None:
        learners["model"] = lm_learner(model, tokenizer, data.template)
    if not learners:
        raise ValueError(f"model must be given for the real dataset {data.name!r} (it has no ideal learner)")
    out = {name: np.zeros((len(TABLE2_METHODS), len(shots), seeds)) for name in learners}
    for s in range(seeds):
        rng = np.random.default_rng([seed, s])
        ep_pool, ep_queries = data.draw(rng, n_pool, n_queries)
        if model is not None:
            diff = loss_difficulty(model, tokenizer, data.template, ep_pool, np.random.default_rng([seed, s, 99]))
        else:
            diff = data.difficulty(ep_pool, np.random.default_rng([seed, s, 99]))
        pool = make_pool(ep_pool, embedder, diff)
        demo_pool = make_demo_pool(ep_pool, embedder, diff)
        q_emb = embedder.encode([q.x for q in ep_queries])
        xs, ys = [q.x for q in ep_queries], [q.y for q in ep_queries]
        for ki, k in enumerate(shots):
            block = select_random(pool, q_emb[0], k, np.random.default_rng([seed, s, ki]))
            for name, learner in learners.items():
                rng_m = np.random.default_rng([seed, s, ki, 1])
                auto, ids = AutoICL(learner), IDS(learner, embedder, iterations)
                labels = auto.self_labels(pool, block)
                preds = {"random": learner([pool.examples[i] for i in block], xs), "auto_icl": [], "ids": [], "iccl": []}
                for qi, x in enumerate(xs):
                    preds["auto_icl"] += learner(auto.context(pool, labels, q_emb[qi], k, rng_m), [x])
                    preds["ids"].append(ids.run(demo_pool, x, k, rng_m)[0])
                    preds["iccl"] += learner([pool.examples[i] for i in select_iccl(pool, q_emb[qi], k, rng_m)], [x])
                for mi, method in enumerate(TABLE2_METHODS):
                    out[name][mi, ki, s] = score(data.metric, preds[method], ys).mean()
    return Table2Result(TABLE2_METHODS, tuple(shots), out.get("model"), out.get("ideal"))
