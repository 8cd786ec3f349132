"""DINOv2 and CLIP extractors: the real architectures with random weights loaded from files.

ViT-L is large (about 300M parameters, 1.2 GB per file): each network is built once per module on
the meta device, filled with random tensors (no slow initialisation), saved, and loaded through the
extractor's weights path; forward passes use one image. The CLIP forward (336 px) is marked slow:

    .venv/bin/python -m pytest -q -m slow tests/test_features_vit.py
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganeval import GanevalError
from ganeval.features import get_extractor

pytest.importorskip("timm")
pytest.importorskip("open_clip")


def _random_state_dict(model: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """He-scaled random weights for matrices, ones for norm scales, small noise elsewhere.

    Entries of one shape and role share one random tensor (torch.save stores it once), so the file
    holds a few MB instead of 1.2 GB; the loader still reads every key of the architecture.
    """
    gen = torch.Generator().manual_seed(seed)
    pool: dict[tuple, torch.Tensor] = {}
    out = {}
    for k, v in model.state_dict().items():
        shape = tuple(v.shape)
        role = "w" if len(shape) >= 2 and k.endswith("weight") else "b" if k.endswith("bias") else \
            "1" if k.endswith(("weight", "gamma")) else "e"
        if (role, shape) not in pool:
            if role == "w":
                fan_in = int(torch.tensor(shape[1:]).prod())
                pool[role, shape] = torch.randn(shape, generator=gen) * (2.0 / fan_in) ** 0.5
            elif role == "b":
                pool[role, shape] = torch.randn(shape, generator=gen) * 0.01
            elif role == "1":
                pool[role, shape] = torch.ones(shape)
            else:
                pool[role, shape] = torch.randn(shape, generator=gen) * 0.02
        out[k] = pool[role, shape]
    return out


@pytest.fixture(scope="module")
def vit_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from ganeval.features import clip, dinov2

    folder = tmp_path_factory.mktemp("vit")
    paths = {}
    for name, mod, seed in (("dinov2", dinov2, 0), ("clip", clip, 1)):
        sd = _random_state_dict(mod.build(), seed)
        paths[name] = folder / f"{name}.pt"
        torch.save(sd, paths[name])
        del sd
    return paths


def _image() -> torch.Tensor:
    return torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))


def test_dinov2_features_shape_and_provenance(vit_weights: dict[str, Path]) -> None:
    from ganeval.features.dinov2 import FEATURE_DIM, SIZE

    ext = get_extractor("dinov2", dinov2_weights=str(vit_weights["dinov2"]))
    feats = ext(_image())
    assert feats.shape == (1, FEATURE_DIM) == (1, 1024) and torch.isfinite(feats).all() and feats.std() > 0
    assert ext.provenance()["sha256"] == ext.sha256 and len(ext.sha256 or "") == 64
    # The documented input: 224x224 after the resize, and the CLS token is what comes out.
    from ganeval.features._weights import preprocess
    from ganeval.features.dinov2 import MEAN, STD

    assert preprocess(_image(), SIZE, MEAN, STD, "dinov2").shape == (1, 3, 224, 224)


@pytest.mark.slow  # a ViT-L forward at 336 px: 15-30 s on a busy 2-core host
def test_clip_embeddings_unit_norm(vit_weights: dict[str, Path]) -> None:
    from ganeval.features.clip import FEATURE_DIM

    ext = get_extractor("clip", clip_weights=str(vit_weights["clip"]))
    emb = ext(_image()[:, :1])  # grayscale goes in too
    assert emb.shape == (1, FEATURE_DIM) == (1, 768)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(1), rtol=0, atol=1e-5)


def test_wrong_architecture_weights_are_refused(vit_weights: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(GanevalError, match="do not fit DINOv2"):
        get_extractor("dinov2", dinov2_weights=str(vit_weights["clip"]))
    with pytest.raises(GanevalError, match="do not fit CLIP"):
        get_extractor("clip", clip_weights=str(vit_weights["dinov2"]))
    with pytest.raises(GanevalError, match="--dinov2-weights"):
        get_extractor("dinov2", dinov2_weights=str(tmp_path / "missing.pt"))
    (tmp_path / "junk.pt").write_bytes(b"\x00" * 64)
    with pytest.raises(GanevalError, match="junk.pt"):
        get_extractor("clip", clip_weights=str(tmp_path / "junk.pt"))


def test_missing_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from ganeval.features import clip, dinov2

    monkeypatch.setitem(sys.modules, "timm", None)  # import timm now raises ImportError
    monkeypatch.setitem(sys.modules, "open_clip", None)
    with pytest.raises(GanevalError, match=r"ganeval\[dinov2\]"):
        dinov2.build()
    with pytest.raises(GanevalError, match=r"ganeval\[clip\]"):
        clip.build()
