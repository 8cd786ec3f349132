"""The same command gives the same report.json (timings aside): across runs, sampling batch sizes,
and 1 vs 2 torch threads; the report says which numbers hold only on the same device."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]


class DigitGen(nn.Module):
    """A small conv generator for 8x8 digits (live, non-trivial outputs)."""

    def __init__(self, latent_dim: int = 16) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.fc = nn.Linear(latent_dim, 32 * 4 * 4)
        self.up = nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.up(torch.relu(self.fc(z)).view(-1, 32, 4, 4)))


def _strip_timings(obj):
    if isinstance(obj, dict):
        return {k: _strip_timings(v) for k, v in obj.items() if k not in ("wall_time_s", "timings", "created")}
    if isinstance(obj, list):
        return [_strip_timings(v) for v in obj]
    return obj


def _report(ckpt: Path, out: Path, *extra: str, threads: int = 1) -> dict:
    env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "GANEVAL_PROGRESS": "0",
           "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    import os

    for k in ("GANEVAL_CACHE", "GANEVAL_DATA", "HOME"):
        if k in os.environ:
            env[k] = os.environ[k]
    cmd = [sys.executable, "-c", f"import torch,sys; torch.set_num_threads({threads}); "
           "from ganeval.cli import main; sys.exit(main(sys.argv[1:]))",
           "report", str(ckpt), "--data", "digits", "--metrics", "fid,kid,prdc,class_coverage", "--n-samples", "600",
           "--device", "cpu", "--out", str(out), "--no-diagnostics", *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    return json.loads((out / "report.json").read_text())


@pytest.fixture(scope="module")
def digit_script(tmp_path_factory) -> Path:
    from ganeval.checkpoints import write_torchscript

    g = DigitGen()
    with torch.no_grad():
        for i, p in enumerate(g.parameters()):
            p.copy_(torch.linspace(-0.3, 0.3, p.numel()).reshape(p.shape) * (1 + 0.1 * i))
    return write_torchscript(g, tmp_path_factory.mktemp("det") / "g.jit", latent_dim=16)


def _diff(x, y, path="") -> list[str]:
    """Paths where two JSON documents differ."""
    if isinstance(x, dict) and isinstance(y, dict):
        return [d for k in sorted(set(x) | set(y)) for d in _diff(x.get(k), y.get(k), f"{path}.{k}")]
    if isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        return [d for i, (u, v) in enumerate(zip(x, y)) for d in _diff(u, v, f"{path}[{i}]")]
    return [] if x == y else [f"{path}: {x!r:.60} != {y!r:.60}"]


def test_report_json_identical_across_runs_batches_and_threads(tmp_path, digit_script):
    base = _strip_timings(_report(digit_script, tmp_path / "a"))
    variants = {"again": _report(digit_script, tmp_path / "b"),
                "batch 37": _report(digit_script, tmp_path / "c", "--batch-size", "37"),
                "2 threads": _report(digit_script, tmp_path / "d", threads=2)}
    for name, other in variants.items():
        assert _diff(base, _strip_timings(other)) == [], name


def test_report_says_what_is_reproducible_where(tmp_path, digit_script):
    d = _report(digit_script, tmp_path / "a")
    ev = d["evaluations"][0] if "evaluations" in d else d
    repro = ev["provenance"]["reproducibility"]
    assert repro["device"] == "cpu"
    assert "same device" in repro["note"]
