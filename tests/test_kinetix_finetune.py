"""Fine-tuning vs from scratch: same budget, only the initial parameters differ."""

import copy
import dataclasses
import json
import statistics
from pathlib import Path

import jax
import numpy as np
import pytest

from rizzlib.kinetix.builtin import load_builtin_level
from rizzlib.kinetix.finetune import (
    SEED_KEYS,
    across_seeds,
    check_seed_record,
    finetune_vs_scratch,
    scratch_params,
    seeds_verdict,
    summarise,
    summarise_curves,
)
from rizzlib.kinetix.presets import PRESETS
from rizzlib.kinetix.train import load_checkpoint


def _init(cfg, seed):
    level, _ = load_builtin_level("s/lander")
    return scratch_params(dataclasses.replace(cfg, seed=seed), level)


def test_bad_arguments_are_named():
    cfg = PRESETS.smoke
    level, _ = load_builtin_level("s/lander")
    params = {}  # never reached: the arguments are checked first
    with pytest.raises(ValueError, match="num_updates"):
        finetune_vs_scratch(cfg, level, params, num_updates=0)
    with pytest.raises(ValueError, match="attempts"):
        finetune_vs_scratch(cfg, level, params, attempts=0)
    with pytest.raises(ValueError, match="baselines"):
        finetune_vs_scratch(cfg, level, params, baselines={"noop": 0.0})
    with pytest.raises(ValueError, match="pool_size"):
        finetune_vs_scratch(cfg, level, params, pool_size=0)
    cartpole, _ = load_builtin_level("m/cartpole")
    with pytest.raises(ValueError, match="slots"):
        finetune_vs_scratch(cfg, cartpole, params)


