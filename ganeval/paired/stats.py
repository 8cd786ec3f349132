"""Metrics decomposed over resampling units, for the paired bootstrap (:mod:`.bootstrap`).

Each builder takes one :class:`~ganeval.evaluate.Context` per model (same dataset, same latent
rows, shared extractor and reference features) and returns a stat whose ``replicate(counts)``
recomputes the metric with reference row ``i`` counted ``counts["ref:<split>"][i]`` times and
latent row ``j`` counted ``counts["latent"][j]`` times, for every model at once:

* ``fid``: Gaussians fitted with resampling weights on the feature rows of both sets (exact).
* ``kid``: per-subset decomposition over disjoint blocks of ``subset_size`` rows (the same blocks
  for every model); the blocks are resampled. Disjoint blocks make the per-block estimates
  independent, so their bootstrap is valid; the value is therefore the mean over those blocks,
  not over the metric's 100 overlapping random subsets.
* ``prdc``: per-point ball memberships (radii and memberships from the full sets); precision and
  density average over generated rows, recall and coverage over reference rows. Conditional on the
  other set: the interval leaves out how the balls move when the other set is redrawn.
* ``mode_coverage`` / ``class_coverage``: per-sample assignments; every field is recomputed from
  the weighted histogram (exact).
* ``parzen``: per-test-point log-likelihoods, test rows resampled; conditional on the generated
  samples (the kernels), which the interval leaves out.
* ``is`` / ``inception_score``: per-sample class probabilities (exact), as one split over all samples.

Other metrics (``summary``, ``ndb``, ``memorisation``) have no such decomposition here and are
reported as not paired.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..errors import GanevalError
from ..registry import METRICS, Context

LATENT = "latent"


def _rowdot(rows: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``rows @ c`` one row at a time: a matrix product may round rows differently (SIMD lanes), and
    identical models must get bit-identical values."""
    return np.array([np.dot(r, c) for r in rows])


def _ref_split(ctx: Context, metric: str) -> str:
    ref = str(ctx.option(metric, "reference", "train"))
    if ref not in ("train", "val", "test"):
        raise GanevalError(f"{metric} option `reference` must be train, val or test, got {ref!r}.")
    return ref


INF = float("inf")


class _Stat(ABC):
    """Common bookkeeping: name, fields, directions, units, notes, and each field's possible range
    (``bounds``: intervals of a value are clipped to it; a FID interval never reaches below 0)."""

    def __init__(self, name: str, fields: tuple[str, ...], directions: tuple[str, ...], units: dict[str, int],
                 notes: list[str] | None = None, bounds: tuple[tuple[float, float], ...] | None = None) -> None:
        self.name, self.fields, self.directions, self.units = name, fields, directions, units
        self.notes = list(notes or [])
        self.bounds = bounds or ((-INF, INF),) * len(fields)

    def point(self) -> np.ndarray:
        return self.replicate({u: np.ones(n, dtype=np.int64) for u, n in self.units.items()})

    @abstractmethod
    def replicate(self, counts: dict[str, np.ndarray]) -> np.ndarray:
        """The statistic's fields on one resample, given each unit's resampling counts."""


