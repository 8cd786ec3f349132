"""DINOv2 ViT-L/14 features (Oquab et al. 2023) through timm, for FD_DINOv2 (Stein et al. 2023).

Stein et al. ("Exposing flaws of generative model evaluation metrics and their unfair treatment of
diffusion models", NeurIPS 2023) found that Inception features misrank modern generators and that
the Fréchet distance on DINOv2 ViT-L/14 features agrees with human judgement; ``--features dinov2``
gives that feature space to ``fid`` (FD_DINOv2), ``kid`` and ``prdc``.

Network: timm's ``vit_large_patch14_dinov2`` built for 224x224 input (16x16 patches + CLS token),
no classifier head; the feature is the CLS token after the final norm, **1024-d** (what the
DINOv2 hub model returns and dgm-eval uses).

Preprocessing (dgm-eval's): the image, quantised to uint8 as PNGs store it, is resized to
224x224 by antialiased bicubic interpolation (non-square images: shorter side to 224, centre
crop), scaled to [0, 1] and normalised with ImageNet's mean (0.485, 0.456, 0.406) and std
(0.229, 0.224, 0.225).

Weights: a file only (``--dinov2-weights PATH`` or ``$GANEVAL_DINOV2_WEIGHTS``), read with
``torch.load(weights_only=True)``: timm's state dict of this model, or the official
``dinov2_vitl14_pretrain.pth`` (facebookresearch/dinov2 key names), converted by timm's
``checkpoint_filter_fn``, which also resamples position embeddings made for another input size
(the official file is for 518x518) once, bicubically. The file's sha256 is in the provenance.
Install the library with ``pip install 'ganeval[dinov2]'``.
"""

from __future__ import annotations

import contextlib
import io
import os
from typing import Any

import torch

from .._utils import sha256_file
from ..errors import GanevalError
from ._weights import load_into, need, preprocess, read_state_dict, weights_path

ENV_VAR = "GANEVAL_DINOV2_WEIGHTS"
ARCH = "vit_large_patch14_dinov2"
SIZE = 224
FEATURE_DIM = 1024
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
WHAT = "DINOv2 ViT-L/14 (timm vit_large_patch14_dinov2)"


def build(*, meta: bool = True) -> torch.nn.Module:
    """timm's DINOv2 ViT-L/14 at 224x224 without a head (on the meta device unless ``meta=False``).

    Raises:
        GanevalError: timm is not installed (names the ``dinov2`` extra).
    """
    timm = need("timm", "dinov2", "dinov2")
    with torch.device("meta") if meta else contextlib.nullcontext(), contextlib.redirect_stdout(io.StringIO()):
        return timm.create_model(ARCH, pretrained=False, img_size=SIZE, num_classes=0)


def load(path: str | os.PathLike[str]) -> torch.nn.Module:
    """The network with the weights of ``path``.

    Raises:
        GanevalError: timm missing, unreadable file, or weights of another architecture.
    """
    from pathlib import Path

    p = Path(path)
    model = build()
    sd = read_state_dict(p, WHAT)
    try:
        from timm.models.vision_transformer import checkpoint_filter_fn

        sd = checkpoint_filter_fn(sd, model)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001  (timm's converter fails variously on foreign files)
        raise GanevalError(f"{p}: these weights do not fit {WHAT} ({type(exc).__name__}: {str(exc)[:200]}).") from exc
    return load_into(model, sd, p, WHAT)


def make_extractor(device: torch.device, *, weights: str | os.PathLike[str] | None = None) -> Any:
    """The ``dinov2`` extractor: (N, 1 or 3, H, W) images in [0, 1] -> (N, 1024) CLS features.

    Raises:
        GanevalError: timm missing, no or bad weights file.
    """
    from . import Extractor

    path = weights_path(weights, ENV_VAR, "DINOv2", "--dinov2-weights")
    model = load(path).to(device)

    def fn(x: torch.Tensor) -> torch.Tensor:
        return model(preprocess(x, SIZE, MEAN, STD, "dinov2"))

    return Extractor(name="dinov2", fn=fn, device=device, sha256=sha256_file(path), dim=FEATURE_DIM,
                     description=f"DINOv2 ViT-L/14 CLS token (timm {ARCH}, 224x224 bicubic, ImageNet "
                                 f"normalisation; {path.name})", batch_size=32, config=f"arch={ARCH}|size={SIZE}",
                     resize="bicubic-224")
