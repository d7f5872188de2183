"""The training stack imported ahead of the first audit (worker processes call it before they take jobs)."""

from __future__ import annotations


def import_training_stack() -> None:
    """Import torch, ``torch._dynamo`` (torch's optimisers import it when the first one is made: about a
    second) and the training code. Raises :class:`ImportError` where torch is not installed."""
    import torch  # noqa: F401
    import torch._dynamo  # noqa: F401

    import labelaudit.core.backbones.cnn  # noqa: F401
    import labelaudit.core.backbones.neighbours  # noqa: F401
    import labelaudit.core.backbones.training  # noqa: F401
