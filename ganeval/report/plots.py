"""Matplotlib figures for reports. Each function returns a Figure (or None when it does not apply).

Figures are made with :func:`subplots`: a :class:`~matplotlib.figure.Figure` on its own Agg
canvas, outside pyplot, so that importing or using ganeval never switches the process's
matplotlib backend nor shows figures in a notebook.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_SUBPLOT_KEYS = ("sharex", "sharey", "squeeze", "width_ratios", "height_ratios", "subplot_kw", "gridspec_kw")


def subplots(nrows: int = 1, ncols: int = 1, **kwargs: Any) -> tuple[Figure, Any]:
    """Like ``matplotlib.pyplot.subplots`` (same arguments), but a Figure on an Agg canvas that
    pyplot does not manage: nothing global changes and nothing needs closing.

    Returns:
        ``(figure, axes)``: one Axes, or an array of them, as ``pyplot.subplots`` returns.
    """
    grid = {k: kwargs.pop(k) for k in _SUBPLOT_KEYS if k in kwargs}
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **grid)


def image_grid(images: torch.Tensor, *, ncols: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile (N, C, H, W) images in [0, 1] into one (rows*H, cols*W, C) array."""
    x = images.detach().float().clamp(0, 1).cpu().numpy()
    n, c, h, w = x.shape
    ncols = ncols or int(math.ceil(math.sqrt(n)))
    nrows = int(math.ceil(n / ncols))
    grid = np.ones((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), dtype=np.float32)
    for i in range(n):
        r, q = divmod(i, ncols)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + q * (w + pad): pad + q * (w + pad) + w] = \
            x[i].transpose(1, 2, 0)
    return grid


def show_grid(ax: Any, grid: np.ndarray) -> None:
    if grid.shape[2] == 1:
        ax.imshow(grid[:, :, 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(grid, interpolation="nearest")
    ax.set_axis_off()


def samples_figure(samples: torch.Tensor, dataset: Any = None, *, title: str = "samples", max_images: int = 100) -> Figure:
    """A grid of images, 2-D samples over the data's density with its modes marked, or a 2-D PCA view."""
    if samples.ndim == 4:
        fig, ax = subplots(figsize=(6, 6), layout="tight")
        show_grid(ax, image_grid(samples[:max_images]))
        ax.set_title(title)
        return fig
    x = samples.reshape(samples.shape[0], -1).double()
    fig, ax = subplots(figsize=(6, 6), layout="tight")
    means = getattr(dataset, "means", None)
    if x.shape[1] == 2:
        if dataset is not None and hasattr(dataset, "log_prob"):
            ref = torch.cat([dataset.test.double(), x])
            lo, hi = ref.min(0).values - 0.5, ref.max(0).values + 0.5
            gx, gy = torch.meshgrid(torch.linspace(float(lo[0]), float(hi[0]), 300),
                                    torch.linspace(float(lo[1]), float(hi[1]), 300), indexing="xy")
            lp = dataset.log_prob(torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)).reshape(gx.shape)
            ax.contourf(gx.numpy(), gy.numpy(), lp.exp().numpy() ** 0.25, levels=20, cmap="Greys", alpha=0.6)
        ax.scatter(x[:, 0], x[:, 1], s=3, alpha=0.5, color="tab:red", label="samples")
        if means is not None:
            m = means.numpy()
            ax.scatter(m[:, 0], m[:, 1], marker="x", s=60, color="tab:blue", label="modes")
        ax.set_aspect("equal")
        ax.legend(loc="upper right", fontsize=8)
    else:
        # Project onto the test split's two principal directions.
        ref = dataset.test.reshape(dataset.test.shape[0], -1).double() if dataset is not None else x
        mu = ref.mean(0)
        _, _, v = torch.linalg.svd(ref - mu, full_matrices=False)
        proj = (x - mu) @ v[:2].T
        rproj = (ref - mu) @ v[:2].T
        ax.scatter(rproj[:, 0], rproj[:, 1], s=3, alpha=0.3, color="grey", label="test data")
        ax.scatter(proj[:, 0], proj[:, 1], s=3, alpha=0.5, color="tab:red", label="samples")
        if means is not None:
            m = ((means.double() - mu) @ v[:2].T).numpy()
            ax.scatter(m[:, 0], m[:, 1], marker="x", s=60, color="tab:blue", label="modes")
        ax.set_xlabel("PC 1 of the test data")
        ax.set_ylabel("PC 2")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title)
    return fig


def save(fig: Figure, path: Any, dpi: int = 100) -> None:
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
