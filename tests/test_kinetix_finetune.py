"""Fine-tuning vs from scratch: same budget, only the initial parameters differ."""

import dataclasses

import jax
import numpy as np
import pytest

from rizzlib.kinetix.builtin import load_builtin_level
from rizzlib.kinetix.finetune import finetune_vs_scratch, scratch_params, summarise
from rizzlib.kinetix.presets import PRESETS


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
