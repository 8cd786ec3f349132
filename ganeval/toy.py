"""Analytic generators with known behaviour, for demos and tests.

:class:`MixtureGenerator` maps latent noise to a chosen subset of a Gaussian mixture's modes:
with all modes it is a perfect generator; with a few, a collapsed one of known coverage.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class MixtureGenerator(nn.Module):
    """z -> means[modes[i]] + scale * std * noise, with i picked from z[:, 0].

    Args:
        means: (K, D) mode centres (list of lists is fine: it is stored in the checkpoint).
        std: the mixture's std.
        modes: indices of the modes to produce (default: all).
        scale: multiplies the std of the produced noise (1.0 = exact mixture samples).

    The latent has ``D + 1`` dims, standard normal: the first picks the mode (through the
    normal CDF, so modes are equally likely), the rest are the within-mode noise.
    """

    means: torch.Tensor  # buffers (typed here: nn.Module's attribute lookup would say Tensor | Module)
    modes: torch.Tensor

    def __init__(self, means: list[list[float]], std: float, modes: list[int] | None = None, scale: float = 1.0):
        super().__init__()
        m = torch.as_tensor(means, dtype=torch.float32)
        self.register_buffer("means", m)
        chosen = list(range(len(m))) if modes is None else [int(i) for i in modes]
        self.register_buffer("modes", torch.as_tensor(chosen, dtype=torch.long))
        self.std = float(std) * float(scale)
        self.latent_dim = m.shape[1] + 1

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        u = 0.5 * (1 + torch.erf(z[:, 0] / math.sqrt(2.0)))
        idx = (u * len(self.modes)).long().clamp(max=len(self.modes) - 1)
        return self.means[self.modes[idx]] + self.std * z[:, 1:]


def mixture_generator(data: str = "ring8", modes: list[int] | None = None, scale: float = 1.0) -> MixtureGenerator:
    """Factory: a :class:`MixtureGenerator` for a built-in mixture dataset."""
    from .data import load_dataset

    ds = load_dataset(data)
    return MixtureGenerator(ds.means.tolist(), ds.std, modes, scale)  # type: ignore[attr-defined]


class GaussianGenerator(nn.Module):
    """z -> mean + z @ scale^T: the Gaussian N(mean, scale scale^T), whose FID to another Gaussian
    has a closed form (:func:`ganeval.metrics.frechet_distance`); for calibrating paired tests.

    Args:
        mean: (D,) mean.
        scale: (D, D) matrix (its product with its transpose is the covariance), or a number
            (``scale * I``).
    """

    mean: torch.Tensor  # buffers
    scale: torch.Tensor

    def __init__(self, mean: list[float], scale: list[list[float]] | float = 1.0):
        super().__init__()
        mu = torch.as_tensor(mean, dtype=torch.float64)
        a = torch.as_tensor(scale, dtype=torch.float64)
        a = a * torch.eye(len(mu), dtype=torch.float64) if a.ndim == 0 else a
        self.register_buffer("mean", mu)
        self.register_buffer("scale", a)
        self.latent_dim = len(mu)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (self.mean + z.double() @ self.scale.T).float()

    def covariance(self) -> torch.Tensor:
        return self.scale @ self.scale.T
