"""Generator and discriminator networks for the reference trainers.

Every class here is its own checkpoint factory: ``Class(**kwargs)`` rebuilds the network from
the plain keyword arguments stored in a ganeval checkpoint (``factory=
"reference_trainers.nets:MLPGenerator"``), so all constructor arguments are numbers, strings
or lists. Discriminators return **logits** of shape ``(B,)``; ``D(x) = sigmoid(logit)``.

Networks are initialised from a private, seeded :class:`torch.Generator` by :func:`init_weights`
(never from the global RNG), so a run is reproducible from its seed alone.

* :class:`MLPGenerator` / :class:`MLPDiscriminator`: the small MLPs used on the 2-D mixtures
  and on 8x8 digits (sizes, activation and scale chosen by the presets).
* :class:`MaxoutDiscriminator` with :func:`paper_mnist_generator` /
  :func:`paper_mnist_discriminator`: the MNIST architecture of Goodfellow et al. (2014)
  (``goodfeli/adversarial`` ``mnist.yaml``): 100-d uniform noise -> 1200 ReLU -> 1200 ReLU ->
  784 sigmoid; discriminator: two maxout layers (240 units x 5 pieces) with dropout
  (input keep 0.8, hidden keep 0.5) -> 1 logit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "leaky_relu": lambda: nn.LeakyReLU(0.2), "elu": nn.ELU}
OUTPUTS = ("linear", "sigmoid", "tanh")
INITS = ("default", "orthogonal", "uniform")


def _activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        from ganeval.errors import unknown_name

        raise unknown_name("activation", name, ACTIVATIONS)
    return ACTIVATIONS[name]()


def _mlp(sizes: Sequence[int], activation: str, batchnorm: bool = False) -> nn.Sequential:
    """Linear layers between consecutive ``sizes``, ``activation`` (after batch norm, if asked)
    after all but the last."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            if batchnorm:
                layers.append(nn.BatchNorm1d(b))
            layers.append(_activation(activation))
    return nn.Sequential(*layers)


def init_weights(module: nn.Module, gen: torch.Generator, scheme: str = "default", gain: float = 1.0,
                 irange: float = 0.05) -> nn.Module:
    """Re-initialise every ``nn.Linear`` of ``module`` in place from the private RNG ``gen``.

    Args:
        module: the network.
        gen: seeded CPU generator (the only source of randomness).
        scheme: ``"default"``: PyTorch's own ``nn.Linear`` rule, weight and bias uniform in
            ±1/sqrt(fan_in); ``"orthogonal"``: orthogonal weights times ``gain``, zero bias
            (Metz et al. 2017's toy setup); ``"uniform"``: weights uniform in ±``irange``, zero bias
            (pylearn2's ``irange``, the 2014 paper's nets).
        gain: orthogonal gain.
        irange: uniform half-width.

    Returns:
        ``module`` (for chaining).
    """
    with torch.no_grad():
        for m in module.modules():
            if not isinstance(m, nn.Linear):
                continue
            if scheme == "orthogonal":
                nn.init.orthogonal_(m.weight, gain=gain, generator=gen)
                nn.init.zeros_(m.bias)
            elif scheme == "uniform":
                nn.init.uniform_(m.weight, -irange, irange, generator=gen)
                nn.init.zeros_(m.bias)
            else:
                bound = 1.0 / math.sqrt(m.in_features)
                nn.init.uniform_(m.weight, -bound, bound, generator=gen)
                nn.init.uniform_(m.bias, -bound, bound, generator=gen)
    return module


class MLPGenerator(nn.Module):
    """z (B, latent_dim) -> MLP -> samples (B, *out_shape).

    Args:
        latent_dim: noise size.
        hidden: width of each hidden layer.
        depth: number of hidden layers.
        out_shape: shape of one sample, e.g. ``[2]`` or ``[1, 8, 8]``.
        activation: hidden activation (relu, tanh, leaky_relu, elu).
        output: ``"linear"`` (mixtures), ``"sigmoid"`` (images in [0, 1]) or ``"tanh"``.
        scale: the output is multiplied by this (lets the net work in unit-scale coordinates
            when the data spans ±4, as grid25 does).
        latent_dist: ``"normal"`` or ``"uniform"``, recorded for samplers.
        batchnorm: batch normalisation before each hidden activation (as DCGAN's generator; it
            couples the samples of a batch, which keeps an MLP generator on images from
            collapsing). Sampling in ``eval()`` mode uses the running statistics.
    """

    def __init__(self, latent_dim: int = 16, hidden: int = 128, depth: int = 3, out_shape: Sequence[int] = (2,),
                 activation: str = "tanh", output: str = "linear", scale: float = 1.0,
                 latent_dist: str = "normal", batchnorm: bool = False):
        super().__init__()
        if output not in OUTPUTS:
            from ganeval.errors import unknown_name

            raise unknown_name("generator output", output, OUTPUTS)
        self.latent_dim = int(latent_dim)
        self.latent_dist = latent_dist
        self.out_shape = tuple(int(s) for s in out_shape)
        self.output = output
        self.scale = float(scale)
        self.net = _mlp([self.latent_dim] + [int(hidden)] * int(depth) + [math.prod(self.out_shape)], activation,
                        bool(batchnorm))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.net(z)
        if self.output == "sigmoid":
            x = torch.sigmoid(x)
        elif self.output == "tanh":
            x = torch.tanh(x)
        return (x * self.scale).reshape(z.shape[0], *self.out_shape)


