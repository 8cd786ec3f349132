"""Class-conditional generators: labels (seeded, balanced, batch-independent), the G(z, y) call, the
ganeval / TorchScript / .pt2 specs, intra-class FID and conditional accuracy on digits, the report,
the CLI flags and their bad inputs, labelled image folders."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conditional_nets import CondDCGAN, FirstChannel, HeldOutLookup, Unconditional
from PIL import Image

from ganeval import evaluate
from ganeval.checkpoints import generator_from_module, load_generator, save_generator, write_export, write_torchscript
from ganeval.cli import main
from ganeval.conditional import ConditionalSpec, draw_labels, label_rows
from ganeval.data import load_dataset
from ganeval.errors import GanevalError
from ganeval.features import get_extractor
from ganeval.metrics.conditional import conditional_accuracy, intra_fid
from ganeval.metrics.frechet import fid
from ganeval.metrics.prdc import prdc

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _digits_heldout() -> tuple[torch.Tensor, torch.Tensor]:
    ds = load_dataset("digits")
    return torch.cat([ds.val, ds.test]), torch.cat([ds.val_labels, ds.test_labels])


def _script(module: torch.nn.Module, path: Path, conditional: dict | None) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return write_torchscript(module, path, latent_dim=4, conditional=conditional)


# ---------------------------------------------------------------------------------------------
# labels


@pytest.mark.parametrize("k", [2, 7, 10, 1000])
def test_label_stream_balanced_prefix_and_blockwise(k: int) -> None:
    stream = label_rows(5, 0, 9000, k)
    for n in (1, k - 1, k, k + 1, 4095, 4096, 4097, 9000):
        counts = torch.bincount(stream[:n], minlength=k)
        assert counts.sum() == n and counts.max() - counts.min() <= 1 and counts.min() == n // k
    # any slice equals the same rows of the whole stream (fixed blocks, independent of batching)
    for a, b in ((0, 1), (4000, 4200), (8191, 8193), (123, 8999)):
        assert torch.equal(label_rows(5, a, b, k), stream[a:b])
    assert not torch.equal(label_rows(6, 0, 200, k), stream[:200])  # the seed matters
    # a balanced, shuffled order: not the classes in sequence
    assert not torch.equal(stream[:k], torch.arange(k))


def test_draw_labels_fixed_class_array_and_out_of_range() -> None:
    spec = ConditionalSpec(10)
    assert torch.equal(draw_labels(6, spec, seed=0, labels=3), torch.full((6,), 3))
    assert torch.equal(draw_labels(3, spec, seed=0, labels=np.array([0, 9, 2])), torch.tensor([0, 9, 2]))
    for bad in (10, -1, np.array([0, 10, 1])):
        with pytest.raises(GanevalError, match=r"out of range.*0\.\.9"):
            draw_labels(3, spec, seed=0, labels=bad)
    with pytest.raises(GanevalError, match="whole class numbers"):
        draw_labels(2, spec, seed=0, labels=np.array([0.5, 1.0]))
    with pytest.raises(GanevalError, match="--num-classes"):
        ConditionalSpec(1)
    with pytest.raises(GanevalError, match="--label-input"):
        ConditionalSpec(10, "embedding")


# ---------------------------------------------------------------------------------------------
# sampling: determinism, batch size, what the network receives


@pytest.mark.parametrize("label_input", ["index", "onehot"])
def test_sampling_deterministic_batch_independent_and_calls_g_z_y(label_input: str) -> None:
    torch.manual_seed(0)
    net = CondDCGAN(latent_dim=16, onehot=label_input == "onehot")
    gen = generator_from_module(net, latent_dim=16, device="cpu", conditional={"num_classes": 10,
                                                                                "label_input": label_input})
    x1, y1 = gen.sample_with_labels(50, seed=3, batch_size=7)
    x2, y2 = gen.sample_with_labels(50, seed=3, batch_size=50)
    x3, y3 = gen.sample_with_labels(50, seed=3, batch_size=1024)
    assert torch.equal(y1, y2) and torch.equal(y2, y3)
    torch.testing.assert_close(x1, x2, rtol=0, atol=1e-6)
    torch.testing.assert_close(x2, x3, rtol=0, atol=1e-6)
    assert torch.equal(torch.bincount(y1, minlength=10), torch.full((10,), 5))
    assert not torch.equal(gen.sample_with_labels(50, seed=4)[1], y1)
    # the network is called as G(z, y) with the drawn labels, encoded as asked
    z = gen.latent.rows(3, 0, 50)
    y_in = y1 if label_input == "index" else torch.nn.functional.one_hot(y1, 10).float()
    with torch.no_grad():
        torch.testing.assert_close(x1, net.eval()(z, y_in), rtol=0, atol=1e-6)
    # one class on request
    x_fixed, y_fixed = gen.sample_with_labels(8, seed=3, labels=4)
    assert torch.equal(y_fixed, torch.full((8,), 4))
    with torch.no_grad():
        want = net(z[:8], torch.full((8,), 4) if label_input == "index" else
                   torch.nn.functional.one_hot(torch.full((8,), 4), 10).float())
    torch.testing.assert_close(x_fixed, want, rtol=0, atol=1e-6)
    assert torch.equal(gen.sample(50, seed=3, batch_size=7), x1)


def test_spec_round_trips_ganeval_torchscript_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(1)
    net = CondDCGAN(latent_dim=4).eval()
    ref = generator_from_module(net, latent_dim=4, device="cpu", conditional=10).sample(30, seed=2)
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    save_generator(tmp_path / "g.pt", net, factory="conditional_nets:CondDCGAN", factory_kwargs={"latent_dim": 4},
                   latent_dim=4, conditional={"num_classes": 10, "label_input": "index"})
    _script(net, tmp_path / "g.ts", {"num_classes": 10, "label_input": "index"})
    write_export(net, tmp_path / "g.pt2", latent_dim=4, conditional=10)
    for name in ("g.pt", "g.ts", "g.pt2"):
        gen = load_generator(tmp_path / name, device="cpu", trust=True)
        assert gen.conditional == ConditionalSpec(10, "index"), name
        torch.testing.assert_close(gen.sample(30, seed=2, batch_size=4), ref, rtol=0, atol=1e-5)
    # the flags override the file's spec (here: the same K, onehot is wrong for this network)
    with pytest.raises(GanevalError, match="takes index labels.*--label-input index"):
        load_generator(tmp_path / "g.ts", device="cpu", label_input="onehot").sample(4)


# ---------------------------------------------------------------------------------------------
# the metrics on digits


def test_conditional_accuracy_known_answer_and_errors() -> None:
    asked = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    pred = torch.tensor([0, 0, 0, 1, 0, 0, 2, 2, 1, 2])
    r = conditional_accuracy(pred, asked, 4, min_count=1)
    assert r.value == pytest.approx(0.6) and r.stderr == pytest.approx(np.sqrt(0.6 * 0.4 / 10))
    assert r.per_class == (0.75, 0.0, 0.75, None) and r.asked == (4, 2, 4, 0) and r.predicted == (5, 2, 3, 0)
    assert r.missing == (1,) and r.classes_covered == 2 and r.classes_asked == 3 and r.worst_class == 1
    assert r.confusion[0] == (3, 1, 0, 0) and r.confusion[1] == (2, 0, 0, 0) and r.chance == 0.25
    # Wilson score interval of 6/10 at 95%: (0.3127, 0.8318) (Wilson 1927; e.g. Newcombe 1998, table I)
    assert (r.ci_low, r.ci_high) == pytest.approx((0.3127, 0.8318), abs=1e-4)
    with pytest.raises(GanevalError, match="outside 0..3"):
        conditional_accuracy(pred, asked + 2, 4)
    with pytest.raises(GanevalError, match="predicted"):
        conditional_accuracy(pred[:3], asked, 4)


def test_obeying_and_ignoring_generators_on_digits() -> None:
    ds = load_dataset("digits")
    held, held_y = _digits_heldout()  # 60 held-out images per class
    n = held.shape[0]
    ext = get_extractor("digits")
    train_f, held_f = ext(ds.train), ext(held)
    real_vs_real = intra_fid(train_f, ds.train_labels, held_f, held_y)

    obey = HeldOutLookup(held, held_y, 10, obey=True)
    ev = evaluate(generator_from_module(obey, latent_dim=2, device="cpu", conditional=10), ds, n_samples=n,
                  seed=0, device="cpu")
    assert {"fid", "intra_fid", "class_prdc", "conditional_accuracy"} <= set(ev.metrics)  # the conditional defaults
    acc, ifid = ev.metric_dict("conditional_accuracy"), ev.metric_dict("intra_fid")
    assert acc["value"] >= 0.95 and acc["classes_covered"] == 10
    # n = the held-out count returns every held-out image once: intra-FID = the real-vs-real value
    assert ifid["value"] == pytest.approx(real_vs_real.value, rel=1e-4)
    assert ifid["n_fake"] == [60] * 10 and ifid["n_real"] == list(torch.bincount(ds.train_labels).tolist())
    # each class's FID is fid() on that class's rows, computed by hand
    fake_f = ext(ev.samples)
    for c, v in zip(ifid["classes"], ifid["per_class"]):
        by_hand = fid(train_f[ds.train_labels == c], fake_f[ev.sample_labels == c], bootstrap=0).value
        assert v == pytest.approx(by_hand, rel=1e-6)

    # per-class PRDC is prdc() on each class's rows, by hand; real held-out data covers its own class well
    cp = ev.metric_dict("class_prdc")
    for c, cov, rec in zip(cp["classes"], cp["coverage"], cp["per_class_recall"]):
        by_hand = prdc(train_f[ds.train_labels == c], fake_f[ev.sample_labels == c], k=5)
        assert (cov, rec) == pytest.approx((by_hand.coverage, by_hand.recall), abs=1e-12)
    assert cp["value"] > 0.8

    ignore = HeldOutLookup(held, held_y, 10, obey=False)
    ev2 = evaluate(generator_from_module(ignore, latent_dim=2, device="cpu", conditional=10), ds, n_samples=n,
                   seed=0, device="cpu")
    acc2, ifid2 = ev2.metric_dict("conditional_accuracy"), ev2.metric_dict("intra_fid")
    assert abs(acc2["value"] - 0.1) < 3.5 * np.sqrt(0.1 * 0.9 / n)  # chance, within 3.5 standard errors
    assert ifid2["value"] > 10 * ifid["value"]
    assert ev2.metric_dict("class_prdc")["value"] < 0.5 * cp["value"]
    # its overall FID stays good: only the per-class view sees that it ignores its label
    assert ev2.metric_dict("fid")["value"] < 3 * ev.metric_dict("fid")["value"] + 5


# ---------------------------------------------------------------------------------------------
# the CLI: a mixed report, flags, bad input


def _lookup_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    held, held_y = _digits_heldout()
    cond = _script(HeldOutLookup(held, held_y, 10, obey=True), tmp_path / "cond.ts",
                   {"num_classes": 10, "label_input": "index"})
    bare = _script(HeldOutLookup(held, held_y, 10, obey=True), tmp_path / "bare.ts", None)
    torch.manual_seed(0)
    unc = _script(Unconditional(latent_dim=4), tmp_path / "unc.ts", None)
    return cond, bare, unc


def test_cli_mixed_report_side_by_side(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cond, bare, unc = _lookup_files(tmp_path)
    out = tmp_path / "rep"
    assert main(["report", str(cond), str(unc), "--data", "digits", "--n-samples", "300", "--device", "cpu",
                 "--out", str(out), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    m_cond, m_unc = (e["metrics"] for e in d["evaluations"])
    assert {"intra_fid", "conditional_accuracy", "fid"} <= set(m_cond) and "fid" in m_unc
    assert "intra_fid" not in m_unc and "conditional_accuracy" not in m_unc
    assert m_cond["conditional_accuracy"]["value"] >= 0.95
    prov = d["evaluations"][0]["provenance"]
    assert prov["checkpoint"]["conditional"] == {"num_classes": 10, "label_input": "index"}
    assert prov["labels"] == "balanced"
    html = (out / "index.html").read_text()
    assert "per-class results" in html and "FID of the class" in html and "<th>coverage</th>" in html
    pngs = {p.name for p in out.glob("*.png")}
    assert any("conditional_accuracy" in p for p in pngs) and any("intra_fid" in p for p in pngs)
    assert any("samples_by_class" in p for p in pngs) and any("class_prdc" in p for p in pngs)
    # naming the conditional metrics (and --labels) in a mixed report: the unconditional row leaves them empty
    assert main(["report", str(cond), str(unc), "--data", "digits", "--n-samples", "100", "--device", "cpu",
                 "--metrics", "fid,conditional_accuracy", "--labels", "2", "--out", str(tmp_path / "r2"),
                 "--json"]) == 0
    e_cond, e_unc = json.loads(capsys.readouterr().out)["evaluations"]
    assert e_cond["metrics"]["conditional_accuracy"]["asked"][2] == 100 and e_cond["provenance"]["labels"] == 2
    assert set(e_unc["metrics"]) == {"fid"} and e_unc["provenance"]["labels"] is None
    assert "conditional_accuracy not computed: the generator is not class-conditional" in e_unc["provenance"]["notes"]
    # --num-classes on a bare TorchScript file; --labels 3 asks every sample for class 3
    assert main(["report", str(bare), "--data", "digits", "--num-classes", "10", "--labels", "3", "--n-samples",
                 "40", "--metrics", "conditional_accuracy", "--device", "cpu", "--out", str(tmp_path / "r3"),
                 "--json"]) == 0
    acc = json.loads(capsys.readouterr().out)["metrics"]["conditional_accuracy"]
    assert acc["asked"][3] == 40 and sum(acc["asked"]) == 40 and acc["per_class"][3] >= 0.95


@pytest.mark.parametrize("case, match", [
    ("num_classes_on_unconditional", r"unc\.ts.*not class-conditional.*drop --num-classes"),
    ("labels_out_of_range", r"--labels 12 is out of range.*0\.\.9"),
    ("labels_on_unconditional", r"not a class-conditional generator.*drop --labels"),
    ("classes_differ_from_data", r"12 classes but 'digits' has 10"),
    ("conditional_metric_unconditional", r"intra_fid.*needs a class-conditional generator.*--num-classes"),
    ("wrong_label_input", r"takes index labels, not onehot: pass --label-input index"),
    ("label_input_without_k", r"--label-input onehot was given without --num-classes"),
    ("missing_classifier", r"--classifier .*nope\.ts: no such file"),
    ("conditional_generator_no_flag", r"failed on a batch of latents alone.*pass --num-classes K"),
])
def test_cli_bad_conditional_input_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str,
                                          match: str) -> None:
    cond, bare, unc = _lookup_files(tmp_path)
    base = ["--data", "digits", "--n-samples", "40", "--device", "cpu"]
    args = {
        "num_classes_on_unconditional": [str(unc), "--num-classes", "10"],
        "labels_out_of_range": [str(cond), "--labels", "12"],
        "labels_on_unconditional": [str(unc), "--labels", "3"],
        "classes_differ_from_data": [str(bare), "--num-classes", "12"],
        "conditional_metric_unconditional": [str(unc), "--metrics", "fid,intra_fid"],
        "wrong_label_input": [str(cond), "--label-input", "onehot"],
        "label_input_without_k": [str(unc), "--label-input", "onehot"],
        "missing_classifier": [str(cond), "--classifier", str(tmp_path / "nope.ts")],
        "conditional_generator_no_flag": [str(bare)],
    }[case]
    out = tmp_path / "rep"
    assert main(["report", *args, *base, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("ganeval: error:"), err
    assert re.search(match, err), err
    assert not out.exists() and not list(tmp_path.glob(".rep*"))


# ---------------------------------------------------------------------------------------------
# labelled data: image folders with a subfolder per class, .npz labels, a user classifier


def _write_digit_pngs(root: Path, x: torch.Tensor, y: torch.Tensor) -> None:
    for i, (img, c) in enumerate(zip(x, y.tolist())):
        d = root / f"class_{c}"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray((img[0].numpy() * 255).round().astype(np.uint8)).save(d / f"{i:04d}.png")


def test_image_folder_with_class_subfolders(tmp_path: Path) -> None:
    ds = load_dataset("digits")
    _write_digit_pngs(tmp_path / "flat", ds.test, ds.test_labels)
    flat = load_dataset(tmp_path / "flat")
    assert flat.n_classes == 10 and flat.train_labels is not None
    assert sum(s.shape[0] for s in (flat.train, flat.val, flat.test)) == 300
    per_class = torch.bincount(ds.test_labels)
    assert torch.equal(torch.bincount(flat.test_labels), (per_class // 10).clamp(min=1))  # 10% of each class
    assert "0=class_0" in flat.notes[0]
    for split, x, y in (("train", ds.train, ds.train_labels), ("val", ds.val, ds.val_labels),
                        ("test", ds.test, ds.test_labels)):
        _write_digit_pngs(tmp_path / "split" / split, x, y)
    sp = load_dataset(tmp_path / "split")
    assert sp.n_classes == 10 and torch.equal(torch.bincount(sp.train_labels), torch.bincount(ds.train_labels))
    # the scores on the folder equal those on the same images from digits (PNG rounding aside: 1/255)
    held, held_y = _digits_heldout()
    gen = generator_from_module(HeldOutLookup(held, held_y, 10), latent_dim=2, device="cpu", conditional=10)
    ev = evaluate(gen, sp, n_samples=200, device="cpu", metrics=["intra_fid", "conditional_accuracy"])
    assert ev.metric_dict("conditional_accuracy")["value"] >= 0.95


def test_user_classifier_on_npz_matches_shipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Digits as 3-channel images in an .npz (data with no shipped classifier) and a user classifier that
    reads channel 0 with the shipped digits CNN: the same per-class accuracies as on digits itself."""
    from ganeval.features.digits_cnn import load_classifier

    ds = load_dataset("digits")
    rgb = {s: ds.split(s).repeat(1, 3, 1, 1).numpy() for s in ("train", "val", "test")}
    np.savez(tmp_path / "d.npz", **rgb, train_labels=ds.train_labels.numpy(), val_labels=ds.val_labels.numpy(),
             test_labels=ds.test_labels.numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(FirstChannel(load_classifier("digits").net)), str(tmp_path / "clf.ts"))
    held, held_y = _digits_heldout()
    gen = HeldOutLookup(held, held_y, 10, obey=False)
    shipped = evaluate(generator_from_module(gen, latent_dim=4, device="cpu", conditional=10), ds, n_samples=200,
                       device="cpu", metrics=["conditional_accuracy"]).metric_dict("conditional_accuracy")
    npz = str(tmp_path / "d.npz")
    cond_ts = _script(HeldOutLookup(held.repeat(1, 3, 1, 1), held_y, 10, obey=False), tmp_path / "g.ts",
                      {"num_classes": 10, "label_input": "index"})
    base = ["report", str(cond_ts), "--data", npz, "--n-samples", "200", "--device", "cpu", "--json"]
    # .npz data has no shipped classifier: asking for conditional_accuracy without one is exit 2
    assert main([*base, "--metrics", "conditional_accuracy", "--out", str(tmp_path / "r0")]) == 2
    assert "--classifier PATH" in capsys.readouterr().err
    assert main([*base, "--classifier", str(tmp_path / "clf.ts"), "--features", "raw", "--out",
                 str(tmp_path / "r1")]) == 0
    d = json.loads(capsys.readouterr().out)["metrics"]
    assert d["conditional_accuracy"]["per_class"] == pytest.approx(shipped["per_class"])
    assert d["conditional_accuracy"]["classifier"]["path"].endswith("clf.ts") and "intra_fid" in d


