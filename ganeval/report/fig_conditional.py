"""Report figures and the class-by-class table for class-conditional generators.

* ``conditional_accuracy``: accuracy per asked class (chance and the overall accuracy marked),
  the confusion matrix (asked x read), and a grid of samples with one row per asked class;
* ``intra_fid``: each class's FID against that class's real data, beside the mean (intra-FID)
  and the overall FID;
* ``class_prdc``: each class's coverage and recall (is the class produced in its variety?);
* :func:`class_table`: one row per class (samples asked, read as asked, per-class FID and N),
  shown in the report beside the figures.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .figures import FigureList, register_figure
from .plots import image_grid, show_grid, subplots

GRID_CLASSES = 20  # rows of the per-class sample grid
GRID_PER_CLASS = 10
BAR_MAX_CLASSES = 100  # above this (Stacked MNIST's 1000 classes) per-class values are drawn as a 10 x K/10 map
CONFUSION_MAX = 30


def _class_map(ax: Any, values: np.ndarray, label: str, fig: Any, *, vmin: float | None = None,
               vmax: float | None = None) -> None:
    k = len(values)
    cols = 100 if k % 100 == 0 else int(np.ceil(np.sqrt(k)))
    grid = np.full(int(np.ceil(k / cols)) * cols, np.nan)
    grid[:k] = values
    im = ax.imshow(np.ma.masked_invalid(grid.reshape(-1, cols)), aspect="auto", interpolation="nearest",
                   vmin=vmin, vmax=vmax)
    fig.colorbar(im, ax=ax, label=label)
    ax.set_xlabel(f"class mod {cols}")
    ax.set_ylabel(f"class // {cols}")


def _label_grid(ev: Any) -> FigureList:
    x, y = ev.samples, getattr(ev, "sample_labels", None)
    if x is None or y is None or x.ndim != 4:
        return []
    classes = torch.unique(y).tolist()[:GRID_CLASSES]
    rows = []
    for c in classes:
        pick = x[y == c][:GRID_PER_CLASS]
        pad = torch.ones(GRID_PER_CLASS - pick.shape[0], *x.shape[1:])  # blank cells for short classes
        rows.append(torch.cat([pick.float(), pad]))
    fig, ax = subplots(figsize=(6, max(2.0, 0.6 * len(classes) + 1)), layout="tight")
    show_grid(ax, image_grid(torch.cat(rows), ncols=GRID_PER_CLASS))
    ax.set_title("samples by asked class (one row per class)", fontsize=10)
    more = f" (the first {GRID_CLASSES} of {len(torch.unique(y))} classes)" if len(torch.unique(y)) > GRID_CLASSES else ""
    return [("samples_by_class", fig, f"The first {GRID_PER_CLASS} samples asked for each class, one row per class "
                                      f"from class {classes[0]} down{more}; a generator that obeys its label shows "
                                      "one class per row.")]


@register_figure("conditional_accuracy")
def accuracy_figures(ev: Any) -> FigureList:
    """Per-class accuracy bars (or map), the confusion matrix, and the per-class sample grid."""
    m = ev.metric_dict("conditional_accuracy")
    per = np.asarray([np.nan if v is None else v for v in m["per_class"]], dtype=float)
    k = len(per)
    head = (f"accuracy {m['value']:.3f} ± {m['stderr']:.3f} (chance {m['chance']:.3g}), "
            f"{m['classes_covered']}/{m['classes_asked']} classes produced")
    if k <= BAR_MAX_CLASSES:
        fig, ax = subplots(figsize=(max(5.0, 0.4 * k + 2), 3.5), layout="tight")
        idx = np.arange(k)
        missed = np.zeros(k, bool)
        missed[list(m["missing"])] = True
        ax.bar(idx, np.nan_to_num(per), color=np.where(missed, "tab:red", "tab:blue"))
        ax.axhline(m["value"], color="k", lw=1, label="overall")
        ax.axhline(m["chance"], color="grey", ls="--", lw=1, label="chance (label ignored)")
        ax.set_xticks(idx if k <= 30 else idx[:: max(1, k // 10)])
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("asked class")
        ax.set_ylabel("read as asked")
        ax.legend(fontsize=8, loc="center right")
    else:
        fig, ax = subplots(figsize=(11, 2.8), layout="tight")
        _class_map(ax, per, "read as asked", fig, vmin=0, vmax=1)
    ax.set_title(head, fontsize=10)
    who = (m.get("classifier") or {}).get("path") or (m.get("classifier") or {}).get("name") or "the classifier"
    out: FigureList = [("conditional_accuracy", fig,
                        f"Share of the samples asked for each class that {who} reads as that class; red: classes "
                        f"never produced (fewer than {m['min_count']} read as asked). {m['n_samples']} samples.")]
    conf = m.get("confusion")
    if conf is not None and k <= CONFUSION_MAX:
        c = np.asarray(conf, dtype=float)
        rows = c / np.maximum(c.sum(1, keepdims=True), 1)
        fig, ax = subplots(figsize=(max(4.0, 0.35 * k + 2), max(3.5, 0.35 * k + 1.5)), layout="tight")
        im = ax.imshow(rows, vmin=0, vmax=1, cmap="Blues", interpolation="nearest")
        fig.colorbar(im, ax=ax, label="share of the asked class's samples")
        ax.set_xlabel("read as")
        ax.set_ylabel("asked for")
        ax.set_xticks(np.arange(k))
        ax.set_yticks(np.arange(k))
        ax.set_title("confusion: asked for (rows) x read as (columns)", fontsize=10)
        out.append(("conditional_confusion", fig, "Each row: how the classifier reads the samples asked for that "
                                                  "class; a perfect conditional generator is the diagonal."))
    return out + _label_grid(ev)


@register_figure("intra_fid")
def intra_fid_figures(ev: Any) -> FigureList:
    """Per-class FIDs beside their mean (intra-FID) and the overall FID."""
    m = ev.metric_dict("intra_fid")
    vals, classes = np.asarray(m["per_class"], dtype=float), list(m["classes"])
    overall = ev.metric_dict("fid").get("value") if "fid" in ev.metrics else None
    if len(classes) <= BAR_MAX_CLASSES:
        fig, ax = subplots(figsize=(max(5.0, 0.4 * len(classes) + 2), 3.5), layout="tight")
        idx = np.arange(len(classes))
        ax.bar(idx, vals, color="tab:purple")
        ax.axhline(m["value"], color="k", lw=1, label=f"intra-FID (mean) {m['value']:.4g}")
        if overall is not None:
            ax.axhline(overall, color="tab:orange", ls=":", lw=1.5, label=f"overall FID {overall:.4g}")
        ax.set_xticks(idx if len(classes) <= 30 else idx[:: max(1, len(classes) // 10)])
        ax.set_xticklabels([str(c) for c in classes] if len(classes) <= 30 else
                           [str(classes[i]) for i in idx[:: max(1, len(classes) // 10)]])
        ax.set_xlabel("class")
        ax.set_ylabel("FID of the class")
        ax.legend(fontsize=8)
    else:
        fig, ax = subplots(figsize=(11, 2.8), layout="tight")
        full = np.full(max(classes) + 1, np.nan)
        full[classes] = vals
        _class_map(ax, full, "FID of the class", fig)
    ax.set_title(f"intra-FID {m['value']:.4g}; worst class {m['worst_class']} ({m['worst_value']:.4g})", fontsize=10)
    n_f, n_r = m["n_fake"], m["n_real"]
    out: FigureList = [("intra_fid", fig, f"FID of each class's samples against that class's real data "
                                          f"({m.get('reference') or 'train'} split, {m.get('features') or ''} "
                                          f"features), with {min(n_f)}-{max(n_f)} samples and {min(n_r)}-{max(n_r)} "
                                          "real rows per class; the line is their mean, the intra-FID.")]
    if "conditional_accuracy" not in ev.metrics:  # the grid is drawn once, with the accuracy figures otherwise
        out += _label_grid(ev)
    return out


@register_figure("class_prdc")
def class_prdc_figures(ev: Any) -> FigureList:
    """Per-class coverage and recall bars (a map of coverage above 100 classes)."""
    m = ev.metric_dict("class_prdc")
    classes, cov, rec = list(m["classes"]), np.asarray(m["coverage"]), np.asarray(m["per_class_recall"])
    if len(classes) <= BAR_MAX_CLASSES:
        fig, ax = subplots(figsize=(max(5.0, 0.4 * len(classes) + 2), 3.5), layout="tight")
        idx = np.arange(len(classes))
        ax.bar(idx - 0.2, cov, width=0.4, color="tab:green", label="coverage")
        ax.bar(idx + 0.2, rec, width=0.4, color="tab:olive", label="recall")
        step = 1 if len(classes) <= 30 else max(1, len(classes) // 10)
        ax.set_xticks(idx[::step])
        ax.set_xticklabels([str(classes[i]) for i in idx[::step]])
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("class")
        ax.legend(fontsize=8, loc="lower right")
    else:
        fig, ax = subplots(figsize=(11, 2.8), layout="tight")
        full = np.full(max(classes) + 1, np.nan)
        full[classes] = cov
        _class_map(ax, full, "coverage", fig, vmin=0, vmax=1)
    ax.set_title(f"per-class coverage {m['value']:.3f}, recall {m['recall']:.3f}; worst class {m['worst_class']} "
                 f"({m['worst_coverage']:.3f})", fontsize=10)
    return [("class_prdc", fig, f"Within each class, the share of its real rows whose {m['k']}-NN ball holds a sample "
                                "asked for that class (coverage) and the recall (Naeem et al. 2020); low values: the "
                                "class is produced, but not in its variety.")]


def class_table(ev: Any) -> tuple[str, list[str], list[list[str]]] | None:
    """(title, headers, rows): one row per class with its samples, accuracy and FID (None: not conditional).

    Rows are limited to 100 classes (the JSON holds every one).
    """
    acc = ev.metric_dict("conditional_accuracy") if "conditional_accuracy" in ev.metrics else None
    ifid = ev.metric_dict("intra_fid") if "intra_fid" in ev.metrics else None
    cp = ev.metric_dict("class_prdc") if "class_prdc" in ev.metrics else None
    if acc is None and ifid is None and cp is None:
        return None
    cp_of = dict(zip(cp["classes"], zip(cp["coverage"], cp["per_class_recall"]))) if cp else {}
    fid_of = dict(zip(ifid["classes"], zip(ifid["per_class"], ifid["n_fake"], ifid["n_real"]))) if ifid else {}
    if acc is not None:
        classes = [c for c, n in enumerate(acc["asked"]) if n > 0]
    else:
        classes = sorted(set(fid_of) | set(cp_of))
    headers = ["class"]
    if acc is not None:
        headers += ["asked", "read as asked", "accuracy", "produced"]
    if ifid is not None:
        headers += ["FID of the class", "N generated", "N real"]
    if cp is not None:
        headers += ["coverage", "recall"]
    rows = []
    for c in classes[:BAR_MAX_CLASSES]:
        row = [str(c)]
        if acc is not None:
            n, p = acc["asked"][c], acc["per_class"][c]
            hit = int(round(p * n)) if p is not None else 0
            row += [str(n), str(hit), "-" if p is None else f"{p:.3f}", "no" if c in acc["missing"] else "yes"]
        if ifid is not None:
            v = fid_of.get(c)
            row += ["-", "-", "-"] if v is None else [f"{v[0]:.4g}", str(v[1]), str(v[2])]
        if cp is not None:
            w = cp_of.get(c)
            row += ["-", "-"] if w is None else [f"{w[0]:.3f}", f"{w[1]:.3f}"]
        rows.append(row)
    more = f" (the first {BAR_MAX_CLASSES} of {len(classes)})" if len(classes) > BAR_MAX_CLASSES else ""
    return f"per-class results{more}", headers, rows
