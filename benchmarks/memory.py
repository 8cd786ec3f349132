"""Peak memory of the chunked metrics at 10k and 50k points: the workspace must not grow with N.

Each (metric, N) runs in a fresh child process: it builds its inputs (random float32 points of the
stated width; features or pixels alike, since memory depends only on the shapes), resets the
kernel's peak-RSS mark, runs the metric under ``--memory-budget``, and reports the peak RSS above
the inputs (the workspace). The parent prints one table, the 50k/10k ratio of each workspace and
the host's float32 matmul rate.

    .venv/bin/python benchmarks/memory.py                      # 10k and 50k, 512 MiB budget
    .venv/bin/python benchmarks/memory.py --sizes 2000,10000 --metrics fid,kid   # a quick look

Metrics and shapes (the issue's): memorisation, parzen, prdc, fid and kid on N x 784; fid on N x 2048.
parzen uses N kernels, 1,000 validation and 10,000 test points; memorisation N samples against N
training and 10,000 test points; prdc N real against N fake.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from frechet import _peak, _reset_peak  # noqa: E402  (the peak-RSS helpers of the FID benchmark)

CASES = [("memorisation", 784), ("parzen", 784), ("prdc", 784), ("fid", 784), ("kid", 784), ("fid", 2048)]


def child(metric: str, n: int, d: int, budget: int) -> dict:
    import numpy as np
    import torch

    from ganeval import metrics as M

    torch.set_num_threads(int(os.environ.get("GANEVAL_BENCH_THREADS", "2")))
    rng = np.random.default_rng(0)
    a = torch.from_numpy(rng.standard_normal((n, d), dtype=np.float32))
    b = torch.from_numpy(rng.standard_normal((n, d), dtype=np.float32) * 1.1 + 0.05)
    small = torch.from_numpy(rng.standard_normal((10_000, d), dtype=np.float32))
    val = small[:1000]
    base = _reset_peak()
    t = time.perf_counter()
    if metric == "memorisation":
        M.memorisation(b, a, small, memory_budget=budget)
    elif metric == "parzen":
        M.parzen(b, val, small, sigmas=[0.5, 1.0, 2.0], memory_budget=budget)
    elif metric == "prdc":
        M.prdc(a, b, k=5, memory_budget=budget)
    elif metric == "fid":
        M.fid(a, b, bootstrap=0)
    elif metric == "kid":
        M.kid(a, b, subsets=100, subset_size=1000)
    return {"metric": metric, "n": n, "d": d, "seconds": time.perf_counter() - t,
            "workspace_mib": (_peak() - base) / 1024, "inputs_mib": (a.numel() + b.numel() + small.numel()) * 4 / 2**20}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,50000")
    ap.add_argument("--metrics", default=None, help="comma-separated subset of memorisation,parzen,prdc,fid,kid")
    ap.add_argument("--memory-budget", type=float, default=512, help="MiB (default 512)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    budget = int(args.memory_budget * 2**20)
    if args.child:
        metric, n, d = args.child.split(":")
        print(json.dumps(child(metric, int(n), int(d), budget)))
        return 0
    from nearest import machine_line, matmul_gflops

    print(machine_line())
    print(f"float32 matmul: {matmul_gflops():.0f} GFLOP/s; budget {args.memory_budget:.0f} MiB")
    sizes = [int(s) for s in args.sizes.split(",")]
    wanted = set(args.metrics.split(",")) if args.metrics else None
    rows: dict[tuple[str, int], dict[int, dict]] = {}
    for metric, d in CASES:
        if wanted and metric not in wanted:
            continue
        for n in sizes:
            out = subprocess.run([sys.executable, __file__, "--child", f"{metric}:{n}:{d}", "--memory-budget",
                                  str(args.memory_budget)], capture_output=True, text=True)
            if out.returncode:
                print(f"{metric} {n}x{d}: failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rows.setdefault((metric, d), {})[n] = r
            print(f"{metric:13s} {n:>6,d} x {d:<5d} {r['seconds']:8.1f} s  inputs {r['inputs_mib']:7.0f} MiB  "
                  f"workspace {r['workspace_mib']:7.0f} MiB", flush=True)
    if len(sizes) >= 2:
        lo, hi = sizes[0], sizes[-1]
        print(f"\nworkspace at {hi:,} / at {lo:,} (1.0 = does not grow with N):")
        for (metric, d), by_n in rows.items():
            if lo in by_n and hi in by_n:
                ratio = by_n[hi]["workspace_mib"] / max(by_n[lo]["workspace_mib"], 1.0)
                print(f"  {metric:13s} {d:5d}-d  {ratio:5.2f}  (peak {by_n[hi]['workspace_mib']:.0f} MiB, "
                      f"budget {args.memory_budget:.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
