"""``ganeval diagnose RUN_DIR``: say what happened in a training run, with the evidence.

Exit code 0 whatever the verdict (a verdict is a finding, not a failure); 2 for unusable input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli_common import add_load_flags, load_options


def _diagnose(args: argparse.Namespace) -> int:
    from .diagnostics import diagnose

    modes: dict[str, bool | str] = {"auto": "auto", "on": True, "off": False}
    optimal_d, use_ckpt = modes[args.optimal_d], modes[args.checkpoints]
    d = diagnose(args.run_dir, data=args.data, n_samples=args.n_samples, seed=args.seed, device=args.device,
                 use_checkpoints=use_ckpt, max_checkpoints=args.max_checkpoints, optimal_d=optimal_d,
                 metrics=[m.strip() for m in (args.metrics or "").split(",") if m.strip()],
                 load=load_options(args))
    if args.figures:
        from .report.fig_diagnostics import run_figures
        from .report.plots import save

        out = Path(args.figures)
        out.mkdir(parents=True, exist_ok=True)
        for stem, fig, _caption in run_figures(d):
            save(fig, out / f"{stem}.png")
    if args.json:
        print(d.to_json())
    else:
        print(d.text())
        if args.figures:
            print(f"figures written to {args.figures}/", file=sys.stderr)
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Register ``ganeval diagnose`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "diagnose", help="verdict on a training run (healthy, collapsed, oscillating, vanishing, diverged)",
        description="Read a run folder (history.csv and/or checkpoints/) and say what happened in training: "
                    "healthy, collapsed, oscillating, vanishing, diverged or inconclusive, with the evidence.")
    p.add_argument("run_dir", help="run folder: history.csv / history.jsonl, checkpoints/, config.json")
    p.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    p.add_argument("--data", default=None, help="dataset name or path (default: config.json's 'data')")
    p.add_argument("--checkpoints", choices=["auto", "on", "off"], default="auto",
                   help="score each checkpoint (auto: when the history lacks coverage or D columns)")
    p.add_argument("--max-checkpoints", type=int, default=40, help="most checkpoints scored (evenly spaced)")
    p.add_argument("--optimal-d", choices=["auto", "on", "off"], default="auto",
                   help="compare the stored discriminator with D* = p_data / (p_data + p_g) (mixtures)")
    p.add_argument("--metrics", default=None,
                   help="more metrics to score at every checkpoint and plot against the step, e.g. fid (images)")
    p.add_argument("--n-samples", type=int, default=2500, help="samples per checkpoint (default 2500)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default auto)")
    p.add_argument("--figures", default=None, metavar="DIR", help="also write the trajectory plots (PNG) into DIR")
    add_load_flags(p, range_check=False)  # checkpoints load as `ganeval report` loads them
    p.set_defaults(handler=_diagnose)
    return p
