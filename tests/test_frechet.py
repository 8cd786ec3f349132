"""Fréchet distance, streaming statistics, FID with bootstrap and FID_inf: known answers (the peers:
test_frechet_peers.py, which alone needs pytorch-fid)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganeval import GanevalError
from ganeval.metrics import FeatureStats, fid, fid_infinity, frechet_distance, load_stats, save_stats

pytestmark = pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning")


def _features(rng: np.random.Generator, n: int, d: int, scale: float = 1.0, shift: float = 0.0) -> np.ndarray:
    mix = rng.standard_normal((d, d)) / np.sqrt(d) + np.eye(d)
    return (rng.standard_normal((n, d)) @ mix) * scale + shift


def _stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(0), np.cov(x, rowvar=False)


def test_closed_form_equal_covariances() -> None:
    rng = np.random.default_rng(2)
    a = rng.standard_normal((40, 40))
    sigma = a @ a.T + 0.1 * np.eye(40)
    mu1, mu2 = rng.standard_normal(40), rng.standard_normal(40)
    assert frechet_distance(mu1, sigma, mu2, sigma) == pytest.approx(float(((mu1 - mu2) ** 2).sum()), rel=1e-9)


def test_closed_form_commuting_covariances() -> None:
    # Diagonal covariances in a common rotated basis: FD = |dmu|^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    a, b = rng.uniform(0.1, 3, 30), rng.uniform(0.1, 3, 30)
    mu1, mu2 = rng.standard_normal(30), rng.standard_normal(30)
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    got = frechet_distance(mu1, q @ np.diag(a) @ q.T, mu2, q @ np.diag(b) @ q.T)
    assert got == pytest.approx(expected, rel=1e-9)


def test_identical_sets_zero_and_never_negative() -> None:
    rng = np.random.default_rng(4)
    x = _features(rng, 50, 64)  # singular covariance: the case where round-off goes negative
    m, s = _stats(x)
    assert frechet_distance(m, s, m, s.copy()) == 0.0
    res = fid(x, x, bootstrap=10)
    assert res.value == 0.0 and res.ci_low is not None and res.ci_low >= 0.0
    # A different but equivalent covariance (transposed round-off) must not go below zero.
    for k in range(5):
        eps = np.random.default_rng(k).standard_normal(s.shape) * 1e-14
        assert frechet_distance(m, s, m, s + eps + eps.T) >= 0.0


def test_feature_stats_streaming_matches_numpy_and_is_stable() -> None:
    rng = np.random.default_rng(5)
    x = _features(rng, 1003, 16) + 1e4  # a large offset: naive E[xx^T] - mu mu^T loses all digits
    st = FeatureStats()
    for s in range(0, len(x), 97):
        st.update(x[s:s + 97])
    assert st.n == 1003
    np.testing.assert_allclose(st.mu, x.mean(0), rtol=1e-13)
    np.testing.assert_allclose(st.sigma, np.cov(x, rowvar=False), rtol=1e-9, atol=1e-9)
    other = FeatureStats().update(x[::-1].copy())
    np.testing.assert_allclose(other.sigma, st.sigma, rtol=1e-9, atol=1e-9)


def test_stats_npz_roundtrip_and_pytorch_fid_format(tmp_path) -> None:
    rng = np.random.default_rng(6)
    m, s = _stats(_features(rng, 100, 8))
    save_stats(tmp_path / "ours.npz", m, s)
    with np.load(tmp_path / "ours.npz") as z:  # what pytorch-fid reads
        np.testing.assert_array_equal(z["mu"], m)
        np.testing.assert_array_equal(z["sigma"], s)
    np.savez_compressed(tmp_path / "theirs.npz", mu=m, sigma=s)  # what pytorch-fid --save-stats writes
    m2, s2 = load_stats(tmp_path / "theirs.npz")
    assert frechet_distance(m, s, m2, s2) == 0.0
    np.savez(tmp_path / "bad.npz", mean=m)
    with pytest.raises(GanevalError, match="mu"):
        load_stats(tmp_path / "bad.npz")
    with pytest.raises(GanevalError, match="missing.npz"):
        load_stats(tmp_path / "missing.npz")


def test_bad_inputs_name_the_argument() -> None:
    rng = np.random.default_rng(7)
    x = _features(rng, 20, 4)
    with pytest.raises(GanevalError, match="real_features"):
        fid(x[:1], x)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(GanevalError, match="fake_features"):
        fid(x, bad)
    with pytest.raises(GanevalError, match="fake_features"):
        fid(x, x[:, :3])
    m, s = _stats(x)
    with pytest.raises(GanevalError, match="sigma2"):
        frechet_distance(m, s, m, -s)
    with pytest.raises(GanevalError, match="sigma1"):
        frechet_distance(m, s + np.triu(np.ones_like(s)), m, s)
    with pytest.raises(GanevalError, match="mu2"):
        frechet_distance(m, s, m[:3], s)
    with pytest.raises(GanevalError, match="bootstrap"):
        fid(x, x, bootstrap=-1)


def test_bootstrap_interval_is_seeded_and_brackets_the_value() -> None:
    rng = np.random.default_rng(8)
    x, y = _features(rng, 400, 8), _features(rng, 300, 8, shift=0.3)
    a, b = fid(x, y, bootstrap=50, seed=3), fid(x, y, bootstrap=50, seed=3)
    assert a == b
    assert a.ci_low < a.value < a.ci_high
    assert (a.n_fake, a.n_real, a.n_bootstrap) == (300, 400, 50)
    assert fid(x, y, bootstrap=50, seed=4).ci_low != a.ci_low
    none = fid(x, y, bootstrap=0)
    assert none.ci_low is None and none.value == a.value
    assert "N=300" in str(a)


def test_fid_infinity_recovers_the_population_distance() -> None:
    # Both sets Gaussian with equal covariance: the population FD is |shift|^2 * d exactly, while
    # FID at finite N is biased upwards by ~c/N; the 1/N extrapolation removes most of that bias.
    d, shift = 32, 0.1
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(40_000, d, generator=gen, dtype=torch.float64)
    fake = torch.randn(4_000, d, generator=gen, dtype=torch.float64) + shift
    truth = d * shift**2
    at_n = fid(real, fake, bootstrap=0).value
    res = fid_infinity(real, fake, ns=[500, 1000, 2000, 3000, 4000], repeats=3, seed=0)
    assert at_n - truth > 0.05  # the bias this test is about
    assert res.slope > 0
    assert abs(res.value - truth) < 0.5 * abs(at_n - truth)
    assert res.ns == (500, 1000, 2000, 3000, 4000) and len(res.fids) == 5
    with pytest.raises(GanevalError, match="ns"):
        fid_infinity(real, fake, ns=[4000])
