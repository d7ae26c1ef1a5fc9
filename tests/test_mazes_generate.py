"""Oracles for rizzlib.mazes.generate: spanning trees, shortest paths, the Searchformer A* plan,
exact agreement with the plain-Python twins in rizzlib.mazes.reference, seeds and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rizzlib.mazes import generate as gen
from rizzlib.mazes import reference as ref


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------------------- DFS


@pytest.mark.parametrize("size", [3, 4, 5, 10, 17, 30])
def test_dfs_mazes_are_spanning_trees(size):
    conn = gen.dfs_connections(size, 20 if size < 30 else 4, rng(size))
    assert conn.shape[1:] == (2, size, size)
    for c in conn:
        # n^2 - 1 passages + connected <=> spanning tree (hence acyclic)
        assert c.sum() == size * size - 1
        assert len(ref.bfs_distances_reference(c, (0, 0))) == size * size
        # no passage leaves the grid
        assert not c[0, -1, :].any() and not c[1, :, -1].any()


@pytest.mark.parametrize("size", [3, 6, 11])
def test_dfs_matches_reference_backtracker_exactly(size):
    """Same root and same random numbers -> the lock-step batch equals the textbook loop."""
    r = rng(size)
    roots = r.integers(size * size, size=16)
    uniforms = r.random((16, size * size - 1))
    fast = gen.dfs_connections(size, 16, r, roots=roots, uniforms=uniforms)
    for i in range(16):
        np.testing.assert_array_equal(fast[i], ref.dfs_maze_reference(size, roots[i], uniforms[i]))


def test_dfs_same_seed_same_mazes_and_different_seed_differs():
    a = gen.generate_dfs(7, 30, rng(3))
    b = gen.generate_dfs(7, 30, rng(3))
    c = gen.generate_dfs(7, 30, rng(4))
    for x, y in zip(a, b):
        assert x == y
    assert not np.array_equal(a.connections, c.connections)


def test_dfs_paths_are_the_unique_tree_paths():
    mazes = gen.generate_dfs(9, 40, rng(5))
    for m in mazes:
        expected = ref.bfs_path_reference(m.connections, m.start, m.goal)
        np.testing.assert_array_equal(m.path, np.array(expected))
        assert gen.is_valid_walk(m, m.path)
        assert len({tuple(c) for c in m.path.tolist()}) == len(m.path)  # no cell repeats


def test_endpoints_are_uniform_over_ordered_pairs():
    """3x3: 72 ordered pairs of distinct cells, each with probability 1/72 (chi-square test)."""
    mazes = gen.generate_dfs(3, 14400, rng(6))
    s = mazes.starts[:, 0] * 3 + mazes.starts[:, 1]
    g = mazes.goals[:, 0] * 3 + mazes.goals[:, 1]
    assert np.all(s != g)
    counts = np.bincount(s * 9 + g, minlength=81).reshape(9, 9)
    assert np.all(np.diag(counts) == 0)
    observed = counts[~np.eye(9, dtype=bool)]
    expected = len(s) / 72
    chi2 = float(np.sum((observed - expected) ** 2 / expected))
    assert chi2 < 110  # 71 degrees of freedom: p ~ 0.002


# maze-dataset 1.4.2 gen_dfs, measured once (4,000 mazes each, random distinct endpoints):
# mean path cells 8.58 (5x5) and 25.1 (10x10); mean dead ends 4.22 (5x5) and 11.88 (10x10).
# (The spec's 27 at 10x10 came from 300 mazes.) A uniform spanning tree would have ~29 dead ends
# at 10x10, a BFS tree far shorter paths: these statistics pin down the DFS distribution.
PEER_STATS = {5: (8.58, 4.22), 10: (25.1, 11.88)}


def dead_ends(conn: np.ndarray) -> np.ndarray:
    degree = conn[:, 0].astype(int) + conn[:, 1]
    degree[:, 1:, :] += conn[:, 0, :-1, :]
    degree[:, :, 1:] += conn[:, 1, :, :-1]
    return (degree == 1).sum(axis=(1, 2))


@pytest.mark.parametrize("size", [5, 10])
def test_dfs_statistics_match_maze_dataset(size):
    mazes = gen.generate_dfs(size, 3000, rng(size))
    mean_path, mean_dead = PEER_STATS[size]
    assert abs(mazes.path_lengths.mean() - mean_path) < 0.06 * mean_path  # ~4 standard errors
    assert abs(dead_ends(mazes.connections).mean() - mean_dead) < 0.15


def test_dfs_root_choice_is_uniform_per_branch():
    """First carve from a corner root: two unvisited neighbours, each taken half the time."""
    n = 5
    conn = gen.dfs_connections(n, 4000, rng(7), roots=np.zeros(4000, dtype=np.int64))
    # every maze opens (0,0)-(1,0) or (0,0)-(0,1) (or both, later); count which edge the root has
    down, right = conn[:, 0, 0, 0], conn[:, 1, 0, 0]
    assert np.all(down | right)
    frac_only_down = np.mean(down & ~right)
    frac_only_right = np.mean(right & ~down)
    assert abs(frac_only_down - frac_only_right) < 0.05


# ---------------------------------------------------------------------------------------- BFS


def test_batched_bfs_distances_match_reference_on_random_grids():
    r = rng(8)
    walls = r.random((10, 8, 8)) < 0.35
    conn = gen.walls_to_connections(walls)
    sources = np.argwhere(~walls[0])[:1].repeat(10, axis=0)
    dist = gen.bfs_distances(conn, sources)
    for i in range(10):
        expected = ref.bfs_distances_reference(conn[i], tuple(sources[i]))
        got = {tuple(c): int(dist[i][tuple(c)]) for c in np.argwhere(dist[i] >= 0).tolist()}
        assert got == expected


def test_shortest_paths_are_shortest_walks_on_grids_with_cycles():
    r = rng(9)
    mazes = gen.generate_astar(8, 60, r, attempts=5)
    paths, lengths = gen.shortest_paths(mazes.connections, mazes.starts, mazes.goals)
    for i, m in enumerate(mazes):
        p = paths[i, : lengths[i]]
        assert gen.is_valid_walk(m, p)
        assert len(p) == len(ref.bfs_path_reference(m.connections, m.start, m.goal))
        assert np.all(paths[i, lengths[i] :] == -1)


def test_unreachable_goal_is_an_error():
    conn = np.zeros((1, 2, 3, 3), dtype=bool)
    with pytest.raises(ValueError, match="unreachable"):
        gen.shortest_paths(conn, np.array([[0, 0]]), np.array([[2, 2]]))


# ---------------------------------------------------------------------------------------- A*


def test_astar_tie_break_on_an_empty_3x3_grid():
    """Hand trace of Searchformer's A*: all 6 monotone paths have f = 4. Pops go by row-major index
    among f = 4 nodes: (0,0), (0,1), (0,2), (1,0), (1,1), (1,2) (which first reaches (2,2)), ...
    so the goal's parent chain is (2,2) <- (1,2) <- (0,2) <- (0,1) <- (0,0)."""
    walls = np.zeros((3, 3), dtype=bool)
    expected = [(0, 0), (0, 1), (0, 2), (1, 2), (2, 2)]
    assert gen.astar_plan(walls, (0, 0), (2, 2)).tolist() == [list(c) for c in expected]
    assert ref.astar_plan_reference(walls, (0, 0), (2, 2)) == expected
    # Backwards: pop (2,2) -> open (1,2) [idx 5], (2,1) [7]; pop (1,2) -> open (0,2) [2], (1,1) [4];
    # pop (0,2) -> open (0,1) [1]; pop (0,1) -> open (0,0) [0]; pop (0,0) = goal.
    back = [(2, 2), (1, 2), (0, 2), (0, 1), (0, 0)]
    assert gen.astar_plan(walls, (2, 2), (0, 0)).tolist() == [list(c) for c in back]
    assert ref.astar_plan_reference(walls, (2, 2), (0, 0)) == back


