"""Shared fixtures. Tests run offline, on the CPU, and write only under pytest's tmp folders."""

from __future__ import annotations

from pathlib import Path

import pytest
import scipy.linalg  # noqa: F401  (loaded before the thread limit below, which reaches only loaded libraries)
import torch
from threadpoolctl import threadpool_limits

MNIST_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-t10k"


@pytest.fixture(autouse=True, scope="session")
def _isolated_env(tmp_path_factory: pytest.TempPathFactory) -> None:
    # Caches and data lookups go to a temporary folder, never the user's home.
    mp = pytest.MonkeyPatch()
    cache = tmp_path_factory.mktemp("ganeval-cache")
    mp.setenv("GANEVAL_CACHE", str(cache / "cache"))
    mp.setenv("GANEVAL_DATA", str(cache / "data"))
    mp.setenv("GANEVAL_PROGRESS", "0")
    torch.set_num_threads(2)
    # numpy/scipy's OpenBLAS: one thread. Small eigendecompositions ran 200x slower with two
    # threads on a loaded 2-core machine; tests check numbers, not speed.
    with threadpool_limits(limits=1, user_api="blas"):
        yield
    mp.undo()


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module of small-matrix tests: a second only adds contention on a
    2-core machine (BLAS is already limited to one thread for the whole session)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def mnist_root() -> Path:
    """The MNIST test split shipped beside the project (skips where it is absent)."""
    if not (MNIST_ROOT / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"MNIST t10k not found at {MNIST_ROOT} (it lives in ../shared/data/mnist-t10k)")
    return MNIST_ROOT
