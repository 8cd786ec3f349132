"""Reading and writing generator checkpoints: the only module that touches checkpoint files.

Formats read by :func:`load_generator` (see DESIGN.md §3):

* the ganeval format, a ``torch.save``'d dict ``{"format": "ganeval-generator", "version": 1,
  "factory": "pkg.module:callable", "factory_kwargs": {...}, "state_dict": {...},
  "latent": {"dim": int, "distribution": "normal"|"uniform", "low": .., "high": ..},
  "data": str|None, "step": int|None, "discriminator": {...}|None, "output_range": [lo, hi]|None,
  "meta": {...}}`` read with ``weights_only=True``; the factory is imported only from an
  allow-list (``ganeval``, ``reference_trainers``, entry points of group ``ganeval.generators``)
  unless ``trust=True``;
* TorchScript (``torch.jit.save``) and ``torch.export`` programs (``.pt2``), whose latent
  spec comes from the module's ``latent_dim`` / ``latent_dist`` attributes, extra files, or the
  caller;
* a whole pickled ``nn.Module``, only with ``trust=True`` (unpickling runs code);
* fixed samples: ``.npy``, ``.npz`` (key ``samples``, or its only array) and folders of
  PNG/JPEG images;
* a folder of checkpoints (a training run): :func:`load_generator` returns its last step,
  :func:`list_checkpoints` / :func:`load_run` give every one, ordered by step.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import pickle
import re
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ._utils import progress, resolve_device, sha256_file, torch_generator
from .arrays import load_npy, load_npz
from .conditional import EXTRA_FILE as COND_FILE
from .conditional import ConditionalSpec, conditional_spec, draw_labels, spec_from_extra
from .conditional import call as call_generator
from .conditional import resolve as resolve_conditional
from .errors import GanevalError
from .images import list_images, read_image_folder
from .payload import check_payload
from .validation import check_seed

FORMAT = "ganeval-generator"
VERSION = 1
ALLOWED_PACKAGES = ("ganeval", "reference_trainers")
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".pt2", ".jit", ".ts")
LATENT_DISTS = ("normal", "uniform")
LATENT_BLOCK = 4096
MAX_LATENT_DIM = 1 << 16  # a block of latents must fit in memory (4096 x 2**16 floats = 1 GiB)

TRUST_HINT = "pass trust=True (CLI: --trust-checkpoint) only if you trust its source"


@dataclass(frozen=True)
class LatentSpec:
    """How to draw the generator's input noise."""

    dim: int
    distribution: str = "normal"
    low: float = -1.0
    high: float = 1.0

    def __post_init__(self) -> None:
        if not 1 <= int(self.dim) <= MAX_LATENT_DIM:
            raise GanevalError(f"Latent dimension must be between 1 and {MAX_LATENT_DIM:,}, got {self.dim}: "
                               "pass --latent-dim K.")
        if self.distribution not in LATENT_DISTS:
            raise GanevalError(
                f"Unknown latent distribution {self.distribution!r}: use one of {', '.join(LATENT_DISTS)}."
            )

    def draw(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """``n`` latent vectors drawn on the CPU from ``gen`` (so they match across devices)."""
        if self.distribution == "normal":
            return torch.randn(n, self.dim, generator=gen)
        return torch.rand(n, self.dim, generator=gen) * (self.high - self.low) + self.low

    def rows(self, seed: int, start: int, stop: int) -> torch.Tensor:
        """Rows ``start:stop`` of the seeded latent stream.

        The stream is cut into fixed blocks of ``LATENT_BLOCK`` rows, each drawn from its own
        generator seeded from (seed, block index); so any batching of the same rows gives
        identical latents (torch's RNG does not give the same numbers for one draw of 2n as
        for two draws of n).
        """
        out = []
        for block in range(start // LATENT_BLOCK, (stop - 1) // LATENT_BLOCK + 1):
            z = self.draw(LATENT_BLOCK, torch_generator(int(seed) * 1_000_003 + block))
            lo = max(start - block * LATENT_BLOCK, 0)
            hi = min(stop - block * LATENT_BLOCK, LATENT_BLOCK)
            out.append(z[lo:hi])
        return torch.cat(out)

    def to_dict(self) -> dict[str, Any]:
        return {"dim": int(self.dim), "distribution": self.distribution,
                "low": float(self.low), "high": float(self.high)}


@dataclass
class Generator:
    """A loaded generator: a network with its latent spec, or a fixed set of samples.

    Attributes:
        path: the file or folder it came from (None when built in memory).
        kind: "ganeval", "torchscript", "export", "pickle", "module" or "samples".
        module: the network (None for fixed samples).
        latent: the latent spec (None for fixed samples).
        samples: the fixed samples, (N, ...) float32 on the CPU (None for networks).
        step: the training step, where known.
        data: the dataset name the checkpoint was trained on, where known.
        output_range: (lo, hi) of the network's output, mapped linearly onto [0, 1] for images.
        sha256: hash of the file's bytes.
        meta: free-form metadata from the file.
        discriminator: the raw discriminator entry of a ganeval checkpoint, if any.
        conditional: the label spec of a class-conditional generator, called as ``G(z, y)``
            (None: called as ``G(z)``); see :mod:`ganeval.conditional`.
    """

    path: str | None
    kind: str
    module: nn.Module | None = None
    latent: LatentSpec | None = None
    samples: torch.Tensor | None = None
    step: int | None = None
    data: str | None = None
    output_range: tuple[float, float] | None = None
    sha256: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    discriminator: dict[str, Any] | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    conditional: ConditionalSpec | None = None

    @property
    def name(self) -> str:
        return Path(self.path).name if self.path else "<in-memory generator>"

    @property
    def is_fixed(self) -> bool:
        return self.samples is not None

    def sample(self, n: int, *, seed: int = 0, batch_size: int = 1024, labels: Any = None) -> torch.Tensor:
        """Draw ``n`` samples (:meth:`sample_with_labels` without the labels)."""
        return self.sample_with_labels(n, seed=seed, batch_size=batch_size, labels=labels)[0]

    def sample_with_labels(self, n: int, *, seed: int = 0, batch_size: int = 1024,
                           labels: Any = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Draw ``n`` samples and the class labels they were asked for, deterministic for a given seed and device.

        A conditional generator is called as ``G(z, y)`` with labels from
        :func:`ganeval.conditional.draw_labels`: balanced and seeded (``labels=None``), one class
        (``labels=c``) or the given (n,) array; like the latents they do not depend on ``batch_size``.

        Latent vectors are drawn on the CPU from private generators seeded from ``seed``
        (:meth:`LatentSpec.rows`), so the result does not depend on ``batch_size``. Fixed samples return a seeded
        subset (all of them, in file order, when ``n`` equals their count).

        Returns:
            ``(samples, labels)``: (n, ...) float32 on the CPU, and (n,) int64 labels (None for an
            unconditional generator).

        Raises:
            GanevalError: n < 1, more samples asked than a fixed set holds, the network's
                output contains NaN/Inf or changes shape between batches, labels for an
                unconditional generator or out of range.
        """
        if int(n) < 1:
            raise GanevalError(f"Number of samples must be >= 1, got {n}.")
        seed = check_seed(seed)
        n = int(n)
        if labels is not None and self.conditional is None:
            raise GanevalError(f"{self.name}: labels were asked for, but it is not a class-conditional generator: "
                               "drop --labels, or pass --num-classes K if its forward is forward(z, y).")
        y = None if self.conditional is None else draw_labels(n, self.conditional, seed=seed, labels=labels,
                                                              where=self.name)
        if self.samples is not None:
            total = self.samples.shape[0]
            if n > total:
                raise GanevalError(
                    f"{self.name} holds {total} fixed samples but {n} were asked for: "
                    f"use --n-samples {total} or fewer."
                )
            if n == total:
                return self.samples.clone(), None
            idx = torch.randperm(total, generator=torch_generator(seed))[:n]
            return self.samples[idx].clone(), None
        assert self.module is not None and self.latent is not None  # guaranteed by construction
        batch_size = max(1, int(batch_size))
        out: list[torch.Tensor] = []
        batches = range(0, n, batch_size)
        if self.kind != "export":  # exported programs are already in inference form and refuse .eval()
            self.module.eval()
        with torch.no_grad():
            for start in progress(batches, desc=f"sampling {self.name}", total=len(batches), unit="batch"):
                z = self.latent.rows(seed, start, min(start + batch_size, n)).to(self.device)
                x = call_generator(self.module, z, None if y is None else y[start:start + batch_size],
                                   self.conditional, self.name)
                if isinstance(x, (tuple, list)):
                    x = x[0]
                if not isinstance(x, torch.Tensor):
                    raise GanevalError(f"{self.name}: the generator returned {type(x).__name__}, not a tensor.")
                x = x.detach().float().cpu()
                if out and x.shape[1:] != out[0].shape[1:]:
                    raise GanevalError(f"{self.name}: output shape changed between batches "
                                       f"({tuple(out[0].shape)} then {tuple(x.shape)}).")
                out.append(x)
        samples = torch.cat(out)
        if samples.shape[0] != n:
            raise GanevalError(f"{self.name}: asked for {n} samples, the generator returned {samples.shape[0]}: "
                               "it must map a (B, latent_dim) batch to B samples.")
        bad = ~torch.isfinite(samples.reshape(n, -1)).all(1)
        if bad.any():
            raise GanevalError(
                f"{self.name}: the generator produced NaN or Inf in {int(bad.sum())} of {n} samples "
                f"(seed {seed}); the checkpoint is broken (a diverged run?) and cannot be scored."
            )
        if self.output_range is not None:
            lo, hi = self.output_range
            samples = (samples - lo) / (hi - lo)
        return samples, y


# ---------------------------------------------------------------------------------------------
# writing


def save_generator(path: str | os.PathLike[str], module: nn.Module, *, factory: str,
                   factory_kwargs: dict[str, Any] | None = None, latent_dim: int,
                   latent_dist: str = "normal", latent_low: float = -1.0, latent_high: float = 1.0,
                   data: str | None = None, step: int | None = None,
                   discriminator: nn.Module | None = None, discriminator_factory: str | None = None,
                   discriminator_kwargs: dict[str, Any] | None = None,
                   output_range: tuple[float, float] | None = None,
                   meta: dict[str, Any] | None = None, conditional: Any = None) -> Path:
    """Write a generator (and optionally its discriminator) in the ganeval format.

    The file is written to a temporary name and renamed into place, so a crash never leaves a
    truncated checkpoint. ``factory`` is ``"package.module:callable"``; ``factory(**factory_kwargs)``
    must rebuild the module whose ``state_dict`` is stored. ``conditional`` (``{"num_classes": K,
    "label_input": "index" | "onehot"}`` or a :class:`~ganeval.conditional.ConditionalSpec`) marks a
    class-conditional generator, called as ``G(z, y)``.

    Raises:
        GanevalError: the factory string is malformed, or a value in ``meta`` / the kwargs
            cannot be stored safely (only plain types load with ``weights_only=True``).
    """
    for fname, f in (("factory", factory), ("discriminator_factory", discriminator_factory)):
        if f is not None and not re.fullmatch(r"[\w.]+:[\w.]+", f):
            raise GanevalError(f"`{fname}` must look like 'package.module:callable', got {f!r}.")
    latent = LatentSpec(int(latent_dim), latent_dist, float(latent_low), float(latent_high))
    cond = conditional_spec(conditional, where="save_generator(conditional=...)")
    payload: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "factory": factory,
        "factory_kwargs": dict(factory_kwargs or {}),
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
        "latent": latent.to_dict(),
        "data": data,
        "step": None if step is None else int(step),
        "output_range": None if output_range is None else [float(output_range[0]), float(output_range[1])],
        "discriminator": None,
        "meta": dict(meta or {}),
        "conditional": None if cond is None else cond.to_dict(),
    }
    if discriminator is not None:
        if discriminator_factory is None:
            raise GanevalError("`discriminator_factory` is required when a discriminator is saved.")
        payload["discriminator"] = {
            "factory": discriminator_factory,
            "factory_kwargs": dict(discriminator_kwargs or {}),
            "state_dict": {k: v.detach().cpu() for k, v in discriminator.state_dict().items()},
        }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        torch.save(payload, tmp)
        # Prove it reads back under the safe loader before it takes the real name.
        torch.load(tmp, map_location="cpu", weights_only=True)
        os.replace(tmp, path)
    except pickle.UnpicklingError as exc:
        raise GanevalError(f"Cannot save {path}: meta or factory_kwargs hold a value that does not load "
                           f"safely ({exc}); use plain numbers, strings, lists and dicts.") from exc
    except (OSError, RuntimeError) as exc:  # torch's zip writer reports a full disk as a RuntimeError
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise GanevalError(f"Cannot save {path}: writing failed ({first}); check free disk space and "
                           "file-size limits (nothing partial was left).") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return path


# ---------------------------------------------------------------------------------------------
# reading


def _allowed_factories() -> set[str]:
    """Fully qualified factory names that entry points of group ``ganeval.generators`` allow."""
    try:
        return {ep.value for ep in entry_points(group="ganeval.generators")}
    except Exception:  # a broken installed distribution must not break loading
        return set()


def _import_factory(spec: Any, *, trust: bool, path: Path) -> Callable[..., nn.Module]:
    if not isinstance(spec, str) or not re.fullmatch(r"[\w.]+:[\w.]+", spec):
        raise GanevalError(f"{path}: malformed factory {spec!r}; expected 'package.module:callable'.")
    module_name, attr = spec.split(":")
    if not trust and module_name.split(".")[0] not in ALLOWED_PACKAGES and spec not in _allowed_factories():
        raise GanevalError(
            f"{path}: factory {spec!r} is outside the allow-list ({', '.join(ALLOWED_PACKAGES)} and the "
            f"'ganeval.generators' entry points); importing it runs its code: {TRUST_HINT}, or register it "
            "as an entry point."
        )
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except Exception as exc:  # importing runs the module's code: any error there means "cannot import"
        why = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        raise GanevalError(f"{path}: cannot import factory {spec!r} ({why}); install the package that defines it "
                           "(or, with --trust-checkpoint, pass --factory-path DIR: the folder holding its module).") from exc
    if not callable(obj):
        raise GanevalError(f"{path}: factory {spec!r} is not callable.")
    return obj


def _build(entry: dict[str, Any], *, trust: bool, path: Path, what: str) -> nn.Module:
    factory = _import_factory(entry.get("factory"), trust=trust, path=path)
    kwargs = entry.get("factory_kwargs") or {}
    if not isinstance(kwargs, dict):
        raise GanevalError(f"{path}: {what} factory_kwargs must be a dict, got {type(kwargs).__name__}.")
    try:
        module = factory(**kwargs)
    except Exception as exc:  # the factory is the user's code, called with the file's kwargs
        raise GanevalError(f"{path}: {what} factory {entry.get('factory')!r} rejected its kwargs "
                           f"({type(exc).__name__}: {exc}); fix factory_kwargs or re-save the checkpoint.") from exc
    if not isinstance(module, nn.Module):
        raise GanevalError(f"{path}: {what} factory returned {type(module).__name__}, not an nn.Module.")
    try:
        module.load_state_dict(entry.get("state_dict") or {})
    except RuntimeError as exc:
        first = " ".join(line.strip() for line in str(exc).splitlines()[:3])
        raise GanevalError(f"{path}: the {what} weights do not fit the network its factory builds ({first}).") from exc
    return module


def _is_zip(path: Path) -> bool:
    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def _zip_names(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.namelist()
    except Exception as exc:  # zipfile raises BadZipFile, UnicodeDecodeError, struct.error... on damaged bytes
        raise GanevalError(f"{path}: the file is truncated or corrupt ({exc}); re-save or re-download it.") from exc


def _latent_from(module: Any, latent_dim: int | None, latent_dist: str | None,
                 extra: dict[str, Any], path: Path) -> LatentSpec:
    dim = latent_dim or extra.get("dim") or getattr(module, "latent_dim", None)
    dist = latent_dist or extra.get("distribution") or getattr(module, "latent_dist", None) or "normal"
    if dim is None:
        raise GanevalError(
            f"{path}: the latent size is unknown (no `latent_dim` attribute or extra file); "
            "pass latent_dim= (CLI: --latent-dim K)."
        )
    try:
        dim = int(dim)
    except (TypeError, ValueError) as exc:
        raise GanevalError(f"{path}: latent dim {dim!r} is not an integer; pass --latent-dim K.") from exc
    return LatentSpec(dim, str(dist), float(extra.get("low", -1.0)), float(extra.get("high", 1.0)))


def _load_samples_array(path: Path) -> torch.Tensor:
    if path.suffix == ".npy":
        arr = load_npy(path)
    else:
        z = load_npz(path)
        if "samples" in z:
            arr = z["samples"]
        elif len(z) == 1:
            arr = next(iter(z.values()))
        else:
            raise GanevalError(
                f"{path}: an .npz of samples needs a 'samples' array or a single array; found "
                f"{', '.join(z) or 'none'}. (An .npz with train/val/test is a dataset: use --data.)"
            )
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise GanevalError(f"{path}: the samples have dtype {arr.dtype}; save a numeric array.")
    if arr.ndim < 2 or arr.shape[0] < 1:
        raise GanevalError(f"{path}: samples must be an (N, ...) array with N >= 1, got shape {arr.shape}.")
    t = torch.from_numpy(np.ascontiguousarray(arr))
    if arr.dtype == np.uint8:
        t = t.float() / 255.0
        if t.ndim == 4 and t.shape[-1] in (1, 3) and t.shape[1] not in (1, 3):
            t = t.permute(0, 3, 1, 2).contiguous()  # NHWC uint8 images -> NCHW
    t = t.float()
    bad = ~torch.isfinite(t.reshape(t.shape[0], -1)).all(1)
    if bad.any():
        raise GanevalError(f"{path}: {int(bad.sum())} of {t.shape[0]} samples contain NaN or Inf; fix or drop them.")
    return t


_STEP_RE = re.compile(r"(\d+)(?!.*\d)")


def list_checkpoints(folder: str | os.PathLike[str]) -> list[Path]:
    """Checkpoint files in ``folder`` (or its ``checkpoints/`` subfolder), ordered by step.

    The step is read from ganeval-format files; other files are ordered by the last number in
    their name.

    Raises:
        GanevalError: the folder does not exist or holds no checkpoint.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise GanevalError(f"{folder}: no such folder.")
    root = folder / "checkpoints" if (folder / "checkpoints").is_dir() else folder
    files = [p for p in root.iterdir() if p.is_file() and p.suffix in CHECKPOINT_SUFFIXES
             and not p.name.startswith(".")]
    if not files:
        raise GanevalError(f"{folder}: no checkpoint files ({', '.join(CHECKPOINT_SUFFIXES)}) in it.")

    def key(p: Path) -> tuple[int, str]:
        step = None
        if p.suffix in (".pt", ".pth", ".ckpt") and _is_zip(p):
            try:
                obj = torch.load(p, map_location="cpu", weights_only=True, mmap=True)
                if isinstance(obj, dict) and obj.get("format") == FORMAT:
                    step = obj.get("step")
            except Exception:  # unreadable files sort by name; loading them reports the error
                step = None
        if step is None:
            m = _STEP_RE.search(p.stem)
            step = int(m.group(1)) if m else -1
        return int(step), p.name

    return sorted(files, key=key)


def load_generator(path: str | os.PathLike[str], *, trust: bool = False, device: str | torch.device = "auto",
                   latent_dim: int | None = None, latent_dist: str | None = None,
                   num_classes: int | None = None, label_input: str | None = None,
                   factory: str | None = None, factory_kwargs: str | dict[str, Any] | None = None,
                   factory_path: str | os.PathLike[str] | None = None, state_dict_key: str | None = None,
                   strip_prefix: str | None = None, output_range: Any = None, latent_range: Any = None) -> Generator:
    """Load a generator or fixed samples from ``path`` (any format of the module docstring).

    Args:
        path: checkpoint file, samples file, image folder, or run folder (its last checkpoint).
        trust: allow code execution (pickled modules, factories outside the allow-list).
        device: "auto", "cpu", "cuda" or a torch.device; the network is moved there.
        latent_dim: latent size, overriding the file (needed for bare TorchScript / export).
        latent_dist: "normal" or "uniform", overriding the file.
        num_classes, label_input: a class-conditional generator's spec (``G(z, y)``), overriding
            the file's (CLI ``--num-classes K --label-input index|onehot``).
        factory: ``"pkg.module:callable"`` (or a ``ganeval.generators`` entry point's name) that
            builds the network for a file holding a state dict (bare or in a container); see
            :mod:`ganeval.state_dicts`. Outside the allow-list it needs ``trust``.
        factory_kwargs: the factory's keyword arguments (a dict or a JSON object string).
        factory_path: folder put on the import path while a trusted factory is imported
            (default: the current folder).
        state_dict_key, strip_prefix: which container entry holds the weights, and the key
            prefix to strip (found automatically for the usual containers and prefixes).
        output_range: ``(lo, hi)`` or ``"lo,hi"``: the network's output range, mapped onto
            [0, 1] (overrides the file's); latent_range: a uniform latent's bounds.

    Raises:
        GanevalError: missing, truncated or corrupt file; unknown format; a pickle without
            ``trust``; a factory outside the allow-list; weights that do not fit; a conditional
            spec for fixed samples.
    """
    from .state_dicts import import_path

    sd_opts: dict[str, Any] = dict(factory=factory, factory_kwargs=factory_kwargs, factory_path=factory_path,
                   state_dict_key=state_dict_key, strip_prefix=strip_prefix)
    if output_range is not None or latent_range is not None:  # the caller's ranges over the file's
        from .output_range import with_ranges

        gen = load_generator(path, trust=trust, device=device, latent_dim=latent_dim, latent_dist=latent_dist,
                             num_classes=num_classes, label_input=label_input, **sd_opts)
        return with_ranges(gen, output_range, latent_range)
    if num_classes is not None or label_input is not None:
        gen = load_generator(path, trust=trust, device=device, latent_dim=latent_dim, latent_dist=latent_dist,
                             **sd_opts)
        return with_conditional(gen, num_classes, label_input)
    path = Path(path)
    dev = resolve_device(device)
    if not path.exists():
        raise GanevalError(f"{path}: no such file or folder; check the path.")
    if path.is_dir():
        images = list_images(path)
        if images:
            return Generator(path=str(path), kind="samples", samples=read_image_folder(path, images),
                             sha256=sha256_file(path))
        return load_generator(list_checkpoints(path)[-1], trust=trust, device=dev,
                              latent_dim=latent_dim, latent_dist=latent_dist, **sd_opts)
    if path.stat().st_size == 0:
        raise GanevalError(f"{path}: the file is empty; re-save it.")
    digest = sha256_file(path)
    if path.suffix in (".npy", ".npz"):
        return Generator(path=str(path), kind="samples", samples=_load_samples_array(path), sha256=digest)
    if path.suffix == ".pt2":
        return _load_export(path, dev, latent_dim, latent_dist, digest)
    if not _is_zip(path):
        with open(path, "rb") as fh:
            head = fh.read(2)
        if head[:1] == b"\x80" and factory is not None:  # old torch.save files: the safe loader reads them
            return _from_state_dict(path, dev, trust, latent_dim, latent_dist, digest, **sd_opts)
        if head[:1] == b"\x80":  # a legacy (non-zip) pickle: refuse to unpickle anything untrusted
            if not trust:
                raise GanevalError(f"{path}: a legacy pickle file, which runs code when loaded; {TRUST_HINT}.")
            with import_path(factory_path or "."):  # the pickled module's classes beside the file import
                return _load_pickle(path, dev, latent_dim, latent_dist, digest)
        raise GanevalError(f"{path}: not a PyTorch checkpoint, TorchScript, .pt2, .npy/.npz or image folder "
                           "(or it is truncated); check the file.")
    names = _zip_names(path)
    if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
        return _load_torchscript(path, dev, latent_dim, latent_dist, digest)
    if any(n.endswith("archive_format") or "/serialized_exported_program" in n or n.endswith(".json") and "models/" in n
           for n in names):
        return _load_export(path, dev, latent_dim, latent_dist, digest)
    if factory is not None:  # a state dict (bare or in a container) plus the caller's factory
        return _from_state_dict(path, dev, trust, latent_dim, latent_dist, digest, **sd_opts)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if not trust:
            raise GanevalError(
                f"{path}: holds pickled Python objects (a whole nn.Module?), and loading them runs code; "
                f"{TRUST_HINT}. Nothing in it was executed."
            ) from exc
        with import_path(factory_path or "."):  # the pickled module's classes beside the file import
            return _load_pickle(path, dev, latent_dim, latent_dist, digest)
    except Exception as exc:  # corrupt pickle bytes surface as IndexError, UnicodeDecodeError, struct.error, ...
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise GanevalError(f"{path}: the file is truncated or corrupt ({first}); re-save or re-download it.") from exc
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        what = "a state dict" if isinstance(obj, dict) else type(obj).__name__
        raise GanevalError(
            f"{path}: {what}, not a ganeval checkpoint; name the class that builds the network with "
            "--factory pkg.module:Class (and --latent-dim K), or save it with ganeval.save_generator(...) "
            "or `ganeval wrap`, or as TorchScript."
        )
    with import_path((factory_path or ".") if trust else None):  # a trusted factory beside the weights imports
        return _from_payload(obj, path, dev, trust, latent_dim, latent_dist, digest)


def _from_state_dict(path: Path, dev: torch.device, trust: bool, latent_dim: int | None, latent_dist: str | None,
                     digest: str, *, factory: str, factory_kwargs: Any = None, factory_path: Any = None,
                     state_dict_key: str | None = None, strip_prefix: str | None = None) -> Generator:
    """Weights in a state dict (bare or in a container) loaded into ``factory(**factory_kwargs)``."""
    from . import state_dicts as sdm

    spec = sdm.resolve_factory(factory)
    kwargs = sdm.parse_factory_kwargs(factory_kwargs)
    obj = sdm.read_container(path, trust=trust)
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        raise GanevalError(f"{path}: a ganeval checkpoint, which names its own factory ({obj.get('factory')!r}); "
                           "drop --factory and the state-dict flags.")
    with sdm.import_path((factory_path or ".") if trust else None):
        fn = _import_factory(spec, trust=trust, path=path)
    module, info = sdm.build_and_load(obj, fn, spec=spec, kwargs=kwargs, key=state_dict_key, strip_prefix=strip_prefix,
                                      path=path)
    module = module.to(dev).eval()
    latent = _latent_from(module, latent_dim, latent_dist, {}, path)
    return Generator(path=str(path), kind="state_dict", module=module, latent=latent, step=sdm.step_of(obj),
                     sha256=digest, device=dev, meta={"state_dict": info})


def _from_payload(obj: dict[str, Any], path: Path, dev: torch.device, trust: bool,
                  latent_dim: int | None, latent_dist: str | None, digest: str) -> Generator:
    check_payload(obj, path, VERSION)
    module = _build(obj, trust=trust, path=path, what="generator").to(dev).eval()
    latent_raw = obj["latent"] if isinstance(obj["latent"], dict) else {}
    latent = _latent_from(module, latent_dim, latent_dist, latent_raw, path)
    rng = obj.get("output_range")
    return Generator(path=str(path), kind="ganeval", module=module, latent=latent, step=obj.get("step"),
                     data=obj.get("data"), output_range=tuple(rng) if rng else None, sha256=digest,
                     meta=dict(obj.get("meta") or {}), discriminator=obj.get("discriminator"), device=dev,
                     conditional=conditional_spec(obj.get("conditional"), where=f"{path}: conditional"))


def _load_torchscript(path: Path, dev: torch.device, latent_dim: int | None, latent_dist: str | None,
                      digest: str) -> Generator:
    extra = {"latent.json": "", COND_FILE: ""}
    try:
        with warnings.catch_warnings():  # TorchScript is deprecated upstream but users still ship it
            warnings.simplefilter("ignore", FutureWarning)
            module = torch.jit.load(str(path), map_location=dev, _extra_files=extra)
    except RuntimeError as exc:
        raise GanevalError(f"{path}: corrupt TorchScript archive ({str(exc).splitlines()[0]}).") from exc
    spec = json.loads(extra["latent.json"]) if extra["latent.json"] else {}
    attr_dim = getattr(module, "latent_dim", None)
    latent = _latent_from(module if attr_dim is not None else None, latent_dim, latent_dist, spec, path)
    return Generator(path=str(path), kind="torchscript", module=module, latent=latent, sha256=digest, device=dev,
                     meta={"extra": spec}, conditional=spec_from_extra(extra[COND_FILE], str(path)))


def _load_export(path: Path, dev: torch.device, latent_dim: int | None, latent_dist: str | None,
                 digest: str) -> Generator:
    extra = {"latent.json": "", COND_FILE: ""}
    try:
        program = torch.export.load(str(path), extra_files=extra)
    except Exception as exc:  # torch.export raises many types for a bad archive
        raise GanevalError(f"{path}: not a readable torch.export program ({str(exc).splitlines()[0]}).") from exc
    spec = json.loads(extra["latent.json"]) if extra["latent.json"] else {}
    module = program.module()
    if latent_dim is None and not spec.get("dim"):
        # The example input fixes the latent size of an exported program.
        try:
            spec["dim"] = int(program.example_inputs[0][0].shape[1])
        except (AttributeError, IndexError, TypeError):
            pass
    latent = _latent_from(None, latent_dim, latent_dist, spec, path)
    module = module.to(dev)
    return Generator(path=str(path), kind="export", module=module, latent=latent, sha256=digest, device=dev,
                     meta={"extra": spec}, conditional=spec_from_extra(extra[COND_FILE], str(path)))


def _load_pickle(path: Path, dev: torch.device, latent_dim: int | None, latent_dist: str | None,
                 digest: str) -> Generator:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise GanevalError(f"{path}: cannot unpickle ({str(exc).splitlines()[0]}).") from exc
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        return _from_payload(obj, path, dev, True, latent_dim, latent_dist, digest)
    if not isinstance(obj, nn.Module):
        raise GanevalError(f"{path}: the pickle holds {type(obj).__name__}, not an nn.Module generator.")
    latent = _latent_from(obj, latent_dim, latent_dist, {}, path)
    return Generator(path=str(path), kind="pickle", module=obj.to(dev).eval(), latent=latent, sha256=digest, device=dev)


def generator_from_module(module: nn.Module, *, latent_dim: int | None = None, latent_dist: str = "normal",
                          device: str | torch.device = "auto", output_range: tuple[float, float] | None = None,
                          name: str | None = None, conditional: Any = None) -> Generator:
    """Wrap an in-memory module (notebooks, trainers) as a :class:`Generator`.

    ``conditional`` (``{"num_classes": K, "label_input": ...}``, a spec, or K) marks a module called as ``G(z, y)``.
    """
    dev = resolve_device(device)
    latent = _latent_from(module, latent_dim, latent_dist, {}, Path(name or "<module>"))
    return Generator(path=name, kind="module", module=module.to(dev).eval(), latent=latent,
                     output_range=output_range, device=dev,
                     conditional=conditional_spec(conditional, where=f"{name or '<module>'}: conditional"))


def with_conditional(gen: Generator, num_classes: int | None, label_input: str | None) -> Generator:
    """``gen`` with the caller's conditional spec over its file's (the CLI's ``--num-classes``).

    Raises:
        GanevalError: a spec for fixed samples, or ``label_input`` without a number of classes.
    """
    import dataclasses

    if gen.is_fixed:
        raise GanevalError(f"{gen.name}: fixed samples carry no labels, so --num-classes / --label-input do not "
                           "apply; drop them (or score the generator that made them).")
    return dataclasses.replace(gen, conditional=resolve_conditional(gen.conditional, num_classes, label_input,
                                                                    gen.name))


def generator_from_samples(samples: Any, *, name: str | None = None) -> Generator:
    """Wrap an (N, ...) array of fixed samples as a :class:`Generator`."""
    t = torch.as_tensor(np.asarray(samples) if not isinstance(samples, torch.Tensor) else samples).float().cpu()
    if t.ndim < 2:
        raise GanevalError(f"samples must be (N, ...) with N >= 1, got shape {tuple(t.shape)}.")
    return Generator(path=name, kind="samples", samples=t)


def load_discriminator(gen_or_path: Generator | str | os.PathLike[str], *, trust: bool = False,
                       device: str | torch.device = "auto") -> nn.Module | None:
    """The discriminator stored beside a ganeval-format generator, or None if it has none."""
    gen = gen_or_path if isinstance(gen_or_path, Generator) else load_generator(gen_or_path, trust=trust, device=device)
    if not gen.discriminator:
        return None
    return _build(gen.discriminator, trust=trust, path=Path(gen.path or "<memory>"),
                  what="discriminator").to(gen.device).eval()


@dataclass
class Run:
    """A training-run folder: ordered checkpoints, and the history / config when present."""

    path: Path
    checkpoints: list[Path]
    history_path: Path | None
    config: dict[str, Any]

    def history(self) -> Any:
        """The history as a pandas DataFrame (None when the run has no history file)."""
        if self.history_path is None:
            return None
        import pandas as pd

        try:
            if self.history_path.suffix == ".jsonl":
                return pd.read_json(self.history_path, lines=True)
            return pd.read_csv(self.history_path)
        except (ValueError, OSError) as exc:
            raise GanevalError(f"{self.history_path}: unreadable history ({exc}).") from exc


def load_run(path: str | os.PathLike[str]) -> Run:
    """Describe a run folder: checkpoints (possibly none), ``history.csv``/``.jsonl``, ``config.json``.

    Raises:
        GanevalError: the folder does not exist, or holds neither checkpoints nor history.
    """
    path = Path(path)
    if not path.is_dir():
        raise GanevalError(f"{path}: no such run folder.")
    try:
        ckpts = list_checkpoints(path)
    except GanevalError:
        ckpts = []
    hist = next((path / n for n in ("history.csv", "history.jsonl") if (path / n).is_file()), None)
    if not ckpts and hist is None:
        raise GanevalError(f"{path}: neither checkpoints nor a history.csv / history.jsonl; is it a run folder?")
    cfg: dict[str, Any] = {}
    if (path / "config.json").is_file():
        try:
            cfg = json.loads((path / "config.json").read_text())
        except json.JSONDecodeError as exc:
            raise GanevalError(f"{path / 'config.json'}: invalid JSON ({exc}).") from exc
    return Run(path=path, checkpoints=ckpts, history_path=hist, config=cfg)


def write_torchscript(module: nn.Module, path: str | os.PathLike[str], *, latent_dim: int,
                      latent_dist: str = "normal", conditional: Any = None) -> Path:
    """Save ``module`` as TorchScript with its latent spec in the extra file ``latent.json``
    (and a conditional generator's spec in ``conditional.json``)."""
    path = Path(path)
    cond = conditional_spec(conditional, where="write_torchscript(conditional=...)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(module)
        torch.jit.save(scripted, str(path), _extra_files={"latent.json": json.dumps(
            {"dim": int(latent_dim), "distribution": latent_dist}),
            COND_FILE: json.dumps(cond.to_dict()) if cond else ""})
    return path


def write_export(module: nn.Module, path: str | os.PathLike[str], *, latent_dim: int,
                 latent_dist: str = "normal", batch: int = 4, conditional: Any = None) -> Path:
    """Save ``module`` as a ``torch.export`` program (.pt2) with a dynamic batch dimension
    (a conditional generator, ``conditional`` given, is exported as ``forward(z, y)``)."""
    path = Path(path)
    cond = conditional_spec(conditional, where="write_export(conditional=...)")
    batch_dim = torch.export.Dim("batch", min=1)
    example: tuple[torch.Tensor, ...] = (torch.zeros(batch, int(latent_dim)),)
    if cond is not None:
        example += (cond.encode(torch.arange(batch) % cond.num_classes),)
        dims = {name: {0: batch_dim} for name in _arg_names(module)[:2]}
    else:
        dims = {"z" if "z" in _arg_names(module) else _arg_names(module)[0]: {0: batch_dim}}
    program = torch.export.export(module.eval(), example, dynamic_shapes=dims)
    buf = io.BytesIO()
    torch.export.save(program, buf, extra_files={"latent.json": json.dumps(
        {"dim": int(latent_dim), "distribution": latent_dist}), COND_FILE: json.dumps(cond.to_dict()) if cond else ""})
    path.write_bytes(buf.getvalue())
    return path


def _arg_names(module: nn.Module) -> list[str]:
    import inspect

    return [p for p in inspect.signature(module.forward).parameters]
