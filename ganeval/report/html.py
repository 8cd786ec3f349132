"""A self-contained ``index.html``: inline CSS, images as base64 data URIs, no script, no external link.

It opens offline, from a mail attachment or a CI artifact, exactly as written.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from typing import Any

from ..evaluate import Evaluation
from ..results import jsonable
from .summary import caveats_for, fmt, format_value, primary_field, summary_table

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
h3{font-size:1.05em}table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right;vertical-align:top}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
td.caveat{text-align:left;color:#8a5300;background:#fff8e6;font-size:.85em;max-width:32em}
.caveats{background:#fff8e6;border-left:4px solid #e0a000;padding:.4em .8em;font-size:.9em}
figure{display:inline-block;margin:.5em 1em 1em 0;vertical-align:top;max-width:100%}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#555;max-width:40em}
pre{background:#f7f7f7;padding:.6em;overflow:auto;font-size:.8em}
.meta{color:#666;font-size:.85em}
.scroll{overflow-x:auto;max-width:100%}
"""


@dataclass
class Figure:
    """A rendered figure: its file name, PNG bytes and caption."""

    file: str
    png: bytes
    caption: str


@dataclass
class Section:
    """One group of the report: a checkpoint, or a run's checkpoints, with their figures."""

    title: str
    evaluations: list[Evaluation]
    labels: list[str]
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: list[tuple[str, str]] = field(default_factory=list)
    tables: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)  # (title, headers, rows)


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _metric_table(ev: Evaluation) -> str:
    """Every scalar field of every metric, with the metric's caveats in a cell beside its numbers."""
    rows = []
    for name in ev.metrics:
        d = ev.metric_dict(name)
        scalars = [(k, v) for k, v in d.items() if v is None or isinstance(v, (int, float, str, bool))]
        primary = primary_field(name)
        shown = ", ".join(f"{k} = {format_value(d, k, primary) if k == primary else fmt(v)}" for k, v in scalars
                          if k not in ("ci_low", "ci_high"))
        cav = " ".join(caveats_for(ev, name))
        notes = d.get("notes")
        if isinstance(notes, list) and notes:
            shown += " · notes: " + "; ".join(str(n) for n in notes)
        rows.append(f"<tr><td>{_e(name)}</td><td style='text-align:left'>{_e(shown)}</td>"
                    f"<td class='caveat'>{_e(cav)}</td></tr>")
    return ("<table><thead><tr><th>metric</th><th style='text-align:left'>numbers</th><th style='text-align:left'>caveat</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _provenance(ev: Evaluation) -> str:
    p = ev.provenance
    ck = p.get("checkpoint") or {}
    feats = p.get("features") or {}
    bits = [f"n = {fmt(p.get('n_samples'))}", f"seed = {fmt(p.get('seed'))}", f"device = {_e(p.get('device'))}",
            f"ganeval {_e(p.get('ganeval'))}, torch {_e(p.get('torch'))}, Python {_e(p.get('python'))}"]
    if ck.get("sha256"):
        bits.append(f"checkpoint sha256 {_e(str(ck['sha256'])[:16])}…")
    if feats.get("name"):
        bits.append(f"features {_e(feats['name'])}" + (f" (sha256 {_e(str(feats['sha256'])[:16])}…)"
                                                      if feats.get("sha256") else ""))
    wall = (p.get("wall_time_s") or {}).get("total")
    if wall is not None:
        bits.append(f"{fmt(wall)} s")
    full = _e(json.dumps(jsonable(p), indent=2))
    # Loading and range notes (an output-range mismatch, where the weights came from) beside the numbers.
    noted = "".join(f"<p class='caveats'>{_e(n)}</p>" for n in (p.get("notes") or []))
    return (f"{noted}<p class='meta'>{' · '.join(bits)}</p>"
            f"<details><summary>provenance</summary><pre>{full}</pre></details>")


def _figure(f: Figure) -> str:
    data = base64.b64encode(f.png).decode("ascii")
    return (f"<figure><img src='data:image/png;base64,{data}' alt='{_e(f.caption or f.file)}'>"
            f"<figcaption><b>{_e(f.file)}</b>: {_e(f.caption)}</figcaption></figure>")


def render(sections: list[Section], *, title: str, top: str = "") -> str:
    """The whole page as one string; ``top``: HTML shown right under the summary (the paired comparison)."""
    evs = [ev for s in sections for ev in s.evaluations]
    labels = [lab for s in sections for lab in s.labels]
    headers, rows = summary_table(evs, labels)
    cav: dict[str, None] = {}
    for ev in evs:
        for name in ev.metrics:
            for c in caveats_for(ev, name):
                cav.setdefault(f"{name}: {c}")
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
             f"<h1>{_e(title)}</h1>", "<h2>Summary</h2>", _table(headers, rows)]
    if cav:
        parts.append("<div class='caveats'><b>* Caveats</b><ul>" +
                     "".join(f"<li>{_e(c)}</li>" for c in cav) + "</ul></div>")
    if top:
        parts.append(top)
    for s in sections:
        parts.append(f"<h2>{_e(s.title)}</h2>")
        parts.extend(f"<p class='caveats'>{_e(n)}</p>" for n in s.notes)
        parts.extend(f"<details><summary>{_e(k)}</summary><pre>{_e(v)}</pre></details>" for k, v in s.details)
        parts.extend(_figure(f) for f in s.figures)
        for caption, headers, rows in s.tables:
            parts.append(f"<h3>{_e(caption)}</h3>" + _table(headers, rows))
        shown = list(range(len(s.evaluations))) if len(s.evaluations) <= 3 else [len(s.evaluations) - 1]
        if len(shown) < len(s.evaluations):
            parts.append("<p class='meta'>Every checkpoint is in the summary table and in report.json / "
                         "metrics.csv; the details below are those of the last one.</p>")
        for i in shown:
            ev, lab = s.evaluations[i], s.labels[i]
            parts.append(f"<h3>{_e(lab)} on {_e(ev.data)}</h3>")
            parts.append(_metric_table(ev))
            parts.append(_provenance(ev))
    parts.append("<p class='meta'>Written by ganeval. Numbers: report.json (schema documented in docs/report.md), "
                 "metrics.csv.</p></body></html>")
    return "\n".join(parts)
