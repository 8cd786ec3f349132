"""The authors' definitions of C_T and NDB, computed step by step with scikit-learn and scipy, and
the grid of Gaussian-mixture cases that ganeval is checked on against them.

Neither original is a package (Meehan et al.'s ``data_copying_tests.py`` in
casey-meehan/data-copying; Richardson & Weiss's ``utils/ndb.py`` in eitanrich/gans-n-gmms), so
this module restates what they compute, written here from the papers and those files:

* C_T (Meehan, Chaudhuri & Dasgupta 2020): cells from scikit-learn ``KMeans(n_init=10)`` fitted on
  the training set (float64), test and generated points assigned with ``predict``; per cell, the 1-NN distances to the cell's training points of the
  cell's generated and test points; ``scipy.stats.mannwhitneyu(L_gen, L_test).statistic``
  (pairs with the generated distance larger, ties half), Z = (U − (mn/2 − 0.5)) / √(mn(m+n+1)/12);
  cells with generated share Q_m(π) > τ = 20/m (strict); C_T = Σ P_n(π) Z(π) / Σ P_n(π). A cell
  without test or training points is an error, as there.
* NDB (Richardson & Weiss 2018): ``KMeans(n_clusters=K, max_iter=100, n_init=10)`` on the
  training rows (all dimensions up to 1,000; a random sixth above), bin centres = the means of
  the rows in each cluster over every dimension, training proportions from the k-means labels,
  bins sorted by size, samples assigned to the nearest centre on the used dimensions, a pooled
  two-proportion z-test per bin, two-sided p < α.

Used by tests/test_validity.py and benchmarks/validity.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CASES = ("fresh", "copies", "underfit", "dropped")
DIMS = (2, 64)
N_TRAIN, N_TEST, N_GEN = 5000, 1000, 2000
N_CELLS, N_BINS = 20, 50
MODES = 10
SAME_SEED_ATOL = 1e-12  # same seed, same partition: C_T to round-off of the weighted mean


@dataclass(frozen=True)
class Draw:
    train: np.ndarray
    test: np.ndarray
    gen: np.ndarray


def _mixture(rng: np.random.Generator, means: np.ndarray, n: int, std: float, modes: np.ndarray) -> np.ndarray:
    k = rng.choice(modes, n)
    return means[k] + std * rng.standard_normal((n, means.shape[1]))


def draw(case: str, dim: int, seed: int = 0, n_train: int = N_TRAIN, n_test: int = N_TEST,
         n_gen: int = N_GEN) -> Draw:
    """One draw of (train, test, generated) float64 points for a case of the grid.

    Ten unit-variance Gaussian modes with means spread at 4 std per axis (overlapping in 2-D,
    separated in 64-D). fresh: the same mixture; copies: training points plus noise of 0.02 std;
    underfit: the modes widened to 1.3 std; dropped: three of the ten modes never generated.
    """
    if case not in CASES:
        raise ValueError(f"case must be one of {CASES}, got {case!r}")
    rng = np.random.default_rng([dim, seed])
    means = 4.0 * rng.standard_normal((MODES, dim))
    every = np.arange(MODES)
    train = _mixture(rng, means, n_train, 1.0, every)
    test = _mixture(rng, means, n_test, 1.0, every)
    if case == "fresh":
        gen = _mixture(rng, means, n_gen, 1.0, every)
    elif case == "copies":
        gen = train[rng.integers(0, n_train, n_gen)] + 0.02 * rng.standard_normal((n_gen, dim))
    elif case == "underfit":
        gen = _mixture(rng, means, n_gen, 1.3, every)
    else:
        gen = _mixture(rng, means, n_gen, 1.0, every[3:])
    return Draw(train, test, gen)


def reference_c_t(gen: np.ndarray, train: np.ndarray, test: np.ndarray, *, n_cells: int = N_CELLS, seed: int = 0,
                  tau_count: int = 20, n_init: int = 10) -> tuple[float, list[float]]:
    """The authors' C_T, step by step (see the module docstring). Returns (C_T, per-cell Z of used cells)."""
    from scipy.stats import mannwhitneyu
    from sklearn.cluster import KMeans
    from sklearn.neighbors import NearestNeighbors

    km = KMeans(n_clusters=n_cells, n_init=n_init, random_state=seed).fit(np.asarray(train, np.float64))
    t_cells, p_cells, q_cells = km.labels_, km.predict(test), km.predict(gen)
    m, n = len(gen), len(test)
    weights, zs = [], []
    for c in range(n_cells):
        t, p, q = train[t_cells == c], test[p_cells == c], gen[q_cells == c]
        if len(t) == 0 or len(p) == 0:
            raise ValueError(f"cell {c} lacks test and/or training points")
        if not len(q) / m > tau_count / m:
            continue
        nn = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(t)
        lq, lp = nn.kneighbors(q)[0][:, 0], nn.kneighbors(p)[0][:, 0]
        u = mannwhitneyu(lq, lp, alternative="less").statistic
        mq, np_ = len(q), len(p)
        zs.append((u - (mq * np_ / 2 - 0.5)) / math.sqrt(mq * np_ * (mq + np_ + 1) / 12))
        weights.append(len(p) / n)
    return float(np.dot(weights, zs) / np.sum(weights)), zs


