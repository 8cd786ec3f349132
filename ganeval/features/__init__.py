"""Feature extractors: a registry from names to callables mapping samples to feature vectors.

An extractor takes a float32 batch in data space (images ``N x C x H x W`` in [0, 1], or vectors
``N x D``) and returns ``N x F`` float32 features on the CPU. Each carries its ``name``, the
``sha256`` of its weights (None for ``raw``) and a ``description`` for provenance.

Built in:

=============  ===================================================================================
``inception``  torch-fidelity's ``inception-v3-compat``, 2048-d pool features (offline weights:
               ``weights=PATH``, ``$GANEVAL_INCEPTION_WEIGHTS``, torch's hub cache, or
               ``allow_download=True``); see :mod:`ganeval.features.inception`
``digits``     ganeval's CNN for scikit-learn's 8x8 digits, 128-d penultimate layer
``mnist``      ganeval's CNN for 28x28 MNIST, 128-d penultimate layer (per channel for Stacked MNIST)
``raw``        the data itself, flattened (mixtures, vectors)
=============  ===================================================================================

Features of reference-dataset splits are cached on disk by :func:`cached_features` in
:func:`cache_dir` (``$GANEVAL_CACHE/features``, default ``~/.cache/ganeval/features``;
``GANEVAL_CACHE=off`` disables it).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .._utils import progress
from ..errors import GanevalError, unknown_name


@dataclass
class Extractor:
    """A loaded feature extractor.

    Attributes:
        name: registry name.
        fn: maps a batch on ``device`` to (B, F) features.
        device: where batches are sent.
        sha256: hash of the weights file (None when the extractor has no weights).
        dim: feature dimension, where known before the first batch.
        description: one line for reports.
        batch_size: default batch size.
        cacheable: whether :func:`cached_features` may keep its features on disk.
        config: settings besides the weights that change the features (part of the cache key).
    """

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    device: torch.device
    sha256: str | None = None
    dim: int | None = None
    description: str = ""
    batch_size: int = 256
    cacheable: bool = True
    config: str = ""

    def __call__(self, x: torch.Tensor, *, batch_size: int | None = None) -> torch.Tensor:
        """Features of every row of ``x``, in batches, as (N, F) float32 on the CPU.

        Raises:
            GanevalError: ``x`` is not a tensor of finite values or does not suit the extractor.
        """
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x))
        if x.ndim == 0 or not torch.isfinite(x).all():
            raise GanevalError(f"Input to the {self.name!r} feature extractor must be finite rows; got NaN/Inf or a "
                               f"scalar (shape {tuple(x.shape)}).")
        bs = int(batch_size or self.batch_size)
        out = []
        starts = range(0, x.shape[0], bs)
        with torch.no_grad():
            for s in progress(starts, desc=f"features ({self.name})", total=len(starts), unit="batch"):
                out.append(self.fn(x[s:s + bs].to(self.device)).detach().float().reshape(min(bs, x.shape[0] - s), -1).cpu())
        return torch.cat(out) if out else torch.empty(0, self.dim or 0)

    def provenance(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "dim": self.dim, "description": self.description}


_REGISTRY: dict[str, Callable[..., Extractor]] = {}


def register_extractor(name: str) -> Callable[[Callable[..., Extractor]], Callable[..., Extractor]]:
    """Decorator adding a factory ``(device, **options) -> Extractor`` under ``name``."""

    def deco(factory: Callable[..., Extractor]) -> Callable[..., Extractor]:
        _REGISTRY[name] = factory
        return factory

    return deco


def list_extractors() -> list[str]:
    return sorted(_REGISTRY)


def get_extractor(name: str, *, device: torch.device | str = "cpu", **options: Any) -> Extractor:
    """Build the extractor ``name`` on ``device``.

    Options (others are ignored, so one option dict serves every extractor):
        weights: path of the Inception weights (``inception`` only).
        allow_download: let ``inception`` fetch torch-fidelity's weights when none are found.
        batch_size: rows per forward pass.

    Raises:
        GanevalError: unknown name (with near misses), or the extractor's weights are missing or broken.
    """
    if name not in _REGISTRY:
        raise unknown_name("feature extractor", name, _REGISTRY)
    ext = _REGISTRY[name](device=torch.device(device), **options)
    if options.get("batch_size"):
        ext.batch_size = int(options["batch_size"])
    return ext


@register_extractor("raw")
def _raw(device: torch.device, **_: Any) -> Extractor:
    return Extractor(name="raw", fn=lambda x: x.reshape(x.shape[0], -1), device=device,
                     description="the data itself, flattened", cacheable=False)


@register_extractor("digits")
def _digits(device: torch.device, **_: Any) -> Extractor:
    from .digits_cnn import make_extractor

    return make_extractor("digits", device)


@register_extractor("mnist")
def _mnist(device: torch.device, **_: Any) -> Extractor:
    from .digits_cnn import make_extractor

    return make_extractor("mnist", device)


@register_extractor("inception")
def _inception(device: torch.device, *, weights: str | os.PathLike[str] | None = None, allow_download: bool = False,
               internal_dtype: str = "float32", **_: Any) -> Extractor:
    from .inception import make_extractor

    return make_extractor(device, weights=weights, allow_download=allow_download, internal_dtype=internal_dtype)


def default_extractor_for(dataset: Any) -> str:
    """The extractor used when none is named: the shipped digit CNNs where they fit, else Inception."""
    name = str(getattr(dataset, "name", ""))
    shape = tuple(getattr(dataset, "sample_shape", ()))
    if getattr(dataset, "kind", "") != "images":
        return "raw"
    if name == "digits" or shape == (1, 8, 8):
        return "digits"
    if name in ("mnist", "stacked-mnist") or shape == (1, 28, 28):
        return "mnist"
    return "inception"


# ---------------------------------------------------------------------------------------------
# disk cache of reference features


def cache_dir() -> Path | None:
    """Folder of cached reference features: ``$GANEVAL_CACHE/features`` (default ``~/.cache/ganeval/features``).

    Returns None when ``GANEVAL_CACHE`` is ``off`` (caching disabled).
    """
    base = os.environ.get("GANEVAL_CACHE")
    if base is not None and base.strip().lower() in ("off", "0", "none", "false", ""):
        return None
    return Path(base).expanduser() / "features" if base else Path.home() / ".cache" / "ganeval" / "features"


def content_hash(x: torch.Tensor) -> str:
    """sha256 of a tensor's shape, dtype and bytes (identifies in-memory data without a stable name)."""
    arr = np.ascontiguousarray(x.detach().cpu().numpy())
    h = hashlib.sha256(f"{arr.shape}|{arr.dtype}|".encode())
    h.update(memoryview(arr).cast("B"))
    return h.hexdigest()


