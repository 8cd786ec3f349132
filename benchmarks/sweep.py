"""Sweep throughput, Ray overhead, re-run cost and resumption after SIGKILL (issue 16 goals).

    .venv/bin/python benchmarks/sweep.py [--hidden 1024] [--repeats 2] [--no-ray]

48 jobs = 16 ring8 checkpoints (MLP generators, seeded) x 3 seeds, default metrics (summary,
mode_coverage: 2 records per job). Prints jobs/s serially (one worker, this process) with one
torch thread and with all of them, with ``--workers 2`` (one thread each) and on Ray with 2 CPUs (Ray started once, workers warmed up first; pool and Ray
walls include dispatch, not interpreter start-up), the Ray per-job overhead on near-empty jobs,
the re-run of a finished sweep (time, hits, extractor calls), and a SIGKILL halfway through a
``ganeval sweep`` process group followed by a re-run (records present / computed). The host is
shared: the ratios move with its load, so the load average and the matmul rate are printed too.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def make_checkpoints(folder: Path, n: int, hidden: int, run: str = "run") -> Path:
    from sweep_helpers import mlp_checkpoints

    return mlp_checkpoints(folder, n, hidden=hidden, run=run)


def timed(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=1024, help="MLP width (sets the cost of one job)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--no-ray", action="store_true")
    args = ap.parse_args()

    from report_timing import host_speed

    from ganeval.sweep import Settings, Store, run_sweep

    print(host_speed(), f"· load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    tmp = Path(tempfile.mkdtemp(prefix="ganeval-sweep-bench-"))
    os.environ.setdefault("GANEVAL_CACHE", str(tmp / "cache"))
    run = make_checkpoints(tmp, 16, args.hidden)
    S = Settings(data="ring8")
    seeds = [0, 1, 2]
    n_jobs = 16 * len(seeds)
    stores = iter(range(10_000))

    def sweep(**kw):
        res = run_sweep([str(run)], S, seeds=seeds, store=tmp / f"s{next(stores)}", **kw)
        assert res.done == 2 * n_jobs and not res.failed, res.failed[:3]
        return res

    # warm up: the pool's fork server and the Ray workers import torch once, before timing
    run_sweep([str(run / "G_000100.pt")], S, store=tmp / "warm", workers=2)
    ray = None
    if not args.no_ray:
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        run_sweep([str(run / "G_000100.pt")], S, seeds=[0, 1], store=tmp / "warm-ray", ray=True)

    import torch

    threads = torch.get_num_threads()

    def serial_at(n_threads: int) -> object:
        torch.set_num_threads(n_threads)
        try:
            return sweep()
        finally:
            torch.set_num_threads(threads)

    # Interleaved rounds (the host is shared): each configuration once per round, best of the rounds.
    configs = [("serial, 1 thread", lambda: serial_at(1)), (f"serial, {threads} threads", lambda: serial_at(threads)),
               ("--workers 2", lambda: sweep(workers=2))]
    if ray is not None:
        configs.append(("ray, 2 CPUs", lambda: sweep(ray=True)))
    rows = {name: float("inf") for name, _ in configs}
    for _ in range(args.repeats):
        for name, fn in configs:
            rows[name] = min(rows[name], timed(fn, 1)[0])
    one = n_jobs / rows["serial, 1 thread"]
    many = n_jobs / rows[f"serial, {threads} threads"]
    print(f"\n{n_jobs} jobs (16 checkpoints x 3 seeds, MLP width {args.hidden}, 2 metrics each); ratios against "
          f"one worker with 1 thread (the pool's per-worker share of 2 CPUs) and with {threads} threads:")
    goal = {"--workers 2": 1.7, "ray, 2 CPUs": 1.5}
    for name, wall in rows.items():
        rate = n_jobs / wall
        g = f"  (goal >= {goal[name]}x)" if name in goal else ""
        print(f"  {name:18s} {wall:6.2f} s  {rate:6.2f} jobs/s  {rate / one:4.2f}x  {rate / many:4.2f}x{g}")
    # Two single-thread workers can at most double one single-thread worker; against one worker
    # that already spreads each job over both CPUs with threads, the ceiling is 2 / (its speed-up).
    print(f"  one job's own speed-up from {threads} threads: {many / one:.2f}x, so {threads} one-thread workers can "
          f"reach at most {threads * one / many:.2f}x of one {threads}-thread worker")

    if ray is not None:  # near-empty jobs: the engine's dispatch + Ray's task overhead
        tiny = make_checkpoints(tmp, 50, 8, run="tiny")
        T = Settings(data="ring8", n_samples=64)
        t_serial, _ = timed(lambda: run_sweep([str(tiny)], T, metrics=["summary"], store=tmp / f"s{next(stores)}"), 1)
        t_ray, _ = timed(lambda: run_sweep([str(tiny)], T, metrics=["summary"], store=tmp / f"s{next(stores)}",
                                           ray=True), 1)
        per = (t_ray * 2 - t_serial) / 50  # two CPUs: the wall beyond the jobs' own time, per job
        print(f"\nRay per-job overhead (50 near-empty jobs): {1000 * per:.1f} ms (goal < 50 ms); "
              f"serial {1000 * t_serial / 50:.1f} ms/job, Ray wall {1000 * t_ray / 50:.1f} ms/job on 2 CPUs")

    # re-run of a finished sweep: every job a hit, the extractor never called
    from ganeval.features import Extractor

    store = tmp / "rerun"
    t_first = timed(lambda: run_sweep([str(run)], S, seeds=seeds, store=store, workers=2), 1)[0]
    calls = [0]
    orig = Extractor.__call__

    def counting(self, *a, **k):
        calls[0] += 1
        return orig(self, *a, **k)

    Extractor.__call__ = counting  # benchmark instrumentation only
    t_again, res = timed(lambda: run_sweep([str(run)], S, seeds=seeds, store=store, workers=2), 1)
    Extractor.__call__ = orig
    print(f"\nre-run of a finished sweep: {t_again:.3f} s = {100 * t_again / t_first:.1f}% of the first "
          f"{t_first:.2f} s (goal < 5%); hits {res.cached}/{len(res.jobs)}, computed {res.done}, "
          f"extractor calls {calls[0]}")

    # SIGKILL halfway through a `ganeval sweep` (coordinator and workers), then the same command again
    store = tmp / "killed"
    cmd = [sys.executable, "-m", "ganeval.cli", "sweep", str(run), "--data", "ring8", "--seeds", "0,1,2",
           "--store", str(store), "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    st = Store(store)
    while len(st.keys()) < n_jobs and proc.poll() is None:  # half of the 96 records
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    present = len(st.keys())
    res = run_sweep([str(run)], S, seeds=seeds, store=store, workers=2)
    print(f"\nSIGKILL halfway: {present} of {len(res.jobs)} records present after the kill; the re-run found "
          f"{res.cached} in the store and computed {res.done} ({'only the missing ones' if res.done == len(res.jobs) - present else 'MISMATCH'})")
    if ray is not None:
        ray.shutdown()
    print(f"load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
