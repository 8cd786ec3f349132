"""Inception-v3 features through torch-fidelity (``inception-v3-compat``), with offline weights.

The network is torch-fidelity's port of the TensorFlow Inception graph that FID was defined on
(Heusel et al. 2017): 2048-d pool features, the TF1 bilinear resize to 299x299 inside the model,
inputs as uint8 RGB. ganeval images are floats in [0, 1]; they become uint8 as torchvision's
``save_image`` writes PNGs (``x * 255 + 0.5``, clamped, truncated), so samples scored from memory
and the same samples saved as PNG give identical features. Grayscale images are repeated to 3
channels.

Weights, first found wins (no network access unless asked):

1. ``weights=PATH`` (CLI ``--inception-weights PATH``);
2. the environment variable ``GANEVAL_INCEPTION_WEIGHTS``;
3. torch-fidelity's own download in torch's hub cache (``$TORCH_HOME/hub/checkpoints``), if a
   previous torch-fidelity run put it there;
4. a download into that cache, only with ``allow_download=True``.

Files are read with ``torch.load(weights_only=True)`` (no code runs) and their sha256 goes into
the provenance.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._utils import sha256_file
from ..errors import GanevalError

ENV_VAR = "GANEVAL_INCEPTION_WEIGHTS"
URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
FEATURE_DIM = 2048
LAYERS = ("2048", "logits_unbiased")  # pool features (FID, KID, PRDC) and pre-bias logits (Inception Score)
LOGITS_DIM = 1008
# torch-fidelity's forward after its resize: (x - 128) / 128, then these modules in order.
_TRUNK = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "MaxPool_1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
          "MaxPool_2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
          "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c", "AvgPool")


def hub_cache_path() -> Path:
    """Where torch-fidelity's download of the weights lives (torch's hub checkpoint cache)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / URL.rsplit("/", 1)[-1]


def resolve_weights(weights: str | os.PathLike[str] | None = None, *, allow_download: bool = False) -> Path:
    """Find the Inception weights file (see the module docstring for the order).

    Raises:
        GanevalError: the named file does not exist, or none is found and downloading is not allowed.
    """
    if weights:
        p = Path(weights).expanduser()
        if not p.is_file():
            raise GanevalError(f"Inception weights file {p} (weights= / --inception-weights) does not exist.")
        return p
    env = os.environ.get(ENV_VAR)
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise GanevalError(f"Inception weights file {p} (from ${ENV_VAR}) does not exist.")
        return p
    cached = hub_cache_path()
    if cached.is_file():
        return cached
    if allow_download:
        cached.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(URL, str(cached), progress=True)
        except Exception as exc:  # urllib raises many types; the user needs the one line
            raise GanevalError(f"Downloading the Inception weights from {URL} failed ({exc}); download the file by "
                               f"hand and pass it with --inception-weights.") from exc
        return cached
    raise GanevalError(
        "Inception weights not found. ganeval never downloads unasked: pass --inception-weights PATH (Python: "
        f"extractor_options={{'weights': PATH}}), set ${ENV_VAR}, or allow the download with --download-weights "
        f"(Python: extractor_options={{'allow_download': True}}) of {URL} into {cached.parent}."
    )


@functools.lru_cache(maxsize=1)
def _module_class() -> type:
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class _Inception(FeatureExtractorInceptionV3):  # type: ignore[misc, valid-type]
        """torch-fidelity's module, built without its own ``torch.load(weights_only=False)``."""

        _ganeval_ready = False

        def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
            if not self._ganeval_ready:
                return None  # the parent's constructor loads an empty placeholder; real weights come later
            return super().load_state_dict(state_dict, strict=strict, assign=assign)

    return _Inception


def inception_module(state_dict: dict[str, torch.Tensor] | None = None, *, internal_dtype: str = "float32",
                     layers: tuple[str, ...] = ("2048",)) -> nn.Module:
    """torch-fidelity's ``inception-v3-compat`` module returning the features of ``layers`` (a tuple).

    Args:
        state_dict: weights; None keeps the random initialisation (for tests).
        internal_dtype: "float32" (torch-fidelity's default) or "float64".

    Raises:
        GanevalError: the state dict does not fit the architecture.
    """
    placeholder = io.BytesIO()
    torch.save({}, placeholder)  # torch-fidelity's constructor insists on loading something
    placeholder.seek(0)
    # With weights to load, build on the meta device: no time spent on a random initialisation.
    with torch.device("meta") if state_dict is not None else contextlib.nullcontext():
        model = _module_class()("inception-v3-compat", list(layers), feature_extractor_weights_path=placeholder,
                                feature_extractor_internal_dtype=internal_dtype)
    model._ganeval_ready = True
    if state_dict is not None:
        model.load_state_dict(state_dict, strict=True, assign=True)
        model.to(model.feature_extractor_internal_dtype)
    return model.eval().requires_grad_(False)


