"""The defects a new user hit (issue 17), each reproduced through the CLI: one line, exit 2, no traceback,
no work done before the error, nothing written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ganeval
from ganeval.cli import main
from ganeval.toy import MixtureGenerator


@pytest.fixture
def ring_ckpt(tmp_path: Path) -> Path:
    ds = ganeval.load_dataset("ring8")
    kw = {"means": ds.means.tolist(), "std": ds.std, "modes": None}
    return ganeval.save_generator(tmp_path / "ring.pt", MixtureGenerator(**kw), factory="ganeval.toy:MixtureGenerator",
                                  factory_kwargs=kw, latent_dim=3, data="ring8")


def _fails_cleanly(capsys: pytest.CaptureFixture[str], argv: list[str], *needles: str) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("ganeval: error:")]
    assert len(lines) == 1, err
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def _no_evaluation(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record whether sampling started (the error must come before any work)."""
    calls: list[str] = []
    real = ganeval.Generator.sample_with_labels if hasattr(ganeval.Generator, "sample_with_labels") else None
    target = "sample_with_labels" if real else "sample"
    orig = getattr(ganeval.Generator, target)

    def spy(self, *a, **k):
        calls.append("sampled")
        return orig(self, *a, **k)

    monkeypatch.setattr(ganeval.Generator, target, spy)
    return calls


def test_baseline_output_is_an_existing_folder(tmp_path, capsys, monkeypatch, ring_ckpt):
    calls = _no_evaluation(monkeypatch)
    folder = tmp_path / "existing"
    folder.mkdir()
    _fails_cleanly(capsys, ["baseline", str(ring_ckpt), "--data", "ring8", "--metric", "fid", "-o", str(folder)],
                   "-o", "is a folder")
    assert calls == [] and list(folder.iterdir()) == []


@pytest.mark.parametrize("flag", ["--junit", "--summary"])
def test_gate_outputs_are_folders(tmp_path, capsys, monkeypatch, ring_ckpt, flag):
    baseline = tmp_path / "b.json"
    assert main(["baseline", str(ring_ckpt), "--data", "ring8", "--metric", "fid", "-o", str(baseline),
                 "--n-samples", "200", "--bootstrap", "10"]) == 0
    capsys.readouterr()
    calls = _no_evaluation(monkeypatch)
    folder = tmp_path / "dir"
    folder.mkdir()
    _fails_cleanly(capsys, ["gate", str(ring_ckpt), "--data", "ring8", "--baseline", str(baseline),
                            "--n-samples", "200", flag, str(folder)], flag, "is a folder")
    assert calls == [] and list(folder.iterdir()) == []


def test_report_out_unwritable(tmp_path, capsys, monkeypatch, ring_ckpt):
    calls = _no_evaluation(monkeypatch)
    _fails_cleanly(capsys, ["report", str(ring_ckpt), "--data", "ring8", "--out", "/proc/x"], "--out", "/proc/x")
    assert calls == []


def test_report_out_is_a_file(tmp_path, capsys, monkeypatch, ring_ckpt):
    calls = _no_evaluation(monkeypatch)
    f = tmp_path / "file.txt"
    f.write_text("keep me")
    _fails_cleanly(capsys, ["report", str(ring_ckpt), "--data", "ring8", "--out", str(f)], "--out", "is a file")
    assert calls == [] and f.read_text() == "keep me"


@pytest.mark.parametrize("option,needle", [("fid.bogus=1", "bogus"), ("nosuchmetric.k=1", "nosuchmetric")])
def test_unknown_options_are_errors(tmp_path, capsys, ring_ckpt, option, needle):
    out = tmp_path / "rep"
    _fails_cleanly(capsys, ["report", str(ring_ckpt), "--data", "ring8", "--metrics", "fid", "--option", option,
                            "--out", str(out)], needle)
    assert not out.exists()


def test_data_is_an_existing_file_of_the_wrong_kind(tmp_path, capsys, ring_ckpt):
    text = tmp_path / "text.pt"
    text.write_text("hello")
    line = _fails_cleanly(capsys, ["report", str(ring_ckpt), "--data", str(text), "--out", str(tmp_path / "r")],
                          str(text))
    assert "no such" not in line, line


def test_inception_hint_names_the_cli_flag(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GANEVAL_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    samples = tmp_path / "s.npy"
    np.save(samples, np.random.default_rng(0).random((16, 3, 8, 8)).astype(np.float32))
    data = tmp_path / "d.npz"
    x = np.random.default_rng(1).random((12, 3, 8, 8)).astype(np.float32)
    np.savez(data, train=x, val=x, test=x)
    line = _fails_cleanly(capsys, ["report", str(samples), "--data", str(data), "--metrics", "fid", "--features",
                                   "inception", "--out", str(tmp_path / "r")], "--inception-weights")
    # the CLI flags come first; a Python keyword may follow only as an aside
    assert "--download-weights" in line and line.index("--download-weights") < line.index("allow_download"), line


def test_mnist_hint_names_the_cli_flag(tmp_path, capsys, monkeypatch, ring_ckpt):
    monkeypatch.setenv("GANEVAL_DATA", str(tmp_path / "nothing"))
    line = _fails_cleanly(capsys, ["report", str(ring_ckpt), "--data", "mnist", "--out", str(tmp_path / "r")],
                          "--data-root")
    assert line.index("--data-root") < line.index("root="), line


def test_linear_output_overshoot_is_a_warning_not_an_error():
    """A generator with a linear output trained on [0, 1] digits overshoots both ends (a quarter of
    its values slightly below 0: the gate benchmark's trained digits GAN) but its bulk stays in the
    range: a warning, while a [-1, 1] output with the same images is refused."""
    from ganeval.output_range import check_samples

    ds = ganeval.load_dataset("digits")
    g = __import__("torch").Generator().manual_seed(0)
    real = ds.test
    noisy = real + 0.15 * __import__("torch").randn(real.shape, generator=g)
    res = check_samples(noisy, ds, source="x")
    assert res.fraction_outside > 0.2 and res.verdict == "warning", res
    assert check_samples(real * 2 - 1, ds, source="x").verdict == "error"
