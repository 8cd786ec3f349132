"""The unit of work and its key.

A job is one metric of one checkpoint under one sampling seed, with everything that decides its
numbers: the checkpoint's sha256 (not its path, so a renamed file is still a hit and an edited
one is not), the dataset and its split seed, the metric and its options, the feature extractor
with its weights hash and settings, the loader options that change what is loaded (latent spec),
the device type, n_samples and the ganeval version. The key is the sha256 of that, as canonical
JSON. Jobs of one (checkpoint, seed) travel together as a :class:`Task` so that the samples are
drawn once for all of its metrics. A statistics file (``--reference stats.npz``, the whole
reference when there is no data, or fid's alongside the data) is keyed by its sha256, not its path.
"""

from __future__ import annotations

import glob
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._utils import resolve_device, sha256_file
from ..errors import GanevalError
from ..options import LoadOptions

KEY_SCHEMA = 1


@dataclass(frozen=True)
class Settings:
    """What every job of a sweep shares: data, loader options and sampling (picklable, small).

    Attributes:
        data: dataset name or path; None when fid's statistics file (``options["fid"]["reference"]``)
            is the whole reference.
        load: the loader options (:class:`ganeval.options.LoadOptions`: trust, latent spec, device,
            features, extractor options, state-dict factory, output range, conditional spec...).
        n_samples: samples per job (None: the data's default).
        options: per-metric options ``{metric: {key: value}}``.
        extra: other keyword arguments of :func:`ganeval.evaluate` (e.g. ``stream``), part of the key.
    """

    data: str | None
    load: LoadOptions = field(default_factory=LoadOptions)
    n_samples: int | None = None
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def device(self) -> str:
        return str(self.load.device)

    @property
    def features(self) -> str | None:
        return self.load.features

    @property
    def extractor_options(self) -> dict[str, Any]:
        return dict(self.load.extractor_options)

    def eval_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`ganeval.evaluate` (without metrics, seed, device, options, the dataset)."""
        kw = self.load.eval_kwargs()
        for k in ("device", "data_root", "download"):
            kw.pop(k)
        return kw | dict(self.extra) | {"n_samples": self.n_samples}

    def loader_identity(self) -> dict[str, Any]:
        """The loader options that change what is loaded or drawn (part of every job's key)."""
        skip = {"trust", "batch_size", "device", "data_root", "download", "features", "extractor_options"}
        ident = {k: v for k, v in self.load.eval_kwargs().items() if k not in skip}
        if ident.get("classifier"):
            ident["classifier"] = sha256_file(ident["classifier"])  # the file's content, not its name
        return ident | {"extra": {k: v for k, v in self.extra.items() if v is not None}}


@dataclass(frozen=True)
class Job:
    """One metric of one checkpoint under one seed; ``key`` identifies its result in the store."""

    key: str
    checkpoint: str
    sha256: str
    label: str
    run: str | None
    seed: int
    metric: str
    identity: dict[str, Any] = field(compare=False, repr=False, default_factory=dict)


@dataclass(frozen=True)
class Task:
    """The jobs of one (checkpoint, seed): evaluated together, recorded one by one."""

    tid: int
    checkpoint: str
    sha256: str
    label: str
    run: str | None
    seed: int
    jobs: tuple[Job, ...]
    settings: Settings

    @property
    def metrics(self) -> list[str]:
        return [j.metric for j in self.jobs]


def canonical(obj: Any) -> str:
    """Canonical JSON (sorted keys, no spaces): equal settings give equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def job_key(identity: dict[str, Any]) -> str:
    """Hex sha256 of the job's identity."""
    return hashlib.sha256(canonical(identity).encode()).hexdigest()


def expand_paths(paths: list[str]) -> list[tuple[str, str, str | None]]:
    """``(checkpoint path, label, run folder)`` for every checkpoint under ``paths`` (globs allowed).

    Raises:
        GanevalError: a path or pattern matches nothing, or nothing was given.
    """
    from ..sources import expand

    concrete: list[str] = []
    for p in paths:
        if not Path(p).exists() and any(c in str(p) for c in "*?["):
            hits = sorted(glob.glob(str(p), recursive=True))
            if not hits:
                raise GanevalError(f"{p}: the pattern matches no file; check the path.")
            concrete.extend(hits)
        else:
            concrete.append(str(p))
    items = expand(concrete)
    return [(str(it.source), it.label, str(it.run) if it.run else None) for it in items]


def data_identity(settings: Settings, dataset: Any) -> dict[str, Any]:
    """The dataset's part of a key: its name and split seed, plus the file hash for a path; for a
    statistics file alone (:class:`~ganeval.features.stats_files.StatisticsDataset`), its sha256."""
    from ..features.stats_files import StatisticsDataset

    if isinstance(dataset, StatisticsDataset):  # by content: a moved file is a hit, an edited one a miss
        return {"statistics_only": True, "sha256": dataset.sha256}
    ident: dict[str, Any] = {"name": dataset.name, "split_seed": int(getattr(dataset, "seed", 0))}
    if settings.data is not None and Path(settings.data).exists():
        ident["sha256"] = sha256_file(settings.data)
    return ident


def options_identity(options: dict[str, Any]) -> dict[str, Any]:
    """A metric's options as keyed: a statistics file named as its reference by the file's sha256."""
    from ..features.stats_files import reference_provenance

    prov = reference_provenance({"fid": options}, None)  # None: no statistics file (a split, or nothing)
    return options | {"reference": {"statistics_sha256": prov["sha256"]}} if prov else options


def extractor_identity(settings: Settings, dataset: Any) -> dict[str, Any]:
    """Extractor name, weights sha256 and settings (``config``); built once per sweep, never called."""
    from ..evaluate import DEFAULT_FEATURES
    from ..features import default_extractor_for, get_extractor

    name = settings.features or DEFAULT_FEATURES.get(dataset.kind) or default_extractor_for(dataset)
    opts = {k: v for k, v in settings.extractor_options.items() if k != "batch_size"}
    try:
        ext = get_extractor(name, device="cpu", **opts)
    except GanevalError:
        # Unavailable here (say, weights not found): jobs needing it fail with the real message;
        # the key still names the extractor and the options asked for.
        return {"name": name, "options": canonical(opts), "available": False}
    return {"name": ext.name, "sha256": ext.sha256, "config": ext.config}


def plan(checkpoints: list[tuple[str, str, str | None]], settings: Settings, dataset: Any,
         metrics: list[str], seeds: list[int]) -> list[Job]:
    """Every job of the sweep, with its key, in (checkpoint, seed, metric) order.

    Raises:
        GanevalError: a checkpoint cannot be read (hashing needs its bytes).
    """
    from .. import __version__

    dev = resolve_device(settings.device)
    common = {"schema": KEY_SCHEMA, "data": data_identity(settings, dataset),
              "features": extractor_identity(settings, dataset), "n_samples": settings.n_samples,
              "loader": settings.loader_identity(), "device": dev.type,
              "ganeval": __version__}
    opts = {m: options_identity(settings.options.get(m, {})) for m in metrics}
    jobs: list[Job] = []
    for path, label, run in checkpoints:
        try:
            digest = sha256_file(path)
        except OSError as exc:
            raise GanevalError(f"{path}: cannot read the checkpoint to hash it ({exc}).") from exc
        for seed in seeds:
            for m in metrics:
                ident = common | {"checkpoint_sha256": digest, "seed": int(seed), "metric": m,
                                  "options": opts[m]}
                jobs.append(Job(job_key(ident), path, digest, label, run, int(seed), m, ident))
    return jobs


def group(jobs: list[Job], settings: Settings) -> list[Task]:
    """Jobs of the same (checkpoint file, seed) as one task, in first-seen order."""
    tasks: dict[tuple[str, int], list[Job]] = {}
    for j in jobs:
        tasks.setdefault((j.checkpoint, j.seed), []).append(j)
    return [Task(i, js[0].checkpoint, js[0].sha256, js[0].label, js[0].run, js[0].seed, tuple(js), settings)
            for i, js in enumerate(tasks.values())]


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` or ``"0-4"`` -> list of ints.

    Raises:
        GanevalError: not integers.
    """
    out: list[int] = []
    try:
        for part in str(text).split(","):
            part = part.strip()
            if not part:
                continue
            lo, dash, hi = part.partition("-")
            out.extend(range(int(lo), int(hi) + 1) if dash and lo else [int(part)])
    except ValueError as exc:
        raise GanevalError(f"--seeds {text!r}: expected integers like 0,1,2 or 0-4.") from exc
    if not out:
        raise GanevalError("--seeds: give at least one seed, e.g. 0,1,2.")
    return list(dict.fromkeys(out))
