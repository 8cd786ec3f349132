"""``ganeval wrap`` and ``ganeval inspect``, and the flags that load a generator from a state dict.

* ``ganeval wrap WEIGHTS --factory pkg.module:Class --latent-dim K -o g.pt``: a state dict (bare or
  in a container) plus its class, written once in the ganeval format, so that every later command
  reads ``g.pt`` with no flags (and no trust when the factory is allow-listed).
* ``ganeval inspect CKPT [--json]``: what ganeval sees, without scoring: format, factory, latent and
  conditional spec, output shape and range on a seeded probe batch, step, data, sha256,
  discriminator, where the weights came from, and which flags would change it.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect as pyinspect
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from .errors import GanevalError

RANGE_FLAGS = ("--output-range", "--latent-range")
PROBE = 64  # samples in inspect's probe batch


def add_generator_flags(p: argparse.ArgumentParser, *, range_check: bool = True) -> None:
    """The flags that build a generator from a state dict and set its ranges (every loading command)."""
    g = p.add_argument_group("bring your own generator (see docs/checkpoints.md)")
    g.add_argument("--factory", default=None, metavar="PKG.MODULE:CALLABLE",
                   help="the class (or function) that builds the network of a state-dict file; outside ganeval, "
                        "reference_trainers and the 'ganeval.generators' entry points it needs --trust-checkpoint")
    g.add_argument("--factory-kwargs", default=None, metavar="JSON", help="its keyword arguments, e.g. '{\"ngf\": 64}'")
    g.add_argument("--factory-path", default=None, metavar="DIR",
                   help="folder put on the import path while a trusted factory is imported (default: the current "
                        "folder), so a models.py beside the weights works without PYTHONPATH")
    g.add_argument("--state-dict-key", default=None, metavar="KEY",
                   help="the container entry holding the generator's weights (default: found among state_dict, "
                        "g_ema, ema, generator, G, netG, model, ...; a/b for nested entries)")
    g.add_argument("--strip-prefix", default=None, metavar="PREFIX",
                   help="key prefix to strip, e.g. module. or generator. (default: found by matching the network)")
    g.add_argument("--output-range", default=None, metavar="LO,HI",
                   help="the generator's output range, mapped onto the data's [0, 1] (e.g. -1,1 for tanh)")
    g.add_argument("--latent-range", default=None, metavar="LO,HI",
                   help="bounds of a uniform latent (with --latent-dist uniform; default -1,1)")
    if range_check:
        g.add_argument("--no-range-check", dest="range_check", action="store_false",
                       help="score even when the samples lie mostly outside the data's range")


def join_range_values(argv: list[str]) -> list[str]:
    """``--output-range -1,1`` as ``--output-range=-1,1`` (argparse reads ``-1,1`` as a flag)."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in RANGE_FLAGS and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


@contextlib.contextmanager
def warnings_to_stderr() -> Iterator[None]:
    """Print ganeval's warnings (e.g. an output-range mismatch) as one ``ganeval: warning:`` line each."""
    from .output_range import RangeWarning

    with warnings.catch_warnings():
        default = warnings.showwarning

        def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
            if issubclass(category, RangeWarning):
                print(f"ganeval: warning: {message}", file=sys.stderr)
            else:
                default(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


def _load_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """load_generator's keywords from the flags (the one list: ganeval.options.LoadOptions)."""
    from .options import LoadOptions

    return LoadOptions.from_args(args).generator_kwargs()


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="weights file, checkpoint, samples or run folder")
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="allow pickled objects / factories outside the allow-list (runs their code)")
    p.add_argument("--latent-dim", type=int, default=None, help="latent size when the checkpoint does not say")
    p.add_argument("--latent-dist", choices=["normal", "uniform"], default=None, help="latent distribution")
    p.add_argument("--num-classes", type=int, default=None, help="K, for a conditional generator G(z, y)")
    p.add_argument("--label-input", choices=["index", "onehot"], default=None, help="how G takes its labels")
    p.add_argument("--device", default="cpu", help="cpu (default), auto or cuda[:N]")
    add_generator_flags(p, range_check=False)


# ---------------------------------------------------------------------------------------------
# wrap


