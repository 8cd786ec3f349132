"""The 50k protocol, streamed: samples are generated, converted and pushed through the extractors in
batches, and never all held at once.

What one pass leaves (:class:`Streamed`), per extractor:

* float64 running mean and covariance of its default layer (:class:`~ganeval.metrics.FeatureStats`):
  FID on all N samples, exactly as from the full feature matrix;
* a reservoir: the features of ``capacity`` samples chosen uniformly at random (seeded) before the
  pass, for metrics that need vectors (KID's subsets, PRDC's k-NN balls, CMMD): memory bounded by
  ``capacity``, not N;
* for Inception, the Inception Score of all N samples from running sums
  (:class:`~ganeval.metrics.inception_score.ISAccumulator`).

Sampling and conversion run in a background thread, one batch ahead of feature extraction (a
bounded queue), so the extractor does not wait for the generator; :attr:`Streamed.timing` records
how long the extractor side sat idle waiting for batches (``idle_fraction``) and images/s. A
progress bar with images/s shows on a terminal (``GANEVAL_PROGRESS``).

Peak memory is: one or two batches of samples, the reservoir (``capacity`` x feature dims), D x D
float64 per extractor, and 8 bytes per sample for the IS split index.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import GanevalError
from ..metrics.frechet import FeatureStats
from ..metrics.inception_score import ISAccumulator, ISResult

DEFAULT_CAPACITY = 10_000
STREAM_ABOVE = 10_000  # image runs with more samples stream unless told otherwise
KEEP_SAMPLES = 256  # samples kept for the report's figures


@dataclass
class Streamed:
    """What a streamed pass over N samples leaves (see the module docstring).

    Attributes:
        n: samples streamed.
        stats: ``{extractor: FeatureStats}`` of each extractor's default layer, over all N.
        reservoir: ``{extractor: {layer: (R, F)}}`` features of the reservoir samples.
        index: (R,) sample indices of the reservoir (sorted).
        samples: the first :data:`KEEP_SAMPLES` samples (figures).
        timing: seconds of sampling, extraction, idle waiting, images/s.
    """

    n: int
    stats: dict[str, FeatureStats]
    reservoir: dict[str, dict[str, torch.Tensor]]
    index: torch.Tensor
    samples: torch.Tensor
    timing: dict[str, float]
    _is: dict[tuple[int, int | None], ISAccumulator] = field(default_factory=dict)

    def inception_score(self, *, splits: int, seed: int | None) -> ISResult:
        """IS of all N samples (needs the ``inception`` extractor in the stream with these splits/seed).

        Raises:
            GanevalError: the stream did not accumulate IS with these settings.
        """
        acc = self._is.get((int(splits), seed))
        if acc is None:
            raise GanevalError(f"This streamed evaluation accumulated no Inception Score with splits={splits}, "
                               f"seed={seed}; pass the options before the run.")
        res = acc.result()
        return ISResult(value=res.value, std=res.std, splits=res.splits, n_fake=res.n_fake, scores=res.scores,
                        notes=("streamed: all N samples, from running sums",))


def reservoir_index(n: int, capacity: int, seed: int) -> torch.Tensor:
    """Sorted indices of ``min(n, capacity)`` of ``n`` samples, uniform without replacement, seeded."""
    if n <= capacity:
        return torch.arange(n)
    rng = np.random.default_rng([int(seed), 0x5EED])
    return torch.from_numpy(np.sort(rng.choice(n, capacity, replace=False)))


class _Bar:
    """A tqdm bar counting images (images/s), shown where :func:`ganeval._utils.progress` would show one."""

    def __init__(self, total: int, desc: str) -> None:
        flag = os.environ.get("GANEVAL_PROGRESS")
        show = sys.stderr.isatty() if flag is None else flag not in ("0", "", "false")
        self.bar = None
        if show:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="img", unit_scale=True, leave=False, file=sys.stderr)

    def update(self, k: int) -> None:
        if self.bar is not None:
            self.bar.update(k)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _produce(make_batch: Callable[[int, int], torch.Tensor], n: int, batch_size: int, q: queue.Queue,
             stop: threading.Event, timing: dict[str, float]) -> None:
    """Background thread: put ``(start, batch)`` for every batch, then ``None``; errors are passed on."""
    try:
        for start in range(0, n, batch_size):
            if stop.is_set():
                return
            t = time.perf_counter()
            x = make_batch(start, min(start + batch_size, n))
            timing["sampling"] += time.perf_counter() - t
            while not stop.is_set():
                try:
                    q.put((start, x), timeout=0.1)
                    break
                except queue.Full:
                    continue
        q.put(None)
    except BaseException as exc:  # noqa: BLE001  (handed to the consumer, which re-raises it)
        q.put(exc)


def _batches(make_batch: Callable[[int, int], torch.Tensor], n: int, batch_size: int,
             timing: dict[str, float]) -> Iterator[tuple[int, torch.Tensor]]:
    """Batches made one ahead in a background thread; time spent waiting for them goes in ``timing["idle"]``."""
    q: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()
    th = threading.Thread(target=_produce, args=(make_batch, n, batch_size, q, stop, timing), daemon=True,
                          name="ganeval-sampler")
    th.start()
    try:
        while True:
            t = time.perf_counter()
            item = q.get()
            timing["idle"] += time.perf_counter() - t
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        th.join()


def _extract(ext: Any, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every layer of a sample batch, in the extractor's own batch size (Inception's activations
    for 500 images at 299x299 would take gigabytes)."""
    bs = max(1, int(ext.batch_size))
    if x.shape[0] <= bs:
        return ext.forward_batch(x)
    parts = [ext.forward_batch(x[s:s + bs]) for s in range(0, x.shape[0], bs)]
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


