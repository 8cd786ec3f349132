"""Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs").

KID is the unbiased estimate of the squared maximum mean discrepancy between real and generated
features under the polynomial kernel ``k(x, y) = (gamma <x, y> + coef0)^degree`` (``gamma`` =
1/D by default), averaged over random subsets of ``subset_size`` rows of each set:

    MMD^2_u = sum_{i != j} k(x_i, x_j) / (m (m-1)) + sum_{i != j} k(y_i, y_j) / (m (m-1))
              - 2 sum_{i, j} k(x_i, y_j) / m^2.

This is torch-fidelity's definition (``kid_features_to_metric``), subsets included: subset ``s``
takes ``rng.choice(n_real, m, replace=False)`` then ``rng.choice(n_fake, m, replace=False)`` from
one ``numpy.random.RandomState(seed)``, so the same seed picks the same subsets as torch-fidelity's
``rng_seed`` (whose default is 2020). Unlike FID, KID is unbiased, so values at different N
compare; it can be slightly negative when the two sets come from one distribution.
Kernel sums are computed in float64 (torch-fidelity uses float32).

Small N: a ``subset_size`` above the smaller set's size is refused, naming the largest that
works, as torch-fidelity refuses it; with ``clip_subset_size=True`` (what ``evaluate`` passes)
the subsets are instead ``min(subset_size, N)`` rows and the result records the size asked for
and a ``note``. When a subset is a whole set, every subset of it is that set and ``std`` then
only reflects the other set's subsets (0 when both are whole): the note says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._utils import resolve_device
from ..errors import GanevalError
from ..results import Result
from ..validation import check_int as _int
from ..validation import features_matrix, same_dim


@dataclass(frozen=True)
class KIDResult(Result):
    """Kernel Inception Distance.

    Attributes:
        value: mean of the per-subset unbiased MMD^2 estimates.
        std: their standard deviation (``np.std``, as torch-fidelity reports it).
        subsets, subset_size: how many subsets of how many rows of each set.
        degree, gamma, coef0: the polynomial kernel.
        n_real, n_fake: rows available.
        requested_subset_size: the subset size asked for, when it was lowered to fit (else None).
        note: what was chosen automatically for small N (else None).
    """

    value: float
    std: float
    subsets: int
    subset_size: int
    degree: int
    gamma: float
    coef0: float
    n_real: int
    n_fake: int
    requested_subset_size: int | None = None
    note: str | None = None

    def __str__(self) -> str:
        return f"KID(m={self.subset_size} x {self.subsets} subsets) = {self.value:.4g} ± {self.std:.2g}"


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor, *, degree: int = 3, gamma: float | None = None,
                  coef0: float = 1.0) -> float:
    """Unbiased MMD^2 of two equal-sized sets under the polynomial kernel (one KID subset).

    Args:
        x, y: (m, D) float tensors on one device (computed in float64).
        degree, gamma, coef0: the kernel ``(gamma <x, y> + coef0)^degree``; gamma None is 1/D.

    Returns:
        The estimate (a float; may be slightly negative).
    """
    m = x.shape[0]
    g = 1.0 / x.shape[1] if gamma is None else float(gamma)
    x, y = x.double(), y.double()
    k_xx = (x @ x.T * g + coef0).pow_(degree)
    k_yy = (y @ y.T * g + coef0).pow_(degree)
    k_xy = (x @ y.T * g + coef0).pow_(degree)
    off_xx = _total(k_xx) - _total(k_xx.diagonal())
    off_yy = _total(k_yy) - _total(k_yy.diagonal())
    return float((off_xx + off_yy) / (m * (m - 1)) - 2.0 * _total(k_xy) / (m * m))


def _total(k: torch.Tensor) -> float:
    """Sum of a kernel matrix whose value does not depend on the thread count.

    torch's full ``sum`` splits the work between threads, so 1 and 2 threads round differently;
    each row's sum is one thread's work in a fixed order, and numpy adds the row sums pairwise.
    """
    rows = k.sum(dim=-1) if k.ndim == 2 else k
    return float(np.sum(rows.cpu().numpy()))


def kid(real: Any, fake: Any, *, subsets: int = 100, subset_size: int = 1000, degree: int = 3,
        gamma: float | None = None, coef0: float = 1.0, seed: int = 0, clip_subset_size: bool = False,
        device: str | torch.device = "cpu") -> KIDResult:
    """Kernel Inception Distance between real and generated features (torch-fidelity's definition).

    Args:
        real: (N_real, D) reference features (images are flattened).
        fake: (N_fake, D) generated features.
        subsets: number of random subset pairs.
        subset_size: rows per subset (at most min(N_real, N_fake) unless ``clip_subset_size``).
        degree, gamma, coef0: polynomial kernel ``(gamma <x, y> + coef0)^degree``; gamma None = 1/D.
        seed: seeds ``numpy.random.RandomState`` exactly as torch-fidelity's ``rng_seed`` does.
        clip_subset_size: use ``min(subset_size, N_real, N_fake)`` rows per subset instead of
            refusing a size above N (recorded in ``requested_subset_size`` and ``note``).
        device: where the kernel matrices are computed ("cpu", "cuda", "auto").

    Returns:
        :class:`KIDResult`.

    Raises:
        GanevalError: fewer than 2 rows, NaN/Inf, different dimensions, ``subset_size`` larger than
            a set (without ``clip_subset_size``), a bad kernel parameter.
    """
    r = features_matrix(real, "real")
    f = features_matrix(fake, "fake")
    same_dim(r, f, "real", "fake")
    subsets = _int(subsets, "subsets", 1)
    m = _int(subset_size, "subset_size", 2)
    degree = _int(degree, "degree", 1)
    n_min = min(r.shape[0], f.shape[0])
    requested, notes = None, []
    if m > n_min:
        if not clip_subset_size:
            raise GanevalError(f"`subset_size` ({m}) is larger than the smaller set (real: {r.shape[0]} rows, fake: "
                               f"{f.shape[0]}); pass subset_size <= {n_min} or more samples.")
        requested, m = m, n_min
        notes.append(f"subset_size lowered from {requested} to {m}, the smaller set's size")
    whole = [name for name, n in (("real", r.shape[0]), ("fake", f.shape[0])) if n == m]
    if whole:
        notes.append(f"each subset is the whole {' and '.join(whole)} set, so std does not reflect "
                     f"{'their' if len(whole) > 1 else 'its'} sampling variation")
    if gamma is not None and not (np.isfinite(gamma) and gamma > 0):
        raise GanevalError(f"`gamma` must be a positive number or None (1/D), got {gamma!r}.")
    if not np.isfinite(coef0):
        raise GanevalError(f"`coef0` must be finite, got {coef0!r}.")
    g = 1.0 / r.shape[1] if gamma is None else float(gamma)
    dev = resolve_device(device)
    # Subsets go to float64 one at a time (mmd2_unbiased widens them): a float64 copy of both whole
    # sets would make memory grow with N, which KID does not need.
    r_dev, f_dev = r.to(dev), f.to(dev)
    rng = np.random.RandomState(int(seed))  # a private instance, as torch-fidelity seeds its subsets
    mmds = np.empty(subsets)
    for i in range(subsets):
        ir = torch.from_numpy(rng.choice(r.shape[0], m, replace=False)).to(dev)
        jf = torch.from_numpy(rng.choice(f.shape[0], m, replace=False)).to(dev)
        mmds[i] = mmd2_unbiased(r_dev[ir], f_dev[jf], degree=degree, gamma=g, coef0=float(coef0))
    return KIDResult(value=float(mmds.mean()), std=float(mmds.std()), subsets=subsets, subset_size=m, degree=degree,
                     gamma=g, coef0=float(coef0), n_real=int(r.shape[0]), n_fake=int(f.shape[0]),
                     requested_subset_size=requested, note="; ".join(notes) or None)
