"""Seeded maze generators and shortest paths: the entry point that picks a generator by kind.

Two kinds of maze live on an ``n x n`` grid of cells ``(row, col)``, ``3 <= n <= 30``: ``"dfs"``
perfect mazes (:mod:`rizzlib.mazes.dfs`) and ``"astar"`` Searchformer grids
(:mod:`rizzlib.mazes.astar`); both share the data types of :mod:`rizzlib.mazes.maze`. This module
builds either kind, in batches (:func:`generate_mazes`) or one from its parts (:func:`make_maze`),
and re-exports the names of those three modules so ``rizzlib.mazes.generate.X`` keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rizzlib.core.validate import check_choice, check_int_range

# re-exports (``X as X`` marks them as public for linters and keeps them off this module's API page)
from rizzlib.mazes.astar import ASTAR_ATTEMPTS as ASTAR_ATTEMPTS
from rizzlib.mazes.astar import astar_plan as astar_plan
from rizzlib.mazes.astar import astar_tasks_for_layout as astar_tasks_for_layout
from rizzlib.mazes.astar import generate_astar as generate_astar
from rizzlib.mazes.astar import sample_wall_layout as sample_wall_layout
from rizzlib.mazes.dfs import DFS_CHUNK as DFS_CHUNK
from rizzlib.mazes.dfs import _dfs_tree as _dfs_tree
from rizzlib.mazes.dfs import _parents_to_connections as _parents_to_connections
from rizzlib.mazes.dfs import bfs_distances as bfs_distances
from rizzlib.mazes.dfs import dfs_connections as dfs_connections
from rizzlib.mazes.dfs import generate_dfs as generate_dfs
from rizzlib.mazes.dfs import is_shortest_path as is_shortest_path
from rizzlib.mazes.dfs import neighbour_table as neighbour_table
from rizzlib.mazes.dfs import shortest_paths as shortest_paths
from rizzlib.mazes.dfs import tree_paths as tree_paths
from rizzlib.mazes.maze import KINDS as KINDS
from rizzlib.mazes.maze import MAX_SIZE as MAX_SIZE
from rizzlib.mazes.maze import MIN_SIZE as MIN_SIZE
from rizzlib.mazes.maze import PATH_DTYPE as PATH_DTYPE
from rizzlib.mazes.maze import Maze as Maze
from rizzlib.mazes.maze import MazeBatch as MazeBatch
from rizzlib.mazes.maze import check_rng as check_rng
from rizzlib.mazes.maze import check_size as check_size
from rizzlib.mazes.maze import connections_to_edges as connections_to_edges
from rizzlib.mazes.maze import edges_to_connections as edges_to_connections
from rizzlib.mazes.maze import is_valid_walk as is_valid_walk
from rizzlib.mazes.maze import sample_endpoints as sample_endpoints
from rizzlib.mazes.maze import split_train_val as split_train_val
from rizzlib.mazes.maze import stack_mazes as stack_mazes
from rizzlib.mazes.maze import task_keys as task_keys
from rizzlib.mazes.maze import walls_to_connections as walls_to_connections

#: the old private name of :func:`rizzlib.mazes.maze.check_rng`
_check_rng = check_rng


def generate_mazes(kind: str, size: int, count: int, rng: np.random.Generator) -> MazeBatch:
    """``count`` mazes of ``kind`` (``"dfs"`` or ``"astar"``) and side ``size`` (3..30)."""
    check_choice("kind", kind, KINDS)
    return generate_dfs(size, count, rng) if kind == "dfs" else generate_astar(size, count, rng)


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
