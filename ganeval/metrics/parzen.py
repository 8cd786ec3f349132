"""Parzen-window (Gaussian kernel density) log-likelihood: the protocol of Goodfellow et al. 2014.

A Gaussian of bandwidth σ is centred on every generated sample; σ is chosen on a validation set
(the grid ``logspace(-1, 0, 10)`` for pixels in [0, 1], as in Table 1 of the GAN paper and the
original ``parzen_ll.py``) and the mean log-likelihood of the test set is reported with the
standard error ``std / √n_test`` (population std, as the original).

Read the caveats in ``docs/likelihood.md`` before trusting a ranking: Theis, van den Oord & Bethge
(2015, "A note on the evaluation of generative models") show that Parzen estimates in high
dimensions are far from the true log-likelihood even with millions of samples, can rank models
wrongly, and that a k-means "model" can beat the real data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import GanevalError
from ..kernels import log_kde
from ..results import Result
from ..validation import as_points, as_tensor, same_dim

PAPER_SIGMAS = tuple(float(s) for s in np.logspace(-1, 0, 10))
"""The GAN paper's bandwidth grid: 10 values log-spaced from 0.1 to 1 (pixels in [0, 1])."""


@dataclass(frozen=True)
class ParzenResult(Result):
    """Parzen-window log-likelihood of a test set under a kernel density of generated samples.

    Attributes:
        log_likelihood: mean log p(test point), nats.
        stderr: population std of the per-point values / √n_test (as the original code).
        sigma: the bandwidth chosen on the validation set.
        sigmas: every bandwidth evaluated on the validation set, ascending.
        val_log_likelihoods: mean validation log-likelihood at each of ``sigmas``.
        n_kernels, n_val, n_test, dim: the counts and the dimension.
        warning: set when the chosen σ is at the edge of the grid (the optimum may lie outside).
        space: what the points were ("pixels", "features: <extractor>", ...), set by the caller.
        true_log_likelihood: the test set's mean exact log-likelihood under the data's own density,
            where known (mixtures), for comparison.
        test_log_likelihoods: per test point values (kept out of ``to_dict``).
    """

    log_likelihood: float
    stderr: float
    sigma: float
    sigmas: list[float]
    val_log_likelihoods: list[float]
    n_kernels: int
    n_val: int
    n_test: int
    dim: int
    warning: str | None = None
    space: str | None = None
    true_log_likelihood: float | None = None
    test_log_likelihoods: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros(0))
    _private = ("test_log_likelihoods",)


def scaled_sigmas(x: Any, num: int = 19) -> list[float]:
    """A bandwidth grid for data that are not pixels in [0, 1]: ``num`` values log-spaced over
    three decades, from 0.001 to 1 times the data's scale (root mean per-dimension variance).

    Args:
        x: (n, ...) points (typically the validation set), n >= 2.
        num: grid size.

    Raises:
        GanevalError: fewer than 2 rows, NaN / Inf, or all points identical.
    """
    t = as_points(x, "x", min_rows=2).double()
    scale = float(t.var(0).mean().sqrt())
    if not scale > 0:
        raise GanevalError("`x` has zero spread (all points identical): no bandwidth scale; pass `sigmas`.")
    return [float(v) for v in np.logspace(-3, 0, int(num)) * scale]


def _grid(sigmas: Any) -> np.ndarray:
    if sigmas is None:
        return np.asarray(PAPER_SIGMAS)
    s = as_tensor(sigmas, "sigmas", dtype=torch.float64).reshape(-1).numpy()
    if not (s > 0).all():
        raise GanevalError(f"`sigmas` must all be > 0, got {s.tolist()}.")
    return np.unique(s)


def parzen(samples: Any, val: Any, test: Any, *, sigmas: Any = None, refine: int = 0,
           memory_budget: int | None = None, device: str | torch.device | None = None) -> ParzenResult:
    """Parzen-window log-likelihood with the bandwidth chosen on a validation set.

    ``log p(x) = logmeanexp_j(−‖x − s_j‖² / (2σ²)) − D·log(σ√(2π))`` over the generated samples
    s_j; σ = argmax of the mean validation log-likelihood over the grid; the test set is then
    scored at that σ. Distances are computed once per validation block for all σ
    (:func:`ganeval.kernels.log_kde`).

    Args:
        samples: (N, ...) generated samples: the kernel centres (10,000 in the paper).
        val: (n_val, ...) validation points for choosing σ.
        test: (n_test, ...) test points.
        sigmas: bandwidth grid; default :data:`PAPER_SIGMAS` (meant for pixels in [0, 1]).
        refine: if > 0, after the grid search evaluate this many extra σ on each side of the chosen
            one, log-spaced up to its neighbours on the grid (one grid step beyond it at an edge),
            and choose again among all.
        memory_budget: workspace bound in bytes for the kernels.
        device: "cpu", "cuda", "auto" or None (see :func:`ganeval.kernels.knn`).

    Returns:
        A :class:`ParzenResult`.

    Raises:
        GanevalError: fewer than 2 rows in any input, NaN / Inf, mismatched dimensions,
            non-positive ``sigmas``, negative ``refine``.
    """
    s = as_points(samples, "samples", min_rows=2)
    v = as_points(val, "val", min_rows=2)
    t = as_points(test, "test", min_rows=2)
    same_dim(v, s, "val", "samples")
    same_dim(t, s, "test", "samples")
    if isinstance(refine, bool) or not isinstance(refine, (int, np.integer)) or refine < 0:
        raise GanevalError(f"`refine` must be an integer >= 0, got {refine!r}.")
    grid = _grid(sigmas)
    kw: dict[str, Any] = {"memory_budget": memory_budget, "device": device}
    curve = log_kde(v, s, grid, **kw).mean(0).numpy()
    if refine:
        best = int(np.argmax(curve))
        step = math.log(grid[1] / grid[0]) if len(grid) > 1 else math.log(2.0)
        lo = grid[best - 1] if best > 0 else grid[best] * math.exp(-step)
        hi = grid[best + 1] if best < len(grid) - 1 else grid[best] * math.exp(step)
        extra = np.concatenate([np.geomspace(lo, grid[best], int(refine) + 2)[1:-1],
                                np.geomspace(grid[best], hi, int(refine) + 2)[1:-1]])
        grid = np.concatenate([grid, extra])
        curve = np.concatenate([curve, log_kde(v, s, extra, **kw).mean(0).numpy()])
        order = np.argsort(grid, kind="stable")
        grid, curve = grid[order], curve[order]
    best = int(np.argmax(curve))
    sigma = float(grid[best])
    warning = None
    if len(grid) > 1 and best in (0, len(grid) - 1):
        side = "smallest" if best == 0 else "largest"
        warning = (f"The chosen sigma {sigma:.4g} is the {side} value of the grid [{grid[0]:.4g}, {grid[-1]:.4g}]: "
                   "the best bandwidth may lie outside it; widen the grid (sigmas=...).")
    per_point = log_kde(t, s, [sigma], **kw)[:, 0].numpy()
    return ParzenResult(
        log_likelihood=float(per_point.mean()), stderr=float(per_point.std() / math.sqrt(len(per_point))),
        sigma=sigma, sigmas=[float(x) for x in grid], val_log_likelihoods=[float(x) for x in curve],
        n_kernels=int(s.shape[0]), n_val=int(v.shape[0]), n_test=int(t.shape[0]), dim=int(s.shape[1]),
        warning=warning, test_log_likelihoods=per_point)
