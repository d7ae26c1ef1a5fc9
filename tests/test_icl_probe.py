"""scripts/icl_arith_probe.py: a tiny run writes a well-formed result and --append adds a run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from _repo import load_repo_module

pytestmark = pytest.mark.usefixtures("torch_one_thread")
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "icl_arith_probe.py"


def load_probe():
    return load_repo_module("scripts/icl_arith_probe.py", "icl_arith_probe")


@pytest.mark.slow
def test_probe_runs_tiny_and_appends(tmp_path):
    probe = load_probe()
    out = tmp_path / "probe.json"
    args = ["--minutes", "1", "--steps", "3", "--batch-size", "2", "--seq-len", "64", "--log-every", "1", "--eval-batch", "2", "--out", str(out)]
    assert probe.main([*args, "--variants", "a+b, c = 0"]) == 0
    assert probe.main([*args, "--variants", "a+c, c per episode", "--append"]) == 0
    res = json.loads(out.read_text())
    assert res["uniform_loss"] == pytest.approx(math.log(10))
    assert [list(r["variants"]) for r in res["runs"]] == [["a+b, c = 0"], ["a+c, c per episode"]]
    v = res["runs"][0]["variants"]["a+b, c = 0"]
    assert v["steps"] == 3 and v["step"] == [0, 1, 2, 3] and v["n_offsets"] == 1 and v["n_terms"] == 2
    assert all(math.isfinite(x) and x > 0 for x in v["digit_loss"]) and all(0 <= a <= 1 for a in v["late_acc"])
    assert res["runs"][1]["variants"]["a+c, c per episode"]["n_terms"] == 1
    with pytest.raises(ValueError, match="variants must be among"):
        probe.main([*args, "--variants", "a*b"])


def test_committed_probe_results_are_well_formed():
    path = SCRIPT.parents[1] / "benchmarks" / "results" / "icl_arith_probe.json"
    res = json.loads(path.read_text())
    probe = load_probe()
    assert res["runs"], "no probe run recorded"
    for run in res["runs"]:
        assert set(run["variants"]) <= set(probe.VARIANTS)
        for v in run["variants"].values():
            assert len(v["step"]) == len(v["digit_loss"]) == len(v["late_acc"]) and v["step"][-1] == v["steps"]
