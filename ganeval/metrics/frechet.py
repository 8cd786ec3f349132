"""Fréchet distance between Gaussians fitted to features: FID (Heusel et al. 2017) done carefully.

The Fréchet (2-Wasserstein) distance between N(mu1, S1) and N(mu2, S2) is

    FD = ||mu1 - mu2||^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2).

The hard part is ``tr sqrt(S1 S2)``. pytorch-fid takes ``scipy.linalg.sqrtm`` of the non-symmetric
product (slow, and complex or NaN when the product is near singular); torch-fidelity takes the
general eigenvalues of the product. Here: factor ``S1 = A A^T`` (Cholesky; pivoted Cholesky, which
stops at the numerical rank, when S1 is singular; the centred features themselves when there are
fewer rows than dimensions),
then ``A^T S2 A`` is symmetric positive semi-definite with the same non-zero eigenvalues as
``S2 S1`` -- it is ``sqrt(S1) S2 sqrt(S1)`` up to an orthogonal similarity -- so
``tr sqrt(S1 S2) = sum_i sqrt(lambda_i(A^T S2 A))`` from one symmetric eigenvalue problem in
float64. Eigenvalues that round-off pushes slightly below zero are clamped to zero (the result
says so in ``notes``), and so is a slightly negative total.

FID depends on the sample count: it is biased upwards by roughly ``c / N`` (Chong & Forsyth
2020, "Effectively Unbiased FID and Inception Score and where to find them"), so every result
carries ``n_real`` and ``n_fake``, and :func:`fid_infinity` fits ``FID(N) = FID_inf + c / N`` over
several N and reports the intercept.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
import torch
from scipy.linalg import blas, lapack

from ..errors import GanevalError
from ..results import Result
from ..validation import features_matrix, same_dim
from . import frechet_bootstrap as fb

# Negative eigenvalues down to this fraction of the largest are round-off and clamp to zero;
# anything more negative means the matrix is not a covariance.
NEG_TOL = 1e-6
BOOTSTRAP_MAX_DIM = 256
STATS_CHUNK = 4096


# ---------------------------------------------------------------------------------------------
# validation


def _vector(x: Any, name: str) -> np.ndarray:
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise GanevalError(f"`{name}` must be a numeric vector, got dtype {arr.dtype}.")
    arr = np.atleast_1d(arr.astype(np.float64))
    if arr.ndim != 1:
        raise GanevalError(f"`{name}` must be a mean vector of shape (D,), got shape {arr.shape}.")
    if not np.isfinite(arr).all():
        raise GanevalError(f"`{name}` contains NaN or Inf; recompute the statistics from finite features.")
    return arr


def _covariance(x: Any, name: str, dim: int) -> np.ndarray:
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise GanevalError(f"`{name}` must be a numeric matrix, got dtype {arr.dtype}.")
    arr = np.atleast_2d(arr.astype(np.float64))
    if arr.shape != (dim, dim):
        raise GanevalError(f"`{name}` must be a ({dim}, {dim}) covariance matching its mean, got shape {arr.shape}.")
    if not np.isfinite(arr).all():
        raise GanevalError(f"`{name}` contains NaN or Inf; recompute the statistics from finite features.")
    scale = float(np.abs(arr).max()) if arr.size else 0.0
    asym = float(np.abs(arr - arr.T).max()) if arr.size else 0.0
    if asym > 1e-6 * max(scale, 1e-300):
        raise GanevalError(f"`{name}` is not symmetric (max |S - S^T| = {asym:.3g}); pass a covariance matrix.")
    if asym > 0:  # float32 round-off: use the symmetric part
        arr = 0.5 * (arr + arr.T)
    return arr


# ---------------------------------------------------------------------------------------------
# the core: tr sqrt(S1 S2) from a factor of S1


def _cholesky(sigma: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factor (Fortran order), or None when ``sigma`` is not numerically positive definite."""
    c, info = lapack.dpotrf(sigma, lower=1, clean=1, overwrite_a=0)
    return c if info == 0 else None


