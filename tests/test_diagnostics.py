"""Run diagnostics: known-answer tests of the optimal-discriminator maths, verdicts on synthetic
trajectories and toy run folders, bad input, the CLI, figures, and short real preset runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import integrate, stats
from scipy.special import logsumexp

from ganeval import GanevalError, load_dataset, save_generator
from ganeval.checkpoints import generator_from_module
from ganeval.cli import main
from ganeval.diagnostics import (Thresholds, diagnose, heldout_bandwidth, js_divergence, kde_log_density,
                                 optimal_discriminator, optimal_discriminator_check, oscillation_period,
                                 value_from_jsd)
from ganeval.diagnostics.toy import MixtureDiscriminator
from ganeval.toy import MixtureGenerator

LOG2 = math.log(2)


# ---------------------------------------------------------------------------------------------
# known answers: JSD, D*, V(D*, G)


def _mix1d(weights, means, stds):
    w, m, s = (np.asarray(a, float) for a in (weights, means, stds))

    def pdf(x):
        return (w * stats.norm.pdf(np.asarray(x, float)[..., None], m, s)).sum(-1)

    def log_prob(x):
        x = torch.as_tensor(x, dtype=torch.float64).reshape(-1)
        comp = torch.distributions.Normal(torch.tensor(m), torch.tensor(s)).log_prob(x[:, None])
        return torch.logsumexp(comp + torch.log(torch.tensor(w)), 1)

    def sample(n, seed):
        rng = np.random.default_rng(seed)
        k = rng.choice(len(w), size=n, p=w)
        return torch.as_tensor(rng.normal(m[k], s[k]))[:, None]

    return pdf, log_prob, sample


def test_jsd_matches_numerical_integration_1d():
    pdf_p, lp, sp = _mix1d([0.3, 0.7], [-1.0, 1.5], [0.5, 0.7])
    pdf_q, lq, sq = _mix1d([0.5, 0.5], [0.0, 3.0], [1.0, 0.4])

    def integrand(x):
        p, q = pdf_p(x), pdf_q(x)
        m = (p + q) / 2
        return 0.5 * (p * np.log(p / m) if p > 0 else 0.0) + 0.5 * (q * np.log(q / m) if q > 0 else 0.0)

    exact, _ = integrate.quad(integrand, -12, 12, limit=400, points=[-1, 0, 1.5, 3])
    est, se = js_divergence(lp, lq, sp(100_000, 1), sq(100_000, 2))
    assert 0 < exact < LOG2
    assert abs(est - exact) < 4 * se + 1e-3, (est, se, exact)
    assert se < 0.003


def test_jsd_matches_fine_grid_2d_mixtures():
    # Two 2-D mixtures with exact densities; JSD by a Riemann sum on a fine grid.
    a = load_dataset("ring8")
    means_b = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    std_a, std_b = 0.3, 0.4  # broad components so a 400 x 400 grid resolves them

    def log_mix(x, means, std):
        sq = torch.cdist(x.double(), means.double()).pow(2)
        return torch.logsumexp(-sq / (2 * std**2), 1) - math.log(2 * math.pi * std**2) - math.log(len(means))

    def la(x):
        return log_mix(x, a.means, std_a)

    def lb(x):
        return log_mix(x, means_b, std_b)

    g = torch.linspace(-3.5, 3.5, 400, dtype=torch.float64)
    xx, yy = torch.meshgrid(g, g, indexing="xy")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
    p, q = la(pts).exp(), lb(pts).exp()
    m = (p + q) / 2
    cell = float((g[1] - g[0]) ** 2)
    exact = float((0.5 * p * torch.log(p / m) + 0.5 * q * torch.log(q / m)).sum() * cell)
    gen = torch.Generator().manual_seed(0)
    xa = a.means.double()[torch.randint(8, (60_000,), generator=gen)] + std_a * torch.randn(60_000, 2, generator=gen, dtype=torch.float64)
    xb = means_b.double()[torch.randint(2, (60_000,), generator=gen)] + std_b * torch.randn(60_000, 2, generator=gen, dtype=torch.float64)
    est, se = js_divergence(la, lb, xa, xb)
    assert abs(est - exact) < 4 * se + 2e-3, (est, se, exact)


def test_dstar_is_half_and_value_is_minus_log4_when_pg_equals_pdata():
    ds = load_dataset("ring8")
    x = torch.cat([ds.test, torch.randn(500, 2, generator=torch.Generator().manual_seed(3)) * 2])
    lp = ds.log_prob(x)
    dstar = optimal_discriminator(lp, lp)
    assert torch.equal(dstar, torch.full_like(dstar, 0.5))
    # Far from every mode both densities underflow to -inf in float64: D* is still 1/2 there.
    far = torch.tensor([[1e4, 1e4]])
    assert float(optimal_discriminator(ds.log_prob(far) * math.inf, ds.log_prob(far) * math.inf)) == 0.5
    jsd, se = js_divergence(ds.log_prob, ds.log_prob, ds.test, ds.val)
    assert jsd == 0.0 and se == 0.0
    assert value_from_jsd(jsd) == pytest.approx(-math.log(4), abs=1e-15)


def test_disjoint_distributions_reach_log2():
    _, lp, sp = _mix1d([1.0], [-50.0], [1.0])
    _, lq, sq = _mix1d([1.0], [50.0], [1.0])
    jsd, _ = js_divergence(lp, lq, sp(2000, 0), sq(2000, 1))
    assert jsd == pytest.approx(LOG2, abs=1e-9)
    assert value_from_jsd(jsd) == pytest.approx(0.0, abs=1e-9)


def test_kde_matches_scikit_learn_and_bandwidth_search_matches_brute_force():
    from sklearn.neighbors import KernelDensity

    rng = np.random.default_rng(0)
    y = rng.normal(size=(300, 2)) * [1.0, 0.3]
    x = rng.normal(size=(50, 2))
    for h in (0.05, 0.3, 1.0):
        ours = kde_log_density(x, y, h, chunk=7).numpy()
        sq = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)  # brute force, no expansion
        brute = logsumexp(-sq / (2 * h**2), axis=1) - math.log(len(y)) - math.log(2 * math.pi * h**2)
        # the kernel sums are float32 exps (ganeval.kernels.log_kde): ~1e-7 nats, far below what D*
        # and the JSD are reported to
        assert np.allclose(ours, brute, rtol=0, atol=1e-6)
        # scikit-learn's tree walk underflows deep in the tails (log density < -400): compare elsewhere
        ref = KernelDensity(bandwidth=h, kernel="gaussian").fit(y).score_samples(x)
        ok = brute > -50
        assert ok.sum() > 30 and np.allclose(ours[ok], ref[ok], rtol=0, atol=1e-6)
    val = rng.normal(size=(200, 2)) * [1.0, 0.3]

    def brute_ll(h):  # mean held-out log-likelihood, straight from the definition
        sq = ((val[:, None, :] - y[None, :, :]) ** 2).sum(-1)
        return float(np.mean(logsumexp(-sq / (2 * h**2), axis=1) - math.log(len(y)) - math.log(2 * math.pi * h**2)))

    grid = np.geomspace(0.01, 2, 25)
    assert heldout_bandwidth(y, val, grid=grid) == pytest.approx(grid[int(np.argmax([brute_ll(h) for h in grid]))])
    # the default coarse-to-fine search (final step: a factor 1000**(1/48)) lands within half its step
    # plus half the step of a 100-point brute-force search of the optimum
    fine = np.geomspace(0.01, 2, 100)
    best = fine[int(np.argmax([brute_ll(h) for h in fine]))]
    tol = 0.5 * math.log(1000) / 48 + 0.5 * math.log(fine[1] / fine[0])
    assert abs(math.log(heldout_bandwidth(y, val) / best)) <= tol + 1e-9


def _toy(ds, modes=None, scale=1.0):
    return generator_from_module(MixtureGenerator(ds.means.tolist(), ds.std, modes, scale), device="cpu")


def test_check_recovers_analytic_jsd_and_optimal_discriminator():
    ds = load_dataset("ring8")
    # Generator on mode 0 alone: m = 9/16 on mode 0, 1/16 on the others (modes do not overlap).
    kl_p = (1 / 8) * math.log((1 / 8) / (9 / 16)) + (7 / 8) * math.log((1 / 8) / (1 / 16))
    kl_q = math.log(1 / (9 / 16))
    exact = 0.5 * (kl_p + kl_q)
    exact_d = MixtureDiscriminator(ds.means.tolist(), ds.std, [0])
    r = optimal_discriminator_check(_toy(ds, [0]), exact_d, ds, n_samples=600, seed=1, grid_size=0)
    assert abs(r.jsd - exact) < 4 * r.jsd_se + 0.01
    assert r.value_optimal == pytest.approx(-math.log(4) + 2 * r.jsd)
    # the true D* sits close to the KDE-based D*; a constant D = 1/2 does not
    const = optimal_discriminator_check(_toy(ds, [0]), lambda x: torch.zeros(len(x)), ds, n_samples=600, seed=1,
                                        grid_size=0)
    assert r.mean_abs_diff < 0.05 < 0.3 < const.mean_abs_diff
    # V(D, G) is maximised by D*: the exact D* reaches V(D*, G) up to estimation error, D = 1/2 gives -log 4
    assert r.value_d == pytest.approx(r.value_optimal, abs=0.05)
    assert const.value_d == pytest.approx(-math.log(4), abs=1e-9) and const.value_d < r.value_optimal
    # same seed, same numbers
    again = optimal_discriminator_check(_toy(ds, [0]), exact_d, ds, n_samples=600, seed=1, grid_size=0)
    assert again.to_dict() == r.to_dict()


def test_check_on_perfect_generator_gives_half_and_minus_log4():
    ds = load_dataset("grid25")
    r = optimal_discriminator_check(_toy(ds), None, ds, n_samples=1000, seed=0, grid_size=21)
    assert abs(r.jsd_raw) <= 3 * r.jsd_se + 0.01 and r.jsd == max(0.0, r.jsd_raw)
    assert r.value_optimal == pytest.approx(-math.log(4), abs=2 * (3 * r.jsd_se + 0.01))
    # KDE-based D* is 1/2 up to estimation noise where the data lives
    ds_pts = ds.sample(500, 9)[0]
    from ganeval.diagnostics.optimal_d import kde_log_density as kde

    fit = _toy(ds).sample(1000, seed=0).double()
    dstar = optimal_discriminator(ds.log_prob(ds_pts), kde(ds_pts, fit, r.bandwidth))
    assert float((dstar - 0.5).abs().mean()) < 0.1
    assert r.maps["grid"]["d_star"].shape == (21, 21) and r.maps["grid"]["d"] is None
    assert set(r.to_dict()) >= {"jsd", "jsd_se", "value_optimal", "mean_abs_diff", "bandwidth"}
    assert "maps" not in r.to_dict()


def test_check_rejects_bad_input():
    ds = load_dataset("ring8")
    with pytest.raises(GanevalError, match="mixture"):
        optimal_discriminator_check(_toy(ds), None, load_dataset("digits"), n_samples=50)
    with pytest.raises(GanevalError, match="n_samples"):
        optimal_discriminator_check(_toy(ds), None, ds, n_samples=5)
    with pytest.raises(GanevalError, match="bandwidth"):
        optimal_discriminator_check(_toy(ds), None, ds, n_samples=50, bandwidth="silverman")
    with pytest.raises(GanevalError, match="one number per input row"):
        optimal_discriminator_check(_toy(ds), lambda x: torch.zeros(len(x), 2), ds, n_samples=50, grid_size=0)


# ---------------------------------------------------------------------------------------------
# synthetic trajectories


def synthetic(regime: str, seed: int = 0, n: int = 101, k: int = 8) -> pd.DataFrame:
    """A hand-made history showing one regime, with the noise a real run's log has."""
    rng = np.random.default_rng(seed)
    step = np.arange(n) * 100
    t = step / step[-1]

    def noise(s):
        return rng.normal(0, s, n)

    base = dict(step=step, d_loss=1.35 + noise(0.02), g_loss=0.75 + noise(0.02), grad_norm_d=0.5 + abs(noise(0.1)))
    if regime in ("healthy", "diverged"):
        h = dict(base, modes_covered=np.minimum(k, np.round(1 + (k - 1) * np.minimum(1, 3 * t))),
                 hq_fraction=0.9 + noise(0.01), dominant_mode=rng.integers(0, k, n), top2_share=2 / k + abs(noise(0.02)),
                 d_real=0.55 + noise(0.01), d_fake=0.45 + noise(0.01), grad_norm_g=0.5 + abs(noise(0.1)))
    elif regime == "collapsed":
        h = dict(base, modes_covered=np.ones(n), hq_fraction=0.95 + noise(0.01), dominant_mode=np.full(n, 3),
                 top2_share=0.99 + noise(0.002), d_real=0.8 + noise(0.01), d_fake=0.3 + noise(0.01),
                 grad_norm_g=0.2 + abs(noise(0.05)))
    elif regime == "oscillating":
        wave = np.sin(2 * np.pi * step / 1200)
        h = dict(base, modes_covered=rng.integers(0, 2, n), hq_fraction=0.05 + abs(noise(0.02)),
                 dominant_mode=(np.arange(n) // 6) % k, top2_share=np.clip(0.97 + noise(0.01), 0, 1),
                 d_real=0.5 + 0.15 * wave + noise(0.01), d_fake=0.5 - 0.15 * wave + noise(0.01),
                 grad_norm_g=0.5 + abs(noise(0.1)))
    elif regime == "vanishing":
        h = dict(base, modes_covered=np.zeros(n), hq_fraction=np.zeros(n), dominant_mode=rng.integers(0, k, n),
                 top2_share=0.3 + noise(0.01), d_real=0.6 + 0.39 * t**0.2, d_fake=0.4 - 0.39 * t**0.2,
                 grad_norm_g=np.exp(-10 * t) + 1e-6)
    else:
        raise ValueError(regime)
    df = pd.DataFrame(h)
    if regime == "diverged":
        df.loc[60:, ["d_loss", "g_loss", "grad_norm_g"]] = np.nan
    return df


@pytest.mark.parametrize("regime", ["healthy", "collapsed", "oscillating", "vanishing", "diverged"])
def test_synthetic_trajectories_get_their_verdict(regime):
    for seed in range(3):
        d = diagnose(synthetic(regime, seed), data="ring8")
        assert d.verdict == regime, d.text()
        assert 0.5 <= d.confidence <= 1.0
        assert d.sources == ["history"] and "history alone" in d.notes[0]
        deciding = d.evidence[0]
        assert deciding.points_to in (regime, None) or regime == "healthy"
        json.loads(d.to_json())  # strict JSON (no NaN)


def test_rules_read_the_signals_not_the_regime_name():
    # A collapse onto the same 2 modes throughout is not hopping; hopping over spread samples is not either.
    h = synthetic("collapsed")
    h["dominant_mode"] = np.where(np.arange(len(h)) % 2, 3, 5)
    assert diagnose(h, data="ring8").verdict == "collapsed"
    h = synthetic("oscillating")
    h["top2_share"] = 0.3
    h["modes_covered"] = 8
    d = diagnose(h, data="ring8")
    assert d.verdict == "healthy" and not d.signal("dominant_mode_hops").fired
    # thresholds are parameters: a stricter coverage bar turns 7/8 into "collapsed"
    h = synthetic("healthy")
    h["modes_covered"] = np.minimum(h["modes_covered"], 7)
    assert diagnose(h, data="ring8").verdict == "healthy"
    assert diagnose(h, data="ring8", thresholds=Thresholds(healthy_coverage=0.9)).verdict == "collapsed"
    # modes covered by stray samples while most samples sit off the modes: healthy, flagged, less sure
    tight = diagnose(synthetic("healthy"), data="ring8")
    h = synthetic("healthy")
    h["hq_fraction"] = 0.1
    loose = diagnose(h, data="ring8")
    assert loose.verdict == "healthy" and "off the modes" in loose.summary
    assert loose.confidence < tight.confidence


def test_vanishing_from_a_saturated_minimax_loss():
    # G's gradient was never alive (D wins from the first log line): no collapse relative to its peak,
    # but D(G(z)) ~ 0 saturates the minimax loss, whose gradient scales with D(G(z)).
    h = synthetic("vanishing")
    h["grad_norm_g"] = 1e-4 * (1 + 0.1 * np.random.default_rng(0).random(len(h)))
    h["d_real"], h["d_fake"] = 0.999, 1e-5
    assert not diagnose(h, data="ring8").signal("grad_g_collapse").fired
    d = diagnose(h, data="ring8")
    assert d.verdict == "vanishing" and d.evidence[0].name == "d_certain", d.text()
    # with the non-saturating loss a certain D still leaves G a gradient: not vanishing by that sign
    assert decide_with_loss(h, "nonsaturating") == "collapsed"


def decide_with_loss(history: pd.DataFrame, loss: str) -> str:
    from ganeval.diagnostics import decide
    from ganeval.diagnostics.signals import Tables, compute_signals

    sig, _ = compute_signals(Tables({"history": history}), 8, Thresholds())
    return decide(sig, Thresholds(), loss)[0]


def test_history_without_coverage_columns_says_what_it_cannot_see():
    h = synthetic("healthy")[["step", "d_loss", "g_loss", "d_real", "d_fake", "grad_norm_g"]]
    d = diagnose(h)
    assert d.verdict == "inconclusive" and "collapse cannot be ruled out" in d.summary
    assert any("coverage" in n for n in d.notes)
    osc = diagnose(synthetic("oscillating")[["step", "d_real", "d_fake"]].to_dict("list"))
    assert osc.verdict == "oscillating" and osc.confidence <= 0.6
    van = diagnose(synthetic("vanishing")[["step", "d_real", "d_fake", "grad_norm_g"]])
    assert van.verdict == "vanishing" and van.confidence <= 0.8
    # coverage without a known number of modes: said so
    d = diagnose(synthetic("collapsed"))
    assert any("number of modes is unknown" in n for n in d.notes)


def test_unusable_or_short_histories():
    with pytest.raises(GanevalError, match="none of the columns"):
        diagnose(pd.DataFrame({"step": [1, 2, 3], "foo": [1, 2, 3]}))
    with pytest.raises(GanevalError, match="non-numeric"):
        diagnose(pd.DataFrame({"step": [1, 2], "d_real": ["a", "b"]}))
    with pytest.raises(GanevalError, match="history DataFrame"):
        diagnose(42)
    with pytest.raises(GanevalError, match="use_checkpoints"):
        diagnose(synthetic("healthy"), use_checkpoints="yes")
    with pytest.raises(GanevalError, match="n_samples"):
        diagnose(synthetic("healthy"), n_samples=0)
    d = diagnose(synthetic("healthy").iloc[:3], data="ring8")
    assert d.verdict == "inconclusive" and "3 trajectory point" in d.summary
    # the row number stands in for a missing step column, with a note
    d = diagnose(synthetic("collapsed").drop(columns="step"), data="ring8")
    assert d.verdict == "collapsed" and any("row number" in n for n in d.notes)


def test_oscillation_period_recovers_a_sine():
    steps = np.arange(200) * 50.0
    v = 0.5 + 0.2 * np.sin(2 * np.pi * steps / 1500) + np.random.default_rng(0).normal(0, 0.02, 200)
    period, peak = oscillation_period(steps, v)
    assert period == pytest.approx(1500, rel=0.05) and peak > 0.5
    assert oscillation_period(steps, np.random.default_rng(1).normal(size=200))[0] is None


# ---------------------------------------------------------------------------------------------
# run folders: toy checkpoints with analytic discriminators


def make_run(root: Path, schedule, data="ring8", history=None, config=None) -> Path:
    """Checkpoints of ``MixtureGenerator(modes, scale)`` with ``MixtureDiscriminator(sharpness)`` per step."""
    ds = load_dataset(data)
    (root / "checkpoints").mkdir(parents=True, exist_ok=True)
    for step, modes, scale, sharp in schedule:
        gk = {"means": ds.means.tolist(), "std": ds.std, "modes": modes, "scale": scale}
        dk = dict(gk, sharpness=sharp)
        save_generator(root / "checkpoints" / f"step_{step:07d}.pt", MixtureGenerator(**gk),
                       factory="ganeval.toy:MixtureGenerator", factory_kwargs=gk, latent_dim=ds.means.shape[1] + 1,
                       data=data, step=step, discriminator=MixtureDiscriminator(**dk),
                       discriminator_factory="ganeval.diagnostics.toy:MixtureDiscriminator", discriminator_kwargs=dk)
    if history is not None:
        history.to_csv(root / "history.csv", index=False)
    (root / "config.json").write_text(json.dumps(config or {"data": data}))
    return root


FAST = dict(n_samples=500, optimal_d_samples=250, optimal_d_checkpoints=3, optimal_d_grid=31)


def test_checkpoints_alone_healthy_run_and_d_approaches_dstar(tmp_path):
    # G sharpens onto all modes while D moves from constant 1/2 towards D*.
    sched = [(s, None, 1.0 + 3 * (1 - s / 500), s / 500) for s in range(0, 501, 100)]
    run = make_run(tmp_path / "run", sched)
    d = diagnose(run, **FAST)
    assert d.verdict == "healthy", d.text()
    assert d.sources == ["checkpoints"] and "checkpoints alone" in d.notes[0]
    assert any("grad_norm_g" in n for n in d.notes)  # analytic nets have no parameters: said so
    table = d.trajectory_frame("checkpoints")
    assert list(table["step"]) == [0, 100, 200, 300, 400, 500] and (table["modes_covered"] == 8).all()
    diffs = [r.mean_abs_diff for r in d.optimal_d]
    assert [r.step for r in d.optimal_d] == [0, 200, 500]
    assert diffs[0] > diffs[1] > diffs[2] and diffs[-1] < 0.1
    assert d.optimal_d[-1].jsd < d.optimal_d[0].jsd
    assert d.signal("d_vs_optimal") is not None
    again = diagnose(run, **FAST)
    assert again.to_dict() == d.to_dict()
    from ganeval.report.fig_diagnostics import run_figures

    stems = [s for s, _, _ in run_figures(d)]
    assert "diagnosis_optimal_d_trajectory" in stems and "diagnosis_grad_norms" not in stems
    assert "diagnosis_optimal_d_maps_step0" in stems and "diagnosis_optimal_d_slice_step500" in stems


def test_checkpoints_alone_collapsed_run(tmp_path):
    run = make_run(tmp_path / "run", [(s, [2], 1.0, 1.0) for s in range(0, 301, 100)],
                   config={"data": "ring8", "expected_regime": "collapsed"})
    d = diagnose(run, optimal_d=False, n_samples=500, metrics=["summary"])
    assert d.verdict == "collapsed" and d.matches_expected is True and d.optimal_d == []
    # an extra metric is scored at every checkpoint and reported as a trajectory (here the samples'
    # mean_abs_diff from the data's mean: one mode of a centred ring sits ~1 away)
    assert d.trajectory_frame("checkpoints")["summary"].between(0.3, 1.0).all()
    assert d.signal("summary_trend").sentence.startswith("SUMMARY went from")
    assert d.signal("coverage_end").value == pytest.approx(1 / 8)
    assert "same modes throughout" in d.summary


def test_empty_folder_single_checkpoint_and_diverged_status(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanevalError, match="neither checkpoints nor a history"):
        diagnose(tmp_path / "empty")
    with pytest.raises(GanevalError, match="no such run folder"):
        diagnose(tmp_path / "missing")
    one = make_run(tmp_path / "one", [(100, [0, 1], 1.0, 1.0)])
    d = diagnose(one, **FAST)
    assert d.verdict == "inconclusive" and "single checkpoint" in d.summary
    assert d.signal("coverage_last").value == 2
    # a history file with a header only
    hdr = tmp_path / "hdr"
    hdr.mkdir()
    (hdr / "history.csv").write_text("step,d_real,d_fake,grad_norm_g\n")
    assert diagnose(hdr).verdict == "inconclusive"
    # the trainer records a divergence in config.json (its history stops before the NaN)
    div = tmp_path / "div"
    div.mkdir()
    synthetic("healthy").iloc[:40].to_csv(div / "history.csv", index=False)
    (div / "config.json").write_text(json.dumps({"data": "ring8", "status": "diverged",
                                                 "error": "Training diverged: the generator loss became nan"}))
    d = diagnose(div)
    assert d.verdict == "diverged" and "generator loss became nan" in d.evidence[0].sentence


def test_history_and_checkpoints_together(tmp_path):
    sched = [(s, [1], 1.0, 1.0) for s in range(0, 10001, 2500)]
    run = make_run(tmp_path / "run", sched, history=synthetic("collapsed"))
    d = diagnose(run, optimal_d=False)
    assert d.sources == ["history"] and any("not re-scored" in n for n in d.notes)
    d = diagnose(run, optimal_d=False, use_checkpoints=True, n_samples=400)
    assert d.sources == ["history", "checkpoints"] and d.verdict == "collapsed"
    # without coverage columns in the history, checkpoints supply the coverage
    h = synthetic("collapsed")[["step", "d_real", "d_fake", "grad_norm_g"]]
    run2 = make_run(tmp_path / "run2", sched, history=h)
    d = diagnose(run2, optimal_d=False, n_samples=400)
    assert d.verdict == "collapsed" and d.signal("coverage_end").source == "checkpoints"
    assert d.signal("d_gap").source == "history"


def test_cli_diagnose(tmp_path, capsys):
    run = make_run(tmp_path / "run", [(s, [2, 6], 1.0, 1.0) for s in range(0, 401, 100)])
    figs = tmp_path / "figs"
    assert main(["diagnose", str(run), "--json", "--optimal-d", "off", "--n-samples", "400",
                 "--figures", str(figs)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "collapsed" and out["evidence"][0]["name"] == "coverage_end"
    assert {"threshold", "value", "sentence", "fired"} <= set(out["evidence"][0])
    assert (figs / "diagnosis_coverage.png").is_file() and (figs / "diagnosis_d_outputs.png").is_file()
    assert main(["diagnose", str(run), "--optimal-d", "off", "--n-samples", "400"]) == 0
    text = capsys.readouterr().out
    assert "COLLAPSED" in text and "evidence:" in text
    assert main(["diagnose", str(tmp_path / "nope")]) == 2
    assert "no such run folder" in capsys.readouterr().err


def test_run_figures_of_a_history():
    from matplotlib.figure import Figure

    from ganeval.report.fig_diagnostics import run_figures

    figs = run_figures(synthetic("oscillating"), data="ring8")
    stems = [s for s, _, _ in figs]
    assert stems == ["diagnosis_coverage", "diagnosis_d_outputs", "diagnosis_grad_norms", "diagnosis_losses"]
    assert all(isinstance(f, Figure) and cap for _, f, cap in figs)


# ---------------------------------------------------------------------------------------------
# real preset runs (reference_trainers)


def _preset_run(root: Path, preset: str, seed: int, steps: int | None = None, **overrides) -> Path:
    presets = pytest.importorskip("reference_trainers.presets")
    from reference_trainers.train import train

    # One thread: on a shared, oversubscribed machine two spinning threads run many times slower.
    cfg = presets.preset_config(preset, "ring8", seed, steps=steps, threads=1, **overrides)
    train(cfg, root / preset)
    return root / preset


def test_short_collapsed_preset_run_from_history_and_checkpoints(tmp_path):
    run = _preset_run(tmp_path, "collapsed", 1001, steps=200, eval_samples=1000)
    d = diagnose(run, optimal_d=False)
    assert d.sources == ["history"] and d.expected_regime == "collapsed"
    assert d.verdict == "collapsed", d.text()
    dc = diagnose(run, use_checkpoints=True, n_samples=1000, optimal_d_samples=300, optimal_d_checkpoints=2,
                  optimal_d_grid=0)
    assert dc.sources == ["history", "checkpoints"] and dc.verdict == "collapsed"
    hist, table = dc.trajectory_frame("history"), dc.trajectory_frame("checkpoints")
    # the checkpoints' own scores agree with the trainer's log at the last step (different sample draws)
    last = hist.iloc[-1]
    assert table["step"].iloc[-1] == last["step"]
    assert abs(table["modes_covered"].iloc[-1] - last["modes_covered"]) <= 1
    assert abs(table["d_fake"].iloc[-1] - last["d_fake"]) < 0.1
    # the real discriminator (a trained MLP, logits) goes through the optimal-D check
    assert len(dc.optimal_d) == 2 and all(0 <= r.mean_abs_diff <= 1 for r in dc.optimal_d)
    assert all(0 <= r.jsd <= LOG2 for r in dc.optimal_d)


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["healthy", "collapsed", "oscillating"])
def test_full_ring8_presets_get_their_verdict(tmp_path, preset):
    run = _preset_run(tmp_path, preset, 1002)
    d = diagnose(run)
    assert d.verdict == preset and d.matches_expected, d.text()
    if preset == "healthy":
        diffs = [r.mean_abs_diff for r in d.optimal_d]
        assert diffs[-1] < diffs[0]
