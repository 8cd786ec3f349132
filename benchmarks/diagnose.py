"""Diagnose preset runs on fresh seeds and print the confusion table (issue 7).

Each preset of :mod:`reference_trainers.presets` is trained on seeds never used to tune either the
presets (0-4) or the diagnostics' thresholds (1000-1004), and :func:`ganeval.diagnostics.diagnose`
gives its verdict; the table counts verdicts per intended regime. Runs are cached: a folder that
holds a finished run of the right preset and seed is reused, so the table can be rebuilt in
seconds and the training split over several sessions.

    python benchmarks/diagnose.py --cache ~/.cache/ganeval/diagnose-runs            # ring8 + grid25, seeds 200-209
    python benchmarks/diagnose.py --cache DIR --data ring8 --seeds 200-204 --jobs 2
    python benchmarks/diagnose.py --cache DIR --dstar                               # + |D - D*| over healthy runs
    python benchmarks/diagnose.py --cache DIR --no-train                            # table from the cache only
    python benchmarks/diagnose.py --cache DIR --data ring8 --presets vanishing --seeds 210-219

The cache layout is ``DIR/<data>-<preset>-<seed>/`` (as ``benchmarks/presets.py --keep DIR`` writes it,
so its runs are reused too). ``--dstar`` runs the optimal-discriminator check at evenly spaced
checkpoints of every healthy run and prints mean |D - D*| and JSD(p_data || p_g) from the first to
the last. Training times are wall-clock on a shared machine, so they are upper bounds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VERDICTS = ("healthy", "collapsed", "oscillating", "vanishing", "diverged", "inconclusive")

# Not a preset of reference_trainers: a run built here to show vanishing gradients (``--presets vanishing``).
# The minimax loss log(1 - D(G(z))) saturates once D rejects the samples; five D steps at lr 1e-2
# against a generator at lr 1e-5 make D reject them before G has moved, so G's gradient dies
# while its samples are still far from every mode.
VANISHING = dict(loss="minimax", k=5, steps=1500, batch_size=256, lr_g=1e-5, lr_d=1e-2,
                 g_kwargs={"latent_dim": 256, "hidden": 128, "depth": 2, "activation": "relu"},
                 d_kwargs={"hidden": 128, "depth": 2, "activation": "relu"}, log_every=25, ckpt_every=300,
                 eval_samples=1000)


def config_for(data: str, preset: str, seed: int, threads: int | None = None) -> Any:
    """The TrainConfig of a preset, or of the benchmark's own vanishing run."""
    from reference_trainers.presets import preset_config
    from reference_trainers.train import TrainConfig

    if preset == "vanishing":
        return TrainConfig(data=data, seed=seed, threads=threads, expected_regime="vanishing", **VANISHING)
    return preset_config(preset, data, seed, threads=threads)


def parse_seeds(text: str) -> list[int]:
    """``"200-209"``, ``"200,201,205"`` or a count ``"10"`` (then 200..209)."""
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    if "," in text:
        return [int(s) for s in text.split(",")]
    return list(range(200, 200 + int(text)))


