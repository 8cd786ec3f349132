"""The fast Inception-v3 against torch-fidelity's FeatureExtractorInceptionV3 on the same random weights.

Weights: torch-fidelity's architecture with He-initialised convolutions and random batch-norm
statistics (so activations are live and the folded batch norm is really tested), saved to a file
and loaded through ganeval's offline weights path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from ganeval.errors import GanevalError
from ganeval.features.inception import load_weights
from ganeval.features.inception_fast import LAYERS, STEM_CHUNK, fast_inception, tf1_resize
from ganeval.metrics import fid


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ganeval.features.inception import inception_module

    g = torch.Generator().manual_seed(0)
    model: Any = inception_module(None)  # torch-fidelity's module: its attributes are untyped
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            nn.init.kaiming_normal_(mod.weight, generator=g)
        elif isinstance(mod, nn.BatchNorm2d):
            k = mod.num_features
            mod.weight.data, mod.bias.data = 0.5 + torch.rand(k, generator=g), 0.1 * torch.randn(k, generator=g)
            mod.running_mean = 0.1 * torch.randn(k, generator=g)  # a buffer: assignment replaces it
            mod.running_var = 0.5 + torch.rand(k, generator=g)
    nn.init.normal_(model.fc.weight, std=0.05, generator=g)
    model.fc.bias.data = torch.randn(1008, generator=g)
    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def nets(weights: Path) -> tuple[nn.Module, nn.Module]:
    tfi: Any = load_weights(weights)  # torch-fidelity's module through ganeval's offline loader
    tfi.features_list = list(LAYERS)
    return tfi, fast_inception(tfi, layers=LAYERS)


def _images(n: int, size: int, seed: int) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


# 9 images: three passes through the stem on the CPU (STEM_CHUNK = 4), the last one partial.
@pytest.mark.parametrize(("n", "size"), [(1, 32), (2, 28), (1, 299), (9, 32)])
def test_every_layer_matches_torch_fidelity(nets: tuple[nn.Module, nn.Module], n: int, size: int) -> None:
    tfi, fast = nets
    assert n <= STEM_CHUNK or n % STEM_CHUNK  # the larger case ends with a partial chunk
    x = _images(n, size, size)
    with torch.no_grad():
        ref = dict(zip(LAYERS, tfi(x)))
    out = fast(x)
    assert list(out) == list(LAYERS)
    for k in LAYERS:
        assert out[k].shape == ref[k].shape and out[k].dtype == torch.float32
        assert ref[k].abs().max() > 0.1  # live activations
        rel = float((out[k] - ref[k]).abs().max() / ref[k].abs().max())
        assert rel < 1e-4, f"layer {k}: {rel:.2e}"


def test_fid_and_batching_match(nets: tuple[nn.Module, nn.Module], weights: Path) -> None:
    tfi, _ = nets
    pool = fast_inception(torch.load(weights, weights_only=True))  # from the state dict; 2048 only
    x = _images(4, 32, 1)
    with torch.no_grad():
        ref = tfi(x)[LAYERS.index("2048")].double()
    whole = pool(x)["2048"]
    one_by_one = torch.cat([pool(x[i:i + 1])["2048"] for i in range(4)])
    torch.testing.assert_close(whole, one_by_one, rtol=1e-5, atol=1e-6)
    ours = whole.double()
    f_ref, f_ours = fid(ref[:2], ref[2:], bootstrap=0).value, fid(ours[:2], ours[2:], bootstrap=0).value
    assert f_ours == pytest.approx(f_ref, rel=1e-4)


@pytest.mark.parametrize(("h", "w"), [(32, 32), (28, 28), (17, 40), (299, 299), (300, 512)])
def test_resize_is_torch_fidelity_bit_for_bit(h: int, w: int) -> None:
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    x = _images(2, 1, 0).float().expand(2, 3, 1, 1) * 0 + torch.rand(2, 3, h, w, generator=torch.Generator().manual_seed(h)) * 255
    ref = interpolate_bilinear_2d_like_tensorflow1x(x, size=(299, 299), align_corners=False)
    assert torch.equal(tf1_resize(x.clone()), ref)


def test_bad_inputs(nets: tuple[nn.Module, nn.Module]) -> None:
    _, fast = nets
    with pytest.raises(GanevalError, match="uint8"):
        fast(torch.rand(1, 3, 32, 32))
    with pytest.raises(GanevalError, match="uint8"):
        fast(torch.zeros(1, 1, 32, 32, dtype=torch.uint8))
    with pytest.raises(GanevalError, match="layer"):
        fast_inception(nets[0], layers=("pool3",))
    with pytest.raises(GanevalError, match="CUDA"):
        fast_inception(nets[0], mode="half")
    with pytest.raises(GanevalError, match="mode"):
        fast_inception(nets[0], mode="bfloat16")
    with pytest.raises(GanevalError, match="inception-v3-compat"):
        fast_inception({"conv.weight": torch.zeros(1)})
