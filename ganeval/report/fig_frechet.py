"""Report figure for FID: FID against the number of generated samples, with the N -> inf fit."""

from __future__ import annotations

from typing import Any

import numpy as np

from .figures import FigureList, register_figure
from .plots import subplots


@register_figure("fid")
def fid_figures(ev: Any) -> FigureList:
    """FID(N) on subsets, the fit ``FID_inf + c / N`` and the full-N FID with its bootstrap interval."""
    m = ev.metric_dict("fid")
    n, value = m.get("n_fake"), m.get("value")
    if n is None or value is None:
        return []
    inf = m.get("infinity")
    fig, ax = subplots(figsize=(6, 4), layout="tight")
    if inf and inf.get("ns"):
        ns = np.asarray(inf["ns"], dtype=float)
        ax.plot(ns, inf["fids"], "o", color="tab:blue", label="FID on random subsets of N samples")
        grid = np.linspace(ns.min(), ns.max() * 4, 200)
        ax.plot(grid, inf["value"] + inf["slope"] / grid, "-", color="tab:blue", alpha=0.6,
                label=f"fit FID_inf + c/N (R² {inf['r2']:.3f})")
        ax.axhline(inf["value"], color="tab:green", ls="--", label=f"FID_inf = {inf['value']:.4g}")
    if m.get("ci_low") is not None:
        err = [[value - m["ci_low"]], [m["ci_high"] - value]]
        ax.errorbar([n], [value], yerr=err, fmt="s", color="tab:red", capsize=4,
                    label=f"FID at N={n}: {value:.4g} [{m['ci_low']:.4g}, {m['ci_high']:.4g}]")
    else:
        ax.plot([n], [value], "s", color="tab:red", label=f"FID at N={n}: {value:.4g}")
    ax.set_xscale("log")
    ax.set_xlabel("generated samples N (log scale)")
    ax.set_ylabel("FID")
    ax.set_title(f"FID vs N ({m.get('features') or 'features'}, {m.get('n_real')} real from "
                 f"{m.get('reference', 'train')})", fontsize=10)
    ax.legend(fontsize=8)
    caption = (f"FID of {n} generated samples against {m.get('n_real')} real ({m.get('reference', 'train')} split). "
               "FID is biased upwards by about c/N, so it is only comparable at equal N.")
    if inf:
        caption += (f" Blue: FID on seeded random subsets and the least-squares fit FID(N) = FID_inf + c/N "
                    f"(Chong & Forsyth 2020); green: the extrapolation FID_inf = {inf['value']:.4g}.")
    if m.get("ci_low") is not None:
        caption += f" Red bar: {int(100 * m.get('confidence', 0.95))}% bootstrap interval ({m.get('n_bootstrap')} replicates)."
    return [("fid_vs_n", fig, caption)]