def _wrap(args: argparse.Namespace) -> int:
    from .checkpoints import ALLOWED_PACKAGES, _allowed_factories, load_generator, save_generator
    from .state_dicts import describe_source

    if not args.factory:
        raise GanevalError(f"{args.checkpoint}: `ganeval wrap` turns a state dict into a ganeval checkpoint and needs "
                           "the class that builds it: pass --factory pkg.module:Class (and --latent-dim K).")
    out = Path(args.output)
    if out.exists() and out.is_dir():
        raise GanevalError(f"-o {out}: is a folder; name the file to write, e.g. -o g.pt.")
    gen = load_generator(args.checkpoint, device=args.device, **_load_kwargs(args))
    info = gen.meta.get("state_dict")
    if gen.kind != "state_dict" or not isinstance(info, dict):
        raise GanevalError(f"{args.checkpoint}: a {gen.kind} file, not a state dict; wrap converts state dicts (score "
                           "this file directly).")
    assert gen.latent is not None and gen.module is not None  # a state-dict generator always has both
    gen.sample(2, seed=0)  # fails now (shape, NaN, labels), not at the next report
    save_generator(out, gen.module, factory=info["factory"], factory_kwargs=info["factory_kwargs"],
                   latent_dim=gen.latent.dim, latent_dist=gen.latent.distribution, latent_low=gen.latent.low,
                   latent_high=gen.latent.high, data=args.data, step=gen.step if args.step is None else args.step,
                   output_range=gen.output_range, conditional=getattr(gen, "conditional", None),
                   meta={"wrapped_from": {"file": Path(args.checkpoint).name, "sha256": gen.sha256,
                                          "entry": info["entry"], "prefix_stripped": info["prefix_stripped"]}})
    print(f"wrote {out}: {describe_source(info)}; latent {gen.latent.to_dict()}"
          + (f"; output range {list(gen.output_range)}" if gen.output_range else ""))
    spec = info["factory"]
    if spec.split(":")[0].split(".")[0] not in ALLOWED_PACKAGES and spec not in _allowed_factories():
        print(f"note: {spec} is outside the allow-list, so loading {out.name} needs --trust-checkpoint unless its "
              "package registers it as a 'ganeval.generators' entry point (docs/checkpoints.md).", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------------------------
# inspect


def _forward_arity(module: Any) -> int | None:
    try:
        params = pyinspect.signature(module.forward).parameters.values()
    except (TypeError, ValueError, AttributeError):
        return None
    return sum(1 for p in params if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def describe(path: str, *, probe: int = PROBE, seed: int = 0, **load: Any) -> dict[str, Any]:
    """What ganeval sees in ``path``, without scoring (``ganeval inspect``).

    A file holding a state dict with no ``factory`` is described from its weights (entries,
    tensors, step) with the flags that would load it.

    Raises:
        GanevalError: the file cannot be read at all.
    """
    from .checkpoints import FORMAT, load_generator
    from .output_range import suggest_fix
    from .state_dicts import describe_source, find_state_dict, read_container, step_of, weight_entries

    p = Path(path)
    try:
        gen = load_generator(p, **load)
    except GanevalError as exc:
        if load.get("factory") or not p.is_file() or "not a ganeval checkpoint" not in str(exc):
            raise
        obj = read_container(p, trust=bool(load.get("trust")))
        sd, where = find_state_dict(obj, path=p)
        return {"path": str(p), "format": "state_dict", "factory": None, "weights": where,
                "entries_with_weights": weight_entries(obj), "tensors": len(sd),
                "parameters": int(sum(t.numel() for t in sd.values())),
                "first_keys": {k: list(v.shape) for k, v in list(sd.items())[:6]}, "step": step_of(obj),
                "flags": ["--factory pkg.module:Class (the class that builds this network; --factory-kwargs '{...}' "
                          "for its arguments) and --latent-dim K load it; --trust-checkpoint if the class is yours",
                          "ganeval wrap with the same flags writes a ganeval checkpoint that needs none"]}
    out: dict[str, Any] = {"path": str(p), "format": gen.kind, "sha256": gen.sha256, "step": gen.step,
                           "data": gen.data, "discriminator": bool(gen.discriminator)}
    flags: list[str] = []
    info = gen.meta.get("state_dict")
    if isinstance(info, dict):
        out["factory"] = info["factory"]
        out["factory_kwargs"] = info["factory_kwargs"]
        out["weights"] = describe_source(info)
        flags.append("`ganeval wrap` with these flags writes a ganeval checkpoint that later commands read with none")
    elif gen.kind == "ganeval" and p.is_file():
        raw = read_container(p, trust=bool(load.get("trust")))
        if isinstance(raw, dict) and raw.get("format") == FORMAT:
            out["factory"], out["factory_kwargs"] = raw.get("factory"), raw.get("factory_kwargs")
            out["meta"] = raw.get("meta")
    out["latent"] = gen.latent.to_dict() if gen.latent else None
    cond = getattr(gen, "conditional", None)
    out["conditional"] = cond.to_dict() if cond is not None else None
    rng = gen.output_range or gen.meta.get("output_range")  # fixed samples are mapped once, at loading
    out["output_range"] = [float(v) for v in rng] if rng else None
    x = gen.sample(min(probe, gen.samples.shape[0]) if gen.samples is not None else probe, seed=seed)
    flat = x.reshape(-1).double()
    q = torch.quantile(flat[:: max(1, flat.numel() // (1 << 20))], torch.tensor([0.001, 0.999], dtype=torch.float64))
    out["probe"] = {"n": int(x.shape[0]), "seed": seed, "shape": list(x.shape[1:]), "min": float(flat.min()),
                    "max": float(flat.max()), "mean": float(flat.mean()),
                    "q001": float(q[0]), "q999": float(q[1])}
    if x.ndim == 4 and (float(q[0]) < -0.01 or float(q[1]) > 1.01):
        flags.append(f"images are scored in [0, 1] and these span [{float(q[0]):.3g}, {float(q[1]):.3g}]: "
                     + suggest_fix(float(q[0]), float(q[1]), 0.0, 1.0, gen.output_range))
    if gen.module is not None:
        flags.append("--latent-dim / --latent-dist / --latent-range override the latent spec above")
        if cond is None and (_forward_arity(gen.module) or 0) >= 2:
            flags.append("its forward takes two inputs: --num-classes K [--label-input onehot] if that is G(z, y)")
    out["flags"] = flags
    return out


def _print_text(d: dict[str, Any]) -> None:
    for k, v in d.items():
        if k == "flags":
            print("flags that would change this:" if v else "flags: none needed")
            for f in v:
                print(f"  - {f}")
        elif isinstance(v, dict):
            print(f"{k}: " + ", ".join(f"{a}={b}" for a, b in v.items()))
        else:
            print(f"{k}: {v}")


def _inspect(args: argparse.Namespace) -> int:
    from .results import dumps

    d = describe(args.checkpoint, probe=args.probe, seed=args.seed, device=args.device, **_load_kwargs(args))
    if args.json:
        print(dumps(d))
    else:
        _print_text(d)
    return 0


def add_parser(subparsers: Any) -> None:
    """Register ``wrap`` and ``inspect`` on the ``ganeval`` subparsers."""
    p = subparsers.add_parser(
        "wrap", help="write a state dict plus its class as a ganeval checkpoint (no flags needed afterwards)",
        description="Load WEIGHTS (a state dict, bare or in a container) into --factory and write it in the ganeval "
                    "format with its latent spec, output range and conditional spec (docs/checkpoints.md).")
    _common(p)
    p.add_argument("-o", "--output", required=True, help="ganeval checkpoint to write (e.g. g.pt)")
    p.add_argument("--data", default=None, help="record the dataset it was trained on (a name)")
    p.add_argument("--step", type=int, default=None, help="record the training step (default: the file's, if any)")
    p.set_defaults(handler=_wrap)

    p = subparsers.add_parser(
        "inspect", help="say what ganeval sees in a checkpoint, without scoring",
        description="Format, factory, latent / conditional spec, output shape and range on a seeded probe batch, "
                    "step, data, sha256, discriminator, and the flags that would change them.")
    _common(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--probe", type=int, default=PROBE, help=f"samples in the probe batch (default {PROBE})")
    p.add_argument("--seed", type=int, default=0, help="probe seed (default 0)")
    p.set_defaults(handler=_inspect)
