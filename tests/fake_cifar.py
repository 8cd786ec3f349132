"""A CIFAR-10 folder in torchvision's python-pickle format with random images (no download here)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np


def write_fake_cifar10(root: Path, n_train: int, n_test: int, seed: int = 0) -> Path:
    """Write ``root/cifar-10-batches-py`` with ``n_train`` training images (over five batches) and
    ``n_test`` test images, uint8 3x32x32, smooth random colour fields; returns ``root``."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)

    def images(n: int) -> np.ndarray:
        # Low-frequency colour fields (4x4 upsampled) plus noise: unlike pure noise, images differ.
        base = rng.uniform(0, 255, (n, 3, 4, 4)).repeat(8, 2).repeat(8, 3)
        return np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8).reshape(n, 3072)

    sizes = [n_train // 5 + (1 if i < n_train % 5 else 0) for i in range(5)]
    for i, size in enumerate(sizes, 1):
        entry = {"data": images(size), "labels": rng.integers(0, 10, size).tolist()}
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(entry))
    (folder / "test_batch").write_bytes(pickle.dumps({"data": images(n_test), "labels": rng.integers(0, 10, n_test).tolist()}))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"class{i}" for i in range(10)]}))
    return Path(root)
