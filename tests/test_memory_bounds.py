"""FID and KID need no workspace that grows with N: measured by allocation accounting, not RSS.

Every byte torch allocates on the CPU is seen by its profiler (``profile_memory``), and every
byte numpy and Python allocate by ``tracemalloc``; the sum of the two peaks bounds the peak of
what a call allocates beyond its inputs. Counting allocations is exact and does not depend on
the allocator's caching or on other processes, unlike peak RSS (``benchmarks/memory.py`` measures
that at 10k and 50k rows). Validating the inputs once cost about 1.75 copies of them (``isfinite``
over the whole matrix), which these tests catch.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from ganeval import validation
from ganeval.errors import GanevalError
from ganeval.metrics import fid, kid
from ganeval.metrics.frechet import FeatureStats
from ganeval.validation import features_matrix

D = 128
N_SMALL, N_LARGE = 8192, 32768  # two and eight of FeatureStats' 4,096-row chunks


def _peak_extra(fn: Callable[[], object]) -> int:
    """Bytes allocated by ``fn`` at its peak (torch's CPU allocations plus numpy's and Python's)."""
    # A first call, profiled untraced: imports, LAPACK workspaces and the profiler's set-up are
    # not the metric's (and tracing Python's allocations while the profiler starts is slow).
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True):
        fn()
    tracemalloc.start()
    try:
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            fn()
        traced = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events() if e.name() == "[memory]")
    now = top = 0
    for _, nbytes in events:
        now += nbytes
        top = max(top, now)
    return top + traced


def _inputs(n: int, kind: str) -> tuple[object, object]:
    rng = np.random.default_rng(n)
    dtype = np.float64 if kind == "numpy64" else np.float32
    a = rng.standard_normal((n, D)).astype(dtype)
    b = (rng.standard_normal((n, D)) * 1.1 + 0.05).astype(dtype)
    return (torch.from_numpy(a), torch.from_numpy(b)) if kind == "torch32" else (a, b)


CALLS = {
    "fid": lambda a, b: fid(a, b, bootstrap=0),
    "kid": lambda a, b: kid(a, b, subsets=2, subset_size=100),
    "feature_stats": lambda a, b: FeatureStats.of(a),
    "features_matrix": lambda a, b: features_matrix(a, "a"),
}


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize(("call", "kind"), [("fid", "torch32"), ("kid", "torch32"), ("fid", "numpy32"),
                                            ("kid", "numpy64"), ("feature_stats", "numpy64"),
                                            ("features_matrix", "torch32")])
def test_workspace_does_not_grow_with_n(call: str, kind: str) -> None:
    fn = CALLS[call]
    extra = {}
    for n in (N_SMALL, N_LARGE):
        a, b = _inputs(n, kind)
        extra[n] = _peak_extra(lambda: fn(a, b))  # noqa: B023  (called at once, inside the loop)
    one_copy = (N_LARGE - N_SMALL) * D * (8 if kind == "numpy64" else 4)
    # A copy of one input set would add ``one_copy`` bytes (validating each set used to add 1.75
    # of that); a tenth of it is left for index arrays that do scale with N (KID's subset draws
    # permute all rows, as torch-fidelity's do: 8 bytes a row, 5% of ``one_copy`` here).
    assert extra[N_LARGE] - extra[N_SMALL] < 0.1 * one_copy, (extra, one_copy)


def test_nonfinite_rows_are_counted_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validation, "_CHECK_BLOCK", 10)  # blocks of 10 // 6 = 1 row
    x = torch.randn(7, 2, 3)
    x[1, 0, 0], x[4, 1, 2], x[4, 0, 1], x[6, 1, 1] = float("nan"), float("inf"), float("-inf"), float("nan")
    with pytest.raises(GanevalError, match=r"`x` contains NaN or Inf in 3 of 7 rows"):
        validation.as_matrix(x, "x")


def test_finite_values_whose_sum_overflows_are_accepted() -> None:
    # The quick check sums the array: a finite array whose float32 sum overflows must still pass.
    x = np.full((4, 3), 3e38, dtype=np.float32)
    assert not np.isfinite(torch.from_numpy(x).sum().item())
    assert validation.as_matrix(x, "x").shape == (4, 3)
    x[2, 1] = np.nan
    with pytest.raises(GanevalError, match=r"NaN or Inf in 1 of 4 rows"):
        validation.as_matrix(x, "x")
