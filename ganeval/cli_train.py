"""``ganeval train``: run a reference trainer preset or a custom configuration into a run folder.

    ganeval train --preset healthy --data ring8 --seed 0 --out runs/ring8-healthy
    ganeval train --loss minimax --k 5 --lr-g 1e-4 --lr-d 1e-2 --data ring8 --out runs/custom

``reference_trainers`` is imported only when the command runs (ganeval never depends on it at
import time, DESIGN.md §1).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``train`` subcommand on an ``argparse`` subparsers object."""
    p = subparsers.add_parser(
        "train", help="train a reference GAN (a preset or a custom config) into a run folder",
        description="Train a reference GAN with Algorithm 1 of Goodfellow et al. (2014) and write a run folder "
                    "(config.json, history.csv, checkpoints/). Presets: healthy, collapsed, oscillating "
                    "(see docs/trainers.md).")
    p.add_argument("--preset", default=None, help="healthy, collapsed or oscillating (tuned per dataset)")
    p.add_argument("--data", required=True, help="dataset name: ring8, grid25, digits, ... (or a path)")
    p.add_argument("--data-root", default=None, help="folder holding MNIST / CIFAR-10 files")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--out", required=True, help="run folder to write")
    p.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    p.add_argument("--steps", type=int, default=None, help="generator steps (default: the preset's, or 2000)")
    p.add_argument("--loss", choices=["minimax", "nonsaturating"], default=None,
                   help="generator loss (default nonsaturating)")
    p.add_argument("--k", type=int, default=None, help="discriminator steps per generator step (default 1)")
    p.add_argument("--lr-g", type=float, default=None, help="generator learning rate")
    p.add_argument("--lr-d", type=float, default=None, help="discriminator learning rate")
    p.add_argument("--lr-decay-to", type=float, default=None,
                   help="decay both learning rates geometrically to this fraction by the last step")
    p.add_argument("--batch-size", type=int, default=None, help="minibatch size")
    p.add_argument("--instance-noise", type=float, default=None,
                   help="std of Gaussian noise added to D's inputs, fading linearly to 0")
    p.add_argument("--instance-noise-until", type=float, default=None,
                   help="fraction of the run at which the instance noise reaches 0 (default 0.5)")
    p.add_argument("--ema", type=float, default=None,
                   help="checkpoint an exponential moving average of G's weights with this decay (e.g. 0.999)")
    p.add_argument("--fused", action=argparse.BooleanOptionalAction, default=None,
                   help="one D pass over real+fake and fused Adam: faster, not bit-identical to --no-fused")
    p.add_argument("--optimizer", choices=["adam", "sgd"], default=None, help="optimizer (default adam)")
    p.add_argument("--momentum", type=float, default=None, help="SGD momentum")
    p.add_argument("--g-net", default=None, help="generator network: mlp, paper_mnist")
    p.add_argument("--d-net", default=None, help="discriminator network: mlp, maxout, paper_mnist")
    p.add_argument("--log-every", type=int, default=None, help="history row every N generator steps")
    p.add_argument("--ckpt-every", type=int, default=None, help="checkpoint every N generator steps")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads for the run")
    p.set_defaults(handler=_train)
    return p


CUSTOM_FLAGS = ("loss", "k", "lr_g", "lr_d", "lr_decay_to", "batch_size", "instance_noise", "instance_noise_until",
                "ema", "fused", "optimizer", "momentum", "g_net", "d_net", "log_every", "ckpt_every", "threads")


def _train(args: argparse.Namespace) -> int:
    from reference_trainers.presets import preset_config
    from reference_trainers.train import TrainConfig, train

    from .errors import GanevalError

    given = {k: getattr(args, k) for k in CUSTOM_FLAGS if getattr(args, k) is not None}
    if args.data_root:
        given["data_root"] = args.data_root
    if args.preset:
        cfg = preset_config(args.preset, args.data, args.seed, steps=args.steps, **given)
    else:
        if args.steps is not None:
            given["steps"] = args.steps
        try:
            cfg = TrainConfig(data=args.data, seed=args.seed, **given)
        except TypeError as exc:  # pragma: no cover - flags map one-to-one onto fields
            raise GanevalError(f"Bad training option: {exc}.") from exc
    res = train(cfg, args.out, overwrite=args.overwrite)
    row = res.last_row
    shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
    print(f"trained {cfg.preset or 'custom'} on {cfg.data} (seed {cfg.seed}, {cfg.steps} steps, "
          f"{res.runtime_s:.1f} s): {shown}")
    print(f"run folder: {res.out} ({len(res.checkpoints)} checkpoints)", file=sys.stderr)
    return 0
