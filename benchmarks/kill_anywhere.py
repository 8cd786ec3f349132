"""Kill anywhere: SIGKILL ganeval commands at random moments, then check nothing is half-written.

For each command (``report``, ``baseline``, ``train``, ``sweep``) it first runs the command once to
completion to learn its duration D, then runs ``--trials`` more times, each killed with SIGKILL
at a moment drawn uniformly from [0, D] (so kills land in start-up, loading, sampling, scoring
and writing alike). After every kill it checks the outputs:

* report: the folder is absent or complete (``index.html``, a parseable ``report.json``, ``metrics.csv``);
* baseline: the JSON is absent or a valid baseline;
* train: every checkpoint in the run folder loads, ``history.csv`` parses with full rows, ``config.json`` parses;
* sweep: every record in the store parses and the store loads as a DataFrame;

and then re-runs the same command (every ``--rerun-every`` kills), which must complete (exit 0, or
1 for a sweep with failed jobs) with complete outputs. Out-of-disk is checked too: the command run
under a file-size limit (RLIMIT_FSIZE) must fail with one clean line (exit 2) and leave nothing partial.

    .venv/bin/python benchmarks/kill_anywhere.py --trials 50            # the full harness (docs/reliability.md)
    .venv/bin/python benchmarks/kill_anywhere.py --trials 3 --commands report,train

Exit status 0 when every check held.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def ganeval_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "ganeval.cli", *args]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.update({"OMP_NUM_THREADS": "1", "GANEVAL_PROGRESS": "0", "PYTHONPATH": str(ROOT)})
    return e


def sweep_available() -> bool:
    out = subprocess.run(ganeval_cmd("sweep", "--help"), capture_output=True, text=True, env=env())
    return out.returncode == 0


# ---------------------------------------------------------------------------------------------
# checks: each returns a list of problems (empty: the outputs are whole)


def check_report(out: Path) -> list[str]:
    if not out.exists():
        return []
    problems = [f"{out}: missing {n}" for n in ("index.html", "report.json", "metrics.csv") if not (out / n).is_file()]
    try:
        d = json.loads((out / "report.json").read_text())
        if not isinstance(d, dict):
            problems.append(f"{out}/report.json: not an object")
    except (OSError, ValueError) as exc:
        problems.append(f"{out}/report.json: {exc}")
    return problems


def check_baseline(path: Path) -> list[str]:
    if not path.exists():
        return []
    from ganeval.gate import load_baseline

    try:
        load_baseline(path)
    except Exception as exc:  # any failure is a half-written file
        return [f"{path}: {exc}"]
    return []


def check_run(run: Path) -> list[str]:
    if not run.exists():
        return []
    import ganeval

    problems = []
    for ck in sorted((run / "checkpoints").glob("step_*.pt")) if (run / "checkpoints").is_dir() else []:
        try:
            ganeval.load_generator(ck, device="cpu")
        except Exception as exc:
            problems.append(f"{ck}: {exc}")
    hist = run / "history.csv"
    if hist.exists():
        lines = hist.read_text().splitlines()
        if lines:
            width = len(lines[0].split(","))
            bad = [i for i, ln in enumerate(lines[1:], 2) if len(ln.split(",")) != width]
            if bad:
                problems.append(f"{hist}: torn rows at lines {bad[:5]}")
            try:
                import pandas as pd

                pd.read_csv(hist)
            except Exception as exc:
                problems.append(f"{hist}: {exc}")
    cfg = run / "config.json"
    if cfg.exists():
        try:
            json.loads(cfg.read_text())
        except ValueError as exc:
            problems.append(f"{cfg}: {exc}")
    return problems


def finished_run(run: Path) -> bool:
    """A run folder whose trainer wrote its final record (a re-run then rightly refuses to replace it)."""
    try:
        return json.loads((run / "config.json").read_text()).get("status") == "finished"
    except (OSError, ValueError):
        return False


def check_store(store: Path) -> list[str]:
    if not store.exists():
        return []
    problems = []
    for rec in store.rglob("*.json"):
        if rec.name.startswith("."):
            continue
        try:
            json.loads(rec.read_text())
        except (OSError, ValueError) as exc:
            problems.append(f"{rec}: {exc}")
    try:
        import ganeval

        if hasattr(ganeval, "load_results"):
            ganeval.load_results(store)
    except Exception as exc:
        problems.append(f"{store}: load_results failed: {exc}")
    return problems


# ---------------------------------------------------------------------------------------------
# the commands


def make_inputs(work: Path, quick: bool = False) -> dict[str, Path]:
    """A small ring8 run (its checkpoints feed report, baseline and sweep); ``quick``: analytic checkpoints."""
    run = work / "source-run"
    if quick:
        import ganeval
        from ganeval.toy import MixtureGenerator

        ds = ganeval.load_dataset("ring8")
        for step, modes in ((100, [0, 1]), (200, [0, 1, 2, 3]), (300, None)):
            kw = {"means": ds.means.tolist(), "std": ds.std, "modes": modes}
            ganeval.save_generator(run / "checkpoints" / f"step_{step:07d}.pt", MixtureGenerator(**kw),
                                   factory="ganeval.toy:MixtureGenerator", factory_kwargs=kw, latent_dim=3,
                                   data="ring8", step=step)
        return {"run": run, "ckpt": run / "checkpoints" / "step_0000300.pt"}
    subprocess.run(ganeval_cmd("train", "--preset", "healthy", "--data", "ring8", "--steps", "400", "--ckpt-every",
                               "100", "--out", str(run)), check=True, env=env(), capture_output=True)
    return {"run": run, "ckpt": sorted((run / "checkpoints").glob("step_*.pt"))[-1]}


def commands(work: Path, inputs: dict[str, Path],
             quick: bool = False) -> dict[str, tuple[list[str], Callable[[], list[str]], set[int], Path]]:
    """name -> (command, check of its outputs, exit codes that count as success, its output path)."""
    rep, base, trun, store = work / "report", work / "baseline.json", work / "train-run", work / "store"
    steps = "60" if quick else "300"
    return {
        "report": (ganeval_cmd("report", str(inputs["run"]), "--data", "ring8", "--n-samples", "500" if quick else "1000",
                               "--out", str(rep)), lambda: check_report(rep), {0}, rep),
        "baseline": (ganeval_cmd("baseline", str(inputs["ckpt"]), "--data", "ring8", "--metric", "fid",
                                 "--n-samples", "1000", "--bootstrap", "50", "-o", str(base)),
                     lambda: check_baseline(base), {0}, base),
        # no --overwrite: re-running after a kill must replace the interrupted run by itself
        "train": (ganeval_cmd("train", "--preset", "healthy", "--data", "ring8", "--steps", steps, "--ckpt-every",
                              "20" if quick else "50", "--out", str(trun)), lambda: check_run(trun), {0}, trun),
        "sweep": (ganeval_cmd("sweep", str(inputs["run"]), "--data", "ring8", "--seeds", "0,1", "--n-samples", "500",
                              "--store", str(store), "--workers", "1"), lambda: check_store(store), {0, 1}, store),
    }


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def run_to_end(cmd: list[str], ok_codes: set[int]) -> tuple[float, str]:
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env())
    dt = time.perf_counter() - t
    if p.returncode not in ok_codes:
        return dt, f"exit {p.returncode}: {p.stderr.strip().splitlines()[-1:] if p.stderr else ''}"
    return dt, ""


def kill_at(cmd: list[str], at: float) -> bool:
    """Start ``cmd`` and SIGKILL it ``at`` seconds later; False when it ended first."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env())
    try:
        p.wait(timeout=at)
        return False
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
        p.wait()
        return True


