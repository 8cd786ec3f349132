"""Sample-size planning: how many samples resolve a difference of ``delta``?

Pilot evaluations at a few N (prefixes of one seeded draw: latent rows do not depend on N) give
the bootstrap spread ``s(N)`` of the metric (one model) or of the paired difference (two models).
The spread of a mean of N independent terms falls as ``1/sqrt(N)`` (the first-order, delta-method
part); what the generated samples do not control (the fixed reference rows) adds a floor. So
``s(N)^2 = a / N + b`` is fitted (non-negative least squares on relative errors), and

* N to *resolve* ``delta`` at the level: the interval half-width ``z s(N)`` equals ``delta``;
* N for 80% *power*: ``(z + z_power) s(N) = delta`` (a true difference ``delta`` is declared
  significant 80% of the time).

A metric that is quadratic near its minimum (FID of near-identical sets behaves like a chi-square)
has a second-order part falling as ``1/N`` that dominates at small N; its spread then falls faster
than ``1/sqrt(N)``. A third ``c / N^2`` term fitted to four noisy pilots soaked up noise and
invented floors in trials (ring8: it declared 1e-4 unreachable where N = 10,000 reaches it), so
the fit keeps two terms, the default pilots reach twice the data's default N, and the plan warns
when the free exponent strays from -1/2 (add larger ``--ns`` then).

For FID, the pilot values also give the bias ``FID(N) = FID_inf + c / N`` (Chong & Forsyth
2020) at the planned N. A free power law ``s ~ N^alpha`` is fitted beside, as a check of the
``alpha = -1/2`` law.
"""

from __future__ import annotations

import itertools
import math
import os
import tempfile
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import torch

from .._utils import resolve_device
from ..data import Dataset, load_dataset
from ..errors import GanevalError
from ..evaluate import _conform, default_n_samples
from .bootstrap import run_bootstrap
from .engine import _select_metrics, build_stats, load_models


@dataclass(frozen=True)
class SpreadFit:
    """``s(N)^2 = a / N + c / N^2 + b`` fitted to pilot spreads, and the free power law ``s = C N^alpha``."""

    a: float
    b: float
    alpha: float
    ns: tuple[int, ...]
    spreads: tuple[float, ...]
    c: float = 0.0

    def spread(self, n: Any) -> Any:
        n = np.asarray(n, dtype=np.float64)
        return np.sqrt(self.a / n + self.c / n ** 2 + self.b)

    def n_for(self, target: float) -> float:
        """Smallest N with ``s(N) <= target`` (inf when the floor ``sqrt(b)`` is above it)."""
        room = target ** 2 - self.b
        if room <= 0:
            return math.inf
        if self.c <= 0:
            return max(1.0, self.a / room) if self.a > 0 else 1.0
        u = (-self.a + math.sqrt(self.a ** 2 + 4 * self.c * room)) / (2 * self.c)  # c u^2 + a u = room, u = 1/N
        return max(1.0, 1.0 / u)


def fit_spread(ns: Any, spreads: Any) -> SpreadFit:
    """Fit ``s^2 = a/N + c/N^2 + b`` (a, b, c >= 0; relative least squares) and ``log s = alpha log N + const``.

    Raises:
        GanevalError: fewer than two distinct N, or non-positive spreads.
    """
    n = np.asarray(ns, dtype=np.float64)
    s = np.asarray(spreads, dtype=np.float64)
    if len(np.unique(n)) < 2 or n.shape != s.shape:
        raise GanevalError(f"Need spreads at two or more distinct N to fit, got N = {list(ns)}.")
    if not (np.isfinite(s).all() and (s > 0).all()):
        raise GanevalError(f"Pilot spreads must be positive and finite, got {list(spreads)}; the models may be "
                           "identical, or the metric constant at these N.")
    # Relative least squares, (a/N + c/N^2 + b) / s^2 ~ 1, with a, b, c >= 0: the best of the
    # unconstrained fits on every subset of the three terms whose coefficients come out >= 0
    # (an exact non-negative least squares for three unknowns).
    alpha = float(np.polyfit(np.log(n), np.log(s), 1)[0])
    cols = np.stack([1.0 / n, 1.0 / n ** 2, np.ones_like(n)], 1) / (s ** 2)[:, None]
    y = np.ones_like(n)
    best, best_err = np.zeros(3), np.inf
    for mask in itertools.product((0, 1), repeat=3):
        idx = [i for i in range(3) if mask[i]]
        if not idx or len(idx) > len(n) or mask[1]:  # the 1/N^2 term stays out (see the module docstring)
            continue
        sol = np.linalg.lstsq(cols[:, idx], y, rcond=None)[0]
        if (sol < 0).any():
            continue
        coef = np.zeros(3)
        coef[idx] = sol
        err = float(((cols @ coef - y) ** 2).sum())
        if not np.isfinite(best_err) or err < best_err * (1 - 1e-12):
            best, best_err = coef, err
    return SpreadFit(float(best[0]), float(best[2]), alpha, tuple(int(x) for x in n), tuple(float(x) for x in s),
                     c=float(best[1]))


