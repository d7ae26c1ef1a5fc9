"""Say which pip extra to install when a chapter's framework is missing.

Each chapter's ``__init__.py`` starts with::

    from rizzlib.core.extras import require_extra
    require_extra(__name__, "jax")   # or "torch", or several: require_extra(__name__, "jax", "torch")
    require_extra(__name__, "torch", modules=["torch", "safetensors"])  # only what the chapter imports

so ``import rizzlib.jax2d`` without JAX raises ``ModuleNotFoundError`` that names
``pip install "rizzlib[jax]"`` instead of a bare ``No module named 'jax'``. Only the standard
library is used here, so this runs before anything heavy is imported.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable

#: the import names each extra of ``pyproject.toml`` provides (distribution names differ sometimes)
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "jax": ("jax", "flax", "optax"),
    "torch": ("torch", "transformers", "safetensors"),
}


def is_importable(module: str) -> bool:
    """True when ``module`` (a top-level import name) can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a blocked or broken install counts as missing
        return False


def missing_modules(*extras: str, modules: Iterable[str] | None = None) -> list[str]:
    """The import names that are not installed: ``modules`` if given, else the ``extras``' modules."""
    if modules is not None:
        needed = list(modules)
    else:
        unknown = [e for e in extras if e not in EXTRA_MODULES]
        if unknown:
            raise ValueError(f"extras must be among {sorted(EXTRA_MODULES)} unless modules= is given; got {unknown}")
        needed = [m for e in extras for m in EXTRA_MODULES[e]]
    return [m for m in dict.fromkeys(needed) if not is_importable(m)]


def install_hint(*extras: str) -> str:
    """``pip install "rizzlib[jax,torch]"``."""
    return f'pip install "rizzlib[{",".join(extras)}]"'


def require_extra(package: str, *extras: str, modules: Iterable[str] | None = None) -> None:
    """Raise ``ModuleNotFoundError`` naming the extra to install when one of its modules is missing.

    Args:
        package: the importing package, normally ``__name__`` (``"rizzlib.jax2d"``).
        extras: the pip extras the package needs (keys of :data:`EXTRA_MODULES`, or any name when
            ``modules`` lists what to look for).
        modules: the top-level import names to look for, when not all of the extras' modules
            (:data:`EXTRA_MODULES`) are needed, or for an extra not in that table.
    """
    if not extras:
        raise ValueError("require_extra needs at least one extra name, e.g. 'jax' or 'torch'")
    missing = missing_modules(*extras, modules=modules)
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise ModuleNotFoundError(
            f"{package} needs {', '.join(repr(m) for m in missing)}, which {verb} not installed. "
            f"Install the extra: {install_hint(*extras)}",
            name=missing[0],
        )
