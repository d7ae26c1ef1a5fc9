"""Write book/api.md: one section per rizzlib subpackage, one autodoc block per module.

The page lists every module it finds, so a new chapter's code appears in the API reference
without editing the page by hand. ``--check`` exits 1 when the committed page is stale.

    python tools/make_api.py [--check]
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "book" / "api.md"
ORDER = ["core", "primer", "jax2d", "kinetix", "caldera", "mazes", "fbcpr", "icl"]

HEADER = """# API reference

Generated from the docstrings of `rizzlib` (by `tools/make_api.py`), so a library user can look a
function up without opening a notebook. Every chapter's subpackage re-exports its public names;
`rizzlib.core` holds what all chapters share.
"""


def _first_line(module) -> str:
    doc = (module.__doc__ or "").strip().splitlines()
    return doc[0].rstrip(".") if doc else ""


def render() -> str:
    import rizzlib

    packages = [m.name for m in pkgutil.iter_modules(rizzlib.__path__) if m.ispkg]
    packages.sort(key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    out = [HEADER]
    for name in packages:
        package = importlib.import_module(f"rizzlib.{name}")
        out.append(f"\n## `rizzlib.{name}`\n\n{_first_line(package)}.\n")
        for mod in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            if mod.ispkg or mod.name.startswith("_"):
                continue
            full = f"rizzlib.{name}.{mod.name}"
            out.append(f"\n### `{full}`\n\n```{{eval-rst}}\n.. automodule:: {full}\n```\n")
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not PAGE.exists() or PAGE.read_text(encoding="utf-8") != text:
            print("stale: book/api.md (run: python tools/make_api.py)")
            return 1
        print("book/api.md up to date")
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
