"""Maze data types, their validation and leak-free splits, shared by both generators.

Two kinds of maze live on an ``n x n`` grid of cells ``(row, col)``, ``3 <= n <= 30``:

* ``"dfs"``: a perfect maze carved by a randomized depth-first search (recursive backtracker, the
  ``maze-dataset`` ``gen_dfs`` algorithm). Every cell is open; walls sit *between* cells, so the
  open passages form a spanning tree with ``n**2 - 1`` edges. Start and goal are two distinct cells
  drawn uniformly; the path is the unique simple path between them (found by BFS).
* ``"astar"``: a Searchformer grid. 30-50 % of the *cells* are walls; every pair of 4-adjacent
  free cells is connected. Start and goal are distinct free cells whose deterministic A* plan
  (:func:`rizzlib.mazes.astar.astar_plan`) has at least ``n`` cells.

Both kinds share one representation, ``connections``: a boolean array ``(2, n, n)`` where
``connections[0, r, c]`` means the passage ``(r, c) - (r+1, c)`` is open and ``connections[1, r, c]``
means ``(r, c) - (r, c+1)`` is open (the ``maze-dataset`` ``connection_list`` layout). Wall cells of
an A* maze have no open passage. Paths are ``(L, 2)`` integer arrays of ``(row, col)`` including
both ends.

The generators live in :mod:`rizzlib.mazes.dfs` and :mod:`rizzlib.mazes.astar`;
:mod:`rizzlib.mazes.generate` is the entry point that picks one by kind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from rizzlib.core.validate import check_int_range

MIN_SIZE = 3
MAX_SIZE = 30
KINDS = ("dfs", "astar")

#: paths are stored as int16 (row, col) pairs: 100k 30x30 paths would take ~1 GB as int64
PATH_DTYPE = np.int16


def check_size(size: int, name: str = "size") -> int:
    """Return ``size`` if it is an integer grid side in ``[3, 30]``, else raise ValueError."""
    return check_int_range(name, size, MIN_SIZE, MAX_SIZE)


def check_rng(rng: np.random.Generator) -> np.random.Generator:
    """Return ``rng`` if it is a ``numpy.random.Generator``, else raise ValueError."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)); got {rng!r}")
    return rng


# --------------------------------------------------------------------------------------------------
# Data structures
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class Maze:
    """One maze task.

    Attributes:
        kind: ``"dfs"`` or ``"astar"``.
        connections: ``(2, n, n)`` bool, open passages (layout in the module docstring).
        walls: ``(n, n)`` bool, wall cells (all False for DFS mazes).
        start: ``(row, col)`` of the origin.
        goal: ``(row, col)`` of the target.
        path: ``(L, 2)`` int, the target path from start to goal inclusive (BFS path for DFS mazes,
            the deterministic A* plan for A* mazes).
    """

    kind: str
    connections: np.ndarray
    walls: np.ndarray
    start: tuple[int, int]
    goal: tuple[int, int]
    path: np.ndarray

    @property
    def size(self) -> int:
        """Grid side ``n``."""
        return int(self.walls.shape[0])

    def edges(self) -> np.ndarray:
        """``(E, 2, 2)`` int: every open passage as ``((r1, c1), (r2, c2))``, row-major order."""
        return connections_to_edges(self.connections)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Maze):
            return NotImplemented
        return (
            self.kind == other.kind
            and tuple(self.start) == tuple(other.start)
            and tuple(self.goal) == tuple(other.goal)
            and np.array_equal(self.connections, other.connections)
            and np.array_equal(self.walls, other.walls)
            and np.array_equal(self.path, other.path)
        )

    __hash__ = None  # type: ignore[assignment]


