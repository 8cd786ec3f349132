"""Bring your own generator: state dicts + a factory from the command line, containers, prefixes,
CUDA-saved tensors, `ganeval wrap` / `inspect`, and the output-range check.

A DCGAN-style generator (ConvTranspose + BatchNorm + tanh) is written as a module file in a temporary
folder (the user's `models.py`), trained-looking BatchNorm statistics are set, and its weights are saved
the ways researchers save them. Each file is scored through the CLI in one command and must give the
numbers of the same network passed in memory.
"""

from __future__ import annotations

import copy

import importlib.util
import json
import re
import sys
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import ganeval
from ganeval.cli import main
from ganeval.errors import GanevalError
from ganeval.output_range import RangeWarning, check_samples
from ganeval.state_dicts import find_state_dict, match_prefix
from ganeval.toy import MixtureGenerator

NZ, NGF = 8, 4
KW = json.dumps({"nz": NZ, "ngf": NGF})
N = 200
FAST_FID = {"fid": {"bootstrap": 10, "infinity": False}}  # the numbers compared need no interval or FID_inf

MODELS_SRC = '''
import torch
from torch import nn


class DCGAN(nn.Module):
    """DCGAN-style generator for 8x8 images: (B, nz) -> (B, 1, 8, 8) in [-1, 1]."""

    def __init__(self, nz=100, ngf=64):
        super().__init__()
        self.nz = nz
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 2, 2, 1, 0, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z):
        return self.main(z.view(z.shape[0], -1, 1, 1))


class CondDCGAN(DCGAN):
    """G(z, y): the label enters through an embedding added to the latent."""

    def __init__(self, nz=100, ngf=64, num_classes=10):
        super().__init__(nz, ngf)
        self.embed = nn.Embedding(num_classes, nz)

    def forward(self, z, y):
        return super().forward(z + 3 * self.embed(y))


class Broken(nn.Module):
    def __init__(self, nz=100, ngf=64):
        super().__init__()
        self.lin = nn.Linear(nz, 64)

    def forward(self, z):
        return torch.tanh(self.lin(z)).view(-1, 1, 8, 8)
'''


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Any]:
    """(folder, module name, module): the user's models.py under a name unique to this session."""
    folder = tmp_path_factory.mktemp("user_code")
    name = f"user_models_{uuid.uuid4().hex[:8]}"
    (folder / f"{name}.py").write_text(MODELS_SRC)
    spec = importlib.util.spec_from_file_location(f"{name}_in_test", folder / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return folder, name, mod


@pytest.fixture(scope="module")
def net(models: tuple[Path, str, Any]) -> nn.Module:
    torch.manual_seed(0)  # weight init only; sampling uses its own seeded streams
    g = models[2].DCGAN(nz=NZ, ngf=NGF)
    g.train()
    with torch.no_grad():  # BatchNorm running statistics that differ from their defaults
        for _ in range(3):
            g(torch.randn(64, NZ))
    return g.eval()


@pytest.fixture(scope="module")
def cond_net(models: tuple[Path, str, Any]) -> nn.Module:
    torch.manual_seed(1)
    g = models[2].CondDCGAN(nz=NZ, ngf=NGF, num_classes=10)
    g.train()
    with torch.no_grad():
        for _ in range(3):
            g(torch.randn(64, NZ), torch.randint(0, 10, (64,)))
    return g.eval()


class Mapped(nn.Module):
    """The in-memory reference: the network's [-1, 1] output mapped to [0, 1] by hand."""

    def __init__(self, g: nn.Module):
        super().__init__()
        self.g = g

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (self.g(z) + 1.0) / 2.0


class MappedCond(Mapped):
    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return (self.g(z, y) + 1.0) / 2.0


def _reference(net: nn.Module, conditional: bool = False) -> dict:
    if conditional:
        gen = ganeval.generator_from_module(MappedCond(net), latent_dim=NZ, device="cpu", conditional=10)
        metrics = "fid,summary,conditional_accuracy"
    else:
        gen = ganeval.generator_from_module(Mapped(net), latent_dim=NZ, device="cpu")
        metrics = "fid,summary"
    return ganeval.evaluate(gen, "digits", metrics=metrics, n_samples=N, device="cpu",
                            options=FAST_FID).to_dict()["metrics"]


def _live(net: nn.Module) -> nn.Module:
    """A copy of ``net`` whose tanh outputs spread over [-1, 1], as a trained generator's do (the
    freshly initialised net's sit within +-0.05 of 0, where no range check can tell a tanh output
    from a linear one that slightly overshoots [0, 1])."""
    live = copy.deepcopy(net)
    last = [m for m in live.modules() if isinstance(m, nn.ConvTranspose2d)][-1]
    with torch.no_grad():
        last.weight.mul_(40.0)
    return live


def _flags(models: tuple[Path, str, Any], factory: str = "DCGAN") -> list[str]:
    folder, name, _ = models
    return ["--factory", f"{name}:{factory}", "--factory-kwargs", KW, "--factory-path", str(folder),
            "--latent-dim", str(NZ), "--trust-checkpoint"]


def _report(path: Path, extra: list[str], out: Path) -> list[str]:
    return ["report", str(path), "--data", "digits", "--metrics", "fid,summary", "--n-samples", str(N),
            "--device", "cpu", "--json", "--no-diagnostics", "--out", str(out), "--option", "fid.bootstrap=10",
            "--option", "fid.infinity=false", *extra]


def _save_cuda_tagged(obj: Any, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """torch.save with every storage recorded as living on 'cuda:0' (as on a GPU machine)."""
    with monkeypatch.context() as m:
        m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        torch.save(obj, path)


def _containers(net: nn.Module, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    sd = net.state_dict()
    disc = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(144, 1))
    files = {
        "bare": sd,
        "state_dict_module_prefix": {"state_dict": {f"module.{k}": v for k, v in sd.items()}, "epoch": 5},
        "lightning": {"epoch": 3, "global_step": 1200, "pytorch-lightning_version": "2.2.0",
                      "state_dict": {**{f"generator.{k}": v for k, v in sd.items()},
                                     **{f"discriminator.{k}": v for k, v in disc.state_dict().items()}},
                      "optimizer_states": [torch.optim.Adam(net.parameters()).state_dict()], "lr_schedulers": [],
                      "hyper_parameters": {"latent_dim": NZ, "lr": 2e-4}},
    }
    paths = {}
    for name, obj in files.items():
        paths[name] = tmp / f"{name}.pth"
        torch.save(obj, paths[name])
    paths["cuda_saved"] = tmp / "cuda_saved.pth"
    _save_cuda_tagged({"G": sd, "D": disc.state_dict()}, paths["cuda_saved"], monkeypatch)
    return paths


def test_cuda_tagged_file_really_needs_a_map_location(net: nn.Module, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "g.pth"
    _save_cuda_tagged(net.state_dict(), path, monkeypatch)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(path, weights_only=True)
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    assert all(torch.equal(loaded[k], v) for k, v in net.state_dict().items())


@pytest.mark.parametrize("conditional", [False, True], ids=["unconditional", "conditional"])
def test_each_container_scores_like_the_network_in_memory(conditional: bool, net: nn.Module, cond_net: nn.Module,
                                                          models: tuple[Path, str, Any], tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    g = cond_net if conditional else net
    want = _reference(g, conditional)
    extra = ["--output-range", "-1,1"]
    if conditional:
        extra += ["--num-classes", "10", "--metrics", "fid,summary,conditional_accuracy"]
    for name, path in _containers(g, tmp_path, monkeypatch).items():
        code = main(_report(path, [*_flags(models, "CondDCGAN" if conditional else "DCGAN"), *extra],
                            tmp_path / f"rep_{name}"))
        captured = capsys.readouterr()
        assert code == 0, (name, captured.err)
        d = json.loads(captured.out)
        assert d["metrics"] == want, name
        if conditional:  # the labels reached the network: it is not scored as if unconditional
            assert d["metrics"]["conditional_accuracy"]["n_samples"] == N
        ck = d["provenance"]["checkpoint"]
        assert ck["kind"] == "state_dict" and len(ck["sha256"]) == 64
        assert any(n.startswith("weights from") for n in d["provenance"]["notes"]), name
        if name == "lightning":
            assert ck["step"] == 1200
            assert "prefix 'generator.' stripped" in " ".join(d["provenance"]["notes"])
        if name == "state_dict_module_prefix":
            assert "prefix 'module.' stripped" in " ".join(d["provenance"]["notes"])
        if name == "cuda_saved":
            assert "'G'" in " ".join(d["provenance"]["notes"])


def test_tanh_without_output_range_is_an_error_naming_the_fix(net: nn.Module, models: tuple[Path, str, Any],
                                                              tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "g.pth"
    torch.save(_live(net).state_dict(), path)
    out = tmp_path / "never"
    assert main(_report(path, _flags(models), out)) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganeval: error:") and len(err.strip().splitlines()) == 1
    assert "--output-range -1,1" in err and "--no-range-check" in err
    assert not out.exists()
    # --no-range-check scores anyway and says so in the report
    assert main(_report(path, [*_flags(models), "--no-range-check"], tmp_path / "anyway")) == 0
    d = json.loads(capsys.readouterr().out)
    assert any("Scored anyway" in n for n in d["provenance"]["notes"])
    assert d["provenance"]["range_check"]["verdict"] == "error"


def test_range_check_verdicts_on_known_samples() -> None:
    ds = ganeval.load_dataset("digits")
    g = torch.Generator().manual_seed(0)
    inside = torch.rand(500, 1, 8, 8, generator=g)
    assert check_samples(inside, ds, source="x").verdict == "ok"
    assert check_samples(inside * 2 - 1, ds, source="x").verdict == "error"  # tanh range
    bytes_ = check_samples(inside * 255, ds, source="x")
    assert bytes_.verdict == "error" and "--output-range 0,255" in bytes_.message
    slight = inside * 1.1 - 0.05  # 5% overshoot at each end
    chk = check_samples(slight, ds, source="x")
    assert chk.verdict == "warning" and 0.01 < chk.fraction_outside < 0.25
    # mixtures have no fixed range: a diverged generator is scored, not refused
    assert check_samples(torch.randn(100, 2) * 50, ganeval.load_dataset("ring8"), source="x") is None


def test_mild_mismatch_warns_and_reaches_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    class Overshoot(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(4, 64)

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return (torch.sigmoid(3 * self.lin(z)) * 1.1 - 0.05).view(-1, 1, 8, 8)

    torch.manual_seed(1)
    path = ganeval.checkpoints.write_torchscript(Overshoot(), tmp_path / "o.jit", latent_dim=4)
    out = tmp_path / "rep"
    assert main(["report", str(path), "--data", "digits", "--metrics", "summary", "--n-samples", "100",
                 "--device", "cpu", "--out", str(out), "--no-diagnostics"]) == 0
    err = capsys.readouterr().err
    assert "ganeval: warning: output range:" in err
    rep = json.loads((out / "report.json").read_text())
    ev = rep["evaluations"][0] if "evaluations" in rep else rep
    assert any(n.startswith("output range:") for n in ev["provenance"]["notes"])
    html = (out / "index.html").read_text()
    assert "<p class='caveats'>output range:" in html
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ganeval.evaluate(str(path), "digits", metrics="summary", n_samples=100, device="cpu")
    assert any(issubclass(x.category, RangeWarning) for x in w)


def test_find_state_dict_containers_and_prefixes() -> None:
    sd = {"a.weight": torch.ones(2), "a.bias": torch.zeros(2)}
    expected = set(sd)
    for key in ("g_ema", "ema", "generator", "G", "netG", "model", "state_dict"):
        got, where = find_state_dict({key: sd, "optimizer": {"lr": 1}})
        assert got.keys() == sd.keys() and where.startswith(repr(key))
    got, where = find_state_dict({"g": sd, "d": {"x": torch.ones(1)}, "g_ema": sd})
    assert where.startswith("'g_ema'") and "'g'" in where  # the EMA copy first, the others named
    got, where = find_state_dict({"state_dict": {"G": sd}})
    assert where == "'state_dict/G'"
    got, _ = find_state_dict({"a": {"b": sd}}, key="a/b")
    assert got.keys() == sd.keys()
    nested = {f"generator.module.{k}": v for k, v in sd.items()} | {"discriminator.w": torch.ones(1)}
    out, p = match_prefix(nested, expected)
    assert p == "generator.module." and out.keys() == sd.keys()
    out, p = match_prefix({f"x.{k}": v for k, v in sd.items()}, expected, strip_prefix="x.")
    assert p == "x." and out.keys() == sd.keys()


def test_wrap_then_report_needs_no_flags(net: nn.Module, models: tuple[Path, str, Any], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "weights.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}, "global_step": 77}, src)
    g = tmp_path / "g.pt"
    assert main(["wrap", str(src), "-o", str(g), *_flags(models), "--output-range", "-1,1", "--data", "digits"]) == 0
    assert "wrote" in capsys.readouterr().out
    # the user's module is outside the allow-list: loading the wrapped file needs trust (and finds it in the cwd)
    monkeypatch.chdir(models[0])
    out = tmp_path / "never"
    assert main(_report(g, [], out)) == 2
    assert "allow-list" in capsys.readouterr().err and not out.exists()
    assert main(_report(g, ["--trust-checkpoint"], tmp_path / "rep")) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["metrics"] == _reference(net)
    assert d["provenance"]["checkpoint"]["kind"] == "ganeval" and d["provenance"]["checkpoint"]["step"] == 77


def test_entry_point_factory_needs_no_trust(net: nn.Module, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A package that registers its factory in group ganeval.generators is allow-listed (a real entry point)."""
    site = tmp_path / "site"
    pkg = f"epgan_{uuid.uuid4().hex[:8]}"
    (site / pkg).mkdir(parents=True)
    (site / pkg / "__init__.py").write_text("")
    (site / pkg / "models.py").write_text(MODELS_SRC)
    dist = site / f"{pkg}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {pkg}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[ganeval.generators]\n{pkg}_dcgan = {pkg}.models:DCGAN\n")
    monkeypatch.syspath_prepend(str(site))
    src = tmp_path / "w.pth"
    torch.save(net.state_dict(), src)
    flags = ["--factory-kwargs", KW, "--latent-dim", str(NZ), "--output-range", "-1,1"]
    # by its entry-point name, and by its full name: no --trust-checkpoint either way
    assert main(_report(src, ["--factory", f"{pkg}_dcgan", *flags], tmp_path / "a")) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["metrics"] == _reference(net)
    g = tmp_path / "g.pt"
    assert main(["wrap", str(src), "-o", str(g), "--factory", f"{pkg}.models:DCGAN", *flags]) == 0
    captured = capsys.readouterr()
    assert "needs --trust-checkpoint" not in captured.err
    assert main(_report(g, [], tmp_path / "b")) == 0
    assert json.loads(capsys.readouterr().out)["metrics"] == d["metrics"]
    sys.modules.pop(f"{pkg}.models", None)
    sys.modules.pop(pkg, None)


def test_inspect(net: nn.Module, models: tuple[Path, str, Any], tmp_path: Path,
                 capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "w.pth"
    torch.save({"generator": net.state_dict(), "step": 9}, src)
    assert main(["inspect", str(src), "--json"]) == 0  # no factory yet: described from its weights
    d = json.loads(capsys.readouterr().out)
    assert d["format"] == "state_dict" and d["factory"] is None and d["step"] == 9
    assert d["tensors"] == len(net.state_dict()) and any("--factory" in f for f in d["flags"])
    assert main(["inspect", str(src), "--json", *_flags(models)]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["probe"]["shape"] == [1, 8, 8] and d["probe"]["min"] < 0 and d["step"] == 9
    assert d["factory"].endswith(":DCGAN") and d["latent"]["dim"] == NZ and d["conditional"] is None
    assert any("--output-range -1,1" in f for f in d["flags"])
    g = tmp_path / "g.pt"
    assert main(["wrap", str(src), "-o", str(g), *_flags(models), "--output-range", "-1,1"]) == 0
    capsys.readouterr()
    assert main(["inspect", str(g), "--trust-checkpoint", "--factory-path", str(models[0])]) == 0
    text = capsys.readouterr().out
    assert "format: ganeval" in text and "output_range: [-1.0, 1.0]" in text and "discriminator: False" in text
    assert re.search(r"sha256: [0-9a-f]{64}", text)


BAD: list[tuple[str, Any, str]] = [
    ("unknown key", lambda f: [*f, "--state-dict-key", "nosuch"], r"no entry 'nosuch' \(--state-dict-key\)"),
    ("wrong prefix", lambda f: [*f, "--strip-prefix", "netG."], r"no key starts with 'netG.'.*--strip-prefix"),
    ("factory does not import", lambda f: [*f[2:], "--factory", "no_such_pkg_x.models:G"],
     r"cannot import factory.*--factory-path"),
    ("factory attribute missing", lambda f: [*f[2:], "--factory", f[1].split(":")[0] + ":Nope"],
     r"cannot import factory"),
    ("kwargs that do not fit", lambda f: [*f[:3], json.dumps({"nz": NZ, "width": 3}), *f[4:]],
     r"rejected --factory-kwargs.*keyword arguments"),
    ("kwargs with other sizes", lambda f: [*f[:3], json.dumps({"nz": NZ, "ngf": 2 * NGF}), *f[4:]],
     r"other shapes.*--factory-kwargs"),
    ("kwargs not JSON", lambda f: [*f[:3], "{ngf: 4}", *f[4:]], r"--factory-kwargs .* is not JSON"),
    ("kwargs not an object", lambda f: [*f[:3], "[4]", *f[4:]], r"must be a JSON object"),
    ("malformed factory", lambda f: [*f[2:], "--factory", "just_a_name"], r"must look like 'package.module:callable'"),
    ("factory without trust", lambda f: [x for x in f if x != "--trust-checkpoint"], r"allow-list.*--trust-checkpoint"),
    ("factory path missing", lambda f: [*f, "--factory-path", "/no/such/dir"], r"--factory-path .* no such folder"),
    ("network that does not fit", lambda f: [*f[:1], f[1].split(":")[0] + ":Broken", *f[2:]],
     r"missing \d+ .*unexpected \d+"),
    ("bad output range", lambda f: [*f, "--output-range", "1,-1"], r"--output-range '1,-1': expected LO,HI"),
    ("latent range on a normal latent", lambda f: [*f, "--latent-range", "-1,1"], r"--latent-dist uniform"),
    ("no factory for a state dict", lambda f: [], r"--factory pkg.module:Class"),
]


@pytest.mark.parametrize("what,args_fn,match", BAD, ids=[b[0] for b in BAD])
def test_bad_input_exits_2_in_one_line_and_writes_nothing(what: str, args_fn: Any, match: str, net: nn.Module,
                                                          models: tuple[Path, str, Any], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "w.pth"
    torch.save(net.state_dict(), src)
    before = set(tmp_path.iterdir())
    for cmd in ("report", "wrap"):
        out = tmp_path / "never"
        argv = (_report(src, args_fn(_flags(models)), out) if cmd == "report"
                else ["wrap", str(src), "-o", str(out), *args_fn(_flags(models))])
        assert main(argv) == 2, (what, cmd)
        err = capsys.readouterr().err
        assert err.startswith("ganeval: error:") and len(err.strip().splitlines()) == 1, err
        assert re.search(match, err), (what, cmd, err)
        assert set(tmp_path.iterdir()) == before, (what, cmd)


def test_wrap_refuses_what_is_not_a_state_dict(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               models: tuple[Path, str, Any]) -> None:
    ds = ganeval.load_dataset("ring8")
    kw = {"means": ds.means.tolist(), "std": ds.std}
    g = ganeval.save_generator(tmp_path / "g.pt", MixtureGenerator(**kw), factory="ganeval.toy:MixtureGenerator",
                               factory_kwargs=kw, latent_dim=3)
    assert main(["wrap", str(g), "-o", str(tmp_path / "x.pt")]) == 2
    assert "needs the class that builds it" in capsys.readouterr().err
    assert main(["wrap", str(g), "-o", str(tmp_path / "x.pt"), "--factory", "ganeval.toy:MixtureGenerator"]) == 2
    assert "names its own factory" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


def test_factory_path_leaves_sys_path_as_it_was(net: nn.Module, models: tuple[Path, str, Any], tmp_path: Path) -> None:
    src = tmp_path / "w.pth"
    torch.save(net.state_dict(), src)
    before = list(sys.path)
    folder, name, _ = models
    gen = ganeval.load_generator(src, factory=f"{name}:DCGAN", factory_kwargs={"nz": NZ, "ngf": NGF},
                                 factory_path=folder, trust=True, latent_dim=NZ, device="cpu")
    assert sys.path == before and gen.kind == "state_dict"
    with pytest.raises(GanevalError, match="allow-list"):  # without trust the folder is never put on the path
        ganeval.load_generator(src, factory=f"{name}:DCGAN", factory_path=folder, latent_dim=NZ, device="cpu")


def test_baseline_and_gate_take_the_same_flags(net: nn.Module, models: tuple[Path, str, Any], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    net = _live(net)
    src = tmp_path / "w.pth"
    torch.save({"G": net.state_dict(), "D": {"w": torch.ones(1)}}, src)
    b = tmp_path / "b.json"
    common = ["--data", "digits", "--n-samples", str(N), "--device", "cpu", *_flags(models)]
    assert main(["baseline", str(src), "-o", str(b), "--bootstrap", "20", *common]) == 2  # tanh, no range given
    assert "--output-range -1,1" in capsys.readouterr().err and not b.exists()
    assert main(["baseline", str(src), "-o", str(b), "--bootstrap", "20", *common, "--output-range", "-1,1"]) == 0
    assert json.loads(b.read_text())["value"] == pytest.approx(_reference(net)["fid"]["value"])
    capsys.readouterr()
    assert main(["gate", str(src), "--baseline", str(b), *common, "--output-range", "-1,1"]) == 0


def test_legacy_torch_save_format_loads_safely(net: nn.Module, models: tuple[Path, str, Any], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Pre-1.6 torch.save files (not zip archives), CUDA-tagged, as old public GAN weights are."""
    path = tmp_path / "old.pth"
    with monkeypatch.context() as m:
        m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        torch.save({"netG": net.state_dict()}, path, _use_new_zipfile_serialization=False)
    folder, name, _ = models
    kw = dict(factory=f"{name}:DCGAN", factory_kwargs={"nz": NZ, "ngf": NGF}, factory_path=folder, trust=True,
              latent_dim=NZ, device="cpu", output_range=(-1, 1))
    gen = ganeval.load_generator(path, **kw)
    want = Mapped(net)(gen.latent.rows(3, 0, 50))
    assert torch.equal(gen.sample(50, seed=3), want) and gen.meta["state_dict"]["entry"] == "'netG'"
