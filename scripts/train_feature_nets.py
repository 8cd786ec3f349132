"""Train ganeval's shipped digit classifiers (feature extractors ``digits`` and ``mnist``), reproducibly.

    python scripts/train_feature_nets.py                      # both; MNIST from ../shared/data/mnist-t10k
    python scripts/train_feature_nets.py --only digits
    python scripts/train_feature_nets.py --mnist-root PATH    # a folder of MNIST IDX files

Data: ``ganeval.load_dataset`` splits (seed 0). digits: 1,197 train / 300 val / 300 test. MNIST:
where only the t10k file is present (as here), a stratified 7,000 / 1,000 / 2,000 split of it;
with the full MNIST files, train = 50,000, val = 10,000, test = t10k. Training uses the train
split with random shifts of up to 1 px (digits) / 2 px (MNIST); the validation split picks the
best epoch; the test split is touched once, for the accuracy written beside the weights.

Writes ``ganeval/features/weights/<name>.pt`` ({"format": "ganeval-classifier", "arch",
"state_dict", "meta"}) and ``<name>.json`` (sha256 of the .pt, accuracies, protocol). CPU,
seeded: shuffling and shifts draw from a private generator; the initialisation and dropout draw
from torch's global generator, seeded inside ``torch.random.fork_rng`` so the caller's state is
untouched. Same torch build and thread count, same weights (``--threads``, default 2).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ganeval import load_dataset  # noqa: E402
from ganeval._utils import sha256_file, torch_generator  # noqa: E402
from ganeval.features.digits_cnn import FORMAT, WEIGHTS_DIR, build  # noqa: E402


@dataclass
class Config:
    epochs: int
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    max_shift: int = 1
    seed: int = 0
    split_seed: int = 0


CONFIGS = {"digits": Config(epochs=40, batch_size=32, max_shift=1), "mnist": Config(epochs=15, batch_size=64, max_shift=2)}


def shift(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image by a random integer offset in [-max_shift, max_shift]^2 (zero fill)."""
    if max_shift == 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4)
    off = torch.randint(0, 2 * max_shift + 1, (n, 2), generator=gen)
    out = torch.empty_like(x)
    for dy in range(2 * max_shift + 1):  # one slice per offset, not per image
        for dx in range(2 * max_shift + 1):
            sel = (off[:, 0] == dy) & (off[:, 1] == dx)
            out[sel] = padded[sel, :, dy:dy + h, dx:dx + w]
    return out


def accuracy(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(x[s:s + 1024]).argmax(1) for s in range(0, len(x), 1024)])
    return float((pred == y).double().mean())


def train(name: str, cfg: Config, mnist_root: str | None, out_dir: Path = WEIGHTS_DIR) -> dict:
    """Train one classifier, write its weights and record; returns the record."""
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)  # init and dropout use the global generator: seed it, then restore it
        return _train(name, cfg, mnist_root, out_dir)


def _train(name: str, cfg: Config, mnist_root: str | None, out_dir: Path) -> dict:
    ds = load_dataset(name, root=mnist_root if name == "mnist" else None, seed=cfg.split_seed)
    xtr, ytr = ds.train, ds.train_labels
    gen = torch_generator(cfg.seed)
    net = build(name)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(xtr) / cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch)
    best = (-1.0, 0, None)
    t0 = time.perf_counter()
    for epoch in range(cfg.epochs):
        net.train()
        perm = torch.randperm(len(xtr), generator=gen)
        for s in range(0, len(xtr), cfg.batch_size):
            idx = perm[s:s + cfg.batch_size]
            loss = F.cross_entropy(net(shift(xtr[idx], cfg.max_shift, gen)), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        val = accuracy(net, ds.val, ds.val_labels)
        if val > best[0]:
            best = (val, epoch, {k: v.clone() for k, v in net.state_dict().items()})
        print(f"{name} epoch {epoch + 1:3d}/{cfg.epochs} loss {loss.item():.4f} val {val:.4f} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    net.load_state_dict(best[2])
    test = accuracy(net, ds.test, ds.test_labels)
    meta = {
        "name": name,
        "accuracy": {"test": test, "val": best[0]},
        "best_epoch": best[1] + 1,
        "split_sizes": {s: int(ds.split(s).shape[0]) for s in ("train", "val", "test")},
        "data_notes": list(ds.notes),
        "config": asdict(cfg),
        "torch": torch.__version__,
        "train_seconds": round(time.perf_counter() - t0, 1),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.pt"
    torch.save({"format": FORMAT, "version": 1, "arch": name, "state_dict": net.state_dict(),
                "meta": {"accuracy_test": test, "accuracy_val": best[0]}}, path)
    meta["sha256"] = sha256_file(path)
    meta["bytes"] = path.stat().st_size
    (out_dir / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"{name}: held-out (test split) accuracy {test:.4f}, val {best[0]:.4f} at epoch {best[1] + 1}; "
          f"wrote {path} ({meta['bytes']} bytes, sha256 {meta['sha256'][:16]}...)")
    return meta


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", choices=sorted(CONFIGS), default=None)
    p.add_argument("--mnist-root", default=str(ROOT.parent / "shared" / "data" / "mnist-t10k"))
    p.add_argument("--threads", type=int, default=2, help="CPU threads (fixed for reproducible sums)")
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="output folder (default: the package's weights/)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    for name in ([args.only] if args.only else list(CONFIGS)):
        train(name, CONFIGS[name], args.mnist_root, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
