"""Paired FID replicates at 2048-d: the shared fast path against the exact float64 path, one process.

A paired comparison resamples the reference rows and the latent rows once per replicate and
scores every model on that resample (:class:`ganeval.paired.stats.FrechetStat`). Before, each
model's replicate was the exact float64 FID (weighted float64 covariances, float64 factorisation);
now the reference's float32 ``syrk`` and Cholesky factor are shared by the models and each model
adds its own ``syrk``, ``dsygst`` and eigenvalues (:class:`ganeval.metrics.frechet_bootstrap.SharedReference`).
Both are timed on the same resamples, interleaved (``--rounds`` rounds of ``--timed`` replicates
each); prints seconds per replicate (best round), the ratio, the largest relative difference,
peak resident memory and the host's float32 matmul rate.

    .venv/bin/python benchmarks/paired_fid.py [--dim 2048] [--n 10000] [--models 2] [--timed 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fid_interval import synthetic  # noqa: E402
from nearest import PeakRSS, machine_line, matmul_gflops, report_rate  # noqa: E402

from ganeval.paired.stats import LATENT, FrechetStat  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dim", type=int, default=2048)
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--models", type=int, default=2)
    p.add_argument("--timed", type=int, default=2, help="replicates per method and round")
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    print(machine_line())
    before = matmul_gflops()
    real, first = synthetic(args.n, args.dim, 0)
    fakes = [first] + [synthetic(args.n, args.dim, 1 + i)[1] for i in range(args.models - 1)]
    stat = FrechetStat(real, fakes, "reference")
    t = time.perf_counter()
    stat.point()
    t_point = time.perf_counter() - t
    with PeakRSS() as mem_setup:
        t = time.perf_counter()
        stat._setup()
        t_setup = time.perf_counter() - t
    print(f"{args.models} models, {args.n:,} x {args.dim} per set; point estimates (exact) {t_point:.1f} s, "
          f"fast path set-up {t_setup:.1f} s (peak RSS {mem_setup.peak / 2**20:.0f} MiB)")
    rng = np.random.default_rng(7)
    best = {"exact": float("inf"), "fast": float("inf")}
    worst = 0.0
    every = list(range(args.models))
    for k in range(args.rounds):
        counts = [(np.bincount(rng.integers(0, args.n, args.n), minlength=args.n),
                   np.bincount(rng.integers(0, args.n, args.n), minlength=args.n)) for _ in range(args.timed)]
        t = time.perf_counter()
        exact = [stat._exact(cr, cf, every) for cr, cf in counts]
        best["exact"] = min(best["exact"], (time.perf_counter() - t) / args.timed)
        t = time.perf_counter()
        fast = [stat.replicate({"reference": cr, LATENT: cf})[:, 0] for cr, cf in counts]
        best["fast"] = min(best["fast"], (time.perf_counter() - t) / args.timed)
        for e, f in zip(exact, fast, strict=True):
            worst = max(worst, max(abs(f[i] / e[i] - 1) for i in every))
        print(f"  round {k + 1}: exact {best['exact']:.2f} s/replicate, fast {best['fast']:.2f} s/replicate "
              f"(best so far)", flush=True)
    print(f"\n  per replicate ({args.models} models): exact {best['exact']:.2f} s, fast {best['fast']:.2f} s: "
          f"{best['exact'] / best['fast']:.2f}x; 200 replicates: {200 * best['exact']:.0f} s -> "
          f"{t_setup + 200 * best['fast']:.0f} s (set-up included); largest relative difference {worst:.1e}")
    report_rate(before, matmul_gflops())


if __name__ == "__main__":
    main()
