"""Many-shot prompts that fill an exact token budget for a given tokenizer.

A prompt is ``prefix + query``: the prefix (BOS, chat-template opening, task header, demonstrations)
is the same for every query when the demonstrations are fixed, so it can be KV-cached
(:mod:`rizzlib.icl.cache`); the query part (the query input, the chat-template closing) follows it.
Every segment is tokenised **separately** and the ids are concatenated, so the cached prefix ids
never change with the query (no BPE merge across a boundary), and the budget is counted in tokens.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from rizzlib.core.validate import check_int_range
from rizzlib.icl.tasks import TASK_TOKENS, Example

_SENTINEL = "\x00RIZZLIB_SPLIT\x00"


@dataclasses.dataclass(frozen=True)
class Template:
    """How a task is written out.

    Attributes:
        header: task instruction at the top of the prompt (inside the cached prefix).
        demo: one demonstration, with ``{x}`` and ``{y}``; include its trailing separator.
        query: the query, with ``{x}``; the model continues after it.
        stop: text that ends an answer (generation is cut at its first occurrence).
        chat: wrap ``header + demos + query`` as one user turn with ``tokenizer.apply_chat_template``.
    """

    header: str
    demo: str = "{x} → {y} ; "
    query: str = "{x} →"
    stop: str = ";"
    chat: bool = False

    def render_demo(self, ex: Example) -> str:
        return self.demo.format(x=ex.x, y=ex.y)

    def render_query(self, x: str) -> str:
        return self.query.format(x=x)

    def parse_answer(self, text: str) -> str:
        """The answer in generated ``text``: everything before the first ``stop``, stripped."""
        return text.split(self.stop, 1)[0].strip()


def synthetic_template(task_name: str) -> Template:
    """The template of a synthetic task: ``<task> x1 → y1 ; x2 → y2 ; ... xq →``."""
    return Template(header=TASK_TOKENS[task_name] + " ")


@dataclasses.dataclass(frozen=True)
class Prompt:
    """Token ids of one prompt.

    Attributes:
        prefix_ids: BOS + chat opening + header + demonstrations (cacheable when demos are fixed).
        query_ids: query input + chat closing.
        n_demos: how many demonstrations fit (the first ``n_demos`` of those offered).
        demo_lengths: tokens of each included demonstration.
    """

    prefix_ids: tuple[int, ...]
    query_ids: tuple[int, ...]
    n_demos: int
    demo_lengths: tuple[int, ...]

    @property
    def ids(self) -> list[int]:
        return list(self.prefix_ids) + list(self.query_ids)

    def __len__(self) -> int:
        return len(self.prefix_ids) + len(self.query_ids)


def _encode(tokenizer, text: str) -> list[int]:
    return list(tokenizer.encode(text, add_special_tokens=False)) if text else []


def _chat_parts(tokenizer) -> tuple[str, str]:
    """(opening, closing) of the chat template around one user turn, generation prompt included."""
    if getattr(tokenizer, "chat_template", None) is None:
        raise ValueError("template.chat is True but the tokenizer has no chat_template")
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": _SENTINEL}], tokenize=False, add_generation_prompt=True
    )
    if text.count(_SENTINEL) != 1:
        raise ValueError("the tokenizer's chat_template must render the user message exactly once")
    opening, closing = text.split(_SENTINEL)
    return opening, closing


def fixed_parts(tokenizer, template: Template, query_x: str, add_bos: bool = True) -> tuple[list[int], list[int]]:
    """(prefix ids before the demos, query ids) of a prompt: the parts that do not depend on k."""
    if template.chat:
        opening, closing = _chat_parts(tokenizer)
        head = _encode(tokenizer, opening) + _encode(tokenizer, template.header)
        tail = _encode(tokenizer, template.render_query(query_x)) + _encode(tokenizer, closing)
    else:
        bos = [tokenizer.bos_token_id] if add_bos and tokenizer.bos_token_id is not None else []
        head = bos + _encode(tokenizer, template.header)
        tail = _encode(tokenizer, template.render_query(query_x))
    return head, tail


def build_prompt(
    tokenizer,
    template: Template,
    demos: Sequence[Example],
    query_x: str,
    budget: int,
    reserve: int = 0,
    add_bos: bool = True,
) -> Prompt:
    """Fill ``budget - reserve`` tokens with the header, as many of ``demos`` as fit, and the query.

    Demonstrations are taken in the order given and stop at the first one that would overflow, so
    the result never exceeds the budget, and adding the next demo would. ``reserve`` keeps room for
    the answer to be generated.

    Raises:
        ValueError: the budget cannot hold the header and query (say how many tokens they need).
    """
    check_int_range("budget", budget, 1, None)
    check_int_range("reserve", reserve, 0, budget - 1)
    head, tail = fixed_parts(tokenizer, template, query_x, add_bos)
    room = budget - reserve - len(head) - len(tail)
    if room < 0:
        raise ValueError(
            f"budget must be at least {len(head) + len(tail) + reserve} tokens (header {len(head)} + "
            f"query {len(tail)} + reserve {reserve}); got {budget}"
        )
    body: list[int] = []
    lengths: list[int] = []
    for ex in demos:
        ids = _encode(tokenizer, template.render_demo(ex))
        if len(ids) > room:
            break
        body += ids
        lengths.append(len(ids))
        room -= len(ids)
    return Prompt(tuple(head + body), tuple(tail), len(lengths), tuple(lengths))


def build_prefix(tokenizer, template: Template, demos: Sequence[Example], add_bos: bool = True) -> list[int]:
    """The prefix ids with *all* ``demos`` (no budget): the cacheable block of a fixed demo set."""
    head, _ = fixed_parts(tokenizer, template, "", add_bos)
    ids = list(head)
    for ex in demos:
        ids += _encode(tokenizer, template.render_demo(ex))
    return ids


def build_query(tokenizer, template: Template, query_x: str) -> list[int]:
    """The query ids that follow a prefix (query text + chat closing)."""
    return fixed_parts(tokenizer, template, query_x, add_bos=False)[1]


def render_text(tokenizer, template: Template, demos: Sequence[Example], query_x: str) -> str:
    """The prompt as text (what the ids of :func:`build_prompt` decode to), without BOS."""
    body = template.header + "".join(template.render_demo(ex) for ex in demos) + template.render_query(query_x)
    if template.chat:
        opening, closing = _chat_parts(tokenizer)
        return opening + body + closing
    return body
