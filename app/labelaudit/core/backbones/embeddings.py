"""Pretrained embeddings (``weights_mode="embeddings"``): the frozen body of a local pretrained image model
computes every example's embedding once, and a logistic-regression head trains on them in each fold.

A linear probe (``weights_mode="linear_probe"``) trains the head with SGD through the frozen body in every
fold, so every fold runs the body over its images for every epoch. Here the body runs once over all the
images, the audited ones and any reference rows together (:func:`embed_once`), and each fold fits
:class:`~labelaudit.core.backbones.logreg.LogRegBackbone` on the embeddings: seconds instead of minutes, with
the same held-out discipline (a fold's head never sees its held-out labels; the embeddings use no labels at
all). The embedding of an image is the input of the model's classifier layer (:func:`head_of`), after
normalising each channel with the statistics of all the images embedded (label-free, so no fold learns from
another's labels).

:class:`~labelaudit.core.backbones.image_model.ImageBackbone` runs the same steps inside one fold when it is
called with this mode directly (``cross_val_pred_probs``); since the normalisation covers all the rows a fold
is given, training and held-out, that is the whole dataset, and both paths give the same embeddings.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from labelaudit.core.backbones.base import Backbone, FitContext
from labelaudit.core.backbones.neighbours import classifier_inputs
from labelaudit.core.backbones.pretrained import head_of, load_weights, resize_images
from labelaudit.core.backbones.logreg import LogRegBackbone

#: images per forward pass of the frozen body
EMBED_BATCH = 512


class EmbeddingHead(LogRegBackbone):
    """The per-fold head on precomputed embeddings: logistic regression, named after the body
    (``cnn+logreg``)."""

    modalities = ("tabular", "image")

    def __init__(self, body: str):
        self.name = f"{body}+logreg"


def embed_once(model: Backbone, features: np.ndarray, reference: np.ndarray | None, *, num_classes: int,
               options: dict, device: str, threads: int = 0) -> tuple[np.ndarray, np.ndarray | None, EmbeddingHead]:
    """The embeddings of ``features`` and of ``reference`` (or ``None``), computed in one pass, and the head
    that trains on them in each fold."""
    images = features if reference is None else np.concatenate([np.asarray(features), np.asarray(reference)])
    embedded = embed_images(model, images, num_classes=num_classes, options=options, device=device,
                            threads=threads)
    n = len(features)
    return embedded[:n], (None if reference is None else embedded[n:]), EmbeddingHead(model.name)


def embed_images(model: Backbone, images: np.ndarray, *, num_classes: int, options: dict, device: str = "cpu",
                 threads: int = 0, batch_size: int = EMBED_BATCH) -> np.ndarray:
    """float32 ``(n, d)``: each image's input to the classifier layer of ``model``'s network with the weights
    ``options["weights"]`` loaded, in eval mode (BatchNorm with its stored statistics, no dropout)."""
    import torch

    if threads and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    size = options.get("image_size")
    side = size or min(images.shape[-2:])
    net = load_weights(model.build(images.shape[1], num_classes, side, options), Path(options["weights"]),
                       mode="finetune")
    dev = torch.device(device)
    net.to(dev).eval()
    mean, std = _channel_stats(images)
    with classifier_inputs(head_of(net), device="cpu") as captured, torch.no_grad():
        for i in range(0, len(images), batch_size):
            chunk = np.asarray(images[i:i + batch_size], dtype=np.float32)
            if size is not None and tuple(chunk.shape[-2:]) != (size, size):
                chunk = resize_images(chunk, size)
            net(((torch.as_tensor(chunk) - mean) / std).to(dev))
    return torch.cat(captured).reshape(len(images), -1).numpy()


def embed_and_fit(model: Backbone, X_train: np.ndarray, y_train: np.ndarray, X_eval: np.ndarray,
                  ctx: FitContext) -> np.ndarray:
    """One fold of the embeddings mode on its own: embed the fold's images, fit the head, predict."""
    head_train, head_eval, head = embed_once(model, X_train, X_eval, num_classes=ctx.num_classes,
                                             options=ctx.options, device=ctx.device, threads=ctx.threads)
    return head.fit_predict(head_train, y_train, head_eval, replace(ctx, options={}))


def _channel_stats(images: np.ndarray):
    """Per-channel mean and standard deviation of ``images`` ``(n, c, h, w)``, as ``(1, c, 1, 1)`` tensors."""
    import torch

    c = images.shape[1]
    total, square, count = np.zeros(c), np.zeros(c), 0
    for i in range(0, len(images), 4096):
        chunk = np.asarray(images[i:i + 4096], dtype=np.float64)
        total += chunk.sum(axis=(0, 2, 3))
        square += (chunk ** 2).sum(axis=(0, 2, 3))
        count += chunk.shape[0] * chunk.shape[2] * chunk.shape[3]
    mean = total / count
    std = np.sqrt(np.maximum(square / count - mean ** 2, 1e-12))
    return (torch.as_tensor(mean, dtype=torch.float32).reshape(1, c, 1, 1),
            torch.as_tensor(std, dtype=torch.float32).reshape(1, c, 1, 1))