def reference_ndb(gen: np.ndarray, train: np.ndarray, *, bins: int = N_BINS, seed: int = 0, alpha: float = 0.05,
                  n_init: int = 10, dims: np.ndarray | None = None) -> tuple[int, np.ndarray]:
    """The authors' NDB, step by step. Returns (NDB, flags of the different bins, bins ordered by size).

    ``dims``: the dimensions k-means and the assignment use (None: every dimension).
    """
    from scipy.stats import norm
    from sklearn.cluster import KMeans

    train = np.asarray(train, np.float64)
    use = np.arange(train.shape[1]) if dims is None else np.asarray(dims)
    km = KMeans(n_clusters=bins, max_iter=100, n_init=n_init, random_state=seed).fit(train[:, use])
    centres = np.stack([train[km.labels_ == i].mean(0) for i in range(bins)])
    counts = np.bincount(km.labels_, minlength=bins)
    order = np.argsort(-counts, kind="stable")
    p_train, centres = counts[order] / counts.sum(), centres[order]
    d = np.stack([np.linalg.norm(gen[:, use] - c[use], axis=1) for c in centres], 1)
    p_gen = np.bincount(d.argmin(1), minlength=bins) / len(gen)
    n1, n2 = len(train), len(gen)
    pooled = (p_train * n1 + p_gen * n2) / (n1 + n2)
    z = (p_train - p_gen) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    different = 2.0 * norm.cdf(-np.abs(z)) < alpha
    return int(np.count_nonzero(different)), different


