"""Bootstrap replicates of FID without recomputing everything from scratch (used by ``fid``).

A replicate resamples both feature sets with replacement; with resampling counts ``w`` (a
multinomial vector summing to N) its statistics are weighted ones. With the rows centred once on
the full sample's mean (``x_i - mu``), a replicate's

    mean        mu + d,                d = sum_i w_i (x_i - mu) / N
    covariance  (X_c^T diag(w) X_c - N d d^T) / (N - 1)

so the only large product is ``X_c^T diag(w) X_c``: one symmetric rank-k update (``syrk``) on the
rows drawn at least once (about 63% of them), scaled by ``sqrt(w)``, in float32 -- a quarter of the
time of the float64 general matrix product it replaces. Traces and means stay in float64 (they cost
O(N D)). Then ``tr sqrt(S1 S2)`` as in :mod:`ganeval.metrics.frechet`: ``S1 = L L^T`` (Cholesky),
``L^T S2 L`` in one LAPACK ``sygst`` call (half the work of two triangular products), and its
symmetric eigenvalues.

Precision: ``"float32"`` runs the factorisation and the eigenvalues in float32 too; ``"float64"``
only the ``syrk``. The point estimate is never computed here (``fid`` keeps its float64 value), and
the interval is built from replicates minus their mean, which cancels an error common to all
replicates; tests hold the endpoints to a float64 bootstrap on the same resamples (see
docs/performance.md for the measured agreement). A replicate whose covariance is not numerically
positive definite in the working precision (singular features, too few distinct rows) is handed to
the exact float64 path.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.linalg
import torch
from scipy.linalg import blas, lapack

PRECISIONS = ("mixed", "float32", "float64")
MIXED_MAX_RATIO = 1e3


class _Side:
    """One feature set, centred once, with what every replicate reuses."""

    def __init__(self, x: torch.Tensor, precision: str) -> None:
        x64 = x.detach().to("cpu", torch.float64).numpy()
        self.n, self.d = x64.shape
        self.mu = x64.mean(0)
        xc = x64 - self.mu
        self.sq = np.einsum("ij,ij->i", xc, xc)  # ||x_i - mu||^2 in float64: traces without the D x D matrix
        self.xc = xc if precision == "float64" else xc.astype(np.float32)
        self.factor_dtype = np.float32 if precision == "float32" else np.float64
        self._buf = np.empty_like(self.xc)

    def stats(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """(mean, lower triangle of the scatter matrix ``(N - 1) S`` in Fortran order, trace of S) of a resample."""
        keep = np.flatnonzero(counts)
        w = counts[keep].astype(np.float64)
        n = float(counts.sum())
        # The mean's shift in the working precision: it is O(1/sqrt(N)) of the spread, so its
        # round-off is far below what the interval resolves.
        d = (counts.astype(self.xc.dtype) @ self.xc).astype(np.float64) / n
        rows = np.take(self.xc, keep, axis=0, out=self._buf[:keep.size])
        rows *= np.sqrt(w).astype(self.xc.dtype)[:, None]
        syrk = blas.ssyrk if self.xc.dtype == np.float32 else blas.dsyrk
        # rows.T is a Fortran-ordered (D, n') view: syrk forms rows^T rows from it without a copy.
        scatter = syrk(1.0, rows.T, trans=0, lower=1).astype(self.factor_dtype, copy=False)
        syr = blas.ssyr if self.factor_dtype == np.float32 else blas.dsyr
        scatter = syr(-n, d.astype(self.factor_dtype), lower=1, a=scatter, overwrite_a=1)  # centre: - N d d^T
        trace = (float(w @ self.sq[keep]) - n * float(d @ d)) / (n - 1)
        return self.mu + d, scatter, trace


def _trace_sqrt(s1: np.ndarray, s2: np.ndarray) -> float | None:
    """``tr sqrt(S1 S2)`` from lower triangles (overwritten), or None when S1 is not numerically positive definite."""
    potrf, sygst = (lapack.spotrf, lapack.ssygst) if s1.dtype == np.float32 else (lapack.dpotrf, lapack.dsygst)
    c, info = potrf(s1, lower=1, overwrite_a=1)
    if info != 0:
        return None
    # itype=2, lower: S2's lower triangle becomes L^T S2 L (the eigenvalues of S2 S1).
    m, info = sygst(s2, c, itype=2, lower=1, overwrite_a=1)
    if info != 0:
        return None
    w = scipy.linalg.eigh(m, eigvals_only=True, lower=True, driver="evd", check_finite=False, overwrite_a=True)
    return float(np.sqrt(np.clip(w.astype(np.float64), 0.0, None)).sum())


def replicates(real: torch.Tensor, fake: torch.Tensor, counts: Callable[[], tuple[np.ndarray, np.ndarray]],
               n_rep: int, exact: Callable[[np.ndarray, np.ndarray], float], precision: str = "mixed",
               value: float | None = None) -> np.ndarray:
    """FID of ``n_rep`` bootstrap resamples.

    Args:
        real, fake: (N_real, D) and (N_fake, D) features.
        counts: returns the next resample's (real counts, fake counts), integer vectors of length N.
        n_rep: replicates.
        exact: the float64 reference for one replicate given its counts (used where the fast path
            cannot factor a covariance).
        precision: "mixed" (float32 ``syrk``, float64 factorisation and eigenvalues: the default),
            "float64" (everything in float64), "float32" (everything in float32: fastest, but
            eigenvalues of the covariance product lose about 1e-3 relative on features whose
            spectrum decays like Inception's; not used by ``fid``).
        value: the point estimate; with "mixed", features whose traces exceed
            ``MIXED_MAX_RATIO * value`` (near-identical sets, where FID is a small difference of
            large terms) run in "float64".

    Returns:
        (n_rep,) float64 replicate FIDs.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "mixed" and value is not None:
        # float32 rows carry about 1e-7 relative error into the traces' part of FID; when FID is a
        # tiny fraction of those traces (near-identical sets) that is not negligible: stay in float64.
        traces = sum(float(x.double().var(0).sum()) for x in (real, fake))
        if traces > MIXED_MAX_RATIO * value:
            precision = "float64"
    r, f = _Side(real, precision), _Side(fake, precision)
    scale = 1.0 / np.sqrt((r.n - 1.0) * (f.n - 1.0))  # the scatter matrices are (N - 1) times the covariances
    out = np.empty(n_rep)
    for i in range(n_rep):
        cr, cf = counts()
        m1, s1, t1 = r.stats(cr)
        m2, s2, t2 = f.stats(cf)
        tr_sqrt = _trace_sqrt(s1, s2)
        if tr_sqrt is None:  # singular in the working precision: the exact path decides what to do
            out[i] = exact(cr, cf)
            continue
        diff = m1 - m2
        out[i] = max(float(diff @ diff) + t1 + t2 - 2.0 * scale * tr_sqrt, 0.0)
    return out


def fast_path_applies(n_real: int, n_fake: int, dim: int) -> bool:
    """Whether resampled covariances are expected to be full rank (distinct rows well above D)."""
    return min(n_real, n_fake) * (1 - np.exp(-1.0)) > 1.2 * dim
