"""Calibration of the paired test by simulation, where the truth is known.

Gaussian "generators" ``G(z) = mean + scale z`` (:class:`ganeval.toy.GaussianGenerator`) against
a reference Gaussian N(0, I): the population FID of each is the closed form
:func:`ganeval.metrics.frechet_distance`, so the true difference is known. Each repetition draws a
fresh reference set and fresh latents, runs the paired comparison and records whether the
interval of the FID difference covers the true difference. A second pair of generators with the
same distribution but different maps (``scale`` times a rotation) has a true difference of 0:
their p-values should be uniform on [0, 1] (Kolmogorov–Smirnov test).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..checkpoints import generator_from_module
from ..data import Dataset
from ..metrics import frechet_distance
from ..toy import GaussianGenerator
from .engine import compare_models


@dataclass(frozen=True)
class Calibration:
    """Coverage of the paired intervals and uniformity of null p-values over repetitions."""

    reps: int
    confidence: float
    true_delta: float
    coverage: float
    null_p_values: tuple[float, ...]
    ks_pvalue: float
    mean_width: float

    def text(self) -> str:
        return (f"{self.reps} repetitions: {100 * self.confidence:g}% paired intervals of ΔFID cover the true "
                f"difference {self.true_delta:+.4f} in {100 * self.coverage:.1f}% (mean width {self.mean_width:.4f}); "
                f"p-values of equal-distribution models: KS test of uniformity p = {self.ks_pvalue:.3f}, "
                f"share below 0.05 = {np.mean(np.asarray(self.null_p_values) < 0.05):.3f}")


def _rotation(d: int, angle: float) -> np.ndarray:
    q = np.eye(d)
    c, s = np.cos(angle), np.sin(angle)
    q[:2, :2] = [[c, -s], [s, c]]
    return q


def gaussian_calibration(reps: int = 200, *, d: int = 3, n: int = 1000, m: int = 2000, n_bootstrap: int = 400,
                         confidence: float = 0.95, seed: int = 0) -> Calibration:
    """Run the simulation (see the module docstring).

    Args:
        reps: repetitions (each: a fresh reference set of ``m`` rows and fresh latents).
        d: dimension; n: samples per model; m: reference rows.
        n_bootstrap: joint replicates per repetition.
        confidence: interval level.
        seed: master seed.

    Returns:
        :class:`Calibration`.
    """
    from scipy.stats import kstest

    mean_a, mean_b, sc_b = np.full(d, 0.3), np.full(d, 0.1), 1.2
    eye = np.eye(d)
    true_delta = frechet_distance(mean_b, sc_b ** 2 * eye, np.zeros(d), eye) - frechet_distance(mean_a, eye,
                                                                                                np.zeros(d), eye)
    gens = {"a": GaussianGenerator(mean_a.tolist(), 1.0), "b": GaussianGenerator(mean_b.tolist(), sc_b),
            "a-rotated": GaussianGenerator(mean_a.tolist(), _rotation(d, 2.0).tolist())}
    covered, widths, pvals = [], [], []
    for r in range(int(reps)):
        g = torch.Generator().manual_seed(seed * 100_003 + r)
        ref = torch.randn(m, d, generator=g)
        ds = Dataset(name="gaussian", kind="vectors", train=ref, val=ref[:10], test=ref[:10])
        models = {k: generator_from_module(v, latent_dim=d, device="cpu", name=k) for k, v in gens.items()}
        _, comp = compare_models(models, ds, metrics=["fid"], n_samples=n, seed=seed * 100_003 + r + 1,
                                 n_bootstrap=n_bootstrap, confidence=confidence, device="cpu",
                                 return_comparison=True)
        s = comp.summary("fid")
        pairs = {(comp.models[a], comp.models[b]): (lo, hi, p) for a, b, _, lo, hi, p, _ in s.pairs}
        lo, hi, _ = pairs[("a", "b")]
        covered.append(lo <= true_delta <= hi)
        widths.append(hi - lo)
        pvals.append(pairs[("a", "a-rotated")][2])
    ks = float(kstest(pvals, "uniform").pvalue)
    return Calibration(int(reps), float(confidence), float(true_delta), float(np.mean(covered)),
                       tuple(float(p) for p in pvals), ks, float(np.mean(widths)))
