"""The ``ganeval`` command line: thin argparse subcommands (parse -> call -> print / exit code).

Exit codes: 0 success, 1 a gate found a regression, 2 a user error (bad input, named in one line).
"""

from __future__ import annotations

import argparse
import errno
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .cli_common import add_eval_flags, eval_kwargs, load_kwargs, load_options, parse_options  # noqa: F401  (re-exported)
from .errors import GanevalError

Handler = Callable[[argparse.Namespace], int]


def _report(args: argparse.Namespace) -> int:
    from .compare import diagnose_runs, evaluate_items, expand
    from .outputs import check_output_dir
    from .report import report_json, terminal_summary, write_report
    from .report.writer import make_groups
    from .results import dumps

    kwargs = eval_kwargs(args)  # flag errors before any file is read
    out = Path(args.out) if args.out else Path("reports") / Path(args.paths[0]).stem
    check_output_dir(out, "--out")
    items = expand(args.paths)
    evs = evaluate_items(items, args.data, **kwargs)
    # The run diagnosis loads the same checkpoints: with the same trust, latent, range and feature flags.
    data = evs[0].dataset if evs[0].dataset is not None else args.data
    no_rows = args.data is None  # a statistics file alone: nothing for the run diagnosis to compare with
    diags = {} if args.no_diagnostics or no_rows else diagnose_runs(
        items, data, seed=args.seed, device=args.device, n_samples=args.n_samples, load=load_options(args))
    # --- paired comparison of the checkpoints (ganeval/report/paired_section.py), on the samples just scored
    paired = None
    if not args.no_paired and not no_rows and len(evs) > 1:
        from .report.writer import compute_paired

        paired = compute_paired(evs, items, expensive=args.paired_all, device=args.device,
                                extractor_options=kwargs.get("extractor_options"))
    # --- end of paired comparison
    write_report(evs, out, items=items, diagnoses=diags, paired=paired if paired is not None else False)
    if args.json:
        print(dumps(report_json(evs, make_groups(evs, items, diags), paired)))
    else:
        print(terminal_summary(evs, [it.label for it in items]))
        for run, d in diags.items():
            print(f"{run}: " + (f"no diagnosis ({d})" if isinstance(d, Exception) else
                                f"{d.verdict.upper()} (confidence {d.confidence:.2f}): {d.summary}"))
        if paired is not None:
            print("\n" + (f"No paired comparison: {paired}." if isinstance(paired, str) else paired.text()))
    print(f"report written to {out}/ (open {out / 'index.html'})", file=sys.stderr)
    return 0


def _datasets(args: argparse.Namespace) -> int:
    from .data import list_datasets

    for name, desc in list_datasets().items():
        print(f"{name:16s} {desc}")
    return 0


def _metrics(args: argparse.Namespace) -> int:
    from .registry import METRICS, list_metrics

    for name, desc in list_metrics().items():
        print(f"{name:16s} [{'/'.join(METRICS[name].kinds)}] {desc}")
        if args.verbose:
            spec = METRICS[name]
            better = ", ".join(f"{f} {d} is better" for f, d in spec.directions.items())
            for label, text in (("better", better), ("citation", spec.citation)):
                if text:
                    print(f"{'':16s}   {label}: {text}")
            for key, opt in spec.options.items():
                print(f"{'':16s}   --option {name}.{key}=... ({_type_names(opt)}, default {opt.default!r}) {opt.help}")
    return 0


def _type_names(opt: Any) -> str:
    return "/".join(getattr(t, "__name__", str(t)) for t in opt.types())


DEMO_PRESETS = ("healthy", "collapsed", "oscillating")


