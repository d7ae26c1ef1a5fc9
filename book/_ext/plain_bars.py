"""Let docstrings write norms as ``|v|`` without reStructuredText reading them as substitutions.

Physics and maths docstrings use bars for absolute values and norms (``|v|``, ``|P_t| <= mu P_n``);
in reST, ``|name|`` is a substitution reference and the build fails. This escapes bars outside
inline literals before autodoc hands a docstring to the parser.
"""

from __future__ import annotations

import re

LITERAL = re.compile(r"(``.*?``|`[^`]*`)")


def escape_bars(line: str) -> str:
    """Escape ``|`` in ``line`` except inside inline literals and roles."""
    parts = LITERAL.split(line)
    return "".join(p if i % 2 else p.replace("|", r"\|") for i, p in enumerate(parts))


def _process(app, what, name, obj, options, lines) -> None:
    lines[:] = [escape_bars(line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _process)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