def test_astar_plan_matches_reference_on_random_layouts():
    r = rng(10)
    for _ in range(60):
        n = int(r.integers(3, 12))
        walls = gen.sample_wall_layout(n, r)
        free = np.argwhere(~walls)
        i, j = r.choice(len(free), size=2, replace=False)
        s, g = tuple(free[i]), tuple(free[j])
        fast = gen.astar_plan(walls, s, g)
        slow = ref.astar_plan_reference(walls, s, g)
        if slow is None:
            assert fast is None
        else:
            assert fast.tolist() == [list(c) for c in slow]


@pytest.mark.parametrize("size", [3, 5, 10])
def test_astar_mazes_satisfy_the_spec_invariants(size):
    mazes = gen.generate_astar(size, 120, rng(size), attempts=20)
    lo, hi = size * size // 10 * 3, size * size // 10 * 5
    for m in mazes:
        assert lo <= m.walls.sum() <= hi
        assert m.start != m.goal and not m.walls[m.start] and not m.walls[m.goal]
        assert len(m.path) >= size
        assert not m.walls[m.path[:, 0], m.path[:, 1]].any()
        assert gen.is_shortest_path(m, m.path)
        assert len(m.path) == len(ref.bfs_path_reference(m.connections, m.start, m.goal))
        # every free-free neighbour pair is connected, nothing touches a wall
        np.testing.assert_array_equal(m.connections, gen.walls_to_connections(m.walls))
    # tasks of one layout share its walls, and (layout, start, goal) never repeats
    keys = {(int(l), tuple(s), tuple(g)) for l, s, g in zip(mazes.layout_ids, mazes.starts, mazes.goals)}
    assert len(keys) == len(mazes)
    for lid in np.unique(mazes.layout_ids):
        same = mazes.walls[mazes.layout_ids == lid]
        assert (same == same[0]).all()


def test_astar_wall_count_covers_its_range():
    r = rng(11)
    counts = [gen.sample_wall_layout(10, r).sum() for _ in range(600)]
    assert min(counts) == 30 and max(counts) == 50


def test_astar_same_seed_same_tasks():
    a = gen.generate_astar(6, 50, rng(12), attempts=10)
    b = gen.generate_astar(6, 50, rng(12), attempts=10)
    assert all(x == y for x, y in zip(a, b))


