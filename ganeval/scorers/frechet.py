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

import torch

from ..errors import GanevalError
from ..metrics.frechet import FIDInfinity, FIDResult, fid, fid_infinity
from ..metrics.kid import KIDResult, kid
from ..metrics.prdc import PRDCResult, prdc
from ..registry import Context, register_metric


def _pair(ctx: Context, metric: str) -> tuple[torch.Tensor, torch.Tensor, str]:
    ref = str(ctx.option(metric, "reference", "train"))
    if ref not in ("train", "val", "test"):
        raise GanevalError(f"{metric} option `reference` must be train, val or test, got {ref!r}.")
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
                 description="Fréchet distance of features (FID) with N, a bootstrap interval and FID_inf (Chong & Forsyth)")
def _fid(ctx: Context) -> FIDScore:
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
                 description="kernel (Inception) distance: unbiased polynomial MMD^2 over subsets (Binkowski et al. 2018)")
def _kid(ctx: Context) -> KIDResult:
    real, fake, _ = _pair(ctx, "kid")
    size = min(int(ctx.option("kid", "subset_size", 1000)), real.shape[0], fake.shape[0])
    return kid(real, fake, subsets=int(ctx.option("kid", "subsets", 100)), subset_size=size, seed=ctx.seed,
               device=ctx.device)


@register_metric("prdc", kinds=("mixture", "images", "vectors"),
                 description="precision, recall, density, coverage on k-NN balls of features (Naeem et al. 2020)")
def _prdc(ctx: Context) -> PRDCResult:
    real, fake, _ = _pair(ctx, "prdc")
    return prdc(real, fake, k=int(ctx.option("prdc", "k", 5)), device=ctx.device)
