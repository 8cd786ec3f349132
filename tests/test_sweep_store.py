"""The result store: atomic records, a rebuildable index, keys by content, concurrent writers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from ganeval import load_results
from ganeval.sweep import Settings, Store, export_results, run_sweep

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from sweep_helpers import mlp_checkpoints  # noqa: E402

S = Settings(data="ring8", n_samples=300)


def _record(key: str, value: float) -> dict:
    return {"key": key, "status": "ok", "error": None, "metric": "summary", "result": {"std_ratio": value},
            "seed": 0, "checkpoint": {"path": "x.pt", "label": "x.pt", "run": None, "step": 1, "sha256": "ab"}}


def test_put_get_and_frame(tmp_path):
    st = Store(tmp_path / "s")
    st.put(_record("a" * 64, 0.5))
    st.put(_record("b" * 64, 0.25))
    assert st.get("a" * 64)["result"] == {"std_ratio": 0.5}
    df = load_results(tmp_path / "s")
    assert sorted(df["summary.std_ratio"]) == [0.25, 0.5]
    for suffix in (".csv", ".parquet"):
        out = export_results(tmp_path / "s", tmp_path / f"r{suffix}")
        import pandas as pd

        back = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
        assert sorted(back["summary.std_ratio"]) == [0.25, 0.5]


def test_crash_between_temp_and_rename_leaves_no_record(tmp_path):
    """A real process killed by SIGKILL right before the rename: no record, no index line, no hit."""
    st = Store(tmp_path / "s")
    st.put(_record("a" * 64, 0.5))
    code = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(HERE)!r})
        from ganeval.sweep.store import Store
        from test_sweep_store import _record
        os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)  # die between temp file and rename
        Store({str(tmp_path / 's')!r}).put(_record("c" * 64, 0.75))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert list((tmp_path / "s" / "records").glob("*/.tmp-*")), "the temporary file was written"
    assert st.get("c" * 64) is None and not st.done("c" * 64)
    assert list(load_results(st)["key"]) == ["a" * 64]


def test_index_rebuilt_when_lost_or_corrupt(tmp_path):
    st = Store(tmp_path / "s")
    for i, k in enumerate("abc"):
        st.put(_record(k * 64, i / 4))
    want = sorted(load_results(st)["key"])
    st.index_path.unlink()
    assert sorted(load_results(st)["key"]) == want and st.index_path.is_file()
    st.index_path.write_text('{"key": "aaa", "row": {tru')  # torn line
    assert sorted(load_results(st)["key"]) == want
    lines = st.index_path.read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(x)["key"] in want for x in lines)
    # a record written whose index line never came (writer died in between) is still found
    rec = _record("d" * 64, 1.0) | {"schema": "ganeval-sweep-record/1"}
    path = st._record_path("d" * 64)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec))
    assert "d" * 64 in set(load_results(st)["key"])


def test_renamed_checkpoint_hits_edited_misses(tmp_path):
    run = mlp_checkpoints(tmp_path, 2)
    first = run_sweep([str(run)], S, store=tmp_path / "s")
    assert first.done == len(first.jobs) and first.cached == 0
    moved = tmp_path / "elsewhere"
    shutil.move(str(run), moved)
    (moved / "G_000100.pt").rename(moved / "renamed.pt")
    again = run_sweep([str(moved)], S, store=tmp_path / "s")
    assert again.cached == len(again.jobs) and again.done == 0
    with open(moved / "renamed.pt", "ab") as fh:  # edited bytes: a different checkpoint
        fh.write(b"\0")
    edited = run_sweep([str(moved / "renamed.pt")], S, store=tmp_path / "s")
    assert edited.cached == 0


def test_metric_options_are_part_of_the_key(tmp_path):
    run = mlp_checkpoints(tmp_path, 1)
    a = run_sweep([str(run)], S, metrics=["mode_coverage"], store=tmp_path / "s")
    b = run_sweep([str(run)], Settings(data="ring8", n_samples=300, options={"mode_coverage": {"threshold": 2.0}}),
                  metrics=["mode_coverage"], store=tmp_path / "s")
    assert a.jobs[0].key != b.jobs[0].key and b.cached == 0


def test_two_sweeps_at_once_corrupt_nothing(tmp_path):
    """Two real processes write overlapping sweeps into one store at the same time."""
    run = mlp_checkpoints(tmp_path, 4)
    cmd = [sys.executable, "-m", "ganeval.cli", "sweep", str(run), "--data", "ring8", "--n-samples", "300",
           "--seeds", "0,1,2", "--store", str(tmp_path / "s")]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    st = Store(tmp_path / "s")
    files = list((tmp_path / "s" / "records").glob("*/*.json"))
    assert len(files) == 4 * 3 * 2  # 4 checkpoints x 3 seeds x 2 default metrics, one file per key
    assert all(json.loads(f.read_text())["status"] == "ok" for f in files)
    assert not list((tmp_path / "s" / "records").glob("*/.tmp-*"))
    for line in st.index_path.read_text().splitlines():
        json.loads(line)  # every index line whole
    df = load_results(st)
    assert len(df) == 24 and df["key"].is_unique
    again = run_sweep([str(run)], S, seeds=[0, 1, 2], store=st)
    assert again.cached == 24 and again.done == 0
