"""Adapters for class-conditional generators: ``intra_fid``, ``class_prdc`` and ``conditional_accuracy``.

Both read the labels the samples were asked for (``ctx.sample_labels``, drawn by
:meth:`ganeval.checkpoints.Generator.sample_with_labels`) and the reference data's labels. They
join the default metric set when the generator is conditional and the data are labelled images
(:func:`conditional_defaults`); :func:`check_conditional` rejects, before any sample is drawn,
a conditional metric that cannot run (an unconditional generator, unlabelled data, a class count
that differs from the data's, no classifier for the data).

Options (``options={"conditional_accuracy": {...}}``; CLI ``--classifier PATH`` sets ``classifier``):

* intra_fid: ``reference`` (the real split, "train" as for ``fid``), ``bootstrap``, ``confidence``.
* class_prdc: ``reference`` ("train"), ``k`` (5, lowered to the smallest class's rows - 1 when not
  given and a class has 5 rows or fewer, as in small test runs; the result's ``k`` says which).
* conditional_accuracy: ``classifier`` (a TorchScript file mapping images to logits; default the
  shipped digits / MNIST CNN, per channel for Stacked MNIST), ``min_count`` (1: a class is covered
  when at least this many of its samples are read as it), ``batch_size`` (512).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from ..errors import GanevalError
from ..features.digits_cnn import digit_task
from ..metrics.conditional import (
    ClassPRDC,
    ConditionalAccuracy,
    IntraFIDResult,
    class_prdc,
    conditional_accuracy,
    intra_fid,
)
from ..registry import Context, OptionSpec, register_metric

CONDITIONAL_METRICS = ("intra_fid", "class_prdc", "conditional_accuracy")
LABELLED = ("digits, mnist, stacked-mnist, cifar10, an .npz with train_labels/val_labels/test_labels, or an image "
            "folder with one subfolder per class")


def _sample_labels(ctx: Context, metric: str) -> torch.Tensor:
    y = getattr(ctx, "sample_labels", None)
    if y is None:
        raise GanevalError(f"Metric {metric!r} needs a class-conditional generator (forward(z, y)); this one is "
                           "unconditional: pass --num-classes K if it takes labels, or drop the metric.")
    return y


def check_conditional(names: list[str], conditional: Any, dataset: Any, options: dict[str, dict[str, Any]],
                      source: str) -> None:
    """Reject, before sampling, conditional metrics that cannot run on this generator and data.

    Args:
        names: the metrics about to run.
        conditional: the generator's :class:`~ganeval.conditional.ConditionalSpec` (None: unconditional).
        dataset: the reference :class:`~ganeval.data.Dataset`.
        options: per-metric options.
        source: the generator's name, for errors.

    Raises:
        GanevalError: naming the metric, the input and the fix.
    """
    wanted = [n for n in names if n in CONDITIONAL_METRICS]
    if not wanted:
        return
    if conditional is None:
        raise GanevalError(f"{source}: metric {wanted[0]!r} needs a class-conditional generator (forward(z, y)), "
                           "but it is unconditional: pass --num-classes K if its forward takes labels, or drop "
                           f"{', '.join(wanted)} from --metrics.")
    ref = str(options.get(wanted[0], {}).get("reference", "train"))
    if dataset.labels(ref if ref in ("train", "val", "test") else "train") is None or dataset.n_classes is None:
        raise GanevalError(f"{source}: {wanted[0]} needs labelled reference data, and {dataset.name!r} has no "
                           f"labels: use {LABELLED}.")
    k, kd = int(conditional.num_classes), int(dataset.n_classes)
    if k != kd:
        raise GanevalError(f"{source}: the generator has {k} classes but {dataset.name!r} has {kd}: pass the "
                           f"--num-classes it was trained with and the data it was trained on (--data).")
    clf = options.get("conditional_accuracy", {}).get("classifier")
    if "conditional_accuracy" in wanted and clf and not Path(str(clf)).is_file():
        raise GanevalError(f"--classifier {clf}: no such file; pass a TorchScript file mapping images to logits.")
    if ("conditional_accuracy" in wanted and not options.get("conditional_accuracy", {}).get("classifier")
            and digit_task(dataset) is None):
        raise GanevalError(f"{source}: conditional_accuracy on {dataset.name!r} needs a classifier of its {kd} "
                           "classes: pass --classifier PATH (a TorchScript file mapping images to logits), or "
                           "drop conditional_accuracy from --metrics.")


def conditional_defaults(conditional: Any, dataset: Any, options: dict[str, dict[str, Any]]) -> list[str]:
    """The conditional metrics that join the defaults: for a conditional generator on labelled images
    (conditional accuracy only where a classifier is at hand).

    Raises:
        GanevalError: the generator's class count differs from the labelled data's (a wrong
            ``--num-classes`` or ``--data``, most likely).
    """
    if conditional is None or dataset.kind != "images" or dataset.train_labels is None or dataset.n_classes is None:
        return []
    k, kd = int(conditional.num_classes), int(dataset.n_classes)
    if k != kd:
        raise GanevalError(f"the generator has {k} classes but {dataset.name!r} has {kd}: pass the --num-classes "
                           "it was trained with and the data it was trained on (--data), or name --metrics without "
                           "intra_fid / class_prdc / conditional_accuracy to score it unconditionally.")
    out = ["intra_fid", "class_prdc"]
    if options.get("conditional_accuracy", {}).get("classifier") or digit_task(dataset) is not None:
        out.append("conditional_accuracy")
    return out


@register_metric(
    "intra_fid", kinds=("mixture", "images", "vectors"),
    description="intra-class FID: mean over classes of each class's FID against that class's real data "
                "(Miyato & Koyama 2018); conditional generators",
    directions={"value": "lower", "worst_value": "lower"}, headline=("value", "worst_value"),
    options={"reference": OptionSpec(str, "train", "real split the per-class statistics come from",
                                     choices=("train", "val", "test")),
             "bootstrap": OptionSpec(int, 0, "bootstrap replicates per class for an interval (0: none)"),
             "confidence": OptionSpec(float, 0.95, "level of the interval")},
    citation="Miyato & Koyama, cGANs with Projection Discriminator, ICLR 2018")
def _intra_fid(ctx: Context) -> IntraFIDResult:
    y = _sample_labels(ctx, "intra_fid")
    ref = str(ctx.option("intra_fid", "reference", "train"))
    if ref not in ("train", "val", "test"):
        raise GanevalError(f"intra_fid option `reference` must be train, val or test, got {ref!r}.")
    real_y = ctx.dataset.labels(ref)
    if real_y is None:
        raise GanevalError(f"intra_fid needs labelled reference data, and {ctx.dataset.name!r} has no {ref} labels: "
                           f"use {LABELLED}.")
    res = intra_fid(ctx.features_of(ref), real_y, ctx.features_of("fake"), y,
                    bootstrap=int(ctx.option("intra_fid", "bootstrap", 0) or 0),
                    confidence=float(ctx.option("intra_fid", "confidence", 0.95)), seed=ctx.seed)
    return dataclasses.replace(res, reference=ref, features=ctx.feature_name)


@register_metric(
    "class_prdc", kinds=("mixture", "images", "vectors"),
    description="per-class precision, recall, density and coverage of each class's samples against that class's "
                "real data (Naeem et al. 2020); conditional generators",
    directions={"value": "higher", "recall": "higher", "precision": "higher", "worst_coverage": "higher"},
    headline=("value", "recall", "worst_coverage"),
    options={"reference": OptionSpec(str, "train", "real split of each class's rows", choices=("train", "val", "test")),
             "k": OptionSpec(int, 5, "nearest neighbours per ball")},
    citation="Naeem, Oh, Uh, Choi & Yoo, Reliable Fidelity and Diversity Metrics for Generative Models, ICML 2020")
def _class_prdc(ctx: Context) -> ClassPRDC:
    y = _sample_labels(ctx, "class_prdc")
    ref = str(ctx.option("class_prdc", "reference", "train"))
    real_y = ctx.dataset.labels(ref)
    if real_y is None:
        raise GanevalError(f"class_prdc needs labelled reference data, and {ctx.dataset.name!r} has no {ref} labels: "
                           f"use {LABELLED}.")
    k = ctx.option("class_prdc", "k", None)
    if k is None:  # the paper's 5, or fewer where a class has too few rows for it
        classes = torch.unique(y)
        n_real = torch.bincount(real_y, minlength=int(y.max()) + 1)[classes]
        fewest = min(int(torch.bincount(y)[classes].min()), int(n_real.min()))
        k = max(1, min(5, fewest - 1))
    res = class_prdc(ctx.features_of(ref), real_y, ctx.features_of("fake"), y, k=int(k), device=ctx.device)
    return dataclasses.replace(res, reference=ref, features=ctx.feature_name)


def _predict(ctx: Context, bs: int) -> tuple[torch.Tensor, int, dict[str, Any]]:
    """(N,) classes the classifier reads in the samples, K, and the classifier's provenance."""
    path = ctx.option("conditional_accuracy", "classifier", None)
    x = ctx.samples
    if path:
        from ..features.user_classifier import load_user_classifier

        clf = load_user_classifier(path, ctx.device)
        clf.batch_size = bs
        logits = clf.logits(x)
        return logits.argmax(1), int(logits.shape[1]), clf.provenance()
    which = digit_task(ctx.dataset)
    if which is None:
        raise GanevalError(f"conditional_accuracy on {ctx.dataset.name!r} needs a classifier of its classes: pass "
                           "--classifier PATH (a TorchScript file mapping images to logits).")
    from ..features.digits_cnn import load_classifier

    name, stacked = which
    net = load_classifier(name, device=ctx.device)
    net.batch_size = bs
    prov = {"name": name, "sha256": net.sha256, "accuracy": net.accuracy}
    if not stacked:
        return net.predict(x), 10, prov
    digits = [net.predict(x[:, c:c + 1]) for c in range(x.shape[1])]
    return digits[0] * 100 + digits[1] * 10 + digits[2], 1000, prov


