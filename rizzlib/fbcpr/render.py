"""Draw the four-room arena and turn rollouts into RGB frames for :func:`rizzlib.core.anim.animate_frames`."""

from __future__ import annotations

import numpy as np

from rizzlib.fbcpr import env


def draw_walls(ax) -> None:
    """The outer walls, the cross of inner walls with one doorway per arm, and the room numbers."""
    lo, hi = env.DOOR_CENTRE - env.DOOR_WIDTH / 2, env.DOOR_CENTRE + env.DOOR_WIDTH / 2
    for a, b in [(-lo, lo), (hi, 1.0), (-1.0, -hi)]:  # solid parts of each wall line
        ax.plot([0, 0], [a, b], "k", lw=2)
        ax.plot([a, b], [0, 0], "k", lw=2)
    ax.plot([-1, 1, 1, -1, -1], [-1, -1, 1, 1, -1], "k", lw=2)
    for i, c in enumerate(env.ROOM_CENTRES):
        ax.text(c[0], c[1], str(i + 1), ha="center", va="center", fontsize=14, alpha=0.3)
    ax.set_aspect("equal")
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xticks([])
    ax.set_yticks([])


def rollout_frames(paths, titles, targets=None, every: int = 4, size_in: float = 3.0) -> np.ndarray:
    """Frames ``(F, H, W, 3)`` uint8 of several rollouts side by side, one panel each.

    Args:
        paths: list of position arrays ``(T_i+1, 2+)``; a shorter path holds its last point.
        titles: one title per panel.
        targets: per panel ``None``, a goal ``(2,)`` (drawn as a star) or a motion ``(T+1, 2+)`` whose
            current frame is drawn as a moving ring over its dashed path.
        every: draw every ``every``-th step (and the last).
    """
    import matplotlib.pyplot as plt

    paths = [np.asarray(p)[:, :2] for p in paths]
    if not paths or min(len(p) for p in paths) == 0 or len(titles) != len(paths):
        raise ValueError(f"paths must be a non-empty list of non-empty (T+1, 2) arrays with one title each; got "
                         f"{len(paths)} paths and {len(titles)} titles")
    length = max(len(p) for p in paths)
    paths = [np.concatenate([p, np.repeat(p[-1:], length - len(p), axis=0)]) for p in paths]
    targets = targets or [None] * len(paths)
    fig, axes = plt.subplots(1, len(paths), figsize=(size_in * len(paths), size_in), squeeze=False)
    trails, dots, rings = [], [], []
    for ax, title, tgt in zip(axes[0], titles, targets):
        draw_walls(ax)
        ax.set_title(title, fontsize=9)
        ring = None
        if tgt is not None:
            tgt = np.asarray(tgt)
            if tgt.ndim == 1:
                ax.plot(tgt[0], tgt[1], "r*", ms=12)
            else:
                ax.plot(*tgt[:, :2].T, "k--", lw=0.8)
                ring, = ax.plot([], [], "o", mfc="none", mec="r", ms=10)
        trails.append(ax.plot([], [], lw=1.5)[0])
        dots.append(ax.plot([], [], "o", color="C1", ms=7)[0])
        rings.append((ring, tgt))
    fig.tight_layout()
    steps = sorted(set(range(0, len(paths[0]), every)) | {len(paths[0]) - 1})
    frames = []
    for t in steps:
        for trail, dot, p, (ring, tgt) in zip(trails, dots, paths, rings):
            trail.set_data(p[:t + 1, 0], p[:t + 1, 1])
            dot.set_data([p[t, 0]], [p[t, 1]])
            if ring is not None:
                ring.set_data([tgt[min(t, len(tgt) - 1), 0]], [tgt[min(t, len(tgt) - 1), 1]])
        fig.canvas.draw()
        frames.append(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
    plt.close(fig)
    return np.stack(frames)
