"""Parzen-window log-likelihood on 784-d data with 10,000 kernels: ganeval against the original
approach (goodfeli/adversarial ``parzen_ll.py``: numpy, one σ at a time, batches of 10 test points),
scikit-learn's KernelDensity and a plain torch ``logsumexp``-per-σ version, in one process, beside a
float32 4096x4096 matmul measured in the same run.

Two workloads: the paper protocol (10 σ in logspace(-1, 0), 1,000 validation points, 10,000 test
points scored at the chosen σ) and a 20-σ variant with 10,000 validation points. The original
approach and KernelDensity take minutes to hours here, so they are timed on a subset of points at
one σ and extrapolated linearly in (points x σ) - the output says so. Their values on the subset
are compared with ganeval's (KernelDensity's tree estimate is far off in 784-d: it is timed, not
trusted).

    .venv/bin/python benchmarks/parzen.py [--kernels 10000] [--subset 20] [--threads N] [--skip-naive]

Data and the peak-memory method are those of ``benchmarks/nearest.py`` (MNIST t10k digits made
into shifted, noisy variants when present, else synthetic images; peak RSS above the level before
each call, sampled every millisecond).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nearest import (MNIST_DEFAULT, digit_pool, machine_line, matmul_gflops, report_rate, timed,  # noqa: E402
                     variants)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def original_ll(x: np.ndarray, mu: np.ndarray, sigma: float, batch_size: int = 10) -> np.ndarray:
    """parzen_ll.py's estimator in numpy (float32 like Theano's floatX): per σ, batches of points."""
    out = []
    for a in range(0, len(x), batch_size):
        d = (x[a:a + batch_size, None, :] - mu[None, :, :]) / sigma
        e = -0.5 * (d**2).sum(2)
        m = e.max(1, keepdims=True)
        lme = m[:, 0] + np.log(np.exp(e - m).mean(1))
        out.append(lme - mu.shape[1] * np.log(sigma * np.sqrt(np.pi * 2)))
    return np.concatenate(out)


def naive_torch(val: torch.Tensor, test: torch.Tensor, kernels: torch.Tensor, sigmas: np.ndarray,
                rows: int = 500) -> float:
    """Distances recomputed per σ (torch.cdist) and torch.logsumexp: the obvious torch version."""
    def ll(x: torch.Tensor, s: float) -> torch.Tensor:
        parts = [torch.logsumexp(-torch.cdist(x[a:a + rows], kernels).square() / (2 * s * s), 1)
                 for a in range(0, len(x), rows)]
        return torch.cat(parts) - math.log(len(kernels)) - x.shape[1] * math.log(s * math.sqrt(2 * math.pi))

    curve = [float(ll(val, s).mean()) for s in sigmas]
    return float(ll(test, float(sigmas[int(np.argmax(curve))])).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kernels", type=int, default=10_000)
    ap.add_argument("--subset", type=int, default=20, help="points timed for the original approach / sklearn")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--mnist", type=Path, default=MNIST_DEFAULT)
    ap.add_argument("--skip-naive", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from ganeval.metrics import PAPER_SIGMAS, parzen

    base, where = digit_pool(args.mnist)
    half = len(base) // 2
    kernels = variants(base[:half], args.kernels, 1)
    val1k, val10k, test = variants(base[half:], 1000, 2), variants(base[half:], 10_000, 3), variants(base[half:], 10_000, 4)
    n_k, d = kernels.shape
    print(f"# Parzen: {n_k:,} kernels, D={d}; {where}")
    print(f"# {machine_line()}")
    rate0 = matmul_gflops()
    K, V1, V10, T = (torch.from_numpy(a) for a in (kernels, val1k, val10k, test))
    sig10 = np.asarray(PAPER_SIGMAS)
    sig20 = np.logspace(-1, 0, 20)
    parzen(K[:500], V1[:50], T[:50])  # warm-up
    workloads = {"paper (10 sigma, 1k val, 10k test)": (V1, sig10), "variant (20 sigma, 10k val, 10k test)": (V10, sig20)}
    results = {name: timed(lambda: parzen(K, val, T, sigmas=sig)) for name, (val, sig) in workloads.items()}
    rate = report_rate(rate0, matmul_gflops())
    print(f"{'workload / method':52s} {'time s':>9s} {'GFLOP/s':>8s} {'% matmul':>9s} {'peak MiB':>9s}  value")
    for wname, (val, sig) in workloads.items():
        flops = 2.0 * (len(val) + len(T)) * n_k * d
        res, t, mem = results[wname]
        print(f"{wname + ': ganeval':52s} {t:9.2f} {flops / t / 1e9:8.0f} {100 * flops / t / 1e9 / rate:8.0f}% {mem:9.0f}"
              f"  {res.log_likelihood:.2f} ± {res.stderr:.2f} nats, sigma {res.sigma:.4f}")
    res10, t10, _ = results["paper (10 sigma, 1k val, 10k test)"]
    if not args.skip_naive:
        nv, t_n, mem_n = timed(lambda: naive_torch(V1, T, K, sig10))
        print(f"{'paper: torch cdist + logsumexp per sigma':52s} {t_n:9.2f} {'':8s} {'':9s} {mem_n:9.0f}  {nv:.2f} nats"
              f"  ({t_n / t10:.1f}x slower than ganeval)")
    # the original approach and KernelDensity, on a subset at the chosen sigma, extrapolated
    sub = test[: args.subset]
    sigma = res10.sigma
    ref_vals = res10.test_log_likelihoods[: args.subset]
    orig, t_o, mem_o = timed(lambda: original_ll(sub, kernels, sigma))
    per_o = t_o / len(sub)
    from sklearn.neighbors import KernelDensity

    from threadpoolctl import threadpool_limits

    kde = KernelDensity(bandwidth=sigma).fit(kernels)
    with threadpool_limits(limits=torch.get_num_threads()):
        skv, t_s, mem_s = timed(lambda: kde.score_samples(sub))
    per_s = t_s / len(sub)
    print(f"original approach (numpy, per sigma, batches of 10): {1e3 * per_o:.1f} ms per point per sigma, "
          f"peak {mem_o:.0f} MiB; max |value - ganeval| on the subset {np.abs(orig - ref_vals).max():.2e} nats")
    print(f"sklearn KernelDensity (default tree): {1e3 * per_s:.1f} ms per point per sigma, peak {mem_s:.0f} MiB; "
          f"max |value - ganeval| {np.abs(skv - ref_vals).max():.3g} nats (its tree estimate; not a reference in 784-d)")
    print(f"(both timed on {len(sub)} test points at sigma {sigma:.4f} and extrapolated linearly to the "
          "workloads' points x sigmas)")
    for wname, (val, sig) in workloads.items():
        work = len(val) * len(sig) + len(T)
        t_g = results[wname][1]
        print(f"{wname}: original ~{per_o * work:,.0f} s ({per_o * work / t_g:,.0f}x ganeval), "
              f"KernelDensity ~{per_s * work:,.0f} s ({per_s * work / t_g:,.0f}x ganeval)")
    print(f"goals (paper protocol): <= 2 s -> {t10:.2f} s; >= 200x the original -> "
          f"{per_o * (len(V1) * 10 + len(T)) / t10:,.0f}x; >= 50x KernelDensity -> {per_s * (len(V1) * 10 + len(T)) / t10:,.0f}x")


if __name__ == "__main__":
    main()
