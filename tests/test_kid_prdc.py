"""KID against a brute-force MMD, PRDC known answers, the adapters end to end (the peers, torch-fidelity's KID
and the ``prdc`` package: test_kid_prdc_peers.py, which alone skips without them)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from ganeval import GanevalError, evaluate, load_dataset
from ganeval.metrics import kid, prdc
from ganeval.metrics.kid import mmd2_unbiased


def _sets(seed: int, n: int = 400, m: int = 300, d: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((n, d)).astype(np.float32)
    fake = (rng.standard_normal((m, d)) * 1.2 + 0.15).astype(np.float32)
    return real, fake


def test_mmd_matches_brute_force_double_sum() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((9, 5)), rng.standard_normal((9, 5)) + 0.3

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return (a @ b / 5 + 1.0) ** 3

    m = 9
    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    got = mmd2_unbiased(torch.from_numpy(x), torch.from_numpy(y), degree=3, gamma=None, coef0=1.0)
    assert got == pytest.approx(xx + yy - 2 * xy, rel=1e-12)


def test_kid_unbiased_near_zero_for_one_distribution() -> None:
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(2000, 8, generator=gen), torch.randn(2000, 8, generator=gen)
    same = kid(a, b, subsets=20, subset_size=500, seed=0)
    shifted = kid(a, b + 0.5, subsets=20, subset_size=500, seed=0)
    assert abs(same.value) < 3 * same.std
    assert shifted.value > 10 * same.std


def test_kid_errors_name_the_argument() -> None:
    real, fake = _sets(2, n=50, m=40)
    with pytest.raises(GanevalError, match="subset_size"):
        kid(real, fake, subset_size=45)
    bad = fake.copy()
    bad[0, 0] = np.inf
    with pytest.raises(GanevalError, match="fake"):
        kid(real, bad, subset_size=10)
    with pytest.raises(GanevalError, match="real"):
        kid(real[:1], fake, subset_size=1)
    with pytest.raises(GanevalError, match="gamma"):
        kid(real, fake, subset_size=10, gamma=-1.0)


def test_prdc_known_answers() -> None:
    real, _ = _sets(9, n=200, d=6)
    same = prdc(real, real.copy(), k=5)
    assert (same.precision, same.recall, same.coverage) == (1.0, 1.0, 1.0)
    far = prdc(real, real + 100.0, k=5)
    assert (far.precision, far.recall, far.density, far.coverage) == (0.0, 0.0, 0.0, 0.0)
    with pytest.raises(GanevalError, match="fake"):
        prdc(real, real[:5], k=5)
    with pytest.raises(GanevalError, match="`k`"):
        prdc(real, real, k=0)


def test_adapters_end_to_end_on_digits() -> None:
    ds = load_dataset("digits")
    ev = evaluate(ds.val, ds, metrics="fid,kid,prdc", seed=0, device="cpu",
                  options={"fid": {"bootstrap": 30}, "kid": {"subsets": 20}})
    f = ev.metric_dict("fid")
    assert (f["n_fake"], f["n_real"], f["reference"], f["features"]) == (300, 1197, "train", "digits")
    assert f["ci_low"] <= f["value"] <= f["ci_high"]
    assert f["fid_inf"] is not None and len(f["infinity"]["ns"]) >= 2
    assert ev.metric_dict("kid")["subset_size"] == 300
    p = ev.metric_dict("prdc")
    assert 0.5 < p["precision"] <= 1.0 and 0.5 < p["coverage"] <= 1.0  # held-out real digits
    assert ev.provenance["features"]["name"] == "digits" and len(ev.provenance["features"]["sha256"]) == 64
    # Held-out real digits are much closer to the training digits than noise is.
    noise = evaluate(torch.rand(300, 1, 8, 8, generator=torch.Generator().manual_seed(0)), ds, metrics="fid",
                     seed=0, device="cpu", options={"fid": {"bootstrap": 0, "infinity": False}})
    assert noise.metric_dict("fid")["value"] > 5 * f["value"]
    from ganeval.report.figures import figures_for

    figs = figures_for(ev)
    assert [stem for stem, _, _ in figs if stem == "fid_vs_n"] == ["fid_vs_n"]
