"""Fréchet distance: ganeval vs pytorch-fid (scipy sqrtm) vs torch-fidelity (eigvals), one process.

    python benchmarks/frechet.py                 # 2048-d, plus streaming statistics of 50,000 x 2048
    python benchmarks/frechet.py --dim 512 --n-stream 10000 --repeats 1

Part 1 times the three statistics-to-distance functions on the same statistics, twice:
well-conditioned covariances (from 8,192 rows) and rank-deficient ones (from 1,000 rows < D),
and prints each time (best of ``--repeats``), the speed-up ratios and the relative
differences. High-precision reference: none is exact, so agreement is quoted pairwise.

Part 2 accumulates mean and covariance of ``--n-stream`` x D float32 features generated batch by
batch (never held at once) with :class:`ganeval.metrics.FeatureStats`, and, for comparison,
``np.cov`` on the whole array as pytorch-fid and torch-fidelity compute it. Each runs in a child
process so its peak resident memory (Linux ``VmHWM``, reset just before the work, minus the
resident size at that point) is its own.

``--threads N`` sets torch's and the BLAS libraries' threads (OMP/OPENBLAS/MKL_NUM_THREADS, the
script restarts itself to apply them) for all three libraries alike; on a shared, oversubscribed
machine 1 thread gives steady ratios, where idle threads of a multi-threaded BLAS otherwise
dominate.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _best(fn, repeats: int) -> tuple[float, float]:
    best, value = float("inf"), float("nan")
    for _ in range(repeats):
        t = time.perf_counter()
        value = float(fn())
        best = min(best, time.perf_counter() - t)
    return best, value


def _statistics(rng: np.random.Generator, n: int, d: int, shift: float, scale: float) -> tuple[np.ndarray, np.ndarray]:
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    feats = (rng.standard_normal((n, d)) @ mix) * scale + shift + rng.uniform(0, 1, d)
    return feats.mean(0), np.cov(feats, rowvar=False)


def compare(d: int, repeats: int) -> None:
    import warnings

    from pytorch_fid.fid_score import calculate_frechet_distance
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    from ganeval.metrics import frechet_distance

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    rng = np.random.default_rng(0)
    for label, n in (("well-conditioned", 4 * d), ("rank-deficient", min(1000, d // 2))):
        m1, s1 = _statistics(rng, n, d, 0.0, 1.0)
        m2, s2 = _statistics(rng, n, d, 0.05, 1.1)
        print(f"\n{d}-d statistics, {label} (covariances from {n} rows each)")
        ours_t, ours = _best(lambda: frechet_distance(m1, s1, m2, s2), repeats)
        tf_t, tf = _best(lambda: fid_statistics_to_metric({"mu": m1, "sigma": s1}, {"mu": m2, "sigma": s2},
                                                          False)["frechet_inception_distance"], repeats)
        pf_t, pf = _best(lambda: calculate_frechet_distance(m1, s1, m2, s2), max(1, repeats - 1))
        print(f"  {'':16s} {'seconds':>9s} {'FD':>22s} {'rel. diff to ganeval':>21s}")
        for name, t, v in (("ganeval", ours_t, ours), ("torch-fidelity", tf_t, tf), ("pytorch-fid", pf_t, pf)):
            print(f"  {name:16s} {t:9.3f} {v:22.12f} {abs(v - ours) / abs(ours):21.2e}")
        print(f"  speed-up: {pf_t / ours_t:.1f}x vs pytorch-fid, {tf_t / ours_t:.1f}x vs torch-fidelity")


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> int:
    """Reset the kernel's peak-RSS mark (Linux) and return the current RSS in KiB (ru_maxrss elsewhere)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        rss = _status_kib("VmRSS")
        if rss is not None:
            return rss
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _peak() -> int:
    hwm = _status_kib("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _child(mode: str, n: int, d: int, batch: int) -> None:
    import torch

    from ganeval.metrics import FeatureStats

    gen = torch.Generator().manual_seed(0)
    mix = torch.randn(d, d, generator=gen) / d**0.5
    before = _reset_peak()
    t = time.perf_counter()
    if mode == "stream":
        st = FeatureStats()
        for s in range(0, n, batch):
            st.update(torch.randn(min(batch, n - s), d, generator=gen) @ mix)
        mu, sigma = st.mu, st.sigma
    else:
        feats = torch.cat([torch.randn(min(batch, n - s), d, generator=gen) @ mix for s in range(0, n, batch)]).numpy()
        mu, sigma = feats.mean(0), np.cov(feats, rowvar=False)
    seconds = time.perf_counter() - t
    peak = _peak()
    print(json.dumps({"seconds": seconds, "peak_mib": (peak - before) / 1024, "trace": float(np.trace(sigma)),
                      "mu0": float(mu[0])}))


def stream(n: int, d: int, batch: int, threads: int | None) -> None:
    print(f"\nstatistics of {n:,} x {d} float32 features (batches of {batch}), each in its own process")
    out = {}
    for mode, label in (("stream", "ganeval FeatureStats (streaming)"), ("whole", "np.cov on the whole array")):
        res = subprocess.run([sys.executable, __file__, "--child", mode, "--n-stream", str(n), "--dim", str(d),
                              "--batch", str(batch)] + (["--threads", str(threads)] if threads else []),
                             capture_output=True, text=True, check=True)
        out[mode] = json.loads(res.stdout.strip().splitlines()[-1])
        print(f"  {label:34s} {out[mode]['seconds']:8.2f} s   peak memory +{out[mode]['peak_mib']:8.1f} MiB")
    rel = abs(out["stream"]["trace"] - out["whole"]["trace"]) / out["whole"]["trace"]
    print(f"  same statistics: relative difference of tr(sigma) {rel:.1e}")
    print(f"  (the {n:,} x {d} float32 array alone is {n * d * 4 / 2**20:.0f} MiB; ganeval holds one {d}x{d} "
          f"float64 matrix, {d * d * 8 / 2**20:.0f} MiB, plus a batch)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dim", type=int, default=2048)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--n-stream", type=int, default=50_000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--threads", type=int, default=None, help="limit torch and BLAS threads (default: as configured)")
    p.add_argument("--child", choices=["stream", "whole"], default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.threads and os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):
        # Thread pools are sized when each BLAS library loads, some lazily: set them all, then restart.
        env = {k: str(args.threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
        os.execve(sys.executable, [sys.executable, __file__, *sys.argv[1:]], {**os.environ, **env})
    import torch

    if args.child:
        _child(args.child, args.n_stream, args.dim, args.batch)
        return
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    print(f"threads: torch {torch.get_num_threads()}, BLAS {args.threads or 'as configured'}; "
          f"python {sys.version.split()[0]}; load average {load}")
    compare(args.dim, args.repeats)
    if args.n_stream:
        stream(args.n_stream, args.dim, args.batch, args.threads)


if __name__ == "__main__":
    main()
