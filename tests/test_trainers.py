"""Reference trainers: losses (known values), Algorithm 1 runs, run folders, presets, CLI, divergence."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch

import ganeval
from ganeval.cli import main as cli_main
from ganeval.errors import GanevalError
from reference_trainers import losses, nets
from reference_trainers import train as train_mod
from reference_trainers.presets import get_preset, list_presets, preset_config
from reference_trainers.train import HISTORY_COLUMNS, TrainConfig, coverage_stats, train

TINY = dict(batch_size=32, eval_samples=200, log_every=1, ckpt_every=2, threads=1)
MIXTURE_COLUMNS = HISTORY_COLUMNS + ["modes_covered", "hq_fraction", "dominant_mode", "top2_share"]


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


# ----------------------------------------------------------------------------------------------
# losses


def test_losses_equal_hand_computed_values() -> None:
    real = [-2.0, 0.0, 3.0]
    fake = [1.5, -0.5, -4.0]
    want_d = (sum(-math.log(_sigmoid(r)) for r in real) / 3
              + sum(-math.log(1 - _sigmoid(f)) for f in fake) / 3)
    want_mm = sum(math.log(1 - _sigmoid(f)) for f in fake) / 3
    want_ns = sum(-math.log(_sigmoid(f)) for f in fake) / 3
    r, f = torch.tensor(real, dtype=torch.float64), torch.tensor(fake, dtype=torch.float64)
    assert losses.discriminator_loss(r, f).item() == pytest.approx(want_d, rel=1e-12)
    assert losses.minimax_generator_loss(f).item() == pytest.approx(want_mm, rel=1e-12)
    assert losses.nonsaturating_generator_loss(f).item() == pytest.approx(want_ns, rel=1e-12)
    assert set(losses.GENERATOR_LOSSES) == {"minimax", "nonsaturating"}


def test_losses_are_stable_for_huge_logits() -> None:
    big = torch.tensor([-1e4, 1e4], requires_grad=True)
    for fn in (losses.minimax_generator_loss, losses.nonsaturating_generator_loss):
        val = fn(big)
        (grad,) = torch.autograd.grad(val, big)
        assert torch.isfinite(val) and torch.isfinite(grad).all()
    # log(1 - sigmoid(1e4)) = -1e4 (asymptote); -log sigmoid(-1e4) = 1e4.
    assert losses.minimax_generator_loss(torch.tensor([1e4])).item() == pytest.approx(-1e4)
    assert losses.nonsaturating_generator_loss(torch.tensor([-1e4])).item() == pytest.approx(1e4)
    assert losses.discriminator_loss(torch.tensor([1e4]), torch.tensor([-1e4])).item() == pytest.approx(0.0, abs=1e-6)


def test_minimax_saturates_where_nonsaturating_does_not() -> None:
    # D confidently rejects the fake (logit -10): d/dl log(1 - s(l)) = -s(l), d/dl -log s(l) = s(l) - 1.
    lf = torch.tensor([-10.0], dtype=torch.float64, requires_grad=True)
    (g_mm,) = torch.autograd.grad(losses.minimax_generator_loss(lf), lf)
    (g_ns,) = torch.autograd.grad(losses.nonsaturating_generator_loss(lf), lf)
    assert g_mm.item() == pytest.approx(-_sigmoid(-10.0), rel=1e-9)
    assert g_ns.item() == pytest.approx(_sigmoid(-10.0) - 1.0, rel=1e-9)
    assert abs(g_mm.item()) < 1e-4 < 0.99 < abs(g_ns.item())


# ----------------------------------------------------------------------------------------------
# training runs


@pytest.mark.parametrize("data", ["ring8", "grid25", "digits"])
@pytest.mark.parametrize("loss,k", [("minimax", 1), ("nonsaturating", 1), ("minimax", 3), ("nonsaturating", 2)])
def test_smoke_every_loss_k_dataset(tmp_path: Path, data: str, loss: str, k: int) -> None:
    cfg = TrainConfig(data=data, loss=loss, k=k, steps=4, **TINY)
    res = train(cfg, tmp_path / "run")
    hist = pd.read_csv(res.history)
    assert list(hist.columns) == MIXTURE_COLUMNS
    assert hist["step"].tolist() == [1, 2, 3, 4]
    assert ((hist[["d_real", "d_fake"]] > 0) & (hist[["d_real", "d_fake"]] < 1)).all().all()
    assert (hist["modes_covered"] <= (10 if data == "digits" else ganeval.load_dataset(data).n_classes)).all()
    assert [p.name for p in res.checkpoints] == ["step_0000002.pt", "step_0000004.pt"]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["loss"] == loss and config["k"] == k and config["data"] == data and config["status"] == "finished"
    gen = ganeval.load_generator(res.checkpoints[-1])
    assert gen.step == 4 and gen.data == data
    x = gen.sample(7, seed=1)
    assert tuple(x.shape[1:]) == ganeval.load_dataset(data).sample_shape
    disc = ganeval.load_discriminator(gen)
    assert disc is not None and disc(x).shape == (7,)


def test_run_folder_contract_and_report(tmp_path: Path) -> None:
    cfg = preset_config("collapsed", "ring8", seed=3, steps=6, **TINY)
    res = train(cfg, tmp_path / "run")
    run = ganeval.load_run(tmp_path / "run")
    assert [p.name for p in run.checkpoints] == ["step_0000002.pt", "step_0000004.pt", "step_0000006.pt"]
    assert run.config["preset"] == "collapsed" and run.config["expected_regime"] == "collapsed"
    assert run.config["seed"] == 3 and run.config["k"] == 5 and run.config["loss"] == "minimax"
    assert len(run.history()) == 6
    # The logged d_real is mean sigmoid(D(x)) of a real batch: recompute it from the stored D on
    # the same kind of batch and check it is a probability of the right size.
    disc = ganeval.load_discriminator(run.checkpoints[-1])
    assert disc is not None
    d_real = torch.sigmoid(disc(ganeval.load_dataset("ring8").test[:500])).mean().item()
    assert 0.0 < d_real < 1.0
    code = cli_main(["report", str(res.checkpoints[-1]), "--data", "ring8", "--out", str(tmp_path / "rep"),
                     "--n-samples", "500", "--device", "cpu", "--metrics", "mode_coverage"])
    assert code == 0
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert "mode_coverage" in json.dumps(report)


def test_same_seed_same_samples(tmp_path: Path) -> None:
    def final_samples(seed: int, name: str) -> torch.Tensor:
        res = train(TrainConfig(data="ring8", seed=seed, steps=5, **TINY), tmp_path / name)
        return ganeval.load_generator(res.checkpoints[-1]).sample(64, seed=0)

    a, b, c = final_samples(7, "a"), final_samples(7, "b"), final_samples(8, "c")
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_ema_checkpoints_hold_the_running_average_of_the_raw_weights(tmp_path: Path) -> None:
    # The EMA copy neither draws random numbers nor touches D's training, so a run without it
    # follows the same raw trajectory: average its per-step checkpoints by hand.
    decay, steps = 0.6, 4
    cfg = dict(data="ring8", seed=3, steps=steps, **{**TINY, "ckpt_every": 1})
    raw = train(TrainConfig(**cfg), tmp_path / "raw")
    avg = train(TrainConfig(**cfg, ema=decay), tmp_path / "ema")
    ds = ganeval.load_dataset("ring8")
    G0 = train_mod.build_nets(TrainConfig(**cfg), ds)[0]
    want = {k: v.double() for k, v in G0.state_dict().items()}
    for step, path in enumerate(raw.checkpoints, 1):
        w = torch.load(path, weights_only=True)
        assert w["step"] == step
        want = {k: decay * want[k] + (1 - decay) * w["state_dict"][k].double() for k in want}
    got = torch.load(avg.checkpoints[-1], weights_only=True)
    for k, v in want.items():
        torch.testing.assert_close(got["state_dict"][k].double(), v, rtol=1e-5, atol=1e-6)
    # D trained against the raw generator in both runs: the same discriminator.
    d_raw = torch.load(raw.checkpoints[-1], weights_only=True)["discriminator"]["state_dict"]
    d_avg = got["discriminator"]["state_dict"]
    assert all(torch.equal(d_raw[k], d_avg[k]) for k in d_raw)
    # The logged coverage scores the averaged generator, the one that is saved.
    row = ganeval.load_run(tmp_path / "ema").history().iloc[-1]
    gen = ganeval.load_generator(avg.checkpoints[-1])
    with torch.no_grad():
        x = gen.module(train_mod._latent(gen.module).draw(200, train_mod.torch_generator(3 + 3)))
    want_cov = ganeval.metrics.mode_coverage(x, ds.means, ds.std)
    assert row["hq_fraction"] == pytest.approx(want_cov.hq_fraction, abs=1e-6)
    assert row["top2_share"] == pytest.approx(want_cov.top2_share, abs=1e-6)


def test_fused_step_is_the_same_algorithm(tmp_path: Path) -> None:
    # One D pass over real+fake and fused Adam differ from the reference step by float rounding only.
    cfg = dict(data="ring8", seed=5, steps=3, **TINY)
    ref = train(TrainConfig(**cfg), tmp_path / "ref")
    fast = train(TrainConfig(**cfg, fused=True), tmp_path / "fast")
    fast2 = train(TrainConfig(**cfg, fused=True), tmp_path / "fast2")
    a, b, c = (torch.load(r.checkpoints[-1], weights_only=True) for r in (ref, fast, fast2))
    for part in ("state_dict",):
        for k in a[part]:
            torch.testing.assert_close(b[part][k], a[part][k], rtol=1e-4, atol=1e-5)
            assert torch.equal(b[part][k], c[part][k])  # and it is deterministic
    for k in a["discriminator"]["state_dict"]:
        torch.testing.assert_close(b["discriminator"]["state_dict"][k], a["discriminator"]["state_dict"][k],
                                   rtol=1e-4, atol=1e-5)


def test_logged_coverage_matches_mode_coverage(tmp_path: Path) -> None:
    # The coverage columns must be mode_coverage of the generator on the fixed eval batch.
    res = train(TrainConfig(data="ring8", seed=2, steps=2, **TINY), tmp_path / "run")
    last = pd.read_csv(res.history).iloc[-1]
    gen = ganeval.load_generator(res.checkpoints[-1])
    z = train_mod._latent(gen.module).draw(200, train_mod.torch_generator(2 + 3))
    with torch.no_grad():
        x = gen.module(z)
    ds = ganeval.load_dataset("ring8")
    want = ganeval.metrics.mode_coverage(x, ds.means, ds.std)
    assert last["modes_covered"] == want.modes_covered
    assert last["dominant_mode"] == want.dominant_mode
    assert last["top2_share"] == pytest.approx(want.top2_share, abs=1e-6)


def test_digit_coverage_proxy_on_real_images() -> None:
    ds = ganeval.load_dataset("digits")
    stats = coverage_stats(ds.test, ds)
    assert stats is not None and stats["modes_covered"] == 10 and stats["hq_fraction"] >= 0.85
    sevens = ds.test[ds.test_labels == 7]
    one = coverage_stats(sevens, ds)
    assert one is not None and one["dominant_mode"] == 7 and one["modes_covered"] == 1
    assert one["top2_share"] >= 0.95


def test_paper_mnist_architecture_tiny(tmp_path: Path) -> None:
    full_g, full_d = nets.paper_mnist_generator(), nets.paper_mnist_discriminator()
    n_g = (100 * 1200 + 1200) + (1200 * 1200 + 1200) + (1200 * 784 + 784)
    assert sum(p.numel() for p in full_g.parameters()) == n_g
    assert sum(p.numel() for p in full_d.parameters()) == (784 * 1200 + 1200) + (240 * 1200 + 1200) + (240 + 1)
    cfg = TrainConfig(data="digits", g_net="paper_mnist", g_kwargs={"latent_dim": 10, "hidden": 24, "side": 8},
                      d_net="paper_mnist", d_kwargs={"units": 12, "pieces": 3}, steps=3, **TINY)
    res = train(cfg, tmp_path / "run")
    gen = ganeval.load_generator(res.checkpoints[-1])
    assert gen.latent.distribution == "uniform" and gen.latent.high == pytest.approx(math.sqrt(3))
    x = gen.sample(16, seed=0)
    assert x.shape == (16, 1, 8, 8) and x.min() >= 0 and x.max() <= 1
    disc = ganeval.load_discriminator(gen)
    assert isinstance(disc, nets.MaxoutDiscriminator) and not disc.training
    assert torch.equal(disc(x), disc(x))  # no dropout in eval mode


def test_paper_mnist_architecture_on_mnist(tmp_path: Path, mnist_root: Path) -> None:
    cfg = TrainConfig(data="mnist", data_root=str(mnist_root), g_net="paper_mnist", d_net="paper_mnist",
                      g_kwargs={"latent_dim": 100, "hidden": 32}, d_kwargs={"units": 16, "pieces": 5},
                      optimizer="sgd", lr_g=0.1, lr_d=0.1, momentum=0.5, steps=2, **{**TINY, "eval_samples": 100})
    res = train(cfg, tmp_path / "run")
    gen = ganeval.load_generator(res.checkpoints[-1])
    assert gen.sample(3, seed=0).shape == (3, 1, 28, 28)
    assert list(pd.read_csv(res.history).columns) == MIXTURE_COLUMNS


# ----------------------------------------------------------------------------------------------
# CLI and presets


def test_cli_train_preset_and_custom(tmp_path: Path) -> None:
    assert cli_main(["train", "--preset", "healthy", "--data", "ring8", "--seed", "1", "--out", str(tmp_path / "p"),
                     "--steps", "4", "--threads", "1"]) == 0
    cfg = json.loads((tmp_path / "p" / "config.json").read_text())
    assert cfg["preset"] == "healthy" and cfg["steps"] == 4 and cfg["seed"] == 1
    assert cli_main(["train", "--loss", "minimax", "--k", "2", "--lr-g", "1e-4", "--lr-d", "1e-2", "--batch-size",
                     "16", "--instance-noise", "0.1", "--data", "ring8", "--out", str(tmp_path / "c"), "--steps", "3",
                     "--threads", "1"]) == 0
    cfg = json.loads((tmp_path / "c" / "config.json").read_text())
    assert (cfg["loss"], cfg["k"], cfg["lr_g"], cfg["lr_d"], cfg["batch_size"], cfg["instance_noise"]) == \
        ("minimax", 2, 1e-4, 1e-2, 16, 0.1)
    assert (cfg["ema"], cfg["fused"]) == (None, False)
    assert cli_main(["train", "--preset", "healthy", "--data", "ring8", "--out", str(tmp_path / "f"), "--steps", "2",
                     "--ema", "0.9", "--fused", "--threads", "1"]) == 0
    cfg = json.loads((tmp_path / "f" / "config.json").read_text())
    assert (cfg["ema"], cfg["fused"]) == (0.9, True)
    # An existing run is not silently replaced.
    again = ["train", "--loss", "minimax", "--data", "ring8", "--out", str(tmp_path / "c"), "--steps", "2"]
    assert cli_main(again) == 2
    assert cli_main(["train", "--loss", "minimax", "--data", "ring8", "--out", str(tmp_path / "c"), "--steps", "2",
                     "--overwrite", "--threads", "1"]) == 0


def test_every_regime_has_a_preset_for_each_dataset() -> None:
    for data in ("ring8", "grid25", "digits"):
        assert {n for _, n in list_presets(data)} == {"healthy", "collapsed", "oscillating"}
        for _, name in list_presets(data):
            p = get_preset(name, data)
            assert len(p.why) > 40
            cfg = preset_config(name, data, seed=5)
            assert cfg.expected_regime == name and cfg.seed == 5


@pytest.mark.parametrize("data", ["ring8", "grid25", "digits"])
def test_every_preset_runs_a_few_steps(tmp_path: Path, data: str) -> None:
    for _, name in list_presets(data):
        cfg = preset_config(name, data, seed=0, steps=2, threads=1, eval_samples=100, batch_size=64)
        res = train(cfg, tmp_path / name)
        gen = ganeval.load_generator(res.checkpoints[-1])
        # Sampling is in eval mode (batch norm uses running statistics): same seed, same samples.
        assert torch.equal(gen.sample(20, seed=4), gen.sample(20, seed=4))
        assert json.loads((tmp_path / name / "config.json").read_text())["expected_regime"] == name


def test_unknown_preset_suggests_near_miss(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(GanevalError, match="Did you mean: healthy"):
        preset_config("helthy", "ring8")
    with pytest.raises(GanevalError, match="No preset 'healthy' for dataset 'cifar10'"):
        preset_config("healthy", "cifar10")
    assert cli_main(["train", "--preset", "colapsed", "--data", "ring8", "--out", str(tmp_path / "x")]) == 2
    assert "Did you mean: collapsed" in capsys.readouterr().err


@pytest.mark.parametrize("bad,match", [
    (dict(k=0), "`k` must be an integer >= 1"),
    (dict(steps=0), "`steps` must be an integer >= 1"),
    (dict(steps=-5), "`steps` must be an integer >= 1"),
    (dict(lr_g=float("nan")), "`lr_g` must be a positive finite number"),
    (dict(loss="minmax"), "Did you mean: minimax"),
    (dict(batch_size=0), "`batch_size`"),
    (dict(ema=1.0), "`ema` must be a decay in \\(0, 1\\)"),
    (dict(fused="yes"), "`fused` must be true or false"),
])
def test_bad_configuration(tmp_path: Path, bad: dict, match: str) -> None:
    with pytest.raises(GanevalError, match=match):
        train(TrainConfig(data="ring8", **bad), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_cli_bad_k_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["train", "--loss", "minimax", "--k", "0", "--data", "ring8", "--out", str(tmp_path / "x")]) == 2
    assert "`k` must be an integer >= 1" in capsys.readouterr().err


def test_injected_nan_stops_without_nan_checkpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real_loss = losses.nonsaturating_generator_loss

    def poisoned(fake_logits: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        out = real_loss(fake_logits)
        return out * float("nan") if calls["n"] == 5 else out

    monkeypatch.setitem(train_mod.GENERATOR_LOSSES, "nonsaturating", poisoned)
    with pytest.raises(GanevalError, match="diverged.*generator loss.*step 5.*step_0000004.pt"):
        train(TrainConfig(data="ring8", steps=10, **TINY), tmp_path / "run")
    run = ganeval.load_run(tmp_path / "run")
    assert [p.name for p in run.checkpoints] == ["step_0000002.pt", "step_0000004.pt"]
    for p in run.checkpoints:
        assert torch.isfinite(ganeval.load_generator(p).sample(50, seed=0)).all()
    assert run.history()["step"].tolist() == [1, 2, 3, 4]
    assert run.config["status"] == "diverged" and "step 5" in run.config["error"]


def test_huge_learning_rate_diverges_cleanly(tmp_path: Path) -> None:
    # Leaky-ReLU nets do not saturate: one SGD step of lr 1e30 overflows to inf and then NaN.
    act = {"activation": "leaky_relu"}
    cfg = TrainConfig(data="ring8", optimizer="sgd", lr_g=1e30, lr_d=1e30, steps=50, g_kwargs=act, d_kwargs=act,
                      **TINY)
    with pytest.raises(GanevalError, match="Training diverged: .* at generator step 1;.*no checkpoint was written"):
        train(cfg, tmp_path / "run")
    assert list((tmp_path / "run" / "checkpoints").glob("*.pt")) == []
    assert json.loads((tmp_path / "run" / "config.json").read_text())["status"] == "diverged"
