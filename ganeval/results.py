"""Result dataclasses and their serialisation; provenance.

Every metric returns a frozen dataclass deriving from :class:`Result`, which gives it
``to_dict()`` (JSON-ready: numpy/tensor values become lists and floats, NaN becomes None).
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import sys
from typing import Any

import numpy as np
import torch


def jsonable(value: Any) -> Any:
    """Convert numpy / torch / dataclass values into plain JSON types (NaN and Inf become None)."""
    if isinstance(value, Result):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()] if value.ndim else jsonable(value.item())
    if isinstance(value, (np.floating, float)):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


@dataclasses.dataclass(frozen=True)
class Result:
    """Base of every metric result.

    Subclasses are frozen dataclasses. Fields whose name starts with ``_`` or that are listed in
    ``_private`` are kept out of ``to_dict()`` (large per-sample arrays needed only for plots).
    """

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the public fields."""
        skip = set(getattr(self, "_private", ()))
        return {f.name: jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)
                if not f.name.startswith("_") and f.name not in skip}

    def scalars(self) -> dict[str, float | int | str | bool | None]:
        """The scalar public fields only (for flat rows and summary tables)."""
        out: dict[str, Any] = {}
        for k, v in self.to_dict().items():
            if v is None or isinstance(v, (int, float, str, bool)):
                out[k] = v
        return out


def fmt(v: Any) -> str:
    """Format a scalar for tables and captions: 4 significant digits, integers as they are, None as '-'."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.4g}"
    return str(v)


def environment() -> dict[str, str]:
    """Versions that decide the numbers: ganeval, torch, Python, platform."""
    from . import __version__

    return {
        "ganeval": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def dumps(obj: Any) -> str:
    """Serialise to pretty JSON (strict: no NaN)."""
    return json.dumps(jsonable(obj), indent=2, allow_nan=False)
