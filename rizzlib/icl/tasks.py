"""Synthetic in-context tasks whose rule is redrawn every episode, so it can only be read off the demos.

Three families (spec §5a), written as whitespace-separated symbols over one small vocabulary:

* ``cipher`` (stands in for low-resource translation): a per-episode bijection from 10 source
  symbols ``a..j`` to 10 target symbols ``A..J``; x is a word of 2-4 source symbols drawn with
  Zipf-like frequencies (so some symbols are rare), y the word mapped symbol by symbol.
* ``keycls`` (classification with abstract labels): 12 keys ``k0..k11``, each mapped per episode to
  one of 4 labels drawn from 8 label symbols ``L0..L7``; x is one key among 3 distractors ``d*``
  in random order, y the key's label.
* ``arith`` (reasoning stand-in): x = two digits a b, y = (a + b + c) mod 10 with a per-episode
  offset c.

An :class:`Episode` holds the latent rule, a pool of demonstrations and held-out queries drawn from
the same rule. ``task.is_correct(example, episode)`` is the ground truth (used to measure filters);
``task.is_well_formed(example)`` is the check an augmentation pipeline may use without the truth.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from rizzlib.core.validate import check_choice, check_int_range

SPECIAL = ("<pad>", "<unk>", "<bos>", "<eos>", "→", ";")
TASK_TOKENS = {"cipher": "<cipher>", "keycls": "<keycls>", "arith": "<arith>"}
SRC = tuple("abcdefghij")
TGT = tuple("ABCDEFGHIJ")
KEYS = tuple(f"k{i}" for i in range(12))
DISTRACTORS = tuple(f"d{i}" for i in range(6))
LABELS = tuple(f"L{i}" for i in range(8))
DIGITS = tuple(str(i) for i in range(10))
VOCAB: tuple[str, ...] = SPECIAL + tuple(TASK_TOKENS.values()) + SRC + TGT + KEYS + DISTRACTORS + LABELS + DIGITS
"""Every token of the synthetic tasks, in id order (id = position)."""
TASK_NAMES = tuple(TASK_TOKENS)


@dataclasses.dataclass(frozen=True)
class Example:
    """One demonstration or query: input text ``x`` and output text ``y`` (symbols joined by spaces)."""

    x: str
    y: str


@dataclasses.dataclass(frozen=True)
class Episode:
    """A latent rule with a pool of demonstrations and queries drawn from it.

    ``latent`` is task specific: the cipher's map (dict src -> tgt), the key -> label dict, or the
    arithmetic offset (int).
    """

    task: str
    latent: object
    pool: tuple[Example, ...]
    queries: tuple[Example, ...]


def make_tokenizer():
    """A word-level ``PreTrainedTokenizerFast`` over :data:`VOCAB` (whitespace split, no merges).

    It adds no special tokens by itself; the prompt builder puts ``<bos>`` in the prefix. Any
    word outside the vocabulary maps to ``<unk>``.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(VOCAB)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins words with single spaces
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>"
    )


def _zipf(n: int) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1)
    return w / w.sum()


