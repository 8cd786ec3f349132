"""The measured agreement of every metric `ganeval metrics` prints with its reference, in one run:
the figures of docs/validity.md.

Each line runs ganeval and its reference on the same inputs, the inputs the metric's test uses
or the same kind at a similar size, and prints the largest deviation seen. References are the
peers where the metric's original is a package (pytorch-fid, torch-fidelity, prdc), else a
float64 brute-force computation of the paper's definition written here (numpy / scipy /
scikit-learn), or the authors' procedure restated in tests/validity_reference.py (C_T, NDB).

    .venv/bin/python benchmarks/validity_peers.py
"""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def line(metric: str, peer: str, figure: str) -> None:
    print(f"{metric:21} | {peer:58} | {figure}", flush=True)


def fid_lines(rng: np.random.Generator) -> None:
    from pytorch_fid.fid_score import calculate_frechet_distance
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    from ganeval.metrics import fid

    worst = [0.0, 0.0]
    for n, d in ((500, 64), (300, 512)):  # well-conditioned, and N < D (singular covariance)
        a, b = rng.standard_normal((n, d)), rng.standard_normal((n, d)) * 1.1 + 0.05
        ours = fid(a, b, bootstrap=0).value
        m1, s1, m2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            worst[0] = max(worst[0], rel(ours, float(calculate_frechet_distance(m1, s1, m2, s2))))
            tf = fid_statistics_to_metric({"mu": m1, "sigma": s1}, {"mu": m2, "sigma": s2}, False)
        worst[1] = max(worst[1], rel(ours, float(tf["frechet_inception_distance"])))
    line("fid", "pytorch-fid calculate_frechet_distance (64-d N=500; 512-d N=300)", f"max rel. diff {worst[0]:.1e}")
    line("fid", "torch-fidelity fid_statistics_to_metric (same inputs)", f"max rel. diff {worst[1]:.1e}")


def kid_line(rng: np.random.Generator) -> None:
    from torch_fidelity.metric_kid import kid_features_to_metric

    from ganeval.metrics import kid

    real = rng.standard_normal((400, 16)).astype(np.float32)
    fake = (rng.standard_normal((300, 16)) * 1.2 + 0.15).astype(np.float32)
    ours = kid(real, fake, subsets=50, subset_size=120, seed=2020)
    theirs = kid_features_to_metric(torch.from_numpy(real), torch.from_numpy(fake), kid_subsets=50,
                                    kid_subset_size=120, rng_seed=2020, verbose=False, kid_kernel="poly",
                                    kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1)
    line("kid", "torch-fidelity kid_features_to_metric (same subsets)",
         f"rel. diff mean {rel(ours.value, theirs['kernel_inception_distance_mean']):.1e}, "
         f"std {rel(ours.std, theirs['kernel_inception_distance_std']):.1e} (torch-fidelity sums in float32)")


def prdc_line(rng: np.random.Generator) -> None:
    import contextlib
    import io

    import prdc as prdc_pkg

    from ganeval.metrics import prdc

    worst = 0.0
    for k in (1, 3, 5):
        real = rng.standard_normal((350, 12)).astype(np.float32)
        fake = (rng.standard_normal((280, 12)) * 1.2 + 0.15).astype(np.float32)
        ours = prdc(real, fake, k=k)
        with contextlib.redirect_stdout(io.StringIO()):
            theirs = prdc_pkg.compute_prdc(real, fake, k)
        worst = max(worst, *(abs(getattr(ours, f) - float(theirs[f])) for f in theirs))
    line("prdc", "prdc 0.2 compute_prdc (k = 1, 3, 5)", f"max abs. diff {worst:.1e} over the four values")


def parzen_line() -> None:
    from scipy.special import logsumexp
    from test_parzen import _pixels

    from ganeval.metrics import PAPER_SIGMAS, parzen

    samples, val, test = _pixels(600, 1), _pixels(100, 2), _pixels(150, 3)
    res = parzen(samples, val, test)
    k, t = samples.reshape(600, -1).double().numpy(), test.reshape(150, -1).double().numpy()
    d2 = ((t[:, None, :] - k[None]) ** 2).sum(-1)
    s = res.sigma
    ll = logsumexp(-d2 / (2 * s * s), axis=1) - math.log(600) - 784 * math.log(s * math.sqrt(2 * math.pi))
    assert s in list(PAPER_SIGMAS)
    line("parzen", "float64 brute-force log-mean-exp (784-d, 600 kernels)",
         f"abs. diff {abs(res.log_likelihood - ll.mean()):.1e} nats (at the chosen sigma)")


