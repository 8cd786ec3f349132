"""Registry of per-metric report figures.

A figure function takes an in-memory :class:`~ganeval.evaluate.Evaluation` (with ``samples``,
``dataset`` and ``artifacts``) and returns a list of ``(file_stem, Figure, caption)``; it returns
``[]`` when it has nothing to draw. Modules named ``fig_*.py`` in this package register theirs
with :func:`register_figure`; :func:`figures_for` imports them on first use.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

FigureList = list[tuple[str, Figure, str]]
FIGURES: dict[str, list[Callable[[Any], FigureList]]] = {}


def register_figure(metric: str) -> Callable[[Callable[[Any], FigureList]], Callable[[Any], FigureList]]:
    """Register ``fn(evaluation) -> [(stem, figure, caption)]`` for evaluations holding ``metric``."""

    def deco(fn: Callable[[Any], FigureList]) -> Callable[[Any], FigureList]:
        FIGURES.setdefault(metric, []).append(fn)
        return fn

    return deco


_loaded = False


def _load() -> None:
    global _loaded
    if _loaded:
        return
    # This package's fig_* modules, found by path and imported by name (no import of the package).
    for mod in pkgutil.iter_modules([str(Path(__file__).resolve().parent)]):
        if mod.name.startswith("fig_"):
            importlib.import_module(f"{__package__}.{mod.name}")
    _loaded = True


def figures_for(evaluation: Any) -> FigureList:
    """Every registered figure for the metrics the evaluation holds (in-memory evaluations only)."""
    _load()
    out: FigureList = []
    if evaluation.samples is None:
        return out
    for metric in evaluation.metrics:
        for fn in FIGURES.get(metric, []):
            out.extend(fn(evaluation))
    return out
