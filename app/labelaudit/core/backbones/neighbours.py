"""Neighbourhood signals: how an example's label agrees with its nearest neighbours in a fold model's embedding.

The embedding is the input of the model's classifier layer (its last ``nn.Linear``): the last hidden layer.
Within one fold, the model that predicts the held-out examples also embeds its own training examples, so every
held-out example is compared with examples the model was trained on, in that model's own space (embeddings of
different folds' models are not comparable, so neighbours never cross folds).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch
from torch import nn


def classifier_layer(model: nn.Module) -> nn.Module:
    """The layer whose input is the embedding: ``model.head`` when it exists, else the last ``nn.Linear``."""
    head = getattr(model, "head", None)
    if isinstance(head, nn.Module):
        return head
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("the model has no linear classifier layer")
    return linears[-1]


@contextmanager
def classifier_inputs(layer: nn.Module, *, device: torch.device | str | None = None) -> Iterator[list[torch.Tensor]]:
    """Collects what ``layer`` (a classifier layer) receives in each forward pass inside the block, float32 and
    flattened per example (moved to ``device`` when given)."""
    captured: list[torch.Tensor] = []

    def keep(_module, args):
        captured.append(args[0].detach().float().flatten(1).to(device) if device is not None else
                        args[0].detach().float().flatten(1))

    hook = layer.register_forward_pre_hook(keep)
    try:
        yield captured
    finally:
        hook.remove()


@torch.no_grad()
def embed(model: nn.Module, x: torch.Tensor, *, batch_size: int, amp_dtype=None) -> torch.Tensor:
    """L2-normalised float32 embeddings of ``x`` (eval mode, no augmentation), on the model's device."""
    model.eval()
    device = next(model.parameters()).device
    with classifier_inputs(classifier_layer(model)) as captured:
        for start in range(0, x.shape[0], batch_size):
            xb = x[start:start + batch_size].to(device, non_blocking=True)
            with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                model(xb)
    out = torch.cat(captured)
    return out / out.norm(dim=1, keepdim=True).clamp_min(1e-12)


@torch.no_grad()
def neighbour_probs(train_emb: torch.Tensor, train_labels: torch.Tensor, eval_emb: torch.Tensor, *,
                    num_classes: int, k: int, chunk: int = 2048, max_similarities: int = 2**26) -> np.ndarray:
    """Each evaluated example's class distribution among its ``k`` most similar (cosine) training examples,
    weighted by similarity, with add-one smoothing over the classes: ``(len(eval_emb), num_classes)``.

    Evaluated examples go in chunks of at most ``chunk`` rows and ``max_similarities`` similarities (256 MB of
    float32), so a million training examples cost 64 rows a chunk, not a matrix of 8 GB."""
    k = min(k, train_emb.shape[0])
    chunk = max(1, min(chunk, max_similarities // max(1, train_emb.shape[0])))
    labels = train_labels.to(train_emb.device)
    out = []
    for start in range(0, eval_emb.shape[0], chunk):
        sims = eval_emb[start:start + chunk] @ train_emb.T
        top, idx = sims.topk(k, dim=1)
        weights = top.clamp_min(0.0)
        votes = torch.zeros(idx.shape[0], num_classes, device=train_emb.device)
        votes.scatter_add_(1, labels[idx], weights)
        votes += 1.0 / num_classes  # add-one smoothing spread over the classes
        out.append((votes / votes.sum(dim=1, keepdim=True)).cpu())
    return torch.cat(out).numpy().astype(np.float64)