def out_of_disk(cmd: list[str], check: Callable[[], list[str]], limit: int) -> list[str]:
    """Run ``cmd`` with RLIMIT_FSIZE = ``limit`` bytes: it must fail cleanly and leave nothing partial."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG as an error, not a kill

    p = subprocess.run(cmd, capture_output=True, text=True, env=env(), preexec_fn=cap)
    problems = check()
    if p.returncode == 0:
        return problems  # the outputs fit under the limit
    if p.returncode != 2:
        problems.append(f"out-of-disk: exit {p.returncode} (want 2)")
    if "Traceback" in p.stderr:
        problems.append("out-of-disk: a traceback: " + p.stderr.strip().splitlines()[-1])
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=50, help="kills per command (default 50)")
    ap.add_argument("--commands", default="report,baseline,train,sweep")
    ap.add_argument("--rerun-every", type=int, default=1, help="re-run to completion after every N-th kill")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="analytic checkpoints and a short training run (the test)")
    ap.add_argument("--work", default=None, help="work folder (default: a temporary one, removed)")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    work = Path(args.work or tempfile.mkdtemp(prefix="ganeval-kill-"))
    work.mkdir(parents=True, exist_ok=True)
    names = [c for c in args.commands.split(",") if c]
    if "sweep" in names and not sweep_available():
        print("sweep: `ganeval sweep` is not available; skipped")
        names.remove("sweep")
    failures: list[str] = []
    totals: dict[str, Any] = {}
    try:
        inputs = make_inputs(work, args.quick)
        cmds = commands(work, inputs, args.quick)
        for name in names:
            cmd, check, ok, output = cmds[name]
            remove(output)
            duration, err = run_to_end(cmd, ok)
            if err:
                failures.append(f"{name}: the uninterrupted run failed ({err})")
                continue
            kills = ended = 0
            for trial in range(args.trials):
                # train starts afresh each time (a finished run is never replaced without --overwrite);
                # the others alternate between writing anew and replacing finished outputs
                if name == "train" or trial % 2 == 0:
                    remove(output)
                killed = kill_at(cmd, rng.uniform(0.0, duration))
                if killed and name == "train" and finished_run(output):
                    killed = False  # killed while exiting, after the run was complete: nothing to interrupt
                kills += killed
                ended += not killed
                problems = check()
                failures += [f"{name} trial {trial}: {p}" for p in problems]
                if killed and (kills % args.rerun_every == 0):
                    _, err = run_to_end(cmd, ok)
                    if err:
                        failures.append(f"{name} trial {trial}: re-run after the kill failed ({err})")
                    failures += [f"{name} trial {trial} re-run: {p}" for p in check()]
            remove(output)
            disk = out_of_disk(cmd, check, 4096)
            failures += [f"{name}: {p}" for p in disk]
            totals[name] = {"duration_s": round(duration, 2), "kills": kills, "finished_before_kill": ended,
                            "half_written": sum(f.startswith(f"{name} ") for f in failures)}
            print(f"{name:9s} run {duration:5.1f} s  kills {kills:3d}  finished first {ended:3d}  "
                  f"half-written {totals[name]['half_written']}", flush=True)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    kills = sum(t["kills"] for t in totals.values())
    print(f"total kills {kills}, problems {len(failures)}")
    for f in failures[:30]:
        print("  " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
