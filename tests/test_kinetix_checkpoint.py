"""The shipped Kinetix generalists load and reproduce the evaluation recorded beside them.

``scripts/kinetix_train.py`` evaluates each agent on the first ``subset_levels`` held-out random
levels (saved as ``heldout_subset.safetensors``), ``subset_attempts`` sampled episodes each, with a
fixed key, and stores the per-level solve rates in the checkpoint's metadata; here they are
recomputed from the reloaded weights.
"""

import json
from pathlib import Path

import jax
import numpy as np
import pytest

from rizzlib.kinetix.evaluate import make_evaluator
from rizzlib.kinetix.train import build, env_config_for, load_checkpoint, load_levels

CKPT = Path(__file__).resolve().parents[1] / "rizzlib" / "kinetix" / "checkpoints"
RESULTS = json.loads((CKPT / "results.json").read_text())
METHODS = sorted(RESULTS["methods"])


def test_checkpoints_are_shipped_with_their_record():
    assert set(METHODS) == {"sfl", "uniform"}
    assert (CKPT / "README.md").is_file() and (CKPT / "heldout_subset.safetensors").is_file()
    commands = RESULTS["command"] if isinstance(RESULTS["command"], list) else [RESULTS["command"]]
    assert all("scripts/kinetix_train.py" in c for c in commands)  # one run, or one per method
    for m in METHODS:
        _, cfg, extra = load_checkpoint(str(CKPT / f"{m}.safetensors"))
        rec = RESULTS["methods"][m]
        assert extra["method"] == m and extra["updates"] == rec["updates"] == cfg.num_updates
        assert extra["env_steps"] == cfg.num_updates * cfg.ppo.num_envs * cfg.ppo.num_steps
        assert extra["subset_solve"] == rec["subset_solve"]
        assert len(rec["history"]["update"]) == rec["updates"]
        # the full evaluation has the agent on every set, the baselines sit under "untrained"
        for s in ("held_out", "ours_s"):
            assert len(rec["eval"][s]["agent"]) == len(RESULTS["untrained"][s]["random"])


@pytest.mark.parametrize("method", METHODS)
def test_checkpoint_reproduces_its_recorded_subset_evaluation(method):
    params, cfg, extra = load_checkpoint(str(CKPT / f"{method}.safetensors"))
    levels = load_levels(str(CKPT / "heldout_subset.safetensors"), env_config_for(cfg))
    assert int(levels.polygon_role.shape[0]) == extra["subset_levels"]
    env, net = build(cfg)
    solve = make_evaluator(env, net)("agent", params, jax.random.key(extra["eval_key"]), levels,
                                     extra["subset_attempts"])
    recorded = np.asarray(extra["subset_solve"])
    # bit-identical on the machine that trained it; on another CPU a chaotic episode may flip, so
    # at most one of the subset_levels * subset_attempts episodes may differ
    flips = np.abs(solve - recorded).sum() * extra["subset_attempts"]
    assert flips <= 1 + 1e-6, (solve.tolist(), recorded.tolist())
