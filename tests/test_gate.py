"""`ganeval baseline` / `ganeval gate`: the decision rule, the three exit codes, JUnit XML, Markdown."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch

from ganeval import load_dataset
from ganeval.cli import main
from ganeval.errors import GanevalError
from ganeval.gate import Baseline, Interval, decide, load_baseline, run_gate

N = "300"
BOOT = "30"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory) -> dict[str, Path]:
    """Fixed-sample "generators" on digits: held-out real digits (healthy) and only zeros (collapsed)."""
    ds = load_dataset("digits")
    root = tmp_path_factory.mktemp("gate")
    healthy = torch.cat([ds.val, ds.test]).numpy()
    zeros = ds.train[ds.train_labels == 0]
    collapsed = zeros.repeat(1 + int(N) // len(zeros), 1, 1, 1).numpy()
    np.savez(root / "healthy.npz", samples=healthy)
    np.savez(root / "collapsed.npz", samples=collapsed)
    return {"healthy": root / "healthy.npz", "collapsed": root / "collapsed.npz"}


@pytest.fixture(scope="module")
def baseline(ckpts, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("base") / "baseline.json"
    rc = main(["baseline", str(ckpts["healthy"]), "--data", "digits", "-o", str(path), "--n-samples", N,
               "--bootstrap", BOOT, "--seed", "0"])
    assert rc == 0
    return path


def test_decide_rule_known_answers():
    b = Interval(1.5, 1.0, 2.0)
    assert not decide(b, Interval(2.6, 2.5, 3.0)).passed          # whole interval above: regression
    assert decide(b, Interval(2.4, 1.9, 3.0)).passed              # overlapping: noise, pass
    assert decide(b, Interval(0.5, 0.1, 0.9)).passed              # an improvement passes
    assert decide(b, Interval(2.6, 2.5, 3.0), max_increase=1.0).passed       # 2.5 <= 2.0 + 1.0
    d = decide(b, Interval(3.0, 2.8, 3.2), max_rel_increase=0.5)             # 2.8 > 2.0 + 0.5 * 1.5
    assert not d.passed and d.threshold == pytest.approx(2.75) and d.tolerance == pytest.approx(0.75)
    assert decide(b, Interval(3.0, 2.7, 3.2), max_rel_increase=0.5).passed
    # Higher-is-better metrics mirror the rule.
    assert not decide(b, Interval(0.6, 0.5, 0.9), direction="higher").passed
    assert decide(b, Interval(0.8, 0.5, 1.1), direction="higher").passed
    with pytest.raises(GanevalError, match="either"):
        decide(b, b, max_increase=1, max_rel_increase=0.1)
    with pytest.raises(GanevalError, match="max-increase"):
        decide(b, b, max_increase=-1)


def test_baseline_file(baseline, ckpts):
    d = json.loads(baseline.read_text())
    assert d["schema"] == "ganeval-baseline/1" and d["metric"] == "fid" and d["data"] == "digits"
    assert d["n_samples"] == int(N) and d["features"]["name"] == "digits" and len(d["features"]["sha256"]) == 64
    assert d["ci_low"] <= d["ci_high"] and d["options"]["fid"]["bootstrap"] == int(BOOT)
    assert d["evaluation"]["metrics"]["fid"]["n_fake"] == int(N)
    b = load_baseline(baseline)
    assert Baseline.from_dict(b.to_dict()).to_dict() == b.to_dict()


def _junit(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1 and suites[0].get("tests") == "1"
    cases = suites[0].findall("testcase")
    assert len(cases) == 1 and cases[0].get("classname") and cases[0].get("name")
    return suites[0]


def test_gate_pass_and_regression(baseline, ckpts, tmp_path, capsys):
    junit, summary = tmp_path / "junit.xml", tmp_path / "summary.md"
    rc = main(["gate", str(ckpts["healthy"]), "--data", "digits", "--baseline", str(baseline), "--seed", "7",
               "--junit", str(junit), "--summary", str(summary)])
    assert rc == 0
    suite = _junit(junit)
    assert suite.get("failures") == "0" and suite.get("errors") == "0"
    assert suite.find("testcase/failure") is None and suite.find("testcase/error") is None
    assert "pass" in capsys.readouterr().out
    rc = main(["gate", str(ckpts["collapsed"]), "--data", "digits", "--baseline", str(baseline), "--seed", "7",
               "--junit", str(junit), "--summary", str(summary)])
    assert rc == 1
    suite = _junit(junit)
    fail = suite.find("testcase/failure")
    assert suite.get("failures") == "1" and fail is not None and fail.get("type") == "regression"
    assert "REGRESSION" in fail.get("message")
    md = summary.read_text()  # appended: both runs are there
    assert md.count("### ganeval gate") == 2 and "✅ pass" in md and "❌ regression" in md
    assert f"| {N} / 1197 |" in md  # N generated / real is printed on every row


def test_gate_tolerance_turns_regression_into_pass(baseline, ckpts):
    args = ["gate", str(ckpts["collapsed"]), "--data", "digits", "--baseline", str(baseline)]
    assert main(args + ["--max-increase", "1e6"]) == 0


@pytest.mark.parametrize("case", ["missing", "not-json", "wrong-schema", "no-interval", "data", "metric",
                                  "features", "n-samples"])
def test_gate_errors_exit_2(case, baseline, ckpts, tmp_path, capsys):
    base = tmp_path / "b.json"
    extra: list[str] = []
    data = "digits"
    good = json.loads(baseline.read_text())
    if case == "missing":
        base = tmp_path / "nope.json"
    elif case == "not-json":
        base.write_text("{ nope")
    elif case == "wrong-schema":
        base.write_text(json.dumps({"schema": "ganeval-evaluation/1"}))
    elif case == "no-interval":
        base.write_text(json.dumps(good | {"ci_low": None}))
    else:
        base.write_text(json.dumps(good))
        if case == "data":
            data = "ring8"
        elif case == "metric":
            extra = ["--metric", "kid"]
        elif case == "features":
            extra = ["--features", "raw"]
        elif case == "n-samples":
            extra = ["--n-samples", "100"]
    junit = tmp_path / "junit.xml"
    rc = main(["gate", str(ckpts["healthy"]), "--data", data, "--baseline", str(base), "--junit", str(junit)] + extra)
    assert rc == 2
    err = capsys.readouterr().err
    assert "error" in err
    suite = _junit(junit)
    assert suite.get("errors") == "1" and suite.find("testcase/error") is not None


def test_run_gate_api_another_seed(baseline, ckpts):
    """The goal in miniature (benchmarks/gate_false_alarms.py counts 20 seeds at full size)."""
    b = load_baseline(baseline)
    res = run_gate(str(ckpts["healthy"]), "digits", b, seed=3)
    assert res.passed and res.n_samples == int(N) and res.counts["n_real"] == 1197
    assert res.candidate.low <= res.decision.threshold
    assert res.to_dict()["baseline"]["evaluation"] is None  # the result JSON stays small
