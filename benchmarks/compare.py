"""Goals of the paired comparison (issue 18), measured.

1. Width: on two checkpoints of one training run (ring8 and digits), the paired 95% interval of
   ΔFID against the interval from two independent evaluations at the same N (different sampling
   seeds, each with its own bootstrap; the interval of the difference of their replicates). Goal:
   paired width <= half the independent width. Repeated over --seeds sampling seeds; the median
   ratio is reported.
2. Calibration (--calibration): Gaussian generators with closed-form FID (ganeval.paired.calibration):
   coverage of the 95% paired intervals of ΔFID over --reps repetitions (goal 93-97%) and the
   Kolmogorov-Smirnov p-value of the null p-values (goal > 0.05).

Runs come from reference_trainers' healthy presets, trained here into --runs (cached: an existing
run folder is reused; `ganeval demo`'s runs/demo/ring8-healthy-seed0 works too).

    .venv/bin/python benchmarks/compare.py [--runs runs/bench-compare] [--seeds 5] [--bootstrap 1000]
    .venv/bin/python benchmarks/compare.py --calibration --reps 200
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ganeval  # noqa: E402
from ganeval.evaluate import default_n_samples  # noqa: E402
from ganeval.paired import compare_models  # noqa: E402
from ganeval.paired.bootstrap import basic_interval, run_bootstrap  # noqa: E402
from ganeval.paired.engine import build_stats  # noqa: E402


def healthy_run(data: str, runs: Path) -> Path:
    from reference_trainers.presets import preset_config
    from reference_trainers.train import train

    out = runs / f"{data}-healthy"
    if not (out / "checkpoints").is_dir() or not ganeval.list_checkpoints(out):
        print(f"training {data} healthy into {out} ...", file=sys.stderr)
        train(preset_config("healthy", data, seed=0), out, overwrite=True)
    return out


def independent_width(a: ganeval.Generator, b: ganeval.Generator, ds: ganeval.Dataset, n: int, seed: int,
                      n_bootstrap: int, shared: dict) -> float:
    """Width of the 95% interval of FID(b) - FID(a) from two independent evaluations."""
    reps, points = [], []
    for k, (g, s) in enumerate(((a, 2 * seed), (b, 2 * seed + 1))):
        x = g.sample(n, seed=s)
        stats, _, _ = build_stats({"m": x}, ds, ["fid"], seed=s, device="cpu", shared=shared)
        reps.append(run_bootstrap(stats, n_bootstrap, seed=1000 + 2 * seed + k)["fid"][:, 0, 0])
        points.append(stats[0].point()[0, 0])
    lo, hi = basic_interval(np.asarray(points[1] - points[0]), reps[1] - reps[0], 0.95)
    return float(hi - lo)


def widths(data: str, runs: Path, seeds: int, n_bootstrap: int) -> None:
    run = healthy_run(data, runs)
    cks = ganeval.list_checkpoints(run)
    a, b = (ganeval.load_generator(p, device="cpu") for p in cks[-2:])
    ds = ganeval.load_dataset(data)
    n = default_n_samples(ds)
    shared: dict = {}
    ratios = []
    print(f"\n{data}: {cks[-2].name} vs {cks[-1].name} of {run}, N = {n}, {n_bootstrap} replicates")
    print(f"  {'seed':>4s} {'ΔFID':>10s} {'paired width':>13s} {'independent width':>18s} {'ratio':>6s}")
    for s in range(seeds):
        t0 = time.perf_counter()
        _, comp = compare_models({"a": a, "b": b}, ds, metrics=["fid"], n_samples=n, seed=s, n_bootstrap=n_bootstrap,
                                 device="cpu", return_comparison=True)
        _, _, d, lo, hi, _, _ = comp.summary("fid").pairs[0]
        wi = independent_width(a, b, ds, n, s, n_bootstrap, shared)
        ratios.append((hi - lo) / wi)
        print(f"  {s:4d} {d:+10.4g} {hi - lo:13.4g} {wi:18.4g} {ratios[-1]:6.3f}   ({time.perf_counter() - t0:.0f} s)")
    med = float(np.median(ratios))
    print(f"  median ratio paired / independent = {med:.3f} (goal <= 0.5: {'met' if med <= 0.5 else 'NOT met'})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default="runs/bench-compare")
    ap.add_argument("--data", default="ring8,digits")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--calibration", action="store_true", help="run the calibration simulation instead")
    ap.add_argument("--reps", type=int, default=200)
    args = ap.parse_args()
    from nearest import matmul_gflops

    print(f"host: float32 4096x4096 matmul {matmul_gflops():.0f} GFLOP/s")
    if args.calibration:
        from ganeval.paired.calibration import gaussian_calibration

        t0 = time.perf_counter()
        c = gaussian_calibration(args.reps, n_bootstrap=min(args.bootstrap, 400))
        print(c.text())
        ok = 0.93 <= c.coverage <= 0.97 and c.ks_pvalue > 0.05
        print(f"goals (coverage 93-97%, KS p > 0.05): {'met' if ok else 'NOT met'} ({time.perf_counter() - t0:.0f} s)")
        return
    for data in args.data.split(","):
        widths(data.strip(), Path(args.runs), args.seeds, args.bootstrap)


if __name__ == "__main__":
    main()
