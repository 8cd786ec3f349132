"""Models -> common random numbers -> paired bootstrap -> :class:`Comparison` (and a DataFrame).

:func:`compare_models` draws every model's samples from the same latent rows (the same seed: a
:class:`~ganeval.Generator` draws latents in fixed seeded blocks, so row ``i`` is the same vector
for every model whose latent spec agrees), scores them against the same reference rows with one
shared feature extractor, and runs :func:`~ganeval.paired.bootstrap.run_bootstrap` over all of
them at once. :func:`compare_samples` does the same for sample tensors already drawn (the
sensitivity harness and ``plan`` use it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._utils import resolve_device
from ..checkpoints import Generator, generator_from_samples, load_generator
from ..data import Dataset, load_dataset
from ..errors import GanevalError
from ..evaluate import _conform, default_n_samples
from ..registry import Context, check_options, direction_of, get_metric, load_scorers
from .bootstrap import FieldSummary, run_bootstrap, summarise
from .stats import BUILDERS, pairable

DEFAULT_BOOTSTRAP = 1000
_SHARED_KEYS = ("extractor", ("features", "train"), ("features", "val"), ("features", "test"))
@dataclass
class Comparison:
    """A paired comparison of k models on one dataset.

    Attributes:
        models: the k labels, in the order given.
        summaries: one :class:`FieldSummary` per metric field (values, intervals, P(best), ranks,
            pairwise differences ``model b - model a`` with p-values and Holm-adjusted p-values).
        replicates: ``{metric: (B, k, n_fields)}`` raw bootstrap replicates (for plots).
        n_samples, n_bootstrap, confidence, seed: the protocol.
        paired_latents: whether every model drew the same latent rows.
        not_paired: ``{metric: why}`` for requested metrics that could not be paired.
        notes: how each metric was paired and what that leaves out.
    """

    models: list[str]
    summaries: list[FieldSummary]
    replicates: dict[str, np.ndarray]
    n_samples: int
    n_bootstrap: int
    confidence: float
    seed: int
    data: str
    paired_latents: bool
    not_paired: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self, metric: str, fld: str = "value") -> FieldSummary:
        for s in self.summaries:
            if s.metric == metric and s.field == fld:
                return s
        raise GanevalError(f"No paired result for {metric}.{fld}; have "
                           f"{', '.join(f'{s.metric}.{s.field}' for s in self.summaries)}.")

    def ranks(self) -> Any:
        """pandas.DataFrame, one row per (metric, field, model): value, interval, P(best), rank and its interval."""
        import pandas as pd

        rows = []
        for s in self.summaries:
            for i, m in enumerate(self.models):
                rows.append({"metric": s.metric, "field": s.field, "direction": s.direction, "model": m,
                             "value": float(s.values[i]), "ci_low": float(s.ci_low[i]), "ci_high": float(s.ci_high[i]),
                             "p_best": float(s.p_first[i]), "p_last": float(s.p_last[i]), "rank": float(s.rank[i]),
                             "rank_low": float(s.rank_low[i]), "rank_high": float(s.rank_high[i])})
        return pd.DataFrame(rows)

    def pairs(self) -> Any:
        """pandas.DataFrame, one row per (metric, field, pair a < b): ``delta = value_b - value_a``."""
        import pandas as pd

        alpha = 1.0 - self.confidence
        rows = []
        for s in self.summaries:
            for a, b, d, lo, hi, p, ph in s.pairs:
                better = None
                if ph < alpha:
                    b_better = (d < 0) if s.direction == "lower" else (d > 0)
                    better = self.models[b] if b_better else self.models[a]
                rows.append({"metric": s.metric, "field": s.field, "direction": s.direction, "a": self.models[a],
                             "b": self.models[b], "value_a": float(s.values[a]), "value_b": float(s.values[b]),
                             "delta": d, "ci_low": lo, "ci_high": hi, "p_value": p, "p_holm": ph, "better": better})
        return pd.DataFrame(rows)

    def to_frame(self) -> Any:
        """One long DataFrame: the :meth:`ranks` rows (``kind="model"``) then the :meth:`pairs` rows (``kind="pair"``)."""
        import pandas as pd

        r, p = self.ranks(), self.pairs()
        r.insert(0, "kind", "model")
        p.insert(0, "kind", "pair")
        return pd.concat([r, p], ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        from ..results import jsonable

        return jsonable({"schema": "ganeval-comparison/1", "data": self.data, "models": self.models,
                         "n_samples": self.n_samples, "n_bootstrap": self.n_bootstrap, "confidence": self.confidence,
                         "seed": self.seed, "paired_latents": self.paired_latents, "not_paired": self.not_paired,
                         "notes": self.notes, "ranks": self.ranks().to_dict("records"),
                         "pairs": self.pairs().to_dict("records")})

    def text(self) -> str:
        """The terminal table: per metric field, each model's value, P(best), rank, then the pairs."""
        lvl = f"{100 * self.confidence:g}%"
        w = max(12, *(len(m) for m in self.models))
        out = [f"Paired comparison on {self.data}: N = {self.n_samples} per model, "
               f"{'common latent rows' if self.paired_latents else 'latents NOT shared (specs differ)'}, "
               f"{self.n_bootstrap} joint bootstrap replicates, {lvl} intervals"]
        for s in self.summaries:
            out += ["", f"{s.metric}.{s.field} ({s.direction} is better)",
                    f"  {'model':{w}s} {'value':>11s} {lvl + ' interval':>25s} {'P(best)':>8s} {'rank':>5s} {'rank ' + lvl:>11s}"]
            for i, m in enumerate(self.models):
                out.append(f"  {m:{w}s} {s.values[i]:11.5g} [{s.ci_low[i]:11.5g}, {s.ci_high[i]:11.5g}] "
                           f"{s.p_first[i]:8.3f} {s.rank[i]:5.3g} [{s.rank_low[i]:g}, {s.rank_high[i]:g}]".rstrip())
            for a, b, d, lo, hi, p, ph in s.pairs:
                adj = f" (Holm {ph:.3g})" if len(self.models) > 2 else ""
                out.append(f"  {self.models[b]} - {self.models[a]}: {d:+.5g} [{lo:+.5g}, {hi:+.5g}]  p = {p:.3g}{adj}")
        for name, why in self.not_paired.items():
            out.append(f"\n{name}: not paired ({why})")
        out += [f"note: {n}" for n in self.notes]
        return "\n".join(out)


