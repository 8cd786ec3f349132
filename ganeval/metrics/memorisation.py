"""Nearest-neighbour memorisation checks: does the generator copy its training set?

Three views of the same question, all built on exact nearest-training-neighbour distances
(:func:`ganeval.kernels.knn`):

* **copy rate**: the fraction of samples nearer to the training set than the ``percentile``-th
  percentile of how near genuinely new data sits (held-out ``test`` points to ``train``). Fresh
  samples score about ``percentile / 100``; a copying generator scores far more.
* **C_T** (Meehan, Chaudhuri & Dasgupta 2020, "A non-parametric test to detect data-copying in
  generative models", AISTATS), as the authors' ``data_copying_tests.py`` computes it: the
  training set is cut into k-means cells by scikit-learn's ``KMeans`` (``n_init`` restarts,
  ``random_state=seed``, fitted in float64 on the CPU), and test points and samples go to their
  cell with ``predict``, as there, so that the same seed gives the authors' partition and their
  C_T (``kmeans="torch"``: ganeval's own float64 k-means, :mod:`ganeval.metrics.kmeans`, on the
  features' device, for large feature sets on a GPU; its partitions differ from scikit-learn's
  run for run but agree in distribution, docs/validity.md); in each cell
  the distances of samples and of test points to the cell's training points are compared with a
  Mann-Whitney U test, Z-scored with the authors' continuity correction (U centred at
  ``mn/2 - 0.5``; ``continuity=False`` drops it); C_T averages the Z-scores over the cells
  holding *more than* ``min_cell_samples`` samples (τ·m, strict as ``Q_m(π) > τ`` with
  τ = 20/m), weighted by the cell's share of test points. Cells without test points, where the
  authors' code raises, are left out and counted (``cells_empty``). ≈ 0 for a generator that
  neither copies nor underfits; negative means samples sit closer to the training points than
  new data does (copying); positive means underfitting.
* **authenticity** (Alaa, van Breugel, Saveliev & van der Schaar 2022, "How faithful is your
  synthetic data?", ICML): a sample is *unauthentic* when it is nearer to its nearest training
  point than that training point's own nearest other training point; authenticity is the
  fraction of authentic samples. The same rule applied to the test points gives the baseline of
  real, unseen data.

The sample indices and their nearest training examples are kept (out of ``to_dict``) so that
the report can draw Figure 2 of Goodfellow et al. 2014: samples beside their nearest training
example.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import GanevalError
from ..kernels import _device, knn
from ..results import Result
from ..validation import as_points, same_dim
from .kmeans import kmeans, kmeans_fit

__all__ = ["KMEANS", "MemorisationResult", "kmeans", "memorisation", "nearest_neighbours"]

KMEANS = ("sklearn", "torch")  # the k-means that can cut C_T's cells; the first is the default


@dataclass(frozen=True)
class MemorisationResult(Result):
    """Nearest-training-neighbour statistics of generated samples against a held-out baseline.

    Attributes:
        copy_rate: fraction of samples whose nearest-training distance is <= ``copy_threshold``.
        copy_threshold: the ``percentile``-th percentile of the test-to-train distances.
        percentile: the percentile used (fresh samples score a copy rate of about percentile/100).
        median_distance: median sample-to-train nearest-neighbour distance.
        median_baseline_distance: median test-to-train nearest-neighbour distance.
        distance_ratio: median_distance / median_baseline_distance (< 1: samples hug the training set).
        c_t: Meehan et al.'s C_T (None when no cell holds enough samples).
        n_cells: k-means cells the training set was cut into.
        cells_used: cells holding test points and more than ``min_cell_samples`` samples.
        cell_z: the Mann-Whitney Z-score of each used cell.
        min_cell_samples: the paper's τ·m (20); a cell needs more samples than this.
        cells_empty: cells left out for holding no test point (the authors' code raises there).
        cells_sparse: cells left out for holding ``min_cell_samples`` samples or fewer.
        cell_ids: the index of each used cell (``cell_z[i]`` belongs to cell ``cell_ids[i]``).
        cell_train_counts, cell_test_counts, cell_sample_counts: points of each kind in each cell.
        continuity: whether Z carries the authors' continuity correction.
        kmeans: the k-means that cut the cells: "sklearn" (scikit-learn's ``KMeans``, the
            authors' choice) or "torch" (:func:`ganeval.metrics.kmeans.kmeans_fit`).
        kmeans_restarts: k-means restarts (the least-inertia partition is kept).
        kmeans_inertia: the kept partition's within-cell sum of squares.
        authenticity: fraction of samples that are authentic (Alaa et al. 2022).
        authenticity_baseline: the same fraction for the test points (real, unseen data).
        n_samples, n_train, n_test, dim: counts and dimension.
        warning: caveats about the estimate (too few test points for the percentile, no usable cell).
        space: what the points were ("pixels", "features: <extractor>", ...), set by the caller.
        sample_distances, sample_neighbours: each sample's nearest-training distance and index.
        baseline_distances, baseline_neighbours: the same for the test points.
        sample_authentic: per-sample authenticity flags.
    """

    copy_rate: float
    copy_threshold: float
    percentile: float
    median_distance: float
    median_baseline_distance: float
    distance_ratio: float | None
    c_t: float | None
    n_cells: int
    cells_used: int
    cell_z: list[float]
    min_cell_samples: int
    cells_empty: int
    cells_sparse: int
    cell_ids: list[int]
    cell_train_counts: list[int]
    cell_test_counts: list[int]
    cell_sample_counts: list[int]
    continuity: bool
    kmeans: str
    kmeans_restarts: int
    kmeans_inertia: float
    authenticity: float
    authenticity_baseline: float
    n_samples: int
    n_train: int
    n_test: int
    dim: int
    warning: str | None = None
    space: str | None = None
    sample_distances: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros(0))
    sample_neighbours: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros(0, int))
    baseline_distances: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros(0))
    baseline_neighbours: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros(0, int))
    sample_authentic: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros(0, bool))
    _private = ("sample_distances", "sample_neighbours", "baseline_distances", "baseline_neighbours",
                "sample_authentic")


def nearest_neighbours(queries: Any, reference: Any, *, k: int = 1, memory_budget: int | None = None,
                       device: str | torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact k nearest neighbours, for the paper's sample-beside-nearest-training-example grid.

    Args:
        queries: (n, ...) points (images are flattened).
        reference: (N, ...) points, e.g. the training set.
        k: neighbours per query (1 <= k <= N).
        memory_budget: workspace bound in bytes.
        device: "cpu", "cuda", "auto" or None.

    Returns:
        ``(distances, indices)``: (n, k) float32 ascending Euclidean distances and int64 indices
        into ``reference`` (ties broken by the lower index), on the CPU.

    Raises:
        GanevalError: empty or NaN / Inf input, mismatched dimensions, bad ``k``.
    """
    return knn(queries, reference, k, memory_budget=memory_budget, device=device)


def _midranks(a: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (as scipy.stats.rankdata)."""
    _, inv, counts = np.unique(a, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + 1 + ends) / 2.0)[inv]


def _mann_whitney_z(gen: np.ndarray, real: np.ndarray, continuity: bool = False) -> float:
    """Z-scored Mann-Whitney U of ``gen`` against ``real`` (U counts gen > real, ties half).

    ``continuity``: the authors' correction, U centred at ``mn/2 - 0.5`` (``Zu`` in
    ``data_copying_tests.py``: it adds ``0.5 / sd`` to every Z rather than shrinking |Z|). No tie
    correction of the variance, as there.
    """
    m, n = len(gen), len(real)
    u = _midranks(np.concatenate([gen, real]))[:m].sum() - m * (m + 1) / 2.0
    centre = m * n / 2.0 - (0.5 if continuity else 0.0)
    return float((u - centre) / math.sqrt(m * n * (m + n + 1) / 12.0))


def _nn_dist64(q: torch.Tensor, ref: torch.Tensor, kw: dict[str, Any]) -> np.ndarray:
    """Float64 distance of each query to its (exact) nearest reference point.

    The U statistic compares these distances across two sets: float32 values would tie or swap
    pairs that differ in the 7th digit, so they are recomputed in float64 from the inputs.
    """
    j = knn(q, ref, 1, **kw)[1][:, 0]
    return (q.double() - ref[j.to(ref.device)].double()).norm(dim=1).cpu().numpy()


@dataclass(frozen=True)
class _Cells:
    """What C_T's partition looked like: per-cell counts and the cells left out, with why."""

    c_t: float | None
    z: list[float]
    used: list[int]
    train_counts: list[int]
    test_counts: list[int]
    sample_counts: list[int]
    inertia: float


def _cells_sklearn(s: torch.Tensor, tr: torch.Tensor, te: torch.Tensor, n_cells: int, seed: int,
                   n_init: int) -> tuple[dict[str, np.ndarray], float]:
    """The authors' partition: scikit-learn ``KMeans`` fitted on the training rows in float64,
    test points and samples assigned with ``predict`` (their nearest centre), as
    ``data_copying_tests.py`` does. Returns the cell of each point (keys "tr", "te", "s") and
    the inertia."""
    from sklearn.cluster import KMeans

    def f64(x: torch.Tensor) -> np.ndarray:
        return x.detach().cpu().double().numpy()

    km = KMeans(n_clusters=n_cells, n_init=n_init, random_state=seed).fit(f64(tr))
    cell = {"tr": km.labels_.astype(np.int64), "te": km.predict(f64(te)).astype(np.int64),
            "s": km.predict(f64(s)).astype(np.int64)}
    return cell, float(km.inertia_)


def _cells_torch(s: torch.Tensor, tr: torch.Tensor, te: torch.Tensor, n_cells: int, seed: int, n_init: int,
                 kw: dict[str, Any]) -> tuple[dict[str, np.ndarray], float]:
    """ganeval's own k-means (:func:`kmeans_fit`), run where the neighbour searches run (the GPU
    under device="cuda" / "auto"); test points and samples go to their exact nearest centre."""
    fit = kmeans_fit(tr.to(_device(kw["device"], tr)), n_cells, seed=seed, n_init=n_init)
    centres = fit.centres.to(tr.device)
    cell = {"tr": fit.labels.cpu().numpy(),
            "te": knn(te, centres, 1, **kw)[1][:, 0].numpy(), "s": knn(s, centres, 1, **kw)[1][:, 0].numpy()}
    return cell, fit.inertia


def _c_t(s: torch.Tensor, tr: torch.Tensor, te: torch.Tensor, n_cells: int, min_cell: int, seed: int,
         n_init: int, continuity: bool, how: str, kw: dict[str, Any]) -> _Cells:
    if how == "sklearn":
        cell, inertia = _cells_sklearn(s, tr, te, n_cells, seed, n_init)
    else:
        cell, inertia = _cells_torch(s, tr, te, n_cells, seed, n_init, kw)
    counts = {k: np.bincount(v, minlength=n_cells) for k, v in cell.items()}
    weights, zs, used = [], [], []
    for c in range(n_cells):
        # Pi_tau of the paper, strict as the authors' code: Q_m(pi) > tau, i.e. more than tau*m samples.
        # A cell without test (or training) points has no baseline: the authors' code raises there;
        # here it is left out and counted in the result (``cells_empty``).
        if counts["tr"][c] == 0 or counts["te"][c] == 0 or counts["s"][c] <= min_cell:
            continue
        t_idx, p_idx, q_idx = (torch.from_numpy(np.flatnonzero(cell[n] == c)) for n in ("tr", "te", "s"))
        tc = tr[t_idx]
        lq, lp = _nn_dist64(s[q_idx], tc, kw), _nn_dist64(te[p_idx], tc, kw)
        zs.append(_mann_whitney_z(lq, lp, continuity))
        weights.append(len(p_idx) / te.shape[0])
        used.append(c)
    c_t = float(np.dot(weights, zs) / np.sum(weights)) if zs else None
    return _Cells(c_t=c_t, z=zs, used=used, train_counts=counts["tr"].tolist(), test_counts=counts["te"].tolist(),
                  sample_counts=counts["s"].tolist(), inertia=inertia)


def _train_nn_distance(tr: torch.Tensor, idx: np.ndarray, kw: dict[str, Any]) -> dict[int, float]:
    """Distance of each training point ``idx`` to its nearest *other* training point."""
    u = np.unique(idx)
    d, i = knn(tr[torch.from_numpy(u)], tr, 2, **kw)
    own_first = (i[:, 0].numpy() == u)
    # a lower-index exact duplicate sorts before the point itself; otherwise skip the point
    nn = np.where(own_first, d[:, 1].numpy(), d[:, 0].numpy())
    return dict(zip(u.tolist(), nn.astype(np.float64).tolist()))


def _check_cells(n_cells: int, m: int, n: int, min_cell: int) -> None:
    """Refuse an explicit cell count the samples or test points cannot fill (C_T would rest on few cells)."""
    if n_cells > n:
        raise GanevalError(f"`n_cells` ({n_cells}) exceeds the {n} test points: C_T needs test points in every "
                           f"cell; pass n_cells <= {n} (about n_test / 50 is best) or more test data.")
    if m <= min_cell * n_cells:
        most = (m - 1) // min_cell
        fix = f"pass n_cells <= {most}" if most >= 1 else f"C_T needs more than {min_cell} samples"
        raise GanevalError(f"`n_cells` ({n_cells}) leaves an average cell {m / n_cells:.3g} of the {m} samples, not "
                           f"more than min_cell_samples={min_cell}, so most cells would be left out of C_T; {fix} "
                           "or draw more samples.")


def memorisation(samples: Any, train: Any, test: Any, *, percentile: float = 1.0, n_cells: int | None = None,
                 min_cell_samples: int = 20, n_init: int = 10, continuity: bool = True, kmeans: str = "sklearn",
                 seed: int = 0, memory_budget: int | None = None, device: str | torch.device | None = None) -> MemorisationResult:
    """Nearest-training-neighbour memorisation statistics: copy rate, C_T, authenticity.

    Args:
        samples: (m, ...) generated samples.
        train: (N, ...) the generator's training data.
        test: (n, ...) held-out real data from the same distribution (never trained on).
        percentile: the copy threshold is this percentile of the test-to-train nearest-neighbour
            distances (default 1: fresh samples have a copy rate of about 0.01).
        n_cells: k-means cells for C_T; default ``clip(min(m, n) // 50, 1, 50)`` (the paper used 50
            cells with 10,000 test points), so that cells hold ~50 samples and test points. Given
            explicitly it must leave an average cell more than ``min_cell_samples`` samples
            (``m > min_cell_samples * n_cells``) and at most one cell per test point.
        min_cell_samples: τ·m of the paper (20): a cell enters C_T when it holds *more* samples.
        n_init: k-means restarts (10, as the authors' experiments with scikit-learn's KMeans).
        continuity: the authors' continuity correction in each cell's Z (U centred at mn/2 − 0.5).
        kmeans: which k-means cuts the cells: "sklearn" (default: scikit-learn's ``KMeans`` in
            float64 on the CPU, ``random_state=seed``, the authors' partition for the same seed)
            or "torch" (ganeval's own, :func:`ganeval.metrics.kmeans.kmeans_fit`, on the
            features' device: for large feature sets on a GPU).
        seed: k-means seed.
        memory_budget: workspace bound in bytes for the neighbour searches.
        device: "cpu", "cuda", "auto" or None.

    Returns:
        A :class:`MemorisationResult`.

    Raises:
        GanevalError: fewer than 2 rows in any input, NaN / Inf, mismatched dimensions,
            ``percentile`` outside (0, 100), bad ``n_cells`` / ``min_cell_samples`` / ``n_init`` /
            ``kmeans``,
            an ``n_cells`` too large for the samples or test points.
    """
    s = as_points(samples, "samples", min_rows=2)
    tr = as_points(train, "train", min_rows=2)
    te = as_points(test, "test", min_rows=2)
    same_dim(s, tr, "samples", "train")
    same_dim(te, tr, "test", "train")
    if not isinstance(percentile, (int, float)) or isinstance(percentile, bool) or not 0 < percentile < 100:
        raise GanevalError(f"`percentile` must be a number in (0, 100), got {percentile!r}.")
    m, n, n_tr = s.shape[0], te.shape[0], tr.shape[0]
    if isinstance(min_cell_samples, bool) or not isinstance(min_cell_samples, (int, np.integer)) or min_cell_samples < 2:
        raise GanevalError(f"`min_cell_samples` must be an integer >= 2, got {min_cell_samples!r}.")
    if isinstance(n_init, bool) or not isinstance(n_init, (int, np.integer)) or n_init < 1:
        raise GanevalError(f"`n_init` (k-means restarts) must be an integer >= 1, got {n_init!r}.")
    if not isinstance(kmeans, str) or kmeans not in KMEANS:
        raise GanevalError(f"`kmeans` must be one of {', '.join(map(repr, KMEANS))} (the k-means that cuts C_T's "
                           f"cells), got {kmeans!r}.")
    if kmeans == "sklearn" and not 0 <= int(seed) < 2 ** 32:
        raise GanevalError(f"`seed` must be in [0, 2**32) for scikit-learn's KMeans (kmeans='sklearn'), got {seed!r}.")
    explicit = n_cells is not None
    if n_cells is None:
        n_cells = int(np.clip(min(m, n) // 50, 1, 50))
    if isinstance(n_cells, bool) or not isinstance(n_cells, (int, np.integer)) or not 1 <= n_cells <= n_tr:
        raise GanevalError(f"`n_cells` must be an integer in [1, {n_tr}] (the training set's size), got {n_cells!r}.")
    if explicit:
        _check_cells(int(n_cells), m, n, int(min_cell_samples))
    kw: dict[str, Any] = {"memory_budget": memory_budget, "device": device}
    sd_t, si_t = knn(s, tr, 1, **kw)
    bd_t, bi_t = knn(te, tr, 1, **kw)
    sd, si = sd_t[:, 0].double().numpy(), si_t[:, 0].numpy()
    bd, bi = bd_t[:, 0].double().numpy(), bi_t[:, 0].numpy()
    threshold = float(np.percentile(bd, percentile))
    warnings = []
    if n * percentile / 100 < 3:
        warnings.append(f"the copy threshold (percentile {percentile:g} of {n} test distances) rests on fewer "
                        "than 3 test points; use more test data or a larger percentile.")
    cells = _c_t(s, tr, te, int(n_cells), int(min_cell_samples), int(seed), int(n_init), bool(continuity), kmeans, kw)
    empty = sum(1 for t in cells.test_counts if t == 0)
    sparse = sum(1 for t, q in zip(cells.test_counts, cells.sample_counts) if t > 0 and q <= min_cell_samples)
    if cells.c_t is None:
        warnings.append(f"no k-means cell holds more than {min_cell_samples} samples and a test point, so C_T is "
                        "undefined; use more samples or fewer cells (n_cells).")
    if empty:
        warnings.append(f"{empty} of {n_cells} k-means cells hold no test point and are left out of C_T (the "
                        "authors' code refuses such a partition); use more test data or fewer cells (n_cells).")
    nn_train = _train_nn_distance(tr, np.concatenate([si, bi]), kw)
    authentic = sd > np.array([nn_train[j] for j in si.tolist()])
    base_authentic = bd > np.array([nn_train[j] for j in bi.tolist()])
    med_s, med_b = float(np.median(sd)), float(np.median(bd))
    return MemorisationResult(
        copy_rate=float(np.mean(sd <= threshold)), copy_threshold=threshold, percentile=float(percentile),
        median_distance=med_s, median_baseline_distance=med_b,
        distance_ratio=med_s / med_b if med_b > 0 else None,
        c_t=cells.c_t, n_cells=int(n_cells), cells_used=len(cells.z), cell_z=cells.z,
        min_cell_samples=int(min_cell_samples), cells_empty=empty, cells_sparse=sparse, cell_ids=cells.used,
        cell_train_counts=cells.train_counts, cell_test_counts=cells.test_counts,
        cell_sample_counts=cells.sample_counts, continuity=bool(continuity), kmeans=kmeans, kmeans_restarts=int(n_init),
        kmeans_inertia=cells.inertia,
        authenticity=float(authentic.mean()), authenticity_baseline=float(base_authentic.mean()),
        n_samples=int(m), n_train=int(n_tr), n_test=int(n), dim=int(s.shape[1]),
        warning=" ".join(warnings) or None, sample_distances=sd, sample_neighbours=si,
        baseline_distances=bd, baseline_neighbours=bi, sample_authentic=authentic)
