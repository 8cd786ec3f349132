"""Hostile-input generators and the property every reader must keep (used by test_fuzz_readers.py).

The property: reading a generated input either succeeds or raises :class:`GanevalError` whose
message names the input; never another exception, never a hang (a per-example alarm), and the
folder the input lives in holds afterwards exactly what it held before (nothing left behind).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import struct
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st

from ganeval.errors import GanevalError

DEADLINE_S = 20


class Hang(Exception):
    """A reader ran past the per-example deadline."""


@contextlib.contextmanager
def alarm(seconds: int = DEADLINE_S) -> Iterator[None]:
    """Raise :class:`Hang` in the main thread when the block runs past ``seconds``."""

    def on_alarm(signum: int, frame: Any) -> None:
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def check_reader(read: Callable[[Path], Any], path: Path, *, names: tuple[str, ...] = ()) -> str:
    """Run ``read(path)`` under the property; returns "ok" or "error" (a GanevalError).

    Raises:
        AssertionError: another exception type, a message that does not name the input, a hang,
            or files left behind next to the input.
    """
    folder = path if path.is_dir() else path.parent
    before = listing(folder)
    try:
        with alarm():
            read(path)
        outcome = "ok"
    except GanevalError as exc:
        msg = str(exc)
        wanted = (path.name, str(path), *names)
        assert any(w in msg for w in wanted), f"error does not name the input {path.name!r}: {msg}"
        assert "\n" not in msg.strip() or len(msg) < 2000, f"error is not one line: {msg!r}"
        outcome = "error"
    except Hang as exc:  # pragma: no cover - a failure report
        raise AssertionError(f"{path}: reader hung ({exc})") from exc
    except Exception as exc:  # pragma: no cover - a failure report
        raise AssertionError(f"{path}: {type(exc).__name__} instead of GanevalError: {exc}") from exc
    after = listing(folder)
    assert after == before, f"{path}: files left behind: {sorted(after - before)}"
    return outcome


# ---------------------------------------------------------------------------------------------
# Byte-level mutations


def mutate(data: bytes, draw: Any) -> bytes:
    """Truncate, flip bits, overwrite a span, or splice in junk."""
    kind = draw(st.sampled_from(["truncate", "flip", "overwrite", "splice", "none"]))
    if not data or kind == "none":
        return data
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    if kind == "flip":
        buf = bytearray(data)
        for _ in range(draw(st.integers(1, 16))):
            i = draw(st.integers(0, len(buf) - 1))
            buf[i] ^= 1 << draw(st.integers(0, 7))
        return bytes(buf)
    i = draw(st.integers(0, len(data) - 1))
    junk = draw(st.binary(min_size=1, max_size=64))
    if kind == "overwrite":
        return data[:i] + junk + data[i + len(junk):]
    return data[:i] + junk + data[i:]


def absurd_zip_sizes(data: bytes, factor: int) -> bytes:
    """Rewrite every central-directory entry's declared uncompressed size to something huge."""
    buf = bytearray(data)
    sig = b"PK\x01\x02"
    at = buf.find(sig)
    while at != -1:
        # central directory header: uncompressed size at offset 24 (4 bytes)
        struct.pack_into("<I", buf, at + 24, min(0xFFFFFFFE, max(1, factor)))
        at = buf.find(sig, at + 4)
    return bytes(buf)


def torch_bytes(obj: Any) -> bytes:
    bio = io.BytesIO()
    torch.save(obj, bio)
    return bio.getvalue()


def npy_bytes(arr: np.ndarray) -> bytes:
    bio = io.BytesIO()
    np.save(bio, arr, allow_pickle=True)
    return bio.getvalue()


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    bio = io.BytesIO()
    np.savez(bio, **arrays)
    return bio.getvalue()


def huge_npy_header(shape: tuple[int, ...], dtype: str = "<f4") -> bytes:
    """A valid .npy header declaring ``shape`` followed by a few bytes of data only."""
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\x00" * 16


