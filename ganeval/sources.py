"""What to evaluate: paths, generators and sample arrays turned into a flat list of :class:`Item`.

A run folder (or any folder of checkpoints) expands to its checkpoints ordered by step
(:func:`ganeval.list_checkpoints`); a folder of images is one set of fixed samples. Used by
``evaluate_many`` and the report (:mod:`ganeval.compare`) and by the sweep engine
(:mod:`ganeval.sweep`), which is why it lives in neither.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checkpoints import Generator, list_checkpoints
from .errors import GanevalError
from .images import is_image_folder

Source = Any  # a path, a Generator, or an (N, ...) array of samples


@dataclass(frozen=True)
class Item:
    """One thing to evaluate, with where it came from.

    Attributes:
        source: a checkpoint path, a :class:`Generator` or an array of samples.
        label: the name shown in tables (the file name, or the caller's key).
        run: the run folder it was expanded from (None for a single file).
    """

    source: Source
    label: str
    run: Path | None = None


def expand(sources: Source | Iterable[Source] | Mapping[str, Source]) -> list[Item]:
    """Turn paths / generators / a ``{label: source}`` mapping into a flat list of :class:`Item`.

    A folder that is not a folder of images expands to its checkpoints ordered by step.

    Raises:
        GanevalError: a path does not exist, a folder holds no checkpoint, or nothing was given.
    """
    pairs: list[tuple[str | None, Any]]
    if isinstance(sources, Mapping):
        pairs = [(str(k), v) for k, v in sources.items()]
    elif isinstance(sources, (str, os.PathLike, Generator)) or hasattr(sources, "shape"):
        pairs = [(None, sources)]
    else:
        pairs = [(None, s) for s in sources]
    items: list[Item] = []
    for label, src in pairs:
        if isinstance(src, (str, os.PathLike)):
            path = Path(src)
            if not path.exists():
                raise GanevalError(f"{path}: no such file or folder; check the path.")
            if path.is_dir() and not is_image_folder(path):
                for ck in list_checkpoints(path):
                    items.append(Item(str(ck), f"{label}/{ck.name}" if label else f"{path.name}/{ck.name}", path))
                continue
            items.append(Item(str(path), label or path.name))
        elif isinstance(src, Generator):
            items.append(Item(src, label or src.name))
        else:
            items.append(Item(src, label or f"<array {len(items)}>"))
    if not items:
        raise GanevalError("Nothing to evaluate: pass at least one checkpoint, samples file or run folder.")
    return items


__all__ = ["Item", "Source", "expand"]
