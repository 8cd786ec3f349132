"""State dicts as researchers save them: containers, prefixes, CUDA tensors, a factory on the command line.

:func:`ganeval.load_generator` reads a file that is not in the ganeval format through this module when
the caller names a factory (``--factory pkg.module:Class``): it finds the generator's weights in the
usual containers, strips the prefix that ``DataParallel`` / Lightning / a GAN wrapper added, and loads
them into ``factory(**factory_kwargs)`` with one clear error for missing or unexpected keys.

Containers understood (first match wins; ``--state-dict-key KEY`` picks another, ``a/b`` for nested):

* a bare state dict (every value a tensor);
* ``{"g_ema": ...}``, ``{"ema": ...}`` (the averaged generator, which papers evaluate), then
  ``{"generator": ...}``, ``{"G": ...}``, ``{"netG": ...}``, ``{"g": ...}``, ``{"model": ...}``,
  ``{"state_dict": ...}`` (Lightning ``.ckpt`` files keep the whole LightningModule's weights here,
  under ``generator.`` / ``G.`` / ... prefixes, which are found by matching the network's keys).

CUDA-saved tensors load anywhere: every read uses ``map_location="cpu"``, and the module is moved to
the chosen device afterwards.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
from collections.abc import Iterator, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .errors import GanevalError

# Container keys tried in order when no --state-dict-key is given; the EMA copy comes first
# because it is the generator papers report (StyleGAN2's g_ema, BigGAN's G_ema).
CONTAINER_KEYS = ("g_ema", "G_ema", "ema", "generator", "G", "netG", "gen", "g", "model",
                  "generator_state_dict", "model_state_dict", "state_dict")
# Prefixes that sub-networks of a wrapper usually carry, preferred in this order when more than
# one strips to the network's keys (a Lightning module with an EMA copy matches twice).
PREFERRED_PREFIXES = ("g_ema.", "generator_ema.", "ema.", "generator.", "G.", "netG.", "gen.", "g.", "model.",
                      "module.")
STEP_KEYS = ("global_step", "step", "iteration", "iter")
FACTORY_GROUP = "ganeval.generators"
_OPTIONAL = ("num_batches_tracked",)  # BatchNorm counters older checkpoints lack; not weights


def is_state_dict(obj: Any) -> bool:
    """A non-empty mapping of string keys to tensors."""
    return (isinstance(obj, Mapping) and len(obj) > 0
            and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()))


def _as_state_dict(obj: Any) -> dict[str, torch.Tensor] | None:
    if isinstance(obj, nn.Module):  # only reachable from a trusted pickle ({"G": module})
        return dict(obj.state_dict())
    return dict(obj) if is_state_dict(obj) else None


def weight_entries(obj: Any, prefix: str = "", depth: int = 0) -> list[str]:
    """Key paths (``a/b``) of the state dicts inside a container, for error messages."""
    if not isinstance(obj, Mapping) or depth > 2:
        return []
    out = []
    for k, v in obj.items():
        if _as_state_dict(v) is not None:
            out.append(f"{prefix}{k}")
        elif isinstance(v, Mapping):
            out.extend(weight_entries(v, f"{prefix}{k}/", depth + 1))
    return out


def find_state_dict(obj: Any, *, key: str | None = None, path: Path | str = "<file>"
                    ) -> tuple[dict[str, torch.Tensor], str]:
    """The generator's weights inside a loaded checkpoint object.

    Args:
        obj: what ``torch.load`` returned.
        key: ``--state-dict-key``: the container entry to use (``a/b`` for nested entries).
        path: the file, for messages.

    Returns:
        (state_dict, where) with ``where`` saying which entry was used (e.g. ``"'g_ema'"``).

    Raises:
        GanevalError: the key is absent, or no state dict is found.
    """
    found = weight_entries(obj)
    if key is not None:
        cur: Any = obj
        for part in key.split("/"):
            if not isinstance(cur, Mapping) or part not in cur:
                avail = ", ".join(repr(k) for k in found[:8]) or "none"
                raise GanevalError(f"{path}: no entry {key!r} (--state-dict-key); the entries holding weights are: "
                                   f"{avail}.")
            cur = cur[part]
        sd = _as_state_dict(cur)
        if sd is None:
            raise GanevalError(f"{path}: entry {key!r} (--state-dict-key) holds {type(cur).__name__}, not tensors; "
                               f"the entries holding weights are: {', '.join(repr(k) for k in found[:8]) or 'none'}.")
        return sd, repr(key)
    sd = _as_state_dict(obj)
    if sd is not None:
        return sd, "the file (a bare state dict)"
    if isinstance(obj, Mapping):
        for k in CONTAINER_KEYS:
            if k in obj:
                sd = _as_state_dict(obj[k])
                if sd is None and isinstance(obj[k], Mapping):  # {"state_dict": {"G": {...}}}
                    for k2 in CONTAINER_KEYS:
                        if k2 in obj[k] and (sd := _as_state_dict(obj[k][k2])) is not None:
                            others = [f for f in found if f != f"{k}/{k2}"]
                            return sd, f"'{k}/{k2}'" + _also(others)
                if sd is not None:
                    return sd, repr(k) + _also([f for f in found if f != k])
    what = f"entries {', '.join(repr(k) for k in list(obj)[:8])}" if isinstance(obj, Mapping) else type(obj).__name__
    hint = (f"pick one with --state-dict-key ({', '.join(repr(f) for f in found[:6])})" if found
            else "save the generator's state_dict() (or the generator as TorchScript)")
    raise GanevalError(f"{path}: no generator weights found ({what}); {hint}.")


def _also(others: list[str]) -> str:
    return f" (also present: {', '.join(repr(o) for o in others[:4])}; choose with --state-dict-key)" if others else ""


def step_of(obj: Any) -> int | None:
    """The training step a container records (Lightning's ``global_step``, ``step``, ...), if any."""
    if not isinstance(obj, Mapping):
        return None
    for k in STEP_KEYS:
        v = obj.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool) or isinstance(v, torch.Tensor) and v.numel() == 1:
            return int(v)
    return None


