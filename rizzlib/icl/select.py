"""The five demonstration selectors of Baek et al. (2024), all with one signature.

``select_*(pool, query_emb, k, rng) -> np.ndarray[int]`` returns k distinct indices into the pool:

* ``random``: one random set, the query ignored (the same set for every query of a run, hence
  cacheable);
* ``relevance``: the k pool examples most similar to the query (cosine = dot product of the
  L2-normalised embeddings), most similar first, ties broken by index;
* ``diversity``: k-means with k clusters on the pool embeddings (``n_init=10``), then for each
  centroid the nearest member not chosen yet (query-independent, so cacheable too);
* ``curriculum``: a random set of k (as Random) sorted by difficulty, easiest first (the paper
  does not say how the set is chosen; we order a random one, as the spec documents);
* ``hard``: the k highest difficulties (ties by index), in random order;
* ``iccl`` (In-Context Curriculum Learning, Liu et al. 2024, instance level; one of Baek et al.'s
  newer selectors in their Table 2): the k nearest neighbours of the query, ordered easy to hard by
  ``pool.difficulty`` (ICCL scores difficulty by the LM's perplexity; ties keep similarity order).

The five of Baek et al.'s Table 1 are :data:`SELECTORS`; :data:`ALL_SELECTORS` adds ``iccl``. The
two Table 2 methods that need the LM in the loop (IDS, Auto-ICL) live in :mod:`rizzlib.icl.table2`.

Prompt order is a separate step (:func:`order_demos`, the orders of Baek et al.'s Table 3 plus the
curriculum order); the default puts the most similar last.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from rizzlib.core.validate import check_choice, check_int_range
from rizzlib.icl.tasks import Example


@dataclasses.dataclass(frozen=True)
class Pool:
    """Candidate demonstrations with their embeddings and difficulty scores.

    Attributes:
        examples: the n demonstrations.
        embeddings: (n, d) float32, L2-normalised rows (of the input side x).
        difficulty: (n,) larger = harder.
    """

    examples: tuple[Example, ...]
    embeddings: np.ndarray
    difficulty: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.examples)
        if n == 0:
            raise ValueError("pool must hold at least one example; got an empty pool")
        emb = np.asarray(self.embeddings)
        if emb.ndim != 2 or emb.shape[0] != n:
            raise ValueError(f"embeddings must have shape ({n}, d); got {emb.shape}")
        if np.asarray(self.difficulty).shape != (n,):
            raise ValueError(f"difficulty must have shape ({n},); got {np.asarray(self.difficulty).shape}")
        if not np.all(np.isfinite(emb)) or not np.all(np.isfinite(self.difficulty)):
            raise ValueError("embeddings and difficulty must be finite")

    def __len__(self) -> int:
        return len(self.examples)


def make_pool(examples: Sequence[Example], embedder, difficulty: np.ndarray | None = None) -> Pool:
    """A :class:`Pool` embedding the inputs ``x`` with ``embedder`` (difficulty defaults to 0)."""
    examples = tuple(examples)
    if not examples:
        raise ValueError("examples must hold at least one example; got an empty pool")
    emb = embedder.encode([ex.x for ex in examples])
    diff = np.zeros(len(examples)) if difficulty is None else np.asarray(difficulty, dtype=np.float64)
    return Pool(examples, emb, diff)


def _check(pool: Pool, query_emb: np.ndarray, k: int) -> None:
    if not isinstance(pool, Pool):
        raise ValueError(f"pool must be a Pool; got {type(pool).__name__}")
    check_int_range("k", k, 1, len(pool))
    q = np.asarray(query_emb)
    if q.shape != (pool.embeddings.shape[1],):
        raise ValueError(f"query_emb must have shape ({pool.embeddings.shape[1]},); got {q.shape}")


def select_random(pool: Pool, query_emb: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k indices drawn without replacement; the query is ignored."""
    _check(pool, query_emb, k)
    return rng.choice(len(pool), size=k, replace=False)


