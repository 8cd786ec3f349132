"""Parzen-window log-likelihood: the 2014 protocol against a float64 brute force written here,
scikit-learn's KernelDensity in low dimensions, real MNIST digits, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ganeval
from ganeval import GanevalError
from ganeval.metrics import PAPER_SIGMAS, parzen
from ganeval.metrics.parzen import scaled_sigmas



@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Many small tensor ops: a second OpenMP thread gains little here, and when the two cores are
    # shared with other work it costs up to 15x (measured: threads waiting on each other).
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _sq(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Float64 squared distances from differences (no matmul expansion)."""
    x, s = x.reshape(len(x), -1).double(), kernels.reshape(len(kernels), -1).double()
    return torch.cdist(x, s, compute_mode="donot_use_mm_for_euclid_dist").square()


def _brute_ll(sq: torch.Tensor, sigma: float, d: int) -> torch.Tensor:
    """log (1/N) Σ_j N(x; s_j, σ²I) from the (n, N) squared distances, float64."""
    return torch.logsumexp(-sq / (2 * sigma**2), 1) - math.log(sq.shape[1]) - d * math.log(sigma * math.sqrt(2 * math.pi))


def _brute_protocol(samples, val, test, sigmas):
    d = samples[0].numel()
    sq_val = _sq(val, samples)
    curve = [float(_brute_ll(sq_val, s, d).mean()) for s in sigmas]
    best = int(np.argmax(curve))
    per = _brute_ll(_sq(test, samples), sigmas[best], d)
    return float(per.mean()), float(per.std(unbiased=False) / math.sqrt(len(per))), sigmas[best], curve


def _pixels(n: int, seed: int) -> torch.Tensor:
    """784-d images in [0, 1]: noisy copies of 10 smooth random prototypes."""
    g = torch.Generator().manual_seed(seed)
    protos = torch.nn.functional.interpolate(torch.rand(10, 1, 7, 7, generator=torch.Generator().manual_seed(0)),
                                             size=(28, 28), mode="bilinear", align_corners=False)
    x = protos[torch.randint(10, (n,), generator=g)] + 0.25 * torch.randn(n, 1, 28, 28, generator=g)
    return x.clamp(0, 1)


def test_paper_protocol_matches_float64_brute_force_784d():
    samples, val, test = _pixels(600, 1), _pixels(100, 2), _pixels(150, 3)
    res = parzen(samples, val, test)
    ll, se, sigma, curve = _brute_protocol(samples, val, test, list(PAPER_SIGMAS))
    assert res.sigma == pytest.approx(sigma, rel=1e-12)
    assert res.log_likelihood == pytest.approx(ll, abs=1e-3)
    assert res.stderr == pytest.approx(se, abs=1e-3)
    assert np.allclose(res.val_log_likelihoods, curve, atol=1e-3)
    assert res.sigmas == pytest.approx(list(PAPER_SIGMAS))
    assert (res.n_kernels, res.n_val, res.n_test, res.dim) == (600, 100, 150, 784)
    assert 0 < np.argmax(res.val_log_likelihoods) < 9 and res.warning is None
    d = res.to_dict()
    assert "test_log_likelihoods" not in d and d["log_likelihood"] == res.log_likelihood


def test_real_mnist_digits_match_float64_brute_force(mnist_root):
    ds = ganeval.load_dataset("mnist", root=mnist_root)
    samples, val, test = ds.train[:600], ds.val[:100], ds.test[:150]
    res = parzen(samples, val, test)
    ll, se, sigma, _ = _brute_protocol(samples, val, test, list(PAPER_SIGMAS))
    assert res.sigma == pytest.approx(sigma)
    assert abs(res.log_likelihood - ll) < 1e-3 and abs(res.stderr - se) < 1e-3
    # real digits scored by other real digits: far above chance, far below the paper's GAN (225)
    assert -2000 < res.log_likelihood < 225


def test_low_dimensions_match_sklearn_kernel_density():
    from sklearn.neighbors import KernelDensity

    ds = ganeval.load_dataset("ring8")
    samples, val, test = ds.train[:1500], ds.val[:300], ds.test[:400]
    grid = [0.004, 0.006, 0.009, 0.013, 0.02]
    res = parzen(samples, val, test, sigmas=grid)
    kde_val = [KernelDensity(bandwidth=s).fit(samples.numpy()).score_samples(val.numpy()).mean() for s in grid]
    assert np.allclose(res.val_log_likelihoods, kde_val, atol=1e-6)
    assert res.sigma == grid[int(np.argmax(kde_val))]
    per = KernelDensity(bandwidth=res.sigma).fit(samples.numpy()).score_samples(test.numpy())
    assert res.log_likelihood == pytest.approx(per.mean(), abs=1e-6)
    assert res.stderr == pytest.approx(per.std() / math.sqrt(len(per)), abs=1e-6)


def test_mixture_estimate_approaches_the_exact_likelihood():
    # in 2-D with enough kernels the Parzen estimate is close to the true test log-likelihood
    ds = ganeval.load_dataset("ring8")
    kernels, _ = ds.sample(2000, seed=3)
    res = parzen(kernels, ds.val[:300], ds.test[:600], sigmas=scaled_sigmas(ds.val), refine=2)
    true = float(ds.log_prob(ds.test[:600]).mean())
    assert abs(res.log_likelihood - true) < 0.2
    assert res.warning is None


def test_chunked_equals_unchunked():
    samples, val, test = _pixels(300, 4), _pixels(60, 5), _pixels(80, 6)
    a = parzen(samples, val, test)
    b = parzen(samples, val, test, memory_budget=1_500_000)  # 8 kernel blocks, 1-2 query blocks
    assert a.sigma == b.sigma
    assert np.allclose(a.val_log_likelihoods, b.val_log_likelihoods, atol=1e-6)
    assert a.log_likelihood == pytest.approx(b.log_likelihood, abs=1e-6)


def test_refine_adds_points_between_the_neighbours_and_never_does_worse():
    samples, val, test = _pixels(300, 7), _pixels(60, 8), _pixels(60, 9)
    coarse = parzen(samples, val, test)
    fine = parzen(samples, val, test, refine=3)
    assert len(fine.sigmas) == 16 and fine.sigmas == sorted(fine.sigmas)
    assert max(fine.val_log_likelihoods) >= max(coarse.val_log_likelihoods)
    i = coarse.sigmas.index(coarse.sigma)
    assert coarse.sigmas[i - 1] <= fine.sigma <= coarse.sigmas[i + 1]


def test_warning_when_the_chosen_sigma_is_at_the_edge():
    samples, val, test = _pixels(200, 10), _pixels(40, 11), _pixels(40, 12)
    res = parzen(samples, val, test, sigmas=[1.0, 2.0, 4.0])
    assert res.sigma == 1.0 and "smallest" in res.warning


@pytest.mark.parametrize("kwargs,name", [
    ({"samples": np.zeros((1, 4))}, "samples"),
    ({"val": np.zeros((0, 4))}, "val"),
    ({"test": np.zeros((5, 3))}, "test"),
    ({"test": np.array([[0.0, np.nan, 0.0, 0.0]] * 3)}, "test"),
    ({"sigmas": [0.1, -1.0]}, "sigmas"),
    ({"refine": -1}, "refine"),
])
def test_bad_input_names_the_argument(kwargs, name):
    args = {"samples": np.random.default_rng(0).random((5, 4)), "val": np.ones((3, 4)), "test": np.ones((3, 4))}
    args.update(kwargs)
    with pytest.raises(GanevalError, match=f"`{name}`"):
        parzen(args.pop("samples"), args.pop("val"), args.pop("test"), **args)
