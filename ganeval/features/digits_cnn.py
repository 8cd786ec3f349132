"""Small CNN digit classifiers shipped with ganeval: ``digits`` (scikit-learn 8x8) and ``mnist`` (28x28).

They play Inception's part on digit data: the extractors ``digits`` and ``mnist`` give the
128-d penultimate-layer activations (after the ReLU, as Inception's pool features are) for
Fréchet / kernel / PRDC metrics, and :func:`load_classifier` gives class probabilities for class
coverage and Stacked MNIST mode counts.

The weights are package data (``ganeval/features/weights/<name>.pt``, loaded with
``weights_only=True``); ``<name>.json`` beside them records the sha256 of the file, the training
protocol and the held-out accuracy. ``scripts/train_feature_nets.py`` retrains them
reproducibly. Images with several channels (Stacked MNIST) get each channel's features
concatenated: 3 x 128 = 384 features.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._utils import sha256_file
from ..errors import GanevalError, unknown_name

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
FEATURE_DIM = 128
FORMAT = "ganeval-classifier"

# name -> (image side, conv widths, kernel sizes)
ARCHS: dict[str, dict[str, Any]] = {
    "digits": {"size": 8, "widths": [32, 64, 64], "kernels": [3, 3, 3], "pools": [False, True, True]},
    "mnist": {"size": 28, "widths": [32, 64, 64], "kernels": [3, 3, 3], "pools": [True, True, True]},
}


class DigitNet(nn.Module):
    """Conv-BN-ReLU blocks (some max-pooled), a 128-unit ReLU layer (the features), a linear head.

    Args:
        size: image side (8 or 28); images are (N, 1, size, size) in [0, 1].
        widths, kernels, pools: per block, output channels, kernel size, whether to 2x2 max-pool.
        n_classes: outputs of the head.
    """

    def __init__(self, size: int, widths: list[int], kernels: list[int], pools: list[bool], n_classes: int = 10,
                 dropout: float = 0.3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c, s = 1, size
        for w, k, p in zip(widths, kernels, pools):
            layers += [nn.Conv2d(c, w, k, padding=k // 2, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            if p:
                layers.append(nn.MaxPool2d(2))
                s //= 2
            c = w
        self.size = size
        self.body = nn.Sequential(*layers)
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(c * s * s, FEATURE_DIM), nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(FEATURE_DIM, n_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, size, size) images -> (N, 128) penultimate activations."""
        return self.embed(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (N, 10)."""
        return self.head(self.features(x))


def digit_task(dataset: Any) -> tuple[str, bool] | None:
    """Which shipped classifier reads this dataset's images: ``(name, per_channel)``, or None.

    ``("digits", False)`` for 8x8 digits, ``("mnist", False)`` for 28x28 MNIST, ``("mnist", True)``
    for Stacked MNIST (three MNIST digits as channels, 1000 classes). The one place ganeval decides
    "is this digit data?" (default extractor, class coverage, conditional accuracy).
    """
    if getattr(dataset, "kind", "") != "images":
        return None
    name = str(getattr(dataset, "name", ""))
    shape = tuple(getattr(dataset, "sample_shape", ()))
    if name == "digits" or shape == (1, 8, 8):
        return "digits", False
    if name == "stacked-mnist" or (shape == (3, 28, 28) and getattr(dataset, "n_classes", None) == 1000):
        return "mnist", True
    if name == "mnist" or shape == (1, 28, 28):
        return "mnist", False
    return None


def build(name: str) -> DigitNet:
    """A freshly initialised network of the architecture ``name`` ("digits" or "mnist")."""
    if name not in ARCHS:
        raise unknown_name("digit classifier", name, ARCHS)
    return DigitNet(**ARCHS[name])


def weights_path(name: str) -> Path:
    return WEIGHTS_DIR / f"{name}.pt"


def load_meta(name: str) -> dict[str, Any]:
    """The JSON record beside the weights (accuracy, sha256, protocol); {} where absent."""
    p = WEIGHTS_DIR / f"{name}.json"
    try:
        return dict(json.loads(p.read_text()))
    except (OSError, ValueError):
        return {}


def _load_net(name: str, path: Path, device: torch.device) -> DigitNet:
    if not path.is_file():
        raise GanevalError(f"Weights of the {name!r} classifier not found at {path}: reinstall ganeval, or "
                           "retrain them with `python scripts/train_feature_nets.py`.")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or unsafe files
        raise GanevalError(f"{path}: cannot read the {name!r} classifier weights ({exc}).") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT or ckpt.get("arch") != name:
        raise GanevalError(f"{path}: not a ganeval {name!r} classifier (expected format {FORMAT!r}, arch {name!r}).")
    net = build(name)
    try:
        net.load_state_dict(ckpt["state_dict"])
    except (RuntimeError, KeyError, TypeError) as exc:
        raise GanevalError(f"{path}: weights do not fit the {name!r} architecture ({str(exc)[:200]}).") from exc
    return net.to(device).eval().requires_grad_(False)


@dataclass
class DigitClassifier:
    """A loaded shipped classifier.

    Attributes:
        name: "digits" or "mnist".
        net: the network (eval mode).
        device: where it runs.
        sha256: sha256 of the weights file.
        meta: the JSON record (``accuracy``, training protocol).
        batch_size: rows per forward pass.
    """

    name: str
    net: DigitNet
    device: torch.device
    sha256: str
    meta: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 1024

    @property
    def accuracy(self) -> float | None:
        """Held-out accuracy recorded when the weights were trained."""
        acc = self.meta.get("accuracy", {})
        return acc.get("test") if isinstance(acc, dict) else None

    def _check(self, x: Any) -> torch.Tensor:
        t = torch.as_tensor(x)
        s = self.net.size
        if t.ndim != 4 or tuple(t.shape[1:]) != (1, s, s):
            hint = " (Stacked MNIST: classify each channel, x.reshape(-1, 1, 28, 28))" if t.ndim == 4 and \
                t.shape[1] > 1 else ""
            raise GanevalError(f"`x` must be (N, 1, {s}, {s}) images for the {self.name!r} classifier, got shape "
                               f"{tuple(t.shape)}{hint}.")
        if not torch.isfinite(t).all():
            raise GanevalError("`x` contains NaN or Inf; the classifier needs finite images in [0, 1].")
        return t.float()

    def _batched(self, x: torch.Tensor, fn: Any) -> torch.Tensor:
        out = []
        with torch.no_grad():
            for s in range(0, x.shape[0], self.batch_size):
                out.append(fn(x[s:s + self.batch_size].to(self.device)).float().cpu())
        return torch.cat(out) if out else torch.empty(0)

    def logits(self, x: Any) -> torch.Tensor:
        """(N, 1, S, S) images in [0, 1] -> (N, 10) logits on the CPU."""
        return self._batched(self._check(x), self.net)

    def probs(self, x: Any) -> torch.Tensor:
        """(N, 1, S, S) images in [0, 1] -> (N, 10) class probabilities on the CPU.

        Raises:
            GanevalError: wrong shape or NaN.
        """
        return torch.softmax(self.logits(x), dim=1)

    def predict(self, x: Any) -> torch.Tensor:
        """(N, 1, S, S) images -> (N,) int64 predicted classes."""
        return self.logits(x).argmax(1)

    def features(self, x: Any) -> torch.Tensor:
        """(N, 1, S, S) images -> (N, 128) penultimate features."""
        return self._batched(self._check(x), self.net.features)


def load_classifier(name: str, device: str | torch.device = "cpu") -> DigitClassifier:
    """Load the shipped ``digits`` (8x8) or ``mnist`` (28x28) classifier.

    Raises:
        GanevalError: unknown name, or the weights file is missing or broken.
    """
    if name not in ARCHS:
        raise unknown_name("digit classifier", name, ARCHS)
    dev = torch.device(device)
    path = weights_path(name)
    net = _load_net(name, path, dev)
    return DigitClassifier(name=name, net=net, device=dev, sha256=sha256_file(path), meta=load_meta(name))


def make_extractor(name: str, device: torch.device) -> Any:
    """The feature extractor over :func:`load_classifier` (channels classified separately)."""
    from . import Extractor

    clf = load_classifier(name, device)
    s = clf.net.size

    def fn(x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[2:]) != (s, s):
            raise GanevalError(f"The {name!r} feature extractor takes (N, C, {s}, {s}) images, got shape "
                               f"{tuple(x.shape)}; use features='inception' or 'raw' for other data.")
        n, c = x.shape[:2]
        f = clf.net.features(x.reshape(n * c, 1, s, s).float())
        return f.reshape(n, c * FEATURE_DIM)

    acc = clf.accuracy
    desc = f"ganeval's {name} CNN, 128-d penultimate layer" + (f" (held-out accuracy {acc:.4f})" if acc else "")
    return Extractor(name=name, fn=fn, device=device, sha256=clf.sha256, dim=None, description=desc, batch_size=1024)
