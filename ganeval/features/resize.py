"""Resizing images to a network's input size: the two protocols FID numbers are quoted under.

``legacy-tf``
    What FID was defined with (Heusel et al. 2017) and what torch-fidelity does: the uint8 image
    is resized to 299x299 with TensorFlow 1's bilinear ``resize_images`` (``align_corners=False``,
    no antialiasing), reproduced by torch-fidelity's ``interpolate_bilinear_2d_like_tensorflow1x``.
    Downsampling aliases; upsampling a 32x32 CIFAR image is smooth enough.

``clean``
    clean-fid's protocol (Parmar et al. 2022, "On Aliased Resizing and Surprising Subtleties in
    GAN Evaluation"): each channel of the uint8 image, as float32, is resized by PIL's bicubic
    filter (which antialiases when downsampling), clipped to [0, 255] and not re-quantised. The
    code below makes the same PIL calls as ``cleanfid.resize.make_resizer("PIL", False,
    "bicubic", (299, 299))``, so the output is the same array.

Both take (N, 3, H, W) uint8 images and return (N, 3, S, S) float32 in [0, 255]. FIDs computed
under different modes differ (by several points on CIFAR-10) and are never comparable: the mode is
part of the feature cache key, the provenance, statistics files and the gate's checks.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import GanevalError

RESIZE_MODES = ("legacy-tf", "clean")


def check_mode(mode: str) -> str:
    """Validate a resize mode name.

    Raises:
        GanevalError: not one of :data:`RESIZE_MODES`.
    """
    if mode not in RESIZE_MODES:
        raise GanevalError(f"Unknown resize mode {mode!r}: use {' or '.join(RESIZE_MODES)} (--resize).")
    return mode


def legacy_tf(x: torch.Tensor, size: int = 299) -> torch.Tensor:
    """TF1 bilinear resize of (N, C, H, W) uint8 (or float) images to (N, C, size, size) float32."""
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    return interpolate_bilinear_2d_like_tensorflow1x(x.float(), size=(size, size), align_corners=False)


def clean(x: torch.Tensor, size: int = 299) -> torch.Tensor:
    """clean-fid's resize of (N, C, H, W) uint8 images: PIL bicubic per channel on float32, clipped.

    Raises:
        GanevalError: not uint8 (clean resizing is defined on the quantised image).
    """
    from PIL import Image

    if x.dtype != torch.uint8 or x.ndim != 4:
        raise GanevalError(f"clean resizing takes (N, C, H, W) uint8 images, got {tuple(x.shape)} {x.dtype}.")
    arr = x.cpu().numpy()
    out = np.empty((arr.shape[0], arr.shape[1], size, size), dtype=np.float32)
    for i in range(arr.shape[0]):
        for c in range(arr.shape[1]):
            img = Image.fromarray(arr[i, c].astype(np.float32))  # mode "F", as clean-fid asks
            out[i, c] = np.asarray(img.resize((size, size), resample=Image.Resampling.BICUBIC)).clip(0, 255)
    return torch.from_numpy(out).to(x.device)


def resize(x: torch.Tensor, mode: str, size: int = 299) -> torch.Tensor:
    """Resize (N, 3, H, W) uint8 images to (N, 3, size, size) float32 in [0, 255] under ``mode``.

    Raises:
        GanevalError: an unknown mode.
    """
    return legacy_tf(x, size) if check_mode(mode) == "legacy-tf" else clean(x, size)
