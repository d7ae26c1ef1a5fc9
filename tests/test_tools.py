"""tools/make_student.py: solutions become NotImplementedError placeholders."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import make_student  # noqa: E402

SOURCE = '''def f(x):
    """Doc."""
    ### BEGIN SOLUTION (hint: square it)
    y = x * x
    return y
    ### END SOLUTION

def g(x):
    ### BEGIN SOLUTION
    return x
    ### END SOLUTION
'''


def test_strip_solutions_keeps_indentation_and_hint():
    out = make_student.strip_solutions(SOURCE)
    assert "x * x" not in out and "return x\n" not in out
    assert "    raise NotImplementedError('hint: square it')" in out
    assert "    raise NotImplementedError(" + repr(make_student.DEFAULT_HINT) + ")" in out
    ns: dict = {}
    exec(out, ns)
    with pytest.raises(NotImplementedError, match="square it"):
        ns["f"](2)


def test_unbalanced_markers_are_an_error():
    with pytest.raises(ValueError, match="unbalanced"):
        make_student.strip_solutions("    ### BEGIN SOLUTION\n    return 1\n")


def test_student_version_blanks_solutions_and_outputs():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("[badge](https://colab/notebooks/student/x.ipynb) Open the exercises in Colab"),
        nbformat.v4.new_code_cell(SOURCE, metadata={"tags": ["solution", "hide-input"]}),
        nbformat.v4.new_code_cell("check(f)", metadata={"tags": ["check"]}),
    ]
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="ok")]
    student = make_student.student_version(nb, "x.ipynb")
    assert "notebooks/x.ipynb" in student.cells[0].source and "solutions" in student.cells[0].source
    assert "NotImplementedError" in student.cells[1].source
    assert student.cells[1].metadata["tags"] == ["exercise"]
    assert student.cells[2].outputs == []
    assert "x * x" in nb.cells[1].source, "the master must not be modified"


def test_solution_tag_without_markers_is_an_error():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("def f(): return 1", metadata={"tags": ["solution"]})]
    with pytest.raises(ValueError, match="no ### BEGIN SOLUTION"):
        make_student.student_version(nb, "x.ipynb")


def test_docstring_bars_are_escaped_outside_literals():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "_ext"))
    from plain_bars import escape_bars

    assert escape_bars("|P_t| <= mu |P_n|") == r"\|P_t\| <= mu \|P_n\|"
    assert escape_bars("norm ``|v|`` and `a|b` stay") == "norm ``|v|`` and `a|b` stay"
