"""Fine-tuning a generalist on one level against PPO from scratch, with the same budget.

The paper's claim (Matthews et al. 2025, section 7): starting PPO on a hard hand-made level from the
SFL generalist's weights is more sample-efficient than starting from a fresh network. Both runs here
use :func:`rizzlib.kinetix.train.train` with the same config, seed, number of updates and level (every
env plays it); only the initial parameters differ. The solve rate on that level (``attempts``
sampled episodes) is measured before training and every ``eval_every`` updates.

Example::

    params, cfg, _ = load_checkpoint("sfl.safetensors")
    res = finetune_vs_scratch(cfg, level, params, num_updates=24)
    res.curves["finetune"]["solve"], res.curves["scratch"]["solve"]
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from rizzlib.core.validate import check_int_range
from rizzlib.kinetix.evaluate import make_evaluator
from rizzlib.kinetix.levels import stack_levels, validate_level
from rizzlib.kinetix.ppo import init_runner
from rizzlib.kinetix.presets import KinetixConfig
from rizzlib.kinetix.train import build, env_config_for, train
from rizzlib.kinetix.types import EnvParams, Level

RUNS = ("finetune", "scratch")


@dataclasses.dataclass
class FinetuneResult:
    """Output of :func:`finetune_vs_scratch`.

    Attributes:
        curves: ``{"finetune" | "scratch": {"update": [...], "env_steps": [...], "solve": [...],
            "success": [...]}}``; ``solve`` is the evaluated solve rate on the level (update 0 = before
            training), ``success`` the training episodes' goal rate per update.
        baselines: ``{"noop": rate, "random": rate}`` on the same level and attempts.
        params: final network parameters of each run.
        wall_seconds: per run.  num_updates, attempts: the budget and the evaluation size.
    """

    curves: dict
    baselines: dict
    params: dict
    wall_seconds: dict
    num_updates: int
    attempts: int

    @property
    def final(self) -> dict:
        """Final solve rate of each run."""
        return {k: v["solve"][-1] for k, v in self.curves.items()}

    def to_dict(self) -> dict:
        """JSON-able summary (no parameters)."""
        return {"curves": self.curves, "baselines": self.baselines, "wall_seconds": self.wall_seconds,
                "num_updates": self.num_updates, "attempts": self.attempts}


def scratch_params(config: KinetixConfig, level: Level):
    """The fresh network :func:`rizzlib.kinetix.train.train` starts from for ``config`` on a pool
    whose first level is ``level`` (same key derivation: the first half of ``key(config.seed)``)."""
    env, net = build(config)
    k_init, _ = jax.random.split(jax.random.key(config.seed))
    return init_runner(k_init, net, env, level, config.ppo).train_state.params


def finetune_vs_scratch(config: KinetixConfig, level: Level, generalist_params, *, num_updates: int | None = None,
                        attempts: int = 32, eval_every: int | None = None, eval_seed: int = 7,
                        params: EnvParams | None = None, baselines: dict | None = None,
                        progress: bool = True, pool_size: int = 1) -> FinetuneResult:
    """Train on ``level`` twice with the same budget: from ``generalist_params`` and from scratch.

    Args:
        config: the generalist's config (network sizes must match ``generalist_params``); its
            ``finetune_updates`` is the budget unless ``num_updates`` is given.
        level: one (unbatched) level of the config's size.
        generalist_params: network parameters to start the fine-tuning run from.
        num_updates: PPO updates per run (env steps = updates * num_envs * num_steps).
        attempts: sampled episodes per solve-rate evaluation.
        eval_every: updates between evaluations (default: about 4 points per run).
        eval_seed: key of every evaluation (the same for both runs and the baselines).
        baselines: ``{"noop": rate, "random": rate}`` already measured on this level (e.g. recorded
            beside a checkpoint); measured here when None.
        pool_size: the training pool holds the level this many times. Every env plays the level
            either way and the results do not change (the copies are equal), but a pool of the same
            size as another run's shares that run's compiled update.
    """
    n = config.finetune_updates if num_updates is None else check_int_range("num_updates", num_updates, 1, None)
    check_int_range("pool_size", pool_size, 1, None)
    check_int_range("attempts", attempts, 1, None)
    every = max(1, n // 4) if eval_every is None else check_int_range("eval_every", eval_every, 1, None)
    validate_level(level, env_config_for(config))
    if baselines is not None and set(baselines) != {"noop", "random"}:
        raise ValueError(f"baselines must have the keys 'noop' and 'random'; got {sorted(baselines)}")
    params = EnvParams() if params is None else params
    run_cfg = dataclasses.replace(config, num_updates=n, eval_every=every, eval_attempts=attempts)
    pool = stack_levels([level])
    train_pool = stack_levels([level] * pool_size)
    env, net = build(run_cfg)
    evaluate = make_evaluator(env, net, params)
    key = jax.random.key(eval_seed)
    scratch0 = scratch_params(run_cfg, level)
    if baselines is None:
        baselines = {k: float(evaluate(k, None, key, pool, attempts)[0]) for k in ("noop", "random")}
    curves, out_params, wall = {}, {}, {}
    for name, init in (("finetune", generalist_params), ("scratch", None)):
        start = scratch0 if init is None else init
        solve0 = float(evaluate("agent", start, key, pool, attempts)[0])
        res = train(run_cfg, "uniform", train_pool, pool, init_params=init, progress=progress, desc=name, params=params)
        # train() evaluates with keys drawn from config.seed, the same sequence in both runs
        hist = res.history
        curves[name] = {
            "update": [0] + list(hist["eval_update"]),
            "env_steps": [0] + [u * run_cfg.ppo.num_envs * run_cfg.ppo.num_steps for u in hist["eval_update"]],
            "solve": [solve0] + list(hist["eval_solve"]),
            "success": list(hist["success"]),
        }
        out_params[name] = res.params
        wall[name] = res.wall_seconds
    return FinetuneResult(curves=curves, baselines=baselines, params=out_params, wall_seconds=wall,
                          num_updates=n, attempts=attempts)


def summarise(result: FinetuneResult) -> dict:
    """Numbers for the verdict: final rates, area under the solve curve (mean over evaluations), gap."""
    return summarise_curves(result.curves, result.baselines)


def summarise_curves(curves: dict, baselines: dict) -> dict:
    """:func:`summarise` from the JSON parts of a result (``curves`` and ``baselines`` of ``to_dict``)."""
    fin, scr = curves["finetune"]["solve"], curves["scratch"]["solve"]
    return {
        "final_finetune": fin[-1], "final_scratch": scr[-1], "gap": fin[-1] - scr[-1],
        "mean_finetune": float(np.mean(fin)), "mean_scratch": float(np.mean(scr)),
        "start_finetune": fin[0], "start_scratch": scr[0], **baselines,
    }


SEED_KEYS = ("final_finetune", "final_scratch", "gap", "mean_finetune", "mean_scratch", "start_finetune",
             "start_scratch")


def check_seed_record(record: dict) -> None:
    """Raise ValueError (naming the seed and the field) unless a ``finetune_seeds.json`` record holds
    together: distinct seeds listed in ``seeds``; per run, curves of both kinds evaluated at update 0
    and ending at ``updates``, env steps = update x steps per update, one training success rate per
    update, solve rates that are counts out of ``attempts``, the record's baselines, and a ``summary``
    equal to :func:`summarise_curves` of its curves."""
    for field in ("updates", "attempts", "env_steps", "baselines", "runs", "seeds"):
        if field not in record:
            raise ValueError(f"record is missing the field {field!r}")
    runs, n, attempts = record["runs"], record["updates"], record["attempts"]
    if not runs:
        raise ValueError("record['runs'] is empty: no seed has finished")
    seeds = [r["seed"] for r in runs]
    if len(set(seeds)) != len(seeds) or seeds != list(record["seeds"]):
        raise ValueError(f"record['seeds'] must list each run's seed once, in order; got {record['seeds']} "
                         f"for runs of seeds {seeds}")
    per_update = record["env_steps"] / n
    for r in runs:
        where = f"seed {r['seed']}"
        if r["baselines"] != record["baselines"]:
            raise ValueError(f"{where}: baselines {r['baselines']} differ from the record's {record['baselines']}")
        if (r["num_updates"], r["attempts"]) != (n, attempts):
            raise ValueError(f"{where}: num_updates/attempts {r['num_updates']}/{r['attempts']} differ from the "
                             f"record's {n}/{attempts}")
        for kind in RUNS:
            c = r["curves"][kind]
            if c["update"][0] != 0 or c["update"][-1] != n or c["update"] != sorted(set(c["update"])):
                raise ValueError(f"{where}: curves[{kind!r}]['update'] must rise from 0 to {n}; got {c['update']}")
            if c["env_steps"] != [u * per_update for u in c["update"]]:
                raise ValueError(f"{where}: curves[{kind!r}]['env_steps'] is not update x {per_update:g}")
            if len(c["solve"]) != len(c["update"]) or len(c["success"]) != n:
                raise ValueError(f"{where}: curves[{kind!r}] needs one solve rate per evaluation and one "
                                 f"success rate per update")
            k = np.asarray(c["solve"]) * attempts
            if np.any(np.abs(k - np.round(k)) > 1e-4) or np.any(k < 0) or np.any(k > attempts):
                raise ValueError(f"{where}: curves[{kind!r}]['solve'] must be counts out of {attempts} attempts; "
                                 f"got {c['solve']}")
        want = summarise_curves(r["curves"], r["baselines"])
        if set(r["summary"]) != set(want):
            raise ValueError(f"{where}: summary keys {sorted(r['summary'])} differ from {sorted(want)}")
        for key, v in want.items():
            if not np.isclose(r["summary"][key], v, rtol=0.0, atol=1e-9):
                raise ValueError(f"{where}: summary[{key!r}] = {r['summary'][key]} but its curves give {v}")


def across_seeds(record: dict) -> dict:
    """Statistics over the seeds of a checked ``finetune_seeds.json`` record.

    Returns ``{"n": seeds, "seeds": [...], key: {"mean", "sd", "values"} for key in SEED_KEYS,
    "wins_final" / "wins_mean": seeds where fine-tuning is strictly ahead at the end / averaged over
    the evaluations, "losses_final" / "losses_mean": where scratch is strictly ahead}``. ``sd`` is the
    sample standard deviation (ddof 1; 0 for one seed).
    """
    check_seed_record(record)
    runs = record["runs"]
    out = {"n": len(runs), "seeds": [r["seed"] for r in runs]}
    for key in SEED_KEYS:
        v = np.array([r["summary"][key] for r in runs], dtype=float)
        out[key] = {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                    "values": v.tolist()}
    for what in ("final", "mean"):
        fin = np.array(out[f"{what}_finetune"]["values"])
        scr = np.array(out[f"{what}_scratch"]["values"])
        out[f"wins_{what}"] = int(np.sum(fin > scr))
        out[f"losses_{what}"] = int(np.sum(fin < scr))
    return out


def seeds_verdict(stats: dict) -> str:
    """One sentence from :func:`across_seeds`: does fine-tuning beat scratch on every seed, at the end
    and averaged over the evaluations (sample efficiency)?"""
    n = stats["n"]
    parts = []
    for what, label in (("final", "at the end"), ("mean", "averaged over the evaluations")):
        w, lo = stats[f"wins_{what}"], stats[f"losses_{what}"]
        f, s = stats[f"{what}_finetune"], stats[f"{what}_scratch"]
        nums = f"{f['mean']:.2f} ± {f['sd']:.2f} against {s['mean']:.2f} ± {s['sd']:.2f}"
        every = "its one seed" if n == 1 else f"all {n} seeds"
        if w == n:
            who = f"fine-tuning is ahead on {every}"
        elif lo == n:
            who = f"training from scratch is ahead on {every}"
        else:
            who = f"fine-tuning is ahead on {w} of {n} seeds and behind on {lo}"
        parts.append(f"{label}, {who} ({nums})")
    both = stats["wins_final"] == n and stats["wins_mean"] == n
    head = ("fine-tuning beats training from scratch on every seed" if both
            else "fine-tuning does not beat training from scratch on every seed")
    return f"{head}: " + "; ".join(parts)
