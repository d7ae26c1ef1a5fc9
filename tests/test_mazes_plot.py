"""rizzlib.mazes.plot: the ASCII drawing can be read back into the maze, and the matplotlib drawing
has one wall segment per closed passage and one line per path."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

from rizzlib.mazes import generate as gen  # noqa: E402
from rizzlib.mazes import plot  # noqa: E402


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_dfs_ascii_reads_back_into_the_maze():
    m = gen.generate_dfs(7, 1, rng(1))[0]
    lines = plot.maze_to_ascii(m, m.path).split("\n")
    n = 7
    assert len(lines) == 2 * n + 1 and {len(x) for x in lines} == {2 * n + 1}
    canvas = np.array([list(x) for x in lines])
    down = canvas[2:-1:2, 1::2] != "#"
    right = canvas[1::2, 2:-1:2] != "#"
    np.testing.assert_array_equal(down, m.connections[0, :-1, :])
    np.testing.assert_array_equal(right, m.connections[1, :, :-1])
    assert (canvas[0] == "#").all() and (canvas[:, -1] == "#").all()
    cells = canvas[1::2, 1::2]
    marked = {tuple(rc) for rc in np.argwhere(np.isin(cells, ["*", "S", "G"])).tolist()}
    assert marked == {tuple(rc) for rc in m.path.tolist()}
    assert cells[m.start] == "S" and cells[m.goal] == "G"


def test_astar_ascii_marks_walls_and_both_paths():
    m = gen.generate_astar(8, 1, rng(2), attempts=10)[0]
    other = [tuple(m.start), tuple(m.path[1])]
    text = plot.maze_to_ascii(m, m.path, other)
    canvas = np.array([list(x) for x in text.split("\n")])
    assert canvas.shape == (8, 8)
    np.testing.assert_array_equal(canvas == "#", m.walls)
    assert canvas[tuple(m.path[1])] == "@"  # on both paths
    assert (canvas == "o").sum() == 0 and (canvas == "*").sum() == len(m.path) - 3


def test_ascii_ignores_off_grid_cells_of_a_bad_path():
    m = gen.generate_dfs(4, 1, rng(3))[0]
    text = plot.maze_to_ascii(m, [(0, 0), (9, 9), (-1, 0)])
    assert len(text.split("\n")) == 9


def test_plot_maze_draws_walls_and_paths():
    m = gen.generate_dfs(6, 1, rng(4))[0]
    ax = plot.plot_maze(m, m.path, m.path[::-1], title="t")
    walls = [c for c in ax.collections if isinstance(c, LineCollection)]
    closed = 2 * 6 * 5 - (6 * 6 - 1)  # interior passages minus the open ones
    assert len(walls) == 1 and len(walls[0].get_segments()) == closed
    labels = [line.get_label() for line in ax.get_lines()]
    assert "path" in labels and "optimal" in labels and ax.get_title() == "t"
    plt.close(ax.figure)


def test_plot_mazes_grid_and_errors():
    mazes = list(gen.generate_astar(5, 3, rng(5), attempts=5))
    fig = plot.plot_mazes(mazes, [m.path for m in mazes], ncols=2)
    assert len(fig.axes) == 4
    plt.close(fig)
    with pytest.raises(ValueError, match="mazes"):
        plot.plot_mazes([])
