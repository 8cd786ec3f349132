"""Mode collapse, measured three ways.

* :func:`mode_coverage`: samples against the known modes of a Gaussian mixture (PacGAN, Lin et
  al. 2018; VEEGAN, Srivastava et al. 2017).
* :func:`class_coverage` / :func:`stacked_coverage`: classes predicted by a classifier play the
  modes (digits, MNIST; Stacked MNIST's 1,000 digit triples, Metz et al. 2017).
* :func:`ndb`: Number of statistically Different Bins (Richardson & Weiss 2018): k-means bins
  on the training data and a two-proportion z-test per bin; works on any data or features.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import GanevalError
from ..results import Result
from ..validation import as_matrix, as_tensor, same_dim
from ..validation import check_int as _count
from ..validation import check_positive as _positive

# Share of a 2-D Gaussian's mass within 3 std of its centre: 1 - exp(-9/2).
HQ_MASS = 1.0 - math.exp(-4.5)
NDB_MIN_PER_BIN = 5


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) in nats; inf where p puts mass on a zero of q."""
    nz = p > 0
    if np.any(q[nz] == 0):
        return math.inf
    return float(np.sum(p[nz] * np.log(p[nz] / q[nz])))


def _js(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in nats (bounded by log 2)."""
    m = 0.5 * (p + q)
    return 0.5 * _kl(p, m) + 0.5 * _kl(q, m)


# ---------------------------------------------------------------------------------------------
# mixtures of Gaussians


def hq_threshold(dim: int) -> float:
    """Default high-quality radius, in std, for ``dim``-dimensional isotropic modes.

    The radius that holds the same share of a mode's own samples as 3 std holds in 2-D
    (1 - e^-4.5 = 98.89 %): exactly 3 in 2-D (the PacGAN / VEEGAN protocol), about 36.3 in
    1200-D, where a mode's own samples lie at sqrt(1200) = 34.6 std from its centre.
    """
    if dim == 2:
        return 3.0
    from scipy.stats import chi2

    return float(math.sqrt(chi2.ppf(HQ_MASS, int(dim))))


@dataclass(frozen=True)
class ModeCoverage(Result):
    """Mode coverage of samples on a mixture.

    Attributes:
        modes_covered: modes holding at least ``min_count`` high-quality samples.
        n_modes: number of modes.
        hq_fraction: fraction of samples closer than ``threshold`` std to their nearest mode.
        reverse_kl: KL(histogram of high-quality samples over modes || uniform), nats
            (``None`` when no sample is high quality).
        js_divergence: Jensen-Shannon divergence of the same two histograms, nats (PacGAN's log).
        counts: high-quality samples per mode.
        dominant_mode: the mode nearest to most samples (whatever their quality).
        top2_share: fraction of all samples whose nearest mode is one of the two most visited.
        n_samples, threshold, min_count: the protocol (``threshold`` as resolved, in std).
        assignment: nearest mode of each sample (kept out of ``to_dict``).
        distance_std: distance to the nearest mode in units of std (kept out of ``to_dict``).
    """

    modes_covered: int
    n_modes: int
    hq_fraction: float
    reverse_kl: float | None
    js_divergence: float | None
    counts: list[int]
    dominant_mode: int
    top2_share: float
    n_samples: int
    threshold: float
    min_count: int
    assignment: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros(0, int))
    distance_std: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros(0))
    _private = ("assignment", "distance_std")

    @property
    def covered(self) -> np.ndarray:
        """(K,) bool: which modes are covered."""
        return np.asarray(self.counts) >= self.min_count


def mode_coverage(samples: Any, means: Any, std: float, *, threshold: float | None = None,
                  min_count: int = 1) -> ModeCoverage:
    """Mode coverage as in PacGAN's (Lin et al. 2018) and VEEGAN's (Srivastava et al. 2017) evaluation.

    Each sample goes to its nearest mode (Euclidean distance divided by the shared std); it is
    *high quality* when that distance is below ``threshold`` std (strictly, as PacGAN's code);
    a mode is *covered* when it holds at least ``min_count`` high-quality samples;
    ``reverse_kl`` is KL(p_hq || uniform) of the histogram of high-quality samples over the
    modes (0 = perfectly balanced, log K = one mode). The published protocol draws 2,500 samples
    of the 2-D ring and grid.

    Args:
        samples: (N, D) generated points.
        means: (K, D) mode centres.
        std: the modes' common standard deviation (> 0).
        threshold: high-quality radius in std; None: :func:`hq_threshold` of D (3 in 2-D).
        min_count: high-quality samples a mode needs to count as covered (1 in PacGAN).

    Returns:
        A :class:`ModeCoverage`.

    Raises:
        GanevalError: means of another dimension than the samples, std <= 0, threshold <= 0,
            min_count < 1, NaN or Inf input.
    """
    x = as_matrix(samples, "samples", min_rows=1, dtype=torch.float64).cpu()
    mu = as_matrix(means, "means", min_rows=1, dtype=torch.float64).cpu()
    same_dim(x, mu, "samples", "means")
    std = _positive(std, "std")
    thr = hq_threshold(x.shape[1]) if threshold is None else _positive(threshold, "threshold")
    min_count = _count(min_count, "min_count", 1)
    # The direct (non-matmul) distance is exact for points built at known distances.
    dist, assign = torch.cdist(x, mu, compute_mode="donot_use_mm_for_euclid_dist").min(dim=1)
    dist_std = (dist / std).numpy()
    assign_np = assign.numpy()
    hq = dist_std < thr
    k = mu.shape[0]
    counts = np.bincount(assign_np[hq], minlength=k)
    visits = np.bincount(assign_np, minlength=k)
    n_hq = int(hq.sum())
    uniform = np.full(k, 1.0 / k)
    p = counts / n_hq if n_hq else None
    return ModeCoverage(
        modes_covered=int((counts >= min_count).sum()), n_modes=k, hq_fraction=float(hq.mean()),
        reverse_kl=_kl(p, uniform) if p is not None else None,
        js_divergence=_js(p, uniform) if p is not None else None,
        counts=counts.tolist(), dominant_mode=int(visits.argmax()),
        top2_share=float(np.sort(visits)[-2:].sum() / len(assign_np)), n_samples=int(x.shape[0]),
        threshold=thr, min_count=min_count, assignment=assign_np, distance_std=dist_std)


# ---------------------------------------------------------------------------------------------
# classes through a classifier


@dataclass(frozen=True)
class ClassCoverage(Result):
    """Class coverage of samples, classes assigned by a classifier.

    Attributes:
        classes_covered: classes predicted for at least ``min_count`` samples.
        n_classes: number of classes (1,000 for Stacked MNIST).
        reverse_kl: KL(p_samples || p_data) of the predicted-class histogram against the data's
            class distribution, nats (the "KL" of Unrolled GAN / VEEGAN / PacGAN's Stacked MNIST
            tables); inf (``null`` in JSON) when samples fall in a class the data lacks.
        js_divergence: Jensen-Shannon divergence of the same two histograms, nats.
        confident_fraction: fraction of samples whose top class probability is >= ``confidence``
            (every channel's, for stacked images); None when labels were given.
        confident_classes_covered: classes holding at least ``min_count`` confident samples.
        counts: samples predicted per class.
        reference: the data's class proportions used for the KL.
        missing: classes below ``min_count``.
        n_samples, confidence, min_count: the protocol.
        classifier: provenance of the classifier (name, weights sha256, accuracy) where the
            caller records it (the ``class_coverage`` adapter does); None otherwise.
        predictions: predicted class of each sample (kept out of ``to_dict``).
    """

    classes_covered: int
    n_classes: int
    reverse_kl: float
    js_divergence: float
    confident_fraction: float | None
    confident_classes_covered: int | None
    counts: list[int]
    reference: list[float]
    missing: list[int]
    n_samples: int
    confidence: float | None
    min_count: int
    classifier: dict[str, Any] | None = None
    predictions: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros(0, int))
    _private = ("predictions",)


def _reference(reference: Any, n_classes: int) -> np.ndarray:
    if reference is None:
        return np.full(n_classes, 1.0 / n_classes)
    r = as_tensor(reference, "reference", dtype=torch.float64).cpu().numpy()
    if r.shape != (n_classes,) or np.any(r < 0) or r.sum() <= 0:
        raise GanevalError(f"`reference` must hold {n_classes} non-negative class proportions or counts "
                           f"(e.g. np.bincount(train_labels, minlength={n_classes})), got shape {r.shape}.")
    return r / r.sum()


def _probs_or_labels(x: Any, name: str, n_classes: int, label_ndim: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(labels, top probabilities or None) from (..., n_classes) probabilities or integer labels."""
    t = as_tensor(x, name, min_rows=1, dtype=torch.float64).cpu()
    if t.ndim == label_ndim:
        lab = t.numpy()
        if np.any(lab != np.round(lab)) or np.any(lab < 0) or np.any(lab >= n_classes):
            raise GanevalError(f"`{name}` as labels must be integers in [0, {n_classes}), got values in "
                               f"[{lab.min():g}, {lab.max():g}].")
        return lab.astype(np.int64), None
    if t.ndim != label_ndim + 1 or t.shape[-1] != n_classes:
        raise GanevalError(f"`{name}` must be labels of {label_ndim} dimension(s) or probabilities with a last axis "
                           f"of {n_classes} classes, got shape {tuple(t.shape)}.")
    if t.min() < 0 or t.max() > 1 or (t.sum(-1) - 1).abs().max() > 1e-3:
        raise GanevalError(f"`{name}` rows must be class probabilities summing to 1 (apply softmax to logits).")
    top_t, lab_t = t.max(-1)
    return lab_t.numpy(), top_t.numpy()


def _class_summary(pred: np.ndarray, confident: np.ndarray | None, n_classes: int, reference: Any,
                   confidence: float | None, min_count: int) -> ClassCoverage:
    ref = _reference(reference, n_classes)
    counts = np.bincount(pred, minlength=n_classes)
    p = counts / len(pred)
    conf_counts = np.bincount(pred[confident], minlength=n_classes) if confident is not None else None
    return ClassCoverage(
        classes_covered=int((counts >= min_count).sum()), n_classes=n_classes, reverse_kl=_kl(p, ref),
        js_divergence=_js(p, ref),
        confident_fraction=float(confident.mean()) if confident is not None else None,
        confident_classes_covered=int((conf_counts >= min_count).sum()) if conf_counts is not None else None,
        counts=counts.tolist(), reference=ref.tolist(), missing=np.flatnonzero(counts < min_count).tolist(),
        n_samples=int(len(pred)), confidence=confidence if confident is not None else None, min_count=min_count,
        predictions=pred)


def class_coverage(probs_or_labels: Any, n_classes: int, *, reference: Any = None, confidence: float = 0.9,
                   min_count: int = 1) -> ClassCoverage:
    """Which classes the samples visit, as a classifier sees them.

    A class is covered when the classifier's top class is it for at least ``min_count``
    samples. ``reverse_kl`` = KL(p_samples || p_data) (the direction of the mode-collapse
    literature: missing classes cost nothing by themselves, piling onto few classes costs up to
    log K); ``confident_fraction`` tells whether the classifier recognises the samples at all
    (noise images get low-confidence predictions spread over many classes).

    Args:
        probs_or_labels: (N, n_classes) class probabilities, or (N,) integer predicted labels.
        n_classes: number of classes (>= 2).
        reference: (n_classes,) class proportions or counts of the data; None: uniform.
        confidence: top-class probability that makes a prediction confident (in (0, 1]).
        min_count: predictions a class needs to count as covered.

    Returns:
        A :class:`ClassCoverage`.

    Raises:
        GanevalError: shapes or values that are neither probabilities nor labels in range, a
            reference of the wrong length, confidence outside (0, 1], min_count < 1.
    """
    n_classes = _count(n_classes, "n_classes", 2)
    min_count = _count(min_count, "min_count", 1)
    confidence = _confidence(confidence)
    pred, top = _probs_or_labels(probs_or_labels, "probs_or_labels", n_classes, label_ndim=1)
    return _class_summary(pred, None if top is None else top >= confidence, n_classes, reference, confidence,
                          min_count)


def _confidence(confidence: Any) -> float:
    c = _positive(confidence, "confidence")
    if c > 1:
        raise GanevalError(f"`confidence` is a probability in (0, 1], got {confidence!r}.")
    return c


def stacked_coverage(channel_probs_or_labels: Any, *, n_digits: int = 10, reference: Any = None,
                     confidence: float = 0.9, min_count: int = 1) -> ClassCoverage:
    """Stacked MNIST mode coverage (Metz et al. 2017; VEEGAN; PacGAN): one mode per digit triple.

    Each channel is classified on its own; the mode of a sample is the number its channels'
    digits spell (100a + 10b + c for three channels), so there are ``n_digits ** C`` modes. The
    protocol draws 26,000 samples and reports the modes covered (>= 1 sample) and
    KL(p_samples || uniform over the 1,000 modes).

    Args:
        channel_probs_or_labels: (N, C, n_digits) per-channel probabilities or (N, C) labels.
        n_digits: classes per channel (10).
        reference: (n_digits ** C,) mode proportions or counts; None: uniform (the protocol).
        confidence: a sample is confident when every channel's top probability reaches it.
        min_count: samples a mode needs to count as covered.

    Returns:
        A :class:`ClassCoverage` over ``n_digits ** C`` modes.

    Raises:
        GanevalError: as :func:`class_coverage`.
    """
    n_digits = _count(n_digits, "n_digits", 2)
    min_count = _count(min_count, "min_count", 1)
    confidence = _confidence(confidence)
    lab, top = _probs_or_labels(channel_probs_or_labels, "channel_probs_or_labels", n_digits, label_ndim=2)
    n_ch = lab.shape[1]
    pred = lab @ (n_digits ** np.arange(n_ch - 1, -1, -1, dtype=np.int64))
    conf = None if top is None else np.asarray((top >= confidence).all(1))
    return _class_summary(pred, conf, n_digits ** n_ch, reference, confidence, min_count)


# ---------------------------------------------------------------------------------------------
# NDB


@dataclass(frozen=True)
class NDBBins:
    """k-means bins of a training set (the statistics step of :func:`ndb`).

    Attributes:
        centers: (K, D) bin centres (the means of their training rows over every dimension), in
            whitened units when ``mean``/``scale`` are set.
        proportions: (K,) share of the training rows in each bin, largest first.
        n: training rows.
        mean, scale: (D,) whitening applied before binning (None: none).
        seed: k-means seed (it also draws ``dims``).
        dims: sorted indices of the dimensions k-means and the assignment use; None: every one.
        n_init: k-means restarts.
    """

    centers: np.ndarray
    proportions: np.ndarray
    n: int
    mean: np.ndarray | None
    scale: np.ndarray | None
    seed: int
    dims: np.ndarray | None = None
    n_init: int = 10

    @property
    def bins(self) -> int:
        return int(self.centers.shape[0])

    def assign(self, x: torch.Tensor, device: str | torch.device | None = None) -> np.ndarray:
        """Nearest bin of each row of an (N, D) float64 tensor, on ``dims`` (exact, chunked: :func:`ganeval.kernels.knn`)."""
        from ..kernels import knn

        if self.mean is not None:
            x = (x - torch.from_numpy(self.mean)) / torch.from_numpy(self.scale)  # type: ignore[arg-type]
        c = torch.from_numpy(self.centers)
        if self.dims is not None:
            idx = torch.from_numpy(self.dims)
            x, c = x[:, idx], c[:, idx]
        return knn(x, c, 1, device=device)[1][:, 0].numpy()


def _enough(n: int, bins: int, name: str) -> None:
    if n < NDB_MIN_PER_BIN * bins:
        raise GanevalError(
            f"`{name}` has {n} rows, too few for {bins} bins: the per-bin z-test needs about "
            f"{NDB_MIN_PER_BIN} rows per bin (>= {NDB_MIN_PER_BIN * bins}); use more rows or "
            f"bins <= {max(n // NDB_MIN_PER_BIN, 1)}.")


NDB_AUTO_DIMS = 1000  # above this many dimensions the original bins on a random sixth of them


def ndb_dims(d: int, max_dims: int | str | None, seed: int) -> np.ndarray | None:
    """The dimensions NDB bins on: None (every one) or sorted indices drawn with ``seed``.

    ``max_dims``: "auto" (the original's rule: ``d // 6`` dimensions when ``d`` > 1,000, else
    every one), None (every dimension) or a number of dimensions.
    """
    if max_dims is None:
        return None
    if max_dims == "auto":
        if d <= NDB_AUTO_DIMS:
            return None
        use = d // 6
    else:
        use = _count(max_dims, "max_dims", 1)
    if use >= d:
        return None
    return np.sort(np.random.default_rng(int(seed)).choice(d, use, replace=False))


def ndb_bins(train: Any, *, bins: int = 100, seed: int = 0, whiten: bool = False, max_iter: int = 100,
             n_init: int = 10, max_dims: int | str | None = "auto") -> NDBBins:
    """k-means bins of the training data, as Richardson & Weiss's ``NDB.construct_bins``.

    scikit-learn ``KMeans`` (k-means++, ``n_init`` restarts, seeded) in float64 on the used
    dimensions; each bin's centre is then the mean of its training rows over every dimension, and
    the training shares come from the k-means labels, as the original does.

    Args:
        train: (M, ...) training rows (images are flattened).
        bins: number of bins K.
        seed: k-means ``random_state``; also draws the dimensions when they are subsampled.
        whiten: standardise each dimension by the training mean and std first.
        max_iter: Lloyd iterations at most (100, as the reference code).
        n_init: k-means restarts (10, scikit-learn's default when the original was written).
        max_dims: "auto" (the original: a seeded random ``d // 6`` of the dimensions above 1,000
            dimensions, every one below), None (every dimension), or a number of dimensions.

    Returns:
        :class:`NDBBins`, bins sorted by their training share, largest first.

    Raises:
        GanevalError: bins < 2, fewer than 5 training rows per bin, NaN input, bad ``n_init`` or
            ``max_dims``.
    """
    from sklearn.cluster import KMeans

    bins = _count(bins, "bins", 2)
    n_init = _count(n_init, "n_init", 1)
    tr = as_matrix(train, "train", min_rows=2, dtype=torch.float64).cpu()
    _enough(tr.shape[0], bins, "train")
    if max_dims not in ("auto", None):
        _count(max_dims, "max_dims", 1)
    mean = scale = None
    if whiten:
        # Per-dimension standardisation, with the reference code's epsilon for constant pixels.
        mean, scale = tr.mean(0), tr.std(0, unbiased=False) + 1e-6
        tr = (tr - mean) / scale
    x = tr.numpy()
    dims = ndb_dims(x.shape[1], max_dims, seed)
    used = x if dims is None else x[:, dims]
    km = KMeans(n_clusters=bins, n_init=n_init, max_iter=int(max_iter), random_state=int(seed)).fit(used)
    labels = torch.from_numpy(km.labels_.astype(np.int64))
    counts = np.bincount(km.labels_, minlength=bins)
    sums = torch.zeros(bins, x.shape[1], dtype=torch.float64).index_add_(0, labels, tr)
    centers = (sums / torch.from_numpy(np.maximum(counts, 1)).unsqueeze(1).double()).numpy()
    for i in np.flatnonzero(counts == 0):  # scikit-learn relocates empty clusters, so this is a guard only
        centers[i, slice(None) if dims is None else dims] = km.cluster_centers_[i]
    order = np.argsort(-counts, kind="stable")
    return NDBBins(centers=centers[order], proportions=counts[order] / counts.sum(), n=int(x.shape[0]),
                   mean=None if mean is None else mean.numpy(), scale=None if scale is None else scale.numpy(),
                   seed=int(seed), dims=dims, n_init=n_init)


@dataclass(frozen=True)
class NDBResult(Result):
    """Number of statistically Different Bins (Richardson & Weiss 2018).

    Attributes:
        ndb: bins whose sample share differs from the reference share at level ``alpha`` (or,
            with ``z_threshold`` set, by more than ``z_threshold`` standard errors).
        ndb_fraction: ``ndb / bins`` (NDB/K; about ``alpha`` for a perfect model).
        js_divergence: Jensen-Shannon divergence of the two bin histograms, nats.
        bins, alpha, seed, whiten: the protocol.
        z_threshold: |z| above which a bin differs, replacing ``alpha`` (None: ``alpha`` decides).
        n_init: k-means restarts behind the bins.
        dims_used, dims_total: dimensions the bins were built and assigned on, out of all.
        dims: their indices when a subset (drawn with ``seed``; None: every dimension).
        note: automatic choices made for the caller (e.g. bins lowered for small data).
        n_samples, n_reference, n_train: rows behind the sample share, the reference share, the bins.
        sample_proportions, reference_proportions: (K,) bin shares, bins ordered largest first.
        z: (K,) pooled two-proportion z statistics, (sample - reference) / SE.
        different_bins: indices of the significantly different bins.
        assignment: bin of each sample (kept out of ``to_dict``).
    """

    ndb: int
    ndb_fraction: float
    js_divergence: float
    bins: int
    alpha: float
    seed: int
    whiten: bool
    n_samples: int
    n_reference: int
    n_train: int
    sample_proportions: list[float]
    reference_proportions: list[float]
    z: list[float]
    different_bins: list[int]
    z_threshold: float | None = None
    n_init: int = 10
    dims_used: int = 0
    dims_total: int = 0
    dims: list[int] | None = None
    note: str | None = None
    assignment: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros(0, int))
    _private = ("assignment",)


def two_proportion_z(p1: np.ndarray, n1: int, p2: np.ndarray, n2: int) -> np.ndarray:
    """Pooled two-proportion z statistics (p1 - p2) / SE; 0 where both shares are 0 (or 1)."""
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return np.divide(p1 - p2, se, out=np.zeros_like(se), where=se > 0)


def ndb(samples: Any, train: Any, *, bins: int = 100, alpha: float = 0.05, z_threshold: float | None = None,
        seed: int = 0, reference: Any = None, whiten: bool = False, n_init: int = 10,
        max_dims: int | str | None = "auto", device: str | torch.device | None = None) -> NDBResult:
    """NDB and JS divergence of samples against training data (Richardson & Weiss 2018).

    The training rows are clustered into ``bins`` k-means bins; samples (and the reference
    rows) go to the nearest bin centre; each bin's sample share is compared with its reference
    share by a pooled two-proportion z-test (two-sided), and NDB counts the bins with
    p < ``alpha``. Works on pixels or on features (pass both sides in the same space).

    Args:
        samples: (N, ...) generated samples (images are flattened).
        train: (M, ...) training data, or :class:`NDBBins` from :func:`ndb_bins` (reused bins;
            ``bins``, ``seed``, ``whiten``, ``n_init`` and ``max_dims`` are then theirs).
        bins: number of k-means bins K (100 in the paper).
        alpha: significance level of each bin's two-sided test.
        z_threshold: the original's alternative: a bin differs when |z| > z_threshold (alpha is
            then not used); None: alpha decides.
        seed: k-means seed (and the draw of the dimensions when they are subsampled).
        reference: (R, ...) held-out rows whose bin shares are the reference; None: the training
            rows' shares (the paper).
        whiten: standardise each dimension by the training mean and std before binning.
        n_init: k-means restarts (10).
        max_dims: "auto" (the original: above 1,000 dimensions, bin on a seeded random sixth of
            them, recorded in ``dims``), None (every dimension) or a number of dimensions.
        device: where the nearest-centre search runs (k-means itself runs in scikit-learn).

    Returns:
        An :class:`NDBResult`.

    Raises:
        GanevalError: dimensions that disagree, fewer than 5 rows per bin in ``samples``,
            ``train`` or ``reference``, alpha outside (0, 1), a non-positive z_threshold, bins < 2.
    """
    alpha = _positive(alpha, "alpha")
    if alpha >= 1:
        raise GanevalError(f"`alpha` is a significance level in (0, 1), got {alpha!r}.")
    if z_threshold is not None:
        z_threshold = _positive(z_threshold, "z_threshold")
    x = as_matrix(samples, "samples", min_rows=2, dtype=torch.float64).cpu()
    if isinstance(train, NDBBins):
        b = train
        if b.centers.shape[1] != x.shape[1]:
            raise GanevalError(f"`samples` has {x.shape[1]} features per row but the bins were built on "
                               f"{b.centers.shape[1]}: bin data from the same space.")
    else:
        tr = as_matrix(train, "train", min_rows=2, dtype=torch.float64).cpu()
        same_dim(x, tr, "samples", "train")
        _enough(tr.shape[0], _count(bins, "bins", 2), "train")
        _enough(x.shape[0], int(bins), "samples")
        b = ndb_bins(tr, bins=bins, seed=seed, whiten=whiten, n_init=n_init, max_dims=max_dims)
    _enough(x.shape[0], b.bins, "samples")
    if reference is None:
        ref_p, n_ref = b.proportions, b.n
    else:
        r = as_matrix(reference, "reference", min_rows=2, dtype=torch.float64).cpu()
        same_dim(x, r, "samples", "reference")
        _enough(r.shape[0], b.bins, "reference")
        ref_p, n_ref = np.bincount(b.assign(r, device), minlength=b.bins) / r.shape[0], int(r.shape[0])
    assign = b.assign(x, device)
    p = np.bincount(assign, minlength=b.bins) / x.shape[0]
    z = two_proportion_z(p, x.shape[0], ref_p, n_ref)
    from scipy.stats import norm

    different = np.abs(z) > z_threshold if z_threshold is not None else 2.0 * norm.sf(np.abs(z)) < alpha
    n_diff = int(different.sum())
    return NDBResult(
        ndb=n_diff, ndb_fraction=n_diff / b.bins, js_divergence=_js(p, ref_p), bins=b.bins, alpha=alpha,
        seed=b.seed, whiten=b.mean is not None, n_samples=int(x.shape[0]), n_reference=n_ref, n_train=b.n,
        sample_proportions=p.tolist(), reference_proportions=np.asarray(ref_p).tolist(), z=z.tolist(),
        different_bins=np.flatnonzero(different).tolist(), z_threshold=z_threshold, n_init=b.n_init,
        dims_used=int(b.centers.shape[1] if b.dims is None else len(b.dims)), dims_total=int(b.centers.shape[1]),
        dims=None if b.dims is None else b.dims.tolist(), assignment=assign)
