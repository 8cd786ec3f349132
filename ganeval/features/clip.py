"""CLIP ViT-L/14@336px image embeddings (Radford et al. 2021) through open_clip, for CMMD.

CMMD (Jayasumana et al. 2024; :mod:`ganeval.metrics.cmmd`) compares L2-normalised CLIP
ViT-L/14@336px image embeddings with an RBF kernel. ``--features clip`` gives those embeddings
(and gives them to ``fid``, ``kid``, ``prdc`` too, though only CMMD is defined on them).

Network: open_clip's ``ViT-L-14-336-quickgelu`` vision tower (OpenAI's architecture, QuickGELU
activations), built alone (no text tower); the feature is ``encode_image``'s projected embedding,
**768-d**, L2-normalised here (CMMD normalises again, harmlessly).

Preprocessing (CLIP's): the image, quantised to uint8 as PNGs store it, is resized by antialiased
bicubic interpolation so its shorter side is 336, centre-cropped to 336x336, scaled to [0, 1]
and normalised with OpenAI CLIP's mean (0.48145466, 0.4578275, 0.40821073) and std
(0.26862954, 0.26130258, 0.27577711). (The authors' reference code resizes with PIL; resampling
kernels differ slightly between libraries.)

Weights: a file only (``--clip-weights PATH`` or ``$GANEVAL_CLIP_WEIGHTS``), read with
``torch.load(weights_only=True)``: an open_clip state dict of the whole model (the ``visual.*``
keys are used) or of the vision tower alone. OpenAI's original ``ViT-L-14-336px.pt`` is a
TorchScript archive, which ``weights_only`` loading cannot read: convert it once with
``open_clip.create_model("ViT-L-14-336-quickgelu", pretrained="openai")`` and
``torch.save(model.state_dict(), PATH)``. The file's sha256 is in the provenance. Install the
library with ``pip install 'ganeval[clip]'``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

import torch

from .._utils import sha256_file
from ._weights import load_into, need, preprocess, read_state_dict, weights_path

ENV_VAR = "GANEVAL_CLIP_WEIGHTS"
ARCH = "ViT-L-14-336-quickgelu"
SIZE = 336
FEATURE_DIM = 768
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
WHAT = "CLIP ViT-L/14@336px (open_clip ViT-L-14-336-quickgelu, vision tower)"


def build(*, meta: bool = True) -> torch.nn.Module:
    """open_clip's ViT-L/14@336px vision tower alone (on the meta device unless ``meta=False``).

    Raises:
        GanevalError: open_clip is not installed (names the ``clip`` extra).
    """
    open_clip = need("open_clip", "clip", "clip")
    from open_clip.model import _build_vision_tower

    cfg = open_clip.get_model_config(ARCH)
    log = logging.getLogger()
    level = log.level
    with torch.device("meta") if meta else contextlib.nullcontext():
        try:
            log.setLevel(logging.ERROR)  # open_clip logs about absent pretrained weights
            return _build_vision_tower(cfg["embed_dim"], cfg["vision_cfg"], quick_gelu=bool(cfg.get("quick_gelu")))
        finally:
            log.setLevel(level)


def load(path: str | os.PathLike[str]) -> torch.nn.Module:
    """The vision tower with the weights of ``path`` (whole-model keys ``visual.*`` or tower keys).

    Raises:
        GanevalError: open_clip missing, unreadable file, or weights of another architecture.
    """
    p = Path(path)
    model = build()
    sd = read_state_dict(p, WHAT)
    if any(k.startswith("visual.") for k in sd):
        sd = {k[len("visual."):]: v for k, v in sd.items() if k.startswith("visual.")}
    return load_into(model, sd, p, WHAT)


def make_extractor(device: torch.device, *, weights: str | os.PathLike[str] | None = None) -> Any:
    """The ``clip`` extractor: (N, 1 or 3, H, W) images in [0, 1] -> (N, 768) unit-norm embeddings.

    Raises:
        GanevalError: open_clip missing, no or bad weights file.
    """
    from . import Extractor

    path = weights_path(weights, ENV_VAR, "CLIP", "--clip-weights")
    model = load(path).to(device)

    def fn(x: torch.Tensor) -> torch.Tensor:
        emb = model(preprocess(x, SIZE, MEAN, STD, "clip"))
        return torch.nn.functional.normalize(emb, dim=-1)

    return Extractor(name="clip", fn=fn, device=device, sha256=sha256_file(path), dim=FEATURE_DIM,
                     description=f"CLIP ViT-L/14@336px image embedding, L2-normalised (open_clip {ARCH}, bicubic "
                                 f"336 + centre crop, CLIP normalisation; {path.name})", batch_size=16,
                     config=f"arch={ARCH}|size={SIZE}", resize="bicubic-336-crop")
