"""Lloyd's k-means in float64 with greedy k-means++ seeding and restarts, on any torch device.

The cells of Meehan et al.'s C_T are k-means cells of the training set. By default ganeval cuts
them with scikit-learn's ``KMeans``, as the authors' code does, so that the same seed gives their
partition; this module is the ``kmeans="torch"`` option of :func:`ganeval.metrics.memorisation`,
for large feature sets on a GPU. Which partition k-means lands in moves C_T: a cell's |Z| grows
with the cell's size, so a poorer local optimum (more unequal cells) gives a more extreme C_T.
This module therefore does what the authors' code got from scikit-learn's ``KMeans`` (Meehan,
Chaudhuri & Dasgupta 2020, the data-copying test's experiments), though not draw for draw:
greedy k-means++ seeding (Arthur & Vassilvitskii 2007; ``2 + floor(ln k)`` candidates per
centre, the best kept, as scikit-learn does), Lloyd iterations until no assignment changes, and
``n_init`` restarts of which the one with the smallest within-cluster sum of squares (inertia)
is kept. Unlike scikit-learn it runs in row chunks (bounded memory) on
the CPU or CUDA, with sums in float64 whatever the input's dtype.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

_ROWS = 4096  # row chunk of every pass: no full float64 copy of large data
_COPY_BYTES = 256 << 20  # below this, one float64 copy of the data is made up front


@dataclass(frozen=True)
class KMeansFit:
    """A k-means partition.

    Attributes:
        centres: (k, D) float64 centres (the means of their points).
        labels: (N,) int64 cell of each point (its nearest centre).
        inertia: within-cluster sum of squared distances (float64).
        n_iter: Lloyd iterations of the kept restart.
        converged: whether the kept restart stopped because no assignment changed.
    """

    centres: torch.Tensor
    labels: torch.Tensor
    inertia: float
    n_iter: int
    converged: bool


def _row_sq(x: torch.Tensor) -> torch.Tensor:
    """(N,) float64 squared norms of the rows, row-chunked."""
    return torch.cat([x[a:a + _ROWS].double().square().sum(1) for a in range(0, len(x), _ROWS)])


def _sq_to_centres(x: torch.Tensor, xsq: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """(N, k) float64 squared distances of points (squared norms ``xsq``) to centres, row-chunked."""
    csq = c.square().sum(1)
    out = []
    for a in range(0, len(x), _ROWS):
        out.append(torch.addmm(csq.unsqueeze(0), x[a:a + _ROWS].double(), c.T, alpha=-2.0)
                   .add_(xsq[a:a + _ROWS].unsqueeze(1)).clamp_(min=0.0))
    return torch.cat(out)


def _nearest(x: torch.Tensor, xsq: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(squared distance, index) of each point's nearest centre; ties go to the lower index."""
    d, i = [], []
    for a in range(0, len(x), _ROWS):
        v, j = _sq_to_centres(x[a:a + _ROWS], xsq[a:a + _ROWS], c).min(1)
        d.append(v)
        i.append(j)
    return torch.cat(d), torch.cat(i)


