"""The gate's paired test: when the baseline keeps its checkpoint, score both side by side.

``ganeval baseline --keep-checkpoint`` records the baseline checkpoint's path. While that file is
readable and unchanged (same sha256), :func:`ganeval.gate.run_gate` calls :func:`paired_gate`:
baseline and candidate are scored with the same latent rows and reference rows, and one joint
bootstrap gives the interval of ``delta = candidate - baseline`` at the baseline's level (0.99 by
default). **Rule** (lower-is-better metrics): fail when the whole interval of delta lies above the
tolerance ``t`` (``lo > t``); higher-is-better: when it lies below ``-t``. Otherwise (no kept
checkpoint, a missing or changed file, a metric without a paired decomposition) it returns None
and the gate uses the interval test, with a warning saying why.

The paired interval of a difference is far narrower than two independent intervals (the shared
noise cancels; ``benchmarks/compare.py`` measures it), so the paired gate catches smaller
regressions; an unchanged checkpoint gives ``delta = 0`` exactly and always passes.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from pathlib import Path
from typing import Any

from ..errors import GanevalError
from ..options import LoadOptions
from .stats import pairable

# Keywords of run_gate's **kwargs that compare_models takes (the rest concern evaluate only): the
# generator-loading options (one list, ganeval.options.LoadOptions) and sampling's.
_PASS = ("device", "batch_size", "extractor_options", "labels", *LoadOptions.GENERATOR_FIELDS)


@dataclasses.dataclass(frozen=True)
class PairedOutcome:
    """The paired test's verdict in plain numbers (the gate turns it into its result; no import of
    :mod:`ganeval.gate` here, which imports this module).

    Attributes:
        baseline, candidate: ``(value, low, high)`` of each model, rescored side by side.
        passed, threshold, tolerance, direction, rule: the decision, as :class:`ganeval.gate.Decision`.
        n_samples: samples per model.
        paired: the difference's numbers (delta, its interval, p-value, level, replicates, notes).
        wall_time_s: seconds since the gate started.
    """

    baseline: tuple[float, float, float]
    candidate: tuple[float, float, float]
    passed: bool
    threshold: float
    tolerance: float
    direction: str
    rule: str
    n_samples: int
    paired: dict[str, Any]
    wall_time_s: float


def _fallback(why: str) -> None:
    warnings.warn(f"paired gate not used: {why}; falling back to the interval test", stacklevel=3)


def paired_gate(base: Any, checkpoint: Any, dataset: Any, *, seed: int, features: str | None, t0: float,
                max_increase: float | None = None, max_rel_increase: float | None = None,
                **kwargs: Any) -> PairedOutcome | None:
    """The paired decision (:func:`ganeval.gate.run_gate` makes it its ``GateResult``), or None to fall back.

    Raises:
        GanevalError: both tolerances, a negative tolerance, or an error scoring the candidate.
    """
    from ..checkpoints import load_generator
    from ..registry import METRICS, direction_of
    from .engine import compare_models

    if not base.checkpoint:
        return None
    if max_increase is not None and max_rel_increase is not None:
        raise GanevalError("Pass either --max-increase or --max-rel-increase, not both.")
    for name, v in (("--max-increase", max_increase), ("--max-rel-increase", max_rel_increase)):
        if v is not None and v < 0:
            raise GanevalError(f"{name} must be >= 0, got {v}.")
    metric = base.metric
    direc = direction_of(metric)
    if not pairable(metric) or direc is None:
        _fallback(f"{metric} has no paired decomposition")
        return None
    kw = {k: v for k, v in kwargs.items() if k in _PASS and v is not None}
    gen_kw = {k: v for k, v in kw.items() if k not in ("device", "batch_size", "extractor_options", "labels")}
    path = Path(base.checkpoint)
    try:
        base_gen = load_generator(path, device=kw.get("device", "auto"), **gen_kw)
    except GanevalError as exc:
        _fallback(f"the baseline checkpoint {path} is not readable ({exc})")
        return None
    if base.sha256 and base_gen.sha256 and base_gen.sha256 != base.sha256:
        _fallback(f"the baseline checkpoint {path} changed since the baseline was made (sha256 differs)")
        return None
    opts = dict(base.options)
    m = dict(opts.get(metric) or {})
    n_boot, conf = int(m.get("bootstrap", 200)), float(m.get("confidence", 0.99))
    _, comp = compare_models({"baseline": base_gen, "candidate": checkpoint}, dataset, metrics=[metric],
                             n_samples=base.n_samples, seed=seed, features=features, n_bootstrap=n_boot,
                             confidence=conf, options=opts, return_comparison=True, **kw)
    s = comp.summary(metric, METRICS[metric].primary)
    _, _, delta, lo, hi, p, _ = s.pairs[0]
    if max_increase is not None:
        tol, what = float(max_increase), " (--max-increase)"
    elif max_rel_increase is not None:
        tol, what = float(max_rel_increase) * abs(float(s.values[0])), f" ({max_rel_increase:g} x |baseline value|)"
    else:
        tol, what = 0.0, ""
    lvl = f"{100 * conf:g}%"
    head = (f"paired test (same latent and reference rows, {n_boot} joint bootstrap replicates): "
            f"delta = candidate - baseline = {delta:+.6g}, {lvl} interval [{lo:+.6g}, {hi:+.6g}], p = {p:.3g}; ")
    if direc == "lower":
        passed = not lo > tol
        rule = head + f"fail if the interval's lower end {lo:.6g} > tolerance {tol:.6g}{what}"
        threshold = tol
    else:
        passed = not hi < -tol
        rule = head + f"fail if the interval's upper end {hi:.6g} < -tolerance {-tol:.6g}{what}"
        threshold = -tol
    paired = {"delta": delta, "ci_low": lo, "ci_high": hi, "p_value": p, "confidence": conf, "n_bootstrap": n_boot,
              "baseline_checkpoint": str(path), "notes": comp.notes}
    return PairedOutcome((float(s.values[0]), float(s.ci_low[0]), float(s.ci_high[0])),
                         (float(s.values[1]), float(s.ci_low[1]), float(s.ci_high[1])),
                         passed, threshold, tol, direc, rule, int(comp.n_samples), paired,
                         round(time.perf_counter() - t0, 3))
