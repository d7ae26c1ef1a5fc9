"""Pictures of mazes: an ASCII drawing for text output and a matplotlib drawing with up to two
paths (e.g. a model's answer against the optimal path). Both take a :class:`Maze` and arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rizzlib.mazes.generate import Maze

PATH_CHAR, COMPARE_CHAR, BOTH_CHAR = "*", "o", "@"


def _as_path(path: np.ndarray | Sequence[Sequence[int]] | None) -> np.ndarray:
    if path is None or len(path) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    return np.asarray(path, dtype=np.int64).reshape(-1, 2)


def _trace(canvas_marks: np.ndarray, path: np.ndarray, bit: int) -> None:
    """Set ``bit`` on every cell of ``path`` and between consecutive 4-adjacent cells, in the
    ``(2n+1, 2n+1)`` canvas coordinates (cell ``(r, c)`` sits at ``(2r+1, 2c+1)``)."""
    size = canvas_marks.shape[0]
    for r, c in path.tolist():
        if 0 <= 2 * r + 1 < size and 0 <= 2 * c + 1 < size:
            canvas_marks[2 * r + 1, 2 * c + 1] |= bit
    for (r1, c1), (r2, c2) in zip(path[:-1].tolist(), path[1:].tolist()):
        if abs(r1 - r2) + abs(c1 - c2) == 1 and 0 <= r1 + r2 + 1 < size and 0 <= c1 + c2 + 1 < size:
            canvas_marks[r1 + r2 + 1, c1 + c2 + 1] |= bit


def maze_to_ascii(
    maze: Maze,
    path: np.ndarray | Sequence[Sequence[int]] | None = None,
    compare: np.ndarray | Sequence[Sequence[int]] | None = None,
) -> str:
    """Draw a maze as text.

    DFS mazes (walls between cells) take ``2n+1`` lines of ``2n+1`` characters, with cell ``(r, c)``
    at ``(2r+1, 2c+1)`` and ``#`` for closed passages; A* mazes (wall cells) take ``n`` lines of
    ``n`` characters, ``#`` a wall and ``.`` a free cell. ``S``/``G`` mark the start and goal, ``*``
    the cells (and steps) of ``path``, ``o`` those of ``compare`` and ``@`` where both go.
    Off-grid cells of a (bad) path are ignored, and so are its non-adjacent jumps.
    """
    if maze.kind == "astar":
        return _cells_to_ascii(maze, _as_path(path), _as_path(compare))
    n = maze.size
    size = 2 * n + 1
    grid = np.full((size, size), "#", dtype="<U1")
    free = ~maze.walls
    grid[1::2, 1::2] = np.where(free, " ", "#")
    grid[2:-1:2, 1::2] = np.where(maze.connections[0, :-1, :], " ", "#")
    grid[1::2, 2:-1:2] = np.where(maze.connections[1, :, :-1], " ", "#")
    marks = np.zeros((size, size), dtype=np.int64)
    _trace(marks, _as_path(path), 1)
    _trace(marks, _as_path(compare), 2)
    grid[marks == 1] = PATH_CHAR
    grid[marks == 2] = COMPARE_CHAR
    grid[marks == 3] = BOTH_CHAR
    (sr, sc), (gr, gc) = maze.start, maze.goal
    grid[2 * sr + 1, 2 * sc + 1] = "S"
    grid[2 * gr + 1, 2 * gc + 1] = "G"
    return "\n".join("".join(row) for row in grid)


def _cells_to_ascii(maze: Maze, path: np.ndarray, compare: np.ndarray) -> str:
    n = maze.size
    grid = np.where(maze.walls, "#", ".").astype("<U1")
    marks = np.zeros((n, n), dtype=np.int64)
    for cells, bit in ((path, 1), (compare, 2)):
        ok = (cells >= 0).all(axis=1) & (cells < n).all(axis=1)
        for r, c in cells[ok].tolist():
            marks[r, c] |= bit
    grid[marks == 1] = PATH_CHAR
    grid[marks == 2] = COMPARE_CHAR
    grid[marks == 3] = BOTH_CHAR
    grid[maze.start] = "S"
    grid[maze.goal] = "G"
    return "\n".join("".join(row) for row in grid)


def plot_maze(
    maze: Maze,
    path: np.ndarray | Sequence[Sequence[int]] | None = None,
    compare: np.ndarray | Sequence[Sequence[int]] | None = None,
    *,
    ax=None,
    title: str | None = None,
    labels: tuple[str, str] = ("path", "optimal"),
):
    """Draw a maze with matplotlib: walls in black, start (green square), goal (red star),
    ``path`` as a solid blue line and ``compare`` as a dashed orange line.

    Args:
        maze: the maze to draw (rows go down, columns go right).
        path, compare: optional ``(L, 2)`` cells ``(row, col)``.
        ax: axes to draw on (a new figure when None).
        title: axes title.
        labels: legend labels of ``path`` and ``compare``.

    Returns:
        the matplotlib ``Axes``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    n = maze.size
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    if maze.walls.any():
        ax.imshow(maze.walls, cmap="Greys", vmin=0, vmax=1, extent=(-0.5, n - 0.5, n - 0.5, -0.5))
    else:
        # wall segments between cells whose passage is closed (cell (r, c) spans [c-.5, c+.5] x [r-.5, r+.5])
        segs = []
        for r, c in np.argwhere(~maze.connections[0, :-1, :]).tolist():
            segs.append([(c - 0.5, r + 0.5), (c + 0.5, r + 0.5)])
        for r, c in np.argwhere(~maze.connections[1, :, :-1]).tolist():
            segs.append([(c + 0.5, r - 0.5), (c + 0.5, r + 0.5)])
        ax.add_collection(LineCollection(segs, colors="black", linewidths=2))
    border = [(-0.5, -0.5), (n - 0.5, -0.5), (n - 0.5, n - 0.5), (-0.5, n - 0.5), (-0.5, -0.5)]
    ax.plot(*zip(*border), color="black", linewidth=3)
    handles = []
    p = _as_path(compare)
    if len(p):
        (line,) = ax.plot(
            p[:, 1] + 0.12, p[:, 0] + 0.12, "--", color="tab:orange", linewidth=2.5, label=labels[1]
        )
        handles.append(line)
    p = _as_path(path)
    if len(p):
        (line,) = ax.plot(p[:, 1], p[:, 0], "-", color="tab:blue", linewidth=2.5, label=labels[0])
        handles.append(line)
    ax.plot(maze.start[1], maze.start[0], "s", color="tab:green", markersize=10, label="start")
    ax.plot(maze.goal[1], maze.goal[0], "*", color="tab:red", markersize=14, label="goal")
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylim(n - 0.4, -0.6)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if handles:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=2, fontsize=8, frameon=False)
    if title:
        ax.set_title(title)
    return ax


def plot_mazes(
    mazes: Sequence[Maze],
    paths: Sequence[np.ndarray | None] | None = None,
    compares: Sequence[np.ndarray | None] | None = None,
    *,
    ncols: int = 4,
    titles: Sequence[str] | None = None,
):
    """A grid of :func:`plot_maze` panels; returns the figure."""
    import matplotlib.pyplot as plt

    k = len(mazes)
    if k == 0:
        raise ValueError("mazes must contain at least one Maze; got an empty sequence")
    ncols = max(1, min(int(ncols), k))
    nrows = -(-k // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3 * ncols, 3.2 * nrows), squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        if i >= k:
            ax.axis("off")
            continue
        plot_maze(
            mazes[i],
            None if paths is None else paths[i],
            None if compares is None else compares[i],
            ax=ax,
            title=None if titles is None else titles[i],
        )
    fig.tight_layout()
    return fig
