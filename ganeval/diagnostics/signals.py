"""Signals read off a training trajectory: each a number, a threshold and a plain sentence.

A signal *fires* when its value crosses its threshold in the direction that points to a failure
(or, for coverage, to health). ``strength`` in [0, 1] says how far past (or short of) the
threshold the value is, scaled by a spread typical for that signal; the verdict's confidence is
built from the strengths of the signals that decided it.

Windows: the *second half* is every point with step >= (first + last) / 2; the *end* is the last
20% of the points (at least one). Summaries over windows use medians, so one noisy log line does
not flip a verdict.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..history import LOSS_COLUMNS, TRAINING_COLUMNS
from ..registry import direction_of
from ..results import Result


@dataclass(frozen=True)
class Thresholds:
    """The thresholds of the verdict rules (see docs/diagnostics.md for where each comes from).

    Attributes:
        min_points: trajectory points needed for any verdict.
        healthy_coverage: fraction of modes covered at the end for ``healthy`` (7/8 ring, 22/25 grid
            are the presets' goals; 0.75 leaves a margin for sampling noise).
        hop_distinct: distinct dominant modes over the second half that count as hopping (issue 6).
        top2_share: median share of the two most visited modes over the second half for a
            concentrated generator (issue 6).
        d_swing: standard deviation of D(x) or D(G(z)) over the second half above which D's outputs
            swing rather than settle.
        d_wins_gap: median D(x) - D(G(z)) at the end above which D wins outright.
        d_certain: median D(G(z)) at the end below which D rejects the samples with near-certainty,
            which saturates the minimax generator loss (its gradient scales with D(G(z))).
        grad_collapse: end / peak of G's gradient norm below which G's gradient has collapsed.
        loss_blowup: |loss| (nats) above which a run has diverged.
        end_fraction: the share of points forming the end window.
    """

    min_points: int = 4
    healthy_coverage: float = 0.75
    hop_distinct: int = 3
    top2_share: float = 0.5
    d_swing: float = 0.02
    d_wins_gap: float = 0.8
    d_certain: float = 0.01
    grad_collapse: float = 0.01
    loss_blowup: float = 100.0
    end_fraction: float = 0.2


@dataclass(frozen=True)
class Signal(Result):
    """One piece of evidence.

    Attributes:
        name: identifier (``coverage_end``, ``dominant_mode_hops``, ...).
        value: the measured value.
        threshold: the value it is compared with (None for context-only signals).
        fired: whether the value is past the threshold (None for context-only signals).
        points_to: the verdict the signal supports when it fires.
        strength: how clearly it fires or not, in [0, 1].
        sentence: the evidence in plain words.
        source: the table it was read from ("history" or "checkpoints").
    """

    name: str
    value: float | int | None
    threshold: float | int | None
    fired: bool | None
    points_to: str | None
    strength: float
    sentence: str
    source: str = ""


@dataclass
class Tables:
    """The trajectory tables of a run: the logged history and/or the per-checkpoint scores."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def series(self, col: str, min_points: int = 1) -> tuple[np.ndarray, np.ndarray, str] | None:
        """(steps, values, source) of ``col`` from the first table holding enough finite values.

        The history comes first: it is logged more often than checkpoints are written.
        """
        for name, df in self.tables.items():
            if col in df.columns:
                sub = df[["step", col]].dropna()
                if len(sub) >= min_points:
                    return sub["step"].to_numpy(float), sub[col].to_numpy(float), name
        return None

    def n_points(self) -> int:
        return max((len(df) for df in self.tables.values()), default=0)


def _clip01(x: float) -> float:
    return float(min(1.0, max(0.0, x))) if math.isfinite(x) else 1.0


def _windows(steps: np.ndarray, end_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of the second half and of the end window."""
    half = steps >= steps[0] + (steps[-1] - steps[0]) / 2
    k = max(1, int(round(end_fraction * len(steps))))
    end = np.zeros(len(steps), bool)
    end[-k:] = True
    return half, end


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def oscillation_period(steps: np.ndarray, values: np.ndarray, min_peak: float = 0.3) -> tuple[float | None, float]:
    """Dominant period (in steps) of a series from its autocorrelation, and the height of that peak.

    The series is detrended (least-squares line) first. The period is the lag of the highest
    autocorrelation after its first zero crossing, accepted when that peak is at least ``min_peak``.
    Assumes roughly even logging (lags are converted with the median step spacing).
    """
    n = len(values)
    if n < 8:
        return None, 0.0
    x = values - np.polyval(np.polyfit(steps, values, 1), steps)
    denom = float(x @ x)
    if denom <= 1e-18:
        return None, 0.0
    acf = np.correlate(x, x, "full")[n - 1:] / denom
    below = np.nonzero(acf < 0)[0]
    if len(below) == 0 or below[0] >= n // 2:
        return None, 0.0
    start = int(below[0])
    lag = start + int(np.argmax(acf[start:n // 2 + 1]))
    peak = float(acf[lag])
    if peak < min_peak or lag <= start:
        return None, peak
    return float(lag * np.median(np.diff(steps))), peak


def compute_signals(t: Tables, n_modes: int | None, th: Thresholds, metrics: tuple[str, ...] = (),
                    unit: str = "modes") -> tuple[dict[str, Signal], list[str]]:
    """Every signal the tables allow, by name, and notes on the ones they do not.

    Args:
        t: the trajectory tables.
        n_modes: modes (or classes) of the data, for coverage fractions (None: unknown).
        th: thresholds.
        metrics: per-checkpoint metric columns to report as trends (a ``fid`` column always is).
        unit: what the coverage counts, for the sentences: "modes", "classes" or "bins".
    """
    sig: dict[str, Signal] = {}
    notes: list[str] = []
    _divergence(t, th, sig)
    _coverage(t, n_modes, th, sig, notes, unit)
    _discriminator(t, th, sig, notes)
    _gradients(t, th, sig, notes)
    _losses(t, th, sig)
    _metric_trends(t, sig, tuple(dict.fromkeys(("fid",) + tuple(metrics))))
    return sig, notes


def _divergence(t: Tables, th: Thresholds, sig: dict[str, Signal]) -> None:
    bad, blow, where, has_loss = 0, 0.0, "", False
    for name, df in t.tables.items():
        cols = [c for c in TRAINING_COLUMNS if c in df.columns]
        if not cols:
            continue
        vals = df[cols].to_numpy(float)
        nonfinite = ~np.isfinite(vals)
        # A NaN in every column of a row is a missing log line; a NaN among finite values is a blow-up.
        partial = nonfinite & ~nonfinite.all(1, keepdims=True)
        inf = np.isinf(vals)
        n_bad = int((partial | inf).sum())
        if n_bad and not bad:
            first = df["step"].to_numpy()[(partial | inf).any(1)][0]
            where = f" (first at step {int(first)}, in the {name})"
        bad += n_bad
        losses = [c for c in LOSS_COLUMNS if c in df.columns]
        if losses:
            has_loss = True
            finite = df[losses].to_numpy(float)
            finite = np.abs(finite[np.isfinite(finite)])
            if finite.size:
                blow = max(blow, float(finite.max()))
        if name == "history" and cols and len(df) and nonfinite[-1].all() and not nonfinite.all():
            bad += 1
            where = where or f" (the last logged row, step {int(df['step'].iloc[-1])}, is all NaN)"
    if not any(c in df.columns for df in t.tables.values() for c in TRAINING_COLUMNS):
        return
    sig["non_finite"] = Signal(
        "non_finite", bad, 0, bad > 0, "diverged", 1.0 if bad else 0.0,
        f"{bad} NaN/Inf values in the losses, D outputs or gradient norms{where}." if bad
        else "No NaN or Inf in the losses, D outputs or gradient norms.")
    if has_loss:
        sig["loss_blowup"] = Signal(
            "loss_blowup", blow, th.loss_blowup, blow > th.loss_blowup, "diverged",
            _clip01(math.log10(max(blow, 1e-12) / th.loss_blowup)) if blow > th.loss_blowup else 0.0,
            f"The largest |loss| is {_fmt(blow)} nats " + ("(a blow-up: above " if blow > th.loss_blowup
                                                           else "(below the blow-up level ") + f"{_fmt(th.loss_blowup)}).")


def _coverage(t: Tables, n_modes: int | None, th: Thresholds, sig: dict[str, Signal], notes: list[str],
              unit: str = "modes") -> None:
    one = {"modes": "mode", "classes": "class", "bins": "bin"}.get(unit, unit)
    cov = t.series("modes_covered", th.min_points)
    if cov is None:
        notes.append("no mode/class coverage trajectory (columns modes_covered, dominant_mode, top2_share): "
                     "mode collapse cannot be seen")
    elif n_modes is None:
        notes.append("the number of modes is unknown (pass data=... or keep config.json's 'data'): "
                     "coverage cannot be turned into a fraction")
    else:
        steps, v, src = cov
        half, end = _windows(steps, th.end_fraction)
        end_cov = float(np.median(v[end]))
        frac = end_cov / n_modes
        ok = frac >= th.healthy_coverage
        scale = max(th.healthy_coverage, 1 - th.healthy_coverage)
        sig["coverage_end"] = Signal(
            "coverage_end", frac, th.healthy_coverage, not ok, "collapsed",
            _clip01(abs(frac - th.healthy_coverage) / scale * 2),
            f"At the end the generator covers {end_cov:.3g}/{n_modes} {unit} ({frac:.0%}; median over the last "
            f"{int(end.sum())} points); a healthy run covers at least {th.healthy_coverage:.0%}.", src)
        peak_i = int(np.argmax(v))
        sig["coverage_peak"] = Signal(
            "coverage_peak", float(v[peak_i] / n_modes), None, None, None, 0.0,
            f"Coverage peaked at {v[peak_i]:.3g}/{n_modes} {unit} at step {int(steps[peak_i])}"
            + (" and was lost afterwards." if v[peak_i] / n_modes >= th.healthy_coverage and not ok else "."), src)
    hq = t.series("hq_fraction", th.min_points)
    if hq is not None:
        steps, v, src = hq
        _, end = _windows(steps, th.end_fraction)
        sig["hq_fraction_end"] = Signal(
            "hq_fraction_end", float(np.median(v[end])), None, None, None, 0.0,
            f"{np.median(v[end]):.0%} of samples " + ("lie within 3 std of a mode" if unit == "modes" else
                                                       "are high quality (as the coverage metric defines it)")
            + " at the end.", src)
    dom = t.series("dominant_mode", th.min_points)
    if dom is not None:
        steps, v, src = dom
        half, _ = _windows(steps, th.end_fraction)
        vals = v[half].astype(int)
        distinct = len(set(vals.tolist()))
        changes = int((np.diff(vals) != 0).sum())
        sig["dominant_mode_hops"] = Signal(
            "dominant_mode_hops", distinct, th.hop_distinct, distinct >= th.hop_distinct, "oscillating",
            _clip01(abs(distinct - th.hop_distinct + 0.5) / th.hop_distinct),
            f"Over the second half ({len(vals)} points) the dominant {one} took {distinct} "
            f"value{'s' if distinct != 1 else ''} and changed {changes} time{'s' if changes != 1 else ''}"
            + (" (it keeps moving)." if distinct >= th.hop_distinct else " (it stays put)."), src)
    top2 = t.series("top2_share", th.min_points)
    if top2 is not None:
        steps, v, src = top2
        half, _ = _windows(steps, th.end_fraction)
        share = float(np.median(v[half]))
        sig["top2_share"] = Signal(
            "top2_share", share, th.top2_share, share >= th.top2_share, "concentrated",
            _clip01(abs(share - th.top2_share) / 0.25),
            f"Over the second half the two most visited {unit} hold {share:.0%} of samples (median); "
            + (f"the generator concentrates on one or two {unit} at a time." if share >= th.top2_share
               else f"samples spread over many {unit}."), src)
        hops = sig.get("dominant_mode_hops")
        if hops is not None and hops.fired and share < th.top2_share:
            # With samples spread evenly the most visited mode is a coin toss: its moves are noise.
            sig["dominant_mode_hops"] = dataclasses.replace(
                hops, fired=False, strength=0.0,
                sentence=hops.sentence[:-1] + f", but with samples spread over many {unit} that is noise, not hopping.")


def _discriminator(t: Tables, th: Thresholds, sig: dict[str, Signal], notes: list[str]) -> None:
    real, fake = t.series("d_real", th.min_points), t.series("d_fake", th.min_points)
    if real is None or fake is None:
        notes.append("no D(x) / D(G(z)) trajectory (columns d_real, d_fake): D's behaviour is not judged")
        return
    (s_r, v_r, src), (s_f, v_f, _) = real, fake
    half_r, end_r = _windows(s_r, th.end_fraction)
    half_f, end_f = _windows(s_f, th.end_fraction)
    swing = max(float(np.std(v_r[half_r])), float(np.std(v_f[half_f])))
    period, peak = oscillation_period(s_r[half_r], v_r[half_r])
    sig["d_swing"] = Signal(
        "d_swing", swing, th.d_swing, swing >= th.d_swing, "oscillating", _clip01(abs(swing - th.d_swing) / th.d_swing),
        f"Over the second half D's mean outputs vary with std {swing:.3f} "
        + ("(they swing rather than settle" if swing >= th.d_swing else "(they settle")
        + (f"; period about {period:.0f} steps, autocorrelation {peak:.2f})." if period else ")."), src)
    if len(s_r) == len(s_f) and np.array_equal(s_r, s_f):
        gap_series = v_r - v_f
        steps = s_r
    else:
        steps = s_r
        gap_series = v_r - np.interp(s_r, s_f, v_f)
    half, end = _windows(steps, th.end_fraction)
    gap = float(np.median(gap_series[end]))
    slope = float(np.polyfit(steps[half], gap_series[half], 1)[0] * (steps[-1] - steps[0]) / 2) \
        if half.sum() >= 2 and steps[-1] > steps[0] else 0.0
    trend = "widening" if slope > 0.05 else "narrowing" if slope < -0.05 else "flat"
    sig["d_gap"] = Signal(
        "d_gap", gap, th.d_wins_gap, gap >= th.d_wins_gap, "vanishing",
        _clip01(abs(gap - th.d_wins_gap) / 0.2),
        f"At the end D(x) - D(G(z)) = {gap:.2f} (D(x) {np.median(v_r[end_r]):.2f}, D(G(z)) {np.median(v_f[end_f]):.2f}); "
        f"over the second half the gap is {trend} ({slope:+.2f}). "
        + ("D wins outright." if gap >= th.d_wins_gap else "D does not win outright."), src)
    fake_end = float(np.median(v_f[end_f]))
    certain = fake_end < th.d_certain
    sig["d_certain"] = Signal(
        "d_certain", fake_end, th.d_certain, certain, "vanishing",
        _clip01(abs(math.log10(max(fake_end, 1e-12) / th.d_certain)) / 2),
        f"At the end D(G(z)) = {fake_end:.2g}: " + (
            "D rejects the samples with near-certainty, which saturates the minimax loss log(1 - D(G(z))) "
            "(its gradient scales with D(G(z)))." if certain else "D is not certain about the samples."), src)


def _gradients(t: Tables, th: Thresholds, sig: dict[str, Signal], notes: list[str]) -> None:
    g = t.series("grad_norm_g", th.min_points)
    if g is None:
        notes.append("no generator gradient-norm trajectory (column grad_norm_g): vanishing gradients are not judged")
        return
    steps, v, src = g
    v = np.where(np.isfinite(v), v, np.nan)
    # Peak of a rolling median, so one spike does not set the reference.
    peak = float(np.nanmax(pd.Series(v).rolling(3, center=True, min_periods=1).median().to_numpy()))
    _, end = _windows(steps, th.end_fraction)
    end_v = float(np.nanmedian(v[end]))
    ratio = end_v / peak if peak > 0 else 0.0
    fired = ratio < th.grad_collapse
    sig["grad_g_collapse"] = Signal(
        "grad_g_collapse", ratio, th.grad_collapse, fired, "vanishing",
        _clip01(abs(math.log10(max(ratio, 1e-12) / th.grad_collapse)) / 2),
        f"G's gradient norm ends at {_fmt(end_v)}, {ratio:.2%} of its peak {_fmt(peak)}"
        + (" (it has collapsed)." if fired else "."), src)


def _losses(t: Tables, th: Thresholds, sig: dict[str, Signal]) -> None:
    for col in LOSS_COLUMNS:
        s = t.series(col, th.min_points)
        if s is None:
            continue
        steps, v, src = s
        ok = np.isfinite(v)
        steps, v = steps[ok], v[ok]
        if len(v) < th.min_points:
            continue
        half, _ = _windows(steps, th.end_fraction)
        amp = float(np.std(v[half]))
        period, peak = oscillation_period(steps[half], v[half])
        sig[f"{col}_oscillation"] = Signal(
            f"{col}_oscillation", amp, None, None, None, 0.0,
            f"{col} over the second half: mean {np.mean(v[half]):.3g}, std {amp:.3g}"
            + (f", period about {period:.0f} steps (autocorrelation {peak:.2f})." if period else ", no clear period."),
            src)


def _metric_trends(t: Tables, sig: dict[str, Signal], names: tuple[str, ...]) -> None:
    """First, last and best value of per-checkpoint metrics (best by the metric's registered direction)."""
    for name in names:
        s = t.series(name, 2)
        if s is None:
            continue
        steps, v, src = s
        line = f"{name.upper()} went from {v[0]:.3g} (step {int(steps[0])}) to {v[-1]:.3g} (step {int(steps[-1])})"
        better = direction_of(name)
        if better is not None:
            best = int(np.argmin(v) if better == "lower" else np.argmax(v))
            line += f"; best {v[best]:.3g} at step {int(steps[best])}"
        sig[f"{name}_trend"] = Signal(f"{name}_trend", float(v[-1]), None, None, None, 0.0, line + ".", src)


def strengths(signals: dict[str, Signal], names: list[str]) -> list[float]:
    """Strengths of the named signals that exist."""
    return [signals[n].strength for n in names if n in signals]
