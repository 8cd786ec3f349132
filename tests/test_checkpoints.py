"""Checkpoint formats round-trip; bad files give one clear error and run no code."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import ganeval
from ganeval.checkpoints import write_export, write_torchscript
from ganeval.errors import GanevalError
from ganeval.toy import MixtureGenerator


class TinyGen(nn.Module):
    """A small MLP generator with a latent_dim attribute (the convention the loader reads)."""

    def __init__(self, latent_dim: int = 4, out: int = 2):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Sequential(nn.Linear(latent_dim, 16), nn.Tanh(), nn.Linear(16, out))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class NaNGen(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.latent_dim = 3
        self.lin = nn.Linear(3, 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.lin(z) * float("nan")


class Evil:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, target: str):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def _toy_kwargs(modes=None):
    ds = ganeval.load_dataset("ring8")
    return {"means": ds.means.tolist(), "std": ds.std, "modes": modes}


def _save_toy(path: Path, modes=None, step=None) -> Path:
    kw = _toy_kwargs(modes)
    return ganeval.save_generator(path, MixtureGenerator(**kw), factory="ganeval.toy:MixtureGenerator",
                                  factory_kwargs=kw, latent_dim=3, data="ring8", step=step)


def test_ganeval_format_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)  # only to initialise the module's weights; sampling uses its own RNG
    kw = _toy_kwargs([1, 2, 5])
    module = MixtureGenerator(**kw)
    path = ganeval.save_generator(tmp_path / "g.pt", module, factory="ganeval.toy:MixtureGenerator",
                                  factory_kwargs=kw, latent_dim=3, data="ring8", step=7, meta={"note": "x"})
    gen = ganeval.load_generator(path, device="cpu")
    assert gen.kind == "ganeval" and gen.step == 7 and gen.data == "ring8" and gen.meta == {"note": "x"}
    assert gen.latent == ganeval.LatentSpec(3, "normal")
    a = gen.sample(300, seed=5)
    b = gen.sample(300, seed=5, batch_size=7)  # batch size does not change the draw
    assert torch.equal(a, b)
    assert torch.allclose(a, module(gen.latent.rows(5, 0, 300)))
    assert torch.equal(gen.latent.rows(5, 4000, 4200), gen.latent.rows(5, 0, 8200)[4000:4200])
    assert not torch.equal(a, gen.sample(300, seed=6))
    assert len(gen.sha256) == 64


def test_discriminator_round_trip(tmp_path: Path) -> None:
    kw = _toy_kwargs()
    disc = MixtureGenerator(**kw)  # any module built by an allowed factory will do
    path = ganeval.save_generator(tmp_path / "gd.pt", MixtureGenerator(**kw), factory="ganeval.toy:MixtureGenerator",
                                  factory_kwargs=kw, latent_dim=3, discriminator=disc,
                                  discriminator_factory="ganeval.toy:MixtureGenerator", discriminator_kwargs=kw)
    loaded = ganeval.load_discriminator(path, device="cpu")
    assert loaded is not None
    assert all(torch.equal(p, q) for p, q in zip(loaded.state_dict().values(), disc.state_dict().values()))
    assert ganeval.load_discriminator(_save_toy(tmp_path / "nod.pt"), device="cpu") is None


def test_torchscript_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(1)
    module = TinyGen()
    path = write_torchscript(module, tmp_path / "g.jit", latent_dim=4)
    gen = ganeval.load_generator(path, device="cpu")
    assert gen.kind == "torchscript" and gen.latent.dim == 4
    assert torch.allclose(gen.sample(50, seed=3), module(gen.latent.rows(3, 0, 50)), atol=1e-6)


def test_torchscript_latent_from_attribute_or_caller(tmp_path: Path) -> None:
    module = TinyGen(latent_dim=6)
    path = tmp_path / "plain.pt"
    torch.jit.save(torch.jit.script(module), str(path))  # no extra file: the attribute decides
    assert ganeval.load_generator(path, device="cpu").latent.dim == 6
    assert ganeval.load_generator(path, device="cpu", latent_dim=6, latent_dist="uniform").latent.distribution == "uniform"


def test_export_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(2)
    module = TinyGen()
    path = write_export(module, tmp_path / "g.pt2", latent_dim=4)
    gen = ganeval.load_generator(path, device="cpu")
    assert gen.kind == "export" and gen.latent.dim == 4
    assert torch.allclose(gen.sample(33, seed=9, batch_size=10), module(gen.latent.rows(9, 0, 33)), atol=1e-6)


def test_pickle_needs_trust(tmp_path: Path) -> None:
    torch.manual_seed(3)
    module = TinyGen()
    path = tmp_path / "whole.pt"
    torch.save(module, path)
    with pytest.raises(GanevalError, match="trust"):
        ganeval.load_generator(path, device="cpu")
    gen = ganeval.load_generator(path, device="cpu", trust=True)
    assert gen.kind == "pickle" and torch.allclose(gen.sample(20, seed=0), module(gen.latent.rows(0, 0, 20)))


@pytest.mark.parametrize("legacy", [False, True])
def test_malicious_pickle_runs_no_code(tmp_path: Path, legacy: bool) -> None:
    marker = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pt"
    if legacy:
        path.write_bytes(pickle.dumps(Evil(str(marker)), protocol=2))
    else:
        torch.save({"format": "ganeval-generator", "payload": Evil(str(marker))}, path)
    assert not marker.exists()
    with pytest.raises(GanevalError, match="trust"):
        ganeval.load_generator(path, device="cpu")
    assert not marker.exists()


def test_npy_npz_samples(tmp_path: Path) -> None:
    arr = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
    np.save(tmp_path / "s.npy", arr)
    np.savez(tmp_path / "s.npz", samples=arr, other=arr[:2])
    np.savez(tmp_path / "single.npz", arr)
    for name in ("s.npy", "s.npz", "single.npz"):
        gen = ganeval.load_generator(tmp_path / name)
        assert gen.kind == "samples"
        assert np.array_equal(gen.sample(40, seed=0).numpy(), arr)
        sub = gen.sample(10, seed=1)
        assert sub.shape == (10, 2) and torch.equal(sub, gen.sample(10, seed=1))
    with pytest.raises(GanevalError, match="41"):
        ganeval.load_generator(tmp_path / "s.npy").sample(41, seed=0)


def test_uint8_nhwc_samples_become_unit_nchw(tmp_path: Path) -> None:
    arr = np.random.default_rng(0).integers(0, 256, size=(5, 8, 8, 3), dtype=np.uint8)
    np.save(tmp_path / "img.npy", arr)
    x = ganeval.load_generator(tmp_path / "img.npy").sample(5, seed=0)
    assert x.shape == (5, 3, 8, 8)
    assert torch.allclose(x, torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 255)


def test_image_folder(tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(6, 8, 8), dtype=np.uint8)
    for i, im in enumerate(imgs):
        Image.fromarray(im).save(tmp_path / f"{i:02d}.png")
    gen = ganeval.load_generator(tmp_path)
    x = gen.sample(6, seed=0)
    assert x.shape == (6, 1, 8, 8)
    assert torch.allclose(x[:, 0], torch.from_numpy(imgs).float() / 255)


def test_run_folder_orders_by_step(tmp_path: Path) -> None:
    run = tmp_path / "run"
    # Names sort differently from steps: the step inside the file decides.
    _save_toy(run / "checkpoints" / "b.pt", modes=[0], step=200)
    _save_toy(run / "checkpoints" / "a.pt", modes=[1], step=1000)
    _save_toy(run / "checkpoints" / "c.pt", modes=[2], step=30)
    (run / "history.csv").write_text("step,d_loss\n0,1.0\n10,0.9\n")
    assert [p.name for p in ganeval.list_checkpoints(run)] == ["c.pt", "b.pt", "a.pt"]
    assert ganeval.load_generator(run, device="cpu").step == 1000
    r = ganeval.load_run(run)
    assert len(r.checkpoints) == 3 and list(r.history()["step"]) == [0, 10]


@pytest.mark.parametrize("content,match", [
    (None, "no such file"),
    (b"", "empty"),
    (b"hello, this is not a checkpoint", "not a PyTorch checkpoint"),
])
def test_bad_files(tmp_path: Path, content: bytes | None, match: str) -> None:
    path = tmp_path / "bad.pt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(GanevalError, match=match) as info:
        ganeval.load_generator(path)
    assert str(path) in str(info.value)


def test_truncated_checkpoint(tmp_path: Path) -> None:
    good = _save_toy(tmp_path / "good.pt").read_bytes()
    bad = tmp_path / "trunc.pt"
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(GanevalError, match="truncated|corrupt|not a PyTorch") as info:
        ganeval.load_generator(bad)
    assert "trunc.pt" in str(info.value)


def test_bare_state_dict_is_refused_with_advice(tmp_path: Path) -> None:
    torch.save(TinyGen().state_dict(), tmp_path / "sd.pt")
    with pytest.raises(GanevalError, match="save_generator"):
        ganeval.load_generator(tmp_path / "sd.pt")


def test_factory_outside_allow_list(tmp_path: Path) -> None:
    kw = _toy_kwargs()
    path = _save_toy(tmp_path / "g.pt")
    payload = torch.load(path, weights_only=True)
    payload["factory"] = "os:system"
    torch.save(payload, path)
    with pytest.raises(GanevalError, match="allow-list"):
        ganeval.load_generator(path)
    payload["factory"] = "ganeval.toy:MixtureGenerator"
    payload["factory_kwargs"] = {**kw, "modes": [0, 1]}  # buffer shapes no longer fit
    torch.save(payload, path)
    with pytest.raises(GanevalError, match="do not fit"):
        ganeval.load_generator(path)


def test_nan_generator_is_reported(tmp_path: Path) -> None:
    path = write_torchscript(NaNGen(), tmp_path / "nan.jit", latent_dim=3)
    gen = ganeval.load_generator(path, device="cpu")
    with pytest.raises(GanevalError, match="NaN") as info:
        gen.sample(10, seed=0)
    assert "nan.jit" in str(info.value)


def test_missing_latent_dim_asks_for_it(tmp_path: Path) -> None:
    class NoAttr(nn.Module):
        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return z[:, :2]

    path = tmp_path / "noattr.pt"
    torch.jit.save(torch.jit.script(NoAttr()), str(path))
    with pytest.raises(GanevalError, match="--latent-dim"):
        ganeval.load_generator(path)
    assert ganeval.load_generator(path, latent_dim=5).sample(3, seed=0).shape == (3, 2)


def test_save_is_atomic_and_validates_factory(tmp_path: Path) -> None:
    with pytest.raises(GanevalError, match="factory"):
        ganeval.save_generator(tmp_path / "x.pt", TinyGen(), factory="not a factory", latent_dim=4)
    assert not any(tmp_path.iterdir())
    p = _save_toy(tmp_path / "ok.pt")
    assert zipfile.is_zipfile(p) and [q.name for q in tmp_path.iterdir()] == ["ok.pt"]
