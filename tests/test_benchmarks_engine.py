"""The engine benchmark compares like with like: both engines get the same bodies, masses, joints
and thrusters from the shared scene description (skipped when the PyPI jax2d is not installed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import engine as bench  # noqa: E402

needs_peer = pytest.mark.skipif(importlib.util.find_spec("jax2d") is None, reason="pip install jax2d chex")


def _dynamic(state):
    """Active dynamic bodies as (kind, position, inverse mass, inverse inertia), in slot order."""
    out = []
    for kind, body in (("polygon", state.polygon), ("circle", state.circle)):
        for i in np.flatnonzero(np.asarray(body.active) & (np.asarray(body.inverse_mass) > 0)):
            out.append((kind, np.asarray(body.position[i]), float(body.inverse_mass[i]), float(body.inverse_inertia[i])))
    return out


@pytest.mark.parametrize("name", list(bench.SCENES))
def test_scene_sizes_and_indices(name):
    scene = bench.SCENES[name]()
    idx = bench.global_indices(scene)
    assert len(set(idx)) == len(idx) and max(idx) < scene.sizes[0] + scene.sizes[1]
    assert len(scene.joints) <= scene.sizes[2] and len(scene.thrusters) <= scene.sizes[3]
    assert bench.actions_for(scene).shape == (scene.sizes[2] + scene.sizes[3],)


@needs_peer
@pytest.mark.parametrize("name", list(bench.SCENES))
def test_both_engines_get_the_same_bodies(name):
    scene = bench.SCENES[name]()
    _, ours = bench.build_ours(scene)
    _, peer = bench.build_peer(scene)
    a, b = _dynamic(ours), _dynamic(peer)
    assert [k for k, *_ in a] == [k for k, *_ in b] and len(a) == sum(not s.static for s in scene.shapes)
    for (kind, pa, ma, ia), (_, pb, mb, ib) in zip(a, b):
        np.testing.assert_allclose(pa, pb, atol=1e-5)
        np.testing.assert_allclose(ma, mb, rtol=1e-5)
        # jax2d gives a disc I = rho pi r^4 / 4, half of the true m r^2 / 2 (the area moment about a
        # diameter instead of the polar one), so its inverse inertia is twice ours
        np.testing.assert_allclose(ia, ib / 2 if kind == "circle" else ib, rtol=1e-4)
    for s in (ours, peer):
        assert int(np.asarray(s.joint.active).sum()) == len(scene.joints)
        assert int(np.asarray(s.thruster.active).sum()) == len(scene.thrusters)
    np.testing.assert_array_equal(np.asarray(ours.joint.a_index)[: len(scene.joints)],
                                  np.asarray(peer.joint.a_index)[: len(scene.joints)])
    np.testing.assert_array_equal(np.asarray(ours.thruster.object_index)[: len(scene.thrusters)],
                                  np.asarray(peer.thruster.object_index)[: len(scene.thrusters)])


@pytest.mark.slow  # two compiles of the full step (~30 s on 2 cores)
@needs_peer
def test_timer_reports_finite_rollouts():
    res = bench.time_side_by_side({"ours": bench.build_ours, "peer": bench.build_peer}, bench.scene_s_car(),
                                  batch=2, steps=5, repeats=1)
    for r in res.values():
        assert r["finite"] and r["sps"] > 0 and r["compile_s"] > 0


def test_merge_and_table():
    ours = [{"scene": "s", "batch": 1, "sps": 300.0}, {"scene": "s", "batch": 4, "sps": 900.0}]
    peer = [{"scene": "s", "batch": 1, "sps": 100.0}]
    rows = bench.merge(ours, peer)
    assert rows[0]["ratio"] == 3.0 and rows[1]["peer_sps"] is None and rows[1]["ratio"] is None
    text = bench.format_table(rows)
    assert "3.00x" in text and text.count("\n") == 2
