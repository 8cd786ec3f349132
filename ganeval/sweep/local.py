"""Local executors: serial (this process) and a pool of worker processes.

The pool is hand-rolled rather than :mod:`concurrent.futures` because a worker that dies (SIGKILL,
out of memory) must cost only its own task, retried up to ``retries`` times, while
``ProcessPoolExecutor`` breaks the whole pool. Workers start from a fork server (one clean
process that imported torch once, so a new worker costs a fork, not a torch import) and each gets
``cpus // workers`` torch threads, so together they use the machine without oversubscribing it.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import Any

from .jobs import Task
from .worker import pool_main, run_task, set_threads

Emit = Callable[[Task, "list[dict[str, Any]] | None", "str | None", int], None]


def cpu_count() -> int:
    """CPUs this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def run_serial(tasks: list[Task], emit: Emit, stop: Callable[[], bool]) -> None:
    """Run every task in this process, in order."""
    for t in tasks:
        if stop():
            return
        emit(t, run_task(t), None, 1)


def _context() -> Any:
    if sys.platform == "linux" and "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["ganeval.sweep.worker", "ganeval.evaluate", "ganeval.scorers"])
        return ctx
    return multiprocessing.get_context("spawn")


def _gpu_for(i: int, device: str) -> str | None:
    import torch

    if device in ("auto", "cuda") and torch.cuda.is_available() and torch.cuda.device_count() > 1:
        return f"cuda:{i % torch.cuda.device_count()}"
    return None


class _Worker:
    def __init__(self, ctx: Any, slot: int, threads: int, device: str):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=pool_main, args=(child, threads, _gpu_for(slot, device)), daemon=True,
                                name=f"ganeval-sweep-{slot}")
        self.proc.start()
        child.close()
        self.slot = slot
        self.task: Task | None = None


def run_pool(tasks: list[Task], emit: Emit, stop: Callable[[], bool], *, workers: int, retries: int = 2,
             threads: int | None = None, on_start: Callable[[int, int], None] | None = None) -> None:
    """Run tasks on ``workers`` processes; a dead worker's task is retried, then recorded as failed.

    Args:
        tasks: what to run.
        emit: ``emit(task, records, error, attempts)`` as each task ends (records None when lost).
        stop: polled; when True, no new task starts and running ones are abandoned.
        workers: process count.
        retries: how many times a task whose worker died is tried again.
        threads: torch threads per worker (default: CPUs // workers, at least 1).
        on_start: ``on_start(task id, worker pid)`` when a task is handed out (tests, progress).
    """
    ctx = _context()
    threads = threads or max(1, cpu_count() // workers)
    device = tasks[0].settings.device if tasks else "cpu"
    queue: deque[Task] = deque(tasks)
    attempts: dict[int, int] = {}
    pool = [_Worker(ctx, i, threads, device) for i in range(min(workers, len(tasks)))]
    try:
        while pool and (queue or any(w.task is not None for w in pool)):
            if stop():
                return
            for w in pool:
                if w.task is None and queue:
                    w.task = queue.popleft()
                    attempts[w.task.tid] = attempts.get(w.task.tid, 0) + 1
                    try:
                        w.conn.send(w.task)
                    except OSError:
                        pass  # the worker died before taking it: its sentinel says so below
                    if on_start is not None:
                        on_start(w.task.tid, w.proc.pid or -1)
            busy = [w for w in pool if w.task is not None]
            ready = wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout=0.5)
            for w in busy:
                task = w.task
                assert task is not None
                if w.conn in ready:
                    try:
                        _, records = w.conn.recv()
                    except (EOFError, OSError):
                        records = None
                    if records is not None:
                        w.task = None
                        emit(task, records, None, attempts[task.tid])
                        continue
                if w.proc.sentinel in ready or not w.proc.is_alive():
                    w.proc.join()
                    code = w.proc.exitcode
                    why = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                    if attempts[task.tid] <= retries:
                        queue.appendleft(task)
                    else:
                        emit(task, None, f"worker process died ({why}) on each of {attempts[task.tid]} attempts; "
                                         "out of memory or killed?", attempts[task.tid])
                    pool[pool.index(w)] = _Worker(ctx, w.slot, threads, device)
    finally:
        for w in pool:
            if w.task is None and w.proc.is_alive():
                try:
                    w.conn.send(None)
                except OSError:
                    pass
        for w in pool:
            if w.task is not None and w.proc.is_alive():
                w.proc.kill()  # abandoned mid-task (stop): its job stays missing and runs next time
            w.proc.join(timeout=10)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join()
            w.conn.close()


__all__ = ["cpu_count", "run_pool", "run_serial", "set_threads"]
