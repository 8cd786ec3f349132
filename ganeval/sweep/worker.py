"""What runs one task, in whichever process the executor chose: load, sample once, score, return records.

Records are built here and written by the coordinator, so the store needs to be reachable from
the coordinator alone. A metric that raises fails only its own job: the task is retried metric by
metric to tell which one.
"""

from __future__ import annotations

import datetime
import os
import socket
import time
from typing import Any

from .jobs import Settings, Task

_DATASETS: dict[tuple[Any, ...], Any] = {}
_SEEDED: set[str] = set()


def set_threads(n: int) -> None:
    """Torch intra-op threads of this worker process (the executor splits the machine's CPUs)."""
    import torch

    torch.set_num_threads(max(1, int(n)))


def dataset_for(settings: Settings) -> Any:
    """The dataset, loaded once per process (None when a statistics file is the whole reference:
    :func:`ganeval.evaluate` builds it from the file, and from one sample where it records no shape)."""
    from ..data import load_dataset

    if settings.data is None:
        return None
    kw = settings.load.dataset_kwargs()
    k = (settings.data, repr(sorted(kw.items())))
    if k not in _DATASETS:
        _DATASETS[k] = load_dataset(settings.data, seed=0, **kw)
    return _DATASETS[k]


def seed_feature_cache(settings: Settings, dataset: Any, device: Any, features: dict[str, Any] | None) -> None:
    """Put reference features that came through Ray's object store into this node's feature cache."""
    if not features:
        return
    import numpy as np

    from ..evaluate import DEFAULT_FEATURES
    from ..features import cache_dir, cache_key, default_extractor_for, get_extractor

    folder = cache_dir()
    if folder is None:
        return
    name = settings.features or DEFAULT_FEATURES.get(dataset.kind) or default_extractor_for(dataset)
    ext = get_extractor(name, device=device, **settings.extractor_options)
    for split, arr in features.items():
        path = folder / cache_key(ext, dataset, split, dataset.split(split))
        if str(path) in _SEEDED or path.is_file():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, np.asarray(arr))
        os.replace(tmp, path)
        _SEEDED.add(str(path))


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _error_text(exc: BaseException, task: Task) -> str:
    stats = _statistics_file(task.settings)
    if stats is not None and not os.access(stats, os.R_OK):
        return (f"{stats}: cannot read the reference statistics file on worker host {socket.gethostname()}; "
                "the --reference statistics file must be on storage every worker can read, as the checkpoints must.")
    if isinstance(exc, (FileNotFoundError, PermissionError)) or (isinstance(exc, OSError) and not os.path.exists(task.checkpoint)):
        return (f"{task.checkpoint}: cannot read the checkpoint on worker host {socket.gethostname()} ({exc}); "
                "checkpoint paths must be on storage every worker can read.")
    return f"{type(exc).__name__}: {exc}"


def _statistics_file(settings: Settings) -> str | None:
    """The statistics file that is the whole reference (no data), or None."""
    from ..features.stats_files import stats_reference

    return stats_reference(settings.options) if settings.data is None else None


def _record(task: Task, job: Any, *, ev: Any = None, error: str | None = None, elapsed: float,
            device: str) -> dict[str, Any]:
    from .. import __version__

    prov = ev.provenance if ev is not None else {}
    ck = prov.get("checkpoint") or {}
    return {"key": job.key, "status": "ok" if error is None else "failed", "error": error,
            "metric": job.metric, "result": ev.metric_dict(job.metric) if ev is not None else None,
            "data": (task.settings.data or _statistics_file(task.settings)) if ev is None else ev.data,
            "seed": task.seed,
            "n_samples": prov.get("n_samples", task.settings.n_samples),
            "checkpoint": {"path": task.checkpoint, "label": task.label, "run": task.run, "step": ck.get("step"),
                           "sha256": task.sha256, "kind": ck.get("kind")},
            "features": prov.get("features"), "device": prov.get("device", device), "ganeval": __version__,
            "job": job.identity, "provenance": {k: v for k, v in prov.items() if k not in ("checkpoint",)},
            "elapsed_s": round(elapsed, 4), "finished_at": _now(), "host": socket.gethostname(),
            "attempts": 1}


def run_task(task: Task, features: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Evaluate a task's metrics and return one record per job (never raises for a job's failure).

    Args:
        task: the jobs of one (checkpoint, seed).
        features: reference features by split (from Ray's object store), or None.
    """
    from .._utils import resolve_device
    from ..evaluate import evaluate

    t0 = time.perf_counter()
    s = task.settings
    try:
        dev = resolve_device(s.device)
        dataset = dataset_for(s)
        seed_feature_cache(s, dataset, dev, features)
    except Exception as exc:  # noqa: BLE001  (every failure becomes a record)
        err = _error_text(exc, task)
        return [_record(task, j, error=err, elapsed=time.perf_counter() - t0, device=str(s.device)) for j in task.jobs]

    planned_stats = task.jobs[0].identity.get("data", {}).get("sha256") if s.data is None else None

    def one(metrics: list[str]) -> Any:
        # Without data, fid's options name the statistics file that is the reference of every metric.
        wanted = [*metrics, *(["fid"] if s.data is None else [])]
        ev = evaluate(task.checkpoint, dataset, metrics=metrics, seed=task.seed, device=dev,
                      options={m: s.options[m] for m in wanted if m in s.options}, **s.eval_kwargs())
        sha = ev.provenance.get("checkpoint", {}).get("sha256")
        if sha is not None and sha != task.sha256:
            raise RuntimeError(f"{task.checkpoint}: the file changed during the sweep (sha256 {sha[:12]}… now, "
                               f"{task.sha256[:12]}… when planned); re-run the sweep.")
        ref = (ev.provenance.get("reference") or {}).get("sha256")
        if planned_stats is not None and ref != planned_stats:
            raise RuntimeError(f"{_statistics_file(s)}: the statistics file changed during the sweep; re-run it.")
        return ev

    try:
        ev = one(task.metrics)
        el = time.perf_counter() - t0
        recs = [_record(task, j, ev=ev, elapsed=el, device=str(dev)) for j in task.jobs]
        for r in recs:  # which reference features came through the executor (Ray's object store)
            r["shared_features"] = sorted(features or {})
        return recs
    except Exception as exc:  # noqa: BLE001
        if len(task.jobs) == 1:
            return [_record(task, task.jobs[0], error=_error_text(exc, task), elapsed=time.perf_counter() - t0,
                            device=str(dev))]
    out = []
    for j in task.jobs:  # tell which metric failed
        t1 = time.perf_counter()
        try:
            out.append(_record(task, j, ev=one([j.metric]), elapsed=time.perf_counter() - t1, device=str(dev)))
        except Exception as exc:  # noqa: BLE001
            out.append(_record(task, j, error=_error_text(exc, task), elapsed=time.perf_counter() - t1,
                               device=str(dev)))
    return out


def pool_main(conn: Any, threads: int, device: str | None) -> None:
    """Loop of a local pool worker: receive a task, send back its records; ``None`` ends it."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator decides how a sweep stops
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    set_threads(threads)
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        task = msg
        if device is not None:
            from dataclasses import replace

            task = replace(task, settings=replace(task.settings, load=task.settings.load.replace(device=device)))
        conn.send((task.tid, run_task(task)))
