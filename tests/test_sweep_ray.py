"""The sweep engine on a real two-node Ray cluster on this machine (one CPU per node).

One cluster serves the whole module (starting Ray costs seconds); everything started here is
stopped through its handle. Without a working Ray the module skips and says why.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from ganeval.sweep import Settings, run_sweep

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from sweep_helpers import mlp_checkpoints, special_checkpoint, wait_for  # noqa: E402

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
    # The cluster's processes get their own feature cache: reference features can reach them only
    # through Ray's object store (the driver keeps its own cache, restored below).
    driver_cache = os.environ.get("GANEVAL_CACHE")
    worker_cache = tmp_path_factory.mktemp("ray-worker-cache")
    os.environ["GANEVAL_CACHE"] = str(worker_cache)
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
        c.worker_cache = worker_cache
    except Exception as exc:  # noqa: BLE001  (any failure to start is a reason to skip, reported)
        if c is not None:
            c.shutdown()
        mp.undo()
        pytest.skip(f"Ray could not start a local cluster here: {type(exc).__name__}: {exc}")
    finally:
        if driver_cache is None:
            os.environ.pop("GANEVAL_CACHE", None)
        else:
            os.environ["GANEVAL_CACHE"] = driver_cache
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


def test_reference_features_travel_through_the_object_store(cluster, tmp_path):
    """FID on digits (the shipped digits CNN): the workers' feature cache is not the driver's, so the
    training split's features reach them through the object store; the numbers equal serial ones."""
    import torch

    from ganeval import save_generator
    from reference_trainers.nets import MLPGenerator

    torch.manual_seed(7)  # test setup only
    g = MLPGenerator(latent_dim=8, hidden=32, depth=1, out_shape=[1, 8, 8], output="sigmoid")
    ck = save_generator(tmp_path / "g.pt", g, factory="reference_trainers.nets:MLPGenerator",
                        factory_kwargs={"latent_dim": 8, "hidden": 32, "depth": 1, "out_shape": [1, 8, 8],
                                        "output": "sigmoid"}, latent_dim=8, data="digits", step=1)
    settings = Settings(data="digits", n_samples=300)
    serial = run_sweep([str(ck)], settings, metrics=["fid"], store=tmp_path / "a")
    on_ray = run_sweep([str(ck)], settings, metrics=["fid"], store=tmp_path / "b", ray=True)
    assert not serial.failed and not on_ray.failed
    assert serial.store.get(serial.jobs[0].key)["result"] == on_ray.store.get(on_ray.jobs[0].key)["result"]
    assert on_ray.store.get(on_ray.jobs[0].key)["shared_features"] == ["train"]
    seeded = list(Path(cluster.worker_cache).glob("features/digits-train-*.npy"))
    assert seeded, "the worker seeded its own cache from the object store"


def test_joining_a_cluster_by_address(cluster, tmp_path):
    """`--ray ADDRESS`: the sweep connects, runs, and disconnects (the cluster keeps running)."""
    import ray

    ray.shutdown()
    try:
        run = mlp_checkpoints(tmp_path, 2)
        res = run_sweep([str(run)], S, metrics=["summary"], store=tmp_path / "s", ray=cluster.address)
        assert res.done == 2 and not res.failed
        assert not ray.is_initialized()
    finally:
        ray.init(address=cluster.address, log_to_driver=False)  # for the module's teardown
