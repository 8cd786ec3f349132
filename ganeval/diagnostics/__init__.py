"""Run diagnostics: health verdicts over training trajectories and the optimal-discriminator check.

* :func:`diagnose` reads a run folder (history and/or checkpoints) or an in-memory history and
  returns a :class:`Diagnosis`: a verdict in {healthy, collapsed, oscillating, vanishing, diverged,
  inconclusive}, a confidence, and the evidence (:class:`Signal`).
* :func:`optimal_discriminator_check` compares a discriminator with
  D* = p_data / (p_data + p_g) on a Gaussian mixture and estimates JSD(p_data || p_g) and
  V(D*, G) = -log 4 + 2 JSD (Goodfellow et al. 2014, Proposition 1, Theorem 1).

See docs/diagnostics.md.
"""

from .optimal_d import (
                        OptimalDResult,
                        heldout_bandwidth,
                        js_divergence,
                        kde_log_density,
                        optimal_discriminator,
                        optimal_discriminator_check,
                        scott_bandwidth,
                        value_from_jsd,
)
from .signals import Signal, Thresholds, oscillation_period
from .trajectory import checkpoint_table, normalize_history
from .verdict import VERDICTS, Diagnosis, decide, diagnose

__all__ = [
    "Diagnosis", "OptimalDResult", "Signal", "Thresholds", "VERDICTS", "checkpoint_table", "decide", "diagnose",
    "heldout_bandwidth", "js_divergence", "kde_log_density", "normalize_history", "optimal_discriminator",
    "optimal_discriminator_check", "oscillation_period", "scott_bandwidth", "value_from_jsd",
]
