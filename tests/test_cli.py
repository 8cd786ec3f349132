"""The CLI end to end: `ganeval report` on each checkpoint kind, JSON on stdout, exit code 2 on bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import ganeval
from ganeval.checkpoints import write_torchscript
from ganeval.cli import main
from ganeval.toy import MixtureGenerator


class Flat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.latent_dim = 4
        self.lin = nn.Linear(4, 3)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.lin(z)


def _ring_ckpt(tmp_path: Path, modes=None) -> Path:
    ds = ganeval.load_dataset("ring8")
    kw = {"means": ds.means.tolist(), "std": ds.std, "modes": modes}
    return ganeval.save_generator(tmp_path / "ring.pt", MixtureGenerator(**kw), factory="ganeval.toy:MixtureGenerator",
                                  factory_kwargs=kw, latent_dim=3, data="ring8")


def _run_json(capsys: pytest.CaptureFixture[str], args: list[str]) -> dict:
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def test_report_ganeval_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rep"
    d = _run_json(capsys, ["report", str(_ring_ckpt(tmp_path, modes=[0, 3, 6])), "--data", "ring8",
                           "--out", str(out), "--json", "--n-samples", "1000", "--device", "cpu"])
    assert d["schema"] == "ganeval-evaluation/1" and d["data"] == "ring8"
    mc = d["metrics"]["mode_coverage"]
    assert mc["modes_covered"] == 3 and mc["n_samples"] == 1000
    assert d["provenance"]["n_samples"] == 1000 and len(d["provenance"]["checkpoint"]["sha256"]) == 64
    assert json.loads((out / "report.json").read_text()) == d
    assert (out / "samples.png").stat().st_size > 1000


def test_report_torchscript_and_npz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ds = ganeval.load_dataset("digits")
    class Img(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.latent_dim = 8
            self.lin = nn.Linear(8, 64)

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(self.lin(z)).reshape(-1, 1, 8, 8)

    ts = write_torchscript(Img(), tmp_path / "g.jit", latent_dim=8)
    d = _run_json(capsys, ["report", str(ts), "--data", "digits", "--metrics", "summary", "--out",
                           str(tmp_path / "a"), "--json", "--n-samples", "64"])
    assert d["metrics"]["summary"]["n_samples"] == 64
    np.savez(tmp_path / "s.npz", samples=ds.test[:50].numpy())
    d = _run_json(capsys, ["report", str(tmp_path / "s.npz"), "--data", "digits", "--metrics", "summary",
                           "--out", str(tmp_path / "b"), "--json"])
    assert d["metrics"]["summary"]["n_samples"] == 50 and d["provenance"]["checkpoint"]["kind"] == "samples"
    assert (tmp_path / "b" / "samples.png").is_file()


def test_same_seed_same_numbers(tmp_path: Path) -> None:
    path = _ring_ckpt(tmp_path)
    a = ganeval.evaluate(path, "ring8", seed=3, device="cpu").to_dict()["metrics"]
    b = ganeval.evaluate(path, "ring8", seed=3, device="cpu").to_dict()["metrics"]
    c = ganeval.evaluate(path, "ring8", seed=4, device="cpu").to_dict()["metrics"]
    assert a == b and a != c


@pytest.mark.parametrize("args_fn,match", [
    (lambda p: ["report", str(p / "missing.pt"), "--data", "ring8"], "no such file"),
    (lambda p: ["report", str(_ring_ckpt(p)), "--data", "rng8"], "Did you mean: ring8"),
    (lambda p: ["report", str(_ring_ckpt(p)), "--data", "ring8", "--metrics", "mode_coverag"], "Did you mean"),
    (lambda p: ["report", str(_ring_ckpt(p)), "--data", "digits", "--metrics", "summary"], "shape"),
    (lambda p: ["report", str(_ring_ckpt(p)), "--data", "digits", "--metrics", "mode_coverage"], "applies to mixture"),
    (lambda p: ["report", str(write_torchscript(Flat(), p / "flat.jit", latent_dim=4)), "--data", "ring8"], "shape"),
])
def test_errors_exit_2_and_leave_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str], args_fn, match: str) -> None:
    out = tmp_path / "never"
    assert main(args_fn(tmp_path) + ["--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganeval: error:") and len(err.strip().splitlines()) == 1
    assert re.search(match, err)
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".never")]


def test_pickle_refused_on_cli_unless_trusted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ds = ganeval.load_dataset("ring8")
    module = MixtureGenerator(ds.means.tolist(), ds.std)
    torch.save(module, tmp_path / "whole.pt")
    assert main(["report", str(tmp_path / "whole.pt"), "--data", "ring8", "--out", str(tmp_path / "r")]) == 2
    assert "--trust-checkpoint" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "whole.pt"), "--data", "ring8", "--out", str(tmp_path / "r"),
                 "--trust-checkpoint"]) == 0


def test_datasets_and_metrics_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["datasets"]) == 0
    assert "ring8" in capsys.readouterr().out
    assert main(["metrics"]) == 0
    assert "mode_coverage" in capsys.readouterr().out


def test_demo_trains_presets_once_then_caches(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # The report step is covered end to end by the slow test below and by test_report.py.
    import ganeval.cli as cli

    reported: list[list[str]] = []
    monkeypatch.setattr(cli, "_report", lambda a: reported.append(list(a.paths)) or 0)
    args = ["demo", "--out", str(tmp_path / "demo"), "--runs", str(tmp_path / "runs"), "--steps", "10", "--device", "cpu"]
    assert main(args) == 0
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs == ["ring8-collapsed-seed0", "ring8-healthy-seed0", "ring8-oscillating-seed0"]
    assert sorted(Path(p).name for p in reported[0]) == runs
    ckpts = sorted((tmp_path / "runs").rglob("*.pt"))
    stamps = [p.stat().st_mtime_ns for p in ckpts]
    capsys.readouterr()
    assert main(args) == 0
    assert capsys.readouterr().err.count("cached") == 3
    assert [p.stat().st_mtime_ns for p in ckpts] == stamps
    # Another step count is another configuration: the cache does not answer for it.
    assert main(args[:-4] + ["--steps", "12", "--device", "cpu"]) == 0
    assert capsys.readouterr().err.count("cached") == 0


@pytest.mark.slow
def test_demo_end_to_end(tmp_path: Path) -> None:
    args = ["demo", "--out", str(tmp_path / "demo"), "--runs", str(tmp_path / "runs"), "--steps", "20", "--device", "cpu"]
    assert main(args) == 0
    report = json.loads((tmp_path / "demo" / "report.json").read_text())
    assert "ring8-collapsed" in json.dumps(report)
    assert (tmp_path / "demo" / "index.html").is_file()


def test_option_flag_reaches_the_metric(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ganeval.cli import parse_options

    assert parse_options(["parzen.refine=4", "ndb.bins=50", "parzen.features=true", "x.name=abc"]) == {
        "parzen": {"refine": 4, "features": True}, "ndb": {"bins": 50}, "x": {"name": "abc"}}
    d = _run_json(capsys, ["report", str(_ring_ckpt(tmp_path, modes=[0])), "--data", "ring8", "--metrics",
                           "mode_coverage", "--option", "mode_coverage.min_count=2000", "--out", str(tmp_path / "r"),
                           "--json", "--no-diagnostics"])
    mc = d["metrics"]["mode_coverage"] if "metrics" in d else d["evaluations"][0]["metrics"]["mode_coverage"]
    assert mc["min_count"] == 2000 and mc["modes_covered"] == 1  # ~2,470 high-quality samples on mode 0
    assert main(["report", "x.pt", "--data", "ring8", "--option", "nodot=1"]) == 2
    assert "METRIC.KEY=VALUE" in capsys.readouterr().err
