"""The shipped chapter 3 checkpoints load and reproduce the held-out accuracy recorded beside them."""

from pathlib import Path

import numpy as np
import pytest

from rizzlib.mazes.eval import evaluate
from rizzlib.mazes.presets import DataConfig
from rizzlib.mazes.train import load_checkpoint, make_datasets

CHECKPOINTS = Path(__file__).resolve().parents[1] / "rizzlib" / "mazes" / "checkpoints"


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_both_checkpoints_are_shipped_with_a_readme():
    assert (CHECKPOINTS / "README.md").is_file()
    for obj in ("mlmu", "ntp"):
        assert (CHECKPOINTS / f"{obj}.safetensors").is_file()


@pytest.mark.parametrize("objective", ["mlmu", "ntp"])
def test_checkpoint_reproduces_its_recorded_accuracy(objective):
    model, extra = load_checkpoint(CHECKPOINTS / f"{objective}.safetensors")
    assert model.cfg.objective == objective == extra["objective"]
    data = DataConfig(**{k: tuple(v) if k == "sizes" else v for k, v in extra["data"].items()})
    _, _, test = make_datasets(data)
    # a fixed slice of the held-out set keeps the test fast; the full-set numbers are in the README
    idx = np.concatenate([np.flatnonzero(test.sizes.numpy() == n)[:60] for n in data.sizes])
    acc = evaluate(model, test.subset(idx), solved=False).accuracy_by_size()
    full = {int(k): v for k, v in extra["accuracy_by_size"].items()}
    recorded = {int(k): v for k, v in extra["subset_accuracy_by_size"].items()}
    assert acc == pytest.approx(recorded, abs=0.02)  # one maze in 60 may flip on another CPU
    assert set(full) == set(acc)


def test_shipped_checkpoints_are_study_runs_with_the_official_init():
    # retrained after issue 8: the MLM-U model starts from the official PAST init and has a head bias
    for obj in ("mlmu", "ntp"):
        model, extra = load_checkpoint(CHECKPOINTS / f"{obj}.safetensors")
        assert "scripts/mazes_study.py" in extra["source"] and model.cfg.init == "official"
        assert extra["train"]["batch_size"] * extra["train"]["steps"] >= 10_000
    mlmu, _ = load_checkpoint(CHECKPOINTS / "mlmu.safetensors")
    assert mlmu.head_bias.abs().sum() > 0 and mlmu.query.shape == (1, mlmu.cfg.d_model)
