"""Each graded check passes the library's answer and an independently written right answer on 20
seeds, and fails a library of plausible wrong answers (>= 3 each) on every one of those seeds."""


import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rizzlib.core.grading import CheckFailed, assert_check_grades
from rizzlib.mazes import checks
from rizzlib.mazes.decode import greedy_decode
from rizzlib.mazes.generate import generate_dfs, shortest_paths
from rizzlib.mazes.objectives import masked_mean_cross_entropy, visible_from_uniforms
from rizzlib.mazes.reference import dfs_maze_reference, grid_neighbours, open_neighbours
from rizzlib.mazes.tokens import maze_to_tokens

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def blank(*args, **kwargs):
    raise NotImplementedError("write me")


# ---------------------------------------------------------------- answers: right and plausibly wrong


def dfs_right(size, rng):
    return dfs_maze_reference(size, int(rng.integers(size * size)), rng.random(size * size))


def dfs_random_walk(size, rng):
    """A random walk that stops when stuck: no backtracking, so not every cell is reached."""
    conn = np.zeros((2, size, size), dtype=bool)
    cell, seen = (0, 0), {(0, 0)}
    while True:
        nbs = [nb for nb in grid_neighbours(cell, size) if nb not in seen]
        if not nbs:
            return conn
        nxt = nbs[int(rng.integers(len(nbs)))]
        (r1, c1), (r2, c2) = cell, nxt
        conn[(0, min(r1, r2), c1) if c1 == c2 else (1, r1, min(c1, c2))] = True
        seen.add(nxt)
        cell = nxt


def dfs_kruskal(size, rng):
    """A uniformly random spanning tree order (Kruskal): a spanning tree, but not a DFS tree."""
    conn = np.zeros((2, size, size), dtype=bool)
    root = list(range(size * size))

    def find(i):
        while root[i] != i:
            i = root[i]
        return i

    edges = [(p, r, c) for p in range(2) for r in range(size) for c in range(size) if (r + (p == 0) < size) and (c + (p == 1) < size)]
    for k in rng.permutation(len(edges)):
        p, r, c = edges[k]
        a, b = r * size + c, (r + (p == 0)) * size + c + (p == 1)
        if find(a) != find(b):
            root[find(a)] = find(b)
            conn[p, r, c] = True
    return conn


def dfs_serpentine(size, rng):
    """Ignores rng: the same boustrophedon corridor every time (a DFS tree, but never random)."""
    conn = np.zeros((2, size, size), dtype=bool)
    conn[1, :, : size - 1] = True
    for r in range(size - 1):
        conn[0, r, size - 1 if r % 2 == 0 else 0] = True
    return conn


def _dfs_fixed_order(size, start):
    conn = np.zeros((2, size, size), dtype=bool)
    seen, stack = {start}, [start]
    while stack:
        cell = stack[-1]
        nbs = [nb for nb in grid_neighbours(cell, size) if nb not in seen]
        if not nbs:
            stack.pop()
            continue
        nxt = nbs[0]
        (r1, c1), (r2, c2) = cell, nxt
        conn[(0, min(r1, r2), c1) if c1 == c2 else (1, r1, min(c1, c2))] = True
        seen.add(nxt)
        stack.append(nxt)
    return conn


def dfs_fixed_neighbour_order(size, rng):
    """A random start cell, then always the first unvisited neighbour: one maze per start cell."""
    return _dfs_fixed_order(size, (int(rng.integers(size)), int(rng.integers(size))))


def dfs_global_random(size, rng):
    """A right DFS that draws from Python's global generator instead of the rng it was given."""
    return dfs_maze_reference(size, random.randrange(size * size), [random.random() for _ in range(size * size)])


def dfs_stack_backtracker(size, rng):
    """Right, written independently: an explicit stack, a uniformly random unvisited neighbour."""
    conn = np.zeros((2, size, size), dtype=bool)
    start = (int(rng.integers(size)), int(rng.integers(size)))
    seen, stack = {start}, [start]
    while stack:
        r, c = stack[-1]
        nbs = [(r + dr, c + dc) for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0))
               if 0 <= r + dr < size and 0 <= c + dc < size and (r + dr, c + dc) not in seen]
        if not nbs:
            stack.pop()
            continue
        nr, nc = nbs[int(rng.integers(len(nbs)))]
        conn[(0, min(r, nr), c) if nc == c else (1, r, min(c, nc))] = True
        seen.add((nr, nc))
        stack.append((nr, nc))
    return conn


