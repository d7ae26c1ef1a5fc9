"""Serve MathJax from the built book instead of a CDN, so math renders offline too.

MathJax 2.7 comes from the ``jupyter-server-mathjax`` wheel on PyPI (the same copy Jupyter
servers use); it is copied into ``_build/html/_static/mathjax`` after the build. If that package is
missing, the book falls back to Sphinx's default CDN MathJax.
"""

from __future__ import annotations

import shutil
from pathlib import Path

MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full"  # the combined config the wheel ships


def _source() -> Path | None:
    try:
        import jupyter_server_mathjax
    except ImportError:
        return None
    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    return static if (static / "MathJax.js").exists() else None


def _use_local(app, config) -> None:
    if _source() is not None:
        config.mathjax_path = f"mathjax/MathJax.js?config={MATHJAX_CONFIG}"
        # MathJax 2 reads window.MathJax as its configuration, so no v3-style options; and the
        # classes myst uses to mark what to typeset must be spelled out for v2's tex2jax.
        config.mathjax3_config = None
        config.myst_update_mathjax = False
        config.mathjax2_config = {
            "tex2jax": {
                "inlineMath": [["\\(", "\\)"]],
                "displayMath": [["\\[", "\\]"]],
                "processEscapes": True,
                "processEnvironments": True,
                "ignoreClass": "tex2jax_ignore|mathjax_ignore",
                "processClass": "tex2jax_process|mathjax_process|math|output_area",
            },
            # the wheel ships only the STIX-Web fonts; name them so MathJax does not look for TeX
            "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web", "imageFont": None},
            "showMathMenu": False,
            "messageStyle": "none",
        }


def _copy(app, exception) -> None:
    source = _source()
    if exception is None and source is not None and app.builder.format == "html":
        target = Path(app.outdir) / "_static" / "mathjax"
        if not (target / "MathJax.js").exists():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))


def setup(app):
    app.connect("config-inited", _use_local, priority=900)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
