"""Context inflation (Baek et al. Fig. 8): repeated vs distinct demos at the same share of the window."""

from __future__ import annotations

import numpy as np
import pytest

from rizzlib.icl.experiments import INFLATION_CONDITIONS, run_inflation
from rizzlib.icl.prompt import build_prompt, synthetic_template
from rizzlib.icl.tasks import get_task, make_tokenizer, sample_episode
from rizzlib.icl.toy import tiny_llama

pytestmark = pytest.mark.usefixtures("torch_one_thread")
FRACTIONS = (0.1, 0.2, 0.5, 1.0)


@pytest.fixture(scope="module", params=["cipher", "keycls", "arith"])
def result(request):
    return request.param, run_inflation(request.param, FRACTIONS, window=256, n_distinct=6, seeds=3, n_queries=8, seed=4)


def test_lengths_match_between_conditions_and_grow_with_the_window_share(result):
    _, res = result
    assert res.n_demos.shape == (len(INFLATION_CONDITIONS), len(FRACTIONS), 3)
    assert np.all(np.diff(res.n_demos, axis=1) >= 0)
    # both conditions fill the same token budget, and demos of one task have similar lengths
    assert np.all(np.abs(res.n_demos[0] - res.n_demos[1]) <= 0.25 * res.n_demos[1] + 1)
    assert res.n_demos[:, -1].min() > res.n_distinct  # the full window needs repeats


def test_conditions_coincide_until_the_pool_runs_out_and_repeats_add_nothing_for_the_ideal_learner(result):
    name, res = result
    same = res.n_demos[0] <= res.n_distinct
    np.testing.assert_array_equal(res.ideal[0][same], res.ideal[1][same])
    # once every distinct demo is in, repeating them cannot change a noise-free ideal learner
    for s in range(3):
        full = res.ideal[0, res.n_demos[0, :, s] >= res.n_distinct, s]
        assert np.all(full == full[0]), name


@pytest.mark.parametrize("name", ["cipher", "keycls"])
def test_the_prompt_fits_the_share_of_the_window(name):
    tok = make_tokenizer()
    res = run_inflation(name, FRACTIONS, window=256, n_distinct=6, seeds=2, n_queries=4, seed=1)
    for s in range(2):
        ep = sample_episode(get_task(name), np.random.default_rng([1, s]), n_pool=256 // 4 + 6, n_queries=4)
        for fi, f in enumerate(FRACTIONS):
            n = int(res.n_demos[1, fi, s])
            for q in ep.queries:
                p = build_prompt(tok, synthetic_template(name), ep.pool[:n], q.x, budget=10_000)
                assert len(p) + 6 <= int(f * 256) or n == 0


def test_with_a_model_and_errors():
    tok = make_tokenizer()
    res = run_inflation("keycls", (0.25, 1.0), window=128, n_distinct=4, seeds=2, n_queries=3, model=tiny_llama(len(tok)), tokenizer=tok)
    assert res.model.shape == (2, 2, 2) and np.all((res.model >= 0) & (res.model <= 1))
    with pytest.raises(ValueError, match="fractions"):
        run_inflation("keycls", (0.0, 1.0), seeds=2)
    with pytest.raises(ValueError, match="fractions"):
        run_inflation("keycls", (1.5,), seeds=2)
    with pytest.raises(ValueError, match="n_distinct"):
        run_inflation("keycls", n_distinct=0, seeds=2)
