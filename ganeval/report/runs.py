"""Figures over a run's checkpoints: headline metrics against the step, and samples at a few steps."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from ..evaluate import Evaluation
from . import plots
from .summary import _is_num, column_name, headline_fields, primary_field

MAX_PANELS = 6


def _steps(evaluations: list[Evaluation]) -> list[float]:
    steps = [ev.provenance.get("checkpoint", {}).get("step") for ev in evaluations]
    if any(s is None for s in steps):
        return [float(i) for i in range(len(evaluations))]
    return [float(s) for s in steps]


def trajectory_figure(evaluations: list[Evaluation], title: str) -> tuple[Figure, str] | None:
    """Each headline metric against the step (intervals as bands). None with fewer than 2 checkpoints."""
    if len(evaluations) < 2:
        return None
    series: dict[tuple[str, str], list[tuple[float, float, float | None, float | None]]] = {}
    for x, ev in zip(_steps(evaluations), evaluations):
        for name in ev.metrics:
            d = ev.metric_dict(name)
            for f in headline_fields(name, d):
                if _is_num(d.get(f)) and not f.startswith("n_"):
                    lo, hi = (d.get("ci_low"), d.get("ci_high")) if f == primary_field(name) else (None, None)
                    series.setdefault((name, f), []).append((x, float(d[f]), lo, hi))
    keys = [k for k, v in series.items() if len(v) >= 2][:9]
    if not keys:
        return None
    ncols = min(3, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    fig = Figure(figsize=(4 * ncols, 2.8 * nrows), layout="tight")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, key in zip(axes.flat, keys):
        pts = series[key]
        xs = np.array([p[0] for p in pts])
        ax.plot(xs, [p[1] for p in pts], marker="o", ms=3)
        if all(p[2] is not None and p[3] is not None for p in pts):
            ax.fill_between(xs, [p[2] for p in pts], [p[3] for p in pts], alpha=0.25, label="interval")
        ax.set_title(column_name(*key), fontsize=10)
        ax.set_xlabel("step")
    for ax in list(axes.flat)[len(keys):]:
        ax.set_axis_off()
    fig.suptitle(title)
    caption = ("Headline metrics of every checkpoint against its training step; shaded bands are the metrics' "
               "own intervals where they have one.")
    return fig, caption


def _pick(n: int, k: int) -> list[int]:
    if n <= k:
        return list(range(n))
    return sorted({int(round(i * (n - 1) / (k - 1))) for i in range(k)})


def samples_over_steps_figure(evaluations: list[Evaluation], title: str) -> tuple[Figure, str] | None:
    """Samples of up to six evenly spaced checkpoints side by side (over the modes for mixtures)."""
    idx = [i for i in _pick(len(evaluations), MAX_PANELS) if evaluations[i].samples is not None]
    if len(idx) < 2:
        return None
    fig = Figure(figsize=(2.6 * len(idx), 2.8), layout="tight")
    axes = fig.subplots(1, len(idx), squeeze=False)[0]
    ds, last = evaluations[idx[-1]].dataset, evaluations[idx[-1]].samples
    if last is None:
        return None
    proj = _projector(ds, last)
    for ax, i in zip(axes, idx):
        ev = evaluations[i]
        s = ev.samples
        step = ev.provenance.get("checkpoint", {}).get("step")
        assert s is not None  # filtered above
        if s.ndim == 4:
            plots.show_grid(ax, plots.image_grid(s[:36], ncols=6))
        else:
            means = getattr(ds, "means", None)
            if means is not None:  # modes underneath, so collapsed samples stay visible
                m = proj(means)
                ax.scatter(m[:, 0], m[:, 1], marker="x", s=30, color="tab:blue", alpha=0.6)
            p = proj(s[:1000])
            ax.scatter(p[:, 0], p[:, 1], s=2, alpha=0.5, color="tab:red")
            ax.set_aspect("equal", adjustable="datalim")
            ax.tick_params(labelsize=6)
        ax.set_title(f"step {step}" if step is not None else f"#{i}", fontsize=9)
    fig.suptitle(title)
    what = "images" if last.ndim == 4 else "samples (red) and the data's modes (blue x)"
    return fig, f"Generated {what} at {len(idx)} evenly spaced checkpoints of the run."


def _projector(dataset: Any, samples: torch.Tensor) -> Any:
    """2-D data as it is; higher-dimensional vectors onto the test split's two principal directions."""
    if samples.ndim == 4 or samples.reshape(samples.shape[0], -1).shape[1] == 2:
        return lambda x: torch.as_tensor(x).reshape(x.shape[0], -1).double().numpy()
    ref = dataset.test.reshape(dataset.test.shape[0], -1).double() if dataset is not None else \
        samples.reshape(samples.shape[0], -1).double()
    mu = ref.mean(0)
    _, _, v = torch.linalg.svd(ref - mu, full_matrices=False)
    return lambda x: ((torch.as_tensor(x).reshape(x.shape[0], -1).double() - mu) @ v[:2].T).numpy()
