"""Each graded check passes the library's answer and fails a constant, a plausible mistake and the blank."""


import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rizzlib.core.grading import CheckFailed
from rizzlib.mazes import checks
from rizzlib.mazes.decode import greedy_decode
from rizzlib.mazes.generate import generate_dfs, shortest_paths
from rizzlib.mazes.objectives import masked_mean_cross_entropy, visible_from_uniforms
from rizzlib.mazes.reference import dfs_maze_reference, grid_neighbours, open_neighbours
from rizzlib.mazes.tokens import maze_to_tokens


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


def bfs_right(connections, start, goal):
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


def tokens_without_separators(maze):
    return [t for t in maze_to_tokens(maze, None) if t != ";"]


def visible_with_padding(answer, valid, rate, u):
    out = ~answer | (u < rate[:, None])
    out[:, 0] = True
    return out


def visible_reversed(answer, valid, rate, u):
    out = (valid & ~answer) | (answer & (u >= rate[:, None]))
    out[:, 0] = True
    return out


def loss_per_row_mean(logits, targets, masked):
    nll = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none").view(targets.shape)
    return ((nll * masked).sum(1) / masked.sum(1).clamp(min=1)).mean()


def decode_one_shot(model, prompt, n_steps, stop_id, pad_id):
    """Every position predicted at once from the prompt only (no left-to-right feedback)."""
    B, P = prompt.shape
    buf = torch.cat([prompt, prompt.new_full((B, n_steps), pad_id)], 1)
    visible = torch.zeros_like(buf, dtype=torch.bool)
    visible[:, :P] = True
    with torch.no_grad():
        return model(buf, visible, torch.arange(P, P + n_steps).expand(B, -1)).argmax(-1)


CASES = [
    (checks.check_dfs_maze, dfs_right, [lambda size, rng: np.ones((2, size, size), bool), dfs_random_walk, dfs_kruskal]),
    (checks.check_bfs_path, bfs_right, [lambda c, s, g: np.array([s, g]), dfs_path]),
    (checks.check_tokenize, lambda maze: maze_to_tokens(maze, None), [lambda maze: ["<ADJLIST_START>"], tokens_without_separators]),
    (checks.check_mlmu_mask, visible_from_uniforms, [lambda a, v, r, u: torch.ones_like(v), visible_with_padding, visible_reversed]),
    (checks.check_mlmu_loss, masked_mean_cross_entropy, [lambda lo, t, m: torch.tensor(1.0), loss_per_row_mean]),
    (checks.check_greedy_decode, greedy_decode, [lambda m, p, n, stop_id, pad_id: torch.zeros(p.shape[0], n, dtype=torch.long), decode_one_shot]),
]
IDS = [c[0].__name__ for c in CASES]


@pytest.mark.parametrize("check,right,wrongs", CASES, ids=IDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_check_passes_the_right_answer(check, right, wrongs, seed, capsys):
    check(right, seed=seed)
    assert "PASS" in capsys.readouterr().out


@pytest.mark.parametrize("check,right,wrongs", CASES, ids=IDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_check_fails_constants_and_plausible_mistakes(check, right, wrongs, seed):
    for wrong in wrongs:
        with pytest.raises(CheckFailed):
            check(wrong, seed=seed)


@pytest.mark.parametrize("check,right,wrongs", CASES, ids=IDS)
def test_check_propagates_the_blank(check, right, wrongs):
    with pytest.raises(NotImplementedError):
        check(blank)


def test_dfs_tree_property_on_library_mazes():
    rng = np.random.default_rng(0)
    for size in (3, 4, 6):
        assert checks.is_dfs_tree(generate_dfs(size, 1, rng).connections[0])
    # a comb (a spine column plus straight rows) is a spanning tree but no DFS carves it on 4x4
    comb = np.zeros((2, 4, 4), dtype=bool)
    comb[0, :3, 0] = True
    comb[1, :, :3] = True
    assert not checks.is_dfs_tree(comb)


