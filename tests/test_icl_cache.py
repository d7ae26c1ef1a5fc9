"""Prefix KV caching: cached == uncached logits and greedy generations; the cache keeps its length."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from rizzlib.icl.cache import (
    cache_kwarg,
    cache_length,
    continuation_logprobs,
    crop_cache,
    encode_prefix,
    greedy_generate,
    kv_bytes,
    output_cache,
    query_logits,
)
from rizzlib.icl.toy import tiny_llama

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def model():
    return tiny_llama(vocab_size=65, seed=1)


def random_ids(rng, n, vocab=65):
    return [int(v) for v in rng.integers(4, vocab, size=n)]


@pytest.mark.parametrize("seed", range(4))
def test_cached_logits_equal_uncached_and_the_cache_keeps_its_length(model, seed):
    rng = np.random.default_rng(seed)
    prefix_ids = random_ids(rng, int(rng.integers(5, 120)))
    queries = [random_ids(rng, int(rng.integers(1, 9))) for _ in range(7)]
    prefix = encode_prefix(model, prefix_ids)
    cached = query_logits(model, prefix, queries, batch_size=3)
    assert cache_length(prefix.cache) == len(prefix_ids)
    uncached = query_logits(model, prefix_ids, queries, cached=False)
    for q, a, b in zip(queries, cached, uncached):
        assert a.shape == b.shape == (len(q), 65)
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    # one query at a time, unbatched, against the plain full forward
    for q, a in zip(queries, cached):
        with torch.no_grad():
            full = model(input_ids=torch.tensor([prefix_ids + q])).logits[0, len(prefix_ids) :]
        torch.testing.assert_close(a, full.float(), atol=1e-4, rtol=1e-4)
        assert cache_length(prefix.cache) == len(prefix_ids)


@pytest.mark.parametrize("seed", range(4))
def test_cached_greedy_generation_equals_uncached(model, seed):
    rng = np.random.default_rng(100 + seed)
    prefix_ids = random_ids(rng, 60)
    queries = [random_ids(rng, int(rng.integers(1, 5))) for _ in range(6)]
    prefix = encode_prefix(model, prefix_ids)
    stop = [int(rng.integers(4, 65))]
    a = greedy_generate(model, prefix, queries, 7, stop_ids=stop, batch_size=4)
    assert cache_length(prefix.cache) == len(prefix_ids)
    b = greedy_generate(model, prefix_ids, queries, 7, stop_ids=stop, cached=False)
    assert a == b
    for out in a:
        assert 1 <= len(out) <= 7 and all(t not in stop for t in out[:-1])


def test_hf_generate_with_a_copied_prefix_cache_matches_and_leaves_it_intact(model):
    rng = np.random.default_rng(7)
    prefix_ids, q = random_ids(rng, 40), random_ids(rng, 3)
    prefix = encode_prefix(model, prefix_ids)
    full = torch.tensor([prefix_ids + q])
    kw = {cache_kwarg(model): copy.deepcopy(prefix.cache)}
    with_cache = model.generate(full, max_new_tokens=6, do_sample=False, pad_token_id=0, **kw)
    without = model.generate(full, max_new_tokens=6, do_sample=False, pad_token_id=0)
    assert with_cache.tolist() == without.tolist()
    assert cache_length(prefix.cache) == len(prefix_ids)
    ours = greedy_generate(model, prefix, [q], 6)
    assert ours[0] == with_cache[0, full.shape[1] :].tolist()


def test_crop_restores_an_extended_cache_in_place(model):
    rng = np.random.default_rng(3)
    prefix_ids, q = random_ids(rng, 30), random_ids(rng, 5)
    prefix = encode_prefix(model, prefix_ids)
    cache = copy.deepcopy(prefix.cache)
    out = model(input_ids=torch.tensor([q]), use_cache=True, **{cache_kwarg(model): cache})
    cache = output_cache(out)
    assert cache_length(cache) == 35
    crop_cache(cache, 30)
    assert cache_length(cache) == 30
    again = model(input_ids=torch.tensor([q]), use_cache=True, **{cache_kwarg(model): cache}).logits
    torch.testing.assert_close(again, out.logits)
    with pytest.raises(ValueError, match="length must be in"):
        crop_cache(cache, 99)


def test_continuation_logprobs_match_a_hand_computation(model):
    rng = np.random.default_rng(5)
    prefix_ids = random_ids(rng, 20)
    qs, cs = [random_ids(rng, 3), random_ids(rng, 1)], [random_ids(rng, 2), random_ids(rng, 3)]
    got = continuation_logprobs(model, encode_prefix(model, prefix_ids), qs, cs)
    for g, q, c in zip(got, qs, cs):
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([prefix_ids + q + c])).logits[0].log_softmax(-1)
        start = len(prefix_ids) + len(q)
        want = sum(logits[start - 1 + j, t] for j, t in enumerate(c))
        assert float(g) == pytest.approx(float(want), abs=1e-4)
    uncached = continuation_logprobs(model, prefix_ids, qs, cs, cached=False)
    torch.testing.assert_close(got, uncached, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="same length"):
        continuation_logprobs(model, prefix_ids, qs, cs[:1])


def test_sampling_is_deterministic_under_a_generator_and_needs_one(model):
    prefix = encode_prefix(model, [5, 6, 7, 8])
    a = greedy_generate(model, prefix, [[9]] * 4, 5, temperature=1.0, generator=torch.Generator().manual_seed(0))
    b = greedy_generate(model, prefix, [[9]] * 4, 5, temperature=1.0, generator=torch.Generator().manual_seed(0))
    assert a == b
    with pytest.raises(ValueError, match="torch.Generator"):
        greedy_generate(model, prefix, [[9]], 5, temperature=1.0)
    with pytest.raises(ValueError, match="queries must be"):
        greedy_generate(model, prefix, [[]], 5)


def test_kv_bytes_formula(model):
    cfg = model.config
    assert kv_bytes(cfg, 100) == 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * (cfg.hidden_size // cfg.num_attention_heads) * 4 * 100
    prefix = encode_prefix(model, list(range(4, 54)))
    layer = prefix.cache.layers[0] if hasattr(prefix.cache, "layers") else None
    if layer is not None:
        total = sum(lay.keys.numel() + lay.values.numel() for lay in prefix.cache.layers) * 4
        assert total == kv_bytes(cfg, 50)


def test_time_scoring_reports_both_paths_and_the_predicted_ratio(model):
    from rizzlib.icl.speed import synthetic_prompt_ids, time_scoring
    from rizzlib.icl.tasks import make_tokenizer

    prefix, qs = synthetic_prompt_ids(make_tokenizer(), "keycls", 16, 3, seed=0)
    assert len(prefix) == 2 + 16 * 7 and all(len(q) == 5 for q in qs)
    t = time_scoring(model, prefix, qs, 16, repeats=1)
    assert t.prefix_tokens == len(prefix) and t.n_queries == 3 and t.query_tokens == 5
    assert t.predicted == pytest.approx((len(prefix) + 5) / 5)
    assert min(t.cached_s, t.uncached_s, t.prefix_s, t.copy_s) > 0 and t.speedup == t.uncached_s / t.cached_s


def test_cache_shim_reads_the_4x_and_5x_signatures_and_outputs(model):
    from types import SimpleNamespace

    from rizzlib.icl.cache import new_cache

    class Forward4x(torch.nn.Module):  # transformers 4.x: the cache travels as past_key_values
        def forward(self, input_ids, attention_mask=None, past_key_values=None, use_cache=None):
            return None

    class Forward5x(torch.nn.Module):  # transformers 5.x: it travels as cache
        def forward(self, input_ids, attention_mask=None, cache=None, use_cache=None, **kwargs):
            return None

    assert cache_kwarg(Forward4x()) == "past_key_values" and cache_kwarg(Forward5x()) == "cache"
    marker = object()
    assert output_cache(SimpleNamespace(past_key_values=marker)) is marker  # 4.x output
    assert output_cache(SimpleNamespace(cache=marker, past_key_values=None)) is marker  # 5.x output
    with pytest.raises(ValueError, match="use_cache=True"):
        output_cache(SimpleNamespace(cache=None, past_key_values=None))
    fresh = new_cache(model)
    assert cache_length(fresh) == 0
    out = model(input_ids=torch.tensor([[5, 6, 7]]), use_cache=True, **{cache_kwarg(model): fresh})
    assert cache_length(output_cache(out)) == 3


def test_crop_passes_a_negative_drop_count_as_both_cache_apis_expect():
    class Crop4x:  # DynamicCache.crop(max_length) of 4.x: a negative length drops that many tokens
        def __init__(self, n):
            self.n = n

        def get_seq_length(self):
            return self.n

        def crop(self, max_length):
            self.n = self.n + max_length if max_length < 0 else min(self.n, max_length)

    class Crop5x(Crop4x):  # 5.x: crop(tokens_to_remove) with a negative count
        def crop(self, tokens_to_remove):
            if tokens_to_remove >= 0:
                raise AssertionError("5.x crop needs a negative count")
            self.n += tokens_to_remove

    for kind in (Crop4x, Crop5x):
        c = kind(12)
        crop_cache(c, 7)
        assert c.n == 7
        crop_cache(c, 7)  # already at the length: nothing to drop
        assert c.n == 7
        with pytest.raises(ValueError, match="length must be in"):
            crop_cache(c, -1)
