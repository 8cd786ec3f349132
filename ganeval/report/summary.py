"""Headline numbers, caveats and the summary table shared by the terminal, CSV and HTML views.

Each metric shows the *headline* fields of its registration (:class:`ganeval.registry.MetricSpec`);
its primary field (``value`` unless registered otherwise) is shown with its interval
(``ci_low``/``ci_high``) or standard error (``stderr``) beside it. Metrics without headline fields
show their first few numeric fields. Caveats are short warnings attached to the numbers they
qualify (Parzen estimates in high dimension, FID's dependence on the sample count): the metric's
registered ones, those added with :func:`register_caveat`, and the result's own warnings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..evaluate import Evaluation
from ..registry import METRICS, MetricSpec, load_scorers
from ..results import fmt

GENERIC_FIELDS = 3
_INTERVAL = ("ci_low", "ci_high")
_SE = ("stderr", "std_err", "se", "standard_error")


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _spec(name: str) -> MetricSpec | None:
    load_scorers()
    return METRICS.get(name)


def primary_field(name: str) -> str:
    """The field of metric ``name`` that carries its interval / standard error (``value`` unless registered)."""
    spec = _spec(name)
    return spec.primary if spec is not None else "value"


def headline_fields(name: str, d: dict[str, Any]) -> list[str]:
    """The fields of metric ``name`` shown in summaries (those present in ``d``)."""
    spec = _spec(name)
    if spec is not None and spec.headline:
        return [f for f in spec.headline if f in d]
    skip = set(_INTERVAL) | set(_SE)
    out = [k for k, v in d.items() if _is_num(v) and not k.startswith("n_") and k not in skip]
    return out[:GENERIC_FIELDS]


def format_value(d: dict[str, Any], field: str, primary: str = "value") -> str:
    """The ``primary`` field with its interval ``[lo, hi]`` or ``± se``; other fields plainly."""
    text = fmt(d.get(field))
    if field != primary:
        return text
    if d.get("ci_low") is not None and d.get("ci_high") is not None:
        level = d.get("ci_level") or d.get("confidence")
        lvl = f" ({100 * float(level):g}%)" if isinstance(level, (int, float)) and not isinstance(level, bool) else ""
        return f"{text} [{fmt(d['ci_low'])}, {fmt(d['ci_high'])}]{lvl}"
    se = next((d[k] for k in _SE if d.get(k) is not None), None)
    return f"{text} ± {fmt(se)}" if se is not None else text


def column_name(metric: str, field: str) -> str:
    return metric if field == primary_field(metric) else f"{metric}.{field}"


# ---------------------------------------------------------------------------------------------
# caveats

Caveat = Callable[[dict[str, Any], Evaluation], "str | None"]
CAVEATS: dict[str, list[Caveat]] = {}


def register_caveat(metric: str) -> Callable[[Caveat], Caveat]:
    """Register ``fn(metric_dict, evaluation) -> str | None``: a warning shown beside ``metric``.

    A metric's own caveats belong in its registration (``register_metric(..., caveats=...)``); this
    adds caveats to a metric registered elsewhere.
    """

    def deco(fn: Caveat) -> Caveat:
        CAVEATS.setdefault(metric, []).append(fn)
        return fn

    return deco


def caveats_for(ev: Evaluation, metric: str) -> list[str]:
    """The caveats for ``metric`` of ``ev``: registered ones plus the result's own ``caveat(s)``/``warning(s)``.

    (A result's ``notes``, e.g. round-off clamps, stay in its numbers, not among the caveats.)
    """
    d = ev.metric_dict(metric)
    spec = _spec(metric)
    fns: list[Any] = list(spec.caveats if spec is not None else ()) + CAVEATS.get(metric, [])
    out = [c for fn in fns if (c := (fn if isinstance(fn, str) else fn(d, ev)))]
    for key in ("caveat", "caveats", "warning", "warnings"):
        v = d.get(key)
        if isinstance(v, str) and v:
            out.append(v)
        elif isinstance(v, list):
            out.extend(str(x) for x in v if x)
    return out


# ---------------------------------------------------------------------------------------------
# the table


def summary_table(evaluations: list[Evaluation], labels: list[str] | None = None) -> tuple[list[str], list[list[str]]]:
    """Rows: one per evaluation; columns: label, step, N, then every headline field.

    Returns:
        ``(headers, rows)`` of strings; a ``*`` marks columns that carry a caveat.
    """
    labels = labels or [ev.source for ev in evaluations]
    columns: list[tuple[str, str]] = []
    flagged: set[str] = set()
    for ev in evaluations:
        for name in ev.metrics:
            d = ev.metric_dict(name)
            for f in headline_fields(name, d):
                if (name, f) not in columns:
                    columns.append((name, f))
            if caveats_for(ev, name):
                flagged.add(name)
    first: dict[str, str] = {}
    for m, f in columns:
        first.setdefault(m, f)
    # Short names where unambiguous ("modes_covered"), qualified where two metrics share a field.
    short = [f if column_name(m, f) != m else m for m, f in columns]
    names = [sh if short.count(sh) == 1 else column_name(m, f) for sh, (m, f) in zip(short, columns)]
    headers = ["checkpoint", "step", "N"] + [
        name + ("*" if m in flagged and first[m] == f else "") for name, (m, f) in zip(names, columns)]
    rows = []
    for label, ev in zip(labels, evaluations):
        row = [label, fmt(ev.provenance.get("checkpoint", {}).get("step")), fmt(ev.provenance.get("n_samples"))]
        for m, f in columns:
            d = ev.metric_dict(m) if m in ev.metrics else {}
            row.append(format_value(d, f, primary_field(m)) if f in d else "")
        rows.append(row)
    return headers, rows


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    """Align a table for the terminal (columns separated by two spaces, a rule under the header)."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(headers), "  ".join("-" * w for w in widths)] + [line(r) for r in rows])


def terminal_summary(evaluations: list[Evaluation], labels: list[str] | None = None) -> str:
    """The summary table followed by each caveat once (``*`` in the header points to them)."""
    headers, rows = summary_table(evaluations, labels)
    seen: dict[str, None] = {}
    for ev in evaluations:
        for name in ev.metrics:
            for c in caveats_for(ev, name):
                seen.setdefault(f"* {name}: {c}")
    data = sorted({ev.data for ev in evaluations})
    head = f"ganeval on {', '.join(data)}: {len(evaluations)} evaluation(s)"
    return "\n".join([head, text_table(headers, rows)] + list(seen))
