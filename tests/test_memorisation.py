"""Memorisation checks: copies of training images are flagged, unseen real digits are not; every
statistic against a reference written here with scikit-learn and scipy; end to end with figures."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import ganeval
from ganeval import GanevalError
from ganeval.data import MixtureDataset
from ganeval.metrics import memorisation, nearest_neighbours
from ganeval.metrics.memorisation import _midranks, kmeans
from ganeval.report import write_report


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Many small tensor ops: a second OpenMP thread gains little here, and when the two cores are
    # shared with other work it costs up to 15x (measured: threads waiting on each other).
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def digits():
    return ganeval.load_dataset("digits")


def _copies(train: torch.Tensor, n: int, seed: int, noise: float) -> torch.Tensor:
    """Noise-perturbed copies of randomly chosen training images."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(train), (n,), generator=g)
    return (train[idx] + noise * torch.randn(train[idx].shape, generator=g)).clamp(0, 1)


def _sk_nn(reference: torch.Tensor, queries: torch.Tensor, k: int = 1):
    from sklearn.neighbors import NearestNeighbors

    r = reference.reshape(len(reference), -1).double().numpy()
    q = queries.reshape(len(queries), -1).double().numpy()
    return NearestNeighbors(n_neighbors=k, algorithm="brute").fit(r).kneighbors(q)


def test_nearest_neighbours_match_sklearn(digits):
    # digit pixels are multiples of 1/16, so exact distance ties occur: scikit-learn may order them
    # either way, ganeval puts the lower index first
    dist, idx = nearest_neighbours(digits.test, digits.train, k=3)
    sk_d, sk_i = _sk_nn(digits.train, digits.test, 4)
    assert np.allclose(dist.numpy(), sk_d[:, :3], rtol=1e-6)
    untied = ~np.isclose(sk_d[:, :3], np.roll(sk_d, -1, axis=1)[:, :3], rtol=1e-9) & \
        ~np.isclose(sk_d[:, :3], np.roll(sk_d, 1, axis=1)[:, :3], rtol=1e-9)
    assert untied.mean() > 0.9
    assert np.array_equal(idx.numpy()[untied], sk_i[:, :3][untied])
    full = torch.cdist(digits.test.reshape(300, -1).double(), digits.train.reshape(1197, -1).double(),
                       compute_mode="donot_use_mm_for_euclid_dist")
    assert torch.equal(idx, torch.sort(full, dim=1, stable=True).indices[:, :3])


def test_copies_are_flagged_and_unseen_digits_are_not(digits):
    tr, te = digits.train, digits.test
    copies = memorisation(_copies(tr, 300, 1, noise=0.03), tr, te)
    fresh = memorisation(digits.val, tr, te)
    assert copies.copy_rate > 0.95 and fresh.copy_rate < 0.05
    assert copies.c_t < -5 and abs(fresh.c_t) < 1.5
    assert copies.authenticity < 0.05
    assert abs(fresh.authenticity - fresh.authenticity_baseline) < 0.15
    assert copies.distance_ratio < 0.3 and 0.8 < fresh.distance_ratio < 1.25
    assert copies.cells_used == copies.n_cells == 6


def test_real_mnist_copies_and_unseen_digits(mnist_root):
    ds = ganeval.load_dataset("mnist", root=mnist_root)
    tr, te = ds.train[:3000], ds.test[:600]
    copies = memorisation(_copies(tr, 500, 2, noise=0.03), tr, te)
    fresh = memorisation(ds.val[:500], tr, te)
    assert copies.copy_rate > 0.95 and fresh.copy_rate < 0.05
    assert copies.c_t < -5 and abs(fresh.c_t) < 1.5
    assert copies.authenticity < 0.05 and fresh.authenticity > 0.3


