"""Figures to PNG bytes, several at once where the machine allows.

Drawing dominates a report's time (a run report draws over a dozen figures; matplotlib's layout
and rasterising are single-threaded), so a report's figures are drawn in forked worker processes,
one per CPU up to :data:`MAX_WORKERS`. The workers inherit the finished figures from the parent
(nothing is pickled but the PNG bytes coming back), as PyTorch's DataLoader workers inherit
their dataset. Where ``fork`` is unavailable (Windows) or unsafe (macOS), with one CPU, with few
figures, or when ``GANEVAL_RENDER_WORKERS=1``, figures are drawn one after another in this
process; the bytes are the same either way.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import sys
import warnings
from typing import Any

from ..errors import GanevalError

DPI = 90
MAX_WORKERS = 4
MIN_FIGURES = 4  # below this, starting workers costs more than it saves

_PENDING: list[Any] = []  # the figures the forked workers draw (inherited, not pickled)


def render(fig: Any) -> bytes:
    """One figure as PNG bytes (closed afterwards)."""
    # Each figure is laid out once, by its tight layout engine at draw time (ganeval's figures are
    # made with layout="tight"; one set here for any other), and drawn once: tight_layout() calls
    # plus bbox_inches="tight" laid out and drew every figure twice.
    if fig.get_layout_engine() is None:
        fig.set_layout_engine("tight")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    _close(fig)
    return buf.getvalue()


def _close(fig: Any) -> None:
    """Let pyplot forget a figure it manages (a caller's); ganeval's own figures
    (:func:`ganeval.report.plots.subplots`) are not pyplot's and are freed with their last reference."""
    plt = sys.modules.get("matplotlib.pyplot")  # never imported here: importing it picks a backend
    if plt is not None and plt.fignum_exists(getattr(fig, "number", -1)):
        plt.close(fig)


def _render_pending(i: int) -> bytes:
    return render(_PENDING[i])


def workers_for(n_figures: int) -> int:
    """How many processes would draw ``n_figures`` figures (1: this process alone)."""
    env = os.environ.get("GANEVAL_RENDER_WORKERS", "").strip()
    limit = MAX_WORKERS
    if env:
        if not env.isdigit() or int(env) < 1:
            raise GanevalError(f"GANEVAL_RENDER_WORKERS={env!r}: set it to a whole number >= 1 (1 draws the "
                               "figures in this process), or unset it.")
        limit = int(env)
    if n_figures < MIN_FIGURES or sys.platform != "linux" or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(limit, cpus, n_figures))


def render_all(figs: list[Any]) -> list[bytes]:
    """PNG bytes of every figure, in order; every figure is closed afterwards."""
    global _PENDING
    workers = workers_for(len(figs))
    if workers > 1:
        _PENDING = list(figs)
        try:
            with warnings.catch_warnings():
                # Python >= 3.12 warns on forking a process with threads (torch's idle pool here);
                # the workers only run matplotlib and exit.
                warnings.filterwarnings("ignore", message=r".*fork\(\).*", category=DeprecationWarning)
                with multiprocessing.get_context("fork").Pool(workers) as pool:
                    out = pool.map(_render_pending, range(len(figs)), chunksize=1)
            for f in figs:
                _close(f)
            return out
        except OSError:  # no processes to be had (limits): draw them here instead
            pass
        finally:
            _PENDING = []
    return [render(f) for f in figs]
