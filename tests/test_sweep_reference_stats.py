"""Sweeps against a statistics file alone (``ganeval sweep CKPTS --reference stats.npz``, no ``--data``).

ring8 MLP checkpoints (the sweep tests' helpers) against ``ganeval stats ring8`` (raw 2-d features,
22,000 rows): every job's FID equals :func:`ganeval.evaluate` with ``data=None`` and the same file;
the file is keyed by its sha256 (a moved copy is a hit, new contents recompute); metrics that need
the reference's feature vectors are refused before any job runs.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from ganeval import GanevalError, evaluate, evaluate_many
from ganeval._utils import sha256_file
from ganeval.cli import main
from ganeval.metrics.frechet import load_stats, stats_provenance
from ganeval.output_range import RangeWarning
from ganeval.sweep import Settings, Store, run_sweep

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from sweep_helpers import mlp_checkpoints  # noqa: E402

N = 400


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sweep-refstats")
    run = mlp_checkpoints(root, 3)
    stats = root / "ring8-train.npz"
    assert main(["stats", "ring8", "-o", str(stats)]) == 0
    assert stats_provenance(stats)["shape"] == [2] and stats_provenance(stats)["features"] == "raw"
    return {"root": root, "run": run, "stats": stats}


def _serial_fid(ckpt: Path, stats: Path, **kw: object) -> float:
    ev = evaluate(str(ckpt), None, metrics="fid", n_samples=N, options={"fid": {"reference": str(stats)}}, **kw)
    return float(ev.metrics["fid"].value)


def _fids(res) -> dict[str, float]:
    return {Path(j.checkpoint).name: res.store.get(j.key)["result"]["value"] for j in res.jobs if j.metric == "fid"}


def test_cli_sweep_with_workers_equals_evaluate_per_checkpoint(setup: dict[str, Path], tmp_path: Path, capsys) -> None:
    store = tmp_path / "store"
    rc = main(["sweep", str(setup["run"]), "--reference", str(setup["stats"]), "--metrics", "fid", "--n-samples",
               str(N), "--workers", "2", "--store", str(store), "--device", "cpu"])
    assert rc == 0 and "3 jobs: 0 cached, 3 computed, 0 failed" in capsys.readouterr().out
    recs = list(Store(store).records())
    assert len(recs) == 3 and all(r["status"] == "ok" for r in recs)
    sha = sha256_file(setup["stats"])
    for rec in recs:
        ckpt = Path(rec["checkpoint"]["path"])
        assert rec["result"]["value"] == pytest.approx(_serial_fid(ckpt, setup["stats"]), rel=1e-9, abs=1e-12)
        assert rec["result"]["value"] > 0 and rec["result"]["n_real"] == 22000
        assert rec["job"]["data"] == {"statistics_only": True, "sha256": sha}  # keyed by content, not path
        assert rec["provenance"]["reference"]["statistics_only"] is True
        assert rec["provenance"]["reference"]["sha256"] == sha
        assert rec["shared_features"] == []  # nothing extracted for a statistics file


def test_file_without_a_shape_workers_draw_one_sample(setup: dict[str, Path], tmp_path: Path) -> None:
    """pytorch-fid's format (mu, sigma, nothing else): the engine plans without a shape, each worker
    draws one sample of its generator for it (as evaluate does)."""
    mu, sigma = load_stats(setup["stats"])
    bare = tmp_path / "bare.npz"
    np.savez(bare, mu=mu, sigma=sigma)
    assert stats_provenance(bare) is None
    # The file records no range either: [0, 1] is assumed, which these generators overshoot (a
    # RangeWarning each with the check off); nor features: raw is named (other tools' files are Inception's).
    kw = {"features": "raw", "range_check": False}
    df = evaluate_many(str(setup["run"]), None, workers=2, store=tmp_path / "s", n_samples=N,
                       options={"fid": {"reference": str(bare)}}, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RangeWarning)
        want = [_serial_fid(setup["run"] / f"G_{s:06d}.pt", bare, **kw) for s in (100, 200, 300)]
    recs = list(Store(tmp_path / "s").records())
    assert len(recs) == 3 and all(r["status"] == "ok" and r["provenance"]["reference"]["recorded"] is None
                                  for r in recs)
    assert df["fid.value"].tolist() == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_rerun_reuses_every_record_and_new_contents_recompute(setup: dict[str, Path], tmp_path: Path) -> None:
    stats = tmp_path / "ref.npz"
    shutil.copy(setup["stats"], stats)
    settings = Settings(data=None, n_samples=N, options={"fid": {"reference": str(stats)}})
    first = run_sweep([str(setup["run"])], settings, metrics="fid", store=tmp_path / "s")
    assert (first.done, first.cached, first.failed) == (3, 0, [])
    again = run_sweep([str(setup["run"])], settings, metrics="fid", store=tmp_path / "s")
    assert (again.done, again.cached) == (0, 3)
    # The same contents under another name: still every record (the key holds the sha256, not the path).
    moved = tmp_path / "moved.npz"
    shutil.move(stats, moved)
    same = run_sweep([str(setup["run"])], Settings(data=None, n_samples=N, options={"fid": {"reference": str(moved)}}),
                     metrics="fid", store=tmp_path / "s")
    assert (same.done, same.cached) == (0, 3) and _fids(same) == _fids(first)
    # New contents at the first name (the validation rows' statistics): every job again, new numbers.
    assert main(["stats", "ring8", "--split", "val", "-o", str(stats)]) == 0
    changed = run_sweep([str(setup["run"])], settings, metrics="fid", store=tmp_path / "s")
    assert (changed.done, changed.cached) == (3, 0)
    new = _fids(changed)
    assert all(new[k] != v for k, v in _fids(first).items())
    for name, value in new.items():
        assert value == pytest.approx(_serial_fid(setup["run"] / name, stats), rel=1e-9, abs=1e-12)


def test_file_beside_the_data_is_keyed_by_content_too(setup: dict[str, Path], tmp_path: Path) -> None:
    """``--data ring8 --reference stats.npz``: fid against the file, which is keyed by its sha256 (and
    is not taken for a split whose features the coordinator extracts before the pool starts)."""
    stats = tmp_path / "ref.npz"
    shutil.copy(setup["stats"], stats)
    settings = Settings(data="ring8", n_samples=N, options={"fid": {"reference": str(stats)}})
    first = run_sweep([str(setup["run"])], settings, metrics="fid", store=tmp_path / "s", workers=2)
    assert first.done == 3 and not first.failed
    assert _fids(first)["G_000100.pt"] == pytest.approx(_serial_fid(setup["run"] / "G_000100.pt", stats), rel=1e-9)
    assert first.jobs[0].identity["options"]["reference"] == {"statistics_sha256": sha256_file(stats)}
    assert main(["stats", "ring8", "--split", "val", "-o", str(stats)]) == 0
    changed = run_sweep([str(setup["run"])], settings, metrics="fid", store=tmp_path / "s")
    assert (changed.done, changed.cached) == (3, 0)


def test_metrics_that_need_feature_vectors_are_refused_before_any_job(setup: dict[str, Path], tmp_path: Path,
                                                                       capsys) -> None:
    store = tmp_path / "store"
    capsys.readouterr()
    rc = main(["sweep", str(setup["run"]), "--reference", str(setup["stats"]), "--metrics", "fid,kid",
               "--workers", "2", "--store", str(store)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and "Traceback" not in err
    assert "kid needs the reference's feature vectors" in err and "--data" in err
    assert not store.exists()  # nothing ran, nothing recorded
    with pytest.raises(GanevalError, match="prdc needs the reference's feature vectors.*--data"):
        evaluate_many(str(setup["run"]), None, workers=2, store=store, metrics="fid,prdc",
                      options={"fid": {"reference": str(setup["stats"])}})
    assert not store.exists()
    # Neither --data nor a statistics file: one line naming both.
    rc = main(["sweep", str(setup["run"]), "--metrics", "fid", "--store", str(store)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and "--data" in err and "--reference" in err


def test_a_worker_that_cannot_read_the_file_says_so(setup: dict[str, Path], tmp_path: Path) -> None:
    """Planned with the file, run where it is gone: the failed record names the file and the rule."""
    stats = tmp_path / "ref.npz"
    shutil.copy(setup["stats"], stats)
    from ganeval.sweep.engine import reference_for
    from ganeval.sweep.jobs import expand_paths, group, plan
    from ganeval.sweep.worker import run_task

    settings, ref = reference_for(Settings(data=None, n_samples=N, options={"fid": {"reference": str(stats)}}))
    task = group(plan(expand_paths([str(setup["run"] / "G_000100.pt")]), settings, ref, ["fid"], [0]), settings)[0]
    os.remove(stats)
    (rec,) = run_task(task)
    assert rec["status"] == "failed" and rec["data"] == str(stats)
    assert f"{stats}: cannot read the reference statistics file on worker host" in rec["error"]
    assert "storage every worker can read" in rec["error"]


def test_ray_gives_the_serial_numbers(setup: dict[str, Path], tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'ganeval[ray]')")
    import ray

    if ray.is_initialized():  # another module's cluster: this test starts its own local instance
        pytest.skip("a Ray driver is already connected in this process")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    opts = {"fid": {"reference": str(setup["stats"])}}
    serial = evaluate_many(str(setup["run"]), None, store=tmp_path / "a", n_samples=N, options=opts)
    on_ray = evaluate_many(str(setup["run"]), None, ray=True, workers=2, store=tmp_path / "b", n_samples=N,
                           options=opts)
    assert not ray.is_initialized()  # the instance started here is shut down
    assert on_ray["fid.value"].tolist() == serial["fid.value"].tolist()  # bit for bit
    recs = list(Store(tmp_path / "b").records())
    assert len(recs) == 3 and all(r["status"] == "ok" and r["shared_features"] == [] for r in recs)
