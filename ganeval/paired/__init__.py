"""Which model is better, and how sure: paired comparisons with common random numbers.

* :func:`compare_models` / :func:`compare_samples` (:mod:`.engine`): every model scored on the same
  latent rows and reference rows; one joint bootstrap gives each pair's difference with its
  interval and p-value (Holm-adjusted for more than two models) and each model's probability of
  ranking first with its rank interval.
* :func:`plan` (:mod:`.plan`): pilot runs at a few N, the fitted law of the spread, the N needed.
* :func:`sensitivity` (:mod:`.sensitivity`): known-answer changes to held-out real data and the
  smallest one each metric detects.

``ganeval.compare`` stays the module of :func:`ganeval.evaluate_many`; the function is
``ganeval.compare_models`` (binding a function to ``ganeval.compare`` would shadow that module for
``import ganeval.compare as m`` and ``mock.patch("ganeval.compare....")``).
"""

from .bootstrap import holm, p_value, run_bootstrap
from .engine import Comparison, compare_models, compare_samples

__all__ = ["Comparison", "compare_models", "compare_samples", "holm", "p_value", "run_bootstrap"]
