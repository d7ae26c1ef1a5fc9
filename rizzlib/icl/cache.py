"""Prefix KV caching for scoring and greedy generation with a Hugging Face causal LM.

The demonstration block (n tokens) is encoded once; each query (k tokens) then attends to the cached
keys/values, so a query costs a prefill of k tokens instead of n + k. The functions here take
``cached=False`` to run the same computation on the full sequence, which is what the tests compare
against. Batched queries of different lengths are right-padded: the prefix positions stay where
they were cached, each row's logits are read at its own real tokens, and generation runs one
batch per query length so every row's next position is the same.

Works with the transformers 4.x (``past_key_values``) and 5.x (``cache``) forward signatures; the
prefix cache is never modified (copies are extended and dropped), and
:func:`crop_cache` restores an extended cache to its prefix length in place.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
from collections.abc import Sequence

import torch

from rizzlib.core.validate import check_int_range, check_range


@functools.lru_cache(maxsize=64)
def _cache_kwarg_of(forward) -> str:
    params = inspect.signature(forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def cache_kwarg(model) -> str:
    """The name of the KV-cache argument of ``model.forward``: ``cache`` (5.x) or ``past_key_values`` (4.x)."""
    return _cache_kwarg_of(type(model).forward)


def output_cache(out):
    """The cache returned by a forward pass (``out.cache`` in 5.x, ``out.past_key_values`` in 4.x)."""
    for name in ("cache", "past_key_values"):
        value = getattr(out, name, None)
        if value is not None:
            return value
    raise ValueError("the model returned no KV cache; call it with use_cache=True")


def new_cache(model):
    """An empty ``DynamicCache`` for ``model`` (the constructor's arguments changed between versions)."""
    from transformers import DynamicCache

    params = inspect.signature(DynamicCache.__init__).parameters
    return DynamicCache(config=model.config) if "config" in params else DynamicCache()


def cache_length(cache) -> int:
    """Number of tokens held by ``cache``."""
    return int(cache.get_seq_length())


def crop_cache(cache, length: int) -> None:
    """Drop tokens from the end of ``cache`` in place until it holds ``length`` tokens.

    ``crop`` takes a negative count of tokens to drop in both 4.x (``max_length < 0``) and 5.x
    (``tokens_to_remove``), so that is what is passed.
    """
    n = cache_length(cache)
    check_int_range("length", length, 0, n)
    if n > length:
        cache.crop(length - n)
    if cache_length(cache) != length:
        raise RuntimeError(f"crop left {cache_length(cache)} tokens, expected {length}")


@dataclasses.dataclass
class PrefixCache:
    """A cached demonstration block: the KV cache, its ids and the logits after its last token."""

    cache: object
    ids: tuple[int, ...]
    last_logits: torch.Tensor  # (V,)

    @property
    def length(self) -> int:
        return len(self.ids)


def _device(model) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def encode_prefix(model, prefix_ids: Sequence[int]) -> PrefixCache:
    """Run the prefix once and keep its KV cache (``len(prefix_ids) >= 1``)."""
    check_int_range("len(prefix_ids)", len(prefix_ids), 1, None)
    ids = torch.tensor([list(prefix_ids)], device=_device(model))
    kw = {cache_kwarg(model): new_cache(model)}
    out = model(input_ids=ids, use_cache=True, **kw)
    return PrefixCache(output_cache(out), tuple(int(i) for i in prefix_ids), out.logits[0, -1].float())


def _pad(rows: Sequence[Sequence[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long, device=device)
    mask = torch.zeros((len(rows), width), dtype=torch.long, device=device)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(list(r), dtype=torch.long)
        mask[i, : len(r)] = 1
    return ids, mask


def _batched_cache(prefix: PrefixCache, batch: int):
    cache = copy.deepcopy(prefix.cache)
    if batch > 1:
        cache.batch_repeat_interleave(batch)
    return cache


@torch.no_grad()
def query_logits(
    model,
    prefix: PrefixCache | Sequence[int],
    queries: Sequence[Sequence[int]],
    cached: bool = True,
    batch_size: int = 64,
) -> list[torch.Tensor]:
    """Next-token logits after every query token, for each query appended to the prefix.

    Args:
        prefix: a :class:`PrefixCache` (or the prefix ids; with ``cached=False`` only the ids are used).
        queries: token ids of each query (each non-empty).
        cached: reuse the prefix cache (True) or run prefix + query from scratch (False).

    Returns:
        One float32 tensor of shape (len(query), V) per query: row j is the distribution of the
        token after query[j].
    """
    if not queries or any(len(q) == 0 for q in queries):
        raise ValueError("queries must be a non-empty list of non-empty id lists")
    check_int_range("batch_size", batch_size, 1, None)
    if cached and not isinstance(prefix, PrefixCache):
        prefix = encode_prefix(model, prefix)
    prefix_ids = list(prefix.ids) if isinstance(prefix, PrefixCache) else list(prefix)
    device, kw_name = _device(model), cache_kwarg(model)
    pad = 0
    results: list[torch.Tensor] = []
    for start in range(0, len(queries), batch_size):
        chunk = [list(q) for q in queries[start : start + batch_size]]
        if cached:
            ids, mask = _pad(chunk, pad, device)
            p = prefix.length
            full_mask = torch.cat([torch.ones((len(chunk), p), dtype=torch.long, device=device), mask], dim=1)
            pos = torch.arange(p, p + ids.shape[1], device=device).expand(len(chunk), -1)
            kw = {kw_name: _batched_cache(prefix, len(chunk))}
            logits = model(input_ids=ids, attention_mask=full_mask, position_ids=pos, use_cache=True, **kw).logits
            results += [logits[i, : len(q)].float() for i, q in enumerate(chunk)]
        else:
            ids, mask = _pad([prefix_ids + q for q in chunk], pad, device)
            logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
            p = len(prefix_ids)
            results += [logits[i, p : p + len(q)].float() for i, q in enumerate(chunk)]
    return results


@torch.no_grad()
def continuation_logprobs(
    model,
    prefix: PrefixCache | Sequence[int],
    queries: Sequence[Sequence[int]],
    continuations: Sequence[Sequence[int]],
    cached: bool = True,
    batch_size: int = 64,
) -> torch.Tensor:
    """Sum of log p(continuation | prefix + query) per pair: the likelihood scorer. Shape (len(queries),)."""
    if len(queries) != len(continuations):
        raise ValueError(f"queries and continuations must have the same length; got {len(queries)} and {len(continuations)}")
    if any(len(c) == 0 for c in continuations):
        raise ValueError("every continuation must hold at least one token")
    joined = [list(q) + list(c) for q, c in zip(queries, continuations)]
    logits = query_logits(model, prefix, joined, cached=cached, batch_size=batch_size)
    out = []
    for lg, q, c in zip(logits, queries, continuations):
        lp = torch.log_softmax(lg[len(q) - 1 : len(q) - 1 + len(c)], dim=-1)
        out.append(lp.gather(1, torch.tensor(list(c), device=lp.device)[:, None]).sum())
    return torch.stack(out)


@torch.no_grad()
def greedy_generate(
    model,
    prefix: PrefixCache | Sequence[int],
    queries: Sequence[Sequence[int]],
    max_new_tokens: int,
    stop_ids: Sequence[int] = (),
    cached: bool = True,
    batch_size: int = 64,
    temperature: float = 0.0,
    generator: torch.Generator | None = None,
) -> list[list[int]]:
    """Greedy continuation of prefix + query for every query (stops after a stop id or ``max_new_tokens``).

    With ``temperature > 0`` the next token is sampled from softmax(logits / temperature) with
    ``generator`` (required then) instead of taken greedily.

    Queries are grouped by length so each batch shares one position per step. With ``cached=True``
    the prefix cache is copied once per batch and extended there; with ``cached=False`` every step
    runs the whole sequence again (the reference the cached path must equal).

    Returns:
        The generated ids of each query, the stop id included when one was produced.
    """
    check_int_range("max_new_tokens", max_new_tokens, 1, None)
    check_int_range("batch_size", batch_size, 1, None)
    check_range("temperature", temperature, 0.0, None)
    if temperature > 0 and generator is None:
        raise ValueError("sampling (temperature > 0) needs a torch.Generator in generator")
    if not queries or any(len(q) == 0 for q in queries):
        raise ValueError("queries must be a non-empty list of non-empty id lists")
    if cached and not isinstance(prefix, PrefixCache):
        prefix = encode_prefix(model, prefix)
    prefix_ids = list(prefix.ids) if isinstance(prefix, PrefixCache) else list(prefix)
    device, kw_name = _device(model), cache_kwarg(model)
    stops = torch.tensor(sorted(set(int(s) for s in stop_ids)) or [-1], device=device)
    out: list[list[int]] = [[] for _ in queries]
    groups: dict[int, list[int]] = {}
    for i, q in enumerate(queries):
        groups.setdefault(len(q), []).append(i)
    for _, members in sorted(groups.items()):
        for start in range(0, len(members), batch_size):
            rows = members[start : start + batch_size]
            seq = torch.tensor([list(prefix_ids) + list(queries[i]) for i in rows], device=device)
            done = torch.zeros(len(rows), dtype=torch.bool, device=device)
            if cached:
                kw = {kw_name: _batched_cache(prefix, len(rows))}
                step_ids = seq[:, len(prefix_ids) :]
            for _ in range(max_new_tokens):
                if cached:
                    p = seq.shape[1] - step_ids.shape[1]
                    pos = torch.arange(p, seq.shape[1], device=device).expand(len(rows), -1)
                    res = model(input_ids=step_ids, position_ids=pos, use_cache=True, **kw)
                    kw = {kw_name: output_cache(res)}
                else:
                    res = model(input_ids=seq, use_cache=False)
                last = res.logits[:, -1].float()
                if temperature > 0:
                    probs = torch.softmax(last / temperature, dim=-1).cpu()
                    nxt = torch.multinomial(probs, 1, generator=generator)[:, 0].to(device)
                else:
                    nxt = last.argmax(-1)
                for j, i in enumerate(rows):
                    if not done[j]:
                        out[i].append(int(nxt[j]))
                done |= torch.isin(nxt, stops)
                if bool(done.all()):
                    break
                seq = torch.cat([seq, nxt[:, None]], dim=1)
                step_ids = nxt[:, None]
    return out


def kv_bytes(config, n_tokens: int, batch: int = 1, bytes_per_value: int = 4) -> int:
    """Memory of a KV cache: 2 x layers x kv_heads x head_dim x bytes x tokens x batch."""
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return 2 * config.num_hidden_layers * heads * head_dim * bytes_per_value * n_tokens * batch
