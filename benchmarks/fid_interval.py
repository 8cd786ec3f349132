"""FID's bootstrap interval at 2048-d: the fast replicates against today's exact ones, one process.

    .venv/bin/python benchmarks/fid_interval.py [--dim 2048] [--n 10000] [--timed 4] [--rounds 2]
                                                [--check-dim 256 --check-n 2000] [--features R.npy F.npy]
                                                [--also eig64 float32]

Part 1 (speed): replicates at ``--dim`` x ``--n`` per side by both methods on the same resamples,
interleaved (``--rounds`` rounds of ``--timed`` replicates each, exact then fast, every round with new
resamples), so that both see the same load on a shared host. Prints seconds per replicate (best
round; a method's one-off set-up, timed on its own in every round, is subtracted and shown apart),
the projection for a 100-replicate FID (point estimate + set-up + 100 replicates), the ratio, the
largest relative difference between each method's replicates and the exact ones, and peak resident
memory. "exact" is the implementation before issue 20 (float64 weighted statistics and
factorisation per replicate: the reference); "mixed" is what ``fid`` runs now (float64 set-up,
float32 replicates in the full sample's eigenbasis); "eig64" (float32 syrk, float64 factorisation
and eigenvalues: ``fid``'s default before) and "float32" (everything in float32 in the original
basis) are timed for reference only. Last, the float32 floor: the BLAS/LAPACK kernels one replicate of this
kind cannot avoid (two ``syrk`` on the resampled rows, ``spotrf``, ``ssygst``, ``ssyevd`` eigenvalues), timed
alone on the same shapes, and the most any such replicate could gain over the exact one on this host.

Part 2 (agreement): ``fid(..., bootstrap=100)`` endpoints against the exact method's on the same
100 resamples, at ``--check-dim`` x ``--check-n`` (small enough to run 100 exact replicates).

Features: synthetic, non-negative, with a decaying spectrum like pooled Inception features (or
``--features real.npy fake.npy``). The float32 matmul rate is measured before and after.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nearest import PeakRSS, machine_line, matmul_gflops, report_rate  # noqa: E402

from ganeval.metrics import fid  # noqa: E402
from ganeval.metrics import frechet_bootstrap as fb  # noqa: E402
from ganeval.metrics.frechet import _gaussian, _replicates  # noqa: E402


def synthetic(n: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((d, d)) * (np.arange(1, d + 1) ** -0.7)[:, None]

    def side(shift: float, scale: float) -> torch.Tensor:
        x = np.empty((n, d), np.float32)
        for s in range(0, n, 2000):  # in blocks: a 50,000 x 2048 float64 temporary would be 800 MiB
            z = rng.standard_normal((min(2000, n - s), d)) @ mix
            x[s:s + len(z)] = np.maximum(z * scale + 0.3 + shift, 0.0)
        return torch.from_numpy(x)

    return side(0.0, 1.0), side(0.02, 1.05)


def _counts(n_real: int, n_fake: int, seed: int) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    """The resamples ``ganeval.metrics.frechet._replicates`` draws for ``seed`` (the same ones)."""
    rng = np.random.default_rng(seed)
    return lambda: (np.bincount(rng.integers(0, n_real, n_real), minlength=n_real),
                    np.bincount(rng.integers(0, n_fake, n_fake), minlength=n_fake))


def _no_exact(cr: np.ndarray, cf: np.ndarray) -> float:
    raise RuntimeError("the benchmark's features have full-rank resampled covariances")


def interval_cost(r: torch.Tensor, f: torch.Tensor, value: float, reps: int = 2) -> tuple[float, float]:
    """(set-up seconds, seconds per replicate) of ``fid``'s interval as ``fid`` runs it: the point
    estimate's covariances handed to the fast path, or the exact path where resampled covariances
    are rank deficient (no set-up there)."""
    if not fb.fast_path_applies(r.shape[0], f.shape[0], r.shape[1]):
        t = time.perf_counter()
        _replicates(r, f, reps, 0, method="exact")
        return 0.0, (time.perf_counter() - t) / reps
    covs = (_gaussian(r).sigma, _gaussian(f).sigma)
    tm: dict[str, float] = {}
    fb.replicates(r, f, _counts(r.shape[0], f.shape[0], 0), reps, _no_exact, value=value, timings=tm,
                  covariances=covs)
    return tm["setup"], tm["replicates"] / reps


def speed(r: torch.Tensor, f: torch.Tensor, timed: int, rounds: int, extra: list[str]) -> None:
    methods = ["exact", "mixed"] + extra
    best = {m: float("inf") for m in methods}
    setup = {m: float("inf") if m in fb.PRECISIONS else 0.0 for m in methods}
    peak = {m: 0.0 for m in methods}
    worst_rel = {m: 0.0 for m in methods[1:]}
    # fid() hands its point estimate's float64 covariances to the replicates ("mixed" builds its basis
    # from them); they are part of the point estimate's time, so they are computed here untimed.
    covs = (_gaussian(r).sigma, _gaussian(f).sigma)
    for k in range(rounds):
        reps = {}
        for m in methods:
            with PeakRSS() as mem:
                if m in fb.PRECISIONS:  # set-up and replicates timed apart inside
                    timings: dict[str, float] = {}
                    reps[m] = fb.replicates(r, f, _counts(r.shape[0], f.shape[0], 1000 + k), timed, _no_exact,
                                            precision=m, timings=timings, covariances=covs)
                    setup[m] = min(setup[m], timings["setup"])
                    best[m] = min(best[m], timings["replicates"] / timed)
                else:
                    t = time.perf_counter()
                    reps[m] = _replicates(r, f, timed, seed=1000 + k, method=m)
                    best[m] = min(best[m], (time.perf_counter() - t) / timed)
            peak[m] = max(peak[m], mem.peak / 2**20)
        for m in methods[1:]:
            worst_rel[m] = max(worst_rel[m], float(np.max(np.abs(reps[m] - reps["exact"]) / reps["exact"])))
        print(f"  round {k + 1}: " + ", ".join(f"{m} {best[m]:.2f} s/replicate" for m in methods)
              + " (best so far); set-up " + ", ".join(f"{m} {setup[m]:.1f} s" for m in methods[1:]), flush=True)
    t = time.perf_counter()
    value = fid(r, f, bootstrap=0).value
    t_point = time.perf_counter() - t
    print(f"\n  FID {value:.6f} (point estimate {t_point:.2f} s; unchanged code: the same float64 value either way)")
    print(f"  {'method':8s} {'s/replicate':>12s} {'set-up s':>9s} {'100 replicates':>15s} {'peak MiB':>9s} "
          f"{'max rel. diff':>14s}")
    total = {m: t_point + setup[m] + 100 * best[m] for m in methods}
    for m in methods:
        rel = f"{worst_rel[m]:14.1e}" if m in worst_rel else f"{'(reference)':>14s}"
        print(f"  {m:8s} {best[m]:12.2f} {setup[m]:9.1f} {total[m]:14.0f}s {peak[m]:9.0f} {rel}")
    for m in methods[1:]:
        print(f"  {m}: {best['exact'] / best[m]:.2f}x per replicate, {total['exact'] / total[m]:.2f}x for a "
              f"100-replicate FID (point estimate and set-up included)" + (" <- fid's default" if m == "mixed" else ""))
    kern = floor(r, f)
    print(f"  float32 floor of one replicate (the kernels alone: 2 x syrk on 63% of the rows, spotrf, ssygst, "
          f"ssyevd values; best of 3): {kern['total']:.2f} s = "
          + ", ".join(f"{n} {v:.3f}" for n, v in kern.items() if n != "total"))
    print(f"  at that floor, with no set-up and a free point estimate: {best['exact'] / kern['total']:.2f}x per "
          f"replicate, {total['exact'] / (100 * kern['total']):.2f}x for a 100-replicate FID (the most any float32 "
          "replicate of this kind can give here)")


def floor(r: torch.Tensor, f: torch.Tensor) -> dict[str, float]:
    """Seconds of the LAPACK/BLAS kernels one float32 replicate cannot avoid, on these features' shapes."""
    import scipy.linalg
    from scipy.linalg import blas, lapack

    rng = np.random.default_rng(0)

    def best(fn: Callable[[], object]) -> float:
        out = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            fn()
            out = min(out, time.perf_counter() - t)
        return out

    rows = [x.numpy()[np.flatnonzero(np.bincount(rng.integers(0, len(x), len(x)), minlength=len(x)))]
            - x.numpy().mean(0) for x in (r, f)]
    s1, s2 = (blas.ssyrk(1.0, np.ascontiguousarray(x).T, trans=0, lower=1) for x in rows)
    c = lapack.spotrf(s1, lower=1)[0]
    m = lapack.ssygst(s2, c, itype=2, lower=1)[0]
    syrk = 0.0
    for x in rows:
        syrk += best(lambda: blas.ssyrk(1.0, x.T, trans=0, lower=1))  # noqa: B023 (called before x moves on)
    k = {"syrk x 2": syrk,
         "spotrf": best(lambda: lapack.spotrf(s1, lower=1)),
         "ssygst": best(lambda: lapack.ssygst(s2, c, itype=2, lower=1)),
         "ssyevd": best(lambda: scipy.linalg.eigh(m, eigvals_only=True, lower=True, driver="evd", check_finite=False))}
    k["total"] = sum(k.values())
    return k


