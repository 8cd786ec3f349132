"""Reference GAN trainers: Algorithm 1 of Goodfellow et al. (2014) and presets for known regimes.

* :mod:`reference_trainers.nets`: MLP generator / discriminator, the paper's MNIST nets (maxout D).
* :mod:`reference_trainers.losses`: discriminator cross-entropy, ``minimax`` and ``nonsaturating``
  generator losses, on logits.
* :mod:`reference_trainers.train`: :class:`TrainConfig` and :func:`train` (writes a run folder).
* :mod:`reference_trainers.presets`: ``healthy`` / ``collapsed`` / ``oscillating`` configurations
  for ``ring8``, ``grid25`` and ``digits``.

Train with ``from reference_trainers.train import train`` (the function is not re-exported here, so
that ``reference_trainers.train`` stays the module) or ``ganeval train`` (see ``docs/trainers.md``).
"""

from .losses import GENERATOR_LOSSES, discriminator_loss, minimax_generator_loss, nonsaturating_generator_loss
from .presets import PRESETS, REGIMES, get_preset, list_presets, preset_config
from .train import TrainConfig, TrainResult, coverage_stats

__all__ = [
    "GENERATOR_LOSSES", "PRESETS", "REGIMES", "TrainConfig", "TrainResult", "coverage_stats", "discriminator_loss",
    "get_preset", "list_presets", "minimax_generator_loss", "nonsaturating_generator_loss", "preset_config",
]
