"""One LoadOptions from the CLI to evaluation, reports and diagnostics: a run whose checkpoints
need loading flags (here a TorchScript generator that does not say its latent size) is diagnosed
with the same flags it was scored with."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch
from torch import nn

from ganeval.cli_common import add_eval_flags, load_kwargs, load_options
from ganeval.diagnostics import diagnose
from ganeval.errors import GanevalError
from ganeval.options import LoadOptions


class _Ring(nn.Module):
    """z (B, 3) -> a point on the unit circle at angle 2 pi Phi(z0), a ring-like generator."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        angle = 3.14159265 * (1 + torch.erf(z[:, 0] / 1.41421356))
        return torch.stack([torch.cos(angle), torch.sin(angle)], 1) + 0.01 * z[:, 1:]


def _run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    for step in (10, 20, 30, 40):  # no latent spec in the files: --latent-dim 3 is needed to load them
        torch.jit.save(torch.jit.script(_Ring()), str(run / "checkpoints" / f"step_{step:07d}.pt"))
    return run


def test_diagnostics_load_checkpoints_with_the_evaluations_options(tmp_path):
    run = _run(tmp_path)
    kw = dict(data="ring8", n_samples=200, seed=0, device="cpu", optimal_d=False)
    with pytest.raises(GanevalError, match="latent"):
        diagnose(run, **kw)
    d = diagnose(run, load=LoadOptions(latent_dim=3), **kw)
    assert d.n_points == 4 and len(d.trajectory["checkpoints"]) == 4  # every checkpoint scored
    assert d.trajectory["checkpoints"]["modes_covered"].min() == 8  # the ring covers every mode


def test_cli_report_and_diagnose_pass_the_loading_flags(tmp_path, capsys):
    from ganeval.cli import main

    run = _run(tmp_path)
    assert main(["diagnose", str(run), "--data", "ring8", "--n-samples", "200", "--device", "cpu",
                 "--optimal-d", "off", "--latent-dim", "3", "--json"]) == 0
    assert '"n_points": 4' in capsys.readouterr().out
    out = tmp_path / "report"
    assert main(["report", str(run), "--data", "ring8", "--n-samples", "200", "--device", "cpu",
                 "--latent-dim", "3", "--metrics", "mode_coverage", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "no diagnosis" not in text and "run: " in text.replace(str(run), "run")


def test_load_options_from_flags():
    p = argparse.ArgumentParser()
    add_eval_flags(p)
    args = p.parse_args(["--data", "ring8", "--trust-checkpoint", "--latent-dim", "7", "--inception-weights", "w.pth",
                         "--batch-size", "64"])
    opts = load_options(args)
    assert (opts.trust, opts.latent_dim, opts.batch_size, opts.extractor_options) == (True, 7, 64, {"weights": "w.pth"})
    assert opts.generator_kwargs()["latent_dim"] == 7 and opts.dataset_kwargs() == {"root": None, "download": False}
    kw = load_kwargs(args)
    assert "features" not in kw and kw["trust"] is True and kw["extractor_options"] == {"weights": "w.pth"}
