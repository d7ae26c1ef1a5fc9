"""Importing a chapter without its pip extra names the extra to install (issue 14, part 4).

The environment without the extras is a real virtual environment (``python -m venv``, no system
site-packages) that can import only the standard library, numpy and this checkout of rizzlib.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from rizzlib.core import extras

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> Path:
    """A venv whose only third-party package is numpy (linked from this environment)."""
    where = tmp_path_factory.mktemp("bare")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where / "venv")], check=True, timeout=120)
    python = where / "venv" / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    only = where / "only_numpy"
    only.mkdir()
    numpy_dir = Path(np.__file__).parent
    for name in ("numpy", "numpy.libs"):
        if (numpy_dir.parent / name).exists():
            (only / name).symlink_to(numpy_dir.parent / name)
    # the checkout itself, through a folder holding only the package (tests/, tools/ stay out)
    (only / "rizzlib").symlink_to(ROOT / "rizzlib")
    Path(site, "only_numpy.pth").write_text(f"{only}\n")
    return python


def _run(python: Path, code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run([str(python), "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, env=env, cwd="/")


def test_the_bare_venv_really_lacks_the_frameworks(bare_python):
    out = _run(bare_python, """
        import importlib.util, numpy, rizzlib.core
        print([m for m in ("jax", "flax", "optax", "torch", "transformers", "safetensors")
               if importlib.util.find_spec(m) is not None])
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "package, extra, module",
    [("rizzlib.jax2d", "jax", "jax"), ("rizzlib.mazes", "torch", "torch"), ("rizzlib.primer", "jax,torch", "jax"),
     ("rizzlib.kinetix", "jax", "jax"), ("rizzlib.caldera", "caldera", "torch"), ("rizzlib.fbcpr", "fbcpr", "jax"),
     ("rizzlib.icl", "icl", "torch")],
)
def test_chapter_import_without_its_extra_names_the_extra(bare_python, package, extra, module):
    out = _run(bare_python, f"""
        try:
            import {package}
        except ModuleNotFoundError as e:
            print(type(e).__name__, e.name, "|", e)
        else:
            print("imported")
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"ModuleNotFoundError {module} |"), out.stdout
    assert f'pip install "rizzlib[{extra}]"' in out.stdout
    assert package in out.stdout


@pytest.mark.parametrize("chapter", ["jax2d", "mazes", "primer", "kinetix", "caldera", "fbcpr", "icl"])
def test_chapter_package_calls_the_guard_before_its_imports(chapter):
    for init in [ROOT / "rizzlib" / chapter / "__init__.py"]:
        code = [ln for ln in init.read_text().splitlines() if ln.startswith(("from ", "import ", "require_extra("))]
        assert code[:2] and code[0].startswith("from rizzlib.core.extras import require_extra"), init
        assert code[1].startswith("require_extra("), init


def test_require_extra_messages_and_arguments(monkeypatch):
    extras.require_extra("rizzlib.x", "jax", modules=["numpy"])  # present: nothing happens
    with pytest.raises(ModuleNotFoundError, match=r'rizzlib\.x needs .no_such_mod_14., which is not installed.*pip install "rizzlib\[cal\]"'):
        extras.require_extra("rizzlib.x", "cal", modules=["numpy", "no_such_mod_14"])
    with pytest.raises(ValueError, match="extras must be among"):
        extras.require_extra("rizzlib.x", "nope")
    with pytest.raises(ValueError, match="at least one extra"):
        extras.require_extra("rizzlib.x")
    monkeypatch.setattr(extras, "is_importable", lambda m: m not in ("torch", "transformers"))
    with pytest.raises(ModuleNotFoundError, match=r"'torch', 'transformers', which are not installed") as e:
        extras.require_extra("rizzlib.mazes", "torch")
    assert e.value.name == "torch"
    assert extras.install_hint("jax", "torch") == 'pip install "rizzlib[jax,torch]"'
