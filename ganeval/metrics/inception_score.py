"""Inception Score (Salimans et al. 2016), torch-fidelity's definition, in one pass or streamed.

    IS = exp( E_x KL( p(y|x) || p(y) ) )

with ``p(y|x)`` the softmax of Inception's ``logits_unbiased`` layer (torch-fidelity's
``inception-v3-compat``: 1008 logits before the bias), computed on each of ``splits`` (10) parts of
the samples, each part with its own marginal ``p(y)``; the score is the mean over the parts and
the spread their standard deviation (``np.std``). The samples are shuffled before splitting with
``numpy.random.RandomState(seed).permutation`` (torch-fidelity: ``rng_seed`` = 2020), so equal seeds
give torch-fidelity's number.

The KL term of a part P with marginal q is ``mean_{x in P} sum_c p_c log p_c - sum_c q_c log q_c``,
so each part needs only a running sum of ``p`` and of the negative entropy: :class:`ISAccumulator`
scores 50,000 samples holding 10 x 1008 numbers instead of the logits.

Caveats (Barratt & Sharma 2018, "A Note on the Inception Score"): the score depends on the exact
network weights and implementation (ports of the same net differ by several percent), on the number
of splits and samples, and only on the classifier's ImageNet classes: it ignores the reference data,
rewards confident class predictions rather than realism, cannot detect memorisation or mode dropping
within a class, and is not comparable across datasets. Quote it only beside N, the splits and the
network, and do not optimise for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import GanevalError
from ..results import Result
from ..validation import as_matrix

DEFAULT_SPLITS = 10
DEFAULT_SEED = 2020  # torch-fidelity's rng_seed


@dataclass(frozen=True)
class ISResult(Result):
    """Inception Score.

    Attributes:
        value: mean over the splits of ``exp(mean KL(p(y|x) || p(y)))`` (higher is "better").
        std: standard deviation over the splits (``np.std``, as torch-fidelity reports it).
        splits: number of parts.
        n_fake: samples scored (always quote it beside the value).
        scores: the per-split scores.
        notes: caveats.
    """

    value: float
    std: float
    splits: int
    n_fake: int
    scores: tuple[float, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        return f"IS(N={self.n_fake}, {self.splits} splits) = {self.value:.4g} ± {self.std:.2g}"


def _check(splits: Any, n: int) -> int:
    if isinstance(splits, bool) or not isinstance(splits, (int, np.integer)) or splits < 1:
        raise GanevalError(f"`splits` must be an integer >= 1, got {splits!r}.")
    if n < splits:
        raise GanevalError(f"Inception Score with {splits} splits needs at least {splits} samples, got {n}.")
    return int(splits)


def split_of(n: int, splits: int, seed: int | None) -> np.ndarray:
    """Which split each of ``n`` rows falls in, after torch-fidelity's shuffle (None: no shuffle).

    Row ``perm[j]`` sits at position j of the shuffled order, which belongs to split
    ``s`` with ``s * n // splits <= j < (s + 1) * n // splits``.
    """
    pos = np.arange(n)
    part = np.searchsorted(np.array([(s + 1) * n // splits for s in range(splits)]), pos, side="right")
    out = np.empty(n, dtype=np.int64)
    order = np.random.RandomState(seed).permutation(n) if seed is not None else pos
    out[order] = part
    return out


class ISAccumulator:
    """Streaming Inception Score: feed logits batch by batch, in sample order.

    Memory: ``splits`` x C float64 sums plus the split index of each of the ``n`` rows (8n bytes).

    Example:
        >>> acc = ISAccumulator(n=50_000)
        >>> for logits in batches:            # (B, 1008) in sample order
        ...     acc.update(logits)
        >>> acc.result().value
    """

    def __init__(self, n: int, *, splits: int = DEFAULT_SPLITS, seed: int | None = DEFAULT_SEED) -> None:
        self.n = int(n)
        self.splits = _check(splits, self.n)
        self._part = torch.from_numpy(split_of(self.n, self.splits, seed))
        self._seen = 0
        self._p: torch.Tensor | None = None
        self._neg_ent = torch.zeros(self.splits, dtype=torch.float64)
        self._count = torch.zeros(self.splits, dtype=torch.float64)

    def update(self, logits: Any) -> ISAccumulator:
        """Add the next (B, C) rows of logits.

        Raises:
            GanevalError: NaN/Inf, a class count that changes, more rows than ``n``.
        """
        x = as_matrix(logits, "logits", min_rows=1, dtype=torch.float64).cpu()
        b = x.shape[0]
        if self._seen + b > self.n:
            raise GanevalError(f"ISAccumulator was sized for {self.n} rows but got {self._seen + b}.")
        if self._p is None:
            self._p = torch.zeros(self.splits, x.shape[1], dtype=torch.float64)
        elif x.shape[1] != self._p.shape[1]:
            raise GanevalError(f"`logits` has {x.shape[1]} classes but earlier batches had {self._p.shape[1]}.")
        p, log_p = x.softmax(1), x.log_softmax(1)
        part = self._part[self._seen:self._seen + b]
        self._p.index_add_(0, part, p)
        self._neg_ent.index_add_(0, part, (p * log_p).sum(1))
        self._count.index_add_(0, part, torch.ones(b, dtype=torch.float64))
        self._seen += b
        return self

    def result(self) -> ISResult:
        """The score of the ``n`` rows seen.

        Raises:
            GanevalError: fewer rows than announced.
        """
        if self._seen != self.n or self._p is None:
            raise GanevalError(f"ISAccumulator has seen {self._seen} of the {self.n} rows it was sized for.")
        q = self._p / self._count[:, None]
        # 0 log 0 = 0 for classes no sample in the part puts mass on (softmax underflow).
        q_log_q = torch.where(q > 0, q * q.clamp_min(1e-300).log(), torch.zeros_like(q)).sum(1)
        kl = self._neg_ent / self._count - q_log_q
        scores = kl.exp().numpy()
        return ISResult(value=float(np.mean(scores)), std=float(np.std(scores)), splits=self.splits, n_fake=self.n,
                        scores=tuple(float(s) for s in scores))


def inception_score(logits: Any, *, splits: int = DEFAULT_SPLITS, seed: int | None = DEFAULT_SEED) -> ISResult:
    """Inception Score of (N, C) classifier logits, torch-fidelity's ``isc_features_to_metric``.

    Args:
        logits: (N, C) logits (torch-fidelity's ``logits_unbiased`` layer for its definition).
        splits: parts the samples are split into (10).
        seed: seed of the shuffle before splitting (torch-fidelity's default 2020); None: no shuffle.

    Returns:
        :class:`ISResult`.

    Raises:
        GanevalError: not an (N, C) finite array, N < splits, bad ``splits``.
    """
    x = as_matrix(logits, "logits", min_rows=1, dtype=torch.float64)
    return ISAccumulator(x.shape[0], splits=splits, seed=seed).update(x).result()
