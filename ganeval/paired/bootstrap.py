"""The paired bootstrap: one resampling of the shared units drives every model and every metric.

Models scored with common random numbers share their *units*: the reference rows (one unit set
per split) and the latent rows (row ``i`` of every model comes from the same latent vector). A
replicate draws one multinomial count vector per unit set (Efron's bootstrap: ``n`` draws with
replacement) and hands the same counts to every metric of every model, so the noise the models
share cancels in their differences.

Intervals are *basic* bootstrap intervals (Davison & Hinkley 1997, eq. 5.6):
``[2 d - q_hi, 2 d - q_lo]`` for an estimate ``d`` whose replicates have quantiles ``q``. Unlike the
percentile interval they carry the bootstrap's bias estimate: FID at finite N is biased upwards
by about ``c / N`` and a resample with duplicated rows is biased the same way, so reflecting the
replicates about the estimate corrects the bias the two models do not share. The p-value inverts
that interval (the smallest level at which it excludes 0), so ``p < 1 - confidence`` exactly when
the interval excludes 0. Rank probabilities use the same reflected replicates ``2 d - d*``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .._utils import progress
from ..errors import GanevalError


class PairedStat(Protocol):
    """A metric decomposed over resampling units, for all models at once.

    Attributes:
        name: the metric name.
        fields: the fields it reports (``("value",)`` for FID).
        directions: ``"lower"`` or ``"higher"`` (is better), one per field.
        units: ``{unit name: count}`` of the units its value is a function of.
        notes: how it was paired and what the pairing leaves out.
    """

    name: str
    fields: tuple[str, ...]
    directions: tuple[str, ...]
    units: dict[str, int]
    notes: list[str]

    def point(self) -> np.ndarray:
        """(n_models, n_fields) values on the data as drawn."""
        ...

    def replicate(self, counts: dict[str, np.ndarray]) -> np.ndarray:
        """(n_models, n_fields) values with unit ``u`` repeated ``counts[u]`` times."""
        ...


def draw_counts(rng: np.random.Generator, n: int) -> np.ndarray:
    """Multiplicities of ``n`` rows in one bootstrap resample of size ``n`` (sums to ``n``)."""
    return np.bincount(rng.integers(0, n, n), minlength=n)


def run_bootstrap(stats: Sequence[PairedStat], n_bootstrap: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Replicates of every stat under shared resampling of their units.

    Args:
        stats: the decomposed metrics (their ``units`` with the same name must agree in size).
        n_bootstrap: replicates (>= 1).
        seed: seed of the resampling.

    Returns:
        ``{stat name: (n_bootstrap, n_models, n_fields) float64}``.

    Raises:
        GanevalError: ``n_bootstrap`` < 1, or one unit named with two sizes.
    """
    if isinstance(n_bootstrap, bool) or int(n_bootstrap) < 1:
        raise GanevalError(f"`n_bootstrap` must be an integer >= 1, got {n_bootstrap!r}.")
    units: dict[str, int] = {}
    for st in stats:
        for u, n in st.units.items():
            if units.setdefault(u, int(n)) != int(n):
                raise GanevalError(f"Resampling unit {u!r} has {units[u]} rows for one metric and {n} for "
                                   f"{st.name!r}; the paired bootstrap needs one set of rows per unit.")
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for b in progress(range(int(n_bootstrap)), desc="paired bootstrap", total=int(n_bootstrap), unit="rep"):
        counts = {u: draw_counts(rng, n) for u, n in sorted(units.items())}  # sorted: same draws, any stat order
        for st in stats:
            v = np.asarray(st.replicate(counts), dtype=np.float64)
            if b == 0:
                out[st.name] = np.empty((int(n_bootstrap), *v.shape))
            out[st.name][b] = v
    return out


