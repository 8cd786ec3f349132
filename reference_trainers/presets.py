"""Presets: configurations that make a chosen training regime happen on purpose, every time.

``preset_config(name, data, seed)`` returns the :class:`~reference_trainers.train.TrainConfig`
of a preset; :data:`PRESETS` holds them with the reason each produces its regime (also in
``docs/trainers.md``). The goal criteria each preset meets are checked by
``benchmarks/presets.py`` on 10 seeds not used while tuning.

Regimes:

* ``healthy``: covers (almost) every mode with mostly high-quality samples by the end.
* ``collapsed``: the generator sits on one or a few modes for the whole second half.
* ``oscillating``: the game orbits rather than converges: samples concentrate on one or two modes
  at a time while the dominant mode keeps moving (Metz et al. 2017, Figure 1, top row), and D's
  outputs swing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from ganeval.errors import GanevalError, unknown_name

from .train import TrainConfig

REGIMES = ("healthy", "collapsed", "oscillating")

# Metz et al. (2017)'s toy networks: 256-d noise -> 2 x 128 ReLU -> 2; D: 1 x 128 ReLU.
METZ_G = {"latent_dim": 256, "hidden": 128, "depth": 2, "activation": "relu"}
METZ_D = {"hidden": 128, "depth": 1, "activation": "relu"}


@dataclass(frozen=True)
class Preset:
    """A named configuration for one dataset and the regime it is built to produce.

    Attributes:
        name: the regime (``healthy``, ``collapsed``, ``oscillating``).
        data: the dataset it is tuned for.
        overrides: TrainConfig fields that differ from the defaults.
        why: why these settings produce the regime.
    """

    name: str
    data: str
    overrides: dict[str, Any]
    why: str
    criteria: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


PRESETS: dict[tuple[str, str], Preset] = {}


def _add(p: Preset) -> None:
    PRESETS[(p.data, p.name)] = p


_add(Preset("healthy", "ring8", dict(
    loss="nonsaturating", k=1, steps=5000, batch_size=256, lr_g=1e-3, lr_d=1e-3, lr_decay_to=0.05,
    g_kwargs={"latent_dim": 16, "hidden": 128, "depth": 3, "activation": "tanh"},
    d_kwargs={"hidden": 128, "depth": 2, "activation": "tanh"}, log_every=50, ckpt_every=500),
    why="Smooth tanh nets of similar capacity, the non-saturating loss (strong G gradients whatever D "
        "thinks) and equal learning rates keep D and G in step; annealing both learning rates 20x "
        "lets the samples settle on the modes instead of circling them."))

_add(Preset("collapsed", "ring8", dict(
    loss="minimax", k=5, steps=1500, batch_size=512, lr_g=1e-4, lr_d=1e-2,
    g_kwargs=METZ_G, d_kwargs=METZ_D, log_every=25, ckpt_every=75),
    why="The minimax loss log(1 - D(G(z))) saturates when D confidently rejects the samples, and five "
        "discriminator steps at a 100x larger learning rate make D that confident at once: the generator "
        "gets almost no gradient and stays on the one mode it started nearest to."))

_add(Preset("oscillating", "ring8", dict(
    loss="nonsaturating", k=1, steps=7000, batch_size=256, lr_g=1e-3, lr_d=1e-4,
    g_kwargs=METZ_G, d_kwargs=METZ_D, log_every=50, ckpt_every=500),
    why="A fast generator (10x D's learning rate) against a slow discriminator: G jumps to whatever "
        "region D currently rates highest, D slowly learns to reject it, and G hops to the next mode, "
        "the orbit of Metz et al. (2017, Figure 1): the samples sit on one or two modes at a time and "
        "the dominant mode keeps changing."))


_add(Preset("healthy", "grid25", dict(
    loss="nonsaturating", k=1, steps=14000, batch_size=128, lr_g=1e-3, lr_d=1e-3, lr_decay_to=0.2,
    instance_noise=0.3, instance_noise_until=0.35,
    g_kwargs={"latent_dim": 16, "hidden": 128, "depth": 3, "activation": "tanh"},
    d_kwargs={"hidden": 128, "depth": 2, "activation": "tanh"}, log_every=100, ckpt_every=500),
    why="ring8's healthy nets, plus instance noise: 25 modes 0.05 wide and 2 apart are too sharp for D "
        "to guide G from afar, so D first sees the data blurred by noise of std 0.3 (G learns the coarse "
        "grid and spreads over every mode) and the blur fades out over the first 35% of the run, "
        "after which D sharpens and pulls the samples onto the modes. Small batches buy many steps."))

_add(Preset("collapsed", "grid25", dict(
    loss="minimax", k=5, steps=1500, batch_size=512, lr_g=1e-4, lr_d=1e-2,
    g_kwargs=METZ_G, d_kwargs=METZ_D, log_every=25, ckpt_every=75),
    why="ring8's collapsed recipe. Metz et al.'s generator starts with its samples in a small cloud near "
        "the origin, which on this grid is a mode: the saturated minimax gradient leaves them there, a "
        "genuine one-mode generator with high-quality samples."))

_add(Preset("oscillating", "grid25", dict(
    loss="nonsaturating", k=1, steps=7000, batch_size=256, lr_g=1e-3, lr_d=1e-4,
    g_kwargs=METZ_G, d_kwargs=METZ_D, log_every=50, ckpt_every=500),
    why="ring8's oscillating recipe: the fast generator chases the slow discriminator's current favourite "
        "region from mode to mode across the grid."))

DIGITS_G = {"latent_dim": 32, "hidden": 256, "depth": 2, "activation": "leaky_relu", "output": "sigmoid"}
DIGITS_D = {"hidden": 256, "depth": 2, "activation": "leaky_relu"}

_add(Preset("healthy", "digits", dict(
    loss="nonsaturating", k=1, steps=6000, batch_size=64, lr_g=2e-4, lr_d=2e-4,
    g_kwargs={**DIGITS_G, "batchnorm": True}, d_kwargs=DIGITS_D, log_every=100, ckpt_every=300, eval_samples=500),
    why="DCGAN's recipe on MLPs: Adam 2e-4 with beta1 0.5, leaky-ReLU D, and batch normalisation in G. "
        "Without batch norm the same MLP generator collapses onto one class at a time (that is the "
        "oscillating preset); normalising each layer over the batch keeps the samples of a batch apart."))

_add(Preset("collapsed", "digits", dict(
    loss="minimax", k=5, steps=1500, batch_size=128, lr_g=1e-4, lr_d=1e-2,
    g_kwargs=DIGITS_G, d_kwargs=DIGITS_D, log_every=50, ckpt_every=100, eval_samples=500),
    why="ring8's collapsed recipe on images: within a few steps D separates real digits from the "
        "generator's initial grey blur with near-certainty, the minimax gradient vanishes, and every "
        "sample stays the same blur, which the classifier files under one class. This is collapse by "
        "vanishing gradients (the samples are not digits), the failure the paper's Section 3 warns of."))

_add(Preset("oscillating", "digits", dict(
    loss="nonsaturating", k=1, steps=5000, batch_size=64, lr_g=2e-4, lr_d=2e-4,
    instance_noise=0.2, instance_noise_until=0.5,
    g_kwargs={**DIGITS_G, "activation": "relu"}, d_kwargs=DIGITS_D, log_every=100, ckpt_every=250,
    eval_samples=500),
    why="The healthy recipe without batch norm in G: nothing ties the samples of a batch together, so G "
        "piles onto the one class D currently rates highest; D (stronger on 1,197 images) learns to reject "
        "it within a few hundred steps and G jumps to another class: mode hopping, with D's verdict on "
        "the samples swinging as it does."))


def list_presets(data: str | None = None) -> list[tuple[str, str]]:
    """``(data, name)`` pairs of every preset (for ``data`` only, when given)."""
    return sorted(k for k in PRESETS if data is None or k[0] == data)


def get_preset(name: str, data: str) -> Preset:
    """The preset ``name`` for dataset ``data``.

    Raises:
        GanevalError: unknown preset name (with near-miss suggestions), or no such preset for this data.
    """
    names = sorted({n for _, n in PRESETS})
    if name not in names:
        raise unknown_name("preset", name, names)
    if (data, name) not in PRESETS:
        have = sorted({d for d, n in PRESETS if n == name})
        raise GanevalError(f"No preset {name!r} for dataset {data!r}: presets exist for {', '.join(have)}. "
                           "Pick one of those datasets, or run a custom configuration (--loss, --k, ...).")
    return PRESETS[(data, name)]


def preset_config(name: str, data: str, seed: int = 0, *, steps: int | None = None,
                  **overrides: Any) -> TrainConfig:
    """The :class:`TrainConfig` of preset ``name`` on ``data`` with ``seed``.

    Args:
        name: ``healthy``, ``collapsed`` or ``oscillating``.
        data: dataset name the preset is tuned for.
        seed: training seed.
        steps: override the number of generator steps (checkpoint and log periods shrink with
            it so a short run still writes several of each).
        **overrides: any other TrainConfig field (e.g. ``threads=1``).

    Raises:
        GanevalError: unknown preset or dataset, or bad overrides.
    """
    p = get_preset(name, data)
    fields = copy.deepcopy(p.overrides)
    if steps is not None:
        if not isinstance(steps, int) or steps < 1:
            raise GanevalError(f"`steps` must be an integer >= 1, got {steps!r}: pass --steps 1 or more.")
        full = fields["steps"]
        fields["steps"] = steps
        if steps < full:
            fields["ckpt_every"] = max(1, min(fields["ckpt_every"], steps // 4 or 1))
            fields["log_every"] = max(1, min(fields["log_every"], steps // 20 or 1))
    fields.update(overrides)
    try:
        cfg = TrainConfig(data=data, seed=int(seed), preset=name, expected_regime=name, **fields)
    except TypeError as exc:
        raise GanevalError(f"Bad override for preset {name!r}: {exc}.") from exc
    cfg.validate()
    return cfg
