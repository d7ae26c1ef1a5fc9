"""Token sequences for maze tasks: vocabularies, encode/decode, and padded torch batches.

**DFS mazes** use maze-dataset's ``AOTP_UT_rasterized`` format with the ``<-->`` connector removed
(as in the MLM-U code). A cell is one token ``(r,c)``::

    <ADJLIST_START> (a) (b) ; ... <ADJLIST_END> <ORIGIN_START> (o) <ORIGIN_END>
    <TARGET_START> (t) <TARGET_END> <PATH_START> (o) ... (t) <PATH_END>

Edges are shuffled and each edge's ends randomly swapped once per sample. The prompt (up to and
including ``<PATH_START>``) has ``3 n^2 + 6`` tokens; the whole sequence ``3 n^2 + 7 + L`` for a path
of ``L`` cells.

**A\\* mazes** use the Searchformer prompt/plan tokens inside the MLM-U layout::

    [BOS] start x y goal x y wall x y ... [EOS] <PATH_START> [BOS] plan x y ... plan x y [EOS]

with ``x`` = column, ``y`` = row as separate digit tokens ``"0".."n-1"`` and walls sorted by
row-major index; ``11 + 3 W + 3 L`` tokens for ``W`` walls. (Searchformer's lower-case
``bos``/``eos``/``pad`` are spelled ``[BOS]``/``[EOS]``/``[PAD]`` here; trace tokens are left out.)

The **answer** is every position after ``<PATH_START>`` up to and including the end token; the rest
is the prompt. Ids: special tokens first (``[PAD]`` = 0), then structural tokens, then cells in
row-major order (the official code sorts strings instead; any fixed order is equivalent). A
vocabulary built for grid side ``G`` covers every maze with ``n <= G``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

import numpy as np
import torch

from rizzlib.core.validate import check_choice, check_int_range
from rizzlib.mazes.generate import (
    KINDS,
    Maze,
    MazeBatch,
    check_size,
    edges_to_connections,
    make_maze,
)

PAD, MASK, BOS, EOS, UNK = "[PAD]", "[MASK]", "[BOS]", "[EOS]", "[UNK]"
SPECIAL_TOKENS = (PAD, MASK, BOS, EOS, UNK)
ADJLIST_START, ADJLIST_END = "<ADJLIST_START>", "<ADJLIST_END>"
ORIGIN_START, ORIGIN_END = "<ORIGIN_START>", "<ORIGIN_END>"
TARGET_START, TARGET_END = "<TARGET_START>", "<TARGET_END>"
PATH_START, PATH_END = "<PATH_START>", "<PATH_END>"
EDGE_END = ";"
DFS_STRUCTURE = (
    ADJLIST_START,
    ADJLIST_END,
    ORIGIN_START,
    ORIGIN_END,
    TARGET_START,
    TARGET_END,
    PATH_START,
    PATH_END,
    EDGE_END,
)
ASTAR_WORDS = ("start", "goal", "wall", "plan")
#: model vocabularies are rounded up to a multiple of this (the official code uses 128)
VOCAB_MULTIPLE = 128

_CELL = re.compile(r"^\((\d+),(\d+)\)$")


def cell_token(row: int, col: int) -> str:
    """The DFS token of cell ``(row, col)``: ``"(r,c)"``."""
    return f"({int(row)},{int(col)})"


def parse_cell_token(token: str) -> tuple[int, int]:
    """``"(r,c)"`` -> ``(r, c)``; ValueError for anything else."""
    m = _CELL.match(token)
    if m is None:
        raise ValueError(f"token must be a cell like '(2,3)'; got {token!r}")
    return int(m.group(1)), int(m.group(2))


@dataclasses.dataclass(frozen=True)
class Vocab:
    """A fixed token list and its ids.

    Attributes:
        kind: ``"dfs"`` or ``"astar"``.
        grid_size: largest grid side ``G`` it covers.
        tokens: the token strings; the id of a token is its position.
    """

    kind: str
    grid_size: int
    tokens: tuple[str, ...]
    _index: dict[str, int] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {t: i for i, t in enumerate(self.tokens)})

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def model_size(self) -> int:
        """Embedding rows for a model: ``len(self)`` rounded up to a multiple of 128."""
        return -(-len(self) // VOCAB_MULTIPLE) * VOCAB_MULTIPLE

    @property
    def pad_id(self) -> int:
        return self._index[PAD]

    @property
    def mask_id(self) -> int:
        return self._index[MASK]

    @property
    def bos_id(self) -> int:
        return self._index[BOS]

    @property
    def eos_id(self) -> int:
        return self._index[EOS]

    @property
    def path_start_id(self) -> int:
        return self._index[PATH_START]

    @property
    def answer_end_id(self) -> int:
        """The token that closes an answer: ``<PATH_END>`` (DFS) or ``[EOS]`` (A*)."""
        return self._index[PATH_END if self.kind == "dfs" else EOS]

    def id(self, token: str) -> int:
        """Id of one token; ValueError naming it when it is not in the vocabulary."""
        try:
            return self._index[token]
        except KeyError:
            raise ValueError(
                f"token {token!r} is not in the {self.kind} vocabulary for grids up to "
                f"{self.grid_size}x{self.grid_size}"
            ) from None

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Token strings -> ``(T,)`` int64 ids. ValueError on an unknown token."""
        return np.array([self.id(t) for t in tokens], dtype=np.int64)

    def decode(self, ids: Sequence[int] | np.ndarray | torch.Tensor) -> list[str]:
        """Ids -> token strings. ValueError on an id outside ``[0, len(self) - 1]``."""
        out = []
        for i in _as_int_list(ids):
            if not 0 <= i < len(self.tokens):
                raise ValueError(f"token id must be in [0, {len(self.tokens) - 1}]; got {i}")
            out.append(self.tokens[i])
        return out

    def cell_id(self, row: int, col: int) -> int:
        """Id of cell ``(row, col)`` (DFS vocabularies only)."""
        if self.kind != "dfs":
            raise ValueError("cell_id is for DFS vocabularies; A* cells are two digit tokens")
        return self.id(cell_token(row, col))


