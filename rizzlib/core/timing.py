"""Wall-clock timing of compiled functions: warm up, alternate the contenders, keep the best run.

Used by the benchmark scripts and by the notebooks' live timings, so both follow one rule. The
first runs of a freshly compiled JAX function are slower than its steady state (on 2 CPU cores a
batch-1 physics rollout needed about 10 runs), and machine load drifts during a measurement, so:
warm each function up, then alternate them run by run until every one has been timed at least
``repeats`` times and for at least ``min_s`` seconds, and report each one's fastest run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from rizzlib.core.validate import check_int_range, check_positive


def best_run_seconds(
    runs: Mapping[str, Callable[[], object]],
    repeats: int = 3,
    warmup_s: float = 0.3,
    min_s: float = 1.0,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Fastest wall time of each function, in seconds.

    Args:
        runs: name -> a function of no arguments that does the work and *blocks until it is done*
            (wrap JAX calls in ``jax.block_until_ready``). Compile before timing: call it once.
        repeats: timed runs per function, at least (>= 1).
        warmup_s: untimed runs per function until this many seconds have passed (>= 0).
        min_s: keep alternating until every function has this many seconds of timed runs (>= 0).
        clock: the time source (seconds); tests pass a fake one.

    Returns:
        name -> the shortest timed run, s.
    """
    if not runs:
        raise ValueError("runs must name at least one function to time")
    check_int_range("repeats", repeats, 1, None)
    check_positive("warmup_s", warmup_s, allow_zero=True)
    check_positive("min_s", min_s, allow_zero=True)
    for f in runs.values():
        end = clock() + warmup_s
        while clock() < end:
            f()
    best = {k: float("inf") for k in runs}
    spent = {k: 0.0 for k in runs}
    done = 0
    while done < repeats or min(spent.values()) < min_s:
        for k, f in runs.items():
            t0 = clock()
            f()
            dt = clock() - t0
            best[k], spent[k] = min(best[k], dt), spent[k] + dt
        done += 1
    return best
