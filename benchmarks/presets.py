"""Train every preset on fresh seeds and print the goal table (issue 6).

For each dataset x preset: how many seeds meet the preset's criterion, and the mean training time.
The seeds default to 100-109, which were never used while tuning (tuning used 0-4).

    python benchmarks/presets.py                         # the full table: 3 datasets x 3 presets x 10 seeds
    python benchmarks/presets.py --jobs 2                # two runs at a time, one thread each
    python benchmarks/presets.py --data ring8 --presets healthy --seeds 3
    python benchmarks/presets.py --data ring8 --presets collapsed --set lr_d=0.02   # try a change

Criteria (computed from the run folder: every checkpoint is sampled, 2,500 samples, seed 0, and
scored with :func:`reference_trainers.train.coverage_stats`; "second half" = checkpoints at step
>= steps / 2):

* healthy: final checkpoint covers >= 7/8 (ring8), >= 22/25 (grid25), >= 9/10 classes (digits)
  with a high-quality fraction >= 0.8 (mixtures) / >= 0.5 (digits);
* collapsed: every second-half checkpoint covers <= C modes, and the modes covered or dominant over
  the whole second half are the same few: their union has <= C members (C = 2 ring8, 3 grid25,
  2 digits);
* oscillating: in every second-half checkpoint the two most-visited modes hold >= 50% of the
  samples, the dominant mode takes >= 3 different values over the second-half checkpoints, and D
  swings: the standard deviation, over the second-half checkpoints, of the checkpoint's mean
  D(G(z)) on its 2,500 samples is >= 0.01 (settled healthy runs hold it at 0.0005-0.005).

Times are wall-clock seconds of the training alone (mean and max over seeds), with ``--threads``
torch threads per run (default 2 with --jobs 1, else 1), and the mean CPU seconds of the training
process (``cpu s``: what the run costs whatever else the machine is doing; with one thread it is
close to the wall time on an idle machine).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COLLAPSE_MAX = {"ring8": 2, "grid25": 3, "digits": 2}
HEALTHY_MIN = {"ring8": 7, "grid25": 22, "digits": 9}
HEALTHY_HQ = {"ring8": 0.8, "grid25": 0.8, "digits": 0.5}
OSC_TOP2 = 0.5
OSC_DOMINANT_VALUES = 3
OSC_D_SWING = 0.01


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def judge(run_dir: Path, regime: str, data: str) -> dict[str, Any]:
    """Score every checkpoint of a run folder and decide whether it shows ``regime``."""
    import torch

    import ganeval
    from ganeval.metrics.coverage import mode_coverage
    from reference_trainers.train import coverage_proxy, coverage_stats

    run = ganeval.load_run(run_dir)
    ds = ganeval.load_dataset(data)
    labeller = coverage_proxy(ds)[1]
    cfg = run.config
    rows = []
    for path in run.checkpoints:
        gen = ganeval.load_generator(path, device="cpu")
        with torch.no_grad():
            samples = gen.sample(2500, seed=0)
            disc = ganeval.load_discriminator(gen, device="cpu")
            assert disc is not None
            d_fake = float(torch.sigmoid(disc(samples)).mean())
        stats = coverage_stats(samples, ds, labeller)
        assert stats is not None
        covered: list[int] = []
        if ds.kind == "mixture":
            counts = mode_coverage(samples, ds.means, ds.std).counts  # type: ignore[attr-defined]
            covered = [i for i, c in enumerate(counts) if c > 0]
        rows.append({"step": gen.step, **stats, "covered_set": covered, "d_fake": d_fake})
    half = [r for r in rows if r["step"] >= cfg["steps"] / 2]
    d_fake_std = float(np.std([r["d_fake"] for r in half]))
    final = rows[-1]
    out: dict[str, Any] = {"final_covered": final["modes_covered"], "final_hq": round(final["hq_fraction"], 3),
                           "half_max_covered": max(r["modes_covered"] for r in half),
                           "half_min_top2": round(min(r["top2_share"] for r in half), 3),
                           "dominant_values": len({r["dominant_mode"] for r in half}),
                           "d_fake_std": round(d_fake_std, 4)}
    if regime == "healthy":
        ok = final["modes_covered"] >= HEALTHY_MIN[data] and final["hq_fraction"] >= HEALTHY_HQ[data]
    elif regime == "collapsed":
        union = set()
        for r in half:
            union |= set(r["covered_set"]) | {r["dominant_mode"]}
        out["half_union"] = len(union)
        cmax = COLLAPSE_MAX[data]
        ok = out["half_max_covered"] <= cmax and len(union) <= cmax
    elif regime == "oscillating":
        ok = (out["half_min_top2"] >= OSC_TOP2 and out["dominant_values"] >= OSC_DOMINANT_VALUES
              and d_fake_std >= OSC_D_SWING)
    else:
        raise ValueError(f"unknown regime {regime!r}")
    out["ok"] = bool(ok)
    return out


def run_one(task: dict[str, Any]) -> dict[str, Any]:
    """Train one preset on one seed (in a worker process) and judge it."""
    import torch

    from reference_trainers.presets import preset_config
    from reference_trainers.train import train

    torch.set_num_threads(task["threads"])
    cfg = preset_config(task["preset"], task["data"], task["seed"], steps=task.get("steps"),
                        threads=task["threads"], **task["overrides"])
    out = Path(task["root"]) / f"{task['data']}-{task['preset']}-{task['seed']}"
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        res = train(cfg, out, overwrite=True)
        runtime, cpu = res.runtime_s, time.process_time() - c0
        verdict = judge(out, task["preset"], task["data"])
    except Exception as exc:  # a diverged run counts as a failure, with its reason
        runtime, cpu = time.perf_counter() - t0, time.process_time() - c0
        verdict = {"ok": False, "error": str(exc)[:200]}
    return {**{k: task[k] for k in ("data", "preset", "seed")}, "runtime_s": runtime, "cpu_s": cpu, **verdict}


def main(argv: list[str] | None = None) -> int:
    from reference_trainers.presets import REGIMES, list_presets

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", nargs="+", default=None, help="datasets (default: every dataset with presets)")
    ap.add_argument("--presets", nargs="+", default=list(REGIMES), help="presets (default: all)")
    ap.add_argument("--seeds", type=int, default=10, help="number of seeds (default 10)")
    ap.add_argument("--seed-start", type=int, default=100, help="first seed (default 100: not used in tuning)")
    ap.add_argument("--jobs", type=int, default=1, help="parallel training processes")
    ap.add_argument("--threads", type=int, default=None, help="torch threads per run (default 2 / jobs)")
    ap.add_argument("--steps", type=int, default=None, help="override the presets' step counts")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="override TrainConfig fields (JSON values)")
    ap.add_argument("--keep", default=None, help="keep the run folders here (default: a temporary folder, removed)")
    ap.add_argument("--verbose", action="store_true", help="print every run's statistics")
    args = ap.parse_args(argv)

    datasets = args.data or sorted({d for d, _ in list_presets()})
    threads = args.threads or max(1, 2 // args.jobs)
    overrides = {k: _parse_value(v) for k, v in (s.split("=", 1) for s in args.set)}
    if "steps" in overrides:
        args.steps = int(overrides.pop("steps"))
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ganeval-presets-"))
    tasks = [dict(data=d, preset=p, seed=args.seed_start + i, threads=threads, root=str(root), steps=args.steps,
                  overrides=overrides)
             for d in datasets for p in args.presets if (d, p) in set(list_presets()) for i in range(args.seeds)]
    print(f"{len(tasks)} runs, {args.jobs} at a time, {threads} thread(s) each, seeds "
          f"{args.seed_start}-{args.seed_start + args.seeds - 1}", flush=True)
    results = []
    t0 = time.perf_counter()
    try:
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
            for r in pool.map(run_one, tasks):
                results.append(r)
                if args.verbose:
                    print(json.dumps(r), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\nwall time {time.perf_counter() - t0:.0f} s\n")
    print(f"{'data':8s} {'preset':12s} {'meets goal':>10s} {'mean s':>7s} {'max s':>7s} {'cpu s':>7s}  failing seeds")
    for d in datasets:
        for p in args.presets:
            rs = [r for r in results if r["data"] == d and r["preset"] == p]
            if not rs:
                continue
            n_ok = sum(r["ok"] for r in rs)
            times = [r["runtime_s"] for r in rs]
            cpu = np.mean([r["cpu_s"] for r in rs])
            bad = [str(r["seed"]) for r in rs if not r["ok"]]
            print(f"{d:8s} {p:12s} {n_ok:>4d} / {len(rs):<3d} {np.mean(times):7.1f} {max(times):7.1f} {cpu:7.1f}  "
                  f"{' '.join(bad)}")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