@dataclass
class Plan:
    """The result of :func:`plan`: the pilot spreads, their fit, the N needed, FID's bias there."""

    models: list[str]
    metric: str
    field: str
    delta: float
    confidence: float
    power: float
    fit: SpreadFit
    values: dict[str, list[float]]          # pilot values per model, one per N
    n_resolve: float
    n_power: float
    bias: dict[str, float] = dc_field(default_factory=dict)   # FID bias c/N at n_resolve, per model (and the difference)
    notes: list[str] = dc_field(default_factory=list)

    @property
    def what(self) -> str:
        m = f"{self.metric}.{self.field}" if self.field != "value" else self.metric
        return f"{m} of {self.models[0]}" if len(self.models) == 1 else f"Δ{m} = {self.models[1]} - {self.models[0]}"

    def text(self) -> str:
        z = f"{100 * self.confidence:g}%"
        lines = [f"Plan for {self.what}, delta = {self.delta:g}",
                 f"  {'N':>8s} {'bootstrap spread':>17s} {'fit':>10s}"]
        for n, s in zip(self.fit.ns, self.fit.spreads):
            lines.append(f"  {n:8d} {s:17.5g} {float(self.fit.spread(n)):10.5g}")
        lines.append(f"  fit: spread^2 = {self.fit.a:.4g} / N + {self.fit.b:.4g}   "
                     f"(free power law: N^{self.fit.alpha:.3f})")

        def fmt(n: float) -> str:
            return "not reachable (the reference rows' floor is above the target; use more reference data)" \
                if not math.isfinite(n) else f"{math.ceil(n):,}"
        lines.append(f"  N to resolve {self.delta:g} at {z} (interval half-width = delta): {fmt(self.n_resolve)}")
        lines.append(f"  N for {100 * self.power:g}% power at {z}: {fmt(self.n_power)}")
        for k, v in self.bias.items():
            lines.append(f"  FID bias at that N ({k}): {v:+.4g}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        from ..results import jsonable

        return jsonable({"schema": "ganeval-plan/1", "models": self.models, "metric": self.metric, "field": self.field,
                         "delta": self.delta, "confidence": self.confidence, "power": self.power,
                         "fit": {"a": self.fit.a, "b": self.fit.b, "alpha": self.fit.alpha, "ns": self.fit.ns,
                                 "spreads": self.fit.spreads},
                         "values": self.values, "n_resolve": None if math.isinf(self.n_resolve) else self.n_resolve,
                         "n_power": None if math.isinf(self.n_power) else self.n_power, "bias": self.bias,
                         "notes": self.notes})

    def figure(self) -> Any:
        """A matplotlib Figure: pilot spreads, the fitted law, the target and the N needed (log-log)."""
        from matplotlib.figure import Figure
        fig = Figure(figsize=(6, 4), layout="tight")
        ax = fig.add_subplot()
        ns = np.asarray(self.fit.ns, dtype=np.float64)
        hi = max(ns.max(), self.n_resolve if math.isfinite(self.n_resolve) else 0,
                 self.n_power if math.isfinite(self.n_power) else 0) * 1.5
        grid = np.geomspace(ns.min() * 0.8, hi, 200)
        ax.loglog(ns, self.fit.spreads, "o", label="pilot bootstrap spread")
        ax.loglog(grid, self.fit.spread(grid), "-",
                  label=f"fit: {self.fit.a:.3g}/N + {self.fit.b:.3g}")
        z = NormalDist().inv_cdf(1 - (1 - self.confidence) / 2)
        ax.axhline(self.delta / z, color="gray", ls="--", label=f"delta / z = {self.delta / z:.3g}")
        if math.isfinite(self.n_resolve):
            ax.axvline(self.n_resolve, color="tab:red", ls=":", label=f"N to resolve = {math.ceil(self.n_resolve):,}")
        ax.set_xlabel("N (samples per model)")
        ax.set_ylabel("bootstrap spread")
        ax.set_title(self.what, fontsize=9)
        ax.legend(fontsize=8)
        return fig

    def save_figure(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`figure` as PNG atomically (temporary file, then rename)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".png", dir=p.parent)
        os.close(fd)
        try:
            self.figure().savefig(tmp, dpi=100)
            os.chmod(tmp, 0o644)
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return p


def default_pilot_ns(dataset: Dataset) -> list[int]:
    """Four sizes, a quarter to twice the data's default N (at least 50 each)."""
    n0 = default_n_samples(dataset)
    return sorted({max(50, int(n0 * f)) for f in (0.25, 0.5, 1, 2)})


def plan(models: Any, data: str | Path | Dataset, *, metric: str = "fid", field: str | None = None,
         delta: float = 1.0, ns: list[int] | None = None, n_bootstrap: int = 200, confidence: float = 0.95,
         power: float = 0.8, seed: int = 0, features: str | None = None, device: str | torch.device = "auto",
         batch_size: int = 1024, options: dict[str, dict[str, Any]] | None = None,
         extractor_options: dict[str, Any] | None = None, data_root: str | Path | None = None,
         download: bool = False, **generator_options: Any) -> Plan:
    """Pilot evaluations at a few N, the fitted spread law, and the N needed to resolve ``delta``.

    Args:
        models: one model (plan the precision of its value) or two (plan the paired difference);
            paths, :class:`~ganeval.Generator` objects, arrays or a ``{label: ...}`` mapping.
        data: dataset name, path or :class:`~ganeval.Dataset`.
        metric, field: the metric (and field; default its first) to plan for.
        delta: the difference to resolve, in the metric's units.
        ns: pilot sizes (default :func:`default_pilot_ns`).
        n_bootstrap: replicates per pilot size.
        confidence: level of the interval; power: for the power line.
        seed, features, device, batch_size, options, extractor_options, data_root, download,
        **generator_options: as :func:`ganeval.paired.compare_models`.

    Returns:
        :class:`Plan`.

    Raises:
        GanevalError: not one or two models, a metric that cannot be paired, bad delta or sizes.
    """
    if not (isinstance(delta, (int, float)) and delta > 0 and math.isfinite(delta)):
        raise GanevalError(f"--delta must be a positive number, got {delta!r}.")
    if not 0 < power < 1 or not 0 < confidence < 1:
        raise GanevalError(f"--power and --confidence must be in (0, 1), got {power!r} and {confidence!r}.")
    dev = resolve_device(device)
    dataset = data if isinstance(data, Dataset) else load_dataset(data, root=data_root, download=download)
    gens = load_models(models, dev, **generator_options)
    if len(gens) not in (1, 2):
        raise GanevalError(f"plan takes one model (its value's precision) or two (their difference), got {len(gens)}.")
    names = _select_metrics([metric], dataset)
    sizes = sorted({int(n) for n in (ns or default_pilot_ns(dataset))})
    if len(sizes) < 2 or sizes[0] < 10:
        raise GanevalError(f"--ns needs at least two distinct sizes >= 10, got {sizes}.")
    full = {k: _conform(g.sample(sizes[-1], seed=seed, batch_size=batch_size), dataset, g.path or k, [])
            for k, g in gens.items()}
    shared: dict[Any, Any] = {}
    spreads: list[float] = []
    values: dict[str, list[float]] = {k: [] for k in gens}
    notes: list[str] = []
    fld = field
    for n in sizes:
        sub = {k: x[:n] for k, x in full.items()}  # latent rows are the same whatever N: prefixes
        stats, not_paired, st_notes = build_stats(sub, dataset, names, features=features, seed=seed, device=dev,
                                                  options=options, extractor_options=extractor_options, shared=shared)
        if not stats:
            raise GanevalError(f"{metric} cannot be planned for: {not_paired.get(metric, 'no decomposition')}.")
        st = stats[0]
        fld = fld or st.fields[0]
        if fld not in st.fields:
            raise GanevalError(f"{metric} has no field {fld!r}; its fields: {', '.join(st.fields)}.")
        j = st.fields.index(fld)
        reps = run_bootstrap(stats, n_bootstrap, seed=seed)[st.name][:, :, j]
        point = st.point()[:, j]
        for i, k in enumerate(gens):
            values[k].append(float(point[i]))
        spreads.append(float((reps[:, 1] - reps[:, 0]).std(ddof=1) if len(gens) == 2 else reps[:, 0].std(ddof=1)))
        notes += st_notes
    fit = fit_spread(sizes, spreads)
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    zp = NormalDist().inv_cdf(power)
    res = Plan(list(gens), metric, str(fld), float(delta), float(confidence), float(power), fit, values,
               fit.n_for(delta / z), fit.n_for(delta / (z + zp)), notes=list(dict.fromkeys(notes)))
    if abs(fit.alpha + 0.5) > 0.2:
        res.notes.insert(0, f"the spread falls as N^{fit.alpha:.2f}, not N^-0.5: the pilots may be too small (or too "
                            "noisy) for the a/N + b law; add larger --ns or more --bootstrap replicates")
    if metric == "fid" and math.isfinite(res.n_resolve):
        inv = 1.0 / np.asarray(sizes, dtype=np.float64)
        slopes = {k: float(np.polyfit(inv, np.asarray(v), 1)[0]) for k, v in values.items()}
        for k, c in slopes.items():
            res.bias[k] = c / res.n_resolve
        if len(gens) == 2:
            a, b = list(gens)
            res.bias[f"{b} - {a}"] = (slopes[b] - slopes[a]) / res.n_resolve
    return res
