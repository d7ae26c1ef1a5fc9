"""Glue computed numbers into the book's prose (myst-nb ``{glue}`` roles) without needing myst-nb.

The notebook calls ``glue("speedup", f"{x:.1f}")`` and the prose writes ``{glue:}`speedup```; the
book shows the value the last run produced, so no number in the text is typed by hand. This writes
the same output myst-nb's own ``glue`` writes, so it also works on Colab where myst-nb is absent.
"""

from __future__ import annotations

from typing import Any

GLUE_PREFIX = "application/papermill.record/"


def glue(name: str, value: Any, display: bool = False) -> None:
    """Record ``value`` under ``name`` for the book.

    Returns nothing, so a ``glue(...)`` on a cell's last line does not echo the value under it.
    """
    from IPython.core.formatters import format_display_data
    from IPython.display import display as ipy_display

    if isinstance(value, str):  # show text as written, not as its repr with quotes
        mimebundle, metadata = {"text/plain": value}, {}
    else:
        mimebundle, metadata = format_display_data(value)
    prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    ipy_display({prefix + k: v for k, v in mimebundle.items()}, raw=True, metadata=metadata)
