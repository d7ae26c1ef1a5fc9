"""Load a repository file that is not in the package (a script, a benchmark) as a module, for tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_repo_module(relpath: str, name: str | None = None) -> ModuleType:
    """Execute ``ROOT / relpath`` (e.g. ``"scripts/icl_train.py"``) as a fresh module and return it."""
    path = ROOT / relpath
    if not path.is_file():
        raise FileNotFoundError(f"relpath must name a file under {ROOT}; got {relpath!r}")
    spec = importlib.util.spec_from_file_location(name or path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
