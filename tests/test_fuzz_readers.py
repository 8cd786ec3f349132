"""Property-based fuzzing of every reader: hostile bytes give a GanevalError naming the input.

The default suite runs a small budget (``GANEVAL_FUZZ_EXAMPLES``, default 25 per reader). The
full run (docs/reliability.md)::

    GANEVAL_FUZZ_EXAMPLES=1000 .venv/bin/python -m pytest -q -s -p no:cacheprovider \\
        tests/test_fuzz_readers.py

prints how many inputs each reader saw and how they ended.
"""

from __future__ import annotations

import collections
import io
import os
import time
from pathlib import Path
from typing import Any

import fuzzing as fz
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ganeval
from ganeval.toy import MixtureGenerator

EXAMPLES = int(os.environ.get("GANEVAL_FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
COUNTS: collections.Counter[str] = collections.Counter()
START = time.perf_counter()


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    total = sum(COUNTS.values())
    lines = [f"fuzzed inputs: {total} in {time.perf_counter() - START:.1f} s"]
    lines += [f"  {k}: {v}" for k, v in sorted(COUNTS.items())]
    print("\n" + "\n".join(lines))


def _fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _good_checkpoint_bytes() -> bytes:
    kw = {"means": [[1.0, 0.0], [0.0, 1.0]], "std": 0.05, "modes": None}
    bio = io.BytesIO()
    d = _fresh_dir()
    p = ganeval.save_generator(d / "g.pt", MixtureGenerator(**kw), factory="ganeval.toy:MixtureGenerator",
                               factory_kwargs=kw, latent_dim=3, data="ring8", step=1)
    bio.write(p.read_bytes())
    p.unlink()
    return bio.getvalue()


def _fresh_dir() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="ganeval-fuzz-src-"))


GOOD_CKPT = None


def good_ckpt() -> bytes:
    global GOOD_CKPT
    if GOOD_CKPT is None:
        GOOD_CKPT = _good_checkpoint_bytes()
    return GOOD_CKPT


def _load(path: Path) -> None:
    g = ganeval.load_generator(path, device="cpu")
    if not g.is_fixed:
        g.sample(4, seed=0)


def _record(reader: str, outcome: str) -> None:
    COUNTS[f"{reader} {outcome}"] += 1


# ---------------------------------------------------------------------------------------------
# checkpoints


@FUZZ
@given(data=st.data(), suffix=st.sampled_from([".pt", ".pth", ".ckpt", ".pt2", ".jit"]))
def test_checkpoint_bytes(tmp_path_factory, data, suffix):
    """Random bytes, and truncated / bit-flipped / spliced copies of a real checkpoint."""
    base = data.draw(st.sampled_from(["good", "random", "absurd"]))
    if base == "random":
        raw = data.draw(st.binary(max_size=2048))
    elif base == "absurd":
        raw = fz.absurd_zip_sizes(good_ckpt(), data.draw(st.integers(1, 2**32 - 2)))
    else:
        raw = fz.mutate(good_ckpt(), data.draw)
    path = fz.write(_fresh(tmp_path_factory) / f"ckpt{suffix}", raw)
    _record("checkpoint-bytes", fz.check_reader(_load, path))


@FUZZ
@given(payload=fz.ganeval_payloads())
def test_checkpoint_payloads(tmp_path_factory, payload):
    """``torch.save`` payloads with wrong format / version / factories / state dicts / latents."""
    path = fz.write(_fresh(tmp_path_factory) / "ckpt.pt", fz.torch_bytes(payload))
    _record("checkpoint-payload", fz.check_reader(_load, path))


@FUZZ
@given(obj=st.sampled_from(["tensor", "list", "int", "str", "nested", "ordered"]))
def test_checkpoint_unexpected_types(tmp_path_factory, obj):
    value: Any = {"tensor": torch.zeros(3), "list": [1, 2], "int": 5, "str": "hello",
                  "nested": {"a": {"b": [torch.ones(1)]}},
                  "ordered": collections.OrderedDict(w=torch.zeros(2))}[obj]
    path = fz.write(_fresh(tmp_path_factory) / "ckpt.pt", fz.torch_bytes(value))
    _record("checkpoint-type", fz.check_reader(_load, path))


# ---------------------------------------------------------------------------------------------
# sample arrays and dataset files


