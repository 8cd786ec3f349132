"""Datasets: shapes, splits, determinism, exact mixture densities, clear errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import torch

import ganeval
from ganeval.data import MIXTURE_SIZES
from ganeval.errors import GanevalError

MIXTURES = {"ring8": (8, 2), "ring8-unrolled": (8, 2), "grid25": (25, 2), "mog1200": (10, 1200)}


@pytest.mark.parametrize("name", list(MIXTURES))
def test_mixture_shapes_and_determinism(name: str) -> None:
    k, d = MIXTURES[name]
    ds = ganeval.load_dataset(name)
    assert ds.kind == "mixture" and ds.means.shape == (k, d) and ds.n_classes == k
    for split, n in zip(("train", "val", "test"), MIXTURE_SIZES):
        assert ds.split(split).shape == (n, d) and ds.labels(split).shape == (n,)
    assert not torch.equal(ds.train[:100], ds.test[:100])
    x1, y1 = ds.sample(50, seed=3)
    x2, y2 = ds.sample(50, seed=3)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    other = ganeval.data.BUILTIN[name](seed=1)
    assert not torch.equal(other.train[:10], ds.train[:10]) and torch.equal(other.means, ds.means)
    # Every point lies near its labelled mode.
    dist = (ds.test - ds.means[ds.test_labels]).norm(dim=1) / ds.std
    assert float(dist.max()) < 5 * math.sqrt(d) + 10


def test_builtin_geometry() -> None:
    ring = ganeval.load_dataset("ring8")
    assert torch.allclose(ring.means.norm(dim=1), torch.ones(8)) and ring.std == 0.01
    assert torch.allclose(ring.means[2], torch.tensor([0.0, 1.0]), atol=1e-6)  # angle 2*pi*2/8
    assert ganeval.load_dataset("ring8-unrolled").means.norm(dim=1).allclose(torch.full((8,), 2.0))
    grid = ganeval.load_dataset("grid25")
    assert sorted(set(grid.means[:, 0].tolist())) == [-4, -2, 0, 2, 4] and grid.std == 0.05
    mog = ganeval.load_dataset("mog1200")
    assert float(mog.means.abs().max()) <= 1.0


@pytest.mark.parametrize("name", ["ring8", "grid25", "mog1200"])
def test_mixture_log_prob_matches_scipy(name: str) -> None:
    if name == "ring8":  # one full multivariate check of scipy's own density as well
        ds = ganeval.load_dataset(name)
        x = ds.test[:5].double()
        mvn = np.stack([scipy.stats.multivariate_normal(m, ds.std**2 * np.eye(2)).logpdf(x.numpy())
                        for m in ds.means.double().numpy()], 1)
        np.testing.assert_allclose(ds.log_prob(x).numpy(), scipy.special.logsumexp(mvn, 1) - np.log(8), rtol=1e-9)
    ds = ganeval.load_dataset(name)
    x = torch.cat([ds.test[:20].double(), ds.means[:3].double() + 3 * ds.std])
    ours = ds.log_prob(x).numpy()
    # Isotropic components: the joint log density is the sum of scipy's univariate ones.
    comp = np.stack([scipy.stats.norm(m, ds.std).logpdf(x.numpy()).sum(1) for m in ds.means.double().numpy()], 1)
    ref = scipy.special.logsumexp(comp, axis=1) - np.log(len(ds.means))
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-6)


def test_log_prob_rejects_wrong_dim() -> None:
    with pytest.raises(GanevalError, match=r"\(N, 2\)"):
        ganeval.load_dataset("ring8").log_prob(torch.zeros(3, 5))


def test_digits_splits() -> None:
    ds = ganeval.load_dataset("digits")
    assert ds.kind == "images" and ds.sample_shape == (1, 8, 8) and ds.n_classes == 10
    sizes = [ds.split(s).shape[0] for s in ("train", "val", "test")]
    assert sizes == [1197, 300, 300]
    assert 0.0 <= float(ds.train.min()) and float(ds.train.max()) <= 1.0
    # Stratified: every class in every split; splits disjoint and together all 1,797 images.
    for s in ("train", "val", "test"):
        assert set(ds.labels(s).tolist()) == set(range(10))
    flat = torch.cat([ds.train, ds.val, ds.test]).reshape(1797, -1)
    from sklearn.datasets import load_digits

    ref = torch.from_numpy(load_digits().data / 16.0).float()
    assert torch.equal(flat.sort(0).values, ref.sort(0).values)
    again = ganeval.data.BUILTIN["digits"](seed=0)
    assert torch.equal(again.test, ds.test)


def test_mnist_test_split_alone(mnist_root: Path) -> None:
    ds = ganeval.load_dataset("mnist", root=mnist_root)
    assert ds.sample_shape == (1, 28, 28)
    assert [ds.split(s).shape[0] for s in ("train", "val", "test")] == [7000, 1000, 2000]
    assert any("t10k" in n for n in ds.notes)
    assert float(ds.test.max()) == 1.0 and float(ds.test.min()) == 0.0
    assert torch.equal(ganeval.data.BUILTIN["mnist"](seed=0, root=mnist_root).val, ds.val)


def test_stacked_mnist(mnist_root: Path) -> None:
    ds = ganeval.load_dataset("stacked-mnist", root=mnist_root)
    assert ds.sample_shape == (3, 28, 28) and ds.n_classes == 1000
    assert int(ds.train_labels.max()) < 1000 and len(set(ds.train_labels.tolist())) > 900
    base = ganeval.load_dataset("mnist", root=mnist_root)
    # Each channel is an MNIST training image.
    first = ds.train[0]
    for c in range(3):
        assert (base.train[:, 0] == first[c]).all(dim=(1, 2)).any()


def test_mnist_absent_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(GanevalError, match="--download"):
        ganeval.load_dataset("mnist", root=tmp_path)


def test_corrupt_idx(tmp_path: Path) -> None:
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01")
    with pytest.raises(GanevalError, match="IDX"):
        ganeval.load_dataset("mnist", root=tmp_path)


def test_unknown_name_suggests() -> None:
    with pytest.raises(GanevalError, match="Did you mean: ring8"):
        ganeval.load_dataset("rng8")
    with pytest.raises(GanevalError, match="no such dataset"):
        ganeval.load_dataset("does/not/exist.npz")


def test_npz_dataset(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arrays = {k: rng.normal(size=(n, 5)).astype(np.float32) for k, n in (("train", 30), ("val", 10), ("test", 12))}
    np.savez(tmp_path / "d.npz", **arrays, train_labels=np.arange(30) % 3)
    ds = ganeval.load_dataset(tmp_path / "d.npz")
    assert ds.kind == "vectors" and ds.test.shape == (12, 5) and ds.n_classes == 3
    np.savez(tmp_path / "bad.npz", train=arrays["train"])
    with pytest.raises(GanevalError, match="missing val, test"):
        ganeval.load_dataset(tmp_path / "bad.npz")


def test_image_folder_dataset(tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    ds = ganeval.load_dataset(tmp_path, seed=4)
    assert ds.kind == "images" and ds.sample_shape == (3, 6, 6)
    assert [ds.split(s).shape[0] for s in ("train", "val", "test")] == [16, 2, 2]


def test_list_datasets() -> None:
    names = ganeval.list_datasets()
    assert {"ring8", "ring8-unrolled", "grid25", "mog1200", "digits", "mnist", "stacked-mnist", "cifar10"} <= set(names)
