"""The sweep engine: plan jobs, skip those in the store, run the rest, record each as it ends."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import GanevalError
from .jobs import Job, Settings, Task, expand_paths, group, plan
from .store import Store


@dataclass
class SweepResult:
    """What a sweep did.

    Attributes:
        jobs: every job of the sweep, in plan order.
        cached: jobs found in the store; done: jobs computed now; failed: ``[(job, error)]``.
        interrupted: the signal number that stopped the sweep, or None.
        elapsed_s: wall time; store: where the records are.
    """

    jobs: list[Job]
    store: Store
    cached: int = 0
    done: int = 0
    failed: list[tuple[Job, str]] = field(default_factory=list)
    interrupted: int | None = None
    elapsed_s: float = 0.0

    @property
    def missing(self) -> int:
        return len(self.jobs) - self.cached - self.done - len(self.failed)

    def exit_code(self) -> int:
        """0 all done, 1 some failed, 130/143 stopped by SIGINT/SIGTERM."""
        if self.interrupted is not None:
            return 128 + int(self.interrupted)
        return 1 if self.failed else 0

    def records(self) -> list[dict[str, Any]]:
        """The store's record of every job (None for a job without one)."""
        return [self.store.get(j.key) for j in self.jobs]  # type: ignore[misc]


class _Progress:
    """jobs done / cached / failed and jobs per minute, on stderr where progress bars show."""

    def __init__(self, total: int, cached: int):
        self.bar = None
        if _shows():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=cached, desc="sweep", unit="job", file=sys.stderr, leave=False)
        self.counts = {"done": 0, "cached": cached, "failed": 0}
        self.t0 = time.perf_counter()

    def update(self, done: int, failed: int) -> None:
        self.counts["done"] += done
        self.counts["failed"] += failed
        if self.bar is not None:
            rate = 60 * (self.counts["done"] + self.counts["failed"]) / max(time.perf_counter() - self.t0, 1e-9)
            self.bar.set_postfix(self.counts | {"jobs/min": f"{rate:.0f}"}, refresh=False)
            self.bar.update(done + failed)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _shows() -> bool:
    flag = os.environ.get("GANEVAL_PROGRESS")
    return sys.stderr.isatty() if flag is None else flag not in ("0", "", "false")


def reference_splits(metrics: list[str], options: dict[str, dict[str, Any]]) -> list[str]:
    """Dataset splits whose features the metrics compare against (computed once per sweep)."""
    splits = {"train"}
    for m in metrics:
        ref = options.get(m, {}).get("reference")
        if isinstance(ref, str) and not ref.endswith(".npz"):  # a statistics file is read, not extracted
            splits.add(ref)
        if m in ("parzen", "memorisation"):
            splits.update(("val", "test"))
    return sorted(splits)


def reference_features(settings: Settings, dataset: Any, metrics: list[str]) -> dict[str, Any]:
    """Reference features by split, through the feature cache (empty when the extractor has none worth
    sharing: ``raw`` features are the data itself)."""
    from .._utils import resolve_device
    from ..evaluate import DEFAULT_FEATURES
    from ..features import cached_features, default_extractor_for, get_extractor
    from ..features.stats_files import StatisticsDataset

    if isinstance(dataset, StatisticsDataset):  # a statistics file alone: no rows to extract features of
        return {}
    name = settings.features or DEFAULT_FEATURES.get(dataset.kind) or default_extractor_for(dataset)
    try:
        ext = get_extractor(name, device=resolve_device(settings.device), **settings.extractor_options)
    except GanevalError:
        return {}  # the jobs that need it fail with this error themselves
    if not ext.cacheable:
        return {}
    return {s: cached_features(ext, dataset, s).numpy() for s in reference_splits(metrics, settings.options)}


def reference_for(settings: Settings) -> tuple[Settings, Any]:
    """The sweep's reference at planning time, and the settings every job runs with.

    With data, the dataset. Without (``settings.data`` None), fid's statistics file is the whole
    reference, as in :func:`ganeval.evaluate`: a
    :class:`~ganeval.features.stats_files.StatisticsDataset` for the metric checks and the keys, and
    the file's extractor and resize mode folded into the settings (unless named), so that the keys
    name the extractor every worker uses. Workers build the reference themselves from the path.

    Raises:
        GanevalError: neither data nor a statistics file, or the file is missing or unreadable.
    """
    from ..features.stats_files import statistics_dataset, stats_reference
    from .worker import dataset_for

    if settings.data is not None:
        return settings, dataset_for(settings)
    path = stats_reference(settings.options)
    if path is None:
        raise GanevalError("No reference: pass the reference data (--data NAME_OR_PATH), or a statistics file as "
                           "fid's reference (--reference stats.npz from `ganeval stats`) to sweep FID without it.")
    # The stand-in shape serves only a file that records none, and only this planning copy, which
    # nothing is sampled against: each worker draws one sample of its generator for the shape.
    ref = statistics_dataset(path, sample_shape=(1,))
    load = settings.load
    features = load.features or ref.features
    ext_opts = dict(load.extractor_options)
    if ref.resize and features == "inception" and not ext_opts.get("resize"):
        ext_opts["resize"] = ref.resize
    return replace(settings, load=load.replace(features=features, extractor_options=ext_opts)), ref


