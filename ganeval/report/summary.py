"""Headline numbers, caveats and the summary table shared by the terminal, CSV and HTML views.

Each metric shows a few *headline* fields (``HEADLINE``); a field named ``value`` is shown with its
interval (``ci_low``/``ci_high``) or standard error (``stderr``) beside it. Metrics not listed
show their first few numeric fields. Caveats (``CAVEATS``) are short warnings attached to the
numbers they qualify: Parzen estimates in high dimension, FID's dependence on the sample count.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from ..evaluate import Evaluation

# Fields shown in the summary table for each metric ("value" carries its interval along).
HEADLINE: dict[str, tuple[str, ...]] = {
    "summary": ("std_ratio",),
    "mode_coverage": ("modes_covered", "hq_fraction", "reverse_kl"),
    "fid": ("value", "n_fake", "n_real"),
    "kid": ("value",),
    "parzen": ("log_likelihood", "sigma"),
    "prdc": ("precision", "recall", "density", "coverage"),
    "memorisation": ("copy_rate", "c_t", "distance_ratio"),
    "class_coverage": ("classes_covered", "reverse_kl"),
    "ndb": ("ndb", "ndb_fraction"),
}
# The field that carries the metric's interval / standard error (default "value").
PRIMARY: dict[str, str] = {"parzen": "log_likelihood"}
GENERIC_FIELDS = 3
_INTERVAL = ("ci_low", "ci_high")
_SE = ("stderr", "std_err", "se", "standard_error")


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def fmt(v: Any) -> str:
    """Format a scalar for tables: 4 significant digits, integers as they are, None as '-'."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.4g}"
    return str(v)


def headline_fields(name: str, d: dict[str, Any]) -> list[str]:
    """The fields of metric ``name`` shown in summaries (those present in ``d``)."""
    if name in HEADLINE:
        return [f for f in HEADLINE[name] if f in d]
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
        lvl = f" ({100 * float(level):g}%)" if _is_num(level) else ""
        return f"{text} [{fmt(d['ci_low'])}, {fmt(d['ci_high'])}]{lvl}"
    se = next((d[k] for k in _SE if d.get(k) is not None), None)
    return f"{text} ± {fmt(se)}" if se is not None else text


def column_name(metric: str, field: str) -> str:
    return metric if field == PRIMARY.get(metric, "value") else f"{metric}.{field}"


# ---------------------------------------------------------------------------------------------
# caveats

Caveat = Callable[[dict[str, Any], Evaluation], "str | None"]
CAVEATS: dict[str, list[Caveat]] = {}


def register_caveat(metric: str) -> Callable[[Caveat], Caveat]:
    """Register ``fn(metric_dict, evaluation) -> str | None``: a warning shown beside ``metric``."""

    def deco(fn: Caveat) -> Caveat:
        CAVEATS.setdefault(metric, []).append(fn)
        return fn

    return deco


def _dim(ev: Evaluation) -> int | None:
    shape = ev.provenance.get("dataset", {}).get("shape")
    return math.prod(shape) if shape else None


@register_caveat("parzen")
def _parzen_caveat(d: dict[str, Any], ev: Evaluation) -> str:
    dim = d.get("dim") or _dim(ev)
    where = f" (here D = {dim})" if dim else ""
    return ("Parzen-window log-likelihood is unreliable beyond a few dimensions" + where +
            ": it can rank a model below one that memorises, and needs impractically many samples "
            "(Theis, van den Oord & Bethge, 2015, 'A note on the evaluation of generative models').")


@register_caveat("fid")
def _fid_caveat(d: dict[str, Any], ev: Evaluation) -> str:
    n_fake, n_real = d.get("n_fake"), d.get("n_real")
    feats = (ev.provenance.get("features") or {}).get("name")
    return (f"FID is biased upward at finite N and depends on N (here {fmt(n_fake)} generated vs {fmt(n_real)} real"
            + (f", {feats} features" if feats else "") +
            "): compare values only at equal N and features (Chong & Forsyth, 2020).")


@register_caveat("kid")
def _kid_caveat(d: dict[str, Any], ev: Evaluation) -> str | None:
    feats = (ev.provenance.get("features") or {}).get("name")
    return f"KID values are comparable only with the same features ({feats})." if feats else None


def caveats_for(ev: Evaluation, metric: str) -> list[str]:
    """The caveats for ``metric`` of ``ev``: registered ones plus the result's own ``caveat(s)``/``warning(s)``.

    (A result's ``notes``, e.g. round-off clamps, stay in its numbers, not among the caveats.)
    """
    d = ev.metric_dict(metric)
    out = [c for fn in CAVEATS.get(metric, []) if (c := fn(d, ev))]
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
    first = {}
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
            row.append(format_value(d, f, PRIMARY.get(m, "value")) if f in d else "")
        rows.append(row)
    return headers, rows


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    """Align a table for the terminal (columns separated by two spaces, a rule under the header)."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
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
