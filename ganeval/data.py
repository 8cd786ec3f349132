"""Reference datasets with fixed, seeded train / val / test splits.

Images are ``N x C x H x W`` float32 in [0, 1]; vectors ``N x D`` float32. Mixtures of Gaussians
also carry their ``means``, ``std``, an exact ``log_prob`` and a seeded ``sample``.

Built in (``list_datasets()``):

==================  ==========================================================================
``ring8``           8 modes at angle 2πi/8 on a circle of radius 1, std 0.01 (PacGAN, Lin et al. 2018)
``ring8-unrolled``  the same ring with radius 2, std 0.02 (Unrolled GAN, Metz et al. 2017)
``grid25``          25 modes at {-4,-2,0,2,4}², std 0.05 (PacGAN / VEEGAN)
``mog1200``         10 modes in 1200-D, means uniform in [-1, 1]^1200 (seeded), std 0.01
``digits``          scikit-learn's bundled 8x8 digits (1,797 real images, no download), 1x8x8
``mnist``           MNIST 1x28x28 from IDX files (a folder; the t10k test split alone works)
``stacked-mnist``   three MNIST digits stacked as RGB channels: 1,000 modes (3x28x28)
``cifar10``         CIFAR-10 3x32x32 through torchvision (download only when asked)
==================  ==========================================================================

Paths work too: an ``.npz`` with ``train``/``val``/``test`` arrays (optional ``*_labels``) or an
image folder (with ``train/ val/ test/`` subfolders, or flat and split here; one subfolder per
class, under each split or at the top, gives labels, classes numbered in the folders' sorted order).

Split sizes (all seeded by ``seed``; mixtures are drawn afresh from the exact density):

* mixtures: train 20,000, val 2,000, test 10,000;
* digits: a seeded, class-stratified split of the 1,797 images into 1,197 / 300 / 300;
* mnist with the training files: train = the first 50,000 training images, val = the last
  10,000 (Goodfellow et al. 2014's Parzen protocol), test = t10k;
  with only t10k (the case here): a seeded split of t10k into 7,000 / 1,000 / 2,000, said in
  ``notes``;
* stacked-mnist: triples of images drawn (seeded) from each MNIST split: 25,000 / 2,000 / 5,000.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._utils import torch_generator
from .errors import GanevalError, unknown_name

MIXTURE_SIZES = (20_000, 2_000, 10_000)


@dataclass
class Dataset:
    """A reference dataset: three fixed splits plus what the metrics need to know about it.

    Attributes:
        name: registry name or path.
        kind: "mixture", "images" or "vectors".
        train, val, test: float32 tensors, (N, C, H, W) images or (N, D) vectors.
        train_labels, val_labels, test_labels: int64 class labels where the data has them.
        n_classes: number of classes (modes for mixtures), where known.
        notes: caveats about how the splits were made.
        seed: the seed the splits were made with.
    """

    name: str
    kind: str
    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor
    train_labels: torch.Tensor | None = None
    val_labels: torch.Tensor | None = None
    test_labels: torch.Tensor | None = None
    n_classes: int | None = None
    notes: list[str] = field(default_factory=list)
    seed: int = 0

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.train.shape[1:])

    @property
    def dim(self) -> int:
        return int(math.prod(self.sample_shape))

    def split(self, name: str) -> torch.Tensor:
        """Rows of ``train``, ``val``, ``test``, or of ``train+val`` / ``all`` (concatenated in that
        order: CIFAR-10's ``train+val`` is its 50,000 training images, the FID protocol's reference)."""
        if name in ("train+val", "all"):
            parts = ("train", "val") if name == "train+val" else ("train", "val", "test")
            return torch.cat([getattr(self, p) for p in parts])
        if name not in ("train", "val", "test"):
            raise GanevalError(f"Unknown split {name!r}: use train, val, test, train+val or all.")
        return getattr(self, name)

    def labels(self, name: str) -> torch.Tensor | None:
        return getattr(self, f"{name}_labels")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "shape": list(self.sample_shape),
                "sizes": {s: int(self.split(s).shape[0]) for s in ("train", "val", "test")},
                "n_classes": self.n_classes, "seed": self.seed, "notes": list(self.notes)}


@dataclass
class MixtureDataset(Dataset):
    """An isotropic, equal-weight Gaussian mixture with exact density."""

    means: torch.Tensor = field(default_factory=lambda: torch.zeros(1, 2))
    std: float = 1.0

    def sample(self, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` points and their mode labels, from a private RNG seeded with ``seed``."""
        gen = torch_generator(seed)
        labels = torch.randint(len(self.means), (n,), generator=gen)
        noise = torch.randn(n, self.means.shape[1], generator=gen, dtype=torch.float64)
        return (self.means.double()[labels] + self.std * noise).float(), labels

    def log_prob(self, x: Any) -> torch.Tensor:
        """Exact log density (nats) of each row of ``x`` (N x D), computed in float64."""
        x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).double()
        if x.ndim != 2 or x.shape[1] != self.means.shape[1]:
            raise GanevalError(f"`x` must be (N, {self.means.shape[1]}) for {self.name}, got {tuple(x.shape)}.")
        d = x.shape[1]
        sq = torch.cdist(x, self.means.double()).pow(2)
        log_norm = -0.5 * d * math.log(2 * math.pi * self.std**2)
        return torch.logsumexp(-sq / (2 * self.std**2), dim=1) + log_norm - math.log(len(self.means))