def _essential(keys: set[str]) -> set[str]:
    return {k for k in keys if not k.endswith(_OPTIONAL)}


def _strip(sd: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def _candidate_prefixes(keys: set[str]) -> list[str]:
    """Every dotted prefix (up to three parts deep) that some key starts with."""
    cands: set[str] = set()
    for k in keys:
        parts = k.split(".")
        for i in range(1, min(len(parts), 4)):
            cands.add(".".join(parts[:i]) + ".")
    return sorted(cands, key=lambda p: (PREFERRED_PREFIXES.index(p) if p in PREFERRED_PREFIXES else 99, len(p), p))


def match_prefix(sd: Mapping[str, torch.Tensor], expected: set[str], *, strip_prefix: str | None = None,
                 path: Path | str = "<file>") -> tuple[dict[str, torch.Tensor], str | None]:
    """Strip the prefix that makes ``sd``'s keys the network's keys.

    Args:
        sd: the weights as found.
        expected: the keys of ``factory(**kwargs).state_dict()``.
        strip_prefix: ``--strip-prefix``; when given it is applied (keys without it are dropped).
        path: the file, for messages.

    Returns:
        (state_dict, prefix stripped or None). When no prefix fits, the unstripped dict is returned
        and :func:`load_into` reports the missing and unexpected keys.

    Raises:
        GanevalError: ``strip_prefix`` matches no key.
    """
    if strip_prefix:
        out = _strip(sd, strip_prefix)
        if not out:
            raise GanevalError(f"{path}: no key starts with {strip_prefix!r} (--strip-prefix); keys look like "
                               f"{', '.join(list(sd)[:3])}: {_prefix_hint(set(sd), expected)}.")
        return out, strip_prefix
    want = _essential(expected)
    if _essential(set(sd)) == want:
        return dict(sd), None
    for p in _candidate_prefixes(set(sd)):
        out = _strip(sd, p)
        if _essential(set(out)) == want:
            return out, p
    return dict(sd), None


def _prefix_hint(keys: set[str], expected: set[str]) -> str:
    best, score = None, len(_essential(expected) & keys)
    for p in _candidate_prefixes(keys):
        s = len(_essential(expected) & {k[len(p):] for k in keys if k.startswith(p)})
        if s > score:
            best, score = p, s
    if best is not None:
        return f"pass --strip-prefix {best}"
    tops = sorted({k.split(".")[0] + "." for k in keys if "." in k})[:5]
    return ("the network's keys look like " + ", ".join(sorted(expected)[:3])
            + (f"; prefixes in the file: {', '.join(tops)}" if tops else "") + "; fix --strip-prefix or --factory")


def load_into(module: nn.Module, sd: Mapping[str, torch.Tensor], *, path: Path | str, factory: str,
              where: str) -> None:
    """``module.load_state_dict(sd)`` with one error naming the missing / unexpected / misshapen keys.

    Raises:
        GanevalError: the weights do not fit the network (names the first few keys of each kind and
            the likely fix: ``--strip-prefix``, ``--state-dict-key`` or ``--factory-kwargs``).
    """
    expected = set(module.state_dict())
    missing = sorted(_essential(expected) - set(sd))
    unexpected = sorted(set(sd) - expected)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} ({', '.join(unexpected[:3])}"
                         f"{', ...' if len(unexpected) > 3 else ''})")
        raise GanevalError(f"{path}: the weights in {where} do not fit {factory}: {'; '.join(parts)} keys; "
                           f"{_prefix_hint(set(sd), expected)}, or pick other weights with --state-dict-key.")
    own = module.state_dict()
    bad = [f"{k} {tuple(v.shape)} in the file vs {tuple(own[k].shape)}" for k, v in sd.items()
           if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if bad:
        raise GanevalError(f"{path}: the weights in {where} have other shapes than {factory} builds "
                           f"({'; '.join(bad[:2])}{'; ...' if len(bad) > 2 else ''}): fix --factory-kwargs "
                           "(e.g. the width or latent size it was trained with).")
    try:
        module.load_state_dict(dict(sd), strict=False)  # keys were checked above; optional counters may lack
    except RuntimeError as exc:
        raise GanevalError(f"{path}: cannot load the weights into {factory} ({str(exc).splitlines()[0]}).") from exc


def read_container(path: Path, *, trust: bool = False) -> Any:
    """``torch.load`` a state-dict file on the CPU (CUDA-saved tensors included), safely unless ``trust``.

    Lightning ``.ckpt`` files may pickle more than tensors (hyper-parameter objects, callback
    states); those need ``trust`` because unpickling them runs code.

    Raises:
        GanevalError: the file is corrupt, or holds Python objects and ``trust`` is off.
    """
    import pickle
    import zipfile

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if not trust:
            raise GanevalError(f"{path}: besides tensors it pickles Python objects (a Lightning checkpoint's "
                               "hyper-parameters? a whole module?), and loading them runs code; pass "
                               "--trust-checkpoint only if you trust its source. Nothing in it was executed.") from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as exc:
        raise GanevalError(f"{path}: the file is truncated or corrupt ({str(exc).splitlines()[0]}).") from exc
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # unpickling trusted files can raise anything their classes raise
        raise GanevalError(f"{path}: cannot unpickle ({type(exc).__name__}: {str(exc).splitlines()[0]}).") from exc


def build_and_load(obj: Any, factory_fn: Any, *, spec: str, kwargs: dict[str, Any], key: str | None,
                   strip_prefix: str | None, path: Path | str) -> tuple[nn.Module, dict[str, Any]]:
    """``factory_fn(**kwargs)`` with the weights found in ``obj`` loaded into it.

    Returns:
        (module, info) where ``info`` records the factory, its kwargs, the entry used and the
        prefix stripped (kept in ``Generator.meta["state_dict"]``, shown by ``ganeval inspect``).

    Raises:
        GanevalError: the factory rejects its kwargs or returns no module; no weights found; keys
            or shapes that do not fit.
    """
    try:
        module = factory_fn(**kwargs)
    except Exception as exc:  # the factory is the user's code, called with the user's kwargs
        raise GanevalError(f"{path}: --factory {spec} rejected --factory-kwargs {json.dumps(kwargs)} "
                           f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); pass the "
                           "keyword arguments its constructor takes.") from exc
    if not isinstance(module, nn.Module):
        raise GanevalError(f"{path}: --factory {spec} returned {type(module).__name__}, not an nn.Module; name the "
                           "generator's class or a function returning it.")
    sd, where = find_state_dict(obj, key=key, path=path)
    sd, prefix = match_prefix(sd, set(module.state_dict()), strip_prefix=strip_prefix, path=path)
    load_into(module, sd, path=path, factory=spec, where=where)
    info = {"factory": spec, "factory_kwargs": kwargs, "entry": where, "prefix_stripped": prefix}
    return module, info


