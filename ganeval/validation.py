"""Checks on user-supplied arrays and numbers: the one place public functions validate their inputs.

Every check raises :class:`~ganeval.errors.GanevalError` naming the argument and quoting what was
received (its shape, dtype or value), as scikit-learn does, so a metric's error says which input
to fix. A leaf module: it imports nothing of ganeval but the error type.

* :func:`as_tensor`: any numeric array -> a finite tensor of at least ``min_rows`` rows (checked
  without a temporary the size of the array);
* :func:`as_matrix`: the same, flattened to (N, D) (images become vectors);
* :func:`as_points`: (N, D) points for the distance kernels, float64 kept, tensors left on their
  device;
* :func:`features_matrix`: (N, D) features on the CPU for the feature-space metrics, float64 kept;
* :func:`same_dim`: two matrices from the same space;
* :func:`check_int`, :func:`check_positive`: integer and positive-number arguments.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .errors import GanevalError

_INT_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool)


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
    if not (t.is_floating_point() or t.dtype in _INT_DTYPES):
        raise GanevalError(f"`{name}` must be numeric, got dtype {t.dtype}.")
    if t.ndim == 0:
        raise GanevalError(f"`{name}` must be an array of rows, got a scalar.")
    if ndim is not None and t.ndim != ndim:
        raise GanevalError(f"`{name}` must have {ndim} dimensions, got shape {tuple(t.shape)}.")
    if t.shape[0] < min_rows:
        raise GanevalError(f"`{name}` needs at least {min_rows} rows, got {t.shape[0]} (shape {tuple(t.shape)}).")
    t = t.to(dtype) if t.dtype != dtype else t
    bad = _nonfinite_rows(t)
    if bad:
        raise GanevalError(f"`{name}` contains NaN or Inf in {bad} of {t.shape[0]} rows; remove or fix them.")
    return t


_CHECK_BLOCK = 1 << 22  # elements per block of the element-wise finiteness check


def _nonfinite_rows(t: torch.Tensor) -> int:
    """Rows of a floating ``t`` holding NaN or Inf, with no temporary the size of ``t``.

    A sum is NaN or Inf when any element is, and costs no temporary (``isfinite`` over the whole
    array costs about 1.75 copies of it in float32); only a non-finite sum (bad values, or an
    overflow) is followed by the element-wise check, in blocks of rows.
    """
    if t.numel() == 0 or math.isfinite(float(t.sum())):
        return 0
    step = max(1, _CHECK_BLOCK // t[0].numel())
    blocks = (t[s:s + step] for s in range(0, t.shape[0], step))
    return sum(int((~torch.isfinite(b)).reshape(b.shape[0], -1).any(1).sum()) for b in blocks)


def as_matrix(x: Any, name: str, *, min_rows: int = 2, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Validate an (N, ...) array and flatten it to (N, D) (images become vectors).

    Raises:
        GanevalError: as :func:`as_tensor`.
    """
    t = as_tensor(x, name, min_rows=min_rows, dtype=dtype)
    return t.reshape(t.shape[0], -1) if t.ndim != 2 else t


def as_points(x: Any, name: str, min_rows: int = 1) -> torch.Tensor:
    """Validate an (N, ...) array of points and flatten it to (N, D); float64 stays float64, the rest
    becomes float32; tensors stay on their device.

    Raises:
        GanevalError: not numeric, fewer than ``min_rows`` rows, NaN / Inf, or D = 0 (names ``name``).
    """
    if isinstance(x, torch.Tensor) and x.dtype in (torch.float32, torch.float64):
        dtype = x.dtype
    elif isinstance(x, np.ndarray) and x.dtype == np.float64:
        dtype = torch.float64
    else:
        dtype = torch.float32
    t = as_matrix(x, name, min_rows=min_rows, dtype=dtype)
    if t.shape[1] == 0:
        raise GanevalError(f"`{name}` has rows with no values (shape {tuple(t.shape)}); pass (N, D) with D >= 1.")
    return t


def features_matrix(x: Any, name: str, min_rows: int = 2) -> torch.Tensor:
    """Validate (N, D) features on the CPU, keeping float64 input in float64 (float32 otherwise).

    Raises:
        GanevalError: as :func:`as_tensor`.
    """
    if isinstance(x, torch.Tensor):
        wide = x.dtype == torch.float64
    else:
        x = np.asarray(x) if not isinstance(x, np.ndarray) else x
        wide = x.dtype != np.float32 and x.dtype.kind in "fiu"
    return as_matrix(x, name, min_rows=min_rows, dtype=torch.float64 if wide else torch.float32).cpu()


def same_dim(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Raise when two (N, D) matrices disagree on D.

    Raises:
        GanevalError: the feature counts differ.
    """
    if a.shape[1] != b.shape[1]:
        raise GanevalError(
            f"`{name_a}` has {a.shape[1]} features per row but `{name_b}` has {b.shape[1]}: "
            "both must come from the same space (same data or the same feature extractor)."
        )


def check_int(value: Any, name: str, least: int) -> int:
    """An integer argument (not a bool) of at least ``least``, as a Python int.

    Raises:
        GanevalError: not an integer, or below ``least``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < least:
        raise GanevalError(f"`{name}` must be an integer >= {least}, got {value!r}.")
    return int(value)


SEED_LIMIT = 2**32


def check_seed(value: Any, name: str = "seed") -> int:
    """A seed in [0, 2**32), as a Python int (larger seeds overflow the derived per-block seeds).

    Raises:
        GanevalError: not an integer, or outside the range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= int(value) < SEED_LIMIT:
        raise GanevalError(f"`{name}` (CLI --seed) must be an integer in [0, 2**32), got {value!r}.")
    return int(value)


def check_positive(value: Any, name: str) -> float:
    """A finite number > 0 (not a bool), as a float.

    Raises:
        GanevalError: not a number, not finite, or not positive.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not math.isfinite(float(value)) \
            or float(value) <= 0:
        raise GanevalError(f"`{name}` must be a positive number, got {value!r}.")
    return float(value)


__all__ = ["as_matrix", "as_points", "as_tensor", "check_int", "check_positive", "check_seed", "features_matrix", "same_dim"]
