"""``ganeval compare``, ``ganeval plan`` and ``ganeval sensitivity``: which model is better, and how sure.

* ``compare A B [C ...]``: paired comparison with common random numbers (:mod:`ganeval.paired`).
* ``plan A [B] --metric fid --delta 1.0``: the N needed to resolve a difference of delta.
* ``sensitivity``: the smallest known-answer change each metric detects on this data.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .cli_common import add_eval_flags, load_options, parse_options
from .errors import GanevalError


def _common(args: argparse.Namespace) -> dict[str, Any]:
    opts = load_options(args)
    return dict(features=opts.features, device=opts.device, extractor_options=opts.extractor_options,
                data_root=opts.data_root, download=opts.download, options=parse_options(getattr(args, "option", [])))


def _models(paths: list[str], names: str | None) -> Any:
    if names is None:
        return paths
    labels = [s.strip() for s in names.split(",")]
    if len(labels) != len(paths):
        raise GanevalError(f"--names has {len(labels)} names for {len(paths)} models; give one per model.")
    return dict(zip(labels, paths))


def _write(path: str, text: str) -> None:
    from .gate import write_atomic

    write_atomic(path, text)
    print(f"written to {path}", file=sys.stderr)


def _compare(args: argparse.Namespace) -> int:
    from .paired import compare_models
    from .results import dumps

    opts = load_options(args)
    df, comp = compare_models(_models(args.models, args.names), args.data, metrics=args.metrics,
                              n_samples=args.n_samples, seed=args.seed, n_bootstrap=args.bootstrap,
                              confidence=args.confidence, batch_size=opts.batch_size, labels=opts.labels,
                              return_comparison=True, **_common(args), **opts.generator_kwargs())
    if args.csv:
        _write(args.csv, df.to_csv(index=False))
    print(dumps(comp.to_dict()) if args.json else comp.text())
    return 0


def _plan(args: argparse.Namespace) -> int:
    from .paired.plan import plan
    from .results import dumps

    opts = load_options(args)
    ns = [int(x) for x in args.ns.split(",")] if args.ns else None
    res = plan(_models(args.models, args.names), args.data, metric=args.metric, field=args.field, delta=args.delta,
               ns=ns, n_bootstrap=args.bootstrap, confidence=args.confidence, power=args.power, seed=args.seed,
               batch_size=opts.batch_size, **_common(args), **opts.generator_kwargs())
    if args.figure:
        res.save_figure(args.figure)
        print(f"fit figure written to {args.figure}", file=sys.stderr)
    print(dumps(res.to_dict()) if args.json else res.text())
    return 0


def _sensitivity(args: argparse.Namespace) -> int:
    from .paired.sensitivity import sensitivity

    res = sensitivity(args.data, metrics=args.metrics, n_samples=args.n_samples, n_bootstrap=args.bootstrap,
                      confidence=args.confidence, seed=args.seed, **_common(args))
    if args.csv:
        _write(args.csv, res.table().to_csv())
    print(res.markdown() if args.markdown else res.text())
    return 0


def _stat_flags(p: argparse.ArgumentParser, bootstrap: int) -> None:
    p.add_argument("--bootstrap", type=int, default=bootstrap, help=f"joint bootstrap replicates (default {bootstrap})")
    p.add_argument("--confidence", type=float, default=0.95, help="interval level (default 0.95)")


def add_parser(subparsers: Any) -> None:
    """Register ``compare``, ``plan`` and ``sensitivity`` on the ``ganeval`` subparsers."""
    p = subparsers.add_parser(
        "compare", help="which model is better, and how sure: paired differences, p-values, rank probabilities",
        description="Score every model on the same latent rows and reference rows, then resample both jointly "
        "for all models: each pair's difference with its interval and p-value (Holm-adjusted for more than two "
        "models), each model's probability of ranking first and its rank interval.")
    p.add_argument("models", nargs="+", help="checkpoints, samples files or run folders (their last checkpoint)")
    add_eval_flags(p)
    p.add_argument("--names", default=None, help="comma-separated names for the models (default: file names)")
    _stat_flags(p, 1000)
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.add_argument("--csv", default=None, help="also write the long table (ganeval.compare_models's DataFrame) here")
    p.set_defaults(handler=_compare)

    p = subparsers.add_parser(
        "plan", help="how many samples resolve a difference of delta (pilot runs, fitted spread law)",
        description="Pilot evaluations at a few N; fits spread^2 = a/N + b to the bootstrap spread of the metric "
        "(one model) or of the paired difference (two models) and prints the N whose 95%% interval half-width is "
        "delta, the N for 80%% power, and FID's bias at that N.")
    p.add_argument("models", nargs="+", help="one model (its value's precision) or two (their difference)")
    add_eval_flags(p, gate=True)
    p.add_argument("--names", default=None, help="comma-separated names for the models")
    p.add_argument("--field", default=None, help="the metric's field (default its first, e.g. value)")
    p.add_argument("--delta", type=float, required=True, help="the difference to resolve, in the metric's units")
    p.add_argument("--ns", default=None, help="comma-separated pilot sizes (default: 1/4, 1/2, 1 and 2 x the "
                   "data's default N)")
    p.add_argument("--power", type=float, default=0.8, help="power for the second line (default 0.8)")
    p.add_argument("--figure", default=None, help="write the fit as a PNG here")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    _stat_flags(p, 200)
    p.set_defaults(handler=_plan, metric="fid")

    p = subparsers.add_parser(
        "sensitivity", help="the smallest known-answer change (dropped classes, noise, blur, copies, shrinking) "
        "each metric detects on your data",
        description="Apply known changes to held-out real rows of the dataset and report, per metric, the smallest "
        "change detected by a paired test at the default N and whether the metric moves the right way (worse).")
    add_eval_flags(p)
    _stat_flags(p, 200)
    p.add_argument("--markdown", action="store_true", help="print only the Markdown table")
    p.add_argument("--csv", default=None, help="also write the table as CSV here")
    p.set_defaults(handler=_sensitivity)


__all__ = ["add_parser"]
