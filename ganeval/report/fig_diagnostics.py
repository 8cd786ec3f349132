"""Figures of a run diagnosis: trajectories (coverage, D outputs, gradient norms, losses) and D vs D*.

:func:`run_figures` is the entry point for reports and the CLI (``ganeval diagnose --figures DIR``):
it takes a :class:`ganeval.diagnostics.Diagnosis` (or anything :func:`ganeval.diagnostics.diagnose`
reads) and returns ``[(file_stem, Figure, caption)]``.
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .figures import FigureList

STYLE: dict[str, dict[str, Any]] = {"history": dict(lw=1.2), "checkpoints": dict(marker="o", ms=4, lw=0.8, ls="--")}


def _series(diag: Any, col: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    out = []
    for name, df in diag.trajectory.items():
        if isinstance(df, pd.DataFrame) and col in df.columns and df[col].notna().sum() >= 1:
            sub = df[["step", col]].dropna()
            out.append((name, sub["step"].to_numpy(float), sub[col].to_numpy(float)))
    return out


def _plot(ax: Any, diag: Any, col: str, label: str, color: str | None = None) -> bool:
    drawn = False
    for src, x, y in _series(diag, col):
        ax.plot(x, y, label=f"{label} ({src})" if len(diag.trajectory) > 1 else label, color=color, **STYLE[src])
        drawn = True
    return drawn


def _title(diag: Any) -> str:
    return f"{diag.verdict} ({diag.confidence:.2f})" + (f": {diag.run}" if diag.run else "")


def _second_half(ax: Any, diag: Any) -> None:
    if diag.first_step is not None and diag.last_step is not None and diag.last_step > diag.first_step:
        ax.axvspan((diag.first_step + diag.last_step) / 2, diag.last_step, color="0.92", zorder=0)


def coverage_figure(diag: Any) -> tuple[Figure, str] | None:
    """Modes covered, high-quality fraction, top-2 share and the dominant mode against the step."""
    if not _series(diag, "modes_covered") and not _series(diag, "dominant_mode"):
        return None
    fig = Figure(figsize=(8, 5.2), layout="tight")
    ax1, ax2 = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    _second_half(ax1, diag)
    _plot(ax1, diag, "modes_covered", "modes covered", "tab:green")
    if diag.n_modes:
        ax1.axhline(diag.n_modes, color="tab:green", ls=":", lw=1)
        ax1.axhline(diag.thresholds["healthy_coverage"] * diag.n_modes, color="tab:red", ls=":", lw=1,
                    label="healthy threshold")
    ax1.set_ylabel("modes covered")
    twin = ax1.twinx()
    _plot(twin, diag, "hq_fraction", "high-quality fraction", "tab:blue")
    _plot(twin, diag, "top2_share", "top-2 share", "tab:orange")
    twin.set_ylim(0, 1.02)
    twin.set_ylabel("fraction of samples")
    h1, l1 = ax1.get_legend_handles_labels()
    h2, l2 = twin.get_legend_handles_labels()
    ax1.legend(h1 + h2, l1 + l2, fontsize=7, loc="best")
    _second_half(ax2, diag)
    for src, x, y in _series(diag, "dominant_mode"):
        ax2.scatter(x, y, s=8 if src == "history" else 20, label=src)
    ax2.set_ylabel("dominant mode")
    ax2.set_xlabel("step")
    ax1.set_title(_title(diag), fontsize=10)
    return fig, ("Mode coverage over training: modes covered (left axis), the high-quality fraction and the share "
                 "of the two most visited modes (right axis), and below, the mode nearest to most samples. "
                 "The second half of training (shaded) is where hopping and collapse are judged.")


def d_outputs_figure(diag: Any) -> tuple[Figure, str] | None:
    """Mean D(x) and D(G(z)) against the step."""
    if not _series(diag, "d_real"):
        return None
    fig = Figure(figsize=(8, 3.4), layout="tight")
    ax = fig.subplots()
    _second_half(ax, diag)
    _plot(ax, diag, "d_real", "D(x)", "tab:blue")
    _plot(ax, diag, "d_fake", "D(G(z))", "tab:red")
    ax.axhline(0.5, color="k", ls=":", lw=1, label="1/2 (equilibrium)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("step")
    ax.set_ylabel("mean D output")
    ax.legend(fontsize=7)
    ax.set_title(_title(diag), fontsize=10)
    return fig, ("Mean discriminator output on data, D(x), and on samples, D(G(z)). At the game's equilibrium both are "
                 "1/2; D winning drives them to 1 and 0; an orbiting game makes them swing.")


def grad_norms_figure(diag: Any) -> tuple[Figure, str] | None:
    """Gradient norms of G and D (log scale) against the step."""
    if not _series(diag, "grad_norm_g") and not _series(diag, "grad_norm_d"):
        return None
    fig = Figure(figsize=(8, 3.4), layout="tight")
    ax = fig.subplots()
    _second_half(ax, diag)
    _plot(ax, diag, "grad_norm_g", "G", "tab:purple")
    _plot(ax, diag, "grad_norm_d", "D", "tab:gray")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("gradient L2 norm")
    ax.legend(fontsize=7)
    ax.set_title(_title(diag), fontsize=10)
    return fig, ("Global gradient norms of the generator and discriminator parameters (log scale). A generator norm "
                 "that falls by orders of magnitude while D wins is the vanishing-gradient failure.")


def losses_figure(diag: Any) -> tuple[Figure, str] | None:
    """D and G losses against the step."""
    if not _series(diag, "d_loss") and not _series(diag, "g_loss"):
        return None
    fig = Figure(figsize=(8, 3.4), layout="tight")
    ax = fig.subplots()
    _second_half(ax, diag)
    _plot(ax, diag, "d_loss", "D loss", "tab:blue")
    _plot(ax, diag, "g_loss", "G loss", "tab:red")
    ax.axhline(math.log(4), color="k", ls=":", lw=1, label="log 4 (D loss at D = 1/2)")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats)")
    ax.legend(fontsize=7)
    ax.set_title(_title(diag), fontsize=10)
    return fig, ("Discriminator and generator losses. GAN losses oscillate by design and need not trend to zero; "
                 "read them beside coverage and D's outputs.")


def metrics_figure(diag: Any) -> tuple[Figure, str] | None:
    """Per-checkpoint metrics (FID, KID, ...) against the step."""
    names = [s.name[: -len("_trend")] for s in diag.evidence if s.name.endswith("_trend")]
    names = [n for n in names if _series(diag, n)]
    if not names:
        return None
    fig = Figure(figsize=(4 * len(names), 3.2), layout="tight")
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names):
        _second_half(ax, diag)
        _plot(ax, diag, name, name.upper(), "tab:brown")
        ax.set_xlabel("step")
        ax.set_title(name.upper(), fontsize=10)
    return fig, "Metrics scored at every checkpoint against the training step."


def optimal_d_maps_figure(result: Any, title: str = "") -> tuple[Figure, str] | None:
    """p_data, p_g, D* and D on a 2-D grid (2-D mixtures)."""
    grid = result.maps.get("grid")
    if grid is None:
        return None
    panels = [("p_data", "p_data (exact)", "Greys"), ("p_g", "p_g (KDE)", "Greys"),
              ("d_star", "D* = p_data / (p_data + p_g)", "RdBu_r"), ("d", "D (saved discriminator)", "RdBu_r")]
    panels = [p for p in panels if grid.get(p[0]) is not None]
    fig = Figure(figsize=(3.6 * len(panels), 3.6), layout="tight")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    x, y = grid["x"], grid["y"]
    extent = (x[0], x[-1], y[0], y[-1])
    for ax, (key, label, cmap) in zip(axes, panels):
        z = np.asarray(grid[key])
        if key.startswith("p_"):
            im = ax.imshow(z ** 0.25, origin="lower", extent=extent, cmap=cmap, aspect="equal")
            label += " (4th root)"
        else:
            if key == "d_star":
                # D* is 0/0 where neither density has mass; grey out where (p_data + p_g) / 2 is negligible.
                m = (np.asarray(grid["p_data"]) + np.asarray(grid["p_g"])) / 2
                z = np.where(m > 1e-4 * m.max(), z, np.nan)
            cm = matplotlib.colormaps[cmap].with_extremes(bad="0.85")
            im = ax.imshow(z, origin="lower", extent=extent, cmap=cm, vmin=0, vmax=1, aspect="equal")
        ax.scatter(result.maps["means"][:, 0], result.maps["means"][:, 1], marker="x", s=12, color="tab:green", lw=0.8)
        ax.set_title(label, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    diff = "" if result.mean_abs_diff is None else f", mean |D - D*| = {result.mean_abs_diff:.3f}"
    fig.suptitle(f"{title}step {result.step}: JSD = {result.jsd:.3f} nats{diff}", fontsize=10)
    return fig, (f"Step {result.step}: the data density, the generator's density (Gaussian KDE, bandwidth "
                 f"{result.bandwidth:.3g}), the optimal discriminator D* and the saved discriminator D on a grid "
                 "(densities shown as their 4th root so small modes stay visible; x: the data's modes; D* is grey "
                 "where neither density has mass, where it is undefined).")


def optimal_d_slice_figure(result: Any, title: str = "") -> tuple[Figure, str] | None:
    """D, D*, p_data and p_g along the line through the data's centre and its first mode."""
    sl = result.maps.get("slice")
    if sl is None:
        return None
    fig = Figure(figsize=(8, 3.4), layout="tight")
    ax = fig.subplots()
    t = sl["t"]
    ax.plot(t, sl["d_star"], color="k", lw=1.5, label="D*")
    if sl.get("d") is not None:
        ax.plot(t, sl["d"], color="tab:blue", lw=1.2, label="D")
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("discriminator output")
    ax.set_xlabel("position along the slice")
    twin = ax.twinx()
    twin.fill_between(t, 0, sl["p_data"], color="tab:green", alpha=0.3, label="p_data")
    twin.plot(t, sl["p_g"], color="tab:red", lw=1, label="p_g (KDE)")
    twin.set_ylabel("density")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = twin.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="upper right")
    ax.set_title(f"{title}step {result.step}: 1-D slice", fontsize=10)
    centre = ", ".join(f"{v:.2g}" for v in sl["centre"][:4])
    return fig, (f"Step {result.step}: D, D*, p_data and p_g along the line through the data's centre ({centre}) "
                 "and its first mode (the x axis of the 2-D maps through the origin for a ring).")


