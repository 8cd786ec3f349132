"""Feature extractors: a registry from names to callables mapping samples to feature vectors.

An extractor takes a float32 batch in data space (images ``N x C x H x W`` in [0, 1], or vectors
``N x D``) and returns ``N x F`` float32 features on the CPU. Each carries its ``name``, the
``sha256`` of its weights (None for ``raw``) and a ``description`` for provenance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

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
    """

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    device: torch.device
    sha256: str | None = None
    dim: int | None = None
    description: str = ""
    batch_size: int = 256

    def __call__(self, x: torch.Tensor, *, batch_size: int | None = None) -> torch.Tensor:
        """Features of every row of ``x``, in batches, as (N, F) float32 on the CPU."""
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

    Raises:
        GanevalError: unknown name (with near misses), or the extractor's weights are missing.
    """
    if name not in _REGISTRY:
        raise unknown_name("feature extractor", name, _REGISTRY)
    return _REGISTRY[name](device=torch.device(device), **options)


@register_extractor("raw")
def _raw(device: torch.device, **_: Any) -> Extractor:
    return Extractor(name="raw", fn=lambda x: x.reshape(x.shape[0], -1), device=device,
                     description="the data itself, flattened")


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


def cached_features(extractor: Extractor, dataset: Any, split: str) -> torch.Tensor:
    """Features of a dataset split (computed here; a disk cache may serve them)."""
    return extractor(dataset.split(split))


__all__ = ["cached_features", "default_extractor_for", "Extractor", "GanevalError", "get_extractor", "list_extractors", "register_extractor"]
