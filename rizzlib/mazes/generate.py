"""Seeded maze generators and shortest paths, batched with numpy.

Two kinds of maze live on an ``n x n`` grid of cells ``(row, col)``, ``3 <= n <= 30``:

* ``"dfs"``: a perfect maze carved by a randomized depth-first search (recursive backtracker, the
  ``maze-dataset`` ``gen_dfs`` algorithm). Every cell is open; walls sit *between* cells, so the
  open passages form a spanning tree with ``n**2 - 1`` edges. Start and goal are two distinct cells
  drawn uniformly; the path is the unique simple path between them (found by BFS).
* ``"astar"``: a Searchformer grid. 30-50 % of the *cells* are walls; every pair of 4-adjacent
  free cells is connected. Start and goal are distinct free cells whose deterministic A* plan
  (:func:`astar_plan`) has at least ``n`` cells.

Both kinds share one representation, ``connections``: a boolean array ``(2, n, n)`` where
``connections[0, r, c]`` means the passage ``(r, c) - (r+1, c)`` is open and ``connections[1, r, c]``
means ``(r, c) - (r, c+1)`` is open (the ``maze-dataset`` ``connection_list`` layout). Wall cells of
an A* maze have no open passage. Paths are ``(L, 2)`` integer arrays of ``(row, col)`` including
both ends.

Randomness comes only from the ``numpy.random.Generator`` passed in; the same seed and arguments
give the same mazes.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Sequence

import numpy as np

from rizzlib.core.validate import check_choice, check_int_range

MIN_SIZE = 3
MAX_SIZE = 30
KINDS = ("dfs", "astar")
#: Searchformer draws this many (start, goal) pairs per wall layout.
ASTAR_ATTEMPTS = 100
#: paths are stored as int16 (row, col) pairs: 100k 30x30 paths would take ~1 GB as int64
PATH_DTYPE = np.int16
#: DFS mazes are carved this many at a time (memory stays O(chunk * n^2))
DFS_CHUNK = 1024


def check_size(size: int, name: str = "size") -> int:
    """Return ``size`` if it is an integer grid side in ``[3, 30]``, else raise ValueError."""
    return check_int_range(name, size, MIN_SIZE, MAX_SIZE)


def _check_rng(rng: np.random.Generator) -> np.random.Generator:
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


def neighbour_table(size: int) -> np.ndarray:
    """``(n*n + 1, 4)`` int: flat index of the up, down, left, right neighbour of each cell.

    Off-grid neighbours point at the sentinel index ``n*n`` (whose own row is all sentinels), so
    batched code can gather without bounds checks.
    """
    n = size
    cells = np.arange(n * n)
    r, c = np.divmod(cells, n)
    table = np.full((n * n + 1, 4), n * n, dtype=np.int64)
    table[: n * n, 0] = np.where(r > 0, cells - n, n * n)
    table[: n * n, 1] = np.where(r < n - 1, cells + n, n * n)
    table[: n * n, 2] = np.where(c > 0, cells - 1, n * n)
    table[: n * n, 3] = np.where(c < n - 1, cells + 1, n * n)
    return table


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


# --------------------------------------------------------------------------------------------------
# DFS (recursive backtracker), batched
# --------------------------------------------------------------------------------------------------


def dfs_connections(
    size: int,
    count: int,
    rng: np.random.Generator,
    *,
    roots: np.ndarray | None = None,
    uniforms: np.ndarray | None = None,
) -> np.ndarray:
    """Carve ``count`` perfect mazes at once with a randomized depth-first search.

    All mazes advance in lock step: at every iteration each maze looks at the cell on top of its
    stack; if it has unvisited neighbours it opens the passage to one of them (picked uniformly, in
    the order up, down, left, right) and pushes it, otherwise it pops. The ``j``-th push of maze
    ``b`` uses ``uniforms[b, j]``, so maze ``b`` depends only on its own row of random numbers and
    :func:`rizzlib.mazes.reference.dfs_maze_reference` rebuilds it exactly.

    Args:
        size: grid side ``n`` in ``[3, 30]``.
        count: number of mazes ``B`` (>= 1).
        rng: numpy Generator; draws ``roots`` then ``uniforms`` when they are not given.
        roots: optional ``(B,)`` flat start cells of the search (default uniform over all cells).
        uniforms: optional ``(B, n*n - 1)`` numbers in ``[0, 1)``, one per push.

    Returns:
        ``(B, 2, n, n)`` bool passages; each maze is a spanning tree of the grid.
    """
    n = check_size(size)
    b = check_int_range("count", count, 1, None)
    n_cells = n * n
    if roots is None:
        roots = _check_rng(rng).integers(n_cells, size=b)
    if uniforms is None:
        uniforms = _check_rng(rng).random((b, n_cells - 1))
    roots = np.asarray(roots, dtype=np.int64)
    uniforms = np.asarray(uniforms, dtype=np.float64)
    if roots.shape != (b,) or roots.min() < 0 or roots.max() >= n_cells:
        raise ValueError(f"roots must be ({b},) flat cells in [0, {n_cells - 1}]; got shape {roots.shape}")
    if uniforms.shape != (b, n_cells - 1):
        raise ValueError(f"uniforms must have shape ({b}, {n_cells - 1}); got {uniforms.shape}")
    parent, _ = _dfs_tree(n, roots, uniforms)
    return _parents_to_connections(parent, n)


def _dfs_tree(n: int, roots: np.ndarray, uniforms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lock-step backtracker of :func:`dfs_connections` on validated inputs.

    Returns:
        ``(parent, level)``, each ``(B, n*n)`` int: the cell each cell was carved from (-1 for the
        root) and its depth in that tree (root 0). The stack always holds the root-to-top tree
        path, so a cell's depth is the stack height when it is pushed.
    """
    b = len(roots)
    n_cells = n * n
    table = neighbour_table(n)
    width = n_cells + 1  # one extra column: the sentinel cell, always "visited"
    rows = np.arange(b)
    row_off = rows * width
    visited = np.zeros(b * width, dtype=bool)
    visited[row_off + n_cells] = True
    visited[row_off + roots] = True
    parent = np.full(b * width, -1, dtype=np.int64)
    level = np.zeros(b * width, dtype=np.int64)
    stack = np.zeros(b * width, dtype=np.int64)
    stack[row_off] = roots
    depth = np.ones(b, dtype=np.int64)  # stack height
    pushes = np.zeros(b, dtype=np.int64)
    # padded so the gather below stays in bounds once a maze has made all its pushes
    u_pad = np.concatenate([uniforms, np.zeros((b, 1))], axis=1).ravel()
    u_off = rows * n_cells

    while True:
        active = pushes < n_cells - 1
        if not active.any():
            break
        top = stack[row_off + depth - 1]
        cand = table[top]  # (B, 4)
        free = ~visited[row_off[:, None] + cand]
        cum = np.cumsum(free, axis=1)
        k = cum[:, 3]
        pick = (u_pad[u_off + pushes] * k).astype(np.int64)
        # index of the (pick+1)-th free neighbour: how many running counts are still <= pick
        col = (cum[:, 0] <= pick).astype(np.int64) + (cum[:, 1] <= pick) + (cum[:, 2] <= pick)
        move = (k > 0) & active
        new = np.where(move, cand[rows, col], n_cells)  # non-movers write into the sentinel slot
        visited[row_off + new] = True
        parent[row_off + new] = top
        level[row_off + new] = depth
        stack[row_off + depth] = new  # above the top for non-movers: harmless scratch
        depth += np.where(move, 1, np.where(active, -1, 0))
        pushes += move

    return parent.reshape(b, width)[:, :n_cells], level.reshape(b, width)[:, :n_cells]


