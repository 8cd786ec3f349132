"""The Ray executor: tasks as Ray tasks, reference features shared through the object store.

``ray`` is imported only here (the ``ray`` extra). With no address, a local Ray instance is
started (no dashboard) and shut down afterwards; with an address (or ``RAY_ADDRESS``), the sweep
joins that cluster. An already connected driver (``ray.init`` called by the user) is used as it
is. A task asks for ``cpus_per_job`` CPUs and ``gpus_per_job`` GPUs; Ray retries a task whose
worker or node died (``max_retries``), then the job is recorded as failed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..errors import GanevalError
from .jobs import Task

RAY_HINT = "pip install 'ganeval[ray]'"


def import_ray() -> Any:
    """The ray module.

    Raises:
        GanevalError: ray is not installed (names the extra to install).
    """
    try:
        import ray
    except ImportError as exc:
        raise GanevalError(f"--ray needs Ray, which is not installed: {RAY_HINT}") from exc
    return ray


def _ray_task(task: Task, features: dict[str, Any] | None, threads: int) -> list[dict[str, Any]]:
    from .worker import run_task, set_threads

    set_threads(threads)
    return run_task(task, features)


def connect(address: str | None, num_cpus: int | None = None) -> tuple[Any, bool]:
    """Connect to Ray; return ``(ray, started_here)``.

    Raises:
        GanevalError: Ray missing or the cluster unreachable.
    """
    ray = import_ray()
    if ray.is_initialized():
        return ray, False
    addr = address or os.environ.get("RAY_ADDRESS") or None
    try:
        if addr:
            ray.init(address=addr, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise GanevalError(f"Could not {'join the Ray cluster at ' + addr if addr else 'start Ray'}: {exc}") from exc
    return ray, True


def run_ray(tasks: list[Task], emit: Callable[..., None], stop: Callable[[], bool], *, address: str | None = None,
            retries: int = 2, cpus_per_job: float = 1.0, gpus_per_job: float = 0.0,
            features: dict[str, Any] | None = None, num_cpus: int | None = None) -> None:
    """Run tasks as Ray tasks; ``emit(task, records, error, attempts)`` as each ends.

    Args:
        features: reference features by split, put once in the object store and shared by every task.
        num_cpus: CPUs of a Ray instance started here (None: all).
    """
    ray, started = connect(address, num_cpus)
    try:
        fn = ray.remote(_ray_task).options(num_cpus=cpus_per_job, num_gpus=gpus_per_job, max_retries=retries,
                                           retry_exceptions=False)
        feats_ref = ray.put(features) if features else None
        threads = max(1, int(cpus_per_job))
        pending = {fn.remote(t, feats_ref, threads): t for t in tasks}
        while pending:
            if stop():
                for ref in pending:
                    ray.cancel(ref, force=True)
                return
            refs = list(pending)
            done, rest = ray.wait(refs, num_returns=1, timeout=0.5)
            if done and rest:  # collect whatever else is ready too, without waiting
                more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
                done += more
            for ref in done:
                task = pending.pop(ref)
                try:
                    emit(task, ray.get(ref), None, 1)
                except ray.exceptions.RayError as exc:  # worker crashed / node died after every retry
                    emit(task, None, f"lost on Ray after {retries} retries: {type(exc).__name__}: "
                                     f"{str(exc).splitlines()[0] if str(exc) else ''}", retries + 1)
    finally:
        if started:
            ray.shutdown()
