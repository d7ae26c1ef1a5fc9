"""Experiment sizes at each scale (``smoke`` <= 2 min notebook, ``cpu`` <= 10 min, ``gpu`` = the paper's).

``gpu`` holds the paper's agent (786k-parameter transformer) and Kinetix's SFL hyper-parameters
(spec 4 and 5). ``cpu`` follows the spec's CPU plan (8.1): a depth-1, width-64 transformer, 64
envs x 64 steps, lr 3e-4, SFL scoring 512 levels every 8 updates and keeping the top 64.
"""

from __future__ import annotations

import dataclasses

from rizzlib.core.scale import Presets
from rizzlib.core.validate import check_choice, check_int_range
from rizzlib.kinetix.models import ModelConfig
from rizzlib.kinetix.ppo import PPOConfig
from rizzlib.kinetix.sfl import SFLConfig


@dataclasses.dataclass(frozen=True)
class KinetixConfig:
    """One training run.

    Attributes:
        size: level size ``"s"``, ``"m"`` or ``"l"``.
        model, ppo, sfl: component settings.
        num_updates: PPO updates per method (env steps = num_updates * num_envs * num_steps).
        pool_size: random (no-op-filtered) training levels generated before training; "fresh"
            levels are drawn from this pool (Kinetix samples a new one on the fly).
        num_eval_levels: held-out random levels (another seed) for the solve-rate curve.
        eval_attempts: attempts per level in evaluations (Kinetix: 20).
        eval_every: updates between evaluations on the held-out set.
        finetune_updates: updates of fine-tuning vs from-scratch on one level.
        seed: seeds levels, networks and training.
    """

    size: str = "s"
    model: ModelConfig = ModelConfig()
    ppo: PPOConfig = PPOConfig()
    sfl: SFLConfig = SFLConfig()
    num_updates: int = 2048
    pool_size: int = 65536
    num_eval_levels: int = 256
    eval_attempts: int = 20
    eval_every: int = 128
    finetune_updates: int = 256
    seed: int = 0

    def __post_init__(self):
        check_choice("size", self.size, ("s", "m", "l"))
        check_int_range("num_updates", self.num_updates, 1, None)
        check_int_range("pool_size", self.pool_size, 1, None)
        check_int_range("num_eval_levels", self.num_eval_levels, 1, None)
        check_int_range("eval_attempts", self.eval_attempts, 1, None)
        check_int_range("eval_every", self.eval_every, 1, None)
        check_int_range("finetune_updates", self.finetune_updates, 1, None)
        check_int_range("seed", self.seed, 0, None)

    @property
    def env_steps(self) -> int:
        """Agent steps of one training run (without SFL's scoring rollouts)."""
        return self.num_updates * self.ppo.num_envs * self.ppo.num_steps


PRESETS = Presets(
    smoke=KinetixConfig(
        model=ModelConfig(embed=32, heads=4, qkv=16, depth=1, mlp_depth=2, mlp_width=32),
        ppo=PPOConfig(num_envs=16, num_steps=32, num_minibatches=2, update_epochs=2, lr=3e-4, gamma=0.99),
        sfl=SFLConfig(buffer_size=8, num_scored=32, score_steps=64, update_every=4, score_batch=32),
        num_updates=6, pool_size=64, num_eval_levels=16, eval_attempts=4, eval_every=3, finetune_updates=4,
    ),
    cpu=KinetixConfig(
        model=ModelConfig(embed=64, heads=4, qkv=32, depth=1, mlp_depth=2, mlp_width=64),
        ppo=PPOConfig(num_envs=64, num_steps=64, num_minibatches=4, update_epochs=4, lr=3e-4, gamma=0.99),
        sfl=SFLConfig(buffer_size=64, num_scored=512, score_steps=128, update_every=8, score_batch=256),
        num_updates=48, pool_size=1024, num_eval_levels=128, eval_attempts=8, eval_every=8, finetune_updates=24,
    ),
    gpu=KinetixConfig(),
)


def preset(scale: str | None = None) -> KinetixConfig:
    """The configuration for ``scale`` (default: ``$RIZZLIB_SCALE``, else auto-detected)."""
    return PRESETS(scale)
