"""Generator + dataset + metric names -> :class:`Evaluation` (with provenance).

Metrics plug in through :func:`ganeval.registry.register_metric`: an adapter
``fn(ctx: Context) -> Result`` that pulls what it needs from the :class:`~ganeval.registry.Context`
(samples, dataset splits, features, options) and calls a pure function of :mod:`ganeval.metrics`.
Adapters live in :mod:`ganeval.scorers`; this module only orchestrates.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ._utils import resolve_device
from .checkpoints import Generator, generator_from_samples, load_generator
from .data import Dataset, load_dataset
from .errors import GanevalError
from .registry import (
    DEFAULT_FEATURES,
    METRICS,
    Context,
    MetricSpec,
    check_metric_names,
    check_options,
    list_metrics,
    load_scorers,
    register_metric,
)
from .results import Result, dumps, environment, jsonable
from .validation import check_seed

# The registry lives in :mod:`ganeval.registry`; these names stay importable from here.
_load_scorers = load_scorers
__all__ = ["DEFAULT_FEATURES", "METRICS", "Context", "Evaluation", "MetricSpec", "default_metrics",
           "default_n_samples", "evaluate", "list_metrics", "load_scorers", "register_metric"]

SCHEMA = "ganeval-evaluation/1"


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
    sample_labels: torch.Tensor | None = field(default=None, repr=False)  # classes asked of a conditional generator

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
    def from_dict(cls, d: dict[str, Any]) -> Evaluation:
        """Rebuild an Evaluation (metrics as plain dicts) from ``to_dict()`` output or a report.json."""
        if not isinstance(d, dict) or d.get("schema") != SCHEMA:
            raise GanevalError(f"Not a ganeval evaluation (expected schema {SCHEMA!r}, got {d.get('schema') if isinstance(d, dict) else type(d).__name__!r}).")
        return cls(source=d["source"], data=d["data"], metrics=dict(d["metrics"]), provenance=dict(d["provenance"]))

    @classmethod
    def from_json(cls, path: str | Path) -> Evaluation:
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError, KeyError) as exc:
            raise GanevalError(f"{path}: not a readable ganeval evaluation JSON ({exc}).") from exc


def check_sample_count(n: int, dataset: Dataset) -> None:
    """Refuse a sample count that cannot be held in memory, before hours of sampling.

    Raises:
        GanevalError: ``n`` < 1, or ``n`` samples of the data's shape need more than the machine's memory.
    """
    if n < 1:
        raise GanevalError(f"--n-samples must be >= 1, got {n}.")
    need = n * math.prod(dataset.sample_shape) * 4
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not every platform reports it
        return
    if need > total:
        raise GanevalError(f"--n-samples {n:,}: the samples alone would take {need / 2**30:,.1f} GiB, more than this "
                           f"machine's {total / 2**30:,.1f} GiB; ask for fewer samples.")


def reproducibility(device: torch.device) -> dict[str, Any]:
    """What the numbers of an evaluation on ``device`` can be reproduced with."""
    return {
        "device": device.type,
        "bitwise": "same seed, device type and library versions; any --batch-size and thread count",
        "note": ("Latents, labels, dataset splits and the metrics' own resampling come from seeded CPU streams "
                 "and are the same everywhere. Numbers computed from samples or features (every metric) are "
                 "reproduced to the bit only on the same device type with the same torch / numpy versions; "
                 "on another device (CPU vs GPU, another GPU model) they agree to float rounding."),
    }


def default_n_samples(dataset: Dataset) -> int:
    """2,500 for mixtures and 26,000 for Stacked MNIST (the PacGAN/VEEGAN protocols), else the
    test split's size (at most 10,000)."""
    if getattr(dataset, "statistics", None):  # a statistics file alone: as many as behind it, at most 10,000
        return int(min(getattr(dataset, "n_reference", 0) or 10_000, 10_000))
    if dataset.kind == "mixture":
        return 2500
    if dataset.name == "stacked-mnist":
        return 26_000
    return int(min(dataset.test.shape[0], 10_000))


def default_metrics(dataset: Dataset) -> list[str]:
    load_scorers()
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


