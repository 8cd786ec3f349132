"""Test helpers for image protocols: a random-weights Inception with live activations, saved to a
file, and folders of small PNG images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def he_inception(path: Path, seed: int = 0, calibrate: torch.Tensor | None = None) -> Path:
    """torch-fidelity's Inception with He-initialised convolutions (live activations) saved to ``path``.

    A deep random network maps different images to nearly parallel pool features, so random
    logits hardly vary and the Inception Score sits at 1. With ``calibrate`` (uint8 images) the
    classifier's rows are random mixtures of those images' centred pool features, scaled so the
    logits vary by a few units between images: a score well above 1.
    """
    from ganeval.features.inception import inception_module

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = inception_module(None)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.Conv2d):
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=gen) * (2.0 / mod.weight[0].numel()) ** 0.5)
        if calibrate is not None:
            pool = model(calibrate)[0].double()
            mean = pool.mean(0)
            centred = pool - mean
            w = torch.randn(model.fc.weight.shape[0], pool.shape[0], generator=gen).double() @ centred
            # Rows orthogonal to the (large) shared direction: no constant logit swamps the varying part.
            unit = mean / mean.norm()
            w -= (w @ unit)[:, None] * unit[None, :]
            spread = (pool @ w.T).std(0).mean()
            model.fc.weight.copy_((w * (3.0 / spread)).float())
    torch.save(model.state_dict(), path)
    return path


def png_folder(folder: Path, n: int, seed: int) -> Path:
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        base = rng.uniform(0, 255, (4, 4, 3)).repeat(8, 0).repeat(8, 1)
        img = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"{i:03d}.png")
    return folder
