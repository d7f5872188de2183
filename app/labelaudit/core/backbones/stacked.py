"""The folds of one cross-validation trained together: one vmapped forward and backward for all of them.

A small model leaves a GPU mostly idle, and one fold after another pays every kernel launch K times.
Here the K fold models keep their own parameters, optimiser and schedule, exactly as in
:func:`~labelaudit.core.backbones.training.train_and_predict`, but every optimiser step runs their
forward and backward passes as one: the folds' parameters are stacked
(``torch.stack`` of each fold's leaves, so every gradient lands on its own fold's parameters) and
:func:`torch.func.functional_call` runs under :func:`torch.vmap` over the folds, which turns the
convolutions into grouped ones and the linear layers into batched matrix products.

Each fold reproduces its sequential run: the same initial weights (``torch.manual_seed(fold seed)``
before it is built), the same batches and augmentations (its own generator, drawn in the same order),
the same dropout masks (drawn from a generator that continues the global stream after its init, as
``F.dropout`` draws them on the CPU), its own AdamW, one-cycle schedule, grad scaler and early
stopping. Folds of different sizes take their own number of steps per epoch: a fold that has
finished its epoch's steps rides along in the remaining ones without being updated (its BatchNorm
statistics restored, nothing drawn from its generators). Folds are stacked when their training
settings agree (batch size included); any other fold trains alone. The held-out predictions are
made per fold by the sequential code (snapshots before the last epoch on a copy of the fold's model).

The result equals the sequential one up to floating-point rounding: batched kernels sum in another
order, and the stack trains images in the default memory layout where the sequential loop uses
channels_last. Training amplifies such rounding (Adam divides tiny gradients by their own size): on the
CPU the probabilities agree to ~1e-7 against the sequential loop in the same layout and to ~1e-2 against
channels_last, which is also how far the sequential loop moves when only its layout changes. On CUDA,
``F.dropout`` draws its masks with a fused kernel, so a model with dropout (``mlp``) gets other masks
than in its sequential run there.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from labelaudit.core.backbones import training
from labelaudit.core.backbones.base import FitContext, FoldRows
from labelaudit.core.backbones.training import (
    TrainConfig, _amp_dtype, _augment, augments, _held_in_loss, _loss, _predict, average_snapshots, batch_steps,
    early_stopping_split, make_optimizer, norm_stats, snapshot_epoch, storage_device, train_and_predict,
)
from labelaudit.core.progress import check_stop


def train_and_predict_folds(build_model, features: np.ndarray, labels: np.ndarray, folds: list[FoldRows],
                            ctxs: list[FitContext], configs: list[TrainConfig], *, image: bool) -> list[np.ndarray]:
    """Every fold's held-out probabilities, the folds whose settings agree trained together.

    Parameters
    ----------
    build_model : callable
        Builds one untrained model (called once per fold, after the fold's seed is set).
    features, labels : np.ndarray
        The whole dataset (float features, already in the model's input shape); each fold takes its rows.
    folds : list of FoldRows
    ctxs : list of FitContext
        Each fold's context (its seed, device, epochs, progress and stop callbacks).
    configs : list of TrainConfig
        Each fold's training settings; folds with equal settings form one stack.

    Returns the probabilities in the order of ``folds``, as
    :func:`~labelaudit.core.backbones.training.train_and_predict` would give them one fold at a time.
    """
    groups: dict[tuple, list[int]] = {}
    for i, (part, ctx, config) in enumerate(zip(folds, ctxs, configs)):
        n = len(part.train)
        if config.early_stopping and n >= 50:  # the rows early_stopping_split keeps for training
            n -= max(10, n // 10)
        groups.setdefault((config, ctx.device, batch_steps(n, config)[0]), []).append(i)
    out: list[np.ndarray | None] = [None] * len(folds)
    for members in groups.values():
        if len(members) == 1:
            i = members[0]
            out[i] = train_and_predict(build_model, features[folds[i].train], labels[folds[i].train],
                                       features[folds[i].held_out], ctxs[i], configs[i], image=image)
            continue
        probs = _train_stack(build_model, features, labels, [folds[i] for i in members], [ctxs[i] for i in members],
                             configs[members[0]], image=image)
        for i, p in zip(members, probs):
            out[i] = p
    return out  # type: ignore[return-value]


class _MaskDropout(nn.Module):
    """Dropout with its mask given from outside (drawn per fold), so that it can run under vmap."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.mask: torch.Tensor | None = None
        self.shape: torch.Size | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        if self.mask is None:  # the shape-finding pass on the meta device
            self.shape = x.shape
            return x
        return x * self.mask


@dataclass
class _Fold:
    """One fold's state in the stack."""

    model: nn.Module
    rows: torch.Tensor  # its training rows of the whole dataset, on the storage device
    val_rows: torch.Tensor | None
    mean: torch.Tensor
    std: torch.Tensor
    gen: torch.Generator  # batches and augmentation, as in the sequential loop
    drop_gen: torch.Generator  # dropout masks: the global stream after the model's init
    opt: torch.optim.Optimizer
    sched: object
    scaler: torch.amp.GradScaler
    steps: int
    ctx: FitContext
    stopped: bool = False
    best_loss: float = float("inf")
    best_state: dict | None = None
    stale: int = 0
    snapshots: list = field(default_factory=list)  # held-out probabilities of the snapshots before the last epoch


def _train_stack(build_model, features, labels, folds: list[FoldRows], ctxs: list[FitContext], config: TrainConfig,
                 *, image: bool) -> list[np.ndarray]:
    device = torch.device(ctxs[0].device)
    store = storage_device(features, features[:0], device)
    x_all = torch.as_tensor(np.asarray(features), device=store).float()
    y_all = torch.as_tensor(np.asarray(labels, dtype=np.int64), device=store)
    epochs = max(1, config.epochs)
    amp_dtype = _amp_dtype(device)
    bs = None
    stack: list[_Fold] = []
    for part, ctx in zip(folds, ctxs):
        rows = torch.as_tensor(np.asarray(part.train, dtype=np.int64), device=store)
        mean, std = norm_stats(x_all[rows], image=image)
        torch.manual_seed(ctx.seed)
        gen = torch.Generator(device="cpu").manual_seed(ctx.seed)
        val_rows = None
        split = early_stopping_split(rows.shape[0], config, gen)
        if split is not None:
            val_rows, rows = rows[split[0].to(store)], rows[split[1].to(store)]
        model = build_model().to(device)
        drop_gen = torch.Generator(device=device)
        drop_gen.set_state(torch.get_rng_state() if device.type == "cpu" else torch.cuda.get_rng_state(device))
        fold_bs, steps = batch_steps(rows.shape[0], config)
        bs = fold_bs if bs is None else bs
        assert fold_bs == bs, "the folds of one stack share their batch size"
        opt, sched = make_optimizer(model, config, epochs * steps)
        scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
        stack.append(_Fold(model=model, rows=rows, val_rows=val_rows, mean=mean, std=std, gen=gen, drop_gen=drop_gen,
                           opt=opt, sched=sched, scaler=scaler, steps=steps, ctx=ctx))

    template, drops = _template(stack[0].model, (bs, *x_all.shape[1:]))
    buffers = _stack_buffers(stack)
    names = [name for name, _ in stack[0].model.named_parameters()]
    fold_params = [dict(f.model.named_parameters()) for f in stack]

    def fold_loss(params, bufs, xb, yb, masks):
        for module, mask in zip(drops, masks):
            module.mask = mask
        try:
            return _loss(functional_call(template, (params, bufs), (xb,)), yb, config)
        finally:
            for module in drops:
                module.mask = None

    batched_loss = torch.vmap(fold_loss)
    for epoch in range(epochs):
        check_stop(ctxs[0].should_stop)
        live = [f for f in stack if not f.stopped]
        if not live:
            break
        perms = [torch.randperm(f.rows.shape[0], generator=f.gen).to(store) for f in stack]
        for step in range(max(f.steps for f in live)):
            active = [not f.stopped and step < f.steps for f in stack]
            xb, yb = _batches(stack, perms, active, step, bs, x_all, y_all, device, config, image)
            masks = _dropout_masks(stack, active, drops)
            saved = {i: {k: v[i].clone() for k, v in buffers.items()} for i, a in enumerate(active) if not a}
            params = {name: torch.stack([p[name] for p in fold_params]) for name in names}
            for f in stack:
                f.opt.zero_grad(set_to_none=True)
            with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                losses = batched_loss(params, buffers, xb, yb, masks)
            total = sum(f.scaler.scale(losses[i]) for i, f in enumerate(stack))
            total.backward()
            for i, f in enumerate(stack):
                if active[i]:
                    f.scaler.step(f.opt)
                    f.scaler.update()
                    f.sched.step()
            with torch.no_grad():
                for i, state in saved.items():  # a fold that only rode along keeps its statistics
                    for k, v in state.items():
                        buffers[k][i].copy_(v)
        for f, part in zip(stack, folds):
            if not f.stopped and snapshot_epoch(config, epoch + 1):  # a copy: the live model keeps its layout
                f.snapshots.append(_predict_fold(copy.deepcopy(f.model), part, f, x_all, store, config, amp_dtype,
                                                 image=image)[1])
        for f in live:
            if f.ctx.on_epoch:
                f.ctx.on_epoch(epoch + 1, epochs)
            if f.val_rows is not None:
                _early_stopping(f, x_all, y_all, config, amp_dtype)
    out = []
    for f, part in zip(stack, folds):
        if f.best_state is not None:
            f.model.load_state_dict(f.best_state)
        f.model, probs = _predict_fold(f.model, part, f, x_all, store, config, amp_dtype, image=image)
        out.append(average_snapshots(f.snapshots + [probs]))
    return out


def _predict_fold(model: nn.Module, part: FoldRows, f: _Fold, x_all, store, config: TrainConfig, amp_dtype, *,
                  image: bool) -> tuple[nn.Module, np.ndarray]:
    """``model`` (in the layout it predicted in) and its probabilities for the fold's held-out rows: one fold
    at a time, by the sequential code and in its layout."""
    held = torch.as_tensor(np.asarray(part.held_out, dtype=np.int64), device=store)
    xe = (x_all[held] - f.mean) / f.std
    if image and training.CHANNELS_LAST:
        model = model.to(memory_format=torch.channels_last)
        xe = xe.contiguous(memory_format=torch.channels_last)
    return model, _predict(model, xe, config, amp_dtype, image=image).astype(np.float64)


def _template(model: nn.Module, batch_shape: tuple[int, ...]) -> tuple[nn.Module, list[_MaskDropout]]:
    """A parameter-free copy of ``model`` (on the meta device) whose dropout layers take their masks from outside,
    and those layers, each knowing the shape of its input for a batch of ``batch_shape``."""
    template = copy.deepcopy(model).to("meta")
    drops = []
    for name, module in list(template.named_modules()):
        if isinstance(module, nn.Dropout):
            parent_name, _, child = name.rpartition(".")
            parent = template.get_submodule(parent_name) if parent_name else template
            replacement = _MaskDropout(module.p)
            setattr(parent, child, replacement)
            drops.append(replacement)
    template.train()
    if drops:
        with torch.no_grad():
            template(torch.empty(batch_shape, device="meta"))
    return template, drops


def _stack_buffers(stack: list[_Fold]) -> dict[str, torch.Tensor]:
    """Every fold's buffers stacked; each fold's model then holds views of its slice, so BatchNorm's running
    statistics, updated in place under vmap, are the fold's own."""
    stacked = {}
    for name, _ in stack[0].model.named_buffers():
        stacked[name] = torch.stack([f.model.get_buffer(name) for f in stack])
        for i, f in enumerate(stack):
            owner, _, leaf = name.rpartition(".")
            module = f.model.get_submodule(owner) if owner else f.model
            module._buffers[leaf] = stacked[name][i]
    return stacked


def _batches(stack, perms, active, step, bs, x_all, y_all, device, config: TrainConfig, image: bool):
    """Each fold's batch of this step (normalised and augmented as in the sequential loop), stacked.

    Not channels_last (:data:`~labelaudit.core.backbones.training.CHANNELS_LAST`), unlike the sequential
    loop: under vmap the convolutions regroup the folds' channels anyway, and the batched adaptive pooling
    of a channels_last input falls back to a slow loop over the folds (torch 2.13).

    A fold past its epoch's steps gets its first batch again, unaugmented: it is computed and thrown away."""
    xs, ys = [], []
    for f, perm, a in zip(stack, perms, active):
        idx = perm[step * bs:(step + 1) * bs] if a else perm[:bs]
        rows = f.rows[idx]
        xb = ((x_all[rows] - f.mean) / f.std).to(device, non_blocking=True)
        if image and a and augments(config):
            xb = _augment(xb, config, f.gen)
        xs.append(xb)
        ys.append(y_all[rows].to(device, non_blocking=True))
    return torch.stack(xs), torch.stack(ys)


def _dropout_masks(stack, active, drops: list[_MaskDropout]) -> tuple[torch.Tensor, ...]:
    """Each dropout layer's masks for this step, stacked over the folds: drawn from each active fold's own
    stream exactly as ``F.dropout`` does on the CPU (``bernoulli_(1 - p)``, divided by ``1 - p``)."""
    masks = []
    for module in drops:
        per_fold = []
        for f, a in zip(stack, active):
            device = f.drop_gen.device
            if module.p == 0 or not a:
                per_fold.append(torch.ones(module.shape, device=device))
                continue
            m = torch.empty(module.shape, device=device).bernoulli_(1 - module.p, generator=f.drop_gen)
            per_fold.append(m.div_(1 - module.p))
        masks.append(torch.stack(per_fold))
    return tuple(masks)


def _early_stopping(f: _Fold, x_all, y_all, config: TrainConfig, amp_dtype) -> None:
    """The sequential loop's early stopping, for one fold of the stack."""
    xv = (x_all[f.val_rows] - f.mean) / f.std
    val_loss = _held_in_loss(f.model, xv, y_all[f.val_rows], config, amp_dtype)
    if val_loss < f.best_loss - 1e-4:
        f.best_loss, f.stale = val_loss, 0
        f.best_state = {k: v.detach().clone() for k, v in f.model.state_dict().items()}
    else:
        f.stale += 1
        if f.stale >= config.patience:
            f.stopped = True


