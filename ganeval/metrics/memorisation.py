"""Nearest-neighbour memorisation checks: does the generator copy its training set?

Three views of the same question, all built on exact nearest-training-neighbour distances
(:func:`ganeval.kernels.knn`):

* **copy rate**: the fraction of samples nearer to the training set than the ``percentile``-th
  percentile of how near genuinely new data sits (held-out ``test`` points to ``train``). Fresh
  samples score about ``percentile / 100``; a copying generator scores far more.
* **C_T** (Meehan, Chaudhuri & Dasgupta 2020, "A non-parametric test to detect data-copying in
  generative models", AISTATS): the training set is cut into k-means cells; in each cell the
  distances of samples and of test points to the cell's training points are compared with a
  Mann-Whitney U test, Z-scored; C_T averages the Z-scores over the cells holding at least
  ``min_cell_samples`` samples (τ = 20/m in the paper), weighted by the cell's share of test
  points. ≈ 0 for a generator that neither copies nor underfits; negative means samples sit
  closer to the training points than new data does (copying); positive means underfitting.
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

from .._utils import same_dim
from ..errors import GanevalError
from ..kernels import as_points, knn
from ..results import Result


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
        cells_used: cells holding test points and at least ``min_cell_samples`` samples.
        cell_z: the Mann-Whitney Z-score of each used cell.
        min_cell_samples: the paper's τ·m (20).
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


def _mann_whitney_z(gen: np.ndarray, real: np.ndarray) -> float:
    """Z-scored Mann-Whitney U of ``gen`` against ``real`` (U counts gen > real, ties half)."""
    m, n = len(gen), len(real)
    u = _midranks(np.concatenate([gen, real]))[:m].sum() - m * (m + 1) / 2.0
    return float((u - m * n / 2.0) / math.sqrt(m * n * (m + n + 1) / 12.0))


_ROWS = 4096  # row chunk of the k-means passes: no full float64 copy of the training set


def _nearest_centre(x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(squared distance, index) of each point's nearest centre, in row chunks (float64 sums)."""
    csq = c.square().sum(1)
    d, i = [], []
    for a in range(0, len(x), _ROWS):
        xb = x[a:a + _ROWS].double()
        v, j = torch.addmm(csq.unsqueeze(0), xb, c.T, alpha=-2.0).min(1)
        d.append(v + xb.square().sum(1))
        i.append(j)
    return torch.cat(d), torch.cat(i)


def _sq_to(x: torch.Tensor, point: torch.Tensor) -> torch.Tensor:
    return torch.cat([(x[a:a + _ROWS].double() - point).square().sum(1) for a in range(0, len(x), _ROWS)])


def kmeans(x: torch.Tensor, k: int, *, seed: int = 0, max_iter: int = 50) -> torch.Tensor:
    """Lloyd's k-means with k-means++ seeding (Arthur & Vassilvitskii 2007), private seeded RNG.

    Args:
        x: (N, ...) points (flattened), N >= k, on any device.
        k: number of centres.
        seed: seed of the k-means++ draws.
        max_iter: Lloyd iterations at most (stops early when no assignment changes).

    Returns:
        (k, D) float64 centres on x's device.
    """
    x = x.reshape(len(x), -1)
    gen = torch.Generator().manual_seed(int(seed))
    first = int(torch.randint(len(x), (1,), generator=gen))
    c = x[first].double().unsqueeze(0)
    d2 = _sq_to(x, c[0])
    for _ in range(1, k):
        total = float(d2.sum())
        j = int(torch.multinomial(d2.cpu() / total, 1, generator=gen)) if total > 0 else \
            int(torch.randint(len(x), (1,), generator=gen))
        c = torch.cat([c, x[j].double().unsqueeze(0)])
        d2 = torch.minimum(d2, _sq_to(x, c[-1]))
    assign = None
    for _ in range(max_iter):
        dist, new = _nearest_centre(x, c)
        if assign is not None and torch.equal(new, assign):
            break
        assign = new
        counts = torch.bincount(assign, minlength=k)
        sums = torch.zeros_like(c)
        for a in range(0, len(x), _ROWS):
            sums.index_add_(0, assign[a:a + _ROWS], x[a:a + _ROWS].double())
        c = sums / counts.clamp(min=1).unsqueeze(1).double()
        empty = (counts == 0).nonzero().flatten()
        if empty.numel():  # re-seed an empty cell at the points farthest from their centres
            c[empty] = x[torch.argsort(dist, descending=True, stable=True)[: empty.numel()]].double()
    return c


def _c_t(s: torch.Tensor, tr: torch.Tensor, te: torch.Tensor, n_cells: int, min_cell: int, seed: int,
         kw: dict[str, Any]) -> tuple[float | None, list[float]]:
    centres = kmeans(tr, n_cells, seed=seed)
    cell = {name: knn(x, centres, 1, **kw)[1][:, 0].numpy() for name, x in (("s", s), ("tr", tr), ("te", te))}
    weights, zs = [], []
    for c in range(n_cells):
        t_idx, p_idx, q_idx = (np.flatnonzero(cell[n] == c) for n in ("tr", "te", "s"))
        if len(t_idx) == 0 or len(p_idx) == 0 or len(q_idx) < min_cell:
            continue
        tc = tr[torch.from_numpy(t_idx)]
        lq = knn(s[torch.from_numpy(q_idx)], tc, 1, **kw)[0][:, 0].double().numpy()
        lp = knn(te[torch.from_numpy(p_idx)], tc, 1, **kw)[0][:, 0].double().numpy()
        zs.append(_mann_whitney_z(lq, lp))
        weights.append(len(p_idx) / te.shape[0])
    if not zs:
        return None, []
    return float(np.dot(weights, zs) / np.sum(weights)), zs


