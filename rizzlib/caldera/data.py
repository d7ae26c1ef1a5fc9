"""Offline text for the chapter: the local Python standard library's ``.py`` files, split by file.

Every machine with Python has this corpus, so nothing is downloaded. Files are listed by sorted
relative path and assigned to ``train`` / ``calib`` / ``test`` by a seeded hash of the path, so the
split is the same on every machine with the same Python version. Tokens are bytes (vocabulary 256).
"""

from __future__ import annotations

import dataclasses
import hashlib
import sysconfig
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from rizzlib.core.validate import check_int_range, check_range

SPLITS = ("train", "calib", "test")


@dataclasses.dataclass(frozen=True)
class Corpus:
    """Byte strings of the three splits plus the file lists that made them."""

    train: bytes
    calib: bytes
    test: bytes
    files: dict[str, tuple[str, ...]]

    def digest(self, split: str) -> str:
        """sha256 (first 16 hex digits) of one split's bytes; checkpoints record it."""
        return hashlib.sha256(getattr(self, split)).hexdigest()[:16]


def split_of(relpath: str, seed: int = 0, calib_pct: int = 5, test_pct: int = 5) -> str:
    """The split a file goes to: a seeded hash of its relative path, in percent buckets."""
    h = int(hashlib.sha256(f"{seed}:{relpath}".encode()).hexdigest()[:8], 16) % 100
    if h < test_pct:
        return "test"
    if h < test_pct + calib_pct:
        return "calib"
    return "train"


@lru_cache(maxsize=4)
def stdlib_corpus(seed: int = 0, root: str | None = None) -> Corpus:
    """Read every ``.py`` file under the standard library (no site-packages), split by file.

    Args:
        seed: salts the hash that assigns files to splits.
        root: the folder to read (default: this interpreter's stdlib).
    """
    check_int_range("seed", seed, 0, None)
    base = Path(root or sysconfig.get_paths()["stdlib"])
    if not base.is_dir():
        raise ValueError(f"root must be an existing folder; got {str(base)!r}")
    parts: dict[str, list[bytes]] = {s: [] for s in SPLITS}
    names: dict[str, list[str]] = {s: [] for s in SPLITS}
    paths = sorted(p for p in base.rglob("*.py") if "site-packages" not in p.parts and "__pycache__" not in p.parts)
    for p in paths:
        rel = p.relative_to(base).as_posix()
        try:
            data = p.read_bytes()
        except OSError:
            continue
        s = split_of(rel, seed)
        parts[s].append(data)
        names[s].append(rel)
    if not parts["train"] or not parts["test"]:
        raise ValueError(f"root {str(base)!r} holds too few .py files to split")
    return Corpus(*(b"\n".join(parts[s]) for s in SPLITS), files={s: tuple(names[s]) for s in SPLITS})


def to_tokens(text: bytes) -> torch.Tensor:
    """Bytes -> int64 tensor of token ids in [0, 256)."""
    return torch.from_numpy(np.frombuffer(text, dtype=np.uint8).astype(np.int64))


def windows(tokens: torch.Tensor, ctx: int, n: int | None = None) -> torch.Tensor:
    """The first ``n`` non-overlapping windows of ``ctx`` tokens, shape (n, ctx)."""
    check_int_range("ctx", ctx, 2, None)
    total = tokens.numel() // ctx
    if n is None:
        n = total
    check_int_range("n", n, 1, total)
    return tokens[: n * ctx].view(n, ctx)


def random_windows(tokens: torch.Tensor, ctx: int, batch: int, gen: torch.Generator) -> torch.Tensor:
    """``batch`` windows of ``ctx`` tokens starting at random offsets, shape (batch, ctx)."""
    starts = torch.randint(0, tokens.numel() - ctx, (batch,), generator=gen)
    return torch.stack([tokens[s : s + ctx] for s in starts.tolist()])


@torch.no_grad()
def perplexity(model: torch.nn.Module, seqs: torch.Tensor, batch: int = 16) -> float:
    """exp(mean next-token NLL) over windows ``seqs`` (n, ctx); per byte for our byte-level LM.

    The mean is over all predicted tokens (every window has the same length, so this equals the
    mean over windows of each window's mean NLL, the spec's §3.4 rule).
    """
    check_int_range("batch", batch, 1, None)
    model.eval()
    total, count = 0.0, 0
    for i in range(0, seqs.shape[0], batch):
        x = seqs[i : i + batch]
        logits = model(input_ids=x).logits[:, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1), reduction="sum")
        total += float(nll)
        count += x[:, 1:].numel()
    return float(np.exp(total / count))


def bits_per_byte(ppl: float) -> float:
    """log2 of a per-byte perplexity."""
    check_range("ppl", ppl, 1.0, None)
    return float(np.log2(ppl))
