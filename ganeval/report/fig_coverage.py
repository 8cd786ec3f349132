"""Report figures for the coverage metrics: mode and class histograms, NDB bins, 2-D coverage map."""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np
import torch
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from .figures import FigureList, register_figure
from .plots import samples_figure, subplots


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.3g}"


@register_figure("mode_coverage")
def mode_figures(ev: Any) -> FigureList:
    """HQ samples per mode (covered green, missed red); for 2-D data, the samples over the density."""
    m = ev.metric_dict("mode_coverage")
    counts = np.asarray(m["counts"])
    k = len(counts)
    covered = counts >= m["min_count"]
    n_hq = m["hq_fraction"] * m["n_samples"]
    fig, ax = subplots(figsize=(max(5.0, 0.3 * k + 2), 3.5), layout="tight")
    ax.bar(np.arange(k), counts, color=np.where(covered, "tab:green", "tab:red"))
    ax.axhline(n_hq / k, color="k", ls="--", lw=1, label="uniform share of the HQ samples")
    ax.set_xlabel("mode")
    ax.set_ylabel("high-quality samples")
    ax.set_xticks(np.arange(k) if k <= 30 else np.arange(0, k, max(1, k // 10)))
    ax.set_title(f"{m['modes_covered']}/{k} modes covered, HQ {m['hq_fraction']:.3f}, "
                 f"reverse KL {_fmt(m['reverse_kl'])}", fontsize=10)
    ax.legend(fontsize=8)
    out: FigureList = [("mode_histogram", fig,
                        f"High-quality samples (closer than {m['threshold']:.3g} std to their nearest mode) per mode; "
                        f"green: covered (>= {m['min_count']}), red: missed. {m['n_samples']} samples.")]
    ds, x = ev.dataset, ev.samples
    if x is not None and ds is not None and getattr(ds, "means", None) is not None and x.reshape(len(x), -1).shape[1] == 2:
        out.append(("mode_coverage_map", _coverage_map(x.reshape(len(x), 2), ds, covered, m["threshold"]),
                    "Samples over the data density: high-quality samples red, others grey; covered modes "
                    "circled green, missed modes crossed red."))
    return out


def _coverage_map(x: torch.Tensor, ds: Any, covered: np.ndarray, threshold: float) -> Figure:
    fig = samples_figure(x, ds, title="mode coverage")
    ax = fig.axes[0]
    for coll in list(ax.collections):  # keep the density contours, redraw the points by quality
        if isinstance(coll, PathCollection):
            coll.remove()
    means = ds.means.double()
    dist = torch.cdist(x.double(), means).min(1).values / ds.std
    hq = (dist < threshold).numpy()
    xs = x.numpy()
    ax.scatter(xs[~hq, 0], xs[~hq, 1], s=3, alpha=0.4, color="grey", label="low quality")
    ax.scatter(xs[hq, 0], xs[hq, 1], s=3, alpha=0.5, color="tab:red", label="high quality")
    mu = means.numpy()
    ax.scatter(mu[covered, 0], mu[covered, 1], s=120, facecolors="none", edgecolors="tab:green", linewidths=2,
               label="covered mode")
    ax.scatter(mu[~covered, 0], mu[~covered, 1], s=80, marker="x", color="tab:red", linewidths=2,
               label="missed mode")
    ax.legend(loc="upper right", fontsize=8)
    return fig


@register_figure("class_coverage")
def class_figures(ev: Any) -> FigureList:
    """Predicted-class shares beside the data's (a 10 x 100 map of counts for Stacked MNIST)."""
    m = ev.metric_dict("class_coverage")
    counts = np.asarray(m["counts"], dtype=float)
    ref = np.asarray(m["reference"])
    k = len(counts)
    head = f"{m['classes_covered']}/{k} covered, reverse KL {_fmt(m['reverse_kl'])}"
    if m.get("confident_fraction") is not None:
        head += f", confident {m['confident_fraction']:.3f}"
    if k == 1000:
        fig, ax = subplots(figsize=(11, 2.8), layout="tight")
        grid = np.ma.masked_equal(counts.reshape(10, 100), 0)
        cmap = matplotlib.colormaps["viridis"].with_extremes(bad="tab:red")
        im = ax.imshow(grid, aspect="auto", cmap=cmap, interpolation="nearest")
        fig.colorbar(im, ax=ax, label="samples")
        ax.set_xlabel("last two digits (10b + c)")
        ax.set_ylabel("first digit a")
        ax.set_title(head, fontsize=10)
        caption = ("Samples per Stacked MNIST mode 100a + 10b + c as the digit classifier reads each channel; "
                   "red cells: modes never generated.")
        return [("class_coverage", fig, caption)]
    fig, ax = subplots(figsize=(max(5.0, 0.45 * k + 2), 3.5), layout="tight")
    idx = np.arange(k)
    ax.bar(idx - 0.2, counts / max(counts.sum(), 1), width=0.4, label="samples", color="tab:blue")
    ax.bar(idx + 0.2, ref, width=0.4, label="data", color="grey")
    for i in m["missing"]:
        ax.annotate("missing", (i, 0), xytext=(i, ref.max() * 0.5), ha="center", fontsize=7, color="tab:red",
                    rotation=90)
    ax.set_xticks(idx)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("share")
    ax.set_title(head, fontsize=10)
    ax.legend(fontsize=8)
    return [("class_coverage", fig, f"Share of samples per predicted class beside the data's class shares; "
                                    f"{m['n_samples']} samples.")]


@register_figure("ndb")
def ndb_figures(ev: Any) -> FigureList:
    """Sample share per k-means bin against the reference share ± 1 SE; different bins in red."""
    m = ev.metric_dict("ndb")
    p, q = np.asarray(m["sample_proportions"]), np.asarray(m["reference_proportions"])
    k = len(p)
    n1, n2 = m["n_samples"], m["n_reference"]
    pooled = (p * n1 + q * n2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    fig, ax = subplots(figsize=(max(6.0, 0.08 * k + 4), 3.5), layout="tight")
    idx = np.arange(k)
    ax.bar(idx, 2 * se, bottom=q - se, width=1.0, color="lightgrey", label="reference ± SE")
    ax.plot(idx, q, color="grey", lw=1)
    diff = np.zeros(k, bool)
    diff[m["different_bins"]] = True
    ax.plot(idx[~diff], p[~diff], "o", ms=3, color="tab:blue", label="samples")
    ax.plot(idx[diff], p[diff], "o", ms=4, color="tab:red", label=f"different (p < {m['alpha']})")
    ax.set_xlabel("bin (largest reference share first)")
    ax.set_ylabel("share")
    ax.set_title(f"NDB {m['ndb']}/{k} = {m['ndb_fraction']:.3f}, JS {m['js_divergence']:.4f}", fontsize=10)
    ax.legend(fontsize=8)
    return [("ndb_bins", fig, f"Share of samples in each of {k} k-means bins of the training data, against the "
                              f"reference share; red: bins whose share differs at level {m['alpha']} "
                              f"({m['n_samples']} samples, {m['n_reference']} reference rows).")]