def is_finished(run: Path, data: str, preset: str, seed: int) -> bool:
    """A finished (or diverged) run of exactly today's preset config: a retuned preset is retrained."""
    from reference_trainers.train import TrainConfig

    try:
        cfg = json.loads((run / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return False
    # Through TrainConfig, so fields added to it since the run (with their defaults) compare equal.
    have = TrainConfig.from_dict(cfg).to_dict()
    want = config_for(data, preset, seed).to_dict()
    same = all(have.get(k) == v for k, v in want.items() if k not in ("threads", "data_root"))
    return same and cfg.get("status") in ("finished", "diverged")


def train_one(task: dict[str, Any]) -> dict[str, Any]:
    """Train one preset run into the cache (in a worker process) unless it is already there."""
    import torch

    from reference_trainers.train import train

    run = Path(task["run"])
    if is_finished(run, task["data"], task["preset"], task["seed"]):
        return {**task, "trained": False, "train_s": None}
    torch.set_num_threads(task["threads"])
    t0 = time.perf_counter()
    try:
        train(config_for(task["data"], task["preset"], task["seed"], task["threads"]), run, overwrite=True)
    except Exception as exc:  # a diverged run is a finding: diagnose reads config.json's status
        print(f"  {run.name}: {str(exc)[:160]}", flush=True)
    return {**task, "trained": True, "train_s": time.perf_counter() - t0}


def diagnose_one(run: Path, dstar: bool) -> dict[str, Any]:
    from ganeval.diagnostics import diagnose

    t0 = time.perf_counter()
    d = diagnose(run, optimal_d=dstar, optimal_d_checkpoints=6, optimal_d_grid=0)
    out = {"verdict": d.verdict, "confidence": d.confidence, "summary": d.summary, "diag_s": time.perf_counter() - t0,
           "optimal_d": [(r.step, r.mean_abs_diff, r.jsd, r.jsd_se) for r in d.optimal_d]}
    return out


def print_table(rows: list[dict[str, Any]], regimes: list[str], title: str) -> tuple[int, int]:
    used = [v for v in VERDICTS if any(r["verdict"] == v for r in rows)] or ["healthy"]
    print(f"\n{title}: rows = intended regime (preset), columns = verdict")
    print(f"{'preset':12s} " + " ".join(f"{v:>12s}" for v in used) + f" {'match':>8s}")
    hit = total = 0
    for p in regimes:
        rs = [r for r in rows if r["preset"] == p]
        if not rs:
            continue
        ok = sum(r["verdict"] == p for r in rs)
        hit, total = hit + ok, total + len(rs)
        print(f"{p:12s} " + " ".join(f"{sum(r['verdict'] == v for r in rs):>12d}" for v in used)
              + f" {ok:>4d}/{len(rs):<3d}")
    if total:
        print(f"{'all':12s} " + " " * 13 * len(used) + f"{hit:>4d}/{total:<3d} = {hit / total:.0%}")
    return hit, total


def main(argv: list[str] | None = None) -> int:
    from reference_trainers.presets import REGIMES, list_presets

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", required=True, help="run cache folder (created); finished runs in it are reused")
    ap.add_argument("--data", nargs="+", default=["ring8", "grid25"], help="datasets (default ring8 grid25)")
    ap.add_argument("--presets", nargs="+", default=list(REGIMES),
                    help="presets (default: all of reference_trainers'); 'vanishing' adds this script's own "
                         "vanishing-gradient run (ring8 only)")
    ap.add_argument("--seeds", default="200-209", help="'200-209', '200,203' or a count (default 200-209)")
    ap.add_argument("--jobs", type=int, default=1, help="training processes at a time (default 1)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads per training run (default 2 / jobs)")
    ap.add_argument("--no-train", action="store_true", help="only diagnose runs already in the cache")
    ap.add_argument("--dstar", action="store_true", help="also run the optimal-D check on healthy runs")
    ap.add_argument("--verbose", action="store_true", help="print every run's verdict and summary")
    args = ap.parse_args(argv)

    cache = Path(args.cache).expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    seeds = parse_seeds(args.seeds)
    threads = args.threads or max(1, 2 // args.jobs)
    have = set(list_presets()) | {("ring8", "vanishing")}
    presets = list(args.presets)
    missing = [(d, p) for d in args.data for p in presets if (d, p) not in have]
    if missing:
        print("no preset for: " + ", ".join(f"{d}/{p}" for d, p in missing))
    # Seeds outermost, so a run cut short still has every preset at the seeds it reached.
    tasks = [dict(data=d, preset=p, seed=s, threads=threads, run=str(cache / f"{d}-{p}-{s}"))
             for s in seeds for d in args.data for p in presets if (d, p) in have]
    todo = [t for t in tasks if not is_finished(Path(t["run"]), t["data"], t["preset"], t["seed"])]
    print(f"{len(tasks)} runs ({len(tasks) - len(todo)} cached), seeds {seeds[0]}-{seeds[-1]}, cache {cache}", flush=True)
    t0 = time.perf_counter()
    train_times = []
    if todo and not args.no_train:
        print(f"training {len(todo)} runs, {args.jobs} at a time, {threads} thread(s) each", flush=True)
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
            for r in pool.map(train_one, todo):
                train_times.append(r["train_s"])
                print(f"  trained {Path(r['run']).name} in {r['train_s']:.0f} s", flush=True)
    rows = []
    for t in tasks:
        run = Path(t["run"])
        if not is_finished(run, t["data"], t["preset"], t["seed"]):
            continue
        r = {**t, **diagnose_one(run, args.dstar and t["preset"] == "healthy")}
        rows.append(r)
        if args.verbose or r["verdict"] != t["preset"]:
            flag = "" if r["verdict"] == t["preset"] else "  <-- mismatch"
            print(f"  {run.name:28s} {r['verdict']:12s} ({r['confidence']:.2f}) {r['summary']}{flag}", flush=True)
    hit = total = 0
    for d in args.data:
        h, n = print_table([r for r in rows if r["data"] == d], presets, d)
        hit, total = hit + h, total + n
    if len(args.data) > 1 and total:
        print_table(rows, presets, "all data")
    if args.dstar:
        print("\noptimal-discriminator check on healthy runs (mean |D - D*| where the data lives; JSD in nats, p_g by KDE)")
        print(f"{'run':28s} {'first step':>10s} {'|D-D*|':>8s} {'JSD':>7s}   {'last step':>9s} {'|D-D*|':>8s} {'JSD':>7s}"
              "   |D-D*| by checkpoint")
        for r in rows:
            od = r["optimal_d"]
            if len(od) < 2:
                continue
            (s0, m0, j0, _), (s1, m1, j1, _) = od[0], od[-1]
            trail = " ".join(f"{m:.3f}" for _, m, _, _ in od)
            print(f"{Path(r['run']).name:28s} {s0:>10d} {m0:8.3f} {j0:7.3f}   {s1:>9d} {m1:8.3f} {j1:7.3f}   {trail}")
        shrank = [r for r in rows if len(r["optimal_d"]) >= 2 and r["optimal_d"][-1][1] < r["optimal_d"][0][1]]
        n_od = sum(len(r["optimal_d"]) >= 2 for r in rows)
        print(f"|D - D*| smaller at the last checkpoint than at the first in {len(shrank)}/{n_od} healthy runs")
    if train_times:
        print(f"\ntraining: {len(train_times)} runs, mean {sum(train_times) / len(train_times):.0f} s, "
              f"max {max(train_times):.0f} s (shared machine: upper bounds)")
    diag_s = [r["diag_s"] for r in rows]
    if diag_s:
        print(f"diagnose: mean {sum(diag_s) / len(diag_s):.2f} s per run; wall time {time.perf_counter() - t0:.0f} s")
    return 0 if total and hit / total >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
