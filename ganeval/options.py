"""How generators and data are loaded, as one object that travels from the CLI to evaluation,
reports and diagnostics alike (so a run diagnosed inside ``ganeval report`` loads its
checkpoints exactly as the report's evaluation did).

To add a loading option: add a field here (its name is the keyword of :func:`ganeval.evaluate`),
list it in :attr:`LoadOptions.GENERATOR_FIELDS` / :attr:`LoadOptions.DATASET_FIELDS` when
:func:`ganeval.load_generator` / :func:`ganeval.load_dataset` take it, and add its flag in
:func:`ganeval.cli_common.add_eval_flags` (with the same ``dest``, or a line in ``ARG_NAMES``).
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar


@dataclass(frozen=True)
class LoadOptions:
    """Options for loading generators, datasets and feature extractors.

    Attributes:
        trust: allow pickled modules / factories outside the allow-list (runs their code).
        latent_dim, latent_dist: the latent spec when the checkpoint does not carry one.
        device: "auto", "cpu", "cuda[:N]".
        batch_size: sampling batch size.
        data_root: folder holding MNIST / CIFAR-10 files.
        download: allow downloading the dataset.
        features: feature extractor name (None: the data's default).
        extractor_options: options for the extractor, e.g. ``{"weights": path}``.
        factory, factory_kwargs, factory_path, state_dict_key, strip_prefix: a state dict plus the
            factory that builds its network (:mod:`ganeval.state_dicts`).
        output_range: the generator's output range ``(lo, hi)`` or ``"lo,hi"``, mapped onto [0, 1];
            latent_range: a uniform latent's bounds (:mod:`ganeval.output_range`).
        range_check: check the samples' range against the image data's before scoring.
        num_classes, label_input: a class-conditional generator's spec (``G(z, y)``), over the file's;
            labels: one class asked of every sample (None: balanced); classifier: a TorchScript
            classifier for ``conditional_accuracy`` (:mod:`ganeval.conditional`).
    """

    trust: bool = False
    latent_dim: int | None = None
    latent_dist: str | None = None
    device: str = "auto"
    batch_size: int = 1024
    data_root: str | Path | None = None
    download: bool = False
    features: str | None = None
    extractor_options: dict[str, Any] = field(default_factory=dict)
    factory: str | None = None
    factory_kwargs: str | dict[str, Any] | None = None
    factory_path: str | None = None
    state_dict_key: str | None = None
    strip_prefix: str | None = None
    output_range: str | tuple[float, float] | None = None
    latent_range: str | tuple[float, float] | None = None
    range_check: bool = True
    num_classes: int | None = None
    label_input: str | None = None
    labels: int | None = None
    classifier: str | None = None

    # Fields passed to load_generator (same keyword) and to load_dataset (field -> keyword).
    GENERATOR_FIELDS: ClassVar[tuple[str, ...]] = ("trust", "latent_dim", "latent_dist", "factory", "factory_kwargs",
                                                   "factory_path", "state_dict_key", "strip_prefix", "output_range",
                                                   "latent_range", "num_classes", "label_input")
    DATASET_FIELDS: ClassVar[dict[str, str]] = {"data_root": "root", "download": "download"}
    # CLI ``dest`` names that differ from the field's name.
    ARG_NAMES: ClassVar[dict[str, str]] = {"trust": "trust_checkpoint"}

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> LoadOptions:
        """Read the flags of :func:`ganeval.cli_common.add_eval_flags` (absent flags keep the defaults)."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            dest = cls.ARG_NAMES.get(f.name, f.name)
            if f.name != "extractor_options" and hasattr(args, dest):
                values[f.name] = getattr(args, dest)
        values["extractor_options"] = _extractor_options(args)
        return cls(**values)

    def replace(self, **changes: Any) -> LoadOptions:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def eval_kwargs(self) -> dict[str, Any]:
        """Every field as a keyword of :func:`ganeval.evaluate`."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def generator_kwargs(self) -> dict[str, Any]:
        """The keywords of :func:`ganeval.load_generator` (besides the path and the device)."""
        return {k: getattr(self, k) for k in self.GENERATOR_FIELDS}

    def dataset_kwargs(self) -> dict[str, Any]:
        """The keywords of :func:`ganeval.load_dataset` (besides the name)."""
        return {kw: getattr(self, k) for k, kw in self.DATASET_FIELDS.items()}


def _extractor_options(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = dict(getattr(args, "extractor_options", None) or {})
    weights = getattr(args, "inception_weights", None)
    if weights:
        out["weights"] = weights
    if getattr(args, "download_weights", False):
        out["allow_download"] = True
    from .cli_images import image_extractor_options

    out.update(image_extractor_options(args))  # --resize, --dinov2-weights, --clip-weights
    return out


def from_args(args: argparse.Namespace) -> LoadOptions:
    """:meth:`LoadOptions.from_args`."""
    return LoadOptions.from_args(args)


__all__ = ["LoadOptions", "from_args"]