def _select_metrics(metrics: list[str] | str | None, dataset: Dataset) -> list[str]:
    load_scorers()
    if metrics is None:
        names = ["fid", "kid", "prdc"] + (["mode_coverage"] if dataset.kind == "mixture" else [])
    else:
        names = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    names = [n.strip() for n in names if n.strip()]
    for n in names:
        kinds = get_metric(n).kinds  # unknown names: an error with near misses
        if dataset.kind not in kinds:
            raise GanevalError(f"{n!r} does not apply to {dataset.kind} data ({dataset.name!r}); it takes "
                               f"{'/'.join(kinds)} data.")
    return names


def build_stats(samples: Mapping[str, torch.Tensor], dataset: Dataset, names: list[str], *,
                features: str | None = None, seed: int = 0, device: str | torch.device = "auto",
                options: dict[str, dict[str, Any]] | None = None, extractor_options: dict[str, Any] | None = None,
                shared: dict[Any, Any] | None = None,
                sample_labels: Mapping[str, torch.Tensor | None] | None = None) -> tuple[list[Any], dict[str, str], list[str]]:
    """The decomposed metrics (:mod:`.stats`) of one or more sample sets with the same N.

    Returns:
        ``(stats, not_paired, notes)``: the stats, ``{metric: why}`` for those without a
        decomposition, and how each was paired.

    Raises:
        GanevalError: sample sets of different sizes.
    """
    sizes = {k: int(v.shape[0]) for k, v in samples.items()}
    if len(set(sizes.values())) != 1:
        raise GanevalError(f"Paired comparison needs the same number of samples per model, got {sizes}.")
    dev = resolve_device(device)
    labels = dict(sample_labels or {})
    base = dict(shared or {})
    ctxs = [Context(samples=x, dataset=dataset, device=dev, seed=int(seed), features=features,
                    options={k: dict(v) for k, v in (options or {}).items()},
                    extractor_options=dict(extractor_options or {}), sample_labels=labels.get(k),
                    _cache=dict(base))
            for k, x in samples.items()]

    def share() -> None:
        # One extractor and one set of reference features for all models; fake features stay per model.
        for key in _SHARED_KEYS:
            have = next((c._cache[key] for c in ctxs if key in c._cache), None)
            if have is not None:
                for c in ctxs:
                    c._cache.setdefault(key, have)
                if shared is not None:
                    shared[key] = have

    stats: list[Any] = []
    not_paired: dict[str, str] = {}
    notes: list[str] = []
    for n in names:
        if not pairable(n):
            not_paired[n] = "no per-sample or per-subset decomposition; compare its values from `ganeval report`"
            continue
        if n in ("fid", "kid", "prdc"):
            ctxs[0].extractor()
            share()
        try:
            st = BUILDERS[n](ctxs)
        except GanevalError as exc:
            not_paired[n] = str(exc)
            continue
        share()
        stats.append(st)
        notes += st.notes
    return stats, not_paired, notes