def _as_int_list(ids: Sequence[int] | np.ndarray | torch.Tensor) -> list[int]:
    if isinstance(ids, torch.Tensor):
        ids = ids.detach().cpu().numpy()
    return [int(i) for i in np.asarray(ids).reshape(-1)]


def dfs_vocab(grid_size: int) -> Vocab:
    """Vocabulary for DFS mazes up to ``grid_size`` x ``grid_size``: 5 specials, 9 structural
    tokens, ``G^2`` cells (``G^2 + 14`` tokens)."""
    g = check_size(grid_size, "grid_size")
    cells = tuple(cell_token(r, c) for r in range(g) for c in range(g))
    return Vocab("dfs", g, SPECIAL_TOKENS + DFS_STRUCTURE + cells)


def astar_vocab(grid_size: int) -> Vocab:
    """Vocabulary for A* mazes up to ``grid_size``: 5 specials, ``<PATH_START>``, the words
    start/goal/wall/plan, and the digits ``"0".."G-1"``."""
    g = check_size(grid_size, "grid_size")
    return Vocab("astar", g, SPECIAL_TOKENS + (PATH_START,) + ASTAR_WORDS + tuple(str(i) for i in range(g)))


def make_vocab(kind: str, grid_size: int) -> Vocab:
    """:func:`dfs_vocab` or :func:`astar_vocab` by ``kind``."""
    check_choice("kind", kind, KINDS)
    return dfs_vocab(grid_size) if kind == "dfs" else astar_vocab(grid_size)


# --------------------------------------------------------------------------------------------------
# Lengths
# --------------------------------------------------------------------------------------------------


def prompt_length(kind: str, size: int, n_walls: int = 0) -> int:
    """Tokens up to and including ``<PATH_START>``: ``3 n^2 + 6`` (DFS) or ``9 + 3 W`` (A*)."""
    check_choice("kind", kind, KINDS)
    n = check_size(size)
    return 3 * n * n + 6 if kind == "dfs" else 9 + 3 * int(n_walls)


def max_seq_len(kind: str, size: int) -> int:
    """Longest possible sequence for side ``n``: the fixed padded length of a batch.

    DFS: ``3 n^2 + 7 + n^2`` (a path visits at most every cell). A*: ``11 + 3 n^2`` (walls plus
    plan cells never exceed ``n^2``).
    """
    check_choice("kind", kind, KINDS)
    n = check_size(size)
    return 4 * n * n + 7 if kind == "dfs" else 11 + 3 * n * n


