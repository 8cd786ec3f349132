"""Inception-v3 (torch-fidelity's ``inception-v3-compat``) rebuilt for inference speed, same features.

Entry point for extractors::

    net = fast_inception(tfi_module_or_state_dict, layers=("2048", "logits_unbiased"))
    out = net(images_uint8)          # (N, 3, H, W) uint8 -> {"2048": (N, 2048), "logits_unbiased": (N, 1008)}

``net`` returns every requested layer from one forward pass, as float32 on the input's device, within
float32 round-off of torch-fidelity's ``FeatureExtractorInceptionV3`` on the same weights (tests hold
it to 1e-4 relative; measured differences are about 1e-6). Layers: torch-fidelity's names ``64``,
``192``, ``768``, ``2048``, ``logits_unbiased``, ``logits``.

What changes, and why each change leaves the function alone (up to float32 round-off):

* Batch norm (eval mode: fixed statistics) is an affine map per channel, folded into the weights and
  bias of the convolution before it.
* 1x1 convolutions that read the same tensor inside a block are one convolution with their output
  channels stacked (one pass over the input instead of three or four).
* In the blocks whose pool branch is ``avg_pool 3x3 (count_include_pad=False) -> 1x1 conv``, both maps
  are linear and the pool's weights sum to one at every pixel, so they commute: the 1x1 convolution
  (merged with the block's others) runs first and the pool runs on its 32-192 output channels instead
  of the 192-2048 input channels; the bias is added after the pool. torch-fidelity spends about a
  quarter of its time in these pools.
* The TF1-compatible bilinear resize is done separably: first along the width on the input's rows,
  then along the height, with torch-fidelity's exact formula (``a + (b - a) * t`` with its float32
  weights), so the resized image is bit for bit the same at a fraction of the gathers; an input
  already at 299x299 is not resampled (torch-fidelity's formula returns it unchanged).
* Activations are ``channels_last`` (the layout oneDNN's convolutions and the pools run fastest in on
  the CPU) and the module runs under ``torch.inference_mode``.
* On the CPU the resize and the stem (up to the 35x35x192 activations) run :data:`STEM_CHUNK`
  images at a time, the Inception blocks on the whole batch: the stem's large activations stay in
  cache between layers, while the blocks keep their large matrix products (each image's arithmetic
  is unchanged, so are its features).

Faster modes that change features beyond float32 round-off are opt-in and named in
:attr:`FastInception.mode`: ``"tf32"`` (TF32 convolutions on CUDA) and ``"half"``
(float16 on CUDA). ``"float32"`` is the reference and the default.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GanevalError

LAYERS = ("64", "192", "768", "2048", "logits_unbiased", "logits")
MODES = ("float32", "tf32", "half")
SIZE = 299
# Images per pass through the stem on the CPU (see FastInception._forward).
STEM_CHUNK = 4
# oneDNN's convolution with the ReLU fused as a post-op (what torch.compile's CPU backend calls too);
# absent from builds without oneDNN, where convolution + in-place ReLU does the same.
_FUSED = getattr(getattr(torch.ops, "mkldnn", None), "_convolution_pointwise", None) if torch.backends.mkldnn.is_available() else None


def _pair(v: int | tuple[int, int]) -> list[int]:
    return list(v) if isinstance(v, tuple) else [v, v]


def _fold(sd: dict[str, torch.Tensor], prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of ``prefix``'s convolution with its batch norm folded in (float64 arithmetic)."""
    w = sd[f"{prefix}.conv.weight"].double()
    scale = sd[f"{prefix}.bn.weight"].double() / (sd[f"{prefix}.bn.running_var"].double() + 1e-3).sqrt()
    bias = sd[f"{prefix}.bn.bias"].double() - sd[f"{prefix}.bn.running_mean"].double() * scale
    return (w * scale[:, None, None, None]).float(), bias.float()


