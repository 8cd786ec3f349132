"""Cost per checkpoint of each metric at the default N, beside its arithmetic floor, for planning sweeps.

    .venv/bin/python benchmarks/costs.py [--only ring8,digits,mnist,cifar] [--inception-images 16]

Four settings, each at ganeval's default sample count (``evaluate.default_n_samples``) with the
reference side the same size: ring8 (2,500 2-d points, raw features), digits (the 300-image test split of
scikit-learn's digits, 128-d features of the shipped CNN), MNIST (10,000 28x28 images, 128-d
features of the shipped CNN) and CIFAR-sized images (10,000 32x32 RGB images, 2048-d Inception
features). Data and features are synthetic of the right shapes (costs do not depend on values);
feature extraction is timed on real networks (the shipped digit CNNs; Inception with random
weights, ``--inception-images`` images timed and scaled to N). The FID interval at 2048-d is
projected from 2 replicates. Each line prints seconds, the floor (FLOPs of the dominant products
over the float32 matmul rate measured in the same run) and the ratio.

Per checkpoint means the generated side: reference features are computed once and cached.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nearest import machine_line, matmul_gflops  # noqa: E402

from ganeval.metrics import fid, kid, mode_coverage, prdc  # noqa: E402


def conv_flops(net: nn.Module, x: torch.Tensor) -> float:
    """Multiply-adds x 2 of every convolution and linear layer for one forward pass of ``x``."""
    total = [0.0]

    def hook(mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        w = mod.weight
        total[0] += 2.0 * out.numel() * (w[0].numel() if isinstance(mod, nn.Conv2d) else w.shape[1])

    hs = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        net(x)
    for h in hs:
        h.remove()
    return total[0]


def fast_inception_flops() -> float:
    """FLOPs of one 299x299 Inception-v3 pass (torch-fidelity's module, counted by hooks)."""
    from ganeval.features.inception import inception_module

    return conv_flops(inception_module(None), torch.zeros(1, 3, 299, 299, dtype=torch.uint8))


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def line(name: str, seconds: float, flops: float, rate: float, note: str = "") -> None:
    floor = flops / (rate * 1e9)
    ratio = seconds / max(floor, 1e-9)
    print(f"  {name:34s} {seconds:9.2f} s   floor {floor:8.3f} s   {ratio:7.1f}x  {note}" if ratio < 10 else
          f"  {name:34s} {seconds:9.2f} s   floor {floor:8.3f} s   {ratio:7.0f}x  {note}", flush=True)


def metrics_block(real: torch.Tensor, fake: torch.Tensor, rate: float, interval: bool) -> None:
    n, d = fake.shape
    cov = 2 * n * d * d  # two syrk-style covariances
    eig = 3 * d**3       # Cholesky, congruence, tridiagonal reduction (about 2.7 d^3)
    line("fid (point estimate)", timed(lambda: fid(real, fake, bootstrap=0)), cov + eig, rate)
    if interval and d > 256:
        from fid_interval import interval_cost

        setup, per = interval_cost(real, fake, fid(real, fake, bootstrap=0).value)
        line("fid interval (100 replicates)", setup + 100 * per, 100 * (0.632 * cov + eig), rate,
             f"(set-up {setup:.1f} s + 100 x the mean of 2)")
    elif interval:
        line("fid interval (100 replicates)", timed(lambda: fid(real, fake, bootstrap=100)) -
             timed(lambda: fid(real, fake, bootstrap=0)), 100 * (0.632 * cov + eig), rate)
    m = min(1000, n)
    line("kid (100 subsets of 1000)", timed(lambda: kid(real, fake, clip_subset_size=True)), 100 * 3 * 2 * m * m * d, rate)
    line("prdc (k=5)", timed(lambda: prdc(real, fake)), 3 * 2 * n * n * d, rate)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="ring8,digits,mnist,cifar")
    p.add_argument("--inception-images", type=int, default=16)
    args = p.parse_args()
    print(machine_line())
    rate = matmul_gflops()
    print(f"float32 4096x4096 matmul: {rate:.0f} GFLOP/s (floors below use it)")
    g = torch.Generator().manual_seed(0)
    want = args.only.split(",")
    if "ring8" in want:
        n = 2500
        print(f"\nring8: N = {n:,} per side, 2-d raw features")
        ang = torch.rand(n, generator=g) * 2 * np.pi
        fake = torch.stack([ang.cos(), ang.sin()], 1) + 0.01 * torch.randn(n, 2, generator=g)
        real = fake[torch.randperm(n, generator=g)] + 0.01 * torch.randn(n, 2, generator=g)
        means = torch.stack([torch.cos(torch.arange(8) * np.pi / 4), torch.sin(torch.arange(8) * np.pi / 4)], 1)
        line("mode_coverage", timed(lambda: mode_coverage(fake, means, 0.01)), 2 * n * 8 * 2, rate)
        metrics_block(real, fake, rate, True)
    for name, n, shape in (("digits", 300, (1, 8, 8)), ("mnist", 10_000, (1, 28, 28))):
        if name not in want:
            continue
        from ganeval.features import get_extractor
        from ganeval.features.digits_cnn import build

        ext = get_extractor(name, device="cpu")
        x = torch.rand(n, *shape, generator=g)
        print(f"\n{name}: N = {n:,} per side, 128-d features of the shipped CNN")
        t = time.perf_counter()
        fake = ext(x)
        line(f"features ({name} CNN)", time.perf_counter() - t, n * conv_flops(build(name).eval(), x[:1]), rate)
        real = fake[torch.randperm(n, generator=g)] + 0.1 * torch.randn(n, fake.shape[1], generator=g)
        metrics_block(real, fake, rate, True)
    if "cifar" in want:
        from inception import random_state_dict

        from ganeval.features.inception import inception_module
        from ganeval.features.inception_fast import fast_inception

        n, k = 10_000, args.inception_images
        print(f"\nCIFAR-sized: N = {n:,} per side, 32x32 RGB, 2048-d Inception features")
        sd = random_state_dict()
        imgs = torch.randint(0, 256, (k, 3, 32, 32), generator=g, dtype=torch.uint8)
        flops = fast_inception_flops()
        fast, tfi = fast_inception(sd), inception_module(sd)
        fast(imgs[:2])
        t_fast = timed(lambda: fast(imgs))
        with torch.no_grad():
            tfi(imgs[:2])
            t_tfi = timed(lambda: tfi(imgs))
        line("features (ganeval Inception)", t_fast / k * n, n * flops, rate, f"(from {k} images)")
        line("features (torch-fidelity Inception)", t_tfi / k * n, n * flops, rate, f"(from {k} images)")
        from fid_interval import synthetic

        real, fake = synthetic(n, 2048, 0)
        metrics_block(real, fake, rate, True)
    print(f"\nfloat32 matmul after: {matmul_gflops():.0f} GFLOP/s")


if __name__ == "__main__":
    main()