# ---------------------------------------------------------------------------------------------
# mixtures


def _ring(n_modes: int, radius: float) -> torch.Tensor:
    ang = torch.arange(n_modes, dtype=torch.float64) * 2 * math.pi / n_modes
    return torch.stack([radius * torch.cos(ang), radius * torch.sin(ang)], 1)


def _grid() -> torch.Tensor:
    v = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0], dtype=torch.float64)
    return torch.cartesian_prod(v, v)


def _mog1200() -> torch.Tensor:
    # Fixed means, independent of the split seed: the benchmark is one distribution.
    return (torch.rand(10, 1200, generator=torch_generator(1200), dtype=torch.float64) * 2 - 1)


def _mixture(name: str, means: torch.Tensor, std: float, seed: int) -> MixtureDataset:
    proto = MixtureDataset(name=name, kind="mixture", train=torch.empty(0), val=torch.empty(0),
                           test=torch.empty(0), means=means.float(), std=std, n_classes=len(means), seed=seed)
    splits = {}
    for i, (split, n) in enumerate(zip(("train", "val", "test"), MIXTURE_SIZES)):
        splits[split] = proto.sample(n, seed * 3 + i)
    proto.train, proto.train_labels = splits["train"]
    proto.val, proto.val_labels = splits["val"]
    proto.test, proto.test_labels = splits["test"]
    return proto


# ---------------------------------------------------------------------------------------------
# digits and MNIST


