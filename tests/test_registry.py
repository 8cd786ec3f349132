"""The metric registry is the one home of a metric's facts: a metric added through
``register_metric`` alone shows in the report, the summary table, the gate's direction logic and
the diagnostics' trends; options are checked against what the metric declares; plug-ins register
metrics and extractors through real entry points."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch

from ganeval import evaluate
from ganeval.errors import GanevalError
from ganeval.gate import decide, make_baseline, run_gate
from ganeval.registry import METRICS, Context, OptionSpec, direction_of, gateable, load_scorers, register_metric
from ganeval.results import Result

NAME = "throwaway_spread"


@dataclass(frozen=True)
class Spread(Result):
    """Mean per-row L2 norm of the samples with a normal-approximation interval."""

    value: float
    ci_low: float
    ci_high: float
    max_norm: float
    n_samples: int


def _spread(ctx: Context) -> Spread:
    norms = ctx.samples.reshape(ctx.samples.shape[0], -1).double().norm(dim=1) * float(ctx.option(NAME, "scale", 1.0))
    m, se = float(norms.mean()), float(norms.std() / norms.numel() ** 0.5)
    return Spread(m, m - 1.96 * se, m + 1.96 * se, float(norms.max()), int(norms.numel()))


@pytest.fixture
def throwaway():
    """Register the metric for one test, through the registry alone, and remove it after."""
    load_scorers()
    register_metric(NAME, kinds=("mixture",), description="mean sample norm (a test metric)",
                    directions={"value": "higher", "max_norm": "lower"}, headline=("value", "max_norm"),
                    options={"scale": OptionSpec(float, 1.0, "multiplies the norms")},
                    caveats=("a throwaway caveat",), citation="none")(_spread)
    yield METRICS[NAME]
    METRICS.pop(NAME, None)


def _ring(radius: float, n: int = 400, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi, n)
    return np.stack([np.cos(angle), np.sin(angle)], 1).astype(np.float32) * radius


def test_throwaway_metric_in_report_summary_and_csv(throwaway, tmp_path):
    from ganeval.report import terminal_summary, write_report
    from ganeval.report.summary import summary_table

    ev = evaluate(_ring(1.0), "ring8", metrics=[NAME], device="cpu")
    res = ev.metrics[NAME]
    norms = np.linalg.norm(_ring(1.0), axis=1)
    assert res.value == pytest.approx(norms.mean(), rel=1e-6)  # every sample used, as given
    headers, rows = summary_table([ev], ["a"])
    assert headers[3:] == [NAME + "*", "max_norm"]  # headline fields, the caveat marked
    assert rows[0][3].startswith(f"{res.value:.4g} [") and rows[0][4] == f"{res.max_norm:.4g}"
    assert "a throwaway caveat" in terminal_summary([ev], ["a"])
    out = write_report(ev, tmp_path / "r")
    with open(out / "metrics.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    assert float(row[f"{NAME}.value"]) == pytest.approx(res.value)
    assert json.loads((out / "report.json").read_text())["metrics"][NAME]["max_norm"] == pytest.approx(res.max_norm)
    assert "a throwaway caveat" in (out / "index.html").read_text()


def test_throwaway_metric_direction_drives_gate_and_diagnostics(throwaway, tmp_path):
    from ganeval.diagnostics.signals import Tables, Thresholds, compute_signals

    assert gateable()[NAME] == "higher" and direction_of(NAME) == "higher"
    assert direction_of(f"{NAME}.max_norm") == "lower"
    base = make_baseline(_ring(1.0), "ring8", metric=NAME, device="cpu")
    # Higher is better: a smaller ring is a regression, a larger one is not.
    worse = run_gate(_ring(0.5, seed=1), "ring8", base, device="cpu")
    better = run_gate(_ring(2.0, seed=1), "ring8", base, device="cpu")
    assert worse.decision.direction == "higher" and not worse.passed
    assert better.passed
    assert decide(base.interval, worse.candidate, direction="lower").passed  # the direction is what decided
    # Diagnostics: the best point of a higher-is-better trend is its largest value.
    t = Tables({"checkpoints": pd.DataFrame({"step": [0, 1, 2, 3], NAME: [1.0, 3.0, 2.0, 0.5]})})
    sig, _ = compute_signals(t, None, Thresholds(), (NAME,))
    assert "best 3 at step 1" in sig[f"{NAME}_trend"].sentence


def test_options_checked_against_the_registry(throwaway):
    x = _ring(1.0)
    scaled = evaluate(x, "ring8", metrics=[NAME], options={NAME: {"scale": 2}}, device="cpu").metrics[NAME]
    assert scaled.value == pytest.approx(2 * np.linalg.norm(x, axis=1).mean(), rel=1e-6)
    with pytest.raises(GanevalError, match="Unknown option 'scal' for metric 'throwaway_spread'. Did you mean: scale"):
        evaluate(x, "ring8", metrics=[NAME], options={NAME: {"scal": 2}}, device="cpu")
    with pytest.raises(GanevalError, match="must be float"):
        evaluate(x, "ring8", metrics=[NAME], options={NAME: {"scale": "two"}}, device="cpu")
    with pytest.raises(GanevalError, match="Unknown metric 'throwaway_sprad'. Did you mean: throwaway_spread"):
        evaluate(x, "ring8", metrics=[NAME], options={"throwaway_sprad": {"scale": 2}}, device="cpu")
    with pytest.raises(GanevalError, match="Did you mean: bootstrap"):
        evaluate(x, "ring8", metrics=["summary"], options={"fid": {"bootstap": 10}}, device="cpu")


def test_cli_rejects_unknown_option_keys(throwaway, tmp_path, capsys):
    from ganeval.cli import main

    np.save(tmp_path / "s.npy", _ring(1.0))
    code = main(["report", str(tmp_path / "s.npy"), "--data", "ring8", "--metrics", "summary", "--device", "cpu",
                 "--option", "mode_coverage.min_cout=2", "--out", str(tmp_path / "r")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Did you mean: min_count" in err[0]
    assert not (tmp_path / "r").exists()


def test_every_builtin_metric_declares_its_facts():
    load_scorers()
    for name in ("summary", "mode_coverage", "class_coverage", "ndb", "fid", "kid", "prdc", "parzen",
                 "memorisation"):
        spec = METRICS[name]
        assert spec.headline, name
        assert set(spec.directions.values()) <= {"lower", "higher"}
    # What the gate and the diagnostics knew before the registry held it.
    assert {k: gateable()[k] for k in ("fid", "kid", "parzen")} == {"fid": "lower", "kid": "lower",
                                                                     "parzen": "higher"}
    assert [direction_of(c) for c in ("fid", "kid", "fid_inf")] == ["lower"] * 3
    assert direction_of("summary") is None


# ---------------------------------------------------------------------------------------------
# plug-ins through real entry points

PLUGIN = '''
import torch
from dataclasses import dataclass
from ganeval.features import Extractor
from ganeval.registry import register_metric
from ganeval.results import Result


@dataclass(frozen=True)
class Count(Result):
    value: float


@register_metric("plugin_count", description="rows of the plug-in's features", directions={"value": "higher"},
                 headline=("value",))
def _count(ctx):
    return Count(float(ctx.features_of("fake").sum()))


def ones(device, **_):
    return Extractor(name="plugin_ones", fn=lambda x: torch.ones(x.shape[0], 3), device=device, cacheable=False)
'''


def test_entry_point_plugins_register_a_metric_and_an_extractor(tmp_path, monkeypatch):
    from ganeval import features

    (tmp_path / "ganeval_test_plugin.py").write_text(PLUGIN)
    info = tmp_path / "ganeval_test_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ganeval-test-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[ganeval.metrics]\nplugin_count = ganeval_test_plugin\n\n"
                                           "[ganeval.extractors]\nplugin_ones = ganeval_test_plugin:ones\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        load_scorers(refresh=True)
        features.load_extractor_plugins(refresh=True)
        assert "plugin_count" in METRICS and "plugin_ones" in features.list_extractors()
        ev = evaluate(_ring(1.0, n=50), "ring8", metrics=["plugin_count"], features="plugin_ones", device="cpu")
        assert ev.metrics["plugin_count"].value == 150.0  # 50 rows x 3 ones, through the plug-in's extractor
        assert ev.provenance["features"]["name"] == "plugin_ones"
    finally:
        METRICS.pop("plugin_count", None)
        features._REGISTRY.pop("plugin_ones", None)
        sys.modules.pop("ganeval_test_plugin", None)


def test_broken_plugin_is_named(tmp_path, monkeypatch):
    info = tmp_path / "ganeval_broken_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ganeval-broken-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[ganeval.metrics]\nbroken = ganeval_no_such_module_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(GanevalError, match="Plug-in 'broken'.*ganeval-broken-plugin"):
        load_scorers(refresh=True)
    monkeypatch.undo()
    load_scorers(refresh=True)  # gone from the path: loads cleanly again


def test_context_serves_features_by_extractor_and_layer():
    from ganeval.data import load_dataset

    ds = load_dataset("ring8")
    ctx = Context(samples=torch.as_tensor(_ring(1.0, n=20)), dataset=ds, device=torch.device("cpu"))
    assert ctx.kind == "mixture" and ctx.feature_name == "raw"
    raw = ctx.features_of("fake")
    assert torch.equal(raw, ctx.samples) and ctx.features_of("fake", extractor="raw", layer=None) is raw
    with pytest.raises(GanevalError, match="layer"):
        ctx.features_of("fake", layer="no_such_layer")
    assert ctx.feature_provenance["name"] == "raw"
    assert set(ctx.shared_keys()) == {("extractor", "raw")}
    ctx.features_of("test")
    assert ("features", "raw", "default", "test") in ctx.shared_keys()


def test_cli_metrics_verbose_lists_the_registered_facts(throwaway, capsys):
    from ganeval.cli import main

    assert main(["metrics", "-v"]) == 0
    out = capsys.readouterr().out
    assert f"--option {NAME}.scale=... (float, default 1.0) multiplies the norms" in out
    assert "value higher is better, max_norm lower is better" in out
