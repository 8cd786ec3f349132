"""Bootstrap replicates of FID without recomputing everything from scratch (used by ``fid``).

A replicate resamples both feature sets with replacement; with resampling counts ``w`` (a
multinomial vector summing to N) its statistics are weighted ones. With the rows centred once on
the full sample's mean (``x_i - mu``), a replicate's

    mean        mu + d,                d = sum_i w_i (x_i - mu) / N
    covariance  (X_c^T diag(w) X_c - N d d^T) / (N - 1)

so the only large product is ``X_c^T diag(w) X_c``: one symmetric rank-k update (``syrk``) on the
rows drawn at least once (about 63% of them), scaled by ``sqrt(w)``. Traces and means stay in
float64 (they cost O(N D)). Then ``tr sqrt(S1 S2)`` as in :mod:`ganeval.metrics.frechet`:
``S1 = L L^T`` (Cholesky), ``L^T S2 L`` in one LAPACK ``sygst`` call, and its symmetric eigenvalues.

Precision ("mixed", the default): the eigenvalues of ``S1 S2`` span the square of the covariances'
dynamic range, and a float32 eigensolver's error is about 6e-8 times the *largest* eigenvalue,
which the square roots of the small ones amplify. The replicates are therefore computed in a basis
where float32 is enough: once, the full sample's ``S1 = L0 L0^T`` (float64, from the point
estimate's covariances when ``fid`` passes them) and the eigenvectors ``U`` of ``L0^T S2 L0``
(float32 suffices: ``U`` only has to grade the matrices; eigenvalues ``lam`` in decreasing order)
give ``K = L0 U`` with ``K^T S2 K ~ diag(lam)`` and ``K^-1 S1 K^-T ~ I``; the rows are transformed
once (``x1 K^-T``, ``x2 K``, one float32 product each, whose round-off is a fixed perturbation
shared by every replicate). ``S1 S2`` is similar to the product of the transformed covariances (any
invertible basis keeps its eigenvalues), and in that basis a replicate's matrices are close to ``I``
and to ``diag(lam)``: well conditioned, and graded with the large entries first, where float32 Cholesky,
``sygst`` and the Householder tridiagonal reduction keep the small eigenvalues to about their own
relative precision. Measured on 2048-d features with a decaying spectrum: replicates within 3e-5
relative of float64 (1e-3 for all-float32 in the original basis). "eig64" (float32 ``syrk``,
float64 factorisation and eigenvalues in the original basis: the implementation before),
"float32" (all float32 in the original basis) and "float64" are kept for reference and tests.

The point estimate is never computed here (``fid`` keeps its float64 value), and the interval is
built from replicates minus their mean, which cancels an error common to all replicates; tests hold
the endpoints to a float64 bootstrap on the same resamples. A replicate whose covariance is not
numerically positive definite in the working precision (singular features, too few distinct rows)
is handed to the exact float64 path, and so is the whole bootstrap when the full sample's ``S1``
is singular.

:class:`SharedReference` serves paired comparisons (several models, one reference, shared resampling
counts): the reference's resampled covariance and its Cholesky factor are formed once per replicate
and shared by every model, in the "eig64" precision (there is no single eigenbasis for several models).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import scipy.linalg
import torch
from scipy.linalg import blas, lapack

PRECISIONS = ("mixed", "eig64", "float32", "float64")
MIXED_MAX_RATIO = 1e3


class _Side:
    """One feature set, centred once, with what every replicate reuses."""

    def __init__(self, x: torch.Tensor, rows_dtype: type, factor_dtype: type) -> None:
        x64 = x.detach().to("cpu", torch.float64).numpy()
        self.n, self.d = x64.shape
        self.mu = x64.mean(0)
        self.xc64 = x64 - self.mu
        self.sq = np.einsum("ij,ij->i", self.xc64, self.xc64)  # ||x_i - mu||^2 in float64: traces without the D x D matrix
        self.xc = self.xc64 if rows_dtype == np.float64 else self.xc64.astype(rows_dtype)
        self.factor_dtype = factor_dtype

    def covariance(self) -> np.ndarray:
        """Lower triangle of the full sample's covariance, float64, Fortran order."""
        # xc64.T is a Fortran-ordered (D, N) view: syrk forms xc^T xc from it without a copy.
        return blas.dsyrk(1.0 / (self.n - 1), self.xc64.T, trans=0, lower=1)

    def transform(self, a: np.ndarray) -> None:
        """Replace the rows by ``(x_i - mu) a`` in float32 (one float32 product).

        Float32 is enough here: the basis only has to make the replicates' matrices graded, and
        any invertible change of basis leaves the eigenvalues of ``S1 S2`` unchanged; the product's
        round-off is a fixed perturbation of the rows, common to every replicate.
        """
        self.xc = self.xc.astype(np.float32, copy=False) @ a.astype(np.float32)
        self.factor_dtype = np.float32

    def ready(self) -> None:
        """Drop the float64 rows (only the set-up needs them) and allocate the replicates' buffer."""
        del self.xc64
        self._buf = np.empty_like(self.xc)

    def stats(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """(mean shift ``d`` in the rows' basis, lower triangle of the scatter matrix ``(N - 1) S`` in Fortran
        order, ``sum_i w_i ||x_i - mu||^2``) of a resample."""
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
        # The trace depends on the basis: it comes from the original rows' norms (see replicates).
        return d, scatter, float(w @ self.sq[keep])


def _eigenbasis(r: _Side, f: _Side, covariances: tuple[np.ndarray, np.ndarray] | None = None
                ) -> tuple[np.ndarray, np.ndarray] | None:
    """``(K^-T, K)`` with ``K = L0 U`` (see the module docstring), or None when S1 is singular."""
    s1, s2 = (r.covariance(), f.covariance()) if covariances is None else (
        np.array(c, dtype=np.float64, order="F") for c in covariances)
    l0, info = lapack.dpotrf(s1, lower=1, clean=1, overwrite_a=1)
    if info != 0:
        return None
    m0, info = lapack.dsygst(s2, l0, itype=2, lower=1, overwrite_a=1)
    if info != 0:
        return None
    # Eigenvectors in float32: U only has to grade the replicates' matrices (its float32 error
    # couples large and small directions about 1e-7 of the largest eigenvalue, far below their
    # resampling fluctuations), and L0 U and L0^-T U stay an exact pair of bases up to U's
    # orthogonality (1e-7), the same for every replicate.
    _, u32 = scipy.linalg.eigh(m0.astype(np.float32), lower=True, driver="evd", check_finite=False,
                               overwrite_a=True)
    u = np.asfortranarray(u32[:, ::-1], dtype=np.float64)  # decreasing eigenvalues: the large entries first
    k = blas.dtrmm(1.0, l0, u, side=0, lower=1)  # L0 U
    k_inv_t = blas.dtrsm(1.0, l0, u, side=0, lower=1, trans_a=1)  # L0^-T U
    return k_inv_t, k


def _factor(s1: np.ndarray) -> np.ndarray | None:
    """Cholesky factor of a lower triangle (overwritten), or None when it is not numerically positive definite."""
    c, info = (lapack.spotrf if s1.dtype == np.float32 else lapack.dpotrf)(s1, lower=1, overwrite_a=1)
    return c if info == 0 else None


def _trace_sqrt(s1: np.ndarray, s2: np.ndarray) -> float | None:
    """``tr sqrt(S1 S2)`` from lower triangles (overwritten), or None when S1 is not numerically positive definite."""
    c = _factor(s1)
    return None if c is None else _trace_sqrt_factored(c, s2)


def _trace_sqrt_factored(c: np.ndarray, s2: np.ndarray) -> float | None:
    """``tr sqrt(S1 S2)`` given S1's Cholesky factor ``c`` (kept) and S2's lower triangle (overwritten)."""
    sygst = lapack.ssygst if c.dtype == np.float32 else lapack.dsygst
    # itype=2, lower: S2's lower triangle becomes L^T S2 L (the eigenvalues of S2 S1).
    m, info = sygst(s2, c, itype=2, lower=1, overwrite_a=1)
    if info != 0:
        return None
    w = scipy.linalg.eigh(m, eigvals_only=True, lower=True, driver="evd", check_finite=False, overwrite_a=True)
    return float(np.sqrt(np.clip(w.astype(np.float64), 0.0, None)).sum())


def replicates(real: torch.Tensor, fake: torch.Tensor, counts: Callable[[], tuple[np.ndarray, np.ndarray]],
               n_rep: int, exact: Callable[[np.ndarray, np.ndarray], float], precision: str = "mixed",
               value: float | None = None, timings: dict[str, float] | None = None,
               covariances: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """FID of ``n_rep`` bootstrap resamples.

    Args:
        real, fake: (N_real, D) and (N_fake, D) features.
        counts: returns the next resample's (real counts, fake counts), integer vectors of length N.
        n_rep: replicates.
        exact: the float64 reference for one replicate given its counts (used where the fast path
            cannot factor a covariance).
        precision: "mixed" (float64 set-up, float32 replicates in the full sample's eigenbasis:
            the default), "eig64" (float32 ``syrk``, float64 factorisation and eigenvalues in the
            original basis), "float64" (everything in float64), "float32" (everything in float32
            in the original basis: eigenvalues lose about 1e-3 relative on features whose spectrum
            decays like Inception's; reference only).
        value: the point estimate; with "mixed" or "eig64", features whose traces exceed
            ``MIXED_MAX_RATIO * value`` (near-identical sets, where FID is a small difference of
            large terms) run in "float64".
        timings: if given, receives "setup" and "replicates" (seconds; for benchmarks).
        covariances: the full samples' (D, D) float64 covariances when the caller has them (the
            point estimate's): "mixed" then builds its basis from them instead of recomputing.

    Returns:
        (n_rep,) float64 replicate FIDs.

    Raises:
        ValueError: unknown ``precision``.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision in ("mixed", "eig64") and value is not None:
        # float32 rows carry about 1e-7 relative error into the traces' part of FID; when FID is a
        # tiny fraction of those traces (near-identical sets) that is not negligible: stay in float64.
        traces = sum(float(x.double().var(0).sum()) for x in (real, fake))
        if traces > MIXED_MAX_RATIO * value:
            precision = "float64"
    start = time.perf_counter()
    rows = np.float64 if precision == "float64" else np.float32
    factor = np.float32 if precision == "float32" else np.float64
    r, f = _Side(real, rows, factor), _Side(fake, rows, factor)
    basis = _eigenbasis(r, f, covariances) if precision == "mixed" else None
    if basis is not None:
        r.transform(basis[0])
        f.transform(basis[1])
    elif precision == "mixed":  # S1 singular: the float64 factorisation decides replicate by replicate
        r.factor_dtype = f.factor_dtype = np.float64
    r.ready()
    f.ready()
    scale = 1.0 / np.sqrt((r.n - 1.0) * (f.n - 1.0))  # the scatter matrices are (N - 1) times the covariances
    out = np.empty(n_rep)
    setup_done = time.perf_counter()
    for i in range(n_rep):
        cr, cf = counts()
        d1, s1, q1 = r.stats(cr)
        d2, s2, q2 = f.stats(cf)
        tr_sqrt = _trace_sqrt(s1, s2)
        if tr_sqrt is None:  # singular in the working precision: the exact path decides what to do
            out[i] = exact(cr, cf)
            continue
        if basis is not None:  # the mean shifts back in the original basis: rows x K^-T and x K
            d1, d2 = d1 @ basis[1].T, d2 @ basis[0].T
        out[i] = _value(r, f, (d1, q1, float(cr.sum())), (d2, q2, float(cf.sum())), scale * tr_sqrt)
    if timings is not None:
        timings.update(setup=setup_done - start, replicates=time.perf_counter() - setup_done)
    return out


def _value(r: _Side, f: _Side, a: tuple[np.ndarray, float, float], b: tuple[np.ndarray, float, float],
           tr_sqrt: float) -> float:
    """A replicate's FID from each side's (mean shift in the original basis, ``sum w ||x - mu||^2``,
    resample size) and ``tr sqrt(S1 S2)`` of the covariances."""
    (d1, q1, n1), (d2, q2, n2) = a, b
    diff = r.mu - f.mu + d1 - d2
    traces = (q1 - n1 * float(d1 @ d1)) / (n1 - 1) + (q2 - n2 * float(d2 @ d2)) / (n2 - 1)
    return max(float(diff @ diff) + traces - 2.0 * tr_sqrt, 0.0)


class SharedReference:
    """FID replicates of several generated sets against one reference under shared resampling counts.

    For paired comparisons (:mod:`ganeval.paired`), where every model's replicate resamples the
    same reference rows and the same latent rows: the reference's resampled covariance and its
    Cholesky factor are formed once per replicate and shared by every model. Precision "eig64"
    (float32 ``syrk`` of the resampled rows, float64 factorisation and eigenvalues in the original
    basis: 2e-6 relative of float64 on 2048-d features); no shared eigenbasis exists for several
    models, so "mixed" does not apply.
    """

    def __init__(self, real: torch.Tensor, fakes: list[torch.Tensor]) -> None:
        self.real = _Side(real, np.float32, np.float64)
        self.real.ready()
        self.fakes: list[_Side] = []
        for x in fakes:
            side = _Side(x, np.float32, np.float64)
            if self.fakes and self.fakes[0].xc.shape == side.xc.shape:
                del side.xc64
                side._buf = self.fakes[0]._buf  # one gather buffer for every model (used one at a time)
            else:
                side.ready()
            self.fakes.append(side)
        self.scale = 1.0 / np.sqrt((self.real.n - 1.0) * (self.fakes[0].n - 1.0))

    def replicate(self, cr: np.ndarray, cf: np.ndarray) -> list[float | None]:
        """Each model's FID on the resample with counts ``cr`` (reference) and ``cf`` (generated
        rows, the same for every model); None where a covariance is not numerically positive
        definite in this precision (the caller's exact path decides)."""
        d1, s1, q1 = self.real.stats(cr)
        c = _factor(s1)
        out: list[float | None] = []
        for f in self.fakes:
            d2, s2, q2 = f.stats(cf)
            t = None if c is None else _trace_sqrt_factored(c, s2)
            out.append(None if t is None else _value(self.real, f, (d1, q1, float(cr.sum())),
                                                     (d2, q2, float(cf.sum())), self.scale * t))
        return out


def fast_path_applies(n_real: int, n_fake: int, dim: int) -> bool:
    """Whether resampled covariances are expected to be full rank (distinct rows well above D)."""
    return min(n_real, n_fake) * (1 - np.exp(-1.0)) > 1.2 * dim
