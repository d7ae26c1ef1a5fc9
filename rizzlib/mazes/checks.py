"""Graded checks for the chapter 3 notebook (mazes, MLM-U vs next-token prediction).

Each ``check_*`` calls the student's function on fresh random inputs and compares it with the
library (:mod:`rizzlib.mazes`) or, where random choices may legitimately differ, checks the
properties the answer must have. A ``NotImplementedError`` from the blank exercise propagates.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from rizzlib.core.grading import compare_with_reference, fail, passed
from rizzlib.mazes.decode import greedy_decode
from rizzlib.mazes.generate import generate_dfs, is_shortest_path, make_maze
from rizzlib.mazes.model import MLMUModel, ModelConfig
from rizzlib.mazes.objectives import masked_mean_cross_entropy, visible_from_uniforms
from rizzlib.mazes.reference import grid_neighbours, is_open, is_spanning_tree_reference
from rizzlib.mazes.tokens import maze_to_tokens


def _seed(seed: int | None) -> int:
    return int(np.random.SeedSequence().entropy % (2**31)) if seed is None else seed


def is_dfs_tree(connections: np.ndarray) -> bool:
    """True when the passages form a spanning tree that some depth-first search of the grid yields:
    for some root, every grid edge that is *not* a passage joins an ancestor and a descendant."""
    n = connections.shape[1]
    if not is_spanning_tree_reference(connections):
        return False
    cells = [(r, c) for r in range(n) for c in range(n)]
    closed = [(a, b) for a in cells for b in grid_neighbours(a, n) if a < b and not is_open(connections, a, b)]
    for root in cells:
        parent, order = {root: None}, [root]
        for cell in order:  # walk the tree from the root
            for nb in grid_neighbours(cell, n):
                if nb not in parent and is_open(connections, cell, nb):
                    parent[nb] = cell
                    order.append(nb)

        def ancestors(cell, parent=parent):
            out = set()
            while cell is not None:
                out.add(cell)
                cell = parent[cell]
            return out

        anc = {cell: ancestors(cell) for cell in cells}
        if all(a in anc[b] or b in anc[a] for a, b in closed):
            return True
    return False


def check_dfs_maze(carve_dfs_maze: Callable, seed: int | None = None) -> None:
    """``carve_dfs_maze(size, rng) -> (2, n, n) bool``: a random depth-first-search spanning tree."""
    name = "carve_dfs_maze"
    seed = _seed(seed)
    rng = np.random.default_rng(seed)
    seen = []
    for size in (3, 4, 5, 5, 6, 6):
        conn = carve_dfs_maze(size, np.random.default_rng(rng.integers(2**31)))
        conn = np.asarray(conn)
        if conn.shape != (2, size, size) or conn.dtype != bool:
            fail(name, f"size {size}: expected a bool array of shape (2, {size}, {size}), got {conn.dtype} {conn.shape} (seed={seed})")
        n_open = int(conn.sum())
        if not is_spanning_tree_reference(conn):
            fail(name, f"size {size}: {n_open} open passages (a spanning tree has {size * size - 1}) or not all cells connected (seed={seed})")
        if not is_dfs_tree(conn):
            fail(name, f"size {size}: a spanning tree, but no depth-first search could carve it; did you use a random walk or Kruskal? (seed={seed})")
        seen.append(conn.tobytes())
    if len(set(seen)) < 4:
        fail(name, f"6 mazes from 6 different generators gave only {len(set(seen))} distinct mazes: use the rng (seed={seed})")
    passed(name, "6 random mazes are depth-first spanning trees")


def check_bfs_path(bfs_shortest_path: Callable, seed: int | None = None) -> None:
    """``bfs_shortest_path(connections, start, goal) -> (L, 2) int``: a shortest path, both ends included.

    Tested on grids with a few wall cells (15 %), which have loops and several shortest paths, so
    any shortest path is accepted."""
    name = "bfs_shortest_path"
    seed = _seed(seed)
    rng = np.random.default_rng(seed)
    for trial in range(6):
        maze = _open_wall_maze(int(rng.integers(6, 11)), rng)
        got = bfs_shortest_path(maze.connections.copy(), maze.start, maze.goal)
        if got is None:
            fail(name, f"trial {trial + 1}: returned None but {maze.goal} is reachable from {maze.start} (seed={seed})")
        path = np.asarray(got).reshape(-1, 2)
        if not is_shortest_path(maze, path):
            fail(
                name,
                f"trial {trial + 1} (start {maze.start}, goal {maze.goal}): the path is not a walk from start to goal "
                f"of the optimal length {len(maze.path)} cells (got {len(path)} cells) (seed={seed})",
            )
    passed(name, "6 random grids with loops, all paths valid and shortest")


def _open_wall_maze(n: int, rng: np.random.Generator):
    """A grid with 15 % wall cells and a reachable start/goal pair at least n cells apart."""
    while True:
        walls = rng.random((n, n)) < 0.15
        free = np.argwhere(~walls)
        a, b = free[rng.choice(len(free), 2, replace=False)]
        try:
            maze = make_maze("astar", None, tuple(a), tuple(b), walls=walls)
        except ValueError:  # unreachable goal: draw again
            continue
        if len(maze.path) >= n:
            return maze


def _random_dfs_maze(rng: np.random.Generator):
    return generate_dfs(int(rng.integers(3, 7)), 1, rng)[0]


def check_tokenize(maze_tokens: Callable, seed: int | None = None) -> None:
    """``maze_tokens(maze) -> list[str]``: prompt and answer tokens, edges in ``maze.edges()`` order."""
    compare_with_reference(
        "maze_tokens",
        maze_tokens,
        lambda maze: maze_to_tokens(maze, None),
        lambda rng: ((_random_dfs_maze(rng),), {}),
        seed=seed,
    )


def _mask_inputs(rng: np.random.Generator):
    B, T = int(rng.integers(2, 6)), int(rng.integers(8, 20))
    start = rng.integers(2, T - 3, size=B)
    end = np.minimum(start + rng.integers(2, 8, size=B), T)
    pos = np.arange(T)[None, :]
    valid = torch.from_numpy(pos < end[:, None])
    answer = torch.from_numpy((pos >= start[:, None]) & (pos < end[:, None]))
    rate = torch.from_numpy(rng.random(B).astype(np.float32))
    u = torch.from_numpy(rng.random((B, T)).astype(np.float32))
    return (answer, valid, rate, u), {}


def check_mlmu_mask(mlmu_visible: Callable, seed: int | None = None) -> None:
    """``mlmu_visible(answer, valid, rate, u) -> visible (B, T) bool``."""
    compare_with_reference("mlmu_visible", mlmu_visible, visible_from_uniforms, _mask_inputs, seed=seed)


def _loss_inputs(rng: np.random.Generator):
    B, Q, V = int(rng.integers(2, 5)), int(rng.integers(3, 9)), int(rng.integers(5, 12))
    logits = torch.from_numpy(rng.normal(size=(B, Q, V)).astype(np.float32) * 2)
    targets = torch.from_numpy(rng.integers(0, V, size=(B, Q)))
    masked = torch.from_numpy(rng.random((B, Q)) < rng.random((B, 1)))
    masked[0, 0], masked[1, :] = True, True  # rows with different counts: token mean != row mean
    return (logits, targets, masked), {}


def check_mlmu_loss(mlmu_loss: Callable, seed: int | None = None) -> None:
    """``mlmu_loss(logits, targets, masked) -> scalar``: mean -log p over all masked tokens in the batch."""
    compare_with_reference("mlmu_loss", mlmu_loss, masked_mean_cross_entropy, _loss_inputs, seed=seed, rtol=1e-4, atol=1e-5)


def _decode_inputs(rng: np.random.Generator):
    V = 16
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng.integers(2**31)))
        model = MLMUModel(ModelConfig(V, "mlmu", d_model=32, n_heads=4, n_blocks=2)).eval()
        with torch.no_grad():  # louder weights so the argmax depends on the context
            for p in model.parameters():
                p.mul_(8.0) if p.dim() >= 2 else None
    B, P = int(rng.integers(2, 5)), int(rng.integers(3, 8))
    prompt = torch.from_numpy(rng.integers(2, V, size=(B, P)))
    return (model, prompt, int(rng.integers(3, 7))), {"stop_id": 1, "pad_id": 0}


def check_greedy_decode(greedy_decode_mlmu: Callable, seed: int | None = None) -> None:
    """``greedy_decode_mlmu(model, prompt, n_steps, stop_id, pad_id) -> (B, n_steps)`` left to right."""
    compare_with_reference("greedy_decode_mlmu", greedy_decode_mlmu, greedy_decode, _decode_inputs, seed=seed)
