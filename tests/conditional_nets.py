"""Class-conditional "generators" for the tests (importable, so TorchScript can script them).

* :class:`CondDCGAN`: a small DCGAN-style conditional generator for 8x8 images (label embedding
  joined to the latent, ConvTranspose + BatchNorm + ReLU, ``tanh`` output), index or one-hot labels.
* :class:`HeldOutLookup`: returns real held-out images. ``obey=True``: the next unused held-out
  image of the asked class (without replacement, so n = the held-out count returns each once);
  ``obey=False``: a held-out image of any class, chosen by the latent (it ignores its label).
* :class:`Unconditional`: forward(z) only.
"""

from __future__ import annotations

import torch
from torch import nn


class CondDCGAN(nn.Module):
    def __init__(self, latent_dim: int = 16, num_classes: int = 10, ngf: int = 16, onehot: bool = False) -> None:
        super().__init__()
        self.onehot = onehot
        self.num_classes = num_classes
        self.embed = nn.Linear(num_classes, latent_dim, bias=False)
        self.net = nn.Sequential(
            nn.ConvTranspose2d(2 * latent_dim, ngf * 2, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(),
            nn.Conv2d(ngf, 1, 3, 1, 1), nn.Tanh())

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.onehot:
            if y.dim() != 2:
                raise RuntimeError("expected one-hot labels of shape (B, K)")
            oh = y.float()
        else:
            if y.dim() != 1:
                raise RuntimeError("expected class indices of shape (B,)")
            oh = torch.nn.functional.one_hot(y, self.num_classes).float()
        h = torch.cat([z, self.embed(oh)], 1)
        return self.net(h[:, :, None, None])


class HeldOutLookup(nn.Module):
    def __init__(self, images: torch.Tensor, labels: torch.Tensor, num_classes: int, obey: bool = True) -> None:
        super().__init__()
        self.obey = obey
        order = torch.argsort(labels, stable=True)
        counts = torch.bincount(labels, minlength=num_classes)
        self.register_buffer("images", images.clone())
        self.register_buffer("order", order)
        self.register_buffer("counts", counts)
        self.register_buffer("starts", torch.cumsum(counts, 0) - counts)
        self.register_buffer("used", torch.zeros(num_classes, dtype=torch.int64))

    def reset(self) -> None:
        self.used.zero_()

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if not self.obey:
            u = torch.special.ndtr(z[:, 0]).clamp(0.0, 1.0 - 1e-7)
            return self.images[(u * self.images.shape[0]).long()]
        onehot = torch.nn.functional.one_hot(y, self.counts.shape[0])
        rank = (onehot.cumsum(0) - 1).gather(1, y[:, None])[:, 0] + self.used[y]
        self.used += onehot.sum(0)
        idx = self.starts[y] + torch.remainder(rank, self.counts[y])
        return self.images[self.order[idx]]


class FirstChannel(nn.Module):
    """A classifier of (N, 3, H, W) images that reads the first channel with a 1-channel network."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x[:, :1])


class Unconditional(nn.Module):
    def __init__(self, latent_dim: int = 16) -> None:
        super().__init__()
        self.fc = nn.Linear(latent_dim, 64)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.fc(z)).reshape(-1, 1, 8, 8)


class StackedLookup(nn.Module):
    """Stacked MNIST class y = 100a + 10b + c -> three real digits a, b, c (chosen by the latent) as R, G, B."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        super().__init__()
        order = torch.argsort(labels, stable=True)
        counts = torch.bincount(labels, minlength=10)
        self.register_buffer("images", images[order].clone())
        self.register_buffer("counts", counts)
        self.register_buffer("starts", torch.cumsum(counts, 0) - counts)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = []
        for ch, digit in enumerate([y // 100, (y // 10) % 10, y % 10]):
            u = torch.special.ndtr(z[:, ch]).clamp(0.0, 1.0 - 1e-7)
            out.append(self.images[self.starts[digit] + (u * self.counts[digit]).long()])
        return torch.cat(out, 1)
