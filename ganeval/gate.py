"""A CI regression gate: compare a checkpoint's metric (FID by default) with a stored baseline.

The decision uses the metric's own uncertainty interval (FID: a bootstrap interval), so that
sampling noise alone does not fail a build.

**Rule** (lower-is-better metrics such as FID): with the baseline interval ``[b_lo, b_hi]``, the
candidate interval ``[c_lo, c_hi]`` and a tolerance ``t`` (``--max-increase X``: ``t = X``;
``--max-rel-increase R``: ``t = R * |b|``; default ``t = 0``), the gate fails when

    c_lo > b_hi + t

i.e. only when the whole candidate interval lies above the whole baseline interval plus the
tolerance. For higher-is-better metrics the mirror image (``c_hi < b_lo - t``) applies.

**False alarms.** If both estimates are (approximately) normal with the same spread ``s`` and
their intervals are ``±z s`` (z = 1.96 for 95%), re-evaluating an unchanged generator with another
seed fails only when ``c - b > 2 z s``, where ``c - b ~ N(0, 2 s^2)``: probability
``1 - Phi(sqrt(2) z)``, which is 0.28% for 95% intervals (at most 5.5% that any of 20 seeds fails,
by the union bound) and 0.014% for 99% intervals (at most 0.28% over 20 seeds). The gate asks
the metric for ``confidence`` = 0.99 intervals by default. FID's bootstrap resamples the real features
too, which the seed does not change, so its interval is wider than the seed-to-seed spread and
the true rate is lower still (``benchmarks/gate_false_alarms.py`` measures it). A regression is
caught as soon as the increase exceeds the two half-widths plus ``t``; a collapsed generator
moves FID by orders of magnitude more than that.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import os
import platform
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import GanevalError
from .registry import METRICS, gateable, load_scorers
from .results import dumps, jsonable

BASELINE_SCHEMA = "ganeval-baseline/1"
DEFAULT_CONFIDENCE = 0.99
DEFAULT_BOOTSTRAP = 200


@dataclass(frozen=True)
class Interval:
    """A metric value with its uncertainty interval."""

    value: float
    low: float
    high: float

    @classmethod
    def of(cls, metric: str, d: dict[str, Any], where: str) -> Interval:
        """Read ``value`` and ``ci_low``/``ci_high`` from a metric's ``to_dict()``.

        Raises:
            GanevalError: the value or its interval is missing or not finite.
        """
        try:
            v, lo, hi = float(d["value"]), float(d["ci_low"]), float(d["ci_high"])
        except (KeyError, TypeError, ValueError) as exc:
            raise GanevalError(
                f"{where}: metric {metric!r} has no value with an interval (ci_low/ci_high); "
                f"the gate needs one: evaluate with bootstrap > 0."
            ) from exc
        # A bootstrap interval need not contain the point estimate (FID's replicates are biased up).
        if not (math.isfinite(v) and math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            raise GanevalError(f"{where}: metric {metric!r} has an invalid interval {v} [{lo}, {hi}].")
        return cls(v, lo, hi)


@dataclass
class Baseline:
    """What the gate compares with: one metric of one checkpoint, and how it was measured."""

    metric: str
    data: str
    interval: Interval
    features: dict[str, Any] | None
    n_samples: int
    seed: int
    options: dict[str, Any]
    source: str
    sha256: str | None
    evaluation: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None  # kept (`--keep-checkpoint`): the gate then runs a paired test against it

    def to_dict(self) -> dict[str, Any]:
        return {"schema": BASELINE_SCHEMA, "metric": self.metric, "data": self.data,
                "value": self.interval.value, "ci_low": self.interval.low, "ci_high": self.interval.high,
                "features": self.features, "n_samples": self.n_samples, "seed": self.seed,
                "options": self.options, "source": self.source, "sha256": self.sha256,
                "evaluation": self.evaluation, "checkpoint": self.checkpoint}

    @classmethod
    def from_dict(cls, d: Any, where: str = "baseline") -> Baseline:
        """Validate and read a baseline dict.

        Raises:
            GanevalError: wrong schema, or a field missing / of the wrong type.
        """
        if not isinstance(d, dict) or d.get("schema") != BASELINE_SCHEMA:
            got = d.get("schema") if isinstance(d, dict) else type(d).__name__
            raise GanevalError(f"{where}: not a ganeval baseline (schema {got!r}, expected {BASELINE_SCHEMA!r}); "
                               "create one with `ganeval baseline CKPT --data NAME -o BASELINE.json`.")
        try:
            metric, data = str(d["metric"]), str(d["data"])
            interval = Interval.of(metric, d, where)
            n, seed = int(d["n_samples"]), int(d["seed"])
            feats = d.get("features")
            if feats is not None and not isinstance(feats, dict):
                raise TypeError("features must be an object or null")
            options = d.get("options") or {}
            if not isinstance(options, dict):
                raise TypeError("options must be an object")
        except (KeyError, TypeError, ValueError) as exc:
            raise GanevalError(f"{where}: malformed baseline ({exc.__class__.__name__}: {exc}); "
                               "re-create it with `ganeval baseline`.") from exc
        kept = d.get("checkpoint")
        return cls(metric, data, interval, feats, n, seed, options, str(d.get("source")), d.get("sha256"),
                   d.get("evaluation") or {}, str(kept) if kept else None)


def load_baseline(path: str | os.PathLike[str]) -> Baseline:
    """Read a baseline JSON.

    Raises:
        GanevalError: missing file, invalid JSON, or not a baseline.
    """
    p = Path(path)
    if not p.is_file():
        raise GanevalError(f"{p}: no such baseline file; create it with `ganeval baseline CKPT --data NAME -o {p}`.")
    try:
        d = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GanevalError(f"{p}: not valid JSON ({exc}); re-create it with `ganeval baseline`.") from exc
    return Baseline.from_dict(d, str(p))


def write_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename (never a half-written file)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def _gate_options(metric: str, options: dict[str, Any] | None, bootstrap: int | None,
                  confidence: float | None) -> dict[str, Any]:
    opts = {k: dict(v) for k, v in (options or {}).items()}
    m = opts.setdefault(metric, {})
    # Only the options the metric declares: an interval's replicates and level, and no FID_inf (the
    # gate compares values at the baseline's N).
    declared = METRICS[metric].options
    if "bootstrap" in declared:
        if bootstrap is not None:
            m["bootstrap"] = int(bootstrap)
        m.setdefault("bootstrap", DEFAULT_BOOTSTRAP)
    if "confidence" in declared:
        if confidence is not None:
            m["confidence"] = float(confidence)
        m.setdefault("confidence", DEFAULT_CONFIDENCE)
    if "infinity" in declared:
        m.setdefault("infinity", False)
    return opts


def direction(metric: str) -> str:
    """Which way is better for a gateable metric (its registered primary field's direction).

    Raises:
        GanevalError: the metric has no registered direction (it cannot be gated).
    """
    load_scorers()
    dirs = gateable()
    if metric not in dirs:
        raise GanevalError(f"Metric {metric!r} cannot be gated: use one of {', '.join(sorted(dirs))} "
                           "(a metric with an interval and a known better direction).")
    return dirs[metric]


def _check_metric(metric: str) -> None:
    direction(metric)


def make_baseline(checkpoint: Any, data: Any, *, metric: str = "fid", seed: int = 0, n_samples: int | None = None,
                  features: str | None = None, bootstrap: int | None = None, confidence: float | None = None,
                  options: dict[str, Any] | None = None, keep_checkpoint: bool = False, **kwargs: Any) -> Baseline:
    """Evaluate ``metric`` of ``checkpoint`` with its interval and return the baseline.

    ``keep_checkpoint=True`` records the checkpoint's absolute path: while that file is readable
    (and its sha256 unchanged) the gate scores baseline and candidate side by side with a paired
    test (:mod:`ganeval.paired.gate`) instead of comparing two intervals.

    Args:
        checkpoint: path or :class:`~ganeval.Generator`.
        data: dataset name, path or :class:`~ganeval.Dataset`.
        metric: the gated metric (one with a registered direction, see :func:`direction`).
        seed, n_samples, features: as :func:`ganeval.evaluate`; recorded and reused by the gate.
        bootstrap: bootstrap replicates for the interval (default 200).
        confidence: interval level (default 0.99).
        options: other per-metric options.
        **kwargs: passed to :func:`ganeval.evaluate` (device, data_root, trust, ...).

    Raises:
        GanevalError: unknown metric, a metric without an interval, or any evaluation error.
    """
    from .evaluate import evaluate

    _check_metric(metric)
    opts = _gate_options(metric, options, bootstrap, confidence)
    ev = evaluate(checkpoint, data, metrics=[metric], features=features, n_samples=n_samples, seed=seed,
                  options=opts, **kwargs)
    d = ev.metric_dict(metric)
    return Baseline(metric=metric, data=ev.data, interval=Interval.of(metric, d, ev.source),
                    features=_features(ev.provenance.get("features")), n_samples=int(ev.provenance["n_samples"]),
                    seed=int(seed), options=jsonable(opts), source=ev.source,
                    sha256=(ev.provenance.get("checkpoint") or {}).get("sha256"), evaluation=ev.to_dict(),
                    checkpoint=_kept_path(checkpoint) if keep_checkpoint else None)


def _kept_path(checkpoint: Any) -> str:
    if not isinstance(checkpoint, (str, os.PathLike)):
        raise GanevalError("--keep-checkpoint needs the baseline checkpoint as a file path, not an in-memory generator.")
    return str(Path(checkpoint).resolve())


def _features(prov: dict[str, Any] | None) -> dict[str, Any] | None:
    if not prov:
        return None
    out = {"name": prov.get("name"), "sha256": prov.get("sha256")}
    if prov.get("resize"):
        out["resize"] = prov["resize"]  # FIDs under different resize modes are different numbers
    return out


@dataclass(frozen=True)
class Decision:
    """The gate's verdict and the numbers behind it."""

    passed: bool
    threshold: float
    tolerance: float
    direction: str
    rule: str


def decide(baseline: Interval, candidate: Interval, *, direction: str = "lower", max_increase: float | None = None,
           max_rel_increase: float | None = None) -> Decision:
    """Apply the rule of the module docstring.

    Args:
        baseline, candidate: the two values with their intervals.
        direction: "lower" (lower is better: a regression is an increase) or "higher".
        max_increase: absolute tolerance on top of the intervals.
        max_rel_increase: tolerance as a fraction of the baseline value (0.1 = 10%).

    Raises:
        GanevalError: both or negative tolerances, or an unknown direction.
    """
    if max_increase is not None and max_rel_increase is not None:
        raise GanevalError("Pass either --max-increase or --max-rel-increase, not both.")
    if direction not in ("lower", "higher"):
        raise GanevalError(f"direction must be 'lower' or 'higher', got {direction!r}.")
    if max_increase is not None:
        if max_increase < 0:
            raise GanevalError(f"--max-increase must be >= 0, got {max_increase}.")
        tol, what = float(max_increase), " (--max-increase)"
    elif max_rel_increase is not None:
        if max_rel_increase < 0:
            raise GanevalError(f"--max-rel-increase must be >= 0, got {max_rel_increase}.")
        tol, what = float(max_rel_increase) * abs(baseline.value), f" ({max_rel_increase:g} x |baseline value|)"
    else:
        tol, what = 0.0, ""
    if direction == "lower":
        threshold = baseline.high + tol
        passed = not candidate.low > threshold
        rule = (f"fail if candidate lower end {candidate.low:.6g} > baseline upper end {baseline.high:.6g} "
                f"+ tolerance {tol:.6g}{what} = {threshold:.6g}")
    else:
        threshold = baseline.low - tol
        passed = not candidate.high < threshold
        rule = (f"fail if candidate upper end {candidate.high:.6g} < baseline lower end {baseline.low:.6g} "
                f"- tolerance {tol:.6g}{what} = {threshold:.6g}")
    return Decision(passed, threshold, tol, direction, rule)


@dataclass
class GateResult:
    """Everything the gate reports: verdict, both intervals, counts, provenance."""

    baseline: Baseline
    candidate: Interval
    decision: Decision
    source: str
    seed: int
    n_samples: int
    counts: dict[str, Any]
    features: dict[str, Any] | None
    wall_time_s: float
    evaluation: dict[str, Any]
    paired: dict[str, Any] | None = None  # the paired test's numbers when it decided (ganeval.paired.gate)

    @property
    def passed(self) -> bool:
        return self.decision.passed

    def to_dict(self) -> dict[str, Any]:
        return jsonable({"passed": self.passed, "metric": self.baseline.metric, "data": self.baseline.data,
                         "rule": self.decision.rule, "threshold": self.decision.threshold,
                         "baseline": self.baseline.to_dict() | {"evaluation": None},
                         "candidate": {"source": self.source, "value": self.candidate.value,
                                       "ci_low": self.candidate.low, "ci_high": self.candidate.high,
                                       "seed": self.seed, "n_samples": self.n_samples, **self.counts},
                         "features": self.features, "wall_time_s": self.wall_time_s, "paired": self.paired})


def run_gate(checkpoint: Any, data: Any, baseline: Baseline | str | os.PathLike[str], *, metric: str | None = None,
             max_increase: float | None = None, max_rel_increase: float | None = None, seed: int = 0,
             n_samples: int | None = None, features: str | None = None, data_root: Any = None,
             download: bool = False, **kwargs: Any) -> GateResult:
    """Evaluate ``checkpoint`` exactly as the baseline was, and decide.

    The sample count, features, bootstrap and interval level come from the baseline (FID depends
    on N: values are comparable only at equal N and features).

    Args:
        checkpoint: path or :class:`~ganeval.Generator` of the candidate.
        data: dataset name, path or :class:`~ganeval.Dataset`; must be the baseline's.
        baseline: a :class:`Baseline` or the path of its JSON.
        metric: must match the baseline's metric when given.
        max_increase, max_rel_increase: the tolerance of :func:`decide`.
        seed: the candidate's sampling seed.
        n_samples, features: must match the baseline's when given.
        data_root, download: passed to :func:`ganeval.load_dataset`.
        **kwargs: passed to :func:`ganeval.evaluate` (device, trust, extractor_options, ...).

    Returns:
        :class:`GateResult` (``.passed``, both intervals, the rule with its numbers).

    Raises:
        GanevalError: unreadable baseline; ``data``, ``metric``, ``features`` or ``n_samples``
            that do not match the baseline; features whose weights differ (sha256); any
            evaluation error.
    """
    from .data import Dataset, load_dataset
    from .evaluate import evaluate

    t0 = time.perf_counter()
    base = baseline if isinstance(baseline, Baseline) else load_baseline(baseline)
    _check_metric(base.metric)
    if metric is not None and metric != base.metric:
        raise GanevalError(f"--metric {metric} does not match the baseline's metric {base.metric!r}; "
                           "gate the same metric or re-create the baseline.")
    if n_samples is not None and int(n_samples) != base.n_samples:
        raise GanevalError(f"--n-samples {n_samples} differs from the baseline's {base.n_samples}: FID depends on N, "
                           "so the gate uses the baseline's count; drop --n-samples or re-create the baseline.")
    bfeat = (base.features or {}).get("name")
    if features is not None and bfeat is not None and features != bfeat:
        raise GanevalError(f"--features {features} does not match the baseline's features {bfeat!r}; "
                           "values in different feature spaces are not comparable.")
    bres = (base.features or {}).get("resize")
    asked = (kwargs.get("extractor_options") or {}).get("resize")
    if bres and asked and asked != bres:
        raise GanevalError(f"--resize {asked} does not match the baseline's resize mode {bres!r}: FIDs under "
                           "different resize modes are not comparable; drop --resize or re-create the baseline.")
    if bres:  # the candidate is scored under the baseline's mode
        kwargs["extractor_options"] = {**(kwargs.get("extractor_options") or {}), "resize": bres}
    dataset = data if isinstance(data, Dataset) else load_dataset(data, root=data_root, download=download)
    if dataset.name != base.data:
        raise GanevalError(f"--data {dataset.name} does not match the baseline's data {base.data!r}; "
                           "gate on the same dataset or re-create the baseline.")
    # --- paired test (ganeval.paired.gate) when the baseline keeps a readable checkpoint
    from .paired.gate import paired_gate

    paired = paired_gate(base, checkpoint, dataset, seed=seed, features=features or bfeat, t0=t0,
                         max_increase=max_increase, max_rel_increase=max_rel_increase, **kwargs)
    if paired is not None:
        rescored = dataclasses.replace(base, interval=Interval(*paired.baseline))
        return GateResult(rescored, Interval(*paired.candidate),
                          Decision(paired.passed, paired.threshold, paired.tolerance, paired.direction, paired.rule),
                          str(checkpoint), int(seed), paired.n_samples, {"n_fake": paired.n_samples}, base.features,
                          paired.wall_time_s, {}, paired=paired.paired)
    # --- end of the paired test
    ev = evaluate(checkpoint, dataset, metrics=[base.metric], features=features or bfeat, n_samples=base.n_samples,
                  seed=seed, options=base.options, **kwargs)
    cfeat = _features(ev.provenance.get("features"))
    # Baselines from before resize modes were recorded were all legacy-tf (the only mode then).
    bmode = (base.features or {}).get("resize") or ("legacy-tf" if bfeat == "inception" else None)
    if base.features and cfeat and bmode != cfeat.get("resize"):
        raise GanevalError(f"The candidate's features were resized with {cfeat.get('resize')!r} but the baseline's "
                           f"with {bmode!r}; re-create the baseline under one resize mode.")
    if base.features and cfeat and base.features.get("sha256") != cfeat.get("sha256"):
        raise GanevalError(f"Feature extractor {cfeat.get('name')!r} has weights with sha256 {cfeat.get('sha256')}, "
                           f"but the baseline used {base.features.get('sha256')}; use the same weights "
                           "(--inception-weights) or re-create the baseline.")
    d = ev.metric_dict(base.metric)
    cand = Interval.of(base.metric, d, ev.source)
    dec = decide(base.interval, cand, direction=direction(base.metric), max_increase=max_increase,
                 max_rel_increase=max_rel_increase)
    counts = {k: v for k, v in d.items() if k.startswith("n_") and isinstance(v, int)}
    return GateResult(base, cand, dec, ev.source, int(seed), int(ev.provenance["n_samples"]), counts, cfeat,
                      round(time.perf_counter() - t0, 3), ev.to_dict())


# ---------------------------------------------------------------------------------------------
# JUnit XML and Markdown


def junit_xml(result: GateResult | None = None, *, error: str | None = None, name: str = "gate") -> str:
    """A JUnit XML report with one test case: passed, ``<failure>`` (regression) or ``<error>``."""
    failures = int(result is not None and not result.passed)
    errors = int(result is None)
    wall = f"{result.wall_time_s:.3f}" if result else "0"
    suites = ET.Element("testsuites", name="ganeval gate", tests="1", failures=str(failures), errors=str(errors),
                        time=wall)
    suite = ET.SubElement(suites, "testsuite", name="ganeval.gate", tests="1", failures=str(failures),
                          errors=str(errors), skipped="0", time=wall,
                          timestamp=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
                          hostname=platform.node() or "localhost")
    if result is not None:
        props = ET.SubElement(suite, "properties")
        for k, v in (("metric", result.baseline.metric), ("data", result.baseline.data),
                     ("baseline", result.baseline.source), ("candidate", result.source), ("seed", result.seed),
                     ("n_samples", result.n_samples), ("features", (result.features or {}).get("name"))):
            ET.SubElement(props, "property", name=k, value=str(v))
        case_name = f"{result.baseline.metric}[{result.baseline.data}] {Path(result.source).name}"
    else:
        case_name = name
    case = ET.SubElement(suite, "testcase", classname="ganeval.gate", name=case_name, time=wall)
    if result is None:
        el = ET.SubElement(case, "error", message=error or "error", type="GanevalError")
        el.text = error
    elif not result.passed:
        el = ET.SubElement(case, "failure", message=_headline(result), type="regression")
        el.text = result.decision.rule
    out = ET.SubElement(case, "system-out")
    out.text = _headline(result) + "\n" + result.decision.rule if result else (error or "")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _headline(r: GateResult) -> str:
    m = r.baseline.metric.upper()
    verdict = "pass" if r.passed else "REGRESSION"
    return (f"{m} {verdict}: candidate {r.candidate.value:.6g} [{r.candidate.low:.6g}, {r.candidate.high:.6g}] vs "
            f"baseline {r.baseline.interval.value:.6g} [{r.baseline.interval.low:.6g}, {r.baseline.interval.high:.6g}] "
            f"(N = {r.n_samples})")


def headline_baseline(b: Baseline) -> str:
    """One line describing a baseline."""
    feats = (b.features or {}).get("name") or "-"
    return (f"baseline {b.metric.upper()} {b.interval.value:.6g} [{b.interval.low:.6g}, {b.interval.high:.6g}] "
            f"on {b.data} (N = {b.n_samples}, features {feats}, seed {b.seed}) from {b.source}")


def headline(result: GateResult) -> str:
    """One line for logs: verdict, both values with intervals, N."""
    return _headline(result)


def markdown_summary(result: GateResult | None = None, *, error: str | None = None) -> str:
    """A Markdown block for ``$GITHUB_STEP_SUMMARY``: verdict, a table of both intervals, the rule."""
    if result is None:
        return f"### ganeval gate: ⚠️ error\n\n```\n{error}\n```\n"
    b, c = result.baseline, result.candidate
    level = (b.options.get(b.metric) or {}).get("confidence")
    lvl = f"{100 * float(level):g}% interval" if level else "interval"
    n_real = result.counts.get("n_real")
    nstr = f"{result.n_samples}" + (f" / {n_real}" if n_real else "")
    feats = (result.features or {}).get("name") or "-"
    verdict = "✅ pass" if result.passed else "❌ regression"
    rows = [f"| | {b.metric.upper()} | {lvl} | N (generated{' / real' if n_real else ''}) | seed |",
            "|---|---:|---|---:|---:|",
            f"| baseline `{Path(b.source).name}` | {b.interval.value:.5g} | [{b.interval.low:.5g}, {b.interval.high:.5g}] "
            f"| {b.n_samples}{f' / {n_real}' if n_real else ''} | {b.seed} |",
            f"| candidate `{Path(result.source).name}` | {c.value:.5g} | [{c.low:.5g}, {c.high:.5g}] | {nstr} "
            f"| {result.seed} |"]
    return "\n".join([f"### ganeval gate on {b.data}: {verdict}", "", *rows, "",
                      f"Rule: {result.decision.rule}.", "",
                      f"Features: {feats}. {b.metric.upper()} depends on N and the features: both were evaluated "
                      f"at N = {result.n_samples} with the same features.", ""])


def write_outputs(result: GateResult | None, *, junit: str | None = None, summary: str | None = None,
                  error: str | None = None) -> None:
    """Write the JUnit file (replaced atomically) and append the Markdown summary (as GitHub expects)."""
    if junit:
        write_atomic(junit, junit_xml(result, error=error))
    if summary:
        p = Path(summary)
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "a", encoding="utf-8") as fh:
            fh.write(markdown_summary(result, error=error) + "\n")


def save_baseline(baseline: Baseline, path: str | os.PathLike[str]) -> Path:
    """Write the baseline JSON atomically."""
    return write_atomic(path, dumps(baseline.to_dict()) + "\n")