# --------------------------------------------------------------------------------------------------
# One maze <-> token strings
# --------------------------------------------------------------------------------------------------


def path_to_tokens(path: np.ndarray | Sequence[Sequence[int]], kind: str) -> list[str]:
    """The answer tokens of a path (everything after ``<PATH_START>``, end token included)."""
    check_choice("kind", kind, KINDS)
    cells = [(int(r), int(c)) for r, c in np.asarray(path).reshape(-1, 2)]
    if kind == "dfs":
        return [cell_token(r, c) for r, c in cells] + [PATH_END]
    out = [BOS]
    for r, c in cells:
        out += ["plan", str(c), str(r)]
    return out + [EOS]


def maze_to_tokens(maze: Maze, rng: np.random.Generator | None) -> list[str]:
    """Prompt + answer token strings of one maze.

    Args:
        maze: a DFS or A* :class:`Maze`.
        rng: shuffles the DFS adjacency list (order and orientation). ``None`` keeps the canonical
            row-major order, for display only: training data should be shuffled.
    """
    if maze.kind == "dfs":
        edges = maze.edges()
        if rng is not None:
            edges = edges[rng.permutation(len(edges))]
            swap = rng.random(len(edges)) < 0.5
            edges[swap] = edges[swap][:, ::-1]
        out = [ADJLIST_START]
        for (r1, c1), (r2, c2) in edges.tolist():
            out += [cell_token(r1, c1), cell_token(r2, c2), EDGE_END]
        out += [ADJLIST_END, ORIGIN_START, cell_token(*maze.start), ORIGIN_END]
        out += [TARGET_START, cell_token(*maze.goal), TARGET_END, PATH_START]
        return out + path_to_tokens(maze.path, "dfs")
    (sr, sc), (gr, gc) = maze.start, maze.goal
    out = [BOS, "start", str(sc), str(sr), "goal", str(gc), str(gr)]
    for r, c in np.argwhere(maze.walls).tolist():  # argwhere is row-major: sorted by y*n+x
        out += ["wall", str(c), str(r)]
    out += [EOS, PATH_START]
    return out + path_to_tokens(maze.path, "astar")


def tokens_to_path(tokens: Sequence[str], kind: str) -> np.ndarray:
    """Parse answer tokens (everything after ``<PATH_START>``) into ``(L, 2)`` cells.

    Reading stops at the first end token (``<PATH_END>`` for DFS, ``[EOS]`` for A*) or at the end
    of ``tokens``; later tokens (e.g. padding) are ignored.

    Raises:
        ValueError: a token that is not a cell (DFS) or not ``plan x y`` (A*) before the end.
    """
    check_choice("kind", kind, KINDS)
    cells: list[tuple[int, int]] = []
    tokens = list(tokens)
    if kind == "dfs":
        for i, t in enumerate(tokens):
            if t == PATH_END:
                break
            try:
                cells.append(parse_cell_token(t))
            except ValueError:
                raise ValueError(f"answer token {i} must be a cell or {PATH_END}; got {t!r}") from None
        return np.array(cells, dtype=np.int64).reshape(-1, 2)
    if not tokens or tokens[0] != BOS:
        raise ValueError(f"an A* answer must start with {BOS}; got {tokens[:1]!r}")
    i = 1
    while i < len(tokens) and tokens[i] != EOS:
        triple = tokens[i : i + 3]
        if len(triple) < 3 or triple[0] != "plan" or not (triple[1].isdigit() and triple[2].isdigit()):
            raise ValueError(f"answer tokens {i}..{i + 2} must be 'plan x y'; got {triple!r}")
        cells.append((int(triple[2]), int(triple[1])))
        i += 3
    return np.array(cells, dtype=np.int64).reshape(-1, 2)


