"""Small shared helpers: devices, seeded generators, hashing, progress bars (array checks: :mod:`ganeval.validation`)."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import torch

from .errors import GanevalError
from .validation import as_matrix, as_tensor, same_dim  # noqa: F401  (their old home; import from .validation)

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
