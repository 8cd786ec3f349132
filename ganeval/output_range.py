"""Output ranges: the caller's ``--output-range`` / ``--latent-range``, and the check before scoring.

A generator ending in ``tanh`` produces images in [-1, 1]; reference images are in [0, 1]. Scored
as they are, such samples give nonsense (an FID in the thousands, "2 of 10 classes") and nothing
says why. So before any metric runs, :func:`check_samples` compares the samples' values with the
reference data's range:

* **error** (the default; ``--no-range-check`` scores anyway) when the samples are mostly outside
  it: the bulk of the values (their 5 %-95 % quantile band) reaches :data:`ERROR_BULK` of the
  data's span beyond it, or at least :data:`ERROR_FRACTION` of the values lie outside. The message
  names the likely fix (``--output-range -1,1`` for [-1, 1] outputs, ``0,255`` for byte-scaled ones);
* **warning** for a milder overshoot (at least :data:`WARN_FRACTION` of the values, or
  :data:`WARN_SPAN` of the spread): printed on the terminal (:class:`RangeWarning`) and kept in
  the evaluation's ``provenance.notes``, which the report shows beside the numbers.

The check applies to image data only: mixtures and vectors have no fixed range, and a diverged
generator whose points fly off is a result to score, not a unit mistake.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass
from typing import Any

import torch

from .errors import GanevalError

# A unit mistake moves the bulk of the values: the 5-95% band of a [-1, 1] or [0, 255] generator lies far
# outside [0, 1] data. A network with a linear output trained on [0, 1] data overshoots at both ends
# (a quarter of its values may be slightly negative) while its bulk stays near the range: that is
# worth a warning, not a refusal.
ERROR_BULK = 0.25  # the 5-95% band reaches a quarter of the data's span outside it
ERROR_FRACTION = 0.4  # or (a centred [-1, 1] output: about half) 40% of the values lie outside
WARN_FRACTION = 0.01
WARN_SPAN = 0.05
TOLERANCE = 0.01  # of the data's range: round-off and slight overshoot count as inside
_QUANTILE_VALUES = 1 << 20  # values used for the quantiles (an even stride through the samples)


class RangeWarning(UserWarning):
    """Samples somewhat outside the reference data's range (scored, with a note)."""


def parse_range(value: Any, flag: str = "--output-range") -> tuple[float, float] | None:
    """``"-1,1"``, ``[-1, 1]`` or ``(0, 255)`` as ``(lo, hi)``; None stays None.

    Raises:
        GanevalError: not two finite numbers with lo < hi.
    """
    if value is None:
        return None
    try:
        parts = [float(v) for v in (value.replace(" ", "").split(",") if isinstance(value, str) else value)]
    except (TypeError, ValueError):
        parts = []
    if len(parts) != 2 or not all(math.isfinite(p) for p in parts) or not parts[0] < parts[1]:
        raise GanevalError(f"{flag} {value!r}: expected LO,HI with LO < HI, e.g. {flag} -1,1.")
    return parts[0], parts[1]


def with_ranges(gen: Any, output_range: Any = None, latent_range: Any = None) -> Any:
    """``gen`` (a :class:`ganeval.Generator`) with the caller's ranges over its file's.

    ``output_range`` maps the network's outputs (or fixed samples) linearly from [lo, hi] onto
    [0, 1]; ``latent_range`` sets the bounds of a uniform latent.

    Raises:
        GanevalError: a malformed range, or a latent range for a normal latent / fixed samples.
    """
    out_r = parse_range(output_range, "--output-range")
    lat_r = parse_range(latent_range, "--latent-range")
    changes: dict[str, Any] = {}
    if lat_r is not None:
        if gen.latent is None:
            raise GanevalError(f"{gen.name}: fixed samples have no latent, so --latent-range does not apply; drop it.")
        if gen.latent.distribution != "uniform":
            raise GanevalError(f"{gen.name}: --latent-range applies to a uniform latent, but its latent is "
                               f"{gen.latent.distribution}; add --latent-dist uniform.")
        changes["latent"] = dataclasses.replace(gen.latent, low=lat_r[0], high=lat_r[1])
    if out_r is not None:
        if gen.samples is not None:  # fixed samples are mapped once, here
            lo, hi = out_r
            changes["samples"] = (gen.samples - lo) / (hi - lo)
            changes["meta"] = {**gen.meta, "output_range": [lo, hi]}
        else:
            changes["output_range"] = out_r
    return dataclasses.replace(gen, **changes) if changes else gen


@dataclass(frozen=True)
class RangeCheck:
    """How the samples' values sit in the reference data's range.

    Attributes:
        data_range: (min, max) of the reference training split.
        sample_range: the samples' 0.1 % and 99.9 % quantiles.
        fraction_outside: share of all sample values outside the data's range (plus tolerance).
        span_outside: share of the samples' quantile interval that lies outside it.
        verdict: "ok", "warning" or "error".
        message: what is wrong and the fix (None when ok).
    """

    data_range: tuple[float, float]
    sample_range: tuple[float, float]
    fraction_outside: float
    span_outside: float
    verdict: str
    message: str | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _quantiles(x: torch.Tensor, qs: tuple[float, ...] = (0.001, 0.999)) -> tuple[float, ...]:
    flat = x.reshape(-1)
    if flat.numel() > _QUANTILE_VALUES:  # an even stride keeps it deterministic and cheap
        flat = flat[:: math.ceil(flat.numel() / _QUANTILE_VALUES)]
    q = torch.quantile(flat.double(), torch.tensor(qs, dtype=torch.float64))
    return tuple(float(v) for v in q)