def _train_nn_distance(tr: torch.Tensor, idx: np.ndarray, kw: dict[str, Any]) -> dict[int, float]:
    """Distance of each training point ``idx`` to its nearest *other* training point."""
    u = np.unique(idx)
    d, i = knn(tr[torch.from_numpy(u)], tr, 2, **kw)
    own_first = (i[:, 0].numpy() == u)
    # a lower-index exact duplicate sorts before the point itself; otherwise skip the point
    nn = np.where(own_first, d[:, 1].numpy(), d[:, 0].numpy())
    return dict(zip(u.tolist(), nn.astype(np.float64).tolist()))


def memorisation(samples: Any, train: Any, test: Any, *, percentile: float = 1.0, n_cells: int | None = None,
                 min_cell_samples: int = 20, seed: int = 0, memory_budget: int | None = None,
                 device: str | torch.device | None = None) -> MemorisationResult:
    """Nearest-training-neighbour memorisation statistics: copy rate, C_T, authenticity.

    Args:
        samples: (m, ...) generated samples.
        train: (N, ...) the generator's training data.
        test: (n, ...) held-out real data from the same distribution (never trained on).
        percentile: the copy threshold is this percentile of the test-to-train nearest-neighbour
            distances (default 1: fresh samples have a copy rate of about 0.01).
        n_cells: k-means cells for C_T; default ``clip(min(m, n) // 50, 1, 50)`` (the paper used 50
            cells with 10,000 test points), so that cells hold ~50 samples and test points.
        min_cell_samples: a cell enters C_T when it holds at least this many samples (τ·m = 20).
        seed: k-means seed.
        memory_budget: workspace bound in bytes for the neighbour searches.
        device: "cpu", "cuda", "auto" or None.

    Returns:
        A :class:`MemorisationResult`.

    Raises:
        GanevalError: fewer than 2 rows in any input, NaN / Inf, mismatched dimensions,
            ``percentile`` outside (0, 100), bad ``n_cells`` / ``min_cell_samples``.
    """
    s = as_points(samples, "samples", min_rows=2)
    tr = as_points(train, "train", min_rows=2)
    te = as_points(test, "test", min_rows=2)
    same_dim(s, tr, "samples", "train")
    same_dim(te, tr, "test", "train")
    if not isinstance(percentile, (int, float)) or isinstance(percentile, bool) or not 0 < percentile < 100:
        raise GanevalError(f"`percentile` must be a number in (0, 100), got {percentile!r}.")
    m, n, n_tr = s.shape[0], te.shape[0], tr.shape[0]
    if n_cells is None:
        n_cells = int(np.clip(min(m, n) // 50, 1, 50))
    if isinstance(n_cells, bool) or not isinstance(n_cells, (int, np.integer)) or not 1 <= n_cells <= n_tr:
        raise GanevalError(f"`n_cells` must be an integer in [1, {n_tr}] (the training set's size), got {n_cells!r}.")
    if isinstance(min_cell_samples, bool) or not isinstance(min_cell_samples, (int, np.integer)) or min_cell_samples < 2:
        raise GanevalError(f"`min_cell_samples` must be an integer >= 2, got {min_cell_samples!r}.")
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
    c_t, zs = _c_t(s, tr, te, int(n_cells), int(min_cell_samples), int(seed), kw)
    if c_t is None:
        warnings.append(f"no k-means cell holds {min_cell_samples} samples and a test point, so C_T is undefined; "
                        "use more samples or fewer cells (n_cells).")
    nn_train = _train_nn_distance(tr, np.concatenate([si, bi]), kw)
    authentic = sd > np.array([nn_train[j] for j in si.tolist()])
    base_authentic = bd > np.array([nn_train[j] for j in bi.tolist()])
    med_s, med_b = float(np.median(sd)), float(np.median(bd))
    return MemorisationResult(
        copy_rate=float(np.mean(sd <= threshold)), copy_threshold=threshold, percentile=float(percentile),
        median_distance=med_s, median_baseline_distance=med_b,
        distance_ratio=med_s / med_b if med_b > 0 else None,
        c_t=c_t, n_cells=int(n_cells), cells_used=len(zs), cell_z=zs, min_cell_samples=int(min_cell_samples),
        authenticity=float(authentic.mean()), authenticity_baseline=float(base_authentic.mean()),
        n_samples=int(m), n_train=int(n_tr), n_test=int(n), dim=int(s.shape[1]),
        warning=" ".join(warnings) or None, sample_distances=sd, sample_neighbours=si,
        baseline_distances=bd, baseline_neighbours=bi, sample_authentic=authentic)
