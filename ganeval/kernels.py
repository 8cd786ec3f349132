"""Chunked distance kernels: squared distances, exact k-nearest neighbours, radius counts, and a
log-sum-exp Gaussian kernel density that evaluates many bandwidths from one pass over the distances.

Why they look the way they do:

* Distances use ``‖x‖² + ‖y‖² − 2x·y`` with float32 matrix products, which run near the machine's
  matmul rate. The data are centred first (on the reference's float64 mean): the expansion cancels
  catastrophically when the norms are large next to the distances (in 784-d Parzen estimates,
  ~1e-2 nats of error without centring, ~1e-3 with, < 1e-4 once the nearest kernel's distance is
  also recomputed in float64). Data of dimension <= ``F64_MAX_DIM`` use float64 tiles instead:
  there distances can be far below what float32 resolves next to the norms (2-D mixtures of
  std 0.01), and the small matmuls are memory-bound, so float64 costs little.
* Exactness where it matters. ``knn`` keeps a few more float32 candidates than asked, re-ranks them
  with float64 distances computed on the original data, and proves from a rigorous float32 error
  bound (``γ_d``-style) that no other point can be nearer; rows it cannot prove are redone by
  collecting every point inside the bound. ``count_within`` re-checks in float64 only the pairs
  whose float32 distance lies within the bound of the radius. Results therefore do not depend on
  the chunking.
* Memory: work is tiled so that the workspace (device copies of blocks, distance tiles, candidate
  lists) stays under ``memory_budget`` bytes whatever the number of points; the reference is kept
  resident on the device only when its float32 copy fits in half the budget, otherwise it is
  streamed block by block.
* ``exp`` on this torch build takes a ~20x slower path for results that underflow to subnormals,
  so exponents are clamped at -87 (just above ``log(float32 tiny)`` = -87.34, where exp's own
  rounding still produces subnormals) first. That is exact for the sums here: every clamped term
  is below 2e-38 of the largest (which is 1), far below float32 resolution.

All functions run on CPU or CUDA (``device``), force full-precision float32 matmuls (no TF32)
while they run, and return CPU tensors.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from ._utils import resolve_device
from .errors import GanevalError
from .validation import as_points, as_tensor, same_dim


def _default_budget() -> int:
    """512 MiB, or a sixteenth of the machine's memory where that is less."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 512 * 2**20
    return int(min(512 * 2**20, max(total // 16, 64 * 2**20)))


DEFAULT_MEMORY_BUDGET = _default_budget()
"""Default workspace budget in bytes (512 MiB)."""

_U32 = 2.0**-24  # unit roundoff of float32
# Just above log(float32 tiny) = -87.34: exp's rounding at exactly log(tiny) still yields subnormals.
LOG_TINY = -87.0
_EXP_BLOCK = 1 << 20  # float32 elements (4 MB) per exp sub-block: the per-sigma passes stay in cache, and
# each op is big enough that two threads do not spend it waiting on each other

__all__ = ["DEFAULT_MEMORY_BUDGET", "LOG_TINY", "as_points", "count_within", "knn", "log_kde", "sq_dists"]


# ---------------------------------------------------------------------------------------------
# helpers


@contextlib.contextmanager
def _full_fp32() -> Iterator[None]:
    """Run float32 matmuls at full precision (TF32 / bf16 would void the error bounds)."""
    prev = torch.get_float32_matmul_precision()
    if prev != "highest":
        torch.set_float32_matmul_precision("highest")
    try:
        with torch.no_grad():
            yield
    finally:
        if prev != "highest":
            torch.set_float32_matmul_precision(prev)


def _device(device: str | torch.device | None, *tensors: torch.Tensor) -> torch.device:
    if device is None:
        for t in tensors:
            if t.is_cuda:
                return t.device
        return resolve_device("auto")
    return resolve_device(device)


def _budget(memory_budget: int | float | None) -> int:
    if memory_budget is None:
        return DEFAULT_MEMORY_BUDGET
    if isinstance(memory_budget, bool) or not isinstance(memory_budget, (int, float)) or not memory_budget > 0 \
            or not math.isfinite(memory_budget):
        raise GanevalError(f"`memory_budget` must be a positive number of bytes, got {memory_budget!r}.")
    return int(memory_budget)


def _mean64(x: torch.Tensor, device: torch.device, budget: int) -> torch.Tensor:
    """Column means summed in float64 (in chunks of up to 1,024 rows). Float64 sums of the rows
    make the centre, rounded to float32, the same whatever the chunking, so float32 results do not
    depend on the budget (float32 chunk sums would); the centre's accuracy itself hardly matters,
    since every error bound is computed from the centred norms."""
    rows = max(1, min(1024, budget // (16 * x.shape[1] * 8)))
    acc = torch.zeros(x.shape[1], dtype=torch.float64, device=device)
    for i in range(0, x.shape[0], rows):
        acc += x[i:i + rows].to(device=device, dtype=torch.float64).sum(0)
    return acc / x.shape[0]


# Low-dimensional data (2-D mixtures with std 0.01, say) have distances far smaller than their norms,
# which float32 cannot resolve; there a float64 matmul costs little more (the tiles are
# memory-bound), so the tiles are float64 up to this dimension.
F64_MAX_DIM = 32


def _compute_dtype(d: int) -> torch.dtype:
    return torch.float64 if d <= F64_MAX_DIM else torch.float32


def _unit_roundoff(dtype: torch.dtype) -> float:
    return 2.0**-53 if dtype == torch.float64 else _U32


class _Points:
    """Rows of one input, centred on ``mu`` and cast to the compute dtype on ``device``, in blocks.

    Centring in float32 around the rounded mean is as good as in float64: the rounding of the mean
    is a common translation (distances ignore it) and each centred coordinate is then rounded once.
    ``max_sq`` (the largest squared centred norm, for the error bounds) is known on construction.
    """

    def __init__(self, x: torch.Tensor, mu: torch.Tensor, device: torch.device, dtype: torch.dtype, *,
                 resident: bool, block_rows: int, bias: torch.Tensor | None = None, scan: bool = True):
        self.x, self.device, self.dtype = x, device, dtype
        self.n, self.d = x.shape
        self.mu = mu.to(torch.float32) if (x.dtype == torch.float32 and dtype == torch.float32) else mu
        self.bias = bias  # float64 per-row term subtracted from the squared norms (count_within)
        self.max_sq = 0.0
        self._cache: tuple[torch.Tensor, torch.Tensor] | None = None
        if resident:
            self._cache = self._make(0, self.n)
        elif scan:
            for i in range(0, self.n, block_rows):
                self._make(i, min(self.n, i + block_rows))

    def _centre(self, x: torch.Tensor) -> torch.Tensor:
        return (x.to(self.device) - self.mu).to(self.dtype)

    def _make(self, i0: int, i1: int) -> tuple[torch.Tensor, torch.Tensor]:
        blk = self._centre(self.x[i0:i1])
        sq = torch.linalg.vector_norm(blk, dim=1).square_()
        if sq.numel():
            self.max_sq = max(self.max_sq, float(sq.max()))
        if not math.isfinite(self.max_sq) or self.max_sq > 1e30:
            raise GanevalError("Values are too large for float32 distances (squared norms overflow); rescale the data.")
        if self.bias is not None:
            sq = (sq.double() - self.bias[i0:i1].to(self.device)).to(self.dtype)
        return blk, sq

    def block(self, i0: int, i1: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(points, squared norms [- bias])`` of rows ``i0:i1`` on the device."""
        if self._cache is not None:
            return self._cache[0][i0:i1], self._cache[1][i0:i1]
        return self._make(i0, i1)

    def rows(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        blk = self._centre(self.x[idx.to(self.x.device)])
        return blk, torch.linalg.vector_norm(blk, dim=1).square_()


def _plan(n_q: int, n_r: int, d: int, budget: int, itemsize: int, per_row_extra: int = 0) -> tuple[bool, int, int]:
    """Choose ``(resident, reference rows per block, query rows per block)`` within the budget."""
    budget = budget * 9 // 10  # leave a tenth for small temporaries (row minima, masks, index lists)
    ref_bytes = n_r * (d + 1) * itemsize
    block_row = d * (itemsize + 8) + 8  # a block row, its norm and a float64 centring temporary
    if ref_bytes <= budget // 2:
        resident, br, left = True, n_r, budget - ref_bytes
    else:
        br = max(1, min(n_r, (budget // 4) // block_row))
        resident, left = False, budget - br * block_row
    per_row = br * itemsize + block_row + per_row_extra
    bq = max(1, min(n_q, left // per_row))
    return resident, br, bq


class _Tiles:
    """One flat buffer, viewed as contiguous (m, w) tiles (no allocation per block)."""

    def __init__(self, size: int, device: torch.device, dtype: torch.dtype):
        self.buf = torch.empty(max(1, size), dtype=dtype, device=device)

    def get(self, m: int, w: int) -> torch.Tensor:
        return self.buf[: m * w].view(m, w)


def _partial(out: torch.Tensor, q: torch.Tensor, r: torch.Tensor, rsq: torch.Tensor) -> torch.Tensor:
    """``out = ‖r‖² − 2 q·r`` (the squared distance minus ``‖q‖²``), one fused matmul.

    The norms are copied into ``out`` first and the matmul accumulates onto them in place: with a
    broadcast ``input`` and ``out=``, addmm allocates a whole second tile (measured: +258 MB)."""
    out.copy_(rsq.unsqueeze(0).expand_as(out))
    return out.addmm_(q, r.T, beta=1.0, alpha=-2.0)


def _bound(d: int, qsq: torch.Tensor, other_sq: float, dtype: torch.dtype) -> torch.Tensor:
    """A rigorous bound (float64, per query) on |computed squared distance − exact squared distance|.

    A dot product of length d errs by at most γ_d Σ|q_i r_i| ≤ d·u·‖q‖‖r‖ (any summation order);
    the norms, the fused add and the centring (one rounding per coordinate) add a few
    u(‖q‖² + ‖r‖²). We take three times the sum so that the bound also covers the rounded norms
    used inside it.
    """
    return 3.0 * (d + 10) * _unit_roundoff(dtype) * (qsq.double() + 2.0 * other_sq)


def _pair_chunk(budget: int, d: int) -> int:
    """Pairs per chunk of float64 re-checks (a gathered row in float32 and float64, and the query)."""
    return max(1, (budget // 32) // (d * 24))


def _exact_sq(qx: torch.Tensor, rx: torch.Tensor, qi: torch.Tensor, ri: torch.Tensor,
              device: torch.device, rows: int) -> torch.Tensor:
    """Float64 squared distances ‖qx[qi] − rx[ri]‖² on the original data, in chunks of pairs."""
    out = torch.empty(qi.numel(), dtype=torch.float64, device=device)
    for s in range(0, qi.numel(), rows):
        a = qx.index_select(0, qi[s:s + rows].to(qx.device)).to(device=device, dtype=torch.float64)
        b = rx.index_select(0, ri[s:s + rows].to(rx.device)).to(device=device, dtype=torch.float64)
        out[s:s + rows] = (a - b).square_().sum(1)
    return out


def _exact_sq_rows(qx: torch.Tensor, q0: int, rx: torch.Tensor, cand: torch.Tensor, device: torch.device,
                   chunk_pairs: int) -> torch.Tensor:
    """Float64 ‖qx[q0 + i] − rx[cand[i, j]]‖² for a block of queries and their (m, c) candidates,
    on the original data, in chunks of about ``chunk_pairs`` pairs through reused buffers (fresh
    temporaries per chunk fragment the heap and inflate the resident memory)."""
    m, c = cand.shape
    d = rx.shape[1]
    out = torch.empty(m, c, dtype=torch.float64, device=device)
    rows = max(1, min(m, chunk_pairs // c))
    g_raw = torch.empty(rows * c, d, dtype=rx.dtype, device=rx.device)
    g64 = torch.empty(rows * c, d, dtype=torch.float64, device=device)
    q64 = torch.empty(rows, d, dtype=torch.float64, device=device)
    for a in range(0, m, rows):
        b = min(m, a + rows)
        n = (b - a) * c
        torch.index_select(rx, 0, cand[a:b].reshape(-1).to(rx.device), out=g_raw[:n])
        g = g64[:n]
        g.copy_(g_raw[:n])
        q64[: b - a].copy_(qx[q0 + a:q0 + b])
        g.view(b - a, c, d).sub_(q64[: b - a].unsqueeze(1)).square_()
        torch.sum(g.view(b - a, c, d), 2, out=out[a:b])
    return out


def _lexsort_topk(dist: torch.Tensor, idx: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row, the k entries smallest by (distance, index)."""
    o = torch.argsort(idx, dim=1, stable=True)
    dist, idx = dist.gather(1, o), idx.gather(1, o)
    o = torch.argsort(dist, dim=1, stable=True)[:, :k]
    return dist.gather(1, o), idx.gather(1, o)


# ---------------------------------------------------------------------------------------------
# public kernels


def sq_dists(x: Any, y: Any, *, center: bool = True) -> torch.Tensor:
    """All squared Euclidean distances between two small sets of points, in one float32 matmul.

    Args:
        x: (n, D) points (images are flattened).
        y: (m, D) points.
        center: subtract y's float64 mean from both first (accurate float32 results when the
            points sit far from the origin compared with their spread).

    Returns:
        (n, m) float32 tensor on x's device, clamped at 0. Not chunked: use :func:`knn`,
        :func:`count_within` or :func:`log_kde` for large inputs.

    Raises:
        GanevalError: empty, NaN / Inf or non-numeric input, or different D.
    """
    xs, ys = as_points(x, "x"), as_points(y, "y")
    same_dim(xs, ys, "x", "y")
    dev = xs.device
    ys = ys.to(dev)
    mu = _mean64(ys, dev, DEFAULT_MEMORY_BUDGET) if center else torch.zeros(ys.shape[1], dtype=torch.float64, device=dev)
    with _full_fp32():
        xc = (xs.double() - mu).float()
        yc = (ys.double() - mu).float()
        out = torch.addmm((yc * yc).sum(1).unsqueeze(0), xc, yc.T, alpha=-2.0)
        out += (xc * xc).sum(1).unsqueeze(1)
        return out.clamp_(min=0.0)


def knn(queries: Any, reference: Any, k: int, *, exclude_self: bool = False,
        memory_budget: int | None = None, device: str | torch.device | None = None,
        exact: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact k nearest neighbours (Euclidean) of each query among the reference points.

    Candidates are found with chunked float32 matmuls, re-ranked with float64 distances on the
    original data and proven complete by a rigorous error bound (see the module docstring); ties
    are broken by the lower reference index. The answer does not depend on ``memory_budget``.

    Args:
        queries: (n, D) points (images are flattened).
        reference: (N, D) points.
        k: neighbours per query, 1 <= k <= N (N - 1 with ``exclude_self``).
        exclude_self: ``queries`` is ``reference`` (same rows); each point's own index is skipped
            (e.g. for k-th-neighbour radii). Exact duplicates at other indices still count.
        memory_budget: workspace bound in bytes (default :data:`DEFAULT_MEMORY_BUDGET`).
        device: "cpu", "cuda", "auto"; None: the inputs' device if on CUDA, else "auto".
        exact: False skips the float64 re-ranking (float32 distances, ties unordered).

    Returns:
        ``(distances, indices)``: (n, k) float32 Euclidean distances in ascending order and (n, k)
        int64 indices into ``reference``, both on the CPU.

    Raises:
        GanevalError: empty or NaN / Inf input, different D, bad ``k``, ``exclude_self`` with
            inputs of different sizes, bad ``memory_budget``.
    """
    ref = as_points(reference, "reference")
    qry = ref if queries is reference else as_points(queries, "queries")
    same_dim(qry, ref, "queries", "reference")
    if exclude_self and qry.shape[0] != ref.shape[0]:
        raise GanevalError(f"`exclude_self=True` needs queries to be the reference itself, but `queries` has "
                           f"{qry.shape[0]} rows and `reference` {ref.shape[0]}.")
    n_eff = ref.shape[0] - (1 if exclude_self else 0)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= int(k) <= n_eff:
        raise GanevalError(f"`k` must be an integer in [1, {n_eff}] (the reference has {ref.shape[0]} points"
                           f"{', one of them the query itself' if exclude_self else ''}), got {k!r}.")
    dev = _device(device, qry, ref)
    with _full_fp32():
        return _knn(qry, ref, int(k), bool(exclude_self), dev, _budget(memory_budget), bool(exact))


def _knn(qx: torch.Tensor, rx: torch.Tensor, k: int, exclude_self: bool, dev: torch.device, budget: int,
         exact: bool) -> tuple[torch.Tensor, torch.Tensor]:
    n_q, d = qx.shape
    n_r = rx.shape[0]
    n_eff = n_r - (1 if exclude_self else 0)
    dtype = _compute_dtype(d)
    item = dtype.itemsize
    kc = min(n_eff, 2 * k + 8)  # spare candidates make the completeness proof succeed for almost every row
    resident, br, bq = _plan(n_q, n_r, d, budget, item, per_row_extra=4 * kc * (item + 8))
    mu = _mean64(rx, dev, budget)
    R = _Points(rx, mu, dev, dtype, resident=resident, block_rows=br)
    Q = R if qx is rx and resident else _Points(qx, mu, dev, dtype, resident=False, block_rows=bq, scan=False)
    tiles = _Tiles(bq * br, dev, dtype)
    out_d = torch.empty(n_q, k, dtype=torch.float32)
    out_i = torch.empty(n_q, k, dtype=torch.int64)
    pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    for q0 in range(0, n_q, bq):
        q1 = min(n_q, q0 + bq)
        qb, qsq = Q.block(q0, q1)
        best_v = best_i = None
        for r0 in range(0, n_r, br):
            r1 = min(n_r, r0 + br)
            rb, rsq = R.block(r0, r1)
            tile = _partial(tiles.get(q1 - q0, r1 - r0), qb, rb, rsq)
            if exclude_self:
                lo, hi = max(q0, r0), min(q1, r1)
                if lo < hi:
                    s = torch.arange(lo, hi, device=dev)
                    tile[s - q0, s - r0] = math.inf
            v, i = torch.topk(tile, min(kc, r1 - r0), dim=1, largest=False, sorted=False)
            i += r0
            if best_v is None or best_i is None:
                best_v, best_i = v, i
            else:
                v, o = torch.topk(torch.cat([best_v, v], 1), min(kc, best_v.shape[1] + v.shape[1]), dim=1,
                                  largest=False, sorted=False)
                best_v, best_i = v, torch.cat([best_i, i], 1).gather(1, o)
        if best_v is None or best_i is None:  # pragma: no cover - n_r >= 1 is validated
            raise RuntimeError("empty reference")
        if not exact:
            v, o = torch.sort(best_v, dim=1)
            out_d[q0:q1] = (v[:, :k] + qsq.unsqueeze(1)).clamp_(min=0).sqrt_().float().cpu()
            out_i[q0:q1] = best_i.gather(1, o)[:, :k].cpu()
            continue
        d64 = _exact_sq_rows(qx, q0, rx, best_i, dev, _pair_chunk(budget, d))
        c = best_i.shape[1]
        top_d, top_i = _lexsort_topk(d64, best_i, k)
        out_d[q0:q1] = top_d.sqrt().float().cpu()
        out_i[q0:q1] = top_i.cpu()
        if c < n_eff:
            err = _bound(d, qsq, R.max_sq, dtype)
            # every non-candidate j has a computed partial >= the largest candidate's, so its exact
            # squared distance is at least that + ‖q‖² − err: proven when this exceeds the k-th
            floor = best_v.max(1).values.double() + qsq.double() - err
            bad = (floor <= top_d[:, k - 1]).nonzero().flatten()
            if bad.numel():
                pending.append((bad + q0, top_d[bad, k - 1], err[bad]))
    del tiles  # the fallback plans its own tiles within the budget
    if pending:
        rows_g = torch.cat([p[0] for p in pending])
        fd, fi = _knn_collect(Q, R, qx, rx, rows_g, torch.cat([p[1] for p in pending]),
                              torch.cat([p[2] for p in pending]), k, exclude_self, dev, budget)
        out_d[rows_g.cpu()] = fd.sqrt().float().cpu()
        out_i[rows_g.cpu()] = fi.cpu()
    return out_d, out_i


def _keep_first_k(rows: torch.Tensor, dist: torch.Tensor, idx: torch.Tensor, m: int,
                  k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sort pairs by (row, distance, index) and keep the first k of each row."""
    o = torch.argsort(idx, stable=True)  # least significant key first, then stable sorts
    rows, dist, idx = rows[o], dist[o], idx[o]
    o = torch.argsort(dist, stable=True)
    rows, dist, idx = rows[o], dist[o], idx[o]
    o = torch.argsort(rows, stable=True)
    rows, dist, idx = rows[o], dist[o], idx[o]
    counts = torch.bincount(rows, minlength=m)
    starts = torch.cumsum(counts, 0) - counts
    keep = (torch.arange(rows.numel(), device=rows.device) - starts[rows]) < k
    return rows[keep], dist[keep], idx[keep]


def _knn_collect(Q: _Points, R: _Points, qx: torch.Tensor, rx: torch.Tensor, rows_g: torch.Tensor,
                 tk: torch.Tensor, err: torch.Tensor, k: int, exclude_self: bool, dev: torch.device,
                 budget: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows whose candidate list could not be proven complete (near-ties, or distances below what
    the arithmetic resolves): collect every reference point whose computed distance lies within
    the error bound of the k-th candidate, and rank those exactly. Only these pairs are kept, and
    each reference block is reduced to the k best per row, so memory stays bounded."""
    n_r, d = rx.shape
    dtype, item = R.dtype, R.dtype.itemsize
    br = R.n if R._cache is not None else max(1, min(n_r, (budget // 4) // (d * (item + 8) + 8)))
    bq = max(1, min(rows_g.numel(), (budget // 4) // (br * (item + 1) + d * 16)))
    tiles = _Tiles(bq * br, dev, dtype)
    out_d = torch.empty(rows_g.numel(), k, dtype=torch.float64, device=dev)
    out_i = torch.empty(rows_g.numel(), k, dtype=torch.int64, device=dev)
    chunk = _pair_chunk(budget, d)
    for s0 in range(0, rows_g.numel(), bq):
        g = rows_g[s0:s0 + bq]
        m = g.numel()
        qb, qsq = Q.rows(g)
        # threshold on the computed partial, nudged up one step so that rounding cannot drop a point
        thr = (tk[s0:s0 + m] - qsq.double() + err[s0:s0 + m]).to(dtype)
        thr = torch.nextafter(thr, torch.full_like(thr, math.inf)).unsqueeze(1)
        run = (torch.empty(0, dtype=torch.int64, device=dev), torch.empty(0, dtype=torch.float64, device=dev),
               torch.empty(0, dtype=torch.int64, device=dev))
        for r0 in range(0, n_r, br):
            r1 = min(n_r, r0 + br)
            rb, rsq = R.block(r0, r1)
            tile = _partial(tiles.get(m, r1 - r0), qb, rb, rsq)
            if exclude_self:
                own = ((g >= r0) & (g < r1)).nonzero().flatten()
                tile[own, g[own] - r0] = math.inf
            rr, cc = (tile <= thr).nonzero(as_tuple=True)
            if rr.numel() == 0:
                continue
            # a row's pairs can be many only under massive exact ties; reduce them chunk by chunk
            for p0 in range(0, rr.numel(), chunk * 8):
                pr, pc = rr[p0:p0 + chunk * 8], cc[p0:p0 + chunk * 8] + r0
                pd = _exact_sq(qx, rx, g[pr], pc, dev, chunk)
                run = _keep_first_k(torch.cat([run[0], pr]), torch.cat([run[1], pd]), torch.cat([run[2], pc]), m, k)
        # every row collected at least its k proven candidates, so the result is k per row
        out_d[s0:s0 + m] = run[1].view(m, k)
        out_i[s0:s0 + m] = run[2].view(m, k)
    return out_d, out_i


def count_within(queries: Any, reference: Any, radii: Any, *, memory_budget: int | None = None,
                 device: str | torch.device | None = None, strict: bool = False) -> torch.Tensor:
    """For each query q, how many reference points r_j satisfy ‖q − r_j‖ <= radii[j].

    The counts PRDC needs (Naeem et al. 2020: precision, recall, density). Decisions are exact
    in float64: pairs whose float32 squared distance lies within the error bound of radii[j]² are
    re-checked with float64 distances on the original data.

    Args:
        queries: (n, D) points.
        reference: (N, D) points.
        radii: (N,) non-negative radius of each reference point (float64 for exact boundaries).
        memory_budget: workspace bound in bytes.
        device: as in :func:`knn`.
        strict: count ``<`` instead of ``<=``.

    Returns:
        (n,) int64 counts on the CPU.

    Raises:
        GanevalError: empty or NaN / Inf input, different D, radii of the wrong length or negative.
    """
    ref = as_points(reference, "reference")
    qry = ref if queries is reference else as_points(queries, "queries")
    same_dim(qry, ref, "queries", "reference")
    rad = as_tensor(radii, "radii", dtype=torch.float64).reshape(-1)
    if rad.numel() != ref.shape[0]:
        raise GanevalError(f"`radii` needs one value per reference point ({ref.shape[0]}), got {rad.numel()}.")
    if (rad < 0).any():
        raise GanevalError("`radii` must be >= 0.")
    dev = _device(device, qry, ref)
    with _full_fp32():
        return _count_within(qry, ref, rad, dev, _budget(memory_budget), bool(strict))


def _count_within(qx: torch.Tensor, rx: torch.Tensor, rad: torch.Tensor, dev: torch.device, budget: int,
                  strict: bool) -> torch.Tensor:
    n_q, d = qx.shape
    n_r = rx.shape[0]
    dtype = _compute_dtype(d)
    resident, br, bq = _plan(n_q, n_r, d, budget, dtype.itemsize, per_row_extra=0)
    bq = max(1, bq // 2)  # room for the boolean masks
    mu = _mean64(rx, dev, budget)
    rad = rad.to(dev)
    R = _Points(rx, mu, dev, dtype, resident=resident, block_rows=br, bias=rad.square())
    Q = _Points(qx, mu, dev, dtype, resident=False, block_rows=bq, scan=False)
    tiles = _Tiles(bq * br, dev, dtype)
    rad_sq_max = float(rad.square().max())
    counts = torch.zeros(n_q, dtype=torch.int64, device=dev)
    chunk = _pair_chunk(budget, d)
    for q0 in range(0, n_q, bq):
        q1 = min(n_q, q0 + bq)
        qb, qsq = Q.block(q0, q1)
        # the bias ‖r‖² − ρ² and the add of ‖q‖² round once more each: widen the bound by 4u·ρ²max
        err = (_bound(d, qsq, R.max_sq, dtype) + 4 * _unit_roundoff(dtype) * rad_sq_max).to(dtype).unsqueeze(1)
        for r0 in range(0, n_r, br):
            r1 = min(n_r, r0 + br)
            rb, rsq = R.block(r0, r1)
            tile = _partial(tiles.get(q1 - q0, r1 - r0), qb, rb, rsq)  # ‖r‖² − ρ² − 2q·r
            tile += qsq.unsqueeze(1)  # ≈ ‖q − r‖² − ρ²
            counts[q0:q1] += (tile < -err).sum(1)
            rr, cc = (tile.abs_() <= err).nonzero(as_tuple=True)  # too close to the radius to call
            if rr.numel():
                dist = _exact_sq(qx, rx, rr + q0, cc + r0, dev, chunk).sqrt_()
                lim = rad[cc + r0]
                ok = dist < lim if strict else dist <= lim
                counts.index_add_(0, rr + q0, ok.long())
    return counts.cpu()


def log_kde(queries: Any, kernels: Any, sigmas: Sequence[float] | Any, *, memory_budget: int | None = None,
            device: str | torch.device | None = None) -> torch.Tensor:
    """Log density of an isotropic Gaussian kernel density estimate, for many bandwidths at once.

    ``log p_σ(x) = log( (1/n) Σ_j exp(−‖x − s_j‖² / (2σ²)) ) − D·log(σ√(2π))`` for every query x and
    every σ, computing the distances once: per query block, the float32 distance tile is shifted by
    its row minimum and each σ costs one clamped ``exp`` pass over a cache-sized slice; sums are
    combined across kernel blocks in float64 with the usual running-maximum rescaling. The row
    minimum (the dominant term for small σ) is recomputed in float64 on the original data.

    Args:
        queries: (n, D) points at which to evaluate the density.
        kernels: (N, D) kernel centres (e.g. generated samples).
        sigmas: bandwidths, each > 0.
        memory_budget: workspace bound in bytes.
        device: as in :func:`knn`.

    Returns:
        (n, len(sigmas)) float64 log densities (nats) on the CPU.

    Raises:
        GanevalError: empty or NaN / Inf input, different D, empty or non-positive ``sigmas``.
    """
    ker = as_points(kernels, "kernels")
    qry = ker if queries is kernels else as_points(queries, "queries")
    same_dim(qry, ker, "queries", "kernels")
    sig = as_tensor(sigmas, "sigmas", dtype=torch.float64).reshape(-1)
    if not (sig > 0).all():
        raise GanevalError(f"`sigmas` must all be > 0, got {sig.tolist()}.")
    dev = _device(device, qry, ker)
    with _full_fp32():
        return _log_kde(qry, ker, sig, dev, _budget(memory_budget))


def _log_kde(qx: torch.Tensor, kx: torch.Tensor, sig: torch.Tensor, dev: torch.device, budget: int) -> torch.Tensor:
    n_q, d = qx.shape
    n_k = kx.shape[0]
    n_s = sig.numel()
    dtype = _compute_dtype(d)
    coef = 1.0 / (2.0 * sig.square())  # float64 (n_s,)
    coef_dev = coef.to(dev).unsqueeze(0)
    const = (-math.log(n_k) - d * torch.log(sig * math.sqrt(2 * math.pi))).to(dev).unsqueeze(0)
    # The exp scratch: on CUDA a whole tile, on the CPU a cache-sized slice (at most 4 MB and a
    # quarter of the budget); float64 tiles also get a float32 copy. Plan the tiles around both.
    f64_copy = 1 if dtype == torch.float64 else 0
    if dev.type == "cuda":
        scratch_bytes, tile_budget = 0, budget // (2 + f64_copy)
    else:
        scratch_bytes = min(budget // 4, 4 * _EXP_BLOCK)
        tile_budget = (budget - scratch_bytes) // (1 + f64_copy)
    resident, br, bq = _plan(n_q, n_k, d, tile_budget, dtype.itemsize, per_row_extra=n_s * 8 + 16)
    mu = _mean64(kx, dev, budget)
    K = _Points(kx, mu, dev, dtype, resident=resident, block_rows=br, scan=False)
    Q = K if qx is kx and resident else _Points(qx, mu, dev, dtype, resident=False, block_rows=bq, scan=False)
    tiles = _Tiles(bq * br, dev, dtype)
    sub_rows = bq if dev.type == "cuda" else max(1, scratch_bytes // (4 * br))
    scratch = _Tiles(min(bq, sub_rows) * br, dev, torch.float32)
    out = torch.empty(n_q, n_s, dtype=torch.float64)
    for q0 in range(0, n_q, bq):
        q1 = min(n_q, q0 + bq)
        m = q1 - q0
        qb, qsq = Q.block(q0, q1)
        acc = torch.zeros(m, n_s, dtype=torch.float64, device=dev)
        run_min = torch.full((m,), math.inf, dtype=dtype, device=dev)
        run_arg = torch.zeros(m, dtype=torch.int64, device=dev)
        for r0 in range(0, n_k, br):
            r1 = min(n_k, r0 + br)
            kb, ksq = K.block(r0, r1)
            tile = _partial(tiles.get(m, r1 - r0), qb, kb, ksq)
            tile += qsq.unsqueeze(1)
            bmin, barg = tile.min(1)
            new_min = torch.minimum(run_min, bmin)
            run_arg = torch.where(bmin < run_min, barg + r0, run_arg)
            if r0 > 0:  # rescale earlier sums to the new shift (in float64)
                acc *= torch.exp(-(run_min - new_min).double().unsqueeze(1) * coef_dev)
            run_min = new_min
            tile -= run_min.unsqueeze(1)  # >= 0; the differences are accurate even where D is tiny
            shifted = tile if dtype == torch.float32 else tile.float()
            for s0 in range(0, m, sub_rows):
                s1 = min(m, s0 + sub_rows)
                t = shifted[s0:s1]
                buf = scratch.get(s1 - s0, r1 - r0)
                for j, c in enumerate(coef.tolist()):
                    torch.mul(t, -c, out=buf)
                    buf.clamp_(min=LOG_TINY)  # avoids exp's slow subnormal path; exact (see module doc)
                    buf.exp_()
                    acc[s0:s1, j] += buf.sum(1)
        # exact float64 distance of each row's nearest kernel: the dominant term for small σ
        exact_min = _exact_sq_rows(qx, q0, kx, run_arg.unsqueeze(1), dev, _pair_chunk(budget, d))[:, 0]
        out[q0:q1] = (acc.log_() - exact_min.unsqueeze(1) * coef_dev + const).cpu()
    return out