class FrechetStat(_Stat):
    """FID of each model with weighted Gaussians (the reference statistics shared per replicate).

    The point estimate is the exact float64 FID. Resamples go through
    :class:`ganeval.metrics.frechet_bootstrap.SharedReference` (float32 ``syrk`` of the resampled
    rows, float64 factorisation; the reference's covariance and Cholesky factor shared by every
    model) when the resampled covariances are expected to be full rank, and through the exact
    float64 path otherwise, for near-identical sets (traces above 1000 x FID, where float32 rows
    would blur a small difference of large terms) and for any replicate the fast path cannot factor.
    """

    def __init__(self, real: torch.Tensor, fakes: list[torch.Tensor], ref_unit: str) -> None:
        super().__init__("fid", ("value",), ("lower",), {ref_unit: int(real.shape[0]), LATENT: int(fakes[0].shape[0])},
                         bounds=((0.0, INF),))
        self.real, self.fakes, self.ref_unit = real, fakes, ref_unit
        self._fast: Any = None  # SharedReference, built at the first resample
        self._exact_only: list[bool] | None = None
        self._point: np.ndarray | None = None

    def point(self) -> np.ndarray:
        if self._point is None:
            self._point = super().point()
        return self._point

    def _exact(self, cr: np.ndarray | None, cf: np.ndarray | None, which: list[int]) -> dict[int, float]:
        from ..metrics.frechet import _frechet, _gaussian

        g_real = _gaussian(self.real, None if cr is None else torch.from_numpy(cr), "real_features")
        return {i: _frechet(g_real, _gaussian(self.fakes[i], None if cf is None else torch.from_numpy(cf),
                                              "fake_features"), []) for i in which}

    def _setup(self) -> list[bool]:
        """Which models stay on the exact path; builds the shared fast path for the others."""
        from ..metrics import frechet_bootstrap as fb

        n, m, d = int(self.real.shape[0]), int(self.fakes[0].shape[0]), int(self.real.shape[1])
        values = self.point()[:, 0]
        traces = float(self.real.double().var(0).sum())
        self._exact_only = [not fb.fast_path_applies(n, m, d)
                            or traces + float(f.double().var(0).sum()) > fb.MIXED_MAX_RATIO * v
                            for f, v in zip(self.fakes, values, strict=True)]
        if not all(self._exact_only):
            self._fast = fb.SharedReference(self.real, self.fakes)
        return self._exact_only

    def replicate(self, counts: dict[str, np.ndarray]) -> np.ndarray:
        cr, cf = counts[self.ref_unit], counts[LATENT]
        every = list(range(len(self.fakes)))
        if (cr == 1).all() and (cf == 1).all():
            vals = self._exact(None, None, every)
            return np.array([[vals[i]] for i in every])
        exact_only = self._exact_only if self._exact_only is not None else self._setup()
        fast: list[float | None] = self._fast.replicate(cr, cf) if self._fast is not None else [None] * len(every)
        todo = [i for i in every if exact_only[i] or fast[i] is None]
        vals = self._exact(cr, cf, todo) if todo else {}
        return np.array([[vals[i] if i in vals else fast[i]] for i in every])


