"""Time per generator step of the reference trainer, with and without its speed options, side by side.

Each variant trains the same preset for ``--steps`` steps (its logging, coverage and checkpoints
included, scaled to the shorter run) in this process, one torch thread; the variants take turns,
``--repeat`` rounds, and the best round counts (a shared machine only ever makes a run slower).
It prints ms per step, the ratio to the reference variant, the projected time of the full preset,
and the host's matmul rate (on a shared virtual machine every figure moves with it).

    .venv/bin/python benchmarks/trainer_step.py                     # grid25 healthy, 1500 steps x 3
    .venv/bin/python benchmarks/trainer_step.py --data ring8 --preset healthy --steps 1000

Variants: ``reference`` (``fused=False``, no EMA: how every preset trains), ``fused``, and
``fused+ema`` (the faster grid25 healthy recipe tried in docs/trainers.md, not adopted).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv: list[str] | None = None) -> int:
    import torch

    from nearest import matmul_gflops
    from reference_trainers.presets import preset_config
    from reference_trainers.train import train

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="grid25")
    ap.add_argument("--preset", default="healthy")
    ap.add_argument("--steps", type=int, default=1500, help="steps per timed run (default 1500)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the best counts (default 3)")
    args = ap.parse_args(argv)

    torch.set_num_threads(1)
    full = preset_config(args.preset, args.data, 0)
    variants = {"reference": dict(fused=False, ema=None), "fused": dict(fused=True, ema=None),
                "fused+ema": dict(fused=True, ema=0.999)}
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="ganeval-step-") as tmp:
        for _ in range(args.repeat):
            for name, opts in variants.items():
                cfg = preset_config(args.preset, args.data, 0, steps=args.steps, threads=1, **opts)
                res = train(cfg, Path(tmp) / name, overwrite=True)
                best[name] = min(best.get(name, float("inf")), res.runtime_s / args.steps)
    print(f"host: float32 4096x4096 matmul {matmul_gflops():.0f} GFLOP/s")
    print(f"{args.data} {args.preset}: {args.steps} steps, best of {args.repeat}, 1 thread; "
          f"the preset runs {full.steps} steps")
    ref = best["reference"]
    print(f"{'variant':12s} {'ms/step':>8s} {'vs reference':>13s} {'full preset s':>14s}")
    for name, t in best.items():
        print(f"{name:12s} {t * 1e3:8.2f} {t / ref:12.2f}x {t * full.steps:14.1f}")
    return 0


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = main()
    print(f"(benchmark took {time.perf_counter() - t0:.0f} s)")
    sys.exit(code)
