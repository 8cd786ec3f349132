"""Command-line flags of the image protocols: resize mode, DINOv2 / CLIP weights, reference
statistics files and streaming (added to every evaluating command by :func:`add_image_flags`)."""

from __future__ import annotations

import argparse
from typing import Any


def add_image_flags(p: argparse.ArgumentParser, *, gate: bool = False) -> None:
    """``--resize``, ``--dinov2-weights``, ``--clip-weights``, ``--stream/--no-stream`` and (not for
    the gate) ``--reference``."""
    p.add_argument("--resize", choices=["legacy-tf", "clean"], default=None,
                   help="Inception's resize: legacy-tf (torch-fidelity / the original FID, default) or clean "
                        "(clean-fid's PIL bicubic); FIDs of different modes are different numbers")
    p.add_argument("--dinov2-weights", default=None, help="DINOv2 ViT-L/14 weights file (--features dinov2)")
    p.add_argument("--clip-weights", default=None, help="CLIP ViT-L/14@336px weights file (--features clip, cmmd)")
    p.add_argument("--stream", dest="stream", action="store_true", default=None,
                   help="stream samples through the extractors in batches (running statistics + a reservoir); "
                        "default: for image runs above 10,000 samples")
    p.add_argument("--no-stream", dest="stream", action="store_false", help="hold every sample in memory")
    if not gate:
        p.add_argument("--reference", default=None, metavar="SPLIT_OR_STATS",
                       help="the reference of fid, kid, prdc and cmmd: a split (train, val, test, train+val, all), "
                            "or for fid a statistics .npz from `ganeval stats`, pytorch-fid or clean-fid")


def image_extractor_options(args: argparse.Namespace) -> dict[str, Any]:
    """Extractor options set by :func:`add_image_flags`."""
    out: dict[str, Any] = {}
    for flag in ("resize", "dinov2_weights", "clip_weights"):
        value = getattr(args, flag, None)
        if value:
            out[flag] = value
    return out


def image_eval_kwargs(args: argparse.Namespace, options: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``stream=`` for :func:`ganeval.evaluate`, and ``--reference`` folded into ``options`` (in place)."""
    ref = getattr(args, "reference", None)
    if ref:  # a split serves every reference-based metric; a statistics file serves FID only
        for metric in ("fid",) if str(ref).endswith(".npz") else ("fid", "kid", "prdc", "cmmd"):
            options.setdefault(metric, {}).setdefault("reference", ref)
    return {"stream": getattr(args, "stream", None)}