class CipherTask:
    """Per-episode symbol substitution cipher (see the module docstring)."""

    name = "cipher"
    metric = "chrf"

    def __init__(self, min_len: int = 2, max_len: int = 4, zipf: bool = True):
        check_int_range("min_len", min_len, 1, 8)
        check_int_range("max_len", max_len, min_len, 8)
        self.min_len, self.max_len, self.zipf = min_len, max_len, bool(zipf)

    def sample_latent(self, rng: np.random.Generator) -> dict:
        perm = rng.permutation(len(TGT))
        freq_order = rng.permutation(len(SRC))  # which source symbols are frequent this episode
        probs = np.empty(len(SRC))
        probs[freq_order] = _zipf(len(SRC)) if self.zipf else np.full(len(SRC), 1 / len(SRC))
        return {"map": {s: TGT[p] for s, p in zip(SRC, perm)}, "probs": tuple(float(v) for v in probs)}

    def sample_example(self, latent: dict, rng: np.random.Generator) -> Example:
        n = int(rng.integers(self.min_len, self.max_len + 1))
        xs = [SRC[i] for i in rng.choice(len(SRC), size=n, p=latent["probs"])]
        return Example(" ".join(xs), " ".join(latent["map"][s] for s in xs))

    def answer(self, x: str, latent: dict) -> str:
        return " ".join(latent["map"][s] for s in x.split())

    def is_well_formed(self, ex: Example) -> bool:
        xs, ys = ex.x.split(), ex.y.split()
        return (
            self.min_len <= len(xs) <= self.max_len
            and len(ys) == len(xs)
            and all(s in SRC for s in xs)
            and all(t in TGT for t in ys)
        )

    def difficulty(self, pool: Sequence[Example]) -> np.ndarray:
        """Length + number of rare symbols (those in the pool's rarest half), per pool example."""
        counts = {s: 0 for s in SRC}
        for ex in pool:
            for s in ex.x.split():
                counts[s] += 1
        rare = set(sorted(SRC, key=lambda s: (counts[s], s))[: len(SRC) // 2])
        return np.array([len(ex.x.split()) + sum(s in rare for s in ex.x.split()) for ex in pool], dtype=np.float64)

    def symbols(self, x: str) -> set[str]:
        """The symbols of ``x`` a demonstration must contain for the query to be fully covered."""
        return set(x.split())


class KeyClassTask:
    """Key-token classification with abstract labels (see the module docstring)."""

    name = "keycls"
    metric = "accuracy"

    def __init__(self, n_classes: int = 4, n_distractors: int = 3):
        check_int_range("n_classes", n_classes, 2, len(LABELS))
        check_int_range("n_distractors", n_distractors, 0, len(DISTRACTORS))
        self.n_classes, self.n_distractors = n_classes, n_distractors

    def sample_latent(self, rng: np.random.Generator) -> dict:
        labels = [LABELS[i] for i in rng.choice(len(LABELS), size=self.n_classes, replace=False)]
        return {"map": {k: labels[int(rng.integers(self.n_classes))] for k in KEYS}, "labels": labels}

    def sample_example(self, latent: dict, rng: np.random.Generator) -> Example:
        key = KEYS[int(rng.integers(len(KEYS)))]
        toks = [key] + [DISTRACTORS[i] for i in rng.integers(len(DISTRACTORS), size=self.n_distractors)]
        toks = [toks[i] for i in rng.permutation(len(toks))]
        return Example(" ".join(toks), latent["map"][key])

    @staticmethod
    def key_of(x: str) -> str | None:
        keys = [t for t in x.split() if t in KEYS]
        return keys[0] if len(keys) == 1 else None

    def answer(self, x: str, latent: dict) -> str:
        return latent["map"][self.key_of(x)]

    def is_well_formed(self, ex: Example) -> bool:
        xs = ex.x.split()
        return (
            len(xs) == 1 + self.n_distractors
            and self.key_of(ex.x) is not None
            and all(t in KEYS or t in DISTRACTORS for t in xs)
            and ex.y in LABELS
        )

    def difficulty(self, pool: Sequence[Example]) -> np.ndarray:
        """How rare the example's key is in the pool: 1 / count (a lone key is hardest)."""
        counts: dict[str, int] = {}
        for ex in pool:
            counts[self.key_of(ex.x)] = counts.get(self.key_of(ex.x), 0) + 1
        return np.array([1.0 / counts[self.key_of(ex.x)] for ex in pool])

    def symbols(self, x: str) -> set[str]:
        return {self.key_of(x)}


class OffsetArithTask:
    """y = (a + b + c) mod 10 with a per-episode offset c (see the module docstring).

    Args:
        n_terms: input digits summed (2: ``a b``; 1: ``a`` alone, y = (a + c) mod 10).
        n_offsets: c is drawn uniformly from ``0 .. n_offsets - 1`` per episode (1: c is always 0,
            so the rule is plain addition and can be learned in the weights).
    """

    name = "arith"
    metric = "accuracy"

    def __init__(self, n_terms: int = 2, n_offsets: int = 10):
        check_int_range("n_terms", n_terms, 1, 8)
        check_int_range("n_offsets", n_offsets, 1, 10)
        self.n_terms, self.n_offsets = n_terms, n_offsets

    def sample_latent(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.n_offsets))

    def sample_example(self, latent: int, rng: np.random.Generator) -> Example:
        digits = [int(v) for v in rng.integers(10, size=self.n_terms)]
        return Example(" ".join(map(str, digits)), str((sum(digits) + latent) % 10))

    def answer(self, x: str, latent: int) -> str:
        return str((sum(int(t) for t in x.split()) + latent) % 10)

    def is_well_formed(self, ex: Example) -> bool:
        xs = ex.x.split()
        return len(xs) == self.n_terms and all(t in DIGITS for t in xs) and ex.y in DIGITS

    def difficulty(self, pool: Sequence[Example]) -> np.ndarray:
        """Whether adding the input digits carries (0 or 1): the intrinsic difficulty of the sum."""
        return np.array([float(sum(int(t) for t in ex.x.split()) >= 10) for ex in pool])

    def symbols(self, x: str) -> set[str]:
        return set()


TASKS = {"cipher": CipherTask, "keycls": KeyClassTask, "arith": OffsetArithTask}


def get_task(name: str):
    """A task object by name (``cipher``, ``keycls`` or ``arith``) with its default settings."""
    check_choice("task", name, TASK_NAMES)
    return TASKS[name]()


def is_correct(task, ex: Example, episode: Episode) -> bool:
    """True when ``ex.y`` is the right output for ``ex.x`` under the episode's latent rule."""
    if not task.is_well_formed(ex):
        return False
    return task.answer(ex.x, episode.latent) == ex.y


def sample_episode(task, rng: np.random.Generator, n_pool: int = 256, n_queries: int = 32) -> Episode:
    """Draw a latent rule, then ``n_pool`` demonstrations and ``n_queries`` queries from it."""
    check_int_range("n_pool", n_pool, 1, None)
    check_int_range("n_queries", n_queries, 0, None)
    latent = task.sample_latent(rng)
    pool = tuple(task.sample_example(latent, rng) for _ in range(n_pool))
    queries = tuple(task.sample_example(latent, rng) for _ in range(n_queries))
    return Episode(task.name, latent, pool, queries)


def chance_accuracy(task_name: str) -> float:
    """Exact-match accuracy of guessing uniformly among well-formed outputs without demos."""
    check_choice("task", task_name, TASK_NAMES)
    cipher = float(np.mean([10.0**-n for n in range(CipherTask().min_len, CipherTask().max_len + 1)]))
    return {"cipher": cipher, "keycls": 1.0 / len(LABELS), "arith": 0.1}[task_name]
