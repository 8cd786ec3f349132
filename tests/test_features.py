"""Feature extractors: registry, shipped digit classifiers, Inception offline, the reference-feature cache."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ganeval import GanevalError, load_dataset
from ganeval.features import (Extractor, cache_dir, cached_features, default_extractor_for, get_extractor,
                              list_extractors)
from ganeval.features import digits_cnn
from ganeval.features.digits_cnn import load_classifier


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_registry_and_defaults() -> None:
    assert {"inception", "digits", "mnist", "raw"} <= set(list_extractors())
    with pytest.raises(GanevalError, match="Did you mean: inception"):
        get_extractor("inceptoin")
    assert default_extractor_for(load_dataset("digits")) == "digits"
    assert default_extractor_for(load_dataset("ring8")) == "raw"


# ---------------------------------------------------------------------------------------------
# shipped classifiers


@pytest.mark.parametrize("name", ["digits", "mnist"])
def test_shipped_weights_record_matches_file(name: str) -> None:
    path = digits_cnn.weights_path(name)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["sha256"] == _sha(path)
    assert path.stat().st_size < 1_000_000
    assert load_classifier(name).sha256 == meta["sha256"]


def test_digits_classifier_accuracy_on_held_out_split() -> None:
    ds = load_dataset("digits")
    clf = load_classifier("digits")
    acc = float((clf.predict(ds.test) == ds.test_labels).double().mean())
    assert acc >= 0.97
    assert acc == pytest.approx(clf.accuracy, abs=1e-9)  # the number recorded beside the weights
    probs = clf.probs(ds.test[:10])
    assert probs.shape == (10, 10)
    torch.testing.assert_close(probs.sum(1), torch.ones(10), rtol=0, atol=1e-5)


def test_mnist_classifier_accuracy_on_held_out_split(mnist_root: Path) -> None:
    ds = load_dataset("mnist", root=mnist_root)
    clf = load_classifier("mnist")
    acc = float((clf.predict(ds.test) == ds.test_labels).double().mean())
    assert acc >= 0.98
    assert acc == pytest.approx(clf.accuracy, abs=1e-9)


def test_classifier_rejects_wrong_shapes() -> None:
    clf = load_classifier("digits")
    with pytest.raises(GanevalError, match=r"\(N, 1, 8, 8\)"):
        clf.probs(torch.rand(4, 1, 28, 28))
    with pytest.raises(GanevalError, match="digit classifier"):
        load_classifier("cifar")


def test_digit_features_batch_size_invariant_and_per_channel() -> None:
    x = load_dataset("digits").test[:50]
    ext = get_extractor("digits")
    a, b = ext(x, batch_size=7), ext(x, batch_size=50)
    assert a.shape == (50, 128)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    stacked = ext(torch.cat([x, x.flip(0)], 1))  # two channels -> both channels' features side by side
    torch.testing.assert_close(stacked, torch.cat([a, a.flip(0)], 1), rtol=1e-5, atol=1e-6)
    with pytest.raises(GanevalError, match="8, 8"):
        ext(torch.rand(3, 1, 28, 28))
    nan = x.clone()
    nan[0, 0, 0, 0] = float("nan")
    with pytest.raises(GanevalError, match="NaN"):
        ext(nan)


def test_missing_or_wrong_classifier_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(digits_cnn, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(GanevalError, match="not found"):
        load_classifier("digits")
    # mnist's architecture saved under the digits name: a clear error, not a crash.
    net = digits_cnn.build("mnist")
    torch.save({"format": digits_cnn.FORMAT, "arch": "digits", "state_dict": net.state_dict()}, tmp_path / "digits.pt")
    with pytest.raises(GanevalError, match="do not fit"):
        load_classifier("digits")
    (tmp_path / "digits.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(GanevalError, match="digits.pt"):
        load_classifier("digits")


# ---------------------------------------------------------------------------------------------
# Inception (offline: random weights in a temporary file)


@pytest.fixture(scope="module")
def random_inception(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ganeval.features.inception import inception_module

    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = inception_module(None)  # torch-fidelity's module, randomly initialised
    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    torch.save(model.state_dict(), path)
    return path


def test_inception_from_weights_path_matches_torch_fidelity(random_inception: Path) -> None:
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    ext = get_extractor("inception", device="cpu", weights=str(random_inception))
    assert ext.sha256 == _sha(random_inception) and ext.provenance()["sha256"] == ext.sha256
    gray = torch.rand(2, 1, 12, 12, generator=torch.Generator().manual_seed(1))  # Inception on a CPU is slow: 2 images
    feats = ext(gray, batch_size=1)
    assert feats.shape == (2, 2048)
    torch.testing.assert_close(feats, ext(gray, batch_size=2), rtol=1e-5, atol=1e-8)  # batch-size invariant
    # torch-fidelity's own module on the uint8 RGB images ganeval makes: the same numbers.
    ref = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(random_inception))
    u8 = (gray.expand(-1, 3, -1, -1) * 255 + 0.5).clamp(0, 255).to(torch.uint8)
    with torch.no_grad():
        torch.testing.assert_close(feats, ref(u8)[0], rtol=1e-5, atol=1e-8)


def test_inception_weights_lookup_is_offline(random_inception: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from ganeval.features.inception import ENV_VAR, resolve_weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty hub cache
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(GanevalError, match="--inception-weights"):
        resolve_weights()
    monkeypatch.setenv(ENV_VAR, str(random_inception))
    assert resolve_weights() == random_inception
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nope.pth"))
    with pytest.raises(GanevalError, match=ENV_VAR):
        resolve_weights()


def test_inception_bad_weights_files(tmp_path: Path) -> None:
    with pytest.raises(GanevalError, match="missing.pth"):
        get_extractor("inception", weights=str(tmp_path / "missing.pth"))
    torch.save(digits_cnn.build("digits").state_dict(), tmp_path / "digits.pth")
    with pytest.raises(GanevalError, match="do not fit"):
        get_extractor("inception", weights=str(tmp_path / "digits.pth"))
    (tmp_path / "junk.pth").write_bytes(b"\x00" * 100)
    with pytest.raises(GanevalError, match="junk.pth"):
        get_extractor("inception", weights=str(tmp_path / "junk.pth"))


# ---------------------------------------------------------------------------------------------
# disk cache of reference features


def _counting(calls: list[int]) -> Extractor:
    def fn(x: torch.Tensor) -> torch.Tensor:
        calls.append(x.shape[0])
        return x.reshape(x.shape[0], -1)[:, :4] * 2

    return Extractor(name="count", fn=fn, device=torch.device("cpu"), sha256="ab" * 32)


def test_cache_reuses_and_keys_on_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANEVAL_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path / "features"
    ds = load_dataset("digits")
    calls: list[int] = []
    ext = _counting(calls)
    first = cached_features(ext, ds, "test")
    again = cached_features(ext, ds, "test")
    torch.testing.assert_close(first, again)
    assert sum(calls) == 300  # computed once, then read from disk
    files = list((tmp_path / "features").glob("*.npy"))
    assert len(files) == 1 and files[0].name.startswith("digits-test-seed0-count-abababab")
    changed = dataclasses.replace(ds, test=ds.test.flip(0))  # same name and seed, other content: another key
    cached_features(ext, changed, "test")
    assert sum(calls) == 600 and len(list((tmp_path / "features").glob("*.npy"))) == 2
    ext.sha256 = "cd" * 32  # other weights: another key
    cached_features(ext, ds, "test")
    assert sum(calls) == 900
    assert not list((tmp_path / "features").glob("*.tmp"))


def test_cache_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANEVAL_CACHE", "off")
    calls: list[int] = []
    ds = load_dataset("digits")
    cached_features(_counting(calls), ds, "val")
    cached_features(_counting(calls), ds, "val")
    assert cache_dir() is None and sum(calls) == 600
    raw = get_extractor("raw")
    np.testing.assert_array_equal(raw(ds.val[:3]).numpy(), ds.val[:3].reshape(3, -1).numpy())
