"""Precision, recall, density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity
Metrics for Generative Models"), on k-nearest-neighbour balls.

With ``r_i`` the distance from real point ``X_i`` to its k-th nearest other real point and ``s_j``
the same for generated points ``Y_j`` among the generated ones:

* precision = share of generated Y_j inside some real ball ``B(X_i, r_i)`` (Kynkäänniemi et al. 2019);
* recall = share of real X_i inside some generated ball ``B(Y_j, s_j)``;
* density = ``(1 / (k M)) sum_j #{i : Y_j in B(X_i, r_i)}`` (can exceed 1);
* coverage = share of real X_i whose ball holds at least one generated point.

"Inside" is the strict ``<`` of the reference ``prdc`` package, whose numbers these are; but the
work is chunked (:mod:`ganeval.kernels`), so memory stays bounded where ``prdc`` builds full
N x M distance matrices, and boundary decisions are re-checked in float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import kernels
from ..errors import GanevalError
from ..results import Result
from ..validation import features_matrix, same_dim


@dataclass(frozen=True)
class PRDCResult(Result):
    """Precision, recall, density, coverage.

    Attributes:
        precision: fidelity, share of generated points on the real manifold (0-1).
        recall: diversity, share of real points on the generated manifold (0-1).
        density: fidelity counting how many real balls hold each generated point (1 on average
            when both sets come from one distribution; above 1 for samples packed near real points).
        coverage: diversity, share of real points with a generated neighbour inside their ball (0-1).
        k: neighbours defining the balls.
        n_real, n_fake: rows used.
    """

    precision: float
    recall: float
    density: float
    coverage: float
    k: int
    n_real: int
    n_fake: int


def prdc(real: Any, fake: Any, *, k: int = 5, memory_budget: int | None = None,
         device: str | torch.device | None = "cpu") -> PRDCResult:
    """Precision, recall, density and coverage of generated features against real ones.

    Args:
        real: (N, D) real features (images are flattened).
        fake: (M, D) generated features.
        k: nearest neighbours defining each ball (Naeem et al. use 5).
        memory_budget: workspace bound in bytes for the chunked kernels (default 512 MiB).
        device: where distances are computed ("cpu", "cuda", "auto").

    Returns:
        :class:`PRDCResult` (same numbers as ``prdc.compute_prdc(real, fake, k)``).

    Raises:
        GanevalError: fewer than k + 1 rows in either set (k = N - 1 is the largest k that works),
            NaN/Inf, different dimensions, bad ``k``.
    """
    pts = prdc_points(real, fake, k=k, memory_budget=memory_budget, device=device)
    return PRDCResult(
        precision=float((pts.in_real > 0).double().mean()),
        recall=float((pts.in_fake > 0).double().mean()),
        density=float(pts.in_real.sum()) / (pts.k * pts.in_real.shape[0]),
        coverage=float(pts.covered.double().mean()),
        k=pts.k, n_real=int(pts.in_fake.shape[0]), n_fake=int(pts.in_real.shape[0]),
    )


@dataclass(frozen=True)
class PRDCPoints:
    """The per-point quantities PRDC averages (the paired bootstrap reweights them).

    Attributes:
        in_real: (M,) int64, per generated point: real balls holding it (precision, density).
        in_fake: (N,) int64, per real point: generated balls holding it (recall).
        covered: (N,) bool, per real point: a generated point inside its ball (coverage).
        k: neighbours defining the balls.
        real_radii: (N,) float64 k-NN radius of each real point.
    """

    in_real: torch.Tensor
    in_fake: torch.Tensor
    covered: torch.Tensor
    k: int
    real_radii: torch.Tensor


def prdc_points(real: Any, fake: Any, *, k: int = 5, memory_budget: int | None = None,
                device: str | torch.device | None = "cpu", real_radii: torch.Tensor | None = None) -> PRDCPoints:
    """Per-point ball counts behind :func:`prdc` (same arguments and errors).

    ``real_radii`` (N,): the real points' k-NN radii from an earlier call (:attr:`PRDCPoints.real_radii`),
    so that several generated sets scored against one real set find its neighbours once.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise GanevalError(f"`k` must be an integer >= 1, got {k!r}.")
    k = int(k)
    r = features_matrix(real, "real", min_rows=2)
    f = features_matrix(fake, "fake", min_rows=2)
    for name, x in (("real", r), ("fake", f)):
        # Each ball's radius is the distance to the k-th nearest *other* point of the same set, so
        # a set needs k + 1 rows; k = N - 1 is the largest that works (the ball then reaches the
        # farthest point; the prdc package itself fails there, its partition index being out of range).
        if x.shape[0] <= k:
            raise GanevalError(f"`k` ({k}) needs at least k + 1 = {k + 1} rows in `{name}`, which has {x.shape[0]}: "
                               f"a ball's radius is the distance to the k-th nearest other point; pass "
                               f"k <= {x.shape[0] - 1} or more rows.")
    same_dim(r, f, "real", "fake")
    kw: dict[str, Any] = {"memory_budget": memory_budget, "device": device}
    if real_radii is None:
        real_radii = kernels.knn(r, r, k, exclude_self=True, **kw)[0][:, -1].double()
    fake_radii = kernels.knn(f, f, k, exclude_self=True, **kw)[0][:, -1].double()
    in_real = kernels.count_within(f, r, real_radii, strict=True, **kw)  # per fake: real balls holding it
    in_fake = kernels.count_within(r, f, fake_radii, strict=True, **kw)  # per real: fake balls holding it
    nearest_fake = kernels.knn(r, f, 1, **kw)[0][:, 0].double()
    return PRDCPoints(in_real=in_real, in_fake=in_fake, covered=nearest_fake < real_radii, k=k, real_radii=real_radii)
