"""Adapters for the coverage metrics: mixture modes, digit classes (Stacked MNIST too), NDB.

Options, from Python: ``evaluate(..., options={"ndb": {"bins": 50}})``:

* ``mode_coverage``: ``threshold`` (std; default 3 in 2-D, see :func:`hq_threshold`), ``min_count`` (1).
* ``class_coverage``: ``confidence`` (0.9), ``min_count`` (1), ``reference`` ("data": the
  training split's class shares, the default for digits/MNIST; "uniform": the default for
  Stacked MNIST, as the protocol), ``batch_size`` (512).
* ``ndb``: ``bins`` (100, lowered to a fifth of the smaller of samples/train when they are too
  few, said in the result's ``note``), ``alpha`` (0.05), ``z_threshold`` (None; replaces alpha),
  ``whiten`` (False), ``n_init`` (10 k-means restarts), ``max_dims`` ("auto": a seeded sixth of
  the dimensions above 1,000, as the original; "all"; or a number), ``space`` ("data":
  pixels/vectors as they are, the paper; "features": the evaluation's feature extractor),
  ``reference`` ("train", the paper, or "val"/"test": a held-out split's shares).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from ..errors import GanevalError
from ..metrics.coverage import (
    NDB_MIN_PER_BIN,
    ClassCoverage,
    ModeCoverage,
    NDBBins,
    NDBResult,
    class_coverage,
    mode_coverage,
    ndb,
    ndb_bins,
    stacked_coverage,
)
from ..registry import Context, OptionSpec, register_metric


@register_metric("mode_coverage", kinds=("mixture",), default=True,
                 description="modes covered / high-quality fraction / reverse KL (PacGAN, VEEGAN)",
                 directions={"modes_covered": "higher", "hq_fraction": "higher", "reverse_kl": "lower",
                             "js_divergence": "lower"},
                 headline=("modes_covered", "hq_fraction", "reverse_kl"),
                 options={"threshold": OptionSpec(float, None, "high-quality radius in stds (default 3 in 2-D)"),
                          "min_count": OptionSpec(int, 1, "high-quality samples for a mode to count as covered")},
                 citation="Lin et al. 2018 (PacGAN); Srivastava et al. 2017 (VEEGAN)")
def _mode_coverage(ctx: Context) -> ModeCoverage:
    ds = ctx.dataset
    thr = ctx.option("mode_coverage", "threshold", None)
    res = mode_coverage(ctx.samples, ds.means, ds.std,  # type: ignore[attr-defined]
                        threshold=None if thr is None else float(thr),
                        min_count=int(ctx.option("mode_coverage", "min_count", 1)))
    ctx.artifacts["mode_coverage"] = {"assignment": torch.as_tensor(res.assignment)}
    return res


def _digit_task(ds: Any) -> tuple[str, bool]:
    """(classifier name, stacked?) for a digit dataset; GanevalError for other images."""
    from ..features.digits_cnn import digit_task

    task = digit_task(ds)
    if task is not None:
        return task
    shape = tuple(ds.sample_shape)
    raise GanevalError(f"class_coverage needs digit data (digits, mnist or stacked-mnist) to classify, but "
                       f"{ds.name!r} has images of shape {shape}; use ndb or prdc for other images.")


def _probs(clf: Any, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    out = [torch.as_tensor(clf.probs(x[s:s + batch_size])).double().cpu() for s in range(0, x.shape[0], batch_size)]
    return torch.cat(out)


def _classifier(name: str, device: torch.device) -> Any:
    from ..features.digits_cnn import load_classifier

    return load_classifier(name, device=device)


@register_metric("class_coverage", kinds=("images",),
                 description="digit classes (Stacked MNIST: 1000 triples) covered and KL, via the shipped classifier",
                 directions={"classes_covered": "higher", "reverse_kl": "lower", "js_divergence": "lower"},
                 headline=("classes_covered", "reverse_kl"),
                 options={"confidence": OptionSpec(float, 0.9, "classifier confidence for the confident fraction"),
                          "min_count": OptionSpec(int, 1, "samples for a class to count as covered"),
                          "reference": OptionSpec(str, None, "class shares compared with: 'data' (training split; "
                                                  "digits/MNIST default) or 'uniform' (Stacked MNIST default)"),
                          "batch_size": OptionSpec(int, 512, "rows per classifier pass")},
                 citation="Metz et al. 2017 (Stacked MNIST); Srivastava et al. 2017 (VEEGAN)")
def _class_coverage(ctx: Context) -> ClassCoverage:
    ds = ctx.dataset
    name, stacked = _digit_task(ds)
    opt = lambda key, default: ctx.option("class_coverage", key, default)  # noqa: E731
    bs = int(opt("batch_size", 512))
    clf = _classifier(name, ctx.device)
    ref_kind = opt("reference", "uniform" if stacked else "data")
    if ref_kind not in ("data", "uniform"):
        raise GanevalError(f"class_coverage option `reference` must be 'data' or 'uniform', got {ref_kind!r}.")
    n_cls = 1000 if stacked else int(ds.n_classes or 10)
    reference = None
    if ref_kind == "data":
        if ds.train_labels is None:
            raise GanevalError(f"{ds.name!r} has no training labels; use class_coverage option reference=uniform.")
        reference = np.bincount(ds.train_labels.numpy(), minlength=n_cls)
    kw: dict[str, Any] = {"reference": reference, "confidence": float(opt("confidence", 0.9)), "min_count": int(opt("min_count", 1))}
    if stacked:
        probs = torch.stack([_probs(clf, ctx.samples[:, c:c + 1], bs) for c in range(ctx.samples.shape[1])], 1)
        res = stacked_coverage(probs, **kw)
    else:
        res = class_coverage(_probs(clf, ctx.samples, bs), n_cls, **kw)
    prov = {"name": name, "sha256": getattr(clf, "sha256", None), "accuracy": getattr(clf, "accuracy", None)}
    return dataclasses.replace(res, classifier=prov)


# k-means bins are the expensive step and depend only on the training data: keep the last few,
# so scoring every checkpoint of a run bins the data once. The dataset object is held in the key's
# entry so that its id cannot be reused by another object while cached.
_BINS: dict[tuple[Any, ...], tuple[Any, NDBBins]] = {}
_BINS_MAX = 4


def _bins_for(key: tuple[Any, ...], owner: Any, build: Any) -> NDBBins:
    if key in _BINS and _BINS[key][0] is owner:
        return _BINS[key][1]
    b = build()
    if len(_BINS) >= _BINS_MAX:
        _BINS.pop(next(iter(_BINS)))
    _BINS[key] = (owner, b)
    return b


@register_metric("ndb", kinds=("mixture", "images", "vectors"),
                 description="number of statistically different k-means bins and JS (Richardson & Weiss 2018)",
                 directions={"ndb": "lower", "ndb_fraction": "lower", "js_divergence": "lower"},
                 headline=("ndb", "ndb_fraction"),
                 options={"bins": OptionSpec(int, None, "k-means bins (default 100, fewer for small data)"),
                          "alpha": OptionSpec(float, 0.05, "significance level of each bin's test"),
                          "whiten": OptionSpec(bool, False, "whiten the data before k-means"),
                          "space": OptionSpec(str, "data", "'data' (pixels / vectors) or 'features'"),
                          "reference": OptionSpec(str, "train", "split whose bin shares are compared: train, val "
                                                  "or test"),
                          "z_threshold": OptionSpec(float, None, "a bin differs when |z| exceeds this (replaces "
                                                    "alpha; the original's option)"),
                          "n_init": OptionSpec(int, 10, "k-means restarts"),
                          "max_dims": OptionSpec((int, str), "auto", "dimensions binned on: 'auto' (a seeded sixth "
                                                 "above 1,000 dimensions, as the original), 'all', or a number")},
                 citation="Richardson & Weiss, On GANs and GMMs, NeurIPS 2018")
def _ndb(ctx: Context) -> NDBResult:
    ds = ctx.dataset
    opt = lambda key, default: ctx.option("ndb", key, default)  # noqa: E731
    space = opt("space", "data")
    ref_split = opt("reference", "train")
    if space not in ("data", "features"):
        raise GanevalError(f"ndb option `space` must be 'data' or 'features', got {space!r}.")
    if ref_split not in ("train", "val", "test"):
        raise GanevalError(f"ndb option `reference` must be train, val or test, got {ref_split!r}.")
    if space == "features":
        fake = ctx.features_of("fake")
        ref = ctx.features_of(ref_split) if ref_split != "train" else None
        space_key: tuple[str, ...] = ("features", ctx.feature_name, repr(sorted(ctx.extractor_options.items())))
        train_rows = lambda: ctx.features_of("train")  # noqa: E731  (only when the bins are not cached)
    else:
        fake = ctx.samples
        ref = ds.split(ref_split) if ref_split != "train" else None
        space_key = ("data",)
        train_rows = lambda: ds.train  # noqa: E731
    bins, note = opt("bins", None), None
    if bins is None:
        # The paper's K = 100, fewer where the data are too small for 5 rows per bin (recorded in `note`).
        n_train = ds.train.shape[0]
        rows = min(fake.shape[0], n_train, ref.shape[0] if ref is not None else n_train)
        bins = max(2, min(100, rows // NDB_MIN_PER_BIN))
        if bins < 100:
            note = (f"bins lowered from the paper's 100 to {bins} so that each holds {NDB_MIN_PER_BIN} rows on "
                    f"average ({rows} rows in the smallest set); set the bins option to choose")
    bins, whiten, seed = int(bins), bool(opt("whiten", False)), int(ctx.seed)
    n_init, max_dims = int(opt("n_init", 10)), opt("max_dims", "auto")
    if max_dims == "all":
        max_dims = None
    elif not (max_dims == "auto" or isinstance(max_dims, int)):
        raise GanevalError(f"ndb option `max_dims` must be 'auto', 'all' or a number of dimensions, got {max_dims!r}.")
    key = (id(ds), ds.name, space_key, bins, whiten, seed, n_init, max_dims)
    b = _bins_for(key, ds, lambda: ndb_bins(train_rows(), bins=bins, seed=seed, whiten=whiten, n_init=n_init,
                                            max_dims=max_dims))
    z_thr = opt("z_threshold", None)
    res = ndb(fake, b, alpha=float(opt("alpha", 0.05)), z_threshold=None if z_thr is None else float(z_thr),
              reference=ref, device=ctx.device)
    if note:
        res = dataclasses.replace(res, note=note)
    ctx.artifacts["ndb"] = {"assignment": torch.as_tensor(res.assignment)}
    return res
