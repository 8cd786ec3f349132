"""Which metric to trust for your data: known-answer changes to held-out real data.

Held-out real rows (the val and test splits) stand in for a perfect model. Each change makes
them a worse model of the data by a known amount:

* **drop k classes** (modes for mixtures: each row's nearest mode): rows of k dropped classes are
  replaced by held-out rows of the other classes (mode dropping);
* **noise**: Gaussian noise of ``s`` times the data's standard deviation (images clipped to [0, 1]);
* **blur** (images): a Gaussian blur of ``s`` pixels;
* **copies**: ``m%`` of the rows replaced by training rows (memorisation);
* **shrink**: every row moved a fraction ``l`` of the way to the training mean (what the
  truncation trick does: fidelity up, diversity down).

Every variant keeps the rows it does not change, so the unchanged rows and the variant are a
paired comparison (:func:`~ganeval.paired.compare_samples`: one joint bootstrap for all of them).
Per metric field the harness reports the smallest change whose difference from the held-out data
is significant at the level, and whether it moves the *right way* (worse). A metric that calls
copied training images or shrunk samples *better* is blind to that failure on this data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._utils import torch_generator
from ..data import Dataset, load_dataset
from ..errors import GanevalError
from ..evaluate import default_n_samples
from .engine import Comparison, compare_samples

BASE = "held-out"


@dataclass(frozen=True)
class Change:
    """One known-answer change at one strength."""

    kind: str
    strength: float
    label: str


def _labels(dataset: Dataset, x: torch.Tensor, split_labels: torch.Tensor | None) -> torch.Tensor | None:
    if split_labels is not None:
        return split_labels
    means = getattr(dataset, "means", None)
    if means is not None:
        return torch.cdist(x.double(), means.double()).argmin(1)
    return None


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r = max(1, int(np.ceil(3 * sigma)))
    t = torch.arange(-r, r + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = (k / k.sum()).float()
    c = x.shape[1]
    pad = torch.nn.functional.pad(x, (r, r, r, r), mode="replicate")
    h = torch.nn.functional.conv2d(pad, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return torch.nn.functional.conv2d(h, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


DEFAULT_STRENGTHS: dict[str, tuple[float, ...]] = {
    "drop": (1, 2, 4), "noise": (0.01, 0.03, 0.1, 0.3), "blur": (0.5, 1.0, 2.0),
    "copies": (0.1, 0.25, 0.5, 1.0), "shrink": (0.1, 0.25, 0.5),
}


def _label(kind: str, s: float) -> str:
    return {"drop": f"drop {int(s)}", "noise": f"noise {s:g} sd", "blur": f"blur {s:g} px",
            "copies": f"copies {100 * s:g}%", "shrink": f"shrink {s:g}"}[kind]


def make_variants(dataset: Dataset, n: int, *, seed: int = 0,
                  strengths: dict[str, tuple[float, ...]] | None = None) -> tuple[dict[str, torch.Tensor], list[Change], list[str]]:
    """The held-out rows and their changed versions.

    Returns:
        ``({label: (n, ...) rows}, changes, notes)``; the first entry is the unchanged rows.

    Raises:
        GanevalError: fewer held-out rows than ``n + 2``.
    """
    pool = torch.cat([dataset.val, dataset.test])
    lv, lt = dataset.val_labels, dataset.test_labels
    pool_labels = _labels(dataset, pool.reshape(pool.shape[0], -1),
                          torch.cat([lv, lt]) if lv is not None and lt is not None else None)
    if pool.shape[0] < n + 2:
        raise GanevalError(f"{dataset.name}: {pool.shape[0]} held-out rows (val + test) cannot give {n} unchanged rows "
                           f"and replacements; pass --n-samples {pool.shape[0] // 2} or fewer.")
    g = torch_generator(seed)
    perm = torch.randperm(pool.shape[0], generator=g)
    base, rest = pool[perm[:n]], pool[perm[n:]]
    images = dataset.kind == "images"
    flat = pool.reshape(pool.shape[0], -1)
    sd = float(flat.double().std(0).mean())
    mean = dataset.train.double().mean(0).float()
    notes: list[str] = []
    st = dict(DEFAULT_STRENGTHS if strengths is None else strengths)
    if pool_labels is None:
        st.pop("drop", None)
        notes.append("drop: the data has no classes or modes; skipped")
    if not images:
        st.pop("blur", None)
    out: dict[str, torch.Tensor] = {BASE: base}
    changes: list[Change] = []
    noise = torch.randn(base.shape, generator=g)
    order = torch.randperm(n, generator=g)
    train_rows = dataset.train[torch.randperm(dataset.train.shape[0], generator=g)[:n]]

    def add(kind: str, s: float, x: torch.Tensor) -> None:
        c = Change(kind, float(s), _label(kind, s))
        changes.append(c)
        out[c.label] = x.clamp(0, 1) if images else x

    k_all = int(pool_labels.max()) + 1 if pool_labels is not None else 0
    cls_order = torch.randperm(k_all, generator=g) if k_all else None
    for kind, values in st.items():
        for s in values:
            if kind == "drop":
                assert pool_labels is not None and cls_order is not None
                if int(s) >= k_all:
                    continue
                dropped = cls_order[: int(s)]
                lb, lr = pool_labels[perm[:n]], pool_labels[perm[n:]]
                hit = torch.isin(lb, dropped)
                repl = rest[~torch.isin(lr, dropped)]
                if repl.shape[0] < int(hit.sum()):
                    notes.append(f"drop {int(s)}: too few held-out rows of the other classes; skipped")
                    continue
                x = base.clone()
                x[hit] = repl[: int(hit.sum())]
                add(kind, s, x)
            elif kind == "noise":
                add(kind, s, base + float(s) * sd * noise)
            elif kind == "blur":
                add(kind, s, _blur(base, float(s)))
            elif kind == "copies":
                m = int(round(float(s) * n))
                x = base.clone()
                x[order[:m]] = train_rows[:m]
                add(kind, s, x)
            elif kind == "shrink":
                add(kind, s, mean + (1 - float(s)) * (base - mean))
            else:
                raise GanevalError(f"Unknown change {kind!r}; use {', '.join(DEFAULT_STRENGTHS)}.")
    return out, changes, notes


@dataclass
class Sensitivity:
    """Per metric field and change: the smallest strength detected and which way it moved."""

    data: str
    n_samples: int
    confidence: float
    changes: list[Change]
    comparison: Comparison
    notes: list[str]

    def rows(self) -> list[dict[str, Any]]:
        """One row per (metric field, change kind): smallest detected strength, its delta, p, right way?"""
        alpha = 1.0 - self.confidence
        pairs = self.comparison.pairs()
        pairs = pairs[pairs["a"] == BASE]
        out = []
        for s in self.comparison.summaries:
            sub = pairs[(pairs.metric == s.metric) & (pairs.field == s.field)].set_index("b")
            for kind in dict.fromkeys(c.kind for c in self.changes):
                found = None
                for c in (c for c in self.changes if c.kind == kind):
                    r = sub.loc[c.label]
                    if r["delta"] != r["delta"]:  # NaN: the metric is undefined on this variant
                        found = {"strength": c.strength, "label": c.label, "delta": None, "p_value": None,
                                 "right_way": None}
                        break
                    if r["p_value"] < alpha:
                        worse = r["delta"] > 0 if s.direction == "lower" else r["delta"] < 0
                        found = {"strength": c.strength, "label": c.label, "delta": float(r["delta"]),
                                 "p_value": float(r["p_value"]), "right_way": bool(worse)}
                        break
                out.append({"metric": f"{s.metric}.{s.field}" if s.field != "value" else s.metric, "change": kind,
                            "direction": s.direction, **(found or {"strength": None, "label": None, "delta": None,
                                                                 "p_value": None, "right_way": None})})
        return out

    def table(self) -> Any:
        """pandas.DataFrame: metric rows x change columns, cells ``"<smallest detected> ✓|✗"`` or ``"—"``."""
        import pandas as pd

        df = pd.DataFrame(self.rows())
        df["cell"] = [("—" if r.strength is None or r.strength != r.strength else
                       f"{_short(r.change, r.strength)} undefined" if r.right_way is None or r.right_way != r.right_way
                       else f"{_short(r.change, r.strength)} {'✓' if r.right_way else '✗'}") for r in df.itertuples()]
        t = df.pivot(index="metric", columns="change", values="cell")
        return t[[k for k in dict.fromkeys(c.kind for c in self.changes)]].reindex(df["metric"].unique())

    def markdown(self) -> str:
        t = self.table()
        head = "| metric | " + " | ".join(HEADINGS.get(c, c) for c in t.columns) + " |"
        lines = [head, "|---|" + "---:|" * len(t.columns)]
        for m, row in t.iterrows():
            lines.append(f"| {m} | " + " | ".join(str(v) for v in row) + " |")
        return "\n".join(lines)

    def text(self) -> str:
        lvl = f"{100 * self.confidence:g}%"
        return "\n".join([f"Sensitivity on {self.data}: held-out rows (N = {self.n_samples}) against known-answer "
                          f"changes; smallest change detected at {lvl} (paired bootstrap, "
                          f"{self.comparison.n_bootstrap} replicates); ✓ = the metric says worse, ✗ = it says "
                          "better, — = not detected at any strength tried, undefined = the metric has no value there (e.g. a KL "
                          "with no high-quality sample)", "", self.markdown(), "",
                          "strengths tried: " + "; ".join(
                              f"{k}: {', '.join(_short(k, c.strength) for c in self.changes if c.kind == k)}"
                              for k in dict.fromkeys(c.kind for c in self.changes))]
                         + [f"note: {n}" for n in self.notes + self.comparison.notes])


HEADINGS = {"drop": "drop k classes/modes", "noise": "noise (× data sd)", "blur": "blur (px)",
            "copies": "training copies", "shrink": "shrink to mean"}


def _short(kind: str, s: float) -> str:
    return {"drop": f"{int(s)}", "noise": f"{s:g}", "blur": f"{s:g}", "copies": f"{100 * s:g}%",
            "shrink": f"{s:g}"}[kind]


def sensitivity(data: str | Path | Dataset, *, features: str | None = None, metrics: list[str] | str | None = None,
                n_samples: int | None = None, n_bootstrap: int = 200, confidence: float = 0.95, seed: int = 0,
                device: str | torch.device = "auto", options: dict[str, dict[str, Any]] | None = None,
                extractor_options: dict[str, Any] | None = None,
                strengths: dict[str, tuple[float, ...]] | None = None, data_root: str | Path | None = None,
                download: bool = False,
                progress: Callable[[str], None] | None = None) -> Sensitivity:
    """Run the known-answer changes on held-out data and find what each metric detects.

    Args:
        data: dataset name, path or :class:`~ganeval.Dataset`.
        features: the extractor (None: the data's default).
        metrics: names (None: fid, kid, prdc, plus mode_coverage on mixtures and class_coverage
            on digits / MNIST).
        n_samples: rows per variant (None: the data's default N, capped by the held-out rows).
        n_bootstrap, confidence, seed, device, options, extractor_options: as
            :func:`~ganeval.paired.compare_samples`.
        strengths: ``{change: strengths}`` to try instead of :data:`DEFAULT_STRENGTHS`.

    Returns:
        :class:`Sensitivity` (``.table()``, ``.markdown()``, ``.text()``).

    Raises:
        GanevalError: too few held-out rows, unknown metrics or changes.
    """
    dataset = data if isinstance(data, Dataset) else load_dataset(data, root=data_root, download=download)
    pool = dataset.val.shape[0] + dataset.test.shape[0]
    n = int(n_samples) if n_samples is not None else min(default_n_samples(dataset), pool // 2)
    if metrics is None:
        metrics = ["fid", "kid", "prdc"] + (["mode_coverage"] if dataset.kind == "mixture" else [])
        if dataset.kind == "images" and dataset.name in ("digits", "mnist"):
            metrics.append("class_coverage")
    variants, changes, notes = make_variants(dataset, n, seed=seed, strengths=strengths)
    comp = compare_samples(variants, dataset, metrics=metrics, features=features, n_bootstrap=n_bootstrap,
                           confidence=confidence, seed=seed, device=device, options=options,
                           extractor_options=extractor_options)
    return Sensitivity(dataset.name, n, float(confidence), changes, comp, notes)