def cache_key(extractor: Extractor, dataset: Any, split: str, data: torch.Tensor) -> str:
    """File name keyed by dataset name, split, seed, extractor name, weights hash and data content."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(str(getattr(dataset, "name", "data"))).name)[:40] or "data"
    cfg = hashlib.sha256(extractor.config.encode()).hexdigest()[:8] if extractor.config else "default"
    return (f"{name}-{split}-seed{getattr(dataset, 'seed', 0)}-{extractor.name}-{(extractor.sha256 or 'noweights')[:16]}"
            f"-{cfg}-{content_hash(data)[:16]}.npy")


def cached_features(extractor: Extractor, dataset: Any, split: str) -> torch.Tensor:
    """Features of a dataset split, read from or written to the disk cache (:func:`cache_dir`).

    The key holds the dataset's name, split and seed, the extractor's name, weights sha256 and
    settings, and a hash of the split's content, so a changed dataset or extractor never reads
    stale features. Files are written atomically (temporary file, then rename).

    Raises:
        GanevalError: unknown split.
    """
    data = dataset.split(split)
    folder = cache_dir()
    if not extractor.cacheable or folder is None:
        return extractor(data)
    path = folder / cache_key(extractor, dataset, split, data)
    if path.is_file():
        try:
            arr = np.load(path, allow_pickle=False)
            if arr.ndim == 2 and arr.shape[0] == data.shape[0]:
                return torch.from_numpy(arr)
        except (OSError, ValueError):
            pass  # unreadable entry: recompute and overwrite
    feats = extractor(data)
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, feats.numpy())
        os.replace(tmp, path)
    except OSError:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)  # a read-only or full cache only costs the recomputation
    return feats


__all__ = ["cache_dir", "cached_features", "default_extractor_for", "Extractor", "GanevalError", "get_extractor",
           "list_extractors", "register_extractor"]
