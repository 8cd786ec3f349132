"""Write a report folder atomically: build everything in a temporary sibling, then rename."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..errors import GanevalError
from ..evaluate import Evaluation
from ..results import dumps
from . import plots
from .figures import figures_for


def report_json(evaluations: list[Evaluation]) -> dict[str, Any]:
    """One evaluation: its ``to_dict()``; several: ``{"schema": "ganeval-report/1", "evaluations": [...]}``."""
    if len(evaluations) == 1:
        return evaluations[0].to_dict()
    return {"schema": "ganeval-report/1", "evaluations": [e.to_dict() for e in evaluations]}


def _write(evaluations: list[Evaluation], out: Path) -> list[str]:
    files = ["report.json"]
    (out / "report.json").write_text(dumps(report_json(evaluations)) + "\n")
    for i, ev in enumerate(evaluations):
        if ev.samples is None:
            continue
        name = "samples.png" if len(evaluations) == 1 else f"samples_{i:03d}.png"
        step = ev.provenance.get("checkpoint", {}).get("step")
        title = f"{Path(ev.source).name} on {ev.data}" + (f" (step {step})" if step is not None else "")
        plots.save(plots.samples_figure(ev.samples, ev.dataset, title=title), out / name)
        files.append(name)
        suffix = "" if len(evaluations) == 1 else f"_{i:03d}"
        for stem, fig, _caption in figures_for(ev):
            plots.save(fig, out / f"{stem}{suffix}.png")
            files.append(f"{stem}{suffix}.png")
    return files


def write_report(evaluations: Evaluation | list[Evaluation], out_dir: str | os.PathLike[str], *,
                 overwrite: bool = True) -> Path:
    """Write ``report.json`` and figures into ``out_dir``.

    Everything is written into a temporary folder beside ``out_dir`` and renamed into place at
    the end; if anything fails, no folder (and no partial file) is left behind, and an existing
    report at ``out_dir`` is left as it was.

    Raises:
        GanevalError: ``out_dir`` exists and is not a folder, or exists and ``overwrite`` is False.
    """
    evs = [evaluations] if isinstance(evaluations, Evaluation) else list(evaluations)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise GanevalError(f"{out}: exists and is not a folder; choose another --out.")
    if out.exists() and not overwrite:
        raise GanevalError(f"{out}: already exists; remove it or choose another --out.")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        _write(evs, tmp)
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