def tokens_to_maze(tokens: Sequence[str], size: int) -> Maze:
    """Parse a full token sequence back into a :class:`Maze` (the path is the one in the tokens).

    The kind is read from the first token. Raises ValueError on a malformed sequence, an unknown
    token, or bad start/goal (equal, or on a wall).
    """
    n = check_size(size)
    tokens = list(tokens)
    if PATH_START not in tokens:
        raise ValueError(f"tokens must contain {PATH_START}")
    cut = tokens.index(PATH_START)
    prompt, answer = tokens[:cut], tokens[cut + 1 :]
    if prompt[:1] == [ADJLIST_START]:
        tail = prompt[-7:]
        expected = [ADJLIST_END, ORIGIN_START, None, ORIGIN_END, TARGET_START, None, TARGET_END]
        if len(prompt) < 8 or any(e is not None and t != e for t, e in zip(tail, expected)):
            raise ValueError(f"DFS prompt must end with {ADJLIST_END} {ORIGIN_START} (o) ... {TARGET_END}")
        body = prompt[1:-7]
        if len(body) % 3 or any(t != EDGE_END for t in body[2::3]):
            raise ValueError("DFS adjacency list must be triples '(a) (b) ;'")
        edges = [(parse_cell_token(a), parse_cell_token(b)) for a, b in zip(body[0::3], body[1::3])]
        conn = edges_to_connections(np.array(edges, dtype=np.int64).reshape(-1, 2, 2), n)
        start, goal = parse_cell_token(tail[2]), parse_cell_token(tail[5])
        maze = make_maze("dfs", conn, start, goal)
        kind = "dfs"
    elif prompt[:1] == [BOS]:
        if prompt[-1] != EOS or len(prompt) < 8 or prompt[1] != "start" or prompt[4] != "goal":
            raise ValueError(f"A* prompt must be {BOS} start x y goal x y (wall x y)* {EOS}")
        body = prompt[7:-1]
        if len(body) % 3 or any(t != "wall" for t in body[0::3]):
            raise ValueError("A* walls must be triples 'wall x y'")
        walls = np.zeros((n, n), dtype=bool)
        for x, y in zip(body[1::3], body[2::3]):
            walls[int(y), int(x)] = True
        start, goal = (int(prompt[3]), int(prompt[2])), (int(prompt[6]), int(prompt[5]))
        maze = make_maze("astar", None, start, goal, walls=walls)
        kind = "astar"
    else:
        raise ValueError(f"tokens must start with {ADJLIST_START} (DFS) or {BOS} (A*); got {prompt[:1]!r}")
    return dataclasses.replace(maze, path=tokens_to_path(answer, kind))


# --------------------------------------------------------------------------------------------------
# Ids of answers (what a model emits)
# --------------------------------------------------------------------------------------------------


def encode_path(path: np.ndarray | Sequence[Sequence[int]], vocab: Vocab) -> np.ndarray:
    """Answer ids of a path, end token included."""
    return vocab.encode(path_to_tokens(path, vocab.kind))


def decode_path(ids: Sequence[int] | np.ndarray | torch.Tensor, vocab: Vocab) -> np.ndarray:
    """Answer ids (the positions after ``<PATH_START>``) -> ``(L, 2)`` cells ``(row, col)``.

    Stops at the first end token; ValueError on an id outside the vocabulary or a token that does
    not belong in an answer.
    """
    return tokens_to_path(vocab.decode(ids), vocab.kind)


# --------------------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TokenBatch:
    """Padded token ids of ``B`` mazes.

    Attributes:
        ids: ``(B, T)`` int64 token ids, ``pad_id`` after each sequence.
        answer_mask: ``(B, T)`` bool, True at answer positions (after ``<PATH_START>``, end token
            included): the only positions that carry a loss.
        prompt_lengths: ``(B,)`` int64, index of the first answer token (``<PATH_START>`` index + 1).
            Constant ``3 n^2 + 6`` for DFS mazes.
        lengths: ``(B,)`` int64, tokens before padding.
        sizes: ``(B,)`` int64, grid side ``n`` of each maze (batches of several sizes come from
            :func:`concat_batches`).
        vocab: the :class:`Vocab` used.
    """

    ids: torch.Tensor
    answer_mask: torch.Tensor
    prompt_lengths: torch.Tensor
    lengths: torch.Tensor
    sizes: torch.Tensor
    vocab: Vocab

    @property
    def pad_id(self) -> int:
        return self.vocab.pad_id

    @property
    def padding_mask(self) -> torch.Tensor:
        """``(B, T)`` bool, True at real (non-pad) tokens."""
        return torch.arange(self.ids.shape[1])[None, :] < self.lengths[:, None]

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def subset(self, index: torch.Tensor | np.ndarray | Sequence[int] | slice) -> TokenBatch:
        """Rows at ``index`` as a new batch (same padded length)."""
        if not isinstance(index, slice):
            index = torch.as_tensor(np.asarray(index))
        return TokenBatch(
            ids=self.ids[index],
            answer_mask=self.answer_mask[index],
            prompt_lengths=self.prompt_lengths[index],
            lengths=self.lengths[index],
            sizes=self.sizes[index],
            vocab=self.vocab,
        )

    def trimmed(self) -> TokenBatch:
        """The same batch cut to its longest sequence (drops all-pad columns)."""
        t = int(self.lengths.max())
        return dataclasses.replace(self, ids=self.ids[:, :t], answer_mask=self.answer_mask[:, :t])