def bfs_right(connections, start, goal):
    """Right, written independently: a BFS over open passages with a parent map."""
    n = connections.shape[1]
    start, goal = tuple(int(v) for v in start), tuple(int(v) for v in goal)
    parent, frontier = {start: None}, [start]
    while goal not in parent:
        nxt = []
        for r, c in frontier:
            for (nr, nc), ok in (((r + 1, c), r + 1 < n and connections[0, r, c]), ((r - 1, c), r > 0 and connections[0, r - 1, c]),
                                 ((r, c + 1), c + 1 < n and connections[1, r, c]), ((r, c - 1), c > 0 and connections[1, r, c - 1])):
                if ok and (nr, nc) not in parent:
                    parent[(nr, nc)] = (r, c)
                    nxt.append((nr, nc))
        frontier = nxt
    path = [goal]
    while parent[path[-1]] is not None:
        path.append(parent[path[-1]])
    return np.array(path[::-1])


def bfs_library(connections, start, goal):
    paths, lengths = shortest_paths(connections[None], np.array([start]), np.array([goal]))
    return paths[0, : lengths[0]]


def dfs_path(connections, start, goal):
    """Depth-first path search: reaches the goal, but not by a shortest path in mazes with loops."""
    start, goal = tuple(start), tuple(goal)
    parent, stack = {start: None}, [start]
    while stack:
        cell = stack.pop()
        if cell == goal:
            break
        for nb in open_neighbours(connections, cell):
            if nb not in parent:
                parent[nb] = cell
                stack.append(nb)
    path = [goal]
    while parent[path[-1]] is not None:
        path.append(parent[path[-1]])
    return np.array(path[::-1])


def bfs_without_start(connections, start, goal):
    return bfs_right(connections, start, goal)[1:]


def bfs_reversed(connections, start, goal):
    return bfs_right(connections, start, goal)[::-1]


def bfs_start_and_goal_twice(connections, start, goal):
    """Writes start and goal explicitly around the inner cells: start == goal gives two cells."""
    inner = bfs_right(connections, start, goal)[1:-1]
    return np.concatenate([np.array([start]), inner.reshape(-1, 2), np.array([goal])])


def bfs_blocks_walls_in_place(connections, start, goal):
    """Right path, but closes the passages it used in the caller's array."""
    path = bfs_right(connections, start, goal)
    connections[:] = False
    return path


def tokens_right(maze):
    """Right, written independently."""
    def cell(rc):
        return f"({int(rc[0])},{int(rc[1])})"
    out = ["<ADJLIST_START>"]
    for a, b in np.asarray(maze.edges()):
        out += [cell(a), cell(b), ";"]
    out += ["<ADJLIST_END>", "<ORIGIN_START>", cell(maze.start), "<ORIGIN_END>", "<TARGET_START>", cell(maze.goal),
            "<TARGET_END>", "<PATH_START>", *[cell(rc) for rc in maze.path], "<PATH_END>"]
    return out


def tokens_without_separators(maze):
    return [t for t in maze_to_tokens(maze, None) if t != ";"]


def tokens_pairs_reversed(maze):
    """Writes every passage as (b, a) instead of (a, b)."""
    toks = tokens_right(maze)
    end = toks.index("<ADJLIST_END>")
    for i in range(1, end, 3):
        toks[i], toks[i + 1] = toks[i + 1], toks[i]
    return toks


def tokens_path_without_origin(maze):
    toks = tokens_right(maze)
    i = toks.index("<PATH_START>")
    return toks[: i + 1] + toks[i + 2 :]


def tokens_with_space(maze):
    return [t.replace(",", ", ") for t in tokens_right(maze)]


def visible_right(answer, valid, rate, u):
    """Right, written independently (numpy)."""
    a, v, r, uu = (x.numpy() for x in (answer, valid, rate, u))
    out = np.where(a, uu < r[:, None], v)
    out[:, 0] = True
    return torch.from_numpy(out)


