"""`ganeval report`: JSON schema, output files, run folders, caveats, atomicity, evaluate_many."""

from __future__ import annotations

import base64
import hashlib
import json
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import torch

from ganeval import Evaluation, evaluate, evaluate_many, load_dataset, save_generator
from ganeval.cli import main
from ganeval.compare import expand
from ganeval.errors import GanevalError
from ganeval.report import figures as figreg
from ganeval.report import load_report, terminal_summary, write_report
from ganeval.toy import MixtureGenerator

N = 400


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def ring8():
    return load_dataset("ring8")


def _ckpt(path: Path, ds, modes, step=None) -> Path:
    kw = {"means": ds.means.tolist(), "std": ds.std, "modes": modes}
    return save_generator(path, MixtureGenerator(**kw), factory="ganeval.toy:MixtureGenerator", factory_kwargs=kw,
                          latent_dim=3, data="ring8", step=step)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, ring8) -> Path:
    """A run folder whose file names sort differently from its steps, with a history."""
    run = tmp_path_factory.mktemp("run")
    (run / "checkpoints").mkdir()
    # (file name, step, modes): "b" sorts before "c" by name but comes after it by step.
    for name, step, modes in (("a.pt", 5, [0]), ("c.pt", 20, [0, 1, 2, 3]), ("b.pt", 300, None)):
        _ckpt(run / "checkpoints" / name, ring8, modes, step)
    pd.DataFrame({"step": [5, 20, 300], "loss_d": [1.2, 1.0, 0.7], "loss_g": [0.7, 0.8, 1.0]}).to_csv(
        run / "history.csv", index=False)
    return run


class _Imgs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []
        self.refs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.srcs.append(a.get("src", ""))
        for key in ("src", "href"):
            if key in a:
                self.refs.append((tag, key, a[key] or ""))


