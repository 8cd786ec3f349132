"""Peak memory of the streamed 50k protocol: FID + KID + PRDC on CIFAR-sized images, N = 10k vs 50k.

    python benchmarks/stream_memory.py                      # streamed 10k, 50k; held-in-memory 50k
    python benchmarks/stream_memory.py --ns 10000 50000 --no-held
    python benchmarks/stream_memory.py --features inception --ns 96 --no-held --train 100 --test 20
                                          # Inception's images/s and idle fraction in the stream

Setup (in a temporary folder): a CIFAR-10 folder in torchvision's format with 50,000 training and
10,000 test images (random smooth colour fields; no real CIFAR-10 here), and an MLP generator
checkpoint (ganeval format, 3x32x32 sigmoid output). Every run scores the checkpoint against the
50,000 training images (``train+val``) with ``--metrics fid,kid,prdc`` in a child process of its
own, and prints the child's peak resident memory (Linux ``VmHWM``): for the whole process, and the
rise during ``evaluate`` above the resident size after imports.

The extractor is ``pool192`` (8x8x3 = 192-d average-pooled pixels, registered here), not
Inception: random-weights Inception runs at a few images/s on this 2-core host, so 2 x 60,000
images would take hours; the point measured is that the streamed run's memory does not grow with
N (samples, their features, the FID statistics, the KID/PRDC reservoir of 10,000 rows), which
does not depend on the extractor's cost. With Inception the per-row features are 2048 + 1008
floats instead of 192, which adds to the reservoir (10,000 rows: 122 MB) and the reference
features (50,000 rows: 611 MB), both independent of N.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _register_pool192() -> None:
    import torch

    from ganeval.features import Extractor, register_extractor

    @register_extractor("pool192")
    def _pool(device: torch.device, **_: object) -> Extractor:
        return Extractor(name="pool192", fn=lambda x: torch.nn.functional.avg_pool2d(x, 4).flatten(1),
                         device=device, dim=192, description="4x4 average-pooled pixels (benchmark)")


def _child(mode: str, n: int, folder: Path, features: str) -> None:
    import torch
    from frechet import _peak, _reset_peak

    from ganeval import evaluate

    torch.set_num_threads(int(os.environ.get("GANEVAL_BENCH_THREADS", "2")))
    _register_pool192()
    base = _reset_peak()
    t = time.perf_counter()
    opts = {"weights": str(folder / "inception.pth")} if features == "inception" else {}
    ev = evaluate(str(folder / "gen.pt"), "cifar10", data_root=folder, metrics="fid,kid,prdc", features=features,
                  extractor_options=opts,
                  n_samples=n, seed=0, device="cpu", stream=(mode == "stream"),
                  options={"fid": {"reference": "train+val", "infinity": False, "bootstrap": 0},
                           "kid": {"reference": "train+val"}, "prdc": {"reference": "train+val"}})
    wall = time.perf_counter() - t
    peak = _peak()
    info = (ev.provenance.get("features") or {}).get("stream") or {}
    print(json.dumps({"mode": mode, "n": n, "peak_kib": peak, "base_kib": base, "wall_s": wall,
                      "fid": ev.metrics["fid"].value, "kid": ev.metrics["kid"].value,
                      "precision": ev.metrics["prdc"].precision, "images_per_s": info.get("images_per_s"),
                      "idle_fraction": info.get("idle_fraction")}))


def _setup(folder: Path, n_train: int, n_test: int, features: str) -> None:
    import torch
    from fake_cifar import write_fake_cifar10

    from ganeval.checkpoints import save_generator
    from reference_trainers.nets import MLPGenerator

    write_fake_cifar10(folder, n_train, n_test, seed=0)
    if features == "inception":  # random weights, He-initialised convolutions (live activations)
        from ganeval.features.inception import inception_module

        with torch.random.fork_rng():
            torch.manual_seed(0)
            inc = inception_module(None)
            for mod in inc.modules():
                if isinstance(mod, torch.nn.Conv2d):
                    torch.nn.init.kaiming_normal_(mod.weight, nonlinearity="relu")
        torch.save(inc.state_dict(), folder / "inception.pth")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = MLPGenerator(latent_dim=64, hidden=256, depth=2, out_shape=(3, 32, 32), activation="relu",
                           output="sigmoid")
    save_generator(folder / "gen.pt", net, factory="reference_trainers.nets:MLPGenerator",
                   factory_kwargs={"latent_dim": 64, "hidden": 256, "depth": 2, "out_shape": [3, 32, 32],
                                   "activation": "relu", "output": "sigmoid"}, latent_dim=64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ns", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--no-held", action="store_true", help="skip the held-in-memory 50k run")
    ap.add_argument("--features", choices=["pool192", "inception"], default="pool192")
    ap.add_argument("--train", type=int, default=50_000, help="fake CIFAR-10 training images")
    ap.add_argument("--test", type=int, default=10_000, help="fake CIFAR-10 test images")
    ap.add_argument("--child", nargs=4, metavar=("MODE", "N", "FOLDER", "FEATURES"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]), Path(args.child[2]), args.child[3])
        return
    from nearest import matmul_gflops

    print(f"host: float32 4096x4096 matmul {matmul_gflops():.0f} GFLOP/s, {os.cpu_count()} CPUs")
    runs = [("stream", n) for n in args.ns] + ([] if args.no_held else [("held", max(args.ns))])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        _setup(folder, args.train, args.test, args.features)
        print(f"setup (fake CIFAR-10 {args.train} + {args.test}, generator, {args.features}): "
              f"{time.perf_counter() - t:.1f} s")
        results = []
        for mode, n in runs:
            out = subprocess.run([sys.executable, __file__, "--child", mode, str(n), str(folder), args.features],
                                 capture_output=True,
                                 text=True, env={**os.environ, "GANEVAL_CACHE": "off",
                                                 "GANEVAL_PROGRESS": "0"})
            if out.returncode != 0:
                print(out.stderr[-3000:])
                raise SystemExit(f"child {mode} {n} failed")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(r)
            print(f"{mode:6s} N={n:6d}: peak RSS {r['peak_kib'] / 1024:7.0f} MiB (rise during evaluate "
                  f"{(r['peak_kib'] - r['base_kib']) / 1024:6.0f} MiB), {r['wall_s']:6.1f} s, FID {r['fid']:.4f}, "
                  f"KID {r['kid']:.5f}, precision {r['precision']:.3f}"
                  + (f", {r['images_per_s']:.0f} img/s streamed, extractor idle {100 * r['idle_fraction']:.1f}%"
                     if r.get("images_per_s") else ""))
        streamed = {r["n"]: r for r in results if r["mode"] == "stream"}
        if len(streamed) >= 2:
            lo, hi = streamed[min(streamed)], streamed[max(streamed)]
            print(f"streamed peak RSS, N={hi['n']} / N={lo['n']}: {hi['peak_kib'] / lo['peak_kib']:.3f} "
                  f"(goal <= 1.2); rise during evaluate: "
                  f"{(hi['peak_kib'] - hi['base_kib']) / max(lo['peak_kib'] - lo['base_kib'], 1):.3f}")


if __name__ == "__main__":
    main()
