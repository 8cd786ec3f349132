"""Evaluate many checkpoints at once: one :class:`Evaluation` (or one DataFrame row) each.

A run folder (or any folder of checkpoints) expands to its checkpoints ordered by step
(:func:`ganeval.list_checkpoints`); a folder of images is one set of fixed samples. The dataset
is loaded once and shared by every evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ._utils import progress
from .data import Dataset, load_dataset
from .errors import GanevalError
from .evaluate import Evaluation, evaluate
from .sources import Item, Source, expand  # noqa: F401  (re-exported: their home is ganeval.sources)


def evaluate_items(items: list[Item], data: str | Path | Dataset | None, *, data_root: str | Path | None = None,
                   download: bool = False, **kwargs: Any) -> list[Evaluation]:
    """:func:`ganeval.evaluate` for every item, sharing one loaded dataset.

    Args:
        items: from :func:`expand`.
        data: dataset name, path or :class:`Dataset`.
        data_root, download: passed to :func:`load_dataset`.
        **kwargs: passed to :func:`ganeval.evaluate` (metrics, features, n_samples, seed, device, ...).

    Raises:
        GanevalError: any evaluation's error, prefixed by nothing (it already names the file).
    """
    # None: a statistics file is the whole reference (``--reference stats.npz``, see :func:`ganeval.evaluate`)
    dataset = data if isinstance(data, Dataset) or data is None else load_dataset(data, root=data_root,
                                                                                   download=download)
    # Several checkpoints may mix conditional and unconditional generators: conditional metrics (and
    # --labels) apply to the conditional ones, the others' rows leave them empty.
    kwargs.setdefault("only_applicable", len(items) > 1)
    return [evaluate(it.source, dataset, **kwargs)
            for it in progress(items, desc="checkpoints", total=len(items), unit="ckpt")]


def to_frame(evaluations: list[Evaluation], items: list[Item] | None = None) -> Any:
    """One row per evaluation (:meth:`Evaluation.to_row`) plus ``label`` and ``run`` columns.

    Returns:
        pandas.DataFrame with columns ``label, run, source, data, step, n_samples, seed, <metric>.<field>...``.
    """
    import pandas as pd

    rows = []
    for i, ev in enumerate(evaluations):
        it = items[i] if items is not None else None
        head = {"label": it.label if it else ev.source, "run": str(it.run) if it and it.run else None}
        rows.append(head | ev.to_row())
    return pd.DataFrame(rows)


def evaluate_many(paths: Source | Iterable[Source] | Mapping[str, Source], data: str | Path | Dataset | None, *,
                  return_evaluations: bool = False, workers: int | None = None, ray: bool | str | None = None,
                  store: str | Path | None = None, **kwargs: Any) -> Any:
    """Evaluate several checkpoints (or run folders) on one dataset; one DataFrame row each.

    Args:
        paths: checkpoint paths, run folders (expanded to their checkpoints ordered by step),
            :class:`Generator` objects, sample arrays, or a mapping ``{label: any of those}``.
        data: dataset name, path or :class:`Dataset` (loaded once); None with a statistics file as
            ``fid``'s reference (``options={"fid": {"reference": "stats.npz"}}``): the file is the
            whole reference, as in :func:`ganeval.evaluate` (fid and is only), on the engine too.
        return_evaluations: also return the :class:`Evaluation` objects (with samples, for plots).
        workers, ray, store: run on the sweep engine (:mod:`ganeval.sweep`): ``workers`` local
            processes, or Ray (True: local, or an address), recording every job in the result
            ``store`` and reusing the records already there. Paths only; no ``return_evaluations``.
        **kwargs: passed to :func:`ganeval.evaluate`: ``metrics``, ``features``, ``n_samples``,
            ``seed``, ``device``, ``options``, ``data_root``, ``download``, ...

    Returns:
        pandas.DataFrame, one row per checkpoint, columns as :func:`to_frame`; with
        ``return_evaluations=True``, ``(frame, evaluations)`` in the same order.

    Raises:
        GanevalError: a missing path, an empty folder, or any error of :func:`ganeval.evaluate`.
    """
    if workers is not None or ray is not None or store is not None:
        if return_evaluations:
            raise GanevalError("return_evaluations=True needs in-process evaluation; drop workers=/ray=/store=.")
        from .sweep.engine import evaluate_many_on_engine

        return evaluate_many_on_engine(paths, data, workers=workers, ray=ray, store=store, **kwargs)
    items = expand(paths)
    evs = evaluate_items(items, data, **kwargs)
    df = to_frame(evs, items)
    return (df, evs) if return_evaluations else df


def diagnose_runs(items: list[Item], data: str | Path | Dataset, *, seed: int = 0, device: str = "auto",
                  n_samples: int | None = None, optimal_d_checkpoints: int = 3, **kwargs: Any) -> dict[Path, Any]:
    """:func:`ganeval.diagnostics.diagnose` for every run folder among ``items``.

    The optimal-discriminator check runs at ``optimal_d_checkpoints`` evenly spaced checkpoints
    (3 by default, against ``diagnose``'s 6: a report shows its maps at the first and last only,
    and the check dominates the cost of a report on a 2-D run).

    A run whose diagnosis fails (an unreadable history, say) maps to the :class:`GanevalError`
    instead, so the report can say why it has no diagnosis.

    Returns:
        ``{run folder: Diagnosis or GanevalError}``.
    """
    from .diagnostics import diagnose

    out: dict[Path, Any] = {}
    for run in dict.fromkeys(it.run for it in items if it.run is not None):
        kw = dict(kwargs)
        if n_samples is not None:
            kw["n_samples"] = n_samples
        try:
            out[run] = diagnose(run, data=data, seed=seed, device=device,
                                optimal_d_checkpoints=optimal_d_checkpoints, **kw)
        except GanevalError as exc:
            out[run] = exc
    return out

