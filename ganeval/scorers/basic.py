"""Adapter for the always-available sample summary (mode coverage lives in :mod:`.coverage`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..registry import Context, register_metric
from ..results import Result


@dataclass(frozen=True)
class SampleSummary(Result):
    """First and second moments of the samples next to those of the test split.

    Attributes:
        mean_abs_diff: mean over dimensions of |mean(samples) - mean(test)|.
        std_ratio: mean std of the samples divided by the mean std of the test split
            (≈1 for a good model; ≪1 is a sign of collapse).
        min, max: range of the sample values.
        n_samples, n_test: counts.
    """

    mean_abs_diff: float
    std_ratio: float
    min: float
    max: float
    n_samples: int
    n_test: int


@register_metric("summary", default=True, description="moments and range of the samples vs the test split",
                 headline=("std_ratio",))
def _summary(ctx: Context) -> SampleSummary:
    x = ctx.samples.reshape(ctx.samples.shape[0], -1).double()
    t = ctx.dataset.test.reshape(ctx.dataset.test.shape[0], -1).double()
    std_t = t.std(0).mean()
    return SampleSummary(
        mean_abs_diff=float((x.mean(0) - t.mean(0)).abs().mean()),
        std_ratio=float(x.std(0).mean() / std_t) if std_t > 0 else float("nan"),
        min=float(x.min()), max=float(x.max()), n_samples=int(x.shape[0]), n_test=int(t.shape[0]),
    )
