"""Adapters for the 2014 GAN paper's two evaluations: Parzen log-likelihood and nearest neighbours.

Options (``evaluate(..., options={"parzen": {"refine": 5}})``):

* ``parzen``: ``features`` (False: score pixels / the data as they are, the paper's protocol;
  True: the evaluation's feature extractor), ``sigmas`` (a list; default the paper's
  ``logspace(-1, 0, 10)`` for images in pixel space, else a grid scaled to the data, see
  :func:`ganeval.metrics.parzen.scaled_sigmas`), ``refine`` (0), ``n_val`` (1000: the original
  ``parzen_ll.py`` cross-validates σ on the first 1,000 validation points), ``memory_budget``.
  Kernels = the generated samples (``n_samples``; 10,000 in the paper), scored on the test split.
  For mixtures the test split's exact log-likelihood under the true density is reported beside.
* ``memorisation``: ``features`` (False: pixels, as Figure 2 of the paper), ``percentile`` (1),
  ``n_cells`` (default see :func:`ganeval.metrics.memorisation`), ``min_cell_samples`` (20;
  a cell needs more), ``n_init`` (10 k-means restarts), ``continuity`` (True: the authors'
  correction), ``kmeans`` ("sklearn": C_T's cells from scikit-learn's ``KMeans`` on the CPU, as
  the authors' code, so the same seed gives their partition; "torch": ganeval's own k-means on
  the evaluation's device, for large feature sets on a GPU), ``memory_budget``. Samples against
  the train split, baseline = the test split.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from ..metrics.memorisation import KMEANS, MemorisationResult, memorisation
from ..metrics.parzen import PAPER_SIGMAS, ParzenResult, parzen, scaled_sigmas
from ..registry import Context, OptionSpec, register_metric

_FEATURES = OptionSpec(bool, False, "score the evaluation's features instead of the data as it is")
_SPACE = OptionSpec(str, "data", "'data' (as it is) or 'features' (same as features=true)")
_MEMORY = OptionSpec((int, float), None, "bytes a distance block may use")


def _parzen_caveat(d: dict[str, Any], ev: Any) -> str:
    shape = ev.provenance.get("dataset", {}).get("shape")
    dim = d.get("dim") or (math.prod(shape) if shape else None)
    where = f" (here D = {dim})" if dim else ""
    return ("Parzen-window log-likelihood is unreliable beyond a few dimensions" + where +
            ": it can rank a model below one that memorises, and needs impractically many samples "
            "(Theis, van den Oord & Bethge, 2015, 'A note on the evaluation of generative models').")


def _use_features(ctx: Context, metric: str) -> bool:
    return bool(ctx.option(metric, "features", False)) or ctx.option(metric, "space", "data") == "features"


def _points(ctx: Context, metric: str, which: str) -> torch.Tensor:
    if _use_features(ctx, metric):
        return ctx.features_of(which)
    x = ctx.samples if which == "fake" else ctx.dataset.split(which)
    return x.reshape(x.shape[0], -1)


def _space(ctx: Context, metric: str) -> str:
    if _use_features(ctx, metric):
        return f"features: {ctx.feature_name}"
    return "pixels" if ctx.dataset.kind == "images" else "data"


@register_metric("parzen", default=False,
                 description="Parzen-window log-likelihood of the test split, sigma chosen on val (Goodfellow et al. 2014)",
                 directions={"log_likelihood": "higher"}, headline=("log_likelihood", "sigma"), primary="log_likelihood",
                 options={"features": _FEATURES, "space": _SPACE,
                          "sigmas": OptionSpec(list, None, "bandwidths tried on the validation split"),
                          "refine": OptionSpec(int, 0, "extra sigmas tried on each side of the chosen grid value"),
                          "n_val": OptionSpec(int, 1000, "validation rows used to choose sigma"),
                          "memory_budget": _MEMORY},
                 caveats=(_parzen_caveat,),
                 citation="Goodfellow et al., Generative Adversarial Nets, NeurIPS 2014 (protocol of Breuleux et al. 2011)")
def _parzen(ctx: Context) -> ParzenResult:
    name = "parzen"
    kernels = _points(ctx, name, "fake")
    val = _points(ctx, name, "val")
    n_val = ctx.option(name, "n_val", 1000)
    if n_val is not None:
        val = val[: int(n_val)]
    test = _points(ctx, name, "test")
    space = _space(ctx, name)
    sigmas = ctx.option(name, "sigmas", None)
    if sigmas is None:
        sigmas = list(PAPER_SIGMAS) if space == "pixels" else scaled_sigmas(val)
    res = parzen(kernels, val, test, sigmas=sigmas, refine=int(ctx.option(name, "refine", 0)),
                 memory_budget=ctx.option(name, "memory_budget", None), device=ctx.device)
    true_ll = None
    if hasattr(ctx.dataset, "log_prob") and space == "data":
        true_ll = float(ctx.dataset.log_prob(ctx.dataset.test).mean())  # type: ignore[attr-defined]
    res = dataclasses.replace(res, space=space, true_log_likelihood=true_ll)
    ctx.artifacts[name] = {"sigmas": list(res.sigmas), "val_log_likelihoods": list(res.val_log_likelihoods),
                           "sigma": res.sigma, "test_log_likelihoods": res.test_log_likelihoods}
    return res


@register_metric("memorisation", default=False,
                 description="nearest-training-neighbour copy rate, C_T (Meehan et al. 2020), authenticity (Alaa et al. 2022)",
                 directions={"copy_rate": "lower", "authenticity": "higher"},
                 headline=("copy_rate", "c_t", "distance_ratio"),
                 options={"features": _FEATURES, "space": _SPACE,
                          "percentile": OptionSpec(float, 1.0, "percentile of the test-to-train distances below "
                                                   "which a sample counts as a copy"),
                          "n_cells": OptionSpec(int, None, "k-means cells of C_T"),
                          "min_cell_samples": OptionSpec(int, 20, "tau*m: a cell enters C_T with more samples "
                                                         "than this"),
                          "n_init": OptionSpec(int, 10, "k-means restarts of C_T's cells"),
                          "continuity": OptionSpec(bool, True, "the authors' continuity correction in each "
                                                   "cell's Z"),
                          "kmeans": OptionSpec(str, KMEANS[0], "k-means of C_T's cells: 'sklearn' (scikit-learn's "
                                               "KMeans on the CPU, the authors' partition for the same seed) or "
                                               "'torch' (ganeval's own, on the device: large feature sets on a GPU)",
                                               choices=KMEANS),
                          "memory_budget": _MEMORY},
                 citation="Meehan et al., A Non-Parametric Test to Detect Data-Copying, AISTATS 2020; "
                          "Alaa et al., How Faithful is your Synthetic Data?, ICML 2022")
def _memorisation(ctx: Context) -> MemorisationResult:
    name = "memorisation"
    casts = {"percentile": float, "n_cells": int, "min_cell_samples": int, "n_init": int, "continuity": bool,
             "kmeans": str}
    opts: dict[str, Any] = {k: cast(ctx.option(name, k)) for k, cast in casts.items() if ctx.option(name, k) is not None}
    res = memorisation(_points(ctx, name, "fake"), _points(ctx, name, "train"), _points(ctx, name, "test"),
                       seed=ctx.seed, memory_budget=ctx.option(name, "memory_budget", None), device=ctx.device,
                       **opts)
    res = dataclasses.replace(res, space=_space(ctx, name))
    ctx.artifacts[name] = {"sample_distances": res.sample_distances, "sample_neighbours": res.sample_neighbours,
                           "baseline_distances": res.baseline_distances, "copy_threshold": res.copy_threshold,
                           "space": res.space}
    return res
