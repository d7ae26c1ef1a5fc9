"""Searchformer A* mazes: random wall layouts, the deterministic A* plan, and task sampling.

An ``"astar"`` maze is a grid where 30-50 % of the *cells* are walls and every pair of 4-adjacent
free cells is connected. Start and goal are distinct free cells whose A* plan (:func:`astar_plan`)
has at least ``n`` cells; each wall layout yields many tasks, recorded in ``layout_ids``.

Randomness comes only from the ``numpy.random.Generator`` passed in; the same seed and arguments
give the same mazes.
"""

from __future__ import annotations

import heapq

import numpy as np

from rizzlib.core.validate import check_int_range
from rizzlib.mazes.maze import (
    PATH_DTYPE,
    MazeBatch,
    check_rng,
    check_size,
    sample_endpoints,
    walls_to_connections,
)

#: Searchformer draws this many (start, goal) pairs per wall layout.
ASTAR_ATTEMPTS = 100


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
    rng = check_rng(rng)
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