@FUZZ
@given(arr=fz.arrays(), data=st.data())
def test_npy_samples(tmp_path_factory, arr, data):
    raw = fz.npy_bytes(arr)
    if data.draw(st.booleans()):
        raw = fz.mutate(raw, data.draw)
    path = fz.write(_fresh(tmp_path_factory) / "samples.npy", raw)
    _record("npy", fz.check_reader(_load, path))


@FUZZ
@given(shape=st.lists(st.integers(1, 10**6), min_size=1, max_size=4), dtype=st.sampled_from(["<f4", "<f8", "|u1"]))
def test_npy_declaring_huge_arrays(tmp_path_factory, shape, dtype):
    """A small file whose header declares a huge array is refused before allocating it."""
    path = fz.write(_fresh(tmp_path_factory) / "samples.npy", fz.huge_npy_header(tuple(shape), dtype))
    outcome = fz.check_reader(_load, path)
    if int(np.prod(shape)) * np.dtype(dtype).itemsize > 16:
        assert outcome == "error"
    _record("npy-huge", outcome)


@FUZZ
@given(arrays=st.dictionaries(st.sampled_from(["samples", "train", "val", "test", "x", "train_labels"]),
                              fz.arrays(), min_size=0, max_size=4), data=st.data())
def test_npz_samples_and_datasets(tmp_path_factory, arrays, data):
    raw = fz.npz_bytes(arrays)
    if data.draw(st.booleans()):
        raw = fz.mutate(raw, data.draw)
    folder = _fresh(tmp_path_factory)
    path = fz.write(folder / "arrays.npz", raw)
    _record("npz-samples", fz.check_reader(_load, path))
    _record("npz-dataset", fz.check_reader(lambda p: ganeval.load_dataset(p), path))


@FUZZ
@given(shape=st.lists(st.integers(1, 10**6), min_size=1, max_size=3))
def test_npz_declaring_huge_arrays(tmp_path_factory, shape):
    raw = fz.zip_of({"samples.npy": fz.huge_npy_header(tuple(shape))})
    path = fz.write(_fresh(tmp_path_factory) / "samples.npz", raw)
    _record("npz-huge", fz.check_reader(_load, path))


# ---------------------------------------------------------------------------------------------
# image folders


def _png(arr: np.ndarray, mode: str | None = None) -> bytes:
    from PIL import Image

    bio = io.BytesIO()
    Image.fromarray(arr, mode=mode).save(bio, format="PNG")
    return bio.getvalue()


@st.composite
def image_files(draw: Any) -> tuple[str, bytes]:
    from PIL import Image

    kind = draw(st.sampled_from(["gray", "rgb", "rgba", "palette", "16bit", "corrupt", "text", "jpeg",
                                 "truncated", "bigger"]))
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    size = 12 if kind == "bigger" else 8
    rgb = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    if kind == "gray":
        return "g.png", _png(rgb[..., 0])
    if kind in ("rgb", "bigger"):
        return "c.png", _png(rgb)
    if kind == "rgba":
        return "a.png", _png(np.dstack([rgb, rgb[..., :1]]))
    if kind == "palette":
        bio = io.BytesIO()
        Image.fromarray(rgb).convert("P").save(bio, format="PNG")
        return "p.png", bio.getvalue()
    if kind == "16bit":
        bio = io.BytesIO()
        Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(bio, format="PNG")
        return "w.png", bio.getvalue()
    if kind == "jpeg":
        bio = io.BytesIO()
        Image.fromarray(rgb).save(bio, format="JPEG")
        return "j.jpg", bio.getvalue()
    if kind == "text":
        return draw(st.sampled_from(["notes.txt", "fake.png"])), b"not an image"
    good = _png(rgb)
    if kind == "truncated":
        return "t.png", good[: draw(st.integers(0, len(good) - 1))]
    return "x.png", fz.mutate(good, draw)


@FUZZ
@given(files=st.lists(image_files(), min_size=1, max_size=12), loop=st.booleans())
def test_image_folders(tmp_path_factory, files, loop):
    folder = _fresh(tmp_path_factory) / "imgs"
    folder.mkdir()
    for i, (name, raw) in enumerate(files):
        (folder / f"{i:03d}_{name}").write_bytes(raw)
    if loop:
        (folder / "loop").symlink_to(folder, target_is_directory=True)
    _record("image-folder-samples", fz.check_reader(_load, folder))
    _record("image-folder-dataset", fz.check_reader(lambda p: ganeval.load_dataset(p), folder))


