"""The report's "Paired comparison" section: each checkpoint against the best one, on common random numbers.

A report of two or more checkpoints already holds every checkpoint's samples, drawn with one seed
(row ``i`` of each comes from the same latent vector where the latent specs agree) and scored
against the same reference rows. :func:`paired_section` hands those samples, unchanged, to the
paired engine (:func:`ganeval.paired.compare_samples`), which resamples the latent and reference
rows jointly for all checkpoints. Per pairable headline metric field it reports each checkpoint's
difference to the best one (``value - value_best``) with its interval and Holm-adjusted p-value,
and each checkpoint's probability of ranking first with its rank interval.

No evaluation is re-run: the samples are the evaluations' own. The engine does recompute the
per-sample pieces of each metric from them (feature rows of the samples, per-sample mode or
class assignments); reference features come from the feature cache. The default is cheap: 200
joint replicates, and fid, kid and prdc are left out when their features are wider than 512
(Inception, DINOv2, CLIP: an Evaluation does not keep its samples' features, so pairing them
means a second extractor pass, and a weighted 2048-d Fréchet distance costs about a second of CPU
per checkpoint per replicate) unless ``expensive=True``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import GanevalError
from ..evaluate import Evaluation
from ..results import fmt

DEFAULT_BOOTSTRAP = 200
WIDE_FEATURES = 512  # feature dimension above which a FID replicate is costly (one eigen-solve of a d x d matrix)
_EXPENSIVE = ("fid",)  # metrics whose replicate cost grows with the feature dimension cubed
# Metrics on the samples' features: an Evaluation keeps its samples but not their features, so pairing
# these runs the extractor over every checkpoint's samples again (cheap for raw data and the digits
# CNN, a second Inception / DINOv2 / CLIP pass otherwise).
_FEATURE_METRICS = ("fid", "kid", "prdc")
_INCEPTION_METRICS = ("is", "inception_score")  # always an Inception pass, whatever the features


@dataclass
class PairedRow:
    """One checkpoint in one metric field, against the best checkpoint of that field."""

    label: str
    value: float
    delta: float          # value - value_best (0 for the best itself)
    ci_low: float         # interval of delta
    ci_high: float
    p_value: float        # two-sided, raw
    p_holm: float         # Holm-adjusted over the k - 1 comparisons with the best (1 for the best itself)
    p_best: float         # probability of ranking first over the replicates
    rank: float
    rank_low: float
    rank_high: float


@dataclass
class PairedField:
    """A metric field: which checkpoint is best and every checkpoint's row against it."""

    metric: str
    field: str
    direction: str
    best: str
    rows: list[PairedRow]


@dataclass
class PairedSection:
    """The section's content, for report.json, index.html and the terminal.

    Attributes:
        fields: one :class:`PairedField` per pairable headline metric field.
        n_samples, n_bootstrap, confidence, seed: the protocol.
        paired_latents: whether every checkpoint drew the same latent rows.
        skipped: ``{metric: why}`` for headline metrics not in the section.
        notes: how each metric was paired and what that leaves out.
    """

    labels: list[str]
    fields: list[PairedField]
    n_samples: int
    n_bootstrap: int
    confidence: float
    seed: int
    paired_latents: bool
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from ..results import jsonable

        return jsonable({
            "checkpoints": self.labels, "n_samples": self.n_samples, "n_bootstrap": self.n_bootstrap,
            "confidence": self.confidence, "seed": self.seed, "paired_latents": self.paired_latents,
            "fields": [{"metric": f.metric, "field": f.field, "direction": f.direction, "best": f.best,
                        "rows": [r.__dict__ for r in f.rows]} for f in self.fields],
            "skipped": self.skipped, "notes": self.notes})

    def headline(self) -> str:
        lvl = f"{100 * self.confidence:g}%"
        return (f"{len(self.labels)} checkpoints, N = {self.n_samples} each, "
                f"{'common latent rows' if self.paired_latents else 'latent rows NOT shared (only reference rows)'}, "
                f"{self.n_bootstrap} joint bootstrap replicates, {lvl} intervals; "
                "Δ = checkpoint − best, p Holm-adjusted over the comparisons with the best")

    def tables(self) -> list[tuple[str, list[str], list[list[str]]]]:
        """(caption, headers, rows) per metric field, best first then by rank."""
        lvl = f"{100 * self.confidence:g}%"
        headers = ["checkpoint", "value", "Δ vs best", f"Δ {lvl} interval", "p (Holm)", "P(best)", "rank",
                   f"rank {lvl}"]
        out = []
        for f in self.fields:
            rows = []
            for r in sorted(f.rows, key=lambda r: (r.label != f.best, r.rank)):
                best = r.label == f.best
                rows.append([r.label, fmt(r.value), "best" if best else f"{r.delta:+.4g}",
                             "" if best else f"[{r.ci_low:+.4g}, {r.ci_high:+.4g}]",
                             "" if best else f"{r.p_holm:.3g}", f"{r.p_best:.3f}", f"{r.rank:g}",
                             f"[{r.rank_low:g}, {r.rank_high:g}]"])
            out.append((f"{f.metric}.{f.field} ({f.direction} is better)", headers, rows))
        return out

    def text(self) -> str:
        from .summary import text_table

        out = [f"Paired comparison: {self.headline()}"]
        for caption, headers, rows in self.tables():
            out += ["", caption, text_table(headers, rows)]
        out += [f"{k}: not in the paired comparison ({v})" for k, v in self.skipped.items()]
        out += [f"note: {n}" for n in self.notes]
        return "\n".join(out)


