"""Generate the student notebooks in notebooks/student/ from the masters in notebooks/.

Inside a cell tagged ``solution``, each block

    ### BEGIN SOLUTION (optional hint text)
    ...
    ### END SOLUTION

becomes ``raise NotImplementedError("<hint>")`` at the same indentation. Outputs, execution counts
and the ``hide-input``/``solution`` tags are dropped; the "Open student version" badge is swapped
for one that opens the master. ``--check`` regenerates into memory and exits 1 if a committed
student notebook is stale.

    python tools/make_student.py            # write notebooks/student/*.ipynb
    python tools/make_student.py --check    # CI: fail if any is stale
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
MASTERS = ROOT / "notebooks"
STUDENTS = MASTERS / "student"

BLOCK = re.compile(r"^([ \t]*)### BEGIN SOLUTION[ \t]*(.*?)[ \t]*\n.*?^[ \t]*### END SOLUTION[ \t]*$", re.S | re.M)
DEFAULT_HINT = "Write your solution here, then run the check cell below."


def _placeholder(match: re.Match) -> str:
    indent, hint = match.group(1), match.group(2).strip()
    hint = hint[1:-1].strip() if hint.startswith("(") and hint.endswith(")") else hint
    text = hint or DEFAULT_HINT
    return f"{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError({text!r})"


def strip_solutions(source: str) -> str:
    """Replace every solution block in ``source`` with a NotImplementedError placeholder."""
    out, n = BLOCK.subn(_placeholder, source)
    if "### BEGIN SOLUTION" in out or "### END SOLUTION" in out:
        raise ValueError("unbalanced ### BEGIN/END SOLUTION markers in cell:\n" + source)
    return out


def student_version(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """Return the student notebook for master ``nb`` (file name ``name``)."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    cells = []
    for cell in nb.cells:
        tags = list(cell.metadata.get("tags", []))
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            if "solution" in tags:
                if "### BEGIN SOLUTION" not in cell.source:
                    raise ValueError(f"{name}: a cell tagged 'solution' has no ### BEGIN SOLUTION marker:\n{cell.source}")
                cell.source = strip_solutions(cell.source)
                tags = [t for t in tags if t not in ("hide-input", "solution")] + ["exercise"]
        elif cell.cell_type == "markdown":
            cell.source = cell.source.replace(
                f"notebooks/student/{name}", f"notebooks/{name}"
            ).replace("Open the exercises in Colab", "Open the solutions in Colab")
            cell.source = cell.source.replace("solutions collapsed", "solutions removed")
        if "### BEGIN SOLUTION" in cell.source:
            raise ValueError(f"{name}: solution markers outside a cell tagged 'solution':\n{cell.source}")
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
        cell.metadata.pop("execution", None)
        cells.append(cell)
    nb.cells = cells
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a student notebook is stale")
    parser.add_argument("notebooks", nargs="*", type=Path, help="masters (default: notebooks/*.ipynb)")
    args = parser.parse_args(argv)
    masters = args.notebooks or sorted(MASTERS.glob("*.ipynb"))
    STUDENTS.mkdir(exist_ok=True)
    stale = []
    for master in masters:
        nb = nbformat.read(master, as_version=4)
        text = render(student_version(nb, master.name))
        target = STUDENTS / master.name
        if args.check:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                stale.append(target)
        else:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(ROOT)}")
    expected = {m.name for m in sorted(MASTERS.glob("*.ipynb"))}
    orphans = [p for p in STUDENTS.glob("*.ipynb") if p.name not in expected]
    if args.check and (stale or orphans):
        for p in stale:
            print(f"stale: {p.relative_to(ROOT)} (run: python tools/make_student.py)")
        for p in orphans:
            print(f"orphan: {p.relative_to(ROOT)} has no master")
        return 1
    if args.check:
        print(f"student notebooks up to date ({len(masters)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