@dataclasses.dataclass(frozen=True, eq=False)
class MazeBatch:
    """``B`` mazes of one kind and size, stored as stacked arrays.

    Attributes:
        kind: ``"dfs"`` or ``"astar"``.
        size: grid side ``n``.
        connections: ``(B, 2, n, n)`` bool.
        walls: ``(B, n, n)`` bool.
        starts: ``(B, 2)`` int ``(row, col)``.
        goals: ``(B, 2)`` int ``(row, col)``.
        paths: ``(B, L_max, 2)`` int16, padded with ``-1`` after each path's end.
        path_lengths: ``(B,)`` int, number of cells in each path (start and goal included).
        layout_ids: ``(B,)`` int, which wall layout a task came from (A* makes many tasks per layout;
            split train/test by layout to avoid leakage). For DFS every maze is its own layout.
    """

    kind: str
    size: int
    connections: np.ndarray
    walls: np.ndarray
    starts: np.ndarray
    goals: np.ndarray
    paths: np.ndarray
    path_lengths: np.ndarray
    layout_ids: np.ndarray

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    def __getitem__(self, i: int) -> Maze:
        i = int(i)
        return Maze(
            kind=self.kind,
            connections=self.connections[i],
            walls=self.walls[i],
            start=(int(self.starts[i, 0]), int(self.starts[i, 1])),
            goal=(int(self.goals[i, 0]), int(self.goals[i, 1])),
            path=self.paths[i, : self.path_lengths[i]],
        )

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def subset(self, index: np.ndarray | Sequence[int] | slice) -> MazeBatch:
        """The mazes at ``index`` (an index array, a boolean mask or a slice), as a new batch."""
        if isinstance(index, slice):
            index = np.arange(len(self))[index]
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        lengths = self.path_lengths[index]
        l_max = int(lengths.max()) if len(index) else 0
        return dataclasses.replace(
            self,
            connections=self.connections[index],
            walls=self.walls[index],
            starts=self.starts[index],
            goals=self.goals[index],
            paths=self.paths[index, :l_max],
            path_lengths=lengths,
            layout_ids=self.layout_ids[index],
        )


def stack_mazes(mazes: Sequence[Maze]) -> MazeBatch:
    """Stack single mazes of one kind and size into a :class:`MazeBatch` (layout id = position)."""
    if len(mazes) == 0:
        raise ValueError("mazes must contain at least one Maze; got an empty sequence")
    kinds = {m.kind for m in mazes}
    sizes = {m.size for m in mazes}
    if len(kinds) != 1 or len(sizes) != 1:
        raise ValueError(f"mazes must share one kind and size; got kinds {kinds} and sizes {sizes}")
    lengths = np.array([len(m.path) for m in mazes])
    paths = np.full((len(mazes), int(lengths.max()), 2), -1, dtype=PATH_DTYPE)
    for i, m in enumerate(mazes):
        paths[i, : len(m.path)] = m.path
    return MazeBatch(
        kind=mazes[0].kind,
        size=mazes[0].size,
        connections=np.stack([m.connections for m in mazes]),
        walls=np.stack([m.walls for m in mazes]),
        starts=np.array([m.start for m in mazes], dtype=np.int64),
        goals=np.array([m.goal for m in mazes], dtype=np.int64),
        paths=paths,
        path_lengths=lengths,
        layout_ids=np.arange(len(mazes)),
    )


# --------------------------------------------------------------------------------------------------
# Grid helpers
# --------------------------------------------------------------------------------------------------


def connections_to_edges(connections: np.ndarray) -> np.ndarray:
    """``(2, n, n)`` bool passages -> ``(E, 2, 2)`` int edges ``((r, c), (r', c'))``, row-major."""
    vert = np.argwhere(connections[0])
    horiz = np.argwhere(connections[1])
    down = np.stack([vert, vert + [1, 0]], axis=1)
    right = np.stack([horiz, horiz + [0, 1]], axis=1)
    edges = np.concatenate([down, right]).reshape(-1, 2, 2)
    order = np.lexsort((edges[:, 0, 1], edges[:, 0, 0]))
    return edges[order]


def edges_to_connections(edges: np.ndarray, size: int) -> np.ndarray:
    """``(E, 2, 2)`` edges in any order and orientation -> ``(2, n, n)`` bool passages.

    Raises:
        ValueError: an edge leaves the grid or joins cells that are not 4-adjacent.
    """
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2, 2)
    conn = np.zeros((2, size, size), dtype=bool)
    if len(edges) == 0:
        return conn
    if edges.min() < 0 or edges.max() >= size:
        raise ValueError(f"edges must lie inside the {size}x{size} grid (coordinates 0..{size - 1})")
    lo = np.minimum(edges[:, 0], edges[:, 1])
    diff = np.abs(edges[:, 0] - edges[:, 1])
    vertical = (diff[:, 0] == 1) & (diff[:, 1] == 0)
    horizontal = (diff[:, 0] == 0) & (diff[:, 1] == 1)
    if not np.all(vertical | horizontal):
        bad = edges[~(vertical | horizontal)][0].tolist()
        raise ValueError(f"edges must join 4-adjacent cells; got {bad}")
    conn[0, lo[vertical, 0], lo[vertical, 1]] = True
    conn[1, lo[horizontal, 0], lo[horizontal, 1]] = True
    return conn


