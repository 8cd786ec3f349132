"""The sweep engine on a real two-node Ray cluster on this machine (one CPU per node).

One cluster serves the whole module (starting Ray costs seconds); everything started here is
stopped through its handle. Without a working Ray the module skips and says why.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from ganeval.sweep import Settings, run_sweep

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from sweep_helpers import mlp_checkpoints, special_checkpoint  # noqa: E402

S = Settings(data="ring8", n_samples=400)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'ganeval[ray]')")
    from ray.cluster_utils import Cluster

    mp = pytest.MonkeyPatch()
    # Ray's worker processes import the tests' generators by name, and start with one torch thread
    mp.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    mp.setenv("OMP_NUM_THREADS", "1")
    mp.setenv("RAY_AUTH_MODE", "disabled")
    c = None
    try:
        c = Cluster(initialize_head=True, head_node_args={
            "num_cpus": 1, "include_dashboard": False,
            # notice a removed node within about a second, not the default half minute
            "_system_config": {"health_check_initial_delay_ms": 0, "health_check_period_ms": 300,
                               "health_check_failure_threshold": 3}})
        c.add_node(num_cpus=1)
        c.wait_for_nodes()
        ray.init(address=c.address, include_dashboard=False, log_to_driver=False)
    except Exception as exc:  # noqa: BLE001  (any failure to start is a reason to skip, reported)
        if c is not None:
            c.shutdown()
        mp.undo()
        pytest.skip(f"Ray could not start a local cluster here: {type(exc).__name__}: {exc}")
    yield c
    ray.shutdown()
    c.shutdown()
    mp.undo()


def _stat(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _parent(pid: int) -> int | None:
    st = _stat(pid)
    return int(st[1]) if st else None


def _zombie(pid: int) -> bool:
    st = _stat(pid)
    return not st or st[0] == "Z"


def wait_for(predicate, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while not (got := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return got


def test_ray_gives_the_same_numbers_as_serial(cluster, tmp_path):
    run = mlp_checkpoints(tmp_path, 3)
    serial = run_sweep([str(run)], S, seeds=[0, 1], store=tmp_path / "a")
    on_ray = run_sweep([str(run)], S, seeds=[0, 1], store=tmp_path / "b", ray=True)
    assert on_ray.done == 12 and not on_ray.failed
    assert {j.key: serial.store.get(j.key)["result"] for j in serial.jobs} == \
           {j.key: on_ray.store.get(j.key)["result"] for j in on_ray.jobs}
    hosts = {on_ray.store.get(j.key)["host"] for j in on_ray.jobs}
    assert hosts  # recorded where each job ran
    again = run_sweep([str(run)], S, seeds=[0, 1], store=tmp_path / "b", ray=True)
    assert again.cached == 12 and again.done == 0


def test_ray_job_that_raises_is_a_failed_record(cluster, tmp_path):
    bad = special_checkpoint(tmp_path / "bad.pt", "RaisingGenerator")
    res = run_sweep([str(bad)], Settings(data="ring8", n_samples=400, load=S.load.replace(trust=True)),
                    metrics=["summary"], store=tmp_path / "s", ray=True)
    assert len(res.failed) == 1 and "boom: this generator always fails" in res.failed[0][1]
    assert res.exit_code() == 1


def test_node_removed_mid_sweep_loses_no_job(cluster, tmp_path):
    gate = tmp_path / "gate"
    gate.mkdir()
    extra = cluster.add_node(num_cpus=1)  # three nodes, one CPU each: the three jobs run at once
    cluster.wait_for_nodes()
    cks = [special_checkpoint(tmp_path / f"block{i}.pt", "BlockingGenerator", folder=str(gate)) for i in range(3)]
    settings = Settings(data="ring8", n_samples=400, load=S.load.replace(trust=True))
    out: dict = {}
    th = threading.Thread(target=lambda: out.setdefault("res", run_sweep(
        [str(c) for c in cks], settings, metrics=["summary"], store=tmp_path / "s", ray=True, retries=3)))
    th.start()
    starts = wait_for(lambda: (lambda f: f if len(f) >= 3 else None)(list(gate.glob("start-*"))),
                      "three jobs in flight")
    raylet = extra.all_processes["raylet"][0].process.pid
    doomed = [pid for pid in (int(f.name.split("-")[1]) for f in starts) if _parent(pid) == raylet]
    assert len(doomed) == 1, "one job runs on the node about to go"
    cluster.remove_node(extra, allow_graceful=False)  # its job dies with it
    wait_for(lambda: not Path(f"/proc/{doomed[0]}").exists() or _zombie(doomed[0]), "the node's worker to die")
    (gate / "go").touch()
    th.join(timeout=300)
    res = out["res"]
    assert not res.failed and res.done == 3
    assert all(res.store.get(j.key)["status"] == "ok" for j in res.jobs)
    assert len(list(gate.glob("start-*"))) >= 4  # the lost job started again elsewhere