class MLPDiscriminator(nn.Module):
    """x (B, ...) -> flattened -> MLP -> logits (B,).

    Args:
        in_dim: flattened sample size.
        hidden: width of each hidden layer.
        depth: number of hidden layers.
        activation: hidden activation.
        input_scale: the input is multiplied by this first (Metz et al. 2017 feed their toy
            discriminator x / 4; grid25 uses 1/4 to bring ±4 into unit scale).
    """

    def __init__(self, in_dim: int = 2, hidden: int = 128, depth: int = 2, activation: str = "tanh",
                 input_scale: float = 1.0):
        super().__init__()
        self.in_dim = int(in_dim)
        self.input_scale = float(input_scale)
        self.net = _mlp([self.in_dim] + [int(hidden)] * int(depth) + [1], activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.reshape(x.shape[0], -1) * self.input_scale).squeeze(1)


class Maxout(nn.Module):
    """Maxout layer (Goodfellow et al. 2013): max over ``pieces`` linear pieces per unit."""

    def __init__(self, in_dim: int, units: int, pieces: int):
        super().__init__()
        self.units, self.pieces = int(units), int(pieces)
        self.linear = nn.Linear(int(in_dim), self.units * self.pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(x.shape[0], self.units, self.pieces).amax(dim=2)


class MaxoutDiscriminator(nn.Module):
    """Maxout MLP discriminator with dropout, as in the 2014 paper's MNIST model.

    Dropout masks are drawn from ``self.rng`` (a :class:`torch.Generator` the trainer sets), not
    from the global RNG, so training stays reproducible; in ``eval()`` mode there is no dropout.

    Args:
        in_dim: flattened sample size (784 for MNIST).
        units: maxout units per layer (240 in the paper).
        pieces: linear pieces per unit (5).
        depth: number of maxout layers (2).
        input_keep: probability of keeping an input pixel (0.8).
        hidden_keep: probability of keeping a hidden unit (0.5).
    """

    def __init__(self, in_dim: int = 784, units: int = 240, pieces: int = 5, depth: int = 2,
                 input_keep: float = 0.8, hidden_keep: float = 0.5):
        super().__init__()
        self.in_dim = int(in_dim)
        self.input_keep, self.hidden_keep = float(input_keep), float(hidden_keep)
        sizes = [self.in_dim] + [int(units)] * int(depth)
        self.layers = nn.ModuleList(Maxout(a, b, pieces) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = nn.Linear(sizes[-1], 1)
        self.rng: torch.Generator | None = None

    def _dropout(self, x: torch.Tensor, keep: float) -> torch.Tensor:
        if not self.training or keep >= 1.0:
            return x
        mask = torch.rand(x.shape, generator=self.rng, device="cpu").to(x.device) < keep
        return x * mask / keep  # inverted dropout: the expected activation is unchanged

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self._dropout(x.reshape(x.shape[0], -1), self.input_keep)
        for layer in self.layers:
            h = self._dropout(layer(h), self.hidden_keep)
        return self.out(h).squeeze(1)


def paper_mnist_generator(latent_dim: int = 100, hidden: int = 1200, side: int = 28) -> MLPGenerator:
    """Goodfellow et al. (2014) MNIST generator: uniform noise -> 2 x ``hidden`` ReLU -> side² sigmoid.

    The paper's code draws the noise uniform in ±sqrt(3) (unit variance); save it with
    ``latent_dist="uniform", latent_low=-sqrt(3), latent_high=sqrt(3)``.
    """
    return MLPGenerator(latent_dim=latent_dim, hidden=hidden, depth=2, out_shape=(1, side, side),
                        activation="relu", output="sigmoid", latent_dist="uniform")


def paper_mnist_discriminator(in_dim: int = 784, units: int = 240, pieces: int = 5) -> MaxoutDiscriminator:
    """Goodfellow et al. (2014) MNIST discriminator: 2 maxout layers (240 x 5) with dropout."""
    return MaxoutDiscriminator(in_dim=in_dim, units=units, pieces=pieces, depth=2, input_keep=0.8, hidden_keep=0.5)


GENERATORS: dict[str, Callable[..., nn.Module]] = {"mlp": MLPGenerator, "paper_mnist": paper_mnist_generator}
DISCRIMINATORS: dict[str, Callable[..., nn.Module]] = {"mlp": MLPDiscriminator, "maxout": MaxoutDiscriminator, "paper_mnist": paper_mnist_discriminator}
FACTORY_NAMES: dict[Callable[..., nn.Module], str] = {MLPGenerator: "MLPGenerator", paper_mnist_generator: "paper_mnist_generator",
                 MLPDiscriminator: "MLPDiscriminator", MaxoutDiscriminator: "MaxoutDiscriminator",
                 paper_mnist_discriminator: "paper_mnist_discriminator"}