# ---------------------------------------------------------------------------------------- checks


def test_valid_walk_rejects_teleports_walls_and_wrong_ends():
    walls = np.zeros((4, 4), dtype=bool)
    walls[1, 1] = True
    m = gen.make_maze("astar", None, (0, 0), (2, 1), walls=walls)
    assert gen.is_valid_walk(m, m.path) and gen.is_shortest_path(m, m.path)
    assert not gen.is_valid_walk(m, [(0, 0), (2, 1)])  # teleport
    assert not gen.is_valid_walk(m, [(0, 0), (0, 1), (1, 1), (2, 1)])  # through a wall cell
    assert not gen.is_valid_walk(m, [(0, 0), (1, 0), (2, 0)])  # does not reach the goal
    assert not gen.is_valid_walk(m, [(0, 1), (0, 0), (1, 0), (2, 0), (2, 1)])  # wrong start
    assert not gen.is_valid_walk(m, [])
    detour = [(0, 0), (1, 0), (2, 0), (3, 0), (3, 1), (2, 1)]
    assert gen.is_valid_walk(m, detour) and not gen.is_shortest_path(m, detour)


def test_valid_walk_respects_dfs_maze_walls():
    m = gen.generate_dfs(6, 1, rng(13))[0]
    closed = np.argwhere(~m.connections[0, :-1, :])[0]  # a closed vertical passage
    a, b = tuple(closed), (closed[0] + 1, closed[1])
    fake = gen.Maze("dfs", m.connections, m.walls, a, b, np.array([a, b]))
    assert not gen.is_valid_walk(fake, [a, b])


def test_stack_and_subset_round_trip():
    mazes = gen.generate_dfs(5, 10, rng(14))
    again = gen.stack_mazes(list(mazes))
    assert all(x == y for x, y in zip(mazes, again))
    sub = mazes.subset([3, 1])
    assert sub[0] == mazes[3] and sub[1] == mazes[1] and len(sub) == 2


@pytest.mark.parametrize("size", [2, 31, 0, -3, 3.5, "10", True])
def test_bad_size_is_an_error_naming_the_range(size):
    with pytest.raises(ValueError, match=r"size"):
        gen.generate_dfs(size, 3, rng())
    with pytest.raises(ValueError, match=r"size"):
        gen.generate_astar(size, 3, rng())


def test_size_error_message_gives_the_range():
    with pytest.raises(ValueError, match=r"\[3, 30\]"):
        gen.generate_mazes("dfs", 31, 2, rng())


def test_bad_arguments_are_errors():
    with pytest.raises(ValueError, match="count"):
        gen.generate_dfs(5, 0, rng())
    with pytest.raises(ValueError, match="rng"):
        gen.generate_dfs(5, 3, 42)
    with pytest.raises(ValueError, match="kind"):
        gen.generate_mazes("prim", 5, 3, rng())
    conn = gen.dfs_connections(4, 1, rng())[0]
    with pytest.raises(ValueError, match="start and goal must differ"):
        gen.make_maze("dfs", conn, (1, 1), (1, 1))
    with pytest.raises(ValueError, match=r"goal\[1\] \(col\) must be in \[0, 3\]"):
        gen.make_maze("dfs", conn, (1, 1), (1, 4))
    walls = np.zeros((4, 4), dtype=bool)
    walls[2, 2] = True
    with pytest.raises(ValueError, match="start must be a free cell"):
        gen.make_maze("astar", None, (2, 2), (0, 0), walls=walls)
    with pytest.raises(ValueError, match="goal must be a free cell"):
        gen.make_maze("astar", None, (0, 0), (2, 2), walls=walls)


def test_split_train_val_has_no_leaks():
    mazes = gen.generate_dfs(3, 3000, rng(15))  # 13,824 distinct 3x3 tasks: duplicates are certain
    train, val = gen.split_train_val(mazes, 500)
    assert len(val) == 500
    val_keys = set(gen.task_keys(val))
    assert not val_keys & set(gen.task_keys(train))
    assert len(train) < 2500  # some duplicates of validation tasks were dropped
    a = gen.generate_astar(6, 300, rng(16), attempts=20)
    a_train, a_val = gen.split_train_val(a, 40)
    assert len(a_val) >= 40
    assert not set(a_train.layout_ids.tolist()) & set(a_val.layout_ids.tolist())
    with pytest.raises(ValueError, match="n_val"):
        gen.split_train_val(a, 300)


@settings(max_examples=30, deadline=None)
@given(size=st.integers(3, 30), seed=st.integers(0, 2**32 - 1))
def test_any_size_gives_trees_with_valid_shortest_paths(size, seed):
    mazes = gen.generate_dfs(size, 2, rng(seed))
    for m in mazes:
        assert ref.is_spanning_tree_reference(m.connections)
        assert m.start != m.goal
        assert gen.is_valid_walk(m, m.path)
        dist = ref.bfs_distances_reference(m.connections, m.start)
        assert len(m.path) == dist[m.goal] + 1
