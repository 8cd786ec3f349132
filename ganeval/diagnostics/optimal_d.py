"""The optimal-discriminator check on mixtures (Goodfellow et al. 2014, Proposition 1 and Theorem 1).

For a fixed generator the discriminator that maximises the GAN value function is

    D*(x) = p_data(x) / (p_data(x) + p_g(x)),

and at D* the value is V(D*, G) = -log 4 + 2 * JSD(p_data || p_g). On a Gaussian mixture p_data
is exact (:meth:`ganeval.MixtureDataset.log_prob`); p_g is estimated by an isotropic Gaussian kernel
density on generator samples. The check compares a trained discriminator with D* where the data
lives and estimates the Jensen-Shannon divergence by Monte Carlo.

Everything is computed in log space: D* = sigmoid(log p_data - log p_g), so points far from both
densities (where each underflows to 0 in float64) still get a defined D*.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .._utils import torch_generator
from ..errors import GanevalError
from ..kernels import log_kde
from ..results import Result
from ..validation import as_matrix

LOG2 = math.log(2.0)
BANDWIDTH_RULES = ("heldout", "scott")


# ---------------------------------------------------------------------------------------------
# kernel density


def kde_log_density(points: Any, samples: Any, bandwidth: float, *, chunk: int = 2048) -> torch.Tensor:
    """Log density (nats) of an isotropic Gaussian KDE with kernel std ``bandwidth``.

    log p(x) = logsumexp_j(-|x - y_j|^2 / (2 h^2)) - log n - (d/2) log(2 pi h^2), by
    :func:`ganeval.kernels.log_kde` (float64 distances for low-dimensional data, shifted by each
    point's nearest kernel, so far-away points keep an accurate log density).

    Args:
        points: (M, D) query points.
        samples: (N, D) kernel centres.
        bandwidth: h > 0.
        chunk: sets the workspace: about ``chunk`` query points per block.

    Returns:
        (M,) float64 tensor.

    Raises:
        GanevalError: shapes disagree, NaN input, or bandwidth <= 0.
    """
    x = as_matrix(points, "points", min_rows=1, dtype=torch.float64)
    y = as_matrix(samples, "samples", min_rows=1, dtype=torch.float64)
    if x.shape[1] != y.shape[1]:
        raise GanevalError(f"`points` have {x.shape[1]} dims but `samples` have {y.shape[1]}.")
    if not (math.isfinite(bandwidth) and bandwidth > 0):
        raise GanevalError(f"`bandwidth` must be a positive number, got {bandwidth!r}.")
    return log_kde(x, y, [bandwidth], memory_budget=chunk * y.shape[0] * 64)[:, 0]


def scott_bandwidth(samples: Any) -> float:
    """Scott's rule for an isotropic kernel: h = n^(-1/(d+4)) * sqrt(mean per-dimension variance).

    Raises:
        GanevalError: fewer than 2 samples, or all samples identical (zero spread).
    """
    y = as_matrix(samples, "samples", min_rows=2, dtype=torch.float64)
    n, d = y.shape
    spread = float(y.var(0).mean().sqrt())
    if spread <= 0:
        raise GanevalError("Scott's rule needs samples with some spread; all samples are identical "
                           "(use bandwidth='heldout' or a number).")
    return spread * n ** (-1.0 / (d + 4))


def heldout_bandwidth(samples: Any, held_out: Any, *, grid: Any = None) -> float:
    """The kernel std maximising the mean log-likelihood of held-out samples (the Parzen protocol).

    Args:
        samples: (N, D) kernel centres.
        held_out: (M, D) other samples from the same distribution.
        grid: candidate bandwidths. Default: 13 values log-spaced from 1e-3 to 1 times the samples'
            spread (spanning tight mixture modes and broad blobs), then 9 values refining around
            the best of them (the held-out likelihood is smooth in log h).

    Raises:
        GanevalError: shapes disagree, NaN input, or no positive bandwidth in ``grid``.
    """
    y = as_matrix(samples, "samples", min_rows=1, dtype=torch.float64)
    v = as_matrix(held_out, "held_out", min_rows=1, dtype=torch.float64)
    if v.shape[1] != y.shape[1]:
        raise GanevalError(f"`held_out` has {v.shape[1]} dims but `samples` have {y.shape[1]}.")
    if grid is not None:
        hs = [float(h) for h in np.asarray(grid, dtype=float).reshape(-1) if h > 0]
        if not hs:
            raise GanevalError("`grid` must hold at least one positive bandwidth.")
        return hs[int(np.argmax(_heldout_ll(v, y, hs)))]
    spread = float(y.var(0).mean().sqrt()) if y.shape[0] > 1 else 0.0
    spread = spread if spread > 1e-9 else 1e-3  # a point-mass generator: search tiny kernels
    coarse = list(np.geomspace(1e-3, 1.0, 13) * spread)
    best = coarse[int(np.argmax(_heldout_ll(v, y, coarse)))]
    ratio = coarse[1] / coarse[0]
    fine = list(np.geomspace(best / ratio, best * ratio, 9))
    return float(fine[int(np.argmax(_heldout_ll(v, y, fine)))])


def _heldout_ll(v: torch.Tensor, y: torch.Tensor, hs: list[float]) -> np.ndarray:
    """Mean log-likelihood of rows of ``v`` under the KDE on ``y``, for each bandwidth in ``hs``
    (distances computed once for every bandwidth: :func:`ganeval.kernels.log_kde`)."""
    return log_kde(v, y, hs).mean(0).numpy()


# ---------------------------------------------------------------------------------------------
# D*, JSD, V


def optimal_discriminator(log_p_data: Any, log_p_g: Any) -> torch.Tensor:
    """D*(x) = p_data / (p_data + p_g) from log densities, as sigmoid(log p_data - log p_g).

    Points where both densities are 0 (both logs -inf) get 1/2: neither side has any claim there.
    """
    a = torch.as_tensor(log_p_data, dtype=torch.float64)
    b = torch.as_tensor(log_p_g, dtype=torch.float64)
    diff = a - b
    return torch.where(torch.isnan(diff), torch.full_like(diff, 0.5), torch.sigmoid(diff))


def js_divergence(log_p: Callable[[torch.Tensor], torch.Tensor], log_q: Callable[[torch.Tensor], torch.Tensor],
                  samples_p: Any, samples_q: Any) -> tuple[float, float]:
    """Monte Carlo Jensen-Shannon divergence JSD(p || q) in nats, with its standard error.

    JSD = log 2 + (1/2) E_p[log D*] + (1/2) E_q[log(1 - D*)] with D* = p / (p + q), i.e. the
    average of KL(p || m) and KL(q || m) with m = (p + q) / 2, each estimated on samples of its own
    distribution. It lies in [0, log 2].

    Args:
        log_p, log_q: callables returning the log densities (float64, (N,)) of (N, D) points.
        samples_p: (N, D) samples from p.
        samples_q: (M, D) samples from q.

    Returns:
        (jsd, standard_error); the estimate is clipped to [0, log 2] (sampling noise can push it just
        outside).

    Raises:
        GanevalError: fewer than 2 samples, NaN input, or log densities of the wrong shape.
    """
    xp = as_matrix(samples_p, "samples_p", min_rows=2, dtype=torch.float64)
    xq = as_matrix(samples_q, "samples_q", min_rows=2, dtype=torch.float64)
    tp = _log_d_terms(log_p, log_q, xp, real=True)
    tq = _log_d_terms(log_p, log_q, xq, real=False)
    jsd, se = _jsd_raw(tp, tq)
    return min(max(jsd, 0.0), LOG2), se


def _jsd_raw(tp: torch.Tensor, tq: torch.Tensor) -> tuple[float, float]:
    """The unclipped Monte Carlo JSD and its standard error from log D* on p and log(1 - D*) on q."""
    jsd = LOG2 + 0.5 * float(tp.mean()) + 0.5 * float(tq.mean())
    return jsd, 0.5 * math.sqrt(float(tp.var()) / len(tp) + float(tq.var()) / len(tq))


def _log_d_terms(log_p: Callable[[torch.Tensor], torch.Tensor], log_q: Callable[[torch.Tensor], torch.Tensor],
                 x: torch.Tensor, *, real: bool) -> torch.Tensor:
    """log D*(x) (real=True) or log(1 - D*(x)), from the log-density difference, stably."""
    lp = torch.as_tensor(log_p(x), dtype=torch.float64).reshape(-1)
    lq = torch.as_tensor(log_q(x), dtype=torch.float64).reshape(-1)
    if lp.shape[0] != x.shape[0] or lq.shape[0] != x.shape[0]:
        raise GanevalError("The log-density callables must return one value per row.")
    return _log_d(lp, lq, real=real)


def _log_d(lp: torch.Tensor, lq: torch.Tensor, *, real: bool) -> torch.Tensor:
    """log D* (real=True) or log(1 - D*) from log p and log q at the same points: log-sigmoid of the difference."""
    diff = lp - lq
    return -F.softplus(-diff) if real else -F.softplus(diff)


def value_from_jsd(jsd: float) -> float:
    """V(D*, G) = -log 4 + 2 JSD(p_data || p_g) (Theorem 1)."""
    return -2 * LOG2 + 2 * float(jsd)


# ---------------------------------------------------------------------------------------------
# the check


@dataclass(frozen=True)
class OptimalDResult(Result):
    """A discriminator compared with the optimal one, D* = p_data / (p_data + p_g).

    Attributes:
        step: the checkpoint's training step, where known.
        mean_abs_diff: mean |D - D*| over points drawn half from p_data and half from p_g, i.e.
            weighted by (p_data + p_g) / 2, where the data lives (None without a discriminator).
        mean_abs_diff_data, mean_abs_diff_gen: the same over the p_data and the p_g halves.
        jsd, jsd_se: Monte Carlo JSD(p_data || p_g) in nats (p_g is the KDE), clipped to [0, log 2],
            and its standard error.
        jsd_raw: the unclipped estimate (noise and the KDE's smoothing can push it slightly below 0
            when the generator matches the data).
        value_optimal: V(D*, G) = -log 4 + 2 JSD.
        value_d: V(D, G) = E_data[log D] + E_g[log(1 - D)] of the given discriminator (<= V(D*, G)
            up to estimation error).
        d_real, d_fake: mean D on data points and on generator points.
        bandwidth, bandwidth_rule: the KDE kernel std and how it was chosen.
        n_samples: points per distribution in each estimate.
        seed: the seed every draw derives from.
    """

    step: int | None
    mean_abs_diff: float | None
    mean_abs_diff_data: float | None
    mean_abs_diff_gen: float | None
    jsd: float
    jsd_se: float
    jsd_raw: float
    value_optimal: float
    value_d: float | None
    d_real: float | None
    d_fake: float | None
    bandwidth: float
    bandwidth_rule: str
    n_samples: int
    seed: int
    maps: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _private = ("maps",)


def discriminator_probabilities(discriminator: Any, x: torch.Tensor, *, outputs: str = "logits",
                                batch_size: int = 4096) -> torch.Tensor:
    """D(x) as probabilities, float64 (N,), from a module or callable giving logits (or probabilities).

    Raises:
        GanevalError: the output is not one number per row, or contains NaN.
    """
    logits = discriminator_logits(discriminator, x, outputs=outputs, batch_size=batch_size)
    return torch.sigmoid(logits)


def discriminator_logits(discriminator: Any, x: torch.Tensor, *, outputs: str = "logits",
                         batch_size: int = 4096) -> torch.Tensor:
    """D's logits, float64 (N,); probabilities are turned into logits when ``outputs='probabilities'``."""
    if outputs not in ("logits", "probabilities"):
        raise GanevalError(f"`outputs` must be 'logits' or 'probabilities', got {outputs!r}.")
    dev = next(iter(discriminator.parameters())).device if isinstance(discriminator, nn.Module) \
        and any(True for _ in discriminator.parameters()) else torch.device("cpu")
    if isinstance(discriminator, nn.Module):
        discriminator.eval()
    parts = []
    with torch.no_grad():
        for s in range(0, x.shape[0], batch_size):
            out = discriminator(x[s:s + batch_size].float().to(dev))
            out = torch.as_tensor(out).detach().double().cpu()
            if out.numel() != min(batch_size, x.shape[0] - s):
                raise GanevalError(f"The discriminator must output one number per input row; it gave shape "
                                   f"{tuple(out.shape)} for {min(batch_size, x.shape[0] - s)} rows.")
            parts.append(out.reshape(-1))
    out = torch.cat(parts)
    if torch.isnan(out).any():
        raise GanevalError("The discriminator output NaN; the checkpoint is broken (a diverged run?).")
    if outputs == "probabilities":
        out = torch.logit(out.clamp(1e-12, 1 - 1e-12))
    return out


def _as_generator(generator: Any) -> Any:
    from ..checkpoints import Generator, generator_from_samples, load_generator

    if isinstance(generator, Generator):
        return generator
    if isinstance(generator, str) or hasattr(generator, "__fspath__"):
        return load_generator(generator, device="cpu")
    return generator_from_samples(generator, name="<array>")


def optimal_discriminator_check(generator: Any, discriminator: Any, dataset: Any, *, n_samples: int = 2000,
                                seed: int = 0, bandwidth: str | float = "heldout", grid_size: int = 101,
                                step: int | None = None, outputs: str = "logits") -> OptimalDResult:
    """Compare a discriminator with D* = p_data / (p_data + p_g) on a mixture and estimate JSD(p_data || p_g).

    p_data is the mixture's exact density. p_g is an isotropic Gaussian KDE on ``n_samples``
    generator samples; its bandwidth is chosen on another ``n_samples`` generator samples by
    held-out log-likelihood (``"heldout"``, the default: Scott's rule over-smooths multi-modal samples
    badly, e.g. a ring of std-0.01 modes), by Scott's rule (``"scott"``), or given as a number.
    A third, fresh set of generator samples and ``n_samples`` points from p_data give the Monte Carlo
    averages (so no kernel centre is scored against itself).

    For 2-D data the result also holds maps (in ``maps``, kept out of ``to_dict``) of p_data, p_g,
    D and D* on a ``grid_size`` x ``grid_size`` grid, and for any dimension a 1-D slice along the
    line through the data's centre and its first mode.

    Args:
        generator: a :class:`ganeval.Generator`, a checkpoint path, or (N, D) samples (then split
            three ways instead of drawn).
        discriminator: an ``nn.Module`` / callable mapping (B, D) points to logits, or None (then
            only D*, JSD and V(D*, G) are computed).
        dataset: a :class:`ganeval.MixtureDataset` or the name of one.
        n_samples: points per set (>= 10).
        seed: seed of every draw.
        bandwidth: "heldout", "scott", or a positive number.
        grid_size: points per side of the 2-D maps (0: no maps).
        step: the training step, recorded in the result.
        outputs: "logits" (ganeval checkpoints) or "probabilities".

    Raises:
        GanevalError: the dataset is not a mixture, n_samples < 10, an unknown bandwidth rule,
            samples of the wrong dimension, or a discriminator that does not output one logit per row.
    """
    from ..data import MixtureDataset, load_dataset

    ds = load_dataset(dataset) if isinstance(dataset, str) else dataset
    if not isinstance(ds, MixtureDataset):
        raise GanevalError(f"The optimal-discriminator check needs a mixture dataset with an exact density "
                           f"(ring8, grid25, ...); got {getattr(ds, 'name', type(ds).__name__)!r}.")
    n = int(n_samples)
    if n < 10:
        raise GanevalError(f"`n_samples` must be >= 10, got {n_samples}.")
    if isinstance(bandwidth, str) and bandwidth not in BANDWIDTH_RULES:
        raise GanevalError(f"Unknown bandwidth rule {bandwidth!r}: use {', '.join(BANDWIDTH_RULES)} or a number.")
    dim = ds.means.shape[1]
    gen = _as_generator(generator)
    if gen.is_fixed:
        # Fixed samples: split the set itself three ways (shuffled) instead of drawing.
        pool = gen.samples.reshape(gen.samples.shape[0], -1).double()
        if pool.shape[0] < 30:
            raise GanevalError(f"Fixed samples: need >= 30 to split three ways, got {pool.shape[0]}.")
        pool = pool[torch.randperm(pool.shape[0], generator=torch_generator(seed))]
        fit, val, mc = pool.tensor_split(3)
    else:
        fit, val, mc = (gen.sample(n, seed=seed + i).reshape(n, -1).double() for i in range(3))
    if fit.shape[1] != dim:
        raise GanevalError(f"The generator's samples have {fit.shape[1]} dims but {ds.name} has {dim}.")
    if isinstance(bandwidth, str):
        h = heldout_bandwidth(fit, val) if bandwidth == "heldout" else scott_bandwidth(fit)
        rule = bandwidth
    else:
        h, rule = float(bandwidth), "given"
    data_pts = ds.sample(mc.shape[0], seed + 3)[0].double()

    # Each point set's two log densities are computed once and serve the JSD and D* alike (the KDE
    # is the check's main cost).
    lpd_data, lpg_data = ds.log_prob(data_pts), kde_log_density(data_pts, fit, h)
    lpd_gen, lpg_gen = ds.log_prob(mc), kde_log_density(mc, fit, h)
    tp, tq = _log_d(lpd_data, lpg_data, real=True), _log_d(lpd_gen, lpg_gen, real=False)
    jsd_raw, se = _jsd_raw(tp, tq)
    jsd = min(max(jsd_raw, 0.0), LOG2)
    res: dict[str, Any] = dict(mean_abs_diff=None, mean_abs_diff_data=None, mean_abs_diff_gen=None, value_d=None,
                               d_real=None, d_fake=None)
    if discriminator is not None:
        dstar_data = optimal_discriminator(lpd_data, lpg_data)
        dstar_gen = optimal_discriminator(lpd_gen, lpg_gen)
        l_data = discriminator_logits(discriminator, data_pts, outputs=outputs)
        l_gen = discriminator_logits(discriminator, mc, outputs=outputs)
        diff_data = (torch.sigmoid(l_data) - dstar_data).abs()
        diff_gen = (torch.sigmoid(l_gen) - dstar_gen).abs()
        res.update(mean_abs_diff=float(torch.cat([diff_data, diff_gen]).mean()),
                   mean_abs_diff_data=float(diff_data.mean()), mean_abs_diff_gen=float(diff_gen.mean()),
                   value_d=float(-F.softplus(-l_data).mean() - F.softplus(l_gen).mean()),
                   d_real=float(torch.sigmoid(l_data).mean()), d_fake=float(torch.sigmoid(l_gen).mean()))
    maps = _maps(ds, fit, mc, h, discriminator, outputs, grid_size)
    return OptimalDResult(step=step, jsd=jsd, jsd_se=se, jsd_raw=jsd_raw, value_optimal=value_from_jsd(jsd), bandwidth=h,
                          bandwidth_rule=rule, n_samples=int(mc.shape[0]), seed=int(seed), maps=maps, **res)


def _maps(ds: Any, fit: torch.Tensor, mc: torch.Tensor, h: float, discriminator: Any, outputs: str,
          grid_size: int) -> dict[str, Any]:
    """p_data, p_g, D*, D on a 2-D grid (2-D data only) and on a 1-D slice (any dimension)."""
    means = ds.means.double()
    centre = means.mean(0)
    direction = means[0] - centre
    if float(direction.norm()) < 1e-12:
        direction = torch.zeros_like(centre)
        direction[0] = 1.0
    u = direction / direction.norm()
    reach = float((means - centre).norm(dim=1).max()) + 4 * ds.std
    reach = max(reach, float(((mc - centre) @ u).abs().quantile(0.99)) + 4 * ds.std)
    t = torch.linspace(-1.15 * reach, 1.15 * reach, 401, dtype=torch.float64)
    out: dict[str, Any] = {"slice": _evaluate_points(ds, centre + t[:, None] * u, fit, h, discriminator, outputs)}
    out["slice"]["t"] = t.numpy()
    out["slice"]["direction"] = u.numpy()
    out["slice"]["centre"] = centre.numpy()
    if means.shape[1] == 2 and grid_size > 0:
        pts = torch.cat([ds.test.double(), mc])
        lo = torch.minimum(pts.quantile(0.005, dim=0), means.min(0).values) - 4 * ds.std
        hi = torch.maximum(pts.quantile(0.995, dim=0), means.max(0).values) + 4 * ds.std
        pad = 0.08 * (hi - lo)
        lo, hi = lo - pad, hi + pad
        gx = torch.linspace(float(lo[0]), float(hi[0]), grid_size, dtype=torch.float64)
        gy = torch.linspace(float(lo[1]), float(hi[1]), grid_size, dtype=torch.float64)
        xx, yy = torch.meshgrid(gx, gy, indexing="xy")
        grid = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
        vals = _evaluate_points(ds, grid, fit, h, discriminator, outputs)
        out["grid"] = {k: (v.reshape(xx.shape) if v is not None else None) for k, v in vals.items()}
        out["grid"]["x"], out["grid"]["y"] = gx.numpy(), gy.numpy()
        out["samples"] = mc[:1000].numpy()
        out["means"] = means.numpy()
    return out


def _evaluate_points(ds: Any, x: torch.Tensor, fit: torch.Tensor, h: float, discriminator: Any,
                     outputs: str) -> dict[str, Any]:
    lpd, lpg = ds.log_prob(x), kde_log_density(x, fit, h)
    d = None if discriminator is None else torch.sigmoid(
        discriminator_logits(discriminator, x, outputs=outputs)).numpy()
    return {"p_data": lpd.exp().numpy(), "p_g": lpg.exp().numpy(),
            "d_star": optimal_discriminator(lpd, lpg).numpy(), "d": d}
