"""What an experiment runs on: a synthetic task or a real dataset, behind one small interface.

The experiments (:mod:`rizzlib.icl.experiments`, :mod:`rizzlib.icl.table2`) take a task name or a
:class:`Data`. Per seed, ``draw(rng, n_pool, n_queries)`` returns (pool, queries): a fresh episode
of a synthetic task (a new rule every seed), or a random subset of a real dataset's pool and
evaluation set (the data fixed, the random choices redrawn). A real dataset has no ideal learner,
so its ``ideal`` scores come back as NaN.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence

import numpy as np

from rizzlib.core.validate import check_int_range
from rizzlib.icl.prompt import Template
from rizzlib.icl.tasks import Example


@dataclasses.dataclass(frozen=True)
class Data:
    """A source of demonstrations and queries.

    Attributes:
        name: for messages and tables.
        template: prompt template.
        metric: ``accuracy``, ``chrf`` or ``rougeL``.
        embedder: ``encode(list[str]) -> (n, d)`` L2-normalised (relevance, diversity, IDS).
        draw: ``(rng, n_pool, n_queries) -> (pool, queries)``, tuples of :class:`Example`.
        difficulty: ``(pool, rng) -> (n,)`` difficulty scores (larger = harder).
        ideal: ideal learner ``(demos, xs) -> answers``, or None (real data).
        max_pool: the most pool examples ``draw`` can return (None: unlimited, synthetic).
        max_queries: the most queries ``draw`` can return (None: unlimited, synthetic).
    """

    name: str
    template: Template
    metric: str
    embedder: object
    draw: Callable[[np.random.Generator, int, int], tuple[tuple[Example, ...], tuple[Example, ...]]]
    difficulty: Callable[[Sequence[Example], np.random.Generator], np.ndarray]
    ideal: Callable[[Sequence[Example], Sequence[str]], list[str]] | None = None
    max_pool: int | None = None
    max_queries: int | None = None


@functools.cache
def synthetic(task_name: str) -> Data:
    """A synthetic task: a fresh episode per draw, its intrinsic difficulty, its ideal learner."""
    from rizzlib.icl.embed import SymbolEmbedder
    from rizzlib.icl.ideal import ideal_predict
    from rizzlib.icl.prompt import synthetic_template
    from rizzlib.icl.tasks import VOCAB, get_task, sample_episode

    task = get_task(task_name)

    def draw(rng, n_pool, n_queries):
        ep = sample_episode(task, rng, n_pool=n_pool, n_queries=n_queries)
        return ep.pool, ep.queries

    return Data(
        task_name, synthetic_template(task_name), task.metric, SymbolEmbedder(VOCAB), draw,
        lambda pool, rng: task.difficulty(pool), lambda demos, xs: ideal_predict(task_name, demos, xs),
    )


def dataset(
    name: str,
    pool: Sequence[Example],
    evalset: Sequence[Example],
    template: Template,
    metric: str,
    embedder,
    difficulty: Callable[[Sequence[Example], np.random.Generator], np.ndarray] | None = None,
    ideal: Callable[[Sequence[Example], Sequence[str]], list[str]] | None = None,
) -> Data:
    """A fixed dataset: each draw is a random ordered subset of ``pool`` and of ``evalset``.

    ``n_pool`` and ``n_queries`` may not exceed the sizes (an error names them). ``difficulty``
    defaults to zeros; :func:`from_registry` uses the LM's loss. ``ideal`` is None for real data.
    """
    from rizzlib.icl.evaluate import METRICS

    pool, evalset = tuple(pool), tuple(evalset)
    if not pool or not evalset:
        raise ValueError(f"pool and evalset must be non-empty; got {len(pool)} and {len(evalset)} examples")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}; got {metric!r}")

    def draw(rng, n_pool, n_queries):
        check_int_range("n_pool", n_pool, 1, len(pool))
        check_int_range("n_queries", n_queries, 1, len(evalset))
        p = rng.choice(len(pool), size=n_pool, replace=False)
        q = rng.choice(len(evalset), size=n_queries, replace=False)
        return tuple(pool[i] for i in p), tuple(evalset[i] for i in q)

    diff = difficulty or (lambda ex, rng: np.zeros(len(ex)))
    return Data(name, template, metric, embedder, draw, diff, ideal, len(pool), len(evalset))


def from_registry(name: str, model, tokenizer, embedder=None, data_files=None, seed: int = 0, max_eval: int | None = None) -> Data:
    """A dataset of :data:`rizzlib.icl.hf.DATASETS` with difficulty = the LM's loss after 8 random demos."""
    from rizzlib.icl.experiments import loss_difficulty
    from rizzlib.icl.hf import DATASETS, load_pool_and_eval

    pool, evalset = load_pool_and_eval(name, data_files=data_files, seed=seed, max_eval=max_eval)
    spec = DATASETS[name]
    if embedder is None:
        from rizzlib.icl.embed import MiniLMEmbedder

        embedder = MiniLMEmbedder()

    def difficulty(ex, rng):
        return loss_difficulty(model, tokenizer, spec.template, ex, rng, n_context=min(8, len(ex)))

    return dataset(name, pool, evalset, spec.template, spec.metric, embedder, difficulty)


def as_data(task: str | Data) -> Data:
    """``task`` itself, or the synthetic task of that name."""
    if isinstance(task, Data):
        return task
    if not isinstance(task, str):
        raise ValueError(f"task must be a synthetic task name or a Data; got {type(task).__name__}")
    return synthetic(task)
