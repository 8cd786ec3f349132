"""FID's bootstrap interval: the fast replicates against a float64 brute force on the same resamples,
and (slow) the interval's coverage on Gaussians whose Fréchet distance is known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from ganeval.metrics import fid, frechet_distance
from ganeval.metrics.frechet import _replicates


def _brute_fid(x: np.ndarray, y: np.ndarray, cx: np.ndarray, cy: np.ndarray) -> float:
    """FID of the resample (rows repeated ``c`` times), float64, general eigenvalues of S1 S2."""
    a, b = np.repeat(x, cx, axis=0), np.repeat(y, cy, axis=0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ev = scipy.linalg.eigvals(s1 @ s2).real
    diff = a.mean(0) - b.mean(0)
    return max(float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(ev, 0, None)).sum()), 0.0)


def _brute_interval(x: np.ndarray, y: np.ndarray, k: int, seed: int, confidence: float = 0.95) -> tuple[float, float]:
    """``fid``'s documented interval, every replicate by brute force on the same resamples."""
    rng = np.random.default_rng(seed)
    reps = []
    for _ in range(k):
        cx = np.bincount(rng.integers(0, len(x), len(x)), minlength=len(x))
        cy = np.bincount(rng.integers(0, len(y), len(y)), minlength=len(y))
        reps.append(_brute_fid(x, y, cx, cy))
    value = _brute_fid(x, y, np.ones(len(x), int), np.ones(len(y), int))
    q_lo, q_hi = np.quantile(reps, [(1 - confidence) / 2, (1 + confidence) / 2])
    shift = float(np.mean(reps)) - value
    return max(q_lo - shift, 0.0), max(q_hi - shift, 0.0)


def _features(rng: np.random.Generator, n: int, d: int, shift: float, dead: int = 0) -> np.ndarray:
    # Non-negative, with a decaying spectrum, like pooled network features.
    mix = rng.standard_normal((d, d)) * (np.arange(1, d + 1) ** -0.7)[:, None]
    x = np.maximum(rng.standard_normal((n, d)) @ mix + 0.3 + shift, 0.0)
    x[:, :dead] = 0.5  # constant columns: a singular covariance
    return x.astype(np.float32)


@pytest.mark.parametrize(("n_real", "n_fake", "d", "dead"), [
    (400, 300, 24, 0),    # the fast path (distinct rows well above D)
    (40, 50, 24, 0),      # fewer rows than twice D: the exact path
    (400, 300, 24, 2),    # constant columns in the real set: fast path hands replicates to the exact one
    (300, 400, 24, -2),   # constant columns in the fake set: the eigenbasis has zero eigenvalues
])
def test_interval_matches_float64_brute_force_on_same_resamples(n_real: int, n_fake: int, d: int, dead: int) -> None:
    rng = np.random.default_rng(3)
    x, y = _features(rng, n_real, d, 0.0, max(dead, 0)), _features(rng, n_fake, d, 0.1, max(-dead, 0))
    res = fid(x, y, bootstrap=30, seed=7)
    lo, hi = _brute_interval(x.astype(np.float64), y.astype(np.float64), 30, 7)
    assert res.ci_low == pytest.approx(lo, rel=1e-4) and res.ci_high == pytest.approx(hi, rel=1e-4)
    assert res.ci_low is not None and res.ci_high is not None and res.ci_low < res.value < res.ci_high


def test_fast_replicates_equal_exact_ones() -> None:
    """Every precision of the fast path against the float64 reference path, replicate by replicate."""
    rng = np.random.default_rng(0)
    r, f = torch.from_numpy(_features(rng, 600, 32, 0.0)), torch.from_numpy(_features(rng, 500, 32, 0.05))
    exact = _replicates(r, f, 12, 1, "exact")
    torch.testing.assert_close(_replicates(r, f, 12, 1, "float64"), exact, rtol=1e-10, atol=0)
    torch.testing.assert_close(_replicates(r, f, 12, 1, "mixed"), exact, rtol=1e-5, atol=0)
    torch.testing.assert_close(_replicates(r, f, 12, 1, "eig64"), exact, rtol=1e-5, atol=0)
    torch.testing.assert_close(_replicates(r, f, 12, 1, "float32"), exact, rtol=1e-3, atol=0)


def _graded(rng: np.random.Generator, n: int, d: int, shift: float, decay: float) -> np.ndarray:
    """Features whose covariance spectrum falls by many decades (like pooled Inception features)."""
    mix = rng.standard_normal((d, d)) * (np.arange(1, d + 1) ** -decay)[:, None]
    return np.maximum(rng.standard_normal((n, d)) @ mix + 0.3 + shift, 0.0).astype(np.float32)


