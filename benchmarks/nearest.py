"""Top-5 nearest neighbours of 10,000 queries among 60,000 784-d points: ganeval against
scikit-learn's NearestNeighbors(algorithm="brute") and a plain chunked torch float32 search, in one
process, beside a float32 4096x4096 matmul measured in the same run.

Prints wall times, ratios, achieved GFLOP/s (2·n·N·D flops of the distance matmul) against the
matmul rate, peak memory, and whether the neighbour sets equal a float64 reference.

    .venv/bin/python benchmarks/nearest.py [--queries 10000] [--reference 60000] [--k 5]
                                           [--budget-mib 512] [--check 500] [--threads N]

Data: MNIST digits from ../shared/data/mnist-t10k (or --mnist PATH) when present, made into
60,000 + 10,000 points by random shifts of up to 2 pixels and pixel noise (std 0.05); otherwise
synthetic images of the same shape (noisy smooth random prototypes). Peak memory is the largest
resident set size (RSS, /proc/self/statm) sampled every millisecond during the call, minus the RSS
just before it: tracemalloc does not see torch's allocations, and ru_maxrss is a process-wide high
mark that cannot separate the methods; the inputs, allocated before, are not counted.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MNIST_DEFAULT = ROOT.parent / "shared" / "data" / "mnist-t10k"


class PeakRSS:
    """Peak resident memory above the level at entry, sampled by a thread every ``interval`` s."""

    def __init__(self, interval: float = 0.001):
        self.interval = interval
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.peak = 0

    def _rss(self) -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * self.page

    def __enter__(self) -> "PeakRSS":
        gc.collect()
        try:  # hand freed heap pages back to the OS so that the baseline is honest
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except OSError:
            pass
        self.base = self._rss()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss() - self.base)
            time.sleep(self.interval)

    def __exit__(self, *exc: Any) -> None:
        self.peak = max(self.peak, self._rss() - self.base)
        self._stop.set()
        self._t.join()


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, wall seconds, peak MiB above the start)."""
    with PeakRSS() as mem:
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
    return out, dt, mem.peak / 2**20


