"""Slow, obviously-correct twins of the maze code, in plain Python: one maze at a time, lists and
dicts, no vectorisation. Tests and graded checks compare the fast versions against these.

Cells are ``(row, col)`` tuples; passages use the ``(2, n, n)`` layout of
:mod:`rizzlib.mazes.generate` (``[0, r, c]``: ``(r, c)-(r+1, c)``; ``[1, r, c]``: ``(r, c)-(r, c+1)``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

Cell = tuple[int, int]


def grid_neighbours(cell: Cell, n: int) -> list[Cell]:
    """In-grid 4-neighbours of ``cell`` in the order up, down, left, right."""
    r, c = cell
    out = [(r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)]
    return [(rr, cc) for rr, cc in out if 0 <= rr < n and 0 <= cc < n]


def is_open(connections: np.ndarray, a: Cell, b: Cell) -> bool:
    """True when the passage between 4-adjacent cells ``a`` and ``b`` is open."""
    (r1, c1), (r2, c2) = a, b
    if abs(r1 - r2) + abs(c1 - c2) != 1:
        return False
    if c1 == c2:
        return bool(connections[0, min(r1, r2), c1])
    return bool(connections[1, r1, min(c1, c2)])


def open_neighbours(connections: np.ndarray, cell: Cell) -> list[Cell]:
    """Neighbours reachable from ``cell`` through an open passage (up, down, left, right)."""
    n = connections.shape[1]
    return [nb for nb in grid_neighbours(cell, n) if is_open(connections, cell, nb)]


def dfs_maze_reference(size: int, root: int, uniforms: Sequence[float]) -> np.ndarray:
    """The recursive backtracker exactly as maze-dataset's ``gen_dfs`` describes it.

    Pop the top cell; if it has unvisited neighbours, push it back when it has more than one, pick
    one (the ``floor(u * k)``-th of the ``k`` unvisited ones in the order up, down, left, right,
    with ``u`` the next unused entry of ``uniforms``), open the passage, mark and push it.

    Args:
        size: grid side ``n``.
        root: flat index ``r * n + c`` of the first cell.
        uniforms: at least ``n*n - 1`` numbers in ``[0, 1)``.

    Returns:
        ``(2, n, n)`` bool passages.
    """
    n = size
    conn = np.zeros((2, n, n), dtype=bool)
    start = divmod(int(root), n)
    visited = {start}
    stack = [start]
    used = 0
    while stack and len(visited) < n * n:
        cell = stack.pop()
        unvisited = [nb for nb in grid_neighbours(cell, n) if nb not in visited]
        if not unvisited:
            continue
        if len(unvisited) > 1:
            stack.append(cell)
        nxt = unvisited[int(uniforms[used] * len(unvisited))]
        used += 1
        (r1, c1), (r2, c2) = cell, nxt
        if c1 == c2:
            conn[0, min(r1, r2), c1] = True
        else:
            conn[1, r1, min(c1, c2)] = True
        visited.add(nxt)
        stack.append(nxt)
    return conn


def bfs_distances_reference(connections: np.ndarray, start: Cell) -> dict[Cell, int]:
    """Steps from ``start`` to every reachable cell (a plain queue)."""
    dist = {tuple(start): 0}
    queue = deque([tuple(start)])
    while queue:
        cell = queue.popleft()
        for nb in open_neighbours(connections, cell):
            if nb not in dist:
                dist[nb] = dist[cell] + 1
                queue.append(nb)
    return dist


def bfs_path_reference(connections: np.ndarray, start: Cell, goal: Cell) -> list[Cell] | None:
    """A shortest path from ``start`` to ``goal`` (both included), or None when unreachable."""
    start, goal = tuple(start), tuple(goal)
    parent: dict[Cell, Cell | None] = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        if cell == goal:
            break
        for nb in open_neighbours(connections, cell):
            if nb not in parent:
                parent[nb] = cell
                queue.append(nb)
    if goal not in parent:
        return None
    path = [goal]
    while parent[path[-1]] is not None:
        path.append(parent[path[-1]])
    return path[::-1]


def is_spanning_tree_reference(connections: np.ndarray) -> bool:
    """True when the open passages connect all ``n^2`` cells with exactly ``n^2 - 1`` of them."""
    n = connections.shape[1]
    return (
        int(np.sum(connections)) == n * n - 1 and len(bfs_distances_reference(connections, (0, 0))) == n * n
    )


def astar_plan_reference(walls: np.ndarray, start: Cell, goal: Cell) -> list[Cell] | None:
    """Searchformer's deterministic A*, written as directly as possible.

    The open set is a dict scanned for the minimum ``(f, hash)`` each round (hash = ``x + 100000 y``
    with ``x`` = column, ``y`` = row); children come in Searchformer's order ``(x, y+1), (x, y-1),
    (x-1, y), (x+1, y)``; an open or closed child with cost ``<=`` the new cost is skipped, a costlier
    open one is replaced.
    """
    n = len(walls)
    start, goal = (int(start[0]), int(start[1])), (int(goal[0]), int(goal[1]))

    def h(cell: Cell) -> int:
        return abs(cell[0] - goal[0]) + abs(cell[1] - goal[1])

    def key(cell: Cell, g: int) -> tuple[int, int]:
        row, col = cell
        return (g + h(cell), col + 100000 * row)

    open_set: dict[Cell, tuple[int, Cell | None]] = {start: (0, None)}  # cell -> (g, parent)
    closed: dict[Cell, tuple[int, Cell | None]] = {}
    while open_set:
        cell = min(open_set, key=lambda c: key(c, open_set[c][0]))
        g, par = open_set.pop(cell)
        closed[cell] = (g, par)
        if cell == goal:
            path = [cell]
            while closed[path[-1]][1] is not None:
                path.append(closed[path[-1]][1])
            return path[::-1]
        r, c = cell
        for child in ((r + 1, c), (r - 1, c), (r, c - 1), (r, c + 1)):
            if not (0 <= child[0] < n and 0 <= child[1] < n) or walls[child[0]][child[1]]:
                continue
            if child in open_set and open_set[child][0] <= g + 1:
                continue
            if child in closed and closed[child][0] <= g + 1:
                continue
            open_set[child] = (g + 1, cell)
    return None