def _headline_metrics(evaluations: list[Evaluation]) -> list[str]:
    names: dict[str, None] = {}
    for ev in evaluations:
        for n in ev.metrics:
            names.setdefault(n)
    return list(names)


def _feature_dim(ev: Evaluation) -> int | None:
    feats = ev.provenance.get("features") or {}
    dim = feats.get("dim")
    if dim is None and feats.get("name") == "raw" and ev.samples is not None:
        dim = int(np.prod(ev.samples.shape[1:]))  # raw features are the flattened rows
    return int(dim) if isinstance(dim, (int, float)) and not isinstance(dim, bool) else None


def unpaired_reason(evaluations: list[Evaluation]) -> str | None:
    """Why these evaluations cannot be compared on common random numbers (None: they can)."""
    if len(evaluations) < 2:
        return "a single checkpoint"
    if any(ev.samples is None or ev.dataset is None for ev in evaluations):
        return "some evaluations kept no samples (streamed or read back from JSON)"
    if len({ev.data for ev in evaluations}) > 1:
        return "the checkpoints were scored on different data"
    if len({int(ev.samples.shape[0]) for ev in evaluations if ev.samples is not None}) > 1:
        return "the checkpoints have different sample counts"
    if len({ev.provenance.get("seed") for ev in evaluations}) > 1:
        return "the checkpoints were sampled with different seeds"
    if len({(ev.provenance.get("features") or {}).get("name") for ev in evaluations
            if ev.provenance.get("features")}) > 1:
        return "the checkpoints were scored with different features"
    return None


def default_bootstrap(k: int, confidence: float = 0.95) -> int:
    """Replicates for ``k`` checkpoints: 200, or enough that the smallest Holm-adjusted p-value of
    the ``k - 1`` comparisons with the best (``(k - 1) * 2 / (B + 1)``: a bootstrap p-value is never
    below ``2 / (B + 1)``) is at most half the test level, capped at 1000 (B = 719 for 10 checkpoints)."""
    need = int(np.ceil(4 * max(k - 1, 1) / (1.0 - confidence))) - 1
    return int(min(1000, max(DEFAULT_BOOTSTRAP, need)))


