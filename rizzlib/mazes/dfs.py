"""Batched DFS mazes (recursive backtracker) and batched BFS shortest paths, with numpy.

A ``"dfs"`` maze is a perfect maze: every cell is open and the passages form a spanning tree of the
``n x n`` grid (layout of ``connections`` in :mod:`rizzlib.mazes.maze`). The path between two cells
is unique; :func:`generate_dfs` finds it by climbing the DFS tree (:func:`tree_paths`), and
:func:`shortest_paths` finds a shortest path in any maze by BFS (used for single mazes and by tests).

Randomness comes only from the ``numpy.random.Generator`` passed in; the same seed and arguments
give the same mazes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rizzlib.core.validate import check_int_range
from rizzlib.mazes.maze import (
    PATH_DTYPE,
    Maze,
    MazeBatch,
    check_rng,
    check_size,
    is_valid_walk,
    sample_endpoints,
)

#: DFS mazes are carved this many at a time (memory stays O(chunk * n^2))
DFS_CHUNK = 1024


# --------------------------------------------------------------------------------------------------
# DFS (recursive backtracker), batched
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
        roots = check_rng(rng).integers(n_cells, size=b)
    if uniforms is None:
        uniforms = check_rng(rng).random((b, n_cells - 1))
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


def generate_dfs(size: int, count: int, rng: np.random.Generator) -> MazeBatch:
    """``count`` DFS mazes of side ``size`` with uniform distinct start/goal and their (unique) paths.

    Returns:
        a :class:`MazeBatch` of kind ``"dfs"``; ``paths`` are the unique (hence shortest) paths,
        found by climbing the DFS tree (:func:`tree_paths`); tests check them against BFS.
    """
    n = check_size(size)
    b = check_int_range("count", count, 1, None)
    rng = check_rng(rng)
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


def is_shortest_path(maze: Maze, path: np.ndarray | Sequence[Sequence[int]]) -> bool:
    """True when ``path`` is a valid walk (:func:`is_valid_walk`) of optimal length (BFS)."""
    if not is_valid_walk(maze, path):
        return False
    dist = bfs_distances(maze.connections[None], np.array([maze.start]), np.array([maze.goal]))
    return len(path) == int(dist[0, maze.goal[0], maze.goal[1]]) + 1