def matmul_gflops(n: int = 4096, reps: int = 3) -> float:
    """Best float32 n x n matmul rate of ``reps`` runs after a warm-up, GFLOP/s."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(_time(lambda: a @ b) for _ in range(reps))
    return 2 * n**3 / best / 1e9


def report_rate(before: float, after: float) -> float:
    """Print the matmul rates measured before and after the timed calls; return the higher (on a
    shared machine the lower one is the one disturbed by other load)."""
    rate = max(before, after)
    print(f"float32 4096x4096 matmul: {rate:.0f} GFLOP/s (best of 3 before the calls: {before:.0f}, after: "
          f"{after:.0f}; ratios below use {rate:.0f})")
    return rate


def _time(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def machine_line() -> str:
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs ({cpu}), "
            f"load average {load:.1f}")


def digit_pool(mnist: Path | None) -> tuple[np.ndarray, str]:
    """(N, 28, 28) float32 base images in [0, 1] and a description."""
    if mnist is not None and mnist.exists():
        import ganeval

        ds = ganeval.load_dataset("mnist", root=mnist)
        x = torch.cat([ds.train, ds.val, ds.test])[:, 0].numpy()
        return x.astype(np.float32), f"MNIST t10k digits from {mnist}"
    rng = np.random.default_rng(0)
    protos = torch.nn.functional.interpolate(torch.from_numpy(rng.random((50, 1, 7, 7), dtype=np.float32)),
                                             size=(28, 28), mode="bilinear", align_corners=False)[:, 0].numpy()
    x = protos[rng.integers(0, 50, 10_000)] + 0.2 * rng.standard_normal((10_000, 28, 28), dtype=np.float32)
    return np.clip(x, 0, 1), "synthetic 28x28 images (no MNIST found)"


def variants(base: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n images: random base images shifted by up to 2 pixels, plus pixel noise of std 0.05."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(base), n)
    out = np.empty((n, 28, 28), np.float32)
    shifts = rng.integers(-2, 3, (n, 2))
    for s in {tuple(v) for v in shifts.tolist()}:
        sel = np.flatnonzero((shifts[:, 0] == s[0]) & (shifts[:, 1] == s[1]))
        out[sel] = np.roll(base[idx[sel]], s, axis=(1, 2))
    out += 0.05 * rng.standard_normal(out.shape, dtype=np.float32)
    return np.clip(out, 0, 1).reshape(n, -1)


def plain_torch_knn(q: torch.Tensor, r: torch.Tensor, k: int, rows: int = 1024) -> torch.Tensor:
    """The obvious chunked float32 search: cdist (matmul form) + topk, no centring, no re-ranking."""
    out = []
    for a in range(0, len(q), rows):
        out.append(torch.cdist(q[a:a + rows], r).topk(k, dim=1, largest=False).indices)
    return torch.cat(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--reference", type=int, default=60_000)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--budget-mib", type=int, default=512)
    ap.add_argument("--check", type=int, default=500, help="queries checked against a float64 reference")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--mnist", type=Path, default=MNIST_DEFAULT)
    ap.add_argument("--skip-sklearn", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from ganeval.kernels import knn

    base, where = digit_pool(args.mnist)
    ref = variants(base, args.reference, 1)
    qry = variants(base, args.queries, 2)
    n, m, d, k = len(qry), len(ref), ref.shape[1], args.k
    flops = 2.0 * n * m * d
    print(f"# nearest neighbours: top-{k} of {n:,} queries among {m:,} points, D={d}; {where}")
    print(f"# {machine_line()}")
    rate0 = matmul_gflops()
    qt, rt = torch.from_numpy(qry), torch.from_numpy(ref)
    knn(qt[:256], rt[:4096], k)  # warm-up
    (gd, gi), t_g, mem_g = timed(lambda: knn(qt, rt, k, memory_budget=args.budget_mib * 2**20, device="cpu"))
    rows = [("ganeval knn (exact)", t_g, mem_g)]
    pi, t_p, mem_p = timed(lambda: plain_torch_knn(qt, rt, k))
    rows.append(("plain torch cdist+topk f32", t_p, mem_p))
    sk_i = None
    if not args.skip_sklearn:
        from sklearn.neighbors import NearestNeighbors

        from threadpoolctl import threadpool_limits

        nn = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(ref)
        with threadpool_limits(limits=torch.get_num_threads()):  # the same cores as torch
            (_, sk_i), t_s, mem_s = timed(lambda: nn.kneighbors(qry))
        rows.append(("sklearn NearestNeighbors brute", t_s, mem_s))
    rate = report_rate(rate0, matmul_gflops())
    print(f"{'method':34s} {'time s':>8s} {'GFLOP/s':>8s} {'% matmul':>9s} {'peak MiB':>9s}")
    for name, t, mem in rows:
        print(f"{name:34s} {t:8.2f} {flops / t / 1e9:8.0f} {100 * flops / t / 1e9 / rate:8.0f}% {mem:9.0f}")
    print(f"ganeval memory budget: {args.budget_mib} MiB (workspace; the 60k x 784 float32 reference copy is part of it)")
    # exactness: neighbour sets against float64 on a subset of queries
    sub = np.random.default_rng(3).choice(n, size=min(args.check, n), replace=False)
    r64 = rt.double()
    mu = r64.mean(0)
    d64 = torch.cdist(qt[sub].double() - mu, r64 - mu)
    ref_i = torch.sort(d64, dim=1, stable=True).indices[:, :k]
    same = sum(set(a.tolist()) == set(b.tolist()) for a, b in zip(gi[sub], ref_i))
    print(f"exactness: ganeval sets equal the float64 reference for {same}/{len(sub)} checked queries; "
          f"ordered indices equal: {bool(torch.equal(gi[sub], ref_i))}")
    plain_same = sum(set(a.tolist()) == set(b.tolist()) for a, b in zip(pi[sub], ref_i))
    print(f"           plain float32 torch: {plain_same}/{len(sub)}", end="")
    if sk_i is not None:
        sk_same = sum(set(a.tolist()) == set(b.tolist()) for a, b in zip(sk_i[sub], ref_i.numpy()))
        agree = np.mean([set(a) == set(b) for a, b in zip(sk_i.tolist(), gi.tolist())])
        print(f"; sklearn: {sk_same}/{len(sub)}; ganeval vs sklearn on all queries: {100 * agree:.2f}% same sets")
        print(f"speed-up over sklearn brute: {t_s / t_g:.2f}x; over plain torch: {t_p / t_g:.2f}x")
    else:
        print()
    print(f"goal: >= 2x sklearn, >= 60% of the matmul rate -> ganeval at {100 * flops / t_g / 1e9 / rate:.0f}%; "
          f"process peak RSS (ru_maxrss) {_maxrss_mib():.0f} MiB")


def _maxrss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
