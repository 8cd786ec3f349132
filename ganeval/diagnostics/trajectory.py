"""Training trajectories: a run's history file, or a table built by scoring each of its checkpoints.

Both become a :class:`pandas.DataFrame` sorted by ``step`` with (a subset of) the columns of
:data:`ganeval.history.COLUMNS`, the run-folder contract with :mod:`reference_trainers`, written down
once in :mod:`ganeval.history` (which says what each column means).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from .._utils import torch_generator
from ..errors import GanevalError
from ..history import ALIASES, COLUMNS, COVERAGE_COLUMNS
from ..options import LoadOptions


def normalize_history(history: Any, source: str = "history") -> tuple[pd.DataFrame, list[str]]:
    """Validate a history (DataFrame or dict of columns) and return it sorted by step, with notes.

    Known aliases are renamed (``loss_d`` -> ``d_loss`` ...); a history without ``step`` uses the
    row number. Columns outside :data:`COLUMNS` are kept (e.g. ``fid``) when numeric.

    Raises:
        GanevalError: not a table, or none of the columns diagnostics read, or a column that is
            not numeric.
    """
    notes: list[str] = []
    if isinstance(history, dict):
        try:
            history = pd.DataFrame(history)
        except ValueError as exc:
            raise GanevalError(f"{source}: a history dict needs equal-length columns ({exc}).") from exc
    if not isinstance(history, pd.DataFrame):
        raise GanevalError(f"{source}: expected a run folder, a Run, or a history DataFrame / dict of columns; "
                           f"got {type(history).__name__}.")
    df = history.rename(columns={c: ALIASES.get(str(c).lower(), str(c).lower()) for c in history.columns})
    df = df.loc[:, ~df.columns.duplicated()]
    known = [c for c in COLUMNS[1:] if c in df.columns]
    if not known and "fid" not in df.columns:
        raise GanevalError(
            f"{source}: none of the columns diagnostics read ({', '.join(COLUMNS[1:])}, fid); found "
            f"{', '.join(map(str, history.columns)) or 'no columns'}. Log at least d_real, d_fake and grad_norm_g, "
            "or the mode-coverage columns on mixtures.")
    for c in list(df.columns):
        converted = pd.to_numeric(df[c], errors="coerce")
        if c in COLUMNS and converted.isna().sum() > df[c].isna().sum():
            raise GanevalError(f"{source}: column {c!r} holds non-numeric values (e.g. {df[c].iloc[0]!r}).")
        if c in COLUMNS or converted.notna().any():
            df[c] = converted
        else:
            df = df.drop(columns=c)
    if "step" not in df.columns:
        df.insert(0, "step", np.arange(len(df)))
        notes.append(f"{source} has no 'step' column: the row number is used as the step")
    df = df[df["step"].notna()].sort_values("step", kind="stable").drop_duplicates("step", keep="last")
    return df.reset_index(drop=True), notes


def coverage_metrics_for(dataset: Any) -> list[str]:
    """Registered coverage metrics for a dataset, best first: mode_coverage on mixtures, else class_coverage, ndb."""
    from ..registry import METRICS, load_scorers

    load_scorers()
    choices = ("mode_coverage",) if dataset.kind == "mixture" else ("class_coverage", "ndb")
    return [n for n in choices if n in METRICS and dataset.kind in METRICS[n].kinds]


def _coverage_row(name: str, result: Any) -> dict[str, float | None]:
    """Map a coverage result onto the trajectory columns (modes_covered, ..., n_modes)."""
    d = result.to_dict() if hasattr(result, "to_dict") else dict(result)
    row: dict[str, float | None] = {}
    if name == "mode_coverage":
        for k in COVERAGE_COLUMNS:
            row[k] = d.get(k)
        row["n_modes"] = d.get("n_modes")
        return row
    # Classes play the role of modes on labelled data; NDB's k-means bins likewise, a bin counting as
    # covered when its sample proportion is not significantly different from the data's.
    if name == "class_coverage":
        shares = np.asarray(d.get("counts") or [], float)
        row.update(modes_covered=d.get("classes_covered"), n_modes=d.get("n_classes"))
    else:
        shares = np.asarray(d.get("sample_proportions") or [], float)
        if d.get("bins") is not None and d.get("ndb") is not None:
            row.update(modes_covered=d["bins"] - d["ndb"], n_modes=d["bins"])
    if shares.size and shares.sum() > 0:
        shares = shares / shares.sum()
        row.update(dominant_mode=int(shares.argmax()), top2_share=float(np.sort(shares)[-2:].sum()))
    return row


def _discriminator_stats(gen: Any, disc: Any, dataset: Any, n: int, seed: int, loss: str) -> dict[str, float]:
    """Mean D(x), D(G(z)), the losses and the gradient norms at a checkpoint (one batch of ``n``)."""
    module = gen.module
    z = gen.latent.draw(n, torch_generator(seed)).to(gen.device)
    real = dataset.test[torch.randperm(dataset.test.shape[0], generator=torch_generator(seed + 1))[:n]]
    if gen.output_range is not None:
        lo, hi = gen.output_range
        real = real * (hi - lo) + lo  # D sees data in the generator's output range
    real = real.to(gen.device)
    module.train(False)
    disc.train(False)
    g_params = [p for p in module.parameters() if p.requires_grad]
    d_params = [p for p in disc.parameters() if p.requires_grad]
    with torch.enable_grad():
        fake = module(z)
        lf = disc(fake).reshape(-1)
        g_loss = (-F.softplus(lf)).mean() if loss == "minimax" else F.softplus(-lf).mean()
        lr = disc(real).reshape(-1)
        lf2 = disc(fake.detach()).reshape(-1)
        d_loss = F.softplus(-lr).mean() + F.softplus(lf2).mean()
        out = {"d_loss": float(d_loss.detach()), "g_loss": float(g_loss.detach()),
               "d_real": float(torch.sigmoid(lr.detach()).mean()), "d_fake": float(torch.sigmoid(lf2.detach()).mean())}
        # Analytic test networks have no parameters: their gradient norms are simply not recorded.
        if g_params and g_loss.requires_grad:
            out["grad_norm_g"] = _grad_norm(g_loss, g_params)
        if d_params and d_loss.requires_grad:
            out["grad_norm_d"] = _grad_norm(d_loss, d_params)
    return out


def _grad_norm(loss: torch.Tensor, params: list[torch.Tensor]) -> float:
    """Global L2 norm of d loss / d params (parameters that the loss does not reach count as 0)."""
    grads = torch.autograd.grad(loss, params, allow_unused=True, retain_graph=True)
    total = torch.zeros((), dtype=torch.float64)
    for g in grads:
        if g is not None:
            total = total + (g.double() ** 2).sum().cpu()
    return float(torch.sqrt(total))


def select_checkpoints(paths: list[Path], max_checkpoints: int) -> list[Path]:
    """At most ``max_checkpoints`` evenly spaced checkpoints, always the first and the last."""
    if len(paths) <= max_checkpoints:
        return list(paths)
    idx = sorted(set(np.linspace(0, len(paths) - 1, max_checkpoints).round().astype(int).tolist()))
    return [paths[i] for i in idx]


def checkpoint_table(paths: list[Path], dataset: Any, *, n_samples: int = 2500, seed: int = 0,
                     loss: str = "nonsaturating", device: str = "auto", coverage: bool = True,
                     discriminator: bool = True, extra_metrics: tuple[str, ...] = (),
                     load: LoadOptions | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Score each checkpoint: coverage (mode/class/NDB), and D's outputs and gradient norms where a D is stored.

    Every checkpoint is sampled with the same ``seed`` so differences come from the weights alone.

    Args:
        paths: checkpoint files, ordered by step.
        dataset: the reference :class:`ganeval.Dataset`.
        n_samples: samples per checkpoint (2,500 on mixtures, the PacGAN protocol).
        seed: sampling seed.
        loss: the generator loss used for ``g_loss`` / ``grad_norm_g`` ("minimax" or "nonsaturating").
        device: where to run.
        coverage: compute the coverage columns.
        discriminator: compute the D columns when a discriminator is stored.
        extra_metrics: more metrics of :func:`ganeval.evaluate` to record per checkpoint (e.g. "fid"),
            each as a column named after the metric holding its ``value`` field (or its first number).
        load: loading options (trust, latent spec, output range, features, ...) for the checkpoints
            and the feature extractor, as the evaluation's (:class:`~ganeval.options.LoadOptions`).

    Returns:
        (table with one row per checkpoint, notes).

    Raises:
        GanevalError: a checkpoint cannot be loaded or sampled.
    """
    from ..checkpoints import load_discriminator, load_generator
    from ..evaluate import evaluate

    notes: list[str] = []
    gen_kw = load.generator_kwargs() if load is not None else {}
    # The extractor and its weights as the evaluation's (e.g. --inception-weights for fid trends).
    ev_kw: dict[str, Any] = ({"features": load.features, "extractor_options": dict(load.extractor_options),
                              "batch_size": load.batch_size} if load is not None else {})
    candidates = coverage_metrics_for(dataset) if coverage else []
    if coverage and not candidates:
        notes.append(f"no coverage metric applies to {dataset.name} ({dataset.kind}); coverage is not tracked")
    metric: str | None = None
    rows = []
    missing_d = 0
    for i, path in enumerate(paths):
        gen = load_generator(path, device=device, **gen_kw)
        row: dict[str, Any] = {"step": gen.step if gen.step is not None else i, "checkpoint": str(path)}
        ev = None
        while i == 0 and candidates and metric is None:
            # The first checkpoint picks the coverage metric that works here (class_coverage needs a
            # classifier for the data; NDB works everywhere).
            try:
                ev = evaluate(gen, dataset, metrics=[candidates[0]], n_samples=n_samples, seed=seed, device=device,
                          **ev_kw)
                metric = candidates[0]
            except GanevalError as exc:
                notes.append(f"coverage metric {candidates.pop(0)} unavailable here ({exc})")
        if metric and ev is None:
            ev = evaluate(gen, dataset, metrics=[metric], n_samples=n_samples, seed=seed, device=device,
                          **ev_kw)
        if metric and ev is not None:
            row.update(_coverage_row(metric, ev.metrics[metric]))
        if extra_metrics:
            ev = evaluate(gen, dataset, metrics=list(extra_metrics), n_samples=n_samples, seed=seed, device=device,
                          **ev_kw)
            for m in extra_metrics:
                d = ev.metric_dict(m)
                nums = [v for v in d.values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
                main = d.get("value", nums[0] if nums else None)
                if isinstance(main, (int, float)):
                    row[m] = main
        if discriminator and gen.module is not None:
            disc = load_discriminator(gen, device=device)
            if disc is None:
                missing_d += 1
            else:
                row.update(_discriminator_stats(gen, disc, dataset, min(n_samples, 1024, dataset.test.shape[0]),
                                                seed, loss))
        rows.append(row)
    if discriminator and missing_d:
        notes.append(f"{missing_d} of {len(paths)} checkpoints store no discriminator: D outputs are not tracked there")
    table = pd.DataFrame(rows).sort_values("step", kind="stable").reset_index(drop=True)
    table.attrs["coverage_metric"] = metric
    return table, notes