def test_intra_fid_bootstrap_interval_and_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ds = load_dataset("digits")
    held, held_y = _digits_heldout()
    ext = get_extractor("digits")
    train_f, held_f = ext(ds.train), ext(held)
    plain = intra_fid(train_f, ds.train_labels, held_f, held_y)
    boot = intra_fid(train_f, ds.train_labels, held_f, held_y, bootstrap=20, seed=1)
    assert boot.per_class == plain.per_class and boot.ci_low < boot.value < boot.ci_high
    # half-width = z * sqrt(sum of per-class bootstrap variances) / K, each class's std as fid() gives it
    stds = [fid(train_f[ds.train_labels == c], held_f[held_y == c], bootstrap=20, seed=1 + c).bootstrap_std
            for c in range(10)]
    assert boot.ci_high - boot.value == pytest.approx(1.959964 * np.sqrt(np.sum(np.square(stds))) / 10, rel=1e-5)
    # the gate: a generator that ignores its label regresses on conditional accuracy (exit 1)
    cond, _, _ = _lookup_files(tmp_path)
    held_ignore = _script(HeldOutLookup(held, held_y, 10, obey=False), tmp_path / "ignore.ts",
                          {"num_classes": 10, "label_input": "index"})
    base = tmp_path / "base.json"
    common = ["--data", "digits", "--device", "cpu", "--n-samples", "200"]
    assert main(["baseline", str(cond), "--metric", "conditional_accuracy", *common, "-o", str(base)]) == 0
    assert main(["gate", str(cond), "--baseline", str(base), *common]) == 0
    assert main(["gate", str(held_ignore), "--baseline", str(base), *common]) == 1
    capsys.readouterr()


