"""``ganeval sweep``: checkpoints x seeds x metrics on a resumable result store, locally or on Ray."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    """Register ``sweep`` on the CLI's subparsers."""
    from .cli_common import add_eval_flags

    p = sub.add_parser("sweep", help="evaluate many checkpoints x seeds x metrics on a resumable result store",
                       description="Expand run folders and globs into jobs (checkpoint x seed x metric), skip those "
                       "already in the store, run the rest (a local process pool, or Ray), and write a sweep report. "
                       "Exit codes: 0 all done, 1 some jobs failed (listed), 2 bad input, 130/143 stopped by a "
                       "signal (finished records kept; re-run the same command to finish).")
    p.add_argument("paths", nargs="+", help="checkpoint files, run folders or globs")
    add_eval_flags(p, optional_data=True)  # --reference stats.npz: FID of every checkpoint without the images
    p.add_argument("--seeds", default=None, help="sampling seeds, e.g. 0,1,2 or 0-4 (default: --seed)")
    p.add_argument("--store", default=None, help="result store folder (default $GANEVAL_STORE or "
                   "~/.cache/ganeval/results)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default 1: this process)")
    p.add_argument("--ray", nargs="?", const=True, default=None, metavar="ADDRESS",
                   help="run on Ray: alone, start a local instance (or join RAY_ADDRESS); with ADDRESS, join that "
                   "cluster (pip install 'ganeval[ray]')")
    p.add_argument("--retries", type=int, default=2, help="tries again for a job whose worker or node died (default 2)")
    p.add_argument("--cpus-per-job", type=float, default=1.0, help="Ray CPUs per job (default 1)")
    p.add_argument("--gpus-per-job", type=float, default=None, help="Ray GPUs per job (default 1 with a CUDA "
                   "device, else 0; a fraction shares a GPU)")
    p.add_argument("--out", default=None, help="sweep report folder (HTML + CSV + JSON); default: no report")
    p.add_argument("--export", default=None, help="also export the whole store to this .csv or .parquet file")
    p.set_defaults(handler=_sweep)


def settings_from_args(args: argparse.Namespace) -> Any:
    """The sweep's :class:`~ganeval.sweep.Settings` from the shared evaluation flags."""
    from .cli_common import eval_kwargs, load_options
    from .sweep import Settings

    kw = eval_kwargs(args)  # the evaluation keywords every subcommand derives from the shared flags
    load = load_options(args)
    known = set(load.eval_kwargs()) | {"metrics", "n_samples", "seed", "options"}
    extra = {k: v for k, v in kw.items() if k not in known}
    return Settings(data=args.data, load=load, n_samples=args.n_samples, options=kw["options"], extra=extra)


def _sweep(args: argparse.Namespace) -> int:
    from .sweep import export_results, run_sweep
    from .sweep.jobs import parse_seeds

    settings = settings_from_args(args)
    seeds = parse_seeds(args.seeds) if args.seeds is not None else [args.seed]
    res = run_sweep(args.paths, settings, metrics=args.metrics, seeds=seeds, store=args.store,
                    workers=args.workers, ray=args.ray, retries=args.retries, cpus_per_job=args.cpus_per_job,
                    gpus_per_job=args.gpus_per_job)
    rate = 60 * (res.done + len(res.failed)) / max(res.elapsed_s, 1e-9)
    print(f"{len(res.jobs)} jobs: {res.cached} cached, {res.done} computed, {len(res.failed)} failed, "
          f"{res.missing} not run; {res.elapsed_s:.1f} s ({rate:.0f} jobs/min); store {res.store.root}")
    for job, err in res.failed:
        print(f"FAILED {job.label} seed {job.seed} {job.metric}: {err}")
    if res.interrupted is not None:
        print(f"stopped by signal {res.interrupted}: finished records are kept; re-run the same command to finish.",
              file=sys.stderr)
    elif args.out:
        from .sweep.report import write_sweep_report

        out = write_sweep_report(res, Path(args.out))
        print(f"sweep report written to {out}/ (open {out / 'index.html'})", file=sys.stderr)
    if args.export:
        export_results(res.store, args.export)
    return res.exit_code()