def agreement(d: int, n: int, seed: int) -> None:
    r, f = synthetic(n, d, seed)
    t = time.perf_counter()
    res = fid(r, f, bootstrap=100, seed=5)
    t_fast = time.perf_counter() - t
    t = time.perf_counter()
    reps = _replicates(r, f, 100, 5, "exact")
    t_exact = time.perf_counter() - t
    q_lo, q_hi = np.quantile(reps, [0.025, 0.975])
    shift = float(reps.mean()) - res.value
    lo, hi = max(q_lo - shift, 0.0), max(q_hi - shift, 0.0)
    print(f"\nendpoints at {d}-d, N = {n:,} per side, 100 replicates, same resamples:")
    print(f"  fid(bootstrap=100): [{res.ci_low:.8f}, {res.ci_high:.8f}] in {t_fast:.1f} s")
    print(f"  exact float64:      [{lo:.8f}, {hi:.8f}] in {t_exact:.1f} s (replicates only)")
    print(f"  relative difference: low {abs(res.ci_low - lo) / lo:.1e}, high {abs(res.ci_high - hi) / hi:.1e}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dim", type=int, default=2048)
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--timed", type=int, default=4, help="replicates per method and round")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--check-dim", type=int, default=256, help="0 skips part 2")
    p.add_argument("--check-n", type=int, default=2000)
    p.add_argument("--also", nargs="*", default=["eig64"], choices=["eig64", "float32"],
                   help="reference methods timed besides exact and mixed (default: eig64)")
    p.add_argument("--features", nargs=2, default=None, metavar=("REAL.npy", "FAKE.npy"))
    args = p.parse_args()
    print(machine_line())
    before = matmul_gflops()
    if args.features:
        r, f = (torch.from_numpy(np.load(x).astype(np.float32)) for x in args.features)
        print(f"features from {args.features}: {tuple(r.shape)} and {tuple(f.shape)}")
    else:
        r, f = synthetic(args.n, args.dim, 0)
        print(f"synthetic features: {args.n:,} x {args.dim} per side")
    speed(r, f, args.timed, args.rounds, args.also)
    if args.check_dim:
        agreement(args.check_dim, args.check_n, 1)
    report_rate(before, matmul_gflops())


if __name__ == "__main__":
    main()