# ---------------------------------------------------------------------------------------------
# baselines, statistics files, history.csv


BASELINE = {"schema": "ganeval-baseline/1", "metric": "fid", "data": "digits", "value": 3.0, "ci_low": 2.5,
            "ci_high": 3.5, "n_samples": 100, "seed": 0, "features": {"name": "digits"}, "options": {},
            "confidence": 0.99, "source": "x.pt", "sha256": "00"}


@FUZZ
@given(data=st.data())
def test_baseline_json(tmp_path_factory, data):
    from ganeval.gate import load_baseline

    path = fz.write(_fresh(tmp_path_factory) / "baseline.json", fz.json_text(data.draw, BASELINE).encode())
    _record("baseline", fz.check_reader(load_baseline, path))


@FUZZ
@given(arrays=st.dictionaries(st.sampled_from(["mu", "sigma", "other"]), fz.arrays(), max_size=3), data=st.data())
def test_statistics_files(tmp_path_factory, arrays, data):
    from ganeval.metrics.frechet import load_stats

    raw = fz.npz_bytes(arrays)
    if data.draw(st.booleans()):
        raw = fz.mutate(raw, data.draw)
    path = fz.write(_fresh(tmp_path_factory) / "stats.npz", raw)
    _record("stats", fz.check_reader(load_stats, path))


HISTORY_HEADER = "step,loss_d,loss_g,d_real,d_fake,grad_norm_g,grad_norm_d"


@st.composite
def history_text(draw: Any) -> str:
    header = HISTORY_HEADER.split(",")
    for col in draw(st.lists(st.sampled_from(header), max_size=3, unique=True)):
        header.remove(col)
    rows = []
    for step in range(draw(st.integers(0, 30))):
        vals = [str(step)] + [draw(st.sampled_from(["0.5", "0.1", "nan", "", "inf", "x", "1e400"]))
                              for _ in header[1:]]
        rows.append(",".join(vals[: len(header)]))
    text = ",".join(header) + "\n" + "\n".join(rows)
    if draw(st.booleans()):  # a run still being written: a torn last line
        text = text[: draw(st.integers(0, len(text)))]
    return text


@FUZZ
@given(text=history_text())
def test_history_csv(tmp_path_factory, text):
    from ganeval.diagnostics import diagnose

    run = _fresh(tmp_path_factory) / "run"
    fz.write(run / "history.csv", text.encode())
    _record("history", fz.check_reader(lambda p: diagnose(p), run, names=("history.csv",)))


# ---------------------------------------------------------------------------------------------
# CLI flag values


FLAG_VALUES = st.sampled_from(["-1", "0", "nan", "1e400", "abc", "", "3", "0.5", "1,2", "-1,1", "99999999999999999"])


@FUZZ
@given(flag=st.sampled_from(["--n-samples", "--seed", "--batch-size", "--latent-dim", "--device", "--metrics",
                             "--features", "--option", "--data"]), value=FLAG_VALUES)
def test_cli_flag_values(tmp_path_factory, capsys, flag, value):
    """Any value of an evaluation flag: exit 0 or 2 with one line, never a traceback."""
    from ganeval.cli import main

    folder = _fresh(tmp_path_factory)
    ckpt = fz.write(folder / "g.pt", good_ckpt())
    argv = ["report", str(ckpt), "--data", "ring8", "--metrics", "mode_coverage", "--out", str(folder / "rep"),
            "--no-diagnostics", "--n-samples", "200"]
    if flag in ("--metrics", "--data", "--n-samples"):
        argv[argv.index(flag) + 1] = value
    else:
        argv += [flag, value]
    with fz.alarm(60):  # a whole report on a loaded 2-core host
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own usage errors exit 2
            code = exc.code
    err = capsys.readouterr().err
    assert code in (0, 2), (argv, code, err)
    assert "Traceback" not in err
    if code == 2:
        assert not (folder / "rep").exists(), "a failed run left a report folder"
    _record("cli-flags", "ok" if code == 0 else "error")