class _Conv(nn.Module):
    """Convolution (batch norm folded in) + ReLU; several same-input 1x1 convolutions stacked into one."""

    def __init__(self, sd: dict[str, torch.Tensor], prefixes: Sequence[str], stride: int | tuple[int, int] = 1,
                 padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        ws, bs = zip(*(_fold(sd, p) for p in prefixes))
        self.weight = nn.Parameter(torch.cat(ws), requires_grad=False)
        self.bias = nn.Parameter(torch.cat(bs), requires_grad=False)
        self.stride, self.padding = _pair(stride), _pair(padding)
        self.split = [int(w.shape[0]) for w in ws]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _FUSED is not None and x.device.type == "cpu" and x.dtype == torch.float32:
            # One pass over the output instead of two (the ReLU as the convolution's post-op).
            return _FUSED(x, self.weight, self.bias, self.padding, self.stride, [1, 1], 1, "relu", [], "")
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding).relu_()


class _PoolBranch(nn.Module):
    """Bias + ReLU after a 3x3 average pool (count_include_pad=False) of a raw 1x1 convolution."""

    def __init__(self, sd: dict[str, torch.Tensor], prefix: str) -> None:
        super().__init__()
        w, b = _fold(sd, prefix)
        self.weight = nn.Parameter(w, requires_grad=False)
        self.bias = nn.Parameter(b[None, :, None, None], requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raw = F.conv2d(x, self.weight)
        return F.avg_pool2d(raw, 3, 1, 1, count_include_pad=False).add_(self.bias).relu_()


class _BlockA(nn.Module):
    """InceptionA (5b/5c/5d): 1x1 | 1x1->5x5 | 1x1->3x3->3x3 | avgpool->1x1."""

    def __init__(self, sd: dict[str, torch.Tensor], p: str) -> None:
        super().__init__()
        names = ("branch1x1", "branch5x5_1", "branch3x3dbl_1")
        self.head = _Conv(sd, [f"{p}.{n}" for n in names])
        self.b5 = _Conv(sd, [f"{p}.branch5x5_2"], padding=2)
        self.b3a = _Conv(sd, [f"{p}.branch3x3dbl_2"], padding=1)
        self.b3b = _Conv(sd, [f"{p}.branch3x3dbl_3"], padding=1)
        self.pool = _PoolBranch(sd, f"{p}.branch_pool")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1, b5, b3 = self.head(x).split(self.head.split, 1)
        return torch.cat([b1, self.b5(b5), self.b3b(self.b3a(b3)), self.pool(x)], 1)


class _BlockB(nn.Module):
    """InceptionB (6a): 3x3/2 | 1x1->3x3->3x3/2 | maxpool/2."""

    def __init__(self, sd: dict[str, torch.Tensor], p: str) -> None:
        super().__init__()
        self.b3 = _Conv(sd, [f"{p}.branch3x3"], stride=2)
        self.d1 = _Conv(sd, [f"{p}.branch3x3dbl_1"])
        self.d2 = _Conv(sd, [f"{p}.branch3x3dbl_2"], padding=1)
        self.d3 = _Conv(sd, [f"{p}.branch3x3dbl_3"], stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b3(x), self.d3(self.d2(self.d1(x))), F.max_pool2d(x, 3, 2)], 1)


class _BlockC(nn.Module):
    """InceptionC (6b-6e): 1x1 | 1x1->1x7->7x1 | 1x1->7x1->1x7->7x1->1x7 | avgpool->1x1."""

    def __init__(self, sd: dict[str, torch.Tensor], p: str) -> None:
        super().__init__()
        names = ("branch1x1", "branch7x7_1", "branch7x7dbl_1")
        self.head = _Conv(sd, [f"{p}.{n}" for n in names])
        row, col = (0, 3), (3, 0)
        self.s = nn.Sequential(_Conv(sd, [f"{p}.branch7x7_2"], padding=row), _Conv(sd, [f"{p}.branch7x7_3"], padding=col))
        self.d = nn.Sequential(*(_Conv(sd, [f"{p}.branch7x7dbl_{i}"], padding=col if i % 2 == 0 else row)
                                 for i in range(2, 6)))
        self.pool = _PoolBranch(sd, f"{p}.branch_pool")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1, b7, bd = self.head(x).split(self.head.split, 1)
        return torch.cat([b1, self.s(b7), self.d(bd), self.pool(x)], 1)