def _demo_run_is_cached(out: Path, config: dict[str, Any]) -> bool:
    """A finished run in ``out`` trained with exactly ``config``."""
    import json

    try:
        done = json.loads((out / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return done.get("status") == "finished" and all(done.get(k) == v for k, v in config.items())


def _demo(args: argparse.Namespace) -> int:
    """The main job on the embedded default: train the three ring8 presets (cached) and report on them."""
    from reference_trainers.presets import preset_config
    from reference_trainers.train import train

    runs = Path(args.runs)
    paths = []
    for preset in DEMO_PRESETS:
        out = runs / f"ring8-{preset}-seed{args.seed}"
        cfg = preset_config(preset, "ring8", seed=args.seed, steps=args.steps)
        if _demo_run_is_cached(out, cfg.to_dict()):
            print(f"ring8 {preset:12s} cached in {out}", file=sys.stderr)
        else:
            print(f"ring8 {preset:12s} training into {out} ...", file=sys.stderr)
            res = train(cfg, out, overwrite=True)
            print(f"ring8 {preset:12s} trained in {res.runtime_s:.0f} s", file=sys.stderr)
        paths.append(str(out))
    report_args = build_parser().parse_args(
        ["report", *paths, "--data", "ring8", "--out", args.out, "--seed", str(args.seed), "--device", args.device])
    return int(report_args.handler(report_args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ganeval", description="Score GAN checkpoints and diagnose GAN runs.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"ganeval {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("report", help="evaluate checkpoint(s) or run folder(s) and write a report folder",
                       description="Evaluate checkpoints (a run folder expands to its checkpoints, ordered by step) "
                       "and write index.html (self-contained), report.json, metrics.csv and PNG figures.")
    p.add_argument("paths", nargs="+", help="checkpoint file(s), samples (.npy/.npz), image folder(s) or run folder(s)")
    add_eval_flags(p, optional_data=True)  # --reference stats.npz: FID without the images
    p.add_argument("--out", default=None, help="report folder (default reports/<name>)")
    p.add_argument("--json", action="store_true", help="print the report JSON on stdout instead of the summary table")
    p.add_argument("--no-diagnostics", action="store_true", help="skip the run diagnosis of run folders")
    p.add_argument("--no-paired", action="store_true",
                   help="skip the paired comparison of two or more checkpoints (each against the best, "
                        "P(best), rank intervals; 200+ joint bootstrap replicates on the samples already drawn)")
    p.add_argument("--paired-all", action="store_true",
                   help="also pair is, and fid, kid, prdc on features wider than 512 (a second extractor pass; "
                        "a FID replicate costs about a second per checkpoint there)")
    p.set_defaults(handler=_report)

    p = sub.add_parser("demo", help="the main job on the embedded default: train the ring8 presets "
                                    "(healthy, collapsed, oscillating; cached) and report on them (no download)")
    p.add_argument("--out", default="reports/demo", help="report folder (default reports/demo)")
    p.add_argument("--runs", default="runs/demo", help="where the preset runs are trained / cached (default runs/demo)")
    p.add_argument("--steps", type=int, default=None, help="generator steps per run (default: each preset's own)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.set_defaults(handler=_demo)

    from .cli_gate import add_parser as add_gate_parsers

    add_gate_parsers(sub)

    from .cli_train import add_parser as add_train_parser
    add_train_parser(sub)
    p = sub.add_parser("datasets", help="list the built-in datasets")
    p.set_defaults(handler=_datasets)
    p = sub.add_parser("metrics", help="list the metrics")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="also each metric's options (types, defaults), better directions and citation")
    p.set_defaults(handler=_metrics)
    from .cli_diagnose import add_parser as add_diagnose
    add_diagnose(sub)
    from .cli_sweep import add_parser as add_sweep_parser
    add_sweep_parser(sub)
    from .cli_compare import add_parser as add_compare_parsers
    add_compare_parsers(sub)  # compare, plan, sensitivity
    from .cli_checkpoints import add_parser as add_checkpoint_parsers
    add_checkpoint_parsers(sub)  # wrap, inspect
    from .cli_stats import add_parser as add_stats_parser
    add_stats_parser(sub)  # stats
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ganeval`` console script."""
    from .cli_checkpoints import join_range_values, warnings_to_stderr

    parser = build_parser()
    args = parser.parse_args(join_range_values(sys.argv[1:] if argv is None else list(argv)))
    try:
        with warnings_to_stderr():
            return int(args.handler(args))
    except GanevalError as exc:
        print(f"ganeval: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in _WRITE_ERRNOS:
            raise
        # The disk, the quota or a file-size limit ran out while writing: every writer writes to a
        # temporary name and renames, so nothing partial is left; say so in one line.
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"ganeval: error: cannot write{where}: {exc.strerror}; free space or raise the limit, then re-run "
              "(nothing partial was left).", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ganeval: interrupted", file=sys.stderr)
        return 130


_WRITE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