def memorisation_line() -> None:
    from scipy.stats import mannwhitneyu
    from sklearn.neighbors import NearestNeighbors
    from validity_reference import draw

    from ganeval.metrics import memorisation
    from ganeval.metrics.kmeans import kmeans

    d = draw("copies", 2, 7, n_train=2000, n_test=500, n_gen=800)
    res = memorisation(d.gen, d.train, d.test, n_cells=5, seed=1, kmeans="torch")  # centres read back below
    c = kmeans(torch.from_numpy(d.train), 5, seed=1).numpy()
    cell = {k: NearestNeighbors(n_neighbors=1).fit(c).kneighbors(x)[1][:, 0]
            for k, x in (("t", d.train), ("p", d.test), ("q", d.gen))}
    zs = []
    for i in res.cell_ids:
        nn = NearestNeighbors(n_neighbors=1).fit(d.train[cell["t"] == i])
        lq, lp = nn.kneighbors(d.gen[cell["q"] == i])[0][:, 0], nn.kneighbors(d.test[cell["p"] == i])[0][:, 0]
        m, n = len(lq), len(lp)
        zs.append((mannwhitneyu(lq, lp).statistic - (m * n / 2 - 0.5)) / math.sqrt(m * n * (m + n + 1) / 12))
    sd = NearestNeighbors(n_neighbors=1).fit(d.train).kneighbors(d.gen)[0][:, 0]
    line("memorisation (C_T)", "authors' Zu / C_T step by step, same cells (scipy U)",
         f"max abs. diff of per-cell Z {np.max(np.abs(np.array(zs) - res.cell_z)):.1e}")
    line("memorisation (copy)", "scikit-learn NearestNeighbors distances",
         f"max rel. diff {np.max(np.abs(res.sample_distances - sd) / sd):.1e}")


def ndb_line() -> None:
    from validity_reference import draw, reference_ndb

    from ganeval.metrics import ndb

    same = 0
    for s in range(5):
        d = draw("dropped", 64, s, n_train=2000, n_test=10, n_gen=800)
        res = ndb(d.gen, d.train, bins=20, seed=s)
        count, flags = reference_ndb(d.gen, d.train, bins=20, seed=s)
        same += int(res.ndb == count and res.different_bins == np.flatnonzero(flags).tolist())
    line("ndb", "authors' NDB step by step (tests/validity_reference.py)", f"{same}/5 seeds: same count and bins")


def coverage_lines(rng: np.random.Generator) -> None:
    from ganeval.metrics import class_coverage, mode_coverage

    means = np.array([[np.cos(a), np.sin(a)] for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)])
    x = means[rng.integers(0, 5, 2000)] + 0.02 * rng.standard_normal((2000, 2))
    res = mode_coverage(x, means, 0.01)
    d = np.linalg.norm(x[:, None] - means[None], axis=-1)
    hq = d.min(1) < 3 * 0.01
    counts = np.bincount(d.argmin(1)[hq], minlength=8)
    ok = res.modes_covered == int((counts > 0).sum()) and math.isclose(res.hq_fraction, hq.mean())
    line("mode_coverage", "numpy brute force (nearest mode, 3 std, counts)", "equal" if ok else "DIFFERENT")
    lab = rng.integers(0, 7, 500)
    cc = class_coverage(lab, 10)
    p = np.bincount(lab, minlength=10) / 500
    kl = float(np.sum(p[p > 0] * np.log(p[p > 0] / 0.1)))
    line("class_coverage", "numpy bincount and KL(p || uniform)",
         f"covered {'equal' if cc.classes_covered == 7 else 'DIFFERENT'}, KL abs. diff {abs(cc.reverse_kl - kl):.1e}")