def _pivoted_factor(sigma: np.ndarray, name: str, notes: list[str]) -> np.ndarray:
    """``A`` (D x r) with ``A A^T = sigma`` up to round-off, for singular covariances.

    Pivoted Cholesky (LAPACK ``dpstrf``) stops at the numerical rank r (remaining pivots below
    D * eps * max diag), which costs a fraction of an eigendecomposition. What it leaves out is
    the Schur complement, whose trace ``tr(sigma) - ||A||_F^2`` is round-off for a covariance
    and clearly negative for a matrix that is not positive semi-definite.
    """
    c, piv, rank, _ = lapack.dpstrf(sigma, lower=1)
    a = np.zeros((sigma.shape[0], rank), order="F")
    a[piv - 1] = np.tril(c)[:, :rank]
    rest = float(np.trace(sigma)) - float(np.einsum("ij,ij->", a, a))
    scale = max(float(np.abs(np.diag(sigma)).sum()), 1e-300)
    if rest < -NEG_TOL * scale:
        raise GanevalError(f"`{name}` is not positive semi-definite (what remains after its rank-{rank} part has "
                           f"trace {rest:.3g}); pass a covariance matrix.")
    if rank < sigma.shape[0]:
        notes.append(f"{name} is singular (numerical rank {rank} of {sigma.shape[0]})")
    return a


def _trace_sqrt(factor: np.ndarray, triangular: bool, other: np.ndarray, notes: list[str], name: str = "sigma") -> float:
    """``sum sqrt(eig(A^T S A))`` = ``tr sqrt(A A^T S)`` for a factor ``A`` and a covariance ``S``."""
    if triangular:  # two triangular products cost half of two general ones
        # ``other`` is symmetric, so its transpose is a free Fortran-ordered view of it.
        b = blas.dtrmm(1.0, factor, other.T if other.flags.c_contiguous else np.asfortranarray(other), side=1, lower=1)
        m = blas.dtrmm(1.0, factor, b, side=0, lower=1, trans_a=1)
    else:
        m = factor.T @ (other @ factor)
    m = np.asfortranarray(0.5 * (m + m.T)) if not triangular else m
    w = scipy.linalg.eigh(m, eigvals_only=True, driver="evr", lower=False, check_finite=False, overwrite_a=True)
    top = float(max(w.max(initial=0.0), 0.0))
    neg = w < 0
    if neg.any():
        if w.min() < -NEG_TOL * max(top, 1e-300):
            raise GanevalError(f"`{name}` is not positive semi-definite (eigenvalue {w.min():.3g} of its product with "
                               f"the other covariance, against a largest of {top:.3g}); pass a covariance matrix.")
        notes.append(f"{int(neg.sum())} eigenvalue(s) of the covariance product within round-off below 0 clamped to 0")
    return float(np.sqrt(np.clip(w, 0.0, None)).sum())