@pytest.mark.slow
def test_finetuning_from_the_scratch_init_reproduces_scratch_exactly():
    """The two runs share config, seed, level and budget, so given scratch's own initial weights the
    'fine-tuned' run must be the scratch run, bit for bit (this pins scratch_params to train's init)."""
    cfg = dataclasses.replace(PRESETS.smoke, seed=3)
    level, _ = load_builtin_level("s/lander")
    init = _init(cfg, cfg.seed)
    same = finetune_vs_scratch(cfg, level, init, num_updates=2, attempts=4, progress=False)
    a, b = same.curves["finetune"], same.curves["scratch"]
    assert a == b
    assert a["update"] == [0, 1, 2] and a["env_steps"][-1] == 2 * cfg.ppo.num_envs * cfg.ppo.num_steps
    assert len(a["success"]) == 2 and same.num_updates == 2
    moved = []
    for x, y, x0 in zip(jax.tree.leaves(same.params["finetune"]), jax.tree.leaves(same.params["scratch"]),
                        jax.tree.leaves(init)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
        moved.append(not np.array_equal(np.asarray(x), np.asarray(x0)))
    assert np.mean(moved) > 0.5  # and training moved the weights
    assert set(same.wall_seconds) == {"finetune", "scratch"}
    s = summarise(same)
    assert s["gap"] == 0.0 and s["final_finetune"] == s["final_scratch"]
    assert 0.0 <= s["noop"] <= 1.0 and 0.0 <= s["random"] <= 1.0
    # a pool holding the level several times (to share another run's compiled update) changes nothing
    copies = finetune_vs_scratch(cfg, level, init, num_updates=2, attempts=4, progress=False,
                                 baselines=same.baselines, pool_size=cfg.ppo.num_envs)
    assert copies.curves == same.curves
    for x, y in zip(jax.tree.leaves(copies.params["scratch"]), jax.tree.leaves(same.params["scratch"]), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


# ---- the record over seeds (scripts/kinetix_finetune_seeds.py -> checkpoints/finetune_seeds.json) ----

SEEDS_FILE = Path(__file__).resolve().parents[1] / "rizzlib" / "kinetix" / "checkpoints" / "finetune_seeds.json"


def _fake_record(counts, n=4, attempts=8, per_update=64, seeds=None):
    """A record whose curves are ``counts[seed][kind]`` (solves out of ``attempts`` at updates 0, 2, n)."""
    base = {"noop": 0.0, "random": 0.125}
    runs = []
    for seed, c in zip(seeds or range(len(counts)), counts):
        curves = {k: {"update": [0, 2, n], "env_steps": [0, 2 * per_update, n * per_update],
                      "solve": [x / attempts for x in c[k]], "success": [0.5] * n} for k in ("finetune", "scratch")}
        runs.append({"seed": seed, "summary": summarise_curves(curves, base), "curves": curves, "baselines": base,
                     "num_updates": n, "attempts": attempts, "wall_seconds": {}})
    return {"updates": n, "attempts": attempts, "env_steps": n * per_update, "baselines": base, "runs": runs,
            "seeds": [r["seed"] for r in runs]}


WIN = {"finetune": [4, 6, 7], "scratch": [0, 1, 3]}
LOSE = {"finetune": [4, 2, 1], "scratch": [0, 3, 5]}
MIXED = {"finetune": [4, 6, 3], "scratch": [0, 1, 5]}  # behind at the end, ahead on average


def test_across_seeds_matches_a_hand_computation():
    rec = _fake_record([WIN, LOSE, MIXED])
    st = across_seeds(rec)
    assert st["n"] == 3 and st["seeds"] == [0, 1, 2]
    for key in SEED_KEYS:
        vals = [r["summary"][key] for r in rec["runs"]]
        assert st[key]["mean"] == pytest.approx(statistics.mean(vals), abs=1e-12)
        assert st[key]["sd"] == pytest.approx(statistics.stdev(vals), abs=1e-12)
    finals = [(7, 3), (1, 5), (3, 5)]
    means = [((4 + 6 + 7), (0 + 1 + 3)), ((4 + 2 + 1), (0 + 3 + 5)), ((4 + 6 + 3), (0 + 1 + 5))]
    assert st["wins_final"] == sum(a > b for a, b in finals) == 1
    assert st["losses_final"] == sum(a < b for a, b in finals) == 2
    assert st["wins_mean"] == sum(a > b for a, b in means) == 2 and st["losses_mean"] == 1
    assert across_seeds(_fake_record([WIN]))["gap"]["sd"] == 0.0


def test_verdict_is_generated_from_the_numbers():
    win = seeds_verdict(across_seeds(_fake_record([WIN, WIN, WIN])))
    assert win.startswith("fine-tuning beats training from scratch on every seed")
    assert "ahead on all 3 seeds (0.88 ± 0.00 against 0.38 ± 0.00)" in win
    lose = seeds_verdict(across_seeds(_fake_record([LOSE, LOSE])))
    assert lose.startswith("fine-tuning does not beat") and "training from scratch is ahead on all 2 seeds" in lose
    one = seeds_verdict(across_seeds(_fake_record([LOSE])))
    assert "training from scratch is ahead on its one seed (0.12 ± 0.00 against 0.62 ± 0.00)" in one
    mixed = seeds_verdict(across_seeds(_fake_record([WIN, MIXED, WIN])))
    assert mixed.startswith("fine-tuning does not beat")
    assert "at the end, fine-tuning is ahead on 2 of 3 seeds and behind on 1" in mixed
    assert "averaged over the evaluations, fine-tuning is ahead on all 3 seeds" in mixed


def _broken(mutate):
    rec = _fake_record([WIN, MIXED, LOSE])
    mutate(rec)
    return rec


@pytest.mark.parametrize("mutate, match", [
    (lambda r: r["runs"][1]["summary"].update(gap=0.5), r"seed 1: summary\['gap'\]"),
    (lambda r: r["runs"][2]["summary"].update(mean_scratch=0.1), r"seed 2: summary\['mean_scratch'\]"),
    (lambda r: r["runs"][0]["summary"].pop("noop"), "seed 0: summary keys"),
    (lambda r: r["runs"][0]["curves"]["scratch"]["solve"].__setitem__(-1, 0.3), "counts out of 8"),
    (lambda r: r["runs"][0]["curves"]["finetune"]["env_steps"].__setitem__(1, 100), "env_steps"),
    (lambda r: r["runs"][1]["curves"]["finetune"]["update"].__setitem__(-1, 3), r"rise from 0 to 4"),
    (lambda r: r["runs"][1]["curves"]["scratch"]["success"].pop(), "one success rate per update"),
    (lambda r: r["runs"][2].update(baselines={"noop": 0.0, "random": 0.5}), "seed 2: baselines"),
    (lambda r: r["runs"][2].update(attempts=16), "num_updates/attempts"),
    (lambda r: r["runs"][2].update(seed=0), "each run's seed once"),
    (lambda r: r.update(seeds=[0, 1]), "each run's seed once"),
    (lambda r: r.update(runs=[], seeds=[]), "no seed has finished"),
    (lambda r: r.pop("attempts"), "missing the field 'attempts'"),
])
def test_an_inconsistent_record_is_named(mutate, match):
    good = _fake_record([WIN, MIXED, LOSE])
    check_seed_record(copy.deepcopy(good))
    with pytest.raises(ValueError, match=match):
        check_seed_record(_broken(mutate))
    with pytest.raises(ValueError, match=match):
        across_seeds(_broken(mutate))


def test_the_committed_record_is_consistent_and_complete():
    """finetune_seeds.json: every summary equals the one its curves give, the planned seeds 0, 1, 2 all
    finished, at the notebook's cpu budget on its level, with the baselines recorded beside the
    checkpoints and the command and wall time that made it."""
    rec = json.loads(SEEDS_FILE.read_text())
    check_seed_record(rec)
    assert rec["seeds"] == rec["planned_seeds"] == [0, 1, 2]
    assert (rec["level"], rec["updates"], rec["attempts"]) == ("s/thrust_aim", 16, 32)
    _, cfg, _ = load_checkpoint(str(SEEDS_FILE.with_name("sfl.safetensors")))
    assert rec["env_steps"] == 16 * cfg.ppo.num_envs * cfg.ppo.num_steps
    u = json.loads(SEEDS_FILE.with_name("results.json").read_text())["untrained"]
    i = u["names"]["ours_s"].index(rec["level"])
    assert rec["baselines"] == {k: u["ours_s"][k][i] for k in ("noop", "random")}
    assert rec["wall_seconds"] > 0 and all("kinetix_finetune_seeds.py" in c for c in rec["commands"])
    st = across_seeds(rec)
    assert st["n"] == 3 and seeds_verdict(st)