@dataclass(frozen=True)
class CaseResult:
    """One case of the grid: C_T and NDB from ganeval and from the reference, one value per seed.

    ``c_t_reference`` is the reference with other seeds (``s + ref_seed_offset``: the two
    procedures' distributions), ``c_t_reference_same`` with ganeval's seeds (empty when not run).
    """

    case: str
    dim: int
    c_t_ganeval: list[float]
    c_t_reference: list[float]
    c_t_reference_same: list[float]
    ndb_ganeval: list[int]
    ndb_reference: list[int]
    ndb_independent: list[int]
    seconds: dict[str, float]

    @staticmethod
    def _mean_se(v: list[float]) -> tuple[float, float]:
        a = np.asarray(v, float)
        return float(a.mean()), float(a.std(ddof=1) / math.sqrt(len(a))) if len(a) > 1 else 0.0

    @property
    def c_t_gap(self) -> tuple[float, float]:
        """(|mean difference|, its standard error sqrt(se_g^2 + se_r^2))."""
        (mg, sg), (mr, sr) = self._mean_se(self.c_t_ganeval), self._mean_se(self.c_t_reference)
        return abs(mg - mr), math.hypot(sg, sr)

    @property
    def c_t_agrees(self) -> bool:
        gap, se = self.c_t_gap
        return gap <= 2 * se + 1e-9

    @property
    def c_t_same_max_diff(self) -> float:
        """max over seeds of |C_T ganeval - C_T reference| with the same seed (NaN when not run)."""
        if not self.c_t_reference_same:
            return math.nan
        return float(np.max(np.abs(np.subtract(self.c_t_ganeval, self.c_t_reference_same))))

    @property
    def c_t_identical(self) -> int:
        """Seeds whose same-seed C_T values agree to 1e-12."""
        return sum(int(abs(a - b) <= SAME_SEED_ATOL) for a, b in zip(self.c_t_ganeval, self.c_t_reference_same))

    @property
    def ndb_matches(self) -> int:
        return sum(int(a == b) for a, b in zip(self.ndb_ganeval, self.ndb_reference))


def run_case(case: str, dim: int, seeds: range, *, data_seed: int = 0, n_train: int = N_TRAIN, n_test: int = N_TEST,
             n_gen: int = N_GEN, n_cells: int = N_CELLS, bins: int = N_BINS, ref_seed_offset: int = 1000,
             with_ndb: bool = True, same_seed: bool = True, kmeans: str = "sklearn",
             device: str = "cpu") -> CaseResult:
    """Score one fixed draw with ganeval and with the reference, each clustering for itself.

    C_T: ganeval (seed s; ``kmeans`` "sklearn", its default, or "torch") against the reference
    with ``random_state`` ``s + ref_seed_offset``: agreement of the two procedures' distributions,
    not of one run; and, with ``same_seed``, against the reference with ``random_state`` s (with
    ganeval's default k-means the same partition, so the same C_T). NDB: ganeval with seed s against the reference with ``random_state`` s (both bin with
    scikit-learn's k-means++, so the same seed must give the same count) and, for the table, with
    ``s + ref_seed_offset`` (``ndb_independent``: how much the count moves with the partition).
    """
    import time

    from ganeval.metrics import memorisation, ndb

    d = draw(case, dim, data_seed, n_train, n_test, n_gen)
    out: dict[str, list] = {"cg": [], "cr": [], "cs": [], "ng": [], "nr": [], "ni": []}
    sec = dict.fromkeys(("c_t_ganeval", "c_t_reference", "ndb_ganeval", "ndb_reference"), 0.0)

    def timed(key: str, fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        t = time.perf_counter()
        value = fn(*args, **kwargs)
        sec[key] += time.perf_counter() - t
        return value

    for s in seeds:
        mem = timed("c_t_ganeval", memorisation, d.gen, d.train, d.test, n_cells=n_cells, seed=s, kmeans=kmeans,
                    device=device)
        out["cg"].append(float(mem.c_t))
        out["cr"].append(timed("c_t_reference", reference_c_t, d.gen, d.train, d.test, n_cells=n_cells,
                               seed=s + ref_seed_offset)[0])
        if same_seed:
            out["cs"].append(reference_c_t(d.gen, d.train, d.test, n_cells=n_cells, seed=s)[0])
        if not with_ndb:
            continue
        out["ng"].append(timed("ndb_ganeval", ndb, d.gen, d.train, bins=bins, seed=s, device=device).ndb)
        out["nr"].append(timed("ndb_reference", reference_ndb, d.gen, d.train, bins=bins, seed=s)[0])
        out["ni"].append(reference_ndb(d.gen, d.train, bins=bins, seed=s + ref_seed_offset)[0])
    return CaseResult(case, dim, out["cg"], out["cr"], out["cs"], out["ng"], out["nr"], out["ni"], sec)
