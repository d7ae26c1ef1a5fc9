"""Frames to an animation that plays inline in Jupyter and in the rendered book (no ffmpeg needed)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def animate_frames(frames: Sequence[np.ndarray] | np.ndarray, fps: int = 20, width_in: float = 4.0, title: str | None = None):
    """Return an ``IPython.display.HTML`` JavaScript player for ``frames``.

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB images (or a list of ``(H, W, 3)``).
        fps: frames per second of playback (1..120).
        width_in: figure width in inches; the height follows the frames' aspect ratio.
    """
    import matplotlib.pyplot as plt
    from IPython.display import HTML
    from matplotlib import animation

    from rizzlib.core.validate import check_range

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] not in (3, 4) or len(frames) == 0:
        raise ValueError(f"frames must have shape (T>0, H, W, 3 or 4); got {frames.shape}")
    check_range("fps", fps, 1, 120)
    h, w = frames.shape[1:3]
    fig, ax = plt.subplots(figsize=(width_in, width_in * h / w))
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    fig.subplots_adjust(0, 0, 1, 0.92 if title else 1)
    image = ax.imshow(frames[0])

    def draw(i: int):
        image.set_data(frames[i])
        return (image,)

    anim = animation.FuncAnimation(fig, draw, frames=len(frames), interval=1000 / fps, blit=True)
    html = anim.to_jshtml(default_mode="loop")
    plt.close(fig)
    return HTML(html)
