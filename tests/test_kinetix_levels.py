"""Levels: our shipped JSON levels, the kinetix-env converter (round trip, the paper's levels), the
random generator and its no-op filter."""

import glob
import json
import os

import jax
import numpy as np
import pytest
from _repo import load_repo_module

from rizzlib.kinetix import EnvConfig, Role, validate_level
from rizzlib.kinetix.audit import audit_levels
from rizzlib.kinetix.builtin import BUILDERS, load_builtin_level
from rizzlib.kinetix.convert import level_from_kinetix, level_to_kinetix, load_kinetix_levels
from rizzlib.kinetix.generate import noop_filter_choice, noop_solves, sample_level, sample_levels


def assert_levels_equal(a, b, atol=1e-6):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        np.testing.assert_allclose(np.asarray(x, np.float64), np.asarray(y, np.float64), atol=atol, rtol=1e-5 if atol else 0)


def find_wheel():
    cands = [os.environ.get("KINETIX_WHEEL", "")] + glob.glob("/tmp/kx/kinetix_env-3.0.2*.whl")
    return next((c for c in cands if c and os.path.exists(c)), None)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_builtin_json_equals_builder_and_round_trips(name):
    built, cfg = BUILDERS[name]()
    loaded, cfg2 = load_builtin_level(name)
    assert cfg2.sim == cfg.sim
    assert_levels_equal(built, loaded)
    again, _ = level_from_kinetix(json.loads(json.dumps(level_to_kinetix(loaded, cfg2))))
    assert_levels_equal(loaded, again)


@pytest.mark.parametrize("size", ["s", "m", "l"])
def test_random_levels_round_trip_and_are_valid(size):
    cfg = EnvConfig.for_size(size)
    rng = np.random.default_rng(3)
    for _ in range(4):
        lv = sample_level(cfg, rng)
        validate_level(lv, cfg)
        roles = np.asarray(lv.roles)
        assert (roles == Role.GREEN).sum() >= 1 and (roles == Role.BLUE).sum() >= 1
        assert (roles == Role.RED).sum() <= 1
        j = jax.tree.map(np.asarray, lv.sim.joint)
        motor = (j.active & j.motor_on & ~j.is_fixed_joint).any()
        assert motor or np.asarray(lv.sim.thruster.active).any()  # controllable
        back, _ = level_from_kinetix(level_to_kinetix(lv, cfg), cfg)
        assert_levels_equal(lv, back, atol=1e-5)


def test_generator_is_seeded():
    cfg = EnvConfig.for_size("s")
    a = sample_levels(cfg, 6, seed=11, noop_filter=False)
    b = sample_levels(cfg, 6, seed=11, noop_filter=False)
    c = sample_levels(cfg, 6, seed=12, noop_filter=False)
    assert_levels_equal(a, b, atol=0)
    assert not np.allclose(np.asarray(a.sim.circle.position), np.asarray(c.sim.circle.position))


def test_noop_filter_removes_noop_solvable_levels():
    cfg = EnvConfig.for_size("s")
    raw = sample_levels(cfg, 32, seed=5, noop_filter=False)
    solved = noop_solves(raw, cfg)
    assert 0 < solved.sum() < 16  # random S levels: some are solved by doing nothing
    for seed in range(20):
        keep = noop_filter_choice(solved, 16, np.random.default_rng(seed))
        assert len(set(keep)) == 16 and not solved[keep].any()
    # with fewer unsolved levels than needed, solved ones fill the rest
    keep = noop_filter_choice(solved, 32 - int(solved.sum()) + 1, np.random.default_rng(0))
    assert solved[keep].sum() == 1
    with pytest.raises(ValueError, match="n"):
        noop_filter_choice(solved, 33, np.random.default_rng(0))


@pytest.mark.slow
def test_builtin_m_levels_pass_the_audit():
    levels = {n: load_builtin_level(n) for n in BUILDERS if n.startswith("m/")}
    for a in audit_levels(levels, steps=256):
        assert a.ok, a


def test_converter_errors_name_the_field():
    lv, cfg = load_builtin_level("s/one_wheel_car")
    doc = level_to_kinetix(lv, cfg)
    bad = json.loads(json.dumps(doc))
    del bad["env_state"]["circle"][0]["radius"]
    with pytest.raises(ValueError, match="radius"):
        level_from_kinetix(bad)
    bad = json.loads(json.dumps(doc))
    bad["env_state"]["polygon"][4]["role"] = 9
    with pytest.raises(ValueError, match="role"):
        level_from_kinetix(bad)
    bad = json.loads(json.dumps(doc))
    bad["env_state"]["joint"][0]["motor_binding"] = 5
    with pytest.raises(ValueError, match="motor_binding"):
        level_from_kinetix(bad)
    bad = json.loads(json.dumps(doc))
    bad["env_state"]["circle"].append(bad["env_state"]["circle"][0])
    with pytest.raises(ValueError, match="num_circles"):
        level_from_kinetix(bad, cfg)
    with pytest.raises(ValueError, match="more than this EnvConfig holds"):
        level_from_kinetix(level_to_kinetix(*load_builtin_level("m/cartpole")), cfg)
    del bad["static_env_params"]
    with pytest.raises(ValueError, match="static_env_params"):
        level_from_kinetix(bad)
    with pytest.raises(ValueError, match="does not exist"):
        load_kinetix_levels("/nonexistent/level.json")


def test_s_levels_ours_and_the_papers_play_without_nan_and_motors_move():
    """One audit (one compile) over our S levels and, if the wheel is here, the paper's 10 S levels."""
    levels = {n: load_builtin_level(n) for n in BUILDERS if n.startswith("s/")}
    if find_wheel() is not None:
        paper = load_kinetix_levels(find_wheel(), size="s")
        assert len(paper) == 10
        levels.update(paper)
    audits = audit_levels(levels, steps=256)
    for a in audits:
        assert a.ok, a
    assert sum(len(a.motorised) for a in audits) >= 1


@pytest.mark.slow
@pytest.mark.skipif(find_wheel() is None, reason="kinetix-env wheel not downloaded")
def test_all_74_paper_levels_convert_and_play():
    levels = load_kinetix_levels(find_wheel())
    assert len(levels) == 74
    bad = [a for a in audit_levels(levels, steps=256) if not a.ok]
    assert not bad, bad


def _smoke_levels_script():
    return load_repo_module("scripts/kinetix_smoke_levels.py", "kinetix_smoke_levels")


def test_shipped_smoke_levels_load_and_are_valid():
    """The random S levels notebook 01b loads at smoke scale: COUNT valid, distinct levels."""
    from rizzlib.kinetix.levels import index_level
    from rizzlib.kinetix.train import load_levels

    script = _smoke_levels_script()
    config = EnvConfig.for_size("s")
    levels = load_levels(str(script.OUT), config)
    assert levels.polygon_role.shape[0] == script.COUNT
    for i in range(script.COUNT):
        validate_level(index_level(levels, i), config)
    rows = np.concatenate([np.asarray(x, np.float64).reshape(script.COUNT, -1) for x in jax.tree.leaves(levels)], axis=1)
    assert len({row.tobytes() for row in rows}) == script.COUNT


@pytest.mark.slow
def test_shipped_smoke_levels_are_what_the_script_makes():
    """The file is exactly sample_levels(EnvConfig.for_size("s"), COUNT, seed=SEED): regenerated here."""
    from rizzlib.kinetix.train import load_levels

    script = _smoke_levels_script()
    shipped = load_levels(str(script.OUT), EnvConfig.for_size("s"))
    assert_levels_equal(shipped, script.make(), atol=0)
