"""Write a report folder atomically: build everything in a temporary sibling, then rename.

A report folder holds ``index.html`` (self-contained), ``report.json``, ``metrics.csv`` and one
PNG per figure. Evaluations are grouped into sections: one per checkpoint, or one per run folder
(its checkpoints ordered by step, with trajectories).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..compare import Item, to_frame
from ..errors import GanevalError
from ..evaluate import Evaluation
from ..results import dumps
from . import html, plots, runs
from .fig_diagnostics import run_figures
from .figures import figures_for
from .render import render_all

REPORT_SCHEMA = "ganeval-report/1"


@dataclass
class Group:
    """Evaluations shown together: one checkpoint, or a run folder's checkpoints ordered by step."""

    label: str
    evaluations: list[Evaluation]
    labels: list[str]
    indices: list[int]
    run: Path | None = None
    diagnosis: Any = None  # a Diagnosis, or the GanevalError that prevented one


def make_groups(evaluations: list[Evaluation], items: list[Item] | None = None,
                diagnoses: dict[Path, Any] | None = None) -> list[Group]:
    """Consecutive evaluations expanded from the same run folder form one group; others stand alone."""
    groups: list[Group] = []
    for i, ev in enumerate(evaluations):
        it = items[i] if items is not None else None
        label = it.label if it else (Path(ev.source).name if ev.source else f"#{i}")
        run = it.run if it else None
        if run is not None and groups and groups[-1].run == run:
            g = groups[-1]
            g.evaluations.append(ev)
            g.labels.append(label)
            g.indices.append(i)
        else:
            diag = (diagnoses or {}).get(run) if run is not None else None
            groups.append(Group(run.name if run is not None else label, [ev], [label], [i], run, diag))
    return groups


def _diagnosis_json(diag: Any) -> Any:
    if diag is None:
        return None
    if isinstance(diag, Exception):
        return {"error": str(diag)}
    return diag.to_dict()


def report_json(evaluations: list[Evaluation], groups: list[Group] | None = None,
                paired: Any = None) -> dict[str, Any]:
    """One lone evaluation: its ``to_dict()``; otherwise ``{"schema": "ganeval-report/1", "evaluations": [...],
    "groups": [{"label", "run", "evaluations": [indices], "diagnosis": {...} or null}]}``, plus
    ``"paired"`` (:meth:`~ganeval.report.paired_section.PairedSection.to_dict`, or ``{"skipped": why}``)
    when ``paired`` is given."""
    groups = groups if groups is not None else make_groups(evaluations)
    if len(evaluations) == 1 and all(g.run is None for g in groups):
        return evaluations[0].to_dict()
    out: dict[str, Any] = {"schema": REPORT_SCHEMA, "evaluations": [e.to_dict() for e in evaluations],
           "groups": [{"label": g.label, "run": str(g.run) if g.run else None, "evaluations": g.indices,
                       "diagnosis": _diagnosis_json(g.diagnosis)} for g in groups]}
    # --- paired comparison (ganeval/report/paired_section.py)
    if paired is not None:
        out["paired"] = {"skipped": paired} if isinstance(paired, str) else paired.to_dict()
    # --- end of paired comparison
    return out


def load_report(path: str | os.PathLike[str]) -> list[Evaluation]:
    """Evaluations (metrics as plain dicts) from a ``report.json`` or an evaluation JSON.

    Raises:
        GanevalError: unreadable file or unknown schema.
    """
    import json

    p = Path(path)
    if p.is_dir():
        p = p / "report.json"
    try:
        d = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise GanevalError(f"{p}: not a readable report JSON ({exc}).") from exc
    if isinstance(d, dict) and d.get("schema") == REPORT_SCHEMA:
        return [Evaluation.from_dict(e) for e in d.get("evaluations", [])]
    return [Evaluation.from_dict(d)]


def compute_paired(evaluations: list[Evaluation], items: list[Item] | None = None, **kwargs: Any) -> Any:
    """The paired section of these evaluations (labels from ``items``), or why there is none."""
    from .paired_section import paired_section

    labels = [it.label for it in items] if items is not None else [
        Path(ev.source).name if ev.source else f"#{i}" for i, ev in enumerate(evaluations)]
    if len(set(labels)) != len(labels):
        labels = [f"{lab} [{i}]" for i, lab in enumerate(labels)]
    return paired_section(evaluations, labels, **kwargs)


def _slug(text: str) -> str:
    text = re.sub(r"\.(pt|pth|ckpt|pt2|jit|ts|npy|npz)$", "", text)  # "g.pt" -> "g"
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")[:40] or "x"


def _title(ev: Evaluation, label: str) -> str:
    step = ev.provenance.get("checkpoint", {}).get("step")
    return f"{label} on {ev.data}" + (f" (step {step})" if step is not None else "")


