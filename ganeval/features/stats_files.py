"""Reference statistics files: what ganeval writes into them and when one may be scored against.

``ganeval stats`` writes pytorch-fid's format (``mu``, ``sigma``) plus a ``ganeval`` JSON entry
(see :func:`ganeval.metrics.save_stats`) recording the extractor, layer, resize mode, weights
sha256, data, split, N and image shape. A run scores FID against a file only when these agree with
its own extractor; otherwise the file is refused with the reason, because FIDs from different
features, weights or resize modes are different numbers.

Files of other tools carry no such record:

* clean-fid names its files ``{name}_{mode}[_{model}]_{split}_{res}.npz`` with mode ``clean``,
  ``legacy_tensorflow`` or ``legacy_pytorch``: the mode and model are read from the name.
* pytorch-fid's ``--save-stats`` files say nothing: they are accepted for 2048-d Inception runs
  with a note (pytorch-fid's own network resizes bilinearly in PyTorch, close to but not exactly
  ``legacy-tf``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GanevalError
from ..metrics.frechet import load_stats, stats_provenance

FORMAT = "ganeval-stats/1"
_CLEAN_FID_MODES = {"clean": "clean", "legacy_tensorflow": "legacy-tf", "legacy_pytorch": "legacy-pytorch"}


def record(extractor: Any, *, layer: str, data: str, split: str, n: int, shape: tuple[int, ...] | None,
           kind: str = "images") -> dict[str, Any]:
    """The provenance written into a statistics file."""
    return {"format": FORMAT, "features": extractor.name, "layer": layer, "resize": extractor.resize,
            "sha256": extractor.sha256, "config": extractor.config, "dim": extractor.dim, "data": data,
            "split": split, "n": int(n), "shape": list(shape) if shape else None, "kind": kind}


def clean_fid_name(path: str | os.PathLike[str]) -> tuple[str, str] | None:
    """(resize mode, model) read from a clean-fid statistics file name, or None if not one."""
    stem = Path(path).name.lower()
    m = re.search(r"_(clean|legacy_tensorflow|legacy_pytorch)(_[a-z0-9_]+?)?_[a-z0-9]+_[a-z0-9]+\.npz$", stem)
    if not m:
        return None
    model = (m.group(2) or "").lstrip("_") or "inception_v3"
    return _CLEAN_FID_MODES[m.group(1)], model


def read_reference(path: str | os.PathLike[str], extractor: Any, layer: str) -> tuple[np.ndarray, np.ndarray, int, list[str]]:
    """Mean, covariance, N and notes of a statistics file, checked against the run's extractor.

    Raises:
        GanevalError: unreadable file, or one made with other features, layer, weights, resize
            mode or dimension than the run's (the reason is named).
    """
    p = Path(path)
    if not p.is_file():
        raise GanevalError(f"Reference statistics {p} not found; write one with `ganeval stats`.")
    mu, sigma = load_stats(p)
    meta = stats_provenance(p)
    notes: list[str] = []
    n = 0
    where = f"Reference statistics {p}"
    if meta is not None:
        want = {"features": extractor.name, "layer": layer, "resize": extractor.resize, "sha256": extractor.sha256}
        for key, ours in want.items():
            theirs = meta.get(key)
            if theirs != ours:
                raise GanevalError(f"{where} were made with {key} {theirs!r} but this run uses {ours!r}; FIDs from "
                                   f"different {key} values are different numbers: remake the file with `ganeval "
                                   f"stats` and the run's settings, or run with the file's.")
        n = int(meta.get("n") or 0)
    else:
        named = clean_fid_name(p)
        if named is not None:
            mode, model = named
            if extractor.name != "inception" or model != "inception_v3":
                raise GanevalError(f"{where}: a clean-fid file of {model} features; this run uses {extractor.name}.")
            if mode != extractor.resize:
                raise GanevalError(f"{where}: a clean-fid file made with resize mode {mode!r} (from its name) but "
                                   f"this run uses {extractor.resize!r}; pass --resize {mode} or use a file of "
                                   "the run's mode.")
            notes.append(f"clean-fid statistics file ({mode} resize, read from its name); N not recorded")
        else:
            notes.append("statistics file without ganeval provenance (pytorch-fid?): its network, weights and resize "
                         "cannot be checked; N not recorded")
    if extractor.dim is not None and mu.shape[0] != extractor.dim:
        raise GanevalError(f"{where} are {mu.shape[0]}-d but the {extractor.name} extractor's {layer} features are "
                           f"{extractor.dim}-d.")
    return mu, sigma, n, notes
