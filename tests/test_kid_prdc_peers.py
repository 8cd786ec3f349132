"""KID against torch-fidelity and PRDC against the ``prdc`` package (skipped without them)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganeval.metrics import kid, prdc

tf_kid = pytest.importorskip("torch_fidelity.metric_kid")
prdc_pkg = pytest.importorskip("prdc")


def _sets(seed: int, n: int = 400, m: int = 300, d: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((n, d)).astype(np.float32)
    fake = (rng.standard_normal((m, d)) * 1.2 + 0.15).astype(np.float32)
    return real, fake


def test_kid_matches_torch_fidelity_same_subsets() -> None:
    real, fake = _sets(0)
    ours = kid(real, fake, subsets=15, subset_size=120, seed=2020)
    theirs = tf_kid.kid_features_to_metric(
        torch.from_numpy(real), torch.from_numpy(fake), kid_subsets=15, kid_subset_size=120, rng_seed=2020,
        verbose=False, kid_kernel="poly", kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None,
        kid_kernel_poly_coef0=1)
    # torch-fidelity sums float32 kernels; ours are float64.
    assert ours.value == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-4)
    assert ours.std == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-3)
    assert (ours.subsets, ours.subset_size, ours.n_real, ours.n_fake) == (15, 120, 400, 300)
    assert kid(real, fake, subsets=15, subset_size=120, seed=2020) == ours
    assert kid(real, fake, subsets=15, subset_size=120, seed=1).value != ours.value


@pytest.mark.parametrize("k", [1, 3, 5])
def test_prdc_matches_the_prdc_package(k: int, capsys: pytest.CaptureFixture[str]) -> None:
    real, fake = _sets(3 + k, n=350, m=280, d=12)
    ours = prdc(real, fake, k=k)
    theirs = prdc_pkg.compute_prdc(real, fake, k)
    for key in ("precision", "recall", "density", "coverage"):
        assert getattr(ours, key) == pytest.approx(float(theirs[key]), abs=1e-12), key
    # A tiny workspace budget forces many chunks; the numbers must not move.
    assert prdc(real, fake, k=k, memory_budget=256 * 1024) == ours