def load_weights(path: str | os.PathLike[str], *, internal_dtype: str = "float32",
                 layers: tuple[str, ...] = ("2048",)) -> nn.Module:
    """Build the module from a weights file (a state dict, or ``{"state_dict": ...}``), safely.

    Raises:
        GanevalError: unreadable file, not a state dict, or weights of another architecture.
    """
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt zip, unsafe pickle, truncated file: several exception types
        raise GanevalError(f"{path}: cannot read Inception weights ({str(exc)[:200]}); expected torch-fidelity's "
                           "weights-inception-2015-12-05-6726825d.pth (a state dict).") from exc
    if isinstance(sd, dict) and isinstance(sd.get("state_dict"), dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise GanevalError(f"{path}: not a state dict of tensors; expected torch-fidelity's Inception-v3 weights.")
    try:
        return inception_module(sd, internal_dtype=internal_dtype, layers=layers)
    except RuntimeError as exc:
        raise GanevalError(f"{path}: these weights do not fit torch-fidelity's Inception-v3 "
                           f"(inception-v3-compat): {str(exc).splitlines()[0][:300]} ...") from exc


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] -> uint8 the way torchvision writes PNGs (round half up, clamp)."""
    return (x.float() * 255 + 0.5).clamp_(0, 255).to(torch.uint8)


def trunk(model: Any, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """torch-fidelity's forward pass on images already resized to 299x299 (float, [0, 255]).

    The same modules and arithmetic as ``FeatureExtractorInceptionV3.forward`` after its resize,
    so ``trunk(model, legacy_tf(u8))`` equals ``model(u8)``; used for resize modes other than
    torch-fidelity's own.

    Returns:
        ``{"2048": (N, 2048), "logits_unbiased": (N, 1008)}`` float32.
    """
    x = (x.to(model.feature_extractor_internal_dtype) - 128) / 128
    for name in _TRUNK:
        x = getattr(model, name)(x)
    x = torch.flatten(x, 1)
    return {"2048": x.to(torch.float32), "logits_unbiased": x.mm(model.fc.weight.T).to(torch.float32)}


def _fast_backbone(model: nn.Module, device: torch.device, internal_dtype: str, backend: str) -> Any:
    """The fast module (:mod:`ganeval.features.inception_fast`: batch norm folded, ``channels_last``,
    same features to float32 round-off), or None when torch-fidelity's module is to run.

    Raises:
        GanevalError: ``backend="fast"`` asked where it cannot run.
    """
    if backend not in ("auto", "fast", "torch-fidelity"):
        raise GanevalError(f"Unknown Inception backend {backend!r}: use auto, fast or torch-fidelity.")
    if backend == "torch-fidelity" or internal_dtype != "float32":  # float64 is torch-fidelity's module only
        if backend == "fast":
            raise GanevalError("The fast Inception backend runs in float32; drop internal_dtype='float64'.")
        return None
    try:
        from .inception_fast import fast_inception
    except ImportError:
        if backend == "fast":
            raise GanevalError("The fast Inception backend is not available in this installation.") from None
        return None
    return fast_inception(model, layers=LAYERS, device=device)


def _batch_size(device: torch.device) -> int:
    from .inception_fast import default_batch_size

    return int(default_batch_size(device))


def make_extractor(device: torch.device, *, weights: str | os.PathLike[str] | None = None,
                   allow_download: bool = False, internal_dtype: str = "float32", resize: str = "legacy-tf",
                   backend: str = "auto") -> Any:
    """The ``inception`` extractor: (N, 1 or 3, H, W) images in [0, 1] -> ``2048`` (default) and
    ``logits_unbiased`` features from one forward pass.

    Args:
        resize: ``"legacy-tf"`` (torch-fidelity's TF1 bilinear resize inside the network) or
            ``"clean"`` (clean-fid's PIL bicubic on the uint8 image); see :mod:`ganeval.features.resize`.
        backend: ``"auto"`` (the fast module for ``legacy-tf`` in float32 where available, else
            torch-fidelity's), ``"fast"`` or ``"torch-fidelity"``. Both give the same features up to
            float32 round-off; ``clean`` resizing runs torch-fidelity's modules after the resize.

    Raises:
        GanevalError: weights missing or broken (see :func:`resolve_weights`, :func:`load_weights`),
            an unknown resize mode or backend.
    """
    from . import Extractor
    from .resize import check_mode, clean

    if internal_dtype not in ("float32", "float64"):
        raise GanevalError(f"`internal_dtype` must be 'float32' or 'float64', got {internal_dtype!r}.")
    check_mode(resize)
    path = resolve_weights(weights, allow_download=allow_download)
    model = load_weights(path, internal_dtype=internal_dtype, layers=LAYERS)
    fast = _fast_backbone(model, device, internal_dtype, backend) if resize == "legacy-tf" else None
    if fast is None:
        model = model.to(device)

    def fn(x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise GanevalError(f"The inception extractor takes (N, 1 or 3, H, W) images, got shape {tuple(x.shape)}; "
                               "use features='raw' for vector data.")
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        u8 = to_uint8(x)
        if resize == "clean":
            return trunk(model, clean(u8))
        if fast is not None:
            return fast(u8)
        return dict(zip(LAYERS, model(u8)))

    engine = "ganeval's fast module" if fast is not None else "torch-fidelity's module"
    return Extractor(name="inception", fn=fn, device=device, sha256=sha256_file(path), dim=FEATURE_DIM,
                     description=f"torch-fidelity inception-v3-compat, 2048-d pool features and logits, {resize} "
                                 f"resize, {engine} ({Path(path).name})",
                     batch_size=_batch_size(device) if fast is not None else 64, config=f"dtype={internal_dtype}",
                     layers=LAYERS, default_layer="2048",
                     resize=resize)