def _plusplus(x: torch.Tensor, xsq: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """Greedy k-means++ seeding: each new centre is the best of ``2 + floor(ln k)`` D^2 draws."""
    n = len(x)
    trials = 2 + int(math.log(k))
    first = int(torch.randint(n, (1,), generator=gen))
    c = x[first].double().unsqueeze(0)
    closest = _sq_to_centres(x, xsq, c)[:, 0]
    for _ in range(1, k):
        pot = float(closest.sum())
        if pot <= 0:  # every point sits on a centre already (duplicates): any point will do
            cand = torch.randint(n, (1,), generator=gen)
        else:
            cum = torch.cumsum(closest.cpu(), 0)
            cand = torch.searchsorted(cum, torch.rand(trials, generator=gen, dtype=torch.float64) * pot)
            cand = cand.clamp_(max=n - 1)
        cand = cand.to(x.device)
        cand_d = torch.minimum(closest.unsqueeze(1), _sq_to_centres(x, xsq, x[cand].double()))  # (N, trials)
        best = int(cand_d.sum(0).argmin())
        c = torch.cat([c, x[cand[best]].double().unsqueeze(0)])
        closest = cand_d[:, best].contiguous()
    return c


def _lloyd(x: torch.Tensor, xsq: torch.Tensor, c: torch.Tensor, max_iter: int, tol: float) -> KMeansFit:
    k = len(c)
    assign = None
    it, converged = 0, False
    for it in range(1, max_iter + 1):  # noqa: B007  (read after the loop: n_iter)
        dist, new = _nearest(x, xsq, c)
        if assign is not None and torch.equal(new, assign):
            converged = True
            break
        assign = new
        counts = torch.bincount(assign, minlength=k)
        sums = torch.zeros_like(c)
        for a in range(0, len(x), _ROWS):
            sums.index_add_(0, assign[a:a + _ROWS], x[a:a + _ROWS].double())
        new_c = sums / counts.clamp(min=1).unsqueeze(1).double()
        empty = (counts == 0).nonzero().flatten()
        if empty.numel():  # re-seed an empty cell at the points farthest from their centres
            new_c[empty] = x[torch.argsort(dist, descending=True, stable=True)[: empty.numel()]].double()
        shift = float((new_c - c).square().sum())
        c = new_c
        if shift <= tol:  # scikit-learn's stopping rule: total squared centre shift within tol
            converged = True
            break
    dist, labels = _nearest(x, xsq, c)
    return KMeansFit(centres=c, labels=labels, inertia=float(dist.sum()), n_iter=it, converged=converged)


def kmeans_fit(x: torch.Tensor, k: int, *, seed: int = 0, n_init: int = 10, max_iter: int = 300,
               tol: float = 1e-4) -> KMeansFit:
    """k-means with ``n_init`` greedy-k-means++ restarts; the restart of least inertia is kept.

    Args:
        x: (N, ...) points (flattened), N >= k, on any device; any float dtype (sums in float64).
        k: number of centres.
        seed: seed of a private generator shared by the restarts (the same seed, the same fit).
        n_init: restarts (10, as scikit-learn's ``KMeans`` in the data-copying paper's experiments).
        max_iter: Lloyd iterations per restart at most.
        tol: a restart stops when no assignment changes or when the centres' total squared shift
            falls to ``tol`` times the data's mean per-dimension variance (scikit-learn's rule).

    Returns:
        :class:`KMeansFit` on x's device.
    """
    x = x.reshape(len(x), -1)
    if x.dtype != torch.float64 and x.numel() * 8 <= _COPY_BYTES:
        x = x.double()  # one float64 copy instead of one per pass, while it is small
    gen = torch.Generator().manual_seed(int(seed))
    xsq = _row_sq(x)
    mean = torch.cat([x[a:a + _ROWS].double().sum(0, keepdim=True) for a in range(0, len(x), _ROWS)]).sum(0) / len(x)
    var = float(xsq.sum()) / len(x) - float(mean.square().sum())  # total variance: mean |x|^2 - |mean|^2
    abs_tol = float(tol) * max(var, 0.0) / x.shape[1]
    best: KMeansFit | None = None
    for _ in range(int(n_init)):
        fit = _lloyd(x, xsq, _plusplus(x, xsq, int(k), gen), int(max_iter), abs_tol)
        if best is None or fit.inertia < best.inertia:
            best = fit
    assert best is not None  # n_init >= 1: checked by the callers
    return best


def kmeans(x: torch.Tensor, k: int, *, seed: int = 0, n_init: int = 10, max_iter: int = 300,
           tol: float = 1e-4) -> torch.Tensor:
    """The centres of :func:`kmeans_fit`: (k, D) float64 on x's device."""
    return kmeans_fit(x, k, seed=seed, n_init=n_init, max_iter=max_iter, tol=tol).centres
