"""Baek et al.'s Table 2 methods: IDS rounds and vote, Auto-ICL's self-labelled context, run_table2."""

from __future__ import annotations

import numpy as np
import pytest

from rizzlib.icl.embed import SymbolEmbedder
from rizzlib.icl.ideal import ideal_predict
from rizzlib.icl.select import make_pool, select_random
from rizzlib.icl.table2 import (
    IDS,
    PAPER_TABLE2,
    TABLE2_METHODS,
    AutoICL,
    ideal_learner,
    make_demo_pool,
    run_table2,
    vote_latest,
)
from rizzlib.icl.tasks import VOCAB, Example, get_task, sample_episode

pytestmark = pytest.mark.usefixtures("torch_one_thread")
EMB = SymbolEmbedder(VOCAB)


def test_vote_latest_is_the_majority_and_breaks_ties_towards_the_last_answer():
    assert vote_latest(["a", "b", "a"]) == "a"
    assert vote_latest(["a", "b"]) == "b"
    assert vote_latest(["b", "a", "a", "b"]) == "b"
    assert vote_latest(["c"]) == "c"
    with pytest.raises(ValueError, match="answers must hold"):
        vote_latest([])


class Recorder:
    """A stub learner: answers with the output of the last demo (the zero-shot answer is ``A``)."""

    def __init__(self):
        self.calls = []

    def __call__(self, demos, xs):
        self.calls.append((list(demos), list(xs)))
        return [demos[-1].y if demos else "A" for _ in xs]


def brute_nearest(texts, key_text, k):
    """Indices of the k texts most similar to key_text (ties: lower index), least similar first."""
    E, q = EMB.encode(texts).astype(np.float64), EMB.encode([key_text])[0].astype(np.float64)
    sims = E @ q
    top = sorted(range(len(texts)), key=lambda i: (-sims[i], i))[:k]
    return sorted(top, key=lambda i: (sims[i], top.index(i)))  # ties keep the selection order


@pytest.mark.parametrize("seed", range(5))
def test_ids_retrieves_by_query_plus_previous_answer_and_votes(seed):
    ep = sample_episode(get_task("cipher"), np.random.default_rng(seed), n_pool=40, n_queries=1)
    x = ep.queries[0].x
    demo_pool = make_demo_pool(ep.pool, EMB)
    learner = Recorder()
    answer, rounds = IDS(learner, EMB, iterations=3).run(demo_pool, x, 5, np.random.default_rng(0))
    assert learner.calls[0] == ([], [x])  # zero-shot first
    assert len(rounds) == 3 and len(learner.calls) == 4
    texts = [f"{e.x} {e.y}" for e in ep.pool]
    prev, answers = "A", []
    for t, idx in enumerate(rounds):
        assert idx.tolist() == brute_nearest(texts, f"{x} {prev}", 5)
        assert learner.calls[t + 1] == ([ep.pool[i] for i in idx], [x])
        prev = ep.pool[idx[-1]].y
        answers.append(prev)
    assert answer == vote_latest(answers)
    with pytest.raises(ValueError, match="iterations must be in"):
        IDS(learner, EMB, iterations=0)
    with pytest.raises(ValueError, match="k must be in"):
        IDS(learner, EMB).run(demo_pool, x, 41, np.random.default_rng(0))


@pytest.mark.parametrize("seed", range(5))
def test_auto_icl_shows_the_nearest_inputs_with_the_learners_own_labels(seed):
    ep = sample_episode(get_task("keycls"), np.random.default_rng(seed), n_pool=30, n_queries=1)
    pool = make_pool(ep.pool, EMB)
    q_emb = EMB.encode([ep.queries[0].x])[0]
    block = select_random(pool, q_emb, 6, np.random.default_rng(seed))
    seen = []

    def learner(demos, xs):
        seen.append(list(demos))
        return [f"L{len(x)}" for x in xs]  # never a gold label copied from a demo

    auto = AutoICL(learner)
    labels = auto.self_labels(pool, block)
    assert seen[0] == [ep.pool[i] for i in block] and len(labels) == 30
    ctx = auto.context(pool, labels, q_emb, 6, np.random.default_rng(0))
    want = brute_nearest([e.x for e in ep.pool], ep.queries[0].x, 6)
    assert [c.x for c in ctx] == [ep.pool[i].x for i in want]
    assert [c.y for c in ctx] == [f"L{len(ep.pool[i].x)}" for i in want]
    with pytest.raises(ValueError, match="labels must hold one label per pool example"):
        auto.context(pool, labels[:-1], q_emb, 6, np.random.default_rng(0))


