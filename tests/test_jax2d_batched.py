"""One colouring for a vmapped batch (issue 13): ``batching.batch_any`` and the ``"colours"`` layout
under ``vmap``, checked over many seeded random piles against the per-scene layouts."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rizzlib import jax2d
from rizzlib.jax2d import SceneBuilder, SimParams, StaticConfig
from rizzlib.jax2d.batching import batch_any
from rizzlib.jax2d.contact_solver import prepare_contacts
from rizzlib.jax2d.contacts import detect_contacts, stack_bodies
from rizzlib.jax2d.stepping import colour_schedule

PARAMS = SimParams()
ST = StaticConfig(num_polygons=6, num_circles=8, num_joints=0, num_thrusters=0, solver_layout="colours")
SEEDS = range(12)
BATCH = 4


def random_pile(rng: np.random.Generator):
    """Four borders of a 2 m box, two boxes and eight circles on a jittered lattice (no overlap),
    random sizes, velocities, friction and restitution; some circles are static."""
    sb = SceneBuilder(ST)
    sb.add_borders(2.0, 2.0, friction=float(rng.uniform(0.2, 1.0)))
    cells = rng.permutation(16)[:10]
    for k, cell in enumerate(cells):
        centre = (0.25 + 0.5 * (cell % 4) + rng.uniform(-0.04, 0.04), 0.25 + 0.45 * (cell // 4))
        common = dict(friction=float(rng.uniform(0.0, 1.0)), restitution=float(rng.choice([0.0, 0.5, 0.9])))
        if k < 2:
            sb.add_box(centre, tuple(rng.uniform(0.2, 0.4, 2)), float(rng.uniform(-0.5, 0.5)),
                       velocity=tuple(rng.uniform(-1, 1, 2)), **common)
        else:
            sb.add_circle(centre, float(rng.uniform(0.12, 0.2)), static=bool(rng.random() < 0.15),
                          velocity=tuple(rng.uniform(-1, 1, 2)), angular_velocity=float(rng.uniform(-3, 3)),
                          **common)
    return sb.build()


def stack(states):
    return jax.tree.map(lambda *x: jnp.stack(x), *states)


def row(tree, i):
    return jax.tree.map(lambda x: x[i], tree)


def max_diff(a, b):
    return max(float(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)).max(initial=0.0))
               for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


@jax.jit
def _settle(batch):
    """20 steps of every scene on its own (vmapped "active"): piles with many touching pairs."""
    st = dataclasses.replace(ST, solver_layout="active")
    return jax.vmap(lambda s: jax2d.rollout(s, PARAMS, st, None, 20)[0])(batch)


def _batches():
    return [_settle(stack([random_pile(np.random.default_rng([seed, k])) for k in range(BATCH)])) for seed in SEEDS]


@pytest.fixture(scope="module")
def batches():
    return _batches()


def test_batch_any_is_the_identity_on_one_scene_and_the_or_under_vmap():
    x = jnp.array([[True, False, False], [False, False, True]])
    np.testing.assert_array_equal(batch_any(x[0]), x[0])
    out = jax.vmap(batch_any)(x)
    np.testing.assert_array_equal(out, [[True, False, True]] * 2)
    nested = jax.vmap(jax.vmap(batch_any))(jnp.stack([x, ~x]))
    assert bool(nested.all())  # the OR over both batch axes
    # the result is unbatched: a cond on it stays a cond under vmap (no select of both branches)
    jaxpr = jax.make_jaxpr(jax.vmap(lambda v: jax.lax.cond(batch_any(v).any(), lambda: 1.0, lambda: 2.0)))(x)
    assert "cond" in str(jaxpr) and "select_n" not in str(jaxpr)


def _schedule(state):
    bodies = stack_bodies(state)
    manifold = detect_contacts(state, bodies, PARAMS, ST)
    cons = prepare_contacts(manifold, bodies, 1)
    table, k = colour_schedule(cons, ST)
    return table, k, manifold.active.any(-1), manifold.body_a, manifold.body_b, bodies.inverse_mass > 0


def test_one_colouring_for_the_batch_colours_every_scene(batches):
    """Under vmap the colouring is one table for all scenes; in every scene each touching pair
    appears exactly once in the colours in use, and no colour holds a moving body twice."""
    for batch in batches:
        table, k, live, ia, ib, moving = (np.asarray(x) for x in jax.jit(jax.vmap(_schedule))(batch))
        assert (table == table[:1]).all() and (k == k[:1]).all()  # one colouring for the batch
        table, k, m = table[0], int(k[0]), live.shape[1]
        used = table[:k][table[:k] < m]
        assert (table[k:] == m).all()
        np.testing.assert_array_equal(np.sort(used), np.flatnonzero(live.any(0)))  # the union, once each
        assert live.sum(1).max() >= 7 and live.any(0).sum() >= 12 and k >= 3  # contact-heavy piles
        for b in range(BATCH):
            for colour in table[:k]:
                pairs = colour[colour < m]
                bodies = np.concatenate([ia[b, pairs], ib[b, pairs]])
                mov = bodies[moving[b, bodies]]
                assert len(np.unique(mov)) == len(mov), (b, colour)


def test_a_batch_of_copies_steps_like_one_scene(batches):
    """Copies of one scene: the shared colouring is that scene's, so the batch steps as it does alone."""
    one = row(batches[0], 0)
    copies = stack([one] * 3)
    alone = jax.jit(lambda s: jax2d.rollout(s, PARAMS, ST, None, 30)[0])(one)
    batched = jax.jit(jax.vmap(lambda s: jax2d.rollout(s, PARAMS, ST, None, 30)[0]))(copies)
    for i in range(3):
        # batched and single code paths round differently (vectorised maths), see test_jax2d_scene
        assert max_diff(row(batched, i), alone) < 1e-4


@pytest.fixture(scope="module")
def one_step_differences(batches):
    """Per scene, the largest |position| (m) and |velocity| (m/s) difference after one step between
    the batch stepped with the shared colouring and the scene stepped alone with each layout."""
    one = lambda st: jax.jit(lambda s: jax2d.step(s, PARAMS, st))  # noqa: E731
    alone = {k: one(dataclasses.replace(ST, solver_layout=k)) for k in ("active", "rounds", "colours")}
    batched = jax.jit(jax.vmap(lambda s: jax2d.step(s, PARAMS, ST)))
    out = {k: [] for k in alone}
    for batch in batches:
        together = batched(batch)
        for b in range(BATCH):
            ours = row(together, b)
            for k, f in alone.items():
                ref = f(row(batch, b))
                out[k].append([max(float(np.abs(np.asarray(getattr(getattr(ours, kind), field))
                                                - np.asarray(getattr(getattr(ref, kind), field))).max())
                                   for kind in ("polygon", "circle")) for field in ("position", "velocity")])
    return {k: np.array(v) for k, v in out.items()}


@pytest.mark.parametrize("layout", ["active", "rounds", "colours"])
def test_batched_colours_agree_with_every_layout_on_its_own(one_step_differences, layout):
    """A batch of different piles stepped with the shared colouring against each pile stepped
    alone: Gauss-Seidel in another order (the union's colours), so close, not equal. One step of
    these bouncing piles (restitution up to 0.9) moves a position by at most 0.8 mm against
    "rounds" (per-scene colours against "rounds": 1.3 mm) and a velocity by 0.035 m/s on average
    (per-scene colours: 0.009 m/s); a wrong colouring (a body twice in a colour) loses updates."""
    d = one_step_differences[layout]
    assert d[:, 0].max() < 3e-3 and d[:, 1].mean() < 0.1, (d.max(0), d.mean(0))
