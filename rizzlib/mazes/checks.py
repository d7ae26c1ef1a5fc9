"""Graded checks for the chapter 3 notebook (mazes, MLM-U vs next-token prediction).

Each ``check_*`` calls the student's function on fixed edge cases (the same every run), then on
fresh random inputs, and compares it with the library (:mod:`rizzlib.mazes`) or, where random
choices may legitimately differ, checks the properties the answer must have. A
``NotImplementedError`` from the blank exercise propagates.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from rizzlib.core.grading import call_student, compare_with_reference, fail, passed
from rizzlib.mazes.decode import greedy_decode
from rizzlib.mazes.generate import generate_dfs, make_maze
from rizzlib.mazes.maze import walls_to_connections
from rizzlib.mazes.model import MLMUModel, ModelConfig
from rizzlib.mazes.objectives import masked_mean_cross_entropy, visible_from_uniforms
from rizzlib.mazes.reference import grid_neighbours, is_open, is_spanning_tree_reference, open_neighbours
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
    """``carve_dfs_maze(size, rng) -> (2, n, n) bool``: a random depth-first-search spanning tree.

    Every run: 8 mazes of sizes 3 to 6 must be depth-first spanning trees; the same generator state
    must give the same maze (use only the ``rng`` you are given); and 24 mazes of size 4 from
    different generators must hold at least 17 different mazes (a layout that ignores ``rng``, or
    a search that always tries the neighbours in the same order, makes at most 16, one per start
    cell; a random depth-first search makes ~24)."""
    name = "carve_dfs_maze"
    seed = _seed(seed)
    rng = np.random.default_rng(seed)
    again = f"check_dfs_maze({getattr(carve_dfs_maze, '__name__', 'carve_dfs_maze')}, seed={seed})"

    def carve(size: int, child_seed: int, case: str) -> np.ndarray:
        conn = call_student(name, carve_dfs_maze, (size, np.random.default_rng(child_seed)), case=case,
                            arg_names=("size", "rng"), reproduce=again)
        conn = np.asarray(conn)
        if conn.shape != (2, size, size) or conn.dtype != bool:
            fail(name, f"expected a bool array of shape (2, {size}, {size}), got {conn.dtype} {conn.shape}",
                 case=case, reproduce=again)
        return conn

    for k, size in enumerate((3, 3, 4, 4, 5, 5, 6, 6)):
        case = f"maze {k + 1} of 8 (size {size})"
        conn = carve(size, int(rng.integers(2**31)), case)
        if not is_spanning_tree_reference(conn):
            fail(name, f"{int(conn.sum())} open passages (a spanning tree has {size * size - 1}) or not all cells "
                 "connected", case=case, reproduce=again)
        if not is_dfs_tree(conn):
            fail(name, "a spanning tree, but no depth-first search could carve it; did you use a random walk "
                 "or Kruskal?", case=case, reproduce=again)
    child = int(rng.integers(2**31))
    first, second = carve(5, child, "size 5, first call"), carve(5, child, "size 5, same generator state")
    if not np.array_equal(first, second):
        fail(name, "two generators in the same state gave different mazes: draw every random choice from the "
             "rng argument (not from random or np.random)", case="size 5, called twice", reproduce=again)
    mazes = {carve(4, int(rng.integers(2**31)), f"variety: maze {k + 1} of 24 (size 4)").tobytes() for k in range(24)}
    if len(mazes) < 17:
        fail(name, f"24 mazes from 24 different generators hold only {len(mazes)} different mazes: choose the "
             "next neighbour at random with rng at every step", case="variety at size 4", reproduce=again)
    passed(name, "8 mazes are depth-first spanning trees, reproducible from the rng and varied")


def _ring(goal: tuple[int, int]):
    """A 3x3 grid whose centre is a wall: a ring of 8 cells with two ways from (0, 0) to ``goal``."""
    walls = np.zeros((3, 3), dtype=bool)
    walls[1, 1] = True
    return walls_to_connections(walls), (0, 0), goal


def _bfs_edge_cases():
    open_grid = np.ones((2, 4, 4), dtype=bool)
    open_grid[0, -1, :] = False  # no passage below the last row
    open_grid[1, :, -1] = False  # none right of the last column
    corridor = np.zeros((2, 3, 3), dtype=bool)  # a serpentine: one path through all 9 cells
    corridor[1, 0, :2] = corridor[1, 2, :2] = corridor[1, 1, :2] = True
    corridor[0, 0, 2] = corridor[0, 1, 0] = True
    return [
        ("start == goal: a path of one cell", (open_grid, (1, 2), (1, 2))),
        ("neighbouring cells", (open_grid, (2, 1), (2, 2))),
        ("ring, goal to the right: two ways round", _ring((0, 1))),
        ("ring, goal below: two ways round", _ring((1, 0))),
        ("open 4x4 grid, opposite corners", (open_grid, (3, 0), (0, 3))),
        ("a single corridor through every cell", (corridor, (0, 0), (2, 2))),
    ]


def _shortest_length(conn: np.ndarray, start, goal) -> int:
    """Cells on a shortest path (plain BFS over open passages)."""
    start, goal = tuple(int(v) for v in start), tuple(int(v) for v in goal)
    dist, frontier = {start: 1}, [start]
    while frontier:
        nxt = []
        for cell in frontier:
            for nb in open_neighbours(conn, cell):
                if nb not in dist:
                    dist[nb] = dist[cell] + 1
                    nxt.append(nb)
        frontier = nxt
    return dist[goal]


def _path_problem(conn: np.ndarray, start, goal, got) -> str | None:
    """Why ``got`` is not a shortest path from start to goal, or None."""
    if got is None:
        return "returned None but the goal is reachable"
    path = np.asarray(got)
    if path.ndim != 2 or path.shape[1:] != (2,) or len(path) == 0 or path.dtype.kind not in "iu":
        return f"expected an (L, 2) integer array, got {path.dtype} {path.shape}"
    cells = [tuple(int(v) for v in rc) for rc in path]
    if cells[0] != tuple(start) or cells[-1] != tuple(goal):
        return f"the path runs from {cells[0]} to {cells[-1]}; it must start at {tuple(start)} and end at {tuple(goal)}"
    for a, b in zip(cells, cells[1:]):
        if b not in open_neighbours(conn, a):
            return f"{a} -> {b} is not an open passage"
    best = _shortest_length(conn, start, goal)
    if len(cells) != best:
        return f"a valid walk of {len(cells)} cells, but the shortest has {best}"
    return None


def check_bfs_path(bfs_shortest_path: Callable, seed: int | None = None) -> None:
    """``bfs_shortest_path(connections, start, goal) -> (L, 2) int``: a shortest path, both ends included.

    Fixed cases first (start == goal, neighbours, a ring with two ways round, an open grid, a single
    corridor), then random grids with 15 % wall cells, which have loops and several shortest paths;
    any shortest path is accepted."""
    name = "bfs_shortest_path"
    seed = _seed(seed)
    rng = np.random.default_rng(seed)
    again = f"check_bfs_path({getattr(bfs_shortest_path, '__name__', 'bfs_shortest_path')}, seed={seed})"
    cases = [(f"edge case {i + 1} ({label})", *inputs) for i, (label, inputs) in enumerate(_bfs_edge_cases())]
    for trial in range(6):
        maze = _open_wall_maze(int(rng.integers(6, 11)), rng)
        cases.append((f"random grid {trial + 1} of 6 (seed={seed})", maze.connections, maze.start, maze.goal))
    for case, conn, start, goal in cases:
        args = (conn.copy(), tuple(start), tuple(goal))
        got = call_student(name, bfs_shortest_path, args, case=case, arg_names=("connections", "start", "goal"),
                           reproduce=again)
        problem = _path_problem(conn, start, goal, got)
        if problem:
            fail(name, problem, case=case, inputs=(args, {}), arg_names=("connections", "start", "goal"), reproduce=again)
    passed(name, f"{len(cases)} grids, all paths valid and shortest")


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


def _tokenize_edge_cases():
    corridor = np.zeros((2, 3, 3), dtype=bool)
    corridor[1, 0, :2] = corridor[1, 1, :2] = corridor[1, 2, :2] = True
    corridor[0, 0, 2] = corridor[0, 1, 0] = True
    comb = np.zeros((2, 3, 3), dtype=bool)
    comb[0, :2, 0] = True
    comb[1, :, :2] = True
    return [
        ("3x3 corridor, start and goal at its ends", (make_maze("dfs", corridor, (0, 0), (2, 2)),), {}),
        ("3x3 corridor, goal next to the start", (make_maze("dfs", corridor, (1, 1), (1, 0)),), {}),
        ("3x3 comb, path doubling back", (make_maze("dfs", comb, (0, 2), (2, 2)),), {}),
    ]


def check_tokenize(maze_tokens: Callable, seed: int | None = None) -> None:
    """``maze_tokens(maze) -> list[str]``: prompt and answer tokens, edges in ``maze.edges()`` order;
    three fixed small mazes, then random DFS mazes of sizes 3 to 6."""
    compare_with_reference(
        "maze_tokens",
        maze_tokens,
        lambda maze: maze_to_tokens(maze, None),
        lambda rng: ((_random_dfs_maze(rng),), {}),
        edge_cases=_tokenize_edge_cases(),
        output_names=("tokens",),
        arg_names=("maze",),
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


def _mask_edge_cases():
    t = torch.tensor
    # rows: [prefix 2, answer 3, padding 1]; the answer draws straddle the rate, one exactly on it
    answer = t([[0, 0, 1, 1, 1, 0], [0, 0, 1, 1, 1, 0]], dtype=torch.bool)
    valid = t([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 0]], dtype=torch.bool)
    u = t([[0.9, 0.1, 0.2, 0.5, 0.7, 0.1], [0.3, 0.3, 0.5, 0.25, 0.75, 0.0]])
    # position 0 inside the answer with a draw that hides it, and a row that is all padding
    answer0 = t([[1, 1, 0, 0], [0, 0, 0, 0]], dtype=torch.bool)
    valid0 = t([[1, 1, 1, 0], [0, 0, 0, 0]], dtype=torch.bool)
    return [
        ("a draw exactly equal to the rate (hidden: u < rate is strict)", (answer, valid, t([0.5, 0.25]), u), {}),
        ("rate 0 hides every answer token, rate 1 shows them all", (answer, valid, t([0.0, 1.0]), u), {}),
        ("position 0 stays visible, even as a hidden answer token or padding",
         (answer0, valid0, t([0.1, 0.5]), t([[0.8, 0.05, 0.3, 0.3], [0.9, 0.9, 0.9, 0.9]])), {}),
    ]


def check_mlmu_mask(mlmu_visible: Callable, seed: int | None = None) -> None:
    """``mlmu_visible(answer, valid, rate, u) -> visible (B, T) bool``; fixed cases (a draw equal to
    the rate, rates 0 and 1, position 0) then random batches."""
    compare_with_reference("mlmu_visible", mlmu_visible, visible_from_uniforms, _mask_inputs, seed=seed,
                           edge_cases=_mask_edge_cases(), output_names=("visible",))


def _loss_inputs(rng: np.random.Generator):
    B, Q, V = int(rng.integers(2, 5)), int(rng.integers(3, 9)), int(rng.integers(5, 12))
    logits = torch.from_numpy(rng.normal(size=(B, Q, V)).astype(np.float32) * 2)
    targets = torch.from_numpy(rng.integers(0, V, size=(B, Q)))
    masked = torch.from_numpy(rng.random((B, Q)) < rng.random((B, 1)))
    masked[0, 0], masked[1, :] = True, True  # rows with different counts: token mean != row mean
    return (logits, targets, masked), {}


def _loss_edge_cases():
    fixed = np.random.default_rng(3)
    logits = torch.from_numpy((fixed.normal(size=(3, 4, 6)) * 2).astype(np.float32))
    targets = torch.from_numpy(fixed.integers(0, 6, size=(3, 4)))
    b = torch.tensor
    return [
        ("one masked token in the batch", (logits, targets, b([[0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]], dtype=torch.bool)), {}),
        ("rows with 1, 4 and 2 masked tokens",
         (logits, targets, b([[1, 0, 0, 0], [1, 1, 1, 1], [0, 1, 0, 1]], dtype=torch.bool)), {}),
        ("everything masked", (logits, targets, torch.ones(3, 4, dtype=torch.bool)), {}),
    ]


def check_mlmu_loss(mlmu_loss: Callable, seed: int | None = None) -> None:
    """``mlmu_loss(logits, targets, masked) -> scalar``: mean -log p over all masked tokens in the batch."""
    compare_with_reference("mlmu_loss", mlmu_loss, masked_mean_cross_entropy, _loss_inputs, seed=seed,
                           edge_cases=_loss_edge_cases(), output_names=("loss",), rtol=1e-4, atol=1e-5)


class ScriptedMLMU(MLMUModel):
    """A stand-in MLM-U model whose greedy choice at answer slot t is ``script[key][t]``, where the
    row's key is its first prompt token: rows then stop (emit ``stop_id``) exactly when the script says.

    Called like the real model, ``model(tokens, visible, query_pos) -> logits (B, Q, V)``.
    """

    def __init__(self, script: dict[int, list[int]], prompt_length: int, vocab_size: int):
        torch.nn.Module.__init__(self)  # no transformer weights: the answers come from the script
        self.script, self.prompt_length, self.vocab_size = script, prompt_length, vocab_size
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, tokens, visible, query_pos):
        B, Q = query_pos.shape
        logits = torch.zeros(B, Q, self.vocab_size)
        for b in range(B):
            row = self.script[int(tokens[b, 0])]
            for q in range(Q):
                t = int(query_pos[b, q]) - self.prompt_length
                logits[b, q, row[t] if 0 <= t < len(row) else 0] = 5.0
        return logits * self.scale


def _decode_edge_cases(stop_id: int = 1, pad_id: int = 0):
    V, P = 8, 3
    script = {
        2: [5, 1, 6, 7, 5, 6, 7, 5],  # stops at step 2, then keeps proposing real tokens
        3: [4, 5, 6, 1, 1, 7, 7, 4],  # stops at step 4
        4: [5, 6, 7, 5, 6, 7, 5, 6],  # never stops
        5: [1, 7, 1, 6, 5, 4, 3, 2],  # stops at the first step
    }
    model = ScriptedMLMU(script, P, V).eval()

    def prompt(keys):
        return torch.tensor([[k, 6, 7] for k in keys])

    kw = {"stop_id": stop_id, "pad_id": pad_id}
    return [
        ("rows stop at different steps; one never stops", (model, prompt([2, 3, 4]), 6), kw),
        ("every row stops before n_steps: the output keeps n_steps columns", (model, prompt([5, 2, 3]), 8), kw),
        ("a single row that stops at once", (model, prompt([5]), 4), kw),
    ]


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
    """``greedy_decode_mlmu(model, prompt, n_steps, stop_id, pad_id) -> (B, n_steps)`` left to right.

    Fixed cases first, with a scripted model whose rows stop at chosen steps (tokens after a row's
    stop must be ``pad_id``; the output keeps ``n_steps`` columns even when every row stopped), then
    random transformers."""
    compare_with_reference("greedy_decode_mlmu", greedy_decode_mlmu, greedy_decode, _decode_inputs, seed=seed,
                           edge_cases=_decode_edge_cases(), output_names=("tokens",),
                           arg_names=("model", "prompt", "n_steps"))
