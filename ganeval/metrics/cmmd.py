"""CMMD (Jayasumana et al. 2024, "Rethinking FID: Towards a Better Evaluation Metric for Image
Generation"): squared MMD between CLIP image embeddings with a Gaussian RBF kernel.

    CMMD = 1000 * ( mean_{i,j} k(x_i, x_j) + mean_{i,j} k(y_i, y_j) - 2 mean_{i,j} k(x_i, y_j) ),
    k(a, b) = exp(-||a - b||^2 / (2 sigma^2)),  sigma = 10,

on L2-normalised CLIP ViT-L/14@336px embeddings. The estimator is the authors' reference
implementation's (google-research/cmmd, ``distance.py``): kernel means over all pairs, the
diagonal included (the biased V-statistic), so CMMD of a set with itself is exactly 0 and the value
is >= 0. Unlike FID it assumes no distribution of the embeddings and is unbiased in N up to the
diagonal's O(1/N) term.

With unit vectors and sigma = 10 every kernel value lies in [exp(-0.02), 1], so the three means
differ in their fourth or fifth digit: the sums are taken over ``expm1`` (the kernel minus one,
which cancels exactly between the three terms) in float64, blocks of pairs at a time so memory
stays bounded whatever N is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .._utils import resolve_device
from ..errors import GanevalError
from ..results import Result
from ..validation import as_matrix, same_dim

SIGMA = 10.0
SCALE = 1000.0
_BLOCK = 2048


@dataclass(frozen=True)
class CMMDResult(Result):
    """CMMD value and what it was computed on.

    Attributes:
        value: 1000 x squared MMD (>= 0; lower is better).
        sigma: the RBF bandwidth.
        n_real, n_fake: embeddings on each side.
        normalised: whether the embeddings were L2-normalised here (CLIP embeddings are).
    """

    value: float
    sigma: float
    n_real: int
    n_fake: int
    normalised: bool = True

    def __str__(self) -> str:
        return f"CMMD(N={self.n_fake} fake, {self.n_real} real) = {self.value:.4g}"


def _mean_expm1(a: torch.Tensor, b: torch.Tensor, gamma: float) -> float:
    """mean over all pairs of ``exp(-gamma ||a_i - b_j||^2) - 1``, in blocks, float64 sums."""
    a64, b64 = a.double(), b.double()
    sa, sb = (a64 * a64).sum(1), (b64 * b64).sum(1)
    total = torch.zeros((), dtype=torch.float64, device=a.device)
    for i in range(0, a.shape[0], _BLOCK):
        d2 = (sa[i:i + _BLOCK, None] + sb[None, :]) - 2.0 * (a64[i:i + _BLOCK] @ b64.T)
        total += torch.expm1(-gamma * d2.clamp_min_(0.0)).sum()
    return float(total) / (a.shape[0] * b.shape[0])


def cmmd(real_embeddings: Any, fake_embeddings: Any, *, sigma: float = SIGMA, normalise: bool = True,
         device: str | torch.device | None = None) -> CMMDResult:
    """CMMD between two sets of image embeddings (Jayasumana et al. 2024).

    Args:
        real_embeddings: (N_real, D) CLIP embeddings of reference images.
        fake_embeddings: (N_fake, D) CLIP embeddings of generated images.
        sigma: RBF bandwidth (10, the paper's).
        normalise: L2-normalise each row first (the paper's embeddings are unit vectors).
        device: where the kernel sums run (None: the inputs' device).

    Returns:
        :class:`CMMDResult` with ``value`` = 1000 x MMD^2 (all-pairs means, diagonal included).

    Raises:
        GanevalError: fewer than 1 row, NaN/Inf, different dimensions, zero rows when normalising,
            a non-positive sigma.
    """
    x = as_matrix(real_embeddings, "real_embeddings", min_rows=1, dtype=torch.float64)
    y = as_matrix(fake_embeddings, "fake_embeddings", min_rows=1, dtype=torch.float64)
    same_dim(x, y, "real_embeddings", "fake_embeddings")
    if not sigma > 0:
        raise GanevalError(f"`sigma` must be > 0, got {sigma!r}.")
    dev = resolve_device(device) if device is not None else x.device
    x, y = x.to(dev), y.to(dev)
    if normalise:
        for t, name in ((x, "real_embeddings"), (y, "fake_embeddings")):
            if bool((t.norm(dim=1) == 0).any()):
                raise GanevalError(f"`{name}` has an all-zero row, which cannot be L2-normalised.")
        x = x / x.norm(dim=1, keepdim=True)
        y = y / y.norm(dim=1, keepdim=True)
    gamma = 1.0 / (2.0 * float(sigma) ** 2)
    mmd2 = _mean_expm1(x, x, gamma) + _mean_expm1(y, y, gamma) - 2.0 * _mean_expm1(x, y, gamma)
    return CMMDResult(value=SCALE * mmd2, sigma=float(sigma), n_real=int(x.shape[0]), n_fake=int(y.shape[0]),
                      normalised=bool(normalise))
