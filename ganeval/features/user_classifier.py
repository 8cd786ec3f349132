"""A classifier the user brings (``--classifier PATH``): a TorchScript module mapping images to logits.

Conditional accuracy needs a classifier of the data's classes. ganeval ships CNNs for digits and
MNIST (:mod:`ganeval.features.digits_cnn`); for other data (CIFAR-10, an image folder with class
subfolders, an ``.npz``) the user passes their own, saved with ``torch.jit.save``, taking
``(N, C, H, W)`` float32 images in [0, 1] (the data's layout) and returning ``(N, K)`` logits
(or probabilities: only the arg-max is used).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .._utils import sha256_file
from ..conditional import first_line
from ..errors import GanevalError

HINT = ("pass --classifier a TorchScript file (torch.jit.save(torch.jit.script(net), PATH)) whose forward maps "
        "(N, C, H, W) images in [0, 1] to (N, K) logits")


@dataclass
class UserClassifier:
    """A loaded TorchScript classifier.

    Attributes:
        path: the file.
        module: the TorchScript module (eval mode).
        device: where it runs.
        sha256: hash of the file's bytes.
        batch_size: rows per forward pass.
    """

    path: Path
    module: Any
    device: torch.device
    sha256: str
    batch_size: int = 512

    @property
    def name(self) -> str:
        return self.path.name

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, ...) samples -> (N, K) float32 logits on the CPU.

        Raises:
            GanevalError: the module fails on the samples or does not return (B, K) scores.
        """
        out = []
        with torch.no_grad():
            for s in range(0, x.shape[0], self.batch_size):
                xb = x[s:s + self.batch_size].to(self.device)
                try:
                    y = self.module(xb)
                except (RuntimeError, TypeError, ValueError, IndexError, torch.jit.Error) as exc:
                    first = first_line(exc)
                    raise GanevalError(f"{self.path}: the classifier failed on samples of shape {tuple(xb.shape)} "
                                       f"({first}); {HINT}.") from exc
                if isinstance(y, (tuple, list)):
                    y = y[0]
                if not isinstance(y, torch.Tensor) or y.ndim != 2 or y.shape[0] != xb.shape[0]:
                    shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
                    raise GanevalError(f"{self.path}: the classifier returned {shape} for {xb.shape[0]} samples, not "
                                       f"({xb.shape[0]}, K) logits; {HINT}.")
                out.append(y.detach().float().cpu())
        return torch.cat(out)

    def provenance(self) -> dict[str, Any]:
        return {"name": "user", "path": str(self.path), "sha256": self.sha256, "accuracy": None}


def load_user_classifier(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> UserClassifier:
    """Load a TorchScript classifier from ``path``.

    Raises:
        GanevalError: the file is missing or not a TorchScript archive.
    """
    p = Path(path)
    if not p.is_file():
        raise GanevalError(f"--classifier {p}: no such file; {HINT}.")
    dev = torch.device(device)
    try:
        with warnings.catch_warnings():  # TorchScript is deprecated upstream but still what people ship
            warnings.simplefilter("ignore", FutureWarning)
            module = torch.jit.load(str(p), map_location=dev)
    except (RuntimeError, ValueError, OSError) as exc:
        first = first_line(exc)
        raise GanevalError(f"--classifier {p}: not a TorchScript archive ({first}); {HINT}.") from exc
    module.eval()
    return UserClassifier(path=p, module=module, device=dev, sha256=sha256_file(p))


__all__ = ["UserClassifier", "load_user_classifier"]
