"""Metrics for class-conditional generators: intra-class FID and conditional accuracy.

* :func:`intra_fid`: the mean over classes of the FID between the samples asked for class ``c``
  and the real images of class ``c`` (Miyato & Koyama 2018, "cGANs with Projection
  Discriminator", ICLR), each class's FID with its own N. A generator that ignores its label
  has a good overall FID but a poor intra-class FID: every class's samples look like all digits.
* :func:`class_prdc`: precision, recall, density and coverage (Naeem et al. 2020, "Reliable Fidelity
  and Diversity Metrics for Generative Models", ICML) of each class's samples against that class's
  real data: per-class coverage shows a generator that obeys its label but collapses within a class.
* :func:`conditional_accuracy`: the fraction of samples that a classifier assigns to the class
  they were asked for (the "classification accuracy" of conditional GAN papers, e.g. Odena et al.
  2017's AC-GAN), overall with its binomial standard error and per class, with the confusion
  matrix behind it and how many classes are produced at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import torch

from ..errors import GanevalError
from ..results import Result
from .frechet import fid
from .prdc import prdc

CONFUSION_MAX_CLASSES = 100  # above this (Stacked MNIST's 1000) the K x K matrix is left out


def _labels(x: Any, name: str, n: int | None) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if t.ndim != 1 or (n is not None and t.shape[0] != n):
        raise GanevalError(f"`{name}` must be ({n if n is not None else 'N'},) class labels, one per row, got shape "
                           f"{tuple(t.shape)}.")
    if t.dtype.is_floating_point or t.dtype == torch.bool or t.dtype.is_complex:
        raise GanevalError(f"`{name}` must hold integer class labels, got dtype {t.dtype}.")
    if t.numel() and int(t.min()) < 0:
        raise GanevalError(f"`{name}` holds a negative class {int(t.min())}; classes are 0 .. K-1.")
    return t.to(torch.int64).cpu()


def _rows(x: Any, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if t.ndim < 2:
        raise GanevalError(f"`{name}` must be (N, D) features, got shape {tuple(t.shape)}.")
    return t.reshape(t.shape[0], -1)


def _per_class_inputs(real_features: Any, real_labels: Any, fake_features: Any, fake_labels: Any, classes: Any,
                      metric: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, list[int]]:
    """Validated (real, real labels, fake, fake labels, classes to score) for a per-class metric."""
    real, fake = _rows(real_features, "real_features"), _rows(fake_features, "fake_features")
    if real.shape[1] != fake.shape[1]:
        raise GanevalError(f"`real_features` and `fake_features` must have the same dimension, got "
                           f"{real.shape[1]} and {fake.shape[1]}.")
    ry = _labels(real_labels, "real_labels", real.shape[0])
    fy = _labels(fake_labels, "fake_labels", fake.shape[0])
    cls = sorted({int(c) for c in (torch.unique(fy).tolist() if classes is None else classes)})
    if not cls:
        raise GanevalError(f"{metric}: no classes to score (`fake_labels` is empty).")
    return real, ry, fake, fy, cls


@dataclass(frozen=True)
class IntraFIDResult(Result):
    """Intra-class FID: the mean of per-class FIDs.

    Attributes:
        value: mean over ``classes`` of ``per_class`` (lower is better).
        classes: the classes scored (those the samples were asked for), ascending.
        per_class: FID of each class's samples against that class's real features.
        n_fake, n_real: rows behind each class's FID (always quote them: FID depends on N).
        worst_class, worst_value: the class with the highest FID, and that FID.
        class_std: standard deviation of the per-class FIDs (spread over classes, not an error bar).
        n_classes: how many classes were scored.
        ci_low, ci_high: interval at ``confidence`` (None without bootstrap): ``value`` ± z times
            the standard error of the mean, from each class's bootstrap standard deviation
            (classes resampled independently; a normal approximation).
        n_bootstrap: bootstrap replicates per class (0: none).
        reference: the dataset split of the real features; features: the extractor's name.
        notes: round-off clamps reported by the per-class FIDs.
    """

    value: float
    worst_value: float
    worst_class: int
    class_std: float
    n_classes: int
    classes: tuple[int, ...]
    per_class: tuple[float, ...]
    n_fake: tuple[int, ...]
    n_real: tuple[int, ...]
    ci_low: float | None = None
    ci_high: float | None = None
    confidence: float = 0.95
    n_bootstrap: int = 0
    reference: str = ""
    features: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)


def intra_fid(real_features: Any, real_labels: Any, fake_features: Any, fake_labels: Any, *,
              classes: Any = None, bootstrap: int = 0, confidence: float = 0.95, seed: int = 0) -> IntraFIDResult:
    """Mean over classes of FID(real features of class c, fake features asked for class c).

    Args:
        real_features: (N_real, D) features of labelled reference data.
        real_labels: (N_real,) int class of each real row.
        fake_features: (N_fake, D) features of generated samples.
        fake_labels: (N_fake,) int class each sample was asked for.
        classes: the classes to average over (default: every class among ``fake_labels``).
        bootstrap: replicates per class for an interval (0: none; costs K x bootstrap FIDs).
        confidence: level of the interval.
        seed: seed of the resampling (class ``c`` uses ``seed + c``).

    Returns:
        :class:`IntraFIDResult`.

    Raises:
        GanevalError: shapes or labels that do not match, or a class with fewer than 2 real or
            2 generated rows (its FID is undefined).
    """
    real, ry, fake, fy, cls = _per_class_inputs(real_features, real_labels, fake_features, fake_labels, classes,
                                                "intra_fid")
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0:
        raise GanevalError(f"`bootstrap` must be an integer >= 0, got {bootstrap!r}.")
    if not 0 < confidence < 1:
        raise GanevalError(f"`confidence` must be in (0, 1), got {confidence!r}.")
    values: list[float] = []
    stds: list[float] = []
    n_f: list[int] = []
    n_r: list[int] = []
    notes: list[str] = []
    for c in cls:
        r, f = real[ry == c], fake[fy == c]
        if r.shape[0] < 2 or f.shape[0] < 2:
            raise GanevalError(f"intra_fid: class {c} has {r.shape[0]} real and {f.shape[0]} generated rows; each "
                               "class needs at least 2 of both (more samples with --n-samples, or labelled data "
                               "with every class the generator is asked for).")
        res = fid(r, f, bootstrap=int(bootstrap), confidence=confidence, seed=int(seed) + c)
        stds.append(res.bootstrap_std or 0.0)
        values.append(res.value)
        n_f.append(res.n_fake)
        n_r.append(res.n_real)
        notes.extend(f"class {c}: {n}" for n in res.notes)
    arr = np.asarray(values)
    worst = int(arr.argmax())
    lo = hi = None
    if bootstrap:
        half = NormalDist().inv_cdf(0.5 + confidence / 2) * float(np.sqrt(np.sum(np.square(stds)))) / len(cls)
        lo, hi = max(float(arr.mean()) - half, 0.0), float(arr.mean()) + half
    return IntraFIDResult(value=float(arr.mean()), worst_value=float(arr[worst]), worst_class=cls[worst],
                          class_std=float(arr.std(ddof=1)) if len(arr) > 1 else 0.0, n_classes=len(cls),
                          classes=tuple(cls), per_class=tuple(float(v) for v in arr), n_fake=tuple(n_f),
                          n_real=tuple(n_r), ci_low=lo, ci_high=hi, confidence=float(confidence),
                          n_bootstrap=int(bootstrap), notes=tuple(notes))


@dataclass(frozen=True)
class ConditionalAccuracy(Result):
    """How often a classifier reads the class a sample was asked for.

    Attributes:
        value: overall accuracy (correct / samples); ``stderr`` its binomial standard error;
            ``ci_low`` / ``ci_high`` its Wilson score interval at ``confidence``.
        chance: 1 / K, the accuracy of a generator that ignores its label (with balanced labels).
        classes_covered: asked classes with at least ``min_count`` samples read as that class.
        classes_asked: classes the samples were asked for.
        worst_class, worst_accuracy: the asked class read correctly least often.
        num_classes: K.
        per_class: accuracy per class (None for a class never asked for), length K.
        asked, predicted: samples per class asked for / assigned by the classifier, length K.
        confusion: K x K counts, row = asked, column = assigned (None above 100 classes).
        missing: asked classes not covered.
        min_count: the coverage threshold.
        n_samples: samples scored.
        classifier: which classifier read them (name, sha256, held-out accuracy).
    """

    value: float
    stderr: float
    ci_low: float
    ci_high: float
    confidence: float
    chance: float
    classes_covered: int
    classes_asked: int
    worst_class: int
    worst_accuracy: float
    num_classes: int
    n_samples: int
    min_count: int
    per_class: tuple[float | None, ...]
    asked: tuple[int, ...]
    predicted: tuple[int, ...]
    missing: tuple[int, ...]
    confusion: tuple[tuple[int, ...], ...] | None = None
    classifier: dict[str, Any] = field(default_factory=dict)


def conditional_accuracy(predicted: Any, asked: Any, num_classes: int, *, min_count: int = 1,
                         confidence: float = 0.95) -> ConditionalAccuracy:
    """Accuracy of the asked-for classes as a classifier reads them, overall and per class.

    Args:
        predicted: (N,) int class the classifier assigns to each sample.
        asked: (N,) int class each sample was asked for.
        num_classes: K (labels are 0 .. K-1).
        min_count: a class is covered when at least this many of its samples are read as it.
        confidence: level of the Wilson interval of the overall accuracy.

    Returns:
        :class:`ConditionalAccuracy`.

    Raises:
        GanevalError: mismatched lengths, labels outside 0 .. K-1, no samples, bad ``min_count``.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise GanevalError(f"`num_classes` must be an integer >= 2, got {num_classes!r}.")
    if isinstance(min_count, bool) or not isinstance(min_count, (int, np.integer)) or min_count < 1:
        raise GanevalError(f"`min_count` must be an integer >= 1, got {min_count!r}.")
    if not 0 < confidence < 1:
        raise GanevalError(f"`confidence` must be in (0, 1), got {confidence!r}.")
    k = int(num_classes)
    a = _labels(asked, "asked", None)
    p = _labels(predicted, "predicted", a.shape[0])
    n = a.shape[0]
    if n == 0:
        raise GanevalError("conditional_accuracy: no samples.")
    for name, t in (("asked", a), ("predicted", p)):
        if int(t.max()) >= k:
            raise GanevalError(f"`{name}` holds class {int(t.max())}, outside 0..{k - 1} for num_classes={k}.")
    correct = a == p
    asked_n = torch.bincount(a, minlength=k)
    hit_n = torch.bincount(a[correct], minlength=k)
    acc = float(correct.double().mean())
    per = [float(h) / float(m) if m else None for h, m in zip(hit_n.tolist(), asked_n.tolist())]
    asked_cls = [c for c in range(k) if asked_n[c] > 0]
    worst = min(asked_cls, key=lambda c: (per[c], c))
    missing = tuple(c for c in asked_cls if hit_n[c] < min_count)
    conf = None
    if k <= CONFUSION_MAX_CLASSES:
        m = torch.bincount(a * k + p, minlength=k * k).reshape(k, k)
        conf = tuple(tuple(int(v) for v in row) for row in m.tolist())
    lo, hi = _wilson(acc, n, confidence)
    return ConditionalAccuracy(
        value=acc, stderr=math.sqrt(acc * (1 - acc) / n), ci_low=lo, ci_high=hi, confidence=float(confidence),
        chance=1.0 / k,
        classes_covered=len(asked_cls) - len(missing), classes_asked=len(asked_cls), worst_class=int(worst),
        worst_accuracy=float(per[worst] or 0.0), num_classes=k, n_samples=n, min_count=int(min_count),
        per_class=tuple(per), asked=tuple(int(v) for v in asked_n.tolist()),
        predicted=tuple(int(v) for v in torch.bincount(p, minlength=k).tolist()), missing=missing, confusion=conf)