def stream(make_batch: Callable[[int, int], torch.Tensor], n: int, extractors: dict[str, Any], *,
           batch_size: int = 500, capacity: int = DEFAULT_CAPACITY, seed: int = 0,
           is_settings: tuple[tuple[int, int | None], ...] = (), desc: str = "streaming") -> Streamed:
    """Push ``n`` samples through the extractors in batches, keeping only what the metrics need.

    Args:
        make_batch: ``make_batch(start, stop)`` -> samples ``start:stop`` (deterministic), called in
            a background thread.
        n: number of samples.
        extractors: ``{name: Extractor}``.
        batch_size: samples per batch.
        capacity: reservoir size (features kept for vector metrics).
        seed: seed of the reservoir's choice.
        is_settings: ``(splits, seed)`` pairs for which to accumulate the Inception Score (needs
            an extractor named ``inception`` with a ``logits_unbiased`` layer).
        desc: progress bar label.

    Returns:
        :class:`Streamed`.

    Raises:
        GanevalError: bad sizes; whatever sampling or extraction raises.
    """
    if n < 2:
        raise GanevalError(f"Streaming needs at least 2 samples, got {n}.")
    if capacity < 2 or batch_size < 1:
        raise GanevalError(f"Streaming needs capacity >= 2 and batch_size >= 1, got {capacity} and {batch_size}.")
    index = reservoir_index(n, capacity, seed)
    stats = {name: FeatureStats() for name in extractors}
    parts: dict[str, dict[str, list[torch.Tensor]]] = {name: {} for name in extractors}
    accs = {s: ISAccumulator(n, splits=s[0], seed=s[1]) for s in is_settings}
    if accs and "inception" not in extractors:
        raise GanevalError("Streaming the Inception Score needs the inception extractor.")
    kept: list[torch.Tensor] = []
    timing = {"sampling": 0.0, "idle": 0.0, "extraction": 0.0}
    bar = _Bar(n, desc)
    t0 = time.perf_counter()
    try:
        for start, x in _batches(make_batch, n, batch_size, timing):
            stop = start + x.shape[0]
            if start < KEEP_SAMPLES:
                kept.append(x[:KEEP_SAMPLES - start].clone())
            lo, hi = torch.searchsorted(index, torch.tensor([start, stop]))
            rows = index[lo:hi] - start
            t = time.perf_counter()
            for name, ext in extractors.items():
                out = _extract(ext, x)
                stats[name].update(out[ext.default_layer])
                if rows.numel():
                    for layer, v in out.items():
                        parts[name].setdefault(layer, []).append(v[rows].clone())
                if name == "inception":
                    for acc in accs.values():
                        acc.update(out["logits_unbiased"])
            timing["extraction"] += time.perf_counter() - t
            bar.update(x.shape[0])
    finally:
        bar.close()
    total = time.perf_counter() - t0
    timing["total"] = total
    timing["images_per_s"] = n / total if total > 0 else float("inf")
    timing["idle_fraction"] = timing["idle"] / total if total > 0 else 0.0
    reservoir = {name: {layer: torch.cat(v) for layer, v in p.items()} for name, p in parts.items()}
    return Streamed(n=n, stats=stats, reservoir=reservoir, index=index, samples=torch.cat(kept) if kept else
                    torch.empty(0), timing=timing, _is=accs)
