"""Streamed evaluation: :func:`ganeval.evaluate` for large image runs (``--n-samples 50000``) without
holding the samples or their features.

:func:`run_streamed` draws the samples batch by batch (in a background thread, see
:mod:`ganeval.features.streaming`), pushes each batch through every extractor the requested metrics
need, and returns a :class:`StreamContext`: a :class:`~ganeval.registry.Context` whose fake
features are a seeded reservoir of ``capacity`` rows (KID, PRDC, CMMD) and which also carries the
exact running statistics of all N (FID) and the Inception Score of all N. Reference features are
computed as usual (they do not grow with N).

Only metrics that can be computed this way stream: ``fid``, ``kid``, ``prdc``, ``is`` and ``cmmd``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .errors import GanevalError
from .features.streaming import DEFAULT_CAPACITY, STREAM_ABOVE, Streamed, stream
from .registry import Context

# metric -> the extractor it reads (None: the evaluation's own).
STREAMABLE: dict[str, str | None] = {"fid": None, "kid": None, "prdc": None, "is": "inception",
                                     "inception_score": "inception", "cmmd": "clip"}


def wants_stream(stream_flag: bool | None, kind: str, n: int, names: list[str]) -> bool:
    """Whether to stream: as asked, else for image runs above :data:`STREAM_ABOVE` samples whose
    metrics all stream.

    Raises:
        GanevalError: streaming asked for metrics that cannot stream.
    """
    if stream_flag is False:
        return False
    bad = [m for m in names if m not in STREAMABLE]
    if stream_flag:
        if bad:
            raise GanevalError(f"Metric(s) {', '.join(bad)} cannot be streamed (they need every sample); streaming "
                               f"supports {', '.join(sorted(STREAMABLE))}. Drop them or turn streaming off.")
        return True
    return kind == "images" and n > STREAM_ABOVE and not bad


@dataclass
class StreamContext(Context):
    """A :class:`Context` over a streamed pass: fake features come from the reservoir.

    Attributes:
        stream: what the pass left (:class:`~ganeval.features.streaming.Streamed`).
        n_samples: samples streamed (``samples`` holds only the first few, for figures).
    """

    stream: Streamed | None = None
    n_samples: int = 0

    def features_of(self, which: str, extractor: str | None = None, layer: str | None = None) -> torch.Tensor:
        """Reservoir features for ``"fake"`` (see :meth:`Context.features_of` for the rest).

        Raises:
            GanevalError: an extractor or layer that was not streamed.
        """
        if which != "fake" or self.stream is None:
            return super().features_of(which, extractor, layer)
        name = extractor or self.feature_name
        if name not in self.stream.reservoir:
            raise GanevalError(f"The {name} extractor was not part of this streamed evaluation.")
        ext = self.extractor(name)
        return self.stream.reservoir[name][ext.check_layer(layer)]


def _sampler(gen: Any, n: int, seed: int, shape: tuple[int, ...], source: str) -> Any:
    """``make_batch(start, stop)``: rows ``start:stop`` of what ``gen.sample(n, seed=seed)`` returns."""
    from .conditional import call as call_generator
    from .conditional import draw_labels

    if gen.samples is not None:
        total = gen.samples.shape[0]
        if n > total:
            raise GanevalError(f"{gen.name} holds {total} fixed samples but {n} were asked for: use --n-samples "
                               f"{total} or fewer.")
        from ._utils import torch_generator

        idx = None if n == total else torch.randperm(total, generator=torch_generator(seed))[:n]

        def fixed(start: int, stop: int) -> torch.Tensor:
            x = gen.samples[start:stop] if idx is None else gen.samples[idx[start:stop]]
            return x.float().reshape(stop - start, *shape)

        return fixed
    labels = None if gen.conditional is None else draw_labels(n, gen.conditional, seed=seed, where=gen.name)
    if gen.kind != "export":
        gen.module.eval()

    def network(start: int, stop: int) -> torch.Tensor:
        with torch.no_grad():
            z = gen.latent.rows(seed, start, stop).to(gen.device)
            x = call_generator(gen.module, z, None if labels is None else labels[start:stop], gen.conditional,
                               gen.name)
            if isinstance(x, (tuple, list)):
                x = x[0]
            x = x.detach().float().cpu()
        if x.shape[0] != stop - start or x[0].numel() != torch.Size(shape).numel():
            raise GanevalError(f"{source}: a batch of {stop - start} latents gave output of shape {tuple(x.shape)}; "
                               f"the data's rows are {shape}.")
        if not torch.isfinite(x).all():
            raise GanevalError(f"{source}: the generator produced NaN or Inf (samples {start}-{stop}, seed {seed}); "
                               "the checkpoint is broken and cannot be scored.")
        if gen.output_range is not None:
            lo, hi = gen.output_range
            x = (x - lo) / (hi - lo)
        return x.reshape(stop - start, *shape)

    return network


def run_streamed(gen: Any, dataset: Any, n: int, names: list[str], *, seed: int, device: torch.device,
                 features: str | None, options: dict[str, dict[str, Any]], extractor_options: dict[str, Any],
                 batch_size: int = 500, capacity: int | None = None, source: str = "") -> StreamContext:
    """Stream ``n`` samples of ``gen`` through the extractors ``names`` need; see the module docstring.

    Raises:
        GanevalError: a metric that cannot stream; whatever sampling or extraction raises.
    """
    wants_stream(True, dataset.kind, n, names)
    ctx = StreamContext(samples=torch.empty(0), dataset=dataset, device=device, seed=int(seed), features=features,
                        options=options, extractor_options=extractor_options, n_samples=int(n))
    wanted = list(dict.fromkeys(STREAMABLE[m] or ctx.feature_name for m in names))
    extractors = {name: ctx.extractor(name) for name in wanted}
    is_settings = []
    for m in ("is", "inception_score"):
        if m in names:
            from .metrics.inception_score import DEFAULT_SEED, DEFAULT_SPLITS

            opts = {**options.get("is", {}), **options.get(m, {})}
            is_settings.append((int(opts.get("splits", DEFAULT_SPLITS)), int(opts.get("seed", DEFAULT_SEED))))
    cap = int(capacity or DEFAULT_CAPACITY)
    res = stream(_sampler(gen, n, seed, tuple(dataset.sample_shape), source), n, extractors,
                 batch_size=int(batch_size), capacity=int(cap), seed=seed, is_settings=tuple(dict.fromkeys(is_settings)),
                 desc=f"streaming {gen.name}")
    ctx.stream = res
    ctx.samples = res.samples
    ctx.feature_provenance["stream"] = {"n": int(n), "reservoir": int(res.index.numel()), "batch_size": int(batch_size),
                                        **{k: round(float(v), 4) for k, v in res.timing.items()}}
    return ctx
