"""Budgeted prompt builder: exact budget, separate tokenisation, chat templates."""

from __future__ import annotations

import numpy as np
import pytest

from rizzlib.icl.prompt import (
    Template,
    build_prefix,
    build_prompt,
    build_query,
    render_text,
    synthetic_template,
)
from rizzlib.icl.tasks import Example, get_task, make_tokenizer, sample_episode
from rizzlib.icl.toy import bpe_tokenizer

TOK = make_tokenizer()


@pytest.mark.parametrize("seed", range(20))
def test_prompt_fills_the_budget_exactly_and_never_exceeds_it(seed):
    rng = np.random.default_rng(seed)
    name = ["cipher", "keycls", "arith"][seed % 3]
    ep = sample_episode(get_task(name), rng, n_pool=80, n_queries=1)
    budget, reserve = int(rng.integers(20, 400)), int(rng.integers(0, 6))
    t = synthetic_template(name)
    p = build_prompt(TOK, t, ep.pool, ep.queries[0].x, budget, reserve)
    assert len(p) <= budget - reserve
    if p.n_demos < len(ep.pool):  # the next demo would not have fitted
        nxt = len(TOK.encode(t.render_demo(ep.pool[p.n_demos]), add_special_tokens=False))
        assert len(p) + nxt > budget - reserve
    # ids = concatenation of the separately tokenised segments
    assert p.ids == build_prefix(TOK, t, ep.pool[: p.n_demos]) + build_query(TOK, t, ep.queries[0].x)
    assert p.prefix_ids[0] == TOK.bos_token_id and list(p.prefix_ids).count(TOK.bos_token_id) == 1
    text = TOK.decode(p.ids[1:])
    assert text.split() == render_text(TOK, t, ep.pool[: p.n_demos], ep.queries[0].x).split()


def test_prompt_uses_every_demo_when_the_budget_allows():
    demos = [Example("a b", "A B")] * 5
    p = build_prompt(TOK, synthetic_template("cipher"), demos, "a", budget=1000)
    assert p.n_demos == 5 and p.demo_lengths == (6,) * 5


def test_budget_smaller_than_header_and_query_is_a_clear_error():
    with pytest.raises(ValueError, match="budget must be at least 5 tokens"):
        build_prompt(TOK, synthetic_template("cipher"), [], "a b", budget=4)
    with pytest.raises(ValueError, match="reserve must be in"):
        build_prompt(TOK, synthetic_template("cipher"), [], "a b", budget=10, reserve=10)


@pytest.mark.parametrize("seed", range(5))
def test_bpe_chat_prompt_is_separately_tokenised_and_decodes_to_the_rendering(seed):
    tok = bpe_tokenizer()
    t = Template(header="Translate.\n\n", demo="<SRC>: {x}\n<TGT>: {y}\n\n", query="<SRC>: {x}\n<TGT>:", stop="\n", chat=True)
    rng = np.random.default_rng(seed)
    words = ["the cat", "a dog runs", "rain", "blue sky today", "we eat"]
    demos = [Example(words[int(i)], words[int(j)].upper()) for i, j in rng.integers(0, 5, size=(12, 2))]
    budget = int(rng.integers(60, 200))
    p = build_prompt(tok, t, demos, "the dog", budget)
    assert len(p) <= budget
    assert tok.decode(p.ids) == render_text(tok, t, demos[: p.n_demos], "the dog")
    opening = tok.apply_chat_template([{"role": "user", "content": "X"}], tokenize=False, add_generation_prompt=True).split("X")[0]
    assert tok.decode(list(p.prefix_ids)).startswith(opening)
    assert tok.decode(list(p.query_ids)).endswith("<|assistant|>\n")


def test_chat_without_a_template_is_a_clear_error():
    with pytest.raises(ValueError, match="no chat_template"):
        build_prompt(TOK, Template(header="", chat=True), [], "a", budget=50)


def test_answer_parsing_cuts_at_the_stop():
    t = synthetic_template("cipher")
    assert t.parse_answer(" A B ; C D ;") == "A B"
    assert t.parse_answer(" A B") == "A B"