def visible_with_padding(answer, valid, rate, u):
    out = ~answer | (u < rate[:, None])
    out[:, 0] = True
    return out


def visible_reversed(answer, valid, rate, u):
    out = (valid & ~answer) | (answer & (u >= rate[:, None]))
    out[:, 0] = True
    return out


def visible_forgets_position_0(answer, valid, rate, u):
    return (valid & ~answer) | (answer & (u < rate[:, None]))


def visible_at_tie(answer, valid, rate, u):
    """u <= rate: a draw equal to the rate shows the token."""
    out = (valid & ~answer) | (answer & (u <= rate[:, None]))
    out[:, 0] = True
    return out


def loss_right(logits, targets, masked):
    """Right, written independently: log-softmax, gather, masked mean."""
    lp = torch.log_softmax(logits.double(), -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return -(lp * masked).sum() / masked.sum()


def loss_per_row_mean(logits, targets, masked):
    nll = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none").view(targets.shape)
    return ((nll * masked).sum(1) / masked.sum(1).clamp(min=1)).mean()


def loss_unmasked_mean(logits, targets, masked):
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def loss_sum(logits, targets, masked):
    nll = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none").view(targets.shape)
    return (nll * masked).sum()


def loss_softmax_wrong_axis(logits, targets, masked):
    lp = torch.log_softmax(logits, 1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return -(lp * masked).sum() / masked.sum()


@torch.no_grad()
def decode_right(model, prompt, n_steps, stop_id, pad_id):
    """Right, written independently: a growing list of columns, a finished flag per row."""
    B, P = prompt.shape
    buf = torch.cat([prompt, torch.full((B, n_steps), pad_id, dtype=prompt.dtype)], 1)
    finished = torch.zeros(B, dtype=torch.bool)
    for t in range(n_steps):
        vis = torch.arange(P + n_steps)[None, :].expand(B, -1) < P + t
        tok = model(buf, vis, torch.full((B, 1), P + t)).squeeze(1).argmax(-1)
        buf[:, P + t] = torch.where(finished, torch.full_like(tok, pad_id), tok)
        finished = finished | (tok == stop_id)
    return buf[:, P:]


def decode_one_shot(model, prompt, n_steps, stop_id, pad_id):
    """Every position predicted at once from the prompt only (no left-to-right feedback)."""
    B, P = prompt.shape
    buf = torch.cat([prompt, prompt.new_full((B, n_steps), pad_id)], 1)
    visible = torch.zeros_like(buf, dtype=torch.bool)
    visible[:, :P] = True
    with torch.no_grad():
        return model(buf, visible, torch.arange(P, P + n_steps).expand(B, -1)).argmax(-1)


@torch.no_grad()
def _decode(model, prompt, n_steps, stop_id, pad_id, stop_rows=True, trim=False, stop_at_any=False):
    B, P = prompt.shape
    buf = torch.cat([prompt, prompt.new_full((B, n_steps), pad_id)], 1)
    done = torch.zeros(B, dtype=torch.bool)
    for t in range(n_steps):
        vis = torch.zeros_like(buf, dtype=torch.bool)
        vis[:, : P + t] = True
        tok = model(buf, vis, torch.full((B, 1), P + t))[:, 0].argmax(-1)
        buf[:, P + t] = torch.where(done, torch.full_like(tok, pad_id), tok) if stop_rows else tok
        done |= tok == stop_id
        if trim and bool(done.all()):
            return buf[:, P : P + t + 1]
        if stop_at_any and bool(done.any()):
            break
    return buf[:, P:]


def decode_no_stopping(model, prompt, n_steps, stop_id, pad_id):
    """Writes every step's argmax; nothing happens after a row emits stop_id."""
    return _decode(model, prompt, n_steps, stop_id, pad_id, stop_rows=False)


def decode_trims(model, prompt, n_steps, stop_id, pad_id):
    """Returns only the columns decoded before every row had stopped."""
    return _decode(model, prompt, n_steps, stop_id, pad_id, trim=True)


def decode_stops_when_any_row_stops(model, prompt, n_steps, stop_id, pad_id):
    return _decode(model, prompt, n_steps, stop_id, pad_id, stop_at_any=True)


CASES = [
    (checks.check_dfs_maze, dfs_stack_backtracker,
     [lambda size, rng: np.ones((2, size, size), bool), dfs_random_walk, dfs_kruskal, dfs_serpentine,
      dfs_fixed_neighbour_order, dfs_global_random]),
    (checks.check_bfs_path, bfs_right,
     [lambda c, s, g: np.array([s, g]), dfs_path, bfs_without_start, bfs_reversed, bfs_start_and_goal_twice,
      bfs_blocks_walls_in_place]),
    (checks.check_tokenize, tokens_right,
     [lambda maze: ["<ADJLIST_START>"], tokens_without_separators, tokens_pairs_reversed, tokens_path_without_origin,
      tokens_with_space]),
    (checks.check_mlmu_mask, visible_right,
     [lambda a, v, r, u: torch.ones_like(v), visible_with_padding, visible_reversed, visible_forgets_position_0,
      visible_at_tie]),
    (checks.check_mlmu_loss, loss_right,
     [lambda lo, t, m: torch.tensor(1.0), loss_per_row_mean, loss_unmasked_mean, loss_sum, loss_softmax_wrong_axis]),
    (checks.check_greedy_decode, decode_right,
     [lambda m, p, n, stop_id, pad_id: torch.zeros(p.shape[0], n, dtype=torch.long), decode_one_shot,
      decode_no_stopping, decode_trims, decode_stops_when_any_row_stops]),
]
LIBRARY = {checks.check_dfs_maze: dfs_right, checks.check_bfs_path: bfs_library,
           checks.check_tokenize: lambda maze: maze_to_tokens(maze, None), checks.check_mlmu_mask: visible_from_uniforms,
           checks.check_mlmu_loss: masked_mean_cross_entropy, checks.check_greedy_decode: greedy_decode}
IDS = [c[0].__name__ for c in CASES]
SEEDS = range(20)


@pytest.mark.parametrize("check,right,wrongs", CASES, ids=IDS)
def test_check_grades_right_and_wrong_answers_on_20_seeds(check, right, wrongs, capsys):
    assert_check_grades(check, [LIBRARY[check], right], wrongs, seeds=SEEDS)
    check(right, seed=0)
    assert capsys.readouterr().out.startswith("PASS")


@pytest.mark.parametrize("check,right,wrongs", CASES, ids=IDS)
def test_check_propagates_the_blank(check, right, wrongs):
    with pytest.raises(NotImplementedError):
        check(blank)


def test_failures_name_the_case_and_how_to_rerun_it():
    with pytest.raises(CheckFailed, match=r"(?s)case: variety at size 4.*reproduce: check_dfs_maze\(dfs_serpentine, seed=4\)"):
        checks.check_dfs_maze(dfs_serpentine, seed=4)
    with pytest.raises(CheckFailed, match="you changed argument `connections` in place"):
        checks.check_bfs_path(bfs_blocks_walls_in_place, seed=0)
    with pytest.raises(CheckFailed, match=r"(?s)edge case 2 of 3 \(every row stops before n_steps.*expected shape \(3, 8\)"):
        checks.check_greedy_decode(decode_trims, seed=0)


def test_scripted_model_stops_rows_where_the_script_says():
    model, prompt, n = checks._decode_edge_cases()[0][1]
    out = greedy_decode(model, prompt, n, stop_id=1, pad_id=0)
    assert out.tolist() == [[5, 1, 0, 0, 0, 0], [4, 5, 6, 1, 0, 0], [5, 6, 7, 5, 6, 7]]


def test_dfs_tree_property_on_library_mazes():
    rng = np.random.default_rng(0)
    for size in (3, 4, 6):
        assert checks.is_dfs_tree(generate_dfs(size, 1, rng).connections[0])
    # a comb (a spine column plus straight rows) is a spanning tree but no DFS carves it on 4x4
    comb = np.zeros((2, 4, 4), dtype=bool)
    comb[0, :3, 0] = True
    comb[1, :, :3] = True
    assert not checks.is_dfs_tree(comb)


