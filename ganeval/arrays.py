""".npy / .npz reading that checks what a file declares before numpy allocates it.

``np.load`` trusts the header: a 100-byte file declaring a (10^6, 10^6) array makes numpy try to
allocate terabytes before it notices the data is missing. Here every array's declared size is
checked against the bytes that can actually be behind it (the file's size for ``.npy``; the zip
member's size for ``.npz``, bounded by deflate's largest possible ratio), object arrays are refused
without unpickling anything, and every failure is a :class:`~ganeval.errors.GanevalError` naming
the file.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.lib import format as npformat

from .errors import GanevalError

# Deflate cannot expand data by more than about 1032:1; a member declaring more is corrupt.
DEFLATE_MAX_RATIO = 1032


def _header(fh: IO[bytes], where: str) -> tuple[tuple[int, ...], np.dtype[Any], int]:
    """(shape, dtype, bytes of data declared) from an .npy header at the file's position."""
    try:
        version = npformat.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = npformat.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            shape, _, dtype = npformat.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except Exception as exc:  # numpy parses the header with ast/tokenize: corrupt bytes raise many types
        raise GanevalError(f"{where}: not a readable numpy array ({exc}); re-save it with numpy.save.") from exc
    if dtype.hasobject:
        raise GanevalError(f"{where}: holds Python objects (dtype {dtype}), which would run code when loaded; "
                           "save a numeric array instead. Nothing in it was loaded.")
    count = 1
    for s in shape:
        count *= int(s)
    return tuple(int(s) for s in shape), dtype, count * dtype.itemsize


def load_npy(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an ``.npy`` file after checking that its header fits the file.

    Raises:
        GanevalError: unreadable header, object dtype, or a declared size the file cannot hold.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        with open(p, "rb") as fh:
            shape, dtype, nbytes = _header(fh, str(p))
            available = size - fh.tell()
            if nbytes > available:
                raise GanevalError(f"{p}: the header declares a {shape} {dtype} array ({nbytes:,} bytes) but the "
                                   f"file holds {available:,}; it is truncated or corrupt. Re-save it.")
            fh.seek(0)
            return np.load(fh, allow_pickle=False)
    except GanevalError:
        raise
    except (ValueError, OSError, EOFError) as exc:
        raise GanevalError(f"{p}: cannot read the array ({exc}); the file is corrupt or not a numpy file.") from exc


def load_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` after checking each member's declared size.

    Raises:
        GanevalError: not a zip, a corrupt member, object dtype, or a declared size its member cannot hold.
    """
    p = Path(path)
    out: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(p) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                where = f"{p} (array {name!r})"
                limit = info.compress_size * (DEFLATE_MAX_RATIO if info.compress_type else 1)
                if info.file_size > max(limit, 1 << 10):
                    raise GanevalError(f"{where}: the zip entry declares {info.file_size:,} bytes from "
                                       f"{info.compress_size:,} stored; the file is corrupt. Re-save it.")
                with zf.open(info) as fh:
                    shape, dtype, nbytes = _header(fh, where)
                    header_len = fh.tell()
                if nbytes > info.file_size - header_len:
                    raise GanevalError(f"{where}: declares a {shape} {dtype} array ({nbytes:,} bytes) but the "
                                       f"entry holds {max(info.file_size - header_len, 0):,}; it is corrupt.")
                with zf.open(info) as fh:
                    out[name] = npformat.read_array(fh, allow_pickle=False)
    except GanevalError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError,
            RuntimeError) as exc:
        raise GanevalError(f"{p}: cannot read the .npz ({exc}); the file is corrupt or not a numpy .npz.") from exc
    return out
