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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._utils import sha256_file
from ..data import Dataset
from ..errors import GanevalError
from ..metrics.frechet import load_stats, stats_provenance

FORMAT = "ganeval-stats/1"
_CLEAN_FID_MODES = {"clean": "clean", "legacy_tensorflow": "legacy-tf", "legacy_pytorch": "legacy-pytorch"}


def record(extractor: Any, *, layer: str, data: str, split: str, n: int, shape: tuple[int, ...] | None,
           kind: str = "images", value_range: tuple[float, float] | None = None) -> dict[str, Any]:
    """The provenance written into a statistics file (``value_range``: the data's min and max,
    against which a run scored on the file alone checks its samples' range)."""
    return {"format": FORMAT, "features": extractor.name, "layer": layer, "resize": extractor.resize,
            "sha256": extractor.sha256, "config": extractor.config, "dim": extractor.dim, "data": data,
            "split": split, "n": int(n), "shape": list(shape) if shape else None, "kind": kind,
            **({"range": [float(value_range[0]), float(value_range[1])]} if value_range else {})}


def clean_fid_name(path: str | os.PathLike[str]) -> tuple[str, str] | None:
    """(resize mode, model) read from a clean-fid statistics file name, or None if not one."""
    stem = Path(path).name.lower()
    m = re.search(r"_(clean|legacy_tensorflow|legacy_pytorch)(_[a-z0-9_]+?)?_[a-z0-9]+_[a-z0-9]+\.npz$", stem)
    if not m:
        return None
    model = (m.group(2) or "").lstrip("_") or "inception_v3"
    return _CLEAN_FID_MODES[m.group(1)], model


def _check_fields(where: str, meta: dict[str, Any], want: dict[str, Any]) -> None:
    """Raise naming the first of ``want``'s settings that the file's provenance records otherwise."""
    for key, ours in want.items():
        theirs = meta.get(key)
        if theirs != ours:
            raise GanevalError(f"{where} were made with {key} {theirs!r} but this run uses {ours!r}; FIDs from "
                               f"different {key} values are different numbers: remake the file with `ganeval "
                               f"stats` and the run's settings, or run with the file's.")


def check_before_sampling(path: str | os.PathLike[str], features: str, extractor_options: dict[str, Any]) -> None:
    """Refuse a statistics file of other features (or, for Inception, another resize mode) before
    anything is sampled; :func:`read_reference` checks the rest (layer, weights, dimension) once the
    extractor is built.

    Raises:
        GanevalError: the file is missing, or records other features or resize mode than the run's.
    """
    p = Path(path)
    if not p.is_file():
        raise GanevalError(f"Reference statistics {p} not found; write one with `ganeval stats`.")
    meta = stats_provenance(p)
    if meta is None:
        return
    want: dict[str, Any] = {"features": features}
    if features == "inception":  # the one extractor with a choice of resize mode (legacy-tf by default)
        want["resize"] = extractor_options.get("resize") or "legacy-tf"
    _check_fields(f"Reference statistics {p}", meta, want)


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
        _check_fields(where, meta, {"features": extractor.name, "layer": layer, "resize": extractor.resize,
                                    "sha256": extractor.sha256})
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


# ---------------------------------------------------------------------------------------------
# a statistics file as the whole reference (``--reference stats.npz`` without ``--data``)

# Metrics that need nothing of the reference beyond a statistics file's mean and covariance: FID
# against the file, and the Inception Score (which ignores the reference).
STATISTICS_ONLY_METRICS = ("fid", "is", "inception_score")


def stats_reference(options: dict[str, dict[str, Any]] | None) -> str | None:
    """The statistics file named as ``fid``'s reference (``--reference x.npz``), or None."""
    ref = (options or {}).get("fid", {}).get("reference")
    return str(ref) if ref is not None and str(ref).endswith(".npz") else None