def basic_interval(estimate: np.ndarray, reps: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Basic bootstrap interval ``[2 d - q_hi, 2 d - q_lo]`` of each estimate (``reps``: (B, ...))."""
    a = (1.0 - confidence) / 2.0
    q_lo, q_hi = np.quantile(reps, [a, 1.0 - a], axis=0)
    return 2.0 * estimate - q_hi, 2.0 * estimate - q_lo


def p_value(estimate: float, reps: np.ndarray) -> float:
    """Two-sided p-value of "no difference" that inverts :func:`basic_interval`.

    The basic interval at level ``1 - alpha`` excludes 0 when fewer than ``alpha/2`` of the
    replicates lie on one side of ``2 d``; the p-value is the smallest such ``alpha``, with the
    usual ``+1`` so that it is never 0 from a finite number of replicates.
    """
    r = np.asarray(reps, dtype=np.float64)
    if not np.isfinite(estimate) or np.isnan(r).any():
        return float("nan")  # an undefined value (e.g. a KL of an empty histogram) is no evidence either way
    t = 2.0 * float(estimate)
    ge = int((r >= t).sum())
    le = int((r <= t).sum())
    return float(min(1.0, 2.0 * (min(ge, le) + 1) / (r.shape[0] + 1)))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's (1979) step-down adjustment for a family of tests (controls the family-wise error).

    Sorted ascending, ``p_(i)`` becomes ``max_{j <= i} min(1, (m - j + 1) p_(j))``; the adjusted
    values come back in the input order.
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = p.shape[0]
    order = np.argsort(p, kind="stable")
    adj = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adj = np.maximum.accumulate(adj)
    out = np.empty(m)
    out[order] = adj
    return out


def _worst_nan(values: np.ndarray, direction: str) -> np.ndarray:
    """Values oriented so that lower is better, an undefined value (NaN: e.g. a KL with no sample
    to histogram) counting as the worst."""
    v = values if direction == "lower" else -values
    return np.where(np.isnan(v), np.inf, v)


def rank_table(values: np.ndarray, direction: str) -> np.ndarray:
    """(B, k) values -> (B, k) ranks, 1 = best, ties sharing the mean of their ranks.

    ``1 + #better + #tied / 2`` per model: O(B k^2), fine for the few models a comparison holds.
    """
    v = _worst_nan(values, direction)
    better = (v[:, None, :] < v[:, :, None]).sum(-1)
    tied = (v[:, None, :] == v[:, :, None]).sum(-1) - 1
    return 1.0 + better + 0.5 * tied


def first_probability(values: np.ndarray, direction: str) -> np.ndarray:
    """(B, k) values -> (k,) probability that each model is best; a tie for best shares the credit."""
    v = _worst_nan(values, direction)
    is_best = v == v.min(1, keepdims=True)
    return (is_best / is_best.sum(1, keepdims=True)).mean(0)


@dataclass(frozen=True)
class FieldSummary:
    """Everything :class:`~ganeval.paired.Comparison` reports for one metric field."""

    metric: str
    field: str
    direction: str
    values: np.ndarray          # (k,) estimates
    ci_low: np.ndarray          # (k,) basic interval of each value
    ci_high: np.ndarray
    p_first: np.ndarray         # (k,) probability of ranking first
    p_last: np.ndarray          # (k,) probability of ranking last
    rank: np.ndarray            # (k,) rank of the estimates
    rank_low: np.ndarray        # (k,) rank interval (quantiles of the replicate ranks)
    rank_high: np.ndarray
    pairs: list[tuple[int, int, float, float, float, float, float]]  # (a, b, delta, lo, hi, p, p_holm)


def summarise(metric: str, field: str, direction: str, point: np.ndarray, reps: np.ndarray,
              confidence: float, bounds: tuple[float, float] = (-np.inf, np.inf)) -> FieldSummary:
    """Intervals, pairwise differences with p-values (Holm-adjusted for > 2 models) and ranks.

    Args:
        point: (k,) estimates of the k models.
        reps: (B, k) their replicates under the shared resampling.
        confidence: interval level.
        bounds: the values' possible range; each value's interval is clipped to it.
    """
    k = point.shape[0]
    lo, hi = np.clip(basic_interval(point, reps, confidence), *bounds)
    reflected = 2.0 * point[None, :] - reps  # the bootstrap distribution of the bias-corrected estimate
    ranks = rank_table(reflected, direction)
    a = (1.0 - confidence) / 2.0
    r_lo, r_hi = np.quantile(ranks, [a, 1.0 - a], axis=0, method="inverted_cdf")
    pairs = []
    for i in range(k):
        for j in range(i + 1, k):
            d = float(point[j] - point[i])
            dr = reps[:, j] - reps[:, i]
            dlo, dhi = basic_interval(np.asarray(d), dr, confidence)
            pairs.append((i, j, d, float(dlo), float(dhi), p_value(d, dr)))
    adj = holm([p[-1] for p in pairs]) if k > 2 else np.array([p[-1] for p in pairs])
    worst = "higher" if direction == "lower" else "lower"
    return FieldSummary(metric, field, direction, point, lo, hi, first_probability(reflected, direction),
                        first_probability(reflected, worst),
                        rank_table(point[None, :], direction)[0], r_lo, r_hi,
                        [(*p, float(q)) for p, q in zip(pairs, adj)])