class _BlockD(nn.Module):
    """InceptionD (7a): 1x1->3x3/2 | 1x1->1x7->7x1->3x3/2 | maxpool/2."""

    def __init__(self, sd: dict[str, torch.Tensor], p: str) -> None:
        super().__init__()
        self.head = _Conv(sd, [f"{p}.branch3x3_1", f"{p}.branch7x7x3_1"])
        self.b3 = _Conv(sd, [f"{p}.branch3x3_2"], stride=2)
        self.b7 = nn.Sequential(_Conv(sd, [f"{p}.branch7x7x3_2"], padding=(0, 3)),
                                _Conv(sd, [f"{p}.branch7x7x3_3"], padding=(3, 0)),
                                _Conv(sd, [f"{p}.branch7x7x3_4"], stride=2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3, b7 = self.head(x).split(self.head.split, 1)
        return torch.cat([self.b3(b3), self.b7(b7), F.max_pool2d(x, 3, 2)], 1)


class _BlockE(nn.Module):
    """InceptionE (7b: avg pool branch, 7c: max pool branch): 1x1 | 1x1->(1x3, 3x1) | 1x1->3x3->(1x3, 3x1) | pool->1x1."""

    def __init__(self, sd: dict[str, torch.Tensor], p: str, avg: bool) -> None:
        super().__init__()
        self.avg = avg
        self.head = _Conv(sd, [f"{p}.{n}" for n in ("branch1x1", "branch3x3_1", "branch3x3dbl_1")])
        self.a2a = _Conv(sd, [f"{p}.branch3x3_2a"], padding=(0, 1))
        self.a2b = _Conv(sd, [f"{p}.branch3x3_2b"], padding=(1, 0))
        self.d2 = _Conv(sd, [f"{p}.branch3x3dbl_2"], padding=1)
        self.d3a = _Conv(sd, [f"{p}.branch3x3dbl_3a"], padding=(0, 1))
        self.d3b = _Conv(sd, [f"{p}.branch3x3dbl_3b"], padding=(1, 0))
        if avg:
            self.pool: nn.Module = _PoolBranch(sd, f"{p}.branch_pool")
        else:
            self.pool = _Conv(sd, [f"{p}.branch_pool"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1, b3, bd = self.head(x).split(self.head.split, 1)
        b3 = b3.contiguous(memory_format=torch.channels_last)  # two convolutions read it: copy it once
        bd = self.d2(bd)
        pool = self.pool(x) if self.avg else self.pool(F.max_pool2d(x, 3, 1, 1))
        return torch.cat([b1, self.a2a(b3), self.a2b(b3), self.d3a(bd), self.d3b(bd), pool], 1)


def tf1_resize(x: torch.Tensor, size: int = SIZE) -> torch.Tensor:
    """torch-fidelity's ``interpolate_bilinear_2d_like_tensorflow1x`` (align_corners=False), separably.

    Same arithmetic per output pixel (``a + (b - a) * t`` along the width, then along the height,
    with the same float32 offsets), so the result is bit for bit torch-fidelity's; the width pass
    runs on the input's rows only, and the height pass gathers whole rows.

    Args:
        x: (N, C, H, W) float images.

    Returns:
        (N, C, size, size), ``x`` itself when it is already that size.
    """
    n, c, h, w = x.shape
    if h == size and w == size:
        return x

    def grid(n_in: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        g = torch.arange(0, size, 1, dtype=x.dtype, device=x.device) * torch.tensor(n_in / size, dtype=torch.float32)
        lo = g.long()
        return lo, (lo + 1).clamp_max(n_in - 1), g - lo.to(g.dtype)

    xl, xh, dx = grid(w)
    yl, yh, dy = grid(h)
    a = x.index_select(3, xl)
    rows = a.add_((x.index_select(3, xh) - a).mul_(dx))  # (N, C, H, size)
    top = rows.index_select(2, yl)
    return top.add_((rows.index_select(2, yh) - top).mul_(dy[:, None]))


class FastInception(nn.Module):
    """torch-fidelity's Inception-v3 with batch norm folded, merged 1x1 convolutions, cheaper pooling.

    Built by :func:`fast_inception`. ``forward`` takes (N, 3, H, W) uint8 images (any H, W; resized
    to 299x299 as torch-fidelity does) and returns ``{layer: (N, F) float32}`` for :attr:`layers`.

    Attributes:
        layers: the layers returned, in torch-fidelity's names.
        mode: ``"float32"`` (reference), ``"tf32"`` or ``"half"`` (opt-in, CUDA only).
    """

    def __init__(self, sd: dict[str, torch.Tensor], layers: Sequence[str], mode: str = "float32") -> None:
        super().__init__()
        self.layers = tuple(layers)
        self.mode = mode
        self.stem1 = nn.Sequential(_Conv(sd, ["Conv2d_1a_3x3"], stride=2), _Conv(sd, ["Conv2d_2a_3x3"]),
                                   _Conv(sd, ["Conv2d_2b_3x3"], padding=1))
        self.stem2 = nn.Sequential(_Conv(sd, ["Conv2d_3b_1x1"]), _Conv(sd, ["Conv2d_4a_3x3"]))
        self.mixed5 = nn.Sequential(*(_BlockA(sd, f"Mixed_5{k}") for k in "bcd"))
        self.mixed6 = nn.Sequential(_BlockB(sd, "Mixed_6a"), *(_BlockC(sd, f"Mixed_6{k}") for k in "bcde"))
        self.mixed7 = nn.Sequential(_BlockD(sd, "Mixed_7a"), _BlockE(sd, "Mixed_7b", True), _BlockE(sd, "Mixed_7c", False))
        self.fc_weight = nn.Parameter(sd["fc.weight"].float().clone(), requires_grad=False)
        self.fc_bias = nn.Parameter(sd["fc.bias"].float().clone(), requires_grad=False)
        # The deepest layer asked for: the pass stops there.
        self._last = max(LAYERS.index(k) for k in self.layers)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] != 3:
            raise GanevalError(f"fast Inception takes (N, 3, H, W) uint8 images, got {tuple(x.shape)} {x.dtype}.")
        # float32 means float32 on CUDA too: cuDNN would otherwise run convolutions in TF32.
        tf32 = self.mode == "tf32"
        with torch.inference_mode(), torch.backends.cudnn.flags(enabled=True, allow_tf32=tf32):
            return self._forward(x)

    def _stem(self, x: torch.Tensor, want: set[str], out: dict[str, list[torch.Tensor]]) -> torch.Tensor:
        """Resize, normalise and the stem (to 35x35x192, or 73x73x64 when nothing deeper is asked for)."""
        x = tf1_resize(x.float())
        x = ((x - 128) / 128).contiguous(memory_format=torch.channels_last)
        if self.mode == "half":
            x = x.half()
        x = F.max_pool2d(self.stem1(x), 3, 2)
        if "64" in want:
            out["64"].append(x.mean((2, 3)))
        if self._last > 0:
            x = F.max_pool2d(self.stem2(x), 3, 2)
            if "192" in want:
                out["192"].append(x.mean((2, 3)))
        return x

    def _forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        want = set(self.layers)
        parts: dict[str, list[torch.Tensor]] = {"64": [], "192": []}
        # On the CPU the stem runs a few images at a time: its activations (up to 147x147x64 floats,
        # 5.5 MiB an image) then stay in cache from one layer to the next instead of making a round
        # trip through memory per layer for the whole batch; the blocks after it (35x35 and smaller)
        # run on the whole batch, where larger matrix products pay. Each image's arithmetic is the
        # same either way, so the features do not depend on the chunking.
        n = max(len(x), 1)  # an empty batch passes once, as before
        chunk = STEM_CHUNK if x.device.type == "cpu" else n
        x = torch.cat([self._stem(x[s:s + chunk], want, parts) for s in range(0, n, chunk)])
        out = {k: torch.cat(v) for k, v in parts.items() if v}
        if self._last > 1:
            x = self.mixed6(self.mixed5(x))
            if "768" in want:
                out["768"] = x.mean((2, 3))
        if self._last > 2:
            pool = self.mixed7(x).mean((2, 3)).float()
            out["2048"] = pool
            if self._last > 3:
                unbiased = pool @ self.fc_weight.T
                out["logits_unbiased"] = unbiased
                out["logits"] = unbiased + self.fc_bias
        return {k: out[k].float() for k in self.layers}


def default_batch_size(device: torch.device | str) -> int:
    """Images per forward pass: 64 on the CPU (on 2 cores, 13-30% more images/s than 32 and twice
    those of 8, measured before the stem ran in chunks of :data:`STEM_CHUNK`), 200 on CUDA."""
    return 200 if torch.device(device).type == "cuda" else 64


def _state_dict(source: Any) -> dict[str, torch.Tensor]:
    if isinstance(source, nn.Module):
        source = source.state_dict()
    if not isinstance(source, dict) or "Mixed_7c.branch_pool.conv.weight" not in source:
        raise GanevalError("fast_inception needs torch-fidelity's FeatureExtractorInceptionV3 (inception-v3-compat) "
                           "or its state dict.")
    return {k: v.detach().cpu() for k, v in source.items()}


def fast_inception(source: Any, layers: Iterable[str] = ("2048",), *, mode: str = "float32",
                   device: torch.device | str = "cpu") -> FastInception:
    """The fast Inception-v3 from torch-fidelity's module or state dict.

    Args:
        source: a ``FeatureExtractorInceptionV3`` (``inception-v3-compat``) or its state dict.
        layers: layers to return from one pass, torch-fidelity's names (see :data:`LAYERS`).
        mode: ``"float32"`` (default: features within float32 round-off of torch-fidelity's),
            ``"tf32"`` (CUDA: TF32 convolutions) or ``"half"`` (CUDA: float16 weights and
            activations); the two last change features beyond round-off and are opt-in.
        device: where the module lives.

    Returns:
        A :class:`FastInception` in eval mode, on ``device``, ``channels_last``.

    Raises:
        GanevalError: unknown layer or mode, a faster mode on the CPU, or weights of another network.
    """
    layers = tuple(layers)
    bad = [k for k in layers if k not in LAYERS]
    if not layers or bad:
        raise GanevalError(f"Unknown Inception layer(s) {bad or '(none given)'}; choose from {', '.join(LAYERS)}.")
    if mode not in MODES:
        raise GanevalError(f"Unknown Inception mode {mode!r}; choose from {', '.join(MODES)}.")
    dev = torch.device(device)
    if mode != "float32" and dev.type != "cuda":
        raise GanevalError(f"Inception mode {mode!r} is for CUDA devices; on {dev.type} use mode='float32'.")
    net = FastInception(_state_dict(source), layers, mode).eval()
    net = net.to(dev).to(memory_format=torch.channels_last)
    if mode == "half":
        for name, p in net.named_parameters():
            if not name.startswith("fc_"):  # the classifier runs on float32 pool features
                p.data = p.data.half()
    return net