def describe_source(info: Mapping[str, Any]) -> str:
    """One line saying where the weights came from, e.g. ``weights from 'state_dict' (prefix 'module.' stripped)``."""
    prefix = info.get("prefix_stripped")
    return (f"weights from {info.get('entry')}" + (f" (prefix {prefix!r} stripped)" if prefix else "")
            + f" loaded into {info.get('factory')}({_kwargs_text(info.get('factory_kwargs') or {})})")


def _kwargs_text(kwargs: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def loading_notes(gen: Any) -> list[str]:
    """Notes for an evaluation's provenance about how ``gen``'s weights were found (state-dict route)."""
    info = getattr(gen, "meta", {}).get("state_dict")
    return [describe_source(info)] if isinstance(info, Mapping) else []


# ---------------------------------------------------------------------------------------------
# factories named on the command line


def parse_factory_kwargs(raw: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """``--factory-kwargs '{"ngf": 64}'`` (a JSON object) as a dict.

    Raises:
        GanevalError: not JSON, or not an object.
    """
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise GanevalError(f"--factory-kwargs {raw!r} is not JSON ({exc}); write an object such as "
                           "'{\"ngf\": 64}'.") from exc
    if not isinstance(value, dict):
        raise GanevalError(f"--factory-kwargs {raw!r} must be a JSON object such as '{{\"ngf\": 64}}', "
                           f"not a {type(value).__name__}.")
    return value


def registered_factories() -> dict[str, str]:
    """Entry points of group ``ganeval.generators``: ``{name: "pkg.module:callable"}``."""
    try:
        return {ep.name: ep.value for ep in entry_points(group=FACTORY_GROUP)}
    except Exception:  # a broken installed distribution must not break loading
        return {}


def resolve_factory(spec: str) -> str:
    """A registered entry point's name (``--factory dcgan``) becomes its ``pkg.module:callable``."""
    if ":" not in spec:
        reg = registered_factories()
        if spec in reg:
            return reg[spec]
        raise GanevalError(f"--factory {spec!r} must look like 'package.module:callable' (or name an entry point of "
                           f"group {FACTORY_GROUP!r}: {', '.join(sorted(reg)) or 'none installed'}).")
    return spec


@contextlib.contextmanager
def import_path(folder: str | os.PathLike[str] | None) -> Iterator[None]:
    """Put ``folder`` first on ``sys.path`` while a factory is imported, then restore the path.

    Only the import sees the folder (so a ``models.py`` beside the weights imports without
    ``PYTHONPATH``); the module it imports stays imported, as any import does.

    Raises:
        GanevalError: ``folder`` is not a directory.
    """
    if folder is None:
        yield
        return
    p = Path(folder).expanduser().resolve()
    if not p.is_dir():
        raise GanevalError(f"--factory-path {folder}: no such folder; pass the folder that holds the factory's module.")
    entry = str(p)
    sys.path.insert(0, entry)
    importlib.invalidate_caches()  # a module written since the last import must be seen
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)