def _validate_metrics(metrics: list[str] | str | None, dataset: Any) -> list[str]:
    from ..evaluate import default_metrics
    from ..features.stats_files import StatisticsDataset
    from ..registry import check_metric_names

    stats_only = isinstance(dataset, StatisticsDataset)
    default = ["fid"] if stats_only else default_metrics(dataset)
    names = metrics.split(",") if isinstance(metrics, str) else list(metrics or default)
    names = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    if stats_only:  # kid, prdc, ...: evaluate's one error naming the metric and --data
        dataset.check_metrics(names)
    check_metric_names(names, dataset)
    return names


def run_sweep(paths: list[str] | str | os.PathLike[str], settings: Settings, *, metrics: list[str] | str | None = None,
              seeds: list[int] | None = None, store: Store | str | os.PathLike[str] | None = None,
              workers: int = 1, ray: bool | str | None = None, retries: int = 2, cpus_per_job: float = 1.0,
              gpus_per_job: float | None = None, on_start: Callable[[int, int], None] | None = None) -> SweepResult:
    """Run every job of checkpoints x seeds x metrics that the store lacks.

    Args:
        paths: checkpoint files, run folders, globs.
        settings: data, loader and sampling options shared by every job.
        metrics: names (None: the data's defaults); seeds: sampling seeds (default ``[0]``).
        store: the result store (default :func:`~ganeval.sweep.store.default_store`).
        workers: local processes (1: this process); ignored with ``ray``.
        ray: True (start a local Ray, or join ``RAY_ADDRESS``) or a cluster address; None: local.
        retries: tries again for a task whose worker process or node died.
        cpus_per_job, gpus_per_job: Ray resources per task (GPUs default to 1 with a CUDA device).
        on_start: local pool hook ``(task id, worker pid)``.

    Returns:
        :class:`SweepResult`. A job that raises is a failed record, not an exception.

    Raises:
        GanevalError: bad input (paths, data, metric names, seeds, workers, unwritable store).
    """
    t0 = time.perf_counter()
    if int(workers) < 1:
        raise GanevalError(f"--workers must be >= 1, got {workers}.")
    if int(retries) < 0:
        raise GanevalError(f"--retries must be >= 0, got {retries}.")
    st = store if isinstance(store, Store) else Store(store)
    settings, dataset = reference_for(settings)
    names = _validate_metrics(metrics, dataset)
    from ..registry import check_options

    check_options(settings.options)  # unknown metrics / keys are errors, not silently ignored
    # fid's options name the statistics file that is the whole reference of every job, even of is alone
    keep = dict.fromkeys([*names, *(["fid"] if settings.data is None else [])])
    settings = replace(settings, options={m: dict(settings.options[m]) for m in keep if m in settings.options})
    checkpoints = expand_paths([str(paths)] if isinstance(paths, (str, os.PathLike)) else [str(p) for p in paths])
    jobs = plan(checkpoints, settings, dataset, names, list(seeds if seeds is not None else [0]))
    todo = [j for j in jobs if not st.done(j.key)]
    res = SweepResult(jobs=jobs, store=st, cached=len(jobs) - len(todo))
    tasks = group(todo, settings)
    if not tasks:
        res.elapsed_s = time.perf_counter() - t0
        return res
    stopped: list[int] = []
    bar = _Progress(len(jobs), res.cached)

    def emit(task: Task, records: list[dict[str, Any]] | None, error: str | None, attempts: int) -> None:
        if records is None:
            from .worker import _record

            records = [_record(task, j, error=error, elapsed=0.0, device=str(settings.device)) for j in task.jobs]
        by_key = {j.key: j for j in task.jobs}
        n_ok = n_bad = 0
        for rec in records:
            rec["attempts"] = attempts
            st.put(rec)
            if rec["status"] == "ok":
                n_ok += 1
            else:
                n_bad += 1
                res.failed.append((by_key[rec["key"]], str(rec["error"])))
        res.done += n_ok
        bar.update(n_ok, n_bad)

    serial = (ray is None or ray is False) and int(workers) == 1

    def handler(signum: int, frame: Any) -> None:
        first = not stopped
        stopped.append(signum)
        if serial or not first:
            raise _Stop  # the job runs in this process (or a second signal came): abandon it now

    main = threading.current_thread() is threading.main_thread()
    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)} if main else {}
    try:
        _dispatch(tasks, emit, stopped, settings, dataset, names, workers=workers, ray=ray, retries=retries,
                  cpus_per_job=cpus_per_job, gpus_per_job=gpus_per_job, on_start=on_start)
    except (_Stop, KeyboardInterrupt):
        stopped.append(signal.SIGINT)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        bar.close()
    res.interrupted = stopped[0] if stopped else None
    res.elapsed_s = time.perf_counter() - t0
    return res


