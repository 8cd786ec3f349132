"""The sweep engine locally: same numbers serially and on a pool, faults, clean stops, resumption."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ganeval import evaluate, evaluate_many
from ganeval.cli import main
from ganeval.sweep import Settings, Store, run_sweep

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from sweep_helpers import mlp_checkpoints, special_checkpoint, wait_for  # noqa: E402

S = Settings(data="ring8", n_samples=400)
TRUSTED = Settings(data="ring8", n_samples=400, load=S.load.replace(trust=True))


def results_by_key(res) -> dict[str, dict]:
    return {j.key: res.store.get(j.key)["result"] for j in res.jobs}


@pytest.fixture(autouse=True)
def _importable_helpers(monkeypatch):
    # pool workers and CLI subprocesses import the test generators by name
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))


def test_serial_and_pool_give_the_same_numbers_as_evaluate(tmp_path):
    run = mlp_checkpoints(tmp_path, 3)
    serial = run_sweep([str(run)], S, seeds=[0, 1], store=tmp_path / "a")
    pool = run_sweep([str(run)], S, seeds=[0, 1], store=tmp_path / "b", workers=2)
    assert serial.done == pool.done == 3 * 2 * 2 and not serial.failed and not pool.failed
    assert [j.key for j in serial.jobs] == [j.key for j in pool.jobs]
    assert results_by_key(serial) == results_by_key(pool)  # bit for bit: floats compared exactly
    ev = evaluate(str(run / "G_000200.pt"), "ring8", n_samples=400, seed=1)
    job = next(j for j in serial.jobs if j.checkpoint.endswith("G_000200.pt") and j.seed == 1 and j.metric == "summary")
    assert serial.store.get(job.key)["result"] == ev.metric_dict("summary")
    df = evaluate_many(str(run), "ring8", n_samples=400, seed=1, store=tmp_path / "a", workers=2)
    assert len(df) == 3 and df["summary.std_ratio"].tolist()[1] == ev.metric_dict("summary")["std_ratio"]


def test_job_that_raises_is_a_failed_record_and_exit_1(tmp_path, capsys):
    run = mlp_checkpoints(tmp_path, 2)
    bad = special_checkpoint(tmp_path / "bad.pt", "RaisingGenerator")
    out = tmp_path / "report"
    code = main(["sweep", str(run), str(bad), "--data", "ring8", "--n-samples", "400", "--trust-checkpoint",
                 "--store", str(tmp_path / "s"), "--out", str(out), "--export", str(tmp_path / "all.parquet")])
    assert code == 1
    printed = capsys.readouterr().out
    assert "FAILED bad.pt" in printed and "boom: this generator always fails" in printed
    recs = [json.loads(p.read_text()) for p in (tmp_path / "s" / "records").glob("*/*.json")]
    failed = [r for r in recs if r["status"] == "failed"]
    assert len(failed) == 2 and all("boom: this generator always fails" in r["error"] for r in failed)
    assert sum(r["status"] == "ok" for r in recs) == 4
    sweep = json.loads((out / "sweep.json").read_text())
    assert len(sweep["failed"]) == 2 and sweep["computed"] == 4
    assert {b["metric"] for b in sweep["best"]} == {"mode_coverage"}  # the metric with a direction
    assert (out / "index.html").read_text().count("boom") == 2


def test_worker_killed_mid_job_is_retried(tmp_path):
    gate = tmp_path / "gate"
    gate.mkdir()
    ck = special_checkpoint(tmp_path / "block.pt", "BlockingGenerator", folder=str(gate))
    run = mlp_checkpoints(tmp_path, 2)
    out: dict = {}
    th = threading.Thread(target=lambda: out.setdefault("res", run_sweep(
        [str(ck), str(run)], TRUSTED, metrics=["summary"], store=tmp_path / "s", workers=2, retries=2)))
    th.start()
    first = wait_for(lambda: list(gate.glob("start-*")), "the blocking job to start")[0]
    os.kill(int(first.name.split("-")[1]), signal.SIGKILL)  # the worker, mid-job
    wait_for(lambda: len(list(gate.glob("start-*"))) >= 2, "the retry to start")
    (gate / "go").touch()
    th.join(timeout=300)
    res = out["res"]
    assert not res.failed and res.done == 3
    rec = res.store.get(res.jobs[0].key)
    assert rec["status"] == "ok" and rec["attempts"] == 2


def test_worker_dying_every_time_is_a_failed_record(tmp_path):
    gate = tmp_path / "gate"
    gate.mkdir()
    ck = special_checkpoint(tmp_path / "block.pt", "BlockingGenerator", folder=str(gate))
    killed: set[str] = set()

    def killer():
        while len(killed) < 2:
            for f in gate.glob("start-*"):
                if f.name not in killed:
                    killed.add(f.name)
                    os.kill(int(f.name.split("-")[1]), signal.SIGKILL)
            time.sleep(0.02)

    th = threading.Thread(target=killer)
    th.start()
    res = run_sweep([str(ck)], TRUSTED, metrics=["summary"], store=tmp_path / "s", workers=2, retries=1)
    th.join()
    assert len(res.failed) == 1 and "worker process died (signal 9)" in res.failed[0][1]
    assert res.store.get(res.jobs[0].key)["status"] == "failed"


@pytest.mark.parametrize("workers,sig", [(2, signal.SIGTERM), (1, signal.SIGINT)])
def test_signal_stops_cleanly_and_rerun_finishes_only_the_rest(tmp_path, workers, sig):
    gate = tmp_path / "gate"
    gate.mkdir()
    ck = special_checkpoint(tmp_path / "block.pt", "BlockingGenerator", folder=str(gate))
    run = mlp_checkpoints(tmp_path, 3)
    cmd = [sys.executable, "-m", "ganeval.cli", "sweep", str(run), str(ck), "--data", "ring8", "--n-samples", "400",
           "--metrics", "summary", "--trust-checkpoint", "--store", str(tmp_path / "s"), "--workers", str(workers)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    st = Store(tmp_path / "s")
    wait_for(lambda: list(gate.glob("start-*")) and len(st.keys()) == 3, "3 records and the blocking job")
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, stderr
    assert "0 cached, 3 computed" in stdout and "re-run the same command" in stderr
    assert len(st.keys()) == 3 and not list((tmp_path / "s" / "records").glob("*/.tmp-*"))
    (gate / "go").touch()
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "4 jobs: 3 cached, 1 computed, 0 failed" in again.stdout


def test_bad_input_is_exit_2(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "nope*.pt"), "--data", "ring8", "--store", str(tmp_path / "s")]) == 2
    assert main(["sweep", str(tmp_path), "--data", "ring8", "--seeds", "a,b"]) == 2
    run = mlp_checkpoints(tmp_path, 1)
    assert main(["sweep", str(run), "--data", "ring8", "--metrics", "fidd", "--store", str(tmp_path / "s")]) == 2
    assert "Did you mean" in capsys.readouterr().err
