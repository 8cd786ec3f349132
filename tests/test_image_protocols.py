"""The standard image protocols against the peers that define them: Inception Score, FID and KID from
image folders (torch-fidelity), resize modes (clean-fid, torch-fidelity), statistics files
(pytorch-fid), CMMD (a brute-force float64 MMD), streaming (the same numbers as in memory).

Inception on a loaded 2-core CPU takes about a second per image (every image is resized to
299x299, whatever its size), so the Inception checks against torch-fidelity share one module-scoped
run on 6 + 6 images (about 60 s on a busy host: 12 passes of ganeval's, 12 of torch-fidelity's, 6 to
calibrate the random classifier) and run in the default suite, as does every other test here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ganeval import GanevalError, evaluate
from ganeval.cli import main
from ganeval.features import Extractor, register_extractor
from ganeval.metrics.cmmd import cmmd
from ganeval.metrics.inception_score import ISAccumulator, inception_score

sys.path.insert(0, str(Path(__file__).parent))
from fake_cifar import write_fake_cifar10  # noqa: E402
from image_helpers import he_inception, png_folder  # noqa: E402

N_IMG = 6  # at 4, KID is small enough that torch-fidelity's float32 kernel sums differ by 2e-4 relative
SPLITS = 3


@register_extractor("pool48")
def _pool48(device: torch.device, **_: object) -> Extractor:
    """A cheap, real extractor for CIFAR-sized images: 8x8 average pooling, 3x4x4 = 48-d."""
    return Extractor(name="pool48", fn=lambda x: torch.nn.functional.avg_pool2d(x, 8).flatten(1), device=device,
                     dim=48, description="8x8 average pooling (tests)")


# ---------------------------------------------------------------------------------------------
# Inception Score, FID, KID through `ganeval report` vs torch-fidelity, one pass per image


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("protocol")
    real = root / "real"
    png_folder(real / "train", N_IMG, 1)
    png_folder(real / "val", 2, 2)
    png_folder(real / "test", 2, 3)
    fake = png_folder(root / "fake", N_IMG, 4)
    from ganeval.checkpoints import load_generator
    from ganeval.features.inception import to_uint8

    images = to_uint8(load_generator(fake).samples)
    return {"weights": he_inception(root / "inception.pth", calibrate=images), "fake": fake, "real": real,
            "root": root}


@pytest.fixture(scope="module")
def ours_and_theirs(folders: dict[str, Path]) -> dict[str, object]:
    """ganeval report (fid, kid, prdc, is in one evaluation) and torch-fidelity on the same folders and weights."""
    import torch_fidelity

    from ganeval.features import inception as inc

    made = []
    original = inc.make_extractor

    def recording(*args, **kwargs):  # keeps the extractor so the test can count its forward passes
        made.append(original(*args, **kwargs))
        return made[-1]

    mp = pytest.MonkeyPatch()
    mp.setattr(inc, "make_extractor", recording)
    out = folders["root"] / "report"
    try:
        rc = main(["report", str(folders["fake"]), "--data", str(folders["real"]), "--metrics", "fid,kid,prdc,is",
                   "--inception-weights", str(folders["weights"]), "--option", f"is.splits={SPLITS}", "--option",
                   "prdc.k=3", "--out", str(out), "--no-diagnostics", "--device", "cpu"])
    finally:
        mp.undo()
    assert rc == 0
    ours = json.loads((out / "report.json").read_text())
    theirs = torch_fidelity.calculate_metrics(
        input1=str(folders["fake"]), input2=str(folders["real"] / "train"), isc=True, fid=True, kid=True,
        isc_splits=SPLITS, kid_subset_size=N_IMG, feature_extractor_weights_path=str(folders["weights"]), cuda=False,
        cache=False, verbose=False, save_cpu_ram=True)
    return {"ours": ours, "theirs": theirs, "extractors": made}


def _metrics(report: dict) -> dict:
    evs = report.get("evaluations") or [report]
    return evs[0]["metrics"]


def test_inception_score_equals_torch_fidelity(ours_and_theirs: dict) -> None:
    m = _metrics(ours_and_theirs["ours"])["is"]
    theirs = ours_and_theirs["theirs"]
    assert m["n_fake"] == N_IMG and m["splits"] == SPLITS
    assert m["value"] > 1.05  # live logits: a score well away from its floor of 1
    assert m["value"] == pytest.approx(theirs["inception_score_mean"], rel=1e-6)
    assert m["std"] == pytest.approx(theirs["inception_score_std"], rel=1e-5, abs=1e-9)


def test_fid_and_kid_from_folders_equal_torch_fidelity(ours_and_theirs: dict) -> None:
    m = _metrics(ours_and_theirs["ours"])
    theirs = ours_and_theirs["theirs"]
    assert m["fid"]["value"] == pytest.approx(theirs["frechet_inception_distance"], rel=1e-4)
    # Subsets of all N rows: every subset is a permutation, so the KID equals the full-set MMD^2.
    assert m["kid"]["value"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-4)


def test_one_inception_pass_per_image_for_fid_kid_prdc_is(ours_and_theirs: dict) -> None:
    exts = ours_and_theirs["extractors"]
    assert len(exts) == 1  # one extractor for all four metrics ...
    assert exts[0].images_seen == N_IMG + N_IMG  # ... and one forward pass per fake and per real image


def test_clean_mode_trunk_equals_torch_fidelity_forward(folders: dict[str, Path]) -> None:
    """``trunk`` (used for clean resizing) is torch-fidelity's forward after its resize."""
    from ganeval.features.inception import LAYERS, load_weights, trunk
    from ganeval.features.resize import legacy_tf

    model = load_weights(folders["weights"], layers=LAYERS)
    u8 = (torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(5)) * 255).to(torch.uint8)
    with torch.no_grad():
        ref = dict(zip(LAYERS, model(u8)))
        ours = trunk(model, legacy_tf(u8))
    for k in LAYERS:
        torch.testing.assert_close(ours[k], ref[k], rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------
# resizing


def test_clean_resize_equals_clean_fid() -> None:
    from cleanfid.resize import build_resizer

    from ganeval.features.resize import clean

    gen = torch.Generator().manual_seed(0)
    for shape in ((3, 32, 32), (3, 64, 48), (3, 512, 512)):
        u8 = (torch.rand(2, *shape, generator=gen) * 256).clamp(0, 255).to(torch.uint8)
        theirs = np.stack([build_resizer("clean")(im.permute(1, 2, 0).numpy()) for im in u8]).transpose(0, 3, 1, 2)
        ours = clean(u8).numpy()
        assert ours.shape == theirs.shape == (2, 3, 299, 299)
        assert np.abs(ours - theirs).max() <= 1e-5


def test_legacy_resize_equals_torch_fidelity_and_modes_differ() -> None:
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    from ganeval.features.resize import check_mode, clean, legacy_tf, resize

    u8 = (torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 255).to(torch.uint8)
    ref = interpolate_bilinear_2d_like_tensorflow1x(u8.float(), size=(299, 299), align_corners=False)
    assert torch.equal(legacy_tf(u8), ref) and torch.equal(resize(u8, "legacy-tf"), ref)
    assert (clean(u8) - ref).abs().max() > 1.0  # the two protocols are different images
    with pytest.raises(GanevalError, match="legacy-tf or clean"):
        check_mode("bicubic")


# ---------------------------------------------------------------------------------------------
# Inception Score and CMMD as functions


def test_inception_score_function_and_streaming_accumulator() -> None:
    from torch_fidelity.metric_isc import isc_features_to_metric

    logits = torch.randn(103, 1008, generator=torch.Generator().manual_seed(0)) * 4
    ref = isc_features_to_metric(logits)
    res = inception_score(logits)
    assert res.value == pytest.approx(ref["inception_score_mean"], rel=1e-12)
    assert res.std == pytest.approx(ref["inception_score_std"], rel=1e-9)
    acc = ISAccumulator(103)
    for s in range(0, 103, 17):  # batches in sample order give the same score
        acc.update(logits[s:s + 17])
    assert acc.result().value == pytest.approx(res.value, rel=1e-12)
    with pytest.raises(GanevalError, match="at least 10"):
        inception_score(logits[:5])


def test_cmmd_equals_brute_force_float64() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(57, 16, generator=gen)
    y = torch.randn(41, 16, generator=gen) * 1.3 + 0.2

    def brute(a: np.ndarray, b: np.ndarray, sigma: float = 10.0) -> float:
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        b = b / np.linalg.norm(b, axis=1, keepdims=True)

        def k(p: np.ndarray, q: np.ndarray) -> float:
            d2 = ((p[:, None, :] - q[None, :, :]) ** 2).sum(-1)
            return float(np.exp(-d2 / (2 * sigma ** 2)).mean())

        return 1000 * (k(a, a) + k(b, b) - 2 * k(a, b))

    res = cmmd(x, y)
    assert res.value == pytest.approx(brute(x.double().numpy(), y.double().numpy()), rel=1e-9)
    assert res.value > 0 and res.n_real == 57 and res.n_fake == 41
    assert cmmd(x, x).value == pytest.approx(0.0, abs=1e-12)
    assert cmmd(x, y, sigma=2.0).value == pytest.approx(brute(x.numpy().astype(np.float64),
                                                              y.numpy().astype(np.float64), 2.0), rel=1e-9)
    with pytest.raises(GanevalError, match="same feature extractor|features per row"):
        cmmd(x, y[:, :8])


# ---------------------------------------------------------------------------------------------
# statistics files


@pytest.fixture(scope="module")
def cifar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fake_cifar10(tmp_path_factory.mktemp("cifar"), 300, 100, seed=0)


def _fake_samples(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 1, (n, 3, 4, 4)).repeat(8, 2).repeat(8, 3)
    return np.clip(base + rng.normal(0, 0.1, base.shape), 0, 1).astype(np.float32)


def test_stats_round_trip_with_pytorch_fid(cifar: Path, tmp_path: Path) -> None:
    from pytorch_fid.fid_score import calculate_frechet_distance, compute_statistics_of_path

    out = tmp_path / "ref.npz"
    assert main(["stats", "cifar10", "--data-root", str(cifar), "--features", "pool48", "-o", str(out)]) == 0
    # pytorch-fid's own reader takes the file (our extra provenance key is ignored).
    mu, sigma = compute_statistics_of_path(str(out), None, 1, 48, "cpu")
    samples = _fake_samples(120, 7)
    np.save(tmp_path / "fake.npy", samples)
    ev = evaluate(samples, "cifar10", data_root=cifar, metrics="fid", features="pool48",
                  options={"fid": {"reference": str(out)}})
    flat = torch.nn.functional.avg_pool2d(torch.from_numpy(samples), 8).flatten(1).double().numpy()
    theirs = calculate_frechet_distance(flat.mean(0), np.cov(flat, rowvar=False), mu, sigma)
    assert ev.metrics["fid"].value == pytest.approx(theirs, rel=1e-6)
    assert ev.metrics["fid"].n_real == 300  # train+val: all training images
    # Scoring against the file equals scoring against the images themselves.
    direct = evaluate(samples, "cifar10", data_root=cifar, metrics="fid", features="pool48",
                      options={"fid": {"reference": "train+val", "infinity": False, "bootstrap": 0}})
    assert ev.metrics["fid"].value == pytest.approx(direct.metrics["fid"].value, rel=1e-9)
    # The same through the command line's --reference.
    assert main(["report", str(tmp_path / "fake.npy"), "--data", "cifar10", "--data-root", str(cifar), "--metrics",
                 "fid", "--features", "pool48", "--reference", str(out), "--out", str(tmp_path / "rep"),
                 "--no-diagnostics"]) == 0
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert _metrics(rep)["fid"]["value"] == pytest.approx(ev.metrics["fid"].value, rel=1e-9)


def test_foreign_and_mismatched_stats_files(cifar: Path, tmp_path: Path) -> None:
    from ganeval.metrics.frechet import load_stats, save_stats

    samples = _fake_samples(50, 8)
    out = tmp_path / "ours.npz"
    assert main(["stats", "cifar10", "--data-root", str(cifar), "--features", "pool48", "-o", str(out)]) == 0
    mu, sigma = load_stats(out)
    # pytorch-fid's save_fid_stats format: np.savez_compressed(path, mu=, sigma=), nothing else.
    pf = tmp_path / "pytorch_fid_stats.npz"
    np.savez_compressed(pf, mu=mu, sigma=sigma)
    ev = evaluate(samples, "cifar10", data_root=cifar, metrics="fid", features="pool48",
                  options={"fid": {"reference": str(pf)}})
    assert any("without ganeval provenance" in n for n in ev.metrics["fid"].notes)
    # clean-fid's files (np.savez_compressed, mode and model in the name) are read; one of Inception
    # features does not serve a run with other features.
    cf = tmp_path / "cifar10_legacy_tensorflow_train_32.npz"
    np.savez_compressed(cf, mu=mu, sigma=sigma)
    np.testing.assert_array_equal(load_stats(cf)[0], mu)
    with pytest.raises(GanevalError, match="clean-fid file of inception_v3 features"):
        evaluate(samples, "cifar10", data_root=cifar, metrics="fid", features="pool48",
                 options={"fid": {"reference": str(cf)}})
    # A file made with other features is refused, naming the reason.
    other = tmp_path / "other.npz"
    save_stats(other, mu, sigma, provenance={"features": "inception", "layer": "2048", "resize": "legacy-tf",
                                             "sha256": "ab" * 32})
    with pytest.raises(GanevalError, match="features 'inception' but this run uses 'pool48'"):
        evaluate(samples, "cifar10", data_root=cifar, metrics="fid", features="pool48",
                 options={"fid": {"reference": str(other)}})


def test_clean_fid_file_names_give_the_resize_mode() -> None:
    from ganeval.features.stats_files import clean_fid_name

    assert clean_fid_name("cifar10_legacy_tensorflow_train_32.npz") == ("legacy-tf", "inception_v3")
    assert clean_fid_name("/x/ffhq_clean_trainval70k_1024.npz") == ("clean", "inception_v3")
    assert clean_fid_name("mine_clean_clip_vit_b_32_custom_na.npz") == ("clean", "clip_vit_b_32")
    assert clean_fid_name("stats.npz") is None


# ---------------------------------------------------------------------------------------------
# streaming


def test_streamed_evaluation_equals_in_memory(cifar: Path) -> None:
    samples = _fake_samples(230, 9)
    kw = dict(data_root=cifar, metrics="fid,kid,prdc", features="pool48",
              options={"fid": {"reference": "train+val", "infinity": False, "bootstrap": 0},
                       "kid": {"reference": "train+val", "subsets": 10, "subset_size": 50},
                       "prdc": {"reference": "train+val", "k": 3}})
    held = evaluate(samples, "cifar10", stream=False, **kw)
    streamed = evaluate(samples, "cifar10", stream=True, **kw)
    assert streamed.provenance["n_samples"] == 230
    assert streamed.metrics["fid"].value == pytest.approx(held.metrics["fid"].value, rel=1e-9)
    # The reservoir holds every sample when N <= its capacity: KID and PRDC are the same numbers.
    assert streamed.metrics["kid"].value == pytest.approx(held.metrics["kid"].value, rel=1e-9)
    for f in ("precision", "recall", "density", "coverage"):
        assert getattr(streamed.metrics["prdc"], f) == pytest.approx(getattr(held.metrics["prdc"], f), rel=1e-9)
    info = streamed.provenance["features"]["stream"]
    assert info["n"] == 230 and 0 <= info["idle_fraction"] <= 1 and info["images_per_s"] > 0
    with pytest.raises(GanevalError, match="cannot be streamed"):
        evaluate(samples, "cifar10", data_root=cifar, metrics="memorisation", features="pool48", stream=True)


def test_stream_reservoir_is_bounded_and_fid_uses_all_rows() -> None:
    from ganeval.features import get_extractor
    from ganeval.features.streaming import stream
    from ganeval.metrics.frechet import FeatureStats

    x = torch.from_numpy(_fake_samples(700, 10))
    ext = get_extractor("pool48")
    pooled = torch.nn.functional.avg_pool2d(x, 8).flatten(1)
    res = stream(lambda a, b: x[a:b], 700, {"pool48": ext}, batch_size=64, capacity=100, seed=3)
    assert res.reservoir["pool48"]["default"].shape == (100, 48) and res.index.numel() == 100
    torch.testing.assert_close(res.reservoir["pool48"]["default"], pooled[res.index])
    full = FeatureStats.of(pooled)
    assert res.stats["pool48"].n == 700
    np.testing.assert_allclose(res.stats["pool48"].sigma, full.sigma, rtol=1e-9, atol=1e-12)
    again = stream(lambda a, b: x[a:b], 700, {"pool48": ext}, batch_size=100, capacity=100, seed=3)
    assert torch.equal(again.index, res.index)  # the reservoir depends on the seed, not the batching

    def broken(a: int, b: int) -> torch.Tensor:
        if a >= 128:
            raise GanevalError("sampler failed")
        return x[a:b]

    with pytest.raises(GanevalError, match="sampler failed"):  # errors in the sampling thread reach the caller
        stream(broken, 700, {"pool48": ext}, batch_size=64)


# ---------------------------------------------------------------------------------------------
# the gate never compares FIDs of different resize modes


def test_gate_refuses_another_resize_mode(tmp_path: Path) -> None:
    from ganeval import load_dataset

    ds = load_dataset("digits")
    np.savez(tmp_path / "g.npz", samples=torch.cat([ds.val, ds.test]).numpy())
    base = tmp_path / "baseline.json"
    assert main(["baseline", str(tmp_path / "g.npz"), "--data", "digits", "-o", str(base), "--n-samples", "200",
                 "--bootstrap", "5"]) == 0
    d = json.loads(base.read_text())
    d["features"] = {**(d.get("features") or {}), "resize": "clean"}
    base.write_text(json.dumps(d))
    with pytest.raises(GanevalError, match="resize mode 'clean'"):
        from ganeval.gate import run_gate

        run_gate(str(tmp_path / "g.npz"), "digits", base, extractor_options={"resize": "legacy-tf"})
    assert main(["gate", str(tmp_path / "g.npz"), "--data", "digits", "--baseline", str(base), "--resize",
                 "legacy-tf"]) == 2


def test_clean_fid_file_mode_is_checked(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from ganeval.features.stats_files import read_reference

    rng = np.random.default_rng(0)
    feats = rng.normal(size=(100, 8))
    path = tmp_path / "cifar10_legacy_tensorflow_train_32.npz"
    np.savez_compressed(path, mu=feats.mean(0), sigma=np.cov(feats, rowvar=False))
    legacy = SimpleNamespace(name="inception", resize="legacy-tf", dim=8, sha256=None)
    mu, sigma, n, notes = read_reference(path, legacy, "2048")
    np.testing.assert_allclose(mu, feats.mean(0))
    assert n == 0 and sigma.shape == (8, 8)
    assert "clean-fid statistics file (legacy-tf resize" in notes[0]
    with pytest.raises(GanevalError, match="resize mode 'legacy-tf'.*--resize legacy-tf"):
        read_reference(path, SimpleNamespace(name="inception", resize="clean", dim=8, sha256=None), "2048")
    with pytest.raises(GanevalError, match="8-d but"):
        read_reference(path, SimpleNamespace(name="inception", resize="legacy-tf", dim=2048, sha256=None), "2048")


def test_stats_of_a_flat_image_folder_use_every_image(tmp_path: Path) -> None:
    from ganeval.metrics.frechet import load_stats, stats_provenance

    folder = png_folder(tmp_path / "imgs", 12, 11)
    out = tmp_path / "folder.npz"
    assert main(["stats", str(folder), "--features", "pool48", "-o", str(out)]) == 0
    meta = stats_provenance(out)
    assert meta["split"] == "all" and meta["n"] == 12 and meta["features"] == "pool48" and meta["shape"] == [3, 32, 32]
    assert load_stats(out)[0].shape == (48,)
    assert main(["stats", str(folder), "--features", "pool48", "-o", str(tmp_path / "stats.txt")]) == 2
    assert not (tmp_path / "stats.txt").exists()