@st.composite
def arrays(draw: Any) -> np.ndarray:
    """Numeric, object, ragged, 0-d, empty and non-finite arrays."""
    kind = draw(st.sampled_from(["float", "nonfinite", "int", "uint8img", "zerod", "empty", "object", "bool",
                                 "complex", "string", "huge_dim"]))
    if kind == "zerod":
        return np.array(draw(st.floats(allow_nan=True)))
    if kind == "empty":
        return np.zeros((0, draw(st.integers(0, 4))), np.float32)
    if kind == "object":
        return np.array([np.zeros(2), np.zeros(3)], dtype=object)
    if kind == "string":
        return np.array(["a", "b"])
    if kind == "huge_dim":
        return np.zeros((2,) + (1,) * draw(st.integers(5, 12)), np.float32)
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=4)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = rng.normal(size=shape)
    if kind == "nonfinite":
        x.flat[draw(st.integers(0, x.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    if kind == "int":
        return (x * 10).astype(np.int64)
    if kind == "uint8img":
        return (np.abs(x) * 60).astype(np.uint8)
    if kind == "bool":
        return x > 0
    if kind == "complex":
        return x.astype(np.complex64)
    return x.astype(draw(st.sampled_from([np.float32, np.float64, np.float16])))


PAYLOAD_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def ganeval_payloads(draw: Any) -> dict[str, Any]:
    """``torch.save``-able dicts that look more or less like a ganeval checkpoint."""
    base: dict[str, Any] = {
        "format": draw(st.sampled_from(["ganeval-generator", "ganeval-generator", "other", 3])),
        "version": draw(st.sampled_from([1, 1, 0, 2, 99, "1", None, -1])),
        "factory": draw(st.sampled_from(["ganeval.toy:MixtureGenerator", "ganeval.toy:Nope", "nope", "os:system",
                                         "reference_trainers.nets:MLPGenerator", 5, ""])),
        "factory_kwargs": draw(st.sampled_from([{}, {"means": [[0.0, 1.0]], "std": 0.1}, {"bogus": 1}, [], None])),
        "state_dict": draw(st.sampled_from([{}, {"w": torch.zeros(2, 2)}, {"net.0.weight": torch.zeros(3)}, None,
                                            "x"])),
        "latent": draw(st.sampled_from([{"dim": 3}, {"dim": 0}, {"dim": -2}, {"dim": "x"}, {"dim": 3,
                                        "distribution": "cauchy"}, None, 4, {}])),
    }
    for key in draw(st.lists(st.sampled_from(sorted(base)), max_size=3, unique=True)):
        base.pop(key)
    for key, value in draw(st.dictionaries(st.sampled_from(["step", "data", "output_range", "meta",
                                                            "discriminator", "conditional"]),
                                           PAYLOAD_VALUES, max_size=3)).items():
        base[key] = value
    return base


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def json_values() -> st.SearchStrategy[Any]:
    return PAYLOAD_VALUES


def json_text(draw: Any, template: dict[str, Any]) -> str:
    """A JSON document built from ``template`` with keys dropped, retyped or the text broken."""
    doc = dict(template)
    for key in draw(st.lists(st.sampled_from(sorted(template)), max_size=3, unique=True)):
        action = draw(st.sampled_from(["drop", "retype"]))
        if action == "drop":
            doc.pop(key, None)
        else:
            doc[key] = draw(PAYLOAD_VALUES)
    text = json.dumps(doc, default=str)
    if draw(st.booleans()):
        text = mutate(text.encode(), draw).decode("utf-8", "replace")
    return text


def chmod_unreadable(path: Path) -> bool:
    """Make a file unreadable; False when the process reads it anyway (root)."""
    os.chmod(path, 0)
    try:
        with open(path, "rb"):
            return False
    except PermissionError:
        return True
    finally:
        os.chmod(path, 0o644)


def zip_of(entries: dict[str, bytes]) -> bytes:
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return bio.getvalue()
