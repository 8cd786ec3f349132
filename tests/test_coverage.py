"""Coverage metrics: mixture modes (PacGAN/VEEGAN), digit classes, Stacked MNIST, NDB.

Known answers come from samples built by hand at known distances from known modes, from
brute-force re-computations written here, and from scipy (KL via ``scipy.stats.entropy``; the
pooled two-proportion z-test is the uncorrected 2x2 chi-square test of ``chi2_contingency``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import chi2_contingency, entropy

import ganeval
from ganeval.data import Dataset, load_dataset
from ganeval.errors import GanevalError
from ganeval.evaluate import evaluate
from ganeval.metrics import (class_coverage, hq_threshold, mode_coverage, ndb, ndb_bins, stacked_coverage)
from ganeval.metrics.coverage import HQ_MASS
from ganeval.report.writer import write_report
from ganeval.toy import MixtureGenerator

MIXTURES = ["ring8", "grid25", "mog1200"]


def brute_reverse_kl(counts: list[int]) -> float:
    """KL(p || uniform) by a plain loop over the modes."""
    total, k = sum(counts), len(counts)
    return sum(c / total * math.log((c / total) * k) for c in counts if c)


def unit(rng: np.random.Generator, d: int) -> np.ndarray:
    v = rng.standard_normal(d)
    return v / np.linalg.norm(v)


# ---------------------------------------------------------------------------------------------
# mode coverage


@pytest.mark.parametrize("name", MIXTURES)
def test_constructed_samples_give_exact_counts_hq_fraction_and_reverse_kl(name: str) -> None:
    ds = load_dataset(name)
    means = ds.means.double().numpy()
    k, d = means.shape
    rng = np.random.default_rng(0)
    want = [(3 * i) % 5 for i in range(k)]  # includes zeros: missed modes
    # High quality: at half the HQ radius from the mode, in a random direction.
    r_hq = 0.5 * hq_threshold(d) * ds.std
    hq = [means[i] + r_hq * unit(rng, d) for i in range(k) for _ in range(want[i])]
    # Low quality: midpoints between consecutive modes, far from every mode.
    lq = [(means[i] + means[i + 1]) / 2 for i in range(4)]
    x = np.array(hq + lq)
    res = mode_coverage(x, ds.means, ds.std)
    assert res.counts == want
    assert res.modes_covered == sum(c > 0 for c in want)
    assert res.hq_fraction == len(hq) / len(x)
    assert res.reverse_kl == pytest.approx(brute_reverse_kl(want), rel=1e-12)
    p = np.array(want) / sum(want)
    assert res.reverse_kl == pytest.approx(entropy(p, np.full(k, 1 / k)), rel=1e-12)
    assert res.n_samples == len(x) and res.n_modes == k
    assert mode_coverage(x, ds.means, ds.std, min_count=3).modes_covered == sum(c >= 3 for c in want)


def test_threshold_boundary_is_strict_as_pacgan() -> None:
    # std = 0.5 and these coordinates are exact in binary: the distances are exactly 3 std.
    means = [[0.0, 0.0], [10.0, 0.0]]
    x = [[1.5, 0.0], [0.0, -1.5], [10.0, 1.5], [1.4999, 0.0], [8.5001, 0.0]]
    res = mode_coverage(x, means, 0.5)
    assert res.threshold == 3.0
    assert res.distance_std[:3].tolist() == [3.0, 3.0, 3.0]
    assert res.counts == [1, 1]
    assert res.hq_fraction == 2 / 5
    assert mode_coverage(x, means, 0.5, threshold=3.0001).counts == [3, 2]
    assert mode_coverage(x[:3], means, 0.5).reverse_kl is None


def test_high_dimensional_threshold_keeps_a_modes_own_samples() -> None:
    # In 1200-D a mode's own samples lie ~sqrt(1200) = 34.6 std away: 3 std would reject them all.
    d = 1200
    thr = hq_threshold(d)
    assert math.sqrt(d) < thr < math.sqrt(d) + 3
    means = np.zeros((2, d))
    means[1, 0] = 1000.0
    rng = np.random.default_rng(1)
    x = np.array([means[0] + math.sqrt(d) * unit(rng, d), means[1] + (thr + 0.5) * unit(rng, d)])
    res = mode_coverage(x, means, 1.0)
    assert res.counts == [1, 0] and res.assignment.tolist() == [0, 1]


@pytest.mark.parametrize("name", MIXTURES)
def test_full_coverage_sample_scores_every_mode(name: str) -> None:
    ds = load_dataset(name)
    x, labels = ds.sample(2500, seed=11)
    res = mode_coverage(x, ds.means, ds.std)
    assert res.modes_covered == res.n_modes == len(ds.means)
    assert (res.assignment == labels.numpy()).all()
    # The HQ radius holds 1 - e^-4.5 of each mode's mass in every dimension: binomial tolerance.
    se = math.sqrt(HQ_MASS * (1 - HQ_MASS) / 2500)
    assert abs(res.hq_fraction - HQ_MASS) < 4 * se
    assert res.reverse_kl < 0.02


def test_collapsed_generator_of_known_coverage() -> None:
    ds = load_dataset("ring8")
    gen = MixtureGenerator(ds.means.tolist(), ds.std, modes=[1, 5], scale=0.2)
    z = torch.randn(2500, gen.latent_dim, generator=torch.Generator().manual_seed(0))
    res = mode_coverage(gen(z).detach(), ds.means, ds.std)
    # At 0.2 std of noise every sample is high quality (P(chi_2 > 15^2) is e^-112).
    assert res.hq_fraction == 1.0
    assert [i for i, c in enumerate(res.counts) if c] == [1, 5]
    assert res.modes_covered == 2
    assert res.reverse_kl == pytest.approx(brute_reverse_kl(res.counts), rel=1e-12)
    assert abs(res.reverse_kl - math.log(4)) < 0.01  # two equal modes of eight
    assert res.dominant_mode in (1, 5) and res.top2_share == 1.0


@pytest.mark.parametrize("kwargs, arg", [
    ({"means": np.zeros((3, 3))}, "means"),
    ({"std": 0.0}, "std"),
    ({"std": -0.01}, "std"),
    ({"threshold": 0}, "threshold"),
    ({"min_count": 0}, "min_count"),
    ({"samples": [[0.0, float("nan")]]}, "samples"),
])
def test_mode_coverage_bad_input(kwargs: dict, arg: str) -> None:
    args = {"samples": np.zeros((4, 2)), "means": np.ones((3, 2)), "std": 0.1} | kwargs
    with pytest.raises(GanevalError, match=f"`{arg}`"):
        mode_coverage(args.pop("samples"), args.pop("means"), args.pop("std"), **args)


# ---------------------------------------------------------------------------------------------
# class coverage


def test_class_coverage_from_labels_against_a_non_uniform_reference() -> None:
    labels = np.repeat([0, 1, 2, 4], [10, 5, 1, 4])
    ref_counts = np.array([4, 3, 1, 1, 1])
    res = class_coverage(labels, 5, reference=ref_counts)
    assert res.counts == [10, 5, 1, 0, 4]
    assert res.classes_covered == 4 and res.missing == [3]
    p, q = np.array(res.counts) / 20, ref_counts / ref_counts.sum()
    assert res.reverse_kl == pytest.approx(sum(a * math.log(a / b) for a, b in zip(p, q) if a), rel=1e-12)
    assert res.reverse_kl == pytest.approx(entropy(p, q), rel=1e-12)
    assert res.confident_fraction is None and res.confident_classes_covered is None
    assert class_coverage(labels, 5, min_count=5).classes_covered == 2
    # Samples in a class the data lacks: the KL is infinite (null in JSON).
    inf = class_coverage(labels, 5, reference=[1, 1, 1, 1, 0])
    assert inf.reverse_kl == math.inf and inf.to_dict()["reverse_kl"] is None


def test_class_coverage_from_probabilities_counts_confident_predictions() -> None:
    top = np.array([0.95, 0.6, 0.99, 0.9, 0.4])
    cls = np.array([2, 2, 0, 1, 1])
    probs = np.full((5, 3), 0.0)
    for i, (c, t) in enumerate(zip(cls, top)):
        probs[i] = (1 - t) / 2
        probs[i, c] = t
    res = class_coverage(probs, 3)
    assert res.counts == [1, 2, 2]
    assert res.confident_fraction == 3 / 5  # 0.95, 0.99 and 0.9 reach 0.9
    assert res.confident_classes_covered == 3
    assert class_coverage(probs, 3, confidence=0.95).confident_classes_covered == 2


@pytest.mark.parametrize("call, arg", [
    (lambda: class_coverage(np.random.default_rng(0).normal(size=(4, 10)), 10), "probs_or_labels"),
    (lambda: class_coverage([0, 3, 10], 10), "probs_or_labels"),
    (lambda: class_coverage(np.full((3, 4), 0.25), 10), "probs_or_labels"),
    (lambda: class_coverage([0, 1], 10, reference=[1, 1]), "reference"),
    (lambda: class_coverage([0, 1], 1), "n_classes"),
    (lambda: class_coverage([0, 1], 3, confidence=1.5), "confidence"),
    (lambda: stacked_coverage(np.zeros((3, 3, 9))), "channel_probs_or_labels"),
])
def test_class_coverage_bad_input(call, arg: str) -> None:
    with pytest.raises(GanevalError, match=f"`{arg}`"):
        call()


def test_stacked_coverage_spells_the_mode_from_the_channels() -> None:
    lab = np.array([[1, 2, 3], [1, 2, 3], [0, 0, 7], [9, 9, 9]])
    res = stacked_coverage(lab)
    assert res.n_classes == 1000
    counts = np.array(res.counts)
    assert {i: c for i, c in enumerate(counts) if c} == {7: 1, 123: 2, 999: 1}
    assert res.classes_covered == 3
    assert res.reverse_kl == pytest.approx(brute_reverse_kl(counts.tolist()), rel=1e-12)
    probs = np.eye(10)[lab] * 0.9 + 0.01  # every channel confident (0.91) ...
    probs[3, 0] = np.full(10, 0.1)  # ... except the first channel of the last sample
    assert stacked_coverage(probs).confident_fraction == 3 / 4


def test_stacked_mnist_labels_are_the_channels_digits(mnist_root: Path) -> None:
    ds = load_dataset("stacked-mnist", root=mnist_root)
    y = ds.train_labels.numpy()
    digits = np.stack([y // 100, y // 10 % 10, y % 10], 1)
    res = stacked_coverage(digits)
    assert res.counts == np.bincount(y, minlength=1000).tolist()
    assert res.classes_covered == 1000  # 25,000 triples: each mode ~25 times


# ---------------------------------------------------------------------------------------------
# NDB


def test_ndb_z_test_matches_scipy_and_bins_match_brute_force() -> None:
    ds = load_dataset("grid25")
    x = ds.test[:1500]
    res = ndb(x, ds.train[:4000], bins=20, seed=3)
    b = ndb_bins(ds.train[:4000], bins=20, seed=3)
    assert res.reference_proportions == b.proportions.tolist()
    # Nearest centre by a plain loop.
    xs = x.double().numpy()
    brute = np.array([np.argmin([np.sum((row - c) ** 2) for c in b.centers]) for row in xs])
    assert (res.assignment == brute).all()
    assert res.sample_proportions == (np.bincount(brute, minlength=20) / len(xs)).tolist()
    n1, n2 = res.n_samples, res.n_reference
    for i in range(20):
        c1, c2 = round(res.sample_proportions[i] * n1), round(res.reference_proportions[i] * n2)
        _, p_value, _, _ = chi2_contingency([[c1, n1 - c1], [c2, n2 - c2]], correction=False)
        assert (p_value < 0.05) == (i in res.different_bins)
        assert 2 * (1 - 0.5 * (1 + math.erf(abs(res.z[i]) / math.sqrt(2)))) == pytest.approx(p_value, rel=1e-6)
    assert res.bins == 20 and res.ndb == len(res.different_bins) and res.ndb_fraction == res.ndb / 20


def _false_positive_bound(bins: int, alpha: float) -> int:
    # Expected false positives plus three binomial standard deviations.
    return int(bins * alpha + 3 * math.sqrt(bins * alpha * (1 - alpha)))


def test_ndb_two_halves_of_the_same_data_differ_in_about_no_bin() -> None:
    ds = load_dataset("digits")
    held_out = torch.cat([ds.val, ds.test])
    res = ndb(held_out, ds.train, bins=20, seed=0)
    assert res.ndb <= _false_positive_bound(20, 0.05)
    assert res.js_divergence < 0.02


def test_ndb_flags_the_bins_of_a_removed_class() -> None:
    # The NDB paper's sanity check: drop one digit class from a held-out set.
    ds = load_dataset("digits")
    held_out = torch.cat([ds.val, ds.test])
    keep = torch.cat([ds.val_labels, ds.test_labels]) != 0
    b = ndb_bins(ds.train, bins=20, seed=0)
    res = ndb(held_out[keep], b)
    train_bin = b.assign(ds.train.reshape(len(ds.train), -1).double())
    y = ds.train_labels.numpy()
    zero_bins = [i for i in range(20) if np.bincount(y[train_bin == i], minlength=10).argmax() == 0]
    assert zero_bins, "class 0 should own at least one bin"
    assert set(zero_bins) <= set(res.different_bins)
    assert all(res.z[i] < 0 and res.sample_proportions[i] < 0.01 for i in zero_bins)
    assert len(set(res.different_bins) - set(zero_bins)) <= _false_positive_bound(20, 0.05)


def test_ndb_is_deterministic_reuses_bins_and_whitening_ignores_scale() -> None:
    ds = load_dataset("grid25")
    x, tr = ds.test[:600], ds.train[:3000]
    a = ndb(x, tr, bins=10, seed=5)
    assert a.to_dict() == ndb(x, tr, bins=10, seed=5).to_dict()
    assert a.to_dict() == ndb(x, ndb_bins(tr, bins=10, seed=5)).to_dict()
    # Whitening standardises each dimension: rescaling one dimension changes nothing.
    s = torch.tensor([1.0, 50.0])
    w1, w2 = ndb(x, tr, bins=10, seed=5, whiten=True), ndb(x * s, tr * s, bins=10, seed=5, whiten=True)
    assert w1.whiten and w1.different_bins == w2.different_bins
    assert w1.sample_proportions == pytest.approx(w2.sample_proportions, abs=1e-12)
    # A held-out reference replaces the training shares.
    r = ndb(x, tr, bins=10, seed=5, reference=ds.val[:600])
    assert r.n_reference == 600 and r.n_train == 3000


@pytest.mark.parametrize("call, arg", [
    (lambda x, tr: ndb(x[:40], tr, bins=10), "samples"),
    (lambda x, tr: ndb(x, tr[:30], bins=10), "train"),
    (lambda x, tr: ndb(x, tr, bins=10, reference=tr[:20]), "reference"),
    (lambda x, tr: ndb(x, np.zeros((500, 3)), bins=10), "train"),
    (lambda x, tr: ndb(x, tr, bins=1), "bins"),
    (lambda x, tr: ndb(x, tr, bins=10, alpha=1.5), "alpha"),
])
def test_ndb_bad_input(call, arg: str) -> None:
    ds = load_dataset("ring8")
    with pytest.raises(GanevalError, match=f"`{arg}`"):
        call(ds.test[:500], ds.train[:500])


# ---------------------------------------------------------------------------------------------
# through evaluate and the report


def test_evaluate_and_report_on_a_collapsed_grid_generator(tmp_path: Path) -> None:
    ds = load_dataset("grid25")
    kw = {"means": ds.means.tolist(), "std": ds.std, "modes": list(range(0, 25, 2))}
    ckpt = ganeval.save_generator(tmp_path / "g.pt", MixtureGenerator(**kw), factory="ganeval.toy:MixtureGenerator",
                                  factory_kwargs=kw, latent_dim=3, data="grid25")
    ev = evaluate(ckpt, "grid25", metrics=["mode_coverage", "ndb"], options={"ndb": {"bins": 25}})
    mc, nd = ev.to_dict()["metrics"]["mode_coverage"], ev.to_dict()["metrics"]["ndb"]
    assert ev.provenance["n_samples"] == 2500  # the published protocol
    assert mc["modes_covered"] == 13 and [i for i, c in enumerate(mc["counts"]) if c] == kw["modes"]
    assert mc["threshold"] == 3.0
    # The 12 missing modes own about 12 of the 25 bins; each of those must be flagged.
    assert nd["bins"] == 25 and nd["ndb"] >= 12
    out = write_report(ev, tmp_path / "report")
    for png in ("mode_histogram.png", "mode_coverage_map.png", "ndb_bins.png"):
        assert (out / png).stat().st_size > 1000, png


def test_ndb_adapter_lowers_bins_for_small_data_and_needs_enough_samples() -> None:
    ds = load_dataset("digits")
    ev = evaluate(ds.test.numpy(), "digits", metrics=["ndb"])  # 300 samples: 60 bins of >= 5
    assert ev.metrics["ndb"].bins == 60
    with pytest.raises(GanevalError, match="`samples`"):
        evaluate(ds.test.numpy(), "digits", metrics=["ndb"], options={"ndb": {"bins": 100}})


def test_class_coverage_rejects_images_without_a_digit_classifier() -> None:
    x = torch.rand(30, 3, 16, 16)
    tiny = Dataset(name="tiny", kind="images", train=x, val=x, test=x)
    with pytest.raises(GanevalError, match="digit data"):
        evaluate(x.numpy(), tiny, metrics=["class_coverage"])


# ---------------------------------------------------------------------------------------------
# with the shipped digit classifiers


def test_class_coverage_of_the_real_digit_test_split_is_complete(tmp_path: Path) -> None:
    from ganeval.features.digits_cnn import load_classifier

    ds = load_dataset("digits")
    probs = load_classifier("digits").probs(ds.test)
    res = class_coverage(probs, 10, reference=np.bincount(ds.train_labels.numpy(), minlength=10))
    assert res.classes_covered == 10 and res.missing == []
    # Most real digits are recognised with confidence, in every class.
    assert res.confident_fraction > 0.5 and res.confident_classes_covered == 10
    # The test split is stratified like the training split: the class histogram nearly matches.
    assert res.reverse_kl < 0.01
    ev = evaluate(ds.test.numpy(), "digits", metrics=["class_coverage"])
    assert ev.to_dict()["metrics"]["class_coverage"]["classes_covered"] == 10
    out = write_report(ev, tmp_path / "report")
    assert (out / "class_coverage.png").stat().st_size > 1000


def test_ndb_in_the_digit_cnn_feature_space() -> None:
    ds = load_dataset("digits")
    opts = {"ndb": {"space": "features", "bins": 20}}
    full = evaluate(ds.test.numpy(), "digits", metrics=["ndb"], options=opts)
    assert full.provenance["features"]["name"] == "digits"
    assert full.metrics["ndb"].ndb <= _false_positive_bound(20, 0.05)
    keep = ds.test_labels != 3
    cut = evaluate(ds.test[keep].numpy(), "digits", metrics=["ndb"], options=opts).metrics["ndb"]
    assert any(cut.z[i] < 0 for i in cut.different_bins)  # the bins of the missing 3s
    assert cut.js_divergence > full.metrics["ndb"].js_divergence


def test_class_coverage_of_real_mnist_and_stacked_mnist(mnist_root: Path, tmp_path: Path) -> None:
    mn = load_dataset("mnist", root=mnist_root)
    ev = evaluate(mn.test[:1000].numpy(), mn, metrics=["class_coverage"])
    res = ev.metrics["class_coverage"]
    assert res.classes_covered == 10 and res.classifier["name"] == "mnist"
    assert res.reverse_kl < 0.01
    st = load_dataset("stacked-mnist", root=mnist_root)
    n = 1000
    x, y = st.test[:n], st.test_labels[:n].numpy()
    ev = evaluate(x.numpy(), st, metrics=["class_coverage"])
    res = ev.metrics["class_coverage"]
    truth = stacked_coverage(np.stack([y // 100, y // 10 % 10, y % 10], 1))
    # The classifier reads ~99 % of digits right (97 % of triples), so it recovers the true
    # triples' histogram: a misread triple moves one count, changing coverage by at most one.
    wrong = int((res.predictions != y).sum())
    assert res.n_classes == 1000 and wrong < 0.05 * n
    assert abs(res.classes_covered - truth.classes_covered) <= wrong
    assert abs(res.reverse_kl - truth.reverse_kl) < 0.05
    out = write_report(ev, tmp_path / "report")
    assert (out / "class_coverage.png").stat().st_size > 1000
