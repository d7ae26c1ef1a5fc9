"""The order ablation (Baek et al. Table 3): orders are permutations of one set, curriculum order is
sorted, the ideal learner is order-invariant on noise-free tasks, and the paired test flags only real
differences."""

from __future__ import annotations

import numpy as np
import pytest

from rizzlib.icl.embed import normalize_rows
from rizzlib.icl.experiments import ORDER_CONDITIONS, paired_order_test, run_order
from rizzlib.icl.ideal import ideal_predict
from rizzlib.icl.select import ORDERS, Pool, order_demos, select_random
from rizzlib.icl.tasks import Example, get_task, sample_episode
from rizzlib.icl.toy import tiny_llama

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def pool_with_ties(seed, n=30, d=6):
    rng = np.random.default_rng(seed)
    return (
        Pool(tuple(Example(f"x{i}", f"y{i}") for i in range(n)), normalize_rows(rng.normal(size=(n, d))), rng.integers(0, 3, n).astype(float)),
        normalize_rows(rng.normal(size=(1, d)))[0],
    )


@pytest.mark.parametrize("seed", range(10))
def test_curriculum_orders_sort_by_difficulty_stably(seed):
    pool, q = pool_with_ties(seed)
    idx = select_random(pool, q, 15, np.random.default_rng(seed))
    for order, sign in (("easy_to_hard", 1), ("hard_to_easy", -1)):
        got = order_demos(idx, pool, q, order, np.random.default_rng(0))
        # brute force: stable sort of the selection by (sign * difficulty, position in the selection)
        want = [idx[j] for j in sorted(range(len(idx)), key=lambda j: (sign * pool.difficulty[idx[j]], j))]
        assert got.tolist() == [int(i) for i in want]


@pytest.mark.parametrize("order", ORDERS)
def test_every_order_is_a_permutation_of_the_selection(order):
    pool, q = pool_with_ties(1)
    idx = select_random(pool, q, 12, np.random.default_rng(2))
    got = order_demos(idx, pool, q, order, np.random.default_rng(3))
    assert sorted(got.tolist()) == sorted(idx.tolist())
    np.testing.assert_array_equal(got, order_demos(idx, pool, q, order, np.random.default_rng(3)))


@pytest.mark.parametrize("task_name", ["cipher", "keycls", "arith"])
@pytest.mark.parametrize("seed", range(5))
def test_ideal_learner_ignores_order_without_noise(task_name, seed):
    task = get_task(task_name)
    ep = sample_episode(task, np.random.default_rng(seed), n_pool=40, n_queries=20)
    xs = [q.x for q in ep.queries]
    rng = np.random.default_rng(seed + 100)
    base = ideal_predict(task_name, ep.pool, xs)
    for _ in range(5):
        perm = [ep.pool[i] for i in rng.permutation(len(ep.pool))]
        assert ideal_predict(task_name, perm, xs) == base


def test_run_order_shapes_invariance_and_errors():
    res = run_order("cipher", shots=(2, 8), seeds=3, n_pool=40, n_queries=4, seed=1)
    assert res.ideal.shape == (len(ORDER_CONDITIONS), 2, 3) and res.model is None
    # the same demonstrations in every order: the noise-free ideal learner scores identically
    assert np.all(res.ideal == res.ideal[:1])
    assert np.all((res.ideal >= 0) & (res.ideal <= 1))
    again = run_order("cipher", shots=(2, 8), seeds=3, n_pool=40, n_queries=4, seed=1)
    np.testing.assert_array_equal(res.ideal, again.ideal)
    with pytest.raises(ValueError, match="orders must be among"):
        run_order("cipher", orders=("sideways",), seeds=2)
    with pytest.raises(ValueError, match="set_method must be among"):
        run_order("cipher", set_method="best", seeds=2)
    with pytest.raises(ValueError, match="orders must name at least one"):
        run_order("cipher", orders=(), seeds=2)
    with pytest.raises(ValueError, match="k must be in"):
        run_order("cipher", shots=(50,), n_pool=40, seeds=2)


def test_run_order_with_a_model_uses_the_same_set_for_every_order():
    from rizzlib.icl.tasks import make_tokenizer

    tok = make_tokenizer()
    model = tiny_llama(len(tok), seed=0)
    res = run_order("keycls", shots=(3,), seeds=2, n_pool=20, n_queries=3, set_method="random", model=model, tokenizer=tok)
    assert res.model.shape == (len(ORDER_CONDITIONS), 1, 2)
    assert np.all((res.model >= 0) & (res.model <= 1))


@pytest.mark.parametrize("seed", range(10))
def test_paired_order_test_flags_shifts_not_identical_runs(seed):
    rng = np.random.default_rng(seed)
    base = rng.random((2, 10))
    scores = np.stack([base, base.copy(), base + 0.2 + 0.01 * rng.random((2, 10)), base + 0.01 * rng.normal(size=(2, 10))])
    flags = paired_order_test(scores, ("random", "same", "shifted", "jitter"))
    assert flags["same"] == [False, False]
    assert flags["shifted"] == [True, True]
    down = paired_order_test(np.stack([base, base - 0.3]), ("random", "worse"))
    assert down["worse"] == [True, True]  # two-sided: a loss is a difference too
    with pytest.raises(ValueError, match="baseline"):
        paired_order_test(scores, ("a", "b", "c", "d"))
    with pytest.raises(ValueError, match="scores must have shape"):
        paired_order_test(scores[0], ("random",))