def test_statistics_match_a_reference_built_with_sklearn_and_scipy(digits):
    from scipy.stats import mannwhitneyu

    tr, te = digits.train, digits.test
    samples = torch.cat([_copies(tr, 60, 3, noise=0.05), digits.val[:240]])
    # ganeval's own k-means, whose centres the test reads back (the default, scikit-learn's KMeans,
    # is checked against the authors' partition in tests/test_validity.py)
    res = memorisation(samples, tr, te, n_cells=4, seed=3, percentile=5, kmeans="torch")
    sd, si = (a[:, 0] for a in _sk_nn(tr, samples))
    bd, bi = (a[:, 0] for a in _sk_nn(tr, te))
    assert np.array_equal(res.sample_neighbours, si) and np.array_equal(res.baseline_neighbours, bi)
    assert np.allclose(res.sample_distances, sd, rtol=1e-6)
    thr = np.percentile(bd, 5)
    assert res.copy_threshold == pytest.approx(thr, rel=1e-6)
    assert res.copy_rate == pytest.approx(np.mean(sd <= thr))
    # authenticity: nearer to its nearest training point than that point's nearest other training point
    d2, i2 = _sk_nn(tr, tr, 2)
    own = np.arange(len(tr))
    nn_other = np.where(i2[:, 0] == own, d2[:, 1], d2[:, 0])
    assert res.authenticity == pytest.approx(np.mean(sd > nn_other[si]))
    assert res.authenticity_baseline == pytest.approx(np.mean(bd > nn_other[bi]))
    # C_T on the same cells: Mann-Whitney U of sample vs test distances to the cell's training points,
    # Z-scored as the authors' data_copying_tests.py (U centred at mn/2 - 0.5), cells with MORE than
    # tau*m = 20 samples (strict)
    centres = kmeans(tr.reshape(len(tr), -1), 4, seed=3)
    cell = {k: _sk_nn(centres, x)[1][:, 0] for k, x in (("tr", tr), ("te", te), ("s", samples))}
    zs, ws = [], []
    for c in range(4):
        t, p, q = (torch.from_numpy(np.flatnonzero(cell[k] == c)) for k in ("tr", "te", "s"))
        if len(p) == 0 or len(q) <= 20:
            continue
        lq, lp = _sk_nn(tr[t], samples[q])[0][:, 0], _sk_nn(tr[t], te[p])[0][:, 0]
        m, n = len(lq), len(lp)
        u = mannwhitneyu(lq, lp).statistic
        zs.append((u - (m * n / 2 - 0.5)) / math.sqrt(m * n * (m + n + 1) / 12))
        ws.append(n / len(te))
    assert res.cells_used == len(zs) > 0
    assert res.c_t == pytest.approx(np.dot(ws, zs) / np.sum(ws), abs=1e-9)
    # without the correction every Z moves by -0.5 / sd
    plain = memorisation(samples, tr, te, n_cells=4, seed=3, percentile=5, continuity=False, kmeans="torch")
    sds = [math.sqrt(a * b * (a + b + 1) / 12) for a, b in
           ((res.cell_sample_counts[c], res.cell_test_counts[c]) for c in res.cell_ids)]
    assert plain.cell_z == pytest.approx([z - 0.5 / sd for z, sd in zip(res.cell_z, sds)], abs=1e-12)


def test_midranks_match_scipy_with_ties():
    from scipy.stats import rankdata

    a = np.array([3.0, 1.0, 2.0, 3.0, 0.5, 2.0, 2.0, 7.0])
    assert np.array_equal(_midranks(a), rankdata(a))


def test_kmeans_recovers_separated_blobs():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]], dtype=torch.float64)
    x = centres[torch.arange(300) % 3] + 0.1 * torch.randn(300, 2, generator=g, dtype=torch.float64)
    found = kmeans(x, 3, seed=1)
    order = torch.cdist(centres, found).argmin(1)
    assert sorted(order.tolist()) == [0, 1, 2]
    assert torch.allclose(found[order], centres, atol=0.05)
    assert torch.equal(found, kmeans(x, 3, seed=1))


def test_end_to_end_evaluate_and_report(digits, tmp_path):
    samples = torch.cat([_copies(digits.train, 100, 4, noise=0.03), digits.val[:200]])
    ev = ganeval.evaluate(samples.numpy(), digits, metrics=["parzen", "memorisation"], device="cpu")
    mem, pz = ev.metrics["memorisation"], ev.metrics["parzen"]
    assert 0.3 < mem.copy_rate < 0.4 and mem.space == "pixels"
    assert pz.space == "pixels" and pz.n_val == 300 and pz.n_kernels == 300
    out = write_report(ev, tmp_path / "report")
    for name in ("parzen_curve.png", "memorisation_neighbours.png", "memorisation_distances.png"):
        assert (out / name).stat().st_size > 1000
    saved = json.loads((out / "report.json").read_text())["metrics"]
    assert saved["memorisation"]["copy_rate"] == pytest.approx(mem.copy_rate)
    assert "sample_neighbours" not in saved["memorisation"] and "test_log_likelihoods" not in saved["parzen"]
    assert ev.artifacts["memorisation"]["sample_neighbours"].shape == (300,)


def test_end_to_end_on_a_2d_mixture_draws_the_neighbour_lines(tmp_path):
    ring = ganeval.load_dataset("ring8")
    ds = MixtureDataset(name="ring8-small", kind="mixture", train=ring.train[:1500], val=ring.val[:300],
                        test=ring.test[:500], n_classes=8, means=ring.means, std=ring.std)
    samples, _ = ring.sample(400, seed=9)
    ev = ganeval.evaluate(samples.numpy(), ds, metrics=["parzen", "memorisation"], device="cpu")
    pz = ev.metrics["parzen"]
    assert pz.space == "data" and pz.true_log_likelihood is not None
    assert abs(pz.log_likelihood - pz.true_log_likelihood) < 0.5
    out = write_report(ev, tmp_path / "report")
    assert (out / "memorisation_neighbours.png").exists() and (out / "parzen_curve.png").exists()


@pytest.mark.parametrize("kwargs,name", [
    ({"samples": np.zeros((1, 4))}, "samples"),
    ({"train": np.zeros((0, 4))}, "train"),
    ({"test": np.zeros((5, 3))}, "test"),
    ({"samples": np.array([[0.0, np.inf, 0.0, 0.0]] * 3)}, "samples"),
    ({"percentile": 0}, "percentile"),
    ({"n_cells": 100}, "n_cells"),
    ({"min_cell_samples": 1}, "min_cell_samples"),
])
def test_bad_input_names_the_argument(kwargs, name):
    rng = np.random.default_rng(0)
    args = {"samples": rng.random((6, 4)), "train": rng.random((8, 4)), "test": rng.random((5, 4))}
    args.update(kwargs)
    with pytest.raises(GanevalError, match=f"`{name}`"):
        memorisation(args.pop("samples"), args.pop("train"), args.pop("test"), **args)
