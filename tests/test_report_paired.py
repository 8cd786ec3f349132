"""The report's "Paired comparison" section (ganeval/report/paired_section.py) on ring8 checkpoints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ganeval import evaluate, load_dataset, save_generator
from ganeval.cli import main
from ganeval.paired import holm
from ganeval.report import paired_section as ps
from ganeval.report import write_report
from ganeval.toy import mixture_generator

N = 400
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _ckpt(path: Path, modes) -> str:
    save_generator(path, mixture_generator("ring8", modes), factory="ganeval.toy:mixture_generator",
                   factory_kwargs={"data": "ring8", "modes": modes}, latent_dim=3, data="ring8")
    return str(path)


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("paired")
    out = {"healthy": _ckpt(d / "healthy.pt", None), "collapsed": _ckpt(d / "collapsed.pt", [0])}
    out["copy"] = str(shutil.copy(out["healthy"], d / "copy.pt"))
    return out


def _field(section: dict, metric: str, fld: str) -> dict:
    return next(f for f in section["fields"] if f["metric"] == metric and f["field"] == fld)


def _rows(f: dict) -> dict[str, dict]:
    return {r["label"]: r for r in f["rows"]}


def test_collapsed_checkpoint_is_last_in_json_html_and_terminal(tmp_path, ckpts, capsys):
    out = tmp_path / "rep"
    rc = main(["report", ckpts["healthy"], ckpts["collapsed"], "--data", "ring8", "--n-samples", str(N),
               "--metrics", "mode_coverage,fid,kid", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    rep = json.loads((out / "report.json").read_text())
    sec = rep["paired"]
    assert sec["checkpoints"] == ["healthy.pt", "collapsed.pt"] and sec["paired_latents"] is True
    assert sec["n_bootstrap"] == ps.DEFAULT_BOOTSTRAP and sec["n_samples"] == N
    for metric, fld in (("fid", "value"), ("kid", "value"), ("mode_coverage", "modes_covered"),
                        ("mode_coverage", "reverse_kl")):
        f = _field(sec, metric, fld)
        rows = _rows(f)
        bad, good = rows["collapsed.pt"], rows["healthy.pt"]
        assert f["best"] == "healthy.pt", (metric, fld)
        assert bad["p_best"] <= 0.01 and good["p_best"] >= 0.99, (metric, fld)
        assert bad["rank"] == 2 and bad["rank_low"] == 2
        assert good["delta"] == 0 and good["p_holm"] == 1
        # worse than the best, with an interval that excludes 0 on the worse side
        worse = bad["delta"] > 0 if f["direction"] == "lower" else bad["delta"] < 0
        assert worse and (bad["ci_low"] > 0 or bad["ci_high"] < 0) and bad["p_holm"] < 0.05
    # The bare values are still there, and the paired FID is the report's own FID of the same samples.
    fid_bare = [e["metrics"]["fid"]["value"] for e in rep["evaluations"]]
    fid_rows = _rows(_field(sec, "fid", "value"))
    assert fid_rows["healthy.pt"]["value"] == pytest.approx(fid_bare[0], rel=1e-9)
    assert fid_rows["collapsed.pt"]["value"] == pytest.approx(fid_bare[1], rel=1e-9)
    assert fid_rows["collapsed.pt"]["delta"] == pytest.approx(fid_bare[1] - fid_bare[0], rel=1e-9)
    page = (out / "index.html").read_text()
    assert "<h2 id='paired'>Paired comparison</h2>" in page
    assert page.index("Paired comparison") < page.index("<h2>healthy.pt</h2>")  # above the per-checkpoint detail
    assert f"{fid_rows['collapsed.pt']['delta']:+.4g}" in page and "P(best)" in page
    assert "Paired comparison" in printed and "collapsed.pt" in printed.split("Paired comparison")[1]


def test_identical_checkpoints_give_zero_difference(tmp_path, ckpts):
    ds = load_dataset("ring8")
    evs = [evaluate(ckpts[k], ds, n_samples=N, metrics=["mode_coverage", "fid"], device="cpu")
           for k in ("healthy", "copy", "collapsed")]
    sec = ps.paired_section(evs, ["healthy", "copy", "collapsed"], device="cpu")
    assert isinstance(sec, ps.PairedSection)
    for f in sec.fields:
        rows = {r.label: r for r in f.rows}
        h, c = rows["healthy"], rows["copy"]
        if f.best in ("healthy", "copy"):
            other = c if f.best == "healthy" else h
            assert other.delta == 0 and other.ci_low == 0 and other.ci_high == 0 and other.p_value == 1
        assert h.value == c.value and h.p_best == c.p_best and h.rank == c.rank
    fid = next(f for f in sec.fields if f.metric == "fid")
    rows = {r.label: r for r in fid.rows}
    assert rows["healthy"].p_best == pytest.approx(0.5) and rows["collapsed"].p_best == 0
    # The raw p-values are the engine's; Holm adjusts them over the two comparisons with the best.
    from ganeval.paired import compare_samples

    comp = compare_samples({k: e.samples for k, e in zip(["healthy", "copy", "collapsed"], evs)}, ds,
                           metrics=["fid"], n_bootstrap=ps.default_bootstrap(3), device="cpu")
    pairs = comp.pairs().set_index(["a", "b"])
    raw = [pairs.loc[("healthy", "copy"), "p_value"], pairs.loc[("healthy", "collapsed"), "p_value"]]
    assert fid.best == "healthy" and [rows["copy"].p_value, rows["collapsed"].p_value] == raw
    assert [rows["copy"].p_holm, rows["collapsed"].p_holm] == list(holm(raw))
    assert rows["collapsed"].p_holm == pytest.approx(2 * raw[1]) and rows["collapsed"].p_holm < 0.05


def test_replicates_let_the_holm_adjusted_p_value_reach_the_level():
    assert ps.default_bootstrap(2) == ps.default_bootstrap(3) == ps.DEFAULT_BOOTSTRAP
    assert ps.default_bootstrap(10) == 719
    for k in range(2, 26):
        b = ps.default_bootstrap(k)
        assert b <= 1000
        if b < 1000:  # the smallest attainable Holm p, (k - 1) * 2 / (B + 1), is at most half of 0.05
            assert (k - 1) * 2 / (b + 1) <= 0.025


def test_no_paired_omits_the_section(tmp_path, ckpts, capsys):
    out = tmp_path / "rep"
    assert main(["report", ckpts["healthy"], ckpts["collapsed"], "--data", "ring8", "--n-samples", str(N),
                 "--no-paired", "--out", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    rep = json.loads((out / "report.json").read_text())
    assert "paired" not in rep and "paired" not in printed
    assert "Paired comparison" not in (out / "index.html").read_text()


def test_wide_fid_is_skipped_with_a_note_unless_asked(monkeypatch, ckpts, tmp_path):
    ds = load_dataset("ring8")
    evs = [evaluate(ckpts[k], ds, n_samples=N, metrics=["fid", "mode_coverage"], device="cpu")
           for k in ("healthy", "collapsed")]
    monkeypatch.setattr(ps, "WIDE_FEATURES", 1)  # ring8's raw features are 2-d: "wide" for this test
    sec = ps.paired_section(evs, ["h", "c"], device="cpu")
    assert "fid" in sec.skipped and "--paired-all" in sec.skipped["fid"]
    assert {f.metric for f in sec.fields} == {"mode_coverage"}
    sec = ps.paired_section(evs, ["h", "c"], device="cpu", expensive=True)
    assert "fid" in {f.metric for f in sec.fields}
    # Evaluations without samples (read back from JSON) get a reason, and the report still writes.
    from ganeval import Evaluation

    bare = [Evaluation.from_dict(e.to_dict()) for e in evs]
    assert "no samples" in ps.paired_section(bare, ["h", "c"])
    out = write_report(evs[:1] + bare[1:], tmp_path / "mixed")
    rep = json.loads((out / "report.json").read_text())
    assert "no samples" in rep["paired"]["skipped"]
