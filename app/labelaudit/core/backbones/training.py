"""One training loop for every torch backbone, tuned for finding label errors.

Choices that matter for label-error detection (measured in ``bench/quality.py``):
a one-cycle schedule over few epochs, so the model learns the dominant pattern
before it can memorise flipped labels; label smoothing; light shift augmentation
for images; test-time augmentation of the held-out predictions, optionally averaged over
snapshots of the model at the end of the last few epochs (``snapshots``).

On CUDA the data stays resident on the device, the forward pass runs under
autocast (bf16 where supported, else fp16 with a grad scaler) and images use
channels_last. On CPU there is no per-batch host work beyond slicing tensors.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from labelaudit.core.backbones.base import FitContext
from labelaudit.core.backbones.neighbours import embed, neighbour_probs
from labelaudit.core.constants import GPU_RESIDENT_SHARE, MIN_ONE_CYCLE_STEPS, RETUNE_SECONDS
from labelaudit.core.progress import check_stop
from labelaudit.errors import OptionError


#: Image batches and conv weights in channels_last: faster on CUDA and with oneDNN on the CPU alike. The
#: layout changes the convolutions' rounding, which training amplifies to ~1e-3 in the probabilities.
CHANNELS_LAST = True


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (defaults suit small audits)."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    loss: str = "ce"  # "ce" (cross-entropy) or "gce" (generalised cross-entropy, robust to noisy labels)
    gce_q: float = 0.7
    augment_shift: int = 0  # pixels of random translation for images; 0 = none
    hflip: bool = False  # only when horizontal flips preserve the label
    augment_rotate: float = 0.0  # degrees of random rotation (either way); 0 = none
    augment_scale: float = 0.0  # random zoom by up to this share (0.1: 0.9x to 1.1x); 0 = none
    tta: bool = False  # average held-out predictions over shifted copies
    eval_batch_size: int = 1024
    early_stopping: bool = False  # hold out 10% of the training fold; keep the epoch with the lowest loss there
    patience: int = 2
    compile: bool = False  # torch.compile the model (CUDA only; pays off on long runs)
    #: held-out probabilities averaged over the models at the end of the last this many epochs (1: the final
    #: model alone; more than the epochs trained: every epoch's); each snapshot costs one more prediction of
    #: the held-out part, with TTA as configured
    snapshots: int = 1

    def __post_init__(self):
        check_snapshots(self.snapshots, early_stopping=self.early_stopping)


def check_snapshots(snapshots, *, early_stopping: bool = False) -> None:
    """Raise :class:`OptionError` (field ``snapshots``) unless ``snapshots`` is a whole number from 1, and 1 under
    early stopping (which keeps one epoch's model, not the last ones). More than the epochs is not an error: the
    epochs of ``auto`` are known only once a fold's size is, so every epoch's model is averaged then."""
    if isinstance(snapshots, bool) or not isinstance(snapshots, int) or snapshots < 1:
        raise OptionError(f"snapshots must be a whole number of epochs, at least 1 (got {snapshots!r})",
                          field="snapshots")
    if early_stopping and snapshots > 1:
        raise OptionError("snapshots above 1 do not combine with early_stopping", field="snapshots")


def snapshot_epoch(config: TrainConfig, epoch: int) -> bool:
    """Whether the held-out part is predicted after ``epoch`` (1-based) as a snapshot besides the final
    model's prediction (every epoch of the last ``config.snapshots`` but the last)."""
    epochs = max(1, config.epochs)
    return epochs - config.snapshots < epoch < epochs


def average_snapshots(snapshots: list[np.ndarray]) -> np.ndarray:
    """The mean of the snapshots' probabilities (float64), rows renormalised to sum to 1."""
    if len(snapshots) == 1:
        return snapshots[0]
    probs = np.mean(np.stack(snapshots), axis=0)
    return probs / probs.sum(axis=1, keepdims=True)


def train_and_predict(
    build_model: Callable[[], nn.Module],
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_eval: np.ndarray,
    ctx: FitContext,
    config: TrainConfig,
    *,
    image: bool,
) -> np.ndarray:
    """Train a fresh model on one fold and return softmax probabilities for ``X_eval``.

    Features are normalised with statistics of ``X_train`` alone (per channel for
    images, per column for tables), so nothing of the held-out part leaks in.
    """
    device = torch.device(ctx.device)
    torch.manual_seed(ctx.seed)
    gen = torch.Generator(device="cpu").manual_seed(ctx.seed)

    store = storage_device(X_train, X_eval, device)
    xt, xe = _prepare_inputs(X_train, X_eval, store, image=image)
    yt = torch.as_tensor(np.asarray(y_train, dtype=np.int64), device=store)
    xv = yv = None
    split = early_stopping_split(xt.shape[0], config, gen)
    if split is not None:
        val, kept = split[0].to(store), split[1].to(store)
        xv, yv = xt[val], yt[val]
        xt, yt = xt[kept], yt[kept]
    model = build_model().to(device)
    channels_last = image and CHANNELS_LAST
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        xt = xt.contiguous(memory_format=torch.channels_last)
        xe = xe.contiguous(memory_format=torch.channels_last)

    if config.compile and device.type == "cuda":
        model = torch.compile(model)

    n = xt.shape[0]
    bs, steps_per_epoch = batch_steps(n, config)
    epochs = max(1, config.epochs)
    opt, sched = make_optimizer(model, config, epochs * steps_per_epoch)
    amp_dtype = _amp_dtype(device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)

    best_loss, best_state, stale = float("inf"), None, 0
    next_retune = time.monotonic() + RETUNE_SECONDS
    snapshots: list[np.ndarray] = []
    for epoch in range(epochs):
        model.train()
        check_stop(ctx.should_stop)
        perm = torch.randperm(n, generator=gen).to(store)
        for step in range(steps_per_epoch):
            idx = perm[step * bs:(step + 1) * bs]
            xb, yb = xt[idx].to(device, non_blocking=True), yt[idx].to(device, non_blocking=True)
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            if image and augments(config):
                xb = _augment(xb, config, gen)
            with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                loss = _loss(model(xb), yb, config)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            if ctx.retune is not None and time.monotonic() >= next_retune:
                ctx.retune()
                next_retune = time.monotonic() + RETUNE_SECONDS
        if snapshot_epoch(config, epoch + 1):  # eval mode does not touch BatchNorm statistics or the RNG
            snapshots.append(_predict(model, xe, config, amp_dtype, image=image).astype(np.float64))
        if ctx.on_epoch:
            ctx.on_epoch(epoch + 1, epochs)
        if xv is not None:
            val_loss = _held_in_loss(model, xv, yv, config, amp_dtype)
            if val_loss < best_loss - 1e-4:
                best_loss, stale = val_loss, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                stale += 1
                if stale >= config.patience:
                    break
    if best_state is not None:
        model.load_state_dict(best_state)

    probs = average_snapshots(snapshots + [_predict(model, xe, config, amp_dtype, image=image).astype(np.float64)])
    if ctx.neighbours:
        train_emb = embed(model, xt, batch_size=config.eval_batch_size, amp_dtype=amp_dtype)
        eval_emb = embed(model, xe, batch_size=config.eval_batch_size, amp_dtype=amp_dtype)
        ctx.extras["neighbour_probs"] = neighbour_probs(train_emb, yt, eval_emb, num_classes=ctx.num_classes,
                                                        k=ctx.neighbours)
    return probs


def _loss(logits: torch.Tensor, targets: torch.Tensor, config: TrainConfig) -> torch.Tensor:
    if config.loss == "gce":
        # Zhang & Sabuncu 2018: (1 - p_y^q) / q; bounded, so confidently wrong labels pull less
        p = torch.softmax(logits.float(), dim=1).gather(1, targets[:, None]).squeeze(1).clamp_min(1e-7)
        return ((1.0 - p.pow(config.gce_q)) / config.gce_q).mean()
    return F.cross_entropy(logits, targets, label_smoothing=config.label_smoothing)


@torch.no_grad()
def _held_in_loss(model: nn.Module, xv: torch.Tensor, yv: torch.Tensor, config: TrainConfig, amp_dtype) -> float:
    model.eval()
    device = next(model.parameters()).device
    total = 0.0
    for start in range(0, xv.shape[0], config.eval_batch_size):
        xb = xv[start:start + config.eval_batch_size].to(device, non_blocking=True)
        yb = yv[start:start + config.eval_batch_size].to(device, non_blocking=True)
        with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            logits = model(xb)
        total += float(_loss(logits.float(), yb, config)) * logits.shape[0]
    return total / xv.shape[0]


@torch.no_grad()
def _predict(model: nn.Module, xe: torch.Tensor, config: TrainConfig, amp_dtype, *, image: bool) -> np.ndarray:
    model.eval()
    views = [(0, 0)]
    if image and config.tta and config.augment_shift:
        s = 1
        views += [(s, 0), (-s, 0), (0, s), (0, -s)]
    out = []
    device = next(model.parameters()).device
    for start in range(0, xe.shape[0], config.eval_batch_size):
        xb = xe[start:start + config.eval_batch_size].to(device, non_blocking=True)
        probs = 0
        for dy, dx in views:
            v = xb if (dy, dx) == (0, 0) else _shift(xb, dy, dx)
            with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                logits = model(v)
            probs = probs + torch.softmax(logits.float(), dim=1)
            if image and config.hflip:
                with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                    logits = model(torch.flip(v, dims=(3,)))
                probs = probs + torch.softmax(logits.float(), dim=1)
        probs = probs / probs.sum(dim=1, keepdim=True)
        out.append(probs.cpu())
    return torch.cat(out).numpy()


def storage_device(X_train: np.ndarray, X_eval: np.ndarray, device: torch.device) -> torch.device:
    """Where the (float32) data live during training: on the GPU when they fit, else in host memory."""
    if device.type != "cuda":
        return device
    needed = 4 * (np.asarray(X_train).size + np.asarray(X_eval).size)
    free, _ = torch.cuda.mem_get_info(device)
    return device if needed <= GPU_RESIDENT_SHARE * free else torch.device("cpu")


def _prepare_inputs(X_train: np.ndarray, X_eval: np.ndarray, device: torch.device, *, image: bool):
    xt = torch.as_tensor(np.asarray(X_train), device=device).float()
    xe = torch.as_tensor(np.asarray(X_eval), device=device).float()
    mean, std = norm_stats(xt, image=image)
    return (xt - mean) / std, (xe - mean) / std


def norm_stats(xt: torch.Tensor, *, image: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of the training part: per channel for images, per column for tables."""
    if image:
        dims = (0, 2, 3)
        mean = xt.mean(dim=dims, keepdim=True)
        std = xt.std(dim=dims, keepdim=True).clamp_min(1e-6)
    else:
        mean = xt.mean(dim=0, keepdim=True)
        std = xt.std(dim=0, keepdim=True)
        std = torch.where(std > 1e-6, std, torch.ones_like(std))  # constant columns pass through unchanged
    return mean, std


def batch_steps(n: int, config: TrainConfig) -> tuple[int, int]:
    """Batch size and optimiser steps per epoch for ``n`` training rows (the ragged last batch is dropped:
    BatchNorm needs > 1 row)."""
    bs = min(config.batch_size, n)
    return bs, max(1, n // bs)


def early_stopping_split(n: int, config: TrainConfig, gen: torch.Generator):
    """``(held_in, kept)`` positions of the 10% of the training part early stopping watches, or ``None``."""
    if not (config.early_stopping and n >= 50):
        return None
    order = torch.randperm(n, generator=gen)
    n_val = max(10, n // 10)
    return order[:n_val], order[n_val:]


def make_optimizer(model: nn.Module, config: TrainConfig, total_steps: int):
    """AdamW (no weight decay on biases and norm scales) and its one-cycle schedule over ``total_steps``."""
    decay, no_decay = _param_groups(model)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr,
    )
    if total_steps >= MIN_ONE_CYCLE_STEPS:
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=total_steps, pct_start=0.25)
    else:  # OneCycleLR divides by zero when its warm-up phase rounds to a single step (e.g. 4 steps in all)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    return opt, sched


def augments(config: TrainConfig) -> bool:
    """Whether ``config`` changes training images at random."""
    return bool(config.augment_shift or config.hflip or config.augment_rotate or config.augment_scale)


def _augment(xb: torch.Tensor, config: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    """Random rotation and zoom (each image its own), translation by up to ``augment_shift`` pixels (zero
    fill, in a few groups per batch) and horizontal flips, as ``config`` asks."""
    if config.augment_rotate or config.augment_scale:
        xb = _affine(xb, config.augment_rotate, config.augment_scale, gen)
    shift = config.augment_shift
    if shift:
        groups = 4
        chunks = xb.chunk(groups)
        offsets = torch.randint(-shift, shift + 1, (len(chunks), 2), generator=gen).tolist()
        xb = torch.cat([_shift(c, dy, dx) for c, (dy, dx) in zip(chunks, offsets)])
    if config.hflip:
        mask = (torch.rand(xb.shape[0], generator=gen) < 0.5).to(xb.device)
        xb = torch.where(mask[:, None, None, None], torch.flip(xb, dims=(3,)), xb)
    return xb


def _affine(xb: torch.Tensor, degrees: float, scale: float, gen: torch.Generator) -> torch.Tensor:
    """Rotate each image by up to ``degrees`` and zoom it by up to ``scale`` about its centre (bilinear,
    zero fill: the normalised mean)."""
    n = xb.shape[0]
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(degrees)
    zoom = 1 + (torch.rand(n, generator=gen) * 2 - 1) * scale
    cos, sin, zero = torch.cos(angle) / zoom, torch.sin(angle) / zoom, torch.zeros(n)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(theta.to(device=xb.device, dtype=xb.dtype), list(xb.shape), align_corners=False)
    return F.grid_sample(xb, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Translate a batch of images by whole pixels, filling with zeros (the normalised mean)."""
    if dy == 0 and dx == 0:
        return x
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[..., yd, xd] = x[..., ys, xs]
    return out


def _param_groups(model: nn.Module):
    decay, no_decay = [], []
    for p in model.parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim <= 1 else decay).append(p)  # no weight decay on biases and norm scales
    return decay, no_decay


def _amp_dtype(device: torch.device):
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def epochs_for(n_train: int, *, target_steps: int, batch_size: int, lo: int, hi: int) -> int:
    """Epochs that give roughly ``target_steps`` optimiser steps, clamped to ``[lo, hi]``."""
    steps_per_epoch = max(1, math.ceil(n_train / batch_size))
    return int(min(hi, max(lo, round(target_steps / steps_per_epoch))))
