"""Mode coverage on mixtures of Gaussians (PacGAN / VEEGAN definitions)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._utils import as_matrix, same_dim
from ..errors import GanevalError
from ..results import Result


@dataclass(frozen=True)
class ModeCoverage(Result):
    """Mode coverage of samples on a mixture.

    Attributes:
        modes_covered: modes holding at least ``min_count`` high-quality samples.
        n_modes: number of modes.
        hq_fraction: fraction of samples within ``threshold`` std of their nearest mode.
        reverse_kl: KL(histogram of high-quality samples over modes || uniform), nats
            (``None`` when no sample is high quality).
        counts: high-quality samples per mode.
        dominant_mode: the mode nearest to most samples (whatever their quality).
        top2_share: fraction of all samples whose nearest mode is one of the two most visited.
        n_samples, threshold, min_count: the protocol.
        assignment: nearest mode of each sample (kept out of ``to_dict``).
        distance_std: distance to the nearest mode in units of std (kept out of ``to_dict``).
    """

    modes_covered: int
    n_modes: int
    hq_fraction: float
    reverse_kl: float | None
    counts: list[int]
    dominant_mode: int
    top2_share: float
    n_samples: int
    threshold: float
    min_count: int
    assignment: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros(0, int))
    distance_std: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros(0))
    _private = ("assignment", "distance_std")


def mode_coverage(samples: Any, means: Any, std: float, *, threshold: float = 3.0,
                  min_count: int = 1) -> ModeCoverage:
    """Mode coverage as in PacGAN's (Lin et al. 2018) and VEEGAN's (Srivastava et al. 2017) evaluation.

    Each sample goes to its nearest mode (Euclidean, i.e. in units of the shared std); it is
    *high quality* when within ``threshold`` std of that mode; a mode is *covered* when it holds at
    least ``min_count`` high-quality samples; ``reverse_kl`` is KL(p_hq || uniform) of the
    histogram of high-quality samples over the modes (0 = perfectly balanced).

    Args:
        samples: (N, D) generated points.
        means: (K, D) mode centres.
        std: the modes' common standard deviation (> 0).
        threshold: high-quality radius in std (3 in the papers).
        min_count: high-quality samples a mode needs to count as covered (1 in PacGAN).

    Raises:
        GanevalError: shapes disagree, std <= 0, threshold <= 0, min_count < 1, NaN input.
    """
    x = as_matrix(samples, "samples", min_rows=1, dtype=torch.float64)
    mu = as_matrix(means, "means", min_rows=1, dtype=torch.float64)
    same_dim(x, mu, "samples", "means")
    if not (isinstance(std, (int, float)) and math.isfinite(std) and std > 0):
        raise GanevalError(f"`std` must be a positive number, got {std!r}.")
    if not threshold > 0:
        raise GanevalError(f"`threshold` must be > 0 (in std), got {threshold!r}.")
    if int(min_count) < 1:
        raise GanevalError(f"`min_count` must be >= 1, got {min_count!r}.")
    d = torch.cdist(x, mu)
    dist, assign = d.min(dim=1)
    dist_std = (dist / std).numpy()
    assign_np = assign.numpy()
    hq = dist_std <= threshold
    k = mu.shape[0]
    counts = np.bincount(assign_np[hq], minlength=k)
    visits = np.bincount(assign_np, minlength=k)
    n_hq = int(hq.sum())
    if n_hq:
        p = counts / n_hq
        nz = p > 0
        rkl: float | None = float(np.sum(p[nz] * np.log(p[nz] * k)))
    else:
        rkl = None
    return ModeCoverage(
        modes_covered=int((counts >= int(min_count)).sum()), n_modes=k, hq_fraction=float(hq.mean()),
        reverse_kl=rkl, counts=counts.tolist(), dominant_mode=int(visits.argmax()),
        top2_share=float(np.sort(visits)[-2:].sum() / len(assign_np)), n_samples=int(x.shape[0]),
        threshold=float(threshold), min_count=int(min_count), assignment=assign_np, distance_std=dist_std)
