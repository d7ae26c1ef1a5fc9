"""Chapter 5 experiment sizes at each scale (``smoke`` <= 2 min, ``cpu`` <= 10 min, ``gpu`` = paper)."""

from __future__ import annotations

import dataclasses

from rizzlib.core.scale import Presets
from rizzlib.core.validate import check_int_range, check_range


@dataclasses.dataclass(frozen=True)
class ICLConfig:
    """One chapter run.

    Attributes:
        lm: ``"checkpoint"`` (the shipped small Llama) or a hub name / local folder (gpu path).
        datasets: real datasets of :data:`rizzlib.icl.hf.DATASETS` (gpu path; empty on CPU).
        shots: shot counts of the selection sweep.
        seeds: runs per setting (fresh episode and fresh random choices each).
        n_pool: demonstrations in the pool.
        n_queries: queries per run.
        model_shots: shot counts where the neural learner also runs the selection sweep.
        noise_fractions, noise_k: the noise curve (fractions of the k demos).
        n_originals: real demos in the augmentation experiment ("low resource").
        n_candidates: synthetic candidates generated (the paper: 3,000, half kept).
        n_judgements, n_refs: judge calls per candidate and references per call (paper: 30 and 30).
        bench_shots: shot counts of the cache timing.
        order_shots: shot counts of the order ablation (Table 3), neural and ideal learner.
        inflate_fractions: shares of the model's window filled in the context-inflation experiment.
        inflate_distinct: distinct demos cycled to inflate the context.
        table2_model_shots: shot counts where the neural learner runs Table 2's selectors (the
            ideal learner runs them at every count of ``shots``).
        table2_queries: queries per run in the neural Table 2 sweep (IDS asks the model 4 times each).
    """

    lm: str = "checkpoint"
    datasets: tuple[str, ...] = ()
    shots: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    seeds: int = 10
    n_pool: int = 256
    n_queries: int = 24
    model_shots: tuple[int, ...] = (4, 16, 64)
    noise_fractions: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)
    noise_k: int = 64
    n_originals: int = 16
    n_candidates: int = 128
    n_judgements: int = 3
    n_refs: int = 16
    bench_shots: tuple[int, ...] = (16, 64)
    order_shots: tuple[int, ...] = (4, 16, 64)
    inflate_fractions: tuple[float, ...] = (0.0625, 0.125, 0.25, 0.5, 0.75, 1.0)
    inflate_distinct: int = 8
    table2_model_shots: tuple[int, ...] = (64,)
    table2_queries: int = 8
    note: str = ""

    def __post_init__(self) -> None:
        for k in self.shots + self.model_shots + self.bench_shots + self.order_shots + self.table2_model_shots:
            check_int_range("shots[i]", k, 1, self.n_pool)
        check_int_range("seeds", self.seeds, 2, None)
        check_int_range("n_queries", self.n_queries, 1, None)
        for r in self.noise_fractions:
            check_range("noise_fractions[i]", r, 0.0, 1.0)
        check_int_range("noise_k", self.noise_k, 1, None)
        check_int_range("n_originals", self.n_originals, 1, None)
        check_int_range("n_candidates", self.n_candidates, 1, None)
        check_int_range("n_judgements", self.n_judgements, 1, None)
        check_int_range("n_refs", self.n_refs, 1, self.n_originals)
        for f in self.inflate_fractions:
            check_range("inflate_fractions[i]", f, 0.0, 1.0, low_inclusive=False)
        check_int_range("inflate_distinct", self.inflate_distinct, 1, None)
        check_int_range("table2_queries", self.table2_queries, 1, None)


PRESETS = Presets(
    smoke=ICLConfig(
        shots=(1, 4, 16, 64), seeds=3, n_pool=128, n_queries=8, model_shots=(16,), noise_fractions=(0.0, 0.25, 0.5, 1.0),
        n_candidates=16, n_judgements=1, n_refs=8, bench_shots=(16,), order_shots=(16,), inflate_fractions=(0.125, 1.0),
        table2_model_shots=(16,), table2_queries=4,
        note="plumbing only",
    ),
    cpu=ICLConfig(note="10 seeds; the neural learner at a few shot counts, the ideal learner everywhere"),
    gpu=ICLConfig(
        lm="Qwen/Qwen2.5-1.5B-Instruct",
        datasets=("flores_eng_kmr", "flores_eng_bem", "bbh_date", "bbh_web", "banking77"),
        shots=(1, 2, 4, 8, 16, 32, 64, 128),
        seeds=10,
        n_pool=997,
        n_queries=200,
        model_shots=(1, 4, 16, 64, 128),
        noise_k=128,
        n_originals=997,
        n_candidates=3000,
        n_judgements=30,
        n_refs=30,
        bench_shots=(16, 64, 256, 512),
        order_shots=(4, 16, 64, 128),
        table2_model_shots=(4, 16, 64, 128),
        table2_queries=100,
        note="Baek et al.'s settings on a 32K-window open instruct model (3,000 candidates, 30 x 30 judge)",
    ),
)


def preset(scale: str | None = None) -> ICLConfig:
    """The :class:`ICLConfig` for ``scale`` (``smoke``, ``cpu``, ``gpu`` or ``auto``/``$RIZZLIB_SCALE``)."""
    return PRESETS(scale)