def compare_samples(samples: Mapping[str, torch.Tensor], dataset: Dataset, *, metrics: list[str] | str | None = None,
                    features: str | None = None, n_bootstrap: int = DEFAULT_BOOTSTRAP, confidence: float = 0.95,
                    seed: int = 0, device: str | torch.device = "auto", options: dict[str, dict[str, Any]] | None = None,
                    extractor_options: dict[str, Any] | None = None, paired_latents: bool = True,
                    bootstrap_seed: int | None = None, shared: dict[Any, Any] | None = None,
                    sample_labels: Mapping[str, torch.Tensor | None] | None = None) -> Comparison:
    """The paired bootstrap over sample sets whose row ``i`` share their randomness.

    Args:
        samples: ``{label: (N, ...) samples}``, at least two, all with the same N; row ``i`` of each
            should come from the same latent vector (or be the same real row, transformed).
        dataset: the reference :class:`~ganeval.Dataset`.
        metrics: names (None: fid, kid, prdc, and mode_coverage on mixtures).
        features: the extractor (None: the data's default).
        n_bootstrap: joint replicates.
        confidence: level of every interval.
        seed: the evaluation seed (metrics derive their own from it); also the resampling seed
            unless ``bootstrap_seed`` is given.
        device, options, extractor_options: as :func:`ganeval.evaluate`.
        paired_latents: recorded in the result (False when the rows are not common).
        shared: a dict that keeps the extractor and reference features between calls (filled here).
        sample_labels: ``{label: (N,) classes}`` of class-conditional models (the same labels for all).

    Returns:
        :class:`Comparison`.

    Raises:
        GanevalError: fewer than two sample sets, different N, unknown metrics, bad level.
    """
    if len(samples) < 2:
        raise GanevalError(f"A comparison needs at least two models, got {len(samples)}.")
    if not 0 < confidence < 1:
        raise GanevalError(f"`confidence` must be in (0, 1), got {confidence!r}.")
    names = _select_metrics(metrics, dataset)
    options = check_options(options)  # unknown keys are errors, as in evaluate
    stats, not_paired, notes = build_stats(samples, dataset, names, features=features, seed=seed, device=device,
                                           options=options, extractor_options=extractor_options, shared=shared,
                                           sample_labels=sample_labels)
    if not stats:
        raise GanevalError(f"None of the metrics {', '.join(names)} can be paired: "
                           + "; ".join(f"{k}: {v}" for k, v in not_paired.items()))
    reps = run_bootstrap(stats, n_bootstrap, seed=int(seed if bootstrap_seed is None else bootstrap_seed))
    summaries = []
    for st in stats:
        point = st.point()
        for j, (fld, direc) in enumerate(zip(st.fields, st.directions)):
            direc = direction_of(f"{st.name}.{fld}") or direc  # the registry's word where it has one
            summaries.append(summarise(st.name, fld, direc, point[:, j], reps[st.name][:, :, j], confidence,
                                       st.bounds[j]))
    return Comparison(models=list(samples), summaries=summaries, replicates=reps,
                      n_samples=int(next(iter(samples.values())).shape[0]), n_bootstrap=int(n_bootstrap),
                      confidence=float(confidence),                      seed=int(seed), data=dataset.name, paired_latents=paired_latents, not_paired=not_paired,
                      notes=list(dict.fromkeys(notes)))


def load_models(models: Any, dev: torch.device, **generator_options: Any) -> dict[str, Generator]:
    """``{label: Generator}`` from paths, Generators, arrays, or a ``{label: any of those}`` mapping.

    A run folder stands for its last checkpoint (the one a comparison of runs means);
    ``generator_options`` are keywords of :func:`ganeval.load_generator` (trust, latent_dim, ...).

    Raises:
        GanevalError: a missing path, a repeated label, an unreadable checkpoint.
    """
    from ..checkpoints import list_checkpoints

    pairs: list[tuple[str | None, Any]]
    if isinstance(models, Mapping):
        pairs = [(str(k), v) for k, v in models.items()]
    elif isinstance(models, (str, os.PathLike, Generator)) or hasattr(models, "shape"):
        pairs = [(None, models)]
    else:
        pairs = [(None, m) for m in models]
    out: dict[str, Generator] = {}
    for i, (label, src) in enumerate(pairs):
        if isinstance(src, Generator):
            gen = src
        elif isinstance(src, (str, os.PathLike)):
            path = Path(src)
            if not path.exists():
                raise GanevalError(f"{path}: no such file or folder; check the path.")
            if path.is_dir() and (path / "checkpoints").is_dir():
                path = list_checkpoints(path)[-1]
            gen = load_generator(path, device=dev, **generator_options)
            label = label or (Path(src).name if Path(src).is_dir() else path.name)
        else:
            gen = generator_from_samples(src, name=label or f"<array {i}>")
        label = label or gen.name
        if label in out:
            raise GanevalError(f"Two models are labelled {label!r}; pass a mapping {{label: checkpoint}} to tell "
                               "them apart.")
        out[label] = gen
    return out


