"""Adapters for feature-space metrics: ``fid`` (with N, a bootstrap interval and FID_inf), ``kid``, ``prdc``.

Real features come from a dataset split (option ``reference``, default ``"train"``, as FID is
usually quoted against the training data), computed once per evaluation and cached on disk
(:func:`ganeval.features.cached_features`); fake features are the samples'. The extractor is the
dataset's default (digit CNNs for digits/MNIST, Inception for other images, raw data otherwise)
unless ``features=`` names one.

Options (``options={"fid": {...}}``, CLI ``--metrics``):

* fid: ``reference``, ``bootstrap`` (replicates; default 100 up to 256-d features, none above),
  ``confidence`` (0.95), ``infinity`` (fit FID_inf; default True), ``ns`` (sizes for FID_inf).
* kid: ``reference``, ``subsets`` (100), ``subset_size`` (1000, reduced to the smaller set).
* prdc: ``reference``, ``k`` (5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..errors import GanevalError
from ..metrics.frechet import FIDInfinity, FIDResult, fid, fid_infinity
from ..metrics.kid import KIDResult, kid
from ..metrics.prdc import PRDCResult, prdc
from ..registry import Context, OptionSpec, register_metric
from ..results import fmt

_REFERENCE = OptionSpec(str, "train", "dataset split the real features come from: train, val, test, train+val "
                        "or all (fid: also a statistics .npz from `ganeval stats`)")


def _features_name(ev: Any) -> str | None:
    return (ev.provenance.get("features") or {}).get("name")


def _fid_caveat(d: dict[str, Any], ev: Any) -> str:
    n_fake, n_real = d.get("n_fake"), d.get("n_real")
    feats = _features_name(ev)
    return (f"FID is biased upward at finite N and depends on N (here {fmt(n_fake)} generated vs {fmt(n_real)} real"
            + (f", {feats} features" if feats else "") +
            "): compare values only at equal N and features (Chong & Forsyth, 2020).")


def _kid_caveat(d: dict[str, Any], ev: Any) -> str | None:
    feats = _features_name(ev)
    return f"KID values are comparable only with the same features ({feats})." if feats else None


def _pair(ctx: Context, metric: str) -> tuple[torch.Tensor, torch.Tensor, str]:
    ref = str(ctx.option(metric, "reference", "train"))
    if ref not in ("train", "val", "test", "train+val", "all"):
        raise GanevalError(f"{metric} option `reference` must be train, val, test, train+val or all"
                           + (" (a statistics file serves fid only)" if ref.endswith(".npz") else "")
                           + f", got {ref!r}.")
    return ctx.features_of(ref), ctx.features_of("fake"), ref


@dataclass(frozen=True)
class FIDScore(FIDResult):
    """:class:`~ganeval.metrics.FIDResult` plus what the evaluation adds.

    Attributes:
        reference: the dataset split the real statistics come from.
        features: the feature extractor's name.
        fid_inf: FID extrapolated to N -> inf (None when not computed).
        infinity: the FID(N) points and fit behind ``fid_inf``.
    """

    reference: str = "train"
    features: str = ""
    fid_inf: float | None = None
    infinity: FIDInfinity | None = None


@register_metric("fid", kinds=("mixture", "images", "vectors"), default=("images",),
                 description="Fréchet distance of features (FID) with N, a bootstrap interval and FID_inf (Chong & Forsyth)",
                 directions={"value": "lower", "fid_inf": "lower"}, headline=("value", "n_fake", "n_real"),
                 options={"reference": _REFERENCE,
                          "bootstrap": OptionSpec(int, None, "bootstrap replicates for the interval (default 100 up "
                                                  "to 256-d features, none above)"),
                          "confidence": OptionSpec(float, 0.95, "interval level"),
                          "infinity": OptionSpec(bool, True, "fit FID_inf"),
                          "ns": OptionSpec(list, None, "sample sizes for the FID_inf fit")},
                 caveats=(_fid_caveat,),
                 citation="Heusel et al., GANs Trained by a Two Time-Scale Update Rule, NeurIPS 2017; "
                          "Chong & Forsyth, Effectively Unbiased FID and Inception Score, CVPR 2020")
def _fid(ctx: Context) -> FIDScore:
    ref_opt = str(ctx.option("fid", "reference", "train"))
    if ref_opt.endswith(".npz") or getattr(ctx, "stream", None) is not None:
        from .images import fid_from_statistics  # statistics files and streamed runs: no feature vectors

        return fid_from_statistics(ctx, ref_opt, FIDScore)
    real, fake, ref = _pair(ctx, "fid")
    bootstrap = ctx.option("fid", "bootstrap", None)
    res = fid(real, fake, bootstrap=None if bootstrap is None else int(bootstrap),
              confidence=float(ctx.option("fid", "confidence", 0.95)), seed=ctx.seed)
    inf = None
    if ctx.option("fid", "infinity", True) and fake.shape[0] >= 10:
        inf = fid_infinity(real, fake, ns=ctx.option("fid", "ns", None), seed=ctx.seed)
    fields = {k: getattr(res, k) for k in res.__dataclass_fields__}
    return FIDScore(**fields, reference=ref, features=ctx.feature_name,
                    fid_inf=None if inf is None else inf.value, infinity=inf)


@register_metric("kid", kinds=("mixture", "images", "vectors"),
                 description="kernel (Inception) distance: unbiased polynomial MMD^2 over subsets (Binkowski et al. 2018)",
                 directions={"value": "lower"}, headline=("value",),
                 options={"reference": _REFERENCE, "subsets": OptionSpec(int, 100, "random subsets averaged"),
                          "subset_size": OptionSpec(int, 1000, "rows per subset (lowered to the smaller set, recorded "
                                                      "in requested_subset_size and note)")},
                 caveats=(_kid_caveat,),
                 citation="Binkowski et al., Demystifying MMD GANs, ICLR 2018")
def _kid(ctx: Context) -> KIDResult:
    real, fake, _ = _pair(ctx, "kid")
    # A subset size above N is lowered to N, and the result records it (requested_subset_size, note).
    return kid(real, fake, subsets=int(ctx.option("kid", "subsets", 100)),
               subset_size=int(ctx.option("kid", "subset_size", 1000)), seed=ctx.seed, clip_subset_size=True,
               device=ctx.device)


@register_metric("prdc", kinds=("mixture", "images", "vectors"),
                 description="precision, recall, density, coverage on k-NN balls of features (Naeem et al. 2020)",
                 directions={"precision": "higher", "recall": "higher", "density": "higher", "coverage": "higher"},
                 headline=("precision", "recall", "density", "coverage"),
                 options={"reference": _REFERENCE, "k": OptionSpec(int, 5, "nearest neighbours of the balls"),
                          "memory_budget": OptionSpec((int, float), None, "bytes a distance block may use")},
                 citation="Naeem et al., Reliable Fidelity and Diversity Metrics for Generative Models, ICML 2020")
def _prdc(ctx: Context) -> PRDCResult:
    real, fake, _ = _pair(ctx, "prdc")
    return prdc(real, fake, k=int(ctx.option("prdc", "k", 5)), device=ctx.device,
                memory_budget=ctx.option("prdc", "memory_budget", None))
