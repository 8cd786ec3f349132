"""What the conditional metrics cost beside FID, and what they say, on MNIST (the t10k split alone works).

Two conditional "generators" return real MNIST images from the held-out val + test splits: one of
the asked class (obeys its label), one of any class (ignores it). Each is scored with the default
metrics of a conditional generator (fid, intra_fid, class_prdc, conditional_accuracy, ...) at
``--n-samples``; the script prints every metric's value and its wall time from the evaluation's
provenance, and the host's float32 matmul rate before and after (a shared machine's speed moves).
There is no peer implementation of intra-FID to compare with: ``tests/test_conditional.py``
checks each class's FID against :func:`ganeval.metrics.fid` called by hand.

    .venv/bin/python benchmarks/conditional.py [--data-root ../shared/data/mnist-t10k] [--n-samples 3000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nearest import matmul_gflops, report_rate  # noqa: E402

from ganeval import evaluate, generator_from_module, load_dataset  # noqa: E402


class Lookup(nn.Module):
    """forward(z, y): a held-out image of class y (obey) or of any class (ignore), chosen by z[:, 0]."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, obey: bool) -> None:
        super().__init__()
        order = torch.argsort(labels, stable=True)
        counts = torch.bincount(labels, minlength=10)
        self.register_buffer("images", images[order].clone())
        self.register_buffer("counts", counts)
        self.register_buffer("starts", torch.cumsum(counts, 0) - counts)
        self.obey = obey

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        u = torch.special.ndtr(z[:, 0]).clamp(0.0, 1.0 - 1e-7)
        if not self.obey:
            return self.images[(u * self.images.shape[0]).long()]
        return self.images[self.starts[y] + (u * self.counts[y]).long()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-t10k"))
    ap.add_argument("--n-samples", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(2)
    ds = load_dataset("mnist", root=args.data_root)
    held, held_y = torch.cat([ds.val, ds.test]), torch.cat([ds.val_labels, ds.test_labels])
    before = matmul_gflops()
    best: dict[tuple[str, str], float] = {}
    values: dict[tuple[str, str], object] = {}
    for _ in range(args.repeat):  # interleaved, best of --repeat
        for kind in ("obeys", "ignores"):
            gen = generator_from_module(Lookup(held, held_y, kind == "obeys"), latent_dim=1, device="cpu",
                                        conditional=10, name=f"{kind} its label")
            ev = evaluate(gen, ds, n_samples=args.n_samples, device="cpu")
            for name, t in ev.provenance["wall_time_s"].items():
                best[(kind, name)] = min(t, best.get((kind, name), float("inf")))
            for name in ev.metrics:
                values[(kind, name)] = ev.metric_dict(name).get("value")
    report_rate(before, matmul_gflops())
    print(f"MNIST ({ds.notes[0][:60]}...), {args.n_samples} samples, 10 classes, best of {args.repeat}")
    names = sorted({n for _, n in best}, key=lambda n: (n in ("sampling", "total"), n))
    print(f"{'':22s}" + "".join(f"{k:>24s}" for k in ("obeys its label", "ignores it")))
    for name in names:
        cells = []
        for kind in ("obeys", "ignores"):
            v = values.get((kind, name))
            shown = "" if not isinstance(v, float) else f"{v:.4g}  "
            cells.append(f"{shown}{best[(kind, name)]:.2f} s")
        print(f"{name:22s}" + "".join(f"{c:>24s}" for c in cells))


if __name__ == "__main__":
    main()