def optimal_d_trajectory_figure(results: list[Any], title: str = "") -> tuple[Figure, str] | None:
    """Mean |D - D*| and JSD(p_data || p_g) against the step."""
    if len(results) < 2:
        return None
    steps = [r.step if r.step is not None else i for i, r in enumerate(results)]
    fig = Figure(figsize=(8, 3.4), layout="tight")
    ax = fig.subplots()
    if results[0].mean_abs_diff is not None:
        ax.plot(steps, [r.mean_abs_diff for r in results], marker="o", color="tab:blue", label="mean |D - D*|")
    jsd = np.array([r.jsd for r in results])
    se = np.array([r.jsd_se for r in results])
    ax.errorbar(steps, jsd, yerr=se, marker="s", color="tab:red", label="JSD(p_data || p_g), nats", capsize=2)
    ax.axhline(math.log(2), color="tab:red", ls=":", lw=1, label="log 2 (disjoint)")
    ax.set_xlabel("step")
    ax.legend(fontsize=7)
    ax.set_title(f"{title}discriminator vs the optimal one", fontsize=10)
    return fig, ("Mean |D - D*| where the data lives (half the points from p_data, half from p_g) and the Monte Carlo "
                 "JSD between the data and the generator (p_g by KDE) at evenly spaced checkpoints.")