def _group_figures(g: Group) -> list[tuple[str, Any, str]]:
    """(stem, figure, caption) for a group: run trajectories, then the last checkpoint's figures."""
    out: list[tuple[str, Any, str]] = []
    if len(g.evaluations) > 1:
        for made, stem in ((runs.trajectory_figure(g.evaluations, f"{g.label}: metrics by step"), "trajectory"),
                           (runs.samples_over_steps_figure(g.evaluations, f"{g.label}: samples by step"),
                            "samples_by_step")):
            if made is not None:
                out.append((stem, made[0], made[1]))
    if g.diagnosis is not None and not isinstance(g.diagnosis, Exception):
        out.extend(run_figures(g.diagnosis))
    last, label = g.evaluations[-1], g.labels[-1]
    if last.samples is not None:
        what = ("a grid of generated images" if last.samples.ndim == 4 else
                "generated samples (red) over the data density (grey), modes marked" if last.samples.shape[-1] == 2
                else "generated samples projected on the test data's two principal directions")
        out.append(("samples", plots.samples_figure(last.samples, last.dataset, title=_title(last, label)),
                    f"{what}; {last.samples.shape[0]} samples, seed {last.provenance.get('seed')}."))
        out.extend(figures_for(last))
    return out


def _write(evaluations: list[Evaluation], groups: list[Group], items: list[Item] | None, out: Path,
           title: str, paired: Any = None) -> list[str]:
    files = ["report.json", "metrics.csv", "index.html"]
    (out / "report.json").write_text(dumps(report_json(evaluations, groups, paired)) + "\n")
    to_frame(evaluations, items).to_csv(out / "metrics.csv", index=False)
    sections = []
    for gi, g in enumerate(groups):
        prefix = "" if len(groups) == 1 else f"{gi:02d}_{_slug(g.label)}_"
        sec = html.Section(title=g.label if g.run is None else f"run {g.label} ({len(g.evaluations)} checkpoints)",
                           evaluations=g.evaluations, labels=g.labels)
        if isinstance(g.diagnosis, Exception):
            sec.notes.append(f"No run diagnosis: {g.diagnosis}")
        elif g.diagnosis is not None:
            d = g.diagnosis
            sec.notes.append(f"Diagnosis: {d.verdict} (confidence {d.confidence:.2f}). {d.summary}")
            sec.details.append(("run diagnosis: evidence and notes", d.text()))
        used: set[str] = set()
        made = _group_figures(g)
        for (stem, _, caption), png in zip(made, render_all([fig for _, fig, _ in made])):
            name, k = f"{prefix}{_slug(stem)}", 2
            while name in used:
                name, k = f"{prefix}{_slug(stem)}_{k}", k + 1
            used.add(name)
            (out / f"{name}.png").write_bytes(png)
            files.append(f"{name}.png")
            sec.figures.append(html.Figure(f"{name}.png", png, caption))
        from .fig_conditional import class_table  # per-class results of a conditional generator

        if (table := class_table(g.evaluations[-1])) is not None:
            sec.tables.append((f"{g.labels[-1]}: {table[0]}", table[1], table[2]))
        sections.append(sec)
    from .paired_section import section_html  # the paired comparison, right under the summary table

    (out / "index.html").write_text(html.render(sections, title=title, top=section_html(paired)), encoding="utf-8")
    return files


def write_report(evaluations: Evaluation | list[Evaluation], out_dir: str | os.PathLike[str], *,
                 items: list[Item] | None = None, diagnoses: dict[Path, Any] | None = None,
                 overwrite: bool = True, title: str | None = None, paired: Any = True) -> Path:
    """Write ``index.html``, ``report.json``, ``metrics.csv`` and PNG figures into ``out_dir``.

    Everything is written into a temporary folder beside ``out_dir`` and renamed into place at
    the end; if anything fails (or is interrupted), no folder and no partial file is left behind,
    and an existing report at ``out_dir`` is left as it was.

    Args:
        evaluations: in-memory evaluations (figures need their samples).
        out_dir: the report folder.
        items: the :class:`~ganeval.compare.Item` each evaluation came from (labels, run folders),
            as :func:`ganeval.compare.expand` returns them; None: each evaluation stands alone.
        diagnoses: ``{run folder: Diagnosis}`` (:func:`ganeval.compare.diagnose_runs`): the verdict,
            its evidence and the diagnosis figures join the run's section.
        overwrite: replace an existing report folder.
        title: page title (default: the checkpoints' names and the data).
        paired: the "Paired comparison" section (:mod:`ganeval.report.paired_section`): True
            computes it with its cheap defaults when there are two or more checkpoints, False
            leaves it out, or a precomputed ``PairedSection`` (or a reason string) to show.

    Raises:
        GanevalError: ``out_dir`` exists and is not a folder, or exists and ``overwrite`` is False;
            ``items`` does not match ``evaluations``.
    """
    evs = [evaluations] if isinstance(evaluations, Evaluation) else list(evaluations)
    if not evs:
        raise GanevalError("write_report: no evaluations to report.")
    if items is not None and len(items) != len(evs):
        raise GanevalError(f"write_report: {len(items)} items for {len(evs)} evaluations; pass one item each.")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise GanevalError(f"{out}: exists and is not a folder; choose another --out.")
    if out.exists() and not overwrite:
        raise GanevalError(f"{out}: already exists; remove it or choose another --out.")
    groups = make_groups(evs, items, diagnoses)
    if paired is True:
        paired = compute_paired(evs, items) if len(evs) > 1 else None
    elif paired is False:
        paired = None
    title = title or f"ganeval: {', '.join(g.label for g in groups[:4])}{' …' if len(groups) > 4 else ''} " \
                     f"on {', '.join(sorted({e.data for e in evs}))}"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a report is an ordinary folder
        _write(evs, groups, items, tmp, title, paired)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / "report")
            try:
                os.replace(tmp, out)
            except BaseException:
                os.replace(old / "report", out)  # put the previous report back
                raise
            finally:
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
