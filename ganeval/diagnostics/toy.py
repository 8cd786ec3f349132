"""An analytic discriminator for the analytic generators of :mod:`ganeval.toy` (tests and demos).

For a :class:`ganeval.toy.MixtureGenerator` the optimal discriminator is known in closed form:
logit D*(x) = log p_data(x) - log p_g(x), both Gaussian mixtures. :class:`MixtureDiscriminator`
computes ``sharpness * (log p_data - log p_g) + bias``: ``sharpness=1, bias=0`` is D* itself,
``sharpness=0`` a constant discriminator, values in between a discriminator part-way trained.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _mixture_log_prob(x: torch.Tensor, means: torch.Tensor, std: float) -> torch.Tensor:
    sq = torch.cdist(x.double(), means.double()).pow(2)
    d = x.shape[1]
    return torch.logsumexp(-sq / (2 * std**2), 1) - 0.5 * d * math.log(2 * math.pi * std**2) - math.log(len(means))


class MixtureDiscriminator(nn.Module):
    """Logits ``sharpness * (log p_data(x) - log p_g(x)) + bias`` for mixture data and a mixture generator.

    Args:
        means: (K, D) the data's mode centres.
        std: the data's std.
        modes: the modes the generator produces (default: all), as in ``MixtureGenerator``.
        scale: the generator's std multiplier, as in ``MixtureGenerator``.
        sharpness: 1 gives the optimal discriminator D*, 0 a constant one.
        bias: added to the logit.
    """

    means: torch.Tensor  # buffers (typed here: nn.Module's attribute lookup would say Tensor | Module)
    gen_means: torch.Tensor

    def __init__(self, means: list[list[float]], std: float, modes: list[int] | None = None, scale: float = 1.0,
                 sharpness: float = 1.0, bias: float = 0.0):
        super().__init__()
        m = torch.as_tensor(means, dtype=torch.float64)
        chosen = list(range(len(m))) if modes is None else [int(i) for i in modes]
        self.register_buffer("means", m)
        self.register_buffer("gen_means", m[chosen])
        self.std, self.gen_std = float(std), float(std) * float(scale)
        self.sharpness, self.bias = float(sharpness), float(bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        diff = _mixture_log_prob(x, self.means, self.std) - _mixture_log_prob(x, self.gen_means, self.gen_std)
        # Far from both mixtures each log density is hugely negative and their difference can be
        # +-1e4; clamp so the logit stays finite in float32.
        return (self.sharpness * diff + self.bias).clamp(-60, 60).float().unsqueeze(1)
