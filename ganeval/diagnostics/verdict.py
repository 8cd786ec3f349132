"""Health verdicts for GAN training runs: :func:`diagnose` and :class:`Diagnosis`.

The verdict comes from ordered rules over the signals of :mod:`.signals` (first match wins):

1. ``diverged``: NaN/Inf in the logged losses, D outputs or gradient norms, or a loss blow-up.
2. With a coverage trajectory (mixtures; classes or NDB bins elsewhere):
   ``oscillating`` when the dominant mode keeps moving (>= 3 values over the second half) while the
   two most visited modes hold >= 50% of samples (mode hopping, Metz et al. 2016, Fig. 1);
   ``vanishing`` when G's gradient norm collapsed while D wins outright and G's samples never
   reached the data (< 10% within 3 std of a mode); ``collapsed`` when the run ends covering fewer
   than 75% of the modes; ``healthy`` otherwise.
3. Without coverage: ``vanishing`` (gradient collapse while D wins), ``oscillating`` (D's outputs
   swing), else ``inconclusive``: nothing failed, but collapse cannot be ruled out.

Fewer than ``min_points`` trajectory points give ``inconclusive`` with the reason.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import GanevalError
from ..options import LoadOptions
from ..results import Result, dumps
from .optimal_d import OptimalDResult, optimal_discriminator_check
from .signals import Signal, Tables, Thresholds, compute_signals, strengths
from .trajectory import COVERAGE_COLUMNS, checkpoint_table, normalize_history, select_checkpoints

VERDICTS = ("healthy", "collapsed", "oscillating", "vanishing", "diverged", "inconclusive")
VANISHING_HQ = 0.1  # below this high-quality fraction G's samples never reached the data
LOOSE_HQ = 0.5  # a healthy verdict with fewer samples than this near a mode is flagged as loose


@dataclass(frozen=True)
class Diagnosis(Result):
    """What happened in a training run, with the evidence.

    Attributes:
        verdict: one of :data:`VERDICTS`.
        confidence: in [0, 1]: 0.5 at the rule's thresholds, higher as the deciding signals clear
            them by a wide margin, lower when other signals disagree or are missing (a heuristic,
            not a probability).
        summary: the verdict in one sentence.
        evidence: the signals, deciding ones first.
        notes: what could not be judged and why; which sources were used.
        sources: "history" and/or "checkpoints".
        n_points: points of the longest trajectory table.
        first_step, last_step: the steps covered.
        run: the run folder (None for an in-memory history).
        data: the dataset name, where known.
        n_modes: modes (classes) of the data, where known.
        expected_regime: the preset's intended regime from config.json, where given.
        matches_expected: verdict == expected_regime (None without one).
        optimal_d: the optimal-discriminator check at selected checkpoints (mixtures with a stored D).
        thresholds: the thresholds used.
        trajectory: the tables behind the signals ({"history": df, "checkpoints": df}); kept out of
            ``to_dict`` (use :meth:`trajectory_frame`).
    """

    verdict: str
    confidence: float
    summary: str
    evidence: list[Signal]
    notes: list[str]
    sources: list[str]
    n_points: int
    first_step: int | None
    last_step: int | None
    run: str | None
    data: str | None
    n_modes: int | None
    expected_regime: str | None
    matches_expected: bool | None
    optimal_d: list[OptimalDResult]
    thresholds: dict[str, Any]
    trajectory: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False, compare=False)
    _private = ("trajectory",)

    def signal(self, name: str) -> Signal | None:
        """The evidence item called ``name``, or None."""
        return next((s for s in self.evidence if s.name == name), None)

    def trajectory_frame(self, which: str = "history") -> pd.DataFrame | None:
        """The ``"history"`` or ``"checkpoints"`` table (None when the run has none)."""
        return self.trajectory.get(which)

    def to_json(self) -> str:
        return dumps(self.to_dict())

    def text(self) -> str:
        """A human-readable account: verdict, evidence, notes."""
        head = f"{self.run or 'history'}: {self.verdict.upper()} (confidence {self.confidence:.2f})"
        lines = [head, f"  {self.summary}"]
        if self.expected_regime:
            lines.append(f"  expected regime (config.json): {self.expected_regime} -> "
                         f"{'matches' if self.matches_expected else 'DOES NOT match'}")
        lines.append("  evidence:")
        for s in self.evidence:
            mark = "!" if s.fired else "-" if s.fired is False else " "
            lines.append(f"   {mark} [{s.name}] {s.sentence}")
        for r in self.optimal_d:
            if r.mean_abs_diff is not None:
                lines.append(f"     step {r.step}: mean |D - D*| = {r.mean_abs_diff:.3f}, "
                             f"JSD = {r.jsd:.3f} ± {r.jsd_se:.3f} nats, V(D*, G) = {r.value_optimal:.3f}")
        if self.notes:
            lines.append("  notes:")
            lines.extend(f"   * {n}" for n in self.notes)
        return "\n".join(lines)


def _confidence(values: list[float], *, base: float = 0.5, span: float = 0.45, penalty: float = 0.0,
                cap: float = 0.97) -> float:
    s = float(np.mean(values)) if values else 0.0
    return round(float(min(cap, max(0.05, base + span * s - penalty))), 3)


def decide(sig: dict[str, Signal], th: Thresholds, loss: str | None = None) -> tuple[str, float, list[str], str]:
    """Apply the verdict rules. Returns (verdict, confidence, deciding signal names, summary).

    ``loss`` is the generator loss from config.json: with the non-saturating loss a certain D does
    not by itself starve G of gradient, so only a measured gradient collapse counts.
    """

    def fired(name: str) -> bool:
        return bool(sig.get(name) and sig[name].fired)

    # G's gradient is gone: measured (end / peak), or implied by a saturated minimax loss.
    starved = fired("grad_g_collapse") or (fired("d_certain") and loss != "nonsaturating")
    grad_names = ["grad_g_collapse"] if fired("grad_g_collapse") else ["d_certain", "grad_g_collapse"]

    if fired("run_status"):
        return ("diverged", 0.97, ["run_status", "non_finite", "loss_blowup"],
                "The run diverged: training stopped on a non-finite value.")
    if fired("non_finite"):
        return "diverged", 0.97, ["non_finite", "loss_blowup"], "The run diverged: its logs hold NaN or Inf."
    if fired("loss_blowup"):
        return ("diverged", _confidence(strengths(sig, ["loss_blowup"]), base=0.6), ["loss_blowup", "non_finite"],
                "The run diverged: a loss blew up.")
    swing_agrees = sig.get("d_swing") is None or fired("d_swing")
    if "coverage_end" in sig:
        if fired("dominant_mode_hops") and fired("top2_share"):
            names = ["dominant_mode_hops", "top2_share", "d_swing"]
            conf = _confidence(strengths(sig, names[:2]), penalty=0.0 if swing_agrees else 0.15)
            return ("oscillating", conf, names,
                    "Mode hopping: the generator sits on one or two modes at a time and keeps moving between them.")
        hq = sig.get("hq_fraction_end")
        if starved and fired("d_gap") and hq is not None and (hq.value or 0) < VANISHING_HQ:
            names = grad_names[:1] + ["d_gap", "hq_fraction_end", "coverage_end"] + grad_names[1:]
            return ("vanishing", _confidence(strengths(sig, names[:2])), names,
                    "Vanishing gradients: D wins outright, G's gradient has collapsed and its samples never reached the data.")
        if fired("coverage_end"):
            names = ["coverage_end", "coverage_peak", "top2_share", "dominant_mode_hops"]
            hop = sig.get("dominant_mode_hops")
            penalty = 0.1 if hop is not None and hop.fired and not fired("top2_share") else 0.0
            extra = " (the same modes throughout)" if hop is not None and not hop.fired else ""
            return ("collapsed", _confidence(strengths(sig, ["coverage_end"]), penalty=penalty), names,
                    f"Mode collapse: the run ends missing modes{extra}.")
        names = ["coverage_end", "hq_fraction_end", "top2_share", "dominant_mode_hops"]
        # Modes "covered" by a few stray samples while most lie off the modes is a weaker health claim.
        loose = hq is not None and (hq.value or 0) < LOOSE_HQ
        penalty = (0.1 if fired("d_gap") else 0.0) + (0.15 if loose else 0.0)
        summary = "Healthy: the run ends covering the modes, with no sign of divergence or hopping."
        if loose and hq is not None:
            summary += f" But most samples lie off the modes (high-quality fraction {hq.value:.0%})."
        return "healthy", _confidence(strengths(sig, ["coverage_end"]), penalty=penalty), names, summary
    if starved and fired("d_gap"):
        names = grad_names[:1] + ["d_gap"] + grad_names[1:]
        return ("vanishing", _confidence(strengths(sig, names), cap=0.8), names,
                "Vanishing gradients: D wins outright and G's gradient has collapsed.")
    if fired("d_swing"):
        return ("oscillating", _confidence(strengths(sig, ["d_swing"]), cap=0.6), ["d_swing"],
                "D's outputs swing instead of settling (no coverage trajectory to confirm mode hopping).")
    return ("inconclusive", 0.0, [], "No sign of divergence, vanishing gradients or oscillation, but without a "
            "coverage trajectory mode collapse cannot be ruled out.")


def _load_source(run: Any) -> tuple[Path | None, Any, dict[str, Any]]:
    from ..checkpoints import Run, load_run

    if isinstance(run, (pd.DataFrame, dict)):
        return None, None, {}
    if isinstance(run, (str, os.PathLike)):
        r = load_run(run)
        return r.path, r, dict(r.config)
    if isinstance(run, Run):
        return Path(run.path), run, dict(run.config)
    raise GanevalError(f"`run` must be a run folder, a ganeval Run, or a history DataFrame / dict; got {type(run).__name__}.")


def _dataset(data: Any, config: dict[str, Any], notes: list[str], load: LoadOptions | None = None) -> Any:
    from ..data import Dataset, load_dataset

    if isinstance(data, Dataset):
        return data
    name = data or config.get("data")
    if not name:
        return None
    try:
        return load_dataset(name, **(load.dataset_kwargs() if load is not None else {}))
    except GanevalError as exc:
        if data:
            raise
        notes.append(f"dataset {name!r} from config.json is not available here ({exc}); checkpoints are not scored")
        return None


def diagnose(run: Any, *, data: Any = None, n_samples: int = 2500, seed: int = 0, device: str = "auto",
             use_checkpoints: bool | str = "auto", max_checkpoints: int = 40, optimal_d: bool | str = "auto",
             optimal_d_checkpoints: int = 6, optimal_d_samples: int = 1000, optimal_d_grid: int = 101,
             metrics: tuple[str, ...] | list[str] = (), thresholds: Thresholds | None = None,
             load: LoadOptions | None = None) -> Diagnosis:
    """Say what happened in a GAN training run, with the evidence.

    Args:
        run: a run folder (``history.csv`` and/or ``checkpoints/``), a :class:`ganeval.checkpoints.Run`,
            or an in-memory history (DataFrame or dict of columns).
        data: dataset name or :class:`ganeval.Dataset` (default: config.json's ``data``); gives the
            number of modes and lets checkpoints be scored.
        n_samples: samples per checkpoint when checkpoints are scored.
        seed: sampling seed.
        device: where checkpoints run ("auto", "cpu", "cuda").
        use_checkpoints: True: score every checkpoint (at most ``max_checkpoints``, evenly spaced);
            False: never; "auto": only when the history is missing or lacks the coverage or D columns.
        max_checkpoints: the most checkpoints scored.
        optimal_d: run the optimal-discriminator check (mixtures with a stored discriminator) at
            ``optimal_d_checkpoints`` evenly spaced checkpoints; "auto" = when possible.
        optimal_d_samples: samples per set in that check.
        optimal_d_grid: points per side of its 2-D maps (first and last checkpoint only).
        metrics: more metrics of :func:`ganeval.evaluate` to score at every checkpoint and report as
            trajectories, e.g. ``("fid",)`` on images where its features are available (this makes
            checkpoints scored unless ``use_checkpoints=False``).
        thresholds: override the rule thresholds.
        load: how checkpoints, the dataset and features are loaded (trust, latent spec, output range,
            features, ...): the same :class:`~ganeval.options.LoadOptions` as the evaluation's, so a
            run diagnosed inside ``ganeval report`` reads its checkpoints as the report did.

    Raises:
        GanevalError: the folder does not exist or holds neither checkpoints nor a history, the history
            has none of the columns read, a checkpoint cannot be loaded, or a bad argument.
    """
    for name, value in (("use_checkpoints", use_checkpoints), ("optimal_d", optimal_d)):
        if value not in (True, False, "auto"):
            raise GanevalError(f"`{name}` must be True, False or 'auto', got {value!r}.")
    for name, count in (("n_samples", n_samples), ("max_checkpoints", max_checkpoints),
                        ("optimal_d_samples", optimal_d_samples)):
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise GanevalError(f"`{name}` must be an integer >= 1, got {count!r}.")
    th = thresholds or Thresholds()
    path, run_obj, config = _load_source(run)
    notes: list[str] = []
    tables: dict[str, pd.DataFrame] = {}
    history = run if run_obj is None else run_obj.history()
    ckpts = [] if run_obj is None else list(run_obj.checkpoints)
    if history is not None:
        src = str(run_obj.history_path) if run_obj is not None else "history"
        try:
            hist, hnotes = normalize_history(history, src)
            tables["history"] = hist
            notes.extend(hnotes)
        except GanevalError as exc:
            if not ckpts:
                raise
            notes.append(f"history ignored: {exc}")
    ds = _dataset(data, config, notes, load)
    n_modes = int(ds.n_classes) if ds is not None and ds.n_classes else None
    hist = tables.get("history")
    lacks = hist is None or not set(COVERAGE_COLUMNS) <= set(hist.columns) or not {"d_real", "d_fake"} <= set(hist.columns)
    metrics = tuple(metrics)
    want_ckpt = bool(ckpts) and (use_checkpoints is True or (use_checkpoints == "auto" and (lacks or bool(metrics))))
    if want_ckpt and ds is None:
        notes.append("checkpoints are not scored: the dataset is unknown (pass data=... / --data)")
        want_ckpt = False
    if want_ckpt:
        chosen = select_checkpoints(ckpts, max_checkpoints)
        if len(chosen) < len(ckpts):
            notes.append(f"{len(chosen)} of {len(ckpts)} checkpoints scored (evenly spaced)")
        table, cnotes = checkpoint_table(chosen, ds, n_samples=n_samples, seed=seed, device=device,
                                         loss=str(config.get("loss", "nonsaturating")), extra_metrics=metrics,
                                         load=load)
        tables["checkpoints"] = table
        notes.extend(cnotes)
        if "n_modes" in table.columns and table["n_modes"].notna().any():
            # The coverage metric's own denominator (NDB bins are not the data's classes).
            n_modes = int(table["n_modes"].dropna().iloc[0])
    elif ckpts and hist is not None and use_checkpoints == "auto":
        notes.append("checkpoints not re-scored: the history has the coverage and D columns")
    sources = list(tables)
    if sources == ["history"]:
        notes.insert(0, "diagnosed from the history alone" + (" (no checkpoints)" if not ckpts else ""))
    elif sources == ["checkpoints"]:
        notes.insert(0, f"diagnosed from {len(tables['checkpoints'])} checkpoints alone (no history)")
    od = _optimal_d_runs(ckpts, ds, optimal_d, optimal_d_checkpoints, optimal_d_samples, optimal_d_grid, seed, notes,
                         load)
    t = Tables(tables)
    n_points = t.n_points()
    unit = "modes" if ds is None or ds.kind == "mixture" else "classes"
    if "checkpoints" in tables and tables["checkpoints"].attrs.get("coverage_metric") == "ndb":
        unit = "bins"
    sig, snotes = compute_signals(t, n_modes, th, metrics, unit)
    notes.extend(snotes)
    status = config.get("status")
    if status == "diverged":
        err = str(config.get("error") or "no message")
        sig["run_status"] = Signal("run_status", 1, 0, True, "diverged", 1.0,
                                   f"config.json records that training diverged: {err}", "config")
    elif status == "running":
        notes.append("config.json says the run is still running (or was killed): the trajectory may be incomplete")
    steps = [int(df["step"].iloc[i]) for df in tables.values() if len(df) for i in (0, -1)]
    if n_points < th.min_points and "run_status" not in sig:
        verdict, conf, names = "inconclusive", 0.0, list[str]()
        what = "a single checkpoint" if sources == ["checkpoints"] and n_points == 1 else f"{n_points} trajectory point(s)"
        summary = (f"Only {what}: a verdict needs a trajectory of at least {th.min_points} points "
                   "(more log lines or checkpoints).")
        sig.update(_snapshot(tables, n_modes))
    else:
        verdict, conf, names, summary = decide(sig, th, config.get("loss"))
    if od:
        sig.update(_optimal_d_signals(od))
    ordered = [sig[n] for n in names if n in sig] + [s for n, s in sig.items() if n not in names]
    expected = config.get("expected_regime")
    return Diagnosis(
        verdict=verdict, confidence=conf, summary=summary, evidence=ordered, notes=notes, sources=sources,
        n_points=n_points, first_step=min(steps) if steps else None, last_step=max(steps) if steps else None,
        run=str(path) if path else None, data=getattr(ds, "name", None) or config.get("data"), n_modes=n_modes,
        expected_regime=expected, matches_expected=None if not expected else verdict == expected,
        optimal_d=od, thresholds=dataclasses.asdict(th), trajectory=tables)


def _snapshot(tables: dict[str, pd.DataFrame], n_modes: int | None) -> dict[str, Signal]:
    """Context for a too-short trajectory: what the last point shows."""
    out: dict[str, Signal] = {}
    for name, df in tables.items():
        if len(df) and "modes_covered" in df.columns and pd.notna(df["modes_covered"].iloc[-1]):
            v = float(df["modes_covered"].iloc[-1])
            of = f"/{n_modes}" if n_modes else ""
            out["coverage_last"] = Signal("coverage_last", v, None, None, None, 0.0,
                                          f"At step {int(df['step'].iloc[-1])} the generator covers {v:.3g}{of} modes.",
                                          name)
            break
    return out


def _optimal_d_runs(ckpts: list[Path], ds: Any, optimal_d: bool | str, k: int, n: int, grid: int, seed: int,
                    notes: list[str], load: LoadOptions | None = None) -> list[OptimalDResult]:
    from ..checkpoints import load_discriminator, load_generator
    from ..data import MixtureDataset

    if optimal_d is False or not ckpts or k < 1:
        return []
    if not isinstance(ds, MixtureDataset):
        if optimal_d is True:
            notes.append("optimal-discriminator check skipped: it needs a mixture dataset with an exact density")
        return []
    chosen = select_checkpoints(ckpts, k)
    out = []
    for i, p in enumerate(chosen):
        gen = load_generator(p, device="cpu", **(load.generator_kwargs() if load is not None else {}))
        disc = load_discriminator(gen, device="cpu")
        if disc is None:
            notes.append("optimal-discriminator check skipped: the checkpoints store no discriminator")
            return []
        last = i == len(chosen) - 1
        out.append(optimal_discriminator_check(gen, disc, ds, n_samples=n, seed=seed, step=gen.step,
                                               grid_size=grid if (last or i == 0) else 0))
    return out


def _optimal_d_signals(od: list[OptimalDResult]) -> dict[str, Signal]:
    a, b = od[0], od[-1]
    out = {"jsd_end": Signal("jsd_end", b.jsd, None, None, None, 0.0,
                             f"JSD(p_data || p_g) ≈ {b.jsd:.3f} ± {b.jsd_se:.3f} nats at step {b.step} "
                             f"(0 = perfect, log 2 = {np.log(2):.3f} = disjoint; p_g by KDE), "
                             f"so V(D*, G) = {b.value_optimal:.3f} (-log 4 = {-np.log(4):.3f} at the optimum).",
                             "checkpoints")}
    if a.mean_abs_diff is not None and b.mean_abs_diff is not None:
        out["d_vs_optimal"] = Signal(
            "d_vs_optimal", b.mean_abs_diff, None, None, None, 0.0,
            f"Mean |D - D*| where the data lives went from {a.mean_abs_diff:.3f} (step {a.step}) to "
            f"{b.mean_abs_diff:.3f} (step {b.step}).", "checkpoints")
    return out
