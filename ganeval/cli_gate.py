"""``ganeval baseline`` and ``ganeval gate``: a CI regression gate on FID (or another interval metric).

Exit codes of ``gate``: 0 pass, 1 regression, 2 error (missing or malformed baseline, mismatched
data / metric / features / N, unreadable checkpoint).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .cli_common import add_eval_flags, load_kwargs
from .errors import GanevalError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint file, samples (.npy/.npz), image or run folder (its last step)")
    add_eval_flags(p, gate=True)


def _baseline(args: argparse.Namespace) -> int:
    from .gate import headline_baseline, make_baseline, save_baseline
    from .outputs import check_output_file

    check_output_file(args.output, "-o")
    b = make_baseline(args.checkpoint, args.data, metric=args.metric or "fid", seed=args.seed,
                      n_samples=args.n_samples, features=args.features, bootstrap=args.bootstrap,
                      confidence=args.confidence, keep_checkpoint=args.keep_checkpoint, **load_kwargs(args))
    save_baseline(b, args.output)
    print(headline_baseline(b))
    print(f"baseline written to {args.output}", file=sys.stderr)
    return 0


def _gate(args: argparse.Namespace) -> int:
    from .gate import headline, run_gate, write_outputs
    from .outputs import check_output_file
    from .results import dumps

    check_output_file(args.junit, "--junit")
    check_output_file(args.summary, "--summary")
    try:
        res = run_gate(args.checkpoint, args.data, args.baseline, metric=args.metric,
                       max_increase=args.max_increase, max_rel_increase=args.max_rel_increase, seed=args.seed,
                       n_samples=args.n_samples, features=args.features, **load_kwargs(args))
    except GanevalError as exc:
        write_outputs(None, junit=args.junit, summary=args.summary, error=str(exc))
        raise
    write_outputs(res, junit=args.junit, summary=args.summary)
    print(dumps(res.to_dict()) if args.json else headline(res) + "\n  " + res.decision.rule)
    return 0 if res.passed else 1


def add_parser(subparsers: Any) -> None:
    """Register ``baseline`` and ``gate`` on the ``ganeval`` subparsers."""
    p = subparsers.add_parser("baseline", help="record a checkpoint's FID (with its bootstrap interval) as the "
                              "gate's baseline",
                              description="Evaluate a metric with its bootstrap interval and write the baseline JSON "
                              "that `ganeval gate` compares with.")
    _common(p)
    p.add_argument("-o", "--output", required=True, help="baseline JSON to write")
    p.add_argument("--bootstrap", type=int, default=None, help="bootstrap replicates for the interval (default 200)")
    p.add_argument("--confidence", type=float, default=None, help="interval level (default 0.99)")
    p.add_argument("--keep-checkpoint", action="store_true", help="record the checkpoint's path: while it stays "
                   "readable the gate runs a paired test against it (same latents and reference rows)")
    p.set_defaults(handler=_baseline)

    p = subparsers.add_parser("gate", help="fail (exit 1) when a checkpoint's FID regressed beyond the baseline's "
                              "interval",
                              description="Evaluate the checkpoint as the baseline was (same N, features, bootstrap) "
                              "and fail only when its whole interval lies above the baseline's interval plus the "
                              "tolerance. Exit 0 pass, 1 regression, 2 error.")
    _common(p)
    p.add_argument("--baseline", required=True, help="baseline JSON written by `ganeval baseline`")
    tol = p.add_mutually_exclusive_group()
    tol.add_argument("--max-increase", type=float, default=None, help="absolute tolerance added to the baseline's "
                     "upper end (default 0)")
    tol.add_argument("--max-rel-increase", type=float, default=None, help="tolerance as a fraction of the "
                     "baseline value (0.1 = 10%%)")
    p.add_argument("--junit", default=None, help="write a JUnit XML report here")
    p.add_argument("--summary", default=None, help="append a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=_gate)
