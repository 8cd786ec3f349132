"""Paired comparisons (ganeval.paired): known answers, exact ties, Holm by hand, ranks of a collapsed model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ganeval
from ganeval import GanevalError
from ganeval.data import Dataset
from ganeval.metrics import fid, frechet_distance, prdc
from ganeval.paired import compare_models, compare_samples, holm, p_value
from ganeval.paired.bootstrap import basic_interval, first_probability
from ganeval.toy import GaussianGenerator

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def gaussian_data(d: int, n_ref: int, seed: int = 0) -> Dataset:
    """A vectors dataset drawn from N(0, I_d)."""
    g = torch.Generator().manual_seed(seed)
    ref = torch.randn(n_ref, d, generator=g)
    return Dataset(name="gauss", kind="vectors", train=ref, val=torch.randn(200, d, generator=g),
                   test=torch.randn(500, d, generator=g))


def gen(mean, scale=1.0):
    return ganeval.generator_from_module(GaussianGenerator(mean, scale), latent_dim=len(mean), device="cpu")


def test_holm_matches_a_hand_computation():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> max(0.06, 0.04) = 0.06
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.9]), [1.0, 1.0])  # capped at 1
    np.testing.assert_allclose(holm([0.2]), [0.2])


def test_p_value_inverts_the_basic_interval():
    rng = np.random.default_rng(1)
    for shift in (0.0, 0.5, 1.0, 2.0, 3.0):
        reps = rng.normal(shift, 1.0, 999)
        est = shift
        lo, hi = basic_interval(np.asarray(est), reps, 0.95)
        p = p_value(est, reps)
        # the interval excludes 0 exactly when p < 0.05 (up to one replicate at the boundary)
        assert (lo > 0 or hi < 0) == (p < 0.05) or abs(p - 0.05) < 3 / 1000


def test_ties_share_first_place():
    vals = np.array([[1.0, 1.0, 2.0], [0.5, 1.0, 1.0]])
    np.testing.assert_allclose(first_probability(vals, "lower"), [0.75, 0.25, 0.0])


def test_closed_form_gaussian_delta_fid():
    d = 3
    ds = gaussian_data(d, 8000)
    a, b = gen([0.5] * d, 1.0), gen([0.2] * d, 1.3)
    eye = np.eye(d)
    true_a = frechet_distance(np.full(d, 0.5), eye, np.zeros(d), eye)          # 0.75
    true_b = frechet_distance(np.full(d, 0.2), 1.69 * eye, np.zeros(d), eye)   # 0.12 + 3 * 0.09 = 0.39
    assert true_a == pytest.approx(0.75) and true_b == pytest.approx(0.39)
    df, comp = compare_models({"a": a, "b": b}, ds, metrics=["fid"], n_samples=4000, n_bootstrap=200, seed=3,
                              device="cpu", return_comparison=True)
    assert comp.paired_latents
    pair = comp.pairs().iloc[0]
    assert (pair["a"], pair["b"]) == ("a", "b")
    truth = true_b - true_a
    assert pair["ci_low"] < truth < pair["ci_high"]
    assert pair["ci_high"] - pair["ci_low"] < 0.1  # the paired interval is tight at N = 4000
    assert pair["p_value"] < 0.01 and pair["better"] == "b"
    # the point values are the fid metric's own numbers on the same rows
    s = comp.summary("fid")
    xa, xb = a.sample(4000, seed=3), b.sample(4000, seed=3)
    assert s.values[0] == fid(ds.train, xa, bootstrap=0).value
    assert s.values[1] == fid(ds.train, xb, bootstrap=0).value
    rows = df[df.kind == "model"].set_index("model")
    assert rows.loc["b", "p_best"] > 0.99


def test_identical_models_give_zero_exactly_and_even_rank_probabilities():
    ds = gaussian_data(2, 1500)
    gens = {k: gen([0.3, 0.0], 0.9) for k in "abc"}
    df, comp = compare_models(gens, ds, metrics=["fid", "prdc", "kid", "parzen"], n_samples=600, n_bootstrap=200,
                              device="cpu", return_comparison=True)
    pairs = comp.pairs()
    assert len(pairs) == 3 * (1 + 4 + 1 + 1)
    assert (pairs["delta"] == 0).all() and (pairs["ci_low"] == 0).all() and (pairs["ci_high"] == 0).all()
    assert (pairs["p_value"] == 1).all() and pairs["better"].isna().all()
    ranks = comp.ranks()
    np.testing.assert_allclose(ranks["p_best"], 1 / 3)
    assert (ranks["rank"] == 2).all()


def test_collapsed_checkpoint_is_ranked_last(tmp_path):
    from ganeval.toy import mixture_generator

    paths = {}
    for name, modes in (("healthy", None), ("collapsed", [0])):
        p = tmp_path / f"{name}.pt"
        ganeval.save_generator(p, mixture_generator("ring8", modes), factory="ganeval.toy:mixture_generator",
                               factory_kwargs={"data": "ring8", "modes": modes}, latent_dim=3, data="ring8")
        paths[name] = str(p)
    paths["healthy-noisy"] = paths["healthy"]  # a third model for Holm; same file, another label
    df, comp = compare_models(paths, "ring8", metrics=["fid", "mode_coverage"], n_samples=500, n_bootstrap=300,
                              device="cpu", return_comparison=True)
    for metric, fld in (("fid", "value"), ("mode_coverage", "modes_covered"), ("mode_coverage", "reverse_kl")):
        s = comp.summary(metric, fld)
        i = comp.models.index("collapsed")
        assert s.p_last[i] >= 0.99, (metric, fld, s.p_last)
        assert s.rank_low[i] == 3
    pairs = comp.pairs()
    fidp = pairs[pairs.metric == "fid"]
    # Holm over the three pairs, from the raw p-values by hand
    np.testing.assert_allclose(fidp["p_holm"], holm(fidp["p_value"].to_numpy()))
    assert set(fidp["better"].dropna()) == {"healthy", "healthy-noisy"}


def test_point_values_equal_the_metrics():
    ds = gaussian_data(2, 1500)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(400, 2, generator=g) * 1.1, torch.randn(400, 2, generator=g) + 0.2
    comp = compare_samples({"x": x, "y": y}, ds, metrics=["prdc"], n_bootstrap=20, device="cpu")
    for i, s in enumerate((x, y)):
        ref = prdc(ds.train, s, k=5)
        for fld in ("precision", "recall", "density", "coverage"):
            assert comp.summary("prdc", fld).values[i] == pytest.approx(getattr(ref, fld), abs=1e-12)


def test_unpairable_metric_is_named_and_bad_input_is_an_error():
    ds = gaussian_data(2, 500)
    a, b = gen([0.0, 0.0]), gen([0.1, 0.0])
    with pytest.raises(GanevalError, match="labelled"):
        compare_models([a, b], ds, metrics=["fid"], n_samples=200, n_bootstrap=10, device="cpu")
    df, comp = compare_models({"a": a, "b": b}, ds, metrics=["fid", "summary"], n_samples=200, n_bootstrap=10,
                              device="cpu", return_comparison=True)
    assert "summary" in comp.not_paired and "summary: not paired" in comp.text()
    with pytest.raises(GanevalError, match="at least two"):
        compare_models({"a": a}, ds, n_samples=100, device="cpu")
    with pytest.raises(GanevalError, match="same number"):
        compare_samples({"a": torch.zeros(10, 2), "b": torch.zeros(11, 2)}, ds)
    with pytest.raises(GanevalError, match="Unknown metric"):
        compare_models({"a": a, "b": b}, ds, metrics=["fdi"], n_samples=100, device="cpu")


def test_fit_spread_recovers_an_exact_law():
    from ganeval.paired.plan import fit_spread

    ns = np.array([100, 200, 400, 800, 1600])
    fit = fit_spread(ns, np.sqrt(3.0 / ns + 0.01))
    assert fit.a == pytest.approx(3.0, rel=1e-9) and fit.b == pytest.approx(0.01, rel=1e-9)
    assert fit.n_for(np.sqrt(3.0 / 500 + 0.01)) == pytest.approx(500)
    assert fit.n_for(0.05) == float("inf")  # below the floor sqrt(b) = 0.1


def test_plan_recovers_the_one_over_n_variance_law():
    from ganeval.paired.plan import plan

    # FID of N(mu, I) against N(0, I) with |mu| = 1: to first order FID_hat - FID = 2 mu.(m_fake - m_ref),
    # whose variance is 4 |mu|^2 (1/N + 1/M) -> a = 4, b = 4/M (Chong & Forsyth's delta method).
    m_ref = 20_000
    ds = gaussian_data(2, m_ref, seed=5)
    res = plan({"A": gen([1.0, 0.0])}, ds, metric="fid", delta=0.1, ns=[300, 600, 1200, 2400], n_bootstrap=300,
               seed=1, device="cpu")
    assert res.fit.a == pytest.approx(4.0, rel=0.2)
    assert 0 <= res.fit.b < 5 * 4 / m_ref
    assert -0.6 < res.fit.alpha < -0.4
    z = 1.959963984540054
    assert res.n_resolve == pytest.approx(res.fit.a / ((0.1 / z) ** 2 - res.fit.b), rel=1e-9)
    assert 1000 < res.n_resolve < 3000  # 4 (1.96 / 0.1)^2 = 1537 for b = 0
    assert "N to resolve 0.1" in res.text() and "A" in res.bias


def _toy_checkpoints(tmp_path):
    from ganeval.toy import mixture_generator

    paths = {}
    for name, modes in (("healthy", None), ("collapsed", [0, 1])):
        p = tmp_path / f"{name}.pt"
        ganeval.save_generator(p, mixture_generator("ring8", modes), factory="ganeval.toy:mixture_generator",
                               factory_kwargs={"data": "ring8", "modes": modes}, latent_dim=3, data="ring8")
        paths[name] = str(p)
    return paths


def test_cli_compare_plan_and_errors(tmp_path, capsys):
    from ganeval.cli import main

    p = _toy_checkpoints(tmp_path)
    csv = tmp_path / "cmp.csv"
    rc = main(["compare", p["collapsed"], p["healthy"], "--data", "ring8", "--metrics", "fid,mode_coverage",
               "--n-samples", "400", "--bootstrap", "100", "--device", "cpu", "--csv", str(csv)])
    out = capsys.readouterr().out
    assert rc == 0 and "P(best)" in out and "healthy.pt - collapsed.pt" in out
    import pandas as pd

    df = pd.read_csv(csv)
    assert set(df["kind"]) == {"model", "pair"}
    fig = tmp_path / "plan.png"
    rc = main(["plan", p["collapsed"], p["healthy"], "--data", "ring8", "--delta", "0.05", "--ns", "100,200,400",
               "--bootstrap", "60", "--device", "cpu", "--figure", str(fig)])
    out = capsys.readouterr().out
    assert rc == 0 and "N to resolve 0.05" in out and fig.read_bytes()[:4] == b"\x89PNG"
    assert main(["compare", p["healthy"], str(tmp_path / "missing.pt"), "--data", "ring8"]) == 2
    assert "missing.pt" in capsys.readouterr().err
    assert main(["compare", p["healthy"], "--data", "ring8", "--n-samples", "50"]) == 2
    assert main(["plan", p["healthy"], "--data", "ring8", "--delta", "-1"]) == 2


def test_sensitivity_flags_known_changes(tmp_path):
    from ganeval.paired.sensitivity import sensitivity

    # Four well separated clusters in 2-D, labelled: every change has a known answer.
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 4.0]])

    def split(n):
        y = torch.randint(4, (n,), generator=g)
        return (centres[y] + 0.5 * torch.randn(n, 2, generator=g)).numpy(), y.numpy()

    arrays = {}
    for name, n in (("train", 2000), ("val", 400), ("test", 400)):
        arrays[name], arrays[f"{name}_labels"] = split(n)
    path = tmp_path / "clusters.npz"
    np.savez(path, **arrays)
    res = sensitivity(str(path), metrics=["fid", "prdc"], n_samples=300, n_bootstrap=100, device="cpu",
                      strengths={"drop": (1, 2), "noise": (0.1, 1.0), "copies": (1.0,), "shrink": (0.5,)})
    rows = {(r["metric"], r["change"]): r for r in res.rows()}
    assert rows[("fid", "noise")]["right_way"] is True and rows[("fid", "noise")]["strength"] <= 1.0
    assert rows[("fid", "drop")]["right_way"] is True
    assert rows[("prdc.coverage", "drop")]["right_way"] is True
    assert rows[("prdc.recall", "shrink")]["right_way"] is True
    # copies of training rows look at least as good as held-out data to FID against the training split
    assert rows[("fid", "copies")]["right_way"] is not True
    md = res.markdown()
    assert md.startswith("| metric |") and "fid" in md


def test_gate_uses_the_paired_test_while_the_baseline_checkpoint_is_readable(tmp_path, capsys):
    import json

    from ganeval.cli import main

    p = _toy_checkpoints(tmp_path)
    base = tmp_path / "base.json"
    common = ["--data", "ring8", "--n-samples", "400", "--device", "cpu", "--metric", "fid"]
    assert main(["baseline", p["healthy"], "-o", str(base), "--keep-checkpoint", "--bootstrap", "100", *common]) == 0
    assert json.loads(base.read_text())["checkpoint"] == str(tmp_path.resolve() / "healthy.pt")
    capsys.readouterr()
    # the same checkpoint: delta = 0 exactly, a pass
    assert main(["gate", p["healthy"], "--baseline", str(base), "--json", *common]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["paired"]["delta"] == 0 and res["rule"].startswith("paired test")
    # a collapsed candidate: a regression by the paired test
    assert main(["gate", p["collapsed"], "--baseline", str(base), "--json", *common]) == 1
    res = json.loads(capsys.readouterr().out)
    assert res["paired"]["ci_low"] > 0 and not res["passed"]
    # the baseline checkpoint gone: the interval test decides, and says why on stderr
    (tmp_path / "healthy.pt").rename(tmp_path / "moved.pt")
    with pytest.warns(UserWarning, match="not readable.*interval test"):
        assert main(["gate", p["collapsed"], "--baseline", str(base), "--json", *common]) == 1
    res = json.loads(capsys.readouterr().out)
    assert res["paired"] is None and not res["rule"].startswith("paired")


def test_inception_score_stat_equals_the_one_split_score():
    ism = pytest.importorskip("ganeval.metrics.inception_score")
    from ganeval.paired.stats import InceptionScoreStat

    g = torch.Generator().manual_seed(0)
    logits = [torch.randn(300, 12, generator=g, dtype=torch.float64) * s for s in (1.0, 3.0)]
    st = InceptionScoreStat([x.softmax(1).numpy() for x in logits])
    point = st.point()[:, 0]
    for i, x in enumerate(logits):
        assert point[i] == pytest.approx(ism.inception_score(x, splits=1).value, rel=1e-10)
    # a resample that repeats row 0 three times and drops rows 1 and 2 equals the score of that multiset
    c = np.ones(300, dtype=np.int64)
    c[0], c[1], c[2] = 3, 0, 0
    rows = torch.cat([logits[1][[0, 0]], logits[1][np.flatnonzero(c)]])
    assert st.replicate({"latent": c})[1, 0] == pytest.approx(ism.inception_score(rows, splits=1).value, rel=1e-10)


def _fid_by_hand(real: np.ndarray, fake: np.ndarray, cr: np.ndarray, cf: np.ndarray) -> float:
    """FID of a resample in float64 from its definition: weighted means and covariances (N - 1),
    the general eigenvalues of S1 S2."""
    m1, m2 = np.average(real, axis=0, weights=cr), np.average(fake, axis=0, weights=cf)
    s1, s2 = np.cov(real.T, fweights=cr), np.cov(fake.T, fweights=cf)
    ev = np.clip(np.linalg.eigvals(s1 @ s2).real, 0.0, None)
    return float((m1 - m2) @ (m1 - m2) + np.trace(s1) + np.trace(s2) - 2.0 * np.sqrt(ev).sum())


def test_paired_fid_replicates_equal_a_float64_computation_and_fall_back_where_they_must():
    """FrechetStat's resamples (float32 syrk, float64 factorisation, the reference's factor shared by
    every model) equal the definition computed in float64 for every model; a near-identical model
    stays on the exact path; a reference with a constant column (singular covariance) falls back to
    the exact path replicate by replicate; the point estimate is the exact FID."""
    from ganeval.paired.stats import LATENT, FrechetStat

    rng = np.random.default_rng(3)
    d, n = 24, 700
    mix = rng.standard_normal((d, d)) * (np.arange(1, d + 1) ** -0.8)[:, None]
    real = (rng.standard_normal((n, d)) @ mix).astype(np.float32)
    fakes = [(rng.standard_normal((500, d)) @ mix * s + b).astype(np.float32) for s, b in ((1.1, 0.05), (0.9, 0.0))]
    fakes.append(real[:500] + np.float32(1e-4) * rng.standard_normal((500, d)).astype(np.float32))  # near-identical
    stat = FrechetStat(torch.from_numpy(real), [torch.from_numpy(f) for f in fakes], "reference")
    ones = {"reference": np.ones(n, np.int64), LATENT: np.ones(500, np.int64)}
    point = stat.replicate(ones)[:, 0]
    np.testing.assert_allclose(point, [fid(real, f, bootstrap=0).value for f in fakes], rtol=1e-12)
    for _ in range(3):
        cr, cf = np.bincount(rng.integers(0, n, n), minlength=n), np.bincount(rng.integers(0, 500, 500), minlength=500)
        got = stat.replicate({"reference": cr, LATENT: cf})[:, 0]
        want = [_fid_by_hand(real.astype(np.float64), f.astype(np.float64), cr, cf) for f in fakes]
        # float32 rows: their round-off is amplified by the traces / FID cancellation (120-140 here);
        # measured up to 1.2e-5, far below the resampling spread (35-46% of FID at this N)
        np.testing.assert_allclose(got[:2], want[:2], rtol=1e-4)
        np.testing.assert_allclose(got[2], want[2], rtol=1e-7)  # exact path (the hand computation: 7e-9)
    assert stat._exact_only == [False, False, True] and stat._fast is not None

    real_const = real.copy()
    real_const[:, 0] = 1.0  # singular reference covariance: the float32 factorisation fails every time
    stat = FrechetStat(torch.from_numpy(real_const), [torch.from_numpy(fakes[0])], "reference")
    cr, cf = np.bincount(rng.integers(0, n, n), minlength=n), np.bincount(rng.integers(0, 500, 500), minlength=500)
    got = stat.replicate({"reference": cr, LATENT: cf})[0, 0]
    assert stat._fast is not None and stat._fast.replicate(cr, cf) == [None]
    want = FrechetStat(torch.from_numpy(real_const), [torch.from_numpy(fakes[0])], "reference")._exact(cr, cf, [0])[0]
    assert got == want