def evaluate(generator_or_path: Generator | str | Path | Any, data: str | Path | Dataset | None, *,
             metrics: list[str] | str | None = None, features: str | None = None,
             n_samples: int | None = None, seed: int = 0, device: str | torch.device = "auto",
             batch_size: int = 1024, options: dict[str, dict[str, Any]] | None = None,
             extractor_options: dict[str, Any] | None = None, trust: bool = False,
             latent_dim: int | None = None, latent_dist: str | None = None,
             data_root: str | Path | None = None, download: bool = False, range_check: bool = True,
             labels: Any = None, classifier: str | None = None, stream: bool | None = None,
             only_applicable: bool = False, memory_budget: float | None = None,
             **generator_options: Any) -> Evaluation:
    """Score a generator against a reference dataset.

    Args:
        generator_or_path: a :class:`Generator`, a path :func:`load_generator` reads, or an
            (N, ...) array of fixed samples.
        data: dataset name, path, or a :class:`Dataset`; None with a statistics file as ``fid``'s
            reference (``options={"fid": {"reference": "stats.npz"}}``, CLI ``--reference``): the
            file is the whole reference (:class:`~ganeval.features.stats_files.StatisticsDataset`):
            its extractor and resize mode are the run's unless given, and only fid and is can be
            scored.
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
        range_check: compare the samples' range with the image data's before scoring
            (:mod:`ganeval.output_range`): mostly outside is an error, a milder mismatch a note;
            False (``--no-range-check``) turns the error into a note.
        labels: for a class-conditional generator: None (balanced, seeded), one class ``c``
            (CLI ``--labels c``) or an (n,) array (:func:`ganeval.conditional.draw_labels`).
        classifier: a TorchScript classifier for ``conditional_accuracy`` (its option ``classifier``).
        only_applicable: skip (with a note) named metrics and ``labels`` that need a class-conditional
            generator when this one is not, instead of failing: a report mixing both
            (:func:`ganeval.compare.evaluate_items` sets it for several checkpoints).
        stream: stream the samples through the extractors in batches, keeping running statistics
            and a bounded reservoir (:mod:`ganeval.stream`); None: for image runs above 10,000
            samples whose metrics all stream (fid, kid, prdc, is, cmmd).
        **generator_options: further keywords of :func:`load_generator` (``factory``,
            ``factory_kwargs``, ``factory_path``, ``state_dict_key``, ``strip_prefix``,
            ``output_range``, ``latent_range``, ...), for paths.

    Raises:
        GanevalError: any bad input (unknown metric, incompatible shapes, broken checkpoint,
            samples mostly outside the data's range, ...).
    """
    t0 = time.perf_counter()
    seed = check_seed(seed)
    load_scorers()
    dev = resolve_device(device)
    dataset = data if isinstance(data, Dataset) or data is None else load_dataset(data, root=data_root, seed=0,
                                                                                   download=download)
    if isinstance(generator_or_path, Generator):
        gen = generator_or_path
    elif isinstance(generator_or_path, (str, Path)):
        gen = load_generator(generator_or_path, trust=trust, device=dev, latent_dim=latent_dim, latent_dist=latent_dist,
                             **generator_options)
    else:
        gen = generator_from_samples(generator_or_path, name="<array>")
    from .features.stats_files import StatisticsDataset, check_before_sampling, reference_provenance, stats_reference

    if dataset is None:  # --reference stats.npz without --data: the file's statistics are the whole reference
        from .features.stats_files import statistics_reference

        dataset = statistics_reference(gen, options, seed=seed, batch_size=batch_size)
    stats_only = isinstance(dataset, StatisticsDataset)
    range_data = dataset.range_stand_in() if isinstance(dataset, StatisticsDataset) else dataset
    if isinstance(dataset, StatisticsDataset):  # the file's extractor and resize mode unless named (then checked)
        features = features or dataset.features
        if dataset.resize and features == "inception" and not (extractor_options or {}).get("resize"):
            extractor_options = {**(extractor_options or {}), "resize": dataset.resize}
    names = metrics.split(",") if isinstance(metrics, str) else list(metrics or (["fid"] if stats_only else
                                                                                   default_metrics(dataset)))
    names = [n.strip() for n in names if n.strip()]
    # --- class-conditional generators (ganeval.scorers.conditional): their metrics join the defaults
    from .scorers.conditional import CONDITIONAL_METRICS, check_conditional, conditional_defaults

    if classifier:
        options = {**(options or {}), "conditional_accuracy": {**(options or {}).get("conditional_accuracy", {}),
                                                               "classifier": str(classifier)}}

    if metrics is None and not stats_only:
        names += [m for m in conditional_defaults(gen.conditional, dataset, dict(options or {})) if m not in names]
    skipped = [m for m in names if m in CONDITIONAL_METRICS] if only_applicable and gen.conditional is None else []
    if only_applicable and gen.conditional is None:  # a report mixing conditional and unconditional generators
        names, labels = [m for m in names if m not in skipped], None
    if isinstance(dataset, StatisticsDataset):  # kid, prdc, ...: one error naming the metric and --data
        dataset.check_metrics(names)
    check_conditional(names, gen.conditional, dataset, dict(options or {}), gen.path or "<in-memory generator>")
    # --- end of class-conditional generators
    check_metric_names(names, dataset)
    options = check_options(options)  # unknown metrics or keys, wrong types: errors naming near misses
    ref_file = stats_reference(options)
    if ref_file is not None and "fid" in names:  # a file of other features or resize: refused before sampling
        from .features import default_extractor_for

        check_before_sampling(ref_file, features or default_extractor_for(dataset), dict(extractor_options or {}))
    if memory_budget is not None:  # the workspace bound of every chunked metric that was asked for
        for name in names:
            if "memory_budget" in METRICS[name].options:
                options.setdefault(name, {}).setdefault("memory_budget", int(memory_budget))
    if n_samples is None:
        n = gen.samples.shape[0] if gen.samples is not None else default_n_samples(dataset)
    else:
        n = int(n_samples)
    from .stream import run_streamed, wants_stream

    streamed = wants_stream(stream, dataset.kind, n, names) and labels is None
    if not streamed:  # a streamed run never holds its samples
        check_sample_count(n, dataset)
    source = gen.path or "<in-memory generator>"
    notes: list[str] = [f"{', '.join(skipped)} not computed: the generator is not class-conditional"] if skipped else []
    if streamed:
        # Large image runs: samples -> features in batches, running statistics + a reservoir.
        from .output_range import enforce

        # The range check on the stream's first rows (the same rows: latents are drawn in fixed blocks).
        head = _conform(gen.sample(min(n, 256), seed=seed, batch_size=batch_size), dataset, source, notes)
        range_checked = enforce(head, range_data, source=source, notes=notes, enabled=range_check,
                                output_range=gen.output_range or gen.meta.get("output_range"))
        sctx = run_streamed(gen, dataset, n, names, seed=int(seed), device=dev, features=features,
                            options=dict(options or {}), extractor_options=dict(extractor_options or {}),
                            source=source)
        samples, sample_labels = sctx.samples, None
        sample_time = sctx.stream.timing["sampling"] if sctx.stream else 0.0
        ctx: Context = sctx
    else:
        t_sample = time.perf_counter()
        samples, sample_labels = gen.sample_with_labels(n, seed=seed, batch_size=batch_size, labels=labels)
        samples = _conform(samples, dataset, source, notes)
        sample_time = time.perf_counter() - t_sample
        # --- output range check (ganeval.output_range): raises, or notes a mismatch, before any metric runs
        from .output_range import enforce
        from .state_dicts import loading_notes

        notes.extend(loading_notes(gen))
        range_checked = enforce(samples, range_data, source=source, notes=notes, enabled=range_check,
                                output_range=gen.output_range or gen.meta.get("output_range"))
        # --- end of the output range check
        ctx = Context(samples=samples, dataset=dataset, device=dev, seed=int(seed), features=features,
                      options=dict(options or {}), extractor_options=dict(extractor_options or {}),
                      sample_labels=sample_labels)
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
        "n_samples": int(getattr(ctx, "n_samples", 0) or samples.shape[0]),
        "checkpoint": {"path": gen.path, "kind": gen.kind, "sha256": gen.sha256, "step": gen.step,
                       "latent": gen.latent.to_dict() if gen.latent else None, "trained_on": gen.data,
                       "conditional": gen.conditional.to_dict() if gen.conditional else None},
        "labels": None if sample_labels is None else ("balanced" if labels is None else
                                                      int(labels) if isinstance(labels, int) else "given"),
        "dataset": dataset.describe(),
        "reference": reference_provenance(options, dataset),
        "features": dict(ctx.feature_provenance) or None,
        "options": ctx.options,
        "notes": notes,
        "range_check": range_checked.to_dict() if range_checked else None,
        "reproducibility": reproducibility(dev),
        "wall_time_s": {k: round(v, 4) for k, v in timings.items()} | {"total": round(time.perf_counter() - t0, 4)},
    }
    return Evaluation(source=source, data=dataset.name, metrics=results, provenance=provenance, samples=samples,
                      dataset=dataset, generator=gen, artifacts=ctx.artifacts, sample_labels=sample_labels)