def compare_models(models: Iterable[Any] | Mapping[str, Any], data: str | Path | Dataset, *,
                   metrics: list[str] | str | None = None, n_samples: int | None = None, seed: int = 0,
                   features: str | None = None, n_bootstrap: int = DEFAULT_BOOTSTRAP, confidence: float = 0.95,
                   device: str | torch.device = "auto", batch_size: int = 1024,
                   options: dict[str, dict[str, Any]] | None = None, extractor_options: dict[str, Any] | None = None,
                   trust: bool = False, latent_dim: int | None = None, latent_dist: str | None = None,
                   data_root: str | Path | None = None, download: bool = False, labels: Any = None,
                   return_comparison: bool = False, **generator_options: Any) -> Any:
    """Which model is better, and how sure: a paired comparison with common random numbers.

    Every model draws ``n_samples`` samples with the same ``seed`` (the same latent rows where the
    latent specs agree), is scored against the same reference rows with the same features, and
    one bootstrap resamples the reference and latent rows jointly for all models.

    Args:
        models: checkpoint paths, run folders (their last checkpoint), :class:`~ganeval.Generator`
            objects, sample arrays, or ``{label: any of those}``; at least two.
        data: dataset name, path or :class:`~ganeval.Dataset`.
        metrics: names (None: fid, kid, prdc, plus mode_coverage on mixtures). Metrics without a
            decomposition are listed in ``Comparison.not_paired``.
        n_samples: samples per model (None: the data's default, see :func:`ganeval.evaluate`).
        seed: sampling seed shared by all models (and the resampling seed).
        features, device, batch_size, options, extractor_options, trust, latent_dim, latent_dist,
        data_root, download, labels: as :func:`ganeval.evaluate`.
        n_bootstrap: joint bootstrap replicates (default 1000).
        confidence: interval level (default 0.95).
        return_comparison: also return the :class:`Comparison` (for text, JSON, plots).
        **generator_options: further keywords of :func:`ganeval.load_generator`, for paths.

    Returns:
        pandas.DataFrame (:meth:`Comparison.to_frame`): rows with ``kind == "model"`` hold each
        model's ``value``, interval, ``p_best`` (probability of ranking first) and rank interval;
        rows with ``kind == "pair"`` hold ``delta = value_b - value_a`` with its interval,
        ``p_value`` and ``p_holm`` (Holm-adjusted over the pairs when there are more than two
        models) and ``better``. With ``return_comparison=True``: ``(frame, comparison)``.

    Raises:
        GanevalError: fewer than two models, unreadable checkpoints, unknown metrics, bad input.
    """
    dev = resolve_device(device)
    dataset = data if isinstance(data, Dataset) else load_dataset(data, root=data_root, download=download)
    gens = load_models(models, dev, trust=trust, latent_dim=latent_dim, latent_dist=latent_dist, **generator_options)
    if len(gens) < 2:
        raise GanevalError(f"A comparison needs at least two models, got {len(gens)}.")
    fixed = [k for k, g in gens.items() if g.samples is not None]
    if n_samples is None:
        n = min([default_n_samples(dataset)] + [int(gens[k].samples.shape[0]) for k in fixed])  # type: ignore[union-attr]
    else:
        n = int(n_samples)
    specs = {repr(g.latent.to_dict()) for g in gens.values() if g.latent is not None}
    paired = not fixed and len(specs) == 1
    samples, ys = {}, {}
    for k, g in gens.items():
        x, ys[k] = g.sample_with_labels(n, seed=seed, batch_size=batch_size,
                                        labels=labels if g.conditional is not None else None)
        samples[k] = _conform(x, dataset, g.path or k, [])
    conds = {repr(g.conditional) for g in gens.values()}
    paired = paired and len(conds) == 1
    comp = compare_samples(samples, dataset, sample_labels=ys, metrics=metrics, features=features, n_bootstrap=n_bootstrap,
                           confidence=confidence, seed=seed, device=dev, options=options,
                           extractor_options=extractor_options, paired_latents=paired)
    if not paired:
        why = "fixed sample sets" if fixed else "latent specs differ"
        comp.notes.insert(0, f"latent rows not shared ({why}): only the reference rows are paired")
    df = comp.to_frame()
    return (df, comp) if return_comparison else df
