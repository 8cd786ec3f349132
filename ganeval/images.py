"""Folders of images: the one reader behind image-folder datasets (:mod:`ganeval.data`) and
image-folder samples (:mod:`ganeval.checkpoints`), so both accept and refuse the same files.

Images are read with Pillow as 8-bit grayscale (``L``, ``1``, ``I``, ``I;16`` modes) or RGB and
returned as ``N x C x H x W`` float32 in [0, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ._utils import progress
from .errors import GanevalError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def list_images(folder: Path) -> list[Path]:
    """The PNG/JPEG files directly in ``folder``, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def is_image_folder(folder: Path) -> bool:
    """Whether ``folder`` directly holds at least one PNG/JPEG file."""
    return any(p.suffix.lower() in IMAGE_SUFFIXES for p in Path(folder).iterdir())


def read_image_folder(path: Path, files: list[Path] | None = None) -> torch.Tensor:
    """Read images (default: every image in ``path``) into one ``N x C x H x W`` tensor in [0, 1].

    Raises:
        GanevalError: an unreadable image (named), or images of different sizes.
    """
    from PIL import Image

    path = Path(path)
    files = list_images(path) if files is None else files
    images = []
    for f in progress(files, desc=f"reading {path.name}", total=len(files), unit="img"):
        try:
            with Image.open(f) as im:
                arr = np.asarray(im.convert("L" if im.mode in ("L", "1", "I", "I;16") else "RGB"))
        except OSError as exc:
            raise GanevalError(f"{f}: cannot read the image ({exc}); remove or replace it.") from exc
        images.append(arr)
    shapes = {a.shape for a in images}
    if len(shapes) != 1:
        raise GanevalError(f"{path}: images have different sizes {sorted(shapes)[:3]}; resize them to one size.")
    arr = np.stack(images)
    arr = arr[:, None] if arr.ndim == 3 else arr.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(arr)).float() / 255.0


__all__ = ["IMAGE_SUFFIXES", "is_image_folder", "list_images", "read_image_folder"]
