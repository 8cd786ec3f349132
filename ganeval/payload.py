"""Type checks for the dict inside a ganeval-format checkpoint, before anything is built from it.

A checkpoint is user input: every field is checked for its type and range here, so a damaged or
hand-edited file gives one :class:`~ganeval.errors.GanevalError` naming the file and the field
instead of a ``TypeError`` from deep inside ``torch`` or a factory.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from .errors import GanevalError

FIX = "re-save it with ganeval.save_generator"


def _fail(path: Path, what: str) -> GanevalError:
    return GanevalError(f"{path}: {what}; {FIX}.")


def _int(value: Any, path: Path, field: str, *, allow_none: bool = True) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, f"field {field!r} must be an integer, got {type(value).__name__} {value!r}")
    return value


def check_state_dict(sd: Any, path: Path, field: str) -> dict[str, torch.Tensor]:
    """``sd`` as a ``{str: Tensor}`` mapping.

    Raises:
        GanevalError: not a mapping, a non-string key, or a value that is not a tensor.
    """
    if not isinstance(sd, dict):
        raise _fail(path, f"{field!r} must be a dict of tensors, got {type(sd).__name__}")
    for k, v in sd.items():
        if not isinstance(k, str) or not isinstance(v, torch.Tensor):
            raise _fail(path, f"{field!r} entry {k!r} is a {type(v).__name__}, not a named tensor")
    return sd


def check_entry(entry: Any, path: Path, what: str) -> dict[str, Any]:
    """A ``{factory, factory_kwargs, state_dict}`` entry (the generator itself or its discriminator)."""
    if not isinstance(entry, dict):
        raise _fail(path, f"the {what} entry must be a dict, got {type(entry).__name__}")
    if not isinstance(entry.get("factory"), str):
        raise _fail(path, f"the {what} factory must be a 'package.module:callable' string, got "
                          f"{entry.get('factory')!r}")
    kwargs = entry.get("factory_kwargs")
    if kwargs is not None and not (isinstance(kwargs, dict) and all(isinstance(k, str) for k in kwargs)):
        raise _fail(path, f"the {what} factory_kwargs must be a dict with string keys, got {type(kwargs).__name__}")
    check_state_dict(entry.get("state_dict"), path, f"{what} state_dict")
    return entry


def check_payload(obj: dict[str, Any], path: Path, version: int) -> None:
    """Validate a ganeval-format payload (``obj["format"]`` already matched).

    Raises:
        GanevalError: a missing or ill-typed field, or a version newer than ``version``.
    """
    v = _int(obj.get("version"), path, "version", allow_none=False)
    if v is not None and v > version:
        raise GanevalError(f"{path}: ganeval format version {v} is newer than this ganeval reads ({version}); "
                           "upgrade ganeval.")
    if v is not None and v < 1:
        raise _fail(path, f"format version {v} is not a valid version")
    for key in ("factory", "state_dict", "latent"):
        if key not in obj:
            raise _fail(path, f"ganeval checkpoint without its {key!r} entry")
    check_entry(obj, path, "generator")
    latent = obj["latent"]
    if not isinstance(latent, dict):
        raise _fail(path, f"'latent' must be a dict like {{'dim': 100}}, got {type(latent).__name__}")
    if "dim" in latent:
        _int(latent["dim"], path, "latent.dim")
    for key in ("low", "high"):
        if key in latent and (isinstance(latent[key], bool) or not isinstance(latent[key], (int, float))
                              or not math.isfinite(latent[key])):
            raise _fail(path, f"field 'latent.{key}' must be a finite number, got {latent[key]!r}")
    if "distribution" in latent and not isinstance(latent["distribution"], str):
        raise _fail(path, f"field 'latent.distribution' must be a string, got {latent['distribution']!r}")
    _int(obj.get("step"), path, "step")
    if obj.get("data") is not None and not isinstance(obj["data"], str):
        raise _fail(path, f"field 'data' must be a dataset name or null, got {obj['data']!r}")
    if obj.get("meta") is not None and not isinstance(obj["meta"], dict):
        raise _fail(path, f"field 'meta' must be a dict, got {type(obj['meta']).__name__}")
    rng = obj.get("output_range")
    if rng is not None:
        ok = (isinstance(rng, (list, tuple)) and len(rng) == 2
              and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in rng)
              and rng[0] < rng[1])
        if not ok:
            raise _fail(path, f"field 'output_range' must be [low, high] with low < high, got {rng!r}")
    if obj.get("discriminator") is not None:
        check_entry(obj["discriminator"], path, "discriminator")
