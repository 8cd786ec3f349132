"""DINOv2 and CLIP extractors: the real architectures with random weights loaded from files.

ViT-L is large (about 300M parameters, 1.2 GB per file): each network is built once per module on
the meta device, filled with random tensors (no slow initialisation), saved, and loaded through the
extractor's weights path; forward passes use one image. The CLIP forward (336 px) and the end-to-end runs (FD_DINOv2 and
KID through ``evaluate``, CMMD through ``ganeval report``) are marked slow:

    .venv/bin/python -m pytest -q -m slow tests/test_features_vit.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
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


# ---------------------------------------------------------------------------------------------
# end to end: FD_DINOv2 and KID through `evaluate`, CMMD through `ganeval report`
#
# The extractors take only the ViT-L/14 architectures (no smaller variant to test with), and a
# ViT-L forward costs 5 s (DINOv2, 224 px) to 12 s (CLIP, 336 px) per image on a busy 2-core host:
# with two generated and two reference images these run 40-100 s each, so they are marked slow.


def _images(n: int, seed: int) -> torch.Tensor:
    """Smooth random colour fields (4x4 blocks upsampled to 32x32) plus noise, in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 3, 4, 4, generator=g).repeat_interleave(8, 2).repeat_interleave(8, 3)
    return (base + 0.1 * torch.randn(base.shape, generator=g)).clamp(0, 1)


def _frechet_float64(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance of two Gaussians fitted to rows, float64, by the symmetric eigen formula:
    tr sqrt(S1 S2) = sum of sqrt(eigenvalues of S1^1/2 S2 S1^1/2) (PSD, so no complex round-off)."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(s1)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root @ s2 @ root), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * cross)


def _kid_float64(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with KID's kernel (x.y / d + 1)^3 over the whole sets."""
    d = x.shape[1]
    kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
    m, n = x.shape[0], y.shape[0]
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.mean())


def _cmmd_float64(x: np.ndarray, y: np.ndarray, sigma: float = 10.0) -> float:
    """CMMD by brute force: 1000 x (mean k(x,x') + mean k(y,y') - 2 mean k(x,y)), RBF kernel,
    all pairs with the diagonal (google-research/cmmd's estimator)."""
    def k(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return np.exp(-d2 / (2 * sigma ** 2))

    return float(1000 * (k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean()))


@pytest.mark.slow  # six DINOv2 ViT-L forwards: 42 s measured on a busy 2-core host
def test_fd_dinov2_and_kid_through_evaluate(vit_weights: dict[str, Path]) -> None:
    from ganeval import evaluate
    from ganeval._utils import sha256_file
    from ganeval.data import Dataset
    from ganeval.features import cached_layers

    real, fake = _images(2, 10), _images(2, 11)
    data = Dataset("tiny-images", "images", train=real, val=_images(1, 12), test=_images(1, 13))
    w = str(vit_weights["dinov2"])
    ext = get_extractor("dinov2", dinov2_weights=w)
    real_f = cached_layers(ext, data, "train")[ext.default_layer].double().numpy()  # the disk cache the run reads
    fake_f = ext(fake).double().numpy()
    ev = evaluate(fake, data, metrics="fid,kid", features="dinov2", extractor_options={"dinov2_weights": w},
                  options={"kid": {"subsets": 5}}, device="cpu")
    fd = ev.metrics["fid"]
    assert fd.features == "dinov2" and fd.dim == 1024 and (fd.n_fake, fd.n_real) == (2, 2)
    assert fd.value > 0
    assert fd.value == pytest.approx(_frechet_float64(real_f, fake_f), rel=1e-6)
    # Subsets of all N rows: each is a permutation of the sets, so KID is the whole-set MMD^2.
    assert ev.metrics["kid"].value == pytest.approx(_kid_float64(real_f, fake_f), rel=1e-6, abs=1e-9)
    prov = ev.provenance["features"]
    assert prov["name"] == "dinov2" and prov["sha256"] == sha256_file(w) and prov["dim"] == 1024
    assert prov["resize"] == "bicubic-224" and "ImageNet normalisation" in prov["description"]


@pytest.mark.slow  # six CLIP ViT-L forwards at 336 px: 96 s measured on a busy 2-core host
def test_cmmd_through_report(vit_weights: dict[str, Path], tmp_path: Path) -> None:
    import json

    from PIL import Image

    from ganeval._utils import sha256_file
    from ganeval.cli import main
    from ganeval.data import load_dataset
    from ganeval.features import cached_layers

    folder = tmp_path / "real"
    for split, n, seed in (("train", 2, 20), ("val", 1, 21), ("test", 1, 22)):
        (folder / split).mkdir(parents=True)
        for i, im in enumerate(_images(n, seed)):
            arr = (im.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
            Image.fromarray(arr).save(folder / split / f"{i}.png")
    fake = _images(2, 23)
    np.save(tmp_path / "fake.npy", fake.numpy())
    w = str(vit_weights["clip"])
    ext = get_extractor("clip", clip_weights=w)
    real_f = cached_layers(ext, load_dataset(folder), "train")[ext.default_layer].double().numpy()
    fake_f = ext(fake).double().numpy()
    out = tmp_path / "rep"
    assert main(["report", str(tmp_path / "fake.npy"), "--data", str(folder), "--features", "clip", "--metrics",
                 "cmmd", "--clip-weights", w, "--out", str(out), "--no-diagnostics", "--device", "cpu"]) == 0
    rep = json.loads((out / "report.json").read_text())
    ev = (rep.get("evaluations") or [rep])[0]
    m = ev["metrics"]["cmmd"]
    assert m["value"] > 0
    assert m["value"] == pytest.approx(_cmmd_float64(real_f, fake_f), rel=1e-6)
    prov = ev["provenance"]["features"]
    assert prov["name"] == "clip" and prov["sha256"] == sha256_file(w) and prov["dim"] == 768
    assert prov["resize"] == "bicubic-336-crop" and "CLIP normalisation" in prov["description"]
