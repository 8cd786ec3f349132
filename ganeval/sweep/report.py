"""The sweep report: every metric against the step for every run (mean over seeds, with intervals),
the best checkpoint per run and metric, and the failed jobs; as index.html + CSV + JSON.

Built from the store's records alone (no checkpoint is read), with the report package's
rendering pieces: its page style, figure renderer and headline fields.
"""

from __future__ import annotations

import base64
import html
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..results import dumps

SCHEMA = "ganeval-sweep-report/1"


def _frame(res: Any) -> Any:
    import pandas as pd

    from .store import flat_row

    rows = []
    for j in res.jobs:
        rec = res.store.get(j.key)
        if rec is not None:
            rows.append(flat_row(rec) | {"run": j.run or j.label, "label": j.label})
    return pd.DataFrame(rows)


def _series(df: Any) -> dict[tuple[str, str], Any]:
    """``{(metric, field): frame of run, step, mean, low, high}`` over the successful records."""
    from ..report.summary import headline_fields, primary_field

    out: dict[tuple[str, str], Any] = {}
    ok = df[df["status"] == "ok"] if len(df) else df
    for metric, sub in ok.groupby("metric") if len(ok) else []:
        cols = {c[len(metric) + 1:]: c for c in sub.columns if c.startswith(f"{metric}.") and sub[c].notna().any()}
        sample = {k: sub[c].dropna().iloc[0] for k, c in cols.items()}
        for fld in headline_fields(metric, sample):
            if fld.startswith("n_") or not isinstance(sample.get(fld), (int, float)):
                continue
            g = sub.assign(_x=sub[cols[fld]].astype(float), _step=sub["step"].fillna(-1))
            # interval: the spread over seeds, widened by the metric's own interval where it has one
            lo_c, hi_c = cols.get("ci_low"), cols.get("ci_high")
            g["_lo"] = g[lo_c].astype(float) if lo_c and fld == primary_field(metric) else g["_x"]
            g["_hi"] = g[hi_c].astype(float) if hi_c and fld == primary_field(metric) else g["_x"]
            agg = g.groupby(["run", "_step"]).agg(mean=("_x", "mean"), low=("_lo", "min"), high=("_hi", "max"),
                                                  seeds=("_x", "size"), label=("label", "first")).reset_index()
            out[(metric, fld)] = agg.rename(columns={"_step": "step"})
    return out


def _best(series: dict[tuple[str, str], Any]) -> list[dict[str, Any]]:
    from ..registry import METRICS

    rows = []
    for (metric, fld), agg in series.items():
        spec = METRICS.get(metric)
        direction = spec.directions.get(fld) if spec is not None else None
        if direction not in ("lower", "higher"):
            continue
        for run, sub in agg.groupby("run"):
            i = sub["mean"].idxmin() if direction == "lower" else sub["mean"].idxmax()
            r = sub.loc[i]
            rows.append({"run": run, "metric": metric, "field": fld, "direction": direction,
                         "best_checkpoint": r["label"], "step": None if r["step"] < 0 else int(r["step"]),
                         "mean_over_seeds": float(r["mean"]), "seeds": int(r["seeds"])})
    return rows


def _figure(series: dict[tuple[str, str], Any]) -> Any:
    from matplotlib.figure import Figure

    from ..report.summary import column_name

    keys = list(series)[:12]
    if not keys:
        return None
    ncols = min(3, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    fig = Figure(figsize=(4 * ncols, 2.8 * nrows), layout="tight")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, key in zip(axes.flat, keys):
        for run, sub in series[key].sort_values("step").groupby("run"):
            line = ax.plot(sub["step"], sub["mean"], marker="o", ms=3, label=Path(str(run)).name)[0]
            ax.fill_between(sub["step"], sub["low"], sub["high"], alpha=0.2, color=line.get_color())
        ax.set_title(column_name(*key), fontsize=10)
        ax.set_xlabel("step")
    for ax in list(axes.flat)[len(keys):]:
        ax.set_axis_off()
    axes.flat[0].legend(fontsize=7)
    return fig


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>" for r in rows)
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def write_sweep_report(res: Any, out_dir: str | os.PathLike[str]) -> Path:
    """Write ``index.html``, ``results.csv``, ``best.csv``, ``failed.csv`` and ``sweep.json`` atomically.

    Args:
        res: a :class:`~ganeval.sweep.SweepResult`.
        out_dir: the report folder (replaced whole).
    """
    from ..report.html import CSS
    from ..report.render import render

    df = _frame(res)
    series = _series(df)
    best = _best(series)
    failed = [{"label": j.label, "seed": j.seed, "metric": j.metric, "error": e} for j, e in res.failed]
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        os.chmod(tmp, 0o755)
        df.to_csv(tmp / "results.csv", index=False)
        import pandas as pd

        pd.DataFrame(best).to_csv(tmp / "best.csv", index=False)
        pd.DataFrame(failed, columns=["label", "seed", "metric", "error"]).to_csv(tmp / "failed.csv", index=False)
        summary = {"schema": SCHEMA, "jobs": len(res.jobs), "cached": res.cached, "computed": res.done,
                   "failed": failed, "best": best, "store": str(res.store.root),
                   "series": {f"{m}.{f}": s.to_dict(orient="records") for (m, f), s in series.items()}}
        (tmp / "sweep.json").write_text(dumps(summary) + "\n")
        fig = _figure(series)
        parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>ganeval sweep</title>",
                 f"<style>{CSS}</style></head><body><h1>ganeval sweep</h1>",
                 f"<p class='meta'>{len(res.jobs)} jobs: {res.cached} from the store, {res.done} computed, "
                 f"{len(failed)} failed. Store: {html.escape(str(res.store.root))}</p>"]
        if fig is not None:
            png = render(fig)
            (tmp / "metrics_by_step.png").write_bytes(png)
            parts.append(f"<h2>Metrics against step</h2><figure><img src='data:image/png;base64,"
                         f"{base64.b64encode(png).decode('ascii')}' alt='metrics by step'><figcaption>Mean over "
                         "seeds per checkpoint; bands span the seeds and the metrics' own intervals."
                         "</figcaption></figure>")
        parts += ["<h2>Best checkpoint per run and metric</h2>", _table(best),
                  "<h2>Failed jobs</h2>", _table(failed), "</body></html>"]
        (tmp / "index.html").write_text("\n".join(parts), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


__all__ = ["write_sweep_report"]