def test_stacked_mnist_conditional_accuracy(mnist_root: Path) -> None:
    """1,000 classes 100a + 10b + c read channel by channel; a generator that stacks real held-out digits of
    the asked class scores about the classifier's accuracy cubed, one that ignores its label about 1/1000."""
    from conditional_nets import StackedLookup

    mnist = load_dataset("mnist", root=mnist_root)
    stacked = load_dataset("stacked-mnist", root=mnist_root)
    net = StackedLookup(mnist.test, mnist.test_labels)
    gen = generator_from_module(net, latent_dim=3, device="cpu", conditional=1000)
    acc = evaluate(gen, stacked, n_samples=1000, device="cpu", metrics=["conditional_accuracy"]) \
        .metric_dict("conditional_accuracy")
    assert acc["num_classes"] == 1000 and acc["asked"] == [1] * 1000 and acc["confusion"] is None
    assert acc["value"] >= 0.9 and acc["classes_covered"] >= 900
    shuffled = generator_from_module(_IgnoreLabel(net), latent_dim=3, device="cpu", conditional=1000)
    acc2 = evaluate(shuffled, stacked, n_samples=300, device="cpu", metrics=["conditional_accuracy"]) \
        .metric_dict("conditional_accuracy")
    assert acc2["value"] < 0.02


