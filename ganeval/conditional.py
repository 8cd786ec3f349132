"""Class-conditional generators, ``G(z, y)``: their label spec, seeded balanced labels, the call.

A conditional generator carries a :class:`ConditionalSpec` (``{"num_classes": K, "label_input":
"index" | "onehot"}``: in the ganeval format, a TorchScript / ``.pt2`` extra file
``conditional.json``, or the CLI's ``--num-classes K [--label-input onehot]``).

Labels are drawn like the latents (:meth:`ganeval.checkpoints.LatentSpec.rows`): row ``i`` of the
label stream depends only on the seed and ``i``, never on the batch size. The stream is a chain
of seeded random permutations of the K classes (rows ``jK .. jK+K-1`` hold every class once, in a
seeded order), cut into fixed blocks each drawn from its own generator. So the first ``n`` rows
hold each class ``n // K`` or ``n // K + 1`` times for every ``n`` (balanced), the classes of
those one-more rows are a seeded choice, and any batching of the same rows gives the same labels.
``labels=c`` asks for class ``c`` everywhere; an ``(n,)`` array asks for exactly those labels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .errors import GanevalError

LABEL_INPUTS = ("index", "onehot")
LABEL_BLOCK = 4096  # rows per seeded block (rounded up to whole permutations of the classes)
EXTRA_FILE = "conditional.json"  # the TorchScript / torch.export extra file that carries the spec
_LABEL_SALT = 0x1A8E1  # keeps the label stream apart from the latent stream of the same seed


@dataclass(frozen=True)
class ConditionalSpec:
    """How to feed class labels to a generator called as ``G(z, y)``.

    Attributes:
        num_classes: K, the number of classes (labels are 0 .. K-1).
        label_input: ``"index"``: ``y`` is an (B,) int64 tensor of class indices;
            ``"onehot"``: ``y`` is a (B, K) float32 one-hot matrix.

    Raises:
        GanevalError: K < 2 or an unknown ``label_input``.
    """

    num_classes: int
    label_input: str = "index"

    def __post_init__(self) -> None:
        k = self.num_classes
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or int(k) < 2:
            raise GanevalError(f"Number of classes must be a whole number >= 2, got {k!r}: pass --num-classes K "
                               "(the K of the generator's forward(z, y)).")
        if self.label_input not in LABEL_INPUTS:
            raise GanevalError(f"Unknown label input {self.label_input!r}: use --label-input index (y holds class "
                               "indices) or onehot (y holds one-hot rows).")

    def to_dict(self) -> dict[str, Any]:
        return {"num_classes": int(self.num_classes), "label_input": self.label_input}

    def encode(self, labels: torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
        """(B,) int64 labels -> what the generator takes: (B,) int64 or (B, K) float32 one-hot."""
        y = labels.to(device=device, dtype=torch.int64)
        if self.label_input == "onehot":
            return torch.nn.functional.one_hot(y, int(self.num_classes)).float()
        return y


def conditional_spec(value: Any, *, where: str = "conditional") -> ConditionalSpec | None:
    """A :class:`ConditionalSpec` from None, a spec, a dict ``{"num_classes", "label_input"}`` or K.

    Raises:
        GanevalError: a value that is none of those (named by ``where``).
    """
    if value is None or isinstance(value, ConditionalSpec):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return ConditionalSpec(int(value))
    if isinstance(value, dict):
        unknown = set(value) - {"num_classes", "label_input"}
        if unknown or "num_classes" not in value:
            raise GanevalError(f"{where}: expected {{'num_classes': K, 'label_input': 'index'|'onehot'}}, got "
                               f"{value!r}.")
        return ConditionalSpec(value["num_classes"], str(value.get("label_input") or "index"))
    raise GanevalError(f"{where}: expected {{'num_classes': K, 'label_input': 'index'|'onehot'}}, got "
                       f"{type(value).__name__}.")


def spec_from_extra(text: str, where: str) -> ConditionalSpec | None:
    """The spec stored in a ``conditional.json`` extra file ('' or 'null': none)."""
    if not text or not text.strip():
        return None
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise GanevalError(f"{where}: its {EXTRA_FILE} is not valid JSON ({exc}); re-save the generator.") from exc
    return conditional_spec(raw, where=f"{where}: {EXTRA_FILE}")


def resolve(stored: ConditionalSpec | None, num_classes: int | None, label_input: str | None,
            where: str) -> ConditionalSpec | None:
    """The spec a loaded generator uses: the caller's ``num_classes`` / ``label_input`` over the file's.

    Raises:
        GanevalError: ``label_input`` without a number of classes from either side.
    """
    if num_classes is None and label_input is None:
        return stored
    k = num_classes if num_classes is not None else (stored.num_classes if stored else None)
    if k is None:
        raise GanevalError(f"{where}: --label-input {label_input} was given without --num-classes K; say how many "
                           "classes the generator's forward(z, y) takes.")
    return ConditionalSpec(int(k), label_input or (stored.label_input if stored else "index"))


# ---------------------------------------------------------------------------------------------
# labels


def _block_rows(k: int) -> int:
    return -(-LABEL_BLOCK // k) * k  # whole permutations per block


def label_rows(seed: int, start: int, stop: int, num_classes: int) -> torch.Tensor:
    """Rows ``start:stop`` of the seeded, balanced label stream (int64, CPU).

    Block ``b`` (``ceil(4096 / K)`` permutations of the K classes) is drawn from its own generator
    seeded from (seed, b), so the rows do not depend on how the caller batches them.
    """
    k = int(num_classes)
    per = _block_rows(k)
    out = []
    for block in range(start // per, (stop - 1) // per + 1):
        state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(seed) >> 32 & 0xFFFFFFFF, block, _LABEL_SALT])
        gen = torch.Generator().manual_seed(int(state.generate_state(1, dtype=np.uint64)[0] >> 1))
        perms = torch.argsort(torch.rand(per // k, k, generator=gen), dim=1).reshape(-1)
        lo = max(start - block * per, 0)
        hi = min(stop - block * per, per)
        out.append(perms[lo:hi])
    return torch.cat(out) if out else torch.empty(0, dtype=torch.int64)


def draw_labels(n: int, spec: ConditionalSpec, *, seed: int, labels: Any = None, where: str = "generator") -> torch.Tensor:
    """The (n,) int64 class labels a conditional generator is asked for.

    Args:
        n: number of samples.
        spec: the generator's spec (K classes).
        seed: the sampling seed.
        labels: None: balanced over the K classes (each ``n // K`` or ``n // K + 1`` times), in a
            seeded order; an int ``c``: class ``c`` for every sample; an (n,) array: those labels.
        where: the generator's name, for errors.

    Raises:
        GanevalError: a label outside 0 .. K-1, a non-integer label, or an array of the wrong length.
    """
    k = int(spec.num_classes)
    if labels is None:
        return label_rows(seed, 0, n, k)
    if isinstance(labels, (int, np.integer)) and not isinstance(labels, bool):
        if not 0 <= int(labels) < k:
            raise GanevalError(f"--labels {int(labels)} is out of range for {where}, which has {k} classes: "
                               f"use a class in 0..{k - 1}.")
        return torch.full((n,), int(labels), dtype=torch.int64)
    arr = torch.as_tensor(np.asarray(labels) if not isinstance(labels, torch.Tensor) else labels)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise GanevalError(f"labels for {where} must be one class (an int) or an ({n},) array of classes, got "
                           f"shape {tuple(arr.shape)}.")
    if arr.dtype.is_floating_point or arr.dtype == torch.bool:
        if arr.dtype == torch.bool or not torch.equal(arr, arr.round()):
            raise GanevalError(f"labels for {where} must be whole class numbers, got dtype {arr.dtype}.")
    arr = arr.to(torch.int64)
    bad = (arr < 0) | (arr >= k)
    if bad.any():
        raise GanevalError(f"labels for {where} hold {int(arr[bad][0])}, out of range for its {k} classes: use "
                           f"classes in 0..{k - 1}.")
    return arr


# ---------------------------------------------------------------------------------------------
# calling the network


_CALL_ERRORS = (TypeError, RuntimeError, ValueError, IndexError, torch.jit.Error)  # a TorchScript raise is none of the others


def call(module: nn.Module, z: torch.Tensor, y: torch.Tensor | None, spec: ConditionalSpec | None,
         where: str) -> Any:
    """``module(z)``, or ``module(z, spec.encode(y))`` for a conditional generator.

    When the call fails, a two-row probe tells the likely cause apart (a one-input network given
    labels, a two-input network given none, one-hot labels where indices were given or the
    reverse) and the error names the flag that fixes it.

    Raises:
        GanevalError: the network fails on its input (with the fix where one is known).
    """
    try:
        if spec is None or y is None:
            return module(z)
        return module(z, spec.encode(y, z.device))
    except _CALL_ERRORS as exc:
        raise _diagnose(module, z, spec, where, exc) from exc


def _works(module: nn.Module, *args: torch.Tensor) -> bool:
    try:
        module(*args)
        return True
    except _CALL_ERRORS:
        return False


def first_line(exc: BaseException) -> str:
    """The informative line of an exception (a TorchScript error's is its last)."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    return (lines[-1] if isinstance(exc, torch.jit.Error) or "TorchScript interpreter" in lines[0] else lines[0])[:200]


def _diagnose(module: nn.Module, z: torch.Tensor, spec: ConditionalSpec | None, where: str,
              exc: BaseException) -> GanevalError:
    first = first_line(exc)
    probe = z[:2]
    if spec is None:
        return GanevalError(f"{where}: the generator failed on a batch of latents alone ({type(exc).__name__}: "
                            f"{first}); if it is class-conditional (forward(z, y)), pass --num-classes K "
                            "[--label-input onehot].")
    y = torch.zeros(probe.shape[0], dtype=torch.int64)
    if _works(module, probe):
        return GanevalError(f"{where}: the generator takes latents alone (forward(z)); it is not class-conditional, "
                            "so drop --num-classes / --labels (or the file's conditional spec).")
    other = ConditionalSpec(spec.num_classes, "onehot" if spec.label_input == "index" else "index")
    if _works(module, probe, other.encode(y, probe.device)):
        return GanevalError(f"{where}: the generator takes {other.label_input} labels, not {spec.label_input}: "
                            f"pass --label-input {other.label_input}.")
    return GanevalError(f"{where}: the generator failed on (z, y) with {spec.num_classes} classes as "
                        f"{spec.label_input} labels ({type(exc).__name__}: {first}); check --num-classes and "
                        "--label-input against its forward(z, y).")


__all__ = ["ConditionalSpec", "EXTRA_FILE", "LABEL_INPUTS", "call", "conditional_spec", "draw_labels",
           "first_line", "label_rows", "resolve", "spec_from_extra"]
