"""Algorithm 1 of Goodfellow et al. (2014): k discriminator steps per generator step.

Read top to bottom: :class:`TrainConfig` (every knob, JSON-serialisable), the coverage proxy
logged during training, then :func:`train`, which writes a **run folder**::

    OUT/config.json                 the config (+ preset, expected_regime, status, runtime_s)
    OUT/history.csv                 one row every ``log_every`` generator steps
    OUT/checkpoints/step_0001000.pt ganeval-format generator + discriminator, every ``ckpt_every``
                                    steps and at the end

``history.csv`` columns (the contract with ganeval's diagnostics, :mod:`ganeval.history`): ``step, d_loss,
g_loss, d_real, d_fake, grad_norm_g, grad_norm_d`` and,
for mixtures and images with labels, ``modes_covered, hq_fraction, dominant_mode, top2_share``
measured on a fixed batch of ``eval_samples`` generated samples (see :func:`coverage_stats`).
``d_real`` / ``d_fake`` are the mean of ``D(x) = sigmoid(logit)`` on the real and generated
batches of the last discriminator step; gradient norms are the global L2 norms of the last
update's gradients.

Every row is flushed as soon as it is written and every checkpoint is written to a temporary
name and renamed, so an interrupted run leaves a readable folder. A non-finite loss, gradient or
parameter stops training with a :class:`~ganeval.errors.GanevalError`; no checkpoint is written
after the divergence.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganeval import history as history_contract
from ganeval._utils import progress, torch_generator
from ganeval.checkpoints import LatentSpec, save_generator
from ganeval.data import Dataset, load_dataset
from ganeval.errors import GanevalError, unknown_name
from ganeval.metrics.coverage import mode_coverage

from . import nets
from .losses import GENERATOR_LOSSES, discriminator_loss

OPTIMIZERS = ("adam", "sgd")
# The history.csv contract with ganeval's diagnostics, written down once in ganeval.history.
HISTORY_COLUMNS = list(history_contract.HISTORY_COLUMNS)
COVERAGE_COLUMNS = list(history_contract.COVERAGE_COLUMNS)
NN_REFERENCE_MAX = 2000


@dataclass
class TrainConfig:
    """Everything that decides a run. ``steps`` counts generator updates (D gets ``k`` per step).

    Attributes:
        data: dataset name or path (see ``ganeval datasets``).
        seed: seeds initialisation, latent draws, real minibatches and dropout masks.
        loss: generator loss, ``"minimax"`` (saturating) or ``"nonsaturating"``.
        k: discriminator updates per generator update (>= 1).
        steps: generator updates (>= 1).
        batch_size: real and fake batch size.
        lr_g, lr_d: learning rates.
        lr_decay_to: if set, both learning rates decay geometrically to ``lr * lr_decay_to`` at
            the last step (the healthy presets anneal to settle the samples on the modes).
        optimizer: ``"adam"`` or ``"sgd"``.
        fused: the same algorithm in fewer, larger operations: each discriminator step scores the
            real and the fake batch in one pass, and Adam runs torch's fused kernel. About a
            quarter less time per step on the CPU; float rounding differs, so a run with it is not
            bit-identical to the same run without it (off by default: the presets verified
            without it stay as they were).
        betas: Adam betas; momentum: SGD momentum.
        ema: if set, checkpoints hold an exponential moving average of the generator's weights
            (Yazıcı et al. 2019), ``ema_G <- ema * ema_G + (1 - ema) * G`` after every generator
            step; the logged coverage columns score it too. Averaging cancels the generator's
            step-to-step jitter around the modes, so samples sharpen in fewer steps. D still
            trains against the raw generator.
        instance_noise: std of Gaussian noise added to every input D sees, real and fake
            (Sønderby et al. 2016; Arjovsky & Bottou 2017), decayed linearly to 0 at the fraction
            ``instance_noise_until`` of the run: D's view starts blurred, so G gets useful
            gradients everywhere, and sharpens as the noise fades.
        g_net, d_net: keys of :data:`nets.GENERATORS` / :data:`nets.DISCRIMINATORS`.
        g_kwargs, d_kwargs: constructor kwargs; ``out_shape`` / ``in_dim`` are filled from the data.
        init: ``"default"``, ``"orthogonal"`` or ``"uniform"`` (see :func:`nets.init_weights`).
        init_gain: gain of orthogonal init; init_range: half-width of uniform init.
        log_every, ckpt_every: logging / checkpoint period in generator steps.
        eval_samples: size of the fixed generated batch scored at each log.
        threads: ``torch.set_num_threads`` for the run (None: leave as is).
        data_root: where MNIST / CIFAR-10 files live.
        preset, expected_regime: filled by :mod:`reference_trainers.presets`.
    """

    data: str = "ring8"
    seed: int = 0
    loss: str = "nonsaturating"
    k: int = 1
    steps: int = 2000
    batch_size: int = 512
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    lr_decay_to: float | None = None
    optimizer: str = "adam"
    fused: bool = False
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    momentum: float = 0.0
    ema: float | None = None
    instance_noise: float = 0.0
    instance_noise_until: float = 0.5
    g_net: str = "mlp"
    g_kwargs: dict[str, Any] = field(default_factory=dict)
    d_net: str = "mlp"
    d_kwargs: dict[str, Any] = field(default_factory=dict)
    init: str = "default"
    init_gain: float = 1.0
    init_range: float = 0.05
    log_every: int = 50
    ckpt_every: int = 500
    eval_samples: int = 2500
    threads: int | None = None
    data_root: str | None = None
    preset: str | None = None
    expected_regime: str | None = None

    def validate(self) -> None:
        """Raise :class:`GanevalError` naming the first bad setting and how to fix it."""
        if self.loss not in GENERATOR_LOSSES:
            raise unknown_name("loss", self.loss, GENERATOR_LOSSES, "Use --loss minimax or --loss nonsaturating.")
        if self.optimizer not in OPTIMIZERS:
            raise unknown_name("optimizer", self.optimizer, OPTIMIZERS)
        if self.g_net not in nets.GENERATORS:
            raise unknown_name("generator network", self.g_net, nets.GENERATORS)
        if self.d_net not in nets.DISCRIMINATORS:
            raise unknown_name("discriminator network", self.d_net, nets.DISCRIMINATORS)
        if self.init not in nets.INITS:
            raise unknown_name("init scheme", self.init, nets.INITS)
        for name in ("k", "steps", "batch_size", "log_every", "ckpt_every", "eval_samples"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                flag = "--" + name.replace("_", "-")
                raise GanevalError(f"`{name}` must be an integer >= 1, got {value!r}: pass {flag} 1 or more.")
        for name in ("lr_g", "lr_d"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise GanevalError(f"`{name}` must be a positive finite number, got {value!r} "
                                   f"(--{name.replace('_', '-')}).")
        if self.lr_decay_to is not None and not (0 < self.lr_decay_to <= 1):
            raise GanevalError(f"`lr_decay_to` must be in (0, 1] (a fraction of the initial lr), "
                               f"got {self.lr_decay_to!r}.")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise GanevalError(f"`betas` must be two numbers in [0, 1), got {self.betas!r}.")
        if self.ema is not None and not (isinstance(self.ema, (int, float)) and 0 < self.ema < 1):
            raise GanevalError(f"`ema` must be a decay in (0, 1) such as 0.999, or null for none; got {self.ema!r}.")
        if not (math.isfinite(self.instance_noise) and self.instance_noise >= 0):
            raise GanevalError(f"`instance_noise` must be >= 0, got {self.instance_noise!r}.")
        if not 0 < self.instance_noise_until <= 1:
            raise GanevalError(f"`instance_noise_until` must be in (0, 1], got {self.instance_noise_until!r}.")
        if not 0 <= self.momentum < 1:
            raise GanevalError(f"`momentum` must be in [0, 1), got {self.momentum!r}.")
        if not isinstance(self.fused, bool):
            raise GanevalError(f"`fused` must be true or false, got {self.fused!r}.")
        if self.threads is not None and self.threads < 1:
            raise GanevalError(f"`threads` must be >= 1, got {self.threads!r} (--threads).")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Rebuild a config from ``config.json`` (unknown keys such as ``status`` are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


# ---------------------------------------------------------------------------------------------
# the coverage proxy logged during training


def _nn_label_proxy(dataset: Dataset) -> Callable[[torch.Tensor], tuple[np.ndarray, np.ndarray]]:
    """Labels and plausibility of image samples from their nearest training image in pixel space.

    A sample takes the label of its nearest training image (1-NN, ~98% accurate on held-out 8x8
    digits; at most ``NN_REFERENCE_MAX`` training images, a seeded subset); it is *plausible*
    when that distance is no larger than the 95th percentile of the
    same distance for the real validation images (as close to the training set as real unseen
    digits are). Noise and blurred averages of digits are not plausible.
    """
    train = dataset.train.reshape(dataset.train.shape[0], -1).double()
    labels = dataset.train_labels.numpy()  # type: ignore[union-attr]
    if train.shape[0] > NN_REFERENCE_MAX:
        # A seeded subset keeps each log cheap on large image sets (MNIST); digits use all 1,197.
        keep = torch.randperm(train.shape[0], generator=torch_generator(0))[:NN_REFERENCE_MAX]
        train, labels = train[keep], labels[keep.numpy()]
    val = dataset.val.reshape(dataset.val.shape[0], -1).double()
    radius = float(torch.quantile(torch.cdist(val, train).min(1).values, 0.95))

    def label(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        d, idx = torch.cdist(x.reshape(x.shape[0], -1).double(), train).min(1)
        return labels[idx.numpy()], (d <= radius).numpy()

    return label


def coverage_proxy(dataset: Dataset) -> tuple[str, Callable[[torch.Tensor], tuple[np.ndarray, np.ndarray]] | None]:
    """The labeller used for images: ``(name, fn(samples) -> (labels, high_quality))``.

    On ``digits`` and ``mnist``, when the shipped classifier (:mod:`ganeval.features.digits_cnn`)
    loads, labels are its top class and a sample is high quality when the classifier is confident (top-class
    probability >= 0.9) *and* the sample is plausible in pixel space (:func:`_nn_label_proxy`):
    the classifier alone calls most uniform-noise images a confident "8". Otherwise labels and
    quality come from the pixel-space nearest neighbour alone. ``("none", None)`` for data
    without labels.
    """
    if dataset.kind != "images" or dataset.train_labels is None or not dataset.n_classes:
        return "none", None
    nearest = _nn_label_proxy(dataset)
    if dataset.name in ("digits", "mnist"):
        try:
            from ganeval.features.digits_cnn import load_classifier

            clf = load_classifier(dataset.name)
        except (ImportError, GanevalError, OSError):
            clf = None
        if clf is not None:
            def by_classifier(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
                conf, lab = clf.probs(x.float().clamp(0, 1)).double().max(1)
                return lab.numpy(), (conf >= 0.9).numpy() & nearest(x)[1]

            return "digits_cnn+nearest_train_image", by_classifier
    return "nearest_train_image", nearest


def coverage_stats(samples: torch.Tensor, dataset: Dataset,
                   labeller: Callable[[torch.Tensor], tuple[np.ndarray, np.ndarray]] | None = None,
                   ) -> dict[str, float | int] | None:
    """Mode statistics of generated samples, as logged in ``history.csv``.

    Mixtures: :func:`ganeval.metrics.mode_coverage` (PacGAN/VEEGAN: high quality = within 3 std
    of the nearest mode, a mode is covered when it holds a high-quality sample). Images with
    labels: classes play the modes, ``labeller`` (see :func:`coverage_proxy`) assigns them, and a
    class is covered when it holds at least 1% of the samples as high-quality ones.

    Args:
        samples: (N, ...) generated samples.
        dataset: the training data.
        labeller: for images, from :func:`coverage_proxy` (built here when None).

    Returns:
        ``{"modes_covered", "hq_fraction", "dominant_mode", "top2_share"}`` or None when the data
        has no modes or classes.
    """
    if dataset.kind == "mixture":
        mc = mode_coverage(samples, dataset.means, dataset.std)  # type: ignore[attr-defined]
        return {"modes_covered": mc.modes_covered, "hq_fraction": mc.hq_fraction,
                "dominant_mode": mc.dominant_mode, "top2_share": mc.top2_share}
    if labeller is None:
        labeller = coverage_proxy(dataset)[1]
    if labeller is None:
        return None
    lab, hq = labeller(samples)
    k = int(dataset.n_classes or 0)
    visits = np.bincount(lab, minlength=k)
    counts = np.bincount(lab[hq], minlength=k)
    return {"modes_covered": int((counts >= max(1, len(lab) // 100)).sum()), "hq_fraction": float(hq.mean()),
            "dominant_mode": int(visits.argmax()), "top2_share": float(np.sort(visits)[-2:].sum() / len(lab))}


# ---------------------------------------------------------------------------------------------
# training


@dataclass
class TrainResult:
    """What :func:`train` returns: the run folder and what it holds."""

    out: Path
    config: TrainConfig
    checkpoints: list[Path]
    history: Path
    runtime_s: float
    last_row: dict[str, float]


def build_nets(config: TrainConfig, dataset: Dataset) -> tuple[nn.Module, dict[str, Any], nn.Module, dict[str, Any]]:
    """Build and seed-initialise G and D; returns ``(G, G kwargs, D, D kwargs)`` as stored in checkpoints."""
    g_kwargs = dict(config.g_kwargs)
    d_kwargs = dict(config.d_kwargs)
    if config.g_net == "mlp":
        g_kwargs.setdefault("out_shape", list(dataset.sample_shape))
    if config.d_net in ("mlp", "maxout", "paper_mnist"):
        d_kwargs.setdefault("in_dim", dataset.dim)
    gen = torch_generator(config.seed)
    try:
        G = nets.GENERATORS[config.g_net](**g_kwargs)
        D = nets.DISCRIMINATORS[config.d_net](**d_kwargs)
    except TypeError as exc:
        raise GanevalError(f"Bad network kwargs ({exc}); check g_kwargs / d_kwargs.") from exc
    nets.init_weights(G, gen, config.init, config.init_gain, config.init_range)
    nets.init_weights(D, gen, config.init, config.init_gain, config.init_range)
    g_out = math.prod(getattr(G, "out_shape", dataset.sample_shape))
    if g_out != dataset.dim:
        raise GanevalError(f"The generator makes samples of {g_out} values but {dataset.name!r} rows have "
                           f"{dataset.dim}; pick a network that matches the data.")
    return G, g_kwargs, D, d_kwargs


def _latent(G: nn.Module) -> LatentSpec:
    dist = getattr(G, "latent_dist", "normal")
    # Uniform noise in ±sqrt(3) has unit variance, as in the 2014 paper's code.
    half = math.sqrt(3.0) if dist == "uniform" else 1.0
    return LatentSpec(int(G.latent_dim), dist, -half, half)  # type: ignore[arg-type]


def _optimizer(config: TrainConfig, params: Any, lr: float) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=config.momentum)
    if config.fused:
        return torch.optim.Adam(params, lr=lr, betas=tuple(config.betas), fused=True)  # type: ignore[arg-type]
    # foreach: multi-tensor kernels instead of torch's per-parameter loop on the CPU. Same arithmetic
    # (checkpoints bit-identical); on these small nets the step time hardly changes.
    return torch.optim.Adam(params, lr=lr, betas=tuple(config.betas), foreach=True)  # type: ignore[arg-type]


def _grad_norm(module: nn.Module) -> float:
    """Global L2 norm of the gradients: one multi-tensor norm pass, combined in float64."""
    grads = [p.grad.detach() for p in module.parameters() if p.grad is not None]
    if not grads:
        return 0.0
    return float(torch.stack(torch._foreach_norm(grads)).double().square().sum().sqrt())


def _write_json(path: Path, obj: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True))
    os.replace(tmp, path)


def _interrupted(out: Path) -> bool:
    """Whether ``out`` holds a run whose trainer died (status "running", its process gone).

    Such a run cannot be finished or resumed (optimiser state is not saved), so training again
    into the folder replaces it without --overwrite; a run still alive on this host never is.
    """
    try:
        record = json.loads((out / "config.json").read_text())
    except (OSError, ValueError):
        return False
    pid, host = record.get("pid"), record.get("host")
    if record.get("status") != "running" or not isinstance(pid, int) or host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _prepare_out(out: Path, overwrite: bool) -> None:
    existing = [p for p in (out / "config.json", out / "history.csv") if p.exists()]
    ckpt_dir = out / "checkpoints"
    if ckpt_dir.is_dir():
        existing += [p for p in ckpt_dir.glob("step_*.pt")]
        existing += [p for p in ckpt_dir.glob(".step_*.pt.tmp-*")]  # left by a killed save
    if existing and not overwrite and not _interrupted(out):
        raise GanevalError(f"{out} already holds a training run; pass overwrite=True (CLI: --overwrite) "
                           "or choose another output folder.")
    # Only the files this trainer writes; config.json last, so a cleanup cut short still leaves the
    # record that marks the folder as an interrupted run (and a re-run can clean it up).
    for p in sorted(existing, key=lambda p: p.name == "config.json"):
        p.unlink()
    ckpt_dir.mkdir(parents=True, exist_ok=True)


def _diverged(what: str, value: float, step: int, out: Path, last_ckpt: Path | None) -> GanevalError:
    kept = f"the last finite checkpoint is {last_ckpt}" if last_ckpt else "no checkpoint was written"
    return GanevalError(f"Training diverged: {what} became {value} at generator step {step}; stopped ({kept}; "
                        f"history in {out / 'history.csv'}). Lower the learning rates (--lr-g / --lr-d).")


def train(config: TrainConfig, out: str | os.PathLike[str], *, overwrite: bool = False,
          dataset: Dataset | None = None) -> TrainResult:
    """Train a GAN with Algorithm 1 and write a run folder.

    Args:
        config: the run's settings (validated here).
        out: the run folder (created).
        overwrite: replace a run already in ``out`` (only the files a run writes are removed).
        dataset: the loaded data (default: ``load_dataset(config.data, root=config.data_root)``).

    Returns:
        A :class:`TrainResult`.

    Raises:
        GanevalError: invalid config, unknown data, ``out`` already holds a run, or the run
            diverged (a non-finite loss, gradient or parameter); in the last case the folder keeps
            the history and the checkpoints written before the divergence.
    """
    config.validate()
    t0 = time.perf_counter()
    out = Path(out)
    ds = dataset if dataset is not None else load_dataset(config.data, root=config.data_root, seed=0)
    old_threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(int(config.threads))
    try:
        G, g_kwargs, D, d_kwargs = build_nets(config, ds)
        _prepare_out(out, overwrite)
        proxy_name, labeller = coverage_proxy(ds)
        meta = {"preset": config.preset, "expected_regime": config.expected_regime, "coverage_proxy": proxy_name}
        record = {**config.to_dict(), **meta, "status": "running", "pid": os.getpid(), "host": socket.gethostname()}
        _write_json(out / "config.json", record)
        try:
            result = _loop(config, ds, G, g_kwargs, D, d_kwargs, out, labeller)
        except GanevalError as exc:
            _write_json(out / "config.json", {**record, "status": "diverged", "error": str(exc)})
            raise
    finally:
        torch.set_num_threads(old_threads)
    result.runtime_s = time.perf_counter() - t0
    record = {k: v for k, v in record.items() if k not in ("pid", "host")}
    _write_json(out / "config.json", {**record, "status": "finished", "runtime_s": round(result.runtime_s, 3)})
    return result


def _loop(config: TrainConfig, ds: Dataset, G: nn.Module, g_kwargs: dict[str, Any], D: nn.Module,
          d_kwargs: dict[str, Any], out: Path, labeller: Any) -> TrainResult:
    gen = torch_generator(config.seed + 1)  # minibatches and latents; init used seed itself
    if isinstance(D, nets.MaxoutDiscriminator):
        D.rng = torch_generator(config.seed + 2)
    latent = _latent(G)
    eval_z = latent.draw(config.eval_samples, torch_generator(config.seed + 3))
    real = ds.train
    g_loss_fn = GENERATOR_LOSSES[config.loss]
    opt_g = _optimizer(config, G.parameters(), config.lr_g)
    opt_d = _optimizer(config, D.parameters(), config.lr_d)
    decay = config.lr_decay_to
    ema_g = copy.deepcopy(G).requires_grad_(False) if config.ema is not None else None
    shown = G if ema_g is None else ema_g  # the generator that is scored and saved
    columns = HISTORY_COLUMNS + (COVERAGE_COLUMNS if ds.kind == "mixture" or labeller else [])
    hist_path = out / "history.csv"
    checkpoints: list[Path] = []
    last_ckpt: Path | None = None
    row: dict[str, float] = {}
    save_kw: dict[str, Any] = dict(factory="reference_trainers.nets:" + nets.FACTORY_NAMES[nets.GENERATORS[config.g_net]],
                   factory_kwargs=g_kwargs, latent_dim=latent.dim, latent_dist=latent.distribution,
                   latent_low=latent.low, latent_high=latent.high, data=str(config.data), discriminator=D,
                   discriminator_factory="reference_trainers.nets:"
                   + nets.FACTORY_NAMES[nets.DISCRIMINATORS[config.d_net]],
                   discriminator_kwargs=d_kwargs,
                   meta={"preset": config.preset, "seed": config.seed, "loss": config.loss, "k": config.k})
    with open(hist_path, "w", buffering=1) as hist:
        hist.write(",".join(columns) + "\n")
        for step in progress(range(1, config.steps + 1), desc=f"train {config.preset or config.loss}",
                             total=config.steps, unit="step"):
            if decay is not None:
                frac = decay ** ((step - 1) / max(1, config.steps - 1))
                for opt, lr in ((opt_g, config.lr_g), (opt_d, config.lr_d)):
                    for group in opt.param_groups:
                        group["lr"] = lr * frac
            noise = config.instance_noise * max(0.0, 1.0 - (step - 1) / (config.instance_noise_until * config.steps))
            G.train()
            D.train()
            # k discriminator steps on fresh real and fake minibatches (Algorithm 1, inner loop).
            D.requires_grad_(True)
            for _ in range(config.k):
                x = real[torch.randint(real.shape[0], (config.batch_size,), generator=gen)]
                with torch.no_grad():
                    fake = G(latent.draw(config.batch_size, gen))
                if config.fused:  # one pass over both batches
                    logits = D(torch.cat([_blur(x, noise, gen), _blur(fake, noise, gen)]))
                    real_logits, fake_logits = logits[:config.batch_size], logits[config.batch_size:]
                else:
                    real_logits, fake_logits = D(_blur(x, noise, gen)), D(_blur(fake, noise, gen))
                d_loss = discriminator_loss(real_logits, fake_logits)
                if not torch.isfinite(d_loss):
                    raise _diverged("the discriminator loss", d_loss.item(), step, out, last_ckpt)
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                grad_d = _grad_norm(D)
                if not math.isfinite(grad_d):
                    raise _diverged("the discriminator gradient norm", grad_d, step, out, last_ckpt)
                opt_d.step()
            # One generator step; D is frozen so its gradients are not computed.
            D.requires_grad_(False)
            g_loss = g_loss_fn(D(_blur(G(latent.draw(config.batch_size, gen)), noise, gen)))
            if not torch.isfinite(g_loss):
                raise _diverged("the generator loss", g_loss.item(), step, out, last_ckpt)
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            grad_g = _grad_norm(G)
            if not math.isfinite(grad_g):
                raise _diverged("the generator gradient norm", grad_g, step, out, last_ckpt)
            opt_g.step()
            if ema_g is not None:
                _ema_update(ema_g, G, float(config.ema))  # type: ignore[arg-type]

            is_last = step == config.steps
            if step % config.log_every == 0 or is_last:
                row = {"step": step, "d_loss": d_loss.item(), "g_loss": g_loss.item(),
                       "d_real": float(torch.sigmoid(real_logits.detach()).mean()),
                       "d_fake": float(torch.sigmoid(fake_logits.detach()).mean()),
                       "grad_norm_g": grad_g, "grad_norm_d": grad_d}
                if len(columns) > len(HISTORY_COLUMNS):
                    shown.eval()
                    with torch.no_grad():
                        samples = shown(eval_z)
                    if not torch.isfinite(samples).all():
                        raise _diverged("a generated sample", float("nan"), step, out, last_ckpt)
                    row.update(coverage_stats(samples, ds, labeller) or {})
                hist.write(",".join(_fmt(row[c]) for c in columns) + "\n")
            if step % config.ckpt_every == 0 or is_last:
                for name, module in (("generator", shown), ("discriminator", D)):
                    if not all(torch.isfinite(p).all() for p in module.parameters()):
                        raise _diverged(f"a {name} weight", float("nan"), step, out, last_ckpt)
                last_ckpt = save_generator(out / "checkpoints" / f"step_{step:07d}.pt", shown.eval(), step=step,
                                           **save_kw)
                checkpoints.append(last_ckpt)
    return TrainResult(out=out, config=config, checkpoints=checkpoints, history=hist_path, runtime_s=0.0,
                       last_row=row)


def _ema_update(ema_g: nn.Module, G: nn.Module, decay: float) -> None:
    """``ema_g``'s weights move ``1 - decay`` of the way to ``G``'s; buffers (batch-norm statistics) are copied."""
    with torch.no_grad():
        torch._foreach_lerp_(list(ema_g.parameters()), list(G.parameters()), 1.0 - decay)
        for b_ema, b in zip(ema_g.buffers(), G.buffers()):
            b_ema.copy_(b)


def _blur(t: torch.Tensor, noise: float, gen: torch.Generator) -> torch.Tensor:
    """``t`` plus Gaussian instance noise of std ``noise`` (``t`` itself when the noise is off)."""
    return t + noise * torch.randn(t.shape, generator=gen) if noise > 0 else t


def _fmt(v: float | int) -> str:
    return str(v) if isinstance(v, int) else f"{v:.6g}"