@dataclass
class _Gaussian:
    """Mean and covariance, plus what is known about a factor ``A`` with ``A A^T = sigma``.

    ``rows`` (n x D, set when n < D) are centred, scaled data rows with ``rows^T rows = sigma``:
    an exact factor of rank < D, cheaper than any decomposition of sigma. Cholesky factors are
    kept per set of live dimensions, so fixed reference statistics are factored once.
    """

    mu: np.ndarray
    sigma: np.ndarray
    name: str = "sigma"
    rows: np.ndarray | None = None
    _chol: dict[bytes, np.ndarray | None] = field(default_factory=dict)

    def restrict(self, live: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """Covariance and rows on the live dimensions only."""
        if live is None:
            return self.sigma, self.rows
        rows = None if self.rows is None else self.rows[:, live]
        return self.sigma[np.ix_(live, live)], rows

    def cholesky(self, live: np.ndarray | None) -> np.ndarray | None:
        key = b"all" if live is None else np.packbits(live).tobytes()
        if key not in self._chol:
            self._chol[key] = _cholesky(self.restrict(live)[0])
        return self._chol[key]


def _frechet(g1: _Gaussian, g2: _Gaussian, notes: list[str]) -> float:
    if np.array_equal(g1.mu, g2.mu) and np.array_equal(g1.sigma, g2.sigma):
        return 0.0  # identical statistics: exactly zero, not round-off
    diff = g1.mu - g2.mu
    trace = float(np.trace(g1.sigma)) + float(np.trace(g2.sigma))
    # Dimensions constant in both sets (dead ReLU units) have zero rows and columns in both
    # covariances and add nothing to tr sqrt(S1 S2); dropping them keeps Cholesky applicable.
    live = (np.diag(g1.sigma) > 0) | (np.diag(g2.sigma) > 0)
    mask = None if live.all() else live
    (s1, r1), (s2, r2) = g1.restrict(mask), g2.restrict(mask)
    if r1 is not None or r2 is not None:
        # Fewer rows than dimensions: the smaller data factor gives the smallest eigenproblem.
        use_1 = r2 is None or (r1 is not None and r1.shape[0] <= r2.shape[0])
        rows, other, name = (r1, s2, g2.name) if use_1 else (r2, s1, g1.name)
        tr_sqrt = _trace_sqrt(np.asfortranarray(rows.T), False, other, notes, name)  # type: ignore[union-attr]
    elif (c1 := g1.cholesky(mask)) is not None:
        tr_sqrt = _trace_sqrt(c1, True, s2, notes, g2.name)
    elif (c2 := g2.cholesky(mask)) is not None:
        tr_sqrt = _trace_sqrt(c2, True, s1, notes, g1.name)
    else:  # both singular: factor the one of lower rank (the smaller eigenproblem)
        a1, a2 = _pivoted_factor(s1, g1.name, notes), _pivoted_factor(s2, g2.name, notes)
        if a1.shape[1] <= a2.shape[1]:
            tr_sqrt = _trace_sqrt(a1, False, s2, notes, g2.name)
        else:
            tr_sqrt = _trace_sqrt(a2, False, s1, notes, g1.name)
    value = float(diff @ diff) + trace - 2.0 * tr_sqrt
    if value < 0:
        notes.append(f"Fréchet distance {value:.3g} below 0 from round-off clamped to 0")
        value = 0.0
    return value


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), in float64.

    ``||mu1 - mu2||^2 + tr(S1 + S2 - 2 sqrt(S1 S2))`` with ``tr sqrt(S1 S2)`` from the symmetric
    eigenvalues of ``A^T S2 A`` where ``A A^T = S1`` (see the module docstring). Never negative:
    round-off below zero is clamped to 0. Same value as pytorch-fid's
    ``calculate_frechet_distance`` and torch-fidelity's ``fid_statistics_to_metric``.

    Args:
        mu1, mu2: (D,) means.
        sigma1, sigma2: (D, D) covariances (symmetric positive semi-definite).

    Returns:
        The distance (a float >= 0).

    Raises:
        GanevalError: shapes that do not match, NaN/Inf, a matrix that is not a covariance.
    """
    m1 = _vector(mu1, "mu1")
    m2 = _vector(mu2, "mu2")
    if m1.shape != m2.shape:
        raise GanevalError(f"`mu1` has {m1.shape[0]} dimensions but `mu2` has {m2.shape[0]}: both statistics must "
                           "come from the same feature extractor.")
    s1 = _covariance(sigma1, "sigma1", m1.shape[0])
    s2 = _covariance(sigma2, "sigma2", m1.shape[0])
    return _frechet(_Gaussian(m1, s1, "sigma1"), _Gaussian(m2, s2, "sigma2"), [])


# ---------------------------------------------------------------------------------------------
# streaming statistics


class FeatureStats:
    """Streaming mean and covariance of feature rows, in float64, memory independent of N.

    Batches are merged with the pairwise update of Chan, Golub & LeVeque (1979): each batch's own
    mean and centred scatter matrix, combined exactly, so no large raw second moment is ever
    subtracted (the cancellation that makes naive ``E[xx^T] - mu mu^T`` inaccurate). Holds one
    D x D float64 matrix whatever the number of rows.

    Example:
        >>> stats = FeatureStats()
        >>> for batch in batches:            # (B, D) arrays or tensors
        ...     stats.update(batch)
        >>> save_stats("ref.npz", stats.mu, stats.sigma)
    """

    def __init__(self) -> None:
        self._n = 0
        self._mean: np.ndarray | None = None
        self._m2: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Rows seen so far."""
        return self._n

    @property
    def dim(self) -> int | None:
        return None if self._mean is None else int(self._mean.shape[0])

    def update(self, batch: Any) -> FeatureStats:
        """Add the rows of a (B, D) batch (images are flattened).

        Raises:
            GanevalError: NaN/Inf rows, or a feature dimension different from earlier batches.
        """
        x = features_matrix(batch, "batch", min_rows=1)
        if self._mean is not None and x.shape[1] != self._mean.shape[0]:
            raise GanevalError(f"`batch` has {x.shape[1]} features per row but earlier batches had "
                               f"{self._mean.shape[0]}.")
        # One float64 block, reused for every chunk: fresh chunk-sized temporaries per chunk left
        # the C heap (and the peak RSS) growing with the number of chunks.
        block = np.empty((min(STATS_CHUNK, x.shape[0]), x.shape[1]))
        for s in range(0, x.shape[0], STATS_CHUNK):
            xb = block[:min(STATS_CHUNK, x.shape[0] - s)]
            torch.from_numpy(xb).copy_(x[s:s + STATS_CHUNK].detach())
            self._merge(xb)
        return self

    def _merge(self, xb: np.ndarray) -> None:
        """Add the rows of a float64 block, which is centred in place."""
        nb = xb.shape[0]
        mb = xb.mean(0)
        xc = np.subtract(xb, mb, out=xb)
        m2b = xc.T @ xc  # numpy runs ``a.T @ a`` as a symmetric rank-k update (half a matmul's work)
        if self._mean is None or self._m2 is None:
            self._n, self._mean, self._m2 = nb, mb, m2b
            return
        n = self._n
        delta = mb - self._mean
        tot = n + nb
        self._mean = self._mean + delta * (nb / tot)
        m2b += np.outer(delta, delta * (n * nb / tot))
        self._m2 += m2b
        self._n = tot

    @property
    def mu(self) -> np.ndarray:
        """(D,) float64 mean."""
        self._need(1)
        return self._mean.copy()  # type: ignore[union-attr]

    @property
    def sigma(self) -> np.ndarray:
        """(D, D) float64 unbiased covariance (divided by N - 1, like ``np.cov``)."""
        self._need(2)
        m2: np.ndarray = self._m2  # type: ignore[assignment]  # set once _need(2) passed
        return 0.5 * (m2 + m2.T) / (self._n - 1)

    def _need(self, k: int) -> None:
        if self._n < k:
            raise GanevalError(f"FeatureStats has seen {self._n} row(s); statistics need at least {k}.")

    @classmethod
    def of(cls, features: Any, name: str = "features") -> FeatureStats:
        """Statistics of an (N, D) array (validated: at least 2 finite rows)."""
        return cls().update(features_matrix(features, name))


