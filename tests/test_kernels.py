"""Chunked kernels against brute-force float64 references written here, and against scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganeval import GanevalError
from ganeval import kernels as K

@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Many small tensor ops: a second OpenMP thread gains little here, and when the two cores are
    # shared with other work it costs up to 15x (measured: threads waiting on each other).
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _data(n: int, d: int, seed: int, offset: float = 3.0) -> torch.Tensor:
    """Clustered points far from the origin (where the uncentred float32 expansion loses digits)."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(8, d, generator=g, dtype=torch.float64) * 4
    x = centres[torch.randint(8, (n,), generator=g)] + 0.3 * torch.randn(n, d, generator=g, dtype=torch.float64)
    return (x + offset).float()


def _dist(q: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Float64 Euclidean distances from differences (no matmul expansion)."""
    return torch.cdist(q.double(), r.double(), compute_mode="donot_use_mm_for_euclid_dist")


def _brute_knn(q: torch.Tensor, r: torch.Tensor, k: int, exclude_self: bool = False):
    """Float64 distances, ties broken by the lower index (a stable sort)."""
    d = _dist(q, r)
    if exclude_self:
        d.fill_diagonal_(math.inf)
    v, i = torch.sort(d, dim=1, stable=True)
    return v[:, :k], i[:, :k]


def _brute_log_kde(q: torch.Tensor, s: torch.Tensor, sigmas: list[float]) -> torch.Tensor:
    sq = _dist(q, s).square()
    sig = torch.tensor(sigmas, dtype=torch.float64)
    dim = q.shape[1]
    return (torch.logsumexp(-sq.unsqueeze(2) / (2 * sig**2), dim=1) - math.log(s.shape[0])
            - dim * torch.log(sig * math.sqrt(2 * math.pi)))


@pytest.mark.parametrize("d", [3, 60])  # float64 tiles (low D) and float32 tiles
def test_sq_dists_matches_float64(d):
    x, y = _data(70, d, 0, offset=50.0), _data(90, d, 1, offset=50.0)
    ref = _dist(x, y).square()
    got = K.sq_dists(x, y)
    assert got.shape == (70, 90) and got.dtype == torch.float32
    assert ((got.double() - ref).abs() / ref.clamp(min=1)).max() < 1e-5
    assert (K.sq_dists(x, x).diagonal().abs() < 1e-3).all()


@pytest.mark.parametrize("d", [2, 60])
@pytest.mark.parametrize("budget", [None, 60_000, 25_000])
def test_knn_exact_and_chunking_invariant(d, budget):
    q, r = _data(100, d, 2), _data(400, d, 3)
    dist, idx = K.knn(q, r, 5, memory_budget=budget)
    ref_d, ref_i = _brute_knn(q, r, 5)
    assert torch.equal(idx, ref_i)
    assert torch.allclose(dist.double(), ref_d, rtol=1e-6, atol=1e-6)
    assert (dist[:, 1:] >= dist[:, :-1]).all()


def test_knn_matches_sklearn_nearest_neighbors():
    from sklearn.neighbors import NearestNeighbors

    q, r = _data(100, 40, 4).double(), _data(800, 40, 5).double()
    dist, idx = K.knn(q, r, 4)
    sk_d, sk_i = NearestNeighbors(n_neighbors=4, algorithm="brute").fit(r.numpy()).kneighbors(q.numpy())
    assert np.array_equal(idx.numpy(), sk_i)
    assert np.allclose(dist.numpy(), sk_d, rtol=1e-6)


@pytest.mark.parametrize("d", [5, 40])
def test_knn_exclude_self_with_duplicates_breaks_ties_by_index(d):
    # every point appears 12 times: the spare candidates all tie, which forces the fallback path
    base = _data(20, d, 6)
    x = base.repeat(12, 1)
    for budget in (None, 60_000):
        dist, idx = K.knn(x, x, 3, exclude_self=True, memory_budget=budget)
        ref_d, ref_i = _brute_knn(x, x, 3, exclude_self=True)
        assert torch.equal(idx, ref_i)
        assert (dist == 0).all()
        assert not (idx == torch.arange(len(x)).unsqueeze(1)).any()
    dist, idx = K.knn(x, x, 13, exclude_self=True)  # past the 11 copies
    assert torch.equal(idx, _brute_knn(x, x, 13, exclude_self=True)[1])


def test_knn_tiny_distances_far_from_origin():
    # 2-D modes of std 1e-3 at radius 100: distances ~1e-3 beside norms ~100
    g = torch.Generator().manual_seed(7)
    ang = torch.rand(400, generator=g, dtype=torch.float64) * 2 * math.pi
    x = torch.stack([ang.cos(), ang.sin()], 1) * 100 + 1e-3 * torch.randn(400, 2, generator=g, dtype=torch.float64)
    dist, idx = K.knn(x[:100], x[100:], 2)
    ref_d, ref_i = _brute_knn(x[:100], x[100:], 2)
    assert torch.equal(idx, ref_i)
    assert torch.allclose(dist.double(), ref_d, rtol=1e-6)


def test_knn_inexact_mode_is_close():
    q, r = _data(100, 50, 8), _data(500, 50, 9)
    dist, _ = K.knn(q, r, 3, exact=False)
    ref_d, _ = _brute_knn(q, r, 3)
    assert torch.allclose(dist.double(), ref_d, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("d", [3, 50])
def test_count_within_matches_brute_force_and_chunks(d):
    q, r = _data(120, d, 10), _data(400, d, 11)
    dist = _dist(q, r)
    g = torch.Generator().manual_seed(12)
    radii = dist.median() * (0.3 + 0.7 * torch.rand(400, generator=g, dtype=torch.float64))
    ref = (dist <= radii.unsqueeze(0)).sum(1)
    assert torch.equal(K.count_within(q, r, radii), ref)
    assert torch.equal(K.count_within(q, r, radii, memory_budget=20_000), ref)
    assert torch.equal(K.count_within(q, r, radii.float(), memory_budget=20_000),
                       (dist <= radii.float().double().unsqueeze(0)).sum(1))


def test_count_within_exact_at_the_boundary():
    # radii equal to the exact distances from query 0: every point lies exactly on its sphere
    q, r = _data(20, 50, 13), _data(300, 50, 14)
    radii = (q[:1].double() - r.double()).square().sum(1).sqrt()
    assert int(K.count_within(q[:1], r, radii)[0]) == 300
    assert int(K.count_within(q[:1], r, radii, strict=True)[0]) == 0


@pytest.mark.parametrize("d,offset", [(2, 5.0), (100, 3.0)])
def test_log_kde_matches_float64_and_chunks(d, offset):
    q, s = _data(80, d, 15, offset), _data(600, d, 16, offset)
    sigmas = [0.02, 0.1, 0.5, 2.0] if d == 2 else [0.05, 0.3, 1.0, 3.0]
    ref = _brute_log_kde(q, s, sigmas)
    got = K.log_kde(q, s, sigmas)
    assert got.shape == (80, 4) and got.dtype == torch.float64
    assert (got - ref).abs().max() < 1e-3
    chunked = K.log_kde(q, s, sigmas, memory_budget=50_000)
    assert (chunked - got).abs().max() < 1e-4


@pytest.mark.parametrize("d", [1, 3])
def test_log_kde_matches_sklearn_kernel_density_in_low_dimensions(d):
    # bandwidths wide enough that no query's density is tiny: where it is, scikit-learn's tree
    # estimate goes wrong even in 3-D (seen here: 57 nats off at sigma 0.05 for log p = -51)
    from sklearn.neighbors import KernelDensity

    q, s = _data(60, d, 17).double(), _data(300, d, 18).double()
    for sigma in (0.3, 1.0):
        sk = KernelDensity(bandwidth=sigma).fit(s.numpy()).score_samples(q.numpy())
        got = K.log_kde(q, s, [sigma])[:, 0].numpy()
        assert np.allclose(got, sk, atol=1e-6, rtol=1e-9)


@pytest.mark.parametrize("d", [3, 60])
def test_workspace_respects_the_budget(monkeypatch, d):
    # the big allocations of one call (distance tiles, exp scratch, the resident centred reference)
    # add up to less than the budget
    sizes: list[int] = []
    real_tiles, real_make = K._Tiles.__init__, K._Points._make

    def tiles(self, size, device, dtype):
        sizes.append(size * dtype.itemsize)
        real_tiles(self, size, device, dtype)

    def make(self, i0, i1):
        if i1 - i0 == self.n:
            sizes.append(self.n * (self.d + 1) * self.dtype.itemsize)
        return real_make(self, i0, i1)

    monkeypatch.setattr(K._Tiles, "__init__", tiles)
    monkeypatch.setattr(K._Points, "_make", make)
    q, r = _data(300, d, 19), _data(3000, d, 20)
    ref = K.knn(q, r, 2)
    for budget in (200_000, 2_000_000):
        calls = [lambda: K.knn(q, r, 2, memory_budget=budget),
                 lambda: K.log_kde(q, r, [0.5, 1.0], memory_budget=budget),
                 lambda: K.count_within(q, r, torch.ones(3000), memory_budget=budget)]
        for i, call in enumerate(calls):
            sizes.clear()
            out = call()
            assert sizes and sum(sizes) <= budget
            if i == 0:
                assert all(torch.equal(a, b) for a, b in zip(out, ref))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    q, r = _data(200, 60, 21), _data(900, 60, 22)
    d_cpu, i_cpu = K.knn(q, r, 3, device="cpu")
    d_gpu, i_gpu = K.knn(q, r, 3, device="cuda")
    assert torch.equal(i_cpu, i_gpu) and torch.allclose(d_cpu, d_gpu)
    radii = torch.full((900,), float(d_cpu[:, 2].median()), dtype=torch.float64)
    assert torch.equal(K.count_within(q, r, radii, device="cpu"), K.count_within(q, r, radii, device="cuda"))
    a = K.log_kde(q, r, [0.3, 1.0], device="cpu")
    b = K.log_kde(q, r, [0.3, 1.0], device="cuda")
    assert (a - b).abs().max() < 1e-3


@pytest.mark.parametrize("call,name", [
    (lambda: K.knn(np.zeros((0, 3)), np.ones((5, 3)), 1), "queries"),
    (lambda: K.knn(np.ones((4, 3)), np.ones((5, 2)), 1), "reference"),
    (lambda: K.knn(np.ones((4, 3)), np.array([[1.0, np.nan, 0.0]] * 5), 1), "reference"),
    (lambda: K.knn(np.ones((4, 3)), np.ones((5, 3)), 6), "k"),
    (lambda: K.knn(np.ones((4, 3)), np.ones((4, 3)), 4, exclude_self=True), "k"),
    (lambda: K.knn(np.ones((4, 3)), np.ones((5, 3)), 1, exclude_self=True), "exclude_self"),
    (lambda: K.knn(np.ones((4, 3)), np.ones((5, 3)), 1, memory_budget=0), "memory_budget"),
    (lambda: K.count_within(np.ones((4, 3)), np.ones((5, 3)), np.ones(4)), "radii"),
    (lambda: K.count_within(np.ones((4, 3)), np.ones((5, 3)), -np.ones(5)), "radii"),
    (lambda: K.log_kde(np.ones((4, 3)), np.ones((5, 3)), [0.1, 0.0]), "sigmas"),
    (lambda: K.log_kde(np.ones((4, 3)), np.ones((5, 3)), []), "sigmas"),
    (lambda: K.sq_dists(np.ones((4, 3)), np.ones((5, 4))), "y"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(GanevalError, match=f"`{name}"):
        call()
