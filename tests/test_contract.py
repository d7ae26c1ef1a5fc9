"""Contracts every chapter package keeps: presets for the three scales, module docstrings for the
API reference, and a fresh generated API page."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import sys
from pathlib import Path

import pytest

import rizzlib
from rizzlib.core.scale import SCALES, Presets

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = [m.name for m in pkgutil.iter_modules(rizzlib.__path__) if m.ispkg and m.name != "core"]
MODULES = [
    f"rizzlib.{pkg}.{m.name}"
    for pkg in ["core", *CHAPTERS]
    for m in pkgutil.iter_modules(importlib.import_module(f"rizzlib.{pkg}").__path__)
    if not m.ispkg
]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_has_frozen_presets_for_every_scale(chapter):
    presets = importlib.import_module(f"rizzlib.{chapter}.presets")
    assert isinstance(presets.PRESETS, Presets)
    for scale in SCALES:
        config = presets.preset(scale)
        assert config is getattr(presets.PRESETS, scale)
        if dataclasses.is_dataclass(config):
            assert type(config).__dataclass_params__.frozen, f"{chapter} {scale} config must be frozen"
    assert presets.PRESETS.smoke != presets.PRESETS.gpu
    with pytest.raises(ValueError, match="scale must be one of"):
        presets.preset("medium")


@pytest.mark.parametrize("module", MODULES)
def test_every_module_says_what_it_is_for(module):
    doc = importlib.import_module(module).__doc__
    assert doc and doc.strip(), f"{module} needs a module docstring (it opens its API reference section)"


def test_api_page_is_fresh():
    sys.path.insert(0, str(ROOT / "tools"))
    import make_api

    assert make_api.main(["--check"]) == 0, "run: python tools/make_api.py"
