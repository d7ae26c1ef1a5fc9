"""The entity transformer: the paper's size, permutation invariance (and its failure with a positional
embedding), masked mean pooling, the MLP baseline and the action distributions."""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rizzlib.kinetix import EnvConfig, KinetixEnv
from rizzlib.kinetix import distributions as dist
from rizzlib.kinetix import reference as ref
from rizzlib.kinetix.generate import sample_level
from rizzlib.kinetix.models import ModelConfig, count_params, make_network, masked_mean
from rizzlib.kinetix.presets import PRESETS

M = EnvConfig.for_size("m")


ENV_M = KinetixEnv(M)
STEP_M = jax.jit(ENV_M.step)


@functools.cache
def busy_obs(seed=0):
    """An observation of a random M level with joints and thrusters, after a few steps (contacts)."""
    rng = np.random.default_rng(seed)
    for _ in range(50):
        lv = sample_level(M, rng)
        if np.asarray(lv.sim.joint.active).any() and np.asarray(lv.sim.thruster.active).any():
            break
    _, st = ENV_M.reset(None, lv)
    for t in range(3):
        _, st, _, _, _ = STEP_M(None, st, ENV_M.sample_action(jax.random.key(t)))
    return ENV_M.observe(st)


def permute_obs(obs, rng):
    """Shuffle polygon slots >= 4, circles, joints and thrusters; remap every index and mask."""
    p, c = obs.polygons.shape[0], obs.circles.shape[0]
    j2, t = obs.joints.shape[0], obs.thrusters.shape[0]
    j = j2 // 2
    perm_p = np.concatenate([np.arange(4), 4 + rng.permutation(p - 4)])
    perm_c = rng.permutation(c)
    g = np.concatenate([perm_p, p + perm_c])  # new slot k holds old shape g[k]
    inv = np.argsort(g)
    perm_j = rng.permutation(j)
    rows = np.concatenate([perm_j, j + perm_j])
    perm_t = rng.permutation(t)
    return obs.replace(
        polygons=obs.polygons[perm_p], circles=obs.circles[perm_c], joints=obs.joints[rows],
        thrusters=obs.thrusters[perm_t], polygon_mask=obs.polygon_mask[perm_p], circle_mask=obs.circle_mask[perm_c],
        joint_mask=obs.joint_mask[rows], thruster_mask=obs.thruster_mask[perm_t],
        attention_mask=obs.attention_mask[:, g][:, :, g],
        joint_indexes=jnp.asarray(inv)[obs.joint_indexes[rows]],
        thruster_indexes=jnp.asarray(inv)[obs.thruster_indexes[perm_t]],
    )


def test_gpu_preset_has_the_papers_size():
    obs = busy_obs()
    net = make_network(PRESETS.gpu.model, dist.num_outputs(M))
    n = count_params(net.init(jax.random.key(0), obs))
    assert 780_000 <= n <= 790_000, n  # the paper's ~786k


@pytest.mark.parametrize("seed", range(3))
def test_transformer_is_permutation_invariant(seed):
    obs = busy_obs(seed)
    cfg = ModelConfig(embed=32, heads=4, qkv=16, depth=2, mlp_depth=2, mlp_width=32)
    net = make_network(cfg, 16)
    params = net.init(jax.random.key(seed), obs)
    # larger weights than the init so differences would show
    params = jax.tree.map(lambda x: x * 3.0, params)
    out, val = net.apply(params, obs)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        o2, v2 = net.apply(params, permute_obs(obs, rng))
        np.testing.assert_allclose(np.asarray(o2), np.asarray(out), atol=1e-5, rtol=1e-4)
        assert float(v2) == pytest.approx(float(val), abs=1e-5, rel=1e-4)


def test_positional_variant_is_not_invariant():
    obs = busy_obs(0)
    cfg = ModelConfig(embed=32, heads=4, qkv=16, depth=1, mlp_depth=2, mlp_width=32, positional=True)
    net = make_network(cfg, 16)
    params = jax.tree.map(lambda x: x * 3.0, net.init(jax.random.key(0), obs))
    out, val = net.apply(params, obs)
    rng = np.random.default_rng(1)
    diffs = [float(jnp.abs(net.apply(params, permute_obs(obs, rng))[1] - val)) for _ in range(3)]
    assert max(diffs) > 1e-3


@pytest.mark.parametrize("seed", range(10))
def test_masked_mean_matches_reference(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(7, 5)).astype(np.float32)
    m = rng.random(7) < (0.5 if seed else 0.0)  # seed 0: nothing active
    np.testing.assert_allclose(np.asarray(masked_mean(jnp.asarray(x), jnp.asarray(m))), ref.masked_mean(x, m),
                               atol=1e-6)


def test_mlp_baseline_on_flat_observations():
    cfg = EnvConfig.for_size("s", observation="symbolic_flat")
    env = KinetixEnv(cfg)
    lv = sample_level(cfg, np.random.default_rng(0))
    obs, _ = env.reset(None, lv)
    net = make_network(ModelConfig(kind="mlp", mlp_depth=2, mlp_width=32), dist.num_outputs(cfg))
    out, val = net.apply(net.init(jax.random.key(0), obs), obs)
    assert out.shape == (16,) and val.shape == ()


def test_model_config_errors():
    with pytest.raises(ValueError, match="heads"):
        ModelConfig(heads=6)
    with pytest.raises(ValueError, match="qkv"):
        ModelConfig(heads=8, qkv=12)
    with pytest.raises(ValueError, match="kind"):
        ModelConfig(kind="gru")


def test_multi_discrete_distribution_normalises():
    cfg = EnvConfig.for_size("s")
    out = jax.random.normal(jax.random.key(0), (16,))
    actions = np.array(list(itertools.product(range(3), range(3), range(3), range(3), range(2), range(2))))
    lp = jax.vmap(lambda a: dist.log_prob(out, a, cfg))(jnp.asarray(actions))
    p = np.exp(np.asarray(lp, np.float64))
    assert p.sum() == pytest.approx(1.0, abs=1e-5)
    assert float(dist.entropy(out, cfg)) == pytest.approx(float(-(p * np.log(p)).sum()), abs=1e-4)
    samples = jax.vmap(lambda k: dist.sample(k, out, cfg))(jax.random.split(jax.random.key(1), 4000))
    freq = np.mean(np.asarray(samples[:, 0]) == 1)
    p0 = np.asarray(jax.nn.softmax(out[:3]))[1]
    assert abs(freq - p0) < 0.03


def test_discrete_and_continuous_distributions():
    d = EnvConfig.for_size("s", action="discrete")
    out = jax.random.normal(jax.random.key(0), (dist.num_outputs(d),))
    lp = jax.vmap(lambda a: dist.log_prob(out, a, d))(jnp.arange(11))
    assert float(jnp.exp(lp).sum()) == pytest.approx(1.0, abs=1e-5)
    c = EnvConfig.for_size("s", action="continuous")
    out = jnp.concatenate([jnp.zeros(6), jnp.log(jnp.full(6, 0.5))])
    a = jnp.asarray([0.1, -0.2, 0.3, 0.0, 0.5, 0.2])
    expect = np.sum(-0.5 * (np.asarray(a) / 0.5) ** 2 - np.log(0.5) - 0.5 * np.log(2 * np.pi))
    assert float(dist.log_prob(out, a, c)) == pytest.approx(expect, abs=1e-5)
