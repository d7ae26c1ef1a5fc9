"""Generate-then-filter augmentation (Baek et al. §4): the LM writes new demonstrations, a judge
scores them, and those scoring at least a threshold join the originals.

* :func:`generate_candidates`: each candidate comes from one LM call whose context holds randomly
  chosen real demos; the model continues with one new demonstration (sampled at ``temperature``),
  which is parsed back; unparseable, duplicate and copied-from-the-pool generations are dropped.
* Judges: :class:`LikertJudge` (an instruct LM rates 1-5; the score is the expectation of the
  rating under the next-token probabilities of the tokens "1".."5", averaged over judgements with
  fresh references) and :class:`LogProbJudge` (mean log-probability of y' given x' after real demos:
  the analogue a model with no instructions can give).
* :func:`filter_mask`: keep ``score >= tau`` (tau = median by default; ties at tau are all kept).
* :func:`augment`: originals + kept candidates, no duplicates, nothing identical to an original.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence

import numpy as np
import torch

from rizzlib.core.validate import check_int_range, check_range
from rizzlib.icl.cache import continuation_logprobs, encode_prefix, greedy_generate, query_logits
from rizzlib.icl.prompt import Template, build_prefix, build_query
from rizzlib.icl.tasks import Example


def demo_pattern(template: Template) -> re.Pattern:
    """A regex matching one rendered demonstration of ``template`` (groups ``x`` and ``y``)."""
    fmt = " ".join(template.demo.split())
    head, rest = fmt.split("{x}", 1)
    mid, tail = rest.split("{y}", 1)
    esc = [r"\s*".join(re.escape(w) for w in part.split()) if part.strip() else "" for part in (head, mid, tail)]
    return re.compile(r"^\s*" + esc[0] + r"\s*(?P<x>.+?)\s*" + esc[1] + r"\s*(?P<y>.+?)\s*" + esc[2] + r"\s*$", re.S)


def parse_demo(template: Template, text: str) -> Example | None:
    """The example written in ``text`` (one rendered demo), or None when it does not parse."""
    m = demo_pattern(template).match(text)
    if not m or not m.group("x").strip() or not m.group("y").strip():
        return None
    return Example(" ".join(m.group("x").split()), " ".join(m.group("y").split()))


@dataclasses.dataclass(frozen=True)
class Generated:
    """Candidates and the bookkeeping of what was dropped."""

    candidates: tuple[Example, ...]
    n_calls: int
    n_unparseable: int
    n_duplicate: int
    n_copied: int


def generate_candidates(
    model,
    tokenizer,
    template: Template,
    pool: Sequence[Example],
    n: int,
    rng: np.random.Generator,
    n_demos: int = 32,
    temperature: float = 1.0,
    max_new_tokens: int = 16,
    max_calls: int | None = None,
    check: Callable[[Example], bool] | None = None,
    inputs: Sequence[str] | None = None,
) -> Generated:
    """Sample up to ``n`` new demonstrations, each from one call with ``n_demos`` random real demos.

    Without ``inputs`` the model continues the demo block from scratch (a whole new ``x → y ;``,
    what an instruct model does from the paper's generator prompt). With ``inputs`` (fresh x's, for
    a model trained to write answers only, like the chapter's small Llama) it writes the output
    y' after each ``x' →``. Calls stop once ``n`` distinct candidates were kept or after
    ``max_calls`` (default 3n). ``check`` (optional) is a task check applied before a candidate is
    kept (failures count as unparseable).
    """
    check_int_range("n", n, 1, None)
    check_int_range("n_demos", n_demos, 1, len(pool))
    check_range("temperature", temperature, 0.0, None, low_inclusive=False)
    max_calls = 3 * n if max_calls is None else check_int_range("max_calls", max_calls, 1, None)
    originals = set(pool)
    kept: list[Example] = []
    seen: set[Example] = set()
    unparseable = duplicate = copied = calls = 0
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    stop = tokenizer.encode(template.stop, add_special_tokens=False)
    next_input = 0
    while len(kept) < n and calls < max_calls:
        batch = min(n - len(kept), max_calls - calls, 16)
        if inputs is not None:
            batch = min(batch, len(inputs) - next_input)
            if batch <= 0:
                break
        demos = [pool[i] for i in rng.choice(len(pool), size=n_demos, replace=False)]
        prefix_ids = build_prefix(tokenizer, template, demos)
        if inputs is None:
            prefix = encode_prefix(model, prefix_ids[:-1])
            queries, heads = [[prefix_ids[-1]]] * batch, [""] * batch
        else:
            prefix = encode_prefix(model, prefix_ids)
            xs = list(inputs[next_input : next_input + batch])
            next_input += batch
            queries = [build_query(tokenizer, template, x) for x in xs]
            heads = [template.render_query(x) + " " for x in xs]
        outs = greedy_generate(model, prefix, queries, max_new_tokens, stop_ids=stop[-1:], temperature=temperature, generator=gen)
        calls += batch
        for head, o in zip(heads, outs):
            ex = parse_demo(template, head + tokenizer.decode(o, skip_special_tokens=True))
            if ex is None or (check is not None and not check(ex)):
                unparseable += 1
            elif ex in originals:
                copied += 1
            elif ex in seen:
                duplicate += 1
            else:
                seen.add(ex)
                kept.append(ex)
    return Generated(tuple(kept), calls, unparseable, duplicate, copied)


def likert_expectation(logits: torch.Tensor, rating_ids: Sequence[int]) -> torch.Tensor:
    """E[s] = sum_s s p(s) with p the softmax of ``logits[..., rating_ids]`` over s = 1..len(rating_ids).

    ``logits``: (..., V) next-token logits at the rating slot; returns shape (...).
    """
    ids = list(rating_ids)
    if len(ids) < 2 or len(set(ids)) != len(ids):
        raise ValueError(f"rating_ids must list at least 2 distinct token ids; got {ids}")
    p = torch.softmax(logits[..., ids].float(), dim=-1)
    return (p * torch.arange(1, len(ids) + 1, dtype=p.dtype, device=p.device)).sum(-1)


def rating_token_ids(tokenizer, scale: int = 5) -> list[int]:
    """Token ids of "1".."scale", each required to be a single token (tries the space-prefixed form too)."""
    ids = []
    for s in range(1, scale + 1):
        for text in (str(s), " " + str(s)):
            t = tokenizer.encode(text, add_special_tokens=False)
            if len(t) == 1:
                ids.append(t[0])
                break
        else:
            raise ValueError(f"the rating {s} is not a single token for this tokenizer")
    return ids


JUDGE_HEADER = (
    "You are a data-quality expert. Here are original examples of a task:\n\n"
)
JUDGE_QUESTION = (
    "\nRate how well this new example follows the pattern, format and correctness of the originals, "
    "from 1 (poor) to 5 (excellent). Answer with a single number.\n\nNew example:\n{demo}\nRating:"
)


class LikertJudge:
    """An LM rates each candidate 1-5 after ``n_refs`` real examples; the score is the expected rating.

    Each of ``n_judgements`` judgements draws fresh references (the paper: 30 judgements with 30
    references; whether the 30 prompts differ is not stated, here they do).
    """

    def __init__(self, model, tokenizer, template: Template, n_judgements: int = 30, n_refs: int = 30):
        self.model, self.tokenizer, self.template = model, tokenizer, template
        self.n_judgements = check_int_range("n_judgements", n_judgements, 1, None)
        self.n_refs = check_int_range("n_refs", n_refs, 1, None)
        self.rating_ids = rating_token_ids(tokenizer)

    def score(self, candidates: Sequence[Example], references: Sequence[Example], rng: np.random.Generator) -> np.ndarray:
        check_int_range("n_refs", self.n_refs, 1, len(references))
        judge = dataclasses.replace(self.template, header=JUDGE_HEADER)
        totals = np.zeros(len(candidates))
        for _ in range(self.n_judgements):
            refs = [references[i] for i in rng.choice(len(references), size=self.n_refs, replace=False)]
            prefix = encode_prefix(self.model, build_prefix(self.tokenizer, judge, refs))
            qs = [
                self.tokenizer.encode(JUDGE_QUESTION.format(demo=self.template.render_demo(c).strip()), add_special_tokens=False)
                for c in candidates
            ]
            last = torch.stack([lg[-1] for lg in query_logits(self.model, prefix, qs)])
            totals += likert_expectation(last, self.rating_ids).cpu().numpy()
        return totals / self.n_judgements


class LogProbJudge:
    """Mean per-token log p(y' ; | x') after ``n_refs`` real demos, averaged over ``n_judgements`` contexts."""

    def __init__(self, model, tokenizer, template: Template, n_judgements: int = 3, n_refs: int = 30):
        self.model, self.tokenizer, self.template = model, tokenizer, template
        self.n_judgements = check_int_range("n_judgements", n_judgements, 1, None)
        self.n_refs = check_int_range("n_refs", n_refs, 1, None)

    def score(self, candidates: Sequence[Example], references: Sequence[Example], rng: np.random.Generator) -> np.ndarray:
        check_int_range("n_refs", self.n_refs, 1, len(references))
        tok, t = self.tokenizer, self.template
        qs = [build_query(tok, t, c.x) for c in candidates]
        conts = [tok.encode(f" {c.y} {t.stop}", add_special_tokens=False) for c in candidates]
        totals = np.zeros(len(candidates))
        for _ in range(self.n_judgements):
            refs = [references[i] for i in rng.choice(len(references), size=self.n_refs, replace=False)]
            prefix = encode_prefix(self.model, build_prefix(tok, t, refs))
            lp = continuation_logprobs(self.model, prefix, qs, conts).cpu().numpy()
            totals += lp / np.array([len(c) for c in conts])
        return totals / self.n_judgements


def filter_mask(scores: np.ndarray, tau: float | None = None) -> np.ndarray:
    """Boolean mask of ``scores >= tau``; ``tau`` defaults to the median (ties at tau are all kept)."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"scores must be a non-empty 1-d array; got shape {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite")
    t = float(np.median(s)) if tau is None else float(check_range("tau", tau))
    return s >= t


def augment(originals: Sequence[Example], candidates: Sequence[Example], keep: np.ndarray | None = None) -> list[Example]:
    """All originals, then the kept candidates that are neither originals nor repeats, in order."""
    if keep is None:
        keep = np.ones(len(candidates), dtype=bool)
    keep = np.asarray(keep, dtype=bool)
    if keep.shape != (len(candidates),):
        raise ValueError(f"keep must have shape ({len(candidates)},); got {keep.shape}")
    out = list(dict.fromkeys(originals))
    seen = set(out)
    for c, k in zip(candidates, keep):
        if k and c not in seen:
            seen.add(c)
            out.append(c)
    return out


def precision_recall(kept: np.ndarray, correct: np.ndarray) -> tuple[float, float]:
    """Precision (correct among kept) and recall (kept among correct) of a filter; NaN when undefined."""
    kept, correct = np.asarray(kept, dtype=bool), np.asarray(correct, dtype=bool)
    if kept.shape != correct.shape:
        raise ValueError(f"kept and correct must have the same shape; got {kept.shape} and {correct.shape}")
    tp = float(np.sum(kept & correct))
    prec = tp / kept.sum() if kept.sum() else float("nan")
    rec = tp / correct.sum() if correct.sum() else float("nan")
    return prec, rec
