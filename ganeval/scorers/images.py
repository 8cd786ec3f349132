"""Adapters for the image protocols beyond FID: ``is`` (Inception Score) and ``cmmd`` (CLIP MMD).

``is`` reads the ``logits_unbiased`` layer of the ``inception`` extractor, which the same forward
pass as FID's 2048-d pool features yields (asking for FID, KID, PRDC and IS runs Inception once per
image). ``cmmd`` reads the ``clip`` extractor's embeddings of the samples and of a dataset split.
In a streamed evaluation (:mod:`ganeval.features.streaming`) IS comes from the running sums of all
N samples.

Options (``--option is.splits=10``):

* is: ``splits`` (10), ``seed`` (2020, torch-fidelity's: the shuffle before splitting).
* cmmd: ``reference`` (train), ``sigma`` (10).
"""

from __future__ import annotations

from typing import Any

from ..errors import GanevalError
from ..metrics.cmmd import SIGMA, CMMDResult, cmmd
from ..metrics.frechet import FeatureStats, frechet_distance
from ..metrics.inception_score import DEFAULT_SEED, DEFAULT_SPLITS, ISResult, inception_score
from ..registry import Context, OptionSpec, register_metric
from ..results import fmt

IS_CITATION = ("Salimans et al., Improved Techniques for Training GANs, NeurIPS 2016; Barratt & Sharma, "
               "A Note on the Inception Score, 2018")
IS_CAVEAT = ("Inception Score ignores the reference data and depends on the exact Inception weights, the number "
             "of samples and splits; it rewards confident ImageNet-class predictions, not realism, and misses "
             "mode dropping within a class (Barratt & Sharma, 2018). Compare only at equal N, splits and network.")


def _is_caveat(d: dict[str, Any], ev: Any) -> str:
    return f"IS on N = {fmt(d.get('n_fake'))} samples, {fmt(d.get('splits'))} splits. " + IS_CAVEAT


def fid_from_statistics(ctx: Context, ref: str, result: Any) -> Any:
    """FID from running statistics: a streamed evaluation's, and/or a reference statistics file.

    ``ref`` is a split name or an ``.npz`` path (:mod:`ganeval.features.stats_files` checks that
    the file was made with the run's extractor, layer, weights and resize mode). No bootstrap
    interval and no FID_inf: both need the feature vectors. ``result`` is the class to return
    (``fid``'s ``FIDScore``, passed in so that this module does not import the ``fid`` adapter's).

    Raises:
        GanevalError: a statistics file that does not fit the run (the reason named).
    """
    ext = ctx.extractor()
    notes: list[str] = []
    stream = getattr(ctx, "stream", None)
    if stream is not None:
        fake = stream.stats[ctx.feature_name]
        notes.append(f"streamed: statistics of all {fake.n} samples accumulated in float64")
    else:
        fake = FeatureStats.of(ctx.features_of("fake"), "fake features")
    if ref.endswith(".npz"):
        from ..features.stats_files import read_reference

        mu, sigma, n_real, more = read_reference(ref, ext, ext.default_layer)
        notes += more
    else:
        real = FeatureStats.of(ctx.features_of(ref), "real features")
        mu, sigma, n_real = real.mu, real.sigma, real.n
    value = frechet_distance(mu, sigma, fake.mu, fake.sigma)
    return result(value=value, n_fake=int(fake.n), n_real=int(n_real), dim=int(mu.shape[0]), notes=tuple(notes),
                    reference=ref, features=ctx.feature_name)


@register_metric("is", kinds=("images",), description="Inception Score, torch-fidelity's definition "
                 "(softmax of logits_unbiased, 10 seeded splits, mean ± std)",
                 directions={"value": "higher"}, headline=("value", "std", "n_fake"),
                 options={"splits": OptionSpec(int, DEFAULT_SPLITS, "parts the samples are split into"),
                          "seed": OptionSpec(int, DEFAULT_SEED, "seed of the shuffle before splitting "
                                             "(torch-fidelity's rng_seed, 2020)")},
                 caveats=(_is_caveat,), citation=IS_CITATION)
def _is(ctx: Context) -> ISResult:
    return _score_is(ctx)


def _score_is(ctx: Context) -> ISResult:
    splits = int(ctx.option("is", "splits", DEFAULT_SPLITS))
    seed = int(ctx.option("is", "seed", DEFAULT_SEED))
    stream = getattr(ctx, "stream", None)
    if stream is not None:
        return stream.inception_score(splits=splits, seed=seed)
    logits = ctx.features_of("fake", extractor="inception", layer="logits_unbiased")
    res = inception_score(logits, splits=splits, seed=seed)
    # Per-sample class probabilities, for paired comparisons (ganeval.paired).
    probs = logits.double().softmax(1).numpy()
    ctx.artifacts["is"] = ctx.artifacts["inception_score"] = {"probs": probs}
    return res


@register_metric("inception_score", kinds=("images",), description="alias of `is`",
                 directions={"value": "higher"}, headline=("value", "std", "n_fake"),
                 options={"splits": OptionSpec(int, DEFAULT_SPLITS, "parts the samples are split into"),
                          "seed": OptionSpec(int, DEFAULT_SEED, "seed of the shuffle before splitting")},
                 caveats=(_is_caveat,), citation=IS_CITATION)
def _inception_score(ctx: Context) -> ISResult:
    opts = ctx.options.get("inception_score")
    if opts:
        ctx.options.setdefault("is", {}).update(opts)
    return _score_is(ctx)


@register_metric("cmmd", kinds=("images",), description="CMMD: RBF-kernel MMD^2 x 1000 on CLIP ViT-L/14@336px "
                 "embeddings (Jayasumana et al. 2024)",
                 directions={"value": "lower"}, headline=("value", "n_fake", "n_real"),
                 options={"reference": OptionSpec(str, "train", "dataset split of the real embeddings"),
                          "sigma": OptionSpec(float, SIGMA, "RBF bandwidth (10, the paper's)")},
                 caveats=("CMMD values are comparable only with the same CLIP weights and preprocessing.",),
                 citation="Jayasumana et al., Rethinking FID: Towards a Better Evaluation Metric for Image "
                          "Generation, CVPR 2024")
def _cmmd(ctx: Context) -> CMMDResult:
    ref = str(ctx.option("cmmd", "reference", "train"))
    if ref not in ("train", "val", "test", "train+val", "all"):
        raise GanevalError(f"cmmd option `reference` must be train, val, test, train+val or all, got {ref!r}.")
    real = ctx.features_of(ref, extractor="clip")
    fake = ctx.features_of("fake", extractor="clip")
    return cmmd(real, fake, sigma=float(ctx.option("cmmd", "sigma", SIGMA)), device=ctx.device)