def paired_section(evaluations: list[Evaluation], labels: list[str], *, n_bootstrap: int | None = None,
                   confidence: float = 0.95, expensive: bool = False, device: Any = "auto",
                   extractor_options: dict[str, Any] | None = None) -> PairedSection | str:
    """The paired comparison of a report's checkpoints, from the samples they were scored on.

    Args:
        evaluations: in-memory evaluations with their samples (the same data, N and seed).
        labels: one label per evaluation (unique).
        n_bootstrap: joint replicates (None: :func:`default_bootstrap`, 200 for two or three checkpoints:
            the section should cost little beside the report).
        confidence: interval level.
        expensive: also pair the feature metrics (fid, kid, prdc) on features wider than 512, and
            the Inception Score: they need a second extractor pass over the samples, and FID's
            replicate costs ~1 s there.
        device: where the per-sample pieces are recomputed.
        extractor_options: the extractor's options as the evaluations got them (e.g. offline weights).

    Returns:
        :class:`PairedSection`, or a one-line reason why there is none (a single checkpoint,
        no samples kept, different N, nothing pairable).

    Raises:
        GanevalError: ``labels`` does not match ``evaluations`` or repeats a label.
    """
    from ..paired import compare_samples
    from ..paired.stats import pairable

    if len(labels) != len(evaluations) or len(set(labels)) != len(labels):
        raise GanevalError(f"paired_section: need one distinct label per evaluation, got {labels!r}.")
    why = unpaired_reason(evaluations)
    if why is not None:
        return why
    first = evaluations[0]
    skipped: dict[str, str] = {}
    names = []
    for n in _headline_metrics(evaluations):
        if not all(n in ev.metrics for ev in evaluations):
            skipped[n] = "not computed for every checkpoint"
        elif not pairable(n):
            skipped[n] = "no per-sample or per-subset decomposition"
        elif n in _FEATURE_METRICS and not expensive and (_feature_dim(first) or 0) > WIDE_FEATURES:
            skipped[n] = (f"on {_feature_dim(first)}-d features it needs a second extractor pass over every "
                          "checkpoint's samples" + (" and a paired replicate costs about a second per checkpoint"
                                                    if n in _EXPENSIVE else "")
                          + "; --paired-all (or `ganeval compare`) computes it")
        elif n in _INCEPTION_METRICS and not expensive:
            skipped[n] = ("it needs a second Inception pass over every checkpoint's samples; --paired-all (or "
                          "`ganeval compare`) computes it")
        else:
            names.append(n)
    if not names:
        return "no pairable metric among " + ", ".join(_headline_metrics(evaluations))
    # Row i is the same latent (and class) for every checkpoint only when their latent and conditional specs agree.
    specs = {repr([(ev.provenance.get("checkpoint") or {}).get(k) for k in ("latent", "conditional")])
             for ev in evaluations}
    paired_latents = len(specs) == 1 and all((ev.provenance.get("checkpoint") or {}).get("latent") is not None
                                             for ev in evaluations)
    feats = (first.provenance.get("features") or {}).get("name")
    try:
        comp = compare_samples({lab: ev.samples for lab, ev in zip(labels, evaluations)},  # type: ignore[misc]
                               first.dataset, metrics=names, features=feats,  # type: ignore[arg-type]
                               n_bootstrap=n_bootstrap or default_bootstrap(len(evaluations), confidence),
                               confidence=confidence, seed=int(first.provenance.get("seed") or 0), device=device,
                               options=dict(first.provenance.get("options") or {}),
                               extractor_options=extractor_options, paired_latents=paired_latents,
                               sample_labels={lab: ev.sample_labels for lab, ev in zip(labels, evaluations)})
    except GanevalError as exc:  # the report stands without its paired section; say why
        return f"the paired engine declined ({exc})"
    skipped.update(comp.not_paired)
    notes = list(comp.notes)
    if not paired_latents:
        notes.insert(0, "latent rows not shared (fixed sample sets or different latent specs): only the reference "
                        "rows are paired")
    return PairedSection(labels=list(labels), fields=[_field(comp, s) for s in comp.summaries],
                         n_samples=comp.n_samples, n_bootstrap=comp.n_bootstrap, confidence=comp.confidence,
                         seed=comp.seed, paired_latents=paired_latents, skipped=skipped, notes=notes)


def _field(comp: Any, s: Any) -> PairedField:
    """Rows of one metric field against its best checkpoint (best value; ties: the first given).

    The p-values are Holm-adjusted over the ``k - 1`` comparisons with the best, the family the
    section shows (the engine's ``p_holm`` adjusts over all ``k (k - 1) / 2`` pairs, which at 200
    replicates could not reach 0.05 beyond 5 checkpoints)."""
    from ..paired import holm

    vals = np.asarray(s.values, dtype=np.float64)
    score = np.where(np.isnan(vals), np.inf, -vals if s.direction == "higher" else vals)
    b = int(np.argmin(score))
    rows = []
    for i, lab in enumerate(comp.models):
        d = lo = hi = 0.0
        p = ph = 1.0
        if i != b:
            for a, c, dd, ll, hh, pp, _ in s.pairs:  # (a, c): delta = value_c - value_a
                if {a, c} == {i, b}:
                    d, lo, hi = (dd, ll, hh) if c == i else (-dd, -hh, -ll)
                    p = ph = pp  # adjusted below over the comparisons with the best
                    break
        rows.append(PairedRow(lab, float(vals[i]), float(d), float(lo), float(hi), float(p), float(ph),
                              float(s.p_first[i]), float(s.rank[i]), float(s.rank_low[i]), float(s.rank_high[i])))
    others = [r for i, r in enumerate(rows) if i != b]
    for r, adj in zip(others, holm([r.p_value for r in others])):
        r.p_holm = float(adj)
    return PairedField(s.metric, s.field, s.direction, comp.models[b], rows)


def section_html(paired: PairedSection | str | None) -> str:
    """The section as HTML (headline, one table per metric field, what was skipped); "" for None."""
    from .html import _e, _table

    if paired is None:
        return ""
    head = "<h2 id='paired'>Paired comparison</h2>"
    if isinstance(paired, str):
        return head + f"<p class='meta'>No paired comparison: {_e(paired)}.</p>"
    parts = [head, f"<p class='meta'>{_e(paired.headline())}. The values are those of the paired "
                   "decomposition (KID: a block mean; IS: one split); the summary above keeps each checkpoint's "
                   "own numbers.</p>"]
    for caption, headers, rows in paired.tables():
        parts.append(f"<h3>{_e(caption)}</h3>" + _table(headers, rows))
    skipped = [f"{k}: {v}" for k, v in paired.skipped.items()] + list(paired.notes)
    if skipped:
        parts.append("<ul class='meta'>" + "".join(f"<li>{_e(x)}</li>" for x in skipped) + "</ul>")
    return "\n".join(parts)
