"""The metric registry: every fact about a metric in one :class:`MetricSpec`, and the :class:`Context`
adapters read their inputs from.

This is a leaf module: it imports nothing of ganeval beyond errors and results, so adapters
(:mod:`ganeval.scorers`), the orchestrator (:mod:`ganeval.evaluate`), the gate, diagnostics and
report all import it without a circle.

A metric is registered with :func:`register_metric` on its adapter ``fn(ctx: Context) -> Result``;
what the rest of ganeval needs to know about it is said there once:

* ``kinds``: the kinds of data it applies to ("mixture", "images", "vectors");
* ``directions``: per result field, whether "lower" or "higher" is better (the gate and the
  diagnostics' trends read it);
* ``headline``: the fields shown in summary tables; ``primary`` the field carrying the interval;
* ``options``: the options it accepts with their types and defaults (:class:`OptionSpec`); unknown
  keys and wrongly typed values are errors;
* ``caveats``: warnings printed beside its numbers; ``citation``: where it comes from.

Third-party packages add metrics through the entry-point group ``ganeval.metrics`` (see
``docs/extending.md``): :func:`load_scorers` imports every such entry point once.
"""

from __future__ import annotations

import builtins
import difflib
import importlib
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from .errors import GanevalError, unknown_name
from .plugins import load_entry_points
from .results import Result

if TYPE_CHECKING:
    from .data import Dataset

KINDS = ("mixture", "images", "vectors")
DIRECTIONS = ("lower", "higher")
ENTRY_POINT_GROUP = "ganeval.metrics"
# ganeval's own adapters, loaded by name like any plug-in (importing them registers their metrics).
BUILTIN_SCORERS = ("ganeval.scorers",)

# A caveat is a fixed sentence, or ``fn(metric_dict, evaluation) -> str | None`` for one that
# quotes the numbers it qualifies.
Caveat = str | Callable[[dict[str, Any], Any], str | None]
Adapter = Callable[["Context"], Result]


# ---------------------------------------------------------------------------------------------
# options


