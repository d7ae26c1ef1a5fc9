"""Every notebook runs at smoke scale; masters pass every check; students fail every check and
nothing else. This is the CI proof that the graded exercises grade."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import make_student  # noqa: E402

MASTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))
STUDENTS = sorted((ROOT / "notebooks" / "student").glob("*.ipynb"))
CELL_TIMEOUT_S = 300


def _run(path: Path) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env_before = os.environ.get("RIZZLIB_SCALE")
    os.environ["RIZZLIB_SCALE"] = "smoke"
    os.environ["MPLBACKEND"] = "Agg"
    try:
        NotebookClient(
            nb,
            timeout=CELL_TIMEOUT_S,
            kernel_name="python3",
            allow_errors=True,
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
    finally:
        if env_before is None:
            os.environ.pop("RIZZLIB_SCALE", None)
        else:
            os.environ["RIZZLIB_SCALE"] = env_before
    return nb


def _errors(cell) -> list[str]:
    return [f"{o.get('ename')}: {o.get('evalue')}" for o in cell.get("outputs", []) if o.output_type == "error"]


def _tags(cell) -> list[str]:
    return list(cell.metadata.get("tags", []))


def test_there_are_notebooks_and_students():
    assert MASTERS, "no notebooks found"
    assert {p.name for p in MASTERS} == {p.name for p in STUDENTS}


def test_student_notebooks_are_fresh():
    assert make_student.main(["--check"]) == 0, "run: python tools/make_student.py"


@pytest.mark.parametrize("path", MASTERS, ids=lambda p: p.stem)
def test_master_structure(path):
    nb = nbformat.read(path, as_version=4)
    kinds = [("solution" in _tags(c), "check" in _tags(c)) for c in nb.cells if c.cell_type == "code"]
    n_solutions = sum(s for s, _ in kinds)
    n_checks = sum(c for _, c in kinds)
    assert n_checks >= 3, f"{path.name}: a chapter needs graded exercises (found {n_checks} check cells)"
    assert n_solutions >= 1
    pending = 0
    for is_solution, is_check in kinds:
        pending = pending + 1 if is_solution else pending
        if is_check:
            pending = 0
    assert pending == 0, f"{path.name}: the last solution cell has no check cell after it"
    sources = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "RIZZLIB_SCALE" in sources, f"{path.name}: the notebook must read RIZZLIB_SCALE in its scale cell"
    assert "notebooks/student/" in nb.cells[0].source, f"{path.name}: the first cell needs the student Colab badge"


@pytest.mark.notebook
@pytest.mark.parametrize("path", MASTERS, ids=lambda p: p.stem)
def test_master_runs_and_passes_every_check(path):
    nb = _run(path)
    failures = [f"cell {i} ({','.join(_tags(c)) or 'untagged'}): {e}" for i, c in enumerate(nb.cells) for e in _errors(c)]
    assert not failures, f"{path.name} at smoke scale:\n" + "\n".join(failures)


@pytest.mark.notebook
@pytest.mark.parametrize("path", STUDENTS, ids=lambda p: p.stem)
def test_student_fails_every_check_and_nothing_else(path):
    nb = _run(path)
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errs = _errors(cell)
        if "check" in _tags(cell) and not errs:
            problems.append(f"cell {i}: a check passed on the blank student notebook:\n{cell.source}")
        if "check" not in _tags(cell) and errs:
            problems.append(f"cell {i}: a non-check cell errored: {errs[0]}\n{cell.source}")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)
