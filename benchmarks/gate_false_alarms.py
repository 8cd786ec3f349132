"""How often does `ganeval gate` fail? Never on re-evaluations of a healthy checkpoint, always on a collapsed one.

A baseline is recorded for a healthy generator with seed 0. The same generator is then gated with
seeds 1..S (false alarms: any failure is one), and collapsed generators are gated with the same
seeds (misses: any pass is one). Generators:

* ring8 (raw 2-D features): the analytic mixture generator of ganeval.toy with every mode
  (healthy), one mode (collapsed), and half the modes (partly collapsed);
* ``--trained``: also generators trained by reference_trainers (the healthy ring8 preset; with
  ``--digits`` a short digits run), baseline and re-evaluations of that checkpoint;
* ``--digits``: seeded subsets of held-out real digits (val + test splits; healthy) against
  digits 0-4 only and the digit 0 only (collapsed), in the digits CNN's feature space (FID's
  reference: the train split).

Prints one line per case: failures out of S, the FID values and the intervals' widths, and the
time per gate evaluation.

``--degradations K`` adds, for ring8 and (with ``--digits``) digits, a family of degraded
generators at increasing strength, each gated with K seeds: modes or classes dropped, Gaussian
noise added (ring8: the modes' std inflated), and m% of the samples replaced by copies of training
points. It prints, per family, the catch rate at each level and the smallest level caught every
time at the default N: the gate's sensitivity (docs/gate.md).

    .venv/bin/python benchmarks/gate_false_alarms.py [--seeds 20] [--trained] [--digits] [--degradations 10]
    .venv/bin/python benchmarks/gate_false_alarms.py --seeds 100 --trained --digits --degradations 10  # issue 17
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

from ganeval import generator_from_module, generator_from_samples, load_dataset
from ganeval.gate import make_baseline, run_gate
from ganeval.registry import METRICS, load_scorers
from ganeval.toy import MixtureGenerator


def count(name: str, baseline, gens: dict[str, object], data, seeds: list[int], **kw) -> None:
    b = baseline.interval
    print(f"\n{name}: baseline FID {b.value:.4g} [{b.low:.4g}, {b.high:.4g}] "
          f"(N = {baseline.n_samples}, {baseline.options['fid']['bootstrap']} bootstrap replicates, "
          f"{100 * baseline.options['fid']['confidence']:g}% interval)")
    for label, gen in gens.items():
        t0 = time.perf_counter()
        res = [run_gate(gen, data, baseline, seed=s, **kw) for s in seeds]
        dt = (time.perf_counter() - t0) / len(seeds)
        fails = sum(not r.passed for r in res)
        vals = [r.candidate.value for r in res]
        widths = [r.candidate.high - r.candidate.low for r in res]
        print(f"  {label:34s} failed {fails:2d}/{len(seeds)}   FID median {statistics.median(vals):.4g} "
              f"(min {min(vals):.4g}, max {max(vals):.4g}), median interval width {statistics.median(widths):.3g}, "
              f"{dt:.2f} s per gate")


def degradation_table(name: str, baseline, families: dict[str, list[tuple[str, object]]], data,
                      seeds: list[int], **kw) -> None:
    """Gate each degraded generator with every seed; print catch rates and the smallest level always caught."""
    print(f"\n{name}: degradations (caught = gate failed), {len(seeds)} seeds each, N = {baseline.n_samples}")
    for family, levels in families.items():
        smallest = None
        cells = []
        for label, gen in levels:
            caught = sum(not run_gate(gen, data, baseline, seed=s, **kw).passed for s in seeds)
            cells.append(f"{label}: {caught}/{len(seeds)}")
            if smallest is None and caught == len(seeds):
                smallest = label
        print(f"  {family:22s} {'; '.join(cells)}")
        print(f"  {'':22s} smallest always caught: {smallest or 'none of these'}")


def _mixed(fresh: torch.Tensor, copies: torch.Tensor, frac: float, seed: int = 0) -> torch.Tensor:
    """``fresh`` with a fraction ``frac`` of its rows replaced by rows of ``copies`` (seeded)."""
    g = torch.Generator().manual_seed(seed)
    n = fresh.shape[0]
    k = int(round(frac * n))
    out = fresh.clone()
    rows = torch.randperm(n, generator=g)[:k]
    out[rows] = copies[torch.randint(0, copies.shape[0], (k,), generator=g)]
    return out


def ring8_degradations(ds, n: int) -> dict[str, list[tuple[str, object]]]:
    fresh = mixture_gen(ds, None).sample(n, seed=12345)
    return {
        "modes dropped": [(f"{k} of 8", mixture_gen(ds, list(range(8 - k)))) for k in range(1, 8)],
        "std inflated": [(f"x{f:g}", generator_from_module(MixtureGenerator(ds.means.tolist(), ds.std, None, f),
                                                           device="cpu", name=f"std x{f:g}"))
                         for f in (1.5, 2, 3, 5, 10)],
        "training copies": [(f"{int(100 * m)}%", generator_from_samples(_mixed(fresh, ds.train, m), name=f"copies {m}"))
                            for m in (0.1, 0.25, 0.5, 1.0)],
    }


def digits_degradations(dg, good: torch.Tensor) -> dict[str, list[tuple[str, object]]]:
    labels = torch.cat([dg.val_labels, dg.test_labels])
    fam: dict[str, list[tuple[str, object]]] = {"classes dropped": []}
    for k in range(1, 10):
        keep = good[labels >= k]
        fam["classes dropped"].append((f"{k} of 10", generator_from_samples(
            keep.repeat(1 + len(good) // len(keep), 1, 1, 1)[: len(good)], name=f"drop {k}")))
    g = torch.Generator().manual_seed(7)
    noise = torch.randn(good.shape, generator=g)
    fam["gaussian noise"] = [(f"sigma {s:g}", generator_from_samples((good + s * noise).clamp(0, 1), name=f"noise {s}"))
                             for s in (0.02, 0.05, 0.1, 0.2)]
    fam["training copies"] = [(f"{int(100 * m)}%", generator_from_samples(_mixed(good, dg.train, m), name=f"copies {m}"))
                              for m in (0.1, 0.25, 0.5, 1.0)]
    return fam


def mixture_gen(ds, modes):
    return generator_from_module(MixtureGenerator(ds.means.tolist(), ds.std, modes), device="cpu",
                                 name=f"mixture(modes={modes if modes is not None else 'all'})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--n-samples", type=int, default=2500)
    ap.add_argument("--bootstrap", type=int, default=None, help="default: the gate's (200)")
    ap.add_argument("--trained", action="store_true", help="also a reference_trainers checkpoint (trains one)")
    ap.add_argument("--digits", action="store_true", help="also digits in the digits CNN's features")
    ap.add_argument("--digits-steps", type=int, default=2000, help="training steps of the --trained digits GAN")
    ap.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (default 1)")
    ap.add_argument("--skip-ring8", action="store_true", help="only the digits cases")
    ap.add_argument("--skip-heldout-digits", action="store_true", help="with --digits --trained: only the trained GAN")
    ap.add_argument("--degradations", type=int, default=0, metavar="K",
                    help="also gate families of degraded generators, K seeds each (default: skip)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load_scorers()  # imports scipy.linalg: limits apply only to BLAS libraries already loaded
    threadpool_limits(args.threads)  # BLAS threads too: FID's eigendecompositions are small
    seeds = list(range(1, args.seeds + 1))
    ds = load_dataset("ring8")
    mixtures_ok = "mixture" in METRICS["fid"].kinds and not args.skip_ring8
    if not mixtures_ok:
        print("\nring8: skipped: the `fid` metric is registered for "
              f"{'/'.join(METRICS['fid'].kinds)} data only (ganeval/scorers/frechet.py), so the gate cannot "
              "evaluate FID on a mixture.")
    if mixtures_ok:
        healthy = mixture_gen(ds, None)
        base = make_baseline(healthy, ds, n_samples=args.n_samples, seed=0, bootstrap=args.bootstrap, device="cpu")
        count("ring8, analytic generators", base,
              {"healthy (re-evaluated, seeds 1..S)": healthy, "collapsed (1 of 8 modes)": mixture_gen(ds, [0]),
               "half collapsed (4 of 8 modes)": mixture_gen(ds, [0, 1, 2, 3]),
               "7 of 8 modes": mixture_gen(ds, list(range(7)))}, ds, seeds, device="cpu")
        if args.degradations:
            degradation_table("ring8", base, ring8_degradations(ds, args.n_samples), ds,
                              list(range(1, args.degradations + 1)), device="cpu")

    if args.trained and mixtures_ok:
        from reference_trainers.presets import preset_config
        from reference_trainers.train import train

        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            cfg = preset_config("healthy", "ring8", seed=0)
            res = train(cfg, Path(tmp) / "run")
            ckpt = res.checkpoints[-1]
            print(f"\ntrained ring8 healthy preset in {time.perf_counter() - t0:.0f} s: {ckpt.name}")
            tb = make_baseline(ckpt, ds, n_samples=args.n_samples, seed=0, bootstrap=args.bootstrap, device="cpu")
            count("ring8, trained checkpoint", tb, {"trained (re-evaluated, seeds 1..S)": str(ckpt),
                                                   "collapsed (1 of 8 modes)": mixture_gen(ds, [0])},
                  ds, seeds, device="cpu")

    if args.digits:
        # Held-out real digits (val + test) as the healthy "generator"; FID's reference is the train split.
        dg = load_dataset("digits")
        good = generator_from_samples(torch.cat([dg.val, dg.test]), name="held-out digits")
        zeros = dg.train[dg.train_labels == 0]
        bad = generator_from_samples(zeros.repeat(1 + len(dg.train) // len(zeros), 1, 1, 1), name="only zeros")
        half = dg.train[dg.train_labels < 5]
        five = generator_from_samples(half, name="digits 0-4 only")
        n = min(args.n_samples, len(dg.test))
        db = make_baseline(good, dg, n_samples=n, seed=0, bootstrap=args.bootstrap, device="cpu")
        if not args.skip_heldout_digits:
            count("digits, digits CNN features", db, {"held-out digits (seeds 1..S)": good,
                                                      "only digits 0-4": five, "only the digit 0": bad},
                  dg, seeds, device="cpu")
        if args.degradations and not args.skip_heldout_digits:
            degradation_table("digits", db, digits_degradations(dg, torch.cat([dg.val, dg.test])), dg,
                              list(range(1, args.degradations + 1)), device="cpu")
        if args.trained:
            from reference_trainers.train import TrainConfig, train

            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                res = train(TrainConfig(data="digits", seed=0, steps=args.digits_steps, threads=args.threads,
                                        ckpt_every=args.digits_steps), Path(tmp) / "run")
                ckpt = res.checkpoints[-1]
                print(f"\ntrained a digits GAN ({args.digits_steps} steps) in {time.perf_counter() - t0:.0f} s")
                tb = make_baseline(ckpt, dg, n_samples=n, seed=0, bootstrap=args.bootstrap, device="cpu")
                count("digits, trained checkpoint", tb, {"trained (re-evaluated, seeds 1..S)": str(ckpt),
                                                        "only digits 0-4": five, "only the digit 0": bad},
                      dg, seeds, device="cpu")


if __name__ == "__main__":
    main()
