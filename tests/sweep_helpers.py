"""Generators and checkpoints for the sweep tests (importable by pool and Ray workers)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch
from torch import nn

from ganeval import save_generator


class BlockingGenerator(nn.Module):
    """A linear generator that, when sampled, writes ``start-<pid>-<n>`` into ``folder`` and waits for
    ``folder/go`` to exist: the test sees a job in flight and decides when it may end."""

    def __init__(self, folder: str = "", latent_dim: int = 4):
        super().__init__()
        self.folder = folder
        self.lin = nn.Linear(latent_dim, 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        d = Path(self.folder)
        n = len(list(d.glob("start-*")))
        (d / f"start-{os.getpid()}-{n}-{time.monotonic_ns()}").touch()
        while not (d / "go").exists():  # the test creates it (waits on a real event, not a timer)
            time.sleep(0.01)
        return self.lin(z)


class RaisingGenerator(nn.Module):
    """Raises when sampled."""

    def __init__(self, latent_dim: int = 4):
        super().__init__()
        self.lin = nn.Linear(latent_dim, 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom: this generator always fails")


def wait_for(predicate, what: str, timeout: float = 120.0):
    """Block until ``predicate()`` is truthy (a file appears, a record is written); return its value."""
    deadline = time.monotonic() + timeout
    while not (got := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return got


def mlp_checkpoints(folder: Path, n: int, *, hidden: int = 32, run: str = "run") -> Path:
    """A run folder of ``n`` ring8 MLP checkpoints at steps 100, 200, ... (seeded weights)."""
    from reference_trainers.nets import MLPGenerator

    out = folder / run
    out.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        torch.manual_seed(1000 + i)  # test setup only; evaluation never touches the global RNG
        g = MLPGenerator(latent_dim=8, hidden=hidden, depth=2)
        save_generator(out / f"G_{(i + 1) * 100:06d}.pt", g, factory="reference_trainers.nets:MLPGenerator",
                       factory_kwargs={"latent_dim": 8, "hidden": hidden, "depth": 2}, latent_dim=8, data="ring8",
                       step=(i + 1) * 100)
    return out


def special_checkpoint(path: Path, cls: str, **kwargs: object) -> Path:
    """A checkpoint of one of this module's generators (needs trust: outside the allow-list)."""
    g = {"BlockingGenerator": BlockingGenerator, "RaisingGenerator": RaisingGenerator}[cls](**kwargs)
    return save_generator(path, g, factory=f"sweep_helpers:{cls}", factory_kwargs=dict(kwargs), latent_dim=4,
                          data="ring8", step=1)
