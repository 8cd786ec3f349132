"""Fréchet distance against the peers that define it: pytorch-fid and torch-fidelity (skipped without them)."""

from __future__ import annotations

import numpy as np
import pytest

from ganeval.metrics import fid, frechet_distance

pytorch_fid = pytest.importorskip("pytorch_fid.fid_score")
pytestmark = pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning")
tf_fid = pytest.importorskip("torch_fidelity.metric_fid")


def _features(rng: np.random.Generator, n: int, d: int, scale: float = 1.0, shift: float = 0.0) -> np.ndarray:
    mix = rng.standard_normal((d, d)) / np.sqrt(d) + np.eye(d)
    return (rng.standard_normal((n, d)) @ mix) * scale + shift


def _stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(0), np.cov(x, rowvar=False)


def _peers(m1: np.ndarray, s1: np.ndarray, m2: np.ndarray, s2: np.ndarray) -> tuple[float, float]:
    p = float(pytorch_fid.calculate_frechet_distance(m1, s1, m2, s2))
    t = tf_fid.fid_statistics_to_metric({"mu": m1, "sigma": s1}, {"mu": m2, "sigma": s2}, False)
    return p, float(t["frechet_inception_distance"])


def test_agrees_with_pytorch_fid_and_torch_fidelity_well_conditioned() -> None:
    rng = np.random.default_rng(0)
    m1, s1 = _stats(_features(rng, 3000, 128))
    m2, s2 = _stats(_features(rng, 2500, 128, scale=1.2, shift=0.1))
    ours = frechet_distance(m1, s1, m2, s2)
    p, t = _peers(m1, s1, m2, s2)
    assert ours == pytest.approx(p, rel=1e-8)
    assert ours == pytest.approx(t, rel=1e-8)


def test_agrees_with_peers_rank_deficient() -> None:
    # Fewer rows than dimensions: both covariances are singular.
    rng = np.random.default_rng(1)
    x, y = _features(rng, 60, 128), _features(rng, 90, 128, scale=0.8, shift=0.2)
    (m1, s1), (m2, s2) = _stats(x), _stats(y)
    p, t = _peers(m1, s1, m2, s2)
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(p, rel=1e-6)
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(t, rel=1e-6)
    # From features, the centred rows are used as an exact factor.
    assert fid(x, y, bootstrap=0).value == pytest.approx(p, rel=1e-6)
