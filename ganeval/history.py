"""The training-history contract: the columns a trainer writes to ``history.csv`` and diagnostics read.

:mod:`reference_trainers` writes these columns and :mod:`ganeval.diagnostics` reads them; any
trainer that logs them (under these names or the :data:`ALIASES`) gets a diagnosis.

* ``step``: the generator step;
* ``d_loss``, ``g_loss``: the discriminator's and the generator's losses (nats);
* ``d_real``, ``d_fake``: mean D(x) on data and mean D(G(z)), as probabilities;
* ``grad_norm_g``, ``grad_norm_d``: global L2 norms of the parameter gradients;
* ``modes_covered``, ``hq_fraction``, ``dominant_mode``, ``top2_share``: mode coverage on mixtures
  (:func:`ganeval.metrics.mode_coverage`; classes on labelled images), logged every few steps.
"""

from __future__ import annotations

STEP = "step"
LOSS_COLUMNS = ("d_loss", "g_loss")
TRAINING_COLUMNS = ("d_loss", "g_loss", "d_real", "d_fake", "grad_norm_g", "grad_norm_d")
COVERAGE_COLUMNS = ("modes_covered", "hq_fraction", "dominant_mode", "top2_share")
# What a trainer always writes, then what it adds when it can measure coverage.
HISTORY_COLUMNS = (STEP, *TRAINING_COLUMNS)
COLUMNS = (*HISTORY_COLUMNS, *COVERAGE_COLUMNS)
# Spellings other trainers use for the same quantities.
ALIASES = {"iteration": "step", "iter": "step", "global_step": "step", "loss_d": "d_loss", "loss_g": "g_loss",
           "d_x": "d_real", "d_g_z": "d_fake", "grad_g": "grad_norm_g", "grad_d": "grad_norm_d"}

__all__ = ["ALIASES", "COLUMNS", "COVERAGE_COLUMNS", "HISTORY_COLUMNS", "LOSS_COLUMNS", "STEP", "TRAINING_COLUMNS"]
