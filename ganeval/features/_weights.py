"""Shared pieces of the weight-file extractors (DINOv2, CLIP): optional imports, safe loading, preprocessing."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GanevalError


def need(module: str, extra: str, what: str) -> ModuleType:
    """Import an optional library, or fail naming the extra that installs it.

    Raises:
        GanevalError: the library is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise GanevalError(f"The {what} extractor needs the `{module}` package: pip install 'ganeval[{extra}]'.") from exc


def weights_path(weights: str | os.PathLike[str] | None, env_var: str, what: str, flag: str) -> Path:
    """The weights file from the argument or the environment variable (never a download).

    Raises:
        GanevalError: none given, or the file does not exist.
    """
    src = weights or os.environ.get(env_var)
    if not src:
        raise GanevalError(f"{what} weights not given. ganeval never downloads unasked: pass {flag} PATH (Python: "
                           f"extractor_options={{...: PATH}}) or set ${env_var}.")
    p = Path(src).expanduser()
    if not p.is_file():
        raise GanevalError(f"{what} weights file {p} does not exist ({flag} / ${env_var}).")
    return p


def read_state_dict(path: Path, what: str) -> dict[str, torch.Tensor]:
    """A state dict of tensors from a file, with ``torch.load(weights_only=True, mmap=True)``.

    Accepts a bare state dict or one under ``state_dict`` / ``model``.

    Raises:
        GanevalError: unreadable, unsafe or not a dict of tensors.
    """
    try:
        sd: Any = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # corrupt zip, unsafe pickle, truncated file: several exception types
        raise GanevalError(f"{path}: cannot read {what} weights ({str(exc)[:200]}); expected a state dict saved "
                           "with torch.save.") from exc
    for key in ("state_dict", "model"):
        if isinstance(sd, dict) and isinstance(sd.get(key), dict):
            sd = sd[key]
    if not isinstance(sd, dict) or not sd or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise GanevalError(f"{path}: not a state dict of tensors; expected {what} weights.")
    return sd


def load_into(model: nn.Module, sd: dict[str, torch.Tensor], path: Path, what: str) -> nn.Module:
    """Load ``sd`` into a module built on the meta device (strict, by assignment).

    Raises:
        GanevalError: the weights are of another architecture (missing, unexpected or misshapen keys).
    """
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shapes = [f"{k} {tuple(sd[k].shape)} vs {tuple(own[k].shape)}" for k in own
              if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
        if shapes:
            parts.append(f"{len(shapes)} of another shape (e.g. {shapes[0]})")
        raise GanevalError(f"{path}: these weights do not fit {what}: keys {'; '.join(parts)}. Pass the weights of "
                           "that architecture.")
    model.load_state_dict(sd, strict=True, assign=True)
    return model.float().eval().requires_grad_(False)


def square_resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """(N, 3, H, W) float images: shorter side to ``size`` by antialiased bicubic, then a centre crop."""
    h, w = x.shape[-2:]
    if (h, w) != (size, size):
        scale = size / min(h, w)
        nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
        x = F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False, antialias=True)
        top, left = (nh - size) // 2, (nw - size) // 2
        x = x[..., top:top + size, left:left + size]
    return x


def preprocess(x: torch.Tensor, size: int, mean: tuple[float, ...], std: tuple[float, ...], what: str) -> torch.Tensor:
    """Images in [0, 1] -> the uint8 grid (as PNGs store them) -> resized to ``size`` -> normalised.

    Raises:
        GanevalError: not (N, 1 or 3, H, W).
    """
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise GanevalError(f"The {what} extractor takes (N, 1 or 3, H, W) images, got shape {tuple(x.shape)}.")
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    # Quantise like the Inception path so samples and their PNGs give the same features.
    x = (x.float() * 255 + 0.5).clamp_(0, 255).floor_() / 255
    x = square_resize(x, size).clamp_(0, 1)
    m = torch.tensor(mean, dtype=x.dtype, device=x.device)[None, :, None, None]
    s = torch.tensor(std, dtype=x.dtype, device=x.device)[None, :, None, None]
    return (x - m) / s