@pytest.mark.parametrize("task", ["cipher", "keycls"])
def test_every_method_scores_like_random_when_k_is_the_whole_pool(task):
    # k = pool size: every method shows the whole pool (Auto-ICL's self labels are then exact for
    # the ideal learner), and the ideal learner ignores order, so all four score the same
    r = run_table2(task, shots=(2, 24), seeds=3, n_pool=24, n_queries=8, seed=5)
    assert r.methods == TABLE2_METHODS and r.ideal.shape == (4, 2, 3) and r.model is None
    np.testing.assert_allclose(r.ideal[:, 1], np.broadcast_to(r.ideal[0, 1], (4, 3)))
    assert np.all((r.ideal >= 0) & (r.ideal <= 1))


def test_random_column_is_the_ideal_learner_on_one_fixed_block():
    r = run_table2("keycls", shots=(3,), seeds=2, n_pool=20, n_queries=10, seed=7)
    again = run_table2("keycls", shots=(3,), seeds=2, n_pool=20, n_queries=10, seed=7)
    np.testing.assert_array_equal(r.ideal, again.ideal)
    task = get_task("keycls")
    for s in range(2):
        ep = sample_episode(task, np.random.default_rng([7, s]), n_pool=20, n_queries=10)
        pool = make_pool(ep.pool, EMB, task.difficulty(ep.pool))
        block = select_random(pool, EMB.encode([ep.queries[0].x])[0], 3, np.random.default_rng([7, s, 0]))
        preds = ideal_predict("keycls", [ep.pool[i] for i in block], [q.x for q in ep.queries])
        assert r.ideal[0, 0, s] == pytest.approx(np.mean([p == q.y for p, q in zip(preds, ep.queries)]))


def test_run_table2_rejects_bad_input():
    with pytest.raises(ValueError, match="shots\\[i\\] must be in"):
        run_table2("cipher", shots=(30,), seeds=2, n_pool=20)
    with pytest.raises(ValueError, match="seeds must be in"):
        run_table2("cipher", shots=(3,), seeds=0, n_pool=20)
    with pytest.raises(ValueError, match="task_name must be one of"):
        ideal_learner("sorting")


def test_run_table2_runs_the_lm_path_on_a_tiny_model():
    from rizzlib.icl.model import ModelConfig, build_model
    from rizzlib.icl.tasks import make_tokenizer

    model = build_model(ModelConfig(hidden=32, layers=1, heads=2, mlp=64, max_positions=512), seed=0).eval()
    r = run_table2("keycls", shots=(2,), seeds=2, n_pool=12, n_queries=3, model=model, tokenizer=make_tokenizer(), seed=1)
    assert r.model.shape == r.ideal.shape == (4, 1, 2)
    assert np.all(np.isfinite(r.model)) and np.all((r.model >= 0) & (r.model <= 1))


def test_paper_table2_holds_the_four_methods_per_task_type():
    assert set(PAPER_TABLE2) == {"translation", "summarization", "reasoning", "classification"}
    assert all(list(v) == list(TABLE2_METHODS) for v in PAPER_TABLE2.values())
    assert PAPER_TABLE2["reasoning"]["auto_icl"] == 0.629 and PAPER_TABLE2["translation"]["iccl"] == 0.553


def test_demo_pool_embeds_inputs_with_outputs_and_rejects_an_empty_pool():
    demos = [Example("a b", "A B"), Example("c", "C")]
    np.testing.assert_allclose(make_demo_pool(demos, EMB).embeddings, EMB.encode(["a b A B", "c C"]))
    with pytest.raises(ValueError, match="empty pool"):
        make_demo_pool([], EMB)


def test_run_selection_takes_iccl_which_shows_relevances_set_in_its_own_order():
    from rizzlib.icl.experiments import prompt_order, run_selection

    r = run_selection("cipher", ("relevance", "iccl"), shots=(1, 4), seeds=2, n_pool=30, n_queries=6, seed=2)
    np.testing.assert_array_equal(r.ideal[0], r.ideal[1])  # same set; the ideal learner ignores order
    np.testing.assert_array_equal(r.coverage[0], r.coverage[1])
    assert prompt_order("iccl") == "as_selected" and prompt_order("relevance") == "ascending_sim"
    with pytest.raises(ValueError, match="methods must be among"):
        run_selection("cipher", ("ids",), shots=(1,), seeds=1, n_pool=10, n_queries=2)
