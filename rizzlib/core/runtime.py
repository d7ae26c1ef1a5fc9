"""What a notebook runs with: the scale, the device and the package versions, printed in one cell."""

from __future__ import annotations

import importlib.metadata
import platform
import sys

from rizzlib.core.scale import resolve_scale

PACKAGES = ("rizzlib", "numpy", "jax", "flax", "optax", "torch", "transformers")


def in_colab() -> bool:
    """True inside a Google Colab kernel."""
    return "google.colab" in sys.modules


def versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of ``packages`` (``"-"`` when one is missing), without importing them."""
    out = {}
    for name in packages:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "-"
    return out


def device_name() -> str:
    """A short description of the accelerator the frameworks see, or ``"cpu"``."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    jax = sys.modules.get("jax")
    if jax is not None and jax.default_backend() != "cpu":
        return f"{jax.default_backend()} ({jax.devices()[0].device_kind})"
    return "cpu"


def describe(scale: str | None = None, packages: tuple[str, ...] = PACKAGES) -> str:
    """Resolve ``scale``, print scale / device / Python / package versions, and return the scale."""
    resolved = resolve_scale(scale)
    print(f"scale: {resolved}" + (f" (asked: {scale})" if scale not in (None, resolved) else ""))
    print(f"device: {device_name()}   python: {platform.python_version()}")
    print("versions: " + "  ".join(f"{k} {v}" for k, v in versions(packages).items() if v != "-"))
    if resolved == "gpu" and device_name() == "cpu":
        print("note: the gpu preset on a CPU will be slow; on Colab pick Runtime > Change runtime type > GPU.")
    elif resolved != "gpu" and in_colab() and device_name() == "cpu":
        print("tip: for the paper-scale preset, pick Runtime > Change runtime type > GPU and set SCALE='gpu'.")
    return resolved