def tokenize(
    mazes: MazeBatch, vocab: Vocab, rng: np.random.Generator, seq_len: int | None = None
) -> TokenBatch:
    """Token ids of every maze in ``mazes``, padded to ``seq_len``.

    Args:
        mazes: a :class:`MazeBatch` of ``vocab.kind`` with ``size <= vocab.grid_size``.
        vocab: from :func:`make_vocab`.
        rng: shuffles each DFS adjacency list (order and edge orientation), once per sample.
        seq_len: padded length ``T``; default :func:`max_seq_len` for the grid size.

    Raises:
        ValueError: kind/size mismatch, or a sequence longer than ``seq_len``.
    """
    if mazes.kind != vocab.kind:
        raise ValueError(f"vocab.kind must match mazes.kind {mazes.kind!r}; got {vocab.kind!r}")
    check_int_range("mazes.size", mazes.size, 3, vocab.grid_size)
    n = mazes.size
    t_max = max_seq_len(mazes.kind, n) if seq_len is None else check_int_range("seq_len", seq_len, 1, None)
    if mazes.kind == "dfs":
        ids, prompt_len = _dfs_ids(mazes, vocab, rng)
    else:
        ids, prompt_len = _astar_ids(mazes, vocab)
    lengths = np.array([len(x) for x in ids]) if isinstance(ids, list) else (ids != vocab.pad_id).sum(1)
    if lengths.max() > t_max:
        raise ValueError(f"seq_len must be >= the longest sequence {int(lengths.max())}; got {t_max}")
    out = np.full((len(mazes), t_max), vocab.pad_id, dtype=np.int64)
    if isinstance(ids, list):
        for i, row in enumerate(ids):
            out[i, : len(row)] = row
    else:
        out[:, : ids.shape[1]] = ids[:, :t_max]
    pos = np.arange(t_max)[None, :]
    answer = (pos >= prompt_len[:, None]) & (pos < lengths[:, None])
    return TokenBatch(
        ids=torch.from_numpy(out),
        answer_mask=torch.from_numpy(answer),
        prompt_lengths=torch.from_numpy(prompt_len.astype(np.int64)),
        lengths=torch.from_numpy(lengths.astype(np.int64)),
        sizes=torch.full((len(mazes),), n, dtype=torch.int64),
        vocab=vocab,
    )


def concat_batches(batches: Sequence[TokenBatch]) -> TokenBatch:
    """Join token batches that share a vocabulary (e.g. several grid sizes), padding every row to
    the longest padded length among them."""
    if len(batches) == 0:
        raise ValueError("batches must contain at least one TokenBatch; got an empty sequence")
    vocab = batches[0].vocab
    if any(b.vocab != vocab for b in batches):
        raise ValueError("batches must share one vocabulary (same kind and grid_size)")
    t = max(b.ids.shape[1] for b in batches)

    def pad(x: torch.Tensor, value) -> torch.Tensor:
        return torch.nn.functional.pad(x, (0, t - x.shape[1]), value=value)

    return TokenBatch(
        ids=torch.cat([pad(b.ids, vocab.pad_id) for b in batches]),
        answer_mask=torch.cat([pad(b.answer_mask, False) for b in batches]),
        prompt_lengths=torch.cat([b.prompt_lengths for b in batches]),
        lengths=torch.cat([b.lengths for b in batches]),
        sizes=torch.cat([b.sizes for b in batches]),
        vocab=vocab,
    )