def test_to_dict_round_trip_and_provenance(tmp_path, ring8):
    path = _ckpt(tmp_path / "g.pt", ring8, [0, 4], step=7)
    ev = evaluate(path, ring8, n_samples=N, seed=3)
    d = ev.to_dict()
    assert json.loads(ev.to_json()) == d
    again = Evaluation.from_dict(json.loads(json.dumps(d)))
    assert again.to_dict() == d
    assert again.to_row() == ev.to_row()
    assert d["schema"] == "ganeval-evaluation/1" and d["data"] == "ring8" and d["source"] == str(path)
    p = d["provenance"]
    for key in ("ganeval", "torch", "python", "device", "seed", "n_samples", "checkpoint", "dataset", "wall_time_s"):
        assert key in p, key
    assert p["seed"] == 3 and p["n_samples"] == N and p["checkpoint"]["step"] == 7
    assert p["checkpoint"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert d["metrics"]["mode_coverage"]["modes_covered"] == 2  # the generator covers modes 0 and 4
    with pytest.raises(GanevalError, match="schema"):
        Evaluation.from_dict({"schema": "something-else"})


def test_report_files_single_checkpoint(tmp_path, ring8, capsys):
    path = _ckpt(tmp_path / "two.pt", ring8, [0, 4])
    out = tmp_path / "rep"
    assert main(["report", str(path), "--data", "ring8", "--n-samples", str(N), "--out", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    names = sorted(p.name for p in out.iterdir())
    assert {"index.html", "report.json", "metrics.csv", "samples.png"} <= set(names)
    # report.json is exactly to_dict() for one checkpoint, and what --json prints.
    saved = json.loads((out / "report.json").read_text())
    assert saved == printed and saved["schema"] == "ganeval-evaluation/1"
    assert load_report(out)[0].to_dict() == saved
    ev = evaluate(path, ring8, n_samples=N)
    assert saved["metrics"] == ev.to_dict()["metrics"]
    csv = pd.read_csv(out / "metrics.csv")
    assert len(csv) == 1 and csv.loc[0, "mode_coverage.modes_covered"] == 2 and csv.loc[0, "n_samples"] == N
    # index.html: self-contained; each inline image is exactly one of the PNGs written beside it.
    page = (out / "index.html").read_text()
    parser = _Imgs()
    parser.feed(page)
    pngs = {p.read_bytes() for p in out.glob("*.png")}
    assert len(parser.srcs) == len(pngs) >= 1
    for src in parser.srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]) in pngs
    assert all(v.startswith("data:") for _, _, v in parser.refs), parser.refs
    assert "http://" not in page and "https://" not in page and "<script" not in page
    for png in pngs:
        assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_folder_report_cli(tmp_path, run_dir, capsys):
    items = expand([run_dir])
    assert [Path(str(i.source)).name for i in items] == ["a.pt", "c.pt", "b.pt"]  # by step, not by name
    out = tmp_path / "runrep"
    rc = main(["report", str(run_dir), "--data", "ring8", "--n-samples", str(N), "--out", str(out)])
    assert rc == 0
    table = capsys.readouterr().out.split("\nPaired comparison")[0]  # the paired tables repeat the labels
    lines = [ln for ln in table.splitlines() if ".pt" in ln]
    assert [ln.split()[0].split("/")[-1] for ln in lines] == ["a.pt", "c.pt", "b.pt"]
    assert [int(ln.split()[1]) for ln in lines] == [5, 20, 300]
    rep = json.loads((out / "report.json").read_text())
    assert rep["schema"] == "ganeval-report/1" and rep["groups"][0]["evaluations"] == [0, 1, 2]
    assert [e["metrics"]["mode_coverage"]["modes_covered"] for e in rep["evaluations"]] == [1, 4, 8]
    csv = pd.read_csv(out / "metrics.csv")
    assert list(csv["step"]) == [5, 20, 300] and list(csv["mode_coverage.modes_covered"]) == [1, 4, 8]
    assert (out / "trajectory.png").is_file() and (out / "samples_by_step.png").is_file()
    # The run's diagnosis (ganeval.diagnostics) joins its section, its JSON and the terminal.
    from ganeval.diagnostics import VERDICTS

    diag = rep["groups"][0]["diagnosis"]
    assert diag["verdict"] in VERDICTS and diag["run"] == str(run_dir)
    assert diag["verdict"].upper() in table
    assert f"Diagnosis: {diag['verdict']}" in (out / "index.html").read_text()


def test_several_paths_and_evaluate_many(tmp_path, ring8):
    a = _ckpt(tmp_path / "one.pt", ring8, [3])
    b = _ckpt(tmp_path / "all.pt", ring8, None)
    df, evs = evaluate_many({"one mode": a, "all modes": b}, "ring8", n_samples=N, return_evaluations=True)
    assert list(df["label"]) == ["one mode", "all modes"] and list(df["source"]) == [str(a), str(b)]
    assert list(df["mode_coverage.modes_covered"]) == [1, 8]
    assert len(evs) == 2 and evs[0].samples.shape == (N, 2)
    assert [i.label for i in expand([a, b])] == ["one.pt", "all.pt"]
    out = write_report(evs, tmp_path / "two", items=expand({"one mode": a, "all modes": b}))
    assert (out / "00_one-mode_samples.png").is_file() and (out / "01_all-modes_samples.png").is_file()
    assert len(load_report(out)) == 2


def test_caveats_beside_numbers(tmp_path):
    fid = {"value": 12.5, "ci_low": 11.0, "ci_high": 14.0, "n_real": 1000, "n_fake": 2500}
    parzen = {"log_likelihood": -310.0, "stderr": 2.0, "sigma": 0.2, "dim": 784}
    ev = Evaluation.from_dict({"schema": "ganeval-evaluation/1", "source": "g.pt", "data": "mnist",
                               "metrics": {"fid": fid, "parzen": parzen},
                               "provenance": {"n_samples": 2500, "seed": 0, "dataset": {"shape": [1, 28, 28]},
                                              "features": {"name": "mnist", "sha256": "ab"}}})
    text = terminal_summary([ev])
    assert "12.5 [11, 14]" in text and "2500" in text and "1000" in text
    assert "Theis" in text and "D = 784" in text
    out = write_report(ev, tmp_path / "cav")
    page = (out / "index.html").read_text()
    rows = [r for r in page.split("<tr>") if r.startswith("<td>fid</td>") or r.startswith("<td>parzen</td>")]
    assert len(rows) == 2
    assert "depends on N" in rows[0] and "2500 generated vs 1000 real" in rows[0]
    assert "Theis" in rows[1] and "-310 ± 2" in rows[1]


def test_atomic_on_failing_figure(tmp_path, ring8, monkeypatch):
    path = _ckpt(tmp_path / "g.pt", ring8, None)
    ev = evaluate(path, ring8, n_samples=N)
    out = tmp_path / "rep"

    def boom(evaluation):
        raise RuntimeError("figure failed")

    monkeypatch.setitem(figreg.FIGURES, "summary", [boom])
    with pytest.raises(RuntimeError, match="figure failed"):
        write_report(ev, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.pt"]  # no report, no temporary folder

    # An existing report survives a failed (or interrupted) rewrite untouched.
    monkeypatch.setitem(figreg.FIGURES, "summary", [])
    write_report(ev, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupted(evaluation):
        raise KeyboardInterrupt

    monkeypatch.setitem(figreg.FIGURES, "summary", [interrupted])
    with pytest.raises(KeyboardInterrupt):
        write_report(ev, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.pt", "rep"]


def test_report_errors(tmp_path, ring8, capsys):
    assert main(["report", str(tmp_path / "missing.pt"), "--data", "ring8", "--out", str(tmp_path / "x")]) == 2
    assert "missing.pt" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty"), "--data", "ring8", "--out", str(tmp_path / "y")]) == 2
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    (tmp_path / "file").write_text("x")
    ev = Evaluation.from_dict({"schema": "ganeval-evaluation/1", "source": "s", "data": "ring8", "metrics": {},
                               "provenance": {}})
    with pytest.raises(GanevalError, match="not a folder"):
        write_report(ev, tmp_path / "file")


def _line_figures(n: int) -> list:
    from matplotlib.figure import Figure

    figs = []
    for i in range(n):
        fig = Figure(figsize=(3, 2), layout="tight")
        ax = fig.subplots()
        ax.plot(range(10), [x ** (1 + i / n) for x in range(10)])
        ax.set_title(f"figure {i}")
        figs.append(fig)
    return figs


def test_parallel_drawing_gives_the_same_pngs(monkeypatch):
    from ganeval.report import render

    monkeypatch.setattr(render.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(render.sys, "platform", "linux")
    monkeypatch.delenv("GANEVAL_RENDER_WORKERS", raising=False)
    assert render.workers_for(6) == 2 and render.workers_for(render.MIN_FIGURES - 1) == 1
    monkeypatch.setenv("GANEVAL_RENDER_WORKERS", "1")
    assert render.workers_for(6) == 1
    for bad in ("two", "0"):
        monkeypatch.setenv("GANEVAL_RENDER_WORKERS", bad)
        with pytest.raises(GanevalError, match="GANEVAL_RENDER_WORKERS"):
            render.workers_for(6)
    monkeypatch.setenv("GANEVAL_RENDER_WORKERS", "1")
    serial = render.render_all(_line_figures(6))
    monkeypatch.setenv("GANEVAL_RENDER_WORKERS", "2")
    parallel = render.render_all(_line_figures(6))
    assert all(p.startswith(b"\x89PNG") for p in parallel)
    assert parallel == serial  # same bytes, same order
    assert len(set(parallel)) == 6


def test_a_figure_failing_in_a_worker_fails_the_report(monkeypatch):
    from matplotlib.artist import Artist

    from ganeval.report import render

    class Broken(Artist):
        def draw(self, renderer):
            raise RuntimeError("this artist cannot be drawn")

    monkeypatch.setattr(render.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(render.sys, "platform", "linux")
    monkeypatch.setenv("GANEVAL_RENDER_WORKERS", "2")
    figs = _line_figures(5)
    figs[3].axes[0].add_artist(Broken())
    with pytest.raises(RuntimeError, match="cannot be drawn"):
        render.render_all(figs)
