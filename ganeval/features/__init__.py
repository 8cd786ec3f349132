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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._utils import progress
from ..errors import GanevalError, unknown_name

DEFAULT_LAYER = "default"


@dataclass
class Extractor:
    """A loaded feature extractor, possibly with several named layers computed in one pass.

    Attributes:
        name: registry name.
        fn: maps a batch on ``device`` to (B, F) features, or to ``{layer: (B, F_layer)}`` for an
            extractor with several layers (every layer of :attr:`layers`, from one forward pass).
        device: where batches are sent.
        sha256: hash of the weights file (None when the extractor has no weights).
        dim: feature dimension of the default layer, where known before the first batch.
        description: one line for reports.
        batch_size: default batch size.
        cacheable: whether :func:`cached_features` may keep its features on disk.
        config: settings besides the weights that change the features (part of the cache key).
        layers: names of the layers ``fn`` returns (empty: one layer, called ``"default"``).
        default_layer: the layer served when none is named (FID, KID, PRDC use it).
        resize: the resize mode images go through (``"legacy-tf"``, ``"clean"``, ...; None when
            the extractor does not resize). Part of the cache key and of the provenance.
        images_seen: rows pushed through ``fn`` so far (one forward pass per row and batch).
    """

    name: str
    fn: Callable[[torch.Tensor], Any]
    device: torch.device
    sha256: str | None = None
    dim: int | None = None
    description: str = ""
    batch_size: int = 256
    cacheable: bool = True
    config: str = ""
    layers: tuple[str, ...] = ()
    default_layer: str = DEFAULT_LAYER
    resize: str | None = None
    images_seen: int = 0

    @property
    def layer_names(self) -> tuple[str, ...]:
        """Every layer one forward pass yields."""
        return self.layers or (self.default_layer,)

    def check_layer(self, layer: str | None) -> str:
        """The layer name to use (``None``: the default).

        Raises:
            GanevalError: a layer this extractor does not have (with near misses).
        """
        if layer is None:
            return self.default_layer
        if layer not in self.layer_names:
            raise unknown_name(f"layer of the {self.name!r} extractor", layer, self.layer_names)
        return layer

    def _check_input(self, x: Any) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x))
        if x.ndim == 0 or not torch.isfinite(x).all():
            raise GanevalError(f"Input to the {self.name!r} feature extractor must be finite rows; got NaN/Inf or a "
                               f"scalar (shape {tuple(x.shape)}).")
        return x

    def forward_batch(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every layer of one batch (already on any device), as ``{layer: (B, F) float32 CPU}``."""
        b = x.shape[0]
        with torch.no_grad():
            out = self.fn(x.to(self.device))
            self.images_seen += b
        if not isinstance(out, dict):
            out = {self.default_layer: out}
        return {k: v.detach().float().reshape(b, -1).cpu() for k, v in out.items()}

    def features(self, x: Any, *, batch_size: int | None = None, desc: str | None = None) -> dict[str, torch.Tensor]:
        """Every layer's features of every row of ``x``, from one forward pass per batch.

        Returns:
            ``{layer: (N, F_layer) float32 CPU tensor}`` for every name in :attr:`layer_names`.

        Raises:
            GanevalError: ``x`` is not a tensor of finite values or does not suit the extractor.
        """
        x = self._check_input(x)
        bs = int(batch_size or self.batch_size)
        parts: dict[str, list[torch.Tensor]] = {}
        starts = range(0, x.shape[0], bs)
        for s in progress(starts, desc=desc or f"features ({self.name})", total=len(starts), unit="batch"):
            for k, v in self.forward_batch(x[s:s + bs]).items():
                parts.setdefault(k, []).append(v)
        if not parts:
            return {k: torch.empty(0, self.dim or 0) for k in self.layer_names}
        return {k: torch.cat(v) for k, v in parts.items()}

    def __call__(self, x: torch.Tensor, *, batch_size: int | None = None, layer: str | None = None) -> torch.Tensor:
        """Features of every row of ``x`` for one layer (default: :attr:`default_layer`), (N, F) float32 CPU.

        Raises:
            GanevalError: ``x`` is not a tensor of finite values or does not suit the extractor;
                an unknown layer.
        """
        name = self.check_layer(layer)
        return self.features(x, batch_size=batch_size)[name]

    def provenance(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "sha256": self.sha256, "dim": self.dim,
                               "description": self.description}
        if self.layers:
            out["layers"] = list(self.layers)
            out["default_layer"] = self.default_layer
        if self.resize is not None:
            out["resize"] = self.resize
        return out


_REGISTRY: dict[str, Callable[..., Extractor]] = {}


def register_extractor(name: str) -> Callable[[Callable[..., Extractor]], Callable[..., Extractor]]:
    """Decorator adding a factory ``(device, **options) -> Extractor`` under ``name``."""

    def deco(factory: Callable[..., Extractor]) -> Callable[..., Extractor]:
        _REGISTRY[name] = factory
        return factory

    return deco


_PLUGINS_LOADED = False


def load_extractor_plugins(*, refresh: bool = False) -> None:
    """Register the extractors of the ``ganeval.extractors`` entry-point group (once per process).

    An entry point names a module whose import calls :func:`register_extractor`, or a factory
    ``(device, **options) -> Extractor`` registered under the entry point's name.

    Raises:
        GanevalError: a plug-in that fails to load.
    """
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED and not refresh:
        return
    import types

    from ..plugins import load_entry_points

    for name, obj in load_entry_points("ganeval.extractors"):
        if callable(obj) and not isinstance(obj, types.ModuleType) and name not in _REGISTRY:
            _REGISTRY[name] = obj
    _PLUGINS_LOADED = True


def list_extractors() -> list[str]:
    load_extractor_plugins()
    return sorted(_REGISTRY)


def get_extractor(name: str, *, device: torch.device | str = "cpu", **options: Any) -> Extractor:
    """Build the extractor ``name`` on ``device``.

    Options (others are ignored, so one option dict serves every extractor):
        weights: path of the Inception weights (``inception`` only).
        allow_download: let ``inception`` fetch torch-fidelity's weights when none are found.
        resize: ``inception``'s resize mode, ``"legacy-tf"`` (default) or ``"clean"``
            (:mod:`ganeval.features.resize`).
        dinov2_weights, clip_weights: weights files of the ``dinov2`` / ``clip`` extractors.
        batch_size: rows per forward pass.

    Raises:
        GanevalError: unknown name (with near misses), or the extractor's weights are missing or broken.
    """
    if name not in _REGISTRY:
        load_extractor_plugins()  # third-party extractors are looked for only when a name is unknown
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
               internal_dtype: str = "float32", resize: str | None = None, inception_backend: str = "auto",
               **_: Any) -> Extractor:
    from .inception import make_extractor

    return make_extractor(device, weights=weights, allow_download=allow_download, internal_dtype=internal_dtype,
                          resize=resize or "legacy-tf", backend=inception_backend)


@register_extractor("dinov2")
def _dinov2(device: torch.device, *, dinov2_weights: str | os.PathLike[str] | None = None, **_: Any) -> Extractor:
    from .dinov2 import make_extractor

    return make_extractor(device, weights=dinov2_weights)


@register_extractor("clip")
def _clip(device: torch.device, *, clip_weights: str | os.PathLike[str] | None = None, **_: Any) -> Extractor:
    from .clip import make_extractor

    return make_extractor(device, weights=clip_weights)


def default_extractor_for(dataset: Any) -> str:
    """The extractor used when none is named: the data itself off images, the shipped digit CNNs
    where they fit (:func:`ganeval.features.digits_cnn.digit_task`), else Inception."""
    if getattr(dataset, "kind", "") != "images":
        return "raw"
    from .digits_cnn import digit_task

    task = digit_task(dataset)
    return task[0] if task is not None else "inception"


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
    h.update(memoryview(arr).cast("B"))  # type: ignore[arg-type]
    return h.hexdigest()


def cache_key(extractor: Extractor, dataset: Any, split: str, data: torch.Tensor, layer: str | None = None,
              data_hash: str | None = None) -> str:
    """File name keyed by dataset name, split, seed, extractor name, layer, resize mode, weights hash,
    settings and data content."""
    name = re.sub(r"[^A-Za-z0-9_.+-]+", "_", Path(str(getattr(dataset, "name", "data"))).name)[:40] or "data"
    cfg_text = extractor.config + (f"|resize={extractor.resize}" if extractor.resize else "")
    cfg = hashlib.sha256(cfg_text.encode()).hexdigest()[:8] if cfg_text else "default"
    lay = "" if layer in (None, DEFAULT_LAYER) else "-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", str(layer))
    return (f"{name}-{split}-seed{getattr(dataset, 'seed', 0)}-{extractor.name}{lay}"
            f"-{(extractor.sha256 or 'noweights')[:16]}-{cfg}-{(data_hash or content_hash(data))[:16]}.npy")


def _read_cached(path: Path, rows: int) -> torch.Tensor | None:
    if not path.is_file():
        return None
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None  # unreadable entry: recompute and overwrite
    return torch.from_numpy(arr) if arr.ndim == 2 and arr.shape[0] == rows else None


def _write_atomic(folder: Path, path: Path, arr: np.ndarray) -> None:
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, arr)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)  # a read-only or full cache only costs the recomputation


def cached_layers(extractor: Extractor, dataset: Any, split: str) -> dict[str, torch.Tensor]:
    """Every layer's features of a dataset split, read from or written to the disk cache.

    One file per layer, keyed by :func:`cache_key` (dataset name, split and seed, extractor name,
    layer, resize mode, weights sha256, settings and a hash of the split's content), so a changed
    dataset or extractor never reads stale features. When any layer is missing, all of them are
    recomputed in one pass. Files are written atomically (temporary file, then rename).

    Raises:
        GanevalError: unknown split.
    """
    data = dataset.split(split)
    folder = cache_dir()
    if not extractor.cacheable or folder is None:
        return extractor.features(data, desc=f"features ({extractor.name}, {split})")
    digest = content_hash(data)
    paths = {k: folder / cache_key(extractor, dataset, split, data, k, digest) for k in extractor.layer_names}
    found = {k: _read_cached(p, data.shape[0]) for k, p in paths.items()}
    if all(v is not None for v in found.values()):
        return {k: v for k, v in found.items() if v is not None}
    feats = extractor.features(data, desc=f"features ({extractor.name}, {split})")
    for k, p in paths.items():
        _write_atomic(folder, p, feats[k].numpy())
    return feats


def cached_features(extractor: Extractor, dataset: Any, split: str, layer: str | None = None) -> torch.Tensor:
    """One layer's features of a dataset split (default: the extractor's default layer), cached
    on disk by :func:`cached_layers` (every layer is computed in the same pass).

    Raises:
        GanevalError: unknown split or layer.
    """
    name = extractor.check_layer(layer)
    return cached_layers(extractor, dataset, split)[name]


__all__ = ["cache_dir", "cached_features", "cached_layers", "DEFAULT_LAYER", "default_extractor_for", "Extractor", "GanevalError", "get_extractor",
           "list_extractors", "register_extractor"]