def suggest_fix(s_lo: float, s_hi: float, d_lo: float, d_hi: float, mapped_from: tuple[float, float] | None) -> str:
    """The likely flag for samples spanning [s_lo, s_hi] against data in [d_lo, d_hi].

    ``mapped_from`` is the output range already applied (then the raw outputs are quoted).
    """
    if mapped_from is not None:
        lo, hi = mapped_from
        raw_lo, raw_hi = s_lo * (hi - lo) + lo, s_hi * (hi - lo) + lo
        return (f"its raw outputs span [{raw_lo:.3g}, {raw_hi:.3g}], not the --output-range {lo:g},{hi:g} given "
                "(or recorded in the checkpoint): pass the range the network really produces")
    span = d_hi - d_lo
    if s_lo >= -1.05 * span and s_hi <= 1.05 * span and s_lo < d_lo:
        return "a tanh generator's [-1, 1] output? pass --output-range -1,1"
    if s_lo >= d_lo - 0.05 * span and 1.5 * span < s_hi <= 255.5 * span:
        return "outputs in [0, 255]? pass --output-range 0,255"
    return (f"pass --output-range LO,HI with the range the network produces (its samples span "
            f"[{s_lo:.3g}, {s_hi:.3g}])")


def _upper_first(s: str) -> str:
    return s[:1].upper() + s[1:]


def check_samples(samples: torch.Tensor, dataset: Any, *, source: str,
                  output_range: tuple[float, float] | None = None) -> RangeCheck | None:
    """Compare the samples' values with the reference data's range (image data only).

    Args:
        samples: (N, C, H, W) samples as they will be scored (after any output-range mapping).
        dataset: the reference :class:`ganeval.Dataset`.
        source: the checkpoint's name, for messages.
        output_range: the range the samples were mapped from, if any (changes the advice).

    Returns:
        A :class:`RangeCheck`, or None for mixture / vector data (no fixed range).
    """
    if getattr(dataset, "kind", None) != "images" or samples.numel() == 0:
        return None
    ref = dataset.train
    d_lo, d_hi = float(ref.min()), float(ref.max())
    span = max(d_hi - d_lo, 1e-12)
    lo, hi = d_lo - TOLERANCE * span, d_hi + TOLERANCE * span
    frac = float(((samples < lo) | (samples > hi)).double().mean())
    s_lo, s_hi = _quantiles(samples)
    b_lo, b_hi = _quantiles(samples, (0.05, 0.95))
    bulk_out = max(d_lo - b_lo, b_hi - d_hi, 0.0) / span
    width = s_hi - s_lo
    if width <= 0:
        span_out = 0.0 if lo <= s_lo <= hi else 1.0
    else:
        span_out = (max(0.0, lo - s_lo) + max(0.0, s_hi - hi)) / width
        span_out = min(span_out, 1.0)
    where = (f"{frac:.0%} of the sample values lie outside the reference data's range [{d_lo:.3g}, {d_hi:.3g}] "
             f"(samples span [{s_lo:.3g}, {s_hi:.3g}])")
    if bulk_out >= ERROR_BULK or frac >= ERROR_FRACTION:
        verdict = "error"
        msg = (f"{source}: {where}; scored like this the numbers are meaningless. "
               f"{_upper_first(suggest_fix(s_lo, s_hi, d_lo, d_hi, output_range))} (or --no-range-check to score anyway).")
    elif frac >= WARN_FRACTION or span_out >= WARN_SPAN:
        verdict = "warning"
        msg = (f"{source}: {where}; the numbers may be off ({suggest_fix(s_lo, s_hi, d_lo, d_hi, output_range)}, "
               "if that is not intended).")
    else:
        verdict, msg = "ok", None
    return RangeCheck((d_lo, d_hi), (s_lo, s_hi), frac, span_out, verdict, msg)


def enforce(samples: torch.Tensor, dataset: Any, *, source: str, notes: list[str], enabled: bool = True,
            output_range: tuple[float, float] | None = None) -> RangeCheck | None:
    """Run :func:`check_samples` before scoring: raise on an error, warn and note a mismatch.

    With ``enabled=False`` (``--no-range-check``) an error becomes a note too, so the report still
    says the samples were outside the data's range.

    Raises:
        GanevalError: the samples are mostly outside the data's range (names the fix).
    """
    check = check_samples(samples, dataset, source=source, output_range=output_range)
    if check is None or check.verdict == "ok":
        return check
    if check.verdict == "error" and enabled:
        raise GanevalError(check.message)
    note = f"output range: {check.message}" + (" Scored anyway (--no-range-check)." if check.verdict == "error" else "")
    notes.append(note)
    warnings.warn(note, RangeWarning, stacklevel=3)
    return check
