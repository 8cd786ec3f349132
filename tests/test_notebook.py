"""reports/compare_losses.ipynb runs top to bottom (nbclient) on a tiny budget and shows what it promises."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "reports" / "compare_losses.ipynb"


def test_compare_losses_notebook_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("GANEVAL_NB_STEPS", "8")
    monkeypatch.setenv("GANEVAL_NB_SAMPLES", "200")
    monkeypatch.setenv("GANEVAL_NB_OUT", str(tmp_path / "runs"))
    monkeypatch.setenv("GANEVAL_PROGRESS", "0")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # The committed notebook carries no outputs (they would go stale); it is executed here.
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # Four runs were trained, each a run folder with checkpoints.
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs == ["minimax_k1", "minimax_k5", "nonsaturating_k1", "nonsaturating_k5"]
    assert all(list((tmp_path / "runs" / r / "checkpoints").glob("*.pt")) for r in runs)
    # The summary DataFrame (one row per variant) and the figures are displayed.
    html = [o["data"]["text/html"] for o in outputs if o.output_type == "execute_result" and "text/html" in o.get("data", {})]
    table = html[-1]
    for variant in ("minimax, k=1", "minimax, k=5", "nonsaturating, k=1", "nonsaturating, k=5"):
        assert variant in table
    assert "modes covered (of 8)" in table and "FID" in table and "diagnosis" in table
    assert "P(best FID)" in table and "p_holm" in html[-2]  # the paired comparison of the final checkpoints
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3
