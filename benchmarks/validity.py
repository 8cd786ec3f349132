"""C_T and NDB of ganeval against the authors' definitions on the validity grid, as a table.

Cases: Gaussian mixtures (ten modes) in 2-D and 64-D; generated samples fresh, near-copies of
training points, underfit (modes 1.3x wider) or with three modes dropped; 5,000 train / 1,000
test / 2,000 generated; C_T with 20 cells, NDB with 50 bins; one fixed draw per case and 10
clustering seeds per side. The reference is tests/validity_reference.py: the authors' C_T
(Meehan et al. 2020, ``data_copying_tests.py``) and NDB (Richardson & Weiss 2018, ``utils/ndb.py``)
restated step by step with scikit-learn's KMeans (10 restarts) and scipy.

C_T, two comparisons per case. Same seed: ganeval (seeds 0-9, its default cells: scikit-learn's
``KMeans`` with ``random_state`` = the seed, as the authors' code) against the reference with the
same ``random_state``: the same partition, so the same C_T; printed as the largest
|C_T ganeval - C_T reference| over the seeds and the seeds identical to 1e-12. Different seeds:
ganeval (seeds 0-9) against the reference with ``random_state`` 1000-1009, two independent draws
of the procedure; the case passes when the means differ by at most 2 standard errors
(sqrt(se_g^2 + se_r^2), each the std over seeds / sqrt(n)). NDB: the count for the same seed
(both bin with scikit-learn k-means++; 9 of 10 must match), and beside it the reference with
other seeds (how much the count moves with the partition). ``--kmeans torch`` scores ganeval's
C_T with its own k-means instead (then the same-seed columns compare different partitions).

    .venv/bin/python benchmarks/validity.py [--seeds 10] [--cases fresh,copies,underfit,dropped] [--dims 2,64]
                                            [--recheck 30] [--kmeans sklearn|torch]

A C_T case outside 2 standard errors (different seeds) is run again on ``--recheck`` seeds and
printed below its row: 2 SE is a 95% criterion, so two procedures with one distribution miss it
one case in twenty.

Times are summed over the seeds (the reference's C_T time is that of the different-seed runs);
ganeval's memorisation also computes the copy rate and authenticity (exact nearest-neighbour
searches) besides C_T, so its time is not C_T's alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    from nearest import machine_line, matmul_gflops, report_rate
    from validity_reference import CASES, DIMS, run_case

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--dims", default=",".join(map(str, DIMS)))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--recheck", type=int, default=30, help="seeds for a C_T case outside 2 SE (0: none)")
    ap.add_argument("--kmeans", default="sklearn", choices=("sklearn", "torch"), help="ganeval's k-means for C_T")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(machine_line())
    before = matmul_gflops()
    print(f"{'dim':>3} {'case':9} | {'same seed: max |diff|':>21} {'identical':>9} | {'C_T ganeval':>17} "
          f"{'C_T ref (other seeds)':>21} {'|gap|':>6} {'2 SE':>6} ok | {'NDB same seed':>13} {'NDB ganeval':>11} "
          f"{'NDB ref (other seeds)':>21} | s: C_T g/r, NDB g/r")
    fails = 0
    for dim in (int(d) for d in args.dims.split(",")):
        for case in args.cases.split(","):
            r = run_case(case, dim, range(args.seeds), kmeans=args.kmeans)
            gap, se = r.c_t_gap
            g, ref = np.asarray(r.c_t_ganeval), np.asarray(r.c_t_reference)
            n = len(g)
            ok = r.c_t_agrees and r.ndb_matches >= 0.9 * n and (args.kmeans != "sklearn" or r.c_t_identical == n)
            fails += not ok
            t = r.seconds
            print(f"{dim:3d} {case:9} | {r.c_t_same_max_diff:21.1e} {r.c_t_identical:>6d}/{n} | "
                  f"{g.mean():8.3f} ± {g.std(ddof=1) / np.sqrt(n):6.3f} "
                  f"{ref.mean():12.3f} ± {ref.std(ddof=1) / np.sqrt(n):6.3f} {gap:6.3f} {2 * se:6.3f} "
                  f"{'yes' if r.c_t_agrees else 'NO '}| {r.ndb_matches:>10d}/{n} {np.mean(r.ndb_ganeval):11.1f} "
                  f"{np.mean(r.ndb_independent):21.1f} | {t['c_t_ganeval']:.1f}/{t['c_t_reference']:.1f}, "
                  f"{t['ndb_ganeval']:.1f}/{t['ndb_reference']:.1f}", flush=True)
            if not r.c_t_agrees and args.recheck:
                # 2 SE is a 95% criterion: judge a case outside it again on more seeds (C_T only)
                r3 = run_case(case, dim, range(args.recheck), with_ndb=False, same_seed=False, kmeans=args.kmeans)
                gap3, se3 = r3.c_t_gap
                g3, ref3 = np.asarray(r3.c_t_ganeval), np.asarray(r3.c_t_reference)
                print(f"{'':13} | {args.recheck} seeds, other seeds only {'':9} | "
                      f"{g3.mean():8.3f} ± {g3.std(ddof=1) / np.sqrt(len(g3)):6.3f} "
                      f"{ref3.mean():12.3f} ± {ref3.std(ddof=1) / np.sqrt(len(g3)):6.3f} {gap3:6.3f} {2 * se3:6.3f} "
                      f"{'yes' if r3.c_t_agrees else 'NO '}", flush=True)
    report_rate(before, matmul_gflops())
    print("all cases agree" if not fails else f"{fails} case(s) outside the criteria")


if __name__ == "__main__":
    main()