def tree_paths(
    parent: np.ndarray, level: np.ndarray, starts: np.ndarray, goals: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The unique path between two cells of each tree, batched (used for DFS mazes, where it is
    the BFS shortest path at a fraction of the cost).

    Both ends climb towards the root, the deeper one first, until they meet at the lowest common
    ancestor; the path is the start's climb followed by the goal's climb reversed.

    Args:
        parent, level: ``(B, n*n)`` from the DFS (parent -1 at the root, level = depth).
        starts, goals: ``(B,)`` flat cells.

    Returns:
        ``(paths, lengths)``: ``(B, L_max, 2)`` ``(row, col)`` padded with -1, and ``(B,)``.
    """
    b, n_cells = parent.shape
    rows = np.arange(b)
    x, y = starts.copy(), goals.copy()
    up_x = np.zeros((b, n_cells), dtype=np.int64)  # start, then each cell it climbs to
    up_y = np.zeros((b, n_cells), dtype=np.int64)
    up_x[:, 0], up_y[:, 0] = x, y
    nx, ny = np.ones(b, dtype=np.int64), np.ones(b, dtype=np.int64)
    while True:
        active = x != y
        if not active.any():
            break
        move_x = active & (level[rows, x] >= level[rows, y])
        move_y = active & ~move_x
        x = np.where(move_x, parent[rows, x], x)
        y = np.where(move_y, parent[rows, y], y)
        up_x[rows, np.where(move_x, nx, 0)] = np.where(move_x, x, up_x[:, 0])
        up_y[rows, np.where(move_y, ny, 0)] = np.where(move_y, y, up_y[:, 0])
        nx += move_x
        ny += move_y
    # both climbs end at the common ancestor; keep it once (from the start's side)
    lengths = nx + ny - 1
    j = np.arange(int(lengths.max()))[None, :]
    from_x = np.take_along_axis(up_x, np.minimum(j, nx[:, None] - 1), axis=1)
    from_y = np.take_along_axis(up_y, np.clip(ny[:, None] - 2 - (j - nx[:, None]), 0, None), axis=1)
    flat = np.where(j < nx[:, None], from_x, from_y)
    paths = np.stack(np.divmod(flat, n), axis=2)
    paths[j[0][None, :] >= lengths[:, None]] = -1
    return paths, lengths


def _parents_to_connections(parent: np.ndarray, n: int) -> np.ndarray:
    """``(B, n*n)`` parent cell per cell (-1 for the root) -> ``(B, 2, n, n)`` passages."""
    b, n_cells = parent.shape
    cells = np.arange(n_cells)[None, :]
    has = parent >= 0
    lo = np.minimum(parent, cells)
    plane = (np.abs(parent - cells) != n).astype(np.int64)  # 0: vertical passage, 1: horizontal
    flat = np.zeros((b, 2 * n_cells), dtype=bool)
    bi, ci = np.nonzero(has)
    flat[bi, plane[bi, ci] * n_cells + lo[bi, ci]] = True
    return flat.reshape(b, 2, n, n)


def sample_endpoints(n_cells: int, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two distinct flat cells per maze, uniform over ordered pairs: ``(starts, goals)``, each ``(B,)``."""
    starts = rng.integers(n_cells, size=count)
    goals = rng.integers(n_cells - 1, size=count)
    goals = goals + (goals >= starts)
    return starts, goals


def generate_dfs(size: int, count: int, rng: np.random.Generator) -> MazeBatch:
    """``count`` DFS mazes of side ``size`` with uniform distinct start/goal and their (unique) paths.

    Returns:
        a :class:`MazeBatch` of kind ``"dfs"``; ``paths`` are the unique (hence shortest) paths,
        found by climbing the DFS tree (:func:`tree_paths`); tests check them against BFS.
    """
    n = check_size(size)
    b = check_int_range("count", count, 1, None)
    rng = _check_rng(rng)
    conns, paths, lengths, starts, goals = [], [], [], [], []
    # fixed-size chunks bound memory and keep the output independent of how the work is split
    for lo in range(0, b, DFS_CHUNK):
        m = min(DFS_CHUNK, b - lo)
        roots = rng.integers(n * n, size=m)
        parent, level = _dfs_tree(n, roots, rng.random((m, n * n - 1)))
        s, g = sample_endpoints(n * n, m, rng)
        p, length = tree_paths(parent, level, s, g, n)
        conns.append(_parents_to_connections(parent, n))
        paths.append(p)
        lengths.append(length)
        starts.append(np.stack(np.divmod(s, n), axis=1))
        goals.append(np.stack(np.divmod(g, n), axis=1))
    l_max = max(p.shape[1] for p in paths)
    paths = [np.pad(p, ((0, 0), (0, l_max - p.shape[1]), (0, 0)), constant_values=-1) for p in paths]
    conn, starts, goals = np.concatenate(conns), np.concatenate(starts), np.concatenate(goals)
    paths, lengths = np.concatenate(paths).astype(PATH_DTYPE), np.concatenate(lengths)
    return MazeBatch(
        kind="dfs",
        size=n,
        connections=conn,
        walls=np.zeros((b, n, n), dtype=bool),
        starts=starts,
        goals=goals,
        paths=paths,
        path_lengths=lengths,
        layout_ids=np.arange(b),
    )


# --------------------------------------------------------------------------------------------------
# BFS, batched
# --------------------------------------------------------------------------------------------------


def bfs_distances(
    connections: np.ndarray, sources: np.ndarray, targets: np.ndarray | None = None
) -> np.ndarray:
    """Breadth-first distances (in steps) from each maze's source cell, all mazes at once.

    Args:
        connections: ``(B, 2, n, n)`` bool passages.
        sources: ``(B, 2)`` int ``(row, col)``.
        targets: optional ``(B, 2)``; stop as soon as every target is reached (other cells further
            away are then left at -1).

    Returns:
        ``(B, n, n)`` int distances, ``-1`` where unreachable (or not yet reached).
    """
    conn = np.asarray(connections, dtype=bool)
    sources = np.asarray(sources, dtype=np.int64)
    b, _, n, _ = conn.shape
    dist = np.full((b, n, n), -1, dtype=np.int64)
    dist[np.arange(b), sources[:, 0], sources[:, 1]] = 0
    # the mazes still searching, and their working arrays; finished mazes are dropped now and then
    # so one long search does not keep the whole batch busy
    live = np.arange(b)
    down, right = conn[:, 0, :-1, :], conn[:, 1, :, :-1]
    frontier = dist == 0
    seen = frontier.copy()
    tgt = None if targets is None else np.asarray(targets, dtype=np.int64)
    step = 0
    while len(live):
        if tgt is not None:
            done = seen[np.arange(len(live)), tgt[:, 0], tgt[:, 1]]
            if done.all():
                break
            if done.mean() > 0.25:
                keep = ~done
                live, down, right, frontier, seen, tgt = (
                    live[keep],
                    down[keep],
                    right[keep],
                    frontier[keep],
                    seen[keep],
                    tgt[keep],
                )
        if not frontier.any():
            break
        step += 1
        nxt = np.zeros_like(frontier)
        nxt[:, 1:, :] |= frontier[:, :-1, :] & down
        nxt[:, :-1, :] |= frontier[:, 1:, :] & down
        nxt[:, :, 1:] |= frontier[:, :, :-1] & right
        nxt[:, :, :-1] |= frontier[:, :, 1:] & right
        nxt &= ~seen
        seen |= nxt
        bi, ri, ci = np.nonzero(nxt)
        dist[live[bi], ri, ci] = step
        frontier = nxt
    return dist


def shortest_paths(
    connections: np.ndarray, starts: np.ndarray, goals: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One BFS shortest path per maze, batched.

    Walking back from the goal, ties between equally short predecessors are broken in the order up,
    down, left, right (in a perfect maze there are none: the path is unique).

    Args:
        connections: ``(B, 2, n, n)`` bool passages.
        starts, goals: ``(B, 2)`` int ``(row, col)``.

    Returns:
        ``(paths, lengths)``: ``(B, L_max, 2)`` int padded with -1, and ``(B,)`` cell counts.

    Raises:
        ValueError: some goal is unreachable from its start.
    """
    conn = np.asarray(connections, dtype=bool)
    starts = np.asarray(starts, dtype=np.int64)
    goals = np.asarray(goals, dtype=np.int64)
    b, _, n, _ = conn.shape
    rows = np.arange(b)
    dist = bfs_distances(conn, starts, goals)
    d_goal = dist[rows, goals[:, 0], goals[:, 1]]
    if np.any(d_goal < 0):
        i = int(np.flatnonzero(d_goal < 0)[0])
        raise ValueError(f"goal {tuple(goals[i])} is unreachable from start {tuple(starts[i])} in maze {i}")
    lengths = d_goal + 1
    paths = np.full((b, int(lengths.max()), 2), -1, dtype=np.int64)
    # pad so neighbour lookups never leave the array: distances -2 and closed passages outside
    dpad = np.full((b, n + 2, n + 2), -2, dtype=np.int64)
    dpad[:, 1:-1, 1:-1] = dist
    cpad = np.zeros((b, 2, n + 2, n + 2), dtype=bool)
    cpad[:, :, 1:-1, 1:-1] = conn
    cur = goals.copy()
    for s in range(int(d_goal.max()) + 1):
        pos = d_goal - s
        live = pos >= 0
        paths[rows[live], pos[live]] = cur[live]
        r, c = cur[:, 0] + 1, cur[:, 1] + 1  # padded coordinates
        want = pos - 1
        options = (
            (cpad[rows, 0, r - 1, c], r - 1, c),  # up: passage stored at the upper cell
            (cpad[rows, 0, r, c], r + 1, c),  # down
            (cpad[rows, 1, r, c - 1], r, c - 1),  # left
            (cpad[rows, 1, r, c], r, c + 1),  # right
        )
        chosen = np.zeros(b, dtype=bool)
        nxt = cur.copy()
        for is_open, rr, cc in options:
            ok = is_open & (dpad[rows, rr, cc] == want) & ~chosen & live
            nxt[ok, 0] = rr[ok] - 1
            nxt[ok, 1] = cc[ok] - 1
            chosen |= ok
        cur = nxt
    return paths, lengths


# --------------------------------------------------------------------------------------------------
# Searchformer A* mazes
# --------------------------------------------------------------------------------------------------


def astar_plan(walls: np.ndarray, start: tuple[int, int], goal: tuple[int, int]) -> np.ndarray | None:
    """Searchformer's deterministic A* plan, or None when the goal is unreachable.

    Manhattan heuristic, unit steps; children in the order ``(r+1, c), (r-1, c), (r, c-1),
    (r, c+1)``; ties on ``f = g + h`` go to the smaller row-major index (Searchformer's position hash
    ``x + 100000 y`` with ``x`` = column, ``y`` = row); a child already open or closed with cost
    ``<=`` the new cost is skipped, so the first discoverer at the best cost stays its parent.

    Args:
        walls: ``(n, n)`` bool wall cells.
        start, goal: ``(row, col)`` free cells.

    Returns:
        ``(L, 2)`` int plan from start to goal inclusive, or None.
    """
    walls = np.asarray(walls, dtype=bool)
    n = walls.shape[0]
    blocked = walls.ravel().tolist()
    gr, gc = int(goal[0]), int(goal[1])
    s = int(start[0]) * n + int(start[1])
    goal_i = gr * n + gc

    def h(i: int) -> int:
        return abs(i // n - gr) + abs(i % n - gc)

    cost = {s: 0}
    parent = {s: -1}
    closed: set[int] = set()
    heap = [(h(s), s)]  # (f, row-major index): heap order = Searchformer's __lt__
    found = False
    while heap:
        f, i = heapq.heappop(heap)
        if i in closed or f != cost[i] + h(i):
            continue  # stale entry superseded by a cheaper one
        closed.add(i)
        if i == goal_i:
            found = True
            break
        r, c = divmod(i, n)
        g_new = cost[i] + 1
        for rr, cc in ((r + 1, c), (r - 1, c), (r, c - 1), (r, c + 1)):
            if not (0 <= rr < n and 0 <= cc < n):
                continue
            j = rr * n + cc
            if blocked[j] or (j in cost and cost[j] <= g_new):
                continue
            closed.discard(j)  # reopen (never happens with this consistent heuristic)
            cost[j] = g_new
            parent[j] = i
            heapq.heappush(heap, (g_new + h(j), j))
    if not found:
        return None
    plan = [goal_i]
    while parent[plan[-1]] >= 0:
        plan.append(parent[plan[-1]])
    plan.reverse()
    return np.array([divmod(i, n) for i in plan], dtype=np.int64)


def sample_wall_layout(size: int, rng: np.random.Generator) -> np.ndarray:
    """Searchformer's wall layout: ``W ~ U{floor(n^2/10)*3, ..., floor(n^2/10)*5}`` random cells.

    Returns:
        ``(n, n)`` bool walls.
    """
    n = check_size(size)
    n_cells = n * n
    w = int(rng.integers(n_cells // 10 * 3, n_cells // 10 * 5 + 1))
    walls = np.zeros(n_cells, dtype=bool)
    walls[rng.permutation(n_cells)[:w]] = True
    return walls.reshape(n, n)


def astar_tasks_for_layout(
    walls: np.ndarray, rng: np.random.Generator, attempts: int = ASTAR_ATTEMPTS
) -> list[tuple[tuple[int, int], tuple[int, int], np.ndarray]]:
    """Searchformer's task sampler for one layout: up to ``attempts`` random (start, goal) pairs of
    distinct free cells, keeping each unique pair whose A* plan exists and has ``>= n`` cells.

    Returns:
        list of ``(start, goal, plan)`` in the order found.
    """
    walls = np.asarray(walls, dtype=bool)
    n = walls.shape[0]
    free = np.flatnonzero(~walls.ravel())
    if len(free) < 2:
        return []
    # an ordered pair of distinct free cells per attempt: the first two of a fresh shuffle
    first, second = sample_endpoints(len(free), attempts, rng)
    tasks = []
    seen: set[tuple[int, int]] = set()
    for a, b in zip(free[first].tolist(), free[second].tolist()):
        if (a, b) in seen:
            continue
        seen.add((a, b))
        start, goal = divmod(a, n), divmod(b, n)
        plan = astar_plan(walls, start, goal)
        if plan is None or len(plan) < n:
            continue
        tasks.append((start, goal, plan))
    return tasks


def generate_astar(
    size: int, count: int, rng: np.random.Generator, *, attempts: int = ASTAR_ATTEMPTS
) -> MazeBatch:
    """``count`` Searchformer A* tasks of side ``size``, drawn layout after layout.

    Each layout contributes all its unique accepted tasks (up to ``attempts``; Searchformer used
    100, which gives many tasks per layout). ``layout_ids`` records the layout of each task; split
    train/test by layout. The batch is cut at exactly ``count`` tasks.
    """
    n = check_size(size)
    b = check_int_range("count", count, 1, None)
    attempts = check_int_range("attempts", attempts, 1, None)
    rng = _check_rng(rng)
    walls_out, starts, goals, plans, layout = [], [], [], [], []
    layout_id = 0
    while len(starts) < b:
        walls = sample_wall_layout(n, rng)
        for start, goal, plan in astar_tasks_for_layout(walls, rng, attempts):
            walls_out.append(walls)
            starts.append(start)
            goals.append(goal)
            plans.append(plan)
            layout.append(layout_id)
        layout_id += 1
    walls_arr = np.stack(walls_out[:b])
    lengths = np.array([len(p) for p in plans[:b]], dtype=np.int64)
    paths = np.full((b, int(lengths.max()), 2), -1, dtype=PATH_DTYPE)
    for i, p in enumerate(plans[:b]):
        paths[i, : len(p)] = p
    return MazeBatch(
        kind="astar",
        size=n,
        connections=walls_to_connections(walls_arr),
        walls=walls_arr,
        starts=np.array(starts[:b], dtype=np.int64),
        goals=np.array(goals[:b], dtype=np.int64),
        paths=paths,
        path_lengths=lengths,
        layout_ids=np.array(layout[:b], dtype=np.int64),
    )


def generate_mazes(kind: str, size: int, count: int, rng: np.random.Generator) -> MazeBatch:
    """``count`` mazes of ``kind`` (``"dfs"`` or ``"astar"``) and side ``size`` (3..30)."""
    check_choice("kind", kind, KINDS)
    return generate_dfs(size, count, rng) if kind == "dfs" else generate_astar(size, count, rng)


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


# --------------------------------------------------------------------------------------------------
# Single mazes from parts, and path checks
# --------------------------------------------------------------------------------------------------


def _check_cell(name: str, cell: Sequence[int], n: int) -> tuple[int, int]:
    try:
        r, c = (int(v) for v in cell)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (row, col) pair; got {cell!r}") from None
    check_int_range(f"{name}[0] (row)", r, 0, n - 1)
    check_int_range(f"{name}[1] (col)", c, 0, n - 1)
    return r, c


def make_maze(
    kind: str,
    connections: np.ndarray,
    start: Sequence[int],
    goal: Sequence[int],
    walls: np.ndarray | None = None,
) -> Maze:
    """Build a validated :class:`Maze` and compute its target path.

    DFS mazes get the BFS path, A* mazes the deterministic A* plan (connections are then derived
    from ``walls``; pass ``connections=None``).

    Raises:
        ValueError: unknown kind, a size outside 3..30, start == goal, start or goal on a wall, or
            the goal unreachable.
    """
    check_choice("kind", kind, KINDS)
    if kind == "astar":
        if walls is None:
            raise ValueError("walls must be given for an A* maze")
        walls = np.asarray(walls, dtype=bool)
        connections = walls_to_connections(walls)
    conn = np.asarray(connections, dtype=bool)
    if conn.ndim != 3 or conn.shape[0] != 2 or conn.shape[1] != conn.shape[2]:
        raise ValueError(f"connections must have shape (2, n, n); got {conn.shape}")
    n = check_size(conn.shape[1], "grid size n (connections.shape[1])")
    walls = np.zeros((n, n), dtype=bool) if walls is None else np.asarray(walls, dtype=bool)
    if walls.shape != (n, n):
        raise ValueError(f"walls must have shape ({n}, {n}); got {walls.shape}")
    start = _check_cell("start", start, n)
    goal = _check_cell("goal", goal, n)
    if start == goal:
        raise ValueError(f"start and goal must differ; both are {start}")
    for name, cell in (("start", start), ("goal", goal)):
        if walls[cell]:
            raise ValueError(f"{name} must be a free cell; {cell} is a wall")
    if kind == "astar":
        path = astar_plan(walls, start, goal)
        if path is None:
            raise ValueError(f"goal {goal} is unreachable from start {start}")
    else:
        paths, lengths = shortest_paths(conn[None], np.array([start]), np.array([goal]))
        path = paths[0, : lengths[0]]
    return Maze(kind=kind, connections=conn, walls=walls, start=start, goal=goal, path=path)


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


def is_shortest_path(maze: Maze, path: np.ndarray | Sequence[Sequence[int]]) -> bool:
    """True when ``path`` is a valid walk (:func:`is_valid_walk`) of optimal length (BFS)."""
    if not is_valid_walk(maze, path):
        return False
    dist = bfs_distances(maze.connections[None], np.array([maze.start]), np.array([maze.goal]))
    return len(path) == int(dist[0, maze.goal[0], maze.goal[1]]) + 1