def save_stats(path: str | os.PathLike[str], mu: Any, sigma: Any, *, provenance: dict[str, Any] | None = None) -> None:
    """Write statistics as an ``.npz`` with keys ``mu`` and ``sigma`` (pytorch-fid's format).

    ``provenance`` (features, layer, resize mode, weights sha256, data, N, ...) goes in one extra
    key, ``ganeval``, a JSON string that pytorch-fid and clean-fid ignore. The file is written to
    a temporary name and renamed, so a failure leaves nothing half-written.

    Raises:
        GanevalError: shapes that do not fit, or the file cannot be written.
    """
    import json
    import tempfile

    m = _vector(mu, "mu")
    s = _covariance(sigma, "sigma", m.shape[0])
    extra = {} if provenance is None else {"ganeval": np.array(json.dumps(provenance, sort_keys=True, default=str))}
    target = os.path.abspath(os.fspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), suffix=".npz.tmp")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, mu=m, sigma=s, **extra)  # type: ignore[arg-type]
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise GanevalError(f"Cannot write statistics to {path}: {exc}.") from exc


def stats_provenance(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The provenance :func:`save_stats` recorded in a statistics file (None for other tools' files).

    Raises:
        GanevalError: the file cannot be read, or its ``ganeval`` entry is not JSON.
    """
    import json

    try:
        with np.load(path, allow_pickle=False) as z:
            if "ganeval" not in z.keys():
                return None
            text = str(z["ganeval"])
    except (OSError, ValueError) as exc:
        raise GanevalError(f"{path}: cannot read statistics ({exc}); expected an .npz with 'mu' and 'sigma'.") from exc
    try:
        out = json.loads(text)
    except ValueError as exc:
        raise GanevalError(f"{path}: its 'ganeval' entry is not the JSON ganeval writes ({exc}).") from exc
    return out if isinstance(out, dict) else None


def load_stats(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read ``mu`` and ``sigma`` from an ``.npz``: ours, pytorch-fid's ``--save-stats`` output, or
    clean-fid's statistics files (``np.savez_compressed(mu=, sigma=)``).

    Raises:
        GanevalError: the file is missing, unreadable, or lacks ``mu``/``sigma``.
    """
    from ..arrays import load_npz

    z = load_npz(path)
    if "mu" not in z or "sigma" not in z:
        raise GanevalError(f"{path}: a statistics file needs arrays 'mu' and 'sigma' (found "
                           f"{', '.join(z) or 'none'}).")
    mu, sigma = z["mu"], z["sigma"]
    m = _vector(mu, f"{path}: mu")
    return m, _covariance(sigma, f"{path}: sigma", m.shape[0])


# ---------------------------------------------------------------------------------------------
# FID from features


@dataclass(frozen=True)
class FIDResult(Result):
    """Fréchet distance between Gaussians fitted to real and generated features.

    Attributes:
        value: the distance (>= 0). Biased upwards by about c / n_fake: compare FIDs only at
            equal N, or use :func:`fid_infinity`.
        n_fake, n_real: rows behind each set of statistics (always quote them with the value).
        ci_low, ci_high: bootstrap interval at ``confidence`` for FID at this N (None without
            bootstrap): the replicates' quantiles shifted by their mean's excess over ``value``.
        bootstrap_std: standard deviation of the bootstrap replicates (None without bootstrap).
        n_bootstrap: bootstrap replicates (0 for none).
        confidence: level of the interval.
        dim: feature dimension.
        notes: round-off clamps and other caveats.
    """

    value: float
    n_fake: int
    n_real: int
    ci_low: float | None = None
    ci_high: float | None = None
    bootstrap_std: float | None = None
    n_bootstrap: int = 0
    confidence: float = 0.95
    dim: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        ci = f" [{self.ci_low:.4g}, {self.ci_high:.4g}]" if self.ci_low is not None else ""
        return f"FID(N={self.n_fake} fake, {self.n_real} real) = {self.value:.4g}{ci}"


def _gaussian(x: torch.Tensor, counts: torch.Tensor | None = None, name: str = "features") -> _Gaussian:
    """Statistics of the rows of ``x`` (each repeated ``counts`` times: a bootstrap resample)."""
    if counts is None:
        st = FeatureStats().update(x)
        g = _Gaussian(st.mu, st.sigma, f"covariance of {name}")
        n, xs, w = x.shape[0], x, None
    else:
        keep = counts > 0
        xs, w = x[keep].double(), counts[keep].double()
        n = int(w.sum())
        mu = (w @ xs) / n
        xc = xs - mu
        g = _Gaussian(mu.numpy(), ((xc * w[:, None]).T @ xc / (n - 1)).numpy(), f"covariance of {name}")
    if xs.shape[0] < x.shape[1]:
        xc = xs.double() - torch.from_numpy(g.mu)
        scale = (w / (n - 1)).sqrt()[:, None] if w is not None else 1.0 / math.sqrt(n - 1)
        g.rows = (xc * scale).numpy()
    return g


def _check_pair(real: Any, fake: Any) -> tuple[torch.Tensor, torch.Tensor]:
    r = features_matrix(real, "real_features")
    f = features_matrix(fake, "fake_features")
    same_dim(r, f, "real_features", "fake_features")
    return r.cpu(), f.cpu()


def fid(real_features: Any, fake_features: Any, *, bootstrap: int | None = None, confidence: float = 0.95,
        seed: int = 0) -> FIDResult:
    """FID between two feature sets, with a bootstrap interval.

    Args:
        real_features: (N_real, D) features of reference data (images are flattened).
        fake_features: (N_fake, D) features of generated samples.
        bootstrap: replicates for the interval, both sets resampled with replacement; None
            chooses 100 when D <= 256 and none above (a 2048-d replicate costs about a second of
            CPU); 0 for none.
        confidence: level of the interval: quantiles of the bootstrap replicates, shifted by
            ``mean(replicates) - value`` because duplicates in a resample inflate FID like a
            smaller N would. It describes the spread of FID at this N, not the bias.
        seed: seed of the resampling (same seed, same interval).

    Returns:
        :class:`FIDResult`.

    Raises:
        GanevalError: fewer than 2 rows, NaN/Inf, different dimensions, bad ``bootstrap``.
    """
    r, f = _check_pair(real_features, fake_features)
    d = r.shape[1]
    if bootstrap is None:
        bootstrap = 100 if d <= BOOTSTRAP_MAX_DIM else 0
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0:
        raise GanevalError(f"`bootstrap` must be an integer >= 0, got {bootstrap!r}.")
    if not 0 < confidence < 1:
        raise GanevalError(f"`confidence` must be in (0, 1), got {confidence!r}.")
    notes: list[str] = []
    gr, gf = _gaussian(r, name="real_features"), _gaussian(f, name="fake_features")
    value = _frechet(gr, gf, notes)
    lo = hi = std = None
    if bootstrap:
        reps = _replicates(r, f, int(bootstrap), seed, value=value, covariances=(gr.sigma, gf.sigma))
        alpha = (1 - confidence) / 2
        q_lo, q_hi = np.quantile(reps, [alpha, 1 - alpha])
        # Resampling with replacement inflates FID (duplicate rows act like a smaller N), so the
        # raw quantiles sit above the estimate; shift them so the replicates' mean sits on it.
        shift = float(reps.mean()) - value
        lo, hi = max(float(q_lo) - shift, 0.0), max(float(q_hi) - shift, 0.0)
        std = float(reps.std(ddof=1)) if bootstrap > 1 else 0.0
    elif d > BOOTSTRAP_MAX_DIM:
        notes.append(f"no bootstrap interval for {d}-d features by default (pass bootstrap=K to compute one)")
    return FIDResult(value=value, n_fake=int(f.shape[0]), n_real=int(r.shape[0]), ci_low=lo, ci_high=hi,
                     bootstrap_std=std, n_bootstrap=int(bootstrap), confidence=float(confidence), dim=int(d),
                     notes=tuple(dict.fromkeys(notes)))


def _replicates(r: torch.Tensor, f: torch.Tensor, n_rep: int, seed: int, method: str = "auto",
                value: float | None = None, covariances: tuple[np.ndarray, np.ndarray] | None = None
                ) -> np.ndarray:
    """FID of ``n_rep`` bootstrap resamples of both sets (the same resamples whatever the method).

    ``method``: "exact" (float64 statistics and factorisation per replicate, the reference),
    "mixed" / "eig64" / "float64" / "float32" (:mod:`ganeval.metrics.frechet_bootstrap`:
    covariances from one ``syrk`` of the resampled rows; "mixed" runs the replicates in float32 in
    the full sample's eigenbasis, "eig64" is the float64-eigenvalue path before it), "auto" ("mixed" when the resampled covariances are full
    rank, "exact" otherwise, e.g. fewer rows than dimensions). ``value`` (the point estimate) lets
    "mixed" fall back to float64 for near-identical sets; ``covariances`` (the point estimate's
    float64 covariances) spare "mixed" computing them again for its basis.
    """
    rng = np.random.default_rng(seed)

    def counts() -> tuple[np.ndarray, np.ndarray]:
        return (np.bincount(rng.integers(0, r.shape[0], r.shape[0]), minlength=r.shape[0]),
                np.bincount(rng.integers(0, f.shape[0], f.shape[0]), minlength=f.shape[0]))

    def exact(cr: np.ndarray, cf: np.ndarray) -> float:
        return _frechet(_gaussian(r, torch.from_numpy(cr)), _gaussian(f, torch.from_numpy(cf)), [])

    if method == "auto":
        method = "mixed" if fb.fast_path_applies(r.shape[0], f.shape[0], r.shape[1]) else "exact"
    if method == "exact":
        return np.array([exact(*counts()) for _ in range(n_rep)])
    return fb.replicates(r, f, counts, n_rep, exact, precision=method, value=value, covariances=covariances)


@dataclass(frozen=True)
class FIDInfinity(Result):
    """FID extrapolated to infinitely many generated samples (Chong & Forsyth 2020).

    FID(N) is computed on seeded random subsets of N generated rows against the fixed real
    statistics, and ``FID(N) = value + slope / N`` is fitted by least squares.

    Attributes:
        value: the intercept FID_inf (may fall slightly below 0 for near-identical sets).
        slope: the fitted bias coefficient c (FID is ``value + c / N``).
        r2: coefficient of determination of the fit.
        ns, fids: the subset sizes and the FID at each (for plots).
        n_fake, n_real: rows available.
        notes: caveats (e.g. subsets smaller than the feature dimension).
    """

    value: float
    slope: float
    r2: float
    ns: tuple[int, ...]
    fids: tuple[float, ...]
    n_fake: int
    n_real: int
    notes: tuple[str, ...] = field(default_factory=tuple)


def fid_infinity(real_features: Any, fake_features: Any, *, ns: Any = None, repeats: int = 1,
                 seed: int = 0) -> FIDInfinity:
    """FID_inf: FID at several generated-sample counts N, extrapolated linearly in 1/N to N -> inf.

    Args:
        real_features: (N_real, D) reference features (their statistics stay fixed).
        fake_features: (N_fake, D) generated features.
        ns: subset sizes (each between 2 and N_fake); None: 8 sizes evenly spaced from
            max(N_fake/5, min(2D, N_fake/2)) to N_fake (Chong & Forsyth use 5,000 to 50,000).
        repeats: random subsets averaged per size (sizes equal to N_fake use all rows once).
        seed: seed of the subset choice.

    Returns:
        :class:`FIDInfinity`.

    Raises:
        GanevalError: bad features, fewer than two distinct sizes, a size out of range.
    """
    r, f = _check_pair(real_features, fake_features)
    n_fake = f.shape[0]
    if ns is None:
        # The c/N law holds once N is well above the dimension: start at 2D where N allows it.
        lo = max(2, n_fake // 5, min(2 * r.shape[1], n_fake // 2))
        ns = np.unique(np.linspace(lo, n_fake, 8).round().astype(int))
    sizes = sorted({int(n) for n in np.atleast_1d(np.asarray(ns))})
    if len(sizes) < 2 or sizes[0] < 2 or sizes[-1] > n_fake:
        raise GanevalError(f"`ns` must hold at least two distinct sizes between 2 and {n_fake} (the generated rows), "
                           f"got {list(sizes)}.")
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)) or repeats < 1:
        raise GanevalError(f"`repeats` must be an integer >= 1, got {repeats!r}.")
    notes: list[str] = []
    g_real = _gaussian(r, name="real_features")
    rng = np.random.default_rng(seed)
    fids = []
    for n in sizes:
        vals = []
        for _ in range(1 if n == n_fake else int(repeats)):
            sub = f if n == n_fake else f[torch.from_numpy(rng.choice(n_fake, n, replace=False))]
            vals.append(_frechet(g_real, _gaussian(sub), notes))  # g_real keeps its factor between calls
        fids.append(float(np.mean(vals)))
    if sizes[0] < 2 * r.shape[1]:
        notes.append(f"smallest N ({sizes[0]}) is below twice the feature dimension ({r.shape[1]}); the 1/N fit "
                     "is then less reliable")
    x = 1.0 / np.asarray(sizes, dtype=np.float64)
    y = np.asarray(fids)
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (intercept + slope * x)
    ss = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((resid ** 2).sum()) / ss if ss > 0 else 1.0
    return FIDInfinity(value=float(intercept), slope=float(slope), r2=r2, ns=tuple(sizes), fids=tuple(fids),
                       n_fake=int(n_fake), n_real=int(r.shape[0]), notes=tuple(dict.fromkeys(notes)))