def image_lines(rng: np.random.Generator) -> None:
    from torch_fidelity.metric_isc import isc_features_to_metric

    from ganeval.metrics.cmmd import cmmd
    from ganeval.metrics.inception_score import inception_score

    logits = torch.randn(103, 1008, generator=torch.Generator().manual_seed(0)) * 4
    ref = isc_features_to_metric(logits)
    res = inception_score(logits)
    line("is / inception_score", "torch-fidelity isc_features_to_metric (same logits, splits)",
         f"rel. diff mean {rel(res.value, ref['inception_score_mean']):.1e}, std "
         f"{rel(res.std, ref['inception_score_std']):.1e}")
    x, y = rng.standard_normal((57, 16)), rng.standard_normal((41, 16)) * 1.3 + 0.2
    a, b = x / np.linalg.norm(x, axis=1, keepdims=True), y / np.linalg.norm(y, axis=1, keepdims=True)

    def k(p: np.ndarray, q: np.ndarray) -> float:
        return float(np.exp(-((p[:, None] - q[None]) ** 2).sum(-1) / 200.0).mean())

    brute = 1000 * (k(a, a) + k(b, b) - 2 * k(a, b))
    line("cmmd", "float64 brute-force RBF MMD^2 x 1000 (sigma 10)", f"rel. diff {rel(cmmd(x, y).value, brute):.1e}")


def conditional_lines(rng: np.random.Generator) -> None:
    from pytorch_fid.fid_score import calculate_frechet_distance

    from ganeval.metrics.conditional import conditional_accuracy, intra_fid

    real, rl = rng.standard_normal((600, 8)), rng.integers(0, 3, 600)
    fake, fl = rng.standard_normal((450, 8)) * 1.1, rng.integers(0, 3, 450)
    ours = intra_fid(real, rl, fake, fl)
    per = []
    for c in range(3):
        r, f = real[rl == c], fake[fl == c]
        per.append(float(calculate_frechet_distance(r.mean(0), np.cov(r, rowvar=False), f.mean(0),
                                                    np.cov(f, rowvar=False))))
    line("intra_fid", "pytorch-fid per class, averaged", f"rel. diff {rel(ours.value, float(np.mean(per))):.1e}")
    import contextlib
    import io

    import prdc as prdc_pkg

    from ganeval.metrics.conditional import class_prdc

    cp = class_prdc(real, rl, fake, fl, k=5)
    worst = 0.0
    for i, c in enumerate(cp.classes):
        with contextlib.redirect_stdout(io.StringIO()):
            theirs = prdc_pkg.compute_prdc(real[rl == c], fake[fl == c], 5)
        worst = max(worst, abs(cp.coverage[i] - theirs["coverage"]), abs(cp.per_class_recall[i] - theirs["recall"]),
                    abs(cp.per_class_precision[i] - theirs["precision"]), abs(cp.per_class_density[i] - theirs["density"]))
    line("class_prdc", "prdc 0.2 compute_prdc per class (k = 5)", f"max abs. diff {worst:.1e} over classes and values")
    asked, pred = rng.integers(0, 4, 300), rng.integers(0, 4, 300)
    pred[:150] = asked[:150]
    acc = conditional_accuracy(pred, asked, 4)
    n, p, z = 300, float(np.mean(pred == asked)), 1.959963984540054
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    line("conditional_accuracy", "numpy accuracy and the Wilson (1927) interval by formula",
         f"abs. diff value {abs(acc.value - p):.1e}, interval {max(abs(acc.ci_low - centre + half), abs(acc.ci_high - centre - half)):.1e}")


def summary_line(rng: np.random.Generator) -> None:
    import ganeval

    ds = ganeval.load_dataset("ring8")
    x = rng.standard_normal((200, 2)).astype(np.float32)
    s = ganeval.evaluate(x, ds, metrics="summary", device="cpu").metric_dict("summary")
    t = ds.test.double().numpy()
    x64 = x.astype(np.float64)
    mad = float(np.abs(x64.mean(0) - t.mean(0)).mean())
    ratio = float(x64.std(0, ddof=1).mean() / t.std(0, ddof=1).mean())
    line("summary", "numpy moments", f"abs. diff {max(abs(s['mean_abs_diff'] - mad), abs(s['std_ratio'] - ratio)):.1e}")


def main() -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    line("metric", "reference", "measured agreement")
    for fn in (fid_lines, kid_line, prdc_line, coverage_lines, image_lines, conditional_lines, summary_line):
        fn(rng)
    parzen_line()
    memorisation_line()
    ndb_line()


if __name__ == "__main__":
    main()
