"""Inception-v3 images/s: ganeval's fast module against torch-fidelity's FeatureExtractorInceptionV3,
same weights, same images, one process, interleaved rounds; the same table on a CUDA device.

    .venv/bin/python benchmarks/inception.py [--n 64] [--size 32] [--rounds 3] [--device cpu|cuda]
                                             [--batch 32] [--tfi-batch 64] [--weights PATH] [--compile]
                                             [--fid-n 0]

Weights: torch-fidelity's file with ``--weights`` (or $GANEVAL_INCEPTION_WEIGHTS), otherwise a random
network of the same architecture with He-initialised convolutions and random batch-norm statistics
(live activations; the speed does not depend on the values). Images: ``--n`` random uint8 RGB images
of ``--size`` pixels (32: CIFAR-sized, resized to 299 inside both networks; 299: no resize).

Each round times torch-fidelity (batches of ``--tfi-batch``, its ``calculate_metrics`` default), then
ganeval's module (batches of ``--batch``, default chosen for the device) in float32 and, on CUDA,
the opt-in ``tf32`` and ``half`` modes; the best round of each is reported. Then the agreement:
largest relative difference of the 2048-d features, and FID between the first and second half of
the images computed from each network's features. On CUDA: peak GPU memory per network; on the CPU,
peak resident memory. ``--fid-n N`` adds FID with a 100-replicate interval on N x 2048 synthetic
features per side (point estimate timed, replicates projected from 2), the item of issue 20's GPU
table (the FID arithmetic runs on the CPU). The float32 matmul rate is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nearest import PeakRSS, machine_line, matmul_gflops, report_rate  # noqa: E402

from ganeval.features.inception import inception_module  # noqa: E402
from ganeval.features.inception_fast import default_batch_size, fast_inception  # noqa: E402
from ganeval.metrics import fid  # noqa: E402


def random_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """torch-fidelity's architecture with He-initialised convolutions and random batch-norm statistics."""
    g = torch.Generator().manual_seed(seed)
    model = inception_module(None)
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            nn.init.kaiming_normal_(mod.weight, generator=g)
        elif isinstance(mod, nn.BatchNorm2d):
            k = mod.num_features
            mod.weight.data, mod.bias.data = 0.5 + torch.rand(k, generator=g), 0.1 * torch.randn(k, generator=g)
            mod.running_mean.data, mod.running_var.data = 0.1 * torch.randn(k, generator=g), 0.5 + torch.rand(k, generator=g)
    return model.state_dict()


def run(fn, x: torch.Tensor, batch: int, dev: torch.device) -> tuple[torch.Tensor, float]:
    out = []
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    t = time.perf_counter()
    with torch.no_grad():
        for s in range(0, len(x), batch):
            out.append(fn(x[s:s + batch].to(dev, non_blocking=True)).float().cpu())
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return torch.cat(out), time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--tfi-batch", type=int, default=64)
    p.add_argument("--weights", default=os.environ.get("GANEVAL_INCEPTION_WEIGHTS"))
    p.add_argument("--compile", action="store_true", help="also time torch.compile of the fast module")
    p.add_argument("--fid-n", type=int, default=0)
    args = p.parse_args()
    dev = torch.device(args.device)
    print(machine_line() + (f"; {torch.cuda.get_device_name(dev)}" if dev.type == "cuda" else ""))
    before = matmul_gflops()
    sd = torch.load(args.weights, map_location="cpu", weights_only=True) if args.weights else random_state_dict()
    print(f"weights: {args.weights or 'random (He-initialised convolutions)'}; {args.n} images of "
          f"{args.size}x{args.size}")
    tfi = inception_module(sd).to(dev)
    batch = args.batch or default_batch_size(dev)
    nets = {"torch-fidelity": (lambda x: tfi(x)[0], args.tfi_batch)}
    modes = ["float32"] + (["tf32", "half"] if dev.type == "cuda" else [])
    def pool(net: nn.Module):
        return lambda x: net(x)["2048"]

    for mode in modes:
        nets[f"ganeval {mode}"] = (pool(fast_inception(sd, ("2048",), mode=mode, device=dev)), batch)
    if args.compile:
        net = fast_inception(sd, ("2048",), device=dev)
        comp = torch.compile(net._forward, dynamic=False)
        nets["ganeval float32 compiled"] = (lambda x: comp(x)["2048"], batch)
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (args.n, 3, args.size, args.size), generator=g, dtype=torch.uint8)
    for name, (fn, bs) in nets.items():  # warm-up (and compilation) outside the timing
        t = time.perf_counter()
        run(fn, x[:bs], bs, dev)
        if "compiled" in name:
            print(f"  (compilation and first batch: {time.perf_counter() - t:.0f} s)")
    best = {k: float("inf") for k in nets}
    feats, peak = {}, {}
    for r in range(args.rounds):
        this = {}
        for name, (fn, bs) in nets.items():
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats(dev)
            with PeakRSS() as mem:
                feats[name], this[name] = run(fn, x, bs, dev)
            peak[name] = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else mem.peak / 2**20
            best[name] = min(best[name], this[name])
        # This round's own figures (the host's load moves between rounds), then the best so far.
        print(f"  round {r + 1}: " + ", ".join(f"{k} {args.n / this[k]:.2f}" for k in nets) + " images/s; "
              f"ganeval float32 / torch-fidelity {this['torch-fidelity'] / this['ganeval float32']:.2f}x "
              f"(best so far: {best['torch-fidelity'] / best['ganeval float32']:.2f}x)", flush=True)
    ref = feats["torch-fidelity"].double()
    half = args.n // 2
    fid_ref = fid(ref[:half], ref[half:], bootstrap=0).value
    mem_name = "peak GPU MiB" if dev.type == "cuda" else "peak RSS MiB"
    print(f"\n  {'network':26s} {'batch':>5s} {'images/s':>9s} {'vs tf':>6s} {mem_name:>13s} {'feature rel.':>12s} "
          f"{'FID rel.':>9s}")
    for name, (_, bs) in nets.items():
        f = feats[name].double()
        rel = float((f - ref).abs().max() / ref.abs().max())
        fid_rel = abs(fid(f[:half], f[half:], bootstrap=0).value - fid_ref) / fid_ref
        print(f"  {name:26s} {bs:5d} {args.n / best[name]:9.2f} {best['torch-fidelity'] / best[name]:5.2f}x "
              f"{peak[name]:13.0f} {rel:12.1e} {fid_rel:9.1e}")
    if args.fid_n:
        from fid_interval import interval_cost, synthetic

        r, f = synthetic(args.fid_n, 2048, 0)
        t = time.perf_counter()
        value = fid(r, f, bootstrap=0).value
        t_point = time.perf_counter() - t
        setup, per = interval_cost(r, f, value)
        print(f"\n  FID at N = {args.fid_n:,} per side, 2048-d: point estimate {t_point:.1f} s; with a 100-replicate "
              f"interval about {t_point + setup + 100 * per:.0f} s (set-up {setup:.1f} s, replicates "
              f"timed on 2: {per:.2f} s each, on the CPU)")
    report_rate(before, matmul_gflops())


if __name__ == "__main__":
    main()
