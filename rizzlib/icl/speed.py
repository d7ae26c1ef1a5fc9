"""Timing the prefix cache: scoring queries after a fixed demo block with and without the cache.

Uncached, every query pays the prefill of all n prefix tokens plus its k own tokens; cached, the
prefix is encoded once and each query runs its k tokens against a copy of the cache, so the ideal
speed-up is about (n + k) / k (attention even favours the cache: O(n^2) per uncached query). What
caching cannot save: copying the cache per query (memory traffic ~ n) and per-call overheads, which
take over for short prefixes.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence

import numpy as np
import torch

from rizzlib.core.timing import best_run_seconds
from rizzlib.icl.cache import encode_prefix, query_logits
from rizzlib.icl.prompt import build_prefix, build_query, synthetic_template
from rizzlib.icl.tasks import get_task, sample_episode


@dataclasses.dataclass(frozen=True)
class CacheTiming:
    """One measurement, seconds for scoring all queries.

    ``cached_s`` runs the queries against the already encoded prefix (the steady state: one prefix
    serves every query of a run); ``prefix_s`` is the one-time encoding of the prefix, which
    :attr:`amortized_speedup` adds back; ``copy_s`` the cache copies alone.
    """

    shots: int
    prefix_tokens: int
    query_tokens: float
    n_queries: int
    cached_s: float
    uncached_s: float
    prefix_s: float
    copy_s: float

    @property
    def speedup(self) -> float:
        return self.uncached_s / self.cached_s

    @property
    def amortized_speedup(self) -> float:
        """Speed-up when the prefix is encoded for these queries only (bounded by the number of queries)."""
        return self.uncached_s / (self.cached_s + self.prefix_s)

    @property
    def predicted(self) -> float:
        """(n + k) / k: prefill tokens per query without the cache over those with it."""
        return (self.prefix_tokens + self.query_tokens) / self.query_tokens


def synthetic_prompt_ids(tokenizer, task_name: str, shots: int, n_queries: int, seed: int = 0) -> tuple[list[int], list[list[int]]]:
    """(prefix ids with ``shots`` random demos, query ids) of one episode of a synthetic task."""
    rng = np.random.default_rng(seed)
    ep = sample_episode(get_task(task_name), rng, n_pool=shots, n_queries=n_queries)
    tmpl = synthetic_template(task_name)
    return build_prefix(tokenizer, tmpl, ep.pool), [build_query(tokenizer, tmpl, q.x) for q in ep.queries]


@torch.no_grad()
def time_scoring(
    model, prefix_ids: Sequence[int], queries: Sequence[Sequence[int]], shots: int, batch_size: int = 1, repeats: int = 2, min_s: float = 0.0
) -> CacheTiming:
    """Best-of-``repeats`` wall time of scoring every query cached vs uncached (same batch size)."""
    prefix_ids = list(prefix_ids)
    prefix = encode_prefix(model, prefix_ids)

    def encode():
        encode_prefix(model, prefix_ids)

    def cached():
        query_logits(model, prefix, queries, cached=True, batch_size=batch_size)

    def uncached():
        query_logits(model, prefix_ids, queries, cached=False, batch_size=batch_size)

    def copies():
        for _ in range(0, len(queries), batch_size):
            copy.deepcopy(prefix.cache)

    runs = {"cached": cached, "uncached": uncached, "prefix": encode, "copy": copies}
    t = best_run_seconds(runs, repeats=repeats, warmup_s=0.0, min_s=min_s)
    k = float(np.mean([len(q) for q in queries]))
    return CacheTiming(shots, len(prefix_ids), k, len(queries), t["cached"], t["uncached"], t["prefix"], t["copy"])
