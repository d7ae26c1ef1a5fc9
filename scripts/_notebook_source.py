"""The cell list shared by the chapter notebook generators (``scripts/*_notebook.py``).

Each generator keeps its notebook as plain Python strings, added in order with :meth:`md` and
:meth:`code`, and writes it with :meth:`write`; outputs come later from ``tools/run_notebooks.py``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


class NotebookSource:
    """Markdown and code cells in order, with optional cell tags."""

    def __init__(self, language_info: dict | None = None):
        self.cells: list[tuple[str, str, list[str]]] = []
        self.language_info = language_info

    def md(self, text: str) -> None:
        self.cells.append(("markdown", text.strip("\n"), []))

    def code(self, text: str, tags: list[str] | None = None) -> None:
        self.cells.append(("code", text.strip("\n"), tags or []))

    def build(self) -> nbformat.NotebookNode:
        nb = nbformat.v4.new_notebook()
        nb.metadata = {"kernelspec": dict(KERNELSPEC)}
        if self.language_info is not None:
            nb.metadata["language_info"] = dict(self.language_info)
        for kind, src, tags in self.cells:
            cell = nbformat.v4.new_markdown_cell(src) if kind == "markdown" else nbformat.v4.new_code_cell(src)
            if tags:
                cell.metadata["tags"] = tags
            nb.cells.append(cell)
        return nb

    def write(self, path: Path) -> nbformat.NotebookNode:
        nb = self.build()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        print(f"wrote {path} ({len(nb.cells)} cells)")
        return nb
