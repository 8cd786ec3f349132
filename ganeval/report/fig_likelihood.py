"""Report figures for the 2014 GAN paper's evaluations: the Parzen validation curve, and samples
beside their nearest training example (Figure 2 of Goodfellow et al. 2014) with the distribution
of nearest-training distances against the held-out baseline."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .figures import FigureList, register_figure
from .plots import subplots

HIGHLIGHT = (1.0, 0.85, 0.0)  # the paper frames the nearest training example in yellow


@register_figure("parzen")
def parzen_figures(ev: Any) -> FigureList:
    """Mean validation log-likelihood against sigma, the chosen sigma marked, test value quoted."""
    m = ev.metric_dict("parzen")
    sig, val = np.asarray(m["sigmas"], float), np.asarray(m["val_log_likelihoods"], float)
    fig, ax = subplots(figsize=(6, 4), layout="tight")
    ax.semilogx(sig, val, "o-", color="tab:blue", ms=4, label="validation (mean)")
    best = int(np.argmin(np.abs(sig - m["sigma"])))
    ax.axvline(m["sigma"], color="tab:red", ls="--", lw=1)
    ax.plot([sig[best]], [val[best]], "*", color="tab:red", ms=14, label=f"chosen sigma = {m['sigma']:.4g}")
    if m.get("true_log_likelihood") is not None:
        ax.axhline(m["true_log_likelihood"], color="tab:green", ls=":", label="test, exact density")
    ax.set_xlabel("sigma (kernel bandwidth)")
    ax.set_ylabel("log-likelihood (nats)")
    ax.set_title(f"Parzen: test {m['log_likelihood']:.5g} ± {m['stderr']:.2g} nats at sigma {m['sigma']:.3g}",
                 fontsize=10)
    ax.legend(fontsize=8)
    caption = (f"Parzen-window validation curve ({m['n_kernels']} kernels, {m['n_val']} validation points, "
               f"{m.get('space') or 'data'}); the test set ({m['n_test']} points) is scored at the chosen sigma.")
    if m.get("warning"):
        caption += " " + m["warning"]
    return [("parzen_curve", fig, caption)]


def _rgb(images: torch.Tensor) -> np.ndarray:
    x = images.detach().float().clamp(0, 1).cpu().numpy().transpose(0, 2, 3, 1)
    return np.repeat(x, 3, axis=3) if x.shape[3] == 1 else x[..., :3]


def _pairs_grid(samples: np.ndarray, neighbours: np.ndarray, ncols: int) -> np.ndarray:
    """Pairs (sample | framed neighbour) tiled ``ncols`` pairs per row, white gaps between pairs."""
    n, h, w, _ = samples.shape
    b = max(1, h // 14)  # frame width
    cell_h, cell_w = h + 2 * b, 2 * (w + 2 * b)
    gap = max(2, w // 4)
    nrows = int(np.ceil(n / ncols))
    grid = np.ones((nrows * (cell_h + gap) + gap, ncols * (cell_w + gap) + gap, 3), np.float32)
    for i in range(n):
        r, c = divmod(i, ncols)
        y, x0 = gap + r * (cell_h + gap), gap + c * (cell_w + gap)
        grid[y + b:y + b + h, x0 + b:x0 + b + w] = samples[i]
        x1 = x0 + w + 2 * b
        grid[y:y + cell_h, x1:x1 + w + 2 * b] = HIGHLIGHT
        grid[y + b:y + b + h, x1 + b:x1 + b + w] = neighbours[i]
    return grid


def _image_pairs(ev: Any, a: dict[str, Any], n_show: int = 24, ncols: int = 4) -> Figure:
    x, train = ev.samples, ev.dataset.train
    d, nb = np.asarray(a["sample_distances"]), np.asarray(a["sample_neighbours"])
    picks = [("random samples (the first drawn)", np.arange(min(n_show, len(d)))),
             ("samples closest to the training set", np.argsort(d, kind="stable")[:n_show])]
    fig, axes = subplots(1, 2, figsize=(12, 6.5), layout="tight")
    for ax, (title, idx) in zip(axes, picks):
        grid = _pairs_grid(_rgb(x[torch.as_tensor(idx)]), _rgb(train[torch.as_tensor(nb[idx])]), ncols)
        ax.imshow(grid, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(f"{title}\nmedian distance {np.median(d[idx]):.3g} "
                     f"(threshold {a['copy_threshold']:.3g})", fontsize=9)
    return fig


def _points_view(ev: Any, a: dict[str, Any], n_lines: int = 300) -> Figure:
    """Samples joined to their nearest training points: the whole data, and a zoom around the first
    sample (on mixtures with narrow modes the joins are invisible at full scale)."""
    x = ev.samples.reshape(len(ev.samples), -1).double()
    train = ev.dataset.train.reshape(len(ev.dataset.train), -1).double()
    nb = torch.as_tensor(np.asarray(a["sample_neighbours"]))
    if x.shape[1] == 2:
        px, pt, label = x, train, ("x1", "x2")
    else:  # project on the training set's first two principal directions
        mu = train.mean(0)
        _, _, v = torch.linalg.svd(train - mu, full_matrices=False)
        px, pt, label = (x - mu) @ v[:2].T, (train - mu) @ v[:2].T, ("PC 1 of the training data", "PC 2")
    px, pt = px.numpy(), pt.numpy()
    k = min(n_lines, len(px))
    segs = np.stack([px[:k], pt[nb[:k].numpy()]], axis=1)
    near = np.argsort(((px[:k] - px[0]) ** 2).sum(1), kind="stable")[: min(30, k)]
    box = np.concatenate([segs[near, 0], segs[near, 1]])
    lo, hi = box.min(0), box.max(0)
    pad = 0.15 * np.maximum(hi - lo, 1e-12)
    fig, axes = subplots(1, 2, figsize=(11, 5.2), layout="tight")
    for ax, zoom in zip(axes, (False, True)):
        ax.scatter(pt[:, 0], pt[:, 1], s=3 if not zoom else 8, color="grey", alpha=0.3, label="training data")
        ax.add_collection(LineCollection(list(segs), colors="tab:orange", linewidths=0.8, alpha=0.8,
                                         label="to nearest training point"))
        ax.scatter(px[:, 0], px[:, 1], s=4 if not zoom else 12, color="tab:red", alpha=0.6, label="samples")
        ax.set_xlabel(label[0])
        ax.set_ylabel(label[1])
        if zoom:
            ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
            ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
            ax.set_title("zoom around the first sample", fontsize=10)
        else:
            ax.add_patch(Rectangle(lo - pad, *(hi - lo + 2 * pad), fill=False, color="k", lw=0.8))
            ax.set_title("samples and their nearest training points", fontsize=10)
            ax.legend(loc="upper right", fontsize=8)
        if x.shape[1] == 2:
            ax.set_aspect("equal", adjustable="box")
    return fig


def _histogram(m: dict[str, Any], a: dict[str, Any]) -> Figure:
    d, base = np.asarray(a["sample_distances"]), np.asarray(a["baseline_distances"])
    bins = np.histogram_bin_edges(np.concatenate([d, base]), bins=50)
    fig, ax = subplots(figsize=(6, 3.8), layout="tight")
    ax.hist(base, bins=bins, density=True, alpha=0.5, color="tab:blue", label=f"test -> train ({len(base)}, baseline)")
    ax.hist(d, bins=bins, density=True, alpha=0.5, color="tab:red", label=f"sample -> train ({len(d)})")
    ax.axvline(a["copy_threshold"], color="k", ls="--", lw=1,
               label=f"copy threshold (percentile {m['percentile']:g} of baseline)")
    ax.set_xlabel("distance to the nearest training point")
    ax.set_ylabel("density")
    c_t = "-" if m.get("c_t") is None else f"{m['c_t']:.2f}"
    ax.set_title(f"copy rate {m['copy_rate']:.3f}, C_T {c_t}, authenticity {m['authenticity']:.2f} "
                 f"(real data {m['authenticity_baseline']:.2f})", fontsize=9)
    ax.legend(fontsize=8)
    return fig


@register_figure("memorisation")
def memorisation_figures(ev: Any) -> FigureList:
    """Samples beside their nearest training example, and the nearest-distance histogram."""
    a = ev.artifacts.get("memorisation")
    if a is None or ev.samples is None or ev.dataset is None:
        return []
    m = ev.metric_dict("memorisation")
    space = m.get("space") or "data"
    out: FigureList = []
    if ev.samples.ndim == 4:
        out.append(("memorisation_neighbours", _image_pairs(ev, a),
                    "Each sample (left of a pair) beside its nearest training example (right, yellow frame), "
                    f"nearest in {space} - as Figure 2 of Goodfellow et al. 2014. Left panel: samples as drawn; "
                    "right panel: the samples nearest to the training set (copies show up here)."))
    else:
        out.append(("memorisation_neighbours", _points_view(ev, a),
                    f"Samples (red) joined to their nearest training point (nearest in {space})."))
    out.append(("memorisation_distances", _histogram(m, a),
                "Distance of each sample to its nearest training point against the same distance for held-out "
                "test points (how near genuinely new data sits); samples left of the dashed line count as copies."))
    return out
