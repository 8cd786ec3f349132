"""Small shared helpers: devices, seeded generators, hashing, progress bars, array checks."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from .errors import GanevalError

T = TypeVar("T")


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Turn ``"auto"`` / ``"cpu"`` / ``"cuda"`` / ``"cuda:1"`` into a :class:`torch.device`.

    Raises:
        GanevalError: CUDA was asked for but is not available, or the name is not a device.
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise GanevalError(f"Unknown device {device!r}: use auto, cpu or cuda[:N].") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise GanevalError(f"Device {device!r} asked for, but CUDA is not available here: use --device cpu.")
    return dev


def torch_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A private, seeded torch RNG (never the global one)."""
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes (of every file, sorted by name, for a folder)."""
    h = hashlib.sha256()
    p = Path(path)
    files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
    for f in files:
        if p.is_dir():
            h.update(str(f.relative_to(p)).encode())
        with open(f, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
    return h.hexdigest()


def progress(iterable: Iterable[T], *, desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """Wrap an iterable in a tqdm progress bar on stderr.

    The bar shows only on an interactive terminal (or with ``GANEVAL_PROGRESS=1``), never in
    CI logs; ``GANEVAL_PROGRESS=0`` turns it off everywhere.
    """
    flag = os.environ.get("GANEVAL_PROGRESS")
    show = sys.stderr.isatty() if flag is None else flag not in ("0", "", "false")
    if not show:
        yield from iterable
        return
    from tqdm.auto import tqdm

    yield from tqdm(iterable, desc=desc, total=total, unit=unit, leave=False, file=sys.stderr)


def as_tensor(x: Any, name: str, *, ndim: int | None = None, min_rows: int = 1,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Validate an array argument and return it as a tensor (kept on its device if a tensor).

    Args:
        x: array-like (numpy array, tensor, nested list).
        name: the argument's name, quoted in errors.
        ndim: required number of dimensions (after conversion), or None for any >= 1.
        min_rows: the least number of rows accepted.
        dtype: floating dtype of the result.

    Raises:
        GanevalError: not numeric, wrong number of dimensions, too few rows, NaN or Inf.
    """
    try:
        t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    except (TypeError, ValueError) as exc:
        raise GanevalError(f"`{name}` must be a numeric array, got {type(x).__name__}.") from exc
    if not (t.is_floating_point() or t.dtype in (torch.uint8, torch.int8, torch.int16, torch.int32,
                                                 torch.int64, torch.bool)):
        raise GanevalError(f"`{name}` must be numeric, got dtype {t.dtype}.")
    if t.ndim == 0:
        raise GanevalError(f"`{name}` must be an array of rows, got a scalar.")
    if ndim is not None and t.ndim != ndim:
        raise GanevalError(f"`{name}` must have {ndim} dimensions, got shape {tuple(t.shape)}.")
    if t.shape[0] < min_rows:
        raise GanevalError(f"`{name}` needs at least {min_rows} rows, got {t.shape[0]} (shape {tuple(t.shape)}).")
    t = t.to(dtype) if t.dtype != dtype else t
    if not torch.isfinite(t).all():
        bad = int((~torch.isfinite(t)).reshape(t.shape[0], -1).any(1).sum())
        raise GanevalError(f"`{name}` contains NaN or Inf in {bad} of {t.shape[0]} rows; remove or fix them.")
    return t


def as_matrix(x: Any, name: str, *, min_rows: int = 2, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Validate an (N, ...) array and flatten it to (N, D) (images become vectors)."""
    t = as_tensor(x, name, min_rows=min_rows, dtype=dtype)
    return t.reshape(t.shape[0], -1) if t.ndim != 2 else t


def same_dim(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Raise when two (N, D) matrices disagree on D."""
    if a.shape[1] != b.shape[1]:
        raise GanevalError(
            f"`{name_a}` has {a.shape[1]} features per row but `{name_b}` has {b.shape[1]}: "
            "both must come from the same space (same data or the same feature extractor)."
        )
