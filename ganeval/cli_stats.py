"""``ganeval stats``: reference statistics (mean and covariance of features) to score FID against
without the images.

    ganeval stats cifar10 --data-root DATA --features inception -o cifar10-train.npz
    ganeval stats path/to/images/ -o folder.npz --resize clean
    ganeval report ckpt.pt --reference cifar10-train.npz --metrics fid      # FID without the images

The file is pytorch-fid's format (``mu``, ``sigma``) plus a ``ganeval`` entry with the provenance
(:mod:`ganeval.features.stats_files`), so pytorch-fid's ``calculate_frechet_distance`` reads it too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch


def _stats(args: argparse.Namespace) -> int:
    from .cli_images import image_extractor_options
    from .data import load_dataset
    from .errors import GanevalError
    from .features import cached_layers, default_extractor_for, get_extractor
    from .features.stats_files import record
    from .metrics.frechet import FeatureStats, save_stats

    out = Path(args.out)
    if out.suffix != ".npz":
        raise GanevalError(f"-o {out}: statistics files end in .npz.")
    dataset = load_dataset(args.data, root=args.data_root, download=args.download)
    split = args.split or ("all" if Path(str(args.data)).is_dir() and not (Path(args.data) / "train").is_dir()
                           else "train+val")
    name = args.features or default_extractor_for(dataset)
    opts = image_extractor_options(args)
    if args.inception_weights:
        opts["weights"] = args.inception_weights
    if args.batch_size:
        opts["batch_size"] = args.batch_size
    ext = get_extractor(name, device=_device(args.device), **opts)
    feats = cached_layers(ext, dataset, split)[ext.default_layer]
    st = FeatureStats.of(feats, f"{name} features of {args.data} ({split})")
    rows = dataset.split(split)  # its value range: a run scored on the file alone checks its samples against it
    save_stats(out, st.mu, st.sigma, provenance=record(ext, layer=ext.default_layer, data=str(dataset.name),
                                                        split=split, n=st.n, shape=tuple(dataset.sample_shape),
                                                        kind=dataset.kind,
                                                        value_range=(float(rows.min()), float(rows.max()))))
    print(f"{out}: {name} ({ext.default_layer}, resize {ext.resize or '-'}) statistics of {st.n} {args.data} "
          f"{split} rows, {st.dim}-d", file=sys.stderr)
    return 0


def _device(name: str) -> torch.device:
    from ._utils import resolve_device

    return resolve_device(name)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``ganeval stats``."""
    p = sub.add_parser("stats", help="write reference feature statistics (.npz, pytorch-fid format + provenance)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", help="dataset name (cifar10, mnist, ...), .npz dataset or image folder")
    p.add_argument("-o", "--out", required=True, help="the .npz to write")
    p.add_argument("--split", default=None, help="train, val, test, train+val or all (default: train+val, the "
                   "training images; all for a flat image folder)")
    p.add_argument("--features", default=None, help="feature extractor (default: the data's, as evaluations use)")
    p.add_argument("--data-root", default=None, help="folder holding MNIST / CIFAR-10 files")
    p.add_argument("--download", action="store_true", help="allow downloading the dataset (torchvision)")
    p.add_argument("--inception-weights", default=None, help="path to torch-fidelity's Inception weights (offline)")
    p.add_argument("--resize", choices=["legacy-tf", "clean"], default=None, help="Inception's resize mode")
    p.add_argument("--dinov2-weights", default=None, help="DINOv2 weights file (--features dinov2)")
    p.add_argument("--clip-weights", default=None, help="CLIP weights file (--features clip)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--batch-size", type=int, default=None, help="images per forward pass")
    p.set_defaults(handler=_stats)