@dataclass
class StatisticsDataset(Dataset):
    """A reference known only by a statistics file: no rows, the file's mean and covariance.

    Its splits are empty ``(0, *shape)`` tensors of the shape the file records (the generator's
    samples are checked against it as against a dataset's rows); only
    :data:`STATISTICS_ONLY_METRICS` can be scored against it.

    Attributes:
        statistics: the statistics file's path.
        sha256: the file's sha256.
        meta: the provenance ganeval recorded in the file (None for pytorch-fid / clean-fid files).
        features: the extractor the file was made with (``inception`` for other tools' files).
        resize: the resize mode the file was made with, where known.
        value_range: the value range of the images the file was made from (``[0, 1]``, ganeval's
            image convention, where the file does not record it): the samples' range is checked
            against it.
        n_reference: rows behind the file's statistics (0: not recorded).
    """

    statistics: str = ""
    sha256: str = ""
    meta: dict[str, Any] | None = None
    features: str = "inception"
    resize: str | None = None
    value_range: tuple[float, float] = (0.0, 1.0)
    n_reference: int = 0

    def range_stand_in(self) -> Dataset:
        """A two-row dataset at the low and high ends of :attr:`value_range`, for the range check."""
        lo, hi = self.value_range
        rows = torch.stack([torch.full(self.sample_shape, float(lo)), torch.full(self.sample_shape, float(hi))])
        return Dataset(self.name, self.kind, rows, rows[:0], rows[:0])

    def check_metrics(self, names: list[str]) -> None:
        """Refuse metrics that need the reference's rows or feature vectors.

        Raises:
            GanevalError: the first such metric, named with the fix (pass ``--data``).
        """
        for name in names:
            if name not in STATISTICS_ONLY_METRICS:
                raise GanevalError(f"{name} needs the reference's feature vectors, but the reference is only the "
                                   f"statistics file {self.statistics} (a mean and a covariance): pass --data with "
                                   f"the reference images (the file still serves fid), or drop {name}.")

    def provenance(self) -> dict[str, Any]:
        """``provenance["reference"]`` of an evaluation against this file."""
        return {"statistics": self.statistics, "sha256": self.sha256, "statistics_only": True,
                "n": self.n_reference or None, "recorded": self.meta}


def statistics_dataset(path: str | os.PathLike[str], sample_shape: tuple[int, ...] | None = None) -> StatisticsDataset:
    """The reference of a run scored against the statistics file ``path`` alone.

    Args:
        path: a statistics ``.npz`` (ganeval's, pytorch-fid's or clean-fid's).
        sample_shape: the generator's sample shape, used where the file records none (other
            tools' files); the extractor then refuses samples it cannot take.

    Raises:
        GanevalError: the file is missing or unreadable, or records no shape and none is given.
    """
    p = Path(path)
    if not p.is_file():
        raise GanevalError(f"Reference statistics {p} not found; write one with `ganeval stats`, or pass --data.")
    load_stats(p)  # refuses a file without a readable mu / sigma before anything is sampled
    meta = stats_provenance(p)
    shape = tuple(int(s) for s in meta["shape"]) if meta and meta.get("shape") else sample_shape
    if not shape:
        raise GanevalError(f"Reference statistics {p} record no image shape; pass --data, or a generator whose "
                           "samples have a shape.")
    kind = str(meta.get("kind") or "images") if meta else "images"
    named = clean_fid_name(p)
    resize = (meta or {}).get("resize") or (named[0] if named else None)
    lo_hi = (meta or {}).get("range")
    empty = torch.empty(0, *shape)
    notes = [f"statistics only: the reference is {p} (mean and covariance, no rows)"]
    if meta and meta.get("data"):
        notes.append(f"statistics of {meta['data']} ({meta.get('split')}, N = {meta.get('n')})")
    return StatisticsDataset(
        name=str(p), kind=kind, train=empty, val=empty, test=empty, notes=notes, statistics=str(p),
        sha256=sha256_file(p), meta=meta, features=str((meta or {}).get("features") or "inception"), resize=resize,
        value_range=(float(lo_hi[0]), float(lo_hi[1])) if lo_hi else (0.0, 1.0),
        n_reference=int((meta or {}).get("n") or 0))


def reference_provenance(options: dict[str, dict[str, Any]] | None, dataset: Any) -> dict[str, Any] | None:
    """``provenance["reference"]``: the statistics file a run's FID was scored against (path,
    sha256, whether it was the whole reference), or None when there was none."""
    if isinstance(dataset, StatisticsDataset):
        return dataset.provenance()
    path = stats_reference(options)
    if path is None or not Path(path).is_file():
        return None
    return {"statistics": path, "sha256": sha256_file(path), "statistics_only": False}


def statistics_reference(gen: Any, options: dict[str, dict[str, Any]] | None, *, seed: int = 0,
                         batch_size: int = 1024) -> StatisticsDataset:
    """The reference of an evaluation given no data: ``fid``'s statistics file (see :func:`statistics_dataset`).

    ``gen`` (a :class:`ganeval.Generator`) gives the sample shape when the file records none: one
    sample is drawn for it.

    Raises:
        GanevalError: no statistics file was named, or :func:`statistics_dataset`'s errors.
    """
    path = stats_reference(options)
    if path is None:
        raise GanevalError("No reference: pass the reference data (--data NAME_OR_PATH), or a statistics file as "
                           "fid's reference (--reference stats.npz from `ganeval stats`) to score FID without it.")
    shape = None
    if not (stats_provenance(path) or {}).get("shape"):
        samples = gen.samples if getattr(gen, "samples", None) is not None else gen.sample(1, seed=seed,
                                                                                          batch_size=batch_size)
        shape = tuple(int(s) for s in samples.shape[1:])
    return statistics_dataset(path, sample_shape=shape)