class KIDStat(_Stat):
    """KID as the mean of unbiased MMD^2 over disjoint blocks shared by all models."""

    def __init__(self, real: torch.Tensor, fakes: list[torch.Tensor], *, subset_size: int, seed: int,
                 device: torch.device, degree: int = 3, gamma: float | None = None, coef0: float = 1.0) -> None:
        from ..metrics.kid import mmd2_unbiased

        n = min(int(real.shape[0]), int(fakes[0].shape[0]))
        m = max(2, min(int(subset_size), n // 10))  # at least 10 blocks where the rows allow
        blocks = n // m
        if blocks < 2:
            raise GanevalError(f"kid cannot be paired: {n} rows make fewer than 2 blocks of {m}; draw more samples.")
        rng = np.random.default_rng(seed)
        pr, pf = rng.permutation(real.shape[0]), rng.permutation(fakes[0].shape[0])
        r = real.to(device, torch.float64)
        per = np.empty((blocks, len(fakes)))
        for i, f in enumerate(fakes):
            fd = f.to(device, torch.float64)
            for s in range(blocks):
                per[s, i] = mmd2_unbiased(r[torch.from_numpy(pr[s * m:(s + 1) * m]).to(device)],
                                          fd[torch.from_numpy(pf[s * m:(s + 1) * m]).to(device)],
                                          degree=degree, gamma=gamma, coef0=coef0)
        super().__init__("kid", ("value",), ("lower",), {"kid_blocks": blocks},
                         [f"kid paired over {blocks} disjoint blocks of {m} rows (the same blocks for every model)"])
        self.per = per

    def replicate(self, counts: dict[str, np.ndarray]) -> np.ndarray:
        c = counts["kid_blocks"]
        return (_rowdot(self.per.T, c) / c.sum())[:, None]


class PRDCStat(_Stat):
    """Precision/density over generated rows, recall/coverage over reference rows."""

    def __init__(self, real: torch.Tensor, fakes: list[torch.Tensor], ref_unit: str, *, k: int,
                 device: torch.device) -> None:
        from ..metrics.prdc import prdc_points

        first = prdc_points(real, fakes[0], k=k, device=device)
        pts = [first] + [prdc_points(real, f, k=k, device=device, real_radii=first.real_radii) for f in fakes[1:]]
        # Integer per-point values: the weighted sums are exact, so equal models tie exactly.
        self.prec = np.stack([(p.in_real > 0).long().numpy() for p in pts])      # (k_models, N_fake)
        self.dens = np.stack([p.in_real.numpy() for p in pts])
        self.rec = np.stack([(p.in_fake > 0).long().numpy() for p in pts])       # (k_models, N_real)
        self.cov = np.stack([p.covered.long().numpy() for p in pts])
        self.k = pts[0].k
        super().__init__("prdc", ("precision", "recall", "density", "coverage"), ("higher",) * 4,
                         {ref_unit: int(real.shape[0]), LATENT: int(fakes[0].shape[0])},
                         ["prdc paired per point (balls fixed from the full sets; the interval is conditional "
                          "on the other set)"], bounds=((0.0, 1.0), (0.0, 1.0), (0.0, INF), (0.0, 1.0)))
        self.ref_unit = ref_unit

    def replicate(self, counts: dict[str, np.ndarray]) -> np.ndarray:
        cr, cf = counts[self.ref_unit], counts[LATENT]
        nf, nr = cf.sum(), cr.sum()
        return np.stack([self.prec @ cf / nf, self.rec @ cr / nr, self.dens @ cf / (self.k * nf),
                         self.cov @ cr / nr], axis=1)


def _kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p || q) per row of p (nats), 0 log 0 = 0; inf where p > 0 = q."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / q), 0.0)
    return terms.sum(-1)


class HistogramStat(_Stat):
    """Fields of a weighted histogram of per-sample bins (modes or classes) against a reference."""

    def __init__(self, name: str, onehot: np.ndarray, reference: np.ndarray, min_count: int,
                 hq: np.ndarray | None, covered_field: str) -> None:
        fields = (covered_field, "reverse_kl") + (("hq_fraction",) if hq is not None else ())
        dirs = ("higher", "lower") + (("higher",) if hq is not None else ())
        bounds = ((0.0, float(onehot.shape[2])), (0.0, INF)) + (((0.0, 1.0),) if hq is not None else ())
        super().__init__(name, fields, dirs, {LATENT: int(onehot.shape[1])}, bounds=bounds)
        self.onehot, self.ref, self.min_count, self.hq = onehot, reference, min_count, hq  # onehot (models, N, K)

    def replicate(self, counts: dict[str, np.ndarray]) -> np.ndarray:
        c = counts[LATENT].astype(np.float64)
        hist = np.stack([c @ oh for oh in self.onehot])  # sums of whole numbers: exact
        tot = hist.sum(1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            kl = np.where(tot[:, 0] > 0, _kl(hist / np.where(tot > 0, tot, 1.0), self.ref[None]), np.nan)
        cols = [(hist >= self.min_count).sum(1).astype(np.float64), kl]
        if self.hq is not None:
            cols.append(self.hq @ c / c.sum())
        return np.stack(cols, axis=1)


class PerPointStat(_Stat):
    """A mean of per-reference-point values (Parzen's per-test-point log-likelihood)."""

    def __init__(self, name: str, values: np.ndarray, unit: str, direction: str, note: str) -> None:
        super().__init__(name, ("value",), (direction,), {unit: int(values.shape[1])}, [note])
        self.values, self.unit = values, unit

    def replicate(self, counts: dict[str, np.ndarray]) -> np.ndarray:
        c = counts[self.unit]
        return (_rowdot(self.values, c) / c.sum())[:, None]


class InceptionScoreStat(_Stat):
    """exp(E_x KL(p(y|x) || p(y))) with weighted samples (one split: the paired value is IS over all rows)."""

    def __init__(self, probs: list[np.ndarray], name: str = "inception_score") -> None:
        super().__init__(name, ("value",), ("higher",), {LATENT: int(probs[0].shape[0])},
                         [f"{name} paired as one split over all samples (not the usual 10 splits)"],
                         bounds=((1.0, INF),))
        self.p = np.stack(probs).astype(np.float64)  # (models, N, C)
        with np.errstate(divide="ignore"):
            self.logp = np.where(self.p > 0, np.log(self.p), 0.0)

    def replicate(self, counts: dict[str, np.ndarray]) -> np.ndarray:
        c = counts[LATENT].astype(np.float64)
        w = c / c.sum()
        out = []
        for p, lp in zip(self.p, self.logp):  # one model at a time: equal models give equal values
            py = w @ p
            with np.errstate(divide="ignore"):
                logpy = np.where(py > 0, np.log(py), 0.0)
            out.append(np.exp(w @ (p * lp).sum(1) - (py * logpy).sum()))
        return np.array(out)[:, None]


# ---------------------------------------------------------------------------------------------
# builders: contexts -> stat


def _fid(ctxs: list[Context]) -> FrechetStat:
    ref = _ref_split(ctxs[0], "fid")
    return FrechetStat(ctxs[0].features_of(ref), [c.features_of("fake") for c in ctxs], f"ref:{ref}")


def _kid(ctxs: list[Context]) -> KIDStat:
    c0 = ctxs[0]
    ref = _ref_split(c0, "kid")
    return KIDStat(c0.features_of(ref), [c.features_of("fake") for c in ctxs],
                   subset_size=int(c0.option("kid", "subset_size", 1000)), seed=c0.seed, device=c0.device)


def _prdc(ctxs: list[Context]) -> PRDCStat:
    c0 = ctxs[0]
    ref = _ref_split(c0, "prdc")
    return PRDCStat(c0.features_of(ref), [c.features_of("fake") for c in ctxs], f"ref:{ref}",
                    k=int(c0.option("prdc", "k", 5)), device=c0.device)


def _mode_coverage(ctxs: list[Context]) -> HistogramStat:
    res: list[Any] = [METRICS["mode_coverage"].fn(c) for c in ctxs]
    k = res[0].n_modes
    hq = np.stack([r.distance_std < r.threshold for r in res]).astype(np.float64)
    onehot = np.stack([np.eye(k)[r.assignment] for r in res]) * hq[:, :, None]
    return HistogramStat("mode_coverage", onehot, np.full(k, 1.0 / k), res[0].min_count, hq, "modes_covered")


def _class_coverage(ctxs: list[Context]) -> HistogramStat:
    res: list[Any] = [METRICS["class_coverage"].fn(c) for c in ctxs]
    if getattr(res[0], "predictions", None) is None or np.ndim(res[0].predictions) != 1:
        raise GanevalError("class_coverage cannot be paired for stacked images (per-channel classes).")
    k = res[0].n_classes
    onehot = np.stack([np.eye(k)[np.asarray(r.predictions)] for r in res])
    return HistogramStat("class_coverage", onehot, np.asarray(res[0].reference, dtype=np.float64), res[0].min_count,
                         None, "classes_covered")


def _parzen(ctxs: list[Context]) -> PerPointStat:
    res: list[Any] = [METRICS["parzen"].fn(c) for c in ctxs]
    sig = {round(float(r.sigma), 12) for r in res}
    note = ("parzen paired per test point (kernels fixed: the interval leaves out the generated samples' own "
            "variation)" + ("; each model keeps the sigma chosen for it on val" if len(sig) > 1 else ""))
    return PerPointStat("parzen", np.stack([np.asarray(r.test_log_likelihoods, dtype=np.float64) for r in res]),
                        "ref:test", "higher", note)


def _inception_score(ctxs: list[Context], name: str = "inception_score") -> InceptionScoreStat:
    probs = []
    for c in ctxs:
        METRICS[name].fn(c)
        p = (c.artifacts.get(name) or {}).get("probs")
        if p is None:
            raise GanevalError(f"{name} cannot be paired: its adapter keeps no per-sample class probabilities "
                               f"(artifacts[{name!r}]['probs']).")
        probs.append(np.asarray(p))
    return InceptionScoreStat(probs, name)


BUILDERS: dict[str, Callable[[list[Context]], Any]] = {
    "fid": _fid, "kid": _kid, "prdc": _prdc, "mode_coverage": _mode_coverage, "class_coverage": _class_coverage,
    "parzen": _parzen, "inception_score": _inception_score,
    "is": lambda ctxs: _inception_score(ctxs, "is"),
}


def pairable(name: str) -> bool:
    """Whether ``name`` has a paired decomposition here."""
    return name in BUILDERS