@dataclass(frozen=True)
class OptionSpec:
    """One option a metric accepts.

    Attributes:
        type: the accepted type: ``int``, ``float`` (ints accepted), ``bool``, ``str``, ``list``
            (any non-string sequence, numpy array included), or a tuple of these.
        default: the value used when the option is not given (None: the adapter decides).
        help: one line for ``ganeval metrics`` and the docs.
        choices: the accepted values, for string options with a fixed set.
    """

    type: builtins.type | tuple[builtins.type, ...]
    default: Any = None
    help: str = ""
    choices: tuple[Any, ...] | None = None

    def types(self) -> tuple[builtins.type, ...]:
        return self.type if isinstance(self.type, tuple) else (self.type,)

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is of an accepted type (None is always accepted: "use the default")."""
        if value is None:
            return True
        if self.choices is not None and not any(_same(value, c) for c in self.choices):
            return False
        return any(_is_type(value, t) for t in self.types())


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001  (arrays compare elementwise)
        return False


def _is_type(value: Any, t: type) -> bool:
    if t is bool:
        return isinstance(value, bool) or type(value).__name__ in ("bool_", "bool")  # numpy 1 and 2 booleans
    if t is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if t is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if t is list:
        return (isinstance(value, Sequence) and not isinstance(value, (str, bytes))) or hasattr(value, "__array__")
    return isinstance(value, t)


def _type_name(spec: OptionSpec) -> str:
    names = [getattr(t, "__name__", str(t)) for t in spec.types()]
    text = " or ".join(names)
    if spec.choices is not None:
        text += " (one of " + ", ".join(map(repr, spec.choices)) + ")"
    return text


# ---------------------------------------------------------------------------------------------
# the spec and the registry


@dataclass(frozen=True)
class MetricSpec:
    """A metric as ganeval knows it: its adapter and every fact the gate, diagnostics and reports read.

    Attributes:
        name: registry name (``--metrics NAME``).
        fn: the adapter, ``fn(ctx) -> Result``.
        kinds: kinds of data it applies to.
        default: True: in the default set for every kind it applies to; a tuple: for those kinds.
        description: one line for ``ganeval metrics``.
        directions: ``{field: "lower" | "higher"}``: which way is better, per result field.
        headline: fields shown in summary tables (empty: the first few numeric fields).
        primary: the field that carries the interval / standard error (``value`` by default).
        options: ``{key: OptionSpec}``: the options it accepts.
        caveats: sentences, or ``fn(metric_dict, evaluation) -> str | None``, shown beside it.
        citation: the paper (or protocol) it implements.
    """

    name: str
    fn: Adapter
    kinds: tuple[str, ...]
    default: bool | tuple[str, ...]
    description: str
    directions: Mapping[str, str] = field(default_factory=dict)
    headline: tuple[str, ...] = ()
    primary: str = "value"
    options: Mapping[str, OptionSpec] = field(default_factory=dict)
    caveats: tuple[Caveat, ...] = ()
    citation: str = ""

    def is_default_for(self, kind: str) -> bool:
        """Whether the metric runs unasked on data of this kind."""
        if kind not in self.kinds:
            return False
        return self.default if isinstance(self.default, bool) else kind in self.default

    @property
    def direction(self) -> str | None:
        """Which way is better for the primary field (None: no direction, e.g. a summary)."""
        return self.directions.get(self.primary)

    def check_options(self, opts: Mapping[str, Any]) -> dict[str, Any]:
        """Validate options for this metric and return them as a plain dict.

        Raises:
            GanevalError: an unknown key (with near misses) or a value of the wrong type.
        """
        if not isinstance(opts, Mapping):
            raise GanevalError(f"Options for metric {self.name!r} must be a mapping of key to value, "
                               f"got {type(opts).__name__}.")
        for key, value in opts.items():
            if key not in self.options:
                known = ", ".join(sorted(self.options)) or "none"
                close = difflib.get_close_matches(str(key), list(self.options), n=3, cutoff=0.5)
                hint = f" Did you mean: {', '.join(close)}?" if close else ""
                raise GanevalError(f"Unknown option {key!r} for metric {self.name!r}.{hint} Its options: {known}.")
            spec = self.options[key]
            if not spec.accepts(value):
                raise GanevalError(f"Option {self.name}.{key} must be {_type_name(spec)}, got {value!r}.")
            if isinstance(value, float) and not math.isfinite(value) and float in spec.types():
                raise GanevalError(f"Option {self.name}.{key} must be finite, got {value!r}.")
        return dict(opts)


METRICS: dict[str, MetricSpec] = {}


def register_metric(name: str, *, kinds: tuple[str, ...] = KINDS, default: bool | tuple[str, ...] = False,
                    description: str = "", directions: Mapping[str, str] | None = None,
                    headline: tuple[str, ...] = (), primary: str = "value",
                    options: Mapping[str, OptionSpec] | None = None, caveats: tuple[Caveat, ...] = (),
                    citation: str = "") -> Callable[[Adapter], Adapter]:
    """Register an adapter under ``name`` with the facts about its metric (see :class:`MetricSpec`).

    ``default=True`` puts it in the metric set used when the caller names none (for every kind it
    applies to); a tuple of kinds limits that to those kinds.

    Raises:
        GanevalError: an unknown kind or direction (a programming error in the adapter's module).
    """
    bad_kinds = [k for k in kinds if k not in KINDS]
    if bad_kinds:
        raise GanevalError(f"register_metric({name!r}): unknown kind(s) {bad_kinds}; use {', '.join(KINDS)}.")
    dirs = dict(directions or {})
    bad = {f: d for f, d in dirs.items() if d not in DIRECTIONS}
    if bad:
        raise GanevalError(f"register_metric({name!r}): directions must be 'lower' or 'higher', got {bad}.")

    def deco(fn: Adapter) -> Adapter:
        METRICS[name] = MetricSpec(name, fn, tuple(kinds), default, description, directions=dirs,
                                   headline=tuple(headline), primary=primary, options=dict(options or {}),
                                   caveats=tuple(caveats), citation=citation)
        return fn

    return deco


_PLUGINS_LOADED = False


def load_scorers(*, refresh: bool = False) -> None:
    """Register every metric: ganeval's own adapters, then the ``ganeval.metrics`` entry points.

    Entry points are scanned once per process (``refresh=True`` scans again, e.g. after installing
    a plug-in). An entry point names a module, whose import registers its metrics with
    :func:`register_metric`, or an object in it (a :class:`MetricSpec` is registered as it is).

    Raises:
        GanevalError: a plug-in that fails to import (named, with its distribution).
    """
    global _PLUGINS_LOADED
    for module in BUILTIN_SCORERS:
        importlib.import_module(module)
    if _PLUGINS_LOADED and not refresh:
        return
    for _, obj in load_entry_points(ENTRY_POINT_GROUP):
        if isinstance(obj, MetricSpec):
            METRICS[obj.name] = obj
    _PLUGINS_LOADED = True


def get_metric(name: str) -> MetricSpec:
    """The spec of a registered metric.

    Raises:
        GanevalError: unknown name, with near misses.
    """
    load_scorers()
    if name not in METRICS:
        raise unknown_name("metric", name, METRICS, "List them with `ganeval metrics`.")
    return METRICS[name]


def list_metrics() -> dict[str, str]:
    """Metric names and their one-line descriptions."""
    load_scorers()
    return {k: v.description for k, v in sorted(METRICS.items())}


def check_metric_names(names: Sequence[str], dataset: Any) -> None:
    """Every name registered and applicable to the dataset's kind.

    Raises:
        GanevalError: an unknown name (with near misses) or a metric for another kind of data.
    """
    load_scorers()
    for n in names:
        if n not in METRICS:
            raise unknown_name("metric", n, METRICS, "List them with `ganeval metrics`.")
        if dataset.kind not in METRICS[n].kinds:
            raise GanevalError(f"Metric {n!r} applies to {'/'.join(METRICS[n].kinds)} data, but {dataset.name!r} "
                               f"is {dataset.kind}; choose another metric or dataset.")


def check_options(options: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Validate ``{metric: {key: value}}``: known metrics, known keys, accepted types.

    Raises:
        GanevalError: an unknown metric or key (with near misses) or a value of the wrong type.
    """
    load_scorers()
    out: dict[str, dict[str, Any]] = {}
    for metric, opts in (options or {}).items():
        if metric not in METRICS:
            raise unknown_name("metric", str(metric), METRICS, "Options are given as METRIC.KEY=VALUE.")
        out[metric] = METRICS[metric].check_options(opts)
    return out


def direction_of(column: str) -> str | None:
    """Which way is better for a metric name (its primary field), ``metric.field``, or a field name.

    A bare field name (e.g. ``fid_inf``) is looked up among every metric's directions.
    """
    load_scorers()
    if column in METRICS:
        return METRICS[column].direction
    metric, dot, fld = column.partition(".")
    if dot and metric in METRICS:
        return METRICS[metric].directions.get(fld)
    for spec in METRICS.values():
        if column in spec.directions:
            return spec.directions[column]
    return None


def gateable() -> dict[str, str]:
    """``{metric: direction}`` for every metric whose primary field has a known better direction."""
    load_scorers()
    return {n: s.direction for n, s in sorted(METRICS.items()) if s.direction is not None}


# ---------------------------------------------------------------------------------------------
# the context adapters read


DEFAULT_FEATURES = {"mixture": "raw", "vectors": "raw"}


@dataclass
class Context:
    """What a metric adapter may use. Features are computed once and shared between metrics.

    Attributes:
        samples: generated samples in data space, float32 CPU, shaped like the dataset's rows.
        dataset: the reference dataset.
        device: where heavy work runs.
        seed: the evaluation seed (metrics derive their own seeds from it).
        features: feature-extractor name (None: the dataset's default).
        options: per-metric options, ``{"parzen": {"sigmas": [...]}, ...}``.
        extractor_options: options for the extractor (e.g. ``{"weights": path}``).
        artifacts: per-metric extras for plots, not serialised (e.g. neighbour indices).
        feature_provenance: filled when features are computed.
        sample_labels: (N,) int64 classes the samples were asked for, for a class-conditional
            generator (None otherwise); see :mod:`ganeval.conditional`.
    """

    samples: torch.Tensor
    dataset: Dataset
    device: torch.device
    seed: int = 0
    features: str | None = None
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    extractor_options: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)
    feature_provenance: dict[str, Any] = field(default_factory=dict)
    sample_labels: torch.Tensor | None = None
    _cache: dict[Any, Any] = field(default_factory=dict)

    def option(self, metric: str, key: str, default: Any = None) -> Any:
        return self.options.get(metric, {}).get(key, default)

    @property
    def kind(self) -> str:
        """The dataset's kind ("mixture", "images" or "vectors"), as the dataset says it once."""
        return str(self.dataset.kind)

    @property
    def feature_name(self) -> str:
        """The evaluation's extractor: the one named, else the dataset's default (raw data off images)."""
        if self.features:
            return self.features
        from .features import default_extractor_for

        return default_extractor_for(self.dataset)

    def extractor(self, name: str | None = None) -> Any:
        """The feature extractor ``name`` (default :attr:`feature_name`), built once per evaluation.

        The first extractor built is the evaluation's ``features`` provenance; any other one a
        metric asks for is recorded under ``feature_provenance["others"][name]``.

        Raises:
            GanevalError: unknown extractor or missing weights.
        """
        name = name or self.feature_name
        key = ("extractor", name)
        if key not in self._cache:
            from .features import get_extractor

            ext = get_extractor(name, device=self.device, **self.extractor_options)
            self._cache[key] = ext
            if not self.feature_provenance or self.feature_provenance.get("name") == name:
                self.feature_provenance.update(ext.provenance())
            else:
                self.feature_provenance.setdefault("others", {})[name] = ext.provenance()
        return self._cache[key]

    def features_of(self, which: str, extractor: str | None = None, layer: str | None = None) -> torch.Tensor:
        """(N, F) features of ``"fake"`` (the samples) or of a dataset split ``"train"|"val"|"test"``.

        Args:
            which: "fake" or a split name.
            extractor: extractor name (None: :attr:`feature_name`).
            layer: one of the extractor's layers (None: its default layer). Every layer comes from
                the same forward pass, so asking for a second layer costs no second pass.

        Raises:
            GanevalError: unknown split, extractor or layer.
        """
        name = extractor or self.feature_name
        ext = self.extractor(name)
        lay = ext.check_layer(layer) if hasattr(ext, "check_layer") else layer
        key = ("features", name, lay, which)
        if key not in self._cache:
            if which == "fake":
                if hasattr(ext, "features"):
                    for k, v in ext.features(self.samples).items():
                        self._cache[("features", name, k, which)] = v
                else:
                    self._cache[key] = ext(self.samples)
            else:
                from . import features as feats

                if hasattr(feats, "cached_layers"):
                    for k, v in feats.cached_layers(ext, self.dataset, which).items():
                        self._cache[("features", name, k, which)] = v
                else:
                    self._cache[key] = feats.cached_features(ext, self.dataset, which)
        return self._cache[key]

    def shared_keys(self) -> list[Any]:
        """Cache keys that do not depend on the samples (extractors, reference features): contexts
        scoring several models on the same data may share these entries."""
        return [k for k in self._cache if isinstance(k, tuple) and len(k) >= 2
                and (k[0] == "extractor" or (k[0] == "features" and k[-1] != "fake"))]

    def cached(self, key: Any, fn: Callable[[], Any]) -> Any:
        """Compute ``fn()`` once per key and share it between metrics."""
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]


__all__ = ["Context", "DEFAULT_FEATURES", "METRICS", "MetricSpec", "OptionSpec", "check_options", "direction_of",
           "gateable", "get_metric", "list_metrics", "load_entry_points", "load_scorers", "register_metric"]
