"""GAN losses of Goodfellow et al. (2014), written on discriminator logits.

With ``l`` the discriminator's logit and ``D = sigmoid(l)``:

* discriminator: ``-[log D(x) + log(1 - D(G(z)))] = softplus(-l_real) + softplus(l_fake)``
  (the cross-entropy of real-vs-fake, Algorithm 1's ascent direction, sign flipped);
* generator ``minimax``: minimise ``log(1 - D(G(z))) = -softplus(l_fake)`` — the loss of the
  value function itself, which *saturates*: when D rejects the samples confidently
  (``l_fake`` very negative) its gradient ``-sigmoid(l_fake)`` vanishes;
* generator ``nonsaturating``: minimise ``-log D(G(z)) = softplus(-l_fake)`` — the paper's
  practical swap (Section 3): same fixed point, strong gradients early in training.

``softplus`` is evaluated stably by PyTorch for any logit magnitude (it switches to the linear
asymptote for large arguments), so ±1e4 logits give finite losses and gradients, where the naive
``log(sigmoid(l))`` would return ``-inf``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of D on a real and a fake batch (to minimise).

    Args:
        real_logits: (B,) logits of D on data.
        fake_logits: (B',) logits of D on generated samples.

    Returns:
        Scalar ``mean(softplus(-real)) + mean(softplus(fake))``.
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def minimax_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Saturating generator loss ``mean log(1 - D(G(z)))`` (to minimise).

    Args:
        fake_logits: (B,) logits of D on generated samples.

    Returns:
        Scalar ``-mean(softplus(fake_logits))`` (always <= 0).
    """
    return -F.softplus(fake_logits).mean()


def nonsaturating_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss ``mean -log D(G(z))`` (to minimise).

    Args:
        fake_logits: (B,) logits of D on generated samples.

    Returns:
        Scalar ``mean(softplus(-fake_logits))`` (always >= 0).
    """
    return F.softplus(-fake_logits).mean()


GENERATOR_LOSSES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "minimax": minimax_generator_loss,
    "nonsaturating": nonsaturating_generator_loss,
}
