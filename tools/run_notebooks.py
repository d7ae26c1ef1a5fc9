"""Re-execute notebooks at a given scale and write the outputs back in place.

Unlike papermill, nothing is injected: each notebook reads ``RIZZLIB_SCALE`` from the environment in
its own scale cell. Kernel-added metadata (Colab, widgets state, execution timings) is stripped so
diffs stay readable. Students' notebooks are never executed by this script.

    python tools/run_notebooks.py --scale cpu                  # all masters, committed outputs
    python tools/run_notebooks.py --scale smoke notebooks/00_tools.ipynb
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def clean_metadata(nb: nbformat.NotebookNode) -> None:
    """Drop metadata that changes on every run or comes from Colab."""
    for key in ("colab", "accelerator", "gpuClass", "papermill", "widgets"):
        nb.metadata.pop(key, None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    for cell in nb.cells:
        for key in ("execution", "colab", "id", "outputId", "papermill", "ExecuteTime"):
            cell.metadata.pop(key, None)


def execute(path: Path, scale: str, timeout: int = 1800, allow_errors: bool = False) -> nbformat.NotebookNode:
    """Run ``path`` with ``RIZZLIB_SCALE=scale`` in its own folder and return the executed notebook."""
    nb = nbformat.read(path, as_version=4)
    os.environ["RIZZLIB_SCALE"] = scale
    # always the inline backend: a shell's MPLBACKEND=Agg (set for tests) would drop every figure
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="cpu", choices=["smoke", "cpu", "gpu", "auto"])
    parser.add_argument("--timeout", type=int, default=1800, help="per cell, seconds")
    parser.add_argument("--no-write", action="store_true", help="execute only; keep files unchanged")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        if "student" in path.parts:
            print(f"skip {path}: student notebooks are generated, never executed in place")
            continue
        start = time.perf_counter()
        nb = execute(path, args.scale, args.timeout)
        clean_metadata(nb)
        if not args.no_write:
            nbformat.write(nb, path)
        print(f"{path.name}: {args.scale} run in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