class _IgnoreLabel(torch.nn.Module):
    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(z, torch.full_like(y, 123))


def test_class_folder_bad_input(tmp_path: Path) -> None:
    ds = load_dataset("digits")
    _write_digit_pngs(tmp_path / "few", ds.test[:40], ds.test_labels[:40])
    (tmp_path / "few" / "class_x").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "few" / "class_x" / "a.png")
    with pytest.raises(GanevalError, match=r"few/class_\w+: a class needs at least 3 images"):
        load_dataset(tmp_path / "few")
    for split, n in (("train", 60), ("val", 30), ("test", 30)):
        _write_digit_pngs(tmp_path / "odd" / split, ds.split(split)[:n], ds.labels(split)[:n])
    (tmp_path / "odd" / "test" / "class_extra").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "odd" / "test" / "class_extra" / "a.png")
    with pytest.raises(GanevalError, match=r"class 'class_extra' is not among the training classes"):
        load_dataset(tmp_path / "odd")


def test_cli_state_dict_factory_and_pt2_with_num_classes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A conditional DCGAN (tanh) as a bare state dict + --factory, and as a bare .pt2, scored with --num-classes:
    the same numbers as the network in memory."""
    torch.manual_seed(3)
    net = CondDCGAN(latent_dim=16).eval()
    want = evaluate(generator_from_module(net, latent_dim=16, device="cpu", conditional=10, output_range=(-1, 1)),
                    "digits", n_samples=200, device="cpu", metrics=["intra_fid", "conditional_accuracy"])
    torch.save(net.state_dict(), tmp_path / "weights.pth")
    write_export(net, tmp_path / "g.pt2", latent_dim=16, conditional=10)
    common = ["--data", "digits", "--n-samples", "200", "--device", "cpu", "--metrics", "intra_fid,conditional_accuracy",
              "--output-range", "-1,1", "--num-classes", "10", "--json"]
    runs = {
        "state dict": [str(tmp_path / "weights.pth"), "--factory", "conditional_nets:CondDCGAN", "--factory-kwargs",
                       '{"latent_dim": 16}', "--factory-path", str(Path(__file__).parent), "--latent-dim", "16",
                       "--trust-checkpoint"],
        ".pt2": [str(tmp_path / "g.pt2")],
    }
    for what, args in runs.items():
        assert main(["report", *args, *common, "--out", str(tmp_path / what.replace(" ", "_"))]) == 0, what
        got = json.loads(capsys.readouterr().out)["metrics"]
        for m in ("intra_fid", "conditional_accuracy"):
            assert got[m]["value"] == pytest.approx(want.metric_dict(m)["value"], rel=1e-5, abs=1e-9), (what, m)