def walls_to_connections(walls: np.ndarray) -> np.ndarray:
    """``(..., n, n)`` bool wall cells -> ``(..., 2, n, n)`` passages between 4-adjacent free cells."""
    free = ~np.asarray(walls, dtype=bool)
    conn = np.zeros(free.shape[:-2] + (2,) + free.shape[-2:], dtype=bool)
    conn[..., 0, :-1, :] = free[..., :-1, :] & free[..., 1:, :]
    conn[..., 1, :, :-1] = free[..., :, :-1] & free[..., :, 1:]
    return conn


def sample_endpoints(n_cells: int, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two distinct flat cells per maze, uniform over ordered pairs: ``(starts, goals)``, each ``(B,)``."""
    starts = rng.integers(n_cells, size=count)
    goals = rng.integers(n_cells - 1, size=count)
    goals = goals + (goals >= starts)
    return starts, goals


# --------------------------------------------------------------------------------------------------
# Splits and path checks
# --------------------------------------------------------------------------------------------------


def task_keys(mazes: MazeBatch) -> list[bytes]:
    """One hashable key per task: its passages, walls, start and goal (identical tasks share a key)."""
    parts = np.concatenate(
        [
            np.packbits(mazes.connections.reshape(len(mazes), -1), axis=1),
            np.packbits(mazes.walls.reshape(len(mazes), -1), axis=1),
            mazes.starts.astype(np.uint8),
            mazes.goals.astype(np.uint8),
        ],
        axis=1,
    )
    return [row.tobytes() for row in parts]


def split_train_val(mazes: MazeBatch, n_val: int) -> tuple[MazeBatch, MazeBatch]:
    """Hold out the last ``n_val`` tasks for validation without leaks (spec §7.8).

    A* tasks are held out by whole wall layouts (the validation set is the last layouts, which may
    add a few tasks beyond ``n_val``); any training task identical to a validation task is dropped,
    which matters on tiny grids (3x3 has only 13,824 distinct DFS tasks).

    Returns:
        ``(train, val)`` batches.
    """
    b = len(mazes)
    n_val = check_int_range("n_val", n_val, 1, b - 1)
    val = np.zeros(b, dtype=bool)
    val[b - n_val :] = True
    if mazes.kind == "astar":
        val |= np.isin(mazes.layout_ids, mazes.layout_ids[val])
    keys = task_keys(mazes)
    held = {k for k, v in zip(keys, val) if v}
    train = np.array([not v and k not in held for k, v in zip(keys, val)])
    return mazes.subset(train), mazes.subset(val)


def is_valid_walk(maze: Maze, path: np.ndarray | Sequence[Sequence[int]]) -> bool:
    """True when ``path`` starts at the maze's start, ends at its goal, and every step moves to a
    4-adjacent cell through an open passage (so it never enters a wall or leaves the grid)."""
    p = np.asarray(path, dtype=np.int64).reshape(-1, 2) if len(path) else np.zeros((0, 2), dtype=np.int64)
    n = maze.size
    if len(p) == 0 or tuple(p[0]) != tuple(maze.start) or tuple(p[-1]) != tuple(maze.goal):
        return False
    if p.min() < 0 or p.max() >= n:
        return False
    a, b = p[:-1], p[1:]
    d = b - a
    vertical = (np.abs(d[:, 0]) == 1) & (d[:, 1] == 0)
    horizontal = (d[:, 0] == 0) & (np.abs(d[:, 1]) == 1)
    if not np.all(vertical | horizontal):
        return False
    lo = np.minimum(a, b)
    plane = horizontal.astype(np.int64)
    return bool(np.all(maze.connections[plane, lo[:, 0], lo[:, 1]]))
