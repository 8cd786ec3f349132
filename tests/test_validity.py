"""ganeval's C_T and NDB against the authors' definitions computed step by step (tests/validity_reference.py):
with the same k-means seed (the same partition, so the same numbers) and each side clustering for itself
(other seeds: the same distribution); the small-N guards of KID, PRDC, NDB, C_T and FID at their boundaries.

The full grid (2-D and 64-D mixtures; fresh, copies, underfit, dropped; 5,000 / 1,000 / 2,000
points; 10 seeds) is the slow test here and ``benchmarks/validity.py``; the default suite runs a
small version of it.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from validity_reference import CASES, DIMS, SAME_SEED_ATOL, draw, reference_c_t, reference_ndb, run_case

import ganeval
from ganeval import GanevalError
from ganeval.metrics import fid, kid, memorisation, ndb, ndb_bins, prdc


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    yield


# ---------------------------------------------------------------------------------------------
# C_T and NDB against the authors' definitions


def _check(res) -> None:
    gap, se = res.c_t_gap
    assert res.c_t_agrees, (f"{res.case} {res.dim}-D: C_T ganeval {np.mean(res.c_t_ganeval):.3f} vs reference "
                            f"{np.mean(res.c_t_reference):.3f}: gap {gap:.3f} > 2 SE ({2 * se:.3f})")
    assert res.ndb_matches >= 0.9 * len(res.ndb_ganeval), (res.ndb_ganeval, res.ndb_reference)


@pytest.mark.parametrize("case, dim", [("underfit", 2), ("copies", 64)])
def test_c_t_with_the_same_seed_is_the_authors_c_t(case: str, dim: int) -> None:
    # ganeval's default cells are scikit-learn's KMeans(n_init=10, random_state=seed) on the
    # float64 training rows with predict for the rest, as data_copying_tests.py: the same seed is
    # the same partition, so C_T and every cell's Z equal the reference's to round-off
    d = draw(case, dim, 1, n_train=1500, n_test=400, n_gen=700)
    for seed in (0, 7):
        res = memorisation(d.gen, d.train, d.test, n_cells=12, seed=seed)
        c_t, zs = reference_c_t(d.gen, d.train, d.test, n_cells=12, seed=seed)
        assert res.kmeans == "sklearn" and res.cells_used == len(zs) > 6
        assert abs(res.c_t - c_t) <= SAME_SEED_ATOL
        assert np.abs(np.subtract(res.cell_z, zs)).max() <= SAME_SEED_ATOL


def test_c_t_with_ganevals_own_kmeans_is_an_option() -> None:
    d = draw("copies", 2, 2, n_train=1200, n_test=300, n_gen=500)
    own = memorisation(d.gen, d.train, d.test, n_cells=8, seed=1, kmeans="torch")
    assert own.kmeans == "torch" and own.to_dict()["kmeans"] == "torch"
    assert own.c_t < -3 and own.cells_used > 4  # copies: far below 0, as with scikit-learn's cells
    from ganeval.metrics.kmeans import kmeans_fit

    assert own.kmeans_inertia == kmeans_fit(torch.from_numpy(d.train), 8, seed=1).inertia
    assert own.cell_train_counts == np.bincount(kmeans_fit(torch.from_numpy(d.train), 8, seed=1).labels,
                                                minlength=8).tolist()
    theirs = memorisation(d.gen, d.train, d.test, n_cells=8, seed=1)
    assert theirs.kmeans == "sklearn" and theirs.to_dict()["kmeans"] == "sklearn"
    for bad in ("scikit-learn", "Torch", 1, None):
        with pytest.raises(GanevalError, match=r"`kmeans` must be one of 'sklearn', 'torch'.*got") as err:
            memorisation(d.gen, d.train, d.test, n_cells=8, kmeans=bad)
        assert str(err.value).count("\n") == 0
    with pytest.raises(GanevalError, match=r"`seed`.*kmeans='sklearn'"):
        memorisation(d.gen, d.train, d.test, n_cells=8, seed=-1)


def test_memorisation_adapter_takes_and_records_the_kmeans_option() -> None:
    ds = ganeval.load_dataset("ring8")
    samples, _ = ds.sample(300, seed=0)
    for how in ("torch", "sklearn"):
        res = ganeval.evaluate(samples.numpy(), ds, metrics="memorisation", device="cpu",
                               options={"memorisation": {"kmeans": how}}).metric_dict("memorisation")
        assert res["kmeans"] == how and res["c_t"] is not None
    with pytest.raises(GanevalError, match=r"memorisation\.kmeans.*'sklearn', 'torch'.*'faiss'"):
        ganeval.evaluate(samples.numpy(), ds, metrics="memorisation", device="cpu",
                         options={"memorisation": {"kmeans": "faiss"}})


@pytest.mark.parametrize("case", CASES)
def test_small_grid_agrees_with_the_authors_definitions(case: str) -> None:
    # the same seed: the same partition, the same C_T and NDB count; other seeds for the reference:
    # 64-D modes are far apart, so with one cell per mode both find the modes and the two C_T
    # agree to round-off (2 SE of 0)
    res = run_case(case, 64, range(2), n_train=1000, n_test=300, n_gen=500, n_cells=10, bins=10)
    _check(res)
    assert res.c_t_identical == 2, (res.c_t_ganeval, res.c_t_reference_same)
    assert np.allclose(res.c_t_ganeval, res.c_t_reference, rtol=0, atol=1e-9)
    sign = {"copies": -1, "underfit": 1}.get(case)
    if sign:
        assert sign * np.mean(res.c_t_ganeval) > 3


@pytest.mark.slow
@pytest.mark.parametrize("case, dim", list(itertools.product(CASES, DIMS)))
def test_full_grid_agrees_with_the_authors_definitions(case: str, dim: int) -> None:
    # 10 seeds per case, 5,000 train / 1,000 test / 2,000 generated, C_T with 20 cells, NDB with 50 bins.
    # The same seed: ganeval's C_T is the reference's (the same scikit-learn partition) in every seed.
    # Other seeds for the reference: 2 standard errors is a 95% criterion, so for two procedures with
    # the same distribution a case falls outside it one time in twenty; a case outside at 10 seeds
    # is judged again on 30 seeds (docs/validity.md).
    res = run_case(case, dim, range(10))
    assert res.c_t_identical == 10, (f"{case} {dim}-D: same-seed C_T differs by up to {res.c_t_same_max_diff:.1e}",
                                     res.c_t_ganeval, res.c_t_reference_same)
    assert res.ndb_matches >= 9, (res.ndb_ganeval, res.ndb_reference)
    if not res.c_t_agrees:
        res = run_case(case, dim, range(30), with_ndb=False, same_seed=False)
    gap, se = res.c_t_gap
    assert res.c_t_agrees, f"{case} {dim}-D: C_T gap {gap:.3f} > 2 SE ({2 * se:.3f}) over {len(res.c_t_ganeval)} seeds"


def test_ndb_above_1000_dimensions_bins_on_a_seeded_sixth_and_matches_the_reference() -> None:
    rng = np.random.default_rng(0)
    means = rng.standard_normal((4, 1200)) * 2
    train = means[rng.integers(0, 4, 600)] + rng.standard_normal((600, 1200))
    gen = means[rng.integers(0, 3, 300)] + rng.standard_normal((300, 1200))  # one mode dropped
    res = ndb(gen, train, bins=8, seed=4)
    assert (res.dims_used, res.dims_total) == (200, 1200) and len(res.dims) == 200
    assert res.dims == sorted(res.dims) and res.dims == ndb(gen, train, bins=8, seed=4).dims
    assert res.dims != ndb(gen, train, bins=8, seed=5).dims
    count, flags = reference_ndb(gen, train, bins=8, seed=4, dims=np.array(res.dims))
    assert res.ndb == count and res.different_bins == np.flatnonzero(flags).tolist()
    every = ndb(gen, train, bins=8, seed=4, max_dims=None)
    assert every.dims is None and every.dims_used == 1200
    count, flags = reference_ndb(gen, train, bins=8, seed=4)
    assert every.ndb == count and every.different_bins == np.flatnonzero(flags).tolist()
    assert ndb(gen, train, bins=8, seed=4, max_dims=50).dims_used == 50


def test_ndb_centres_are_the_means_of_their_training_rows() -> None:
    d = draw("fresh", 2, 1, n_train=1000, n_test=10, n_gen=10)
    b = ndb_bins(d.train, bins=7, seed=2)
    labels = b.assign(torch.from_numpy(d.train))
    for i in range(7):
        assert np.allclose(b.centers[i], d.train[labels == i].mean(0), rtol=0, atol=1e-12)
    assert np.allclose(b.proportions, np.bincount(labels, minlength=7) / 1000)


def test_ndb_z_threshold_replaces_alpha() -> None:
    d = draw("dropped", 2, 2, n_train=2000, n_test=10, n_gen=800)
    by_alpha = ndb(d.gen, d.train, bins=12, seed=0)
    for t in (1.0, 2.5, 6.0):
        res = ndb(d.gen, d.train, bins=12, seed=0, z_threshold=t)
        assert res.z_threshold == t
        assert res.different_bins == [i for i, z in enumerate(by_alpha.z) if abs(z) > t]
    with pytest.raises(GanevalError, match="`z_threshold`"):
        ndb(d.gen, d.train, bins=12, z_threshold=0)


# ---------------------------------------------------------------------------------------------
# C_T's options and what it reports


def test_c_t_reports_cells_without_test_points_instead_of_dropping_them_silently() -> None:
    rng = np.random.default_rng(3)
    train = np.concatenate([rng.standard_normal((300, 2)), rng.standard_normal((300, 2)) + 50])
    test = rng.standard_normal((200, 2))  # nothing near the second cluster
    gen = np.concatenate([rng.standard_normal((150, 2)), rng.standard_normal((100, 2)) + 50])
    res = memorisation(gen, train, test, n_cells=2, seed=0)
    assert res.cells_empty == 1 and res.cells_used == 1 and res.cell_test_counts.count(0) == 1
    assert "no test point" in res.warning
    assert sum(res.cell_sample_counts) == 250 and sum(res.cell_train_counts) == 600


def test_c_t_tau_is_strict() -> None:
    # one cell: 21 samples enter with tau*m = 20, 20 do not (the authors' Q_m(pi) > tau)
    rng = np.random.default_rng(4)
    train, test = rng.standard_normal((200, 2)), rng.standard_normal((60, 2))
    assert memorisation(rng.standard_normal((21, 2)), train, test, n_cells=1).cells_used == 1
    res = memorisation(rng.standard_normal((20, 2)), train, test)
    assert res.c_t is None and res.cells_sparse == 1 and "more than 20 samples" in res.warning


def test_kmeans_restarts_keep_the_least_inertia_and_match_scikit_learn() -> None:
    from sklearn.cluster import KMeans

    from ganeval.metrics.kmeans import kmeans_fit

    d = draw("fresh", 2, 5, n_train=1500, n_test=10, n_gen=10)
    x = torch.from_numpy(d.train)
    ours = [kmeans_fit(x, 8, seed=s, n_init=10).inertia for s in range(4)]
    once = [kmeans_fit(x, 8, seed=s, n_init=1).inertia for s in range(4)]
    theirs = [KMeans(8, n_init=10, random_state=s).fit(d.train).inertia_ for s in range(4)]
    assert all(a <= b + 1e-9 for a, b in zip(ours, once))
    assert abs(np.mean(ours) - np.mean(theirs)) / np.mean(theirs) < 0.01
    fit = kmeans_fit(x, 8, seed=0)
    sq = ((d.train[:, None, :] - fit.centres.numpy()[None]) ** 2).sum(-1)
    assert np.array_equal(fit.labels.numpy(), sq.argmin(1)) and fit.inertia == pytest.approx(sq.min(1).sum())


# ---------------------------------------------------------------------------------------------
# small-N guards, at their boundaries


def _sets(n: int, m: int, d: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), (rng.standard_normal((m, d)) + 0.2).astype(np.float32)


def test_kid_subset_size_at_and_above_n() -> None:
    tf_kid = pytest.importorskip("torch_fidelity.metric_kid")
    real, fake = _sets(50, 40)
    kw = {"kid_subsets": 5, "rng_seed": 1, "verbose": False, "kid_kernel": "poly", "kid_kernel_poly_degree": 3,
          "kid_kernel_poly_gamma": None, "kid_kernel_poly_coef0": 1}
    # N = subset size: works, as in torch-fidelity, and says that each fake subset is the whole set
    at = kid(real, fake, subsets=5, subset_size=40, seed=1)
    theirs = tf_kid.kid_features_to_metric(torch.from_numpy(real), torch.from_numpy(fake), kid_subset_size=40, **kw)
    assert at.value == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-4)
    assert at.requested_subset_size is None and "whole fake set" in at.note
    # N = subset size - 1: refused with the fix (torch-fidelity refuses too) ...
    with pytest.raises(GanevalError, match=r"`subset_size` \(41\).*subset_size <= 40"):
        kid(real, fake, subsets=5, subset_size=41, seed=1)
    with pytest.raises(ValueError, match="subset size"):
        tf_kid.kid_features_to_metric(torch.from_numpy(real), torch.from_numpy(fake), kid_subset_size=41, **kw)
    # ... or, when asked (evaluate does), lowered to N with the choice recorded
    clipped = kid(real, fake, subsets=5, subset_size=41, seed=1, clip_subset_size=True)
    assert (clipped.subset_size, clipped.requested_subset_size, clipped.value) == (40, 41, at.value)
    assert "lowered from 41 to 40" in clipped.note
    below = kid(real, fake, subsets=5, subset_size=39, seed=1)
    assert below.note is None and below.requested_subset_size is None


def test_kid_adapter_records_the_lowered_subset_size() -> None:
    ds = ganeval.load_dataset("ring8")
    samples, _ = ds.sample(150, seed=0)
    ev = ganeval.evaluate(samples.numpy(), ds, metrics="kid", device="cpu", options={"kid": {"subsets": 3}})
    k = ev.metric_dict("kid")
    assert (k["subset_size"], k["requested_subset_size"]) == (150, 1000) and "lowered" in k["note"]


def _brute_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    drr = np.linalg.norm(real[:, None] - real[None], axis=-1)
    dff = np.linalg.norm(fake[:, None] - fake[None], axis=-1)
    drf = np.linalg.norm(real[:, None] - fake[None], axis=-1)
    r_rad = np.sort(drr, 1)[:, k]  # column 0 is the point itself
    f_rad = np.sort(dff, 1)[:, k]
    inside = drf < r_rad[:, None]  # (real i, fake j): fake j in real ball i
    return {"precision": inside.any(0).mean(), "recall": (drf < f_rad[None]).any(1).mean(),
            "density": inside.sum() / (k * fake.shape[0]), "coverage": (drf.min(1) < r_rad).mean()}


def test_prdc_k_at_n_minus_one_and_n() -> None:
    real, fake = _sets(8, 9, d=3, seed=2)
    real, fake = real.astype(np.float64), fake.astype(np.float64)
    res = prdc(real, fake, k=7)  # k = N_real - 1: the largest k that works (the prdc package fails here)
    for key, value in _brute_prdc(real, fake, 7).items():
        assert getattr(res, key) == pytest.approx(value, abs=1e-12), key
    with pytest.raises(GanevalError, match=r"`k` \(8\).*`real`, which has 8.*k <= 7"):
        prdc(real, fake, k=8)
    with pytest.raises(GanevalError, match=r"`k` \(9\).*`fake`, which has 9.*k <= 8"):
        prdc(np.concatenate([real, real + 1]), fake, k=9)


def test_ndb_bins_against_rows_per_bin() -> None:
    d = draw("fresh", 2, 3, n_train=400, n_test=10, n_gen=50)
    ndb(d.gen, d.train, bins=10)  # 50 samples = 5 per bin: the minimum
    with pytest.raises(GanevalError, match=r"`samples` has 49 rows.*bins <= 9"):
        ndb(d.gen[:49], d.train, bins=10)
    ndb(d.gen, d.train[:50], bins=10)
    with pytest.raises(GanevalError, match=r"`train` has 49 rows"):
        ndb(d.gen, d.train[:49], bins=10)


def test_ndb_adapter_records_lowered_bins() -> None:
    ds = ganeval.load_dataset("ring8")
    samples, _ = ds.sample(300, seed=0)
    res = ganeval.evaluate(samples.numpy(), ds, metrics="ndb", device="cpu").metric_dict("ndb")
    assert res["bins"] == 60 and "60" in res["note"] and "100" in res["note"]


def test_c_t_cells_against_sample_and_test_counts() -> None:
    rng = np.random.default_rng(5)
    train, test = rng.standard_normal((400, 2)), rng.standard_normal((100, 2))
    memorisation(rng.standard_normal((81, 2)), train, test, n_cells=4)  # 81 > 20 * 4
    with pytest.raises(GanevalError, match=r"`n_cells` \(4\).*n_cells <= 3"):
        memorisation(rng.standard_normal((80, 2)), train, test, n_cells=4)
    memorisation(rng.standard_normal((3000, 2)), train, test[:100], n_cells=100)
    with pytest.raises(GanevalError, match=r"`n_cells` \(100\) exceeds the 99 test points"):
        memorisation(rng.standard_normal((3000, 2)), train, test[:99], n_cells=100)


def test_fid_with_fewer_rows_than_dimensions_is_exact() -> None:
    # N <= D: the covariance is singular (rank N - 1); ganeval factors the centred rows themselves
    # (metrics/frechet.py), so FID stays exact: compared with the closed form from the eigenvalues
    # of S1 S2 in float64 (real and non-negative for two PSD matrices; round-off clipped)
    rng = np.random.default_rng(6)
    b = rng.standard_normal((40, 16)) + 0.1
    for n in (15, 16, 17):  # N = D - 1, N = D, N = D + 1
        a = rng.standard_normal((n, 16))
        s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
        ev = np.clip(np.linalg.eigvals(s1 @ s2).real, 0, None)
        exact = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sum(np.sqrt(ev))
        assert fid(a, b, bootstrap=0).value == pytest.approx(exact, rel=1e-7)


def test_summary_equals_numpy_moments() -> None:
    # the one metric without a paper: its definition written again with numpy
    ds = ganeval.load_dataset("ring8")
    x = np.random.default_rng(7).standard_normal((200, 2)).astype(np.float32)
    s = ganeval.evaluate(x, ds, metrics="summary", device="cpu").metric_dict("summary")
    t, x64 = ds.test.double().numpy(), x.astype(np.float64)
    assert s["mean_abs_diff"] == pytest.approx(np.abs(x64.mean(0) - t.mean(0)).mean(), rel=1e-12)
    assert s["std_ratio"] == pytest.approx(x64.std(0, ddof=1).mean() / t.std(0, ddof=1).mean(), rel=1e-12)
    assert (s["min"], s["max"]) == (float(x.min()), float(x.max()))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_kmeans_and_c_t_on_cuda_match_the_cpu() -> None:
    from ganeval.metrics.kmeans import kmeans_fit

    d = draw("copies", 64, 3, n_train=3000, n_test=600, n_gen=900)
    x = torch.from_numpy(d.train)
    cpu, gpu = kmeans_fit(x, 12, seed=2), kmeans_fit(x.cuda(), 12, seed=2)
    assert torch.equal(cpu.labels, gpu.labels.cpu())
    assert gpu.inertia == pytest.approx(cpu.inertia, rel=1e-9)
    # ganeval's own k-means runs on the device; the default (scikit-learn's) on the CPU whatever the device
    for how in ("torch", "sklearn"):
        a = memorisation(d.gen, d.train, d.test, n_cells=12, seed=2, kmeans=how, device="cpu")
        b = memorisation(d.gen, d.train, d.test, n_cells=12, seed=2, kmeans=how, device="cuda")
        assert b.cell_ids == a.cell_ids and b.c_t == pytest.approx(a.c_t, abs=1e-9), how
        assert b.cell_train_counts == a.cell_train_counts and b.kmeans == how
