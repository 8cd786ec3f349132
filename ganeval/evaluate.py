"""Generator + dataset + metric names -> :class:`Evaluation` (with provenance).

Metrics plug in through :func:`register_metric`: an adapter ``fn(ctx: Context) -> Result`` that
pulls what it needs from the :class:`Context` (samples, dataset splits, features, options) and
calls a pure function of :mod:`ganeval.metrics`. Adapters live in :mod:`ganeval.scorers`.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from ._utils import resolve_device
from .checkpoints import Generator, generator_from_samples, load_generator
from .data import Dataset, load_dataset
from .errors import GanevalError, unknown_name
from .results import Result, dumps, environment, jsonable

SCHEMA = "ganeval-evaluation/1"


@dataclass(frozen=True)
class MetricSpec:
    """A metric as ``evaluate`` knows it."""

    name: str
    fn: Callable[["Context"], Result]
    kinds: tuple[str, ...]
    default: bool | tuple[str, ...]
    description: str

    def is_default_for(self, kind: str) -> bool:
        """Whether the metric runs unasked on data of this kind."""
        if kind not in self.kinds:
            return False
        return self.default if isinstance(self.default, bool) else kind in self.default


METRICS: dict[str, MetricSpec] = {}


def register_metric(name: str, *, kinds: tuple[str, ...] = ("mixture", "images", "vectors"),
                    default: bool | tuple[str, ...] = False, description: str = "") -> Callable[[Callable[["Context"], Result]], Callable[["Context"], Result]]:
    """Register an adapter under ``name`` for datasets of the given kinds.

    ``default=True`` puts it in the metric set used when the caller names none (for every kind it
    applies to); a tuple of kinds limits that to those kinds.
    """

    def deco(fn: Callable[["Context"], Result]) -> Callable[["Context"], Result]:
        METRICS[name] = MetricSpec(name, fn, tuple(kinds), default, description)
        return fn

    return deco


def list_metrics() -> dict[str, str]:
    """Metric names and their one-line descriptions."""
    _load_scorers()
    return {k: v.description for k, v in sorted(METRICS.items())}


def _load_scorers() -> None:
    from . import scorers  # noqa: F401  (importing registers every adapter)


DEFAULT_FEATURES = {"mixture": "raw", "vectors": "raw"}


@dataclass
class Context:
    """What a metric adapter may use. Features are computed once and shared between metrics.

    Attributes:
        samples: generated samples in data space, float32 CPU, shaped like the dataset's rows.
        dataset: the reference dataset.
        device: where heavy work runs.
        seed: the evaluation seed (metrics derive their own seeds from it).
        features: feature-extractor name (None: the dataset's default).
        options: per-metric options, ``{"parzen": {"sigmas": [...]}, ...}``.
        extractor_options: options for the extractor (e.g. ``{"weights": path}``).
        artifacts: per-metric extras for plots, not serialised (e.g. neighbour indices).
        feature_provenance: filled when features are computed.
    """

    samples: torch.Tensor
    dataset: Dataset
    device: torch.device
    seed: int = 0
    features: str | None = None
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    extractor_options: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)
    feature_provenance: dict[str, Any] = field(default_factory=dict)
    _cache: dict[Any, Any] = field(default_factory=dict)

    def option(self, metric: str, key: str, default: Any = None) -> Any:
        return self.options.get(metric, {}).get(key, default)

    @property
    def feature_name(self) -> str:
        if self.features:
            return self.features
        if self.dataset.kind in DEFAULT_FEATURES:
            return DEFAULT_FEATURES[self.dataset.kind]
        from .features import default_extractor_for

        return default_extractor_for(self.dataset)

    def extractor(self) -> Any:
        if "extractor" not in self._cache:
            from .features import get_extractor

            ext = get_extractor(self.feature_name, device=self.device, **self.extractor_options)
            self._cache["extractor"] = ext
            self.feature_provenance.update(ext.provenance())
        return self._cache["extractor"]

    def features_of(self, which: str) -> torch.Tensor:
        """(N, F) features of ``"fake"`` (the samples) or of a dataset split ``"train"|"val"|"test"``."""
        key = ("features", which)
        if key not in self._cache:
            x = self.samples if which == "fake" else self.dataset.split(which)
            ext = self.extractor()
            if which != "fake":
                from .features import cached_features

                self._cache[key] = cached_features(ext, self.dataset, which)
            else:
                self._cache[key] = ext(x)
        return self._cache[key]

    def cached(self, key: Any, fn: Callable[[], Any]) -> Any:
        """Compute ``fn()`` once per key and share it between metrics."""
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]


@dataclass
class Evaluation:
    """The result of :func:`evaluate`: metric results and provenance.

    ``to_dict()`` is the JSON schema (``ganeval-evaluation/1``)::

        {"schema": "ganeval-evaluation/1", "source": str, "data": str,
         "metrics": {name: {field: value}}, "provenance": {...}}

    ``samples``, ``dataset``, ``generator`` and ``artifacts`` are kept for plots and are not serialised.
    """

    source: str
    data: str
    metrics: dict[str, Any]
    provenance: dict[str, Any]
    samples: torch.Tensor | None = field(default=None, repr=False)
    dataset: Dataset | None = field(default=None, repr=False)
    generator: Generator | None = field(default=None, repr=False)
    artifacts: dict[str, Any] = field(default_factory=dict, repr=False)

    def metric_dict(self, name: str) -> dict[str, Any]:
        m = self.metrics[name]
        return m.to_dict() if isinstance(m, Result) else dict(m)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "source": self.source, "data": self.data,
                "metrics": {k: self.metric_dict(k) for k in self.metrics},
                "provenance": jsonable(self.provenance)}

    def to_json(self) -> str:
        return dumps(self.to_dict())

    def to_row(self) -> dict[str, Any]:
        """One flat row for pandas: ``source``, ``data``, ``step``, ``n_samples``, ``seed``, ``metric.field``..."""
        row: dict[str, Any] = {"source": self.source, "data": self.data,
                               "step": self.provenance.get("checkpoint", {}).get("step"),
                               "n_samples": self.provenance.get("n_samples"), "seed": self.provenance.get("seed")}
        for name in self.metrics:
            for k, v in self.metric_dict(name).items():
                if v is None or isinstance(v, (int, float, str, bool)):
                    row[f"{name}.{k}"] = v
        return row

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Evaluation":
        """Rebuild an Evaluation (metrics as plain dicts) from ``to_dict()`` output or a report.json."""
        if not isinstance(d, dict) or d.get("schema") != SCHEMA:
            raise GanevalError(f"Not a ganeval evaluation (expected schema {SCHEMA!r}, got {d.get('schema') if isinstance(d, dict) else type(d).__name__!r}).")
        return cls(source=d["source"], data=d["data"], metrics=dict(d["metrics"]), provenance=dict(d["provenance"]))

    @classmethod
    def from_json(cls, path: str | Path) -> "Evaluation":
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError, KeyError) as exc:
            raise GanevalError(f"{path}: not a readable ganeval evaluation JSON ({exc}).") from exc


def default_n_samples(dataset: Dataset) -> int:
    """2,500 for mixtures and 26,000 for Stacked MNIST (the PacGAN/VEEGAN protocols), else the
    test split's size (at most 10,000)."""
    if dataset.kind == "mixture":
        return 2500
    if dataset.name == "stacked-mnist":
        return 26_000
    return int(min(dataset.test.shape[0], 10_000))


def default_metrics(dataset: Dataset) -> list[str]:
    _load_scorers()
    return [m.name for m in METRICS.values() if m.is_default_for(dataset.kind)]


def _conform(samples: torch.Tensor, dataset: Dataset, source: str, notes: list[str]) -> torch.Tensor:
    want = dataset.sample_shape
    if tuple(samples.shape[1:]) == want:
        return samples
    if math.prod(samples.shape[1:]) == math.prod(want):
        notes.append(f"samples of shape {tuple(samples.shape[1:])} reshaped to the data's {want}")
        return samples.reshape(samples.shape[0], *want)
    raise GanevalError(
        f"{source}: produces samples of shape {tuple(samples.shape[1:])}, but dataset {dataset.name!r} has "
        f"rows of shape {want}; pick the dataset this generator was trained on (--data)."
    )


def evaluate(generator_or_path: Generator | str | Path | Any, data: str | Path | Dataset, *,
             metrics: list[str] | str | None = None, features: str | None = None,
             n_samples: int | None = None, seed: int = 0, device: str | torch.device = "auto",
             batch_size: int = 1024, options: dict[str, dict[str, Any]] | None = None,
             extractor_options: dict[str, Any] | None = None, trust: bool = False,
             latent_dim: int | None = None, latent_dist: str | None = None,
             data_root: str | Path | None = None, download: bool = False) -> Evaluation:
    """Score a generator against a reference dataset.

    Args:
        generator_or_path: a :class:`Generator`, a path :func:`load_generator` reads, or an
            (N, ...) array of fixed samples.
        data: dataset name, path, or a :class:`Dataset`.
        metrics: names (list or comma-separated); None: the defaults for the data's kind.
        features: feature extractor for feature-space metrics (None: the data's default).
        n_samples: samples to draw (None: :func:`default_n_samples`; all of a fixed set).
        seed: sampling seed; metrics derive their own seeds from it.
        device: "auto", "cpu", "cuda".
        batch_size: sampling batch size.
        options: per-metric options, e.g. ``{"parzen": {"sigmas": [...]}}``.
        extractor_options: options for the extractor, e.g. ``{"weights": "pt_inception.pth"}``.
        trust, latent_dim, latent_dist: passed to :func:`load_generator`.
        data_root, download: passed to :func:`load_dataset`.

    Raises:
        GanevalError: any bad input (unknown metric, incompatible shapes, broken checkpoint, ...).
    """
    t0 = time.perf_counter()
    _load_scorers()
    dev = resolve_device(device)
    dataset = data if isinstance(data, Dataset) else load_dataset(data, root=data_root, seed=0, download=download)
    if isinstance(generator_or_path, Generator):
        gen = generator_or_path
    elif isinstance(generator_or_path, (str, Path)):
        gen = load_generator(generator_or_path, trust=trust, device=dev, latent_dim=latent_dim, latent_dist=latent_dist)
    else:
        gen = generator_from_samples(generator_or_path, name="<array>")
    names = metrics.split(",") if isinstance(metrics, str) else list(metrics or default_metrics(dataset))
    names = [n.strip() for n in names if n.strip()]
    for n in names:
        if n not in METRICS:
            raise unknown_name("metric", n, METRICS, "List them with `ganeval metrics`.")
        if dataset.kind not in METRICS[n].kinds:
            raise GanevalError(f"Metric {n!r} applies to {'/'.join(METRICS[n].kinds)} data, but {dataset.name!r} "
                               f"is {dataset.kind}; choose another metric or dataset.")
    if n_samples is None:
        n = gen.samples.shape[0] if gen.samples is not None else default_n_samples(dataset)
    else:
        n = int(n_samples)
    source = gen.path or "<in-memory generator>"
    notes: list[str] = []
    t_sample = time.perf_counter()
    samples = _conform(gen.sample(n, seed=seed, batch_size=batch_size), dataset, source, notes)
    sample_time = time.perf_counter() - t_sample
    ctx = Context(samples=samples, dataset=dataset, device=dev, seed=int(seed), features=features,
                  options=dict(options or {}), extractor_options=dict(extractor_options or {}))
    results: dict[str, Any] = {}
    timings: dict[str, float] = {"sampling": sample_time}
    for name in names:
        t = time.perf_counter()
        results[name] = METRICS[name].fn(ctx)
        timings[name] = time.perf_counter() - t
    provenance = {
        **environment(),
        "device": str(dev),
        "seed": int(seed),
        "n_samples": int(samples.shape[0]),
        "checkpoint": {"path": gen.path, "kind": gen.kind, "sha256": gen.sha256, "step": gen.step,
                       "latent": gen.latent.to_dict() if gen.latent else None, "trained_on": gen.data},
        "dataset": dataset.describe(),
        "features": dict(ctx.feature_provenance) or None,
        "options": ctx.options,
        "notes": notes,
        "wall_time_s": {k: round(v, 4) for k, v in timings.items()} | {"total": round(time.perf_counter() - t0, 4)},
    }
    return Evaluation(source=source, data=dataset.name, metrics=results, provenance=provenance, samples=samples,
                      dataset=dataset, generator=gen, artifacts=ctx.artifacts)