class _Stop(BaseException):
    """Raised by the signal handler to abandon a job running in this process (a BaseException, like
    KeyboardInterrupt, so that the job's own error handling does not record it as a failure)."""


def _dispatch(tasks: list[Task], emit: Callable[..., None], stopped: list[int], settings: Settings, dataset: Any,
              names: list[str], *, workers: int, ray: bool | str | None, retries: int, cpus_per_job: float,
              gpus_per_job: float | None, on_start: Callable[[int, int], None] | None) -> None:
    if ray is not None and ray is not False:
        from .ray_executor import run_ray

        gpus = gpus_per_job if gpus_per_job is not None else (
            1.0 if str(settings.device).startswith("cuda") else 0.0)
        run_ray(tasks, emit, lambda: bool(stopped), address=None if ray is True else str(ray), retries=retries,
                cpus_per_job=cpus_per_job, gpus_per_job=gpus,
                features=reference_features(settings, dataset, names),
                num_cpus=int(workers) if int(workers) > 1 else None)
    elif int(workers) == 1:
        from .local import run_serial

        run_serial(tasks, emit, lambda: bool(stopped))
    else:
        from .local import run_pool

        reference_features(settings, dataset, names)  # into the feature cache, once, before the workers
        run_pool(tasks, emit, lambda: bool(stopped), workers=int(workers), retries=retries, on_start=on_start)


def results_frame(res: SweepResult) -> Any:
    """One row per (checkpoint, seed), metrics side by side (the shape :func:`ganeval.evaluate_many` returns)."""
    import pandas as pd

    from .store import flat_row

    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for j in res.jobs:
        rec = res.store.get(j.key)
        base = rows.setdefault((j.checkpoint, j.seed), {"label": j.label, "run": j.run, "source": j.checkpoint})
        if rec is None:
            continue
        flat = flat_row(rec)
        for k in ("data", "step", "n_samples", "seed"):
            base.setdefault(k, flat.get(k))
        if rec.get("status") != "ok":
            base[f"{j.metric}.error"] = rec.get("error")
        base.update({k: v for k, v in flat.items() if k.startswith(f"{j.metric}.")})
    return pd.DataFrame(list(rows.values()))


def evaluate_many_on_engine(paths: Any, data: Any, *, workers: int | None = None, ray: bool | str | None = None,
                            store: Any = None, seed: int = 0, seeds: list[int] | None = None,
                            metrics: list[str] | str | None = None, n_samples: int | None = None,
                            options: dict[str, dict[str, Any]] | None = None, retries: int = 2,
                            **kwargs: Any) -> Any:
    """:func:`ganeval.evaluate_many` through the sweep engine (paths only: workers load the files).

    Raises:
        GanevalError: a source that is not a path, unknown keywords, or jobs that failed (listed;
            their records stay in the store).
    """
    import dataclasses

    from ..options import LoadOptions

    if isinstance(paths, dict) or not isinstance(paths, (str, os.PathLike, list, tuple)) or (
            isinstance(paths, (list, tuple)) and not all(isinstance(p, (str, os.PathLike)) for p in paths)):
        raise GanevalError("evaluate_many(workers=/ray=/store=) takes checkpoint paths or run folders (workers "
                           "load the files); evaluate in-memory generators without those arguments.")
    if data is not None and not isinstance(data, (str, os.PathLike)):
        raise GanevalError("evaluate_many(workers=/ray=/store=) takes the dataset by name or path (or None with "
                           "a statistics file as fid's reference: options={'fid': {'reference': 'stats.npz'}}).")
    names = {f.name for f in dataclasses.fields(LoadOptions)}
    load = LoadOptions(**{k: v for k, v in kwargs.items() if k in names})
    extra = {k: v for k, v in kwargs.items() if k not in names}
    settings = Settings(data=None if data is None else str(data), load=load, n_samples=n_samples,
                        options=dict(options or {}), extra=extra)
    res = run_sweep([str(p) for p in (paths if isinstance(paths, (list, tuple)) else [paths])], settings, metrics=metrics,
                    seeds=list(seeds) if seeds is not None else [seed], store=store, workers=int(workers or 1),
                    ray=ray, retries=retries)
    if res.failed:
        lines = "; ".join(f"{j.label} seed {j.seed} {j.metric}: {e}" for j, e in res.failed[:5])
        raise GanevalError(f"{len(res.failed)} of {len(res.jobs)} jobs failed (records in {res.store.root}): {lines}")
    if res.interrupted is not None:
        raise KeyboardInterrupt
    return results_frame(res)