def _dfs_ids(mazes: MazeBatch, vocab: Vocab, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised DFS tokenization: ``(B, 3 n^2 + 7 + L_max)`` ids padded with ``pad_id``."""
    b, n, g = len(mazes), mazes.size, vocab.grid_size
    n_edges = n * n - 1
    flat = mazes.connections.reshape(b, 2 * n * n)
    _, idx = np.nonzero(flat)  # row-major, so each maze's n^2 - 1 edges are contiguous
    if len(idx) != b * n_edges:
        raise ValueError("every DFS maze must have exactly n^2 - 1 open passages (a spanning tree)")
    idx = idx.reshape(b, n_edges)
    plane, cell = np.divmod(idx, n * n)
    other = cell + np.where(plane == 0, n, 1)
    order = np.argsort(rng.random((b, n_edges)), axis=1)
    a = np.take_along_axis(cell, order, axis=1)
    c = np.take_along_axis(other, order, axis=1)
    swap = rng.random((b, n_edges)) < 0.5
    a, c = np.where(swap, c, a), np.where(swap, a, c)

    first_cell = vocab.cell_id(0, 0)

    def cell_ids(flat_cells: np.ndarray) -> np.ndarray:
        r, col = np.divmod(flat_cells, n)
        return first_cell + r * g + col

    edge_ids = np.stack([cell_ids(a), cell_ids(c), np.full_like(a, vocab.id(EDGE_END))], axis=2)
    s = mazes.starts[:, 0] * n + mazes.starts[:, 1]
    t = mazes.goals[:, 0] * n + mazes.goals[:, 1]
    col = np.ones((b, 1), dtype=np.int64)
    prompt = np.concatenate(
        [
            col * vocab.id(ADJLIST_START),
            edge_ids.reshape(b, 3 * n_edges),
            col * vocab.id(ADJLIST_END),
            col * vocab.id(ORIGIN_START),
            cell_ids(s)[:, None],
            col * vocab.id(ORIGIN_END),
            col * vocab.id(TARGET_START),
            cell_ids(t)[:, None],
            col * vocab.id(TARGET_END),
            col * vocab.path_start_id,
        ],
        axis=1,
    )
    l_max = mazes.paths.shape[1]
    paths = mazes.paths.astype(np.int64)
    answer = first_cell + paths[..., 0] * g + paths[..., 1]
    pos = np.arange(l_max + 1)[None, :]
    answer = np.concatenate([answer, np.zeros((b, 1), dtype=np.int64)], axis=1)
    lens = mazes.path_lengths[:, None]
    answer = np.where(pos < lens, answer, np.where(pos == lens, vocab.id(PATH_END), vocab.pad_id))
    prompt_len = np.full(b, prompt.shape[1], dtype=np.int64)
    return np.concatenate([prompt, answer], axis=1), prompt_len


def _astar_ids(mazes: MazeBatch, vocab: Vocab) -> tuple[list[np.ndarray], np.ndarray]:
    """A* tokenization, one maze at a time (the wall count varies)."""
    digit0 = vocab.id("0")
    bos, eos, ps = vocab.bos_id, vocab.eos_id, vocab.path_start_id
    w_start, w_goal, w_wall, w_plan = (vocab.id(w) for w in ASTAR_WORDS)
    rows, prompt_len = [], []
    for i in range(len(mazes)):
        (sr, sc), (gr, gc) = mazes.starts[i], mazes.goals[i]
        wall_rc = np.argwhere(mazes.walls[i])
        walls = np.stack(
            [np.full(len(wall_rc), w_wall), digit0 + wall_rc[:, 1], digit0 + wall_rc[:, 0]], axis=1
        )
        path = mazes.paths[i, : mazes.path_lengths[i]].astype(np.int64)
        plan = np.stack([np.full(len(path), w_plan), digit0 + path[:, 1], digit0 + path[:, 0]], axis=1)
        head = [bos, w_start, digit0 + sc, digit0 + sr, w_goal, digit0 + gc, digit0 + gr]
        prompt = np.concatenate([head, walls.reshape(-1), [eos, ps]])
        rows.append(np.concatenate([prompt, [bos], plan.reshape(-1), [eos]]).astype(np.int64))
        prompt_len.append(len(prompt))
    return rows, np.array(prompt_len, dtype=np.int64)


def detokenize(batch: TokenBatch, index: int) -> Maze:
    """Row ``index`` of a :class:`TokenBatch` back into a :class:`Maze` (inverse of :func:`tokenize`)."""
    row = batch.ids[index, : int(batch.lengths[index])]
    return tokens_to_maze(batch.vocab.decode(row), int(batch.sizes[index]))
