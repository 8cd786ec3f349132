"""The command line's shared flags: what to evaluate and how to load it.

``report``, ``baseline``, ``gate`` (and any new subcommand that evaluates) take the same flags
from :func:`add_eval_flags`; :func:`eval_kwargs` / :func:`load_kwargs` turn them into keyword
arguments of :func:`ganeval.evaluate`, through one :class:`ganeval.options.LoadOptions`.
To add a loading flag, see :mod:`ganeval.options`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from .errors import GanevalError
from .options import LoadOptions


def add_load_flags(p: argparse.ArgumentParser, *, range_check: bool = True) -> None:
    """The flags that say how a checkpoint is loaded: trust, latent spec, factory, output range.

    Every command that loads generators takes them (``report``, ``gate``, ``diagnose``, ...), so a
    checkpoint reads the same way everywhere; :func:`load_options` collects them.
    """
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="allow loading pickled modules / factories outside the allow-list (runs their code)")
    p.add_argument("--latent-dim", type=int, default=None, help="latent size when the checkpoint does not say")
    p.add_argument("--latent-dist", choices=["normal", "uniform"], default=None, help="latent distribution")
    from .cli_checkpoints import add_generator_flags

    add_generator_flags(p, range_check=range_check)  # --factory ..., --output-range, --latent-range, --no-range-check


def add_eval_flags(p: argparse.ArgumentParser, *, gate: bool = False, optional_data: bool = False) -> None:
    """The flags that say what to evaluate and how: data, features, sampling, loading.

    ``gate=True`` (``baseline`` / ``gate``) takes one ``--metric`` instead of ``--metrics`` and
    ``--option``, since a baseline records exactly one metric. ``optional_data=True`` (``report``)
    lets ``--data`` be left out when ``--reference`` names a statistics file (its FID needs no images).
    """
    p.add_argument("--data", required=not optional_data, help="dataset name (see `ganeval datasets`) or path"
                   + ("; may be left out with --reference stats.npz (fid and is only)" if optional_data else ""))
    p.add_argument("--data-root", default=None, help="folder holding MNIST / CIFAR-10 files")
    p.add_argument("--download", action="store_true", help="allow downloading the dataset (torchvision)")
    if gate:
        p.add_argument("--metric", default=None, help="the gated metric (default fid)")
    else:
        p.add_argument("--metrics", default=None, help="comma-separated metric names (see `ganeval metrics`)")
    p.add_argument("--features", default=None, help="feature extractor: inception, digits, mnist, raw (default: "
                   "raw for mixtures, the digits / MNIST CNN for digits / MNIST, inception otherwise)")
    p.add_argument("--inception-weights", default=None, help="path to torch-fidelity's Inception weights (offline)")
    p.add_argument("--memory-budget", type=float, default=None, metavar="MIB",
                   help="workspace bound of the chunked metrics (parzen, memorisation, prdc) in MiB "
                   "(default: 512 MiB, less on machines under 8 GiB)")
    p.add_argument("--download-weights", action="store_true",
                   help="allow downloading a feature extractor's weights when no local copy is found")
    p.add_argument("--n-samples", type=int, default=None, help="samples to draw (default depends on the data"
                   + ("; the gate's must match the baseline)" if gate else ")"))
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default auto)")
    p.add_argument("--batch-size", type=int, default=1024, help="sampling batch size")
    add_load_flags(p)
    from .cli_conditional import add_conditional_flags

    add_conditional_flags(p)  # --num-classes, --label-input, --labels, --classifier
    from .cli_images import add_image_flags

    add_image_flags(p, gate=gate)  # --resize, --dinov2-weights, --clip-weights, --stream, --reference
    if not gate:
        p.add_argument("--option", action="append", default=[], metavar="METRIC.KEY=VALUE",
                       help="a metric option, e.g. parzen.refine=4 or ndb.bins=50 (repeatable; values parsed as JSON)")


def load_options(args: argparse.Namespace) -> LoadOptions:
    """The :class:`LoadOptions` that the flags of :func:`add_eval_flags` set."""
    return LoadOptions.from_args(args)


def load_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The loading and sampling keyword arguments that :func:`add_eval_flags` sets (features aside)."""
    kw = load_options(args).eval_kwargs()
    kw.pop("features")  # passed on its own: the gate checks it against the baseline's
    return kw


def parse_options(items: list[str]) -> dict[str, dict[str, Any]]:
    """``["parzen.refine=4", "ndb.bins=50"]`` -> ``{"parzen": {"refine": 4}, "ndb": {"bins": 50}}``.

    Values are read as JSON where they parse (numbers, lists, true/false), else kept as strings.

    Raises:
        GanevalError: an item without ``METRIC.KEY=VALUE`` form.
    """
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        metric, dot, name = key.partition(".")
        if not (sep and dot and metric and name):
            raise GanevalError(f"--option {item!r}: expected METRIC.KEY=VALUE, e.g. parzen.refine=4.")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        out.setdefault(metric.strip(), {})[name.strip()] = value
    return out


def eval_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`ganeval.evaluate` that the common flags set."""
    from .cli_images import image_eval_kwargs

    options = parse_options(getattr(args, "option", []))
    budget = getattr(args, "memory_budget", None)
    if budget is not None and not (budget > 0 and budget < float("inf")):
        raise GanevalError(f"--memory-budget {budget}: give a positive number of MiB, e.g. 512.")
    return dict(metrics=args.metrics, features=args.features, n_samples=args.n_samples, seed=args.seed,
                memory_budget=None if budget is None else budget * 2**20, options=options, **image_eval_kwargs(args, options), **load_kwargs(args))


__all__ = ["add_eval_flags", "add_load_flags", "eval_kwargs", "load_kwargs", "load_options", "parse_options"]