def run_figures(run_or_diagnosis: Any, **diagnose_kwargs: Any) -> FigureList:
    """Every diagnosis figure of a run: ``[(file_stem, Figure, caption)]``.

    Args:
        run_or_diagnosis: a :class:`~ganeval.diagnostics.Diagnosis`, or a run folder / Run / history
            (then :func:`~ganeval.diagnostics.diagnose` runs first with ``diagnose_kwargs``).

    Raises:
        GanevalError: as :func:`ganeval.diagnostics.diagnose`, when it has to run.
    """
    from ..diagnostics import Diagnosis, diagnose

    diag = run_or_diagnosis if isinstance(run_or_diagnosis, Diagnosis) else diagnose(run_or_diagnosis, **diagnose_kwargs)
    out: FigureList = []
    for stem, fn in (("diagnosis_coverage", coverage_figure), ("diagnosis_d_outputs", d_outputs_figure),
                     ("diagnosis_grad_norms", grad_norms_figure), ("diagnosis_losses", losses_figure),
                     ("diagnosis_metrics", metrics_figure)):
        made = fn(diag)
        if made is not None:
            out.append((stem, *made))
    if diag.optimal_d:
        made = optimal_d_trajectory_figure(diag.optimal_d)
        if made is not None:
            out.append(("diagnosis_optimal_d_trajectory", *made))
        with_maps = [r for r in diag.optimal_d if r.maps.get("slice") is not None]
        for r in ([with_maps[0], with_maps[-1]] if len(with_maps) > 1 else with_maps):
            for stem, draw in (("maps", optimal_d_maps_figure), ("slice", optimal_d_slice_figure)):
                made = draw(r)
                if made is not None:
                    out.append((f"diagnosis_optimal_d_{stem}_step{r.step}", *made))
    return out
