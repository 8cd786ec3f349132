"""``--reference stats.npz`` without ``--data``: FID against a statistics file alone.

A random He-initialised Inception (torch-fidelity's architecture, saved to a temp file and read
through the offline-weights path) and a handful of 32x32 images: ``ganeval stats`` writes the
file from an image folder, the folder is deleted, and ``ganeval report`` scores a samples file
against the file alone: the same FID as with ``--data`` the folder.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from ganeval import GanevalError, evaluate
from ganeval._utils import sha256_file
from ganeval.cli import main
from ganeval.metrics.frechet import load_stats, save_stats, stats_provenance

sys.path.insert(0, str(Path(__file__).parent))
from image_helpers import he_inception, png_folder  # noqa: E402

N_REAL, N_FAKE = 10, 4  # an image folder needs at least 10 images


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("refstats")
    real = png_folder(root / "real", N_REAL, 1)
    rng = np.random.default_rng(2)
    base = rng.uniform(0, 1, (N_FAKE, 3, 4, 4)).repeat(8, 2).repeat(8, 3)
    fake = root / "fake.npy"
    np.save(fake, np.clip(base + rng.normal(0, 0.1, base.shape), 0, 1).astype(np.float32))
    weights = he_inception(root / "inception.pth")
    stats = root / "real.npz"
    assert main(["stats", str(real), "--features", "inception", "--inception-weights", str(weights),
                 "-o", str(stats), "--device", "cpu"]) == 0
    return {"root": root, "real": real, "fake": fake, "weights": weights, "stats": stats}


def _report(args: list[str], out: Path) -> dict:
    assert main(["report", *args, "--out", str(out), "--no-diagnostics", "--device", "cpu"]) == 0
    rep = json.loads((out / "report.json").read_text())
    return (rep.get("evaluations") or [rep])[0]


def test_fid_against_statistics_alone_equals_fid_against_the_images(setup: dict[str, Path], capsys) -> None:
    meta = stats_provenance(setup["stats"])
    assert meta["features"] == "inception" and meta["shape"] == [3, 32, 32] and meta["n"] == N_REAL
    assert meta["range"][0] >= 0 and meta["range"][1] <= 1
    w = ["--inception-weights", str(setup["weights"])]
    # With the images: the FID of the folder's own features (split `all`: every image of a flat folder).
    with_data = _report([str(setup["fake"]), "--data", str(setup["real"]), "--metrics", "fid", *w,
                         "--option", "fid.reference=all", "--option", "fid.bootstrap=0"], setup["root"] / "a")
    # The images gone: the statistics file is the whole reference.
    moved = setup["root"] / "moved-away"
    shutil.move(str(setup["real"]), moved)
    try:
        alone = _report([str(setup["fake"]), "--reference", str(setup["stats"]), "--metrics", "fid,is", *w,
                         "--option", "is.splits=2"], setup["root"] / "b")
    finally:
        shutil.move(str(moved), setup["real"])
    a, b = with_data["metrics"]["fid"], alone["metrics"]["fid"]
    assert a["value"] > 0
    # 2048-d covariances of 10 and 4 images are rank-deficient: tr sqrt(S1 S2) is ill-conditioned, and
    # the statistics route and the feature route round differently (3.5e-8 seen). The well-conditioned
    # case agrees to 1e-9 (next test).
    assert b["value"] == pytest.approx(a["value"], rel=1e-6)
    assert (b["n_fake"], b["n_real"]) == (N_FAKE, N_REAL)
    assert alone["metrics"]["is"]["value"] >= 1 and alone["metrics"]["is"]["n_fake"] == N_FAKE  # needs no reference
    prov = alone["provenance"]
    assert prov["reference"]["statistics_only"] is True
    assert prov["reference"]["sha256"] == sha256_file(setup["stats"])
    assert prov["features"]["name"] == "inception" and prov["features"]["sha256"] == sha256_file(setup["weights"])
    assert prov["features"]["resize"] == "legacy-tf"
    assert with_data["provenance"]["reference"] is None  # no statistics file in that run
    # Streamed (the 50k protocol's path): the same number from running statistics.
    streamed = evaluate(np.load(setup["fake"]), None, metrics="fid", stream=True, device="cpu",
                        extractor_options={"weights": str(setup["weights"])},
                        options={"fid": {"reference": str(setup["stats"])}})
    assert streamed.metrics["fid"].value == pytest.approx(b["value"], rel=1e-9)
    assert streamed.provenance["features"]["stream"]["n"] == N_FAKE


def test_statistics_alone_equal_the_images_well_conditioned(tmp_path: Path) -> None:
    """The shipped digits CNN (128-d, real weights) on 150 8x8 PNGs: full-rank covariances, so the
    statistics file alone and the images give the same FID to 1e-9; the file names the extractor."""
    from PIL import Image

    from ganeval import load_dataset

    digits = load_dataset("digits")
    folder = tmp_path / "digits"
    folder.mkdir()
    for i, im in enumerate(digits.train[:150]):
        Image.fromarray((im[0].numpy() * 255 + 0.5).astype(np.uint8)).save(folder / f"{i:03d}.png")
    stats = tmp_path / "digits.npz"
    assert main(["stats", str(folder), "-o", str(stats)]) == 0
    assert stats_provenance(stats)["features"] == "digits"
    rng = np.random.default_rng(5)
    fake = np.clip(digits.val.numpy()[:200] + rng.normal(0, 0.05, (200, 1, 8, 8)), 0, 1).astype(np.float32)
    np.save(tmp_path / "fake.npy", fake)
    with_data = _report([str(tmp_path / "fake.npy"), "--data", str(folder), "--metrics", "fid", "--option",
                         "fid.reference=all", "--option", "fid.bootstrap=0"], tmp_path / "a")
    shutil.rmtree(folder)
    alone = _report([str(tmp_path / "fake.npy"), "--reference", str(stats)], tmp_path / "b")  # default: fid
    a, b = with_data["metrics"]["fid"], alone["metrics"]["fid"]
    assert set(alone["metrics"]) == {"fid"} and a["value"] > 0 and b["n_real"] == 150
    assert b["value"] == pytest.approx(a["value"], rel=1e-9)
    assert alone["provenance"]["features"]["name"] == "digits"
    assert alone["provenance"]["reference"]["sha256"] == sha256_file(stats)


def test_metrics_that_need_feature_vectors_are_refused(setup: dict[str, Path], capsys) -> None:
    capsys.readouterr()
    rc = main(["report", str(setup["fake"]), "--reference", str(setup["stats"]), "--metrics", "fid,kid",
               "--inception-weights", str(setup["weights"]), "--out", str(setup["root"] / "c"), "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.count("\n") == 0 and "Traceback" not in err
    assert "kid needs the reference's feature vectors" in err and "--data" in err
    assert not (setup["root"] / "c").exists()
    # Neither --data nor a statistics file: one error naming both.
    rc = main(["report", str(setup["fake"]), "--metrics", "fid", "--out", str(setup["root"] / "d")])
    assert rc == 2 and "--data" in capsys.readouterr().err
    # The same through the Python API.
    with pytest.raises(GanevalError, match="prdc needs the reference's feature vectors.*--data"):
        evaluate(np.load(setup["fake"]), None, metrics="fid,prdc", extractor_options={"weights": str(setup["weights"])},
                 options={"fid": {"reference": str(setup["stats"])}})


def test_samples_of_another_shape_are_refused(setup: dict[str, Path], tmp_path: Path) -> None:
    w = {"weights": str(setup["weights"])}
    small = np.random.default_rng(3).uniform(0, 1, (4, 3, 16, 16)).astype(np.float32)
    with pytest.raises(GanevalError, match=r"shape \(3, 16, 16\).*\(3, 32, 32\)"):
        evaluate(small, None, metrics="fid", extractor_options=w, options={"fid": {"reference": str(setup["stats"])}})
    # A file without a recorded shape (pytorch-fid's format): the extractor refuses what it cannot take.
    mu, sigma = load_stats(setup["stats"])
    bare = tmp_path / "pytorch_fid.npz"
    np.savez_compressed(bare, mu=mu, sigma=sigma)
    flat = np.random.default_rng(4).uniform(0, 1, (4, 5)).astype(np.float32)
    with pytest.raises(GanevalError, match="inception extractor takes"):
        evaluate(flat, None, metrics="fid", extractor_options=w, options={"fid": {"reference": str(bare)}})
    # A file of another resize mode than asked for is refused with the reason, before sampling: these
    # samples' shape (checked once they are drawn) is wrong too, and that is not what is reported.
    other = tmp_path / "other.npz"
    save_stats(other, mu, sigma, provenance={**stats_provenance(setup["stats"]), "resize": "clean"})
    with pytest.raises(GanevalError, match="resize 'clean' but this run uses 'legacy-tf'"):
        evaluate(small, None, metrics="fid", extractor_options={**w, "resize": "legacy-tf"},
                 options={"fid": {"reference": str(other)}})
