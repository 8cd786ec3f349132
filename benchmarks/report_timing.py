"""Wall and CPU time of `ganeval report` end to end (a fresh process, imports included), against the goals:
a ring8 run <= 10 s and a digits checkpoint <= 30 s on 2 CPU cores (no Inception involved).

The ring8 run is the healthy preset of reference_trainers (trained here unless --run DIR names one);
the digits checkpoint is a short reference_trainers run on digits (its last checkpoint). Each
report runs --repeat times; the best wall time is compared with the goal.

    .venv/bin/python benchmarks/report_timing.py [--run DIR] [--digits-ckpt FILE] [--repeat 2] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOALS = {"ring8 run": 10.0, "digits checkpoint": 30.0}


def timed_report(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall s, CPU s of the child) of one `ganeval report` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ganeval.cli", "report", *args], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"ganeval report {' '.join(args)} failed:\n{proc.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def host_speed() -> str:
    """The host's float32 matmul rate and its single-core torch import time: on a shared (virtual)
    machine both move by tens of percent over hours, and report times move with them."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from nearest import matmul_gflops

    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return f"host: float32 4096x4096 matmul {matmul_gflops():.0f} GFLOP/s, `import torch` {time.perf_counter() - t0:.1f} s"


def train_run(name: str, data: str, out: Path, **overrides) -> Path:
    from reference_trainers.presets import preset_config
    from reference_trainers.train import TrainConfig, train

    t0 = time.perf_counter()
    cfg = preset_config(name, data, seed=0, threads=1) if name else TrainConfig(data=data, seed=0, threads=1, **overrides)
    train(cfg, out, overwrite=True)
    print(f"(trained {data} {name or 'custom'} run in {time.perf_counter() - t0:.0f} s: {out})")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default=None, help="a ring8 run folder (default: train the healthy preset)")
    ap.add_argument("--digits-ckpt", default=None, help="a digits checkpoint (default: train a short run)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for the reports (default: unset)")
    args = ap.parse_args()
    env = dict(os.environ, GANEVAL_PROGRESS="0")
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_p = Path(tmp)
        run = Path(args.run) if args.run else train_run("healthy", "ring8", tmp_p / "ring8-healthy")
        if args.digits_ckpt:
            ckpt = Path(args.digits_ckpt)
        else:
            drun = train_run("", "digits", tmp_p / "digits", steps=300, ckpt_every=300, log_every=50)
            ckpt = sorted((drun / "checkpoints").glob("*.pt"))[-1]
        n_ckpt = len(list((run / "checkpoints").glob("*.pt")))
        cases = {"ring8 run": [str(run), "--data", "ring8"], "digits checkpoint": [str(ckpt), "--data", "digits"]}
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; OMP_NUM_THREADS="
              f"{env.get('OMP_NUM_THREADS', 'unset')}; {host_speed()}")
        for name, cli in cases.items():
            times = [timed_report(cli + ["--out", str(tmp_p / f"rep-{i}")], env) for i in range(args.repeat)]
            wall = min(t[0] for t in times)
            cpu = min(t[1] for t in times)
            extra = f" ({n_ckpt} checkpoints, diagnosis included)" if name == "ring8 run" else ""
            print(f"{name:18s}{extra}: best wall {wall:.1f} s, CPU {cpu:.1f} s; goal <= {GOALS[name]:.0f} s -> "
                  f"{'OK' if wall <= GOALS[name] else 'OVER'} (walls: {', '.join(f'{t[0]:.1f}' for t in times)})")


if __name__ == "__main__":
    main()