def select_relevance(pool: Pool, query_emb: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """The k nearest neighbours of the query by cosine similarity, most similar first (ties: lower index)."""
    _check(pool, query_emb, k)
    sims = pool.embeddings.astype(np.float64) @ np.asarray(query_emb, dtype=np.float64)
    return np.argsort(-sims, kind="stable")[:k]


def select_diversity(pool: Pool, query_emb: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """One example per k-means cluster: the member nearest each centroid not already chosen."""
    from sklearn.cluster import KMeans

    _check(pool, query_emb, k)
    X = pool.embeddings.astype(np.float64)
    km = KMeans(n_clusters=k, n_init=10, random_state=int(rng.integers(2**31 - 1))).fit(X)
    chosen: list[int] = []
    taken = np.zeros(len(pool), dtype=bool)
    for c in km.cluster_centers_:
        d = ((X - c) ** 2).sum(1)
        d[taken] = np.inf
        i = int(np.argmin(d))
        chosen.append(i)
        taken[i] = True
    return np.array(chosen)


def select_curriculum(pool: Pool, query_emb: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """A random set of k sorted easy to hard (ties: lower index first)."""
    idx = select_random(pool, query_emb, k, rng)
    idx = np.sort(idx)
    return idx[np.argsort(np.asarray(pool.difficulty)[idx], kind="stable")]


def select_hard(pool: Pool, query_emb: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """The k hardest examples (ties: lower index), in random order."""
    _check(pool, query_emb, k)
    top = np.argsort(-np.asarray(pool.difficulty, dtype=np.float64), kind="stable")[:k]
    return top[rng.permutation(k)]


def select_iccl(pool: Pool, query_emb: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """ICCL: the query's k nearest neighbours (as :func:`select_relevance`) sorted easy to hard.

    Difficulty is ``pool.difficulty`` (ICCL uses the LM's perplexity of each demonstration); ties
    keep the similarity order (most similar first). The order is part of the method, so callers
    must not reorder the result.
    """
    idx = select_relevance(pool, query_emb, k, rng)
    return idx[np.argsort(np.asarray(pool.difficulty, dtype=np.float64)[idx], kind="stable")]


SELECTORS: dict[str, Callable[..., np.ndarray]] = {
    "random": select_random,
    "relevance": select_relevance,
    "diversity": select_diversity,
    "curriculum": select_curriculum,
    "hard": select_hard,
}
"""The five methods of Baek et al.'s Table 1."""
ALL_SELECTORS: dict[str, Callable[..., np.ndarray]] = {**SELECTORS, "iccl": select_iccl}
"""Every pure selector: Table 1's five and ICCL (Table 2)."""
QUERY_INDEPENDENT = ("random", "diversity", "curriculum", "hard")
"""Selectors whose demo set does not depend on the query, so one prefix serves every query."""


def select(method: str, pool: Pool, query_emb: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Dispatch to ``select_<method>`` (any of :data:`ALL_SELECTORS`)."""
    check_choice("method", method, tuple(ALL_SELECTORS))
    return ALL_SELECTORS[method](pool, query_emb, k, rng)


ORDERS = ("as_selected", "random", "ascending_sim", "descending_sim", "easy_to_hard", "hard_to_easy")
"""Prompt orders of :func:`order_demos`."""


def order_demos(indices: np.ndarray, pool: Pool, query_emb: np.ndarray, order: str, rng: np.random.Generator) -> np.ndarray:
    """Reorder selected indices (first = furthest from the query in the prompt).

    ``as_selected``; ``random`` (a permutation from ``rng``); ``ascending_sim`` (most similar to the
    query last, next to it) or ``descending_sim`` (most similar first); ``easy_to_hard`` (the
    curriculum order: by ``pool.difficulty``, easiest first) or ``hard_to_easy``. Sorts are stable:
    ties keep the selection order (reversed for ``descending_sim``).
    """
    check_choice("order", order, ORDERS)
    idx = np.asarray(indices)
    if order == "as_selected":
        return idx.copy()
    if order == "random":
        return idx[rng.permutation(len(idx))]
    if order in ("easy_to_hard", "hard_to_easy"):
        diff = np.asarray(pool.difficulty, dtype=np.float64)[idx]
        key = diff if order == "easy_to_hard" else -diff
        return idx[np.argsort(key, kind="stable")]
    sims = pool.embeddings[idx].astype(np.float64) @ np.asarray(query_emb, dtype=np.float64)
    asc = idx[np.argsort(sims, kind="stable")]
    return asc if order == "ascending_sim" else asc[::-1].copy()