def test_float32_replicates_in_the_eigenbasis_keep_the_endpoints() -> None:
    """The default ("mixed": float32 replicates in the full sample's eigenbasis) on covariances whose
    spectrum spans five decades, against the float64 reference on the same resamples: replicates and
    the interval's endpoints agree to 1e-4 relative (measured 1.3e-7), and an order of magnitude
    better than all-float32 in the original basis (measured 2.9e-6)."""
    rng = np.random.default_rng(4)
    d = 96
    r, f = (torch.from_numpy(_graded(rng, 900, d, s, 1.6)) for s in (0.0, 0.02))
    exact = _replicates(r, f, 40, 3, "exact")
    fast = _replicates(r, f, 40, 3, "mixed")
    all32 = _replicates(r, f, 40, 3, "float32")
    err_fast, err_32 = (float(np.max(np.abs(x / exact - 1))) for x in (fast, all32))
    assert err_fast < 1e-4 and err_fast < err_32 / 10
    value = fid(r, f, bootstrap=0).value

    def interval(reps: np.ndarray) -> np.ndarray:
        q = np.quantile(reps, [0.025, 0.975])
        return q - (reps.mean() - value)

    np.testing.assert_allclose(interval(fast), interval(exact), rtol=1e-4, atol=0)
    res = fid(r, f, bootstrap=40, seed=3)  # what fid runs: the same endpoints
    assert res.ci_low is not None and res.ci_high is not None
    np.testing.assert_allclose([res.ci_low, res.ci_high], interval(exact), rtol=1e-4, atol=0)


def test_near_identical_sets_stay_accurate() -> None:
    """FID a tiny fraction of the traces: "mixed" switches to float64 and still matches the reference."""
    rng = np.random.default_rng(1)
    x = _features(rng, 800, 16, 0.0)
    y = x[rng.permutation(800)[:700]] + np.float32(1e-3)
    r, f = torch.from_numpy(x), torch.from_numpy(y)
    value = fid(x, y, bootstrap=0).value
    exact = _replicates(r, f, 8, 2, "exact")
    torch.testing.assert_close(_replicates(r, f, 8, 2, "auto", value=value), exact, rtol=1e-9, atol=0)


def test_point_estimate_does_not_depend_on_the_interval() -> None:
    rng = np.random.default_rng(2)
    x, y = _features(rng, 300, 16, 0.0), _features(rng, 300, 16, 0.1)
    assert fid(x, y, bootstrap=10).value == fid(x, y, bootstrap=0).value


def _coverage(reps: int, n: int, d: int, k: int, seed: int = 0) -> dict[str, float]:
    """How often ``reps`` 95% intervals hold the closed-form distance and E[FID_N] (the mean FID over
    the data sets, a Monte Carlo estimate), with the mean bias and spread of FID at this N."""
    rng = np.random.default_rng(seed)
    q1, q2 = rng.standard_normal((d, d)), rng.standard_normal((d, d))
    s1, s2 = q1 @ q1.T / d + 0.5 * np.eye(d), q2 @ q2.T / d + 0.5 * np.eye(d)
    mu2 = np.full(d, 0.5 / np.sqrt(d))
    truth = frechet_distance(np.zeros(d), s1, mu2, s2)
    c1, c2 = np.linalg.cholesky(s1), np.linalg.cholesky(s2)
    rows = []
    for i in range(reps):
        x = rng.standard_normal((n, d)) @ c1.T
        y = rng.standard_normal((n, d)) @ c2.T + mu2
        res = fid(x, y, bootstrap=k, seed=i)
        rows.append((res.value, res.ci_low, res.ci_high))
    v, lo, hi = np.array(rows).T
    mean_n = float(v.mean())
    return {"truth": float(np.mean((lo <= truth) & (truth <= hi))), "mean": float(np.mean((lo <= mean_n) & (mean_n <= hi))),
            "bias": mean_n - truth, "sd": float(v.std(ddof=1))}


@pytest.mark.slow
@pytest.mark.parametrize(("n", "d"), [(2000, 8), (1000, 32)])
def test_interval_coverage_on_gaussians(n: int, d: int) -> None:
    """The 95% interval describes FID at this N: it holds E[FID_N] 93-97% of the time (300 data sets,
    200 replicates each); it holds the closed-form (N = infinity) distance as often only where FID's
    bias is small beside its spread (n=2000, d=8), which the test prints.

    Command (docs/performance.md): ``.venv/bin/python -m pytest -m slow -s tests/test_fid_interval.py``.
    """
    c = _coverage(reps=300, n=n, d=d, k=200)
    print(f"\nN={n}, d={d}: the 95% interval holds E[FID_N] {c['mean']:.3f} and the closed-form FID {c['truth']:.3f} "
          f"of 300 data sets (bias of FID at this N {c['bias']:.3f}, its sd {c['sd']:.3f})")
    assert 0.93 <= c["mean"] <= 0.97