def _wilson(p: float, n: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (stays inside [0, 1], sensible at p = 0 or 1)."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class ClassPRDC(Result):
    """Precision, recall, density and coverage within each class (Naeem et al. 2020).

    Attributes:
        value: mean over ``classes`` of the per-class coverage (the share of a class's real rows
            whose k-NN ball holds a sample asked for that class; higher is better).
        recall, precision, density: means over classes of the per-class values.
        worst_class, worst_coverage: the class with the lowest coverage, and that coverage.
        n_classes: classes scored; classes: those classes (the ones the samples were asked for).
        coverage, per_class_recall, per_class_precision, per_class_density: per class.
        n_fake, n_real: rows per class; k: the neighbourhood size.
    """

    value: float
    recall: float
    precision: float
    density: float
    worst_coverage: float
    worst_class: int
    n_classes: int
    k: int
    classes: tuple[int, ...]
    coverage: tuple[float, ...]
    per_class_recall: tuple[float, ...]
    per_class_precision: tuple[float, ...]
    per_class_density: tuple[float, ...]
    n_fake: tuple[int, ...]
    n_real: tuple[int, ...]
    reference: str = ""
    features: str = ""


def class_prdc(real_features: Any, real_labels: Any, fake_features: Any, fake_labels: Any, *, k: int = 5,
               classes: Any = None, device: Any = None) -> ClassPRDC:
    """PRDC (:func:`ganeval.metrics.prdc`) of each class's samples against that class's real features.

    Args:
        real_features, real_labels: (N_real, D) labelled reference features and their (N_real,) classes.
        fake_features, fake_labels: (N_fake, D) sample features and the (N_fake,) classes asked for.
        k: nearest neighbours per ball (Naeem et al. use 5).
        classes: the classes to score (default: every class among ``fake_labels``).
        device: where the distances are computed.

    Raises:
        GanevalError: shapes or labels that do not match, or a class with fewer than k + 1 real or
            generated rows.
    """
    real, ry, fake, fy, cls = _per_class_inputs(real_features, real_labels, fake_features, fake_labels, classes,
                                                "class_prdc")
    out: dict[str, list[float]] = {"coverage": [], "recall": [], "precision": [], "density": []}
    n_f, n_r = [], []
    for c in cls:
        r, f = real[ry == c], fake[fy == c]
        if r.shape[0] <= k or f.shape[0] <= k:
            raise GanevalError(f"class_prdc: class {c} has {r.shape[0]} real and {f.shape[0]} generated rows; k = {k} "
                               f"needs at least {k + 1} of both (more samples with --n-samples, or a smaller "
                               "class_prdc.k).")
        res = prdc(r, f, k=k, device=device)
        for key in out:
            out[key].append(float(getattr(res, key)))
        n_f.append(int(f.shape[0]))
        n_r.append(int(r.shape[0]))
    cov = np.asarray(out["coverage"])
    worst = int(cov.argmin())
    return ClassPRDC(value=float(cov.mean()), recall=float(np.mean(out["recall"])),
                     precision=float(np.mean(out["precision"])), density=float(np.mean(out["density"])),
                     worst_coverage=float(cov[worst]), worst_class=cls[worst], n_classes=len(cls), k=int(k),
                     classes=tuple(cls), coverage=tuple(out["coverage"]), per_class_recall=tuple(out["recall"]),
                     per_class_precision=tuple(out["precision"]), per_class_density=tuple(out["density"]),
                     n_fake=tuple(n_f), n_real=tuple(n_r))


__all__ = ["ClassPRDC", "ConditionalAccuracy", "IntraFIDResult", "class_prdc", "conditional_accuracy", "intra_fid"]