@register_metric(
    "conditional_accuracy", kinds=("images", "vectors"),
    description="fraction of samples a classifier assigns to the class they were asked for, per class and "
                "overall; conditional generators",
    directions={"value": "higher", "classes_covered": "higher", "worst_accuracy": "higher"},
    headline=("value", "classes_covered", "worst_accuracy"),
    options={"classifier": OptionSpec(str, None, "TorchScript classifier (images -> logits); default the shipped "
                                                 "digits / MNIST CNN"),
             "min_count": OptionSpec(int, 1, "samples read as their class for the class to count as covered"),
             "batch_size": OptionSpec(int, 512, "rows per classifier pass"),
             "confidence": OptionSpec(float, 0.95, "level of the Wilson interval of the accuracy")},
    citation="Odena, Olah & Shlens, Conditional Image Synthesis with Auxiliary Classifier GANs, ICML 2017")
def _conditional_accuracy(ctx: Context) -> ConditionalAccuracy:
    y = _sample_labels(ctx, "conditional_accuracy")
    pred, k, prov = _predict(ctx, int(ctx.option("conditional_accuracy", "batch_size", 512)))
    if int(y.max()) >= k:
        raise GanevalError(f"conditional_accuracy: samples were asked for class {int(y.max())}, but the classifier "
                           f"({prov.get('path') or prov.get('name')}) knows {k} classes; pass a classifier of the "
                           "generator's classes with --classifier.")
    res = conditional_accuracy(pred, y, k, min_count=int(ctx.option("conditional_accuracy", "min_count", 1)),
                               confidence=float(ctx.option("conditional_accuracy", "confidence", 0.95)))
    return dataclasses.replace(res, classifier=prov)