def _stratified_split(labels: np.ndarray, sizes: tuple[int, int, int], seed: int) -> list[np.ndarray]:
    """Indices of three splits of the given sizes, seeded, class proportions kept."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    rest, test = train_test_split(idx, test_size=sizes[2], stratify=labels, random_state=seed)
    train, val = train_test_split(rest, test_size=sizes[1], stratify=labels[rest], random_state=seed + 1)
    return [np.sort(train), np.sort(val), np.sort(test)]


def _images_dataset(name: str, images: np.ndarray, labels: np.ndarray, parts: list[np.ndarray], seed: int,
                    notes: list[str], n_classes: int = 10) -> Dataset:
    t = torch.from_numpy(images).float()
    lab = torch.from_numpy(labels.astype(np.int64))
    tr, va, te = (torch.from_numpy(p) for p in parts)
    return Dataset(name=name, kind="images", train=t[tr], val=t[va], test=t[te], train_labels=lab[tr],
                   val_labels=lab[va], test_labels=lab[te], n_classes=n_classes, notes=notes, seed=seed)


def _digits(seed: int, **_: Any) -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)[:, None]
    labels = bunch.target
    return _images_dataset("digits", images, labels, _stratified_split(labels, (1197, 300, 300), seed), seed,
                           ["scikit-learn's 8x8 digits (UCI optdigits test set), pixels scaled from 0-16 to [0, 1]."])


MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _read_idx(path: Path) -> np.ndarray:
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
        zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
        if zero != 0 or dtype_code != 0x08:
            raise ValueError("bad magic number")
        shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
        arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
        if arr.size != math.prod(shape):
            raise ValueError(f"expected {math.prod(shape)} values, found {arr.size}")
        return arr.reshape(shape)
    except (OSError, EOFError, ValueError, struct.error) as exc:
        raise GanevalError(f"{path}: not a valid IDX file ({exc}); re-download MNIST.") from exc


def _find_idx(root: Path, stem: str) -> Path | None:
    for d in (root, root / "MNIST" / "raw", root / "raw"):
        for suffix in ("", ".gz"):
            if (d / (stem + suffix)).is_file():
                return d / (stem + suffix)
    return None


def default_root() -> Path:
    """Where datasets are looked for when no root is given: ``$GANEVAL_DATA`` or ``~/.cache/ganeval/data``."""
    return Path(os.environ.get("GANEVAL_DATA", Path.home() / ".cache" / "ganeval" / "data"))


def _mnist_arrays(root: str | os.PathLike[str] | None, download: bool) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], Path]:
    candidates = [Path(root)] if root else [default_root() / "mnist", default_root()]
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    where = candidates[0]
    for cand in candidates:
        for split, (img, lab) in MNIST_FILES.items():
            pi, pl = _find_idx(cand, img), _find_idx(cand, lab)
            if pi and pl and split not in found:
                found[split] = (_read_idx(pi), _read_idx(pl))
                where = cand
    if "test" not in found and download:
        import torchvision

        target = Path(root) if root else default_root() / "mnist"
        for train in (True, False):
            torchvision.datasets.MNIST(str(target), train=train, download=True)
        return _mnist_arrays(target, download=False)
    if "test" not in found:
        looked = ", ".join(str(c) for c in candidates)
        raise GanevalError(
            f"MNIST not found (looked in {looked} for t10k-images-idx3-ubyte[.gz]): pass --data-root DIR "
            "(Python: root=DIR), a folder of MNIST IDX files, set GANEVAL_DATA, or allow the download with --download."
        )
    return found, where


def _mnist_split(root: str | os.PathLike[str] | None, seed: int, download: bool) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], list[str]]:
    found, where = _mnist_arrays(root, download)
    te_x, te_y = found["test"]
    if "train" in found:
        tr_x, tr_y = found["train"]
        images = np.concatenate([tr_x, te_x])
        labels = np.concatenate([tr_y, te_y])
        n_tr = len(tr_x)
        parts = [np.arange(0, n_tr - 10_000), np.arange(n_tr - 10_000, n_tr), np.arange(n_tr, n_tr + len(te_x))]
        notes = [f"MNIST from {where}: train = first 50,000 training images, val = last 10,000, test = t10k."]
    else:
        images, labels = te_x, te_y
        parts = _stratified_split(labels, (7000, 1000, 2000), seed)
        notes = [f"MNIST from {where}: only the t10k split is present, so train/val/test are a seeded "
                 "stratified split of it (7,000 / 1,000 / 2,000); numbers are not comparable with papers "
                 "that use the 60k training set."]
    return images, labels, parts, notes


def _mnist(seed: int, root: str | os.PathLike[str] | None = None, download: bool = False) -> Dataset:
    images, labels, parts, notes = _mnist_split(root, seed, download)
    x = (images.astype(np.float32) / 255.0)[:, None]
    return _images_dataset("mnist", x, labels, parts, seed, notes)


STACKED_SIZES = (25_000, 2_000, 5_000)


def _stacked_mnist(seed: int, root: str | os.PathLike[str] | None = None, download: bool = False) -> Dataset:
    base = _mnist(seed, root, download)
    rng = np.random.default_rng(seed)
    out: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for split, n in zip(("train", "val", "test"), STACKED_SIZES):
        imgs, labs = base.split(split), base.labels(split)
        assert labs is not None
        pick = torch.from_numpy(rng.integers(0, len(imgs), size=(n, 3)))
        x = imgs[pick.reshape(-1), 0].reshape(n, 3, 28, 28)
        y = labs[pick]
        out[split] = (x, y[:, 0] * 100 + y[:, 1] * 10 + y[:, 2])
    notes = base.notes + ["Stacked MNIST (Metz et al. 2017; VEEGAN; PacGAN): each image stacks three MNIST "
                          "digits drawn independently (seeded) from the same split as R, G, B; label = 100a+10b+c."]
    return Dataset(name="stacked-mnist", kind="images", train=out["train"][0], val=out["val"][0],
                   test=out["test"][0], train_labels=out["train"][1], val_labels=out["val"][1],
                   test_labels=out["test"][1], n_classes=1000, notes=notes, seed=seed)


def _cifar10(seed: int, root: str | os.PathLike[str] | None = None, download: bool = False) -> Dataset:
    import torchvision

    class _Reader(torchvision.datasets.CIFAR10):
        # torchvision checks md5 sums when it downloads; an existing folder only needs its files,
        # so a folder in the same format with other images (a test fixture) reads too.
        def _check_integrity(self) -> bool:
            base = Path(self.root) / self.base_folder
            return all((base / f).is_file() for f, _ in self.train_list + self.test_list)

        def _load_meta(self) -> None:
            self.classes: list[str] = []  # class names are not used
            self.class_to_idx: dict[str, int] = {}

    target = Path(root) if root else default_root() / "cifar10"
    try:
        tr = _Reader(str(target), train=True, download=download)
        te = _Reader(str(target), train=False, download=download)
    except RuntimeError as exc:
        raise GanevalError(
            f"CIFAR-10 not found in {target}: pass --data-root DIR (Python: root=DIR), a folder holding "
            "cifar-10-batches-py, set GANEVAL_DATA, or allow the download with --download."
        ) from exc
    x = np.concatenate([tr.data, te.data]).transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    y = np.concatenate([np.asarray(tr.targets), np.asarray(te.targets)])
    n_tr, n_te = len(tr.data), len(te.data)
    n_val = n_tr // 10  # 45,000 / 5,000 for CIFAR-10; train+val is the 50,000 training images
    parts = [np.arange(0, n_tr - n_val), np.arange(n_tr - n_val, n_tr), np.arange(n_tr, n_tr + n_te)]
    return _images_dataset("cifar10", x, y, parts, seed, [f"CIFAR-10 from {target}: train = first {n_tr - n_val:,} "
                                                          f"training images, val = last {n_val:,}, test = the test "
                                                          "set; train+val = all training images."])


def _from_npz(path: Path, seed: int) -> Dataset:
    from .arrays import load_npz

    arrays = load_npz(path)
    missing = [k for k in ("train", "val", "test") if k not in arrays]
    if missing:
        raise GanevalError(f"{path}: a dataset .npz needs arrays train, val and test; missing {', '.join(missing)} "
                           f"(found {', '.join(arrays) or 'none'}).")
    for k, a in arrays.items():
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_) or np.iscomplexobj(a):
            raise GanevalError(f"{path}: array {k!r} has dtype {a.dtype}; a dataset .npz holds real numbers.")
    t = {k: torch.from_numpy(np.asarray(arrays[k], dtype=np.float32)) for k in ("train", "val", "test")}
    shapes = {k: tuple(v.shape[1:]) for k, v in t.items()}
    if len(set(shapes.values())) != 1:
        raise GanevalError(f"{path}: train/val/test have different row shapes {shapes}.")
    for k, v in t.items():
        if v.ndim < 2 or v.shape[0] < 2 or not torch.isfinite(v).all():
            raise GanevalError(f"{path}: split {k!r} must be (N>=2, ...) and finite, got shape {tuple(v.shape)}.")
    labels = {}
    for k in ("train", "val", "test"):
        if f"{k}_labels" in arrays:
            lab = arrays[f"{k}_labels"]
            if lab.shape != (t[k].shape[0],) or not np.issubdtype(lab.dtype, np.integer) or (lab < 0).any():
                raise GanevalError(f"{path}: '{k}_labels' must be {t[k].shape[0]} non-negative integers (one per "
                                   f"row of {k!r}), got {lab.dtype} of shape {lab.shape}.")
            labels[k] = torch.from_numpy(lab.astype(np.int64))
    kind = "images" if t["train"].ndim == 4 else "vectors"
    n_classes = int(max(int(v.max()) for v in labels.values()) + 1) if labels else None
    return Dataset(name=str(path), kind=kind, train=t["train"], val=t["val"], test=t["test"],
                   train_labels=labels.get("train"), val_labels=labels.get("val"), test_labels=labels.get("test"),
                   n_classes=n_classes, seed=seed)


def _from_image_folder(path: Path, seed: int) -> Dataset:
    from .images import list_images as files
    from .images import read_image_folder

    split_dirs = all((path / s).is_dir() for s in ("train", "val", "test"))
    if (split_dirs and not files(path / "train")) or (not split_dirs and not files(path)):
        labelled = _class_folders(path, files, seed, split_dirs)  # one subfolder per class
        if labelled is not None:
            return labelled
    if split_dirs:
        t = {s: read_image_folder(path / s, files(path / s)) for s in ("train", "val", "test")}
        notes = [f"Image folder {path} with train/val/test subfolders."]
    else:
        imgs = files(path)
        if len(imgs) < 10:
            raise GanevalError(f"{path}: an image-folder dataset needs at least 10 PNG/JPEG images (found {len(imgs)}), "
                               "or train/ val/ test/ subfolders.")
        x = read_image_folder(path, imgs)
        perm = torch.randperm(len(x), generator=torch_generator(seed))
        n_val = n_test = max(1, len(x) // 10)
        t = {"test": x[perm[:n_test]], "val": x[perm[n_test:n_test + n_val]], "train": x[perm[n_test + n_val:]]}
        notes = [f"Image folder {path}: a seeded 80/10/10 split."]
    return Dataset(name=str(path), kind="images", notes=notes, seed=seed, train=t["train"], val=t["val"],
                   test=t["test"])


def _class_folders(path: Path, files: Callable[[Path], list[Path]], seed: int, split_dirs: bool) -> Dataset | None:
    """A labelled image folder: ``path/<class>/*.png`` (split here, seeded, per class 80/10/10) or
    ``path/{train,val,test}/<class>/*.png``; classes are the subfolder names in sorted order.
    None when ``path`` holds no class subfolders."""
    from .images import read_image_folder

    def classes(d: Path) -> list[Path]:
        return sorted(q for q in d.iterdir() if q.is_dir() and not q.name.startswith(".") and files(q))

    def load(d: Path, names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = [], []
        for q in classes(d):
            if q.name not in names:
                raise GanevalError(f"{q}: class {q.name!r} is not among the training classes ({', '.join(names)}); "
                                   "every split needs the same class subfolders.")
            xs.append(read_image_folder(q, files(q)))
            ys.append(torch.full((xs[-1].shape[0],), names.index(q.name), dtype=torch.int64))
        if len({tuple(x.shape[1:]) for x in xs}) > 1:
            raise GanevalError(f"{d}: the class subfolders hold images of different sizes; resize them to one size.")
        return torch.cat(xs), torch.cat(ys)

    top = classes(path / "train" if split_dirs else path)
    if len(top) < 2:
        return None
    names = [q.name for q in top]
    notes = [f"Image folder {path} with one subfolder per class: " + ", ".join(f"{i}={n}" for i, n in enumerate(names))]
    if split_dirs:
        parts = {s: load(path / s, names) for s in ("train", "val", "test")}
        notes[0] += " (train/val/test subfolders)."
    else:
        x, y = load(path, names)
        gen = torch_generator(seed)
        idx: dict[str, list[torch.Tensor]] = {"train": [], "val": [], "test": []}
        for c in range(len(names)):
            rows = torch.nonzero(y == c).flatten()
            if rows.numel() < 3:
                raise GanevalError(f"{path / names[c]}: a class needs at least 3 images to be split into train, val "
                                   f"and test (found {rows.numel()}); add images or use train/ val/ test/ subfolders.")
            rows = rows[torch.randperm(rows.numel(), generator=gen)]
            k = max(1, rows.numel() // 10)
            idx["test"].append(rows[:k])
            idx["val"].append(rows[k:2 * k])
            idx["train"].append(rows[2 * k:])
        parts = {s: (x[torch.cat(v)], y[torch.cat(v)]) for s, v in idx.items()}
        notes[0] += "; a seeded 80/10/10 split within each class."
    return Dataset(name=str(path), kind="images", train=parts["train"][0], val=parts["val"][0], test=parts["test"][0],
                   train_labels=parts["train"][1], val_labels=parts["val"][1], test_labels=parts["test"][1],
                   n_classes=len(names), notes=notes, seed=seed)


BUILTIN: dict[str, Callable[..., Dataset]] = {
    "ring8": lambda seed, **_: _mixture("ring8", _ring(8, 1.0), 0.01, seed),
    "ring8-unrolled": lambda seed, **_: _mixture("ring8-unrolled", _ring(8, 2.0), 0.02, seed),
    "grid25": lambda seed, **_: _mixture("grid25", _grid(), 0.05, seed),
    "mog1200": lambda seed, **_: _mixture("mog1200", _mog1200(), 0.01, seed),
    "digits": _digits,
    "mnist": _mnist,
    "stacked-mnist": _stacked_mnist,
    "cifar10": _cifar10,
}

DESCRIPTIONS = {
    "ring8": "8 Gaussians on a circle, radius 1, std 0.01 (PacGAN)",
    "ring8-unrolled": "8 Gaussians on a circle, radius 2, std 0.02 (Unrolled GAN)",
    "grid25": "25 Gaussians on {-4,-2,0,2,4}^2, std 0.05 (PacGAN/VEEGAN)",
    "mog1200": "10 Gaussians in 1200-D, means uniform in [-1,1]^1200, std 0.01",
    "digits": "scikit-learn 8x8 digits, 1x8x8, bundled (no download)",
    "mnist": "MNIST 1x28x28 from IDX files (t10k alone works); --download to fetch",
    "stacked-mnist": "three MNIST digits as RGB, 1000 modes; needs MNIST",
    "cifar10": "CIFAR-10 3x32x32 via torchvision; --download to fetch",
}


def list_datasets() -> dict[str, str]:
    """Built-in dataset names and a one-line description of each."""
    return dict(DESCRIPTIONS)


_CACHE: dict[tuple[str, str, int], Dataset] = {}


def load_dataset(name_or_path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None,
                 seed: int = 0, download: bool = False) -> Dataset:
    """Load a built-in dataset by name, or a dataset from an ``.npz`` / image folder path.

    Results are cached per (name, root, seed) for the life of the process; treat them as read-only.

    Args:
        name_or_path: a name from :func:`list_datasets`, or a path.
        root: where MNIST / CIFAR-10 files live (default ``$GANEVAL_DATA`` or ``~/.cache/ganeval/data``).
        seed: seed of the splits.
        download: allow torchvision to download MNIST / CIFAR-10 into ``root``.

    Raises:
        GanevalError: unknown name (with near-miss suggestions), absent data (with how to get it),
            malformed files.
    """
    key = (str(name_or_path), str(root), int(seed))
    if key in _CACHE:
        return _CACHE[key]
    name = str(name_or_path)
    if name in BUILTIN:
        ds = BUILTIN[name](seed=int(seed), root=root, download=download)
    else:
        path = Path(name)
        if path.suffix == ".npz" and path.is_file():
            ds = _from_npz(path, seed)
        elif path.is_dir():
            ds = _from_image_folder(path, seed)
        elif path.is_file():
            raise GanevalError(f"{path}: a {path.suffix or 'plain'} file is not a dataset; --data takes a built-in "
                               "name (`ganeval datasets`), an .npz with train/val/test arrays, or an image folder.")
        elif path.suffix == ".npz" or os.sep in name:
            raise GanevalError(f"{path}: no such dataset file or folder; check the path.")
        else:
            raise unknown_name("dataset", name, BUILTIN, "Or pass a path to an .npz / image folder.")
    _CACHE[key] = ds
    return ds
